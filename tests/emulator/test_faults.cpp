// Every named fault over loopback (one data-driven case each), and the delivery modifiers seen
// from the client's side: delays, stalls, resets, truncation, trickle.
#include <catch2/catch.hpp>

#include <functional>
#include <map>

#include "../../emulator/src/faults.hpp"
#include "common.hpp"

using namespace emutest;

namespace {

json body_json(const HttpResult& r) {
    INFO("body: " << r.body.substr(0, 400));
    return json::parse(r.body);
}

const json& error_of(const json& j) { return j["error"]; }

void check_error(const HttpResult& r, const std::string& status) {
    CHECK(r.header("content-type") == "application/json; charset=UTF-8");
    auto j = body_json(r);
    CHECK(error_of(j)["code"] == r.status);
    CHECK(error_of(j)["status"] == status);
    CHECK_FALSE(error_of(j)["message"].get<std::string>().empty());
}

const json& quota_failure(const json& j) {
    for (const auto& d : error_of(j)["details"])
        if (d["@type"] == "type.googleapis.com/google.rpc.QuotaFailure") return d;
    FAIL("no QuotaFailure");
    static json none;
    return none;
}

std::string retry_delay(const json& j) {
    for (const auto& d : error_of(j)["details"])
        if (d["@type"] == "type.googleapis.com/google.rpc.RetryInfo") return d["retryDelay"];
    return "";
}

void check_blocked_output(const HttpResult& r, const std::string& reason) {
    auto j = body_json(r);
    const json& cand = j["candidates"][0];
    CHECK(cand["finishReason"] == reason);
    CHECK(cand["content"] == json::object());
    CHECK_THAT(cand["finishMessage"].get<std::string>(), Catch::StartsWith("Unable to show the generated image."));
    CHECK(j["usageMetadata"]["candidatesTokenCount"] == 0);
    CHECK(j["usageMetadata"]["promptTokenCount"].get<int>() > 0);
}

void check_prompt_block(const HttpResult& r, const std::string& reason) {
    auto j = body_json(r);
    CHECK_FALSE(j.contains("candidates"));
    CHECK(j["promptFeedback"]["blockReason"] == reason);
    CHECK(j["usageMetadata"]["promptTokenCount"].get<int>() > 0);
}

// Which route a fault is tried on, and what the client must see.
struct FaultCase {
    std::string entry;                                   // as written in the script
    bool stream = false;                                 // SSE route
    std::function<void(const HttpResult&)> check;
};

std::map<std::string, FaultCase> fault_cases() {
    std::map<std::string, FaultCase> c;
    c["rpm_429"] = {"rpm_429:7", false, [](const HttpResult& r) {
        check_error(r, "RESOURCE_EXHAUSTED");
        auto j = body_json(r);
        CHECK(error_of(j)["details"][0]["@type"] == "type.googleapis.com/google.rpc.QuotaFailure");
        CHECK(quota_failure(j)["violations"][0]["quotaId"] == "GenerateRequestsPerMinutePerProjectPerModel-FreeTier");
        CHECK(error_of(j)["details"][1]["links"][0]["url"] == "https://ai.google.dev/gemini-api/docs/rate-limits");
        CHECK(retry_delay(j) == "7s");
    }};
    c["tpm_429"] = {"tpm_429", false, [](const HttpResult& r) {
        auto j = body_json(r);
        CHECK(r.status == 429);
        CHECK(quota_failure(j)["violations"][0]["quotaId"] == "GenerateContentInputTokensPerModelPerMinute-FreeTier");
        CHECK(quota_failure(j)["violations"][0]["quotaValue"] == "250000");
        CHECK(retry_delay(j) == "26s");
    }};
    c["rpd_429"] = {"rpd_429", false, [](const HttpResult& r) {
        auto j = body_json(r);
        CHECK(r.status == 429);
        CHECK(quota_failure(j)["violations"][0]["quotaId"] == "GenerateRequestsPerDayPerProjectPerModel-FreeTier");
        CHECK_THAT(error_of(j)["message"].get<std::string>(), Catch::Contains("* Quota exceeded for metric: "));
    }};
    c["rpm_rpd_429"] = {"rpm_rpd_429", false, [](const HttpResult& r) {
        auto v = quota_failure(body_json(r))["violations"];
        REQUIRE(v.size() == 2);
        CHECK(v[0]["quotaId"] == "GenerateRequestsPerMinutePerProjectPerModel-FreeTier");
        CHECK(v[1]["quotaId"] == "GenerateRequestsPerDayPerProjectPerModel-FreeTier");
    }};
    c["zero_quota_429"] = {"zero_quota_429", false, [](const HttpResult& r) {
        auto j = body_json(r);
        CHECK_THAT(error_of(j)["message"].get<std::string>(), Catch::Contains("limit: 0"));
        CHECK(quota_failure(j)["violations"][0]["quotaValue"] == "0");
    }};
    c["paid_rpm_429"] = {"paid_rpm_429", false, [](const HttpResult& r) {
        auto v = quota_failure(body_json(r))["violations"][0];
        CHECK(v["quotaId"] == "GenerateRequestsPerMinutePerProjectPerModel");
        CHECK(v["quotaMetric"] == "generativelanguage.googleapis.com/generate_requests_per_model");
    }};
    c["legacy_429"] = {"legacy_429", false, [](const HttpResult& r) {
        auto j = body_json(r);
        CHECK(error_of(j)["message"] == "Resource has been exhausted (e.g. check quota).");
        CHECK_FALSE(error_of(j).contains("details"));
    }};
    c["vertex_429"] = {"vertex_429", false, [](const HttpResult& r) {
        CHECK_THAT(error_of(body_json(r))["message"].get<std::string>(), Catch::StartsWith("Resource exhausted. Please try again later."));
    }};
    c["500"] = {"500", false, [](const HttpResult& r) {
        check_error(r, "INTERNAL");
        CHECK_THAT(error_of(body_json(r))["message"].get<std::string>(), Catch::StartsWith("An internal error has occurred."));
    }};
    c["502_html"] = {"502_html", false, [](const HttpResult& r) {
        CHECK(r.header("content-type") == "text/html; charset=UTF-8");
        CHECK_THAT(r.body, Catch::Contains("<title>Error 502 (Server Error)!!1</title>"));
        CHECK_THAT(r.body, Catch::Contains("Please try again in 30 seconds."));
    }};
    c["503_overloaded"] = {"503_overloaded", false, [](const HttpResult& r) {
        check_error(r, "UNAVAILABLE");
        CHECK(error_of(body_json(r))["message"] == "The model is overloaded. Please try again later.");
    }};
    c["503_deadline"] = {"503_deadline", false, [](const HttpResult& r) {
        check_error(r, "UNAVAILABLE");
        CHECK(error_of(body_json(r))["message"] == "Deadline expired before operation could complete.");
    }};
    c["504"] = {"504", false, [](const HttpResult& r) { check_error(r, "DEADLINE_EXCEEDED"); }};
    c["invalid_key"] = {"invalid_key", false, [](const HttpResult& r) {
        check_error(r, "INVALID_ARGUMENT");
        CHECK(error_of(body_json(r))["details"][0]["reason"] == "API_KEY_INVALID");
    }};
    c["no_key"] = {"no_key", false, [](const HttpResult& r) { check_error(r, "PERMISSION_DENIED"); }};
    c["suspended_key"] = {"suspended_key", false, [](const HttpResult& r) {
        check_error(r, "PERMISSION_DENIED");
        CHECK(error_of(body_json(r))["details"][0]["reason"] == "CONSUMER_SUSPENDED");
        CHECK(r.body.find("test-key") == std::string::npos);
    }};
    c["service_disabled"] = {"service_disabled", false, [](const HttpResult& r) {
        check_error(r, "PERMISSION_DENIED");
        CHECK(error_of(body_json(r))["details"][0]["reason"] == "SERVICE_DISABLED");
    }};
    c["unauthenticated_401"] = {"unauthenticated_401", false, [](const HttpResult& r) {
        check_error(r, "UNAUTHENTICATED");
        CHECK_THAT(r.header("www-authenticate"), Catch::StartsWith("Bearer"));
    }};
    c["location"] = {"location", false, [](const HttpResult& r) {
        check_error(r, "FAILED_PRECONDITION");
        CHECK(error_of(body_json(r))["message"] == "User location is not supported for the API use.");
    }};
    c["billing_location"] = {"billing_location", false, [](const HttpResult& r) {
        check_error(r, "FAILED_PRECONDITION");
        CHECK_THAT(error_of(body_json(r))["message"].get<std::string>(), Catch::Contains("billing account"));
    }};
    c["model_not_found"] = {"model_not_found", false, [](const HttpResult& r) {
        check_error(r, "NOT_FOUND");
        CHECK_THAT(error_of(body_json(r))["message"].get<std::string>(), Catch::StartsWith("models/gemini-2.5-flash-image is not found"));
    }};
    c["bad_field"] = {"bad_field", false, [](const HttpResult& r) {
        check_error(r, "INVALID_ARGUMENT");
        CHECK(error_of(body_json(r))["details"][0]["fieldViolations"][0]["field"] == "generation_config.image_config");
    }};
    c["image_safety"] = {"image_safety", false, [](const HttpResult& r) { check_blocked_output(r, "IMAGE_SAFETY"); }};
    c["image_prohibited"] = {"image_prohibited", false, [](const HttpResult& r) { check_blocked_output(r, "IMAGE_PROHIBITED_CONTENT"); }};
    c["image_recitation"] = {"image_recitation", false, [](const HttpResult& r) { check_blocked_output(r, "IMAGE_RECITATION"); }};
    c["no_image"] = {"no_image", false, [](const HttpResult& r) { check_blocked_output(r, "NO_IMAGE"); }};
    c["image_other"] = {"image_other", false, [](const HttpResult& r) { check_blocked_output(r, "IMAGE_OTHER"); }};
    c["prohibited_content"] = {"prohibited_content", false, [](const HttpResult& r) { check_prompt_block(r, "PROHIBITED_CONTENT"); }};
    c["prompt_blocked_other"] = {"prompt_blocked_other", false, [](const HttpResult& r) { check_prompt_block(r, "OTHER"); }};
    c["prompt_blocked_safety"] = {"prompt_blocked_safety", false, [](const HttpResult& r) {
        check_prompt_block(r, "SAFETY");
        bool blocked = false;
        const json j = body_json(r);
        for (const auto& rating : j["promptFeedback"]["safetyRatings"]) blocked = blocked || rating.value("blocked", false);
        CHECK(blocked);
    }};
    c["finish_safety"] = {"finish_safety", false, [](const HttpResult& r) {
        auto cand = body_json(r)["candidates"][0];
        CHECK(cand["finishReason"] == "SAFETY");
        CHECK_FALSE(cand.contains("content"));
        CHECK(cand["safetyRatings"].size() == 4);
    }};
    c["text_only"] = {"text_only", false, [](const HttpResult& r) {
        auto j = body_json(r);
        CHECK(j["candidates"][0]["finishReason"] == "STOP");
        CHECK(image_parts(j).empty());
        CHECK(j["candidates"][0]["content"]["parts"][0].contains("text"));
    }};
    c["empty_candidates"] = {"empty_candidates", false, [](const HttpResult& r) {
        auto j = body_json(r);
        CHECK(j["candidates"] == json::array());
        CHECK(j.contains("usageMetadata"));
    }};
    c["thought_only_image"] = {"thought_only_image", false, [](const HttpResult& r) {
        auto j = body_json(r);
        CHECK(image_parts(j).empty());
        CHECK(image_parts(j, true).size() == 1);
    }};
    c["blank_image"] = {"blank_image", false, [](const HttpResult& r) {
        std::string png = first_image_bytes(body_json(r));
        auto info = image_info(png);
        CHECK(info.decodes);
        CHECK(info.width == 1024);
        int w = 0, h = 0, comp = 0;
        stbi_uc* px = stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(png.data()), static_cast<int>(png.size()), &w, &h, &comp, 3);
        REQUIRE(px);
        bool flat = true;
        for (std::size_t i = 3; i < static_cast<std::size_t>(w) * static_cast<std::size_t>(h) * 3; ++i) flat &= px[i] == px[i % 3];
        stbi_image_free(px);
        CHECK(flat);
    }};
    c["corrupt_base64"] = {"corrupt_base64", false, [](const HttpResult& r) {
        auto data = image_parts(body_json(r)).at(0)["inlineData"]["data"].get<std::string>();
        CHECK(decode_base64(data).empty());
    }};
    c["truncated_png"] = {"truncated_png", false, [](const HttpResult& r) {
        auto part = image_parts(body_json(r)).at(0);
        CHECK(part["inlineData"]["mimeType"] == "image/png");
        std::string bytes = decode_base64(part["inlineData"]["data"].get<std::string>());
        REQUIRE(bytes.size() > 8);
        CHECK(bytes.compare(1, 3, "PNG") == 0);
        CHECK(bytes.find("IEND") == std::string::npos);
        CHECK_FALSE(image_info(bytes).decodes);
    }};
    c["corrupt_png"] = {"corrupt_png", true, [](const HttpResult& r) {
        auto events = sse_events(r.body);
        std::string bytes;
        for (const auto& e : events)
            if (!image_parts(e).empty()) bytes = first_image_bytes(e);
        REQUIRE(bytes.size() > 8);
        CHECK(bytes.find("IEND") != std::string::npos);   // full length...
        CHECK_FALSE(image_info(bytes).decodes);            // ...but broken inside
    }};
    c["malformed_json"] = {"malformed_json", false, [](const HttpResult& r) {
        CHECK(r.code == CURLE_OK);   // the HTTP body is complete
        CHECK(r.header("content-length") == std::to_string(r.body.size()));
        CHECK_FALSE(json::accept(r.body));
    }};
    c["array_error"] = {"array_error", false, [](const HttpResult& r) {
        auto j = body_json(r);
        REQUIRE(j.is_array());
        CHECK(j[0]["error"]["status"] == "INTERNAL");
    }};
    c["sse_midstream_error"] = {"sse_midstream_error", true, [](const HttpResult& r) {
        auto events = sse_events(r.body);
        REQUIRE(events.size() == 2);
        CHECK(events[0].contains("candidates"));
        REQUIRE(events[1].contains("bare"));
        CHECK(json::parse(events[1]["bare"].get<std::string>())["error"]["code"] == 500);
    }};
    c["empty_reply"] = {"empty_reply", false, [](const HttpResult& r) {
        CHECK(r.code == CURLE_GOT_NOTHING);
        CHECK(r.status == 0);
    }};
    c["slow_first_byte"] = {"slow_first_byte:300", false, [](const HttpResult& r) {
        CHECK(r.first_byte_seconds >= 0.28);
        CHECK(body_json(r).contains("candidates"));
    }};
    c["stall_mid_body"] = {"stall_mid_body:300", false, [](const HttpResult& r) {
        CHECK(r.longest_gap() >= 0.25);
        CHECK(body_json(r).contains("candidates"));
    }};
    c["reset_connection"] = {"reset_connection", false, [](const HttpResult& r) {
        CHECK(r.code == CURLE_RECV_ERROR);
        CHECK_THAT(r.error, Catch::Contains("reset", Catch::CaseSensitive::No));
        CHECK(r.body.empty());
    }};
    c["trickle"] = {"trickle:10", false, [](const HttpResult& r) {
        CHECK(r.pieces.size() >= 3);
        CHECK(r.seconds >= 0.02);
        CHECK(body_json(r).contains("candidates"));
    }};
    c["truncate_body"] = {"truncate_body", false, [](const HttpResult& r) {
        CHECK(r.code == CURLE_PARTIAL_FILE);
        CHECK(r.status == 200);
        CHECK(std::stoul(r.header("content-length")) == 2 * r.body.size() + (std::stoul(r.header("content-length")) % 2));
    }};
    return c;
}

}  // namespace

