// classify() on HTTP error replies: every published 4xx/5xx body (verbatim where the
// reference quotes one), plus the shapes around them. 429 has its own file.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "test_policy_support.hpp"

using namespace policy_test;

namespace {

struct ErrorCase {
    std::string name;
    int status;
    std::string body;
    Status code;
    bool retryable;
    std::string reason;
    std::string api_status;
    std::vector<std::string> advice_has;   // facts the advice must state
    std::string message_has;
    std::string model = {};
    Millis server_timeout{0};
};

const std::string kInvalidKey = R"({"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
  "status": "INVALID_ARGUMENT",
  "details": [
    {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
     "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com"}},
    {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US",
     "message": "API key not valid. Please pass a valid API key."}]}})";

const std::string kKeyNotFoundWithDebugInfo =
    R"({"error": {"code": 400, "message": "API Key not found. Please pass a valid API key.", "status": "INVALID_ARGUMENT",
  "details": [{"@type": "type.googleapis.com/google.rpc.DebugInfo", "detail": "Invalid API key: )" +
    std::string(kTestKey) + R"("}]}})";

const std::string kUnknownField =
    R"({"error": {"code": 400, "message": "Invalid JSON payload received. Unknown name \"size\": Cannot find field.",
"status": "INVALID_ARGUMENT", "details": [{"@type": "type.googleapis.com/google.rpc.BadRequest",
"fieldViolations": [{"description": "Invalid JSON payload received. Unknown name \"size\": Cannot find field."}]}]}})";

const std::string kUnknownFieldScoped =
    R"({"error": {"code": 400, "message": "Invalid JSON payload received. Unknown name \"imageSize\" at 'generation_config': Cannot find field.", "status": "INVALID_ARGUMENT"}})";

const std::string kFieldViolationWithField =
    R"({"error": {"code": 400, "message": "Request contains an invalid argument.", "status": "INVALID_ARGUMENT",
"details": [{"@type": "type.googleapis.com/google.rpc.BadRequest",
"fieldViolations": [{"field": "generation_config.image_config.aspect_ratio", "description": "Unsupported aspect ratio 7:3"}]}]}})";

const std::string kInvalidValue =
    R"({"error": {"code": 400, "message": "Invalid value at 'generation_config.response_modalities[0]' (type.googleapis.com/google.ai.generativelanguage.v1beta.GenerationConfig.Modality), \"PICTURE\"", "status": "INVALID_ARGUMENT"}})";

const std::string kArrayWrappedMissingField =
    R"([{"error": {"code": 400, "message": "* GenerateContentRequest.tools[0].function_declarations[23].parameters.properties[files].items: missing field.\n", "status": "INVALID_ARGUMENT"}}])";

const std::string kServiceDisabled =
    R"({"error": {"code": 403, "message": "Generative Language API has not been used in project 123456 before or it is disabled. Enable it by visiting https://console.developers.google.com/apis/api/generativelanguage.googleapis.com/overview?project=123456 then retry. If you enabled this API recently, wait a few minutes for the action to propagate to our systems and retry.", "status": "PERMISSION_DENIED",
"details": [{"@type": "type.googleapis.com/google.rpc.Help", "links": [{"description": "Google developers console API activation", "url": "https://console.developers.google.com/apis/api/generativelanguage.googleapis.com/overview?project=123456"}]},
{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "SERVICE_DISABLED", "domain": "googleapis.com",
 "metadata": {"consumer": "projects/123456", "service": "generativelanguage.googleapis.com",
  "activationUrl": "https://console.developers.google.com/apis/api/generativelanguage.googleapis.com/overview?project=123456"}}]}})";

const std::string kServiceDisabledMessageOnly =
    R"({"error": {"code": 403, "message": "Generative Language API has not been used in project 777 before or it is disabled. Enable it by visiting https://console.developers.google.com/apis/api/generativelanguage.googleapis.com/overview?project=777 then retry.", "status": "PERMISSION_DENIED"}})";

