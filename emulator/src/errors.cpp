#include "errors.hpp"

#include <cmath>
#include <cstdio>

#include "nbcore/models.hpp"
#include "util.hpp"

namespace nbcore::emulator {
namespace {

constexpr std::string_view kGenLangService = "generativelanguage.googleapis.com";
constexpr std::string_view kVertexService = "aiplatform.googleapis.com";
constexpr std::string_view kOAuthExpected =
    "Expected OAuth 2 access token, login cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project.";

ojson error_info(std::string_view reason, std::string_view domain, ojson metadata) {
    ojson d = {{"@type", "type.googleapis.com/google.rpc.ErrorInfo"}, {"reason", reason}};
    if (!domain.empty()) d["domain"] = domain;
    d["metadata"] = std::move(metadata);
    return d;
}

ojson localized(std::string_view message) {
    return {{"@type", "type.googleapis.com/google.rpc.LocalizedMessage"},
            {"locale", "en-US"},
            {"message", message}};
}

ojson help(std::string_view description, std::string_view url) {
    return {{"@type", "type.googleapis.com/google.rpc.Help"},
            {"links", ojson::array({{{"description", description}, {"url", url}}})}};
}

ojson retry_info(double seconds) {
    // The API rounds RetryInfo down to whole seconds while its message keeps the fraction
    // ("Please retry in 45.578569677s." next to "45s").
    double shown = seconds >= 1 ? std::floor(seconds) : seconds;
    return {{"@type", "type.googleapis.com/google.rpc.RetryInfo"}, {"retryDelay", format_duration(shown)}};
}

ApiError make(int http, std::string_view status, std::string message, ojson details = ojson::array()) {
    ApiError e;
    e.http = http;
    e.status = std::string(status);
    e.message = std::move(message);
    e.details = std::move(details);
    return e;
}

Headers www_authenticate() { return {{"WWW-Authenticate", "Bearer realm=\"invalid_token\""}}; }

std::string_view service_for(const Route& route) {
    return route.is_vertex() ? kVertexService : kGenLangService;
}

// "45.578569677" / "7" / "0.5": the retry text keeps up to nine decimals.
std::string precise_seconds(double seconds) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.9f", seconds < 0 ? 0.0 : seconds);
    std::string s = buf;
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
}

struct QuotaLine {
    std::string_view metric;
    std::string_view id;
    std::string limit;   // "" = no quotaValue field
};

constexpr std::string_view kFreeRequests = "generativelanguage.googleapis.com/generate_content_free_tier_requests";
constexpr std::string_view kFreeInputTokens =
    "generativelanguage.googleapis.com/generate_content_free_tier_input_token_count";

const QuotaLine kFreeRpmLine = {kFreeRequests, "GenerateRequestsPerMinutePerProjectPerModel-FreeTier", ""};
const QuotaLine kFreeRpdLine = {kFreeRequests, "GenerateRequestsPerDayPerProjectPerModel-FreeTier", "100"};
const QuotaLine kFreeTpmLine = {kFreeInputTokens, "GenerateContentInputTokensPerModelPerMinute-FreeTier",
                                    "250000"};
const QuotaLine kPaidRpmLine = {"generativelanguage.googleapis.com/generate_requests_per_model",
                                    "GenerateRequestsPerMinutePerProjectPerModel", ""};

// The metric and id of each enforced quota, per tier. The per-minute image ids are our wording:
// no captured body names them.
QuotaLine enforced_line(QuotaTier tier, QuotaDimension d) {
    if (tier == QuotaTier::Free) {
        switch (d) {
            case QuotaDimension::Tpm: return {kFreeInputTokens, "GenerateContentInputTokensPerModelPerMinute-FreeTier", ""};
            case QuotaDimension::Rpm: return {kFreeRequests, "GenerateRequestsPerMinutePerProjectPerModel-FreeTier", ""};
            case QuotaDimension::Ipm:
                return {"generativelanguage.googleapis.com/generate_content_free_tier_output_images",
                        "GenerateContentOutputImagesPerMinutePerProjectPerModel-FreeTier", ""};
            case QuotaDimension::Rpd: return {kFreeRequests, "GenerateRequestsPerDayPerProjectPerModel-FreeTier", ""};
        }
    }
    switch (d) {
        case QuotaDimension::Tpm:
            return {"generativelanguage.googleapis.com/generate_content_paid_tier_input_token_count",
                    "GenerateContentPaidTierInputTokensPerModelPerMinute", ""};
        case QuotaDimension::Rpm:
            return {"generativelanguage.googleapis.com/generate_requests_per_model",
                    "GenerateRequestsPerMinutePerProjectPerModel", ""};
        case QuotaDimension::Ipm:
            return {"generativelanguage.googleapis.com/generate_content_paid_tier_output_images",
                    "GenerateContentPaidTierOutputImagesPerModelPerMinute", ""};
        case QuotaDimension::Rpd:
            return {"generativelanguage.googleapis.com/generate_requests_per_model_per_day",
                    "GenerateRequestsPerDayPerProjectPerModel", ""};
    }
    return {kFreeRequests, "", ""};
}

ojson quota_failure(const std::vector<QuotaLine>& lines, std::string_view model, bool zero) {
    ojson violations = ojson::array();
    for (const auto& l : lines) {
        ojson v = {{"quotaMetric", l.metric},
                   {"quotaId", l.id},
                   {"quotaDimensions", {{"location", "global"}, {"model", model}}}};
        if (zero)
            v["quotaValue"] = "0";
        else if (!l.limit.empty())
            v["quotaValue"] = l.limit;
        violations.push_back(std::move(v));
    }
    return {{"@type", "type.googleapis.com/google.rpc.QuotaFailure"}, {"violations", violations}};
}

constexpr std::string_view kQuotaMessage =
    "You exceeded your current quota, please check your plan and billing details. For more "
    "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.";

// The newer message form: one line per violation, then the precise retry time.
std::string itemized_quota_message(const std::vector<QuotaLine>& lines, std::string_view model, bool zero,
                                   double retry_seconds) {
    std::string m(kQuotaMessage);
    m += " To monitor your current usage, head to: https://ai.dev/rate-limit. ";
    for (const auto& l : lines) {
        m += "\n* Quota exceeded for metric: ";
        m += l.metric;
        m += ", limit: ";
        m += zero ? std::string("0") : (l.limit.empty() ? std::string("10") : l.limit);
        m += ", model: ";
        m += model;
    }
    m += "\nPlease retry in " + precise_seconds(retry_seconds) + "s.";
    return m;
}

ojson quota_help() { return help("Learn more about Gemini API quotas", kRateLimitsUrl); }

// The line with its limit replaced by the enforced one.
QuotaLine with_limit(QuotaLine line, std::optional<long> limit) {
    if (limit) line.limit = std::to_string(*limit);
    return line;
}

}  // namespace