TEST_CASE("faults: the test table covers every named fault", "[faults]") {
    auto cases = fault_cases();
    for (const auto& f : nbcore::emulator::fault_table()) {
        INFO(f.name);
        CHECK(cases.count(std::string(f.name)) == 1);
    }
    CHECK(cases.size() == nbcore::emulator::fault_table().size());
}

TEST_CASE("faults: each named fault answers with its status and body", "[faults]") {
    static Emulator emu;   // one server for the whole table: renders are cached between cases
    auto cases = fault_cases();
    std::vector<std::string> names;
    for (const auto& f : nbcore::emulator::fault_table()) names.emplace_back(f.name);
    auto name = GENERATE_REF(from_range(names));
    DYNAMIC_SECTION(name) {
        const auto* spec = nbcore::emulator::find_fault(name);
        REQUIRE(spec);
        REQUIRE(cases.count(name));
        const FaultCase& c = cases[name];
        emu.server.reset();
        emu.server.set_script(json{{"replies", {c.entry}}}.dump());
        auto r = emu.generate(kFlash, prompt_body("fault " + name), c.stream);
        if (spec->status != 0) CHECK(r.status == spec->status);
        c.check(r);
        auto log = emu.server.requests();
        REQUIRE(log.size() == 1);
        CHECK(log[0]["fault"] == name);
        // The next request is answered normally: the entry was used up.
        CHECK(emu.generate(kFlash, prompt_body("after " + name)).status == 200);
    }
}

