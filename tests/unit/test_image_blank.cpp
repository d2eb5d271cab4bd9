// Blank detection: statistics, the blank rule, and the smallest subject it still sees.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "nbcore/status.hpp"
#include "test_image_helpers.hpp"

using namespace nbcore;
using namespace nbcore::image;
using namespace image_test;

namespace {

struct Named {
    const char* name;
    Pixels px;
};

Check check_pixels_as_png(const Pixels& px) { return check_bytes(png_of(px)); }

// A dark square of side `side` centred on a white frame of w x h.
Pixels square_on_white(int w, int h, int side, int grey = 0) {
    int x0 = (w - side) / 2, y0 = (h - side) / 2;
    return draw(w, h, 3, [=](int x, int y) {
        bool in = x >= x0 && x < x0 + side && y >= y0 && y < y0 + side;
        return in ? Colour{grey, grey, grey, 255} : Colour{255, 255, 255, 255};
    });
}

}  // namespace

TEST_CASE("uniform colours are blank, with the numbers in the reason", "[image][blank]") {
    struct Case {
        const char* name;
        int channels;
        Colour colour;
        const char* reason_start;
    };
    auto c = GENERATE(values<Case>({
        {"black RGB", 3, {0, 0, 0, 255}, "uniform colour (mean 0,0,0; stddev 0.0,0.0,0.0 <= 3.0; luma range 0 <= 12)"},
        {"white RGB", 3, {255, 255, 255, 255}, "uniform colour (mean 255,255,255;"},
        {"mid-grey RGB", 3, {128, 128, 128, 255}, "uniform colour (mean 128,128,128;"},
        {"a colour", 3, {30, 140, 200, 255}, "uniform colour (mean 30,140,200;"},
        {"opaque RGBA", 4, {200, 10, 10, 255}, "uniform colour (mean 200,10,10,255;"},
        {"grey", 1, {77, 0, 0, 0}, "uniform grey (mean 77; stddev 0.0 <= 3.0; luma range 0 <= 12)"},
        {"grey+alpha", 2, {77, 255, 0, 0}, "uniform grey (mean 77,255;"},
    }));
    INFO(c.name);
    Check r = check_pixels_as_png(solid(64, 48, c.channels, c.colour));
    CHECK_FALSE(r.ok);
    CHECK(r.blank);
    CHECK(r.code == Status::BLANK_IMAGE);
    CHECK(r.channels == c.channels);
    CHECK(starts_with(r.reason, c.reason_start));
    CHECK(r.stats.pixels == 64 * 48);
    for (int k = 0; k < c.channels; ++k) CHECK(r.stats.mean[k] == Approx(c.colour[std::size_t(k)]));
}

TEST_CASE("near-uniform noise is blank", "[image][blank]") {
    auto amplitude = GENERATE(1, 2);
    auto channels = GENERATE(1, 3);
    INFO("noise +-" << amplitude << ", " << channels << " channels");
    Check r = check_pixels_as_png(noisy(200, 150, channels, {120, 90, 60, 255}, amplitude, 42));
    CHECK(r.code == Status::BLANK_IMAGE);
    CHECK(r.blank);
    CHECK(r.stats.stddev[0] > 0.5);  // the noise is really there
    CHECK(r.stats.stddev[0] <= 3.0);
}

TEST_CASE("a JPEG of a flat colour is blank despite compression noise", "[image][blank]") {
    auto quality = GENERATE(50, 75, 95);
    Bytes jpeg = jpeg_of(noisy(320, 240, 3, {180, 60, 40, 255}, 1, 3), quality);
    Check r = check_bytes(jpeg);
    INFO("quality " << quality << ": " << r.reason);
    CHECK(r.mime == "image/jpeg");
    CHECK(r.code == Status::BLANK_IMAGE);
}

