// Chroma-key cutouts: key estimation, alpha, despill, soft edges; key choice; placement.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

#include "compose/compose_internal.hpp"

namespace nbcore::compose {
namespace {

// BT.601 luma and colour differences on the 0..255 scale.
struct Ycc {
    float y, cb, cr;
};

inline Ycc to_ycc(float r, float g, float b) {
    const float y = 0.299f * r + 0.587f * g + 0.114f * b;
    return {y, 0.564f * (b - y), 0.713f * (r - y)};
}
inline Ycc to_ycc(const Rgb& c) { return to_ycc(c.r, c.g, c.b); }

// Luminance counts at a quarter: shading of the key stays near the key.
inline float distance(const Ycc& a, const Ycc& b) {
    const float dy = 0.25f * (a.y - b.y), dcb = a.cb - b.cb, dcr = a.cr - b.cr;
    return std::sqrt(dy * dy + dcb * dcb + dcr * dcr);
}

inline std::uint8_t to_byte(float v) { return std::uint8_t(std::clamp(std::lround(v), 0L, 255L)); }

// The median of each channel over the border frame, with the border's distances to it.
struct BorderSample {
    Rgb median;
    std::vector<float> distances;
};

BorderSample sample_border(const Pixels& px, int band) {
    std::uint32_t hist[3][256] = {};
    std::size_t count = 0;
    auto in_band = [&](int x, int y) {
        return x < band || y < band || x >= px.width - band || y >= px.height - band;
    };
    auto each_border_pixel = [&](auto&& visit) {
        for (int y = 0; y < px.height; ++y) {
            const std::uint8_t* r = detail::row(px, y);
            const bool whole_row = y < band || y >= px.height - band;
            for (int x = 0; x < px.width; ++x) {
                if (!whole_row && x == band) x = std::max(band, px.width - band);  // skip the middle
                if (x >= px.width) break;
                if (in_band(x, y)) visit(r + std::size_t(x) * px.channels);
            }
        }
    };
    each_border_pixel([&](const std::uint8_t* p) {
        for (int k = 0; k < 3; ++k) ++hist[k][p[k]];
        ++count;
    });
    BorderSample s;
    std::uint8_t med[3] = {0, 0, 0};
    for (int k = 0; k < 3; ++k) {
        std::size_t seen = 0;
        for (int v = 0; v < 256; ++v) {
            seen += hist[k][v];
            if (2 * seen >= count) {
                med[k] = std::uint8_t(v);
                break;
            }
        }
    }
    s.median = {med[0], med[1], med[2]};
    const Ycc key = to_ycc(s.median);
    s.distances.reserve(count);
    each_border_pixel([&](const std::uint8_t* p) { s.distances.push_back(distance(to_ycc(p[0], p[1], p[2]), key)); });
    return s;
}

// Smallest value in a (2r+1) window along rows, then columns (a square min filter). Small r only.
void min_filter(std::vector<std::uint8_t>& a, int w, int h, int r) {
    std::vector<std::uint8_t> tmp(a.size());
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            std::uint8_t v = 255;
            for (int i = std::max(0, x - r); i <= std::min(w - 1, x + r); ++i)
                v = std::min(v, a[std::size_t(y) * std::size_t(w) + std::size_t(i)]);
            tmp[std::size_t(y) * std::size_t(w) + std::size_t(x)] = v;
        }
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            std::uint8_t v = 255;
            for (int i = std::max(0, y - r); i <= std::min(h - 1, y + r); ++i)
                v = std::min(v, tmp[std::size_t(i) * std::size_t(w) + std::size_t(x)]);
            a[std::size_t(y) * std::size_t(w) + std::size_t(x)] = v;
        }
}

