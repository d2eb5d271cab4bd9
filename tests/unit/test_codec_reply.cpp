// ReplyDecoder: every reply shape of gemini-wire.md section 3 and every error body of section 4,
// mapped into Reply. Image bytes are random and must round-trip exactly.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "test_codec_util.hpp"

using namespace nbcore;
using namespace codec_test;
using nlohmann::json;

namespace {

const std::string kPng = random_bytes(3000, 1);
const std::string kJpeg = random_bytes(4001, 2);
const std::string kThoughtImg = random_bytes(2002, 3);

// Decodes in one go and insists it worked.
Reply decode_ok(const std::string& body) {
    Decoded d = decode(body);
    INFO(d.error);
    REQUIRE(d.ok);
    REQUIRE(d.error.empty());
    return std::move(d.reply);
}

}  // namespace

TEST_CASE("Flash reply with text and image", "[codec][reply]") {
    std::string body = substitute(R"({"candidates": [{"content": {"parts": [
     {"text": "Sure, here is a cat: "},
     {"inlineData": {"mimeType": "image/png", "data": "@PNG@"}}],
   "role": "model"}, "finishReason": "STOP", "index": 0}],
 "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 1298, "totalTokenCount": 1302,
   "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 4}],
   "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 1290}]},
 "modelVersion": "gemini-2.5-flash-image", "responseId": "wnIqavfxEuDUjMcPxMqnCA"})",
                            "@PNG@", b64(kPng));
    Reply r = decode_ok(body);
    REQUIRE(r.images.size() == 1);
    REQUIRE(r.images[0].mime == "image/png");
    REQUIRE(image_text(r.images[0]) == kPng);
    REQUIRE_FALSE(r.images[0].thought);
    REQUIRE(r.thought_images.empty());
    REQUIRE(r.text == "Sure, here is a cat: ");
    REQUIRE(r.thought_text.empty());
    REQUIRE(r.text_signature.empty());
    REQUIRE(r.candidate_count == 1);
    REQUIRE(r.has_content);
    REQUIRE(r.finish_reason == "STOP");
    REQUIRE(r.finish_message.empty());
    REQUIRE(r.block_reason.empty());
    REQUIRE(r.usage.present);
    REQUIRE(r.usage.prompt_tokens == 4);
    REQUIRE(r.usage.candidates_tokens == 1298);
    REQUIRE(r.usage.total_tokens == 1302);
    REQUIRE(r.usage.thoughts_tokens == 0);
    REQUIRE(r.usage.prompt_details.size() == 1);
    REQUIRE(r.usage.prompt_details[0].modality == "TEXT");
    REQUIRE(r.usage.candidates_tokens_for("IMAGE") == 1290);
    REQUIRE(r.usage.candidates_tokens_for("TEXT") == 0);
    REQUIRE(r.model_version == "gemini-2.5-flash-image");
    REQUIRE(r.response_id == "wnIqavfxEuDUjMcPxMqnCA");
    REQUIRE(r.chunks == 1);
    REQUIRE_FALSE(r.error);

    // parts_json keeps the parts but not the image data.
    json parts = json::parse(r.parts_json);
    REQUIRE(parts.size() == 2);
    REQUIRE(parts[0]["text"] == "Sure, here is a cat: ");
    REQUIRE(parts[1]["inlineData"]["data"] == "#0");
    REQUIRE(parts[1]["inlineData"]["mimeType"] == "image/png");
    REQUIRE(r.parts_json.size() < 200);
}

TEST_CASE("Pro reply with thoughtSignature on the image", "[codec][reply]") {
    std::string body = substitute(R"({"candidates": [{"content": {"role": "model", "parts": [
    {"thoughtSignature": "EqCzQgqcs0IBcsjafEVyOV",
     "inlineData": {"mimeType": "image/jpeg", "data": "@JPG@"}}]},
   "finishReason": "STOP", "index": 0}],
 "usageMetadata": {"promptTokenCount": 147, "candidatesTokenCount": 1220, "totalTokenCount": 1582,
   "thoughtsTokenCount": 215, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 147}]},
 "modelVersion": "gemini-3-pro-image-preview", "responseId": "KStzabiTDuClqtsP9KiFkQE"})",
                            "@JPG@", b64(kJpeg));
    Reply r = decode_ok(body);
    REQUIRE(r.images.size() == 1);
    REQUIRE(r.images[0].mime == "image/jpeg");
    REQUIRE(r.images[0].thought_signature == "EqCzQgqcs0IBcsjafEVyOV");
    REQUIRE(image_text(r.images[0]) == kJpeg);
    REQUIRE(r.text.empty());
    REQUIRE(r.text_signature.empty());
    REQUIRE(r.usage.thoughts_tokens == 215);
    REQUIRE(r.usage.total_tokens == 1582);
    REQUIRE(r.model_version == "gemini-3-pro-image-preview");
}

