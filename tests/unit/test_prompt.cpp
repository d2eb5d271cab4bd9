// Prompt analysis and staging plans: one case per scenario.
#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nbcore/prompt.hpp"

using namespace nbcore::prompt;

namespace {

std::vector<std::string> of_kind(const Analysis& a, Kind k, bool heads = false) {
    std::vector<std::string> out;
    for (const auto& r : a.requirements)
        if (r.kind == k) out.push_back(heads ? r.head : r.text);
    return out;
}

struct SubjectCase {
    const char* prompt;
    std::vector<std::string> subjects;   // distinct heads, in order of first appearance
};

}  // namespace

TEST_CASE("prompt: distinct subjects by head noun", "[prompt]") {
    const SubjectCase cases[] = {
        {"a lighthouse at dawn, oil painting", {"lighthouse"}},
        {"a cat sitting on a mat", {"cat", "mat"}},
        {"a sleeping cat", {"cat"}},
        {"two cats and a cat toy", {"cat", "toy"}},
        {"a woman with a red umbrella walking a dog", {"woman", "umbrella", "dog"}},
        {"three children, a dog, a kite, a bicycle and an ice cream truck in a park", {"child", "dog", "kite", "bicycle", "truck"}},
        {"black and white photo of a horse", {"horse"}},
        {"a fox in the snow", {"fox"}},
        {"red fox", {"fox"}},
        {"rain", {}},                       // weather is the setting
        {"an old building at the end of the street", {"building"}},
        {"a pair of red boots on a wooden floor", {"boot", "floor"}},
        {"an oil painting of a fox", {"fox"}},
        {"a cat next to a dog", {"cat", "dog"}},
    };
    for (const auto& c : cases) {
        CAPTURE(c.prompt);
        Analysis a = analyze(c.prompt);
        std::vector<std::string> heads;
        std::set<std::string> seen;
        for (const auto& h : of_kind(a, Kind::Subject, true))
            if (seen.insert(h).second) heads.push_back(h);
        CHECK(heads == c.subjects);
        CHECK(a.distinct_subjects == static_cast<int>(c.subjects.size()));
    }
}

TEST_CASE("prompt: counts, settings and relations", "[prompt]") {
    Analysis a = analyze("three cats on the left and a dog on the right, in a sunny kitchen");
    auto subjects = of_kind(a, Kind::Subject);
    REQUIRE(subjects.size() == 2);
    CHECK(a.requirements.front().kind == Kind::Subject);
    CHECK(a.requirements.front().count == 3);
    CHECK(a.requirements.front().relation == "on the left");
    CHECK(of_kind(a, Kind::Setting) == std::vector<std::string>{"a sunny kitchen"});
    CHECK(of_kind(a, Kind::Relation, true) == std::vector<std::string>{"on the left", "on the right"});
    CHECK(a.relations == 2);
}

TEST_CASE("prompt: rendered text, quoted or described", "[prompt]") {
    Analysis a = analyze("a bakery storefront with a sign that says \"OPEN\", watercolor");
    CHECK(of_kind(a, Kind::Text, true) == std::vector<std::string>{"OPEN"});
    CHECK(a.text_spans == 1);
    CHECK(of_kind(a, Kind::Style) == std::vector<std::string>{"watercolor"});

    Analysis b = analyze("a poster with a caption at the bottom");
    CHECK(b.text_spans == 1);
    // Apostrophes are not quotes.
    Analysis c = analyze("a dog's bowl, it's raining");
    CHECK(c.text_spans == 0);
    // Curly quotes.
    Analysis d = analyze("a neon sign reading \xE2\x80\x9C" "Late Night" "\xE2\x80\x9D");
    CHECK(of_kind(d, Kind::Text, true) == std::vector<std::string>{"Late Night"});
}

TEST_CASE("prompt: style, camera and lighting clauses", "[prompt]") {
    Analysis a = analyze("a red fox, cinematic, golden hour lighting, close-up, shot on 85mm, highly detailed");
    CHECK(of_kind(a, Kind::Subject, true) == std::vector<std::string>{"fox"});
    CHECK(of_kind(a, Kind::Camera) == std::vector<std::string>{"close-up", "shot on 85mm"});
    CHECK(of_kind(a, Kind::Lighting) == std::vector<std::string>{"golden hour lighting"});
    CHECK(of_kind(a, Kind::Style) == std::vector<std::string>{"cinematic", "highly detailed"});
    CHECK(a.styling == 5);
}

