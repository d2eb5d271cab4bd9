// Rects, normalized boxes, mask bounds, aspect snapping, fit_into and crop.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "nbcore/models.hpp"
#include "nbcore/status.hpp"
#include "test_compose_helpers.hpp"

using namespace nbcore;
using namespace nbcore::compose;
using namespace compose_test;

namespace {

Status code_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.code();
    }
    return Status::OK;
}

}  // namespace

TEST_CASE("compose: Rect intersect, unite and inflate", "[compose][geometry]") {
    Rect a{0, 0, 10, 10}, b{5, 5, 10, 10};
    CHECK(intersect(a, b) == Rect{5, 5, 5, 5});
    CHECK(intersect(a, Rect{20, 20, 5, 5}).empty());
    CHECK(unite(a, b) == Rect{0, 0, 15, 15});
    CHECK(unite(Rect{}, b) == b);
    CHECK(inflate(a, 2) == Rect{-2, -2, 14, 14});
    CHECK(inflate(a, -6).empty());
    CHECK(a.contains(Rect{2, 2, 8, 8}));
    CHECK_FALSE(a.contains(Rect{2, 2, 9, 8}));
    CHECK(a.contains(9, 9));
    CHECK_FALSE(a.contains(10, 9));
}

TEST_CASE("compose: to_pixels rounds each edge so neighbouring boxes tile without gaps", "[compose][geometry]") {
    // Thirds of 100 px: edges at 33.3 -> 33 and 66.7 -> 67.
    Rect left = to_pixels({0, 0, 1.0 / 3, 1}, 100, 50);
    Rect mid = to_pixels({1.0 / 3, 0, 1.0 / 3, 1}, 100, 50);
    Rect right = to_pixels({2.0 / 3, 0, 1.0 / 3, 1}, 100, 50);
    CHECK(left == Rect{0, 0, 33, 50});
    CHECK(mid == Rect{33, 0, 34, 50});
    CHECK(right == Rect{67, 0, 33, 50});
    CHECK(to_pixels({0.25, 0.5, 0.5, 0.25}, 10, 10) == Rect{3, 5, 5, 3});  // 2.5 -> 3, 7.5 -> 8
    CHECK(to_pixels({0.5, 0.5, 1e-6, 1e-6}, 100, 100) == Rect{50, 50, 1, 1});  // never vanishes
    CHECK(to_pixels({0.999, 0.999, 1e-6, 1e-6}, 100, 100) == Rect{99, 99, 1, 1});
    CHECK(to_pixels({-0.5, 0.5, 1.0, 1.0}, 100, 100) == Rect{0, 50, 50, 50});  // clamped
    CHECK(to_pixels({0, 0, 0, 0.5}, 100, 100).empty());

    CHECK(code_of([] { to_pixels({0, 0, -0.1, 1}, 10, 10); }) == Status::INVALID_ARG);
    CHECK(code_of([] { to_pixels({NAN, 0, 1, 1}, 10, 10); }) == Status::INVALID_ARG);
    CHECK(code_of([] { to_pixels({0, 0, 1, 1}, 0, 10); }) == Status::INVALID_ARG);

    BoxF n = to_normalized({25, 10, 50, 20}, 100, 40);
    CHECK(n.x == 0.25);
    CHECK(n.y == 0.25);
    CHECK(n.w == 0.5);
    CHECK(n.h == 0.5);
    CHECK(to_pixels(n, 100, 40) == Rect{25, 10, 50, 20});
}

TEST_CASE("compose: mask_bounds finds the nonzero pixels", "[compose][geometry]") {
    Pixels m = blank(40, 30, 1);
    CHECK(mask_bounds(m).empty());
    at(m, 7, 4) = 1;
    CHECK(mask_bounds(m) == Rect{7, 4, 1, 1});
    at(m, 30, 20) = 200;
    at(m, 2, 12) = 255;
    CHECK(mask_bounds(m) == Rect{2, 4, 29, 17});
    CHECK(mask_bounds(m, 100) == Rect{2, 12, 29, 9});

    Pixels rgba = blank(10, 10, 4);
    at(rgba, 3, 5, 3) = 9;   // alpha
    at(rgba, 8, 8, 0) = 99;  // colour only: not selected
    CHECK(mask_bounds(rgba) == Rect{3, 5, 1, 1});
}

