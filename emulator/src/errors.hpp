// The API's error bodies, as captured from the real service (the public API docs and bodies users
// have published). Texts marked "our wording" in docs/emulator.md are plausible stand-ins for messages
// nobody has captured yet.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reply.hpp"
#include "routes.hpp"

namespace nbcore::emulator {

inline constexpr std::string_view kTroubleshootingUrl =
    "https://developers.generativeai.google/guide/troubleshooting";
inline constexpr std::string_view kRateLimitsUrl = "https://ai.google.dev/gemini-api/docs/rate-limits";
// A fixed, made-up project number for bodies that name the caller's project.
inline constexpr std::string_view kProjectNumber = "578829824020";

// --- authentication (section 4.1, 4.3, 4.4)
ApiError no_api_key();                                // 403 unregistered callers
ApiError invalid_api_key(const Route& route);         // 400 API_KEY_INVALID
ApiError oauth_token_rejected(const Route& route);    // 401 ACCESS_TOKEN_TYPE_UNSUPPORTED
ApiError vertex_api_key_unsupported(const Route& route);  // 401 CREDENTIALS_MISSING
ApiError vertex_credentials_missing(const Route& route);  // 401, nothing sent
ApiError suspended_key();                             // 403 CONSUMER_SUSPENDED
ApiError service_disabled();                          // 403 SERVICE_DISABLED

// --- request problems
struct FieldViolation {
    std::string field;         // "generation_config.image_config" ("" = top level)
    std::string description;
};
// 400 INVALID_ARGUMENT with a google.rpc.BadRequest; the message joins the descriptions.
ApiError bad_request(std::vector<FieldViolation> violations);
ApiError bad_request(std::string field, std::string description);
ApiError model_not_found(const Route& route);         // 404, names the model and the method
ApiError location_unsupported();                      // 400 FAILED_PRECONDITION
ApiError billing_location_unsupported();              // 400 FAILED_PRECONDITION
ApiError payload_too_large(std::size_t limit);        // 400 INVALID_ARGUMENT

// --- quota (section 4.6). `quota_model` is the internal base name the API reports.
enum class Quota {
    FreeRpm, FreeTpm, FreeRpd, FreeRpmRpd, ZeroQuota, PaidRpm, Legacy, Vertex,
};
// `limit`, when given, is the quota's value (quotaValue and "limit: N" in the text).
ApiError quota_exhausted(Quota kind, std::string_view model_id, double retry_seconds,
                         std::optional<long> limit = std::nullopt);
// "gemini-2.5-flash-image" -> "gemini-2.5-flash-preview-image" (as QuotaFailure names it).
std::string quota_model_name(std::string_view model_id);

// Enforced quotas (quota.hpp) answer with the bodies of the tier the project is on.
enum class QuotaTier { Free, Paid };
// In the order a 429 lists them: input tokens, requests and images per minute, requests per day.
enum class QuotaDimension { Tpm, Rpm, Ipm, Rpd };
struct QuotaBreach {
    QuotaDimension dimension;
    long limit;               // the configured value: quotaValue and "limit: N"
};
// The 429 of an enforced quota, in the newer itemized form: one "* Quota exceeded for metric"
// line per breach, "Please retry in <exact>s.", then Help, QuotaFailure (every breach, with
// the tier's quotaMetric / quotaId and quotaValue) and RetryInfo. Unlike the API (which rounds
// RetryInfo down to whole seconds) both name the true remaining window, to the nanosecond, so
// that a client waiting exactly RetryInfo is let through.
ApiError quota_refused(QuotaTier tier, const std::vector<QuotaBreach>& breaches, std::string_view model_id,
                       std::chrono::nanoseconds retry_after);

// --- server side (section 4.7)
ApiError internal_error();                            // 500
ApiError model_overloaded();                          // 503
ApiError deadline_unavailable();                      // 503 "Deadline expired..."
ApiError deadline_exceeded();                         // 504

// The Google front end's HTML error pages (502 and unknown paths).
std::string gfe_html_page(int status, std::string_view path);

}  // namespace nbcore::emulator
