// The shared I/O loop: one thread, one curl multi handle, every transfer and every timer. Other
// threads talk to it only through a locked inbox (posted tasks) and a locked timer queue, and wake
// it with curl_multi_wakeup; transfers themselves are touched on the loop thread alone.
#include "nbcore/io_loop.hpp"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <future>
#include <map>
#include <mutex>
#include <new>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "net/curl_env.hpp"
#include "net/curl_transfer.hpp"
#include "net/net_internal.hpp"

namespace nbcore::net {
namespace {

using detail::CurlTransfer;
using std::chrono::steady_clock;

// One transfer the loop drives. Owns what CurlTransfer borrows (the request and the sink), so
// its address must stay put: it lives behind a unique_ptr.
struct Active {
    IoLoop::TransferId id = 0;
    HttpRequest req;
    std::shared_ptr<BodySink> sink;
    IoLoop::Done done;
    std::unique_ptr<CurlTransfer> transfer;
};

// Everything the loop thread works on. Shared between the public handle and the thread, so a
// handle dropped on the loop thread itself (from inside a callback) can let the thread finish
// on its own instead of joining itself.
struct LoopState {
    explicit LoopState(const IoLoopOptions& options) : user_agent(detail::curl_user_agent()) {
        multi = curl_multi_init();
        if (!multi) throw std::bad_alloc();
        if (options.max_connections_per_host > 0)
            curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                              static_cast<long>(options.max_connections_per_host));
        if (options.max_total_connections > 0)
            curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(options.max_total_connections));
    }
    ~LoopState() {
        transfers.clear();
        curl_multi_cleanup(multi);   // closes cached connections while the share still exists
    }

    // Set once at construction; read by every thread.
    detail::CurlShare share;
    std::string user_agent;
    CURLM* multi = nullptr;
    std::thread::id loop_thread;

    // Shared with other threads, under `mu`.
    std::mutex mu;
    std::vector<IoLoop::Task> inbox;
    std::map<std::pair<SteadyTime, IoLoop::TimerId>, IoLoop::Task> timers;
    std::unordered_map<IoLoop::TimerId, SteadyTime> timer_due;
    bool stopping = false;

    std::atomic<std::uint64_t> next_id{1};
    std::atomic<std::size_t> in_flight{0};

    // Loop thread only.
    std::unordered_map<CURL*, std::unique_ptr<Active>> transfers;

    void wake() noexcept { curl_multi_wakeup(multi); }
    void run();
    void begin(std::unique_ptr<Active> a);
    void complete(CURL* easy, CURLcode code);
    void abort_one(IoLoop::TransferId id, TransportErrorKind why);
    void finish(std::unique_ptr<Active> a, TransportResult result) noexcept;
    void tick_transfers(SteadyTime now);
    bool run_inbox();
    void run_due_timers(SteadyTime now);
    std::optional<SteadyTime> next_wake();
    void shut_down();
};

// A callback's exception must not take the loop down with it; it has nowhere to go, so it ends here.
template <class Fn>
void run_guarded(Fn&& fn) noexcept {
    try {
        fn();
    } catch (...) {
    }
}

void LoopState::finish(std::unique_ptr<Active> a, TransportResult result) noexcept {
    in_flight.fetch_sub(1, std::memory_order_relaxed);
    run_guarded([&] { a->done(result); });
    // `a` (with the sink) goes here, after done.
}

void LoopState::begin(std::unique_ptr<Active> a) {
    bool stop_now;
    {
        std::lock_guard<std::mutex> lock(mu);
        stop_now = stopping;
    }
    if (stop_now) {
        TransportResult r;
        r.error = TransportErrorKind::Cancelled;
        r.detail = "the I/O loop is shutting down";
        finish(std::move(a), std::move(r));
        return;
    }
    try {
        a->transfer = std::make_unique<CurlTransfer>(a->req, *a->sink, share.get(), user_agent);
    } catch (const std::exception& e) {
        TransportResult r;
        r.error = TransportErrorKind::Other;
        r.detail = std::string("could not set up the transfer: ") + e.what();
        finish(std::move(a), std::move(r));
        return;
    }
    if (a->transfer->refusal()) {
        TransportResult r = *a->transfer->refusal();
        finish(std::move(a), std::move(r));
        return;
    }
    CURL* easy = a->transfer->easy();
    if (curl_multi_add_handle(multi, easy) != CURLM_OK) {
        a->transfer->stop(TransportErrorKind::Other, "curl could not start the transfer");
        TransportResult r = a->transfer->finish(CURLE_OK);
        finish(std::move(a), std::move(r));
        return;
    }
    transfers.emplace(easy, std::move(a));
}

