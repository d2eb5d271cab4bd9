// Decisions, as pure functions: classify() turns what one attempt produced into a Diagnosis;
// decide() turns a Diagnosis plus the retry state into an action. Time and randomness come in as
// arguments, so every rule is tested without sleeping.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "nbcore/clock.hpp"
#include "nbcore/image.hpp"
#include "nbcore/reply.hpp"
#include "nbcore/status.hpp"
#include "nbcore/transport.hpp"

namespace nbcore::policy {

// Everything one attempt produced. Pointers may be null when that stage was not reached.
struct Observation {
    const net::TransportResult* transport = nullptr;   // null = no transport involved (diagnose)
    int http_status = 0;
    const net::Headers* headers = nullptr;
    std::string_view body;                  // raw body, or the decoder's skeleton (images elided)
    const Reply* reply = nullptr;           // decoded reply, when the body parsed
    std::string_view decode_error;          // why the body did not parse ("" when it did)
    bool decode_over_limit = false;         // the body exceeded the size cap
    const image::Check* failed_image = nullptr;   // first image that failed validation
    std::string_view model;                 // requested model id (for advice)
    std::string_view image_size;            // requested size (for timeout advice)
    std::chrono::milliseconds server_timeout_sent{0};  // X-Server-Timeout we sent, 0 = none
};

// Classify one attempt. `now` is wall-clock time (for "resets at midnight Pacific" advice and
// retry_after of per-day quotas). Unknown enum values fall into the safest class, never OK.
Diagnosis classify(const Observation& obs, SystemTime now);

// For users holding a status and a body from anywhere (logs, another SDK): decode and classify.
Diagnosis diagnose(int http_status, std::string_view body, const net::Headers& headers,
                   SystemTime now);

// The largest server-suggested delay in a reply: RetryInfo.retryDelay, "Please retry in N s"
// in the message, and a Retry-After header (seconds or HTTP-date).
std::optional<std::chrono::milliseconds> server_retry_delay(std::string_view body,
                                                           const net::Headers* headers,
                                                           SystemTime now);

// Next midnight in America/Los_Angeles after `now` (US DST rules), when per-day quotas reset.
SystemTime next_pacific_midnight(SystemTime now);

// ---- retry decisions -------------------------------------------------------------------------

struct Backoff {
    std::chrono::milliseconds base{1000};
    std::chrono::milliseconds cap{60'000};
};

struct RetryPolicy {
    int max_attempts = 5;                                  // including the first
    Backoff server{std::chrono::milliseconds(1000), std::chrono::milliseconds(60'000)};   // 500/503/504/network
    Backoff gateway{std::chrono::milliseconds(2000), std::chrono::milliseconds(60'000)};  // 502: longer
    Backoff rate{std::chrono::milliseconds(1000), std::chrono::milliseconds(60'000)};     // 429 without a hint
    double jitter_ratio = 0.05;              // positive jitter added to server-given waits (<= 5%)
    std::chrono::milliseconds max_wait{300'000};   // one wait longer than this fails at once
    int max_billed_retries = 1;              // NO_IMAGE / BLANK_IMAGE (each attempt is billed)
    int max_bad_response_retries = 1;        // malformed / corrupt replies

    static RetryPolicy interactive();        // 1 s base, 60 s cap, 5 attempts
    static RetryPolicy patient();            // 30 s base doubling to 5 min, 5 attempts
    static RetryPolicy none();               // one attempt, never retry
};

// Where a request stands when an attempt has ended.
struct RetryState {
    int attempts_made = 0;             // attempts so far, including the one just classified
    int billed_retries = 0;            // NO_IMAGE / BLANK_IMAGE retries already spent
    int bad_response_retries = 0;
    SteadyTime now{};
    std::optional<SteadyTime> deadline;   // the caller's total deadline
};

enum class Action { Retry, Fail };

struct Decision {
    Action action = Action::Fail;
    std::chrono::milliseconds delay{0};   // wait before the retry
    Status fail_as = Status::OK;          // when failing: the code to report (e.g. DEADLINE)
    std::string why;                      // "retry in 2.1 s after RATE_LIMITED (server asked 2 s)"
};

// Pure: the same inputs and the same Rng sequence give the same decision.
Decision decide(const Diagnosis& d, const RetryState& state, const RetryPolicy& policy, Rng& rng);

}  // namespace nbcore::policy
