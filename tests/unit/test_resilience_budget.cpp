// The retry budget under a FakeClock: the reserve, the ratio under load, the sliding window.
#include <catch2/catch.hpp>

#include <atomic>
#include <barrier>
#include <thread>
#include <vector>

#include "nbcore/resilience.hpp"
#include "test_policy_support.hpp"

using namespace policy_test;
using policy::RetryBudget;
using policy::RetryBudgetConfig;

namespace {

int take_all(RetryBudget& b, SteadyTime now, int at_most = 100'000) {
    int n = 0;
    while (n < at_most && b.try_retry(now)) ++n;
    return n;
}

}  // namespace

TEST_CASE("retry budget defaults hold the documented numbers", "[resilience][budget]") {
    RetryBudgetConfig c;
    CHECK(c.ratio == 0.2);
    CHECK(c.window == std::chrono::seconds(10));
    CHECK(c.min_retries_per_second == 1.0);
}

TEST_CASE("retry budget: a lone user always has the per-second reserve", "[resilience][budget]") {
    FakeClock clock;
    RetryBudget b;
    // One request and one retry every second for a minute: never refused.
    for (int s = 0; s < 60; ++s) {
        b.on_request(clock.now());
        INFO("second " << s);
        REQUIRE(b.try_retry(clock.now()));
        clock.advance(std::chrono::seconds(1));
    }
    // With no traffic at all the reserve is min_retries_per_second * window.
    RetryBudget idle;
    CHECK(take_all(idle, clock.now()) == 10);
}

TEST_CASE("retry budget: under load retries are capped at ratio of requests", "[resilience][budget]") {
    FakeClock clock;
    RetryBudget b;
    auto now = clock.now();
    for (int i = 0; i < 1'000; ++i) b.on_request(now);
    CHECK(b.available(now) == Approx(210.0));
    CHECK(b.can_retry(now));
    CHECK(take_all(b, now) == 210);   // 20% of 1000 + 10 reserve
    CHECK_FALSE(b.can_retry(now));
    CHECK(b.available(now) == Approx(0.0));
    // Five more first attempts earn exactly one more retry.
    for (int i = 0; i < 4; ++i) b.on_request(now);
    CHECK_FALSE(b.try_retry(now));
    b.on_request(now);
    CHECK(b.try_retry(now));
    CHECK_FALSE(b.try_retry(now));
}

TEST_CASE("retry budget: can_retry and available take nothing", "[resilience][budget]") {
    FakeClock clock;
    RetryBudget b;
    auto now = clock.now();
    for (int i = 0; i < 20; ++i) CHECK(b.can_retry(now));
    CHECK(b.available(now) == Approx(10.0));
    CHECK(take_all(b, now) == 10);
}

TEST_CASE("retry budget: the window slides second by second", "[resilience][budget]") {
    FakeClock clock;
    RetryBudget b;
    auto t0 = clock.now();
    for (int i = 0; i < 100; ++i) b.on_request(t0);
    CHECK(take_all(b, t0) == 30);   // 20 earned + 10 reserve

    // 9.999 s later the spent retries are still inside the window.
    CHECK_FALSE(b.try_retry(t0 + Millis(9'999)));
    // At 10 s the first second has left it: the requests and the retries both leave.
    CHECK(b.available(t0 + Millis(10'000)) == Approx(10.0));
    CHECK(take_all(b, t0 + Millis(10'000)) == 10);
}

TEST_CASE("retry budget: spread over the window, old seconds leave one at a time", "[resilience][budget]") {
    RetryBudgetConfig c;
    c.min_retries_per_second = 0;   // the ratio alone
    FakeClock clock;
    RetryBudget b(c);
    auto t0 = clock.now();
    for (int s = 0; s < 10; ++s)
        for (int i = 0; i < 10; ++i) b.on_request(t0 + std::chrono::seconds(s));
    auto t9 = t0 + std::chrono::seconds(9);
    CHECK(b.available(t9) == Approx(20.0));                              // 100 requests in the window
    CHECK(b.available(t9 + std::chrono::seconds(1)) == Approx(18.0));    // second 0 left
    CHECK(b.available(t9 + std::chrono::seconds(5)) == Approx(10.0));
    CHECK(b.available(t9 + std::chrono::seconds(10)) == Approx(0.0));
    CHECK_FALSE(b.try_retry(t9 + std::chrono::seconds(10)));
}

TEST_CASE("retry budget: a time older than one already counted does not go back", "[resilience][budget]") {
    FakeClock clock;
    RetryBudget b;
    auto t0 = clock.now();
    CHECK(take_all(b, t0 + std::chrono::seconds(20)) == 10);
    // A thread that read the clock earlier arrives late: it counts in the latest second.
    CHECK_FALSE(b.try_retry(t0 + std::chrono::seconds(19)));
}

TEST_CASE("retry budget: odd configurations are made sane", "[resilience][budget]") {
    RetryBudgetConfig c;
    c.window = std::chrono::seconds(0);
    c.ratio = -1;
    c.min_retries_per_second = 2;
    RetryBudget b(c);
    CHECK(b.config().window == std::chrono::seconds(1));
    CHECK(b.config().ratio == 0.0);
    FakeClock clock;
    b.on_request(clock.now());
    CHECK(take_all(b, clock.now()) == 2);
}

TEST_CASE("retry budget: many threads never overspend it", "[resilience][budget]") {
    FakeClock clock;
    RetryBudget b;
    auto now = clock.now();
    constexpr int kThreads = 8;
    std::barrier phase(kThreads);
    std::atomic<int> granted{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i)
        threads.emplace_back([&] {
            phase.arrive_and_wait();
            for (int k = 0; k < 1'000; ++k) b.on_request(now);
            phase.arrive_and_wait();   // every deposit is in before anyone withdraws
            for (int k = 0; k < 1'000; ++k) granted += b.try_retry(now);
        });
    for (auto& t : threads) t.join();
    CHECK(granted == 1'610);   // 20% of 8000 + 10, exactly: no lost or double updates
}
