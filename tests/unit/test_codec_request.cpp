// encode_request (Request -> generateContent JSON) and validate_request (one case per rule).
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "nbcore/models.hpp"
#include "nbcore/status.hpp"
#include "test_codec_util.hpp"

using namespace nbcore;
using namespace codec_test;
using nlohmann::json;

namespace {

InputImage input_image(const std::string& mime, const std::string& bytes) {
    return {mime, std::make_shared<const Blob>(bytes.data(), bytes.size())};
}

Request minimal(std::string prompt = "a lighthouse at dawn") {
    Request r;
    r.prompt = std::move(prompt);
    return r;
}

// The message of the INVALID_ARG validate_request throws; "" when it accepts.
std::string rejection(const Request& req, const std::string& model = std::string(kModelPro)) {
    try {
        validate_request(req, model);
    } catch (const Error& e) {
        REQUIRE(e.code() == Status::INVALID_ARG);
        REQUIRE_FALSE(e.diagnosis().advice.empty());
        return e.diagnosis().message;
    }
    return "";
}

}  // namespace

TEST_CASE("encode_request: every field set, compared structurally with the golden body", "[codec][encode]") {
    std::string png = random_bytes(1000, 21);
    std::string jpg = random_bytes(77, 22);
    Request req;
    req.model = "gemini-3-pro-image-preview";
    req.prompt = "Make it Spanish";
    req.images = {input_image("image/png", png), input_image("image/jpeg", jpg)};
    req.aspect_ratio = "16:9";
    req.image_size = "2K";
    req.safety = {{"HARM_CATEGORY_HARASSMENT", "BLOCK_ONLY_HIGH"}, {"HARM_CATEGORY_HATE_SPEECH", "BLOCK_NONE"}};
    req.system_instruction = "You are an illustrator.";
    req.seed = -42;
    req.temperature = 0.75;
    req.candidate_count = 1;
    req.include_thoughts = true;
    req.history = {{"user", R"([{"text":"Create an infographic"}])"},
                   {"model", R"([{"text":"Here it is","thoughtSignature":"EqCz"},{"inlineData":{"mimeType":"image/jpeg","data":"/9j/"},"thoughtSignature":"Erk"}])"}};

    json golden = {
        {"contents",
         {{{"role", "user"}, {"parts", {{{"text", "Create an infographic"}}}}},
          {{"role", "model"},
           {"parts",
            {{{"text", "Here it is"}, {"thoughtSignature", "EqCz"}},
             {{"inlineData", {{"mimeType", "image/jpeg"}, {"data", "/9j/"}}}, {"thoughtSignature", "Erk"}}}}},
          {{"role", "user"},
           {"parts",
            {{{"text", "Make it Spanish"}},
             {{"inlineData", {{"mimeType", "image/png"}, {"data", b64(png)}}}},
             {{"inlineData", {{"mimeType", "image/jpeg"}, {"data", b64(jpg)}}}}}}}}},
        {"systemInstruction", {{"parts", {{{"text", "You are an illustrator."}}}}}},
        {"safetySettings",
         {{{"category", "HARM_CATEGORY_HARASSMENT"}, {"threshold", "BLOCK_ONLY_HIGH"}},
          {{"category", "HARM_CATEGORY_HATE_SPEECH"}, {"threshold", "BLOCK_NONE"}}}},
        {"generationConfig",
         {{"responseModalities", {"TEXT", "IMAGE"}},
          {"imageConfig", {{"aspectRatio", "16:9"}, {"imageSize", "2K"}}},
          {"seed", -42},
          {"temperature", 0.75},
          {"candidateCount", 1},
          {"thinkingConfig", {{"includeThoughts", true}}}}}};

    std::string body = api::encode_request(req);
    REQUIRE(json::parse(body) == golden);
    // No pretty-printing, no DOM: the body is compact.
    REQUIRE(body.find('\n') == std::string::npos);
}