TEST_CASE("faults: blocked answers on the stream route are framed as events", "[faults][stream]") {
    Emulator emu;
    emu.server.set_script(R"(["image_safety", "500"])");
    auto blocked = emu.generate(kPro, prompt_body("x"), true);
    CHECK(blocked.status == 200);
    auto events = sse_events(blocked.body);
    REQUIRE(events.size() == 1);
    CHECK(events[0]["candidates"][0]["finishReason"] == "IMAGE_SAFETY");
    CHECK(events[0]["usageMetadata"]["thoughtsTokenCount"].get<int>() > 0);
    auto error = emu.generate(kPro, prompt_body("x"), true);
    CHECK(error.status == 500);
    CHECK(body_json(error)["error"]["code"] == 500);   // errors before the stream are plain JSON
}

TEST_CASE("modifiers: delay_ms holds back the first byte", "[modifiers]") {
    Emulator emu;
    emu.server.set_script(R"({"replies": [{"fault": "503_overloaded", "delay_ms": 250}]})");
    auto r = emu.generate(kFlash, prompt_body("x"));
    CHECK(r.status == 503);
    CHECK(r.first_byte_seconds >= 0.24);
    CHECK(r.first_byte_seconds < 2.0);
}

TEST_CASE("modifiers: a stall is a visible gap in the body", "[modifiers]") {
    Emulator emu;
    emu.server.set_script(R"({"replies": [{"pass": true, "stall_ms": 300, "stall_at": 1000}]})");
    auto r = emu.generate(kFlash, prompt_body("stall"));
    REQUIRE(r.code == CURLE_OK);
    CHECK(r.status == 200);
    CHECK(r.longest_gap() >= 0.28);
    // Everything before the gap is exactly the first 1000 bytes.
    std::size_t before = 0;
    for (std::size_t i = 0; i + 1 < r.pieces.size(); ++i) {
        before += r.pieces[i].second;
        if (r.pieces[i + 1].first - r.pieces[i].first >= 0.28) break;
    }
    CHECK(before == 1000);
    CHECK(body_json(r).contains("candidates"));
}