// 3x3 binomial ([1 2 1] x [1 2 1] / 16), edges replicated: keeps 0 and 255 areas exact.
void smooth_alpha(Pixels& rgba) {
    const int w = rgba.width, h = rgba.height;
    std::vector<std::uint16_t> rows(std::size_t(w) * std::size_t(h));
    auto a = [&](int x, int y) { return std::uint16_t(detail::row(rgba, y)[std::size_t(x) * 4 + 3]); };
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            rows[std::size_t(y) * std::size_t(w) + std::size_t(x)] =
                std::uint16_t(a(std::max(0, x - 1), y) + 2 * a(x, y) + a(std::min(w - 1, x + 1), y));
    for (int y = 0; y < h; ++y) {
        const std::uint16_t* up = rows.data() + std::size_t(std::max(0, y - 1)) * std::size_t(w);
        const std::uint16_t* mid = rows.data() + std::size_t(y) * std::size_t(w);
        const std::uint16_t* down = rows.data() + std::size_t(std::min(h - 1, y + 1)) * std::size_t(w);
        std::uint8_t* out = detail::row(rgba, y);
        for (int x = 0; x < w; ++x) out[std::size_t(x) * 4 + 3] = std::uint8_t((up[x] + 2 * mid[x] + down[x] + 8) / 16);
    }
}

}  // namespace

std::string to_hex(const Rgb& c) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "#%02X%02X%02X", c.r, c.g, c.b);
    return buf;
}

double chroma_distance(const Rgb& a, const Rgb& b) noexcept { return distance(to_ycc(a), to_ycc(b)); }

KeyChoice choose_key_colour(const Pixels& reference, std::span<const Rgb> candidates, double near) {
    detail::require_pixels(reference, "choose_key_colour", "reference", 3, 4);
    if (candidates.empty()) throw_invalid_arg("choose_key_colour: give at least one candidate key colour");
    // About 64k samples on a regular grid are plenty for shares and keep 4K references fast.
    const double pixels = double(reference.width) * reference.height;
    const int step = std::max(1, int(std::sqrt(pixels / 65536.0)));
    std::vector<Ycc> keys;
    for (const Rgb& c : candidates) keys.push_back(to_ycc(c));
    std::vector<std::size_t> near_count(candidates.size(), 0);
    std::size_t samples = 0;
    for (int y = step / 2; y < reference.height; y += step) {
        const std::uint8_t* r = detail::row(reference, y);
        for (int x = step / 2; x < reference.width; x += step) {
            const std::uint8_t* p = r + std::size_t(x) * reference.channels;
            const Ycc c = to_ycc(p[0], p[1], p[2]);
            for (std::size_t i = 0; i < keys.size(); ++i)
                if (distance(c, keys[i]) <= near) ++near_count[i];
            ++samples;
        }
    }
    KeyChoice choice;
    std::size_t best = 0;
    for (std::size_t i = 0; i < candidates.size(); ++i) {
        choice.presence.push_back(samples ? double(near_count[i]) / double(samples) : 0.0);
        if (choice.presence[i] < choice.presence[best] - 0.005) best = i;
    }
    choice.key = candidates[best];
    return choice;
}

