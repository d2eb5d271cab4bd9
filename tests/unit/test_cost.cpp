// The cost ledger's pure rules: money, the price table and its JSON overrides, the worst case
// against what a reply really cost, and alert crossings.
#include <catch2/catch.hpp>

#include <fstream>
#include <string>
#include <vector>

#include "test_quota_support.hpp"

using namespace quota_test;

namespace {

Usage image_usage(std::int64_t prompt, std::int64_t image_tokens, std::int64_t text_tokens = 0, std::int64_t thoughts = 0) {
    Usage u;
    u.present = true;
    u.prompt_tokens = prompt;
    u.candidates_tokens = image_tokens + text_tokens;
    u.thoughts_tokens = thoughts;
    if (image_tokens) u.candidates_details.push_back({"IMAGE", image_tokens});
    if (text_tokens) u.candidates_details.push_back({"TEXT", text_tokens});
    u.total_tokens = prompt + image_tokens + text_tokens + thoughts;
    return u;
}

CostRequest cost_request(std::string model, std::string size = "", Mode mode = Mode::Online, std::int64_t input = 0) {
    CostRequest r;
    r.model = std::move(model);
    r.image_size = std::move(size);
    r.mode = mode;
    r.input_tokens = input;
    r.images = 1;
    return r;
}

}  // namespace

