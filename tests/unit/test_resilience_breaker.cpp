// Circuit breakers and their registry, under a FakeClock (no sleeping anywhere).
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "nbcore/resilience.hpp"
#include "test_policy_support.hpp"

using namespace policy_test;
using policy::BreakerConfig;
using policy::BreakerState;
using policy::BreakerVerdict;
using policy::CircuitBreaker;

namespace {

Diagnosis outcome(Status code, std::optional<Millis> retry_after = std::nullopt,
                  Dimension dimension = Dimension::NONE) {
    Diagnosis d;
    d.code = code;
    d.retry_after = retry_after;
    d.dimension = dimension;
    return d;
}

const Diagnosis kOk = outcome(Status::OK);
const Diagnosis kFail = outcome(Status::UNAVAILABLE);

// Records `n` copies of `d` and returns the last transition, if any.
std::optional<policy::BreakerTransition> record_n(CircuitBreaker& b, const Diagnosis& d, int n, SteadyTime now) {
    std::optional<policy::BreakerTransition> last;
    for (int i = 0; i < n; ++i)
        if (auto t = b.record(d, now, false)) last = t;
    return last;
}

// The mechanics are tested with small, round numbers (5 in a row; half of the last 20, at least
// 10 calls); the defaults have their own test.
BreakerConfig classic() {
    BreakerConfig c;
    c.consecutive_failures = 5;
    c.failure_rate = 0.5;
    c.window = 20;
    c.min_calls = 10;
    return c;
}

// A breaker that only the failure rate can open.
BreakerConfig rate_only(int window, int min_calls, double rate) {
    BreakerConfig c = classic();
    c.consecutive_failures = 0;
    c.window = window;
    c.min_calls = min_calls;
    c.failure_rate = rate;
    return c;
}

}  // namespace