const std::string kSuspended =
    R"({"error": {"code": 403, "message": "Permission denied: Consumer 'api_key:)" + std::string(kTestKey) +
    R"(' has been suspended.", "status": "PERMISSION_DENIED", "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "CONSUMER_SUSPENDED", "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com", "consumer": "projects/578829824020"}}]}})";

const std::string kHtml502 = R"(<!DOCTYPE html>
<html lang=en>
  <meta charset=utf-8>
  <meta name=viewport content="initial-scale=1, minimum-scale=1, width=device-width">
  <title>Error 502 (Server Error)!!1</title>
  <style>*{margin:0;padding:0}html,code{font:15px/22px arial,sans-serif}</style>
  <a href=//www.google.com/><span id=logo aria-label=Google></span></a>
  <p><b>502.</b> <ins>That’s an error.</ins>
  <p>The server encountered a temporary error and could not complete your request.<p>Please try again in 30 seconds.  <ins>That’s all we know.</ins>)";

const std::string k500 =
    R"({"error": {"code": 500, "message": "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting", "status": "INTERNAL"}})";
const std::string k503 =
    R"({"error": {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}})";
const std::string k503Deadline =
    R"({"error": {"code": 503, "message": "Deadline expired before operation could complete.", "status": "UNAVAILABLE"}})";
const std::string k504 =
    R"({"error": {"code": 504, "message": "Deadline expired before operation could complete.", "status": "DEADLINE_EXCEEDED"}})";