TEST_CASE("includeThoughts reply: thought text, thought image, signed text and final image",
          "[codec][reply]") {
    std::string body = R"({"candidates": [{"content": {"role": "model", "parts": [
    {"text": "**Imagining the Scene**\nA lighthouse...", "thought": true},
    {"inlineData": {"mimeType": "image/png", "data": "@THOUGHT@"}, "thought": true},
    {"text": "**Refining**", "thought": true},
    {"text": "Here is your lighthouse.", "thoughtSignature": "c2lnLXRleHQ="},
    {"inlineData": {"mimeType": "image/png", "data": "@FINAL@"}, "thoughtSignature": "c2lnLWltYWdl"},
    {"text": " Enjoy!"}]},
   "finishReason": "STOP", "index": 0}],
 "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 1130, "thoughtsTokenCount": 300,
   "totalTokenCount": 1442}, "modelVersion": "gemini-3-pro-image-preview"})";
    body = substitute(substitute(body, "@THOUGHT@", b64(kThoughtImg)), "@FINAL@", b64(kPng));
    Reply r = decode_ok(body);
    REQUIRE(r.thought_images.size() == 1);
    REQUIRE(r.thought_images[0].thought);
    REQUIRE(image_text(r.thought_images[0]) == kThoughtImg);
    REQUIRE(r.thought_images[0].thought_signature.empty());
    REQUIRE(r.images.size() == 1);
    REQUIRE(image_text(r.images[0]) == kPng);
    REQUIRE(r.images[0].thought_signature == "c2lnLWltYWdl");
    REQUIRE(r.thought_text == "**Imagining the Scene**\nA lighthouse...**Refining**");
    REQUIRE(r.text == "Here is your lighthouse. Enjoy!");
    REQUIRE(r.text_signature == "c2lnLXRleHQ=");

    // Images are numbered in part order, thought and final together.
    json parts = json::parse(r.parts_json);
    REQUIRE(parts.size() == 6);
    REQUIRE(parts[1]["inlineData"]["data"] == "#0");
    REQUIRE(parts[1]["thought"] == true);
    REQUIRE(parts[4]["inlineData"]["data"] == "#1");
    REQUIRE(parts[4]["thoughtSignature"] == "c2lnLWltYWdl");

    // Put back for a multi-turn echo, the parts equal the original ones exactly.
    std::string echoed = api::parts_json_with_images(r);
    json original = json::parse(body)["candidates"][0]["content"]["parts"];
    REQUIRE(json::parse(echoed) == original);
}

TEST_CASE("the only image can be a thought image (resilience #12)", "[codec][reply]") {
    std::string body = substitute(R"({"candidates":[{"content":{"role":"model","parts":[
      {"text":"Thinking about composition","thought":true},
      {"inlineData":{"mimeType":"image/png","data":"@IMG@"},"thought":true}]},
      "finishReason":"STOP","index":0}],"modelVersion":"gemini-3-pro-image-preview"})",
                            "@IMG@", b64(kPng));
    Reply r = decode_ok(body);
    REQUIRE(r.images.empty());
    REQUIRE(r.thought_images.size() == 1);
    REQUIRE(image_text(r.thought_images[0]) == kPng);
    REQUIRE(r.has_content);
    REQUIRE(r.text.empty());
    REQUIRE(r.thought_text == "Thinking about composition");
}

