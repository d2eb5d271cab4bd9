// to_rgba, encode_png / encode_jpeg round trips, resize.
#include <catch2/catch.hpp>

#include <cstdlib>

#include "nbcore/status.hpp"
#include "test_image_helpers.hpp"

using namespace nbcore;
using namespace nbcore::image;
using namespace image_test;

namespace {

Colour pixel_at(const Pixels& px, int x, int y) {
    Colour c{0, 0, 0, 0};
    const std::uint8_t* p = px.data.data() + std::size_t(y) * px.stride() + std::size_t(x) * px.channels;
    for (int k = 0; k < px.channels; ++k) c[std::size_t(k)] = p[k];
    return c;
}

bool near(const Colour& a, const Colour& b, int channels, int tolerance) {
    for (int k = 0; k < channels; ++k)
        if (std::abs(a[std::size_t(k)] - b[std::size_t(k)]) > tolerance) return false;
    return true;
}

}  // namespace

TEST_CASE("to_rgba expands every channel count without changing what is seen", "[image][convert]") {
    struct Case {
        int channels;
        Colour in;
        Colour rgba;
    };
    auto c = GENERATE(values<Case>({
        {1, {90, 0, 0, 0}, {90, 90, 90, 255}},
        {2, {90, 40, 0, 0}, {90, 90, 90, 40}},
        {3, {10, 20, 30, 0}, {10, 20, 30, 255}},
        {4, {10, 20, 30, 40}, {10, 20, 30, 40}},
    }));
    Pixels in = draw(5, 3, c.channels, [&](int x, int) {
        return x == 4 ? Colour{1, 2, 3, 4} : c.in;  // one different column: no constant fill trick
    });
    Pixels out = to_rgba(in);
    CHECK(out.channels == 4);
    CHECK(out.width == 5);
    CHECK(out.height == 3);
    REQUIRE(out.data.size() == 5 * 3 * 4);
    CHECK(pixel_at(out, 0, 0) == c.rgba);
    CHECK(pixel_at(out, 3, 2) == c.rgba);
    Colour last = pixel_at(out, 4, 1);
    CHECK(last[3] == (c.channels == 2 ? 2 : c.channels == 4 ? 4 : 255));
}

TEST_CASE("encode_png then check gives back identical pixels", "[image][convert]") {
    auto channels = GENERATE(1, 2, 3, 4);
    Pixels original = noisy(53, 31, channels, {128, 128, 128, 128}, 100, unsigned(channels));
    Bytes png = png_of(original);
    Pixels kept;
    Check r = check_bytes(png, {}, &kept);
    REQUIRE(r.ok);
    CHECK(r.channels == channels);
    CHECK(same_pixels(kept, original));
}

TEST_CASE("encode_jpeg stays close to the original", "[image][convert]") {
    Pixels original = draw(64, 64, 3, [](int x, int y) { return Colour{x * 4, y * 4, 128, 255}; });
    Pixels kept;
    Check r = check_bytes(jpeg_of(original, 95), {}, &kept);
    REQUIRE(r.ok);
    REQUIRE(kept.channels == 3);
    CHECK(near(pixel_at(kept, 10, 50), pixel_at(original, 10, 50), 3, 8));
    CHECK(near(pixel_at(kept, 60, 5), pixel_at(original, 60, 5), 3, 8));
}

TEST_CASE("resize keeps flat colours exact and does not darken alpha edges", "[image][convert]") {
    SECTION("two colours, shrunk and grown") {
        Pixels two = draw(64, 32, 3, [](int x, int) {
            return x < 32 ? Colour{220, 30, 40, 255} : Colour{10, 90, 250, 255};
        });
        auto size = GENERATE(std::make_pair(16, 8), std::make_pair(200, 100));
        Pixels out = resize(two, size.first, size.second);
        CHECK(out.width == size.first);
        CHECK(out.height == size.second);
        CHECK(out.channels == 3);
        CHECK(near(pixel_at(out, 0, 0), {220, 30, 40, 255}, 3, 1));
        CHECK(near(pixel_at(out, size.first - 1, size.second - 1), {10, 90, 250, 255}, 3, 1));
    }
    SECTION("opaque red next to transparent black stays red, its alpha fades") {
        auto channels = GENERATE(2, 4);
        Pixels px = draw(64, 8, channels, [channels](int x, int) {
            bool opaque = x < 32;
            if (channels == 2) return opaque ? Colour{200, 255, 0, 0} : Colour{0, 0, 0, 0};
            return opaque ? Colour{255, 0, 0, 255} : Colour{0, 0, 0, 0};
        });
        Pixels out = resize(px, 16, 2);
        // The pixel straddling the boundary is partly transparent; its colour is still the opaque
        // side's, because stb weighted the colours by alpha (premultiplied) before filtering.
        Colour edge = pixel_at(out, 8, 0);
        int alpha = edge[std::size_t(channels - 1)];
        CHECK(alpha > 0);
        CHECK(alpha < 255);
        CHECK(edge[0] >= (channels == 2 ? 195 : 250));
    }
    SECTION("bad sizes are argument errors") {
        Pixels px = solid(4, 4, 3, {1, 2, 3, 4});
        CHECK_THROWS_AS(resize(px, 0, 4), Error);
        CHECK_THROWS_AS(resize(px, 4, -1), Error);
    }
}

TEST_CASE("malformed Pixels are argument errors, not crashes", "[image][convert]") {
    Pixels px = solid(4, 4, 3, {1, 2, 3, 4});
    SECTION("too few bytes") {
        px.width = 5;
        CHECK_THROWS_AS(to_rgba(px), Error);
        CHECK_THROWS_AS(encode_png(px), Error);
    }
    SECTION("five channels") {
        px.channels = 5;
        CHECK_THROWS_AS(encode_jpeg(px), Error);
    }
    SECTION("jpeg quality out of range") {
        try {
            encode_jpeg(px, 0);
            FAIL("no exception");
        } catch (const Error& e) {
            CHECK(e.code() == Status::INVALID_ARG);
        }
    }
}
