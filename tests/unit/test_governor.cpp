// The governor facade: options checked at creation, admission (quota, then budget), settlement,
// release, 429s, and many threads sharing one governor.
#include <catch2/catch.hpp>

#include <atomic>
#include <functional>
#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "nbcore/governor.hpp"
#include "nbcore/policy.hpp"
#include "test_state_support.hpp"

using namespace quota_test;

namespace {

Request prompt_request(std::string prompt = "a lighthouse at dawn, oil painting") {
    Request r;
    r.prompt = std::move(prompt);
    return r;
}

Usage pro_1k_usage(std::int64_t prompt_tokens) {
    Usage u;
    u.present = true;
    u.prompt_tokens = prompt_tokens;
    u.candidates_tokens = 1120;
    u.candidates_details = {{"IMAGE", 1120}};
    u.total_tokens = prompt_tokens + 1120;
    return u;
}

std::shared_ptr<Governor> governor(GovernorOptions o = {}) { return Governor::create(std::move(o)); }

}  // namespace

TEST_CASE("governor: bad options are INVALID_ARG with advice", "[governor]") {
    struct Case {
        std::string name;
        std::function<void(GovernorOptions&)> spoil;
        std::string mentions;
    };
    const std::vector<Case> cases = {
        {"unknown tier", [](GovernorOptions& o) { o.tier = "tier4"; }, "tier4"},
        {"tier names are lowercase", [](GovernorOptions& o) { o.tier = "Free"; }, "Free"},
        {"negative custom limit", [](GovernorOptions& o) { o.custom.rpm = -1; }, "RPM"},
        {"negative daily cap", [](GovernorOptions& o) { o.caps.daily_usd = -0.01; }, "daily"},
        {"NaN monthly cap", [](GovernorOptions& o) { o.caps.monthly_usd = std::nan(""); }, "monthly"},
        {"infinite total cap", [](GovernorOptions& o) { o.caps.total_usd = std::numeric_limits<double>::infinity(); }, "total"},
        {"decrease of 0", [](GovernorOptions& o) { o.learn.decrease = 0; }, "decrease"},
        {"decrease above 1", [](GovernorOptions& o) { o.learn.decrease = 1.5; }, "decrease"},
        {"negative increase", [](GovernorOptions& o) { o.learn.increase = -1; }, "increase"},
        {"negative allowance", [](GovernorOptions& o) { o.allowance.thinking_tokens = -5; }, "allowance"},
        {"zero lease", [](GovernorOptions& o) { o.lease = Millis(0); }, "lease"},
        {"negative price", [](GovernorOptions& o) { o.prices.set_image_price(kModelPro, "1K", Mode::Online, -0.1); }, "price"},
    };
    for (const auto& c : cases) {
        INFO(c.name);
        GovernorOptions o;
        c.spoil(o);
        try {
            Governor::create(o);
            FAIL("accepted");
        } catch (const Error& e) {
            CHECK(e.code() == Status::INVALID_ARG);
            CHECK_THAT(e.diagnosis().message, Catch::Contains(c.mentions));
            CHECK_FALSE(e.diagnosis().advice.empty());
        }
    }
    for (std::string tier : {"", "free", "tier1", "tier2", "tier3"}) {
        GovernorOptions o;
        o.tier = tier;
        CHECK_NOTHROW(Governor::create(o));
    }
}

