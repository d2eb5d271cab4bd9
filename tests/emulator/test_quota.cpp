// Enforced quotas over loopback: per key and per model, each dimension, RetryInfo to the
// nanosecond, the Pacific day across DST, and the bodies read back through core's classifier.
#include <catch2/catch.hpp>

#include <chrono>

#include "common.hpp"
#include "nbcore/policy.hpp"
#include "nbcore/status.hpp"

using namespace emutest;
using namespace std::chrono;

namespace {

json body_json(const HttpResult& r) {
    INFO("body: " << r.body.substr(0, 600));
    return json::parse(r.body);
}

// Keys are made at run time; none looks like a real one.
std::string key_named(const std::string& who) { return "quota-test-" + who; }

HttpResult generate_as(const Emulator& emu, const std::string& key, const std::string& model, const json& body) {
    return post(emu.generate_url(model), body.dump(), {"x-goog-api-key: " + key, "Content-Type: application/json"});
}

// What core's classifier makes of a reply.
nbcore::Diagnosis classify(const HttpResult& r, nbcore::SystemTime now) {
    return nbcore::policy::diagnose(static_cast<int>(r.status), r.body, {}, now);
}

// The retry RetryInfo names, as core reads it (rounded up to whole milliseconds).
milliseconds retry_info(const HttpResult& r) {
    const json doc = body_json(r);
    for (const auto& d : doc["error"]["details"])
        if (d["@type"] == "type.googleapis.com/google.rpc.RetryInfo") {
            std::string text = "{\"error\":{\"details\":[" + d.dump() + "]}}";
            auto delay = nbcore::policy::server_retry_delay(text, nullptr, nbcore::SystemTime{});
            REQUIRE(delay);
            return *delay;
        }
    FAIL("no RetryInfo in " << r.body);
    return {};
}

std::vector<std::string> quota_ids(const HttpResult& r) {
    std::vector<std::string> ids;
    const json doc = body_json(r);
    for (const auto& d : doc["error"]["details"])
        if (d["@type"] == "type.googleapis.com/google.rpc.QuotaFailure")
            for (const auto& v : d["violations"]) ids.push_back(v["quotaId"].get<std::string>());
    return ids;
}

}  // namespace

TEST_CASE("quota: each API key has its own pool; header, ?key= and tokens are told apart", "[quota]") {
    auto clock = std::make_shared<nbcore::FakeClock>();
    Emulator emu([&](auto& o) {
        o.api_key = "";   // any key is valid
        o.rpm_limit = 1;
        o.clock = clock;
    });
    const std::string alice = key_named("alice"), bob = key_named("bob");
    CHECK(generate_as(emu, alice, kFlash, prompt_body("a")).status == 200);
    CHECK(generate_as(emu, alice, kFlash, prompt_body("a")).status == 429);
    CHECK(generate_as(emu, bob, kFlash, prompt_body("b")).status == 200);   // another key, another pool
    // ?key= is the same credential as the header.
    CHECK(post(emu.generate_url(kFlash) + "?key=" + alice, prompt_body("a").dump()).status == 429);
    CHECK(post(emu.generate_url(kFlash) + "?key=" + key_named("carol"), prompt_body("c").dump()).status == 200);
    // Vertex: one pool per Bearer token.
    const std::string vertex = emu.url("/v1/projects/p/locations/global/publishers/google/models/" + kFlash + ":generateContent");
    CHECK(post(vertex, prompt_body("v").dump(), {"Authorization: Bearer token-one"}).status == 200);
    CHECK(post(vertex, prompt_body("v").dump(), {"Authorization: Bearer token-one"}).status == 429);
    CHECK(post(vertex, prompt_body("v").dump(), {"Authorization: Bearer token-two"}).status == 200);
    // Nothing in the log or the bodies gives a key away.
    auto log = get(emu.url("/_emulator/requests")).body;
    CHECK(log.find(alice) == std::string::npos);
    CHECK(log.find("token-one") == std::string::npos);
}

