// The prompt simplifier against the emulator's flaky-prompt rules: exact, so the search's bounds
// can be asserted.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "emulator_fixture.hpp"
#include "nbcore/simplify.hpp"

using namespace nbcore;

namespace {

const std::string kKey = std::string("AI") + "zaSimplifyTestKey0000000000000000000";

// Ten requirements: the core subject, then nine more.
const char* kPrompt =
    "a red fox, a wooden cabin, a frozen lake, a pine tree, a full moon, a snowman, a sled, "
    "an owl, a lantern, a woodpile";

struct Rig {
    nbtest::EmulatorFixture emu;
    Client client;
    explicit Rig(std::vector<std::string> rules)
        : emu(kKey, [&] {
              emulator::Options o;
              o.blank_when = std::move(rules);
              o.mime = "png";
              return o;
          }()),
          client(emu.client_options()) {}
    std::size_t requests() const { return emu.server.requests().size(); }
};

std::vector<std::string> texts(const SimplifyReport& r, const std::vector<int>& idx) {
    std::vector<std::string> out;
    for (int i : idx) out.push_back(r.analysis.requirements[static_cast<std::size_t>(i)].text);
    return out;
}

}  // namespace

TEST_CASE("simplify: the prompt is rebuilt from the requirements chosen", "[simplify]") {
    std::string p = "a cat on the left, a dog on the right, watercolor";
    auto a = prompt::analyze(p);
    // requirements: cat, on the left, dog, on the right, watercolor (the core is the cat)
    CHECK(compose_prompt(p, a, {}) == "a cat");
    CHECK(compose_prompt(p, a, {1}) == "a cat on the left");
    CHECK(compose_prompt(p, a, {2, 4}) == "a cat, a dog, watercolor");
    CHECK(compose_prompt(p, a, {1, 2, 3, 4}) == p);
}

TEST_CASE("simplify: one triggering requirement among n in at most ceil(log2 n) + 2 steps", "[simplify]") {
    const char* culprits[] = {"cabin", "moon", "owl", "woodpile"};
    for (const char* culprit : culprits) {
        CAPTURE(culprit);
        Rig rig({culprit});
        SimplifyOptions o;
        o.max_requests = 20;
        o.max_cost_usd = 5;
        auto r = simplify(rig.client, kPrompt, o);
        REQUIRE(r.found);
        REQUIRE(r.minimal_failing.size() == 1);
        CHECK_THAT(texts(r, r.minimal_failing).front(), Catch::Contains(culprit));
        const int n = static_cast<int>(r.analysis.requirements.size()) - 1;   // besides the core
        CHECK(n == 9);
        CHECK(r.rounds_to_find <= static_cast<int>(std::ceil(std::log2(n))) + 2);
        // Every step is recorded, and the emulator saw exactly those steps.
        CHECK(rig.requests() == r.steps.size());
        for (std::size_t i = 0; i < r.steps.size(); ++i) {
            CHECK(r.steps[i].number == static_cast<int>(i) + 1);
            CHECK_FALSE(r.steps[i].prompt.empty());
            CHECK(r.steps[i].attempts.size() == 1);   // a blank answer is the verdict, never retried
            bool has_culprit = r.steps[i].prompt.find(culprit) != std::string::npos;
            CHECK(r.steps[i].works == !has_culprit);
        }
        // The largest prompt that works is everything but the culprit.
        CHECK(r.largest_working_prompt.find(culprit) == std::string::npos);
        CHECK(r.largest_working.size() == r.analysis.requirements.size() - 1);
        CHECK(r.stopped.empty());
        CHECK_FALSE(r.plan.elements.empty());
    }
}

TEST_CASE("simplify: a pair that fails only together is found", "[simplify]") {
    Rig rig({"snowman+lantern"});
    SimplifyOptions o;
    o.max_requests = 20;
    o.max_cost_usd = 5;
    auto r = simplify(rig.client, kPrompt, o);
    INFO(format_simplify_report(r));
    REQUIRE(r.found);
    auto found = texts(r, r.minimal_failing);
    REQUIRE(found.size() == 2);
    std::string joined = found[0] + " | " + found[1];
    CHECK_THAT(joined, Catch::Contains("snowman"));
    CHECK_THAT(joined, Catch::Contains("lantern"));
    CHECK(r.minimal_failing_prompt == "a red fox, a snowman, a lantern");
    CHECK(rig.requests() == r.steps.size());
}

TEST_CASE("simplify: the core subject alone can be the problem", "[simplify]") {
    Rig rig({"fox"});
    auto r = simplify(rig.client, kPrompt);
    CHECK(r.found);
    CHECK(r.minimal_failing.empty());
    CHECK(r.steps.size() == 1);
    CHECK(r.minimal_failing_prompt == "a red fox");
}

TEST_CASE("simplify: never exceeds its request or cost budget", "[simplify]") {
    {
        Rig rig({"woodpile"});
        SimplifyOptions o;
        o.max_requests = 3;
        auto r = simplify(rig.client, kPrompt, o);
        CHECK_FALSE(r.found);
        CHECK(r.steps.size() == 3);
        CHECK(rig.requests() == 3);
        CHECK_THAT(r.stopped, Catch::Contains("request budget"));
    }
    {
        Rig rig({"woodpile"});
        // Each step's worst case at Pro 1K is about $0.14: room for two steps and no third.
        SimplifyOptions o;
        o.max_requests = 20;
        o.max_cost_usd = 0.30;
        auto r = simplify(rig.client, kPrompt, o);
        CHECK(r.cost_usd <= 0.30);
        CHECK(r.steps.size() == rig.requests());
        CHECK(r.steps.size() >= 1);
        CHECK_THAT(r.stopped, Catch::Contains("cost budget"));
    }
}

TEST_CASE("simplify: other failures stop the search and say why; bad budgets are refused", "[simplify]") {
    Rig rig({"owl"});
    rig.emu.script({{"replies", {{{"fault", "zero_quota_429"}}}}});
    auto r = simplify(rig.client, kPrompt);
    CHECK_FALSE(r.found);
    REQUIRE(r.steps.size() == 1);
    CHECK(r.steps[0].outcome == Status::QUOTA_EXHAUSTED);
    CHECK_THAT(r.stopped, Catch::Contains("QUOTA_EXHAUSTED"));

    SimplifyOptions bad;
    bad.max_requests = 0;
    CHECK_THROWS_AS(simplify(rig.client, kPrompt, bad), Error);
    bad.max_requests = 5;
    bad.max_cost_usd = 0;
    CHECK_THROWS_AS(simplify(rig.client, kPrompt, bad), Error);
    CHECK_THROWS_AS(simplify(rig.client, "   "), Error);
}

TEST_CASE("simplify: the report reads well as text and JSON", "[simplify]") {
    Rig rig({"owl"});
    auto r = simplify(rig.client, kPrompt);
    std::string text = format_simplify_report(r);
    CHECK_THAT(text, Catch::Contains("Minimal failing set: \"an owl\""));
    CHECK_THAT(text, Catch::Contains("Largest prompt that works:"));
    CHECK_THAT(text, Catch::Contains("Or generate it in stages"));
    auto j = nlohmann::json::parse(simplify_report_json(r));
    CHECK(j["found"] == true);
    CHECK(j["steps"].size() == r.steps.size());
    CHECK(j["minimal_failing_prompt"] == "a red fox, an owl");
}
