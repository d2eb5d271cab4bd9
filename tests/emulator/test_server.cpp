// The emulator over loopback with libcurl: routes, auth, validation, answers, streams, the
// request log and control routes.
#include <catch2/catch.hpp>

#include <set>
#include <thread>

#include "common.hpp"
#include "nbcore/models.hpp"

using namespace emutest;

namespace {

json body_json(const HttpResult& r) {
    INFO("body: " << r.body.substr(0, 400));
    return json::parse(r.body);
}

std::string error_status(const HttpResult& r) { return body_json(r)["error"]["status"].get<std::string>(); }

}  // namespace

TEST_CASE("server: health and unknown paths", "[server]") {
    Emulator emu;
    auto health = get(emu.url("/_emulator/health"));
    CHECK(health.status == 200);
    CHECK(body_json(health)["ok"] == true);

    auto missing = post(emu.url("/v1beta/files:upload"), "{}", {kKeyHeader});
    CHECK(missing.status == 404);
    CHECK_THAT(missing.header("content-type"), Catch::StartsWith("text/html"));
    CHECK_THAT(missing.body, Catch::Contains("The requested URL <code>/v1beta/files:upload</code> was not found"));
    CHECK(get(emu.url("/v1beta/models/gemini-2.5-flash-image:generateContent"), {kKeyHeader}).status == 404);
}

TEST_CASE("server: models.list pages and models.get", "[server][models]") {
    Emulator emu;
    auto all = get(emu.url("/v1beta/models"), {kKeyHeader});
    REQUIRE(all.status == 200);
    auto list = body_json(all);
    REQUIRE(list["models"].size() == 3);
    CHECK_FALSE(list.contains("nextPageToken"));
    const json& pro = list["models"][1];
    CHECK(pro["name"] == "models/gemini-3-pro-image-preview");
    CHECK(pro["displayName"] == "Nano Banana Pro");
    CHECK(pro["inputTokenLimit"] == 131072);
    CHECK(pro["thinking"] == true);
    CHECK(pro["supportedGenerationMethods"][0] == "generateContent");
    CHECK(list["models"][0]["maxTemperature"] == 1);

    auto first = body_json(get(emu.url("/v1beta/models?pageSize=2"), {kKeyHeader}));
    REQUIRE(first["models"].size() == 2);
    char* token = curl_easy_escape(nullptr, first["nextPageToken"].get<std::string>().c_str(), 0);
    auto second = body_json(get(emu.url("/v1beta/models?pageSize=2&pageToken=" + std::string(token)), {kKeyHeader}));
    curl_free(token);
    REQUIRE(second["models"].size() == 1);
    CHECK(second["models"][0]["name"] == "models/nano-banana-pro-preview");
    CHECK(get(emu.url("/v1beta/models?pageToken=nonsense"), {kKeyHeader}).status == 400);

    auto one = get(emu.url("/v1beta/models/gemini-2.5-flash-image"), {kKeyHeader});
    CHECK(one.status == 200);
    CHECK(body_json(one)["displayName"] == "Nano Banana");
    auto missing = get(emu.url("/v1beta/models/gemini-1.0-pro"), {kKeyHeader});
    CHECK(missing.status == 404);
    CHECK(error_status(missing) == "NOT_FOUND");
    CHECK(get(emu.url("/v1beta/models")).status == 403);   // the models routes need a key too
}

TEST_CASE("server: authentication as the real API answers it", "[server][auth]") {
    Emulator emu;
    json body = prompt_body("a cat");
    const std::string url = emu.generate_url(kFlash);

    auto none = post(url, body.dump());
    CHECK(none.status == 403);
    CHECK(error_status(none) == "PERMISSION_DENIED");
    CHECK(body_json(none)["error"]["message"] ==
          "Method doesn't allow unregistered callers (callers without established identity). Please use API Key "
          "or other form of API consumer identity to call this API.");

    auto wrong = post(url, body.dump(), {"x-goog-api-key: nope-nope"});
    CHECK(wrong.status == 400);
    auto err = body_json(wrong)["error"];
    CHECK(err["message"] == "API key not valid. Please pass a valid API key.");
    CHECK(err["details"][0]["reason"] == "API_KEY_INVALID");
    CHECK(err["details"][0]["metadata"]["service"] == "generativelanguage.googleapis.com");

    CHECK(post(url + "?key=test-key", body.dump()).status == 200);
    CHECK(post(url + "?key=wrong-key", body.dump()).status == 400);

    auto bearer = post(url, body.dump(), {"Authorization: Bearer test-key"});
    CHECK(bearer.status == 401);
    CHECK(bearer.header("www-authenticate") == "Bearer realm=\"invalid_token\"");
    CHECK(body_json(bearer)["error"]["details"][0]["reason"] == "ACCESS_TOKEN_TYPE_UNSUPPORTED");

    const std::string vertex = emu.url("/v1/projects/demo/locations/global/publishers/google/models/" + kPro + ":generateContent");
    json vbody = body;
    auto key_on_vertex = post(vertex, vbody.dump(), {kKeyHeader});
    CHECK(key_on_vertex.status == 401);
    CHECK(body_json(key_on_vertex)["error"]["details"][0]["reason"] == "CREDENTIALS_MISSING");
    CHECK(post(vertex, vbody.dump()).status == 401);
    CHECK(post(vertex, vbody.dump(), {"Authorization: Bearer ya29.any"}).status == 200);

    Emulator strict([](auto& o) {
        o.api_key = "only-this-key";
        o.bearer_token = "only-this-token";
    });
    CHECK(post(strict.url("/v1/projects/demo/locations/global/publishers/google/models/" + kPro + ":generateContent"),
               vbody.dump(), {"Authorization: Bearer other"}).status == 401);
    CHECK(post(strict.generate_url(kFlash), body.dump(), {kKeyHeader}).status == 400);

    Emulator open([](auto& o) { o.api_key = ""; });
    CHECK(post(open.generate_url(kFlash), body.dump(), {"x-goog-api-key: whatever"}).status == 200);
}

