// Colour match: the model's colour shift, measured on a ring of context it was told to keep.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "compose/compose_internal.hpp"

namespace nbcore::compose {

namespace detail {

ColourMatch estimate_colour_match(View original, View patch, const Pixels& alpha,
                                  const ColourMatchOptions& options) {
    if (options.ring_width <= 0 || options.min_gain <= 0 || options.max_gain < options.min_gain ||
        options.max_offset < 0)
        throw_invalid_arg("estimate_colour_match: ring_width must be positive and the gain range "
                          "0 < min_gain <= max_gain, max_offset >= 0");

    ColourMatch m;
    const Rect changed = mask_bounds(alpha);
    if (changed.empty()) {
        m.reason = "nothing is composited (alpha is 0 everywhere)";
        return m;
    }
    // The ring lies within ring_width of the alpha > 0 region, so only that neighbourhood needs
    // a distance transform.
    const Rect roi = intersect(inflate(changed, options.ring_width), bounds_of(alpha));
    std::vector<std::int32_t> d2;
    squared_distance(roi.w, roi.h, [&](int x, int y) { return row(alpha, roi.y + y)[roi.x + x] > 0; }, d2);
    const std::int64_t ring2 = std::int64_t(options.ring_width) * options.ring_width;

    double sum_o[3] = {0, 0, 0}, sq_o[3] = {0, 0, 0}, sum_p[3] = {0, 0, 0}, sq_p[3] = {0, 0, 0};
    std::int64_t n = 0;
    const int co = original.channels, cp = patch.channels;
    for (int y = 0; y < roi.h; ++y) {
        const std::int32_t* d = d2.data() + std::size_t(y) * std::size_t(roi.w);
        const std::uint8_t* po = original.row(roi.y + y) + std::size_t(roi.x) * co;
        const std::uint8_t* pp = patch.row(roi.y + y) + std::size_t(roi.x) * cp;
        for (int x = 0; x < roi.w; ++x, po += co, pp += cp) {
            if (d[x] == 0 || d[x] > ring2) continue;  // composited, or beyond the ring
            for (int k = 0; k < 3; ++k) {
                sum_o[k] += po[k];
                sq_o[k] += double(po[k]) * po[k];
                sum_p[k] += pp[k];
                sq_p[k] += double(pp[k]) * pp[k];
            }
            ++n;
        }
    }
    m.ring_pixels = int(std::min<std::int64_t>(n, INT32_MAX));
    if (n < options.min_ring_pixels) {
        m.reason = "skipped: the ring of unmasked context around the change has " + std::to_string(n) +
                   " pixels, fewer than the " + std::to_string(options.min_ring_pixels) +
                   " needed; give the crop more context around the mask";
        return m;
    }
    for (int k = 0; k < 3; ++k) {
        const double mean_o = sum_o[k] / double(n), mean_p = sum_p[k] / double(n);
        const double sd_o = std::sqrt(std::max(0.0, sq_o[k] / double(n) - mean_o * mean_o));
        const double sd_p = std::sqrt(std::max(0.0, sq_p[k] / double(n) - mean_p * mean_p));
        // A spread ratio from near-flat context is noise: then shift only.
        double gain = (sd_o < options.min_stddev || sd_p < options.min_stddev) ? 1.0 : sd_o / sd_p;
        gain = std::clamp(gain, options.min_gain, options.max_gain);
        const double offset = std::clamp(mean_o - gain * mean_p, -options.max_offset, options.max_offset);
        m.gain[std::size_t(k)] = gain;
        m.offset[std::size_t(k)] = offset;
    }
    m.applied = true;
    char line[160];
    std::snprintf(line, sizeof line, "gain %.3f %.3f %.3f, offset %+.1f %+.1f %+.1f from %lld ring pixels",
                  m.gain[0], m.gain[1], m.gain[2], m.offset[0], m.offset[1], m.offset[2],
                  static_cast<long long>(n));
    m.reason = line;
    return m;
}

void colour_tables(const ColourMatch& m, ChannelTables& out) {
    for (int k = 0; k < 3; ++k)
        for (int v = 0; v < 256; ++v) {
            const double c = m.applied ? m.gain[std::size_t(k)] * v + m.offset[std::size_t(k)] : v;
            out[k][v] = std::uint8_t(std::clamp(std::lround(c), 0L, 255L));
        }
}

}  // namespace detail

ColourMatch estimate_colour_match(const Pixels& original, const Pixels& patch, const Pixels& alpha,
                                  const ColourMatchOptions& options) {
    detail::require_pixels(original, "estimate_colour_match", "original", 3, 4);
    detail::require_pixels(patch, "estimate_colour_match", "patch", 3, 4);
    detail::require_mask(alpha, "estimate_colour_match", "alpha");
    detail::require_same_size(original, patch, "estimate_colour_match", "original", "patch");
    detail::require_same_size(original, alpha, "estimate_colour_match", "original", "alpha");
    return detail::estimate_colour_match(detail::view_of(original), detail::view_of(patch), alpha, options);
}

void apply_colour_match(Pixels& px, const ColourMatch& m) {
    detail::require_pixels(px, "apply_colour_match", "pixels", 3, 4);
    if (!m.applied) return;
    detail::ChannelTables lut;  // one table per channel: no multiply per pixel
    detail::colour_tables(m, lut);
    const int c = px.channels;
    const std::size_t count = std::size_t(px.width) * std::size_t(px.height);
    std::uint8_t* p = px.data.data();
    for (std::size_t i = 0; i < count; ++i, p += c) {
        p[0] = lut[0][p[0]];
        p[1] = lut[1][p[1]];
        p[2] = lut[2][p[2]];
    }
}

}  // namespace nbcore::compose
