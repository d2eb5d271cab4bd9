// Mask-exact compositing: bit-identity outside the alpha, the inpaint blend end to end, alpha-over.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <string>

#include "nbcore/status.hpp"
#include "test_compose_helpers.hpp"

using namespace nbcore;
using namespace nbcore::compose;
using namespace compose_test;

TEST_CASE("compose: composite keeps alpha-0 and outside pixels bit-identical, 255 gives the patch",
          "[compose][composite]") {
    auto seed = GENERATE(1u, 2u, 3u, 4u, 5u);
    auto soft = GENERATE(false, true);
    std::mt19937 gen(seed);
    Pixels base = random_image(120, 90, 4, seed);
    const Rect at_rect{std::uniform_int_distribution<int>(0, 50)(gen), std::uniform_int_distribution<int>(0, 40)(gen),
                       std::uniform_int_distribution<int>(1, 70)(gen), std::uniform_int_distribution<int>(1, 50)(gen)};
    Pixels patch = random_image(at_rect.w, at_rect.h, 4, seed + 100);
    Pixels alpha = soft ? random_image(at_rect.w, at_rect.h, 1, seed + 200) : random_mask(at_rect.w, at_rect.h, seed, false);
    if (soft)  // plenty of exact 0 and 255 among the soft values
        for (std::size_t i = 0; i < alpha.data.size(); i += 3) alpha.data.data()[i] = (i / 3) % 2 ? 0 : 255;
    Pixels out = composite(base, patch, at_rect, alpha);

    int differ_outside = 0, differ_zero = 0, wrong_full = 0, wrong_blend = 0;
    for (int y = 0; y < base.height; ++y)
        for (int x = 0; x < base.width; ++x) {
            const bool inside = at_rect.contains(x, y);
            const int a = inside ? at(alpha, x - at_rect.x, y - at_rect.y) : 0;
            for (int k = 0; k < 4; ++k) {
                const int b = at(base, x, y, k), o = at(out, x, y, k);
                if (!inside) {
                    differ_outside += o != b;
                    continue;
                }
                const int p = at(patch, x - at_rect.x, y - at_rect.y, k);
                if (a == 0) differ_zero += o != b;
                else if (a == 255) wrong_full += o != p;
                else {
                    const double exact = (b * (255.0 - a) + p * double(a)) / 255.0;
                    wrong_blend += std::fabs(o - exact) > 0.5 + 1e-9;
                }
            }
        }
    CHECK(differ_outside == 0);
    CHECK(differ_zero == 0);
    CHECK(wrong_full == 0);
    CHECK(wrong_blend == 0);
}

TEST_CASE("compose: blend_inpaint changes nothing farther than grow + feather from the mask", "[compose][composite]") {
    auto seed = GENERATE(21u, 22u, 23u);
    auto soft = GENERATE(false, true);
    auto colour = GENERATE(false, true);
    const int w = 150, h = 110;
    Pixels image = random_image(w, h, 4, seed);
    // A mask in the middle part, so the crop is a real sub-rect.
    Pixels mask = blank(w, h, 1);
    {
        Pixels inner = random_mask(60, 40, seed, soft);
        for (int y = 0; y < 40; ++y)
            for (int x = 0; x < 60; ++x) at(mask, x + 45, y + 35) = at(inner, x, y);
        at(mask, 45 + 30, 35 + 20) = 255;  // never empty
    }
    const Rect box = mask_bounds(mask);
    InpaintBlendOptions o;
    o.mask = {4, 9};
    o.colour_match = colour;
    o.colour.min_ring_pixels = 16;
    CropOptions co;
    co.context = ContextMode::Pixels;
    co.context_px = 2;
    co.keep_margin = blend_reach(box, o.mask);
    const CropPlan plan = plan_inpaint_crop(w, h, box, co);
    Pixels patch = random_image(plan.crop.w, plan.crop.h, 3, seed + 7);  // the model's answer, RGB

    Pixels out = copy_of(image);
    InpaintBlend r = blend_inpaint(out, mask, plan.crop, patch, o);
    CHECK(r.grow == 4);
    CHECK(r.feather == 9);
    CHECK(plan.crop.contains(r.changed));

    const auto dist = brute_distances(mask, 0);
    int changed_far = 0, changed_outside = 0, not_patch = 0;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            const bool same = same_bytes(&at(out, x, y), &at(image, x, y), 4);
            if (dist[std::size_t(y) * std::size_t(w) + std::size_t(x)] > 4 + 9) changed_far += !same;
            if (!r.changed.contains(x, y)) changed_outside += !same;
            if (!colour && at(mask, x, y) == 255) {
                const int px = x - plan.crop.x, py = y - plan.crop.y;
                not_patch += !(at(out, x, y, 0) == at(patch, px, py, 0) && at(out, x, y, 1) == at(patch, px, py, 1) &&
                               at(out, x, y, 2) == at(patch, px, py, 2) && at(out, x, y, 3) == 255);
            }
        }
    CHECK(changed_far == 0);
    CHECK(changed_outside == 0);
    CHECK(not_patch == 0);
}