TEST_CASE("server: validation errors carry BadRequest field violations", "[server][validate]") {
    Emulator emu;
    auto malformed = post(emu.generate_url(kFlash), "{\"contents\": [", {kKeyHeader});
    CHECK(malformed.status == 400);
    auto err = body_json(malformed)["error"];
    CHECK(err["status"] == "INVALID_ARGUMENT");
    CHECK(err["message"] == "Invalid JSON payload received. Unexpected token.");
    CHECK(err["details"][0]["@type"] == "type.googleapis.com/google.rpc.BadRequest");

    auto unknown = emu.generate(kPro, prompt_body("x", {{"imageConfig", {{"size", "2K"}}}}));
    CHECK(unknown.status == 400);
    CHECK(body_json(unknown)["error"]["details"][0]["fieldViolations"][0]["field"] == "generation_config.image_config");

    CHECK(emu.generate(kPro, prompt_body("x", {{"imageConfig", {{"imageSize", "4k"}}}})).status == 400);
    CHECK(emu.generate(kFlash, prompt_body("x", {{"imageConfig", {{"imageSize", "1K"}}}})).status == 400);
    CHECK(emu.generate(kFlash, prompt_body("x", {{"imageConfig", {{"aspectRatio", "1:2"}}}})).status == 400);
    CHECK(emu.generate(kPro, prompt_body("x", {{"candidateCount", 3}})).status == 400);

    auto model = emu.generate("gemini-2.0-flash-preview-image-generation", prompt_body("x"));
    CHECK(model.status == 404);
    CHECK_THAT(body_json(model)["error"]["message"].get<std::string>(),
               Catch::StartsWith("models/gemini-2.0-flash-preview-image-generation is not found for API version v1beta"));
    auto stream_model = emu.generate("nope", prompt_body("x"), true);
    CHECK_THAT(body_json(stream_model)["error"]["message"].get<std::string>(), Catch::Contains("StreamGenerateContent"));
}

TEST_CASE("server: a Flash answer has the real shape and token counts", "[server][answer]") {
    Emulator emu;
    auto r = emu.generate(kFlash, prompt_body("A nano banana dish in a fancy restaurant"));
    REQUIRE(r.status == 200);
    CHECK(r.header("content-type") == "application/json; charset=UTF-8");
    CHECK(r.header("server") == "scaffolding on HTTPServer2");
    auto j = body_json(r);
    const json& cand = j["candidates"][0];
    CHECK(cand["finishReason"] == "STOP");
    CHECK(cand["index"] == 0);
    CHECK(cand["content"]["role"] == "model");
    const json& parts = cand["content"]["parts"];
    REQUIRE(parts.size() == 2);
    CHECK_THAT(parts[0]["text"].get<std::string>(), Catch::StartsWith("Here is"));
    CHECK(parts[1]["inlineData"]["mimeType"] == "image/png");
    CHECK_FALSE(parts[1].contains("thoughtSignature"));   // Flash does not think

    const json& usage = j["usageMetadata"];
    int text_tokens = (40 + 3) / 4;
    CHECK(usage["promptTokenCount"] == text_tokens);
    CHECK(usage["promptTokensDetails"][0] == json{{"modality", "TEXT"}, {"tokenCount", text_tokens}});
    int answer_text = (static_cast<int>(parts[0]["text"].get<std::string>().size()) + 3) / 4;
    CHECK(usage["candidatesTokenCount"] == 1290 + answer_text);
    CHECK(usage["candidatesTokensDetails"][0] == json{{"modality", "IMAGE"}, {"tokenCount", 1290}});
    CHECK(usage["totalTokenCount"] == text_tokens + 1290 + answer_text);
    CHECK_FALSE(usage.contains("thoughtsTokenCount"));
    CHECK(j["modelVersion"] == kFlash);
    CHECK(j["responseId"].get<std::string>().size() == 22);

    auto info = image_info(first_image_bytes(j));
    CHECK(info.decodes);
    CHECK(info.width == 1024);
    CHECK(info.height == 1024);
}

