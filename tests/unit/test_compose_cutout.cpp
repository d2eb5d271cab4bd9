// Chroma-key cutouts: a synthetic element on a noisy key, recovered, despilled and placed.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <string>

#include "nbcore/status.hpp"
#include "test_compose_helpers.hpp"

using namespace nbcore;
using namespace nbcore::compose;
using namespace compose_test;

namespace {

constexpr int kSize = 256;
constexpr double kCx = 128, kCy = 128, kRadius = 70;
const image_test::Colour kOrange{230, 120, 40, 255};
const image_test::Colour kKeyish{30, 230, 40, 255};  // what the model drew for "#00FF00"

// Coverage of a pixel by the disc, from 4x4 samples: an antialiased edge.
double coverage(int x, int y) {
    int in = 0;
    for (int sy = 0; sy < 4; ++sy)
        for (int sx = 0; sx < 4; ++sx)
            in += std::hypot(x + (sx + 0.5) / 4 - kCx, y + (sy + 0.5) / 4 - kCy) <= kRadius;
    return in / 16.0;
}

// Signed distance of a pixel centre from the disc's edge (positive outside).
double edge_distance(int x, int y) { return std::hypot(x + 0.5 - kCx, y + 0.5 - kCy) - kRadius; }

// An orange disc with an antialiased edge, a green spill on its rim, on noisy green.
Pixels element_on_key(int channels = 3) {
    std::mt19937 gen(42);
    std::uniform_int_distribution<int> noise(-10, 10);
    return image_test::draw(kSize, kSize, channels, [&](int x, int y) {
        const double cov = coverage(x, y), d = edge_distance(x, y);
        const double spill = d > -4 ? 0.3 : 0.0;  // the key's light bouncing onto the rim
        image_test::Colour c{};
        for (int k = 0; k < 3; ++k) {
            const double bg = kKeyish[std::size_t(k)] + noise(gen);
            const double fg = (1 - spill) * kOrange[std::size_t(k)] + spill * kKeyish[std::size_t(k)];
            c[std::size_t(k)] = int(std::lround(cov * fg + (1 - cov) * bg));
        }
        c[3] = 255;
        return c;
    });
}

int green_cast(const Pixels& rgba, int x, int y) {
    return int(at(rgba, x, y, 1)) - std::max<int>(at(rgba, x, y, 0), at(rgba, x, y, 2));
}

}  // namespace

TEST_CASE("compose: cut_out recovers an element from a noisy key: clear background, solid inside", "[compose][cutout]") {
    auto channels = GENERATE(3, 4);
    Cutout cut = cut_out(element_on_key(channels));
    const CutoutReport& r = cut.report;
    INFO("key " << to_hex(r.key) << " noise " << r.noise << " inner " << r.inner << " outer " << r.outer << " "
                << r.problem);
    CHECK(r.plausible);
    CHECK(std::abs(int(r.key.r) - 30) <= 3);
    CHECK(std::abs(int(r.key.g) - 230) <= 3);
    CHECK(std::abs(int(r.key.b) - 40) <= 3);
    CHECK(r.border_key_share > 0.95);
    REQUIRE(cut.rgba.channels == 4);

    int background_visible = 0, inside_soft = 0;
    for (int y = 0; y < kSize; ++y)
        for (int x = 0; x < kSize; ++x) {
            const double d = edge_distance(x, y);
            if (d > 3) background_visible += at(cut.rgba, x, y, 3) > 8;
            if (d < -3) inside_soft += at(cut.rgba, x, y, 3) != 255;
        }
    CHECK(background_visible == 0);
    CHECK(inside_soft == 0);
}

TEST_CASE("compose: cut_out removes the key's cast from the edge", "[compose][cutout]") {
    CutoutOptions spilled;
    spilled.despill = false;
    Cutout plain = cut_out(element_on_key(), spilled);
    Cutout clean = cut_out(element_on_key());
    // Edge pixels that stay visible: the rim and the antialiased boundary.
    double sum_plain = 0, sum_clean = 0;
    int worst_clean = -255, worst_plain = -255, n = 0;
    for (int y = 0; y < kSize; ++y)
        for (int x = 0; x < kSize; ++x) {
            const double d = edge_distance(x, y);
            if (d < -5 || d > 2 || at(clean.rgba, x, y, 3) < 64) continue;
            sum_plain += green_cast(plain.rgba, x, y);
            sum_clean += green_cast(clean.rgba, x, y);
            worst_plain = std::max(worst_plain, green_cast(plain.rgba, x, y));
            worst_clean = std::max(worst_clean, green_cast(clean.rgba, x, y));
            ++n;
        }
    REQUIRE(n > 500);
    INFO("mean green cast without despill " << sum_plain / n << ", with " << sum_clean / n << "; worst "
                                            << worst_plain << " / " << worst_clean);
    CHECK(worst_plain > 40);          // the test picture really has a green fringe...
    CHECK(worst_clean <= 0);          // ...and after despill no edge pixel is green-dominant
    CHECK(sum_clean / n < -20);
    // The interior keeps its colour exactly (despill touches soft and edge pixels only).
    CHECK(at(clean.rgba, 128, 128, 0) == 230);
    CHECK(at(clean.rgba, 128, 128, 1) == 120);
}

