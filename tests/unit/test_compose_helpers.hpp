// Makers and slow, obviously-right references shared by the compose tests.
#pragma once

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>
#include <cstdint>
#include <cstring>
#include <random>

#include "nbcore/compose.hpp"
#include "test_image_helpers.hpp"

namespace compose_test {

using nbcore::compose::Rect;
using nbcore::image::Pixels;

inline std::uint8_t& at(Pixels& px, int x, int y, int k = 0) {
    return px.data.data()[(std::size_t(y) * std::size_t(px.width) + std::size_t(x)) * px.channels + k];
}
inline std::uint8_t at(const Pixels& px, int x, int y, int k = 0) {
    return px.data.data()[(std::size_t(y) * std::size_t(px.width) + std::size_t(x)) * px.channels + k];
}

inline Pixels blank(int w, int h, int channels) { return image_test::solid(w, h, channels, {0, 0, 0, 0}); }

inline Pixels copy_of(const Pixels& px) {
    Pixels out = blank(px.width, px.height, px.channels);
    std::memcpy(out.data.data(), px.data.data(), px.data.size());
    return out;
}

// Every byte uniform random.
inline Pixels random_image(int w, int h, int channels, unsigned seed) {
    std::mt19937 gen(seed);
    std::uniform_int_distribution<int> d(0, 255);
    Pixels px = blank(w, h, channels);
    for (std::size_t i = 0; i < px.data.size(); ++i) px.data.data()[i] = std::uint8_t(d(gen));
    return px;
}

// A mask of a few random discs; `soft` gives them a linear edge ramp and scatters faint pixels.
inline Pixels random_mask(int w, int h, unsigned seed, bool soft) {
    std::mt19937 gen(seed);
    std::uniform_real_distribution<double> ux(0, w), uy(0, h), ur(2, std::max(3.0, std::min(w, h) / 6.0));
    Pixels m = blank(w, h, 1);
    for (int n = 0; n < 3; ++n) {
        const double cx = ux(gen), cy = uy(gen), r = ur(gen);
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x) {
                const double d = std::hypot(x - cx, y - cy);
                int v = soft ? int(std::lround(std::clamp((r - d) / 4.0, 0.0, 1.0) * 255)) : (d <= r ? 255 : 0);
                at(m, x, y) = std::uint8_t(std::max<int>(at(m, x, y), v));
            }
    }
    if (soft) {
        std::uniform_int_distribution<int> faint(1, 127);
        for (int n = 0; n < 6; ++n) at(m, int(ux(gen)), int(uy(gen))) = std::uint8_t(faint(gen));
    }
    return m;
}

// Euclidean distance from (x, y) to the nearest pixel with mask > threshold, by scanning them all.
inline double brute_distance(const Pixels& mask, int x, int y, int threshold = 0) {
    double best = 1e18;
    for (int yy = 0; yy < mask.height; ++yy)
        for (int xx = 0; xx < mask.width; ++xx)
            if (at(mask, xx, yy) > threshold) best = std::min(best, double(xx - x) * (xx - x) + double(yy - y) * (yy - y));
    return std::sqrt(best);
}

// Distances from every pixel to the nearest pixel with mask > threshold (brute force, small images).
inline std::vector<double> brute_distances(const Pixels& mask, int threshold = 0) {
    std::vector<std::pair<int, int>> seeds;
    for (int y = 0; y < mask.height; ++y)
        for (int x = 0; x < mask.width; ++x)
            if (at(mask, x, y) > threshold) seeds.emplace_back(x, y);
    std::vector<double> out(std::size_t(mask.width) * std::size_t(mask.height), 1e18);
    for (int y = 0; y < mask.height; ++y)
        for (int x = 0; x < mask.width; ++x) {
            double best = 1e36;
            for (auto [sx, sy] : seeds) best = std::min(best, double(sx - x) * (sx - x) + double(sy - y) * (sy - y));
            out[std::size_t(y) * std::size_t(mask.width) + std::size_t(x)] = std::sqrt(best);
        }
    return out;
}

inline bool same_bytes(const std::uint8_t* a, const std::uint8_t* b, std::size_t n) {
    return std::memcmp(a, b, n) == 0;
}

}  // namespace compose_test