TEST_CASE("server: a Pro answer thinks, signs and answers JPEG", "[server][answer]") {
    Emulator emu;
    auto j = body_json(emu.generate(kPro, prompt_body("An office group photo", {{"imageConfig", {{"imageSize", "2K"}}}})));
    const json& parts = j["candidates"][0]["content"]["parts"];
    REQUIRE(parts.size() == 2);
    CHECK(parts[0].contains("thoughtSignature"));          // the first non-thought part
    CHECK(parts[1].contains("thoughtSignature"));          // every non-thought image
    CHECK(parts[1]["inlineData"]["mimeType"] == "image/jpeg");
    CHECK_FALSE(decode_base64(parts[1]["thoughtSignature"].get<std::string>()).empty());
    const json& usage = j["usageMetadata"];
    int thoughts = usage["thoughtsTokenCount"].get<int>();
    CHECK(thoughts >= 100);
    CHECK(thoughts <= 400);
    CHECK(usage["candidatesTokensDetails"][0]["tokenCount"] == 1120);
    CHECK(usage["totalTokenCount"] == usage["promptTokenCount"].get<int>() + usage["candidatesTokenCount"].get<int>() + thoughts);

    auto image_only = body_json(emu.generate(kPro, prompt_body("x", {{"responseModalities", {"IMAGE"}}})));
    const json& only = image_only["candidates"][0]["content"]["parts"];
    REQUIRE(only.size() == 1);
    CHECK(only[0].contains("inlineData"));
    CHECK(only[0].contains("thoughtSignature"));

    auto thoughts_on = body_json(emu.generate(kPro, prompt_body("x", {{"thinkingConfig", {{"includeThoughts", true}}}})));
    const json& tparts = thoughts_on["candidates"][0]["content"]["parts"];
    REQUIRE(tparts.size() == 4);
    CHECK(tparts[0]["thought"] == true);
    CHECK(tparts[0].contains("text"));
    CHECK_FALSE(tparts[0].contains("thoughtSignature"));   // thoughts carry no signature
    CHECK(tparts[1]["thought"] == true);
    CHECK(tparts[1].contains("inlineData"));
    CHECK(tparts[2].contains("thoughtSignature"));
    CHECK(image_parts(thoughts_on).size() == 1);

    auto text = body_json(emu.generate(kPro, prompt_body("describe a cat", {{"responseModalities", {"TEXT"}}})));
    CHECK(image_parts(text).empty());
    CHECK(text["usageMetadata"]["candidatesTokensDetails"][0]["modality"] == "TEXT");

    Emulator png([](auto& o) { o.mime = "png"; });
    CHECK(image_parts(body_json(png.generate(kPro, prompt_body("x"))))[0]["inlineData"]["mimeType"] == "image/png");
}

TEST_CASE("server: every model, aspect ratio and size answers at the real pixel size", "[server][sizes]") {
    Emulator emu;
    struct Combo {
        std::string model, size;
    };
    for (const Combo& combo : {Combo{kFlash, ""}, Combo{kPro, "1K"}, Combo{kPro, "2K"}, Combo{kPro, "4K"}}) {
        for (auto aspect : nbcore::kAspectRatios) {
            json config = {{"responseModalities", {"IMAGE"}}, {"imageConfig", {{"aspectRatio", std::string(aspect)}}}};
            if (!combo.size.empty()) config["imageConfig"]["imageSize"] = combo.size;
            auto r = emu.generate(combo.model, prompt_body("size check", config));
            INFO(combo.model << " " << aspect << " " << combo.size);
            REQUIRE(r.status == 200);
            auto j = body_json(r);
            auto expected = *nbcore::output_size(combo.model, aspect, combo.size);
            int w = 0, h = 0, comp = 0;
            std::string bytes = first_image_bytes(j);
            REQUIRE(stbi_info_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()), static_cast<int>(bytes.size()), &w, &h, &comp));
            CHECK(w == expected.width);
            CHECK(h == expected.height);
            CHECK(j["usageMetadata"]["candidatesTokenCount"] == nbcore::output_image_tokens(combo.model, combo.size));
        }
    }
}