TEST_CASE("encode_request: only what is set is sent", "[codec][encode]") {
    json body = json::parse(api::encode_request(minimal()));
    json expect = {{"contents", {{{"role", "user"}, {"parts", {{{"text", "a lighthouse at dawn"}}}}}}},
                   {"generationConfig", {{"responseModalities", {"TEXT", "IMAGE"}}}}};
    REQUIRE(body == expect);

    Request image_only = minimal();
    image_only.image_only = true;
    image_only.aspect_ratio = "1:1";
    json b = json::parse(api::encode_request(image_only));
    REQUIRE(b["generationConfig"]["responseModalities"] == json({"IMAGE"}));
    REQUIRE(b["generationConfig"]["imageConfig"] == json({{"aspectRatio", "1:1"}}));

    Request size_only = minimal();
    size_only.image_size = "4K";
    size_only.temperature = std::numeric_limits<double>::quiet_NaN();   // has no JSON spelling
    json s = json::parse(api::encode_request(size_only));
    REQUIRE(s["generationConfig"]["imageConfig"] == json({{"imageSize", "4K"}}));
    REQUIRE_FALSE(s["generationConfig"].contains("temperature"));
}

TEST_CASE("encode_request: an edit with no prompt sends only the image part", "[codec][encode]") {
    std::string bytes = random_bytes(5, 3);
    Request req;
    req.images = {input_image("image/webp", bytes)};
    json body = json::parse(api::encode_request(req));
    REQUIRE(body["contents"][0]["parts"] ==
            json::parse(R"([{"inlineData":{"mimeType":"image/webp","data":")" + b64(bytes) + "\"}}]"));
}

TEST_CASE("encode_request: strings are escaped, UTF-8 passes through", "[codec][encode]") {
    std::string tricky = "quote \" backslash \\ slash / newline \n tab \t cr \r bell \x07 nul ";
    tricky += '\0';
    tricky += " unit \x1f del \x7f caf\xC3\xA9 \xE2\x80\x99 \xF0\x9F\x8D\x8C";
    Request req = minimal(tricky);
    req.system_instruction = "</script> \b\f";
    req.safety = {{"A\"B", "C\\D"}};
    std::string body = api::encode_request(req);
    json parsed = json::parse(body);
    REQUIRE(parsed["contents"][0]["parts"][0]["text"] == tricky);
    REQUIRE(parsed["systemInstruction"]["parts"][0]["text"] == "</script> \b\f");
    REQUIRE(parsed["safetySettings"][0]["category"] == "A\"B");
    REQUIRE(parsed["safetySettings"][0]["threshold"] == "C\\D");
    // Exact spellings: short escapes where JSON has them, \u00XX for other control characters,
    // UTF-8 and DEL raw.
    REQUIRE(body.find(R"(quote \" backslash \\ slash / newline \n tab \t cr \r bell \u0007 nul \u0000 unit \u001f del )"
                      "\x7f caf\xC3\xA9 \xE2\x80\x99 \xF0\x9F\x8D\x8C") != std::string::npos);
    REQUIRE(body.find(R"(\b\f)") != std::string::npos);
}

TEST_CASE("encode_request: base64 of input images of every length", "[codec][encode]") {
    for (std::size_t n : {1, 2, 3, 4, 5, 100, 65537}) {
        std::string bytes = random_bytes(n, static_cast<unsigned>(n));
        Request req = minimal();
        req.images = {input_image("image/png", bytes)};
        json body = json::parse(api::encode_request(req));
        std::string data = body["contents"][0]["parts"][1]["inlineData"]["data"];
        REQUIRE(data == b64(bytes));
        Blob back;
        api::Base64Decoder dec;
        REQUIRE(dec.feed(data.data(), data.size(), back));
        REQUIRE(dec.finish(back));
        REQUIRE(back.view() == bytes);
    }
}

