// What sits around each attempt: circuit breakers per (route, model, credential), a retry budget
// shared by all requests, and plan(), which composes decide() with routes, breakers, size
// downgrade and the budget. Nothing here reads a clock: time always comes in as an argument, so
// every rule is tested under a FakeClock without sleeping.
//
// One request, as the engine is meant to drive these pieces:
//   budget.on_request(now) once;  then per attempt:
//   a = breaker(route).admit(now)   (refused: plan again with the fresh peek)
//   attempt -> d = classify(...);   breaker(route).record(d, now, a.probe)
//   p = plan({d, state, policy, routes with breaker peek(now), current, size, downgrade,
//             budget.can_retry(now)}, rng)
//   Retry / Downgrade: budget.try_retry(now) (refused: fail as the budget says), wait p.delay;
//   FailOver: wait p.delay, no budget;  Done / Fail: stop.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nbcore/clock.hpp"
#include "nbcore/policy.hpp"
#include "nbcore/status.hpp"

namespace nbcore::policy {

// ---- circuit breaker -------------------------------------------------------------------------

enum class BreakerState { Closed, Open, HalfOpen };
std::string_view breaker_state_name(BreakerState s) noexcept;   // "closed", "open", "half-open"

struct BreakerConfig {
    // Defaults sized so that a route failing 30% of the time at random (a bad day, not an outage)
    // trips rarely, while a real outage trips within a few seconds of traffic.
    int consecutive_failures = 8;        // this many failures in a row open the breaker (0 = off)
    double failure_rate = 0.6;           // or this share of failures among...
    int window = 40;                     // ...the last `window` counted outcomes...
    int min_calls = 20;                  // ...once the window holds at least this many
    Millis open_base{5'000};             // first open time; doubles per consecutive re-open...
    Millis open_cap{300'000};            // ...up to this; also how long a zero quota holds it
    int half_open_probes = 1;            // concurrent probes admitted when half-open
    Millis probe_lease{600'000};         // a probe that never reports frees its slot after this
};

struct Admission {
    bool allowed = false;
    bool probe = false;        // this call is a half-open probe: record() it with probe = true
    SteadyTime retry_at{};     // when refused: the earliest time it may admit again
};

struct BreakerTransition {
    BreakerState from = BreakerState::Closed;
    BreakerState to = BreakerState::Closed;
    SteadyTime until{};        // to == Open: until when (an Open -> Open change moves this)
    std::string why;           // "5 failures in a row, last UNAVAILABLE"
};

// What one outcome means to a breaker. Pure; the table lives in breaker.cpp.
enum class BreakerVerdict {
    Success,   // OK: the route works
    Failure,   // 500, 502, 503, TIMEOUT, NETWORK: the route is unhealthy
    Hold,      // 429 with a server wait, QUOTA_EXHAUSTED: closed to traffic for `hold`, not a failure
    Neutral,   // everything else says nothing about the route's health
};
struct BreakerEffect {
    BreakerVerdict verdict = BreakerVerdict::Neutral;
    Millis hold{0};
};
BreakerEffect breaker_effect(const Diagnosis& d, const BreakerConfig& config);

// Thread-safe. Open -> HalfOpen (after a failure trip) or Open -> Closed (after a server hold)
// happens by itself once `now` passes open_until.
class CircuitBreaker {
public:
    explicit CircuitBreaker(BreakerConfig config = {});

    Admission admit(SteadyTime now);             // takes a probe slot when half-open
    Admission peek(SteadyTime now) const;        // the answer admit() would give, taking nothing
    // Every admitted call must be recorded once; `probe` as admit() said.
    std::optional<BreakerTransition> record(const Diagnosis& d, SteadyTime now, bool probe);

    BreakerState state(SteadyTime now) const;
    SteadyTime open_until() const;               // meaningful while Open
    // The outcome that last opened or held the breaker: what a request refused by it should
    // report (a per-day quota stays a per-day quota, not "unavailable").
    std::optional<Diagnosis> cause() const;
    const BreakerConfig& config() const noexcept { return config_; }

    struct Counts {
        int consecutive_failures = 0;
        int window_calls = 0;
        int window_failures = 0;
        int reopens = 0;          // consecutive trips without a close (sets the open time)
    };
    Counts counts() const;

private:
    void settle(SteadyTime now);                 // time-driven transitions; caller holds mu_
    BreakerState effective(SteadyTime now) const;
    Admission answer(SteadyTime now) const;      // caller holds mu_
    std::optional<BreakerTransition> trip(SteadyTime now, std::string why);
    std::optional<BreakerTransition> hold(SteadyTime now, Millis how_long, std::string why);
    void push_outcome(bool failed);
    void reset_counts();

    const BreakerConfig config_;
    mutable std::mutex mu_;
    BreakerState state_ = BreakerState::Closed;
    SteadyTime until_{};
    bool tripped_ = false;            // open for failures (-> HalfOpen), else held (-> Closed)
    int reopens_ = 0;
    int consecutive_ = 0;
    std::vector<std::uint8_t> ring_;  // 1 = failure, over the last `window` counted outcomes
    std::size_t ring_next_ = 0;
    int ring_count_ = 0;
    int ring_failures_ = 0;
    std::vector<SteadyTime> probes_;  // when each in-flight probe was admitted
    std::optional<Diagnosis> cause_;  // what last opened or held it
};

// A short one-way identifier for a secret (API key, token subject): FNV-1a 64 over a fixed salt
// and the secret, 12 hex digits. It tells credentials apart in logs and snapshots; it is not a
// password hash. "none" for an empty secret.
std::string credential_fingerprint(std::string_view secret);

struct BreakerKey {
    std::string route;            // "ai-studio", "vertex:us-central1"
    std::string model;
    std::string credential;       // credential_fingerprint(), never the secret
    auto operator<=>(const BreakerKey&) const = default;
};

struct BreakerSnapshot {
    BreakerKey key;
    BreakerState state = BreakerState::Closed;
    SteadyTime open_until{};      // meaningful when Open
    CircuitBreaker::Counts counts;
};

// One breaker per (route, model, credential). Thread-safe; breakers live as long as the registry.
class BreakerRegistry {
public:
    explicit BreakerRegistry(BreakerConfig config = {});

    // `credential` is the secret itself; only its fingerprint is kept.
    std::shared_ptr<CircuitBreaker> get(std::string_view route, std::string_view model,
                                        std::string_view credential);
    std::shared_ptr<CircuitBreaker> get(const BreakerKey& key);
    static BreakerKey key_for(std::string_view route, std::string_view model,
                              std::string_view credential);

    std::vector<BreakerSnapshot> snapshot(SteadyTime now) const;   // ordered by key
    std::size_t size() const;

private:
    const BreakerConfig config_;
    mutable std::mutex mu_;
    std::map<BreakerKey, std::shared_ptr<CircuitBreaker>> breakers_;
};

// ---- retry budget ----------------------------------------------------------------------------

// Retries may be at most `ratio` of first attempts over the sliding window, plus a reserve of
// min_retries_per_second * window so that a lone user is never starved (Finagle's budget).
struct RetryBudgetConfig {
    double ratio = 0.2;
    std::chrono::seconds window{10};             // 1 s buckets; clamped to [1 s, 1 h]
    double min_retries_per_second = 1.0;
};

// Thread-safe; memory is one bucket per second of window.
class RetryBudget {
public:
    explicit RetryBudget(RetryBudgetConfig config = {});

    void on_request(SteadyTime now);          // a first attempt (never a retry or a failover)
    bool try_retry(SteadyTime now);           // withdraws one retry, or refuses
    bool can_retry(SteadyTime now) const;     // would try_retry() succeed; takes nothing
    double available(SteadyTime now) const;   // retries left in the window, for diagnostics
    const RetryBudgetConfig& config() const noexcept { return config_; }

private:
    static constexpr std::int64_t kNever = INT64_MIN;
    struct Bucket {
        std::int64_t second = kNever;   // which second this bucket counts
        std::int64_t requests = 0;
        std::int64_t retries = 0;
    };
    struct Totals {
        std::int64_t requests = 0;
        std::int64_t retries = 0;
    };
    std::int64_t second_of(SteadyTime now) const;   // never before the latest seen; holds mu_
    Bucket& bucket_at(std::int64_t second);
    Totals totals(std::int64_t second) const;
    double allowance(const Totals& t) const;

    const RetryBudgetConfig config_;
    mutable std::mutex mu_;
    std::vector<Bucket> ring_;
    std::int64_t latest_ = kNever;  // the latest second written (times may race slightly)
};

// ---- routes and planning ---------------------------------------------------------------------

enum class RouteKind { AiStudio, Vertex, Custom };
std::string_view route_kind_name(RouteKind k) noexcept;

// An endpoint a request may go to. Routes are kept in preference order. The failover flags name
// which failures a route takes part in failing over for, whether leaving it or receiving from it:
// both ends must allow it.
struct Route {
    std::string name;                  // "ai-studio", "vertex:us-central1", "custom:<base url>"
    RouteKind kind = RouteKind::AiStudio;
    std::string base_url;
    std::string quota_pool;            // "ai-studio:<key fingerprint>", "vertex:<project>"; "" = its own
    bool failover_on_capacity = true;  // 500/502/503/timeout/network/429 without a per-minute quota
    bool failover_on_quota = true;     // QUOTA_EXHAUSTED (needs another quota pool)
    bool failover_on_location = true;  // LOCATION (needs another entry point or quota pool)
    bool failover_on_safety = false;   // BLOCKED_SAFETY / BLOCKED_POLICY
};

std::string_view quota_pool_of(const Route& r) noexcept;   // quota_pool, or the name when empty

struct RouteView {
    Route route;
    Admission admission;               // the route's breaker peeked at `now`
};

// The next smaller image size: "4K" -> "2K" -> "1K"; "" when there is none.
std::string downgraded_size(std::string_view size);

struct PlanInput {
    const Diagnosis& diagnosis;        // the attempt that just ended
    const RetryState& retry;           // attempts so far, now, deadline
    const RetryPolicy& policy;
    std::span<const RouteView> routes{};   // preference order; empty = one route, no breaker
    std::size_t current = 0;           // the route the attempt used
    std::string_view image_size{};     // "", "1K", "2K", "4K"
    bool downgrade_enabled = false;    // TIMEOUT at 4K/2K may retry one size smaller
    bool budget_allows_retry = true;   // RetryBudget::can_retry(); failovers do not need it
};

struct Plan {
    enum class Action { Done, Retry, FailOver, Downgrade, Fail };
    Action action = Action::Fail;
    std::size_t route = 0;             // where the next attempt goes
    std::string image_size;            // the size it asks for
    Millis delay{0};                   // wait before it
    Status fail_as = Status::OK;       // Done: OK; Fail: the code to report
    std::optional<Millis> retry_after; // Fail: when it may work again, when known
    std::string why;
};
std::string_view plan_action_name(Plan::Action a) noexcept;   // "retry", "fail over", ...

// Pure: the same inputs and the same Rng sequence give the same plan.
Plan plan(const PlanInput& in, Rng& rng);

}  // namespace nbcore::policy