TEST_CASE("server: answers are deterministic and follow the prompt and seed", "[server][answer]") {
    Emulator emu;
    auto image_for = [&](const std::string& prompt, int seed) {
        return first_image_bytes(body_json(emu.generate(kFlash, prompt_body(prompt, {{"seed", seed}}))));
    };
    std::string a = image_for("a red kite over the sea", 1);
    CHECK(a == image_for("a red kite over the sea", 1));
    CHECK(a != image_for("a blue kite over the sea", 1));
    CHECK(a != image_for("a red kite over the sea", 2));

    // The same bytes from another server: nothing depends on the process or the time.
    Emulator other;
    CHECK(a == first_image_bytes(body_json(other.generate(kFlash, prompt_body("a red kite over the sea", {{"seed", 1}})))));
}

TEST_CASE("server: input images show in the answer", "[server][edit]") {
    Emulator emu;
    std::string input = two_tone_png(400, 300, {230, 20, 20}, {20, 20, 230});
    json body = contents_body({turn("user", {text_part("make it brighter"), image_part("image/png", encode_base64(input))})});
    auto r = emu.generate(kFlash, body);
    REQUIRE(r.status == 200);
    auto j = body_json(r);
    std::string out = first_image_bytes(j);
    auto info = image_info(out);
    CHECK(info.width == 1184);   // 4:3, the input's nearest supported ratio
    CHECK(info.height == 864);
    auto left = mean_colour(out, 0.05, 0.1, 0.45, 0.5);
    auto right = mean_colour(out, 0.55, 0.1, 0.95, 0.5);
    CHECK(left[0] > left[2] + 60);     // the red half stays red
    CHECK(right[2] > right[0] + 60);   // the blue half stays blue
    CHECK(j["usageMetadata"]["promptTokensDetails"][0] == json{{"modality", "IMAGE"}, {"tokenCount", 258}});

    // A different input, same prompt: a different answer.
    body["contents"][0]["parts"][1]["inlineData"]["data"] = encode_base64(two_tone_png(400, 300, {20, 230, 20}, {20, 20, 230}));
    CHECK(first_image_bytes(body_json(emu.generate(kFlash, body))) != out);

    // Multi-turn: no image in the last user turn edits the model's previous image.
    json turns = contents_body({turn("user", {text_part("draw")}),
                                turn("model", {image_part("image/png", encode_base64(input))}),
                                turn("user", {text_part("now in Spanish")})});
    std::string edited = first_image_bytes(body_json(emu.generate(kFlash, turns)));
    auto edited_left = mean_colour(edited, 0.05, 0.1, 0.45, 0.5);
    CHECK(edited_left[0] > edited_left[2] + 60);

    body["contents"][0]["parts"][1]["inlineData"]["data"] = encode_base64("not an image at all");
    auto bad = emu.generate(kFlash, body);
    CHECK(bad.status == 400);
    CHECK_THAT(body_json(bad)["error"]["message"].get<std::string>(), Catch::StartsWith("Unable to process input image."));
}

TEST_CASE("server: SSE streams are data events, image last, usage on the final chunk", "[server][stream]") {
    Emulator emu;
    auto r = emu.generate(kPro, prompt_body("a stream of consciousness"), true);
    REQUIRE(r.status == 200);
    CHECK(r.header("content-type") == "text/event-stream");
    CHECK(r.header("transfer-encoding") == "chunked");
    CHECK(r.body.find("[DONE]") == std::string::npos);
    auto events = sse_events(r.body);
    REQUIRE(events.size() == 3);
    for (const auto& e : events) {
        CHECK_FALSE(e.contains("bare"));
        CHECK(e["responseId"] == events[0]["responseId"]);
    }
    // Every event is one line: "data: " + JSON + blank line.
    std::size_t pos = 0, count = 0;
    while ((pos = r.body.find("data: ", pos)) != std::string::npos) {
        std::size_t end = r.body.find("\r\n\r\n", pos);
        CHECK(r.body.substr(pos, end - pos).find('\n') == std::string::npos);
        pos = end;
        ++count;
    }
    CHECK(count == 3);
    CHECK(events[0]["candidates"][0]["content"]["parts"][0].contains("text"));
    CHECK(events[0]["candidates"][0]["content"]["parts"][0].contains("thoughtSignature"));
    CHECK(events[1]["candidates"][0]["content"]["parts"][0].contains("inlineData"));
    CHECK_FALSE(events[1]["candidates"][0].contains("finishReason"));
    CHECK(events[2]["candidates"][0]["finishReason"] == "STOP");
    CHECK(events[2]["usageMetadata"]["candidatesTokensDetails"][0]["tokenCount"] == 1120);
    CHECK_FALSE(events[0]["usageMetadata"].contains("candidatesTokenCount"));

    auto thoughts = sse_events(emu.generate(kPro, prompt_body("x", {{"thinkingConfig", {{"includeThoughts", true}}}}), true).body);
    REQUIRE(thoughts.size() == 5);
    CHECK(thoughts[0]["candidates"][0]["content"]["parts"][0]["thought"] == true);
    CHECK(thoughts[1]["candidates"][0]["content"]["parts"][0]["thought"] == true);
}