TEST_CASE("modifiers: reset ends the connection with RST mid-body", "[modifiers]") {
    Emulator emu;
    emu.server.set_script(R"({"replies": [{"pass": true, "reset": true, "reset_at": 2000},
                                           {"fault": "500", "reset": true}]})");
    auto r = emu.generate(kFlash, prompt_body("reset"));
    CHECK(r.code == CURLE_RECV_ERROR);
    CHECK_THAT(r.error, Catch::Contains("reset", Catch::CaseSensitive::No));
    CHECK(r.status == 200);           // the headers arrived...
    CHECK(r.body.size() == 2000);     // ...and exactly the bytes before the reset
    auto after_headers = emu.generate(kFlash, prompt_body("reset"));
    CHECK(after_headers.code == CURLE_RECV_ERROR);
    CHECK(after_headers.status == 500);
    CHECK(after_headers.body.empty());
    CHECK(emu.server.requests()[0]["status"] == 200);
}

TEST_CASE("modifiers: truncate_at declares the whole length and closes early", "[modifiers]") {
    Emulator emu;
    emu.server.set_script(R"({"replies": [{"pass": true, "truncate_at": 500}, {"pass": true, "truncate_at": "0.25"}]})");
    auto r = emu.generate(kFlash, prompt_body("cut"));
    CHECK(r.code == CURLE_PARTIAL_FILE);
    CHECK(r.body.size() == 500);
    CHECK(std::stoul(r.header("content-length")) > 500);
    auto sse = emu.generate(kFlash, prompt_body("cut"), true);   // chunked: no final chunk
    CHECK(sse.code == CURLE_PARTIAL_FILE);
    CHECK(sse.body.find("finishReason") == std::string::npos);
}

