// The inpaint crop: padding, minimum side, aspect fit, overrides.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <string>

#include "nbcore/status.hpp"
#include "test_compose_helpers.hpp"

using namespace nbcore;
using namespace nbcore::compose;

namespace {

bool ratio_exact(const Rect& r, const AspectRatio& a) {
    return std::llabs(std::int64_t(r.w) * a.h - std::int64_t(r.h) * a.w) * 2 <= std::max(a.w, a.h);
}

std::string text_of(const Rect& r) {
    return std::to_string(r.w) + "x" + std::to_string(r.h) + "+" + std::to_string(r.x) + "+" + std::to_string(r.y);
}

}  // namespace

TEST_CASE("compose: auto crop: Krita's padding, then the short side grows to a supported ratio", "[compose][crop]") {
    // 4000x3000, box 200x100: padding max(4000/16, 150/2) = 250 -> 700x600 around the box; the
    // nearest ratio is 5:4, reached by widening to 750 (centred).
    Rect box{1900, 1450, 200, 100};
    CropPlan p = plan_inpaint_crop(4000, 3000, box);
    CHECK(p.padding == 250);
    CHECK(p.crop == Rect{1625, 1200, 750, 600});
    CHECK(p.aspect.name == "5:4");
    CHECK(p.exact);
    CHECK(std::abs(p.residual) < 1e-9);
}

TEST_CASE("compose: auto crop: at least 512 px per side, shifted inside the image at its edges", "[compose][crop]") {
    // 1000x800, a 40x40 box in the top-left corner: padding 63 clamps at the edges; the 512 minimum
    // grows away from the corner instead of falling off the image.
    CropPlan p = plan_inpaint_crop(1000, 800, {5, 5, 40, 40});
    CHECK(p.crop == Rect{0, 0, 512, 512});
    CHECK(p.aspect.name == "1:1");
    CHECK(p.exact);
    // A small image: the whole of it, at its own ratio when that is a supported one.
    CropPlan small = plan_inpaint_crop(300, 200, {100, 50, 20, 20});
    CHECK(small.crop == Rect{0, 0, 300, 200});
    CHECK(small.aspect.name == "3:2");
    CHECK(small.exact);
}

TEST_CASE("compose: pixel context is exact padding, no minimum side", "[compose][crop]") {
    CropOptions o;
    o.context = ContextMode::Pixels;
    o.context_px = 50;
    CropPlan p = plan_inpaint_crop(4000, 3000, {1000, 1000, 100, 100}, o);
    CHECK(p.crop == Rect{950, 950, 200, 200});
    CHECK(p.aspect.name == "1:1");
    CHECK(p.padding == 50);
    // keep_margin is a floor for the padding.
    o.keep_margin = 80;
    CHECK(plan_inpaint_crop(4000, 3000, {1000, 1000, 100, 100}, o).crop == Rect{920, 920, 260, 260});
}

TEST_CASE("compose: whole-image context shrinks the long side only as far as the mask allows", "[compose][crop]") {
    CropOptions o;
    o.context = ContextMode::WholeImage;
    // 1000x700 is nearest to 3:2; the image cannot widen, so the height shrinks to 667 around the box.
    CropPlan p = plan_inpaint_crop(1000, 700, {400, 300, 100, 100}, o);
    CHECK(p.crop.w == 1000);
    CHECK(p.crop.h == 667);
    CHECK(p.crop.contains(Rect{400, 300, 100, 100}));
    CHECK(p.aspect.name == "3:2");
    CHECK(p.exact);

    // The mask spans the full height: nothing may be cut, so the ratio stays inexact, reported.
    CropPlan q = plan_inpaint_crop(1000, 700, {400, 0, 100, 700}, o);
    CHECK(q.crop == Rect{0, 0, 1000, 700});
    CHECK_FALSE(q.exact);
    CHECK(q.aspect.name == snap_aspect(1000, 700).name);
    CHECK(q.residual == Approx(aspect_residual(1000, 700, q.aspect)));
    CHECK(q.residual != 0);
}

TEST_CASE("compose: crop plans always hold the mask box and its margin, inside the image", "[compose][crop]") {
    std::mt19937 gen(7);
    std::uniform_int_distribution<int> size(64, 5600), mode(0, 2), margin(0, 40), px(0, 300);
    int exact = 0, total = 0;
    for (int i = 0; i < 3000; ++i) {
        const int w = size(gen), h = size(gen);
        std::uniform_int_distribution<int> bw(1, w), bh(1, h);
        Rect box{0, 0, bw(gen) / (1 + i % 4), bh(gen) / (1 + i % 3)};
        box.w = std::max(box.w, 1);
        box.h = std::max(box.h, 1);
        box.x = std::uniform_int_distribution<int>(0, w - box.w)(gen);
        box.y = std::uniform_int_distribution<int>(0, h - box.h)(gen);
        CropOptions o;
        o.context = ContextMode(mode(gen));
        o.context_px = px(gen);
        o.keep_margin = margin(gen);
        CropPlan p = plan_inpaint_crop(w, h, box, o);
        INFO("image " << w << "x" << h << " box " << text_of(box) << " mode " << int(o.context) << " crop "
                      << text_of(p.crop) << " " << p.aspect.name);
        const Rect keep = intersect(inflate(box, o.keep_margin), {0, 0, w, h});
        REQUIRE(Rect{0, 0, w, h}.contains(p.crop));
        REQUIRE(p.crop.contains(keep));
        CHECK(p.exact == ratio_exact(p.crop, p.aspect));
        CHECK(p.residual == Approx(aspect_residual(p.crop.w, p.crop.h, p.aspect)));
        if (o.context == ContextMode::Auto) {
            // At least 512 px per side (less a rounding pixel), unless the aspect fit had to shrink
            // that side because the other one already spans the image.
            if (p.crop.w < std::min(512, w) - 1) CHECK(p.crop.h == h);
            if (p.crop.h < std::min(512, h) - 1) CHECK(p.crop.w == w);
        }
        if (!p.exact) {
            // The ratio may only be missed when the image is used up along one axis.
            CHECK((p.crop.w == w || p.crop.h == h));
        }
        exact += p.exact;
        ++total;
    }
    CHECK(exact > total * 3 / 4);  // exact is the rule, not the exception
}

TEST_CASE("compose: crop plans refuse impossible arguments with a hint", "[compose][crop]") {
    try {
        plan_inpaint_crop(100, 100, {10, 10, 0, 0});
        FAIL("no error");
    } catch (const Error& e) {
        CHECK(e.code() == Status::INVALID_ARG);
        CHECK(std::string(e.what()).find("select") != std::string::npos);
    }
    CHECK_THROWS_AS(plan_inpaint_crop(100, 100, {90, 90, 20, 20}), Error);
    CHECK_THROWS_AS(plan_inpaint_crop(0, 100, {0, 0, 1, 1}), Error);
}