TEST_CASE("server: streaming without alt=sse is one JSON array", "[server][stream]") {
    Emulator emu;
    auto r = emu.generate(kFlash, prompt_body("array stream"), true, false);
    REQUIRE(r.status == 200);
    CHECK(r.header("content-type") == "application/json; charset=UTF-8");
    CHECK(r.body.front() == '[');
    CHECK(r.body.back() == ']');
    CHECK(r.body.find("},\r\n{") != std::string::npos);
    auto arr = body_json(r);
    REQUIRE(arr.is_array());
    REQUIRE(arr.size() == 3);
    CHECK(arr[2]["candidates"][0]["finishReason"] == "STOP");

    auto err = post(emu.generate_url("nope", true, false), prompt_body("x").dump(), {kKeyHeader});
    CHECK(err.status == 404);
    auto earr = body_json(err);
    REQUIRE(earr.is_array());   // errors on this route are arrays too
    CHECK(earr[0]["error"]["code"] == 404);
}

TEST_CASE("server: answers are gzipped when the client accepts it", "[server][gzip]") {
    Emulator emu;
    const std::string body = prompt_body("compressed cat").dump();
    auto plain = post(emu.generate_url(kFlash), body, {kKeyHeader});
    HttpRequest req{"POST", emu.generate_url(kFlash), body, {kKeyHeader}};
    req.gzip = true;
    auto zipped = send(req);
    REQUIRE(zipped.code == CURLE_OK);
    CHECK(plain.header("content-encoding").empty());
    CHECK(zipped.header("content-encoding") == "gzip");
    CHECK(std::stoul(zipped.header("content-length")) < zipped.body.size());   // the wire held fewer bytes
    CHECK(first_image_bytes(body_json(zipped)) == first_image_bytes(body_json(plain)));

    req.url = emu.generate_url(kPro, true);
    auto stream = send(req);
    CHECK(stream.header("content-encoding") == "gzip");
    CHECK(sse_events(stream.body).size() == 3);

    req.gzip = false;
    req.headers.push_back("Accept-Encoding: gzip;q=0, identity");
    CHECK(send(req).header("content-encoding").empty());

    Emulator off([](auto& o) { o.gzip = false; });
    HttpRequest off_req{"POST", off.generate_url(kFlash), body, {kKeyHeader}};
    off_req.gzip = true;
    CHECK(send(off_req).header("content-encoding").empty());
}

TEST_CASE("server: countTokens", "[server]") {
    Emulator emu;
    auto r = post(emu.url("/v1beta/models/" + kFlash + ":countTokens"), prompt_body("sixteen chars ok").dump(), {kKeyHeader});
    REQUIRE(r.status == 200);
    CHECK(body_json(r)["totalTokens"] == 4);
    auto wrapped = post(emu.url("/v1beta/models/" + kFlash + ":countTokens"),
                        json{{"generateContentRequest", prompt_body("abcdefgh")}}.dump(), {kKeyHeader});
    CHECK(body_json(wrapped)["totalTokens"] == 2);
    CHECK(post(emu.url("/v1beta/models/" + kFlash + ":countTokens"), "{}").status == 403);
}

TEST_CASE("server: Vertex routes answer with Vertex extras", "[server][vertex]") {
    Emulator emu;
    json body = prompt_body("vertex cat");
    for (std::string version : {"v1", "v1beta1"}) {
        auto r = post(emu.url("/" + version + "/projects/demo/locations/us-central1/publishers/google/models/" + kPro + ":generateContent"),
                      body.dump(), {"Authorization: Bearer ya29.token"});
        REQUIRE(r.status == 200);
        auto j = body_json(r);
        CHECK(j["usageMetadata"]["trafficType"] == "ON_DEMAND");
        std::string created = j["createTime"].get<std::string>();
        CHECK(created.size() == 27);
        CHECK(created.back() == 'Z');
    }
    auto stream = post(emu.url("/v1/projects/demo/locations/global/publishers/google/models/" + kFlash + ":streamGenerateContent?alt=sse"),
                       body.dump(), {"Authorization: Bearer t"});
    auto events = sse_events(stream.body);
    REQUIRE(events.size() == 3);
    CHECK(events[2]["usageMetadata"]["trafficType"] == "ON_DEMAND");

    auto missing = post(emu.url("/v1/projects/demo/locations/global/publishers/google/models/imagen-9:generateContent"),
                        body.dump(), {"Authorization: Bearer t"});
    CHECK(missing.status == 404);
    CHECK_THAT(body_json(missing)["error"]["message"].get<std::string>(),
               Catch::StartsWith("Publisher Model `projects/demo/locations/global/publishers/google/models/imagen-9` was not found"));

    auto express = post(emu.url("/v1/publishers/google/models/" + kFlash + ":generateContent"), body.dump(), {kKeyHeader});
    CHECK(express.status == 200);
    CHECK(body_json(express).contains("createTime"));
}