TEST_CASE("prompt: a long real-world prompt", "[prompt]") {
    Analysis a = analyze("A photorealistic close-up of an elderly fisherman mending a net on a wooden pier at sunset, "
                         "with seagulls overhead, a red lighthouse in the distance, and the words \"Harbor Days\" "
                         "painted on a boat");
    CHECK(of_kind(a, Kind::Subject, true) == std::vector<std::string>{"fisherman", "net", "seagull", "lighthouse", "boat"});
    CHECK(of_kind(a, Kind::Setting) == std::vector<std::string>{"a wooden pier"});
    CHECK(of_kind(a, Kind::Text, true) == std::vector<std::string>{"Harbor Days"});
    CHECK(of_kind(a, Kind::Relation, true) == std::vector<std::string>{"overhead", "in the distance"});
    CHECK(a.risk == Risk::High);
    StagePlan p = plan_stages(a);
    CHECK_THAT(p.background, Catch::StartsWith("a wooden pier"));
    for (const auto& e : p.elements)
        if (e.prompt == "seagulls") CHECK(e.box.y + e.box.h / 2 < 0.4);   // overhead: the sky row

    Analysis b = analyze("a cozy reading nook by a rainy window, a cat curled on a blanket, a steaming mug of tea "
                         "and a stack of old books, soft warm lighting");
    CHECK(of_kind(b, Kind::Setting) == std::vector<std::string>{"a cozy reading nook"});
    CHECK(of_kind(b, Kind::Subject) ==
          std::vector<std::string>{"a rainy window", "a cat", "a blanket", "a steaming mug of tea", "a stack of old books"});
    CHECK(b.text_spans == 0);
}

TEST_CASE("prompt: byte ranges point into the prompt", "[prompt]") {
    std::string p = "A Cat on the left, \"HELLO\", a tall Tree in a misty Forest";
    Analysis a = analyze(p);
    for (const auto& r : a.requirements) {
        CAPTURE(r.text);
        REQUIRE(r.end <= p.size());
        CHECK(p.substr(r.begin, r.end - r.begin) == r.text);
    }
    CHECK(of_kind(a, Kind::Subject) == std::vector<std::string>{"A Cat", "a tall Tree"});
    CHECK(of_kind(a, Kind::Setting) == std::vector<std::string>{"a misty Forest"});
}

struct RiskCase {
    const char* prompt;
    const char* size;
    Risk risk;
    const char* reason;   // a substring of the first reason, "" when none expected
};

TEST_CASE("prompt: risk levels and their reasons", "[prompt]") {
    const RiskCase cases[] = {
        {"a lighthouse at dawn", "", Risk::Low, ""},
        {"a cat, a dog and a parrot", "", Risk::Medium, "3 distinct subjects"},
        {"a cat, a dog, a parrot and a goldfish", "", Risk::High, "4 distinct subjects (more than 3 raises the risk of a blank output)"},
        {"a cat, a dog, a parrot and a goldfish, a hamster", "", Risk::High, "5 distinct subjects"},
        {"a cat, a dog and a parrot", "4K", Risk::High, "4K with 3 subjects raises the risk of a timeout"},
        {"a sign that says \"SALE\"", "", Risk::Medium, "asks for rendered text (\"SALE\")"},
        {"a cat on the left, a dog on the right", "", Risk::Medium, "2 precise spatial relations"},
        {"a vase, oil painting, soft light, macro", "", Risk::Medium, "detailed styling: 3"},
        {"a cat on the left and a dog on the right holding a sign that says \"HI\", watercolor, backlit, wide shot", "",
         Risk::High, "several hard things at once"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.prompt, c.size);
        Analysis a = analyze(c.prompt, c.size);
        CHECK(risk_name(a.risk) == risk_name(c.risk));
        if (*c.reason) {
            REQUIRE_FALSE(a.reasons.empty());
            CHECK_THAT(a.reasons.front(), Catch::Contains(c.reason));
        } else {
            CHECK(a.reasons.empty());
        }
    }
}