Cutout cut_out(const Pixels& image, const CutoutOptions& options) {
    detail::require_pixels(image, "cut_out", "image", 3, 4);
    if (!(options.inner >= 0) || !(options.outer > options.inner))
        throw_invalid_arg("cut_out: thresholds need 0 <= inner < outer");
    const int w = image.width, h = image.height, c = image.channels;
    const int band = std::clamp(options.border > 0 ? options.border : std::max(2, std::min(w, h) / 64), 1,
                                std::max(1, std::min(w, h) / 2));

    Cutout out;
    CutoutReport& rep = out.report;
    BorderSample border = sample_border(image, band);
    rep.key = border.median;
    rep.key_drift = chroma_distance(rep.key, options.key);
    const Ycc key = to_ycc(rep.key);

    // The key's own noise, from border pixels that look like key at all (a subject touching the
    // border must not widen the thresholds).
    std::vector<float> keyish;
    for (float d : border.distances)
        if (d <= options.outer) keyish.push_back(d);
    if (!keyish.empty()) {
        auto p95 = keyish.begin() + std::ptrdiff_t(double(keyish.size() - 1) * 0.95);
        std::nth_element(keyish.begin(), p95, keyish.end());
        rep.noise = *p95;
    }
    rep.inner = std::max(options.inner, 1.25 * rep.noise);
    rep.outer = std::max(options.outer, rep.inner + 24);
    std::size_t on_key = 0;
    for (float d : border.distances) on_key += d <= rep.inner;
    rep.border_key_share = border.distances.empty() ? 0.0 : double(on_key) / double(border.distances.size());
    if (rep.key_drift > options.max_key_drift) {
        rep.plausible = false;
        rep.problem = "the border colour " + to_hex(rep.key) + " is far from the requested key " +
                      to_hex(options.key) + ": the model did not draw the element on the key colour";
    } else if (rep.border_key_share < options.min_border_key_share) {
        rep.plausible = false;
        char line[200];
        std::snprintf(line, sizeof line,
                      "only %.0f%% of the border is the key colour: the background is not flat, or the "
                      "element touches the edges",
                      100.0 * rep.border_key_share);
        rep.problem = line;
    }

    // Alpha from the chroma distance, a linear ramp between the thresholds.
    Pixels rgba = detail::zeroed(w, h, 4);
    const float inner = float(rep.inner), span = float(rep.outer - rep.inner);
    for (int y = 0; y < h; ++y) {
        const std::uint8_t* s = detail::row(image, y);
        std::uint8_t* d = detail::row(rgba, y);
        for (int x = 0; x < w; ++x, s += c, d += 4) {
            const float dist = distance(to_ycc(s[0], s[1], s[2]), key);
            float a = std::clamp((dist - inner) / span, 0.0f, 1.0f) * 255.0f;
            if (c == 4) a = a * float(s[3]) / 255.0f;
            d[0] = s[0];
            d[1] = s[1];
            d[2] = s[2];
            d[3] = to_byte(a);
        }
    }

    // Smooth first, so despill sees the final alpha: key pixels the smoothing makes faintly
    // visible next to the edge are despilled too, instead of showing as a green fringe.
    if (options.smooth_edges) smooth_alpha(rgba);

    // Despill: pixels that are soft, or near soft ones, lose the part of their chroma that points
    // toward the key; their luminance is kept.
    const float key_len = std::hypot(key.cb, key.cr);
    if (options.despill && key_len > 1.0f) {
        const float kx = key.cb / key_len, ky = key.cr / key_len;
        std::vector<std::uint8_t> solid(std::size_t(w) * std::size_t(h));
        for (std::size_t i = 0; i < solid.size(); ++i) solid[i] = rgba.data.data()[i * 4 + 3];
        if (options.despill_band > 0) min_filter(solid, w, h, options.despill_band);
        for (std::size_t i = 0; i < solid.size(); ++i) {
            if (solid[i] == 255) continue;
            std::uint8_t* p = rgba.data.data() + i * 4;
            if (p[3] == 0) continue;  // invisible: leave it
            Ycc v = to_ycc(p[0], p[1], p[2]);
            const float toward = v.cb * kx + v.cr * ky;
            if (toward <= 0) continue;
            v.cb -= toward * kx;
            v.cr -= toward * ky;
            const float r = v.y + v.cr / 0.713f, b = v.y + v.cb / 0.564f;
            const float g = (v.y - 0.299f * r - 0.114f * b) / 0.587f;
            p[0] = to_byte(r);
            p[1] = to_byte(g);
            p[2] = to_byte(b);
        }
    }
    out.rgba = std::move(rgba);
    return out;
}

Rect alpha_bounds(const Pixels& rgba, std::uint8_t threshold) {
    detail::require_pixels(rgba, "alpha_bounds", "image", 4, 4);
    return mask_bounds(rgba, threshold);  // reads the last channel
}

Rect place_element(Pixels& canvas, const Pixels& element, const Rect& box, std::uint8_t threshold) {
    detail::require_pixels(canvas, "place_element", "canvas", 4, 4);
    detail::require_pixels(element, "place_element", "element", 4, 4);
    if (box.empty()) throw_invalid_arg("place_element: the target box is empty");
    const Rect subject = alpha_bounds(element, threshold);
    if (subject.empty())
        throw_invalid_arg("place_element: the element is fully transparent, nothing to place; check "
                          "the cutout's report (was the element drawn on the key colour?)");
    const Rect fit = fit_into(box, subject.w, subject.h);
    Pixels piece = crop(element, subject);
    if (fit.w != subject.w || fit.h != subject.h) piece = image::resize(piece, fit.w, fit.h);
    alpha_over(canvas, piece, fit.x, fit.y);
    return fit;
}

}  // namespace nbcore::compose