TEST_CASE("server: enforced quotas answer the real 429 until the window frees", "[server][quota]") {
    auto clock = std::make_shared<nbcore::FakeClock>();
    Emulator emu([&](auto& o) {
        o.rpm_limit = 2;
        o.clock = clock;
    });
    CHECK(emu.generate(kFlash, prompt_body("q")).status == 200);
    CHECK(emu.generate(kFlash, prompt_body("q")).status == 200);
    CHECK(emu.generate(kPro, prompt_body("q")).status == 200);   // per model
    clock->advance(std::chrono::seconds(15));
    auto over = emu.generate(kFlash, prompt_body("q"));
    REQUIRE(over.status == 429);
    auto err = body_json(over)["error"];
    CHECK(err["details"][1]["violations"][0]["quotaId"] == "GenerateRequestsPerMinutePerProjectPerModel-FreeTier");
    CHECK(err["details"][1]["violations"][0]["quotaValue"] == "2");
    CHECK(err["details"][2]["retryDelay"] == "45s");
    CHECK(emu.server.requests().back()["fault"] == "quota_rpm");
    clock->advance(std::chrono::seconds(45));
    CHECK(emu.generate(kFlash, prompt_body("q")).status == 200);

    // A script still has the first word; countTokens is never counted.
    emu.server.set_script(R"(["500"])");
    CHECK(emu.generate(kFlash, prompt_body("q")).status == 500);
    for (int i = 0; i < 5; ++i)
        CHECK(post(emu.url("/v1beta/models/" + kFlash + ":countTokens"), prompt_body("q").dump(), {kKeyHeader}).status == 200);
}

TEST_CASE("server: X-Server-Timeout shorter than the generation gives 504", "[server]") {
    Emulator emu([](auto& o) { o.latency_ms = 3000; });
    auto r = post(emu.generate_url(kFlash), prompt_body("slow").dump(), {kKeyHeader, "X-Server-Timeout: 0.2"});
    CHECK(r.status == 504);
    CHECK(error_status(r) == "DEADLINE_EXCEEDED");
    CHECK(r.seconds >= 0.18);
    CHECK(r.seconds < 2.0);
}

TEST_CASE("server: the request log, with keys and image data left out", "[server][log]") {
    Emulator emu([](auto& o) { o.api_key = "secret-key-123456"; });
    std::string png = encode_base64(two_tone_png(32, 32, {1, 1, 1}, {2, 2, 2}));
    json body = contents_body({turn("user", {text_part("log me secret-key-123456"), image_part("image/png", png)})});
    post(emu.generate_url(kFlash) + "?key=secret-key-123456&alt=json", body.dump());
    post(emu.generate_url(kPro), "{}", {"x-goog-api-key: secret-key-123456", "Authorization: Bearer secret-key-123456"});
    get(emu.url("/v1beta/models/secret-key-123456"), {"x-goog-api-key: secret-key-123456"});

    auto r = get(emu.url("/_emulator/requests"));
    REQUIRE(r.status == 200);
    CHECK(r.body.find("secret-key-123456") == std::string::npos);
    auto log = body_json(r);
    REQUIRE(log.size() == 3);
    const json& first = log[0];
    CHECK(first["n"] == 1);
    CHECK(first["method"] == "POST");
    CHECK(first["path"] == "/v1beta/models/gemini-2.5-flash-image:generateContent");
    CHECK(first["query"]["key"] == "[REDACTED]");
    CHECK(first["query"]["alt"] == "json");
    CHECK(first["model"] == kFlash);
    CHECK(first["status"] == 200);
    CHECK(first["fault"] == "pass");
    CHECK(first["arrival_ms"].get<double>() >= 0);
    CHECK(first["body"]["contents"][0]["parts"][1]["inlineData"]["data"] == "<" + std::to_string(png.size()) + " base64 chars>");
    CHECK(first["body"]["contents"][0]["parts"][0]["text"] == "log me [REDACTED]");
    CHECK(log[1]["headers"]["x-goog-api-key"] == "[REDACTED]");
    CHECK(log[1]["headers"]["authorization"] == "[REDACTED]");
    CHECK(log[1]["status"] == 400);
    CHECK(log[2]["status"] == 404);
    CHECK(log[1]["arrival_ms"].get<double>() >= first["arrival_ms"].get<double>());
    CHECK(emu.server.request_count() == 3);
    CHECK(emu.server.requests() == log);

    // The model id echoed in the 404 held the key: it must not come back.
    auto echoed = get(emu.url("/v1beta/models/secret-key-123456"), {"x-goog-api-key: secret-key-123456"});
    CHECK(echoed.status == 404);
    CHECK(echoed.body.find("secret-key-123456") == std::string::npos);

    // Bytes that are not UTF-8 in a header or a path do not break the log.
    post(emu.generate_url(kFlash) + "%FF", "{}", {"x-goog-api-key: secret-key-123456", "X-Odd: caf\xE9"});
    auto odd = get(emu.url("/_emulator/requests"));
    REQUIRE(odd.status == 200);
    CHECK(body_json(odd).back()["headers"]["x-odd"] == "caf\uFFFD");

    CHECK(post(emu.url("/_emulator/reset"), "").status == 200);
    CHECK(body_json(get(emu.url("/_emulator/requests"))).empty());
    post(emu.generate_url(kFlash), "{}", {"x-goog-api-key: secret-key-123456"});
    CHECK(emu.server.requests()[0]["n"] == 1);   // numbering restarts after a reset
}