void LoopState::complete(CURL* easy, CURLcode code) {
    auto it = transfers.find(easy);
    if (it == transfers.end()) return;
    std::unique_ptr<Active> a = std::move(it->second);
    transfers.erase(it);
    curl_multi_remove_handle(multi, easy);
    TransportResult result = a->transfer->finish(code);
    try {
        a->transfer->rethrow_sink_exception();
    } catch (const std::exception& e) {
        result.error = TransportErrorKind::Aborted;
        result.detail = std::string("the reply handler failed: ") + e.what();
    } catch (...) {
        result.error = TransportErrorKind::Aborted;
        result.detail = "the reply handler failed";
    }
    finish(std::move(a), std::move(result));
}

void LoopState::abort_one(IoLoop::TransferId id, TransportErrorKind why) {
    for (auto& [easy, a] : transfers) {
        if (a->id != id) continue;
        a->transfer->stop(why, why == TransportErrorKind::Cancelled ? "cancelled by the caller" : "aborted");
        complete(easy, CURLE_OK);
        return;
    }
}

void LoopState::tick_transfers(SteadyTime now) {
    std::vector<CURL*> stopped;
    for (auto& [easy, a] : transfers)
        if (a->transfer->on_tick(now)) stopped.push_back(easy);
    for (CURL* easy : stopped) complete(easy, CURLE_OK);
}

bool LoopState::run_inbox() {
    std::vector<IoLoop::Task> tasks;
    {
        std::lock_guard<std::mutex> lock(mu);
        tasks.swap(inbox);
    }
    for (auto& t : tasks) run_guarded(t);
    return !tasks.empty();
}

void LoopState::run_due_timers(SteadyTime now) {
    for (;;) {
        IoLoop::Task task;
        {
            std::lock_guard<std::mutex> lock(mu);
            if (timers.empty() || timers.begin()->first.first > now) return;
            auto node = timers.extract(timers.begin());
            timer_due.erase(node.key().second);
            task = std::move(node.mapped());
        }
        run_guarded(task);
    }
}

std::optional<SteadyTime> LoopState::next_wake() {
    std::optional<SteadyTime> next;
    auto consider = [&](std::optional<SteadyTime> t) {
        if (t && (!next || *t < *next)) next = t;
    };
    {
        std::lock_guard<std::mutex> lock(mu);
        if (!inbox.empty()) return steady_clock::now();
        if (!timers.empty()) consider(timers.begin()->first.first);
    }
    for (auto& [easy, a] : transfers) consider(a->transfer->next_deadline());
    long curl_ms = -1;
    curl_multi_timeout(multi, &curl_ms);
    if (curl_ms >= 0) consider(steady_clock::now() + std::chrono::milliseconds(curl_ms));
    return next;
}

void LoopState::run() {
    for (;;) {
        run_inbox();
        {
            std::lock_guard<std::mutex> lock(mu);
            if (stopping) break;
        }
        run_due_timers(steady_clock::now());

        int running = 0;
        CURLMcode mc = curl_multi_perform(multi, &running);
        int queued = 0;
        while (CURLMsg* msg = curl_multi_info_read(multi, &queued))
            if (msg->msg == CURLMSG_DONE) complete(msg->easy_handle, msg->data.result);
        if (mc != CURLM_OK) {
            // The multi handle itself failed: nothing in it can make progress.
            std::vector<CURL*> all;
            for (auto& [easy, a] : transfers) {
                a->transfer->stop(TransportErrorKind::Other, std::string("curl: ") + curl_multi_strerror(mc));
                all.push_back(easy);
            }
            for (CURL* easy : all) complete(easy, CURLE_OK);
        }
        tick_transfers(steady_clock::now());

        auto now = steady_clock::now();
        int wait_ms = detail::poll_wait_ms(next_wake(), now);
        if (wait_ms > 0) curl_multi_poll(multi, nullptr, 0, wait_ms, nullptr);
    }
    shut_down();
}