TEST_CASE("cost money: micro-dollars and formatting", "[cost]") {
    CHECK(micro_usd(0.134) == 134'000);
    CHECK(micro_usd(0.0195) == 19'500);
    CHECK(micro_usd(0.0000004) == 0);
    CHECK(micro_usd(0.0000005) == 1);
    CHECK(usd(134'000) == Approx(0.134));
    struct Case {
        MicroUsd amount;
        std::string text;
    };
    const std::vector<Case> cases = {
        {0, "$0.00"},           {134'000, "$0.134"},        {240'000, "$0.24"},         {19'500, "$0.0195"},
        {1, "$0.000001"},       {12'500'000, "$12.50"},     {1'234'000'000, "$1,234.00"}, {-1'000'000, "-$1.00"},
        {999'999, "$0.999999"}, {1'234'567'890'123, "$1,234,567.890123"},
    };
    for (const auto& c : cases) {
        INFO(c.amount);
        CHECK(format_usd(c.amount) == c.text);
    }
    CHECK(mode_name(Mode::Online) == "online");
    CHECK(mode_name(Mode::Batch) == "batch");
    CHECK(period_name(Period::Day) == "daily");
    CHECK(period_name(Period::Month) == "monthly");
    CHECK(period_name(Period::Total) == "total");
}

TEST_CASE("cost prices: the published defaults", "[cost][prices]") {
    const PriceTable t = PriceTable::defaults();
    struct Row {
        std::string model, size;
        Mode mode;
        double usd;
    };
    const std::vector<Row> images = {
        {std::string(kModelPro), "1K", Mode::Online, 0.134},  {std::string(kModelPro), "2K", Mode::Online, 0.134},
        {std::string(kModelPro), "4K", Mode::Online, 0.24},   {std::string(kModelPro), "", Mode::Online, 0.134},
        {std::string(kModelPro), "1K", Mode::Batch, 0.067},   {std::string(kModelPro), "2K", Mode::Batch, 0.067},
        {std::string(kModelPro), "4K", Mode::Batch, 0.12},    {std::string(kModelFlash), "", Mode::Online, 0.039},
        {std::string(kModelFlash), "1K", Mode::Online, 0.039}, {std::string(kModelFlash), "", Mode::Batch, 0.0195},
        {"models/nano-banana-pro-preview", "4K", Mode::Online, 0.24},   // alias
    };
    for (const auto& r : images) {
        INFO(r.model << " " << r.size << " " << mode_name(r.mode));
        auto p = t.image_price(r.model, r.size, r.mode);
        REQUIRE(p.has_value());
        CHECK(*p == Approx(r.usd));
    }
    auto pro = t.token_price(kModelPro, Mode::Online);
    REQUIRE(pro);
    CHECK(pro->input_per_million == Approx(2.00));
    CHECK(pro->output_text_per_million == Approx(12.00));
    auto pro_batch = t.token_price(kModelPro, Mode::Batch);
    REQUIRE(pro_batch);
    CHECK(pro_batch->input_per_million == Approx(1.00));
    auto flash = t.token_price(kModelFlash, Mode::Online);
    REQUIRE(flash);
    CHECK(flash->input_per_million == Approx(0.30));
    CHECK(t.token_price(kModelFlash, Mode::Batch)->input_per_million == Approx(0.15));
    CHECK_FALSE(t.image_price(kModelFlash, "4K", Mode::Online).has_value());
    CHECK_FALSE(t.image_price("unknown", "1K", Mode::Online).has_value());
    // The image price per token matches the published per-token rates ($120/1M Pro, $30/1M Flash).
    CHECK(prices_for(t, cost_request(std::string(kModelPro))).image_usd_per_token * 1e6 == Approx(119.64).epsilon(0.001));
    CHECK(prices_for(t, cost_request(std::string(kModelPro), "4K")).image_usd_per_token * 1e6 == Approx(120.0));
    CHECK(prices_for(t, cost_request(std::string(kModelFlash))).image_usd_per_token * 1e6 == Approx(30.23).epsilon(0.001));
    CHECK(PriceTable::none().images().empty());
}

TEST_CASE("cost prices: JSON overrides keep what they leave out", "[cost][prices]") {
    const std::string json = R"({"models": {
        "gemini-3-pro-image-preview": {"online": {"image": {"4K": 0.30}}, "batch": {"input_per_million": 0.9}},
        "models/gemini-9-image": {"online": {"input_per_million": 1.5, "output_text_per_million": 9, "image": {"1K": 0.05}}}}})";
    PriceTable t = PriceTable::from_json(json);
    CHECK(*t.image_price(kModelPro, "4K", Mode::Online) == Approx(0.30));
    CHECK(*t.image_price(kModelPro, "1K", Mode::Online) == Approx(0.134));   // untouched
    CHECK(t.token_price(kModelPro, Mode::Batch)->input_per_million == Approx(0.9));
    CHECK(t.token_price(kModelPro, Mode::Batch)->output_text_per_million == Approx(6.0));   // kept
    CHECK(*t.image_price("gemini-9-image", "1K", Mode::Online) == Approx(0.05));
    CHECK(t.token_price("gemini-9-image", Mode::Online)->output_text_per_million == Approx(9.0));
    // On top of an empty table only the given entries exist.
    PriceTable only = PriceTable::from_json(R"({"models": {"m": {"online": {"image": {"2K": 1.0}}}}})", PriceTable::none());
    CHECK(only.images().size() == 1);
    CHECK(only.tokens().empty());
    // An empty object changes nothing; to_json round-trips.
    CHECK(PriceTable::from_json("{}").images().size() == PriceTable::defaults().images().size());
    PriceTable back = PriceTable::from_json(t.to_json(), PriceTable::none());
    for (const auto& p : t.images()) CHECK(back.image_price(p.model, p.size, p.mode) == p.usd_per_image);
    for (const auto& p : t.tokens()) {
        auto q = back.token_price(p.model, p.mode);
        REQUIRE(q);
        CHECK(q->input_per_million == p.input_per_million);
        CHECK(q->output_text_per_million == p.output_text_per_million);
    }
}

TEST_CASE("cost prices: bad JSON names the field", "[cost][prices]") {
    struct Case {
        std::string name, json, field;
    };
    const std::vector<Case> cases = {
        {"not JSON", "{models:", "(document)"},
        {"not an object", "[1, 2]", "(document)"},
        {"unknown top-level field", R"({"model": {}})", "model"},
        {"models not an object", R"({"models": []})", "models"},
        {"a model not an object", R"({"models": {"m": 3}})", "models.m"},
        {"unknown mode", R"({"models": {"m": {"realtime": {}}}})", "models.m.realtime"},
        {"a misspelt field", R"({"models": {"m": {"online": {"input_per_milion": 1}}}})", "models.m.online.input_per_milion"},
        {"a negative price", R"({"models": {"m": {"online": {"output_text_per_million": -1}}}})",
         "models.m.online.output_text_per_million"},
        {"a price as a string", R"({"models": {"m": {"batch": {"input_per_million": "2.0"}}}})", "models.m.batch.input_per_million"},
        {"image not an object", R"({"models": {"m": {"online": {"image": 0.1}}}})", "models.m.online.image"},
        {"an unknown size", R"({"models": {"m": {"online": {"image": {"8K": 0.5}}}}})", "models.m.online.image.8K"},
        {"a lowercase size", R"({"models": {"m": {"online": {"image": {"1k": 0.5}}}}})", "models.m.online.image.1k"},
        {"a null price", R"({"models": {"m": {"online": {"image": {"1K": null}}}}})", "models.m.online.image.1K"},
    };
    for (const auto& c : cases) {
        INFO(c.name);
        try {
            (void)PriceTable::from_json(c.json);
            FAIL("no error for " << c.json);
        } catch (const Error& e) {
            CHECK(e.code() == Status::INVALID_ARG);
            CHECK_THAT(e.diagnosis().message, Catch::Contains(c.field));
            CHECK_FALSE(e.diagnosis().advice.empty());
        }
    }
    CHECK_THROWS_AS(PriceTable::from_file("/nonexistent/nbcore-prices.json"), Error);
    TempDir dir;
    {
        std::ofstream f(dir.file("prices.json"));
        f << R"({"models": {"gemini-2.5-flash-image": {"online": {"image": {"1K": 0.05}}}}})";
    }
    CHECK(*PriceTable::from_file(dir.file("prices.json")).image_price(kModelFlash, "", Mode::Online) == Approx(0.05));
}

TEST_CASE("cost: a standard image costs exactly its listed price", "[cost][usage]") {
    const PriceTable t = PriceTable::defaults();
    struct Case {
        std::string name, model, size;
        Mode mode;
        std::int64_t image_tokens;
        MicroUsd cost;
    };
    const std::vector<Case> cases = {
        {"Pro 1K", std::string(kModelPro), "1K", Mode::Online, 1120, 134'000},
        {"Pro default size", std::string(kModelPro), "", Mode::Online, 1120, 134'000},
        {"Pro 2K", std::string(kModelPro), "2K", Mode::Online, 1120, 134'000},
        {"Pro 4K", std::string(kModelPro), "4K", Mode::Online, 2000, 240'000},
        {"Pro 1K batch", std::string(kModelPro), "1K", Mode::Batch, 1120, 67'000},
        {"Pro 4K batch", std::string(kModelPro), "4K", Mode::Batch, 2000, 120'000},
        {"Flash", std::string(kModelFlash), "", Mode::Online, 1290, 39'000},
        {"Flash batch", std::string(kModelFlash), "", Mode::Batch, 1290, 19'500},
    };
    for (const auto& c : cases) {
        INFO(c.name);
        CHECK(cost_of_usage(t, cost_request(c.model, c.size, c.mode), image_usage(0, c.image_tokens)) == c.cost);
    }
}

TEST_CASE("cost: what a reply cost, part by part", "[cost][usage]") {
    const PriceTable t = PriceTable::defaults();
    const auto pro = cost_request(std::string(kModelPro), "1K");
    // Prompt at $2/1M, image at its price, caption and thinking at $12/1M.
    CHECK(cost_of_usage(t, pro, image_usage(100, 1120)) == 134'000 + 200);
    CHECK(cost_of_usage(t, pro, image_usage(100, 1120, 50, 1000)) == 134'000 + 200 + 600 + 12'000);
    // A blocked reply bills its prompt (and whatever thinking it did).
    CHECK(cost_of_usage(t, pro, image_usage(1000, 0)) == 2'000);
    CHECK(cost_of_usage(t, pro, image_usage(1000, 0, 0, 500)) == 2'000 + 6'000);
    // Without per-modality detail, every candidate token is charged as image.
    Usage flat;
    flat.present = true;
    flat.candidates_tokens = 1120;
    CHECK(cost_of_usage(t, pro, flat) == 134'000);
    // Tool-use prompt tokens count as input; cached tokens are already in promptTokenCount.
    Usage tool = image_usage(100, 0);
    tool.tool_use_prompt_tokens = 400;
    tool.cached_tokens = 50;
    CHECK(cost_of_usage(t, pro, tool) == 1'000);
    CHECK(cost_of_usage(t, pro, Usage{}) == 0);
}

TEST_CASE("cost: the worst case covers what a standard reply costs", "[cost][worst]") {
    const PriceTable t = PriceTable::defaults();
    const Allowance allowance;   // 2000 thinking + 300 text
    struct Case {
        std::string name, model, size;
        Mode mode;
        std::int64_t input, image_tokens;
        MicroUsd worst;
    };
    const std::vector<Case> cases = {
        // Pro thinks: 0.134 + 100 x $2/1M + 2300 x $12/1M.
        {"Pro 1K", std::string(kModelPro), "1K", Mode::Online, 100, 1120, 134'000 + 200 + 27'600},
        {"Pro 4K", std::string(kModelPro), "4K", Mode::Online, 1000, 2000, 240'000 + 2'000 + 27'600},
        {"Pro 2K batch", std::string(kModelPro), "2K", Mode::Batch, 100, 1120, 67'000 + 100 + 13'800},
        // Flash does not think: 0.039 + 300 x $0.30/1M + 300 x $2.50/1M.
        {"Flash", std::string(kModelFlash), "", Mode::Online, 300, 1290, 39'000 + 90 + 750},
    };
    for (const auto& c : cases) {
        INFO(c.name);
        auto req = cost_request(c.model, c.size, c.mode, c.input);
        auto w = worst_case_cost(t, req, allowance);
        CHECK(w.total == c.worst);
        CHECK(w.total == w.images + w.input + w.output_text);
        CHECK_FALSE(w.fallback_price);
        // A standard reply (the estimated prompt, one image, a short caption, some thinking) costs less.
        auto actual = cost_of_usage(t, req, image_usage(c.input, c.image_tokens, 40, find_model(c.model)->thinking ? 800 : 0));
        CHECK(actual <= w.total);
        CHECK(actual > 0);
    }
    // Two images reserve twice the image part.
    auto two = cost_request(std::string(kModelPro), "1K");
    two.images = 2;
    CHECK(worst_case_cost(t, two, allowance).images == 268'000);
}

TEST_CASE("cost: models the table lacks are charged as the dearest, never as free", "[cost][worst]") {
    const PriceTable t = PriceTable::defaults();
    auto unknown = cost_request("gemini-9-image", "1K", Mode::Online, 100);
    auto p = prices_for(t, unknown);
    CHECK(p.fallback);
    CHECK(p.usd_per_image == Approx(0.24));
    CHECK(p.input_per_million == Approx(2.0));
    CHECK(p.output_text_per_million == Approx(12.0));
    auto w = worst_case_cost(t, unknown);
    CHECK(w.fallback_price);
    CHECK(w.images == 240'000);
    CHECK(w.output_text == 27'600);   // an unknown model may think
    // A size the model lacks: the model's dearest size.
    auto flash4k = prices_for(t, cost_request(std::string(kModelFlash), "4K"));
    CHECK(flash4k.fallback);
    CHECK(flash4k.usd_per_image == Approx(0.039));
    // Batch prices missing: the online ones.
    PriceTable online_only = PriceTable::from_json(R"({"models": {"m": {"online": {"input_per_million": 1, "image": {"1K": 0.1}}}}})",
                                                   PriceTable::none());
    auto batch = prices_for(online_only, cost_request("m", "1K", Mode::Batch));
    CHECK(batch.fallback);
    CHECK(batch.usd_per_image == Approx(0.1));
    CHECK(batch.input_per_million == Approx(1.0));
}

TEST_CASE("cost alerts: each level crossed upwards, once", "[cost][alerts]") {
    struct Case {
        std::string name;
        MicroUsd before, after, cap;
        std::vector<int> already, expect;
    };
    const std::vector<Case> cases = {
        {"below half", 0, 499'999, 1'000'000, {}, {}},
        {"exactly half", 0, 500'000, 1'000'000, {}, {50}},
        {"half to 80", 500'000, 800'000, 1'000'000, {50}, {80}},
        {"straight to the cap", 0, 1'000'000, 1'000'000, {}, {50, 80, 100}},
        {"already at half", 500'000, 600'000, 1'000'000, {}, {}},
        {"already reported", 0, 900'000, 1'000'000, {50, 80}, {}},
        {"past the cap", 990'000, 1'200'000, 1'000'000, {50, 80}, {100}},
        {"going down", 900'000, 100'000, 1'000'000, {}, {}},
        {"no cap", 0, 100, 0, {}, {}},
        {"odd cap: 80% of 3 micro-dollars is 2.4", 2, 3, 3, {50}, {80, 100}},
    };
    for (const auto& c : cases) {
        INFO(c.name);
        CHECK(alert_crossings(c.before, c.after, c.cap, c.already) == c.expect);
    }
    BudgetCaps caps;
    caps.daily_usd = 2.5;
    CHECK(caps.get(Period::Day) == 2'500'000);
    CHECK_FALSE(caps.get(Period::Month).has_value());
}
