// The emulator's pure pieces, without a server: routes, auth, request validation, scripts,
// delivery plans, error bodies, corruptions, rendering.
#include <catch2/catch.hpp>

#include "nbcore/models.hpp"
#include "../../emulator/src/answer.hpp"
#include "../../emulator/src/auth.hpp"
#include "../../emulator/src/compress.hpp"
#include "../../emulator/src/delivery.hpp"
#include "../../emulator/src/errors.hpp"
#include "../../emulator/src/faults.hpp"
#include "../../emulator/src/render.hpp"
#include "../../emulator/src/quota.hpp"
#include "../../emulator/src/request.hpp"
#include "../../emulator/src/request_log.hpp"
#include "../../emulator/src/routes.hpp"
#include "../../emulator/src/script.hpp"
#include "../../emulator/src/util.hpp"
#include "common.hpp"

#include <zlib.h>

#include <set>

using namespace nbcore::emulator;
using emutest::json;
using emutest::encode_base64;

namespace {

Route ai_studio(const std::string& model, Rpc rpc = Rpc::GenerateContent) {
    Route r;
    r.api = Api::AiStudio;
    r.rpc = rpc;
    r.version = "v1beta";
    r.model = model;
    return r;
}

ApiError expect_error(const ParseResult& result) {
    REQUIRE(std::holds_alternative<ApiError>(result));
    return std::get<ApiError>(result);
}

GenerateParams expect_params(const ParseResult& result) {
    if (auto* e = std::get_if<ApiError>(&result)) FAIL("unexpected error: " << e->message);
    return std::get<GenerateParams>(result);
}

std::string violation_field(const ApiError& e, std::size_t i = 0) {
    return e.details[0]["fieldViolations"][i].value("field", "");
}

}  // namespace

TEST_CASE("routes: AI Studio, Vertex, control and unknown paths", "[routes]") {
    auto r = parse_route("POST", "/v1beta/models/gemini-3-pro-image-preview:generateContent", false);
    REQUIRE(r);
    CHECK(r->api == Api::AiStudio);
    CHECK(r->rpc == Rpc::GenerateContent);
    CHECK(r->model == "gemini-3-pro-image-preview");
    CHECK(r->framing() == Framing::Unary);

    r = parse_route("POST", "/v1beta/models/models/gemini-2.5-flash-image:streamGenerateContent", true);
    REQUIRE(r);
    CHECK(r->model == "gemini-2.5-flash-image");
    CHECK(r->framing() == Framing::Sse);
    CHECK(parse_route("POST", "/v1beta/models/x:streamGenerateContent", false)->framing() == Framing::JsonArray);

    CHECK(parse_route("POST", "/v1beta/models/x:countTokens", false)->rpc == Rpc::CountTokens);
    CHECK(parse_route("GET", "/v1beta/models", false)->rpc == Rpc::ListModels);
    CHECK(parse_route("GET", "/v1beta/models/gemini-2.5-flash-image", false)->rpc == Rpc::GetModel);

    r = parse_route("POST", "/v1beta1/projects/p1/locations/global/publishers/google/models/m:generateContent", false);
    REQUIRE(r);
    CHECK(r->api == Api::Vertex);
    CHECK(r->project == "p1");
    CHECK(r->location == "global");
    CHECK(r->version == "v1beta1");
    CHECK(parse_route("POST", "/v1/publishers/google/models/m:generateContent", false)->api == Api::VertexExpress);

    CHECK(parse_route("POST", "/_emulator/script", false)->control == "script");
    CHECK_FALSE(parse_route("GET", "/_emulator/script", false));
    CHECK_FALSE(parse_route("GET", "/v1beta/models/x:generateContent", false));      // wrong method
    CHECK_FALSE(parse_route("POST", "/v1beta/models/x:predict", false));               // unknown RPC
    CHECK_FALSE(parse_route("POST", "/v1/projects/p/locations/l/models/m:generateContent", false));
    CHECK_FALSE(parse_route("GET", "/", false));
}

TEST_CASE("queries come from the URL, percent-decoded", "[routes]") {
    auto q = parse_query("/v1beta/models?pageSize=2&pageToken=a%2Bb%3D&key=k&flag&x=a+b");
    REQUIRE(q.size() == 5);
    CHECK(query_value(q, "pageSize") == "2");
    CHECK(query_value(q, "pageToken") == "a+b=");
    CHECK(query_value(q, "flag") == "");
    CHECK(query_value(q, "x") == "a b");
    CHECK_FALSE(query_value(q, "missing"));
    CHECK(parse_query("/no/query").empty());
    CHECK(query_value(parse_query("/p?bad=%zz%4"), "bad") == "%zz%4");
}