TEST_CASE("pictures are not blank", "[image][blank]") {
    std::mt19937 gen(5);
    std::normal_distribution<double> grain(0, 18);
    std::vector<Named> pictures;
    pictures.push_back({"horizontal gradient", draw(256, 64, 3, [](int x, int) {
                            return Colour{x, x / 2, 255 - x, 255};
                        })});
    pictures.push_back({"soft vertical gradient 100..140", draw(64, 256, 1, [](int, int y) {
                            return Colour{100 + y * 40 / 255, 0, 0, 0};
                        })});
    pictures.push_back({"photo-like noise", draw(160, 120, 3, [&](int x, int y) {
                            int base = 60 + (x + y) / 3;
                            return Colour{base + int(grain(gen)), base + 20 + int(grain(gen)),
                                          base - 10 + int(grain(gen)), 255};
                        })});
    pictures.push_back({"5% dark square on white", square_on_white(200, 200, 45)});
    pictures.push_back({"2% dark square on white", square_on_white(200, 200, 28)});
    pictures.push_back({"two-colour halves", draw(64, 64, 3, [](int x, int) {
                            return x < 32 ? Colour{255, 0, 0, 255} : Colour{0, 0, 255, 255};
                        })});
    for (const auto& p : pictures) {
        INFO(p.name);
        Check r = check_pixels_as_png(p.px);
        CHECK(r.ok);
        CHECK_FALSE(r.blank);
        CHECK(r.code == Status::OK);
        CHECK(r.reason.empty());
    }
}

// The rule calls an image blank only when BOTH the per-channel spread (stddev) and the 1st..99th
// percentile luminance spread are small, so a subject is seen when EITHER measure notices it:
//  - the percentile spread sees any subject covering at least 1% of the frame whose luminance
//    differs from the background by more than max_luma_range (12);
//  - the standard deviation sees a subject covering a fraction f with contrast d (0..255) once
//    d * sqrt(f * (1 - f)) > max_stddev (3), i.e. f > 9 / d^2: for black on white that is 0.014%
//    of the frame (a 13x13 px dot in 1024x1024), for mid-grey on white 0.056%.
// So a high-contrast subject is seen down to ~0.014% of the frame; a faint one (contrast <= 12)
// only once d * sqrt(f * (1 - f)) > 3 (about 7% of the frame at contrast 12), else it is blank.
TEST_CASE("the smallest subject that is still seen", "[image][blank]") {
    struct Case {
        int side;       // square side in a 1000x1000 white frame
        int grey;       // the square's grey level
        bool blank;
        const char* why;
    };
    auto c = GENERATE(values<Case>({
        {100, 0, false, "1% black: both measures see it"},
        {100, 240, false, "1% at contrast 15: the percentile spread sees it"},
        {99, 240, true, "0.98% at contrast 15: under 1%, stddev 1.5"},
        {15, 0, false, "0.0225% black: stddev 3.8"},
        {10, 0, true, "0.01% black: stddev 2.55, under 1%"},
        {30, 128, false, "0.09% mid-grey: stddev 3.8"},
        {20, 128, true, "0.04% mid-grey: stddev 2.5"},
        {300, 245, true, "9% at contrast 10: faint, below both thresholds"},
    }));
    INFO(c.why);
    Check r = check_pixels_as_png(square_on_white(1000, 1000, c.side, c.grey));
    INFO(r.reason);
    CHECK(r.blank == c.blank);
    CHECK(r.code == (c.blank ? Status::BLANK_IMAGE : Status::OK));
}

TEST_CASE("the documented limit: a 13x13 black dot in 1024x1024 is seen, 12x12 is not", "[image][blank]") {
    auto side = GENERATE(12, 13);
    Stats s = compute_stats(square_on_white(1024, 1024, side));
    INFO("side " << side << ": stddev " << s.stddev[0]);
    CHECK(is_blank(s, 3, BlankRules{}) == (side == 12));
}

TEST_CASE("transparency: fully transparent is blank, partly transparent is not", "[image][blank]") {
    SECTION("fully transparent RGBA") {
        // Colour under alpha 0 is invisible, so varied colour there does not make a picture.
        Pixels clear = draw(100, 100, 4, [](int x, int y) { return Colour{x, y, 7, 0}; });
        Check r = check_pixels_as_png(clear);
        CHECK(r.code == Status::BLANK_IMAGE);
        CHECK(r.reason == "fully transparent (100% of pixels have alpha 0)");
        CHECK(r.stats.transparent_fraction == 1.0);
    }
    SECTION("99.9% transparent with a few opaque specks") {
        Pixels px = draw(100, 100, 4, [](int x, int y) {
            return (x == 3 && y < 10) ? Colour{255, 0, 0, 255} : Colour{0, 0, 0, 0};
        });
        Check r = check_pixels_as_png(px);
        CHECK(r.code == Status::BLANK_IMAGE);
        CHECK(r.reason == "fully transparent (99.9% of pixels have alpha 0)");
    }
    SECTION("fully transparent grey+alpha") {
        Check r = check_pixels_as_png(solid(40, 40, 2, {255, 0, 0, 0}));
        CHECK(r.code == Status::BLANK_IMAGE);
        CHECK(r.channels == 2);
        CHECK(starts_with(r.reason, "fully transparent"));
    }
    SECTION("half transparent over a picture") {
        Pixels px = draw(100, 100, 4, [](int x, int y) {
            return Colour{x * 2, y * 2, 128, x < 50 ? 0 : 255};
        });
        Check r = check_pixels_as_png(px);
        CHECK(r.ok);
        CHECK(r.stats.transparent_fraction == Approx(0.5));
    }
    SECTION("a flat colour cut into a shape by alpha is a picture") {
        Pixels px = draw(100, 100, 4, [](int x, int y) {
            int dx = x - 50, dy = y - 50;
            return Colour{200, 30, 30, dx * dx + dy * dy < 900 ? 255 : 0};
        });
        Check r = check_pixels_as_png(px);
        CHECK(r.ok);
        CHECK(r.stats.stddev[0] == 0.0);
        CHECK(r.stats.stddev[3] > 100);
    }
}