TEST_CASE("output blocked: content {}, parts null, or no content at all", "[codec][reply]") {
    struct Shape {
        const char* name;
        const char* body;
        const char* finish;
        const char* message_start;
    };
    const Shape shapes[] = {
        {"IMAGE_SAFETY, parts null",
         R"({"candidates": [{"content": {"parts": null}, "finishReason": "IMAGE_SAFETY", "index": 0,
             "finishMessage": "Unable to show the generated image. The image was filtered out because it violated Google's [Generative AI Prohibited Use policy](https://policies.google.com/terms/generative-ai/use-policy). You will not be charged for blocked images."}],
             "usageMetadata": {"promptTokenCount": 464, "candidatesTokenCount": 0, "totalTokenCount": 755, "thoughtsTokenCount": 291},
             "modelVersion": "gemini-3-pro-image-preview"})",
         "IMAGE_SAFETY", "Unable to show the generated image. The image was filtered"},
        {"IMAGE_SAFETY, content {}",
         R"({"candidates": [{"content": {}, "finishReason": "IMAGE_SAFETY", "index": 0,
             "finishMessage": "Unable to show the generated image."}]})",
         "IMAGE_SAFETY", "Unable to show"},
        {"IMAGE_OTHER, content {}",
         R"({"candidates": [{"content": {}, "finishReason": "IMAGE_OTHER", "index": 0, "finishMessage": "Unable to show the generated image. The model could not generate the image based on the prompt provided. You will not be charged for this request. Try rephrasing the prompt."}]})",
         "IMAGE_OTHER", "Unable to show the generated image. The model could not"},
        {"NO_IMAGE, no content member",
         R"({"candidates": [{"finishReason": "NO_IMAGE", "index": 0, "finishMessage": "The model was expected to generate an image, but none was generated."}],
             "usageMetadata": {"promptTokenCount": "10", "candidatesTokenCount": "0", "totalTokenCount": "10"}})",
         "NO_IMAGE", "The model was expected"},
        {"IMAGE_PROHIBITED_CONTENT, role only",
         R"({"candidates": [{"content": {"role": "model"}, "finishReason": "IMAGE_PROHIBITED_CONTENT"}]})",
         "IMAGE_PROHIBITED_CONTENT", ""},
    };
    for (const auto& shape : shapes) {
        INFO(shape.name);
        Reply r = decode_ok(shape.body);
        REQUIRE(r.images.empty());
        REQUIRE(r.thought_images.empty());
        REQUIRE(r.text.empty());
        REQUIRE_FALSE(r.has_content);
        REQUIRE(r.parts_json.empty());
        REQUIRE(r.candidate_count == 1);
        REQUIRE(r.finish_reason == shape.finish);
        REQUIRE(r.finish_message.rfind(shape.message_start, 0) == 0);
        REQUIRE_FALSE(r.error);
    }
}

TEST_CASE("text-only refusal with STOP", "[codec][reply]") {
    Reply r = decode_ok(R"({"candidates": [{"content": {"role": "model", "parts": [
        {"text": "I'm unable to help with this request."}]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 20, "candidatesTokenCount": 112, "totalTokenCount": 132}})");
    REQUIRE(r.images.empty());
    REQUIRE(r.has_content);
    REQUIRE(r.text == "I'm unable to help with this request.");
    REQUIRE(r.finish_reason == "STOP");
    REQUIRE(r.usage.candidates_tokens == 112);
}

TEST_CASE("prompt blocked: promptFeedback and no candidates", "[codec][reply]") {
    Reply r = decode_ok(R"({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT",
        "blockReasonMessage": "The prompt was blocked.",
        "safetyRatings": [{"category": "HARM_CATEGORY_SEXUALLY_EXPLICIT", "probability": "HIGH", "blocked": true},
                          {"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "NEGLIGIBLE"}]},
        "usageMetadata": {"promptTokenCount": 638, "totalTokenCount": 638}, "modelVersion": "gemini-2.5-flash-image"})");
    REQUIRE(r.candidate_count == 0);
    REQUIRE_FALSE(r.has_content);
    REQUIRE(r.block_reason == "PROHIBITED_CONTENT");
    REQUIRE(r.block_reason_message == "The prompt was blocked.");
    REQUIRE(r.blocked_categories == std::vector<std::string>{"HARM_CATEGORY_SEXUALLY_EXPLICIT"});
    REQUIRE(r.usage.prompt_tokens == 638);
    REQUIRE(r.finish_reason.empty());

    Reply other = decode_ok(R"({"promptFeedback": {"blockReason": "OTHER"}, "usageMetadata":
        {"promptTokenCount": 10, "candidatesTokenCount": 0}, "modelVersion": "gemini-3-pro-image-preview"})");
    REQUIRE(other.block_reason == "OTHER");
    REQUIRE(other.blocked_categories.empty());
}

