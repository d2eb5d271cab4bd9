// Real 429 bodies shared by the classifier tests (test_policy_quota.cpp) and the governor's
// learning tests (test_quota_rules.cpp). Sources: shared/reference/gemini-wire.md 4.6.
#pragma once

#include <string>

namespace real429 {

// gemini-cli#8437, verbatim: TPM + RPM + RPD in one body, no quotaValue, RetryInfo 47s.
inline const std::string kFreeTierMixed = R"({"error": {"code": 429,
  "message": "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
  "status": "RESOURCE_EXHAUSTED",
  "details": [
    {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
      {"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_input_token_count",
       "quotaId": "GenerateContentInputTokensPerModelPerMinute-FreeTier",
       "quotaDimensions": {"location": "global", "model": "gemini-2.5-flash-preview-image"}},
      {"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
       "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
       "quotaDimensions": {"location": "global", "model": "gemini-2.5-flash-preview-image"}},
      {"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
       "quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
       "quotaDimensions": {"model": "gemini-2.5-flash-preview-image", "location": "global"}}]},
    {"@type": "type.googleapis.com/google.rpc.Help", "links": [
      {"description": "Learn more about Gemini API quotas", "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]},
    {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "47s"}]}})";

// continuedev/continue#9570: the newer message form, "limit: 0", details Help, QuotaFailure,
// RetryInfo.
inline const std::string kLimitZero = R"({"error": {"code": 429, "message": "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. To monitor your current usage, head to: https://ai.dev/rate-limit. \n* Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: 0, model: gemini-3-pro\n* Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_input_token_count, limit: 0, model: gemini-3-pro\nPlease retry in 45.578569677s.", "status": "RESOURCE_EXHAUSTED",
 "details": [{"@type": "type.googleapis.com/google.rpc.Help", "links": [{"description": "Learn more about Gemini API quotas", "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]},
  {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
    {"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests", "quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier", "quotaDimensions": {"location": "global", "model": "gemini-3-pro"}},
    {"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests", "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier", "quotaDimensions": {"location": "global", "model": "gemini-3-pro"}}]},
  {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "45s"}]}})";

// Legacy short body (generative-ai-docs#236) and Vertex shared capacity: no details at all.
inline const std::string kLegacyShort = R"({"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED"}})";
inline const std::string kVertexShared = R"({"error": {"code": 429, "message": "Resource exhausted. Please try again later. Please refer to https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details.", "status": "RESOURCE_EXHAUSTED"}})";

}  // namespace real429