TEST_CASE("compose: blend_inpaint with the auto feather and colour match on a 4K-class crop stays exact outside",
          "[compose][composite]") {
    // Bigger than the other cases, but still quick: a 600x400 crop in a 1200x900 image.
    Pixels image = image_test::noisy(1200, 900, 4, {120, 130, 140, 255}, 30, 9);
    Pixels mask = blank(1200, 900, 1);
    for (int y = 400; y < 520; ++y)
        for (int x = 500; x < 700; ++x) at(mask, x, y) = 255;
    const Rect box = mask_bounds(mask);
    CropOptions co;
    co.keep_margin = blend_reach(box);
    CropPlan plan = plan_inpaint_crop(1200, 900, box, co);
    Pixels patch = image_test::noisy(plan.crop.w, plan.crop.h, 4, {140, 120, 150, 255}, 30, 10);
    Pixels out = copy_of(image);
    InpaintBlend r = blend_inpaint(out, mask, plan.crop, patch);
    CHECK(r.feather == auto_feather(box));
    CHECK(r.colour.applied);
    const Rect reach = inflate(box, r.grow + r.feather);
    int changed = 0;
    for (int y = 0; y < 900; ++y)
        for (int x = 0; x < 1200; ++x)
            if (!reach.contains(x, y)) changed += !same_bytes(&at(out, x, y), &at(image, x, y), 4);
    CHECK(changed == 0);
}

TEST_CASE("compose: blend_inpaint refuses masks the crop does not hold", "[compose][composite]") {
    Pixels image = random_image(50, 50, 4, 1);
    Pixels mask = blank(50, 50, 1);
    at(mask, 5, 5) = 255;
    Pixels patch = random_image(20, 20, 4, 2);
    try {
        blend_inpaint(image, mask, {20, 20, 20, 20}, patch);
        FAIL("no error");
    } catch (const Error& e) {
        CHECK(e.code() == Status::INVALID_ARG);
        CHECK(std::string(e.what()).find("plan_inpaint_crop") != std::string::npos);
    }
    CHECK_THROWS_AS(blend_inpaint(image, blank(50, 50, 1), {20, 20, 20, 20}, patch), Error);
    CHECK_THROWS_AS(blend_inpaint(image, mask, {0, 0, 21, 20}, patch), Error);
    CHECK_THROWS_AS(composite(image, patch, {40, 40, 20, 20}, blank(20, 20, 1)), Error);
}

TEST_CASE("compose: alpha_over: transparent leaves dst alone, opaque copies, clipped at the edges", "[compose][composite]") {
    Pixels dst = random_image(30, 20, 4, 3);
    for (std::size_t i = 3; i < dst.data.size(); i += 4) dst.data.data()[i] = 255;
    Pixels before = copy_of(dst);
    Pixels src = blank(10, 10, 4);
    for (int y = 0; y < 10; ++y)
        for (int x = 0; x < 10; ++x) {
            at(src, x, y, 0) = 200;
            at(src, x, y, 1) = 100;
            at(src, x, y, 2) = 50;
            at(src, x, y, 3) = x < 3 ? 0 : x < 6 ? 255 : 128;
        }
    alpha_over(dst, src, 25, -5);  // partly outside: right and top clipped
    for (int y = 0; y < 20; ++y)
        for (int x = 0; x < 30; ++x) {
            INFO(x << "," << y);
            const bool covered = x >= 25 && y < 5;
            const int sx = x - 25;
            if (!covered || sx < 3) {
                CHECK(same_bytes(&at(dst, x, y), &at(before, x, y), 4));
            } else if (sx < 6) {
                CHECK(at(dst, x, y, 0) == 200);
                CHECK(at(dst, x, y, 3) == 255);
            } else {
                CHECK(at(dst, x, y, 0) == (200 * 128 + at(before, x, y, 0) * 127 + 127) / 255);
                CHECK(at(dst, x, y, 3) == 255);
            }
        }
}