TEST_CASE("candidate safety ratings with blocked:true are listed once", "[codec][reply]") {
    Reply r = decode_ok(R"({"candidates": [{"finishReason": "SAFETY", "safetyRatings": [
        {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": true},
        {"category": "HARM_CATEGORY_HARASSMENT", "probability": "LOW", "blocked": false}]}],
        "promptFeedback": {"safetyRatings": [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "blocked": true}]}})");
    REQUIRE(r.finish_reason == "SAFETY");
    REQUIRE(r.blocked_categories == std::vector<std::string>{"HARM_CATEGORY_DANGEROUS_CONTENT"});
}

TEST_CASE("empty candidates array and empty object are valid, empty replies", "[codec][reply]") {
    for (const char* body : {R"({"candidates": []})", "{}", R"({"candidates": [{}]})"}) {
        INFO(body);
        Reply r = decode_ok(body);
        REQUIRE_FALSE(r.has_content);
        REQUIRE(r.images.empty());
        REQUIRE(r.chunks == 1);
        REQUIRE_FALSE(r.error);
    }
    REQUIRE(decode_ok(R"({"candidates": []})").candidate_count == 0);
    REQUIRE(decode_ok(R"({"candidates": [{}]})").candidate_count == 1);
}

TEST_CASE("Vertex reply: createTime, trafficType, severity scores", "[codec][reply]") {
    std::string body = substitute(R"({"candidates": [{"content": {"role": "model", "parts": [
        {"text": "Here you go", "thoughtSignature": "AAEC"},
        {"inlineData": {"mimeType": "image/png", "data": "@PNG@"}, "thoughtSignature": "AwQF"}]},
        "finishReason": "STOP", "avgLogprobs": -0.25,
        "safetyRatings": [{"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "NEGLIGIBLE",
          "probabilityScore": 0.01, "severity": "HARM_SEVERITY_NEGLIGIBLE", "severityScore": 0.02}]}],
      "createTime": "2025-12-04T09:54:26.137486Z", "modelVersion": "gemini-3-pro-image-preview",
      "responseId": "UloxaY6yCIq4694Pi-TTmAk",
      "usageMetadata": {"candidatesTokenCount": 1120,
        "candidatesTokensDetails": [{"modality": "IMAGE","tokenCount": 1120}], "promptTokenCount": 5,
        "promptTokensDetails": [{"modality":"TEXT","tokenCount":5}], "thoughtsTokenCount": 155,
        "totalTokenCount": 1280, "trafficType": "ON_DEMAND"}})",
                            "@PNG@", b64(kPng));
    Reply r = decode_ok(body);
    REQUIRE(image_text(r.images.at(0)) == kPng);
    REQUIRE(r.text_signature == "AAEC");
    REQUIRE(r.images[0].thought_signature == "AwQF");
    REQUIRE(r.usage.traffic_type == "ON_DEMAND");
    REQUIRE(r.usage.thoughts_tokens == 155);
    REQUIRE(r.usage.candidates_tokens_for("IMAGE") == 1120);
    REQUIRE(r.response_id == "UloxaY6yCIq4694Pi-TTmAk");
    REQUIRE(r.blocked_categories.empty());
}

TEST_CASE("usage counts as numbers or numeric strings, junk counts as zero", "[codec][reply]") {
    Reply r = decode_ok(R"({"usageMetadata": {"promptTokenCount": "147", "candidatesTokenCount": 1220.0,
        "thoughtsTokenCount": "215", "totalTokenCount": "1582", "cachedContentTokenCount": "12x",
        "toolUsePromptTokenCount": true,
        "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": "2000"}, {"modality": "TEXT"}]}})");
    REQUIRE(r.usage.present);
    REQUIRE(r.usage.prompt_tokens == 147);
    REQUIRE(r.usage.candidates_tokens == 1220);
    REQUIRE(r.usage.thoughts_tokens == 215);
    REQUIRE(r.usage.total_tokens == 1582);
    REQUIRE(r.usage.cached_tokens == 0);
    REQUIRE(r.usage.tool_use_prompt_tokens == 0);
    REQUIRE(r.usage.candidates_tokens_for("IMAGE") == 2000);
    REQUIRE(r.usage.candidates_details.size() == 2);
    REQUIRE_FALSE(decode_ok("{}").usage.present);
}