ApiError no_api_key() {
    return make(403, "PERMISSION_DENIED",
                "Method doesn't allow unregistered callers (callers without established identity). "
                "Please use API Key or other form of API consumer identity to call this API.");
}

ApiError invalid_api_key(const Route& route) {
    const std::string msg = "API key not valid. Please pass a valid API key.";
    return make(400, "INVALID_ARGUMENT", msg,
                ojson::array({error_info("API_KEY_INVALID", "googleapis.com",
                                         {{"service", service_for(route)}}),
                              localized(msg)}));
}

ApiError oauth_token_rejected(const Route& route) {
    ApiError e = make(401, "UNAUTHENTICATED",
                      "Request had invalid authentication credentials. " + std::string(kOAuthExpected),
                      ojson::array({error_info("ACCESS_TOKEN_TYPE_UNSUPPORTED", "",
                                               {{"method", rpc_full_name(route)},
                                                {"service", service_for(route)}})}));
    e.headers = www_authenticate();
    return e;
}

ApiError vertex_api_key_unsupported(const Route& route) {
    ApiError e = make(401, "UNAUTHENTICATED",
                      "API keys are not supported by this API. Expected OAuth2 access token or other "
                      "authentication credentials that assert a principal. See "
                      "https://cloud.google.com/docs/authentication",
                      ojson::array({error_info("CREDENTIALS_MISSING", "googleapis.com",
                                               {{"service", kVertexService},
                                                {"method", rpc_full_name(route)}})}));
    e.headers = www_authenticate();
    return e;
}

ApiError vertex_credentials_missing(const Route& route) {
    ApiError e = make(401, "UNAUTHENTICATED",
                      "Request is missing required authentication credential. " + std::string(kOAuthExpected),
                      ojson::array({error_info("CREDENTIALS_MISSING", "googleapis.com",
                                               {{"method", rpc_full_name(route)},
                                                {"service", kVertexService}})}));
    e.headers = {{"WWW-Authenticate", "Bearer realm=\"https://accounts.google.com/\""}};
    return e;
}

ApiError suspended_key() {
    // The real body quotes the key itself ("api_key:AIza..."); keys never leave the emulator.
    return make(403, "PERMISSION_DENIED",
                "Permission denied: Consumer 'api_key:[REDACTED]' has been suspended.",
                ojson::array({error_info("CONSUMER_SUSPENDED", "googleapis.com",
                                         {{"service", kGenLangService},
                                          {"consumer", "projects/" + std::string(kProjectNumber)}}),
                              localized("Permission denied: Consumer 'api_key:[REDACTED]' has been suspended.")}));
}

