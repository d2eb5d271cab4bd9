// 429 RESOURCE_EXHAUSTED: which quota, whether waiting helps, and how long to wait.
#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

#include "real_429_bodies.hpp"
#include "test_policy_support.hpp"

using namespace policy_test;

namespace {

using real429::kFreeTierMixed;
using real429::kLegacyShort;
using real429::kLimitZero;
using real429::kVertexShared;

std::string quota_body(const std::string& violations, const std::string& retry_delay,
                       const std::string& message = "You exceeded your current quota, please check your plan and billing details.") {
    std::string details = R"([{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [)" + violations + "]}";
    details += R"(, {"@type": "type.googleapis.com/google.rpc.Help", "links": [{"description": "Learn more about Gemini API quotas", "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]})";
    if (!retry_delay.empty())
        details += R"(, {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": ")" + retry_delay + R"("})";
    details += "]";
    nlohmann::json m = message;
    return R"({"error": {"code": 429, "message": )" + m.dump() + R"(, "status": "RESOURCE_EXHAUSTED", "details": )" +
           details + "}}";
}

std::string violation(const std::string& metric, const std::string& id, const std::string& value = "") {
    std::string v = R"({"quotaMetric": "generativelanguage.googleapis.com/)" + metric + R"(", "quotaId": ")" + id +
                    R"(", "quotaDimensions": {"location": "global", "model": "gemini-3-pro-image"})";
    if (!value.empty()) v += R"(, "quotaValue": ")" + value + "\"";
    return v + "}";
}

// tech-shrimp/gemini-playground#10 shape: the limit in ErrorInfo metadata.
std::string error_info_limit(const std::string& value) {
    return R"({"error": {"code": 429, "message": "Quota exceeded for quota metric 'Generate Content API requests per minute' and limit 'GenerateContent request limit per minute for a region' of service 'generativelanguage.googleapis.com' for consumer 'project_number:123'.", "status": "RESOURCE_EXHAUSTED",
 "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED", "domain": "googleapis.com",
  "metadata": {"service": "generativelanguage.googleapis.com", "consumer": "projects/123", "quota_limit_value": ")" +
           value + R"(", "quota_limit": "GenerateContentRequestsPerMinutePerProjectPerRegion", "quota_location": "us-east7", "quota_metric": "generativelanguage.googleapis.com/generate_content_requests"}}]}})";
}

const std::string kVertexLegacyErrors =
    R"({"error": {"code": 429, "message": "Resource exhausted. Please try again later. Please refer to https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details.", "status": "RESOURCE_EXHAUSTED", "errors": [{"message": "Resource exhausted.", "domain": "global", "reason": "rateLimitExceeded"}]}})";

// 2024-03-12 16:00 UTC is 09:00 PDT; the next Pacific midnight is 2024-03-13 07:00 UTC, 15 h away.
constexpr Millis kUntilPacificMidnight{15LL * 3600 * 1000};

struct QuotaCase {
    std::string name;
    std::string body;
    net::Headers headers;
    Status code;
    Dimension dimension;
    std::string reason;
    std::optional<Millis> retry_after;
    std::vector<std::string> advice_has;
};