TEST_CASE("server: scripts over the control route, bad ones refused with the reason", "[server][script]") {
    Emulator emu;
    auto ok = post(emu.url("/_emulator/script"), R"({"replies":["500",{"fault":"rpm_429","times":2}]})");
    CHECK(ok.status == 200);
    CHECK(body_json(ok)["queued"] == 3);
    auto bad = post(emu.url("/_emulator/script"), R"({"replies":["rpm_4299"]})");
    CHECK(bad.status == 400);
    CHECK_THAT(body_json(bad)["error"]["message"].get<std::string>(), Catch::StartsWith("script: replies[0]: unknown fault \"rpm_4299\""));
    // A refused script leaves the previous queue alone.
    CHECK(emu.generate(kFlash, prompt_body("x")).status == 500);
    CHECK(emu.generate(kFlash, prompt_body("x")).status == 429);
    CHECK(emu.generate(kFlash, prompt_body("x")).status == 429);
    CHECK(emu.generate(kFlash, prompt_body("x")).status == 200);

    CHECK_THROWS_WITH(emu.server.set_script(R"({"replies":[{"fault":"500","times":-1}]})"), Catch::Contains("\"times\""));
    CHECK_THROWS_AS(nbcore::emulator::Server(options_with([](auto& o) { o.script_json = "[\"bogus\"]"; })), std::invalid_argument);
}

TEST_CASE("server: queue order, times, model filter, repeat_last and countTokens left alone", "[server][script]") {
    Emulator emu;
    emu.server.set_script(R"({"replies": ["503_overloaded", {"fault": "500", "times": 2},
        {"fault": "504", "model": "gemini-3-pro-image-preview"}, "pass", "rpm_429"], "then": "repeat_last"})");
    std::vector<long> statuses;
    for (int i = 0; i < 4; ++i) statuses.push_back(emu.generate(kFlash, prompt_body("q")).status);
    CHECK(statuses == std::vector<long>{503, 500, 500, 200});
    // countTokens and models.list do not consume entries.
    CHECK(post(emu.url("/v1beta/models/" + kFlash + ":countTokens"), prompt_body("x").dump(), {kKeyHeader}).status == 200);
    CHECK(get(emu.url("/v1beta/models"), {kKeyHeader}).status == 200);
    CHECK(emu.generate(kPro, prompt_body("q")).status == 504);
    for (int i = 0; i < 3; ++i) CHECK(emu.generate(kFlash, prompt_body("q"), i == 1).status == 429);
    auto log = emu.server.requests();
    CHECK(log[0]["fault"] == "503_overloaded");
    CHECK(log[3]["fault"] == "pass");
}

TEST_CASE("server: a seeded mix gives the same faults in the same order", "[server][script]") {
    auto run = [] {
        Emulator emu;
        emu.server.set_script(R"({"replies": ["500"], "mix": {"probability": 0.5, "faults": ["503_overloaded", "rpm_429"], "seed": 3}})");
        std::vector<long> statuses;
        for (int i = 0; i < 16; ++i) statuses.push_back(emu.generate(kFlash, prompt_body("m"), false).status);
        return statuses;
    };
    auto a = run();
    CHECK(a == run());
    CHECK(a[0] == 500);
    std::set<long> seen(a.begin() + 1, a.end());
    CHECK(seen.count(200));
    CHECK((seen.count(503) || seen.count(429)));
}

