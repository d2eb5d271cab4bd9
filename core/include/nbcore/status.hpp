// The one error model: status codes, quota dimensions, and the Diagnosis every failure carries.
// The numeric values are part of the C ABI (NBC_E_*) and the Python exception map: append only,
// never renumber.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace nbcore {

using Millis = std::chrono::milliseconds;

enum class Status : int {
    OK = 0,
    RATE_LIMITED = 1,      // 429 per-minute (RPM / TPM / IPM): wait and retry
    QUOTA_EXHAUSTED = 2,   // 429 per-day, limit 0, billing: retrying today will not help
    SERVER_ERROR = 3,      // 500 INTERNAL
    BAD_GATEWAY = 4,       // 502 (often an HTML page)
    UNAVAILABLE = 5,       // 503 "model is overloaded"
    TIMEOUT = 6,           // 504 DEADLINE_EXCEEDED or a client-side phase timeout
    NETWORK = 7,           // DNS, connect, reset, TLS
    AUTH = 8,              // invalid / missing / suspended key, API disabled, 401
    LOCATION = 9,          // FAILED_PRECONDITION: location or billing
    MODEL_NOT_FOUND = 10,  // 404
    BAD_REQUEST = 11,      // any other 400
    BLOCKED_SAFETY = 12,   // layer 1: configurable safety categories
    BLOCKED_POLICY = 13,   // layer 2: output filters that cannot be configured
    NO_IMAGE = 14,         // the reply carries no image
    BLANK_IMAGE = 15,      // the image decodes but shows nothing
    BAD_RESPONSE = 16,     // malformed JSON, bad base64, corrupt or truncated image, oversized body
    BUDGET = 17,           // a spending cap would be crossed
    DEADLINE = 18,         // the caller's total deadline ran out
    CANCELLED = 19,        // the caller cancelled
    INVALID_ARG = 20,      // wrong arguments or impossible options
    INTERNAL = 21,         // a bug in nbcore
};
inline constexpr int kStatusCount = 22;

// Which quota a 429 (or an admission refusal) is about.
enum class Dimension : int { NONE = 0, RPM = 1, TPM = 2, IPM = 3, RPD = 4, ZERO = 5, UNKNOWN = 6 };

std::string_view status_name(Status s) noexcept;          // "RATE_LIMITED"
std::string_view status_summary(Status s) noexcept;       // one line, static text
std::string_view dimension_name(Dimension d) noexcept;    // "RPM", "" for NONE
std::optional<Status> status_from_name(std::string_view name) noexcept;
std::optional<Dimension> dimension_from_name(std::string_view name) noexcept;

// Everything known about one failed (or successful) outcome. Produced by policy::classify for
// replies, and by the engine for client-side failures.
struct Diagnosis {
    Status code = Status::OK;
    int http_status = 0;            // 0 when no HTTP reply was received
    std::string api_status;         // google.rpc status string, e.g. "RESOURCE_EXHAUSTED"
    std::string reason;             // ErrorInfo.reason / finishReason / blockReason / quotaId
    std::string message;            // the server's (or our) message, keys redacted
    std::string advice;             // what a person should do next, one or two sentences
    std::optional<Millis> retry_after;
    Dimension dimension = Dimension::NONE;
    int safety_layer = 0;           // 0 = not a safety block, 1 = prompt-side/configurable, 2 = output filter
    bool retryable = false;
};

// Whether an attempt could have run on the server (and been billed): what a caller needs before
// repeating a request by hand.
enum class Execution : int {
    NotSent = 0,           // the request never left this machine
    PossiblyExecuted = 1,  // it was sent, but no reply came back (timeout, reset)
    Executed = 2,          // the server answered
};

// One attempt as the engine saw it. Recorded in results and errors alike.
struct Attempt {
    int number = 0;                      // 1-based
    std::string route;                   // "ai-studio", "vertex:us-central1", "custom:http://127.0.0.1:1234"
    std::string image_size;              // the size this attempt asked for ("" = the API's default)
    Status outcome = Status::OK;
    int http_status = 0;
    std::string reason;
    std::optional<Millis> server_delay;  // what the server asked for (RetryInfo etc.)
    Millis chosen_delay{0};              // what we waited before the next attempt
    Millis duration{0};                  // send -> outcome
    Execution execution = Execution::NotSent;
};

// The exception the core throws for every typed failure. The C ABI turns it into NBC_E_* and
// nbc_error_last(); Python into the matching exception class.
class Error : public std::runtime_error {
public:
    explicit Error(Diagnosis d);
    Error(Status code, std::string message, std::string advice = {});

    const Diagnosis& diagnosis() const noexcept { return diag_; }
    Diagnosis& diagnosis() noexcept { return diag_; }
    Status code() const noexcept { return diag_.code; }

    std::vector<Attempt> attempts;   // empty for failures before any attempt
    std::string route;               // route of the last attempt, if any

private:
    Diagnosis diag_;
};

// Shorthand for argument errors; `what` names the argument and the accepted values.
[[noreturn]] void throw_invalid_arg(std::string what);

}  // namespace nbcore