TEST_CASE("compose: a placed element lands on its fit rect inside the target box", "[compose][cutout]") {
    Cutout cut = cut_out(element_on_key());
    Pixels canvas = blank(800, 600, 4);
    const Rect box{100, 150, 300, 200};
    const Rect placed = place_element(canvas, cut.rgba, box);
    // The disc spans pixels 58..197 (140 px): scaled to the box's 200 px height, centred.
    const Rect expected{150, 150, 200, 200};
    const Rect seen = alpha_bounds(canvas);
    INFO("placed " << placed.x << "," << placed.y << " " << placed.w << "x" << placed.h << "; seen " << seen.x << ","
                   << seen.y << " " << seen.w << "x" << seen.h);
    for (const Rect& r : {placed, seen}) {
        CHECK(std::abs(r.x - expected.x) <= 2);
        CHECK(std::abs(r.y - expected.y) <= 2);
        CHECK(std::abs(r.right() - expected.right()) <= 2);
        CHECK(std::abs(r.bottom() - expected.bottom()) <= 2);
    }
    CHECK(box.contains(seen));
    // Its centre is the element's colour, opaque.
    CHECK(at(canvas, 250, 250, 3) == 255);
    CHECK(std::abs(int(at(canvas, 250, 250, 0)) - 230) <= 12);

    // Onto an opaque background, nothing outside the box changes.
    Pixels scene = random_image(800, 600, 4, 8);
    for (std::size_t i = 3; i < scene.data.size(); i += 4) scene.data.data()[i] = 255;
    Pixels before = copy_of(scene);
    place_element(scene, cut.rgba, box);
    int changed_outside = 0;
    for (int y = 0; y < 600; ++y)
        for (int x = 0; x < 800; ++x)
            if (!box.contains(x, y)) changed_outside += !same_bytes(&at(scene, x, y), &at(before, x, y), 4);
    CHECK(changed_outside == 0);

    CHECK_THROWS_AS(place_element(canvas, blank(10, 10, 4), box), Error);
}

TEST_CASE("compose: cut_out reports answers that are not an element on the key", "[compose][cutout]") {
    Cutout noise = cut_out(random_image(128, 96, 3, 1));
    CHECK_FALSE(noise.report.plausible);
    CHECK_FALSE(noise.report.problem.empty());

    CutoutOptions want_magenta;
    want_magenta.key = kKeyMagenta;
    Cutout wrong_key = cut_out(element_on_key(), want_magenta);
    CHECK_FALSE(wrong_key.report.plausible);
    CHECK(wrong_key.report.problem.find("#FF00FF") != std::string::npos);

    CHECK_THROWS_AS(cut_out(blank(10, 10, 1)), Error);
}

TEST_CASE("compose: choose_key_colour avoids the colours the reference is full of", "[compose][cutout]") {
    Pixels forest = image_test::noisy(300, 200, 3, {20, 210, 40, 0}, 15, 3);
    KeyChoice c = choose_key_colour(forest);
    CHECK(c.key != kKeyGreen);
    REQUIRE(c.presence.size() == kKeyCandidates.size());
    CHECK(c.presence[0] > 0.5);

    Pixels orchid = image_test::noisy(300, 200, 4, {220, 40, 200, 255}, 20, 4);
    CHECK(choose_key_colour(orchid).key == kKeyGreen);

    Pixels grey = image_test::solid(50, 50, 3, {128, 128, 128, 0});
    CHECK(choose_key_colour(grey).key == kDefaultKey);  // nothing near any: the first candidate

    CHECK(to_hex(kKeyMagenta) == "#FF00FF");
    CHECK(chroma_distance(kKeyGreen, kKeyMagenta) == Approx(272).margin(3));
    CHECK(chroma_distance(kKeyGreen, Rgb{255, 255, 255}) == Approx(139).margin(3));
    CHECK_THROWS_AS(choose_key_colour(grey, std::span<const Rgb>{}), Error);
}
