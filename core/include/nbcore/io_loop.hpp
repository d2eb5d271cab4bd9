// One I/O thread for every transfer and every timer: a curl multi handle driven by a single
// thread, with timers and posted tasks on the same thread. Jobs (requests) are state machines
// advanced by callbacks on this thread; nothing on it may block or do heavy CPU work (image
// validation goes to a WorkerPool).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "nbcore/clock.hpp"
#include "nbcore/transport.hpp"

namespace nbcore::net {

struct IoLoopOptions {
    std::size_t max_connections_per_host = 0;   // 0 = unlimited (curl's CURLMOPT_MAX_HOST_CONNECTIONS)
    std::size_t max_total_connections = 0;      // 0 = unlimited
};

class IoLoop {
public:
    using TimerId = std::uint64_t;
    using TransferId = std::uint64_t;
    using Task = std::function<void()>;
    using Done = std::function<void(const TransportResult&)>;

    // Starts the thread. The loop lives until the last shared_ptr goes; its destructor aborts
    // every transfer (their Done runs with Cancelled) and drops pending timers, then joins.
    static std::shared_ptr<IoLoop> create(IoLoopOptions options = {});
    virtual ~IoLoop() = default;

    // Thread-safe. `fn` runs on the loop thread, soon (post) or at `when` (schedule).
    virtual void post(Task fn) = 0;
    virtual TimerId schedule(SteadyTime when, Task fn) = 0;
    // True when the timer had not fired yet (it now never will).
    virtual bool cancel_timer(TimerId id) = 0;

    // Thread-safe. Starts an HTTP transfer with the same semantics as Transport::send (timeouts,
    // TLS rules, no silent re-sends, request_sent / response_started). The sink's callbacks and
    // `done` run on the loop thread; `done` runs exactly once, after which the sink is released.
    virtual TransferId start(HttpRequest req, std::shared_ptr<BodySink> sink, Done done) = 0;
    // Thread-safe; `done` runs with `why` (Cancelled by default) unless the transfer already
    // finished. Idempotent.
    virtual void abort(TransferId id, TransportErrorKind why = TransportErrorKind::Cancelled) = 0;

    virtual bool on_loop_thread() const noexcept = 0;
    virtual std::size_t transfers_in_flight() const noexcept = 0;
};

// The process-wide loop, created on first use.
std::shared_ptr<IoLoop> default_io_loop();

// A blocking Transport over a loop (send = start + wait), for callers that want one.
std::shared_ptr<Transport> make_loop_transport(std::shared_ptr<IoLoop> loop);

// A small fixed pool of threads for CPU work off the loop thread (image validation).
class WorkerPool {
public:
    explicit WorkerPool(std::size_t threads = 0);   // 0 = hardware concurrency (at least 1)
    ~WorkerPool();                                   // runs what is queued, then joins
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;
    void submit(std::function<void()> fn);          // thread-safe
    std::size_t threads() const noexcept;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

std::shared_ptr<WorkerPool> default_worker_pool();

}  // namespace nbcore::net