TEST_CASE("log text is always valid UTF-8", "[util]") {
    CHECK(valid_utf8("plain") == "plain");
    CHECK(valid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x8D\x8C") == "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x8D\x8C");
    CHECK(valid_utf8("a\xFF" "b") == "a\xEF\xBF\xBD" "b");
    CHECK(valid_utf8("\xC3") == "\xEF\xBF\xBD");             // cut sequence
    CHECK(valid_utf8("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");   // overlong
    CHECK(valid_utf8("\xED\xA0\x80").find("\xED") == std::string::npos);   // surrogate
}

TEST_CASE("request log entries hold no secret and no image data", "[log]") {
    LoggedRequest r;
    r.n = 4;
    r.method = "POST";
    r.target = "/v1beta/models/m:generateContent?key=query-key-123&alt=sse";
    r.path = "/v1beta/models/m:generateContent";
    r.headers = {{"X-Goog-Api-Key", "header-key-456"}, {"Authorization", "Bearer token-789-abc"},
                 {"X-Note", "token-789-abc"}, {"REMOTE_ADDR", "127.0.0.1"}};
    r.body = R"({"contents":[{"parts":[{"text":"header-key-456 and query-key-123"},
                {"inline_data":{"mime_type":"image/png","data":"AAAA"}}]}],"configured-key-0": 1})";
    r.model = "m";
    r.status = 429;
    r.fault = "rpm_429";
    auto e = log_entry(r, "configured-key-0");
    std::string text = e.dump();
    for (const char* secret : {"query-key-123", "header-key-456", "token-789-abc", "configured-key-0"}) {
        INFO(secret);
        CHECK(text.find(secret) == std::string::npos);
    }
    CHECK(e["query"]["key"] == "[REDACTED]");
    CHECK(e["query"]["alt"] == "sse");
    CHECK(e["headers"]["x-goog-api-key"] == "[REDACTED]");
    CHECK(e["headers"]["authorization"] == "[REDACTED]");
    CHECK(e["headers"]["x-note"] == "[REDACTED]");
    CHECK_FALSE(e["headers"].contains("remote_addr"));
    CHECK(e["body"]["contents"][0]["parts"][1]["inline_data"]["data"] == "<4 base64 chars>");
    CHECK(e["body"]["contents"][0]["parts"][0]["text"] == "[REDACTED] and [REDACTED]");
    CHECK(e["status"] == 429);

    // A raw body is scrubbed before it is cut, so no half key is left at the cut.
    r.body = std::string(4090, 'x') + "header-key-456";
    auto raw = log_entry(r, "").at("body").get<std::string>();
    CHECK(raw.find("header-key") == std::string::npos);
    CHECK(raw.size() <= 4096 + 3);
}

TEST_CASE("quota: per-minute requests, tokens and images; per-day requests", "[quota]") {
    using namespace std::chrono;
    SteadyTime t0{};
    WallTime wall(seconds(1795743000));
    const QuotaCost one{10, 1};
    auto dims = [](const QuotaRefusal& r) {
        std::vector<QuotaDimension> d;
        for (const auto& b : r.breaches) d.push_back(b.dimension);
        return d;
    };

    QuotaLedger rpm(QuotaLimits{2, 0, 0, 0});
    CHECK_FALSE(rpm.admit("key:a", "m", one, t0, wall));
    CHECK_FALSE(rpm.admit("key:a", "m", one, t0 + seconds(10), wall));
    auto refused = rpm.admit("key:a", "m", one, t0 + seconds(20), wall);
    REQUIRE(refused);
    CHECK(dims(*refused) == std::vector{QuotaDimension::Rpm});
    CHECK(refused->breaches[0].limit == 2);
    CHECK(refused->retry_after == seconds(40));                  // the first request leaves at 60 s
    CHECK_FALSE(rpm.admit("key:a", "other", one, t0 + seconds(20), wall));   // per model
    CHECK_FALSE(rpm.admit("key:b", "m", one, t0 + seconds(20), wall));       // per key
    CHECK(rpm.admit("key:a", "m", one, t0 + seconds(60) - nanoseconds(1), wall));
    CHECK_FALSE(rpm.admit("key:a", "m", one, t0 + seconds(60), wall));

    QuotaLedger tpm(QuotaLimits{0, 100, 0, 0});
    CHECK_FALSE(tpm.admit("key:a", "m", {60, 1}, t0, wall));
    CHECK_FALSE(tpm.admit("key:a", "m", {30, 1}, t0 + seconds(5), wall));
    auto tokens = tpm.admit("key:a", "m", {50, 1}, t0 + milliseconds(30500), wall);
    REQUIRE(tokens);
    CHECK(dims(*tokens) == std::vector{QuotaDimension::Tpm});
    CHECK(tokens->retry_after == milliseconds(29500));           // exact: the 60 tokens leave at 60 s
    CHECK(tpm.admit("key:a", "m", {500, 1}, t0 + seconds(100), wall)->retry_after == seconds(60));   // never fits

    QuotaLedger ipm(QuotaLimits{0, 0, 2, 0});
    CHECK_FALSE(ipm.admit("key:a", "m", {1, 1}, t0, wall));
    CHECK_FALSE(ipm.admit("key:a", "m", {1, 0}, t0 + seconds(1), wall));   // text only: no image
    CHECK_FALSE(ipm.admit("key:a", "m", {1, 1}, t0 + seconds(2), wall));
    auto images = ipm.admit("key:a", "m", {1, 1}, t0 + seconds(3), wall);
    REQUIRE(images);
    CHECK(dims(*images) == std::vector{QuotaDimension::Ipm});
    CHECK(images->retry_after == seconds(57));

    QuotaLedger rpd(QuotaLimits{0, 0, 0, 1});
    WallTime late(seconds(1795766400 - 90));                     // 90 s before midnight Pacific
    CHECK_FALSE(rpd.admit("key:a", "m", one, t0, late));
    auto day = rpd.admit("key:a", "m", one, t0 + seconds(1), late + seconds(1));
    REQUIRE(day);
    CHECK(dims(*day) == std::vector{QuotaDimension::Rpd});
    CHECK(day->retry_after == seconds(89));
    CHECK_FALSE(rpd.admit("key:a", "m", one, t0 + seconds(90), late + seconds(90)));   // a new day

    // Several at once: listed in body order (tokens, requests, images, day), the longest wait wins.
    QuotaLedger all(QuotaLimits{1, 10, 1, 1});
    CHECK_FALSE(all.admit("key:a", "m", {10, 1}, t0, late));
    auto every = all.admit("key:a", "m", {10, 1}, t0 + seconds(1), late + seconds(1));
    REQUIRE(every);
    CHECK(dims(*every) == std::vector{QuotaDimension::Tpm, QuotaDimension::Rpm, QuotaDimension::Ipm, QuotaDimension::Rpd});
    CHECK(every->retry_after == seconds(89));
    CHECK(quota_fault_label(*every) == "quota_tpm+rpm+ipm+rpd");
}

