// Image makers shared by the image tests: every picture the tests use is drawn here, then
// encoded with the module's own encoders (or, for malformed files, assembled byte by byte).
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "nbcore/image.hpp"

namespace image_test {

using nbcore::Blob;
using nbcore::image::Pixels;
using Bytes = std::vector<std::uint8_t>;
using Colour = std::array<int, 4>;

inline std::uint8_t clamp_byte(int v) { return static_cast<std::uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v); }

// An image whose pixel (x, y) is paint(x, y); channels beyond `channels` are ignored.
inline Pixels draw(int w, int h, int channels, const std::function<Colour(int, int)>& paint) {
    Pixels px;
    px.width = w;
    px.height = h;
    px.channels = channels;
    px.data.resize(std::size_t(w) * std::size_t(h) * std::size_t(channels));
    std::uint8_t* p = px.data.data();
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            Colour c = paint(x, y);
            for (int k = 0; k < channels; ++k) *p++ = clamp_byte(c[std::size_t(k)]);
        }
    return px;
}

inline Pixels solid(int w, int h, int channels, Colour c) {
    return draw(w, h, channels, [c](int, int) { return c; });
}

// A flat colour plus independent uniform noise in [-amplitude, +amplitude] on every channel.
inline Pixels noisy(int w, int h, int channels, Colour c, int amplitude, unsigned seed = 1) {
    std::mt19937 gen(seed);
    std::uniform_int_distribution<int> d(-amplitude, amplitude);
    return draw(w, h, channels, [&](int, int) {
        return Colour{c[0] + d(gen), c[1] + d(gen), c[2] + d(gen), c[3] + d(gen)};
    });
}

inline Bytes bytes_of(const Blob& b) { return Bytes(b.data(), b.data() + b.size()); }
inline Bytes png_of(const Pixels& px) { return bytes_of(nbcore::image::encode_png(px)); }
inline Bytes jpeg_of(const Pixels& px, int q = 90) { return bytes_of(nbcore::image::encode_jpeg(px, q)); }

inline nbcore::image::Check check_bytes(const Bytes& b, const nbcore::image::Limits& limits = {},
                                        nbcore::image::Pixels* keep = nullptr) {
    return nbcore::image::check(b.data(), b.size(), limits, {}, keep);
}

// Bit-at-a-time CRC-32 straight from the PNG specification: slow, obviously right, and
// independent of the table-driven one under test.
inline std::uint32_t reference_crc32(const std::uint8_t* p, std::size_t n) {
    std::uint32_t c = 0xFFFFFFFFu;
    for (std::size_t i = 0; i < n; ++i) {
        c ^= p[i];
        for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
    }
    return ~c;
}

inline void put_be32(Bytes& out, std::uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(v >> s));
}

// Appends one PNG chunk with a correct CRC.
inline void put_chunk(Bytes& out, const char* type, const Bytes& payload) {
    put_be32(out, static_cast<std::uint32_t>(payload.size()));
    std::size_t start = out.size();
    out.insert(out.end(), type, type + 4);
    out.insert(out.end(), payload.begin(), payload.end());
    put_be32(out, reference_crc32(out.data() + start, out.size() - start));
}

inline Bytes png_signature() { return {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'}; }

inline Bytes ihdr(std::uint32_t w, std::uint32_t h, std::uint8_t depth = 8, std::uint8_t colour = 2) {
    Bytes p;
    put_be32(p, w);
    put_be32(p, h);
    p.insert(p.end(), {depth, colour, 0, 0, 0});
    return p;
}

// Where the first chunk of `type` starts in a PNG (its length field); npos when absent.
inline std::size_t find_chunk(const Bytes& png, const char* type) {
    std::size_t pos = 8;
    while (pos + 12 <= png.size()) {
        std::uint32_t len = (std::uint32_t(png[pos]) << 24) | (std::uint32_t(png[pos + 1]) << 16) |
                            (std::uint32_t(png[pos + 2]) << 8) | png[pos + 3];
        if (std::memcmp(png.data() + pos + 4, type, 4) == 0) return pos;
        pos += 12 + std::size_t(len);
    }
    return std::string::npos;
}

inline bool same_pixels(const Pixels& a, const Pixels& b) {
    return a.width == b.width && a.height == b.height && a.channels == b.channels &&
           a.data.size() == b.data.size() &&
           std::memcmp(a.data.data(), b.data.data(), a.data.size()) == 0;
}

inline bool starts_with(const std::string& s, const std::string& prefix) {
    return s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace image_test