TEST_CASE("server: custom replies are sent as scripted", "[server][script]") {
    Emulator emu;
    emu.server.set_script(R"({"replies": [
        {"status": 429, "headers": {"Retry-After": "3"}, "body": {"error": {"code": 429, "message": "slow down", "status": "RESOURCE_EXHAUSTED"}}},
        {"status": 503, "headers": {"Content-Type": "text/plain"}, "body_text": "upstream connect error"},
        {"status": 200, "body": [{"candidates": []}, {"candidates": [], "usageMetadata": {}}]}]})");
    auto first = emu.generate(kFlash, prompt_body("x"));
    CHECK(first.status == 429);
    CHECK(first.header("retry-after") == "3");
    CHECK(body_json(first)["error"]["message"] == "slow down");
    auto second = emu.generate(kFlash, prompt_body("x"));
    CHECK(second.status == 503);
    CHECK(second.header("content-type") == "text/plain");
    CHECK(second.body == "upstream connect error");
    auto third = emu.generate(kFlash, prompt_body("x"), true);   // a list becomes one SSE event each
    CHECK(sse_events(third.body).size() == 2);
    CHECK(emu.server.requests()[0]["fault"] == "custom");
}

TEST_CASE("server: 64 concurrent requests are served in parallel", "[server][concurrency]") {
    const int latency_ms = 500;
    Emulator emu([&](auto& o) { o.latency_ms = latency_ms; });
    emu.generate(kFlash, prompt_body("parallel"));   // render once up front; the cache serves the rest

    const int n = 64;
    std::vector<HttpResult> results(n);
    std::vector<detail::Sink> sinks;
    sinks.reserve(n);
    std::vector<curl_slist*> lists(n, nullptr);
    std::vector<std::array<char, CURL_ERROR_SIZE>> errors(n);
    std::vector<CURL*> handles;
    std::vector<HttpRequest> requests(n, HttpRequest{"POST", emu.generate_url(kFlash), prompt_body("parallel").dump(), {kKeyHeader}});
    CURLM* multi = curl_multi_init();
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) {
        sinks.push_back({&results[static_cast<std::size_t>(i)], start});
        errors[static_cast<std::size_t>(i)].fill(0);
        CURL* h = prepare(requests[static_cast<std::size_t>(i)], results[static_cast<std::size_t>(i)], sinks.back(),
                          lists[static_cast<std::size_t>(i)], errors[static_cast<std::size_t>(i)].data());
        curl_multi_add_handle(multi, h);
        handles.push_back(h);
    }
    int running = 0;
    do {
        curl_multi_perform(multi, &running);
        curl_multi_poll(multi, nullptr, 0, 50, nullptr);
    } while (running > 0);
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    int ok = 0;
    for (int i = 0; i < n; ++i) {
        finish(handles[static_cast<std::size_t>(i)], results[static_cast<std::size_t>(i)], errors[static_cast<std::size_t>(i)].data());
        if (results[static_cast<std::size_t>(i)].status == 200) ++ok;
        curl_multi_remove_handle(multi, handles[static_cast<std::size_t>(i)]);
        curl_easy_cleanup(handles[static_cast<std::size_t>(i)]);
        curl_slist_free_all(lists[static_cast<std::size_t>(i)]);
    }
    curl_multi_cleanup(multi);
    CHECK(ok == n);
    CHECK(elapsed >= latency_ms / 1000.0);
    CHECK(elapsed < 5 * latency_ms / 1000.0);   // one latency plus overhead, not 64 of them
}

TEST_CASE("server: stop() during a stall returns promptly", "[server][lifecycle]") {
    auto emu = std::make_unique<Emulator>();
    emu->server.set_script(R"({"replies": [{"pass": true, "stall_ms": 30000}]})");
    HttpResult result;
    std::thread client([&] { result = emu->generate(kFlash, prompt_body("stalled")); });
    // Wait until the stalled reply is under way.
    for (int i = 0; i < 200 && emu->server.request_count() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto t0 = std::chrono::steady_clock::now();
    emu->server.stop();
    double stop_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    client.join();
    CHECK(stop_seconds < 1.0);
    CHECK(result.code != CURLE_OK);   // the body never completed
    emu->server.stop();               // idempotent

    // An idle keep-alive connection does not hold stop() up either.
    Emulator idle;
    CURL* h = curl_easy_init();
    std::string sink;
    curl_easy_setopt(h, CURLOPT_URL, idle.url("/_emulator/health").c_str());
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, +[](char*, size_t s, size_t n, void*) { return s * n; });
    REQUIRE(curl_easy_perform(h) == CURLE_OK);   // the connection stays open in curl's cache
    t0 = std::chrono::steady_clock::now();
    idle.server.stop();
    CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < 1.0);
    curl_easy_cleanup(h);
}

TEST_CASE("server: start() refuses a port in use", "[server][lifecycle]") {
    Emulator first;
    nbcore::emulator::Server second(options_with([&](auto& o) { o.port = first.server.port(); }));
    CHECK_THROWS_WITH(second.start(), Catch::Contains("cannot listen on 127.0.0.1:" + std::to_string(first.server.port())));
}