TEST_CASE("snake_case inline_data / mime_type / thought_signature", "[codec][reply]") {
    std::string body = substitute(R"({"candidates": [{"content": {"parts": [
        {"inline_data": {"mime_type": "image/webp", "data": "@IMG@"}, "thought_signature": "c2ln"}]},
        "finish_reason": "STOP"}], "usage_metadata": {"prompt_token_count": 3}})",
                            "@IMG@", b64(kPng));
    Reply r = decode_ok(body);
    REQUIRE(r.images.size() == 1);
    REQUIRE(r.images[0].mime == "image/webp");
    REQUIRE(r.images[0].thought_signature == "c2ln");
    REQUIRE(image_text(r.images[0]) == kPng);
    REQUIRE(r.finish_reason == "STOP");
    REQUIRE(r.usage.prompt_tokens == 3);
    REQUIRE(json::parse(r.parts_json)[0]["inline_data"]["data"] == "#0");
}

TEST_CASE("unknown fields are ignored, wherever they are", "[codec][reply]") {
    std::string body = substitute(R"({"turnToken": "x", "modelStatus": {"stage": "PREVIEW"},
        "candidates": [{"groundingMetadata": {"searchEntryPoint": {"renderedContent": "<div>"}},
          "citationMetadata": {}, "tokenCount": 3, "content": {"parts": [
            {"videoMetadata": {}, "inlineData": {"mimeType": "image/png", "data": "@IMG@", "extra": [1, {"data": "not-an-image"}]}},
            {"functionCall": {"name": "f", "args": {"data": "x"}}}]}}],
        "usageMetadata": {"serviceTier": "standard", "promptTokenCount": 1}})",
                            "@IMG@", b64(kPng));
    Reply r = decode_ok(body);
    REQUIRE(r.images.size() == 1);
    REQUIRE(image_text(r.images[0]) == kPng);
    REQUIRE(r.usage.prompt_tokens == 1);
}

TEST_CASE("images in other candidates are not the answer", "[codec][reply]") {
    std::string body = substitute(substitute(R"({"candidates": [
        {"content": {"parts": [{"inlineData": {"mimeType": "image/png", "data": "@A@"}}]}, "finishReason": "STOP"},
        {"content": {"parts": [{"inlineData": {"mimeType": "image/png", "data": "@B@"}}]}, "finishReason": "STOP"}]})",
                                 "@A@", b64(kPng)),
                            "@B@", b64(kJpeg));
    Reply r = decode_ok(body);
    REQUIRE(r.candidate_count == 2);
    REQUIRE(r.images.size() == 1);
    REQUIRE(image_text(r.images[0]) == kPng);
}

TEST_CASE("an escaped slash in base64 data decodes as '/'", "[codec][reply]") {
    // 0xFF 0xFF 0xFF encodes as "////": every character escaped, as PHP-style encoders do.
    std::string raw = std::string(30, '\xFF') + kPng;
    std::string encoded = b64(raw);
    std::string escaped;
    for (char c : encoded) escaped += c == '/' ? std::string("\\/") : std::string(1, c);
    REQUIRE(escaped.size() > encoded.size());
    std::string body = substitute(R"({"candidates":[{"content":{"parts":[{"inlineData":{"mimeType":"image\/png","data":"@IMG@"}}]}}]})",
                            "@IMG@", escaped);
    for (std::size_t chunk : {0, 1, 2, 3, 7}) {
        Decoded d = decode(body, chunk);
        INFO(d.error);
        REQUIRE(d.ok);
        REQUIRE(image_text(d.reply.images.at(0)) == raw);
        REQUIRE(d.reply.images[0].mime == "image/png");
    }
}

// --- error bodies, as published ---------------------------------------------------------------

