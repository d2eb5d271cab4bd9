// The engine's internals: the state a client shares with its jobs, and the job state machine.
// Every method named on_* or ending in _on_loop runs on the I/O thread; nothing there blocks.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "nbcore/client.hpp"
#include "nbcore/io_loop.hpp"

namespace nbcore::engine {

using std::chrono::milliseconds;

// One route as the engine holds it: its configuration, credentials and breaker key.
struct RouteSlot {
    RouteConfig config;
    policy::Route planning;
    std::unique_ptr<RouteAuth> auth;
    std::string credential;   // what the breaker key fingerprints (key or project)
    bool oauth() const { return config.kind == RouteKind::Vertex && !config.project.empty(); }
};

class JobState;

// What a client's jobs share. Created by Client, kept alive by every job that runs.
class ClientCore : public std::enable_shared_from_this<ClientCore> {
public:
    explicit ClientCore(ClientOptions options);

    ClientOptions opt;
    std::vector<RouteSlot> routes;
    policy::BreakerRegistry breakers;
    std::unique_ptr<policy::RetryBudget> budget;
    std::shared_ptr<net::IoLoop> loop;
    std::shared_ptr<net::WorkerPool> workers;
    std::shared_ptr<quota::Governor> governor;
    // Governor calls (file I/O with the SQLite store) run here, one at a time and in order, so
    // what a 429 taught is in the state before the next admission reads it.
    std::shared_ptr<net::WorkerPool> state_thread;

    std::shared_ptr<policy::CircuitBreaker> breaker(std::size_t route, const std::string& model);
    std::vector<policy::RouteView> route_views(const std::string& model, SteadyTime now);

    // Transfer slots (loop thread only): jobs ready to send wait here, highest priority first,
    // then earliest deadline, then arrival.
    void enqueue_on_loop(const std::shared_ptr<JobState>& job);
    void remove_from_queue_on_loop(const JobState* job);
    void release_slot_on_loop();

    // Jobs still running, so the client's destructor can cancel and wait for them.
    void track(const std::shared_ptr<JobState>& job);
    void untrack(const JobState* job);
    void cancel_all_and_wait();

private:
    void pump_on_loop();
    struct QueueOrder {
        bool operator()(const std::shared_ptr<JobState>& a, const std::shared_ptr<JobState>& b) const;
    };
    std::set<std::shared_ptr<JobState>, QueueOrder> ready_;   // loop thread only
    std::size_t in_flight_ = 0;                               // loop thread only

    std::mutex jobs_mu_;
    std::condition_variable jobs_cv_;
    std::vector<std::weak_ptr<JobState>> jobs_;
    std::size_t running_ = 0;
};

// One request. Public methods are the Job interface (any thread); the rest runs on the loop.
class JobState final : public Job, public std::enable_shared_from_this<JobState> {
public:
    JobState(std::shared_ptr<ClientCore> core, Request req, std::string model, CallOptions call,
             std::uint64_t seq);

    // Job
    JobProgress progress() const override;
    bool wait(std::optional<milliseconds> timeout) override;
    bool done() const override;
    Result get() override;
    void cancel() override;

    void start();   // from submit(): hands the job to the loop
    // From submit(), before start(): the pre-flight check's PromptWarning event.
    void warn_prompt(std::string risk, std::string reasons);

    // Ordering in the transfer queue.
    int priority() const { return call_.priority; }
    SteadyTime deadline_or_max() const { return deadline_ ? *deadline_ : SteadyTime::max(); }
    std::uint64_t seq() const { return seq_; }

    // Called by ClientCore when a slot is free.
    void send_on_loop();

private:
    struct Validated;   // what the worker pool found in the images

    void begin_on_loop();
    void choose_route_on_loop();
    void wait_then_on_loop(SteadyTime when, JobStage stage, std::string text, void (JobState::*next)());
    void admit_on_loop();
    void on_admission_on_loop(std::optional<quota::Governor::Admission> a, std::optional<Diagnosis> failure);
    void queue_for_slot_on_loop();
    void settle_then_on_loop(Diagnosis diag, std::shared_ptr<Validated> v);
    void after_attempt_on_loop(Diagnosis diag, std::shared_ptr<Validated> v);
    void release_ticket();
    void transmit_on_loop(net::HttpRequest http, std::optional<Diagnosis> auth_failure);
    void on_transfer_done(const net::TransportResult& tr);
    void classify_on_loop(net::TransportResult tr, std::shared_ptr<Validated> v);
    void plan_on_loop(Diagnosis diag);
    void succeed_on_loop(Validated& v);
    void fail_on_loop(Diagnosis d);
    void cancel_on_loop();
    void arm_deadline_on_loop();

    void emit(Event ev);                       // queue for the waiting thread
    Event event(EventKind kind) const;
    void set_stage(JobStage stage, std::string text = {}, milliseconds wait = milliseconds(0));
    void finish(std::optional<Result> result, std::optional<Error> error);
    milliseconds elapsed() const;

    const std::shared_ptr<ClientCore> core_;
    Request req_;
    const std::string model_;
    const CallOptions call_;
    const std::uint64_t seq_;
    const SteadyTime started_;
    std::optional<SteadyTime> deadline_;
    milliseconds total_budget_{0};

    // Loop-thread state.
    std::string body_;
    std::size_t current_ = 0;
    int number_ = 0;                       // attempts started
    std::vector<Attempt> attempts_;
    policy::RetryState retry_;
    policy::Admission admission_;
    std::shared_ptr<policy::CircuitBreaker> breaker_;
    std::optional<net::IoLoop::TransferId> transfer_;
    std::optional<net::IoLoop::TimerId> timer_;
    std::optional<net::IoLoop::TimerId> deadline_timer_;
    std::shared_ptr<class ReplySink> sink_;
    std::optional<Diagnosis> auth_failure_;   // the credential could not be had: not sent
    SteadyTime sent_at_{};
    milliseconds server_timeout_sent_{0};
    bool capped_by_deadline_ = false;
    // From the end of a transfer until the plan for what follows: the attempt's own outcome (a
    // deadline-capped timeout included) is being judged and settled, so the deadline timer must
    // not end the job with a second, vaguer verdict.
    bool concluding_attempt_ = false;
    bool holds_slot_ = false;
    bool refreshed_token_ = false;
    bool finished_ = false;
    std::string last_secret_;
    std::optional<quota::Governor::Ticket> ticket_;   // the admitted attempt's quota and cost hold
    quota::MicroUsd cost_ = 0;                        // billed so far, every attempt

    // Shared with waiting threads.
    mutable std::mutex mu_;
    std::condition_variable cv_;
    JobProgress progress_;
    std::deque<Event> events_;
    std::size_t dropped_events_ = 0;
    bool done_ = false;
    std::optional<Result> result_;
    std::optional<Error> error_;
    std::atomic<bool> cancel_requested_{false};
};

}  // namespace nbcore::engine