void LoopState::shut_down() {
    // Transfers end with Cancelled; posted work still runs (it may start transfers, which are
    // refused); timers are dropped.
    for (;;) {
        std::vector<CURL*> all;
        for (auto& [easy, a] : transfers) {
            a->transfer->stop(TransportErrorKind::Cancelled, "the I/O loop is shutting down");
            all.push_back(easy);
        }
        for (CURL* easy : all) complete(easy, CURLE_OK);
        if (!run_inbox() && transfers.empty()) break;
    }
    std::lock_guard<std::mutex> lock(mu);
    timers.clear();
    timer_due.clear();
}

class CurlIoLoop final : public IoLoop {
public:
    explicit CurlIoLoop(const IoLoopOptions& options) : state_(std::make_shared<LoopState>(options)) {
        std::promise<void> ready;
        auto started = ready.get_future();
        thread_ = std::thread([state = state_, &ready] {
            state->loop_thread = std::this_thread::get_id();
            pthread_setname_np(pthread_self(), "nbcore-io");   // for top -H, gdb and the benches
            ready.set_value();
            state->run();
        });
        started.wait();
    }

    ~CurlIoLoop() override {
        {
            std::lock_guard<std::mutex> lock(state_->mu);
            state_->stopping = true;
        }
        state_->wake();
        if (std::this_thread::get_id() == thread_.get_id())
            thread_.detach();   // dropped from a callback: the thread finishes on its own
        else
            thread_.join();
    }

    void post(Task fn) override {
        {
            std::lock_guard<std::mutex> lock(state_->mu);
            state_->inbox.push_back(std::move(fn));
        }
        state_->wake();
    }

    TimerId schedule(SteadyTime when, Task fn) override {
        TimerId id = state_->next_id.fetch_add(1, std::memory_order_relaxed);
        bool earliest;
        {
            std::lock_guard<std::mutex> lock(state_->mu);
            state_->timers.emplace(std::make_pair(when, id), std::move(fn));
            state_->timer_due.emplace(id, when);
            earliest = state_->timers.begin()->first.second == id;
        }
        if (earliest && !on_loop_thread()) state_->wake();
        return id;
    }

    bool cancel_timer(TimerId id) override {
        std::lock_guard<std::mutex> lock(state_->mu);
        auto it = state_->timer_due.find(id);
        if (it == state_->timer_due.end()) return false;
        state_->timers.erase({it->second, id});
        state_->timer_due.erase(it);
        return true;
    }

    TransferId start(HttpRequest req, std::shared_ptr<BodySink> sink, Done done) override {
        auto a = std::make_unique<Active>();
        a->id = state_->next_id.fetch_add(1, std::memory_order_relaxed);
        a->req = std::move(req);
        a->sink = std::move(sink);
        a->done = std::move(done);
        TransferId id = a->id;
        state_->in_flight.fetch_add(1, std::memory_order_relaxed);
        // A std::function must be copyable; the transfer travels in a shared holder.
        auto holder = std::make_shared<std::unique_ptr<Active>>(std::move(a));
        post([state = state_.get(), holder] { state->begin(std::move(*holder)); });
        return id;
    }

    void abort(TransferId id, TransportErrorKind why) override {
        post([state = state_.get(), id, why] { state->abort_one(id, why); });
    }

    bool on_loop_thread() const noexcept override { return std::this_thread::get_id() == state_->loop_thread; }
    std::size_t transfers_in_flight() const noexcept override {
        return state_->in_flight.load(std::memory_order_relaxed);
    }

private:
    std::shared_ptr<LoopState> state_;
    std::thread thread_;
};

// Borrows the caller's sink and keeps what it throws, so send() can rethrow it on the caller's
// thread (the loop thread has nowhere to send it).
struct CatchingSink final : BodySink {
    explicit CatchingSink(BodySink& s) : inner(s) {}
    void on_status(int status, const Headers& headers) override {
        if (thrown) return;
        try {
            inner.on_status(status, headers);
        } catch (...) {
            thrown = std::current_exception();
        }
    }
    bool on_body(const char* data, std::size_t n) override {
        if (thrown) return false;
        try {
            return inner.on_body(data, n);
        } catch (...) {
            thrown = std::current_exception();
            return false;
        }
    }
    BodySink& inner;
    std::exception_ptr thrown;
};

// A blocking send over the loop. The caller's sink is borrowed: send returns only after `done`,
// after which the loop no longer touches it.
class LoopTransport final : public Transport {
public:
    explicit LoopTransport(std::shared_ptr<IoLoop> loop) : loop_(std::move(loop)) {}

