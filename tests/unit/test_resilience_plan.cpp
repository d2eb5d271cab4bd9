// plan(): one row per rule: failover and where it may go, waiting for breakers, downgrade,
// the retry budget and the attempt cap. Scripted Rng, no clock at all.
#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

#include "nbcore/resilience.hpp"
#include "test_policy_support.hpp"

using namespace policy_test;
using policy::Admission;
using policy::Plan;
using policy::Route;
using policy::RouteKind;
using policy::RouteView;
using Act = policy::Plan::Action;

namespace {

const SteadyTime kNow = SteadyTime{} + std::chrono::hours(1);

Diagnosis diag(Status code, bool retryable, std::optional<Millis> retry_after = std::nullopt,
               Dimension dimension = Dimension::NONE) {
    Diagnosis d;
    d.code = code;
    d.retryable = retryable;
    d.retry_after = retry_after;
    d.dimension = dimension;
    return d;
}

Admission healthy() { return {true, false, kNow}; }
Admission probing() { return {true, true, kNow}; }
Admission open_for(Millis d) { return {false, false, kNow + d}; }

Route ai_studio(std::string pool = "ai-studio:key1") {
    return {"ai-studio", RouteKind::AiStudio, "https://generativelanguage.googleapis.com", std::move(pool)};
}
Route ai_studio_2(std::string pool = "ai-studio:key1") {   // a second key; same project unless told
    return {"ai-studio#2", RouteKind::AiStudio, "https://generativelanguage.googleapis.com", std::move(pool)};
}
Route vertex(std::string region = "us-central1", std::string pool = "vertex:my-project") {
    return {"vertex:" + region, RouteKind::Vertex, "https://" + region + "-aiplatform.googleapis.com",
            std::move(pool)};
}

template <class F>
Route with(Route r, F change) {
    change(r);
    return r;
}

struct PlanCase {
    std::string name{};
    Diagnosis diagnosis{};
    std::vector<RouteView> routes{};
    std::vector<std::string> why_has{};
    Act action = Act::Fail;
    std::size_t route = 0;            // checked unless failing
    Millis delay{0};                  // checked unless failing
    std::string size_after{};         // checked unless failing
    // situation
    int attempts = 1;
    std::size_t current = 0;
    std::string size = "1K";
    bool downgrade = false;
    bool budget = true;
    std::optional<Millis> deadline_in{};
    std::optional<Millis> max_wait{};
    std::vector<double> uniforms = {0.5};
    // when failing
    Status fail_as = Status::OK;
    std::optional<Millis> retry_after{};
};

PlanCase retrying(PlanCase c, std::size_t route, Millis delay) {
    c.route = route;
    c.delay = delay;
    if (c.size_after.empty()) c.size_after = c.size;
    return c;
}

std::vector<PlanCase> plan_cases() {
    const auto unavailable = diag(Status::UNAVAILABLE, true);
    const auto two_healthy = std::vector<RouteView>{{ai_studio(), healthy()}, {vertex(), healthy()}};
    const auto one_route = std::vector<RouteView>{{ai_studio(), healthy()}};
    std::vector<PlanCase> rows;
    auto add = [&](PlanCase c) { rows.push_back(std::move(c)); };

    // ---- success
    add({.name = "OK: nothing to plan", .diagnosis = diag(Status::OK, false), .routes = two_healthy,
         .why_has = {"succeeded"}, .action = Act::Done, .fail_as = Status::OK});

    // ---- capacity failures fail over to a healthy route at once
    for (auto code : {Status::UNAVAILABLE, Status::SERVER_ERROR, Status::BAD_GATEWAY, Status::TIMEOUT, Status::NETWORK})
        add(retrying({.name = std::string(status_name(code)) + " fails over to a healthy second route",
                      .diagnosis = diag(code, true), .routes = two_healthy,
                      .why_has = {"fail over from ai-studio to vertex:us-central1 after " + std::string(status_name(code)),
                                  "attempt 2 of 5"},
                      .action = Act::FailOver},
                     1, Millis(0)));
    add(retrying({.name = "503 fails over even when the backoff would not fit the deadline",
                  .diagnosis = unavailable, .routes = two_healthy, .why_has = {"fail over"},
                  .action = Act::FailOver, .attempts = 4, .deadline_in = Millis(2'000)},
                 1, Millis(0)));
    add(retrying({.name = "a half-open route takes the failover as its probe", .diagnosis = unavailable,
                  .routes = {{ai_studio(), healthy()}, {vertex(), probing()}}, .why_has = {"fail over"},
                  .action = Act::FailOver},
                 1, Millis(0)));
    add(retrying({.name = "the first admitting route in preference order wins", .diagnosis = unavailable,
                  .routes = {{ai_studio(), healthy()}, {vertex(), open_for(Millis(30'000))},
                             {vertex("europe-west4"), healthy()}, {vertex("global"), healthy()}},
                  .why_has = {"to vertex:europe-west4"}, .action = Act::FailOver},
                 2, Millis(0)));
    add(retrying({.name = "failover from a later route may go back to the first", .diagnosis = unavailable,
                  .routes = two_healthy, .why_has = {"from vertex:us-central1 to ai-studio"},
                  .action = Act::FailOver, .current = 1},
                 0, Millis(0)));
    add(retrying({.name = "503 on the only route retries there with backoff", .diagnosis = unavailable,
                  .routes = one_route, .why_has = {"retry 2 of 5 in 0.5 s after UNAVAILABLE"},
                  .action = Act::Retry},
                 0, Millis(500)));
    add(retrying({.name = "no failover when the failing route forbids it", .diagnosis = unavailable,
                  .routes = {{with(ai_studio(), [](Route& r) { r.failover_on_capacity = false; }), healthy()},
                             {vertex(), healthy()}},
                  .why_has = {"retry 2 of 5"}, .action = Act::Retry},
                 0, Millis(500)));
    add(retrying({.name = "no failover to a route that refuses capacity overflow", .diagnosis = unavailable,
                  .routes = {{ai_studio(), healthy()},
                             {with(vertex(), [](Route& r) { r.failover_on_capacity = false; }), healthy()}},
                  .why_has = {"retry 2 of 5"}, .action = Act::Retry},
                 0, Millis(500)));
    add(retrying({.name = "no breakers known: decide() alone", .diagnosis = unavailable, .routes = {},
                  .why_has = {"retry 2 of 5 in 0.5 s"}, .action = Act::Retry},
                 0, Millis(500)));

    // ---- the request is at fault: no route helps
    for (auto code : {Status::AUTH, Status::MODEL_NOT_FOUND, Status::BAD_REQUEST, Status::BLOCKED_SAFETY,
                      Status::BLOCKED_POLICY, Status::CANCELLED, Status::DEADLINE, Status::INVALID_ARG,
                      Status::BUDGET})
        add({.name = std::string(status_name(code)) + " never fails over", .diagnosis = diag(code, false),
             .routes = two_healthy, .why_has = {std::string(status_name(code)) + " is not retryable"},
             .action = Act::Fail, .fail_as = code});
    add(retrying({.name = "safety blocks fail over when both routes opt in",
                  .diagnosis = diag(Status::BLOCKED_POLICY, false),
                  .routes = {{with(ai_studio(), [](Route& r) { r.failover_on_safety = true; }), healthy()},
                             {with(vertex(), [](Route& r) { r.failover_on_safety = true; }), healthy()}},
                  .why_has = {"after BLOCKED_POLICY"}, .action = Act::FailOver},
                 1, Millis(0)));
    add({.name = "safety blocks: one end opting in is not enough", .diagnosis = diag(Status::BLOCKED_SAFETY, false),
         .routes = {{ai_studio(), healthy()},
                    {with(vertex(), [](Route& r) { r.failover_on_safety = true; }), healthy()}},
         .why_has = {"not retryable", "failover on safety blocks is off"}, .action = Act::Fail,
         .fail_as = Status::BLOCKED_SAFETY});
    add(retrying({.name = "NO_IMAGE retries on the same route, not elsewhere",
                  .diagnosis = diag(Status::NO_IMAGE, true), .routes = two_healthy,
                  .why_has = {"billed retry 1 of 1"}, .action = Act::Retry},
                 0, Millis(0)));
    add(retrying({.name = "BLANK_IMAGE retries on the same route", .diagnosis = diag(Status::BLANK_IMAGE, true),
                  .routes = two_healthy, .why_has = {"billed retry"}, .action = Act::Retry},
                 0, Millis(0)));

    // ---- quotas: only another pool helps
    const auto rpd = diag(Status::QUOTA_EXHAUSTED, false, Millis(54'000'000), Dimension::RPD);
    add(retrying({.name = "QUOTA_EXHAUSTED skips routes of the same pool", .diagnosis = rpd,
                  .routes = {{ai_studio(), open_for(Millis(54'000'000))}, {ai_studio_2(), healthy()},
                             {vertex(), healthy()}},
                  .why_has = {"fail over from ai-studio to vertex:us-central1 after QUOTA_EXHAUSTED"},
                  .action = Act::FailOver},
                 2, Millis(0)));
    add({.name = "QUOTA_EXHAUSTED with only the same pool left fails, saying when", .diagnosis = rpd,
         .routes = {{ai_studio(), open_for(Millis(54'000'000))}, {ai_studio_2(), healthy()}},
         .why_has = {"QUOTA_EXHAUSTED is not retryable", "15 h", "another quota pool"}, .action = Act::Fail,
         .fail_as = Status::QUOTA_EXHAUSTED, .retry_after = Millis(54'000'000)});
    add({.name = "QUOTA_EXHAUSTED: the other pool's route refuses quota overflow", .diagnosis = rpd,
         .routes = {{ai_studio(), open_for(Millis(54'000'000))},
                    {with(vertex(), [](Route& r) { r.failover_on_quota = false; }), healthy()}},
         .why_has = {"not retryable"}, .action = Act::Fail, .fail_as = Status::QUOTA_EXHAUSTED});
    add(retrying({.name = "routes without a named pool each have their own",
                  .diagnosis = diag(Status::QUOTA_EXHAUSTED, false, std::nullopt, Dimension::ZERO),
                  .routes = {{ai_studio(""), healthy()}, {ai_studio_2(""), healthy()}},
                  .why_has = {"to ai-studio#2"}, .action = Act::FailOver},
                 1, Millis(0)));
    const auto rpm = diag(Status::RATE_LIMITED, true, Millis(47'000), Dimension::RPM);
    add(retrying({.name = "per-minute 429: a second key of the same project does not help, wait here",
                  .diagnosis = rpm,
                  .routes = {{ai_studio(), open_for(Millis(47'000))}, {ai_studio_2(), healthy()}},
                  .why_has = {"server asked 47 s"}, .action = Act::Retry, .uniforms = {0.0}},
                 0, Millis(47'000)));
    add(retrying({.name = "per-minute 429 fails over to another pool at once", .diagnosis = rpm,
                  .routes = {{ai_studio(), open_for(Millis(47'000))}, {vertex(), healthy()}},
                  .why_has = {"after RATE_LIMITED"}, .action = Act::FailOver},
                 1, Millis(0)));
    add(retrying({.name = "a 429 without quota details is capacity: any route helps",
                  .diagnosis = diag(Status::RATE_LIMITED, true, std::nullopt, Dimension::UNKNOWN),
                  .routes = {{ai_studio(), healthy()}, {ai_studio_2(), healthy()}},
                  .why_has = {"to ai-studio#2"}, .action = Act::FailOver},
                 1, Millis(0)));

    // ---- location: another entry point or another (billed) project
    const auto location = diag(Status::LOCATION, false);
    add(retrying({.name = "LOCATION on AI Studio fails over to Vertex", .diagnosis = location,
                  .routes = two_healthy, .why_has = {"after LOCATION"}, .action = Act::FailOver},
                 1, Millis(0)));
    add(retrying({.name = "LOCATION fails over to another project's key", .diagnosis = location,
                  .routes = {{ai_studio(), healthy()}, {ai_studio_2("ai-studio:key2"), healthy()}},
                  .why_has = {"to ai-studio#2"}, .action = Act::FailOver},
                 1, Millis(0)));
    add({.name = "LOCATION: another key of the same project, same entry point, does not help",
         .diagnosis = location, .routes = {{ai_studio(), healthy()}, {ai_studio_2(), healthy()}},
         .why_has = {"LOCATION is not retryable", "enters elsewhere"}, .action = Act::Fail,
         .fail_as = Status::LOCATION});
    add({.name = "LOCATION: a route may opt out", .diagnosis = location,
         .routes = {{ai_studio(), healthy()},
                    {with(vertex(), [](Route& r) { r.failover_on_location = false; }), healthy()}},
         .why_has = {"not retryable"}, .action = Act::Fail, .fail_as = Status::LOCATION});

    // ---- breakers: wait for the earliest reopen inside the deadline and max_wait
    add(retrying({.name = "the current route's breaker is a floor under the backoff", .diagnosis = unavailable,
                  .routes = {{ai_studio(), open_for(Millis(8'000))}},
                  .why_has = {"retry 2 of 5 in 8.0 s after UNAVAILABLE, when ai-studio admits again",
                              "its breaker is open; the wait alone was 0.5 s"},
                  .action = Act::Retry},
                 0, Millis(8'000)));
    add(retrying({.name = "every route open: fail over to the one that reopens first",
                  .diagnosis = unavailable,
                  .routes = {{ai_studio(), open_for(Millis(30'000))}, {vertex(), open_for(Millis(20'000))}},
                  .why_has = {"to vertex:us-central1 after UNAVAILABLE in 20 s, when vertex:us-central1 admits again"},
                  .action = Act::FailOver, .deadline_in = Millis(60'000)},
                 1, Millis(20'000)));
    add(retrying({.name = "every route open: stay when the current one reopens first", .diagnosis = unavailable,
                  .routes = {{ai_studio(), open_for(Millis(10'000))}, {vertex(), open_for(Millis(20'000))}},
                  .why_has = {"in 10 s", "when ai-studio admits again"}, .action = Act::Retry,
                  .deadline_in = Millis(60'000)},
                 0, Millis(10'000)));
    add(retrying({.name = "a route that reopens soon beats a long backoff here", .diagnosis = unavailable,
                  .routes = {{ai_studio(), healthy()}, {vertex(), open_for(Millis(100))}},
                  .why_has = {"fail over from ai-studio to vertex:us-central1 after UNAVAILABLE in 0.1 s"},
                  .action = Act::FailOver, .attempts = 4, .uniforms = {0.5}},
                 1, Millis(100)));
    add(retrying({.name = "a short backoff here beats a route that reopens later", .diagnosis = unavailable,
                  .routes = {{ai_studio(), healthy()}, {vertex(), open_for(Millis(9'000))}},
                  .why_has = {"retry 5 of 5 in 4.0 s"}, .action = Act::Retry, .attempts = 4,
                  .uniforms = {0.5}},
                 0, Millis(4'000)));
    add({.name = "every route open beyond the deadline: fail, saying when", .diagnosis = unavailable,
         .routes = {{ai_studio(), open_for(Millis(90'000))}, {vertex(), open_for(Millis(120'000))}},
         .why_has = {"UNAVAILABLE: every route is open; the earliest to admit again is ai-studio, in 1 min 30 s",
                     "but only 1 min remain before the deadline"},
         .action = Act::Fail, .deadline_in = Millis(60'000), .fail_as = Status::UNAVAILABLE,
         .retry_after = Millis(90'000)});
    add({.name = "every route open beyond max_wait: fail", .diagnosis = unavailable,
         .routes = {{ai_studio(), open_for(Millis(600'000))}, {vertex(), open_for(Millis(400'000))}},
         .why_has = {"every route is open", "vertex:us-central1, in 6 min 40 s", "beyond max_wait of 5 min"},
         .action = Act::Fail, .fail_as = Status::UNAVAILABLE, .retry_after = Millis(400'000)});
    add({.name = "QUOTA_EXHAUSTED: the other pool's route is open past the deadline", .diagnosis = rpd,
         .routes = {{ai_studio(), open_for(Millis(54'000'000))}, {vertex(), open_for(Millis(120'000))}},
         .why_has = {"every route is open", "vertex:us-central1, in 2 min", "not retryable"},
         .action = Act::Fail, .deadline_in = Millis(30'000), .fail_as = Status::QUOTA_EXHAUSTED,
         .retry_after = Millis(120'000)});
    add({.name = "the deadline has passed: not even a failover", .diagnosis = unavailable,
         .routes = two_healthy, .why_has = {"no time remains before the deadline, so neither a retry nor a failover"},
         .action = Act::Fail, .deadline_in = Millis(-10), .fail_as = Status::UNAVAILABLE});

    // ---- downgrade on timeouts, when enabled
    const auto timeout = diag(Status::TIMEOUT, true);
    add(retrying({.name = "TIMEOUT at 4K downgrades to 2K", .diagnosis = timeout, .routes = one_route,
                  .why_has = {"downgrade 4K -> 2K after TIMEOUT"}, .action = Act::Downgrade, .size_after = "2K",
                  .size = "4K", .downgrade = true},
                 0, Millis(0)));
    add(retrying({.name = "a second TIMEOUT at 2K downgrades to 1K", .diagnosis = timeout, .routes = one_route,
                  .why_has = {"downgrade 2K -> 1K after TIMEOUT", "attempt 3 of 5"}, .action = Act::Downgrade,
                  .size_after = "1K", .attempts = 2, .size = "2K", .downgrade = true},
                 0, Millis(0)));
    add(retrying({.name = "TIMEOUT at 1K has nothing smaller: plain retry", .diagnosis = timeout,
                  .routes = one_route, .why_has = {"after TIMEOUT (backoff)"}, .action = Act::Retry,
                  .size = "1K", .downgrade = true},
                 0, Millis(500)));
    add(retrying({.name = "TIMEOUT at the default size: plain retry", .diagnosis = timeout, .routes = one_route,
                  .why_has = {"after TIMEOUT"}, .action = Act::Retry, .size = "", .downgrade = true},
                 0, Millis(500)));
    add(retrying({.name = "downgrade is off unless enabled", .diagnosis = timeout, .routes = one_route,
                  .why_has = {"after TIMEOUT"}, .action = Act::Retry, .size = "4K"},
                 0, Millis(500)));
    add(retrying({.name = "only TIMEOUT downgrades", .diagnosis = unavailable, .routes = one_route,
                  .why_has = {"after UNAVAILABLE"}, .action = Act::Retry, .size = "4K", .downgrade = true},
                 0, Millis(500)));
    add(retrying({.name = "downgrade comes before failover", .diagnosis = timeout, .routes = two_healthy,
                  .why_has = {"downgrade 4K -> 2K"}, .action = Act::Downgrade, .size_after = "2K", .size = "4K",
                  .downgrade = true},
                 0, Millis(0)));
    add(retrying({.name = "downgrade waits for the route's breaker", .diagnosis = timeout,
                  .routes = {{ai_studio(), open_for(Millis(5'000))}},
                  .why_has = {"downgrade 4K -> 2K after TIMEOUT in 5.0 s, when ai-studio admits again"},
                  .action = Act::Downgrade, .size_after = "2K", .size = "4K", .downgrade = true},
                 0, Millis(5'000)));
    add(retrying({.name = "a healthy route now beats a downgrade later", .diagnosis = timeout,
                  .routes = {{ai_studio(), open_for(Millis(5'000))}, {vertex(), healthy()}},
                  .why_has = {"fail over"}, .action = Act::FailOver, .size = "4K", .downgrade = true},
                 1, Millis(0)));

    // ---- the retry budget
    add({.name = "budget spent: no retry", .diagnosis = unavailable, .routes = one_route,
         .why_has = {"UNAVAILABLE: the retry budget is spent"}, .action = Act::Fail, .budget = false,
         .fail_as = Status::UNAVAILABLE});
    add({.name = "budget spent: no downgrade either", .diagnosis = timeout, .routes = one_route,
         .why_has = {"retry budget is spent"}, .action = Act::Fail, .size = "4K", .downgrade = true,
         .budget = false, .fail_as = Status::TIMEOUT});
    add(retrying({.name = "budget spent: a failover needs none", .diagnosis = unavailable, .routes = two_healthy,
                  .why_has = {"fail over"}, .action = Act::FailOver, .budget = false},
                 1, Millis(0)));
    add({.name = "budget spent and every route open beyond the deadline", .diagnosis = unavailable,
         .routes = {{ai_studio(), healthy()}, {vertex(), open_for(Millis(90'000))}},
         .why_has = {"no attempt can start in time", "the retry budget is spent"}, .action = Act::Fail,
         .budget = false, .deadline_in = Millis(60'000), .fail_as = Status::UNAVAILABLE});

    // ---- the attempt cap covers failovers
    add({.name = "max_attempts: no failover after the last attempt", .diagnosis = unavailable,
         .routes = two_healthy, .why_has = {"gave up after 5 attempts", "max_attempts 5"}, .action = Act::Fail,
         .attempts = 5, .fail_as = Status::UNAVAILABLE});
    add({.name = "max_attempts: a quota failover needs an attempt too", .diagnosis = rpd,
         .routes = {{ai_studio(), healthy()}, {vertex(), healthy()}},
         .why_has = {"no attempt left to fail over with (max_attempts 5)"}, .action = Act::Fail, .attempts = 5,
         .fail_as = Status::QUOTA_EXHAUSTED, .retry_after = Millis(54'000'000)});
    add(retrying({.name = "max_attempts: the last attempt may be a failover", .diagnosis = unavailable,
                  .routes = two_healthy, .why_has = {"attempt 5 of 5"}, .action = Act::FailOver, .attempts = 4},
                 1, Millis(0)));
    add({.name = "max_attempts: no downgrade after the last attempt", .diagnosis = timeout, .routes = one_route,
         .why_has = {"gave up after 5 attempts"}, .action = Act::Fail, .attempts = 5, .size = "4K",
         .downgrade = true, .fail_as = Status::TIMEOUT});

    // ---- a wrong index is a bug, reported as one
    add({.name = "current route out of range", .diagnosis = unavailable, .routes = two_healthy,
         .why_has = {"not one of the 2 routes"}, .action = Act::Fail, .current = 7, .fail_as = Status::INTERNAL});
    return rows;
}

}  // namespace

TEST_CASE("plan(): one row per rule", "[resilience][plan]") {
    for (const auto& c : plan_cases()) {
        DYNAMIC_SECTION(c.name) {
            auto policy = policy::RetryPolicy::interactive();
            if (c.max_wait) policy.max_wait = *c.max_wait;
            policy::RetryState state;
            state.attempts_made = c.attempts;
            state.now = kNow;
            if (c.deadline_in) state.deadline = kNow + *c.deadline_in;
            ScriptedRng rng(c.uniforms);
            policy::PlanInput in{.diagnosis = c.diagnosis,
                                 .retry = state,
                                 .policy = policy,
                                 .routes = c.routes,
                                 .current = c.current,
                                 .image_size = c.size,
                                 .downgrade_enabled = c.downgrade,
                                 .budget_allows_retry = c.budget};
            auto p = policy::plan(in, rng);
            INFO("action: " << policy::plan_action_name(p.action) << ", why: " << p.why);
            CHECK(p.action == c.action);
            if (c.action == Act::Fail || c.action == Act::Done) {
                CHECK(p.fail_as == c.fail_as);
                if (c.retry_after) CHECK(p.retry_after == c.retry_after);
            } else {
                CHECK(p.route == c.route);
                CHECK(p.delay == c.delay);
                CHECK(p.image_size == c.size_after);
            }
            CHECK_FALSE(p.why.empty());
            for (const auto& part : c.why_has) CHECK(contains(p.why, part));
        }
    }
}

TEST_CASE("plan(): the same inputs and Rng sequence give the same plan", "[resilience][plan]") {
    std::vector<RouteView> routes = {{ai_studio(), open_for(Millis(3'000))}, {vertex(), open_for(Millis(7'000))}};
    auto d = diag(Status::SERVER_ERROR, true);
    auto policy = policy::RetryPolicy::interactive();
    policy::RetryState state;
    state.attempts_made = 2;
    state.now = kNow;
    policy::PlanInput in{.diagnosis = d, .retry = state, .policy = policy, .routes = routes};
    ScriptedRng a({0.9}), b({0.9});
    auto first = policy::plan(in, a);
    auto second = policy::plan(in, b);
    CHECK(first.action == Act::Retry);
    CHECK(first.delay == Millis(3'000));   // breaker 3 s over a 1.8 s backoff
    CHECK(second.action == first.action);
    CHECK(second.delay == first.delay);
    CHECK(second.why == first.why);
}

TEST_CASE("downgraded_size and names", "[resilience][plan]") {
    CHECK(policy::downgraded_size("4K") == "2K");
    CHECK(policy::downgraded_size("2K") == "1K");
    CHECK(policy::downgraded_size("1K").empty());
    CHECK(policy::downgraded_size("").empty());
    CHECK(policy::plan_action_name(Act::FailOver) == "fail over");
    CHECK(policy::route_kind_name(RouteKind::Vertex) == "vertex");
    CHECK(policy::quota_pool_of(ai_studio("")) == "ai-studio");
    CHECK(policy::quota_pool_of(vertex()) == "vertex:my-project");
}
