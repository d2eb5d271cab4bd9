// The governor's pure rules: tier presets, estimates, earliest_fit per dimension and the sliding
// window, 80% warnings, and learning from 429s (real bodies) with drain and AIMD.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "nbcore/policy.hpp"
#include "nbcore/resilience.hpp"
#include "real_429_bodies.hpp"
#include "test_quota_support.hpp"

using namespace quota_test;

namespace {

using real429::kFreeTierMixed;
using real429::kLegacyShort;
using real429::kLimitZero;
using real429::kVertexShared;

FitInput fit_input(const std::vector<WindowEntry>& recent, std::int64_t used_today, const Limits& limits,
                   const KeyState& state, const Demand& demand, SystemTime now) {
    return FitInput{recent, used_today, limits, state, demand, now};
}

WindowEntry entry_at(SystemTime at, std::int64_t tokens = 100, std::int64_t images = 1) {
    return WindowEntry{at, 1, tokens, images};
}

Diagnosis diagnose_429(const std::string& body, SystemTime now) {
    return policy::diagnose(429, body, net::Headers{}, now);
}

// ---- more real 429 bodies (the shared ones are in real_429_bodies.hpp) ---------------------

// Roo-Code#3883 variant: the TPM violation carries quotaValue "250000"; details QuotaFailure, Help,
// RetryInfo "26s". (The emulator's FreeTpm body has this shape.)
const std::string kFreeTierTpmValue = R"({"error": {"code": 429,
  "message": "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
  "status": "RESOURCE_EXHAUSTED",
  "details": [
    {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
      {"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_input_token_count",
       "quotaId": "GenerateContentInputTokensPerModelPerMinute-FreeTier",
       "quotaDimensions": {"location": "global", "model": "gemini-2.5-flash-preview-image"},
       "quotaValue": "250000"}]},
    {"@type": "type.googleapis.com/google.rpc.Help", "links": [
      {"description": "Learn more about Gemini API quotas", "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]},
    {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "26s"}]}})";

// The emulator's FreeRpm body with an enforced limit: the RPM violation states quotaValue "10".
const std::string kEmulatorFreeRpm = R"({"error":{"code":429,"message":"You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaMetric":"generativelanguage.googleapis.com/generate_content_free_tier_requests","quotaId":"GenerateRequestsPerMinutePerProjectPerModel-FreeTier","quotaDimensions":{"location":"global","model":"gemini-3-pro-image"},"quotaValue":"10"}]},{"@type":"type.googleapis.com/google.rpc.Help","links":[{"description":"Learn more about Gemini API quotas","url":"https://ai.google.dev/gemini-api/docs/rate-limits"}]},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"12s"}]}})";

// The emulator's PaidRpm body: no quotaValue.
const std::string kEmulatorPaidRpm = R"({"error":{"code":429,"message":"You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaMetric":"generativelanguage.googleapis.com/generate_requests_per_model","quotaId":"GenerateRequestsPerMinutePerProjectPerModel","quotaDimensions":{"location":"global","model":"gemini-3-pro-image"}}]},{"@type":"type.googleapis.com/google.rpc.Help","links":[{"description":"Learn more about Gemini API quotas","url":"https://ai.google.dev/gemini-api/docs/rate-limits"}]},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"5s"}]}})";

// tech-shrimp/gemini-playground#10 shape: Vertex puts the limit in ErrorInfo metadata.
const std::string kErrorInfoLimit = R"({"error": {"code": 429, "message": "Quota exceeded for quota metric 'Generate Content API requests per minute' and limit 'GenerateContent request limit per minute for a region' of service 'generativelanguage.googleapis.com' for consumer 'project_number:123'.", "status": "RESOURCE_EXHAUSTED",
 "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED", "domain": "googleapis.com",
  "metadata": {"service": "generativelanguage.googleapis.com", "consumer": "projects/123", "quota_limit_value": "60", "quota_limit": "GenerateContentRequestsPerMinutePerProjectPerRegion", "quota_location": "us-east7", "quota_metric": "generativelanguage.googleapis.com/generate_content_requests"}}]}})";

}  // namespace