TEST_CASE("prompt: deterministic, and odd input is harmless", "[prompt]") {
    const char* odd[] = {"", "   ", ",,,;;", "\"", "\"unclosed quote", "a", "the the the", "'", "a ''",
                         "\xE2\x80\x9C", "\xff\xfe bytes", "1 2 3 4 5 6 7 8 9 10 11 12 13",
                         "a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p"};
    for (const char* p : odd) {
        CAPTURE(p);
        Analysis a = analyze(p);
        Analysis b = analyze(p);
        CHECK(analysis_json(a) == analysis_json(b));
        CHECK_FALSE(format_analysis(a).empty());
    }
    std::string long_prompt;
    for (int i = 0; i < 2000; ++i) long_prompt += "a red cat number " + std::to_string(i) + ", ";
    Analysis a = analyze(long_prompt);
    CHECK(a.distinct_subjects >= 1);
}

TEST_CASE("prompt: advice for blank outputs cites the reasons, only when the prompt is risky", "[prompt]") {
    CHECK(blank_output_advice(analyze("a lighthouse at dawn")).empty());
    std::string advice = blank_output_advice(analyze("a cat, a dog, a parrot and a goldfish", "4K"));
    CHECK_THAT(advice, Catch::StartsWith("The prompt may ask for too much at once: 4 distinct subjects"));
    CHECK_THAT(advice, Catch::Contains("4K with 4 subjects"));
    CHECK_THAT(advice, Catch::Contains("stages"));
}

TEST_CASE("prompt: report text and JSON carry the reasons", "[prompt]") {
    Analysis a = analyze("a cat, a dog, a parrot and a goldfish in a garden");
    std::string text = format_analysis(a);
    CHECK_THAT(text, Catch::StartsWith("risk: high"));
    CHECK_THAT(text, Catch::Contains("4 distinct subjects"));
    CHECK_THAT(text, Catch::Contains("setting   a garden"));
    auto j = nlohmann::json::parse(analysis_json(a));
    CHECK(j["risk"] == "high");
    CHECK(j["distinct_subjects"] == 4);
    CHECK(j["requirements"].size() == a.requirements.size());
}

TEST_CASE("prompt: staging plans follow relations and keep boxes apart", "[prompt][plan]") {
    Analysis a = analyze("a dog on the right, a cat on the left, a parrot in the sky and a goldfish bowl, "
                         "in a sunny kitchen, watercolor");
    CHECK(should_stage(a));
    StagePlan p = plan_stages(a);
    CHECK_THAT(p.background, Catch::StartsWith("a sunny kitchen"));
    CHECK_THAT(p.background, Catch::Contains("watercolor"));
    CHECK(p.style == "watercolor");
    REQUIRE(p.elements.size() == 4);
    auto find = [&](const std::string& what) -> const PlannedElement& {
        for (const auto& e : p.elements)
            if (e.prompt.find(what) != std::string::npos) return e;
        FAIL("no element for " << what);
        return p.elements.front();
    };
    const auto& cat = find("cat");
    const auto& dog = find("dog");
    const auto& parrot = find("parrot");
    CHECK(cat.box.x + cat.box.w / 2 < 0.5);
    CHECK(dog.box.x + dog.box.w / 2 > 0.5);
    CHECK(parrot.box.y + parrot.box.h / 2 < 0.4);
    for (const auto& e : p.elements) {
        CAPTURE(e.prompt);
        CHECK(e.box.x >= 0);
        CHECK(e.box.y >= 0);
        CHECK(e.box.x + e.box.w <= 1.0 + 1e-9);
        CHECK(e.box.y + e.box.h <= 1.0 + 1e-9);
    }
    // Same-row elements do not overlap horizontally.
    for (std::size_t i = 0; i < p.elements.size(); ++i)
        for (std::size_t j = i + 1; j < p.elements.size(); ++j) {
            const auto& x = p.elements[i].box;
            const auto& y = p.elements[j].box;
            bool apart = x.x + x.w <= y.x + 1e-9 || y.x + y.w <= x.x + 1e-9;
            CHECK(apart);
        }
    CHECK(std::is_sorted(p.elements.begin(), p.elements.end(),
                         [](const PlannedElement& x, const PlannedElement& y) { return x.z < y.z; }));
    CHECK_FALSE(p.notes.empty());
}

TEST_CASE("prompt: a plan without a setting asks for an empty scene", "[prompt][plan]") {
    StagePlan p = plan_stages(analyze("a knight and a dragon in the background"));
    CHECK_THAT(p.background, Catch::Contains("empty scene"));
    REQUIRE(p.elements.size() == 2);
    CHECK(p.elements.front().prompt == "a dragon");   // the distant one is drawn first
    CHECK(p.elements.front().box.w < p.elements.back().box.w);
    CHECK_FALSE(should_stage(analyze("a knight and a dragon")));
}