TEST_CASE("compute_stats: exact means, deviations and nearest-rank percentiles", "[image][blank]") {
    SECTION("black and white halves") {
        Pixels px = draw(10, 10, 1, [](int x, int) { return Colour{x < 5 ? 0 : 255, 0, 0, 0}; });
        Stats s = compute_stats(px);
        CHECK(s.pixels == 100);
        CHECK(s.mean[0] == Approx(127.5));
        CHECK(s.stddev[0] == Approx(127.5));
        CHECK(s.luma_p01 == 0);
        CHECK(s.luma_p99 == 255);
    }
    SECTION("exactly 1% dark pixels move the 1st percentile, one fewer does not") {
        auto dark = GENERATE(100, 99);
        Pixels px = draw(100, 100, 3, [dark](int x, int y) {
            return y * 100 + x < dark ? Colour{10, 10, 10, 255} : Colour{250, 250, 250, 255};
        });
        Stats s = compute_stats(px);
        CHECK(s.luma_p01 == (dark == 100 ? 10 : 250));
        CHECK(s.luma_p99 == 250);
    }
    SECTION("Rec. 601 luminance of pure primaries") {
        struct Case { Colour c; int luma; };
        auto c = GENERATE(values<Case>({{{255, 0, 0, 255}, 77}, {{0, 255, 0, 255}, 149},
                                        {{0, 0, 255, 255}, 29}, {{255, 255, 255, 255}, 255}}));
        Stats s = compute_stats(solid(4, 4, 3, c.c));
        CHECK(s.luma_p01 == c.luma);
        CHECK(s.luma_p99 == c.luma);
    }
    SECTION("RGBA: alpha statistics and transparent share") {
        Pixels px = draw(4, 1, 4, [](int x, int) { return Colour{0, 0, 0, x == 0 ? 255 : 0}; });
        Stats s = compute_stats(px);
        CHECK(s.transparent_fraction == Approx(0.75));
        CHECK(s.mean[3] == Approx(63.75));
    }
    SECTION("pixels that do not match the size are refused") {
        Pixels px = solid(4, 4, 3, {1, 2, 3, 4});
        px.height = 5;
        CHECK_THROWS_AS(compute_stats(px), Error);
    }
}

TEST_CASE("is_blank honours the rules it is given", "[image][blank]") {
    Stats s;
    s.pixels = 1000;
    s.stddev[0] = s.stddev[1] = s.stddev[2] = 2.0;
    s.luma_p01 = 100;
    s.luma_p99 = 110;
    std::string why;
    CHECK(is_blank(s, 3, BlankRules{}, &why));
    CHECK(starts_with(why, "uniform colour"));
    CHECK_FALSE(is_blank(s, 3, BlankRules{1.5, 12, 0.995}, &why));
    CHECK(why.empty());
    CHECK_FALSE(is_blank(s, 3, BlankRules{3.0, 8, 0.995}));
    s.transparent_fraction = 0.5;
    s.stddev[3] = 120;
    CHECK_FALSE(is_blank(s, 4, BlankRules{}));
    CHECK(is_blank(s, 4, BlankRules{3.0, 12, 0.5}, &why));
    CHECK(why == "fully transparent (50.0% of pixels have alpha 0)");
    CHECK(is_blank(Stats{}, 3, BlankRules{}, &why));
    CHECK(why == "empty image (no pixels)");
}