TEST_CASE("quota: enforced 429 bodies per tier, with the exact retry time", "[quota]") {
    using namespace std::chrono;
    auto body = [](QuotaTier tier, QuotaDimension d, nanoseconds wait) {
        return json::parse(error_json(quota_refused(tier, {{d, 7}}, "gemini-2.5-flash-image", wait)).dump());
    };
    auto free_rpm = body(QuotaTier::Free, QuotaDimension::Rpm, milliseconds(44500));
    CHECK(free_rpm["error"]["code"] == 429);
    CHECK(free_rpm["error"]["status"] == "RESOURCE_EXHAUSTED");
    const json& details = free_rpm["error"]["details"];
    REQUIRE(details.size() == 3);
    CHECK(details[0]["@type"] == "type.googleapis.com/google.rpc.Help");
    CHECK(details[1]["violations"][0]["quotaId"] == "GenerateRequestsPerMinutePerProjectPerModel-FreeTier");
    CHECK(details[1]["violations"][0]["quotaMetric"] == "generativelanguage.googleapis.com/generate_content_free_tier_requests");
    CHECK(details[1]["violations"][0]["quotaValue"] == "7");
    CHECK(details[1]["violations"][0]["quotaDimensions"]["model"] == "gemini-2.5-flash-preview-image");
    CHECK(details[2]["retryDelay"] == "44.500s");
    CHECK_THAT(free_rpm["error"]["message"].get<std::string>(), Catch::EndsWith("\nPlease retry in 44.5s."));
    CHECK_THAT(free_rpm["error"]["message"].get<std::string>(), Catch::Contains("limit: 7, model: gemini-2.5-flash-preview-image"));

    CHECK(body(QuotaTier::Paid, QuotaDimension::Rpm, seconds(3))["error"]["details"][1]["violations"][0]["quotaId"] ==
          "GenerateRequestsPerMinutePerProjectPerModel");
    CHECK(body(QuotaTier::Paid, QuotaDimension::Rpd, seconds(3))["error"]["details"][1]["violations"][0]["quotaMetric"] ==
          "generativelanguage.googleapis.com/generate_requests_per_model_per_day");
    CHECK(body(QuotaTier::Paid, QuotaDimension::Tpm, seconds(3))["error"]["details"][1]["violations"][0]["quotaId"] ==
          "GenerateContentPaidTierInputTokensPerModelPerMinute");
    CHECK(body(QuotaTier::Free, QuotaDimension::Tpm, nanoseconds(1))["error"]["details"][2]["retryDelay"] == "0.000000001s");
    CHECK(body(QuotaTier::Free, QuotaDimension::Ipm, microseconds(1500))["error"]["details"][2]["retryDelay"] == "0.001500s");

    CHECK(format_duration_exact(seconds(45)) == "45s");
    CHECK(format_duration_exact(nanoseconds(44'999'999'999)) == "44.999999999s");
    CHECK(seconds_text_exact(nanoseconds(45'578'569'677)) == "45.578569677");
    CHECK(seconds_text_exact(milliseconds(500)) == "0.5");
}

TEST_CASE("gzip: who accepts it, and segments that inflate back", "[gzip]") {
    CHECK(accepts_gzip("gzip"));
    CHECK(accepts_gzip("deflate, gzip;q=0.5, br"));
    CHECK(accepts_gzip("*"));
    CHECK(accepts_gzip("GZIP"));
    CHECK_FALSE(accepts_gzip(""));
    CHECK_FALSE(accepts_gzip("identity"));
    CHECK_FALSE(accepts_gzip("gzip;q=0"));
    CHECK_FALSE(accepts_gzip("br, deflate"));

    std::vector<std::string> events = {"data: {\"a\":1}\r\n\r\n", std::string(100000, 'x'), "data: end\r\n\r\n"};
    auto zipped = gzip_segments(events);
    REQUIRE(zipped.size() == 3);
    std::string all;
    for (const auto& z : zipped) {
        CHECK_FALSE(z.empty());   // every event is flushed on its own
        all += z;
    }
    z_stream z{};
    REQUIRE(inflateInit2(&z, 15 + 16) == Z_OK);
    std::string out(200000, '\0');
    z.next_in = reinterpret_cast<Bytef*>(all.data());
    z.avail_in = static_cast<uInt>(all.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    CHECK(inflate(&z, Z_FINISH) == Z_STREAM_END);
    out.resize(z.total_out);
    inflateEnd(&z);
    CHECK(out == events[0] + events[1] + events[2]);
    CHECK(all.size() < 2000);
}

TEST_CASE("auth: keys on AI Studio, Bearer tokens on Vertex, each wrong case as the API answers", "[auth]") {
    AuthConfig config{"good-key-123", ""};
    Route studio = ai_studio("m");
    CHECK_FALSE(check_auth(studio, {"good-key-123", ""}, config));

    auto none = check_auth(studio, {"", ""}, config);
    REQUIRE(none);
    CHECK(none->http == 403);
    CHECK(none->status == "PERMISSION_DENIED");
    CHECK_THAT(none->message, Catch::StartsWith("Method doesn't allow unregistered callers"));

    auto wrong = check_auth(studio, {"other", ""}, config);
    REQUIRE(wrong);
    CHECK(wrong->http == 400);
    CHECK(wrong->details[0]["reason"] == "API_KEY_INVALID");
    CHECK(wrong->details[0]["domain"] == "googleapis.com");
    CHECK(wrong->details[1]["@type"] == "type.googleapis.com/google.rpc.LocalizedMessage");

    auto bearer = check_auth(studio, {"", "Bearer good-key-123"}, config);
    REQUIRE(bearer);
    CHECK(bearer->http == 401);
    CHECK(bearer->details[0]["reason"] == "ACCESS_TOKEN_TYPE_UNSUPPORTED");
    CHECK(bearer->headers.at(0).first == "WWW-Authenticate");

    CHECK_FALSE(check_auth(studio, {"anything", ""}, AuthConfig{"", ""}));   // "" = any key

    Route vertex = *parse_route("POST", "/v1/projects/p/locations/us-central1/publishers/google/models/m:generateContent", false);
    CHECK_FALSE(check_auth(vertex, {"", "Bearer ya29.token"}, config));
    auto key_on_vertex = check_auth(vertex, {"good-key-123", ""}, config);
    REQUIRE(key_on_vertex);
    CHECK(key_on_vertex->http == 401);
    CHECK(key_on_vertex->details[0]["reason"] == "CREDENTIALS_MISSING");
    CHECK_THAT(key_on_vertex->message, Catch::StartsWith("API keys are not supported by this API."));
    CHECK(check_auth(vertex, {"", ""}, config)->http == 401);
    CHECK(check_auth(vertex, {"", "Bearer wrong"}, AuthConfig{"", "right"})->http == 401);
    CHECK(check_auth(vertex, {"", "Basic abc"}, config)->http == 401);
}

TEST_CASE("validation: syntax, unknown names and types, with the API's messages", "[validate]") {
    Route flash = ai_studio(std::string(nbcore::kModelFlash));

    auto e = expect_error(parse_generate_request("{\"contents\": [", flash));
    CHECK(e.http == 400);
    CHECK(e.message == "Invalid JSON payload received. Unexpected token.");

    e = expect_error(parse_generate_request(R"({"contents":[{"parts":[{"text":"x"}]}],
        "generationConfig":{"imageConfig":{"size":"2K"}}})", flash));
    CHECK(e.message == "Invalid JSON payload received. Unknown name \"size\" at 'generation_config.image_config': Cannot find field.");
    CHECK(violation_field(e) == "generation_config.image_config");

    e = expect_error(parse_generate_request(R"({"prompt":"x"})", flash));
    CHECK(e.message == "Invalid JSON payload received. Unknown name \"prompt\": Cannot find field.");

    e = expect_error(parse_generate_request(R"({"contents":[{"parts":[{"text":"x","colour":1}]}]})", flash));
    CHECK(e.message == "Invalid JSON payload received. Unknown name \"colour\" at 'contents[0].parts[0]': Cannot find field.");

    e = expect_error(parse_generate_request(R"({"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"candidateCount":"two"}})", flash));
    CHECK(e.message == "Invalid value at 'generation_config.candidate_count' (TYPE_INT32), \"two\"");

    e = expect_error(parse_generate_request(R"({"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"responseModalities":["PICTURE"]}})", flash));
    CHECK(e.message == "Invalid value at 'generation_config.response_modalities[0]' "
                       "(type.googleapis.com/google.ai.generativelanguage.v1beta.GenerationConfig.Modality), \"PICTURE\"");

    e = expect_error(parse_generate_request(R"({"contents":"hello"})", flash));
    CHECK(e.message == "Invalid value at 'contents[0]' (type.googleapis.com/google.ai.generativelanguage.v1beta.Content), \"hello\"");

    e = expect_error(parse_generate_request(R"({"contents":[{"parts":[{"inlineData":{"mimeType":"image/png","data":"@@@"}}]}]})", flash));
    CHECK_THAT(e.message, Catch::StartsWith("Invalid value at 'contents[0].parts[0].inline_data.data' (TYPE_BYTES), Base64 decoding failed"));

    // Two unknown names: both reported, one line each.
    e = expect_error(parse_generate_request(R"({"a":1,"b":2})", flash));
    CHECK(e.details[0]["fieldViolations"].size() == 2);
    CHECK(e.message.find('\n') != std::string::npos);

    e = expect_error(parse_generate_request("[1,2]", flash));
    CHECK(e.message == "Invalid JSON payload received. Root element must be a message.");
}

TEST_CASE("validation: snake_case and camelCase are both accepted", "[validate]") {
    Route pro = ai_studio(std::string(nbcore::kModelPro));
    auto png = encode_base64(emutest::two_tone_png(64, 32, {255, 0, 0}, {0, 0, 255}));
    auto p = expect_params(parse_generate_request(
        R"({"contents":[{"role":"user","parts":[{"text":"edit this"},{"inline_data":{"mime_type":"image/png","data":")" + png +
            R"("}}]}],"generation_config":{"response_modalities":["Image"],"image_config":{"aspect_ratio":"16:9","image_size":"2K"},
            "thinking_config":{"include_thoughts":true},"seed":7}})",
        pro));
    CHECK(p.aspect == "16:9");
    CHECK(p.image_size == "2K");
    CHECK(p.want_image);
    CHECK_FALSE(p.want_text);
    CHECK(p.include_thoughts);
    CHECK(p.seed == 7);
    CHECK(p.input_images == 1);
    REQUIRE(p.edit_inputs.size() == 1);
    CHECK(p.edit_inputs[0]->width == 64);
}