TEST_CASE("quota: each model has its own pool", "[quota]") {
    auto clock = std::make_shared<nbcore::FakeClock>();
    Emulator emu([&](auto& o) {
        o.rpm_limit = 1;
        o.clock = clock;
    });
    CHECK(emu.generate(kFlash, prompt_body("q")).status == 200);
    CHECK(emu.generate(kPro, prompt_body("q")).status == 200);
    CHECK(emu.generate("nano-banana-pro-preview", prompt_body("q")).status == 429);   // an alias of Pro
    auto over = emu.generate(kFlash, prompt_body("q"));
    REQUIRE(over.status == 429);
    CHECK(body_json(over)["error"]["details"][1]["violations"][0]["quotaDimensions"]["model"] ==
          "gemini-2.5-flash-preview-image");
}

TEST_CASE("quota: requests, input tokens and output images per minute", "[quota]") {
    auto clock = std::make_shared<nbcore::FakeClock>();

    SECTION("RPM") {
        Emulator emu([&](auto& o) { o.rpm_limit = 3; o.clock = clock; });
        for (int i = 0; i < 3; ++i) {
            CHECK(emu.generate(kFlash, prompt_body("q")).status == 200);
            clock->advance(seconds(10));
        }
        auto over = emu.generate(kFlash, prompt_body("q"));
        REQUIRE(over.status == 429);
        CHECK(quota_ids(over) == std::vector<std::string>{"GenerateRequestsPerMinutePerProjectPerModel-FreeTier"});
        CHECK(retry_info(over) == seconds(30));        // the first request leaves the window at 60 s
        CHECK(emu.server.requests().back()["fault"] == "quota_rpm");
        // A sliding window: one place frees up at a time.
        clock->advance(seconds(30));
        CHECK(emu.generate(kFlash, prompt_body("q")).status == 200);
        auto next = emu.generate(kFlash, prompt_body("q"));
        REQUIRE(next.status == 429);
        CHECK(retry_info(next) == seconds(10));
    }
    SECTION("TPM counts the prompt's tokens (about four characters each)") {
        Emulator emu([&](auto& o) { o.tpm_limit = 100; o.clock = clock; });
        CHECK(emu.generate(kFlash, prompt_body(std::string(240, 'a'))).status == 200);   // 60 tokens
        clock->advance(seconds(5));
        auto over = emu.generate(kFlash, prompt_body(std::string(200, 'b')));           // 50 more
        REQUIRE(over.status == 429);
        CHECK(quota_ids(over) == std::vector<std::string>{"GenerateContentInputTokensPerModelPerMinute-FreeTier"});
        CHECK(retry_info(over) == seconds(55));
        CHECK(emu.generate(kFlash, prompt_body(std::string(160, 'c'))).status == 200);  // 40 fit
        CHECK(body_json(over)["error"]["details"][1]["violations"][0]["quotaValue"] == "100");
    }
    SECTION("IPM counts answers that carry an image") {
        Emulator emu([&](auto& o) { o.ipm_limit = 1; o.clock = clock; });
        CHECK(emu.generate(kFlash, prompt_body("q")).status == 200);
        json text_only = prompt_body("q", {{"responseModalities", {"TEXT"}}});
        CHECK(emu.generate(kFlash, text_only).status == 200);   // no image asked, none counted
        auto over = emu.generate(kFlash, prompt_body("q"));
        REQUIRE(over.status == 429);
        CHECK(quota_ids(over) == std::vector<std::string>{"GenerateContentOutputImagesPerMinutePerProjectPerModel-FreeTier"});
        CHECK(emu.server.requests().back()["fault"] == "quota_ipm");
    }
}

