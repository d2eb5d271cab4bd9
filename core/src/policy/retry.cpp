// decide(): retry or fail, and how long to wait. Server-given waits are floors (with a little
// positive jitter so that clients do not return in lockstep); the caller's deadline and max_wait
// are ceilings; hint-less waits use full-jitter exponential backoff.
#include <algorithm>
#include <cmath>

#include "policy/internal.hpp"

namespace nbcore::policy {
namespace {

using namespace std::chrono_literals;
using detail::format_duration;

enum class Plan { Backoff, ServerFloorOrBackoff, Immediate };

// Full jitter: U(0, min(cap, base * 2^(attempt-1))).
Millis full_jitter(const Backoff& b, int attempt, Rng& rng) {
    double ceiling = static_cast<double>(b.base.count()) * std::exp2(std::clamp(attempt - 1, 0, 40));
    ceiling = std::min(ceiling, static_cast<double>(b.cap.count()));
    return Millis(static_cast<Millis::rep>(std::floor(ceiling * rng.uniform())));
}

// The server's wait plus jitter_ratio * wait * U; never below what the server asked.
Millis server_wait(Millis asked, double jitter_ratio, Rng& rng) {
    double extra = std::max(0.0, jitter_ratio) * static_cast<double>(asked.count()) * rng.uniform();
    return asked + Millis(static_cast<Millis::rep>(std::floor(extra)));
}

Decision fail(Status code, std::string why) {
    Decision d;
    d.action = Action::Fail;
    d.fail_as = code;
    d.why = std::move(why);
    return d;
}

std::string name_of(Status s) { return std::string(status_name(s)); }

struct Wait {
    Millis delay{0};
    std::string source;   // for "why": "server asked 47 s", "backoff"
    bool from_server = false;
};

Wait rate_limited_wait(const Diagnosis& d, const RetryState& s, const RetryPolicy& p, Rng& rng) {
    if (d.retry_after)
        return {server_wait(*d.retry_after, p.jitter_ratio, rng),
                "server asked " + format_duration(*d.retry_after), true};
    return {full_jitter(p.rate, s.attempts_made, rng), "backoff", false};
}

Wait backoff_wait(const Backoff& b, const Diagnosis& d, const RetryState& s, const RetryPolicy& p,
                  Rng& rng) {
    auto backoff = full_jitter(b, s.attempts_made, rng);
    if (d.retry_after && *d.retry_after > backoff)
        return {server_wait(*d.retry_after, p.jitter_ratio, rng),
                "server asked " + format_duration(*d.retry_after), true};
    return {backoff, "backoff", false};
}

// Billed or malformed outcomes: an immediate retry while that class's allowance lasts.
std::optional<Decision> allowance_spent(const Diagnosis& d, const RetryState& s, const RetryPolicy& p) {
    if (d.code == Status::NO_IMAGE || d.code == Status::BLANK_IMAGE) {
        if (s.billed_retries >= p.max_billed_retries)
            return fail(d.code, name_of(d.code) + " again after " + std::to_string(s.billed_retries) +
                                    " billed retr" + (s.billed_retries == 1 ? "y" : "ies") +
                                    " (max_billed_retries " + std::to_string(p.max_billed_retries) +
                                    "); each attempt is billed, so nbcore stops here");
    }
    if (d.code == Status::BAD_RESPONSE && s.bad_response_retries >= p.max_bad_response_retries)
        return fail(d.code, "BAD_RESPONSE again after " + std::to_string(s.bad_response_retries) +
                                " retr" + (s.bad_response_retries == 1 ? "y" : "ies") +
                                " (max_bad_response_retries " +
                                std::to_string(p.max_bad_response_retries) + ")");
    return std::nullopt;
}

Wait choose_wait(const Diagnosis& d, const RetryState& s, const RetryPolicy& p, Rng& rng) {
    switch (d.code) {
    case Status::RATE_LIMITED: return rate_limited_wait(d, s, p, rng);
    case Status::BAD_GATEWAY: return backoff_wait(p.gateway, d, s, p, rng);
    case Status::NO_IMAGE:
    case Status::BLANK_IMAGE:
        return {Millis(0), "billed retry " + std::to_string(s.billed_retries + 1) + " of " +
                               std::to_string(p.max_billed_retries), false};
    case Status::BAD_RESPONSE:
        return {Millis(0), "malformed-reply retry " + std::to_string(s.bad_response_retries + 1) + " of " +
                               std::to_string(p.max_bad_response_retries), false};
    default: return backoff_wait(p.server, d, s, p, rng);   // 500/503/504/network/other retryable
    }
}

}  // namespace

RetryPolicy RetryPolicy::interactive() { return RetryPolicy{}; }

RetryPolicy RetryPolicy::patient() {
    RetryPolicy p;
    p.server = {30s, 300s};
    p.gateway = {60s, 300s};
    p.rate = {30s, 300s};
    p.max_wait = 600s;   // a 5 min backoff plus jitter must still fit
    return p;
}

RetryPolicy RetryPolicy::none() {
    RetryPolicy p;
    p.max_attempts = 1;
    p.max_billed_retries = 0;
    p.max_bad_response_retries = 0;
    return p;
}

Decision decide(const Diagnosis& d, const RetryState& state, const RetryPolicy& policy, Rng& rng) {
    if (d.code == Status::OK) return fail(Status::OK, "the attempt succeeded; nothing to retry");
    if (!d.retryable) {
        std::string why = name_of(d.code) + " is not retryable";
        if (d.retry_after) why += "; it may succeed again in " + format_duration(*d.retry_after);
        return fail(d.code, why);
    }
    if (state.attempts_made >= policy.max_attempts)
        return fail(d.code, "gave up after " + std::to_string(state.attempts_made) + " attempt" +
                                (state.attempts_made == 1 ? "" : "s") + " (max_attempts " +
                                std::to_string(policy.max_attempts) + "), last outcome " + name_of(d.code));
    if (auto spent = allowance_spent(d, state, policy)) return *spent;

    auto wait = choose_wait(d, state, policy, rng);
    std::string what = wait.from_server ? "the server asks for " + format_duration(*d.retry_after)
                                        : "a wait of " + format_duration(wait.delay);
    if (wait.delay > policy.max_wait)
        return fail(d.code, name_of(d.code) + ": " + what + ", beyond max_wait of " +
                                format_duration(policy.max_wait));
    if (state.deadline) {
        auto remaining = std::chrono::ceil<Millis>(*state.deadline - state.now);
        if (state.now + wait.delay >= *state.deadline) {
            std::string left = remaining > Millis(0) ? "only " + format_duration(remaining) + " remain"
                                                     : "no time remains";
            return fail(d.code, name_of(d.code) + ": " + what + " but " + left + " before the deadline");
        }
    }

    Decision out;
    out.action = Action::Retry;
    out.delay = wait.delay;
    out.fail_as = d.code;
    out.why = "retry " + std::to_string(state.attempts_made + 1) + " of " + std::to_string(policy.max_attempts) +
              (wait.delay == Millis(0) ? " at once" : " in " + format_duration(wait.delay)) + " after " +
              name_of(d.code) + " (" + wait.source + ")";
    return out;
}

}  // namespace nbcore::policy