ApiError service_disabled() {
    const std::string project(kProjectNumber);
    const std::string url =
        "https://console.developers.google.com/apis/api/generativelanguage.googleapis.com/overview?project=" + project;
    const std::string msg = "Generative Language API has not been used in project " + project +
                            " before or it is disabled. Enable it by visiting " + url +
                            " then retry. If you enabled this API recently, wait a few minutes for the "
                            "action to propagate to our systems and retry.";
    return make(403, "PERMISSION_DENIED", msg,
                ojson::array({error_info("SERVICE_DISABLED", "googleapis.com",
                                         {{"consumer", "projects/" + project},
                                          {"service", kGenLangService},
                                          {"activationUrl", url},
                                          {"serviceTitle", "Generative Language API"},
                                          {"containerInfo", project}}),
                              localized(msg),
                              help("Google developers console API activation", url)}));
}

ApiError bad_request(std::vector<FieldViolation> violations) {
    std::string message;
    ojson list = ojson::array();
    for (const auto& v : violations) {
        if (!message.empty()) message += '\n';
        message += v.description;
        ojson fv = ojson::object();
        if (!v.field.empty()) fv["field"] = v.field;
        fv["description"] = v.description;
        list.push_back(std::move(fv));
    }
    return make(400, "INVALID_ARGUMENT", message,
                ojson::array({{{"@type", "type.googleapis.com/google.rpc.BadRequest"}, {"fieldViolations", list}}}));
}

ApiError bad_request(std::string field, std::string description) {
    return bad_request({FieldViolation{std::move(field), std::move(description)}});
}

ApiError model_not_found(const Route& route) {
    if (route.is_vertex()) {
        std::string name = "publishers/google/models/" + route.model;
        if (route.api == Api::Vertex)
            name = "projects/" + route.project + "/locations/" + route.location + "/" + name;
        return make(404, "NOT_FOUND",
                    "Publisher Model `" + name +
                        "` was not found or your project does not have access to it. Please ensure you "
                        "are using a valid model version. For more information, see: "
                        "https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions");
    }
    // The API names streaming calls by their RPC name and the others by their REST verb.
    std::string method = route.rpc == Rpc::StreamGenerateContent || route.rpc == Rpc::GetModel
                             ? std::string(rpc_name(route.rpc))
                             : std::string(rpc_verb(route.rpc));
    return make(404, "NOT_FOUND",
                "models/" + route.model + " is not found for API version " + route.version +
                    ", or is not supported for " + method +
                    ". Call ListModels to see the list of available models and their supported methods.");
}

ApiError location_unsupported() {
    return make(400, "FAILED_PRECONDITION", "User location is not supported for the API use.");
}

ApiError billing_location_unsupported() {
    return make(400, "FAILED_PRECONDITION",
                "User location is not supported for the API use without a billing account linked.");
}

ApiError payload_too_large(std::size_t limit) {
    return make(400, "INVALID_ARGUMENT",
                "Request payload size exceeds the limit: " + std::to_string(limit) + " bytes.");
}

std::string quota_model_name(std::string_view model_id) {
    std::string id = canonical_model_id(model_id);
    if (id == kModelFlash) return "gemini-2.5-flash-preview-image";
    if (id == kModelPro) return "gemini-3-pro-image";
    return id;
}