std::vector<QuotaCase> quota_cases() {
    return {
        {"free tier TPM+RPM+RPD: the per-day one wins", kFreeTierMixed, {}, Status::QUOTA_EXHAUSTED, Dimension::RPD,
         "GenerateRequestsPerDayPerProjectPerModel-FreeTier", kUntilPacificMidnight,
         {"midnight Pacific", "15 h from now", "enable billing", "https://ai.google.dev/gemini-api/docs/rate-limits"}},
        {"per-day listed first still wins over per-minute",
         quota_body(violation("generate_content_free_tier_requests", "GenerateRequestsPerDayPerProjectPerModel-FreeTier") +
                        "," + violation("generate_content_free_tier_requests", "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"),
                    "10s"),
         {}, Status::QUOTA_EXHAUSTED, Dimension::RPD, "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
         kUntilPacificMidnight, {"midnight Pacific"}},
        {"free tier RPM", quota_body(violation("generate_content_free_tier_requests", "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"), "47s"),
         {}, Status::RATE_LIMITED, Dimension::RPM, "GenerateRequestsPerMinutePerProjectPerModel-FreeTier", Millis(47'000),
         {"requests-per-minute", "47 s", "quota tier"}},
        {"free tier TPM with quotaValue (Roo-Code#3883 order)",
         quota_body(violation("generate_content_free_tier_input_token_count", "GenerateContentInputTokensPerModelPerMinute-FreeTier", "250000"), "26s"),
         {}, Status::RATE_LIMITED, Dimension::TPM, "GenerateContentInputTokensPerModelPerMinute-FreeTier", Millis(26'000),
         {"input-tokens-per-minute", "26 s"}},
        {"paid RPM", quota_body(violation("generate_requests_per_model", "GenerateRequestsPerMinutePerProjectPerModel"), "3s"),
         {}, Status::RATE_LIMITED, Dimension::RPM, "GenerateRequestsPerMinutePerProjectPerModel", Millis(3'000), {"3.0 s"}},
        {"paid RPD", quota_body(violation("generate_requests_per_model_per_day", "GenerateRequestsPerDayPerProjectPerModel"), ""),
         {}, Status::QUOTA_EXHAUSTED, Dimension::RPD, "GenerateRequestsPerDayPerProjectPerModel", kUntilPacificMidnight,
         {"midnight Pacific"}},
        {"paid TPM", quota_body(violation("generate_content_paid_tier_input_token_count", "GenerateContentPaidTierInputTokensPerModelPerMinute"), "12s"),
         {}, Status::RATE_LIMITED, Dimension::TPM, "GenerateContentPaidTierInputTokensPerModelPerMinute", Millis(12'000), {"12 s"}},
        {"images per minute", quota_body(violation("generate_content_images_per_minute", "GenerateImagesPerMinutePerProjectPerModel"), "20s"),
         {}, Status::RATE_LIMITED, Dimension::IPM, "GenerateImagesPerMinutePerProjectPerModel", Millis(20'000), {"images-per-minute"}},
        {"quotaValue 0: no quota on this tier",
         quota_body(violation("generate_content_free_tier_requests", "GenerateRequestsPerMinutePerProjectPerModel-FreeTier") + "," +
                        violation("generate_content_free_tier_requests", "GenerateRequestsPerDayPerProjectPerModel-FreeTier", "0"),
                    "30s"),
         {}, Status::QUOTA_EXHAUSTED, Dimension::ZERO, "GenerateRequestsPerDayPerProjectPerModel-FreeTier", std::nullopt,
         {"limit 0", "can never succeed", "billing"}},
        {"limit: 0 in the newer message form", kLimitZero, {}, Status::QUOTA_EXHAUSTED, Dimension::ZERO,
         "generativelanguage.googleapis.com/generate_content_free_tier_requests", std::nullopt,
         {"no quota (limit 0) for gemini-3-pro", "rate-limits"}},
        {"ErrorInfo RATE_LIMIT_EXCEEDED with quota_limit_value 0", error_info_limit("0"), {}, Status::QUOTA_EXHAUSTED,
         Dimension::ZERO, "GenerateContentRequestsPerMinutePerProjectPerRegion", std::nullopt, {"limit 0"}},
        {"ErrorInfo RATE_LIMIT_EXCEEDED with a real limit", error_info_limit("60"), {}, Status::RATE_LIMITED,
         Dimension::RPM, "GenerateContentRequestsPerMinutePerProjectPerRegion", std::nullopt, {"requests-per-minute"}},
        {"legacy short body", kLegacyShort, {}, Status::RATE_LIMITED, Dimension::UNKNOWN, "", std::nullopt,
         {"gave no details"}},
        {"Vertex shared capacity", kVertexShared, {}, Status::RATE_LIMITED, Dimension::UNKNOWN, "", std::nullopt,
         {"Provisioned Throughput"}},
        {"Vertex shared capacity with legacy errors[]", kVertexLegacyErrors, {}, Status::RATE_LIMITED,
         Dimension::UNKNOWN, "rateLimitExceeded", std::nullopt, {"lower concurrency"}},
        {"plain-text 429 with Retry-After", "Too Many Requests", {{"Retry-After", "7"}}, Status::RATE_LIMITED,
         Dimension::UNKNOWN, "", Millis(7'000), {"7.0 s"}},
        {"array-wrapped 429", "[" + quota_body(violation("generate_requests_per_model", "GenerateRequestsPerMinutePerProjectPerModel"), "5s") + "]",
         {}, Status::RATE_LIMITED, Dimension::RPM, "GenerateRequestsPerMinutePerProjectPerModel", Millis(5'000), {"5.0 s"}},
        // Where the wait comes from: the largest of RetryInfo, "Please retry in", Retry-After.
        {"RetryInfo 47s beats 'retry in 45.5s' and Retry-After 30",
         quota_body(violation("generate_requests_per_model", "GenerateRequestsPerMinutePerProjectPerModel"), "47s",
                    "Quota exceeded. Please retry in 45.5s."),
         {{"Retry-After", "30"}}, Status::RATE_LIMITED, Dimension::RPM, "GenerateRequestsPerMinutePerProjectPerModel",
         Millis(47'000), {"47 s"}},
        {"'Please retry in 53.016342224s' beats RetryInfo 53s",
         quota_body(violation("generate_requests_per_model", "GenerateRequestsPerMinutePerProjectPerModel"), "53s",
                    "Quota exceeded. Please retry in 53.016342224s."),
         {}, Status::RATE_LIMITED, Dimension::RPM, "GenerateRequestsPerMinutePerProjectPerModel", Millis(53'017), {"53 s"}},
        {"Retry-After 60 beats both",
         quota_body(violation("generate_requests_per_model", "GenerateRequestsPerMinutePerProjectPerModel"), "47s",
                    "Quota exceeded. Please retry in 45.5s."),
         {{"retry-after", "60"}}, Status::RATE_LIMITED, Dimension::RPM, "GenerateRequestsPerMinutePerProjectPerModel",
         Millis(60'000), {"1 min"}},
        {"Retry-After as an HTTP-date relative to now",
         quota_body(violation("generate_requests_per_model", "GenerateRequestsPerMinutePerProjectPerModel"), "0.5s"),
         {{"Retry-After", "Tue, 12 Mar 2024 16:01:30 GMT"}}, Status::RATE_LIMITED, Dimension::RPM,
         "GenerateRequestsPerMinutePerProjectPerModel", Millis(90'000), {"1 min 30 s"}},
        {"'rate-limit:' inside a word is not a quota line",
         quota_body(violation("generate_requests_per_model", "GenerateRequestsPerMinutePerProjectPerModel"), "4s",
                    "Quota exceeded; see the rate-limit:0 page."),
         {}, Status::RATE_LIMITED, Dimension::RPM, "GenerateRequestsPerMinutePerProjectPerModel", Millis(4'000), {"4.0 s"}},
        {"fractional RetryInfo", quota_body(violation("generate_requests_per_model", "GenerateRequestsPerMinutePerProjectPerModel"), "1.5s"),
         {}, Status::RATE_LIMITED, Dimension::RPM, "GenerateRequestsPerMinutePerProjectPerModel", Millis(1'500), {"1.5 s"}},
    };
}

}  // namespace

TEST_CASE("429 bodies: the strictest quota decides", "[policy][quota]") {
    for (const auto& c : quota_cases()) {
        DYNAMIC_SECTION(c.name) {
            auto check = [&](const Diagnosis& d) {
                INFO("advice: " << d.advice);
                CHECK(d.code == c.code);
                CHECK(d.http_status == 429);
                CHECK(d.dimension == c.dimension);
                CHECK(d.reason == c.reason);
                CHECK(d.retry_after == c.retry_after);
                CHECK(d.retryable == (c.code == Status::RATE_LIMITED));
                CHECK(d.safety_layer == 0);
                for (const auto& fact : c.advice_has) CHECK(contains(d.advice, fact));
            };
            check(classify_body(429, c.body, &c.headers));
            if (c.body.front() == '{' || c.body.front() == '[') {
                auto reply = reply_with_error(c.body);
                policy::Observation obs;
                obs.http_status = 429;
                obs.reply = &reply;
                obs.headers = &c.headers;
                obs.body = c.body;
                check(policy::classify(obs, test_now()));
            }
        }
    }
}

TEST_CASE("per-day advice gives the reset in the user's local time", "[policy][quota]") {
    struct Zone {
        const char* tz;
        std::string expect;
    };
    // The reset is 2024-03-13 07:00 UTC (midnight PDT).
    for (const auto& z : {Zone{"CET-1CEST,M3.5.0,M10.5.0/3", "08:00 CET on Wed 13 Mar"},
                          Zone{"PST8PDT,M3.2.0,M11.1.0", "00:00 PDT on Wed 13 Mar"},
                          Zone{"JST-9", "16:00 JST on Wed 13 Mar"}}) {
        DYNAMIC_SECTION(z.tz) {
            ScopedTz tz(z.tz);
            auto d = classify_body(429, kFreeTierMixed);
            INFO(d.advice);
            CHECK(contains(d.advice, "midnight Pacific (" + z.expect + ", your local time), 15 h from now"));
        }
    }
}

TEST_CASE("the zero-quota advice names the requested model", "[policy][quota]") {
    auto d = classify_body(429, error_info_limit("0"), nullptr, test_now(), "gemini-3-pro-image-preview");
    CHECK(d.code == Status::QUOTA_EXHAUSTED);
    CHECK(contains(d.advice, "no quota (limit 0) for gemini-3-pro-image-preview"));
}

TEST_CASE("server_retry_delay reads every source and keeps the largest", "[policy][quota]") {
    const auto now = test_now();
    // The longest delay kept (policy's kMaxServerDelay): longer ones mean "not any time soon".
    const Millis kYearCap = std::chrono::hours(24 * 366);
    struct DelayCase {
        std::string name;
        std::string body;
        net::Headers headers;
        std::optional<Millis> expect;
    };
    const std::vector<DelayCase> cases = {
        {"RetryInfo whole seconds", R"({"error":{"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"47s"}]}})", {}, Millis(47'000)},
        {"RetryInfo half a second", R"({"error":{"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"0.5s"}]}})", {}, Millis(500)},
        {"RetryInfo as seconds/nanos object", R"({"error":{"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":{"seconds":2,"nanos":250000000}}]}})", {}, Millis(2'250)},
        {"RetryInfo rounds up, never down", R"({"error":{"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1.0001s"}]}})", {}, Millis(1'001)},
        {"RetryInfo garbage is ignored", R"({"error":{"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"soon"}]}})", {}, std::nullopt},
        {"message text only", R"({"error":{"message":"Please retry in 45.578569677s."}})", {}, Millis(45'579)},
        {"message in milliseconds", R"({"error":{"message":"Please retry in 850ms."}})", {}, Millis(850)},
        {"Retry-After seconds", "", {{"Retry-After", "120"}}, Millis(120'000)},
        {"Retry-After IMF-fixdate", "", {{"Retry-After", "Tue, 12 Mar 2024 16:00:45 GMT"}}, Millis(45'000)},
        {"Retry-After RFC 850 date", "", {{"Retry-After", "Tuesday, 12-Mar-24 16:02:00 GMT"}}, Millis(120'000)},
        {"Retry-After asctime date", "", {{"Retry-After", "Tue Mar 12 16:00:10 2024"}}, Millis(10'000)},
        {"Retry-After in the past means now", "", {{"Retry-After", "Tue, 12 Mar 2024 15:00:00 GMT"}}, Millis(0)},
        {"Retry-After unparseable", "", {{"Retry-After", "whenever"}}, std::nullopt},
        {"retry-after-ms", "", {{"retry-after-ms", "1500"}}, Millis(1'500)},
        {"nothing at all", R"({"error":{"code":503,"message":"The model is overloaded. Please try again later."}})", {}, std::nullopt},
        {"HTML body and no header", "<html>502</html>", {}, std::nullopt},
        {"all three: the largest wins",
         R"({"error":{"message":"Please retry in 12s.","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"9s"}]}})",
         {{"Retry-After", "10"}}, Millis(12'000)},
        // An absurd delay means "not any time soon": capped at a year (it used to be ignored).
        {"absurd seconds are capped at a year", R"({"error":{"message":"Please retry in 99999999999999s."}})", {}, kYearCap},
        // Each of these overflowed a 64-bit integer (UB; UBSan reports it through
        // tests/fuzz/fuzz_classify, whose regressions/ directory keeps them).
        {"absurd hours are capped, not overflowed", R"({"error":{"message":"Please retry in 9999999999999 hours."}})", {}, kYearCap},
        {"RetryInfo beyond a double's range is capped", R"({"error":{"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":{"seconds":"1e999"}}]}})", {}, kYearCap},
        {"Retry-After in the year 9999 is capped", "", {{"Retry-After", "Fri, 31 Dec 9999 23:59:59 GMT"}}, kYearCap},
    };
    for (const auto& c : cases)
        DYNAMIC_SECTION(c.name) { CHECK(policy::server_retry_delay(c.body, &c.headers, now) == c.expect); }
}
