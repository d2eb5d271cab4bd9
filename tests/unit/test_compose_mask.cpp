// Grow, feather, the composite alpha and the marker mask.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "nbcore/status.hpp"
#include "test_compose_helpers.hpp"

using namespace nbcore;
using namespace nbcore::compose;
using namespace compose_test;

namespace {

Pixels disc_mask(int w, int h, double cx, double cy, double r) {
    Pixels m = blank(w, h, 1);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) at(m, x, y) = std::hypot(x - cx, y - cy) <= r ? 255 : 0;
    return m;
}

}  // namespace

TEST_CASE("compose: grow_mask dilates a hard mask by an exact Euclidean disc", "[compose][mask]") {
    auto seed = GENERATE(1u, 2u, 3u);
    auto radius = GENERATE(1, 2, 3, 5, 8, 13);
    // Sparse seeds and a few blobs: every distance case appears.
    Pixels m = random_mask(61, 47, seed, false);
    at(m, 0, 0) = 255;
    at(m, 60, 46) = 255;
    const auto dist = brute_distances(m, 127);
    Pixels g = grow_mask(m, radius);
    int wrong = 0;
    for (int y = 0; y < m.height; ++y)
        for (int x = 0; x < m.width; ++x) {
            const std::uint8_t want = dist[std::size_t(y) * std::size_t(m.width) + std::size_t(x)] <= radius ? 255 : 0;
            wrong += at(g, x, y) != want;
        }
    CHECK(wrong == 0);
}

TEST_CASE("compose: grow_mask raises soft pixels only within reach of the selection", "[compose][mask]") {
    Pixels m = blank(40, 20, 1);
    at(m, 5, 10) = 255;
    at(m, 30, 10) = 90;  // a faint, partly selected pixel far away: kept, not grown, not raised
    at(m, 8, 10) = 60;   // faint, but within 4 px of the selection: raised to full
    Pixels g = grow_mask(m, 4);
    CHECK(at(g, 30, 10) == 90);
    CHECK(at(g, 31, 10) == 0);
    CHECK(at(g, 8, 10) == 255);
    CHECK(at(g, 9, 10) == 255);
    CHECK(at(g, 10, 10) == 0);
    CHECK(at(g, 5, 6) == 255);
    CHECK(at(g, 8, 7) == 0);  // sqrt(18) > 4: a disc, not a square
}

TEST_CASE("compose: feather spreads outward only, smoothly, and stops at its width", "[compose][mask]") {
    const int feather = 20;
    Pixels m = disc_mask(160, 120, 80, 60, 25);
    Pixels f = feather_mask(m, feather);
    int previous = 255, max_step = 0;
    for (int x = 80; x < 160; ++x) {  // a ray from the centre outward
        const int a = at(f, x, 60);
        const double d = x - 80 - 25.0;  // distance beyond the disc's edge
        if (d <= 0) CHECK(a == 255);
        if (d > feather) CHECK(a == 0);
        CHECK(a <= previous);  // monotone
        max_step = std::max(max_step, previous - a);
        previous = a;
    }
    CHECK(max_step <= 40);  // a ramp, not a seam (a hard edge would be one step of 255)
    CHECK(at(f, 80 + 25 + 2, 60) >= 230);        // starts near full at the edge...
    CHECK(at(f, 80 + 25 + 10, 60) > 60);          // ...half-way through the ramp...
    CHECK(at(f, 80 + 25 + 10, 60) < 200);
    CHECK(at(f, 80 + 25 + feather - 2, 60) < 30); // ...and fades out before its end
    // The same profile on the diagonal (the square blur support is trimmed to a disc).
    const int diag = int((25 + feather + 2) / std::sqrt(2.0)) + 1;
    CHECK(at(f, 80 + diag, 60 + diag) == 0);
}