TEST_CASE("every published error body becomes an ApiError", "[codec][reply][errors]") {
    struct ErrorBody {
        const char* name;
        const char* body;
        int code;
        const char* status;
        const char* message_start;
        std::vector<std::string> detail_types;   // "@type" suffixes, in order
    };
    const std::vector<ErrorBody> bodies = {
        {"400 API key invalid",
         R"({"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
  "status": "INVALID_ARGUMENT",
  "details": [
    {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
     "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com"}},
    {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US",
     "message": "API key not valid. Please pass a valid API key."}]}})",
         400, "INVALID_ARGUMENT", "API key not valid.", {"ErrorInfo", "LocalizedMessage"}},
        {"400 unknown field",
         R"({"error": {"code": 400, "message": "Invalid JSON payload received. Unknown name \"size\": Cannot find field.",
"status": "INVALID_ARGUMENT", "details": [{"@type": "type.googleapis.com/google.rpc.BadRequest",
"fieldViolations": [{"description": "Invalid JSON payload received. Unknown name \"size\": Cannot find field."}]}]}})",
         400, "INVALID_ARGUMENT", "Invalid JSON payload received. Unknown name \"size\"", {"BadRequest"}},
        {"400 FAILED_PRECONDITION location",
         R"({"error": {"code": 400, "message": "User location is not supported for the API use.", "status": "FAILED_PRECONDITION"}})",
         400, "FAILED_PRECONDITION", "User location is not supported", {}},
        {"401 OAuth token expected",
         R"({"error": {"code": 401, "message": "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.", "status": "UNAUTHENTICATED", "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "ACCESS_TOKEN_TYPE_UNSUPPORTED", "metadata": {"method": "google.ai.generativelanguage.v1beta.GenerativeService.GenerateContent", "service": "generativelanguage.googleapis.com"}}]}})",
         401, "UNAUTHENTICATED", "Request had invalid authentication credentials.", {"ErrorInfo"}},
        {"401 Vertex API key",
         R"({"error": {"code": 401, "message": "API keys are not supported by this API. Expected OAuth2 access token or other authentication credentials that assert a principal. See https://cloud.google.com/docs/authentication", "status": "UNAUTHENTICATED", "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "CREDENTIALS_MISSING", "domain": "googleapis.com", "metadata": {"service": "aiplatform.googleapis.com", "method": "google.cloud.aiplatform.v1beta1.PredictionService.GenerateContent"}}]}})",
         401, "UNAUTHENTICATED", "API keys are not supported", {"ErrorInfo"}},
        {"403 unregistered caller",
         R"({"error": {"code": 403, "message": "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.", "status": "PERMISSION_DENIED"}})",
         403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers", {}},
        {"403 suspended",
         R"({"error": {"code": 403, "message": "Permission denied: Consumer 'api_key:AIza...' has been suspended.", "status": "PERMISSION_DENIED", "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "CONSUMER_SUSPENDED", "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com", "consumer": "projects/578829824020"}}]}})",
         403, "PERMISSION_DENIED", "Permission denied: Consumer", {"ErrorInfo"}},
        {"403 service disabled",
         R"({"error": {"code": 403, "message": "Generative Language API has not been used in project 123 before or it is disabled. Enable it by visiting https://console.developers.google.com/apis/api/generativelanguage.googleapis.com/overview?project=123 then retry.", "status": "PERMISSION_DENIED", "details": [{"@type": "type.googleapis.com/google.rpc.Help", "links": [{"description": "Google developers console API activation", "url": "https://console.developers.google.com/apis/api/generativelanguage.googleapis.com/overview?project=123"}]}, {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "SERVICE_DISABLED", "domain": "googleapis.com", "metadata": {"consumer": "projects/123", "service": "generativelanguage.googleapis.com", "activationUrl": "https://console.developers.google.com/apis/api/generativelanguage.googleapis.com/overview?project=123"}}]}})",
         403, "PERMISSION_DENIED", "Generative Language API has not been used", {"Help", "ErrorInfo"}},
        {"404 model not found",
         R"({"error": {"code": 404, "message": "models/gemini-2.0-flash-live-001 is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods.", "status": "NOT_FOUND"}})",
         404, "NOT_FOUND", "models/gemini-2.0-flash-live-001 is not found", {}},
        {"429 free tier with QuotaFailure, Help, RetryInfo",
         R"({"error": {"code": 429,
  "message": "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
  "status": "RESOURCE_EXHAUSTED",
  "details": [
    {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
      {"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_input_token_count",
       "quotaId": "GenerateContentInputTokensPerModelPerMinute-FreeTier",
       "quotaDimensions": {"location": "global", "model": "gemini-2.5-flash-preview-image"}},
      {"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
       "quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
       "quotaDimensions": {"model": "gemini-2.5-flash-preview-image", "location": "global"}, "quotaValue": "250000"}]},
    {"@type": "type.googleapis.com/google.rpc.Help", "links": [
      {"description": "Learn more about Gemini API quotas", "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]},
    {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "47s"}]}})",
         429, "RESOURCE_EXHAUSTED", "You exceeded your current quota", {"QuotaFailure", "Help", "RetryInfo"}},
        {"429 legacy",
         R"({"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED"}})",
         429, "RESOURCE_EXHAUSTED", "Resource has been exhausted", {}},
        {"500 internal",
         R"({"error": {"code": 500, "message": "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting", "status": "INTERNAL"}})",
         500, "INTERNAL", "An internal error has occurred.", {}},
        {"503 overloaded",
         R"({"error": {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}})",
         503, "UNAVAILABLE", "The model is overloaded.", {}},
        {"504 deadline",
         R"({"error": {"code": 504, "message": "Deadline expired before operation could complete.", "status": "DEADLINE_EXCEEDED"}})",
         504, "DEADLINE_EXCEEDED", "Deadline expired", {}},
    };
    for (const auto& e : bodies) {
        INFO(e.name);
        Decoded d = decode(e.body);
        REQUIRE(d.ok);
        REQUIRE(d.reply.error);
        const ApiError& err = *d.reply.error;
        REQUIRE(err.code == e.code);
        REQUIRE(err.status == e.status);
        REQUIRE(err.message.rfind(e.message_start, 0) == 0);
        if (e.detail_types.empty()) {
            REQUIRE(err.details_json.empty());
        } else {
            json details = json::parse(err.details_json);
            REQUIRE(details.size() == e.detail_types.size());
            for (std::size_t i = 0; i < details.size(); ++i)
                REQUIRE(details[i]["@type"] == "type.googleapis.com/google.rpc." + e.detail_types[i]);
        }
        // The skeleton of an error body is the whole error JSON.
        REQUIRE(json::parse(d.skeleton) == json::parse(e.body));
        REQUIRE_FALSE(d.reply.has_content);
        REQUIRE(d.reply.chunks == 1);
    }
}

