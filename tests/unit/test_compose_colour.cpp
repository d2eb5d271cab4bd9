// Colour match from the ring of context just outside the composited region.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "nbcore/status.hpp"
#include "test_compose_helpers.hpp"

using namespace nbcore;
using namespace nbcore::compose;
using namespace compose_test;

namespace {

// A textured picture: smooth gradients plus noise, so every channel has a real spread.
Pixels textured(int w, int h, unsigned seed) {
    return image_test::draw(w, h, 4, [seed](int x, int y) {
        const unsigned v = (unsigned(x) * 73856093u) ^ (unsigned(y) * 19349663u) ^ seed;
        const int n = int(v % 81) - 40;
        return image_test::Colour{60 + x / 2 + n, 90 + y / 2 - n, 128 + (x - y) / 4 + n, 255};
    });
}

// What a model with a colour cast would return: the same picture, each channel v -> g v + o.
Pixels shifted(const Pixels& px, const double gain[3], const double offset[3]) {
    Pixels out = copy_of(px);
    for (std::size_t i = 0; i < out.data.size(); i += 4)
        for (int k = 0; k < 3; ++k) {
            double v = gain[k] * out.data.data()[i + std::size_t(k)] + offset[k];
            out.data.data()[i + std::size_t(k)] = std::uint8_t(std::clamp(std::lround(v), 0L, 255L));
        }
    return out;
}

Pixels disc_alpha(int w, int h, double r) {
    Pixels a = blank(w, h, 1);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) at(a, x, y) = std::hypot(x - w / 2.0, y - h / 2.0) <= r ? 255 : 0;
    return a;
}

}  // namespace

TEST_CASE("compose: colour match recovers and undoes a per-channel cast", "[compose][colour]") {
    Pixels original = textured(200, 160, 3);
    const double gain[3] = {0.9, 1.0, 1.12}, offset[3] = {12, -15, -6};
    Pixels patch = shifted(original, gain, offset);
    Pixels alpha = disc_alpha(200, 160, 40);
    ColourMatch m = estimate_colour_match(original, patch, alpha);
    REQUIRE(m.applied);
    CHECK(m.ring_pixels > 1000);
    for (int k = 0; k < 3; ++k) {
        INFO("channel " << k << ": " << m.reason);
        CHECK(m.gain[std::size_t(k)] == Approx(1 / gain[k]).epsilon(0.03));
        CHECK(m.offset[std::size_t(k)] == Approx(-offset[k] / gain[k]).margin(4));
    }
    apply_colour_match(patch, m);
    double err = 0;
    for (std::size_t i = 0; i < patch.data.size(); i += 4)
        for (int k = 0; k < 3; ++k)
            err = std::max(err, std::fabs(double(patch.data.data()[i + std::size_t(k)]) - original.data.data()[i + std::size_t(k)]));
    CHECK(err <= 4);
}

TEST_CASE("compose: colour match clamps the gain and shifts only on flat context", "[compose][colour]") {
    Pixels original = textured(200, 160, 4);
    // A patch with a third of the spread: the gain would be 3, clamped to 2.
    Pixels flatter = copy_of(original);
    for (std::size_t i = 0; i < flatter.data.size(); i += 4)
        for (int k = 0; k < 3; ++k) {
            auto& v = flatter.data.data()[i + std::size_t(k)];
            v = std::uint8_t(128 + (int(v) - 128) / 3);
        }
    ColourMatch m = estimate_colour_match(original, flatter, disc_alpha(200, 160, 40));
    for (double g : m.gain) CHECK(g == 2.0);

    Pixels flat = image_test::solid(100, 100, 3, {100, 100, 100, 0});
    Pixels brighter = image_test::solid(100, 100, 3, {110, 100, 95, 0});
    ColourMatch f = estimate_colour_match(flat, brighter, disc_alpha(100, 100, 20));
    REQUIRE(f.applied);
    CHECK(f.gain == std::array<double, 3>{1, 1, 1});
    CHECK(f.offset[0] == Approx(-10));
    CHECK(f.offset[1] == Approx(0));
    CHECK(f.offset[2] == Approx(5));
}

TEST_CASE("compose: colour match skips with a reason when the ring is too small", "[compose][colour]") {
    Pixels original = textured(64, 64, 5);
    Pixels alpha = blank(64, 64, 1);
    for (std::size_t i = 0; i < alpha.data.size(); ++i) alpha.data.data()[i] = 255;
    at(alpha, 0, 0) = 0;  // a single unmasked pixel is no evidence
    ColourMatch m = estimate_colour_match(original, original, alpha);
    CHECK_FALSE(m.applied);
    CHECK(m.ring_pixels == 1);
    CHECK(m.reason.find("ring") != std::string::npos);
    CHECK(m.gain == std::array<double, 3>{1, 1, 1});
    Pixels before = copy_of(original);
    apply_colour_match(original, m);
    CHECK(image_test::same_pixels(before, original));

    CHECK_THROWS_AS(estimate_colour_match(original, textured(64, 63, 5), alpha), Error);
}
