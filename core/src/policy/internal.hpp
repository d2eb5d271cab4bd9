// Pieces shared by the policy sources: the parsed error envelope, the per-shape classifiers
// that classify() dispatches to, advice, and small text and time helpers. Not a public header.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nbcore/clock.hpp"
#include "nbcore/policy.hpp"
#include "nbcore/reply.hpp"
#include "nbcore/status.hpp"
#include "nbcore/transport.hpp"

namespace nbcore::policy::detail {

// ---- the google.rpc.Status error envelope --------------------------------------------------

struct QuotaViolation {
    std::string metric;   // quotaMetric, e.g. ".../generate_content_free_tier_requests"
    std::string id;       // quotaId, e.g. "GenerateRequestsPerDayPerProjectPerModel-FreeTier"
    std::string value;    // quotaValue ("0" = no quota at all); "" when not given
    std::string model;    // quotaDimensions.model (an internal base name)
};

struct FieldViolation {
    std::string field;
    std::string description;
};

struct ErrorBody {
    bool present = false;        // an error envelope (or a non-JSON error page) was found
    bool html = false;           // the body was not JSON (a front-end HTML page, plain text)
    int code = 0;
    std::string status;          // "RESOURCE_EXHAUSTED"
    std::string message;
    std::string info_reason;     // ErrorInfo.reason
    std::vector<std::pair<std::string, std::string>> info_metadata;
    std::vector<QuotaViolation> violations;
    std::optional<Millis> retry_delay;        // RetryInfo.retryDelay
    std::vector<std::string> help_urls;       // Help.links[].url
    std::vector<FieldViolation> field_violations;
    std::string legacy_reason;   // errors[0].reason of the older envelope ("rateLimitExceeded")

    std::string_view metadata(std::string_view key) const noexcept;
};

// Finds the envelope in a raw body: {"error":{..}}, a one-element (or chunk) array holding one,
// an SSE "data:" line holding one. A body that is not JSON becomes an html/plain ErrorBody whose
// message is the page's readable text. present == false when the body is JSON without an error.
ErrorBody parse_error_body(std::string_view body);

// The envelope as the codec hands it over (details re-serialised as JSON text).
ErrorBody error_body_from(const ApiError& e);

// The envelope of an observation: the decoded one when there is one (topped up from the raw body
// with what ApiError does not carry, the legacy errors[] reason), else the raw body's.
ErrorBody envelope_of(const Observation& obs);

// Every quota violation a 429 body states: its QuotaFailure, Vertex's ErrorInfo metadata
// (quota_limit_value), and the "limit: N" lines of the newer message form.
std::vector<QuotaViolation> quota_violations(const ErrorBody& e);

// The dimension a violation names by its quotaId and quotaMetric (RPM, TPM, IPM, RPD or UNKNOWN),
// whatever its value; classify() additionally reads a value of 0 as ZERO.
Dimension violation_metric_dimension(const QuotaViolation& v);

// ---- server-suggested delays --------------------------------------------------------------

// The longest server-given delay kept: a leap year. A longer one (a Retry-After in the year 9999,
// "retry in 1e13 hours", 1e999 seconds) only means "not any time soon", and is capped so that no
// later `now + delay` overflows a clock (64-bit nanoseconds end in 2262).
inline constexpr Millis kMaxServerDelay = std::chrono::hours(24 * 366);

std::optional<Millis> parse_proto_duration(std::string_view text);   // "47s", "0.5s"
std::optional<Millis> retry_in_from_text(std::string_view message);  // "Please retry in 45.5s."
std::optional<Millis> retry_after_from_headers(const net::Headers* headers, SystemTime now);
std::optional<Millis> largest_server_delay(const ErrorBody& e, const net::Headers* headers,
                                           SystemTime now);

// ---- per-shape classifiers (classify() picks one) -----------------------------------------

Diagnosis classify_transport(const net::TransportResult& t, const Observation& obs);
Diagnosis classify_error(int http_status, const ErrorBody& e, const Observation& obs,
                         SystemTime now);
Diagnosis classify_quota(int http_status, const ErrorBody& e, const Observation& obs,
                         SystemTime now);
Diagnosis classify_reply(const Observation& obs, SystemTime now);

// ---- advice --------------------------------------------------------------------------------

// What the advice functions may draw on besides the Diagnosis itself.
struct AdviceFacts {
    SystemTime now{};
    std::string_view model;            // requested model id
    std::string_view image_size;       // requested size ("4K")
    std::string field;                 // BAD_REQUEST: the offending field
    std::string link;                  // AUTH SERVICE_DISABLED: where to enable the API
    std::string quota_model;           // QUOTA: the model the quota is about
    std::vector<std::string> categories;   // BLOCKED_SAFETY: blocked harm categories
    bool prompt_side = false;          // a block of the prompt (promptFeedback), not the output
    bool not_charged = false;          // the server said this attempt is not charged
    bool request_sent = false;         // NETWORK: the request may have executed
    Millis server_timeout_sent{0};     // TIMEOUT: our X-Server-Timeout
};

// One or two sentences a person can act on, chosen by d.code (and d.reason / d.dimension).
std::string advice_for(const Diagnosis& d, const AdviceFacts& facts);

// ---- text and time helpers -----------------------------------------------------------------

bool contains_ci(std::string_view haystack, std::string_view needle) noexcept;
bool equals_ci(std::string_view a, std::string_view b) noexcept;
std::string_view header_lookup(const net::Headers* headers, std::string_view name) noexcept;
std::string first_url_in(std::string_view text);   // "" when none
std::string clip(std::string_view text, std::size_t max_chars);   // adds "..." when cut
std::string format_duration(Millis d);              // "2.1 s", "47 s", "5 min 3 s", "7 h 12 min"
std::string format_local_time(SystemTime t);        // "09:00 CET on Wed 13 Mar" (localtime_r)

// Canonical HTTP code for a google.rpc status string, 0 when unknown.
int http_code_for_status(std::string_view status) noexcept;

}  // namespace nbcore::policy::detail