TEST_CASE("429 details survive with every violation and the retry delay", "[codec][reply][errors]") {
    Reply r = decode_ok(R"({"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED",
      "details": [{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
        {"quotaMetric": "generativelanguage.googleapis.com/generate_requests_per_model_per_day",
         "quotaId": "GenerateRequestsPerDayPerProjectPerModel", "quotaValue": "250"}]},
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "26.5s"}]}})");
    json details = json::parse(r.error->details_json);
    REQUIRE(details[0]["violations"][0]["quotaId"] == "GenerateRequestsPerDayPerProjectPerModel");
    REQUIRE(details[0]["violations"][0]["quotaValue"] == "250");
    REQUIRE(details[1]["retryDelay"] == "26.5s");
}

TEST_CASE("error envelopes in unusual spellings", "[codec][reply][errors]") {
    SECTION("array-wrapped error (non-SSE stream form)") {
        Decoded d = decode(R"([{"error": {"code": 400, "message": "* GenerateContentRequest.tools[0]: missing field.\n", "status": "INVALID_ARGUMENT"}}])");
        REQUIRE(d.ok);
        REQUIRE(d.reply.error->code == 400);
        REQUIRE(d.reply.error->message == "* GenerateContentRequest.tools[0]: missing field.\n");
        REQUIRE(json::parse(d.skeleton).contains("error"));
    }
    SECTION("code as a string") {
        Reply r = decode_ok(R"({"error": {"code": "503", "message": "busy", "status": "UNAVAILABLE"}})");
        REQUIRE(r.error->code == 503);
    }
    SECTION("error as plain text (some proxies)") {
        Reply r = decode_ok(R"({"error": "upstream connect error"})");
        REQUIRE(r.error->code == 0);
        REQUIRE(r.error->message == "upstream connect error");
    }
}
