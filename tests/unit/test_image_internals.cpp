// White-box tests of the fast paths inside core/src/image: the CRC-32 implementations and the
// statistics kernels must agree with slow, obvious references on every length and shape.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "../../core/src/image/image_internal.hpp"
#include "test_image_helpers.hpp"

using namespace nbcore::image;
using namespace image_test;

namespace {

Bytes random_bytes(std::size_t n, unsigned seed) {
    std::mt19937 gen(seed);
    Bytes b(n);
    for (auto& x : b) x = static_cast<std::uint8_t>(gen());
    return b;
}

// Mean, deviation and nearest-rank luminance percentiles the slow way.
Stats reference_stats(const std::uint8_t* p, std::size_t count, int channels) {
    Stats s;
    s.pixels = static_cast<std::int64_t>(count);
    std::vector<int> luma(count);
    std::size_t transparent = 0;
    for (int c = 0; c < channels; ++c) {
        double sum = 0;
        for (std::size_t i = 0; i < count; ++i) sum += p[i * channels + c];
        double mean = sum / double(count), m2 = 0;
        for (std::size_t i = 0; i < count; ++i) {
            double d = p[i * channels + c] - mean;
            m2 += d * d;
        }
        s.mean[c] = mean;
        s.stddev[c] = std::sqrt(m2 / double(count));
    }
    for (std::size_t i = 0; i < count; ++i) {
        const std::uint8_t* px = p + i * channels;
        // Rec. 601 with the integer weights the module documents (77, 150, 29 out of 256).
        luma[i] = channels >= 3 ? (77 * px[0] + 150 * px[1] + 29 * px[2] + 128) / 256 : px[0];
        if ((channels == 2 || channels == 4) && px[channels - 1] == 0) ++transparent;
    }
    std::sort(luma.begin(), luma.end());
    auto rank = [&](double q) { return std::size_t(std::ceil(q * double(count))); };
    s.luma_p01 = luma[std::max<std::size_t>(1, rank(0.01)) - 1];
    s.luma_p99 = luma[std::max<std::size_t>(1, rank(0.99)) - 1];
    s.transparent_fraction = double(transparent) / double(count);
    return s;
}

}  // namespace

TEST_CASE("CRC-32: the standard check value and a chunk of zeros", "[image][crc]") {
    const char* check = "123456789";
    auto p = reinterpret_cast<const std::uint8_t*>(check);
    CHECK(detail::crc32(p, 9) == 0xCBF43926u);
    CHECK(detail::crc32_portable(p, 9) == 0xCBF43926u);
    Bytes zeros(4096, 0);
    CHECK(detail::crc32(zeros.data(), zeros.size()) == reference_crc32(zeros.data(), zeros.size()));
}

TEST_CASE("CRC-32: fast, portable and reference agree on every length and alignment", "[image][crc]") {
    const Bytes data = random_bytes(2048 + 64, 99);
    for (std::size_t offset = 0; offset < 4; ++offset)
        for (std::size_t n = 0; n <= 600; ++n) {
            const std::uint8_t* p = data.data() + offset;
            std::uint32_t want = reference_crc32(p, n);
            INFO("offset " << offset << ", length " << n);
            REQUIRE(detail::crc32(p, n) == want);
            REQUIRE(detail::crc32_portable(p, n) == want);
        }
    const Bytes big = random_bytes(3 << 20, 7);  // long enough for the 64-byte folding loop to matter
    CHECK(detail::crc32(big.data(), big.size()) == detail::crc32_portable(big.data(), big.size()));
}

TEST_CASE("CRC-32: continuing a running value equals one call over the whole", "[image][crc]") {
    const Bytes data = random_bytes(1000, 5);
    std::uint32_t whole = reference_crc32(data.data(), data.size());
    for (std::size_t split : {0u, 1u, 15u, 64u, 100u, 999u, 1000u}) {
        std::uint32_t first = detail::crc32(data.data(), split);
        CHECK(detail::crc32(data.data() + split, data.size() - split, first) == whole);
        CHECK(detail::crc32_portable(data.data() + split, data.size() - split,
                                     detail::crc32_portable(data.data(), split)) == whole);
    }
}

TEST_CASE("statistics kernels agree with a slow reference, and the copy is exact", "[image][stats]") {
    auto channels = GENERATE(1, 2, 3, 4);
    // Sizes around the 32-pixel groups and 8192-pixel blocks, plus several whole blocks.
    auto count = GENERATE(as<std::size_t>{}, 1, 31, 32, 33, 8191, 8192, 8193, 50000);
    const Bytes pixels = random_bytes(count * std::size_t(channels), unsigned(count * 7 + channels));
    // Skew the alpha so that zeros appear in useful numbers.
    Bytes skewed = pixels;
    if (channels == 2 || channels == 4)
        for (std::size_t i = 0; i < count; ++i) {
            std::uint8_t& a = skewed[i * channels + channels - 1];
            a = a < 100 ? 0 : a;
        }
    const Stats want = reference_stats(skewed.data(), count, channels);
    for (auto kernel : {detail::Kernel::best, detail::Kernel::portable}) {
        INFO(channels << " channels, " << count << " pixels, kernel " << int(kernel));
        Bytes copy(skewed.size(), 0xAB);
        Stats got = detail::scan_pixels(skewed.data(), count, channels, copy.data(), kernel);
        CHECK(copy == skewed);
        CHECK(got.pixels == want.pixels);
        for (int c = 0; c < channels; ++c) {
            CHECK(got.mean[c] == Approx(want.mean[c]).epsilon(1e-12));
            CHECK(got.stddev[c] == Approx(want.stddev[c]).epsilon(1e-9).margin(1e-6));
        }
        CHECK(got.luma_p01 == want.luma_p01);
        CHECK(got.luma_p99 == want.luma_p99);
        CHECK(got.transparent_fraction == Approx(want.transparent_fraction));
    }
}
