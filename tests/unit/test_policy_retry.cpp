// decide(): retry or fail, and how long to wait, with a scripted Rng (no sleeping anywhere).
#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

#include "test_policy_support.hpp"

using namespace policy_test;
using policy::Action;
using policy::RetryPolicy;
using policy::RetryState;

namespace {

Diagnosis diag(Status code, bool retryable, std::optional<Millis> retry_after = std::nullopt) {
    Diagnosis d;
    d.code = code;
    d.retryable = retryable;
    d.retry_after = retry_after;
    return d;
}

RetryState after(int attempts, int billed = 0, int bad = 0) {
    RetryState s;
    s.attempts_made = attempts;
    s.billed_retries = billed;
    s.bad_response_retries = bad;
    s.now = SteadyTime{} + std::chrono::hours(1);
    return s;
}

RetryState with_deadline(RetryState s, Millis remaining) {
    s.deadline = s.now + remaining;
    return s;
}

RetryPolicy many_attempts() {
    auto p = RetryPolicy::interactive();
    p.max_attempts = 20;
    return p;
}

struct RetryCase {
    std::string name;
    Diagnosis diagnosis;
    RetryState state;
    RetryPolicy policy;
    std::vector<double> uniforms;
    Action action;
    Millis delay;                // checked when retrying
    Status fail_as;              // checked when failing
    std::vector<std::string> why_has;
};

std::vector<RetryCase> retry_cases() {
    const auto interactive = RetryPolicy::interactive();
    const auto patient = RetryPolicy::patient();
    const auto none = RetryPolicy::none();
    return {
        // ---- never retried
        {"not retryable: per-day quota", diag(Status::QUOTA_EXHAUSTED, false, Millis(54'000'000)), after(1),
         interactive, {0.5}, Action::Fail, {}, Status::QUOTA_EXHAUSTED, {"QUOTA_EXHAUSTED is not retryable", "15 h"}},
        {"not retryable: auth", diag(Status::AUTH, false), after(1), interactive, {0.5}, Action::Fail, {},
         Status::AUTH, {"AUTH is not retryable"}},
        {"not retryable: safety block", diag(Status::BLOCKED_POLICY, false), after(1), interactive, {0.5},
         Action::Fail, {}, Status::BLOCKED_POLICY, {"not retryable"}},
        {"success needs no retry", diag(Status::OK, false), after(1), interactive, {0.5}, Action::Fail, {}, Status::OK,
         {"succeeded"}},
        {"attempt cap reached", diag(Status::UNAVAILABLE, true), after(5), interactive, {0.5}, Action::Fail, {},
         Status::UNAVAILABLE, {"gave up after 5 attempts", "max_attempts 5"}},
        {"none(): one attempt only", diag(Status::SERVER_ERROR, true), after(1), none, {0.5}, Action::Fail, {},
         Status::SERVER_ERROR, {"gave up after 1 attempt "}},

        // ---- 429 per-minute: the server's wait is a floor, plus positive jitter
        {"RATE_LIMITED waits what the server asked plus jitter", diag(Status::RATE_LIMITED, true, Millis(47'000)),
         after(1), interactive, {0.5}, Action::Retry, Millis(48'175), {}, {"server asked 47 s", "RATE_LIMITED"}},
        {"RATE_LIMITED with zero jitter draw waits exactly the hint", diag(Status::RATE_LIMITED, true, Millis(47'000)),
         after(2), interactive, {0.0}, Action::Retry, Millis(47'000), {}, {"retry 3 of 5 in 47 s"}},
        {"RATE_LIMITED without a hint uses the rate backoff", diag(Status::RATE_LIMITED, true), after(3), interactive,
         {0.5}, Action::Retry, Millis(2'000), {}, {"backoff"}},
        {"RATE_LIMITED beyond max_wait fails at once", diag(Status::RATE_LIMITED, true, Millis(400'000)), after(1),
         interactive, {0.5}, Action::Fail, {}, Status::RATE_LIMITED,
         {"the server asks for 6 min 40 s", "beyond max_wait of 5 min"}},
        {"RATE_LIMITED hint longer than the deadline", diag(Status::RATE_LIMITED, true, Millis(40'000)),
         with_deadline(after(1), Millis(12'000)), interactive, {0.5}, Action::Fail, {}, Status::RATE_LIMITED,
         {"RATE_LIMITED: the server asks for 40 s but only 12 s remain before the deadline"}},
        {"RATE_LIMITED hint within the deadline", diag(Status::RATE_LIMITED, true, Millis(5'000)),
         with_deadline(after(1), Millis(60'000)), interactive, {0.8}, Action::Retry, Millis(5'200), {}, {"5.2 s"}},

        // ---- 5xx / timeout / network: full-jitter backoff of `server`
        {"SERVER_ERROR first retry", diag(Status::SERVER_ERROR, true), after(1), interactive, {0.5}, Action::Retry,
         Millis(500), {}, {"retry 2 of 5 in 0.5 s after SERVER_ERROR (backoff)"}},
        {"UNAVAILABLE fourth retry doubles thrice", diag(Status::UNAVAILABLE, true), after(4), interactive, {0.5},
         Action::Retry, Millis(4'000), {}, {"UNAVAILABLE"}},
        {"TIMEOUT backoff", diag(Status::TIMEOUT, true), after(2), interactive, {0.75}, Action::Retry, Millis(1'500),
         {}, {"TIMEOUT"}},
        {"NETWORK backoff", diag(Status::NETWORK, true), after(3), interactive, {0.25}, Action::Retry, Millis(1'000),
         {}, {"NETWORK"}},
        {"backoff is capped", diag(Status::SERVER_ERROR, true), after(10), many_attempts(), {0.5}, Action::Retry,
         Millis(30'000), {}, {"30 s"}},
        {"a server hint floors the backoff", diag(Status::UNAVAILABLE, true, Millis(10'000)), after(1), interactive,
         {0.5, 0.0}, Action::Retry, Millis(10'000), {}, {"server asked 10 s"}},
        {"a backoff longer than the hint wins", diag(Status::UNAVAILABLE, true, Millis(100)), after(4), interactive,
         {0.5}, Action::Retry, Millis(4'000), {}, {"backoff"}},
        {"backoff past the deadline", diag(Status::SERVER_ERROR, true), with_deadline(after(3), Millis(1'500)),
         interactive, {0.5}, Action::Fail, {}, Status::SERVER_ERROR,
         {"a wait of 2.0 s but only 1.5 s remain before the deadline"}},
        {"BAD_GATEWAY uses the longer gateway backoff", diag(Status::BAD_GATEWAY, true), after(2), interactive, {0.5},
         Action::Retry, Millis(2'000), {}, {"BAD_GATEWAY"}},
        {"patient(): 30 s base", diag(Status::SERVER_ERROR, true), after(1), patient, {0.5}, Action::Retry,
         Millis(15'000), {}, {"15 s"}},
        {"patient(): doubling", diag(Status::UNAVAILABLE, true), after(4), patient, {0.99}, Action::Retry,
         Millis(237'600), {}, {"3 min 58 s"}},
        {"patient(): capped at 5 min", diag(Status::UNAVAILABLE, true), after(5), [] {
             auto p = RetryPolicy::patient();
             p.max_attempts = 10;
             return p;
         }(), {0.5}, Action::Retry, Millis(150'000), {}, {"2 min 30 s"}},

        // ---- billed and malformed outcomes: at once, within their allowance
        {"NO_IMAGE retries at once", diag(Status::NO_IMAGE, true), after(1), interactive, {0.5}, Action::Retry,
         Millis(0), {}, {"at once", "billed retry 1 of 1"}},
        {"NO_IMAGE billed allowance spent", diag(Status::NO_IMAGE, true), after(2, 1), interactive, {0.5},
         Action::Fail, {}, Status::NO_IMAGE, {"1 billed retry", "max_billed_retries 1"}},
        {"BLANK_IMAGE retries at once", diag(Status::BLANK_IMAGE, true), after(1), interactive, {0.5}, Action::Retry,
         Millis(0), {}, {"BLANK_IMAGE"}},
        {"BLANK_IMAGE billed allowance spent", diag(Status::BLANK_IMAGE, true), after(2, 1), interactive, {0.5},
         Action::Fail, {}, Status::BLANK_IMAGE, {"billed"}},
        {"BAD_RESPONSE retries at once", diag(Status::BAD_RESPONSE, true), after(1), interactive, {0.5},
         Action::Retry, Millis(0), {}, {"malformed-reply retry 1 of 1"}},
        {"BAD_RESPONSE allowance spent", diag(Status::BAD_RESPONSE, true), after(2, 0, 1), interactive, {0.5},
         Action::Fail, {}, Status::BAD_RESPONSE, {"max_bad_response_retries 1"}},
        {"none(): no billed retry", diag(Status::NO_IMAGE, true), after(1), [] {
             auto p = RetryPolicy::none();
             p.max_attempts = 5;   // attempts allowed, billed retries still not
             return p;
         }(), {0.5}, Action::Fail, {}, Status::NO_IMAGE, {"max_billed_retries 0"}},
        {"NO_IMAGE after the deadline has passed", diag(Status::NO_IMAGE, true),
         with_deadline(after(1), Millis(-10)), interactive, {0.5}, Action::Fail, {}, Status::NO_IMAGE,
         {"no time remains before the deadline"}},
    };
}

}  // namespace

TEST_CASE("decide(): one decision per class, cap and ceiling", "[policy][retry]") {
    for (const auto& c : retry_cases()) {
        DYNAMIC_SECTION(c.name) {
            ScriptedRng rng(c.uniforms);
            auto decision = policy::decide(c.diagnosis, c.state, c.policy, rng);
            INFO("why: " << decision.why);
            CHECK(decision.action == c.action);
            if (c.action == Action::Retry) CHECK(decision.delay == c.delay);
            else CHECK(decision.fail_as == c.fail_as);
            CHECK_FALSE(decision.why.empty());
            for (const auto& part : c.why_has) CHECK(contains(decision.why, part));
        }
    }
}

TEST_CASE("presets hold the documented numbers", "[policy][retry]") {
    auto i = RetryPolicy::interactive();
    CHECK(i.max_attempts == 5);
    CHECK(i.server.base == Millis(1'000));
    CHECK(i.server.cap == Millis(60'000));
    CHECK(i.rate.base == Millis(1'000));
    auto p = RetryPolicy::patient();
    CHECK(p.max_attempts == 5);
    CHECK(p.server.base == Millis(30'000));
    CHECK(p.server.cap == Millis(300'000));
    CHECK(p.max_wait >= p.server.cap);
    auto n = RetryPolicy::none();
    CHECK(n.max_attempts == 1);
    CHECK(n.max_billed_retries == 0);
    CHECK(n.max_bad_response_retries == 0);
}

TEST_CASE("server-given waits: never shorter than asked, at most jitter_ratio longer", "[policy][retry]") {
    const auto policy = RetryPolicy::interactive();
    for (Millis asked : {Millis(1), Millis(500), Millis(47'000), Millis(120'000)}) {
        for (double u : {0.0, 0.1, 0.5, 0.9, 0.999999}) {
            ScriptedRng rng({u});
            auto d = policy::decide(diag(Status::RATE_LIMITED, true, asked), after(1), policy, rng);
            INFO("asked " << asked.count() << " ms, u " << u);
            REQUIRE(d.action == Action::Retry);
            REQUIRE(d.delay >= asked);
            REQUIRE(d.delay.count() <= asked.count() + static_cast<long long>(policy.jitter_ratio * asked.count()));
        }
    }
}

TEST_CASE("full-jitter backoff stays between 0 and min(cap, base * 2^(n-1))", "[policy][retry]") {
    auto policy = many_attempts();
    for (int attempt = 1; attempt <= 12; ++attempt) {
        long long ceiling = std::min<long long>(60'000, 1'000LL << (attempt - 1));
        for (double u : {0.0, 0.3, 0.7, 0.999999}) {
            ScriptedRng rng({u});
            auto d = policy::decide(diag(Status::SERVER_ERROR, true), after(attempt), policy, rng);
            INFO("attempt " << attempt << ", u " << u);
            REQUIRE(d.action == Action::Retry);
            REQUIRE(d.delay.count() >= 0);
            REQUIRE(d.delay.count() < ceiling);
            REQUIRE(d.delay.count() == static_cast<long long>(ceiling * u));
        }
    }
}

TEST_CASE("the same inputs and Rng sequence give the same decision", "[policy][retry]") {
    auto d = diag(Status::UNAVAILABLE, true, Millis(2'000));
    ScriptedRng a({0.42, 0.17}), b({0.42, 0.17});
    auto first = policy::decide(d, after(3), RetryPolicy::interactive(), a);
    auto second = policy::decide(d, after(3), RetryPolicy::interactive(), b);
    CHECK(first.action == second.action);
    CHECK(first.delay == second.delay);
    CHECK(first.why == second.why);
    CHECK(a.calls() == b.calls());
}