// ---- tiers ------------------------------------------------------------------------------------

TEST_CASE("quota tiers: presets per tier and model", "[quota][tiers]") {
    struct Row {
        std::string tier, model;
        std::int64_t rpm, tpm, ipm, rpd;
    };
    const std::vector<Row> rows = {
        {"free", "some-future-model", 5, 15'000, 5, 100},
        {"free", std::string(kModelFlash), 10, 15'000, 10, 100},
        {"free", "models/gemini-2.5-flash-image-preview", 10, 15'000, 10, 100},   // alias
        {"free", std::string(kModelPro), 0, 0, 0, 0},                             // no free quota
        {"free", "nano-banana-pro-preview", 0, 0, 0, 0},                          // alias
        {"tier1", std::string(kModelPro), 300, 100'000, 300, 10'000},
        {"tier1", std::string(kModelFlash), 300, 100'000, 300, 10'000},
        {"tier1", "some-future-model", 300, 100'000, 300, 10'000},
        {"tier2", std::string(kModelPro), 600, 200'000, 600, 20'000},
        {"tier3", std::string(kModelFlash), 1'200, 400'000, 1'200, 40'000},
    };
    for (const auto& r : rows) {
        INFO(r.tier << " / " << r.model);
        auto l = tier_limits(r.tier, r.model);
        REQUIRE(l.has_value());
        CHECK(l->rpm == r.rpm);
        CHECK(l->tpm == r.tpm);
        CHECK(l->ipm == r.ipm);
        CHECK(l->rpd == r.rpd);
    }
    CHECK_FALSE(tier_limits("tier4", kModelPro).has_value());
    CHECK_FALSE(tier_limits("", kModelPro).has_value());
    CHECK_FALSE(tier_limits("Tier1", kModelPro).has_value());
    auto names = tier_names();
    const std::vector<std::string_view> expected_names = {"free", "tier1", "tier2", "tier3"};
    CHECK(std::vector<std::string_view>(names.begin(), names.end()) == expected_names);
    // Higher tiers never plan with less than lower ones.
    for (auto model : {std::string(kModelPro), std::string(kModelFlash), std::string("x")}) {
        for (std::size_t i = 1; i < names.size(); ++i) {
            auto lo = *tier_limits(names[i - 1], model), hi = *tier_limits(names[i], model);
            for (auto d : kDimensions) CHECK(*hi.get(d) >= *lo.get(d));
        }
    }
}

TEST_CASE("quota limits: custom numbers overlay the tier, field by field", "[quota][tiers]") {
    Limits tier = *tier_limits("tier1", kModelPro);
    Limits custom;
    custom.rpm = 12;
    custom.rpd = 0;
    Limits l = tier.overlaid(custom);
    CHECK(l.rpm == 12);
    CHECK(l.tpm == tier.tpm);
    CHECK(l.ipm == tier.ipm);
    CHECK(l.rpd == 0);
    CHECK(dimension_index(Dimension::RPM) == 0);
    CHECK(dimension_index(Dimension::RPD) == 3);
    CHECK(dimension_index(Dimension::ZERO) == -1);
    CHECK(is_per_minute(Dimension::IPM));
    CHECK_FALSE(is_per_minute(Dimension::RPD));
}

TEST_CASE("quota key: a fingerprint and a canonical model, never the secret", "[quota]") {
    const std::string secret = test_secret(7);
    auto k = QuotaKey::of(secret, "models/nano-banana-pro-preview");
    CHECK(k.model == kModelPro);
    CHECK(k.credential == policy::credential_fingerprint(secret));
    CHECK(k.credential.find(secret) == std::string::npos);
    CHECK(QuotaKey::of(secret, kModelPro) == k);
    CHECK_FALSE(QuotaKey::of(test_secret(8), kModelPro) == k);
}

// ---- estimates --------------------------------------------------------------------------------

TEST_CASE("quota estimates: estimate_text_tokens", "[quota][estimate]") {
    struct Case {
        std::string name, text;
        std::int64_t tokens;
    };
    const std::vector<Case> cases = {
        {"empty", "", 0},
        {"one ASCII character", "a", 1},
        {"three ASCII characters", "abc", 1},
        {"four ASCII characters", "abcd", 2},
        {"300 ASCII characters", std::string(300, 'x'), 100},
        {"301 ASCII characters", std::string(301, 'x'), 101},
        {"CJK: one token per character", "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E", 3},          // 日本語
        {"mixed Latin-1", "h\xC3\xA9llo", 3},                                                   // héllo: 4 ASCII + 1
        {"an emoji is one character", "\xF0\x9F\x8D\x8C", 1},                                   // 🍌
        {"a sentence", "A lighthouse at dawn, oil painting.", 12},
    };
    for (const auto& c : cases) {
        INFO(c.name);
        CHECK(estimate_text_tokens(c.text) == c.tokens);
    }
    // English runs near 4 characters per token: the estimate is above that, never below.
    std::string english = "a serene mountain lake at sunrise with mist over the water and pine trees";
    CHECK(estimate_text_tokens(english) >= static_cast<std::int64_t>(english.size() / 4));
}

TEST_CASE("quota estimates: input tokens of prompts, images and history", "[quota][estimate]") {
    CHECK(estimate_input_tokens(kModelPro, "abcdef", 2) == 2 + 2 * 560);
    CHECK(estimate_input_tokens(kModelFlash, "abcdef", 2) == 2 + 2 * 258);
    CHECK(estimate_input_tokens("unknown-model", "", 1) == 560);   // the dearest known image

    Request req;
    req.prompt = std::string(30, 'p');                  // 10
    req.system_instruction = std::string(9, 's');       // 3
    req.images.resize(2);
    req.history.push_back({"user", R"([{"text": "abcdef"}, {"inlineData": {"mimeType": "image/png", "data": "AAAA"}}])"});
    req.history.push_back({"model", R"([{"text": "abc", "thoughtSignature": "xyz"}])"});
    Demand d = estimate_demand(req, kModelPro);
    CHECK(d.requests == 1);
    CHECK(d.images == 1);
    CHECK(d.input_tokens == 10 + 3 + 2 + 1 + 3 * 560 + kRequestTokenOverhead);
    CHECK(d.of(Dimension::RPM) == 1);
    CHECK(d.of(Dimension::RPD) == 1);
    CHECK(d.of(Dimension::TPM) == d.input_tokens);
    CHECK(d.of(Dimension::IPM) == 1);

    // A history turn that does not parse counts as text, all of it.
    Request odd;
    odd.history.push_back({"user", "not json at all"});
    CHECK(estimate_demand(odd, kModelFlash).input_tokens == estimate_text_tokens("not json at all") + kRequestTokenOverhead);
}

// ---- windows and earliest_fit -----------------------------------------------------------------

TEST_CASE("quota windows: entries count for exactly 60 s", "[quota][window]") {
    const SystemTime t0 = base_now();
    std::vector<WindowEntry> e = {entry_at(t0), entry_at(t0 + 10s), entry_at(t0 + 70s)};
    CHECK(window_used(e, Dimension::RPM, t0 + 59s) == 3);       // a future entry counts too
    CHECK(window_used(e, Dimension::RPM, t0 + 60s) == 2);       // t0 left at exactly t0 + 60 s
    CHECK(window_used(e, Dimension::TPM, t0 + 60s) == 200);
    CHECK(window_used(e, Dimension::RPM, t0 + 70s) == 1);
    CHECK(earliest_in_window(e, Dimension::RPM, 3, 1, t0 + 30s) == t0 + 60s);
    CHECK(earliest_in_window(e, Dimension::RPM, 3, 2, t0 + 30s) == t0 + 70s);
    CHECK(earliest_in_window(e, Dimension::RPM, 4, 1, t0 + 30s) == t0 + 30s);
    CHECK_FALSE(earliest_in_window(e, Dimension::RPM, 3, 4, t0).has_value());
}

TEST_CASE("quota fit: earliest_fit for each dimension", "[quota][fit]") {
    const SystemTime t0 = base_now();
    const KeyState fresh;

    SECTION("RPM: the oldest request in the window must leave first") {
        std::vector<WindowEntry> e = {entry_at(t0), entry_at(t0 + 10s), entry_at(t0 + 20s)};
        auto fit = earliest_fit(fit_input(e, 3, rpm_only(3), fresh, one_request(), t0 + 30s));
        CHECK(fit.verdict == Verdict::Later);
        CHECK(fit.at == t0 + 60s);
        CHECK(fit.binding == Dimension::RPM);
        CHECK(fit.used == 3);
        CHECK(fit.limit == 3);
        CHECK(fit.demand == 1);
        CHECK(fit.source == LimitSource::Configured);
        CHECK_FALSE(fit.drained);
        CHECK(earliest_fit(fit_input(e, 3, rpm_only(4), fresh, one_request(), t0 + 30s)).verdict == Verdict::Now);
    }
    SECTION("TPM: as many tokens must leave as the demand needs") {
        Limits l;
        l.tpm = 1000;
        std::vector<WindowEntry> e = {entry_at(t0, 600), entry_at(t0 + 5s, 300)};
        auto fit = earliest_fit(fit_input(e, 2, l, fresh, one_request(200), t0 + 10s));
        CHECK(fit.verdict == Verdict::Later);
        CHECK(fit.at == t0 + 60s);
        CHECK(fit.binding == Dimension::TPM);
        auto big = earliest_fit(fit_input(e, 2, l, fresh, one_request(800), t0 + 10s));
        CHECK(big.at == t0 + 65s);   // both must leave
        CHECK(earliest_fit(fit_input(e, 2, l, fresh, one_request(100), t0 + 10s)).verdict == Verdict::Now);
        auto never = earliest_fit(fit_input(e, 2, l, fresh, one_request(1001), t0 + 10s));
        CHECK(never.verdict == Verdict::Never);
        CHECK(never.binding == Dimension::TPM);
    }
    SECTION("IPM: images per minute") {
        Limits l;
        l.ipm = 2;
        std::vector<WindowEntry> e = {entry_at(t0, 10, 1), entry_at(t0 + 1s, 10, 1)};
        auto fit = earliest_fit(fit_input(e, 2, l, fresh, one_request(), t0 + 2s));
        CHECK(fit.verdict == Verdict::Later);
        CHECK(fit.binding == Dimension::IPM);
        CHECK(fit.at == t0 + 60s);
        // A settled attempt that delivered no image frees its IPM slot.
        e[0].images = 0;
        CHECK(earliest_fit(fit_input(e, 2, l, fresh, one_request(), t0 + 2s)).verdict == Verdict::Now);
    }
    SECTION("RPD: full today means the next Pacific midnight") {
        Limits l;
        l.rpd = 100;
        auto fit = earliest_fit(fit_input({}, 100, l, fresh, one_request(), t0));
        CHECK(fit.verdict == Verdict::Later);
        CHECK(fit.binding == Dimension::RPD);
        CHECK(fit.at == utc(2026, 3, 11, 7));   // midnight PDT
        CHECK(earliest_fit(fit_input({}, 99, l, fresh, one_request(), t0)).verdict == Verdict::Now);
    }
    SECTION("zero quota: configured 0, or a 429 that said limit 0") {
        Limits l;
        l.rpd = 0;
        auto fit = earliest_fit(fit_input({}, 0, l, fresh, one_request(), t0));
        CHECK(fit.verdict == Verdict::Never);
        CHECK(fit.binding == Dimension::ZERO);
        KeyState zero;
        zero.zero_until = t0 + 1h;
        auto held = earliest_fit(fit_input({}, 0, Limits{}, zero, one_request(), t0));
        CHECK(held.verdict == Verdict::Never);
        CHECK(held.binding == Dimension::ZERO);
        CHECK(held.at == t0 + 1h);
        CHECK(earliest_fit(fit_input({}, 0, Limits{}, zero, one_request(), t0 + 1h)).verdict == Verdict::Now);
    }
    SECTION("unknown limits admit at once") {
        std::vector<WindowEntry> e(50, entry_at(t0));
        auto fit = earliest_fit(fit_input(e, 50, Limits{}, fresh, one_request(), t0));
        CHECK(fit.verdict == Verdict::Now);
        CHECK(fit.at == t0);
        CHECK(fit.binding == Dimension::NONE);
    }
    SECTION("several dimensions: the latest one decides") {
        Limits l;
        l.rpm = 2;
        l.tpm = 250;
        std::vector<WindowEntry> e = {entry_at(t0, 200), entry_at(t0 + 20s, 10)};
        auto fit = earliest_fit(fit_input(e, 2, l, fresh, one_request(100), t0 + 30s));
        CHECK(fit.at == t0 + 60s);   // TPM frees at t0+60 (RPM too): both need the first to leave
        e.push_back(entry_at(t0 + 40s, 1));
        l.rpm = 3;
        auto fit2 = earliest_fit(fit_input(e, 3, l, fresh, one_request(100), t0 + 45s));
        CHECK(fit2.at == t0 + 60s);
        l.rpm = 2;
        auto fit3 = earliest_fit(fit_input(e, 3, l, fresh, one_request(100), t0 + 45s));
        CHECK(fit3.binding == Dimension::RPM);
        CHECK(fit3.at == t0 + 80s);   // two of three must leave for RPM 2
    }
    SECTION("drain: a per-minute 429 keeps the dimension full until the server's delay") {
        KeyState drained;
        drained.at(Dimension::RPM).drained_until = t0 + 47s;
        auto fit = earliest_fit(fit_input({}, 0, Limits{}, drained, one_request(), t0));
        CHECK(fit.verdict == Verdict::Later);
        CHECK(fit.at == t0 + 47s);
        CHECK(fit.binding == Dimension::RPM);
        CHECK(fit.drained);
        CHECK(earliest_fit(fit_input({}, 0, Limits{}, drained, one_request(), t0 + 47s)).verdict == Verdict::Now);
    }
}

TEST_CASE("quota fit: at most L in any 60 s, where a token bucket would allow 2L", "[quota][window]") {
    const SystemTime t0 = base_now();
    const Limits l = rpm_only(5);
    // Five requests at the end of one minute...
    std::vector<WindowEntry> e(5, entry_at(t0 + 59s));
    // ...do not let five more in at the start of the next: the first fits only 60 s later.
    auto fit = earliest_fit(fit_input(e, 5, l, KeyState{}, one_request(), t0 + 61s));
    CHECK(fit.verdict == Verdict::Later);
    CHECK(fit.at == t0 + 119s);
}

TEST_CASE("quota fit: random arrivals admitted at their earliest fit never exceed L in any 60 s", "[quota][window]") {
    for (std::uint64_t seed : {1u, 2u, 3u, 42u, 1234u}) {
        INFO("seed " << seed);
        std::mt19937_64 rng(seed);
        std::uniform_int_distribution<int> gap_ms(0, 9'000);
        std::uniform_int_distribution<int> limit_pick(1, 12);
        const std::int64_t limit = limit_pick(rng);
        const Limits l = rpm_only(limit);
        std::vector<WindowEntry> admitted;
        SystemTime now = base_now();
        for (int i = 0; i < 400; ++i) {
            now += std::chrono::milliseconds(gap_ms(rng));
            auto fit = earliest_fit(fit_input(admitted, 0, l, KeyState{}, one_request(), now));
            REQUIRE(fit.verdict != Verdict::Never);
            // The caller waits until fit.at, then is admitted (a later arrival queues behind it).
            now = std::max(now, fit.at);
            REQUIRE(earliest_fit(fit_input(admitted, 0, l, KeyState{}, one_request(), now)).verdict == Verdict::Now);
            admitted.push_back(entry_at(now));
        }
        // Every 60-second interval starting at an admission holds at most `limit`.
        for (const auto& a : admitted) {
            auto in_window = std::count_if(admitted.begin(), admitted.end(),
                                           [&](const WindowEntry& b) { return b.at >= a.at && b.at < a.at + 60s; });
            REQUIRE(in_window <= limit);
        }
        // And the governor does not starve: with arrivals dense enough, it reaches the limit.
        std::int64_t best = 0;
        for (const auto& a : admitted)
            best = std::max<std::int64_t>(best, std::count_if(admitted.begin(), admitted.end(), [&](const WindowEntry& b) {
                                              return b.at >= a.at && b.at < a.at + 60s;
                                          }));
        CHECK(best == limit);
    }
}

// ---- warnings ---------------------------------------------------------------------------------

TEST_CASE("quota warnings: 80% of a limit, once per window", "[quota][warnings]") {
    const SystemTime t0 = base_now();
    const Limits l = rpm_only(10);
    KeyState s;
    std::vector<WindowEntry> e(7, entry_at(t0));
    // 7 + 1 = 8 of 10: crosses 80%.
    auto w = warning_crossings(fit_input(e, 7, l, s, one_request(), t0 + 1s));
    REQUIRE(w == std::vector<Dimension>{Dimension::RPM});
    // 6 + 1 = 7 of 10: below.
    e.pop_back();
    CHECK(warning_crossings(fit_input(e, 6, l, s, one_request(), t0 + 1s)).empty());
    // Once warned, not again within 60 s...
    e.resize(8, entry_at(t0));
    s.at(Dimension::RPM).warned_at = t0 + 1s;
    CHECK(warning_crossings(fit_input(e, 8, l, s, one_request(), t0 + 30s)).empty());
    // ...but again in the next window.
    std::vector<WindowEntry> later(8, entry_at(t0 + 61s));
    CHECK(warning_crossings(fit_input(later, 8, l, s, one_request(), t0 + 62s)) == std::vector<Dimension>{Dimension::RPM});
    // RPD warns once per Pacific day.
    Limits daily;
    daily.rpd = 100;
    KeyState d;
    CHECK(warning_crossings(fit_input({}, 79, daily, d, one_request(), t0)) == std::vector<Dimension>{Dimension::RPD});
    d.at(Dimension::RPD).warned_at = t0;
    CHECK(warning_crossings(fit_input({}, 90, daily, d, one_request(), t0 + 5h)).empty());
    CHECK(warning_crossings(fit_input({}, 90, daily, d, one_request(), utc(2026, 3, 11, 7))).size() == 1);
}

// ---- learning from 429s -----------------------------------------------------------------------

TEST_CASE("quota learning: what real 429 bodies teach", "[quota][learn]") {
    const SystemTime now = base_now();
    const LearnConfig cfg;

    SECTION("gemini-cli#8437: per-day wins; drained until midnight Pacific, no numbers stated") {
        auto d = diagnose_429(kFreeTierMixed, now);
        REQUIRE(d.dimension == Dimension::RPD);
        auto sig = signal_from_429(d, kFreeTierMixed);
        CHECK(sig.server_limits.empty());
        UsedByDimension used{3, 300, 3, 40};
        auto s = learn_from_429({}, sig, Limits{}, used, now, cfg);
        CHECK(s.at(Dimension::RPD).drained_until == policy::next_pacific_midnight(now));
        CHECK_FALSE(s.at(Dimension::RPM).adaptive.has_value());
        auto fit = earliest_fit(fit_input({}, 40, Limits{}, s, one_request(), now));
        CHECK(fit.verdict == Verdict::Later);
        CHECK(fit.binding == Dimension::RPD);
        CHECK(fit.at == utc(2026, 3, 11, 7));
    }
    SECTION("Roo-Code#3883: quotaValue 250000 becomes the TPM limit, exactly; drained 26 s") {
        auto d = diagnose_429(kFreeTierTpmValue, now);
        REQUIRE(d.dimension == Dimension::TPM);
        auto sig = signal_from_429(d, kFreeTierTpmValue);
        REQUIRE(sig.server_limits.size() == 1);
        CHECK(sig.server_limits[0].first == Dimension::TPM);
        CHECK(sig.server_limits[0].second == 250'000);
        Limits configured;
        configured.tpm = 15'000;
        auto s = learn_from_429({}, sig, configured, UsedByDimension{}, now, cfg);
        CHECK(s.at(Dimension::TPM).server_limit == 250'000);
        CHECK_FALSE(s.at(Dimension::TPM).adaptive.has_value());   // a stated number needs no guess
        CHECK(s.at(Dimension::TPM).drained_until == now + 26s);
        auto eff = effective_limit(configured.tpm, s.at(Dimension::TPM), 100);
        CHECK(eff.limit == 250'000);
        CHECK(eff.source == LimitSource::Server);
        CHECK(eff.hard);
    }
    SECTION("the emulator's free RPM body with quotaValue 10") {
        auto d = diagnose_429(kEmulatorFreeRpm, now);
        REQUIRE(d.dimension == Dimension::RPM);
        auto s = learn_from_429({}, signal_from_429(d, kEmulatorFreeRpm), Limits{}, UsedByDimension{12, 0, 0, 12}, now, cfg);
        CHECK(s.at(Dimension::RPM).server_limit == 10);
        CHECK(s.at(Dimension::RPM).drained_until == now + 12s);
        CHECK_FALSE(s.at(Dimension::RPM).adaptive.has_value());
    }
    SECTION("continue#9570: limit 0 refuses locally for the zero hold") {
        auto d = diagnose_429(kLimitZero, now);
        REQUIRE(d.dimension == Dimension::ZERO);
        auto sig = signal_from_429(d, kLimitZero);
        CHECK(std::any_of(sig.server_limits.begin(), sig.server_limits.end(), [](auto& p) { return p.second == 0; }));
        auto s = learn_from_429({}, sig, Limits{}, UsedByDimension{}, now, cfg);
        CHECK(s.zero_until == now + 1h);
        for (auto dim : kDimensions) CHECK_FALSE(s.at(dim).server_limit.has_value());   // 0 never sticks
        auto fit = earliest_fit(fit_input({}, 0, Limits{}, s, one_request(), now));
        CHECK(fit.verdict == Verdict::Never);
        CHECK(fit.binding == Dimension::ZERO);
        CHECK(earliest_fit(fit_input({}, 0, Limits{}, s, one_request(), now + 1h)).verdict == Verdict::Now);
    }
    SECTION("Vertex ErrorInfo quota_limit_value") {
        auto d = diagnose_429(kErrorInfoLimit, now);
        auto sig = signal_from_429(d, kErrorInfoLimit);
        REQUIRE(sig.server_limits.size() == 1);
        CHECK(sig.server_limits[0].first == Dimension::RPM);
        CHECK(sig.server_limits[0].second == 60);
    }
    SECTION("bodies without details: a capacity 429 lowers the RPM guess (AIMD)") {
        for (const auto& body : {kLegacyShort, kVertexShared}) {
            auto d = diagnose_429(body, now);
            auto sig = signal_from_429(d, body);
            CHECK(sig.server_limits.empty());
            auto s = learn_from_429({}, sig, Limits{}, UsedByDimension{10, 1000, 10, 10}, now, cfg);
            REQUIRE(s.at(Dimension::RPM).adaptive.has_value());
            CHECK(*s.at(Dimension::RPM).adaptive == Approx(5.0));
        }
    }
    SECTION("the emulator's paid RPM body: the retry delay drains; a delay is trusted, not guessed at") {
        auto d = diagnose_429(kEmulatorPaidRpm, now);
        REQUIRE(d.dimension == Dimension::RPM);
        auto sig = signal_from_429(d, kEmulatorPaidRpm);
        for (const Limits& configured : {*tier_limits("tier1", kModelPro), Limits{}}) {
            auto s = learn_from_429({}, sig, configured, UsedByDimension{40, 0, 0, 40}, now, cfg);
            CHECK(s.at(Dimension::RPM).drained_until == now + 5s);
            CHECK_FALSE(s.at(Dimension::RPM).adaptive.has_value());
        }
    }
    SECTION("a configured limit is not guessed at either, even by a 429 without details") {
        auto d = diagnose_429(kLegacyShort, now);
        auto s = learn_from_429({}, signal_from_429(d, kLegacyShort), *tier_limits("tier1", kModelPro),
                                UsedByDimension{40, 0, 0, 40}, now, cfg);
        CHECK_FALSE(s.at(Dimension::RPM).adaptive.has_value());
    }
}

TEST_CASE("quota AIMD: multiplicative decrease, additive increase", "[quota][learn][aimd]") {
    const SystemTime now = base_now();
    const LearnConfig cfg;
    QuotaSignal capacity;   // a 429 without details
    capacity.dimension = Dimension::UNKNOWN;

    SECTION("each unexplained 429 halves the guess, never below 1") {
        KeyState s = learn_from_429({}, capacity, Limits{}, UsedByDimension{16, 0, 0, 16}, now, cfg);
        CHECK(*s.at(Dimension::RPM).adaptive == Approx(8));
        s = learn_from_429(s, capacity, Limits{}, UsedByDimension{8, 0, 0, 24}, now, cfg);
        CHECK(*s.at(Dimension::RPM).adaptive == Approx(4));
        // Decrease from the limit in force when the window holds more than it (a burst elsewhere).
        s = learn_from_429(s, capacity, Limits{}, UsedByDimension{30, 0, 0, 54}, now, cfg);
        CHECK(*s.at(Dimension::RPM).adaptive == Approx(2));
        s = learn_from_429(s, capacity, Limits{}, UsedByDimension{2, 0, 0, 56}, now, cfg);
        s = learn_from_429(s, capacity, Limits{}, UsedByDimension{1, 0, 0, 57}, now, cfg);
        CHECK(*s.at(Dimension::RPM).adaptive == Approx(1));
        auto eff = effective_limit(std::nullopt, s.at(Dimension::RPM), 1);
        CHECK(eff.limit == 1);
        CHECK(eff.source == LimitSource::Adaptive);
        CHECK_FALSE(eff.hard);
    }
    SECTION("a window's worth of successes adds about one request") {
        KeyState s;
        s.at(Dimension::RPM).adaptive = 10.0;
        for (int i = 0; i < 10; ++i) s = learn_from_success(s, one_request(), Limits{}, cfg);
        CHECK(*s.at(Dimension::RPM).adaptive == Approx(11.0).margin(0.1));
        for (int i = 0; i < 200; ++i) s = learn_from_success(s, one_request(), Limits{}, cfg);
        CHECK(*s.at(Dimension::RPM).adaptive > 20.0);
        // One success never adds more than one request's demand.
        KeyState tiny;
        tiny.at(Dimension::RPM).adaptive = 0.5;
        tiny = learn_from_success(tiny, one_request(), Limits{}, cfg);
        CHECK(*tiny.at(Dimension::RPM).adaptive == Approx(1.5));
    }
    SECTION("reaching the hard limit drops the guess") {
        KeyState s;
        s.at(Dimension::RPM).adaptive = 5.95;
        s = learn_from_success(s, one_request(), rpm_only(6), cfg);
        CHECK_FALSE(s.at(Dimension::RPM).adaptive.has_value());
        CHECK(effective_limit(6, s.at(Dimension::RPM), 1).source == LimitSource::Configured);
    }
    SECTION("a lowered guess slows a request but never refuses it") {
        KeyState s;
        s.at(Dimension::TPM).adaptive = 1.0;
        auto fit = earliest_fit(fit_input({}, 0, Limits{}, s, one_request(5000), now));
        CHECK(fit.verdict == Verdict::Now);
        std::vector<WindowEntry> e = {entry_at(now - 10s, 3000)};
        auto later = earliest_fit(fit_input(e, 1, Limits{}, s, one_request(5000), now));
        CHECK(later.verdict == Verdict::Later);
        CHECK(later.at == now + 50s);
        CHECK(later.source == LimitSource::Adaptive);
    }
    SECTION("TPM and IPM learn in their own units") {
        QuotaSignal tpm;
        tpm.dimension = Dimension::TPM;   // no delay and no number: the limit is guessed
        auto s = learn_from_429({}, tpm, Limits{}, UsedByDimension{5, 8000, 5, 5}, now, cfg);
        CHECK(*s.at(Dimension::TPM).adaptive == Approx(4000));
        CHECK_FALSE(s.at(Dimension::RPM).adaptive.has_value());
        s = learn_from_success(s, one_request(400), Limits{}, cfg);
        CHECK(*s.at(Dimension::TPM).adaptive == Approx(4040));   // 400^2 / 4000
    }
}