TEST_CASE("a reply's parts, echoed as a history turn, arrive verbatim", "[codec][encode]") {
    std::string img = random_bytes(300, 8);
    std::string reply_body = R"({"candidates":[{"content":{"role":"model","parts":[{"text":"Here","thoughtSignature":"EqCz"},{"inlineData":{"mimeType":"image/jpeg","data":")" +
                             b64(img) + R"("},"thoughtSignature":"Erk"}]}}]})";
    Reply reply;
    std::string err;
    REQUIRE(api::decode_reply(reply_body, reply, err));
    Request next = minimal("Now in Spanish");
    next.history = {{"user", R"([{"text":"Create an infographic"}])"},
                    {"model", api::parts_json_with_images(reply)}};
    REQUIRE_NOTHROW(validate_request(next, std::string(kModelPro)));
    json body = json::parse(api::encode_request(next));
    REQUIRE(body["contents"][1]["parts"] == json::parse(reply_body)["candidates"][0]["content"]["parts"]);
    REQUIRE(body["contents"][2]["parts"][0]["text"] == "Now in Spanish");
}

// --- validate_request -------------------------------------------------------------------------

TEST_CASE("validate_request accepts good requests, including unknown models", "[codec][validate]") {
    Request req = minimal();
    req.aspect_ratio = "21:9";
    req.image_size = "4K";
    req.temperature = 2.0;
    req.candidate_count = 1;
    req.seed = std::numeric_limits<std::int32_t>::min();
    req.images = {input_image("image/heic", "x"), input_image("image/heif", "y")};
    REQUIRE(rejection(req) == "");
    REQUIRE(rejection(req, "gemini-9-ultra-image") == "");   // new models appear; the server decides
    REQUIRE(rejection(req, "nano-banana-pro-preview") == "");
    Request flash = minimal();
    flash.aspect_ratio = "9:16";
    REQUIRE(rejection(flash, std::string(kModelFlash)) == "");
    Request edit;   // no prompt, one image: an edit
    edit.images = {input_image("image/png", "z")};
    REQUIRE(rejection(edit) == "");
}