ApiError quota_exhausted(Quota kind, std::string_view model_id, double retry_seconds, std::optional<long> limit) {
    const std::string model = quota_model_name(model_id);
    const QuotaLine rpm = with_limit(kFreeRpmLine, limit);
    const QuotaLine rpd = with_limit(kFreeRpdLine, limit);
    const QuotaLine tpm = with_limit(kFreeTpmLine, limit);
    switch (kind) {
        case Quota::FreeRpm:
            return make(429, "RESOURCE_EXHAUSTED", std::string(kQuotaMessage),
                        ojson::array({quota_failure({rpm}, model, false), quota_help(),
                                      retry_info(retry_seconds)}));
        case Quota::PaidRpm:
            return make(429, "RESOURCE_EXHAUSTED", std::string(kQuotaMessage),
                        ojson::array({quota_failure({kPaidRpmLine}, model, false), quota_help(),
                                      retry_info(retry_seconds)}));
        case Quota::FreeTpm:
            return make(429, "RESOURCE_EXHAUSTED", std::string(kQuotaMessage),
                        ojson::array({quota_failure({tpm}, model, false), quota_help(),
                                      retry_info(retry_seconds)}));
        case Quota::FreeRpd:
        case Quota::FreeRpmRpd:
        case Quota::ZeroQuota: {
            std::vector<QuotaLine> lines;
            if (kind == Quota::FreeRpd) lines = {rpd};
            if (kind == Quota::FreeRpmRpd) lines = {kFreeRpmLine, kFreeRpdLine};
            if (kind == Quota::ZeroQuota) lines = {kFreeTpmLine, kFreeRpmLine, kFreeRpdLine};
            bool zero = kind == Quota::ZeroQuota;
            // Newer bodies put Help first (continuedev/continue#9570).
            return make(429, "RESOURCE_EXHAUSTED", itemized_quota_message(lines, model, zero, retry_seconds),
                        ojson::array({quota_help(), quota_failure(lines, model, zero), retry_info(retry_seconds)}));
        }
        case Quota::Legacy:
            return make(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).");
        case Quota::Vertex:
            return make(429, "RESOURCE_EXHAUSTED",
                        "Resource exhausted. Please try again later. Please refer to "
                        "https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details.");
    }
    return make(429, "RESOURCE_EXHAUSTED", std::string(kQuotaMessage));
}

ApiError quota_refused(QuotaTier tier, const std::vector<QuotaBreach>& breaches, std::string_view model_id,
                       std::chrono::nanoseconds retry_after) {
    const std::string model = quota_model_name(model_id);
    std::vector<QuotaLine> lines;
    for (const auto& b : breaches) lines.push_back(with_limit(enforced_line(tier, b.dimension), b.limit));
    std::string message = itemized_quota_message(lines, model, false, 0);
    message.erase(message.rfind("\nPlease retry in "));
    message += "\nPlease retry in " + seconds_text_exact(retry_after) + "s.";
    ojson retry = {{"@type", "type.googleapis.com/google.rpc.RetryInfo"},
                   {"retryDelay", format_duration_exact(retry_after)}};
    return make(429, "RESOURCE_EXHAUSTED", std::move(message),
                ojson::array({quota_help(), quota_failure(lines, model, false), std::move(retry)}));
}

ApiError internal_error() {
    return make(500, "INTERNAL",
                "An internal error has occurred. Please retry or report in " + std::string(kTroubleshootingUrl));
}

ApiError model_overloaded() {
    return make(503, "UNAVAILABLE", "The model is overloaded. Please try again later.");
}

ApiError deadline_unavailable() {
    return make(503, "UNAVAILABLE", "Deadline expired before operation could complete.");
}

ApiError deadline_exceeded() {
    return make(504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete.");
}

std::string gfe_html_page(int status, std::string_view path) {
    std::string title = status == 404 ? "Error 404 (Not Found)!!1" : "Error " + std::to_string(status) + " (Server Error)!!1";
    std::string text;
    if (status == 404) {
        std::string escaped;
        for (char c : path) {
            if (c == '<') escaped += "&lt;";
            else if (c == '>') escaped += "&gt;";
            else if (c == '&') escaped += "&amp;";
            else escaped += c;
        }
        text = "<p>The requested URL <code>" + escaped + "</code> was not found on this server.  <ins>That’s all we know.</ins>\n";
    } else {
        text = "<p>The server encountered a temporary error and could not complete your request.<p>Please try again in 30 seconds.  <ins>That’s all we know.</ins>\n";
    }
    return "<!DOCTYPE html>\n"
           "<html lang=en>\n"
           "  <meta charset=utf-8>\n"
           "  <meta name=viewport content=\"initial-scale=1, minimum-scale=1, width=device-width\">\n"
           "  <title>" + title + "</title>\n"
           "  <style>\n"
           "    *{margin:0;padding:0}html,code{font:15px/22px arial,sans-serif}html{background:#fff;color:#222;padding:15px}"
           "body{margin:7% auto 0;max-width:390px;min-height:180px;padding:30px 0 15px}"
           "* > body{background:url(//www.google.com/images/errors/robot.png) 100% 5px no-repeat;padding-right:205px}"
           "p{margin:11px 0 22px;overflow:hidden}ins{color:#777;text-decoration:none}a img{border:0}"
           "@media screen and (max-width:772px){body{background:none;margin-top:0;max-width:none;padding-right:0}}"
           "#logo{display:inline-block;height:54px;width:150px}\n"
           "  </style>\n"
           "  <a href=//www.google.com/><span id=logo aria-label=Google></span></a>\n"
           "  <p><b>" + std::to_string(status) + ".</b> <ins>That’s an error.</ins>\n"
           "  " + text;
}

}  // namespace nbcore::emulator