    TransportResult send(const HttpRequest& req, BodySink& sink, const CancelToken* cancel) override {
        if (cancel && cancel->cancelled()) {
            TransportResult r;
            r.error = TransportErrorKind::Cancelled;
            r.detail = "cancelled before sending";
            return r;
        }
        if (loop_->on_loop_thread()) {
            TransportResult r;
            r.error = TransportErrorKind::Other;
            r.detail = "a blocking send was made on the I/O thread, which would wait on itself; "
                       "start the transfer with IoLoop::start instead";
            return r;
        }
        struct Wait {
            std::mutex mu;
            std::condition_variable cv;
            std::optional<TransportResult> result;
        };
        auto wait = std::make_shared<Wait>();
        auto guarded = std::make_shared<CatchingSink>(sink);
        IoLoop::TransferId id = loop_->start(req, guarded, [wait](const TransportResult& r) {
            std::lock_guard<std::mutex> lock(wait->mu);
            wait->result = r;
            wait->cv.notify_all();
        });
        int hook = 0;
        if (cancel) hook = cancel->on_cancel([loop = loop_, id] { loop->abort(id); });
        std::unique_lock<std::mutex> lock(wait->mu);
        wait->cv.wait(lock, [&] { return wait->result.has_value(); });
        TransportResult r = std::move(*wait->result);
        lock.unlock();
        if (cancel && hook != 0) cancel->remove(hook);
        // As the blocking transport does: what the sink threw comes back to its caller.
        if (guarded->thrown) std::rethrow_exception(guarded->thrown);
        return r;
    }

private:
    std::shared_ptr<IoLoop> loop_;
};

}  // namespace

std::shared_ptr<IoLoop> IoLoop::create(IoLoopOptions options) {
    detail::init_curl_once();
    return std::make_shared<CurlIoLoop>(options);
}

std::shared_ptr<IoLoop> default_io_loop() {
    static std::shared_ptr<IoLoop> loop = IoLoop::create();
    return loop;
}

std::shared_ptr<Transport> make_loop_transport(std::shared_ptr<IoLoop> loop) {
    if (!loop) loop = default_io_loop();
    return std::make_shared<LoopTransport>(std::move(loop));
}

// ---- WorkerPool ------------------------------------------------------------------------------

// The queue lives apart from the pool object, shared with its threads: a task that drops the
// last reference to the pool leaves its own thread detached, still reading the queue.
struct WorkQueue {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::function<void()>> tasks;
    bool stopping = false;

    void work() {
        for (;;) {
            std::function<void()> fn;
            {
                std::unique_lock<std::mutex> lock(mu);
                cv.wait(lock, [&] { return stopping || !tasks.empty(); });
                if (tasks.empty()) return;   // stopping and drained
                fn = std::move(tasks.front());
                tasks.pop_front();
            }
            run_guarded(fn);
        }
    }
};

struct WorkerPool::Impl {
    std::shared_ptr<WorkQueue> queue = std::make_shared<WorkQueue>();
    std::vector<std::thread> threads;
};

WorkerPool::WorkerPool(std::size_t threads) : impl_(std::make_unique<Impl>()) {
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    impl_->threads.reserve(threads);
    for (std::size_t i = 0; i < threads; ++i)
        impl_->threads.emplace_back([q = impl_->queue] {
            pthread_setname_np(pthread_self(), "nbcore-worker");
            q->work();
        });
}

WorkerPool::~WorkerPool() {
    {
        std::lock_guard<std::mutex> lock(impl_->queue->mu);
        impl_->queue->stopping = true;
    }
    impl_->queue->cv.notify_all();
    for (auto& t : impl_->threads) {
        if (t.get_id() == std::this_thread::get_id())
            t.detach();
        else
            t.join();
    }
}

void WorkerPool::submit(std::function<void()> fn) {
    {
        std::lock_guard<std::mutex> lock(impl_->queue->mu);
        impl_->queue->tasks.push_back(std::move(fn));
    }
    impl_->queue->cv.notify_one();
}

std::size_t WorkerPool::threads() const noexcept { return impl_->threads.size(); }

std::shared_ptr<WorkerPool> default_worker_pool() {
    static std::shared_ptr<WorkerPool> pool = std::make_shared<WorkerPool>();
    return pool;
}

}  // namespace nbcore::net
