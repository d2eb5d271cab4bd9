// The flaky-prompt mode: rule-based blank or NO_IMAGE answers, so the prompt doctor's tests are exact.
#include <catch2/catch.hpp>

#include "common.hpp"
#include "nbcore/image.hpp"
#include "../../emulator/src/flaky.hpp"

using namespace emutest;
using nbcore::emulator::FlakyRules;
using nbcore::emulator::flaky_match;

namespace {

std::string finish_reason(const HttpResult& r) {
    auto j = json::parse(r.body);
    return j["candidates"][0].value("finishReason", "");
}

bool has_image(const HttpResult& r) {
    auto j = json::parse(r.body);
    for (const auto& p : j["candidates"][0]["content"].value("parts", json::array()))
        if (p.contains("inlineData")) return true;
    return false;
}

}  // namespace

struct FlakyCase {
    const char* prompt;
    std::vector<std::string> rules;
    int over_subjects;
    const char* fires;   // the reason, "" when the rules do not fire
};

TEST_CASE("flaky: which prompts the rules catch", "[flaky]") {
    const FlakyCase cases[] = {
        {"a cat and a goldfish", {"goldfish"}, 0, "blank-when goldfish"},
        {"a cat and a GOLDFISH bowl", {"goldfish"}, 0, "blank-when goldfish"},
        {"a cat and goldfishes", {"goldfish"}, 0, ""},          // whole words only
        {"a cat", {"cat+dog"}, 0, ""},                          // every term of a rule
        {"a dog", {"cat+dog"}, 0, ""},
        {"a dog chasing a cat", {"cat+dog"}, 0, "blank-when cat+dog"},
        {"a dog chasing a cat", {"parrot", "cat + dog"}, 0, "blank-when cat + dog"},
        {"a sign that says \"hello world\"", {"hello world"}, 0, "blank-when hello world"},
        {"a cat, a dog and a parrot", {}, 3, ""},
        {"a cat, a dog, a parrot and a goldfish", {}, 3, "4 distinct subjects > 3"},
        {"two cats and a cat", {}, 1, ""},
    };
    for (const auto& c : cases) {
        CAPTURE(c.prompt, c.over_subjects);
        auto why = flaky_match(c.prompt, FlakyRules{c.rules, c.over_subjects});
        if (*c.fires) {
            REQUIRE(why);
            CHECK(*why == c.fires);
        } else {
            CHECK_FALSE(why);
        }
    }
}

TEST_CASE("flaky: matching prompts answer blank or NO_IMAGE, others as usual", "[flaky]") {
    Emulator blank([](auto& o) {
        o.blank_when = {"goldfish"};
        o.blank_over_subjects = 3;
        o.mime = "png";
    });
    auto hit = blank.generate(kFlash, prompt_body("a cat and a goldfish"));
    REQUIRE(hit.status == 200);
    REQUIRE(has_image(hit));
    auto plain = blank.generate(kFlash, prompt_body("a cat and a dog"));
    REQUIRE(plain.status == 200);
    // The blank answer is one flat colour, which nbcore's checker calls blank.
    auto image_of = [](const HttpResult& r) {
        auto j = json::parse(r.body);
        for (const auto& p : j["candidates"][0]["content"]["parts"])
            if (p.contains("inlineData")) return decode_base64(p["inlineData"]["data"].get<std::string>());
        return std::string();
    };
    auto flat = nbcore::image::check(reinterpret_cast<const std::uint8_t*>(image_of(hit).data()), image_of(hit).size());
    CHECK(flat.blank);
    auto normal = nbcore::image::check(reinterpret_cast<const std::uint8_t*>(image_of(plain).data()), image_of(plain).size());
    CHECK(normal.ok);
    auto crowd = blank.generate(kFlash, prompt_body("a cat, a dog, a parrot and a hamster"));
    CHECK(nbcore::image::check(reinterpret_cast<const std::uint8_t*>(image_of(crowd).data()), image_of(crowd).size()).blank);
    auto log = blank.server.requests();
    REQUIRE(log.size() == 3);
    CHECK(log[0]["fault"] == "flaky blank-when goldfish");
    CHECK(log[1]["fault"] != log[0]["fault"]);
    CHECK(log[2]["fault"] == "flaky 4 distinct subjects > 3");

    Emulator none([](auto& o) {
        o.blank_when = {"goldfish"};
        o.flaky_answer = "no_image";
    });
    auto r = none.generate(kFlash, prompt_body("a goldfish"));
    REQUIRE(r.status == 200);
    CHECK(finish_reason(r) == "NO_IMAGE");
    CHECK_FALSE(has_image(r));

    // A scripted fault still wins over the rules.
    none.server.set_script(R"({"replies": [{"fault": "503_overloaded"}]})");
    CHECK(none.generate(kFlash, prompt_body("a goldfish")).status == 503);
}