std::vector<ErrorCase> error_cases() {
    return {
        // ---- 400 INVALID_ARGUMENT (4.1)
        {"400 API_KEY_INVALID", 400, kInvalidKey, Status::AUTH, false, "API_KEY_INVALID", "INVALID_ARGUMENT",
         {"https://aistudio.google.com/apikey", "not the request"}, "API key not valid"},
        {"400 API Key not found with DebugInfo", 400, kKeyNotFoundWithDebugInfo, Status::AUTH, false,
         "API_KEY_INVALID", "INVALID_ARGUMENT", {"aistudio.google.com/apikey"}, "API Key not found"},
        {"400 unknown field name", 400, kUnknownField, Status::BAD_REQUEST, false, "", "INVALID_ARGUMENT",
         {"`size`", "fails the same way"}, "Unknown name"},
        {"400 unknown field name with scope", 400, kUnknownFieldScoped, Status::BAD_REQUEST, false, "",
         "INVALID_ARGUMENT", {"`generation_config.imageSize`"}, "imageSize"},
        {"400 BadRequest field violation", 400, kFieldViolationWithField, Status::BAD_REQUEST, false, "",
         "INVALID_ARGUMENT", {"`generation_config.image_config.aspect_ratio`"}, "invalid argument"},
        {"400 invalid enum value", 400, kInvalidValue, Status::BAD_REQUEST, false, "", "INVALID_ARGUMENT",
         {"`generation_config.response_modalities[0]`"}, "PICTURE"},
        {"400 array-wrapped missing field", 400, kArrayWrappedMissingField, Status::BAD_REQUEST, false, "",
         "INVALID_ARGUMENT",
         {"`GenerateContentRequest.tools[0].function_declarations[23].parameters.properties[files].items`"},
         "missing field"},
        {"400 multiple candidates", 400,
         R"({"error": {"code": 400, "message": "Multiple candidates is not enabled for this model", "status": "INVALID_ARGUMENT"}})",
         Status::BAD_REQUEST, false, "", "INVALID_ARGUMENT", {"candidateCount 1"}, "Multiple candidates"},
        {"400 text-only model asked for images", 400,
         R"({"error": {"code": 400, "message": "This model only supports text output.", "status": "INVALID_ARGUMENT"}})",
         Status::BAD_REQUEST, false, "", "INVALID_ARGUMENT", {"gemini-3-pro-image-preview", "gemini-2.5-flash-image"},
         "only supports text output"},
        {"400 developer instruction", 400,
         R"({"error": {"code": 400, "message": "Developer instruction is not enabled for models/gemini-2.5-flash-image", "status": "INVALID_ARGUMENT"}})",
         Status::BAD_REQUEST, false, "", "INVALID_ARGUMENT", {"system instruction"}, "Developer instruction"},
        {"400 unknown status string", 400,
         R"({"error": {"code": 400, "message": "Something new happened.", "status": "SOMETHING_NEW"}})",
         Status::BAD_REQUEST, false, "", "SOMETHING_NEW", {"fails the same way"}, "Something new"},

        // ---- 400 FAILED_PRECONDITION (4.2)
        {"400 location not supported", 400,
         R"({"error": {"code": 400, "message": "User location is not supported for the API use.", "status": "FAILED_PRECONDITION"}})",
         Status::LOCATION, false, "LOCATION_NOT_SUPPORTED", "FAILED_PRECONDITION", {"billing", "Vertex AI", "region"},
         "User location"},
        {"400 location without billing", 400,
         R"({"error": {"code": 400, "message": "User location is not supported for the API use without a billing account linked.", "status": "FAILED_PRECONDITION"}})",
         Status::LOCATION, false, "LOCATION_REQUIRES_BILLING", "FAILED_PRECONDITION", {"billing account"},
         "without a billing account"},
        {"400 free tier not in country", 400,
         R"({"error": {"code": 400, "message": "Gemini API free tier is not available in your country. Please enable billing on your project in Google AI Studio.", "status": "FAILED_PRECONDITION"}})",
         Status::LOCATION, false, "LOCATION_REQUIRES_BILLING", "FAILED_PRECONDITION", {"Vertex AI"}, "free tier"},
        {"400 other FAILED_PRECONDITION", 400,
         R"({"error": {"code": 400, "message": "Precondition check failed.", "status": "FAILED_PRECONDITION"}})",
         Status::BAD_REQUEST, false, "", "FAILED_PRECONDITION", {"fix it before retrying"}, "Precondition"},

        // ---- 401 (4.3)
        {"401 key sent as bearer token", 401,
         R"({"error": {"code": 401, "message": "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.", "status": "UNAUTHENTICATED", "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "ACCESS_TOKEN_TYPE_UNSUPPORTED", "metadata": {"method": "google.ai.generativelanguage.v1beta.GenerativeService.GenerateContent", "service": "generativelanguage.googleapis.com"}}]}})",
         Status::AUTH, false, "ACCESS_TOKEN_TYPE_UNSUPPORTED", "UNAUTHENTICATED", {"x-goog-api-key"},
         "invalid authentication credentials"},
        {"401 Vertex wants OAuth", 401,
         R"({"error": {"code": 401, "message": "API keys are not supported by this API. Expected OAuth2 access token or other authentication credentials that assert a principal. See https://cloud.google.com/docs/authentication", "status": "UNAUTHENTICATED", "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "CREDENTIALS_MISSING", "domain": "googleapis.com", "metadata": {"service": "aiplatform.googleapis.com", "method": "google.cloud.aiplatform.v1beta1.PredictionService.GenerateContent"}}]}})",
         Status::AUTH, false, "CREDENTIALS_MISSING", "UNAUTHENTICATED", {"OAuth", "Vertex AI"},
         "API keys are not supported"},
        {"401 bare", 401, R"({"error": {"code": 401, "message": "Unauthorized", "status": "UNAUTHENTICATED"}})",
         Status::AUTH, false, "UNAUTHENTICATED", "UNAUTHENTICATED", {"aistudio.google.com/apikey"}, "Unauthorized"},

        // ---- 403 (4.4)
        {"403 no key", 403,
         R"({"error": {"code": 403, "message": "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.", "status": "PERMISSION_DENIED"}})",
         Status::AUTH, false, "API_KEY_MISSING", "PERMISSION_DENIED", {"GOOGLE_API_KEY", "GEMINI_API_KEY"},
         "unregistered callers"},
        {"403 suspended key (key redacted)", 403, kSuspended, Status::AUTH, false, "CONSUMER_SUSPENDED",
         "PERMISSION_DENIED", {"suspended"}, "api_key:[REDACTED]"},
        {"403 SERVICE_DISABLED with activationUrl", 403, kServiceDisabled, Status::AUTH, false, "SERVICE_DISABLED",
         "PERMISSION_DENIED",
         {"https://console.developers.google.com/apis/api/generativelanguage.googleapis.com/overview?project=123456"},
         "has not been used"},
        {"403 API disabled, message only", 403, kServiceDisabledMessageOnly, Status::AUTH, false,
         "SERVICE_DISABLED", "PERMISSION_DENIED",
         {"https://console.developers.google.com/apis/api/generativelanguage.googleapis.com/overview?project=777,"},
         "project 777"},
        {"403 billing disabled", 403,
         R"({"error": {"code": 403, "message": "This API method requires billing to be enabled. Please enable billing on project #42.", "status": "PERMISSION_DENIED", "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "BILLING_DISABLED", "domain": "googleapis.com", "metadata": {"consumer": "projects/42", "service": "generativelanguage.googleapis.com"}}]}})",
         Status::AUTH, false, "BILLING_DISABLED", "PERMISSION_DENIED", {"billing account"}, "requires billing"},
        {"403 key restricted to other APIs", 403,
         R"({"error": {"code": 403, "message": "Requests to this API generativelanguage.googleapis.com method google.ai.generativelanguage.v1beta.GenerativeService.GenerateContent are blocked.", "status": "PERMISSION_DENIED", "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_SERVICE_BLOCKED", "domain": "googleapis.com"}]}})",
         Status::AUTH, false, "API_KEY_SERVICE_BLOCKED", "PERMISSION_DENIED", {"API restrictions"}, "are blocked"},
        {"403 other permission denied", 403,
         R"({"error": {"code": 403, "message": "The caller does not have permission", "status": "PERMISSION_DENIED"}})",
         Status::AUTH, false, "PERMISSION_DENIED", "PERMISSION_DENIED", {"intended project"}, "does not have permission"},

        // ---- 404 (4.5)
        {"404 model named in the message", 404,
         R"({"error": {"code": 404, "message": "models/gemini-2.0-flash-live-001 is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods.", "status": "NOT_FOUND"}})",
         Status::MODEL_NOT_FOUND, false, "", "NOT_FOUND",
         {"'gemini-2.0-flash-live-001'", "gemini-3-pro-image-preview", "gemini-2.5-flash-image"}, "is not found"},
        {"404 retired image model", 404,
         R"({"error": {"code": 404, "message": "models/gemini-2.0-flash-preview-image-generation is not found for API version v1beta, or is not supported for StreamGenerateContent.", "status": "NOT_FOUND"}})",
         Status::MODEL_NOT_FOUND, false, "", "NOT_FOUND", {"retired", "use gemini-2.5-flash-image instead", "gemini-3-pro-image-preview"},
         "StreamGenerateContent", "gemini-2.0-flash-preview-image-generation"},
        {"404 retired preview alias", 404,
         R"({"error": {"code": 404, "message": "models/gemini-2.5-flash-image-preview is not found for API version v1beta.", "status": "NOT_FOUND"}})",
         Status::MODEL_NOT_FOUND, false, "", "NOT_FOUND", {"'gemini-2.5-flash-image-preview' is retired"}, "not found"},

        // ---- other 4xx
        {"408 request timeout", 408, "", Status::TIMEOUT, true, "REQUEST_TIMEOUT", "", {"attempt timeout"}, ""},
        {"413 request too large", 413, "<html><body>Request Entity Too Large</body></html>", Status::BAD_REQUEST,
         false, "REQUEST_TOO_LARGE", "", {"20 MB"}, "Too Large"},
        {"409 ABORTED is not retried", 409,
         R"({"error": {"code": 409, "message": "Aborted.", "status": "ABORTED"}})", Status::BAD_REQUEST, false,
         "", "ABORTED", {"fix it before retrying"}, "Aborted"},
        {"418 unknown 4xx", 418, "I'm a teapot", Status::BAD_REQUEST, false, "", "", {"fix it before retrying"},
         "teapot"},

        // ---- 5xx (4.7)
        {"500 INTERNAL", 500, k500, Status::SERVER_ERROR, true, "", "INTERNAL", {"retries with backoff"},
         "An internal error"},
        {"500 after a short X-Server-Timeout", 500, k500, Status::TIMEOUT, true, "SERVER_TIMEOUT_TOO_SHORT",
         "INTERNAL", {"X-Server-Timeout 20 s", "at least 60 s"}, "An internal error", {}, Millis(20'000)},
        {"500 after a long X-Server-Timeout", 500, k500, Status::SERVER_ERROR, true, "", "INTERNAL",
         {"retries"}, "An internal error", {}, Millis(120'000)},
        {"500 empty body", 500, "", Status::SERVER_ERROR, true, "", "", {"retries"}, ""},
        {"502 HTML page from the front end", 502, kHtml502, Status::BAD_GATEWAY, true, "HTML_ERROR_PAGE", "",
         {"502", "retry"}, "The server encountered a temporary error"},
        {"502 JSON", 502,
         R"({"error": {"code": 502, "message": "Bad Gateway", "status": "UNAVAILABLE"}})", Status::BAD_GATEWAY,
         true, "", "UNAVAILABLE", {"502"}, "Bad Gateway"},
        {"503 model overloaded", 503, k503, Status::UNAVAILABLE, true, "MODEL_OVERLOADED", "UNAVAILABLE",
         {"overloaded", "gemini-2.5-flash-image"}, "The model is overloaded"},
        {"503 deadline expired", 503, k503Deadline, Status::UNAVAILABLE, true, "DEADLINE_EXPIRED",
         "UNAVAILABLE", {"gave up on a long generation"}, "Deadline expired"},
        {"503 plain-text proxy body", 503, "upstream connect error or disconnect/reset before headers",
         Status::UNAVAILABLE, true, "", "", {"retries"}, "upstream connect error"},
        {"504 DEADLINE_EXCEEDED", 504, k504, Status::TIMEOUT, true, "DEADLINE_EXCEEDED", "DEADLINE_EXCEEDED",
         {"attempt timeout"}, "Deadline expired"},
        {"504 after a short X-Server-Timeout", 504, k504, Status::TIMEOUT, true, "SERVER_TIMEOUT_TOO_SHORT",
         "DEADLINE_EXCEEDED", {"X-Server-Timeout 30 s"}, "Deadline expired", {}, Millis(30'000)},
        {"501 UNIMPLEMENTED", 501,
         R"({"error": {"code": 501, "message": "Operation is not implemented.", "status": "UNIMPLEMENTED"}})",
         Status::SERVER_ERROR, true, "", "UNIMPLEMENTED", {"retries"}, "not implemented"},
        {"599 unknown 5xx", 599, "", Status::SERVER_ERROR, true, "", "", {"retries"}, ""},

        // ---- neither success nor error
        {"302 redirect", 302, "<a href=\"https://login.example\">moved</a>", Status::BAD_RESPONSE, true,
         "UNEXPECTED_HTTP_STATUS", "", {"base URL"}, "moved"},
    };
}

bool is_json_envelope(const std::string& body) {
    auto doc = nlohmann::json::parse(body, nullptr, false);
    if (doc.is_discarded()) return false;
    if (doc.is_array() && !doc.empty()) doc = doc[0];
    return doc.is_object() && doc.contains("error");
}

void check(const Diagnosis& d, const ErrorCase& c) {
    INFO("message: " << d.message);
    INFO("advice: " << d.advice);
    CHECK(d.code == c.code);
    CHECK(d.http_status == c.status);
    CHECK(d.retryable == c.retryable);
    CHECK(d.reason == c.reason);
    CHECK(d.api_status == c.api_status);
    CHECK(d.dimension == Dimension::NONE);
    CHECK(d.safety_layer == 0);
    CHECK_FALSE(d.retry_after.has_value());
    CHECK_FALSE(d.advice.empty());
    for (const auto& fact : c.advice_has) CHECK(contains(d.advice, fact));
    CHECK(contains(d.message, c.message_has));
    CHECK_FALSE(contains(d.message, kTestKey));
    CHECK_FALSE(contains(d.advice, kTestKey));
}

}  // namespace

TEST_CASE("HTTP error bodies classify by status, envelope and details", "[policy][classify]") {
    for (const auto& c : error_cases()) {
        DYNAMIC_SECTION(c.name) {
            // As a raw body (diagnose, or the codec could not take it) ...
            check(classify_body(c.status, c.body, nullptr, test_now(), c.model, c.server_timeout), c);
            // ... and as the codec hands it over, with the same result.
            if (is_json_envelope(c.body)) {
                auto reply = reply_with_error(c.body);
                policy::Observation obs;
                obs.http_status = c.status;
                obs.reply = &reply;
                obs.model = c.model;
                obs.server_timeout_sent = c.server_timeout;
                check(policy::classify(obs, test_now()), c);
            }
        }
    }
}

TEST_CASE("404 advice names the requested model and the current ids", "[policy][classify]") {
    auto d = classify_body(404, R"({"error": {"code": 404, "message": "Not found.", "status": "NOT_FOUND"}})",
                           nullptr, test_now(), "models/gemini-2.0-flash-exp");
    CHECK(d.code == Status::MODEL_NOT_FOUND);
    CHECK(contains(d.advice, "'gemini-2.0-flash-exp' is retired"));
    CHECK(contains(d.advice, "gemini-3-pro-image-preview (Nano Banana Pro)"));
}

TEST_CASE("404 for a current model id points at the endpoint, not the id", "[policy][classify]") {
    auto d = classify_body(404, R"({"error": {"code": 404, "message": "Publisher model not found.", "status": "NOT_FOUND"}})",
                           nullptr, test_now(), "gemini-3-pro-image-preview");
    CHECK(d.code == Status::MODEL_NOT_FOUND);
    CHECK(contains(d.advice, "'gemini-3-pro-image-preview' is not served by this endpoint or API version"));
}

TEST_CASE("an error status with JSON that is not an envelope shows the JSON", "[policy][classify]") {
    auto d = classify_body(500, R"({"detail": "upstream failed"})");
    CHECK(d.code == Status::SERVER_ERROR);
    CHECK(contains(d.message, "upstream failed"));
    CHECK(d.api_status.empty());
}

TEST_CASE("a DebugInfo detail echoing the key never reaches the diagnosis", "[policy][redact]") {
    auto d = classify_body(400, kKeyNotFoundWithDebugInfo);
    CHECK_FALSE(contains(d.message, kTestKey));
    CHECK_FALSE(contains(d.advice, kTestKey));
    CHECK_FALSE(contains(d.reason, kTestKey));
}

// Caught by the no-key property of tests/fuzz/fuzz_classify: the envelope's "status" reached
// Diagnosis::api_status (and so nbc_error_api_status and the Python exception) unredacted.
TEST_CASE("a key echoed in the envelope's status never reaches the diagnosis", "[policy][redact]") {
    auto d = classify_body(400, R"({"error": {"code": 400, "message": "x", "status": ")" + std::string(kTestKey) + R"("}})");
    CHECK_FALSE(contains(d.api_status, kTestKey));
    CHECK(d.api_status == "[REDACTED]");
}