TEST_CASE("validation: the image models' own rules", "[validate]") {
    Route flash = ai_studio(std::string(nbcore::kModelFlash));
    Route pro = ai_studio(std::string(nbcore::kModelPro));
    auto body = [](const std::string& config) {
        return R"({"contents":[{"parts":[{"text":"a cat"}]}],"generationConfig":)" + config + "}";
    };

    auto e = expect_error(parse_generate_request("{}", flash));
    CHECK(e.message == "* GenerateContentRequest.contents: contents is not specified\n");
    e = expect_error(parse_generate_request(R"({"contents":[]})", flash));
    CHECK(e.message == "* GenerateContentRequest.contents: contents is not specified\n");
    e = expect_error(parse_generate_request(R"({"contents":[{"parts":[]}]})", flash));
    CHECK(e.message == "* GenerateContentRequest.contents[0].parts: contents.parts must not be empty.\n");
    e = expect_error(parse_generate_request(R"({"contents":[{"parts":[{"thought":true}]}]})", flash));
    CHECK_THAT(e.message, Catch::Contains("required oneof field 'data' must have one initialized field"));
    e = expect_error(parse_generate_request(R"({"contents":[{"role":"bot","parts":[{"text":"x"}]}]})", flash));
    CHECK(e.message == "Please use a valid role: user, model.");

    e = expect_error(parse_generate_request(body(R"({"imageConfig":{"aspectRatio":"7:3"}})"), flash));
    CHECK(violation_field(e) == "generation_config.image_config.aspect_ratio");
    CHECK_THAT(e.message, Catch::Contains("\"7:3\""));
    e = expect_error(parse_generate_request(body(R"({"imageConfig":{"imageSize":"2k"}})"), pro));
    CHECK(violation_field(e) == "generation_config.image_config.image_size");
    CHECK_THAT(e.message, Catch::Contains("\"2k\""));
    e = expect_error(parse_generate_request(body(R"({"imageConfig":{"imageSize":"1K"}})"), flash));
    CHECK_THAT(e.message, Catch::Contains("models/gemini-2.5-flash-image"));
    e = expect_error(parse_generate_request(body(R"({"candidateCount":2})"), pro));
    CHECK(e.message == "Multiple candidates is not enabled for this model");
    CHECK(std::holds_alternative<GenerateParams>(parse_generate_request(body(R"({"candidateCount":2})"), flash)));

    // proto3: empty strings are unset values, not bad ones.
    auto unset = expect_params(parse_generate_request(body(R"({"imageConfig":{"aspectRatio":"","imageSize":""}})"), flash));
    CHECK(unset.aspect == "1:1");
    CHECK(unset.image_size.empty());

    auto text_only = expect_params(parse_generate_request(body(R"({"responseModalities":["TEXT"]})"), flash));
    CHECK(text_only.want_text);
    CHECK_FALSE(text_only.want_image);

    auto defaults = expect_params(parse_generate_request(body("{}"), pro));
    CHECK(defaults.aspect == "1:1");
    CHECK(defaults.image_size == "1K");
    CHECK(defaults.prompt == "a cat");

    // A wide input image sets the default aspect ratio of the answer.
    auto png = encode_base64(emutest::two_tone_png(160, 90, {0, 0, 0}, {255, 255, 255}));
    auto edit = expect_params(parse_generate_request(
        R"({"contents":[{"parts":[{"inlineData":{"mimeType":"image/png","data":")" + png + R"("}}]}]})", flash));
    CHECK(edit.aspect == "16:9");

    e = expect_error(parse_generate_request(
        R"({"contents":[{"parts":[{"inlineData":{"mimeType":"image/png","data":"aGVsbG8gd29ybGQ="}}]}]})", flash));
    CHECK(e.message == "Unable to process input image. Please retry or report in "
                       "https://developers.generativeai.google/guide/troubleshooting");
    e = expect_error(parse_generate_request(
        R"({"contents":[{"parts":[{"inlineData":{"mimeType":"image/tiff","data":"aGVsbG8="}}]}]})", flash));
    CHECK(e.message == "Unsupported MIME type: image/tiff");

    // An unknown model is reported after the syntax checks, as a 404 naming the method.
    Route unknown = ai_studio("gemini-9-ultra-image");
    e = expect_error(parse_generate_request(R"({"contents":[{"parts":[{"text":"x"}]}]})", unknown));
    CHECK(e.http == 404);
    CHECK(e.message == "models/gemini-9-ultra-image is not found for API version v1beta, or is not supported for "
                       "generateContent. Call ListModels to see the list of available models and their supported methods.");
    CHECK(expect_error(parse_generate_request("{\"bad\":1}", unknown)).http == 400);
    unknown.rpc = Rpc::StreamGenerateContent;
    CHECK_THAT(expect_error(parse_generate_request(R"({"contents":[{"parts":[{"text":"x"}]}]})", unknown)).message,
               Catch::Contains("not supported for StreamGenerateContent."));
}