TEST_CASE("quota: waiting exactly RetryInfo is enough, one millisecond less is not", "[quota]") {
    auto clock = std::make_shared<nbcore::FakeClock>();
    Emulator emu([&](auto& o) { o.rpm_limit = 1; o.clock = clock; });
    CHECK(emu.generate(kFlash, prompt_body("q")).status == 200);
    clock->advance(milliseconds(12'345));
    auto over = emu.generate(kFlash, prompt_body("q"));
    REQUIRE(over.status == 429);
    const milliseconds wait = retry_info(over);
    CHECK(wait == milliseconds(47'655));
    CHECK(body_json(over)["error"]["details"][2]["retryDelay"] == "47.655s");
    CHECK_THAT(body_json(over)["error"]["message"].get<std::string>(), Catch::EndsWith("Please retry in 47.655s."));

    clock->advance(wait - milliseconds(1));
    auto early = emu.generate(kFlash, prompt_body("q"));
    REQUIRE(early.status == 429);
    CHECK(retry_info(early) == milliseconds(1));
    clock->advance(milliseconds(1));
    CHECK(emu.generate(kFlash, prompt_body("q")).status == 200);
}

TEST_CASE("quota: the day resets at midnight Pacific, on the days DST starts and ends", "[quota]") {
    struct Day {
        const char* name;
        long long start;      // 00:30 local time, UTC seconds (the fake clock reads one second later)
        long long midnight;   // the next local midnight, UTC seconds
    };
    // From the tz database (America/Los_Angeles): 2026-03-08 has 23 hours, 2026-11-01 has 25.
    const Day days[] = {
        {"DST starts (23 h)", 1772958600, 1773039600},   // 2026-03-08 00:30 PST = 08:30Z; next 07:00Z
        {"DST ends (25 h)", 1793518200, 1793606400},     // 2026-11-01 00:30 PDT = 07:30Z; next 08:00Z
    };
    for (const Day& d : days) {
        DYNAMIC_SECTION(d.name) {
            auto clock = std::make_shared<nbcore::FakeClock>(nbcore::SystemTime(seconds(d.start)));
            Emulator emu([&](auto& o) { o.rpd_limit = 2; o.clock = clock; });
            CHECK(emu.generate(kFlash, prompt_body("q")).status == 200);
            CHECK(emu.generate(kFlash, prompt_body("q")).status == 200);
            auto over = emu.generate(kFlash, prompt_body("q"));
            REQUIRE(over.status == 429);
            CHECK(quota_ids(over) == std::vector<std::string>{"GenerateRequestsPerDayPerProjectPerModel-FreeTier"});
            const auto until_midnight = nbcore::SystemTime(seconds(d.midnight)) - clock->wall();
            CHECK(until_midnight == seconds(d.midnight - d.start - 1));
            CHECK(retry_info(over) == until_midnight);
            auto diag = classify(over, clock->wall());
            CHECK(diag.code == nbcore::Status::QUOTA_EXHAUSTED);
            CHECK(diag.dimension == nbcore::Dimension::RPD);
            CHECK(diag.retry_after == until_midnight);

            clock->advance(until_midnight - milliseconds(1));
            CHECK(emu.generate(kFlash, prompt_body("q")).status == 429);
            clock->advance(milliseconds(1));
            CHECK(emu.generate(kFlash, prompt_body("q")).status == 200);
            CHECK(emu.generate(kFlash, prompt_body("q")).status == 200);
            CHECK(emu.generate(kFlash, prompt_body("q")).status == 429);
        }
    }
}

TEST_CASE("quota: free and paid bodies classify with the right dimension and wait", "[quota]") {
    struct Expect {
        std::string tier;
        std::string what;
        nbcore::Status code;
        nbcore::Dimension dimension;
        std::string quota_id;
    };
    const Expect cases[] = {
        {"free", "rpm", nbcore::Status::RATE_LIMITED, nbcore::Dimension::RPM, "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"},
        {"free", "tpm", nbcore::Status::RATE_LIMITED, nbcore::Dimension::TPM, "GenerateContentInputTokensPerModelPerMinute-FreeTier"},
        {"free", "ipm", nbcore::Status::RATE_LIMITED, nbcore::Dimension::IPM, "GenerateContentOutputImagesPerMinutePerProjectPerModel-FreeTier"},
        {"free", "rpd", nbcore::Status::QUOTA_EXHAUSTED, nbcore::Dimension::RPD, "GenerateRequestsPerDayPerProjectPerModel-FreeTier"},
        {"paid", "rpm", nbcore::Status::RATE_LIMITED, nbcore::Dimension::RPM, "GenerateRequestsPerMinutePerProjectPerModel"},
        {"paid", "tpm", nbcore::Status::RATE_LIMITED, nbcore::Dimension::TPM, "GenerateContentPaidTierInputTokensPerModelPerMinute"},
        {"paid", "ipm", nbcore::Status::RATE_LIMITED, nbcore::Dimension::IPM, "GenerateContentPaidTierOutputImagesPerModelPerMinute"},
        {"paid", "rpd", nbcore::Status::QUOTA_EXHAUSTED, nbcore::Dimension::RPD, "GenerateRequestsPerDayPerProjectPerModel"},
    };
    for (const auto& c : cases) {
        DYNAMIC_SECTION(c.tier << " " << c.what) {
            // 2026-11-27 12:00 PST (the fake clock starts one second later): 12 hours to midnight.
            auto clock = std::make_shared<nbcore::FakeClock>(nbcore::SystemTime(seconds(1795809600 - 1)));
            Emulator emu([&](auto& o) {
                o.quota_tier = c.tier;
                o.clock = clock;
                if (c.what == "rpm") o.rpm_limit = 1;
                if (c.what == "tpm") o.tpm_limit = 5;
                if (c.what == "ipm") o.ipm_limit = 1;
                if (c.what == "rpd") o.rpd_limit = 1;
            });
            CHECK(emu.generate(kPro, prompt_body("a short prompt")).status == 200);
            clock->advance(milliseconds(20'250));
            auto over = emu.generate(kPro, prompt_body("a short prompt"));
            REQUIRE(over.status == 429);
            CHECK(quota_ids(over) == std::vector<std::string>{c.quota_id});
            auto diag = classify(over, clock->wall());
            CHECK(diag.code == c.code);
            CHECK(diag.dimension == c.dimension);
            CHECK(diag.reason == c.quota_id);
            CHECK_FALSE(diag.advice.empty());
            REQUIRE(diag.retry_after);
            if (c.what == "rpd") CHECK(*diag.retry_after == hours(12) - milliseconds(20'250));
            else CHECK(*diag.retry_after == milliseconds(39'750));
        }
    }
}

TEST_CASE("quota: limits change at run time over /_emulator/quota; counts stay until a reset", "[quota][server]") {
    auto clock = std::make_shared<nbcore::FakeClock>();
    Emulator emu([&](auto& o) { o.clock = clock; });
    auto now = body_json(get(emu.url("/_emulator/quota")));
    CHECK(now == json{{"ok", true}, {"rpm", 0}, {"tpm", 0}, {"ipm", 0}, {"rpd", 0}});
    // Off: nothing is counted.
    for (int i = 0; i < 3; ++i) CHECK(emu.generate(kFlash, prompt_body("q")).status == 200);

    auto set = post(emu.url("/_emulator/quota"), R"({"rpm": 2})");
    REQUIRE(set.status == 200);
    CHECK(body_json(set) == json{{"ok", true}, {"rpm", 2}, {"tpm", 0}, {"ipm", 0}, {"rpd", 0}});
    CHECK(emu.generate(kFlash, prompt_body("q")).status == 200);
    CHECK(emu.generate(kFlash, prompt_body("q")).status == 200);
    auto over = emu.generate(kFlash, prompt_body("q"));
    REQUIRE(over.status == 429);
    CHECK(quota_ids(over) == std::vector<std::string>{"GenerateRequestsPerMinutePerProjectPerModel-FreeTier"});

    // Another field leaves rpm alone; counts stay; 0 turns a limit off.
    CHECK(body_json(post(emu.url("/_emulator/quota"), R"({"rpd": 100})"))["rpm"] == 2);
    CHECK(emu.generate(kFlash, prompt_body("q")).status == 429);
    CHECK(post(emu.url("/_emulator/quota"), R"({"rpm": 0, "rpd": 0})").status == 200);
    CHECK(emu.generate(kFlash, prompt_body("q")).status == 200);
    // Back on: the two admitted under the limit still fill the minute until a reset clears them.
    CHECK(post(emu.url("/_emulator/quota"), R"({"rpm": 2})").status == 200);
    CHECK(emu.generate(kFlash, prompt_body("q")).status == 429);
    CHECK(post(emu.url("/_emulator/reset"), "").status == 200);
    CHECK(emu.generate(kFlash, prompt_body("q")).status == 200);

    // Bad bodies are refused with the reason, and change nothing.
    for (const char* bad : {R"({"rpm": -1})", R"({"rpm": "5"})", R"({"rmp": 5})", R"([1])", "not json"}) {
        auto r = post(emu.url("/_emulator/quota"), bad);
        INFO(bad);
        CHECK(r.status == 400);
        CHECK_THAT(body_json(r)["error"]["message"].get<std::string>(), Catch::StartsWith("quota: "));
    }
    CHECK(body_json(get(emu.url("/_emulator/quota")))["rpm"] == 2);
}
