// classify() on HTTP 200 replies: blocked prompts, filtered images, text instead of an image,
// errors inside the stream, broken bodies and images that fail validation.
#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

#include "nbcore/image.hpp"
#include "test_policy_support.hpp"

using namespace policy_test;

namespace {

const std::string kImageSafetyMessage =
    "Unable to show the generated image. The image was filtered out because it violated Google's "
    "[Generative AI Prohibited Use policy](https://policies.google.com/terms/generative-ai/use-policy). "
    "You will not be charged for blocked images. Try rephrasing the prompt. If you think this was an "
    "error, [send feedback](https://ai.google.dev/gemini-api/docs/troubleshooting).";
const std::string kImageOtherMessage =
    "Unable to show the generated image. The model could not generate the image based on the prompt "
    "provided. You will not be charged for this request. Try rephrasing the prompt.";

ReplyImage png() { return ReplyImage{"image/png", nullptr, {}, false}; }
ReplyImage thought_png() { return ReplyImage{"image/png", nullptr, "c2ln", true}; }

// One candidate that finished with `finish` and carries `images` final images.
Reply candidate(std::string finish, int images = 0, std::string text = {}) {
    Reply r;
    r.candidate_count = 1;
    r.finish_reason = std::move(finish);
    for (int i = 0; i < images; ++i) r.images.push_back(png());
    r.text = std::move(text);
    r.has_content = images > 0 || !r.text.empty();
    return r;
}

Reply with_message(Reply r, std::string message) {
    r.finish_message = std::move(message);
    return r;
}

Reply prompt_blocked(std::string reason, std::vector<std::string> categories = {}) {
    Reply r;
    r.block_reason = std::move(reason);
    r.blocked_categories = std::move(categories);
    return r;
}

Reply thought_only() {
    auto r = candidate("STOP");
    r.thought_images = {thought_png(), thought_png()};
    r.thought_text = "**Imagining the Scene**";
    r.has_content = true;
    return r;
}

Reply stream_error(int code, std::string status, std::string message) {
    Reply r = candidate("", 0, "Here is");
    r.chunks = 3;
    r.error = ApiError{code, std::move(status), std::move(message), {}};
    return r;
}

struct ReplyCase {
    std::string name;
    Reply reply;
    Status code;
    int layer;
    bool retryable;
    std::string reason;
    std::vector<std::string> advice_has;
    std::string message_has;
};

std::vector<ReplyCase> reply_cases() {
    std::vector<ReplyCase> cases = {
        // ---- success
        {"image with STOP", candidate("STOP", 1), Status::OK, 0, false, "STOP", {}, ""},
        {"image without finishReason", candidate("", 1), Status::OK, 0, false, "", {}, ""},
        {"image with FINISH_REASON_UNSPECIFIED", candidate("FINISH_REASON_UNSPECIFIED", 1), Status::OK, 0, false,
         "FINISH_REASON_UNSPECIFIED", {}, ""},
        {"image despite MAX_TOKENS", candidate("MAX_TOKENS", 1), Status::OK, 0, false, "MAX_TOKENS", {}, ""},
        {"only thought images: the last one is the render", thought_only(), Status::OK, 0, false, "STOP", {},
         "thought images"},

        // ---- the prompt was blocked (promptFeedback, no candidates)
        {"blockReason SAFETY", prompt_blocked("SAFETY", {"HARM_CATEGORY_DANGEROUS_CONTENT"}), Status::BLOCKED_SAFETY, 1,
         false, "SAFETY", {"safetySettings", "HARM_CATEGORY_DANGEROUS_CONTENT", "The prompt"}, "blockReason SAFETY"},
        {"blockReason OTHER", prompt_blocked("OTHER"), Status::BLOCKED_POLICY, 2, false, "OTHER",
         {"cannot configure", "rephrase"}, "blockReason OTHER"},
        {"blockReason BLOCKLIST", prompt_blocked("BLOCKLIST"), Status::BLOCKED_POLICY, 2, false, "BLOCKLIST",
         {"cannot configure"}, ""},
        {"blockReason PROHIBITED_CONTENT", prompt_blocked("PROHIBITED_CONTENT"), Status::BLOCKED_POLICY, 2, false,
         "PROHIBITED_CONTENT", {"cannot configure"}, ""},
        {"blockReason IMAGE_SAFETY", prompt_blocked("IMAGE_SAFETY"), Status::BLOCKED_POLICY, 2, false, "IMAGE_SAFETY",
         {"cannot configure"}, ""},
        {"blockReason JAILBREAK (Vertex)", prompt_blocked("JAILBREAK"), Status::BLOCKED_POLICY, 2, false, "JAILBREAK",
         {"rephrase"}, ""},
        {"blockReason unknown value", prompt_blocked("SOMETHING_NEW"), Status::BLOCKED_POLICY, 2, false,
         "SOMETHING_NEW", {"cannot configure"}, ""},

        // ---- the output was blocked (finishReason)
        {"finishReason SAFETY", candidate("SAFETY"), Status::BLOCKED_SAFETY, 1, false, "SAFETY",
         {"safetySettings", "The output"}, ""},
        {"finishReason IMAGE_SAFETY (published message)", with_message(candidate("IMAGE_SAFETY"), kImageSafetyMessage),
         Status::BLOCKED_POLICY, 2, false, "IMAGE_SAFETY",
         {"cannot configure", "commercial context", "blocked images are not charged"}, "Unable to show the generated image"},
        {"IMAGE_SAFETY wins over interim thought images",
         [] { auto r = thought_only(); r.finish_reason = "IMAGE_SAFETY"; return r; }(), Status::BLOCKED_POLICY, 2,
         false, "IMAGE_SAFETY", {"cannot configure"}, ""},
        {"finishReason IMAGE_PROHIBITED_CONTENT", candidate("IMAGE_PROHIBITED_CONTENT"), Status::BLOCKED_POLICY, 2,
         false, "IMAGE_PROHIBITED_CONTENT", {"output filter"}, "finishReason IMAGE_PROHIBITED_CONTENT"},
        {"finishReason PROHIBITED_CONTENT", candidate("PROHIBITED_CONTENT"), Status::BLOCKED_POLICY, 2, false,
         "PROHIBITED_CONTENT", {"rephrase"}, ""},
        {"finishReason SPII", candidate("SPII"), Status::BLOCKED_POLICY, 2, false, "SPII", {"personal details"}, ""},
        {"finishReason BLOCKLIST", candidate("BLOCKLIST"), Status::BLOCKED_POLICY, 2, false, "BLOCKLIST",
         {"cannot configure"}, ""},
        {"finishReason RECITATION", candidate("RECITATION"), Status::BLOCKED_POLICY, 2, false, "RECITATION",
         {"more original"}, ""},
        {"finishReason IMAGE_RECITATION", candidate("IMAGE_RECITATION"), Status::BLOCKED_POLICY, 2, false,
         "IMAGE_RECITATION", {"more original"}, ""},

        // ---- no image (billed, one retry)
        {"finishReason NO_IMAGE", candidate("NO_IMAGE"), Status::NO_IMAGE, 0, true, "NO_IMAGE",
         {"one main subject", "stages", "billed"}, "finishReason NO_IMAGE"},
        {"finishReason IMAGE_OTHER (captured fixture)", with_message(candidate("IMAGE_OTHER"), kImageOtherMessage),
         Status::NO_IMAGE, 0, true, "IMAGE_OTHER", {"stages", "not charged"}, "could not generate the image"},
        {"MAX_TOKENS without an image", candidate("MAX_TOKENS"), Status::NO_IMAGE, 0, true, "MAX_TOKENS",
         {"maxOutputTokens"}, ""},
        {"finishReason OTHER", candidate("OTHER"), Status::NO_IMAGE, 0, true, "OTHER", {"simplify"}, ""},
        {"finishReason LANGUAGE", candidate("LANGUAGE"), Status::NO_IMAGE, 0, true, "LANGUAGE", {"simplify"}, ""},
        {"finishReason MALFORMED_FUNCTION_CALL", candidate("MALFORMED_FUNCTION_CALL"), Status::NO_IMAGE, 0, true,
         "MALFORMED_FUNCTION_CALL", {"simplify"}, ""},
        {"finishReason UNEXPECTED_TOOL_CALL", candidate("UNEXPECTED_TOOL_CALL"), Status::NO_IMAGE, 0, true,
         "UNEXPECTED_TOOL_CALL", {"simplify"}, ""},
        {"finishReason TOO_MANY_TOOL_CALLS", candidate("TOO_MANY_TOOL_CALLS"), Status::NO_IMAGE, 0, true,
         "TOO_MANY_TOOL_CALLS", {"simplify"}, ""},
        {"text-only refusal with STOP", candidate("STOP", 0, "I'm unable to help with this request."),
         Status::NO_IMAGE, 0, true, "TEXT_ONLY", {"text instead of an image", "billed"},
         "I'm unable to help with this request."},
        {"text only without finishReason", candidate("", 0, "Here is a description of a cat."), Status::NO_IMAGE, 0,
         true, "TEXT_ONLY", {"Ask explicitly for an image"}, "description of a cat"},
        {"OTHER with text keeps the model's words", candidate("OTHER", 0, "I cannot draw that."), Status::NO_IMAGE, 0,
         true, "OTHER", {"simplify"}, "I cannot draw that."},
        {"no candidates and no promptFeedback", Reply{}, Status::NO_IMAGE, 0, true, "EMPTY_CANDIDATES",
         {"neither an image nor a reason"}, "no candidates"},
        {"candidate with STOP and no content", candidate("STOP"), Status::NO_IMAGE, 0, true, "NO_CONTENT",
         {"simplify"}, "no content"},

        // ---- values from the future: never OK
        {"unknown finishReason, no image", candidate("IMAGE_TOO_AMBITIOUS"), Status::NO_IMAGE, 0, true,
         "IMAGE_TOO_AMBITIOUS", {"simplify"}, "unknown finishReason IMAGE_TOO_AMBITIOUS"},
        {"unknown finishReason with an image is still not OK", candidate("IMAGE_TOO_AMBITIOUS", 1), Status::NO_IMAGE, 0,
         true, "IMAGE_TOO_AMBITIOUS", {"simplify"}, ""},
        {"unknown finishReason naming SAFETY", candidate("IMAGE_SAFETY_V2"), Status::BLOCKED_POLICY, 2, false,
         "IMAGE_SAFETY_V2", {"cannot configure"}, ""},
        {"unknown finishReason naming PROHIBITED", candidate("PROHIBITED_STYLE", 1), Status::BLOCKED_POLICY, 2, false,
         "PROHIBITED_STYLE", {"cannot configure"}, ""},
        {"unknown finishReason naming BLOCK", candidate("MODEL_BLOCKED"), Status::BLOCKED_POLICY, 2, false,
         "MODEL_BLOCKED", {"cannot configure"}, ""},
        {"unknown finishReason naming RECITATION", candidate("VIDEO_RECITATION"), Status::BLOCKED_POLICY, 2, false,
         "VIDEO_RECITATION", {"cannot configure"}, ""},

        // ---- errors inside a 200 stream
        {"mid-stream 500 INTERNAL", stream_error(500, "INTERNAL", "An internal error has occurred."),
         Status::SERVER_ERROR, 0, true, "", {"retries"}, "internal error"},
        {"mid-stream 503 UNAVAILABLE", stream_error(503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
         Status::UNAVAILABLE, 0, true, "MODEL_OVERLOADED", {"overloaded"}, "overloaded"},
        {"mid-stream error with a gRPC code", stream_error(8, "", "Resource has been exhausted (e.g. check quota)."),
         Status::RATE_LIMITED, 0, true, "", {"gave no details"}, "exhausted"},
        {"mid-stream error with only a status string", stream_error(0, "DEADLINE_EXCEEDED", "Deadline expired."),
         Status::TIMEOUT, 0, true, "DEADLINE_EXCEEDED", {"attempt timeout"}, "Deadline"},
        {"mid-stream error of unknown kind", stream_error(0, "BRAND_NEW", "Something odd."), Status::SERVER_ERROR, 0,
         true, "", {"retries"}, "Something odd"},
    };
    return cases;
}

void check(const Diagnosis& d, const ReplyCase& c) {
    INFO("message: " << d.message);
    INFO("advice: " << d.advice);
    CHECK(d.code == c.code);
    CHECK(d.http_status == 200);
    CHECK(d.safety_layer == c.layer);
    CHECK(d.retryable == c.retryable);
    CHECK(d.reason == c.reason);
    // Only a 429 in the stream carries a quota dimension (here: one without details).
    CHECK(d.dimension == (c.code == Status::RATE_LIMITED ? Dimension::UNKNOWN : Dimension::NONE));
    CHECK(d.advice.empty() == (c.code == Status::OK));
    for (const auto& fact : c.advice_has) CHECK(contains(d.advice, fact));
    CHECK(contains(d.message, c.message_has));
}

}  // namespace

TEST_CASE("200 replies: nothing is OK without an image", "[policy][reply]") {
    for (const auto& c : reply_cases())
        DYNAMIC_SECTION(c.name) { check(classify_reply(c.reply), c); }
}

TEST_CASE("200 replies: images that fail validation and bodies that do not decode", "[policy][reply]") {
    struct BodyCase {
        std::string name;
        std::optional<image::Check> failed;
        std::string decode_error;
        bool over_limit;
        bool has_reply;
        std::string body;
        Status code;
        bool retryable;
        std::string reason;
        std::vector<std::string> advice_has;
        std::string message_has;
    };
    auto check_with = [](Status code, std::string reason) {
        image::Check c;
        c.code = code;
        c.reason = std::move(reason);
        c.blank = code == Status::BLANK_IMAGE;
        return c;
    };
    const std::vector<BodyCase> cases = {
        {"blank image", check_with(Status::BLANK_IMAGE, "uniform colour: stddev 0.4 <= 3.0"), "", false, true, "",
         Status::BLANK_IMAGE, true, "BLANK_IMAGE", {"one main subject", "stages", "billed"}, "uniform colour"},
        {"corrupt image", check_with(Status::BAD_RESPONSE, "truncated PNG: no IEND"), "", false, true, "",
         Status::BAD_RESPONSE, true, "CORRUPT_IMAGE", {"retry usually succeeds"}, "truncated PNG"},
        {"image over the configured limits", check_with(Status::INVALID_ARG, "20000x20000 exceeds 16384"), "", false,
         true, "", Status::INVALID_ARG, false, "IMAGE_OVER_LIMIT", {"image limits"}, "exceeds"},
        {"malformed JSON", std::nullopt, "unexpected end of input at byte 5120", false, false, "{\"candidates\": [",
         Status::BAD_RESPONSE, true, "MALFORMED_REPLY", {"retry usually succeeds"}, "unexpected end of input"},
        {"bad base64", std::nullopt, "invalid base64 in inlineData.data", false, false, "", Status::BAD_RESPONSE, true,
         "MALFORMED_REPLY", {"malformed"}, "invalid base64"},
        {"truncated body with a decoded part", std::nullopt, "truncated: the body ended inside a string", false, true, "",
         Status::BAD_RESPONSE, true, "MALFORMED_REPLY", {"cut off"}, "truncated"},
        {"body over the size cap", std::nullopt, "body exceeds 67108864 bytes", true, false, "", Status::BAD_RESPONSE,
         false, "BODY_TOO_LARGE", {"raise the limit", "imageSize"}, "size limit"},
        {"empty body", std::nullopt, "", false, false, "", Status::BAD_RESPONSE, true, "MALFORMED_REPLY",
         {"retry"}, "empty"},
        {"raw chunk array ending in an error", std::nullopt, "", false, false,
         R"([{"candidates": [{"content": {"parts": [{"text": "Sure"}]}}]}, {"error": {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}}])",
         Status::UNAVAILABLE, true, "MODEL_OVERLOADED", {"overloaded"}, "overloaded"},
        {"raw SSE stream with an error event", std::nullopt, "bad chunk", false, false,
         "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Sure\"}]}}]}\r\n\r\n"
         "data: {\"error\": {\"code\": 500, \"message\": \"An internal error has occurred.\", \"status\": \"INTERNAL\"}}\r\n\r\n",
         Status::SERVER_ERROR, true, "", {"retries"}, "internal error"},
    };
    for (const auto& c : cases) {
        DYNAMIC_SECTION(c.name) {
            auto reply = candidate("STOP", 1);
            policy::Observation obs;
            obs.http_status = 200;
            obs.reply = c.has_reply ? &reply : nullptr;
            obs.failed_image = c.failed ? &*c.failed : nullptr;
            obs.decode_error = c.decode_error;
            obs.decode_over_limit = c.over_limit;
            obs.body = c.body;
            auto d = policy::classify(obs, test_now());
            INFO("message: " << d.message);
            INFO("advice: " << d.advice);
            CHECK(d.code == c.code);
            CHECK(d.retryable == c.retryable);
            CHECK(d.reason == c.reason);
            CHECK(d.http_status == 200);
            for (const auto& fact : c.advice_has) CHECK(contains(d.advice, fact));
            CHECK(contains(d.message, c.message_has));
        }
    }
}

TEST_CASE("a key inside the model's text is redacted", "[policy][redact]") {
    auto d = classify_reply(candidate("STOP", 0, "Your key is " + std::string(kTestKey) + ", right?"));
    CHECK(d.code == Status::NO_IMAGE);
    CHECK_FALSE(contains(d.message, kTestKey));
    CHECK(contains(d.message, "[REDACTED]"));
}

TEST_CASE("a reply decoded without a recorded HTTP status is judged as a 200", "[policy][reply]") {
    auto reply = candidate("STOP", 1);
    policy::Observation obs;
    obs.reply = &reply;
    auto d = policy::classify(obs, test_now());
    CHECK(d.code == Status::OK);
    CHECK(d.http_status == 200);

    policy::Observation nothing;
    auto none = policy::classify(nothing, test_now());
    CHECK(none.code == Status::BAD_RESPONSE);
    CHECK(none.reason == "NO_HTTP_STATUS");
    CHECK(none.retryable);
}