TEST_CASE("validation: Vertex needs roles and knows its own fields", "[validate]") {
    Route vertex = *parse_route("POST", "/v1/projects/p/locations/global/publishers/google/models/gemini-3-pro-image-preview:generateContent", false);
    auto e = expect_error(parse_generate_request(R"({"contents":[{"parts":[{"text":"x"}]}]})", vertex));
    CHECK(e.message == "Please use a valid role: user, model.");
    auto p = expect_params(parse_generate_request(
        R"({"contents":[{"role":"user","parts":[{"text":"x"}]}],"labels":{"team":"a"},
            "generationConfig":{"imageConfig":{"imageOutputOptions":{"mimeType":"image/png"}}}})", vertex));
    CHECK(p.output_mime == "image/png");
    // The same Vertex-only field is unknown to the Developer API.
    Route studio = ai_studio(std::string(nbcore::kModelPro));
    e = expect_error(parse_generate_request(
        R"({"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"imageConfig":{"imageOutputOptions":{}}}})", studio));
    CHECK_THAT(e.message, Catch::Contains("Unknown name \"imageOutputOptions\""));
}

TEST_CASE("tokens: text is about four characters a token, images per model", "[tokens]") {
    CHECK(text_tokens("") == 0);
    CHECK(text_tokens("abcd") == 1);
    CHECK(text_tokens("abcde") == 2);
    CHECK(text_tokens("日本語のテキスト") == 2);   // code points, not bytes

    Route pro = ai_studio(std::string(nbcore::kModelPro), Rpc::CountTokens);
    auto png = encode_base64(emutest::two_tone_png(8, 8, {1, 2, 3}, {4, 5, 6}));
    auto p = expect_params(parse_count_tokens_request(
        R"({"contents":[{"parts":[{"text":"twelve chars"},{"inlineData":{"mimeType":"image/png","data":")" + png + R"("}}]}]})", pro));
    auto j = count_tokens_json(p);
    CHECK(j["totalTokens"] == 3 + 560);
    CHECK(j["promptTokensDetails"][0]["modality"] == "IMAGE");
    CHECK(j["promptTokensDetails"][0]["tokenCount"] == 560);

    Usage u;
    u.prompt_text = 5;
    u.candidates_image = 1120;
    u.candidates_text = 8;
    u.thoughts = 155;
    auto usage = usage_json(u, true);
    CHECK(usage["totalTokenCount"] == 5 + 1128 + 155);
    CHECK(usage["candidatesTokensDetails"][0]["modality"] == "IMAGE");
    CHECK(usage["trafficType"] == "ON_DEMAND");
    CHECK_FALSE(usage_json(Usage{}, false).contains("candidatesTokenCount"));   // zeros omitted
}