TEST_CASE("breaker defaults hold the documented numbers", "[resilience][breaker]") {
    BreakerConfig c;
    CHECK(c.consecutive_failures == 8);
    CHECK(c.failure_rate == 0.6);
    CHECK(c.window == 40);
    CHECK(c.min_calls == 20);
    CHECK(c.open_base == Millis(5'000));
    CHECK(c.open_cap == Millis(300'000));
    CHECK(c.half_open_probes == 1);
}

TEST_CASE("breaker: what each class means to it", "[resilience][breaker]") {
    using V = BreakerVerdict;
    struct Row {
        Diagnosis d;
        V verdict;
        Millis hold;
    };
    const BreakerConfig config;
    const std::vector<Row> rows = {
        {outcome(Status::OK), V::Success, Millis(0)},
        {outcome(Status::SERVER_ERROR), V::Failure, Millis(0)},
        {outcome(Status::BAD_GATEWAY), V::Failure, Millis(0)},
        {outcome(Status::UNAVAILABLE), V::Failure, Millis(0)},
        {outcome(Status::UNAVAILABLE, Millis(9'000)), V::Failure, Millis(0)},
        {outcome(Status::TIMEOUT), V::Failure, Millis(0)},
        {outcome(Status::NETWORK), V::Failure, Millis(0)},
        {outcome(Status::RATE_LIMITED, Millis(47'000), Dimension::RPM), V::Hold, Millis(47'000)},
        {outcome(Status::RATE_LIMITED), V::Neutral, Millis(0)},
        {outcome(Status::QUOTA_EXHAUSTED, Millis(25'920'000), Dimension::RPD), V::Hold, Millis(25'920'000)},
        {outcome(Status::QUOTA_EXHAUSTED, std::nullopt, Dimension::ZERO), V::Hold, config.open_cap},
        {outcome(Status::QUOTA_EXHAUSTED, Millis(1'000), Dimension::ZERO), V::Hold, config.open_cap},
        {outcome(Status::QUOTA_EXHAUSTED), V::Hold, config.open_cap},
        {outcome(Status::AUTH), V::Neutral, Millis(0)},
        {outcome(Status::LOCATION), V::Neutral, Millis(0)},
        {outcome(Status::MODEL_NOT_FOUND), V::Neutral, Millis(0)},
        {outcome(Status::BAD_REQUEST), V::Neutral, Millis(0)},
        {outcome(Status::BLOCKED_SAFETY), V::Neutral, Millis(0)},
        {outcome(Status::BLOCKED_POLICY), V::Neutral, Millis(0)},
        {outcome(Status::NO_IMAGE), V::Neutral, Millis(0)},
        {outcome(Status::BLANK_IMAGE), V::Neutral, Millis(0)},
        {outcome(Status::BAD_RESPONSE), V::Neutral, Millis(0)},
        {outcome(Status::BUDGET), V::Neutral, Millis(0)},
        {outcome(Status::DEADLINE), V::Neutral, Millis(0)},
        {outcome(Status::CANCELLED), V::Neutral, Millis(0)},
        {outcome(Status::INVALID_ARG), V::Neutral, Millis(0)},
        {outcome(Status::INTERNAL), V::Neutral, Millis(0)},
    };
    std::set<Status> covered;
    for (const auto& r : rows) {
        covered.insert(r.d.code);
        INFO(status_name(r.d.code) << " dimension " << dimension_name(r.d.dimension));
        auto e = policy::breaker_effect(r.d, config);
        CHECK(e.verdict == r.verdict);
        CHECK(e.hold == r.hold);
    }
    CHECK(covered.size() == static_cast<std::size_t>(kStatusCount));   // a new class needs a row here
}

TEST_CASE("breaker: consecutive failures open it", "[resilience][breaker]") {
    FakeClock clock;
    CircuitBreaker b(classic());
    auto now = clock.now();
    CHECK_FALSE(record_n(b, kFail, 4, now));
    CHECK(b.state(now) == BreakerState::Closed);
    CHECK(b.admit(now).allowed);

    auto t = b.record(outcome(Status::TIMEOUT), now, false);
    REQUIRE(t);
    CHECK(t->from == BreakerState::Closed);
    CHECK(t->to == BreakerState::Open);
    CHECK(t->until == now + Millis(5'000));
    CHECK(contains(t->why, "5 failures in a row, last TIMEOUT"));
    CHECK(contains(t->why, "open for 5.0 s"));

    auto a = b.admit(now + Millis(4'999));
    CHECK_FALSE(a.allowed);
    CHECK(a.retry_at == now + Millis(5'000));
}

TEST_CASE("breaker: a success resets the run of failures", "[resilience][breaker]") {
    FakeClock clock;
    CircuitBreaker b(classic());
    auto now = clock.now();
    record_n(b, kFail, 4, now);
    b.record(kOk, now, false);
    CHECK_FALSE(record_n(b, kFail, 4, now));
    CHECK(b.state(now) == BreakerState::Closed);
    CHECK(b.counts().consecutive_failures == 4);
    CHECK(b.record(kFail, now, false));
}

TEST_CASE("breaker: the failure rate over the window opens it", "[resilience][breaker]") {
    FakeClock clock;
    auto now = clock.now();
    BreakerConfig c = classic();   // 50% of the last 20, at least 10 calls; never 5 in a row here
    CircuitBreaker b(c);
    for (int i = 0; i < 9; ++i) CHECK_FALSE(b.record(i % 2 == 0 ? kOk : kFail, now, false));
    // 10th call: 5 failures of 10 = 50%
    auto t = b.record(kFail, now, false);
    REQUIRE(t);
    CHECK(t->to == BreakerState::Open);
    CHECK(contains(t->why, "5 of the last 10 outcomes failed (50%, threshold 50%)"));
}

TEST_CASE("breaker: no rate verdict below min_calls", "[resilience][breaker]") {
    FakeClock clock;
    auto now = clock.now();
    CircuitBreaker b(rate_only(20, 10, 0.5));
    CHECK_FALSE(record_n(b, kFail, 9, now));   // 100% failures, but only 9 calls
    CHECK(b.state(now) == BreakerState::Closed);
    auto t = b.record(kFail, now, false);
    REQUIRE(t);
    CHECK(contains(t->why, "10 of the last 10"));
}

TEST_CASE("breaker: the window slides; old outcomes leave it", "[resilience][breaker]") {
    FakeClock clock;
    auto now = clock.now();
    CircuitBreaker b(rate_only(4, 4, 0.75));
    record_n(b, kFail, 2, now);
    record_n(b, kOk, 6, now);
    CHECK(b.counts().window_calls == 4);
    CHECK(b.counts().window_failures == 0);   // the two early failures slid out
    CHECK_FALSE(record_n(b, kFail, 2, now));  // [S S F F]: 50%
    // [S F F F]: 75% of the window, though only 5 of all 11 outcomes failed
    auto t = b.record(kFail, now, false);
    REQUIRE(t);
    CHECK(contains(t->why, "3 of the last 4"));
}

TEST_CASE("breaker: neutral classes never count, in either direction", "[resilience][breaker]") {
    const std::vector<Diagnosis> neutral = {
        outcome(Status::AUTH),          outcome(Status::LOCATION),      outcome(Status::MODEL_NOT_FOUND),
        outcome(Status::BAD_REQUEST),   outcome(Status::BLOCKED_SAFETY), outcome(Status::BLOCKED_POLICY),
        outcome(Status::NO_IMAGE),      outcome(Status::BLANK_IMAGE),   outcome(Status::BAD_RESPONSE),
        outcome(Status::BUDGET),        outcome(Status::DEADLINE),      outcome(Status::CANCELLED),
        outcome(Status::INVALID_ARG),   outcome(Status::INTERNAL),      outcome(Status::RATE_LIMITED),
    };
    for (const auto& d : neutral) {
        DYNAMIC_SECTION(status_name(d.code)) {
            FakeClock clock;
            auto now = clock.now();
            CircuitBreaker b(classic());
            // Never a failure: a flood of them opens nothing and fills no window.
            CHECK_FALSE(record_n(b, d, 50, now));
            CHECK(b.state(now) == BreakerState::Closed);
            CHECK(b.counts().window_calls == 0);
            // Never a success: it does not break a run of failures.
            record_n(b, kFail, 4, now);
            record_n(b, d, 3, now);
            CHECK(b.counts().consecutive_failures == 4);
            CHECK(b.record(kFail, now, false));
            // Never a probe verdict: half-open stays half-open and the slot is freed.
            now += Millis(5'000);
            auto probe = b.admit(now);
            REQUIRE(probe.probe);
            CHECK_FALSE(b.record(d, now, true));
            CHECK(b.state(now) == BreakerState::HalfOpen);
            CHECK(b.admit(now).probe);
        }
    }
}

TEST_CASE("breaker: a 429 holds it until the server's time, without counting a failure", "[resilience][breaker]") {
    FakeClock clock;
    auto now = clock.now();
    CircuitBreaker b(classic());
    record_n(b, kFail, 4, now);
    auto t = b.record(outcome(Status::RATE_LIMITED, Millis(47'000), Dimension::RPM), now, false);
    REQUIRE(t);
    CHECK(t->from == BreakerState::Closed);
    CHECK(t->to == BreakerState::Open);
    CHECK(t->until == now + Millis(47'000));
    CHECK(contains(t->why, "47 s"));
    CHECK(b.counts().consecutive_failures == 4);   // unchanged: a quota wait is not ill health
    CHECK(b.counts().reopens == 0);

    auto refused = b.peek(now + Millis(46'999));
    CHECK_FALSE(refused.allowed);
    CHECK(refused.retry_at == now + Millis(47'000));
    // A shorter hold does not shorten it.
    CHECK_FALSE(b.record(outcome(Status::RATE_LIMITED, Millis(10'000)), now + Millis(1'000), false));
    CHECK(b.open_until() == now + Millis(47'000));

    // The hold ends in Closed, not in a probe: the route was never judged unhealthy.
    auto later = now + Millis(47'000);
    auto a = b.admit(later);
    CHECK(a.allowed);
    CHECK_FALSE(a.probe);
    CHECK(b.state(later) == BreakerState::Closed);
    // The run of failures is still there.
    CHECK(b.record(kFail, later, false));
}

TEST_CASE("breaker: a per-day quota holds it until the reset time", "[resilience][breaker]") {
    FakeClock clock(test_now());   // 09:00 PDT
    auto now = clock.now();
    auto until_midnight = std::chrono::ceil<Millis>(policy::next_pacific_midnight(clock.wall()) - clock.wall());
    REQUIRE(until_midnight > std::chrono::hours(14));   // 09:00:01 PDT (the fake clock starts at 1 s)
    CircuitBreaker b(classic());
    auto t = b.record(outcome(Status::QUOTA_EXHAUSTED, until_midnight, Dimension::RPD), now, false);
    REQUIRE(t);
    CHECK(t->until == now + until_midnight);
    CHECK(contains(t->why, "RPD"));
    clock.advance(until_midnight - Millis(1));
    CHECK_FALSE(b.admit(clock.now()).allowed);
    clock.advance(Millis(1));
    CHECK(b.admit(clock.now()).allowed);
}

TEST_CASE("breaker: a zero quota holds it for open_cap", "[resilience][breaker]") {
    FakeClock clock;
    auto now = clock.now();
    CircuitBreaker b(classic());
    auto t = b.record(outcome(Status::QUOTA_EXHAUSTED, std::nullopt, Dimension::ZERO), now, false);
    REQUIRE(t);
    CHECK(t->until == now + Millis(300'000));
    CHECK(contains(t->why, "ZERO"));
}

TEST_CASE("breaker: half-open admits one probe; its success closes it", "[resilience][breaker]") {
    FakeClock clock;
    CircuitBreaker b(classic());
    auto now = clock.now();
    record_n(b, kFail, 5, now);
    clock.advance(Millis(5'000));
    now = clock.now();
    CHECK(b.state(now) == BreakerState::HalfOpen);

    auto probe = b.admit(now);
    CHECK(probe.allowed);
    CHECK(probe.probe);
    auto second = b.admit(now);
    CHECK_FALSE(second.allowed);
    CHECK(second.retry_at == now + Millis(5'000));   // look again after open_base

    auto t = b.record(kOk, now + Millis(800), true);
    REQUIRE(t);
    CHECK(t->from == BreakerState::HalfOpen);
    CHECK(t->to == BreakerState::Closed);
    CHECK(contains(t->why, "probe succeeded"));
    CHECK(b.admit(now).allowed);
    CHECK_FALSE(b.admit(now).probe);
    // The backoff was reset: the next trip opens for open_base again.
    auto again = record_n(b, kFail, 5, now);
    REQUIRE(again);
    CHECK(again->until == now + Millis(5'000));
}

TEST_CASE("breaker: a failed probe re-opens it for twice as long, up to open_cap", "[resilience][breaker]") {
    FakeClock clock;
    CircuitBreaker b(classic());
    record_n(b, kFail, 5, clock.now());
    const std::vector<long long> expected_seconds = {10, 20, 40, 80, 160, 300, 300};
    for (auto secs : expected_seconds) {
        clock.advance(b.open_until() - clock.now());
        auto probe = b.admit(clock.now());
        REQUIRE(probe.probe);
        auto t = b.record(outcome(Status::NETWORK), clock.now(), true);
        REQUIRE(t);
        CHECK(t->from == BreakerState::HalfOpen);
        CHECK(t->to == BreakerState::Open);
        CHECK(t->until - clock.now() == std::chrono::seconds(secs));
        CHECK(contains(t->why, "probe failed with NETWORK"));
    }
}

TEST_CASE("breaker: late outcomes of calls admitted before it opened change nothing", "[resilience][breaker]") {
    FakeClock clock;
    CircuitBreaker b(classic());
    auto now = clock.now();
    record_n(b, kFail, 5, now);
    auto until = b.open_until();
    CHECK_FALSE(b.record(kFail, now + Millis(1'000), false));
    CHECK_FALSE(b.record(kOk, now + Millis(1'000), false));
    CHECK(b.open_until() == until);
    CHECK(b.state(now + Millis(1'000)) == BreakerState::Open);
    CHECK(b.counts().window_calls == 0);   // the trip started a fresh count; stale answers stay out
    // In half-open only the probe decides.
    now = until;
    REQUIRE(b.admit(now).probe);
    CHECK_FALSE(b.record(kOk, now, false));
    CHECK(b.state(now) == BreakerState::HalfOpen);
}

TEST_CASE("breaker: a 429 on a probe holds it, then probes again", "[resilience][breaker]") {
    FakeClock clock;
    CircuitBreaker b(classic());
    auto now = clock.now();
    record_n(b, kFail, 5, now);
    now = b.open_until();
    REQUIRE(b.admit(now).probe);
    auto t = b.record(outcome(Status::RATE_LIMITED, Millis(30'000)), now, true);
    REQUIRE(t);
    CHECK(t->from == BreakerState::HalfOpen);
    CHECK(t->until == now + Millis(30'000));
    now += Millis(30'000);
    CHECK(b.state(now) == BreakerState::HalfOpen);   // still unproven: a probe, not a flood
    CHECK(b.admit(now).probe);
}

TEST_CASE("breaker: peek answers like admit but takes no probe slot", "[resilience][breaker]") {
    FakeClock clock;
    CircuitBreaker b(classic());
    auto now = clock.now();
    record_n(b, kFail, 5, now);
    CHECK_FALSE(b.peek(now).allowed);
    now += Millis(5'000);
    for (int i = 0; i < 3; ++i) {
        auto p = b.peek(now);
        CHECK(p.allowed);
        CHECK(p.probe);
    }
    REQUIRE(b.admit(now).probe);
    CHECK_FALSE(b.peek(now).allowed);
}

TEST_CASE("breaker: a probe that never reports frees its slot after the lease", "[resilience][breaker]") {
    BreakerConfig c = classic();
    c.probe_lease = Millis(120'000);
    c.open_base = Millis(300'000);
    c.open_cap = Millis(300'000);
    FakeClock clock;
    CircuitBreaker b(c);
    auto now = clock.now();
    record_n(b, kFail, 5, now);
    now += Millis(300'000);
    REQUIRE(b.admit(now).probe);
    auto refused = b.admit(now + Millis(1'000));
    CHECK_FALSE(refused.allowed);
    CHECK(refused.retry_at == now + Millis(120'000));   // the lease ends before open_base would
    CHECK_FALSE(b.admit(now + Millis(119'999)).allowed);
    CHECK(b.peek(now + Millis(120'000)).probe);
    CHECK(b.admit(now + Millis(120'000)).probe);
}

TEST_CASE("breaker: concurrent admits in half-open let exactly half_open_probes through", "[resilience][breaker]") {
    for (int probes : {1, 3}) {
        BreakerConfig c = classic();
        c.half_open_probes = probes;
        FakeClock clock;
        CircuitBreaker b(c);
        record_n(b, kFail, 5, clock.now());
        auto now = clock.now() + Millis(5'000);

        constexpr int kThreads = 16;
        std::atomic<int> allowed{0}, probing{0};
        std::barrier start(kThreads);
        std::vector<std::thread> threads;
        for (int i = 0; i < kThreads; ++i)
            threads.emplace_back([&] {
                start.arrive_and_wait();
                for (int k = 0; k < 50; ++k) {
                    auto a = b.admit(now);
                    allowed += a.allowed;
                    probing += a.probe;
                }
            });
        for (auto& t : threads) t.join();
        CHECK(allowed == probes);
        CHECK(probing == probes);
    }
}

TEST_CASE("breaker: records from many threads keep exact counts", "[resilience][breaker]") {
    auto c = rate_only(1'000, 1'000'000, 0.99);   // never opens: only the counting is tested
    CircuitBreaker b(c);
    FakeClock clock;
    auto now = clock.now();
    constexpr int kThreads = 8;
    std::barrier start(kThreads);
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i)
        threads.emplace_back([&, i] {
            start.arrive_and_wait();
            for (int k = 0; k < 100; ++k) b.record(i % 2 == 0 ? kFail : kOk, now, false);
        });
    for (auto& t : threads) t.join();
    CHECK(b.counts().window_calls == 800);
    CHECK(b.counts().window_failures == 400);
}

// ---- registry ------------------------------------------------------------------------------

TEST_CASE("registry: one breaker per (route, model, credential)", "[resilience][breaker]") {
    policy::BreakerRegistry reg(classic());
    auto a = reg.get("ai-studio", "gemini-2.5-flash-image", kTestKey);
    CHECK(reg.get("ai-studio", "gemini-2.5-flash-image", kTestKey) == a);
    CHECK(reg.get("vertex:us-central1", "gemini-2.5-flash-image", kTestKey) != a);
    CHECK(reg.get("ai-studio", "gemini-3-pro-image-preview", kTestKey) != a);
    CHECK(reg.get("ai-studio", "gemini-2.5-flash-image", std::string("AI") + "zaSyOTHERKEY0123456789abcdefghijklmno") != a);
    CHECK(reg.size() == 4);
    CHECK(reg.get(policy::BreakerRegistry::key_for("ai-studio", "gemini-2.5-flash-image", kTestKey)) == a);
}

TEST_CASE("registry: snapshot lists every breaker with its fingerprint, never the key", "[resilience][breaker]") {
    FakeClock clock;
    policy::BreakerRegistry reg(classic());
    auto flash = reg.get("ai-studio", "gemini-2.5-flash-image", kTestKey);
    reg.get("vertex:us-central1", "gemini-3-pro-image-preview", "");
    auto now = clock.now();
    record_n(*flash, kFail, 5, now);

    auto snap = reg.snapshot(now);
    REQUIRE(snap.size() == 2);
    CHECK(snap[0].key.route == "ai-studio");   // ordered by key
    CHECK(snap[0].key.model == "gemini-2.5-flash-image");
    CHECK(snap[0].key.credential == policy::credential_fingerprint(kTestKey));
    CHECK(snap[0].state == BreakerState::Open);
    CHECK(snap[0].open_until == now + Millis(5'000));
    CHECK(snap[1].key.route == "vertex:us-central1");
    CHECK(snap[1].key.credential == "none");
    CHECK(snap[1].state == BreakerState::Closed);
    for (const auto& s : snap) {
        CHECK_FALSE(contains(s.key.route, kTestKey));
        CHECK_FALSE(contains(s.key.model, kTestKey));
        CHECK_FALSE(contains(s.key.credential, kTestKey.substr(0, 8)));
    }
    // Time moves the reported state without anyone touching the breaker.
    CHECK(reg.snapshot(now + Millis(5'000))[0].state == BreakerState::HalfOpen);
}

TEST_CASE("credential_fingerprint: short, stable, one per key, not the key", "[resilience][breaker]") {
    auto fp = policy::credential_fingerprint(kTestKey);
    CHECK(fp.size() == 12);
    CHECK(fp.find_first_not_of("0123456789abcdef") == std::string::npos);
    CHECK(fp == policy::credential_fingerprint(kTestKey));
    CHECK_FALSE(contains(kTestKey, fp));
    CHECK_FALSE(contains(fp, kTestKey.substr(0, 4)));
    CHECK(policy::credential_fingerprint("") == "none");

    // Keys that differ in one character, and many random-looking keys, never collide.
    std::set<std::string> seen;
    std::string key(kTestKey);
    for (std::size_t pos = 4; pos < key.size(); ++pos) {
        auto k = key;
        k[pos] = k[pos] == 'x' ? 'y' : 'x';
        seen.insert(policy::credential_fingerprint(k));
    }
    for (int i = 0; i < 2000; ++i) seen.insert(policy::credential_fingerprint("key-" + std::to_string(i)));
    CHECK(seen.size() == (key.size() - 4) + 2000);
}