TEST_CASE("compose: the supported aspect ratios are the models' list", "[compose][geometry]") {
    auto ratios = supported_aspect_ratios();
    REQUIRE(ratios.size() == kAspectRatios.size());
    for (std::size_t i = 0; i < ratios.size(); ++i) {
        CHECK(ratios[i].name == kAspectRatios[i]);
        CHECK(std::to_string(ratios[i].w) + ":" + std::to_string(ratios[i].h) == std::string(kAspectRatios[i]));
    }
}

TEST_CASE("compose: snap_aspect picks the nearest ratio by log distance", "[compose][geometry]") {
    CHECK(snap_aspect(1024, 1024).name == "1:1");
    CHECK(snap_aspect(1920, 1080).name == "16:9");
    CHECK(snap_aspect(1080, 1920).name == "9:16");
    CHECK(snap_aspect(2520, 1080).name == "21:9");
    CHECK(snap_aspect(5000, 1000).name == "21:9");   // beyond the widest: the widest
    CHECK(snap_aspect(1000, 1500).name == "2:3");
    CHECK(snap_aspect(1100, 1000).name == "1:1");    // ln 1.1 = 0.095 < ln(1.25/1.1) = 0.128
    CHECK(snap_aspect(1150, 1000).name == "5:4");
    CHECK(aspect_residual(1920, 1080, snap_aspect(1920, 1080)) == Approx(0).margin(1e-12));
    CHECK(aspect_residual(2000, 1000, snap_aspect(2000, 1000)) > 0);  // 2:1 is wider than 16:9

    // The same answer as the request validator's nearest_aspect_ratio, everywhere.
    for (int w = 100; w <= 3000; w += 37)
        for (int h = 100; h <= 3000; h += 41) {
            INFO(w << "x" << h);
            CHECK(snap_aspect(w, h).name == nearest_aspect_ratio(w, h));
            // A mirrored size snaps to the mirrored ratio (when it exists).
            AspectRatio r = snap_aspect(w, h), m = snap_aspect(h, w);
            if (r.name != "21:9" && m.name != "21:9" && std::abs(std::log(double(w) / h)) < 0.5) {
                CHECK(m.w == r.h);
                CHECK(m.h == r.w);
            }
        }
    CHECK(code_of([] { snap_aspect(0, 10); }) == Status::INVALID_ARG);
}

TEST_CASE("compose: fit_into keeps the aspect ratio and centres", "[compose][geometry]") {
    CHECK(fit_into({10, 20, 300, 200}, 100, 100) == Rect{60, 20, 200, 200});
    CHECK(fit_into({10, 20, 300, 200}, 600, 100) == Rect{10, 95, 300, 50});
    CHECK(fit_into({0, 0, 7, 7}, 2, 1) == Rect{0, 1, 7, 4});  // 3.5 rounds to 4; the odd pixel goes down
    CHECK(fit_into({0, 0, 100, 100}, 10000, 1) == Rect{0, 49, 100, 1});  // never zero
    Rect f = fit_into({0, 0, 400, 400}, 160, 90);
    CHECK(double(f.w) / f.h == Approx(16.0 / 9).epsilon(0.01));
    CHECK(code_of([] { fit_into({0, 0, 0, 5}, 1, 1); }) == Status::INVALID_ARG);
}

TEST_CASE("compose: crop copies the pixels of a rect", "[compose][geometry]") {
    Pixels img = random_image(20, 10, 3, 5);
    Pixels c = crop(img, {4, 3, 6, 5});
    REQUIRE(c.width == 6);
    REQUIRE(c.height == 5);
    for (int y = 0; y < 5; ++y)
        for (int x = 0; x < 6; ++x)
            for (int k = 0; k < 3; ++k) CHECK(at(c, x, y, k) == at(img, x + 4, y + 3, k));
    CHECK(code_of([&] { crop(img, {15, 0, 6, 5}); }) == Status::INVALID_ARG);
    CHECK(code_of([&] { crop(img, {0, 0, 0, 5}); }) == Status::INVALID_ARG);
}