TEST_CASE("scripts: the accepted forms", "[script]") {
    auto s = parse_script(R"({"replies": ["rpm_429", "slow_first_byte:1500", "pass",
        {"fault": "500", "times": 2, "model": "models/nano-banana-pro-preview"},
        {"status": 418, "headers": {"X-Tea": "yes"}, "body": {"b": 1, "a": 2}},
        {"pass": true, "stall_ms": 100},
        {"fault": "rpm_429", "retry_delay": "7s"},
        {"delay_ms": 5, "reset": true}],
      "then": "repeat_last", "mix": {"probability": 0.25, "faults": ["503_overloaded", {"fault": "rpm_429"}], "seed": 9}})");
    REQUIRE(s.replies.size() == 8);
    CHECK(s.replies[0].kind == ScriptEntry::Kind::Fault);
    CHECK(s.replies[1].arg == "1500");
    CHECK(s.replies[2].kind == ScriptEntry::Kind::Pass);
    CHECK(s.replies[3].times == 2);
    CHECK(s.replies[3].model == "gemini-3-pro-image-preview");
    CHECK(s.replies[4].kind == ScriptEntry::Kind::Custom);
    CHECK(s.replies[4].body->dump() == R"({"b":1,"a":2})");   // the user's key order is kept
    CHECK(s.replies[5].mods.stall_at->fraction);              // stall_at defaults to half the body
    CHECK(*s.replies[6].retry_delay == 7.0);
    CHECK(s.replies[7].mods.reset_at->value == 0);
    CHECK(s.repeat_last);
    REQUIRE(s.mix);
    CHECK(s.mix->faults.size() == 2);
    CHECK(parse_script(R"(["500"])").replies.size() == 1);     // a bare list is the replies
}

TEST_CASE("scripts: mistakes are rejected with the place and the reason", "[script]") {
    auto message = [](const std::string& text) {
        try {
            parse_script(text);
        } catch (const std::invalid_argument& e) {
            return std::string(e.what());
        }
        return std::string("accepted");
    };
    CHECK_THAT(message("{"), Catch::StartsWith("script: not valid JSON"));
    CHECK_THAT(message(R"({"replies":["rpm429"]})"), Catch::StartsWith("script: replies[0]: unknown fault \"rpm429\"; known faults: rpm_429,"));
    CHECK(message(R"({"replies":[{"fault":"500","delai_ms":3}]})") == "script: replies[0]: unknown field \"delai_ms\"");
    CHECK_THAT(message(R"({"replies":[{"delay_ms":-1}]})"), Catch::Contains("\"delay_ms\" must be an integer from 0"));
    CHECK_THAT(message(R"({"replies":[{"fault":"500","status":500}]})"), Catch::Contains("only one of"));
    CHECK_THAT(message(R"({"replies":[{"fault":"500","retry_delay":3}]})"), Catch::Contains("only applies to the 429 faults"));
    CHECK_THAT(message(R"({"replies":["500:3"]})"), Catch::Contains("takes no argument"));
    CHECK_THAT(message(R"({"replies":["slow_first_byte:soon"]})"), Catch::Contains("milliseconds"));
    CHECK_THAT(message(R"({"replies":[{"times":0}]})"), Catch::Contains("\"times\""));
    CHECK_THAT(message(R"({"replies":[{"stall_at":"0.5"}]})"), Catch::Contains("needs \"stall_ms\""));
    CHECK_THAT(message(R"({"replies":[{"truncate_at":"half"}]})"), Catch::Contains("\"truncate_at\" must be a byte count"));
    CHECK_THAT(message(R"({"replies":[{"body":{}}]})"), Catch::Contains("need a \"status\""));
    CHECK_THAT(message(R"({"replies":[{"status":99}]})"), Catch::Contains("\"status\" must be an integer from 100 to 599"));
    CHECK_THAT(message(R"({"then":"again"})"), Catch::StartsWith("script: then: must be"));
    CHECK_THAT(message(R"({"mix":{"probability":2,"faults":["500"]}})"), Catch::Contains("probability"));
    CHECK_THAT(message(R"({"mix":{"probability":0.5}})"), Catch::Contains("needs \"faults\""));
    CHECK_THAT(message(R"({"replys":[]})"), Catch::Contains("unknown field \"replys\""));
    CHECK_THAT(message(R"({"replies":[{"headers":{"X-A":"b\r\nc"}}]})"), Catch::Contains("cannot be sent"));
}

TEST_CASE("scheduler: arrival order, times, model filters, repeat_last, mix", "[script]") {
    Scheduler s;
    s.load(parse_script(R"({"replies": [{"fault":"500","times":2}, {"fault":"504","model":"gemini-3-pro-image-preview"}, "rpm_429"]})"));
    CHECK(s.queued() == 4);
    CHECK(s.next("gemini-2.5-flash-image")->fault == "500");
    CHECK(s.next("gemini-2.5-flash-image")->fault == "500");
    CHECK(s.next("gemini-2.5-flash-image")->fault == "rpm_429");   // the Pro-only entry waits
    CHECK_FALSE(s.next("gemini-2.5-flash-image"));                 // nothing left for Flash: normal answer
    CHECK(s.next("nano-banana-pro-preview")->fault == "504");      // aliases match
    CHECK_FALSE(s.next("gemini-3-pro-image-preview"));              // "then": pass

    s.load(parse_script(R"({"replies": ["500", "503_overloaded"], "then": "repeat_last"})"));
    s.next("m");
    for (int i = 0; i < 3; ++i) CHECK(s.next("m")->fault == "503_overloaded");

    auto run_mix = [] {
        Scheduler m;
        m.load(parse_script(R"({"mix": {"probability": 0.3, "faults": ["500", "rpm_429"], "seed": 42}})"));
        std::string seq;
        for (int i = 0; i < 200; ++i) {
            auto e = m.next("m");
            seq += e ? (e->fault == "500" ? 'a' : 'b') : '.';
        }
        return seq;
    };
    std::string first = run_mix();
    CHECK(first == run_mix());   // the same seed gives the same sequence
    auto faults = std::count_if(first.begin(), first.end(), [](char c) { return c != '.'; });
    CHECK(faults > 35);
    CHECK(faults < 85);
    CHECK(first.find('a') != std::string::npos);
    CHECK(first.find('b') != std::string::npos);
}