TEST_CASE("modifiers: trickle sends small pieces with pauses", "[modifiers]") {
    Emulator emu;
    emu.server.set_script(R"({"replies": [{"pass": true, "trickle_bytes": 4096, "trickle_ms": 15}]})");
    // A 4 KiB receive buffer: curl reads at most one piece at a time even when it falls behind.
    HttpRequest req{"POST", emu.generate_url(kFlash), prompt_body("trickle").dump(), {kKeyHeader}};
    req.buffer_size = 4096;
    auto r = send(req);
    REQUIRE(r.code == CURLE_OK);
    std::size_t pieces = (r.body.size() + 4095) / 4096;
    REQUIRE(pieces >= 10);
    // The pauses are the server's: the transfer cannot be faster than them.
    CHECK(r.seconds >= 0.015 * static_cast<double>(pieces - 1) * 0.95);
    CHECK(body_json(r).contains("candidates"));
}

TEST_CASE("modifiers: extra headers and modifiers apply to named faults too", "[modifiers]") {
    Emulator emu;
    emu.server.set_script(R"({"replies": [{"fault": "rpm_429", "retry_delay": 2.5, "headers": {"Retry-After": "3"}, "delay_ms": 100}]})");
    auto r = emu.generate(kFlash, prompt_body("x"));
    CHECK(r.status == 429);
    CHECK(r.header("retry-after") == "3");
    CHECK(r.first_byte_seconds >= 0.09);
    auto j = body_json(r);
    CHECK(retry_delay(j) == "2s");
}