TEST_CASE("compose: blend_alpha: 255 inside the selection, 0 beyond grow + feather, mask when exact", "[compose][mask]") {
    auto seed = GENERATE(11u, 12u, 13u, 14u);
    auto soft = GENERATE(false, true);
    Pixels m = random_mask(90, 70, seed, soft);
    const auto dist = brute_distances(m, 0);
    struct Opt {
        int grow, feather;
    };
    for (Opt o : {Opt{4, 8}, Opt{0, 6}, Opt{3, 0}, Opt{2, 1}, Opt{4, 17}, Opt{0, 0}}) {
        INFO("grow " << o.grow << " feather " << o.feather << " soft " << soft);
        Pixels a = blend_alpha(m, MaskOptions{o.grow, o.feather});
        int bad_inside = 0, bad_outside = 0, lowered = 0;
        for (int y = 0; y < m.height; ++y)
            for (int x = 0; x < m.width; ++x) {
                const double d = dist[std::size_t(y) * std::size_t(m.width) + std::size_t(x)];
                bad_inside += at(m, x, y) == 255 && at(a, x, y) != 255;
                bad_outside += d > o.grow + o.feather && at(a, x, y) != 0;
                lowered += at(a, x, y) < at(m, x, y);
            }
        CHECK(bad_inside == 0);
        CHECK(bad_outside == 0);
        CHECK(lowered == 0);
        if (o.grow == 0 && o.feather == 0) CHECK(image_test::same_pixels(a, m));
    }
}

TEST_CASE("compose: auto feather is 10% of the box diagonal, at least 8 px", "[compose][mask]") {
    CHECK(auto_feather({0, 0, 100, 100}) == 14);
    CHECK(auto_feather({0, 0, 30, 40}) == 8);
    CHECK(auto_feather({0, 0, 3000, 4000}) == 500);
    CHECK(blend_reach({0, 0, 100, 100}) == 4 + 14 + 1);
    CHECK(blend_reach({0, 0, 100, 100}, MaskOptions::exact_selection()) == 1);
    // blend_alpha resolves the auto feather from the mask's own bounds.
    Pixels m = disc_mask(200, 200, 100, 100, 50);  // bounds 101x101: feather 14
    Pixels a = blend_alpha(m);
    CHECK(at(a, 100 + 50 + 4 + 14 + 1, 100) == 0);
    CHECK(at(a, 100 + 50 + 4 + 3, 100) > 0);
}

TEST_CASE("compose: mask processing refuses an empty mask and bad widths", "[compose][mask]") {
    Pixels empty = blank(10, 10, 1);
    try {
        blend_alpha(empty);
        FAIL("no error");
    } catch (const Error& e) {
        CHECK(e.code() == Status::INVALID_ARG);
        CHECK(std::string(e.what()).find("empty") != std::string::npos);
    }
    Pixels m = disc_mask(10, 10, 5, 5, 2);
    CHECK_THROWS_AS(grow_mask(m, -1), Error);
    CHECK_THROWS_AS(feather_mask(blank(10, 10, 3), 2), Error);
}

TEST_CASE("compose: marker masks are white where the change goes and survive PNG", "[compose][mask]") {
    Pixels m = blank(8, 6, 1);
    at(m, 2, 3) = 128;
    at(m, 3, 3) = 127;
    at(m, 4, 3) = 255;
    Pixels rgb = marker_mask(m);
    REQUIRE(rgb.channels == 3);
    CHECK(at(rgb, 2, 3, 0) == 255);
    CHECK(at(rgb, 2, 3, 2) == 255);
    CHECK(at(rgb, 3, 3, 1) == 0);
    CHECK(at(rgb, 4, 3, 1) == 255);
    Pixels grey = marker_mask(m, 1, 1);
    CHECK(at(grey, 3, 3) == 255);
    CHECK(at(grey, 0, 0) == 0);

    Pixels box = marker_box(10, 10, {7, 7, 10, 10});
    CHECK(at(box, 6, 6, 0) == 0);
    CHECK(at(box, 7, 7, 0) == 255);
    CHECK(at(box, 9, 9, 2) == 255);

    Blob png = encode_marker_png(rgb);
    Pixels back;
    auto c = image::check(png.data(), png.size(), {}, {}, &back);
    CHECK(c.mime == "image/png");
    CHECK(image_test::same_pixels(back, rgb));
}