TEST_CASE("delivery plans: stalls, resets, truncation, trickle", "[delivery]") {
    using K = Step::Kind;
    Modifiers none;
    CHECK(plan_delivery({100}, none) == std::vector<Step>{{K::Write, 0, 100, 0}});
    CHECK(plan_delivery({10, 20}, none) == std::vector<Step>{{K::Write, 0, 10, 0}, {K::Write, 10, 30, 0}});

    Modifiers stall;
    stall.stall_ms = 300;
    stall.stall_at = BodyOffset::part(0.5);
    CHECK(plan_delivery({100}, stall) == std::vector<Step>{{K::Write, 0, 50, 0}, {K::Sleep, 0, 0, 300}, {K::Write, 50, 100, 0}});

    Modifiers reset;
    reset.reset = true;
    reset.reset_at = BodyOffset::bytes(40);
    CHECK(plan_delivery({100}, reset) == std::vector<Step>{{K::Write, 0, 40, 0}, {K::Reset, 0, 0, 0}});
    reset.reset_at = BodyOffset::bytes(0);
    CHECK(plan_delivery({100}, reset) == std::vector<Step>{{K::Reset, 0, 0, 0}});

    Modifiers cut;
    cut.truncate_at = BodyOffset::bytes(30);
    CHECK(plan_delivery({20, 80}, cut) == std::vector<Step>{{K::Write, 0, 20, 0}, {K::Write, 20, 30, 0}, {K::Close, 0, 0, 0}});

    Modifiers trickle;
    trickle.trickle_bytes = 40;
    trickle.trickle_ms = 5;
    CHECK(plan_delivery({100}, trickle) == std::vector<Step>{{K::Write, 0, 40, 0}, {K::Sleep, 0, 0, 5}, {K::Write, 40, 80, 0},
                                                               {K::Sleep, 0, 0, 5}, {K::Write, 80, 100, 0}});
}

TEST_CASE("quota bodies: violations, help and retry info in the API's order", "[errors]") {
    auto rpm = quota_exhausted(Quota::FreeRpm, "gemini-2.5-flash-image", 47);
    CHECK(rpm.http == 429);
    CHECK(rpm.status == "RESOURCE_EXHAUSTED");
    CHECK(rpm.details[0]["@type"] == "type.googleapis.com/google.rpc.QuotaFailure");
    CHECK(rpm.details[0]["violations"][0]["quotaId"] == "GenerateRequestsPerMinutePerProjectPerModel-FreeTier");
    CHECK(rpm.details[0]["violations"][0]["quotaDimensions"]["model"] == "gemini-2.5-flash-preview-image");
    CHECK(rpm.details[1]["@type"] == "type.googleapis.com/google.rpc.Help");
    CHECK(rpm.details[2]["retryDelay"] == "47s");

    auto rpd = quota_exhausted(Quota::FreeRpd, "gemini-3-pro-image-preview", 45.578569677);
    CHECK(rpd.details[0]["@type"] == "type.googleapis.com/google.rpc.Help");   // newer bodies lead with Help
    CHECK(rpd.details[2]["retryDelay"] == "45s");                              // RetryInfo rounds down...
    CHECK_THAT(rpd.message, Catch::EndsWith("Please retry in 45.578569677s."));  // ...the text does not

    auto zero = quota_exhausted(Quota::ZeroQuota, "gemini-3-pro-image-preview", 10);
    CHECK_THAT(zero.message, Catch::Contains("limit: 0"));
    for (const auto& v : zero.details[1]["violations"]) CHECK(v["quotaValue"] == "0");
    CHECK(quota_exhausted(Quota::FreeRpmRpd, "m", 1).details[1]["violations"].size() == 2);
    CHECK(quota_exhausted(Quota::Legacy, "m", 0).details.empty());
    CHECK(quota_exhausted(Quota::FreeRpm, "m", 0.25).details[2]["retryDelay"] == "0.250s");
}

TEST_CASE("faults: every name is unique and has a way to answer", "[faults]") {
    std::set<std::string> names;
    for (const auto& f : fault_table()) {
        CHECK(names.insert(std::string(f.name)).second);
        CHECK((f.build != nullptr) != (f.transport != nullptr));
        CHECK_FALSE(f.summary.empty());
    }
    CHECK(names.size() >= 47);
    CHECK(find_fault("rpm_429"));
    CHECK_FALSE(find_fault("nope"));
}

TEST_CASE("corruptions: the damaged payloads really are damaged", "[faults]") {
    SceneSpec spec;
    spec.prompt = "test";
    spec.width = 256;
    spec.height = 128;
    std::string png = encode_png(render_scene(spec));
    REQUIRE(emutest::image_info(png).decodes);

    std::string cut = truncate_png_bytes(png);
    CHECK(cut.size() < png.size());
    CHECK(cut.find("IEND") == std::string::npos);
    CHECK(emutest::image_info(cut).width == 256);   // the header survives...
    CHECK_FALSE(emutest::image_info(cut).decodes);   // ...the pixels do not

    std::string bad = corrupt_png_bytes(png);
    CHECK(bad.size() == png.size());
    CHECK(bad != png);
    CHECK_FALSE(emutest::image_info(bad).decodes);

    std::string b64 = emutest::encode_base64(png);
    std::string broken = corrupt_base64_text(b64);
    CHECK_FALSE(is_valid_base64(broken));
    CHECK(is_valid_base64(b64));
}

