// Pieces shared by the compose sources: argument checks, pixel allocation, the exact Euclidean
// distance transform and the running-sum box blur. Private to core/src/compose.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "nbcore/compose.hpp"

namespace nbcore::compose::detail {

// Pixels of the given size whose bytes are all zero.
Pixels zeroed(int width, int height, int channels);

// Throws INVALID_ARG unless px has positive size, a channel count in `min_ch`..`max_ch` and enough
// bytes. `who` and `what` name the function and the argument in the message.
void require_pixels(const Pixels& px, const char* who, const char* what, int min_ch, int max_ch);
void require_mask(const Pixels& mask, const char* who, const char* what);
void require_same_size(const Pixels& a, const Pixels& b, const char* who, const char* a_name,
                       const char* b_name);

inline const std::uint8_t* row(const Pixels& px, int y) {
    return px.data.data() + std::size_t(y) * px.stride();
}
inline std::uint8_t* row(Pixels& px, int y) {
    return px.data.data() + std::size_t(y) * px.stride();
}

// A read-only window into pixels (a whole image or a rect of one): what the pipeline passes
// around instead of copying crops.
struct View {
    const std::uint8_t* data = nullptr;
    int width = 0;
    int height = 0;
    int channels = 0;
    std::size_t stride = 0;
    const std::uint8_t* row(int y) const { return data + std::size_t(y) * stride; }
};
inline View view_of(const Pixels& px) {
    return {px.data.data(), px.width, px.height, px.channels, px.stride()};
}
inline View view_of(const Pixels& px, const Rect& r) {
    return {px.data.data() + std::size_t(r.y) * px.stride() + std::size_t(r.x) * px.channels, r.w, r.h,
            px.channels, px.stride()};
}

// Per-channel lookup tables for R, G, B (a colour match folded into a pass that reads pixels).
using ChannelTables = std::uint8_t[3][256];
void colour_tables(const ColourMatch& m, ChannelTables& out);

// estimate_colour_match over views; `original` and `patch` are the alpha's size, 3 or 4 channels.
ColourMatch estimate_colour_match(View original, View patch, const Pixels& alpha,
                                  const ColourMatchOptions& options);

// composite_in_place with a patch of 3 or 4 channels read through a view; `tables` (optional)
// maps its R, G, B on the way; `opaque` treats its alpha as 255 (and a 3-channel patch always is).
void composite(Pixels& base, View patch, const Rect& at, const Pixels& alpha, const ChannelTables* tables,
               bool opaque);

// Squared distance meaning "no seed pixel anywhere": larger than any squared distance in an image
// the Limits allow, and safe to add a small square to.
inline constexpr std::int32_t kFar = std::numeric_limits<std::int32_t>::max() / 4;

// Exact squared Euclidean distance from every pixel of a w x h grid to the nearest seed pixel
// (seed(x, y) true), written into `out` (w * h entries, row-major). kFar when there is no seed.
// Felzenszwalb & Huttenlocher: a 1-D pass down the columns (two sweeps, plain distances), then the
// lower envelope of parabolas along each row. O(w * h); one allocation per call, none per pixel.
template <class Seed>
void squared_distance(int w, int h, Seed seed, std::vector<std::int32_t>& out);

// One row of the second pass: `f` holds squared column distances (kFar = none); replaces it by the
// squared 2-D distance. v, z are scratch of at least n and n + 1 entries.
void envelope_1d(std::int32_t* f, int n, std::vector<int>& v, std::vector<double>& z,
                 std::vector<std::int32_t>& scratch);

template <class Seed>
void squared_distance(int w, int h, Seed seed, std::vector<std::int32_t>& out) {
    out.assign(std::size_t(w) * std::size_t(h), kFar);
    // Columns, top-down then bottom-up, one row at a time (cache friendly): plain 1-D distances.
    const std::int32_t none = std::numeric_limits<std::int32_t>::max() / 8;
    std::int32_t* prev = nullptr;
    for (int y = 0; y < h; ++y) {
        std::int32_t* cur = out.data() + std::size_t(y) * std::size_t(w);
        for (int x = 0; x < w; ++x)
            cur[x] = seed(x, y) ? 0 : (prev && prev[x] < none ? prev[x] + 1 : none);
        prev = cur;
    }
    for (int y = h - 2; y >= 0; --y) {
        std::int32_t* cur = out.data() + std::size_t(y) * std::size_t(w);
        const std::int32_t* below = cur + w;
        for (int x = 0; x < w; ++x)
            if (below[x] < none && below[x] + 1 < cur[x]) cur[x] = below[x] + 1;
    }
    for (auto& d : out) d = d < none ? d * d : kFar;
    std::vector<int> v(std::size_t(w) + 1);
    std::vector<double> z(std::size_t(w) + 2);
    std::vector<std::int32_t> scratch(static_cast<std::size_t>(w));
    for (int y = 0; y < h; ++y) envelope_1d(out.data() + std::size_t(y) * std::size_t(w), w, v, z, scratch);
}

// Three box blurs in x, then three in y, with radii summing to `s` (s/3 each, the remainder spread
// over the last ones): a Gaussian-like kernel whose support is exactly [-s, s] on each axis. Edges
// replicate. In place over a w x h single-channel buffer; `tmp` is scratch. O(w * h) per pass
// whatever the radius.
void triple_box_blur(std::uint8_t* data, int w, int h, int s, std::vector<std::uint8_t>& tmp);

}  // namespace nbcore::compose::detail
