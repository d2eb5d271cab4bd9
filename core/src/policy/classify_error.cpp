// HTTP error replies (and error envelopes inside a 200 stream): one small function per family of
// status codes; 429 lives in classify_quota.cpp.
#include <array>

#include "policy/internal.hpp"

namespace nbcore::policy::detail {
namespace {

using namespace std::chrono_literals;

// Below this, an X-Server-Timeout we sent is the likely cause of a 500/504: image generation
// routinely needs longer (python-genai#1330).
constexpr Millis kShortServerTimeout = 60s;

// The fields every HTTP-level diagnosis shares.
Diagnosis base_diagnosis(Status code, int http_status, const ErrorBody& e, bool retryable) {
    Diagnosis d;
    d.code = code;
    d.http_status = http_status;
    d.api_status = e.status;
    d.message = e.message;
    d.reason = !e.info_reason.empty() ? e.info_reason : e.legacy_reason;
    d.retryable = retryable;
    return d;
}

AdviceFacts facts_for(const Observation& obs, SystemTime now) {
    AdviceFacts f;
    f.now = now;
    f.model = obs.model;
    f.image_size = obs.image_size;
    f.server_timeout_sent = obs.server_timeout_sent;
    return f;
}

Diagnosis finish(Diagnosis d, const AdviceFacts& facts) {
    d.advice = advice_for(d, facts);
    return d;
}

// ---- 400 / 401 / 403: who is calling ---------------------------------------------------------

bool is_key_rejection(const ErrorBody& e) {
    return e.info_reason.rfind("API_KEY_", 0) == 0 || contains_ci(e.message, "API key not valid") ||
           contains_ci(e.message, "API Key not found") || contains_ci(e.message, "API key expired");
}

bool is_location_refusal(const ErrorBody& e) {
    return contains_ci(e.message, "location is not supported") ||
           contains_ci(e.message, "not available in your country") ||
           contains_ci(e.message, "not available in your region");
}

// A stable tag for the AUTH sub-case: ErrorInfo.reason when the server gave one, otherwise one
// read from the message.
std::string auth_reason(int http_status, const ErrorBody& e) {
    if (contains_ci(e.message, "unregistered callers")) return "API_KEY_MISSING";
    if (!e.info_reason.empty()) return e.info_reason;
    if (contains_ci(e.message, "API key expired")) return "API_KEY_EXPIRED";
    if (is_key_rejection(e)) return "API_KEY_INVALID";
    if (contains_ci(e.message, "has been suspended")) return "CONSUMER_SUSPENDED";
    if (contains_ci(e.message, "has not been used in project") || contains_ci(e.message, "it is disabled"))
        return "SERVICE_DISABLED";
    if (contains_ci(e.message, "billing")) return "BILLING_DISABLED";
    if (contains_ci(e.message, "API keys are not supported")) return "CREDENTIALS_MISSING";
    return http_status == 401 ? "UNAUTHENTICATED" : "PERMISSION_DENIED";
}

// Where to switch the API on: ErrorInfo.metadata.activationUrl, else the console link in the
// message, else the first Help link.
std::string activation_link(const ErrorBody& e) {
    if (auto url = e.metadata("activationUrl"); !url.empty()) return std::string(url);
    if (auto url = first_url_in(e.message); !url.empty()) return url;
    return e.help_urls.empty() ? std::string() : e.help_urls.front();
}

Diagnosis auth_error(int http_status, const ErrorBody& e, AdviceFacts facts) {
    auto d = base_diagnosis(Status::AUTH, http_status, e, false);
    d.reason = auth_reason(http_status, e);
    if (d.reason == "SERVICE_DISABLED") facts.link = activation_link(e);
    return finish(std::move(d), facts);
}

Diagnosis location_error(int http_status, const ErrorBody& e, const AdviceFacts& facts) {
    auto d = base_diagnosis(Status::LOCATION, http_status, e, false);
    if (d.reason.empty()) d.reason = contains_ci(e.message, "billing") ? "LOCATION_REQUIRES_BILLING"
                                                                      : "LOCATION_NOT_SUPPORTED";
    return finish(std::move(d), facts);
}

// ---- other 4xx: the request itself ---------------------------------------------------------

// The text between `open` and `close` after `marker` in `text` ("" when absent).
std::string between(std::string_view text, std::string_view marker, char open, char close) {
    auto at = text.find(marker);
    if (at == std::string_view::npos) return {};
    auto start = text.find(open, at + marker.size());
    if (start == std::string_view::npos) return {};
    auto end = text.find(close, start + 1);
    if (end == std::string_view::npos) return {};
    return std::string(text.substr(start + 1, end - start - 1));
}

// The field a 400 complains about, from BadRequest.fieldViolations or the message's wording:
//   Unknown name "size" [at 'generation_config']: Cannot find field.
//   Invalid value at 'generation_config.response_modalities[0]' ...
//   * GenerateContentRequest.tools[0].function_declarations[23]...: missing field.
std::string offending_field(const ErrorBody& e) {
    for (const auto& fv : e.field_violations)
        if (!fv.field.empty()) return fv.field;
    std::vector<std::string_view> texts{e.message};
    for (const auto& fv : e.field_violations) texts.push_back(fv.description);
    for (auto text : texts) {
        if (auto name = between(text, "Unknown name", '"', '"'); !name.empty()) {
            auto rest = text.substr(text.find("Unknown name"));
            auto scope = rest.find(" at '") == std::string_view::npos
                             ? std::string()
                             : between(rest, " at ", '\'', '\'');
            return scope.empty() ? name : scope + "." + name;
        }
        if (auto path = between(text, "Invalid value at", '\'', '\''); !path.empty()) return path;
        if (auto star = text.find("* "); star != std::string_view::npos) {
            auto colon = text.find(':', star);
            if (colon != std::string_view::npos) return std::string(text.substr(star + 2, colon - star - 2));
        }
    }
    return {};
}

Diagnosis bad_request(int http_status, const ErrorBody& e, AdviceFacts facts) {
    auto d = base_diagnosis(Status::BAD_REQUEST, http_status, e, false);
    facts.field = offending_field(e);
    if (http_status == 413 && d.reason.empty()) d.reason = "REQUEST_TOO_LARGE";
    return finish(std::move(d), facts);
}

// "models/gemini-2.0-flash-live-001 is not found ..." -> "gemini-2.0-flash-live-001"
std::string model_named_in(std::string_view message) {
    auto at = message.find("models/");
    if (at == std::string_view::npos) return {};
    auto end = message.find_first_of(" ,:'\"", at);
    return std::string(message.substr(at + 7, end == std::string_view::npos ? end : end - at - 7));
}

Diagnosis model_not_found(int http_status, const ErrorBody& e, AdviceFacts facts) {
    auto d = base_diagnosis(Status::MODEL_NOT_FOUND, http_status, e, false);
    std::string named;
    if (facts.model.empty()) {
        named = model_named_in(e.message);
        facts.model = named;
    }
    return finish(std::move(d), facts);
}

Diagnosis client_error(int http_status, const ErrorBody& e, const AdviceFacts& facts) {
    if (is_location_refusal(e) || (e.status == "FAILED_PRECONDITION" && contains_ci(e.message, "billing")))
        return location_error(http_status, e, facts);
    switch (http_status) {
    case 400:
        if (is_key_rejection(e)) return auth_error(http_status, e, facts);
        return bad_request(http_status, e, facts);
    case 401:
    case 403:
        return auth_error(http_status, e, facts);
    case 404:
        return model_not_found(http_status, e, facts);
    case 408: {
        auto d = base_diagnosis(Status::TIMEOUT, http_status, e, true);
        if (d.reason.empty()) d.reason = "REQUEST_TIMEOUT";
        return finish(std::move(d), facts);
    }
    case 499: {
        auto d = base_diagnosis(Status::CANCELLED, http_status, e, false);
        return finish(std::move(d), facts);
    }
    default:
        return bad_request(http_status, e, facts);
    }
}

// ---- 5xx: the server side ------------------------------------------------------------------

// `server_delay`: what the server asked for (Retry-After, RetryInfo, "retry in"), a floor for the
// backoff; 503s from some front ends carry a Retry-After.
Diagnosis server_error(int http_status, const ErrorBody& e, const AdviceFacts& facts,
                       std::optional<Millis> server_delay) {
    bool short_deadline = facts.server_timeout_sent > Millis(0) &&
                          facts.server_timeout_sent < kShortServerTimeout;
    if ((http_status == 500 || http_status == 504) && short_deadline) {
        auto d = base_diagnosis(Status::TIMEOUT, http_status, e, true);
        d.reason = "SERVER_TIMEOUT_TOO_SHORT";
        d.retry_after = server_delay;
        return finish(std::move(d), facts);
    }
    Diagnosis d;
    switch (http_status) {
    case 502:
        d = base_diagnosis(Status::BAD_GATEWAY, http_status, e, true);
        if (d.reason.empty() && e.html) d.reason = "HTML_ERROR_PAGE";
        break;
    case 503:
        d = base_diagnosis(Status::UNAVAILABLE, http_status, e, true);
        if (d.reason.empty())
            d.reason = contains_ci(e.message, "deadline") ? "DEADLINE_EXPIRED"
                       : contains_ci(e.message, "overloaded") ? "MODEL_OVERLOADED" : "";
        break;
    case 504:
        d = base_diagnosis(Status::TIMEOUT, http_status, e, true);
        if (d.reason.empty()) d.reason = "DEADLINE_EXCEEDED";
        break;
    default:
        d = base_diagnosis(Status::SERVER_ERROR, http_status, e, true);
        break;
    }
    d.retry_after = server_delay;
    return finish(std::move(d), facts);
}

// The HTTP-like code an envelope stands for when the HTTP status itself says nothing (a 200
// stream that carried an error): its own code, a gRPC number mapped over, or its status string.
int envelope_code(const ErrorBody& e) {
    // google.rpc.Code numbers 1..16 (batch items and some proxies use them).
    static constexpr std::array<int, 17> kGrpcToHttp = {200, 499, 500, 400, 504, 404, 409, 403, 429,
                                                        400, 409, 400, 501, 500, 503, 500, 401};
    if (e.code >= 400 && e.code < 600) return e.code;
    if (e.code > 0 && e.code < static_cast<int>(kGrpcToHttp.size())) return kGrpcToHttp[e.code];
    if (int from_status = http_code_for_status(e.status)) return from_status;
    return 500;   // an error of unknown kind: treat as a server fault (bounded retries)
}

}  // namespace

Diagnosis classify_error(int http_status, const ErrorBody& e, const Observation& obs,
                         SystemTime now) {
    bool in_stream = http_status >= 200 && http_status < 300;
    int code = in_stream ? envelope_code(e) : http_status;
    auto facts = facts_for(obs, now);

    Diagnosis d;
    if (code == 429 || e.status == "RESOURCE_EXHAUSTED") {
        d = classify_quota(code, e, obs, now);
    } else if (code >= 400 && code < 500) {
        d = client_error(code, e, facts);
    } else if (code >= 500 && code < 600) {
        d = server_error(code, e, facts, largest_server_delay(e, obs.headers, now));
    } else {
        // 1xx/3xx or nonsense: not an answer we understand. Safe: a bounded retry.
        d = base_diagnosis(Status::BAD_RESPONSE, http_status, e, true);
        d.reason = "UNEXPECTED_HTTP_STATUS";
        if (d.message.empty()) d.message = "unexpected HTTP status " + std::to_string(http_status);
        d = finish(std::move(d), facts);
    }
    d.http_status = http_status;
    return d;
}

}  // namespace nbcore::policy::detail