TEST_CASE("validate_request: one rejection per rule, naming the field and the fix", "[codec][validate]") {
    struct Rule {
        const char* name;
        std::function<void(Request&)> change;
        std::string model;
        std::string message;   // exact, or a prefix when it ends in "..."
    };
    const std::string pro(kModelPro), flash(kModelFlash);
    std::string big(7 * 1024 * 1024 + 1, 'x');
    std::string six_mb(6 * 1024 * 1024, 'y');
    const std::vector<Rule> rules = {
        {"empty prompt, no images", [](Request& r) { r.prompt = ""; }, pro,
         "prompt is empty; give a prompt, or at least one input image to edit"},
        {"blank prompt", [](Request& r) { r.prompt = " \n\t"; }, pro, "prompt is empty; ..."},
        {"prompt not UTF-8", [](Request& r) { r.prompt = "caf\xE9"; }, pro,
         "prompt is not valid UTF-8; the API accepts UTF-8 text only"},
        {"system instruction not UTF-8", [](Request& r) { r.system_instruction = "\xC0\xAF"; }, pro,
         "system_instruction is not valid UTF-8; ..."},
        {"aspect ratio", [](Request& r) { r.aspect_ratio = "16:10"; }, pro,
         "aspect_ratio \"16:10\" is not a supported aspect ratio; use one of 1:1, 2:3, 3:2, 3:4, 4:3, 4:5, "
         "5:4, 9:16, 16:9, 21:9"},
        {"3.1-only aspect ratio", [](Request& r) { r.aspect_ratio = "1:4"; }, pro,
         "aspect_ratio \"1:4\" is not a supported aspect ratio; ..."},
        {"lowercase image size", [](Request& r) { r.image_size = "2k"; }, pro,
         "image_size \"2k\" must be written with an uppercase K: \"2K\" (the API rejects lowercase sizes)"},
        {"unknown image size", [](Request& r) { r.image_size = "8K"; }, pro,
         "image_size \"8K\" is not supported; use one of 1K, 2K, 4K"},
        {"image size on Flash", [](Request& r) { r.image_size = "2K"; }, flash,
         "image_size \"2K\" is not accepted by gemini-2.5-flash-image, which always answers at 1K; leave "
         "image_size empty, or use gemini-3-pro-image-preview for 2K and 4K"},
        {"image size on the Flash alias", [](Request& r) { r.image_size = "1K"; },
         "gemini-2.5-flash-image-preview", "image_size \"1K\" is not accepted by gemini-2.5-flash-image..."},
        {"temperature too high", [](Request& r) { r.temperature = 2.5; }, pro,
         "temperature 2.5 is out of range; use a value from 0.0 to 2.0 (1.0 is the models' default)"},
        {"temperature negative", [](Request& r) { r.temperature = -0.1; }, pro, "temperature -0.1 is out of range; ..."},
        {"temperature NaN", [](Request& r) { r.temperature = std::nan(""); }, pro, "temperature nan is out of range; ..."},
        {"candidate count", [](Request& r) { r.candidate_count = 2; }, pro,
         "candidate_count 2 is not supported: image models return one candidate; leave it unset or use 1"},
        {"candidate count zero", [](Request& r) { r.candidate_count = 0; }, pro, "candidate_count 0 is not supported..."},
        {"too many images",
         [](Request& r) { r.images.assign(15, input_image("image/png", "p")); }, pro,
         "images: 15 input images given; the API takes at most 14: send fewer reference images"},
        {"image over 7 MiB", [&](Request& r) { r.images = {input_image("image/png", "p"), input_image("image/jpeg", big)}; },
         pro, "images[1] is 7.0 MiB; an inline image may be at most 7 MiB: downscale or recompress it"},
        {"request over 20 MB",
         [&](Request& r) { r.images.assign(3, input_image("image/png", six_mb)); }, pro,
         "request is about 25.2 MB once encoded; the API accepts at most 20 MB inline: send fewer or smaller images"},
        {"unknown MIME", [](Request& r) { r.images = {input_image("image/gif", "g")}; }, pro,
         "images[0].mime \"image/gif\" is not supported; use one of image/png, image/jpeg, image/webp, "
         "image/heic, image/heif"},
        {"empty image", [](Request& r) { r.images = {input_image("image/png", "")}; }, pro,
         "images[0].data is empty; give the encoded image bytes"},
        {"null image", [](Request& r) { r.images = {InputImage{"image/png", nullptr}}; }, pro,
         "images[0].data is empty; ..."},
        {"empty safety category", [](Request& r) { r.safety = {{"", "BLOCK_NONE"}}; }, pro,
         "safety[0].category is empty; ..."},
        {"empty safety threshold", [](Request& r) { r.safety = {{"HARM_CATEGORY_HARASSMENT", ""}}; }, pro,
         "safety[0].threshold is empty; use one of BLOCK_LOW_AND_ABOVE, BLOCK_MEDIUM_AND_ABOVE, "
         "BLOCK_ONLY_HIGH, BLOCK_NONE, OFF"},
        {"history role", [](Request& r) { r.history = {{"assistant", "[]"}}; }, pro,
         "history[0].role \"assistant\" is not valid; use user or model"},
        {"history parts", [](Request& r) { r.history = {{"model", R"({"text":"x"})"}}; }, pro,
         "history[0].parts_json must be a JSON array of parts"},
    };
    for (const auto& rule : rules) {
        INFO(rule.name);
        Request req = minimal();
        rule.change(req);
        std::string msg = rejection(req, rule.model);
        REQUIRE_FALSE(msg.empty());
        std::string_view expect = rule.message;
        if (expect.size() > 3 && expect.substr(expect.size() - 3) == "...") {
            INFO(msg);
            REQUIRE(msg.rfind(expect.substr(0, expect.size() - 3), 0) == 0);
        } else {
            REQUIRE(msg == rule.message);
        }
    }
}