TEST_CASE("rendering: deterministic, and every input shows", "[render]") {
    SceneSpec a;
    a.prompt = "a lighthouse at dawn";
    a.model = "gemini-2.5-flash-image";
    a.width = 320;
    a.height = 180;
    SceneSpec b = a;
    CHECK(render_scene(a).rgb == render_scene(b).rgb);
    b.prompt = "a lighthouse at dusk";
    CHECK(render_scene(a).rgb != render_scene(b).rgb);
    b = a;
    b.seed = 1;
    CHECK(render_scene(a).rgb != render_scene(b).rgb);
    b = a;
    b.grain = 8;
    CHECK(encode_png(render_scene(b)).size() > 2 * encode_png(render_scene(a)).size());   // grain costs bytes

    auto flat = encode_png(flat_raster(300, 200, 10, 20, 30));
    auto info = emutest::image_info(flat);
    CHECK(info.width == 300);
    CHECK(info.height == 200);
    auto jpeg = encode_jpeg(render_scene(a), 90);
    CHECK(static_cast<unsigned char>(jpeg[0]) == 0xFF);
    CHECK(static_cast<unsigned char>(jpeg[1]) == 0xD8);
}

TEST_CASE("image cache: one render per key, least recently used dropped first", "[render]") {
    ImageCache cache(2500);
    int renders = 0;
    auto make = [&] {
        ++renders;
        EncodedImage e;
        e.bytes.assign(500, 'x');
        e.base64.assign(500, 'y');
        return e;
    };
    cache.get(1, make);
    cache.get(1, make);
    CHECK(renders == 1);
    CHECK(cache.hits() == 1);
    cache.get(2, make);
    cache.get(3, make);   // over budget: key 1 is the least recently used
    cache.get(2, make);
    CHECK(renders == 3);
    cache.get(1, make);
    CHECK(renders == 4);
}

TEST_CASE("page tokens round-trip and look like the API's", "[models]") {
    CHECK(listed_model_count() == 3);
    int next = 0;
    auto page = models_list_json(1, 0, next);
    CHECK(page["models"].size() == 1);
    CHECK(next == 1);
    auto token = page["nextPageToken"].get<std::string>();
    CHECK(index_from_page_token(token) == 1);
    CHECK(emutest::decode_base64(token).find("models/gemini-3-pro-image-preview") != std::string::npos);
    CHECK_FALSE(index_from_page_token("garbage"));
    models_list_json(50, 0, next);
    CHECK(next == -1);
}

TEST_CASE("edit modes: the cutout phrase and the mask test", "[render][edit]") {
    CHECK(cutout_key_colour("a fox on a plain solid background of colour #1E90ff") == 0x1E90FFu);
    CHECK(cutout_key_colour("A FOX ON A PLAIN SOLID BACKGROUND OF COLOUR #00FF00.") == 0x00FF00u);
    CHECK(cutout_key_colour("a fox, on  a plain\nsolid background of colour\t#000000, soft light") == 0x000000u);
    CHECK(cutout_key_colour("(on a plain solid background of colour #abcdef)") == 0xABCDEFu);
    CHECK_FALSE(cutout_key_colour("a fox on a plain solid background of color #1E90FF"));     // the spelling is fixed
    CHECK_FALSE(cutout_key_colour("a fox on a plain solid background of colour #1E90F"));     // five digits
    CHECK_FALSE(cutout_key_colour("a fox on a plain solid background of colour #1E90FFAA"));  // eight
    CHECK_FALSE(cutout_key_colour("a fox on a plain solid background of colour 1E90FF"));     // no #
    CHECK_FALSE(cutout_key_colour("icon a plain solid background of colour #1E90FF"));        // "on" inside a word
    CHECK_FALSE(cutout_key_colour("a fox on a plain solid background of colour #GGGGGG"));

    auto image = [](int w, int h, auto fill) {
        InputImage img;
        img.width = w;
        img.height = h;
        img.rgb.resize(static_cast<std::size_t>(w) * static_cast<std::size_t>(h) * 3);
        for (std::size_t i = 0; i < img.rgb.size() / 3; ++i) fill(i, img.rgb.data() + i * 3);
        return img;
    };
    auto set = [](std::uint8_t* p, std::uint8_t r, std::uint8_t g, std::uint8_t b) { p[0] = r, p[1] = g, p[2] = b; };
    // Near black is every channel <= 16, near white every channel >= 239.
    CHECK(is_mask_image(image(100, 100, [&](std::size_t i, std::uint8_t* p) { set(p, i % 2 ? 16 : 239, i % 2 ? 0 : 255, i % 2 ? 16 : 239); })));
    CHECK_FALSE(is_mask_image(image(100, 100, [&](std::size_t i, std::uint8_t* p) { set(p, i % 2 ? 17 : 255, 0, 0); })));
    // 99 % of the pixels: 100 grey ones in 10000 pass, 101 do not.
    CHECK(is_mask_image(image(100, 100, [&](std::size_t i, std::uint8_t* p) { i < 100 ? set(p, 128, 128, 128) : set(p, 0, 0, 0); })));
    CHECK_FALSE(is_mask_image(image(100, 100, [&](std::size_t i, std::uint8_t* p) { i < 101 ? set(p, 128, 128, 128) : set(p, 0, 0, 0); })));
    // Pure colours are not black or white.
    CHECK_FALSE(is_mask_image(image(10, 10, [&](std::size_t, std::uint8_t* p) { set(p, 255, 0, 0); })));
}