TEST_CASE("governor: the configured limits are the tier overlaid with custom ones", "[governor]") {
    GovernorOptions o;
    o.tier = "tier1";
    o.custom.rpm = 25;
    auto g = governor(o);
    Limits pro = g->limits_for("models/" + std::string(kModelPro));
    CHECK(pro.rpm == 25);
    CHECK(pro.rpd == 10'000);
    GovernorOptions learn_only;
    learn_only.custom.rpd = 50;
    auto g2 = governor(learn_only);
    CHECK_FALSE(g2->limits_for(kModelPro).rpm.has_value());
    CHECK(g2->limits_for(kModelPro).rpd == 50);
    CHECK(g2->options().state != nullptr);   // a memory backend was filled in
}

TEST_CASE("governor: admit, settle from usage, and report", "[governor]") {
    auto g = governor();
    const SystemTime t0 = base_now();
    const std::string key = test_secret();
    auto a = g->admit(key, prompt_request(), kModelPro, "1K", Mode::Online, t0);
    REQUIRE(a.kind == Governor::Admission::Admitted);
    const auto& t = a.ticket;
    CHECK(t.key == QuotaKey::of(key, kModelPro));
    CHECK(t.quota_ticket > 0);
    CHECK(t.cost_hold > 0);
    CHECK(t.demand.input_tokens == estimate_text_tokens(prompt_request().prompt) + kRequestTokenOverhead);
    CHECK(t.reserved == worst_case_cost(PriceTable::defaults(), t.cost).total);
    CHECK(t.reserved == a.estimate);
    CHECK(t.cost.image_size == "1K");
    CHECK(a.warnings.empty());
    CHECK(a.alerts.empty());

    auto s = g->settle(t, pro_1k_usage(0), 1, t0 + 20s);
    CHECK(s.found);
    CHECK(s.cost == 134'000);   // a standard Pro 1K image, exactly its price
    auto snap = g->usage(t0 + 21s);
    REQUIRE(snap.keys.size() == 1);
    CHECK(snap.keys[0].unsettled == 0);
    CHECK(snap.keys[0].dimensions[1].used == 0);   // TPM: the reply's promptTokenCount replaced the estimate
    for (const auto& c : snap.caps) {
        CHECK(c.spent == 134'000);
        CHECK(c.held == 0);
    }
    // A second settlement of the same ticket books nothing.
    CHECK_FALSE(g->settle(t, pro_1k_usage(10), 1, t0 + 22s).found);

    // Without usage metadata the reserved worst case is booked.
    auto b = g->admit(key, prompt_request(), kModelPro, "4K", Mode::Online, t0 + 30s);
    REQUIRE(b.kind == Governor::Admission::Admitted);
    auto sb = g->settle(b.ticket, Usage{}, 0, t0 + 40s);
    CHECK(sb.cost == b.ticket.reserved);
    // Batch mode is priced at batch rates.
    auto c = g->admit(key, prompt_request(), kModelPro, "1K", Mode::Batch, t0 + 50s);
    REQUIRE(c.kind == Governor::Admission::Admitted);
    CHECK(g->settle(c.ticket, pro_1k_usage(0), 1, t0 + 60s).cost == 67'000);
}

TEST_CASE("governor: a full quota says when to come back and takes nothing", "[governor]") {
    GovernorOptions o;
    o.custom.rpm = 2;
    auto g = governor(o);
    const SystemTime t0 = base_now();
    const std::string key = test_secret();
    CHECK(g->admit(key, prompt_request(), kModelFlash, "", Mode::Online, t0).kind == Governor::Admission::Admitted);
    auto second = g->admit(key, prompt_request(), kModelFlash, "", Mode::Online, t0 + 1s);
    CHECK(second.kind == Governor::Admission::Admitted);
    CHECK(second.warnings == std::vector<Dimension>{Dimension::RPM});   // 2 of 2 crosses 80%
    auto wait = g->admit(key, prompt_request(), kModelFlash, "", Mode::Online, t0 + 2s);
    CHECK(wait.kind == Governor::Admission::Wait);
    CHECK(wait.retry_at == t0 + 61s);   // the window frees at t0+60; one second for the server's stamp
    CHECK(wait.fit.binding == Dimension::RPM);
    CHECK(wait.ticket.cost_hold == 0);
    CHECK(g->usage(t0 + 2s).open_holds == 2);   // the waiting one reserved nothing
    CHECK(g->admit(key, prompt_request(), kModelFlash, "", Mode::Online, wait.retry_at).kind ==
          Governor::Admission::Admitted);
}

TEST_CASE("governor: zero quota on the free tier is refused locally", "[governor]") {
    GovernorOptions o;
    o.tier = "free";
    auto g = governor(o);
    auto a = g->admit(test_secret(), prompt_request(), kModelPro, "1K", Mode::Online, base_now());
    CHECK(a.kind == Governor::Admission::RefusedQuota);
    CHECK(a.fit.binding == Dimension::ZERO);
    CHECK(g->usage(base_now()).open_holds == 0);
    CHECK(g->admit(test_secret(), prompt_request(), kModelFlash, "", Mode::Online, base_now()).kind ==
          Governor::Admission::Admitted);
}

TEST_CASE("governor: a budget refusal releases the quota it took", "[governor][cost]") {
    GovernorOptions o;
    o.custom.rpm = 10;
    o.caps.daily_usd = 0.30;
    auto g = governor(o);
    const SystemTime t0 = base_now();
    const std::string key = test_secret();
    // Pro 1K reserves about $0.16 (image + prompt + thinking and caption allowance).
    auto first = g->admit(key, prompt_request(), kModelPro, "1K", Mode::Online, t0);
    REQUIRE(first.kind == Governor::Admission::Admitted);
    CHECK(first.alerts.size() == 1);   // crossed 50% of $0.30
    CHECK(first.alerts[0].percent == 50);
    auto second = g->admit(key, prompt_request(), kModelPro, "1K", Mode::Online, t0 + 1s);
    CHECK(second.kind == Governor::Admission::RefusedBudget);
    CHECK(second.budget_period == Period::Day);
    CHECK(second.committed == first.ticket.reserved);
    CHECK(second.cap == 300'000);
    CHECK(second.retry_at == utc(2026, 3, 11, 7));
    auto snap = g->usage(t0 + 2s);
    CHECK(snap.keys[0].dimensions[0].used == 1);   // the refused attempt holds no quota
    // Settling the first at its real cost makes room again.
    g->settle(first.ticket, pro_1k_usage(20), 1, t0 + 3s);
    auto third = g->admit(key, prompt_request(), kModelPro, "1K", Mode::Online, t0 + 4s);
    CHECK(third.kind == Governor::Admission::Admitted);
    // A total cap refuses for good.
    GovernorOptions total;
    total.caps.total_usd = 0.01;
    auto refused = governor(total)->admit(key, prompt_request(), kModelFlash, "", Mode::Online, t0);
    CHECK(refused.kind == Governor::Admission::RefusedBudget);
    CHECK(refused.budget_period == Period::Total);
    CHECK(refused.retry_at == SystemTime::max());
}

TEST_CASE("governor: release and on_429 drop both the quota entry and the cost hold", "[governor]") {
    GovernorOptions o;
    o.custom.rpm = 1;
    auto g = governor(o);
    const SystemTime t0 = base_now();
    const std::string key = test_secret();
    auto a = g->admit(key, prompt_request(), kModelFlash, "", Mode::Online, t0);
    REQUIRE(a.kind == Governor::Admission::Admitted);
    g->release(a.ticket, t0 + 1s);
    auto snap = g->usage(t0 + 1s);
    CHECK(snap.open_holds == 0);
    CHECK(snap.keys[0].dimensions[0].used == 0);

    auto b = g->admit(key, prompt_request(), kModelFlash, "", Mode::Online, t0 + 2s);
    REQUIRE(b.kind == Governor::Admission::Admitted);
    // The emulator's free RPM 429 for this model, with its stated limit and retry delay.
    const std::string body =
        R"({"error":{"code":429,"message":"You exceeded your current quota.","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaMetric":"generativelanguage.googleapis.com/generate_content_free_tier_requests","quotaId":"GenerateRequestsPerMinutePerProjectPerModel-FreeTier","quotaDimensions":{"location":"global","model":"gemini-2.5-flash-preview-image"},"quotaValue":"1"}]},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"30s"}]}})";
    auto d = policy::diagnose(429, body, net::Headers{}, t0 + 3s);
    REQUIRE(d.code == Status::RATE_LIMITED);
    auto learned = g->on_429(b.ticket, d, body, t0 + 3s);
    CHECK(learned.after.at(Dimension::RPM).server_limit == 1);
    CHECK(learned.after.at(Dimension::RPM).drained_until == t0 + 33s);
    auto after = g->usage(t0 + 3s);
    CHECK(after.open_holds == 0);
    CHECK(after.keys[0].dimensions[0].used == 0);
    CHECK(after.keys[0].dimensions[0].source == LimitSource::Server);
    auto w = g->admit(key, prompt_request(), kModelFlash, "", Mode::Online, t0 + 4s);
    CHECK(w.kind == Governor::Admission::Wait);
    CHECK(w.retry_at == t0 + 33s);
    CHECK(w.fit.drained);
}

TEST_CASE("governor: many threads share one quota exactly", "[governor][threads]") {
    auto b = make_backend(GENERATE(as<std::string>{}, "memory", "sqlite"));
    INFO(b.kind);
    GovernorOptions o;
    o.custom.rpm = 50;
    o.caps.daily_usd = 100.0;
    o.state = b.backend;
    auto g = governor(o);
    const SystemTime t0 = base_now();
    std::atomic<int> admitted{0}, waited{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; ++i) {
        threads.emplace_back([&] {
            for (int j = 0; j < 10; ++j) {
                auto a = g->admit(test_secret(), prompt_request(), kModelFlash, "", Mode::Online, t0);
                if (a.kind == Governor::Admission::Admitted) {
                    ++admitted;
                    g->settle(a.ticket, Usage{}, 1, t0);
                } else if (a.kind == Governor::Admission::Wait) {
                    ++waited;
                }
            }
        });
    }
    for (auto& t : threads) t.join();
    CHECK(admitted == 50);
    CHECK(waited == 30);
    auto snap = g->usage(t0);
    CHECK(snap.open_holds == 0);
    CHECK(snap.keys[0].dimensions[0].used == 50);
}
