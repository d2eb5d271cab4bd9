// The shared I/O loop on its own: posted tasks and timers on the loop thread, many transfers at
// once on that one thread, abort, shutdown with transfers in flight, and the worker pool.
// (Every transport case of test_curl_transport.cpp also runs over the loop.)
#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "nbcore/io_loop.hpp"
#include "script_server.hpp"

using namespace nbcore;
using namespace nbcore::net;
using namespace nbtest;
using K = TransportErrorKind;
using SteadyClock = std::chrono::steady_clock;

namespace {

// Waits for a count to reach a target, from any thread.
class Latch {
public:
    void count_down() {
        std::lock_guard<std::mutex> lock(mu_);
        ++count_;
        cv_.notify_all();
    }
    bool wait_for(int n, milliseconds timeout) {
        std::unique_lock<std::mutex> lock(mu_);
        return cv_.wait_for(lock, timeout, [&] { return count_ >= n; });
    }
    int count() {
        std::lock_guard<std::mutex> lock(mu_);
        return count_;
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    int count_ = 0;
};

struct CollectingSink : BodySink {
    int status = 0;
    std::string body;
    void on_status(int s, const Headers&) override { status = s; }
    bool on_body(const char* data, std::size_t n) override {
        body.append(data, n);
        return true;
    }
};

HttpRequest post(const std::string& url, std::string body = "hello") {
    HttpRequest r;
    r.url = url;
    r.body = std::move(body);
    r.timeouts.connect = 5s;
    return r;
}

}  // namespace

TEST_CASE("posted tasks run on the loop thread in the order posted", "[net][loop]") {
    auto loop = IoLoop::create();
    CHECK_FALSE(loop->on_loop_thread());
    std::vector<int> order;
    std::atomic<bool> all_on_loop{true};
    Latch done;
    for (int i = 0; i < 100; ++i)
        loop->post([&, i] {
            if (!loop->on_loop_thread()) all_on_loop = false;
            order.push_back(i);
            done.count_down();
        });
    REQUIRE(done.wait_for(100, 5s));
    CHECK(all_on_loop);
    for (int i = 0; i < 100; ++i) CHECK(order[static_cast<std::size_t>(i)] == i);
}

TEST_CASE("timers fire in time order, never early, and a cancelled one never fires", "[net][loop][timer]") {
    auto loop = IoLoop::create();
    const auto t0 = SteadyClock::now();
    std::mutex mu;
    std::vector<std::pair<int, SteadyTime>> fired;
    Latch done;
    auto at = [&](int ms, int tag) {
        return loop->schedule(t0 + milliseconds(ms), [&, tag] {
            std::lock_guard<std::mutex> lock(mu);
            fired.emplace_back(tag, SteadyClock::now());
            done.count_down();
        });
    };
    at(120, 3);
    at(40, 1);
    auto cancelled = at(80, 99);
    at(80, 2);
    CHECK(loop->cancel_timer(cancelled));
    CHECK_FALSE(loop->cancel_timer(cancelled));   // once only
    REQUIRE(done.wait_for(3, 5s));
    std::this_thread::sleep_for(60ms);            // the cancelled one would have fired by now
    std::lock_guard<std::mutex> lock(mu);
    REQUIRE(fired.size() == 3);
    const int expected_ms[] = {40, 80, 120};
    for (std::size_t i = 0; i < 3; ++i) {
        CHECK(fired[i].first == static_cast<int>(i) + 1);
        CHECK(fired[i].second >= t0 + milliseconds(expected_ms[i]));
    }
}

TEST_CASE("cancel_timer on a timer that already fired says so", "[net][loop][timer]") {
    auto loop = IoLoop::create();
    Latch done;
    auto id = loop->schedule(SteadyClock::now(), [&] { done.count_down(); });
    REQUIRE(done.wait_for(1, 5s));
    CHECK_FALSE(loop->cancel_timer(id));
}

TEST_CASE("a timer scheduled from the loop thread itself fires", "[net][loop][timer]") {
    auto loop = IoLoop::create();
    Latch done;
    loop->post([&] { loop->schedule(SteadyClock::now() + 30ms, [&] { done.count_down(); }); });
    CHECK(done.wait_for(1, 5s));
}

TEST_CASE("two hundred transfers run at once on the one loop thread", "[net][loop][concurrency]") {
    ScriptServer server;
    Action echo;
    echo.echo = true;
    echo.delay = 300ms;   // long enough that every transfer is in flight together
    server.set_default(echo);
    auto loop = IoLoop::create();
    constexpr int kTransfers = 200;
    std::vector<std::shared_ptr<CollectingSink>> sinks;
    std::vector<TransportResult> results(kTransfers);
    std::atomic<int> off_loop{0};
    std::atomic<std::size_t> peak{0};
    Latch done;
    const auto t0 = SteadyClock::now();
    for (int i = 0; i < kTransfers; ++i) {
        sinks.push_back(std::make_shared<CollectingSink>());
        loop->start(post(server.url(), "body " + std::to_string(i)), sinks.back(), [&, i](const TransportResult& r) {
            if (!loop->on_loop_thread()) ++off_loop;
            results[static_cast<std::size_t>(i)] = r;
            done.count_down();
        });
        std::size_t now_in_flight = loop->transfers_in_flight();
        if (now_in_flight > peak) peak = now_in_flight;
    }
    REQUIRE(done.wait_for(kTransfers, 30s));
    const auto elapsed = SteadyClock::now() - t0;
    CHECK(off_loop == 0);
    CHECK(loop->transfers_in_flight() == 0);
    CHECK(peak >= static_cast<std::size_t>(kTransfers / 2));
    for (int i = 0; i < kTransfers; ++i) {
        INFO("transfer " << i << ": " << results[static_cast<std::size_t>(i)].detail);
        CHECK(results[static_cast<std::size_t>(i)].error == K::None);
        CHECK(sinks[static_cast<std::size_t>(i)]->body == "body " + std::to_string(i));
    }
    // Serially they would take 200 x 300 ms = 60 s; together, little more than one delay.
    CHECK(elapsed < 20s);
}

TEST_CASE("abort ends a transfer in flight once, with the reason given", "[net][loop][cancel]") {
    ScriptServer server;
    server.set_default(never_answer());
    auto loop = IoLoop::create();
    Latch done;
    TransportResult result;
    auto id = loop->start(post(server.url()), std::make_shared<CollectingSink>(), [&](const TransportResult& r) {
        result = r;
        done.count_down();
    });
    REQUIRE(server.wait_for_requests(1, 5s));
    const auto t0 = SteadyClock::now();
    loop->abort(id);
    REQUIRE(done.wait_for(1, 5s));
    CHECK(SteadyClock::now() - t0 < 1s);
    CHECK(result.error == K::Cancelled);
    CHECK(result.request_sent);
    loop->abort(id);   // idempotent: done never runs twice
    loop->abort(id, K::TotalTimeout);
    std::this_thread::sleep_for(50ms);
    CHECK(done.count() == 1);
}

TEST_CASE("abort with another reason reports that reason", "[net][loop][cancel]") {
    ScriptServer server;
    server.set_default(never_answer());
    auto loop = IoLoop::create();
    Latch done;
    TransportResult result;
    auto id = loop->start(post(server.url()), std::make_shared<CollectingSink>(), [&](const TransportResult& r) {
        result = r;
        done.count_down();
    });
    REQUIRE(server.wait_for_requests(1, 5s));
    loop->abort(id, K::TotalTimeout);
    REQUIRE(done.wait_for(1, 5s));
    CHECK(result.error == K::TotalTimeout);
}

TEST_CASE("a refused request finishes through done, on the loop thread", "[net][loop]") {
    auto loop = IoLoop::create();
    Latch done;
    TransportResult result;
    bool on_loop = false;
    auto req = post("http://127.0.0.1:1/v1?key=secret");   // a key in the URL is never sent
    loop->start(req, std::make_shared<CollectingSink>(), [&](const TransportResult& r) {
        result = r;
        on_loop = loop->on_loop_thread();
        done.count_down();
    });
    REQUIRE(done.wait_for(1, 5s));
    CHECK(on_loop);
    CHECK(result.error != K::None);
    CHECK_FALSE(result.request_sent);
}

TEST_CASE("destroying the loop ends every transfer with Cancelled, exactly once", "[net][loop][cancel]") {
    ScriptServer server;
    server.set_default(never_answer());
    Latch done;
    std::atomic<int> cancelled{0};
    {
        auto loop = IoLoop::create();
        for (int i = 0; i < 10; ++i)
            loop->start(post(server.url()), std::make_shared<CollectingSink>(), [&](const TransportResult& r) {
                if (r.error == K::Cancelled) ++cancelled;
                done.count_down();
            });
        loop->schedule(SteadyClock::now() + 1h, [&] { done.count_down(); });   // dropped, never run
        REQUIRE(server.wait_for_requests(10, 5s));
    }
    CHECK(done.count() == 10);
    CHECK(cancelled == 10);
}

TEST_CASE("the last reference dropped inside a loop callback does not deadlock", "[net][loop]") {
    Latch done;
    {
        auto loop = IoLoop::create();
        auto raw = loop.get();
        // The task holds the only reference once `loop` goes out of scope below.
        auto holder = std::make_shared<std::shared_ptr<IoLoop>>(std::move(loop));
        raw->schedule(SteadyClock::now() + 50ms, [holder, &done] {
            holder->reset();   // destroys the loop on its own thread
            done.count_down();
        });
    }
    CHECK(done.wait_for(1, 5s));
}

TEST_CASE("a blocking send on the loop thread is refused instead of waiting on itself", "[net][loop]") {
    auto loop = IoLoop::create();
    auto transport = make_loop_transport(loop);
    Latch done;
    TransportResult result;
    loop->post([&] {
        CollectingSink sink;
        result = transport->send(post("http://127.0.0.1:1/"), sink, nullptr);
        done.count_down();
    });
    REQUIRE(done.wait_for(1, 5s));
    CHECK(result.error == K::Other);
    CHECK(result.detail.find("I/O thread") != std::string::npos);
}

TEST_CASE("the worker pool runs every task, across its threads, before it is destroyed", "[net][pool]") {
    std::atomic<int> ran{0};
    std::mutex mu;
    std::set<std::thread::id> threads_seen;
    {
        WorkerPool pool(3);
        CHECK(pool.threads() == 3);
        for (int i = 0; i < 300; ++i)
            pool.submit([&] {
                std::this_thread::sleep_for(std::chrono::microseconds(200));
                std::lock_guard<std::mutex> lock(mu);
                threads_seen.insert(std::this_thread::get_id());
                ++ran;
            });
    }
    CHECK(ran == 300);
    CHECK(threads_seen.size() > 1);
    CHECK(threads_seen.count(std::this_thread::get_id()) == 0);
}

TEST_CASE("a worker pool of zero threads means the machine's cores, at least one", "[net][pool]") {
    WorkerPool pool;
    CHECK(pool.threads() >= 1);
    std::atomic<bool> ran{false};
    Latch done;
    pool.submit([&] {
        ran = true;
        done.count_down();
    });
    CHECK(done.wait_for(1, 5s));
    CHECK(ran);
}

TEST_CASE("a task that throws does not stop the pool or the loop", "[net][pool][loop]") {
    WorkerPool pool(1);
    auto loop = IoLoop::create();
    Latch done;
    pool.submit([] { throw std::runtime_error("boom"); });
    pool.submit([&] { done.count_down(); });
    loop->post([] { throw std::runtime_error("boom"); });
    loop->post([&] { done.count_down(); });
    CHECK(done.wait_for(2, 5s));
}
