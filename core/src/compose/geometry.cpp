// Rects, normalized boxes, mask bounds, aspect ratios, fitting and cropping.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <string>

#include "compose/compose_internal.hpp"
#include "nbcore/models.hpp"

namespace nbcore::compose {

Rect intersect(const Rect& a, const Rect& b) noexcept {
    const int x0 = std::max(a.x, b.x), y0 = std::max(a.y, b.y);
    const int x1 = std::min(a.right(), b.right()), y1 = std::min(a.bottom(), b.bottom());
    if (a.empty() || b.empty() || x1 <= x0 || y1 <= y0) return {};
    return {x0, y0, x1 - x0, y1 - y0};
}

Rect unite(const Rect& a, const Rect& b) noexcept {
    if (a.empty()) return b;
    if (b.empty()) return a;
    const int x0 = std::min(a.x, b.x), y0 = std::min(a.y, b.y);
    return {x0, y0, std::max(a.right(), b.right()) - x0, std::max(a.bottom(), b.bottom()) - y0};
}

Rect inflate(const Rect& r, int by) noexcept {
    Rect out{r.x - by, r.y - by, r.w + 2 * by, r.h + 2 * by};
    if (out.w < 0) out.w = 0;
    if (out.h < 0) out.h = 0;
    return out;
}

Rect to_pixels(const BoxF& box, int width, int height) {
    if (width <= 0 || height <= 0)
        throw_invalid_arg("to_pixels: the image size must be positive (got " + std::to_string(width) +
                          "x" + std::to_string(height) + ")");
    for (double v : {box.x, box.y, box.w, box.h})
        if (!std::isfinite(v))
            throw_invalid_arg("to_pixels: box fields must be finite numbers");
    if (box.w < 0 || box.h < 0)
        throw_invalid_arg("to_pixels: box width and height must not be negative; give x, y as the "
                          "top-left corner and w, h as fractions of the image (0..1)");
    // Each edge rounds on its own (halves up), so neighbouring boxes share their pixel edge.
    auto edge = [](double f, int size) {
        double px = std::floor(f * size + 0.5);
        return int(std::clamp(px, 0.0, double(size)));
    };
    int x0 = edge(box.x, width), x1 = edge(box.x + box.w, width);
    int y0 = edge(box.y, height), y1 = edge(box.y + box.h, height);
    // A box with a positive size covers at least one pixel.
    auto at_least_one = [](int& a, int& b, double extent, int size) {
        if (extent > 0 && b <= a) {
            if (a >= size) a = size - 1;
            b = a + 1;
        }
    };
    at_least_one(x0, x1, box.w, width);
    at_least_one(y0, y1, box.h, height);
    return {x0, y0, std::max(0, x1 - x0), std::max(0, y1 - y0)};
}

BoxF to_normalized(const Rect& r, int width, int height) {
    if (width <= 0 || height <= 0)
        throw_invalid_arg("to_normalized: the image size must be positive (got " +
                          std::to_string(width) + "x" + std::to_string(height) + ")");
    return {double(r.x) / width, double(r.y) / height, double(r.w) / width, double(r.h) / height};
}

Rect mask_bounds(const Pixels& mask, std::uint8_t threshold) {
    detail::require_pixels(mask, "mask_bounds", "mask", 1, 4);
    const int c = mask.channels;
    int x0 = mask.width, x1 = -1, y0 = mask.height, y1 = -1;
    for (int y = 0; y < mask.height; ++y) {
        const std::uint8_t* p = detail::row(mask, y) + (c - 1);
        int first = -1, last = -1;
        for (int x = 0; x < mask.width; ++x)
            if (p[std::size_t(x) * std::size_t(c)] > threshold) {
                first = x;
                break;
            }
        if (first < 0) continue;
        for (int x = mask.width - 1; x >= first; --x)
            if (p[std::size_t(x) * std::size_t(c)] > threshold) {
                last = x;
                break;
            }
        x0 = std::min(x0, first);
        x1 = std::max(x1, last);
        if (y0 > y) y0 = y;
        y1 = y;
    }
    if (y1 < 0) return {};
    return {x0, y0, x1 - x0 + 1, y1 - y0 + 1};
}

namespace {

std::array<AspectRatio, kAspectRatios.size()> parse_ratios() {
    std::array<AspectRatio, kAspectRatios.size()> out{};
    for (std::size_t i = 0; i < kAspectRatios.size(); ++i) {
        std::string_view s = kAspectRatios[i];
        auto colon = s.find(':');
        AspectRatio r;
        r.name = s;
        std::from_chars(s.data(), s.data() + colon, r.w);
        std::from_chars(s.data() + colon + 1, s.data() + s.size(), r.h);
        out[i] = r;
    }
    return out;
}

}  // namespace

std::span<const AspectRatio> supported_aspect_ratios() noexcept {
    static const auto ratios = parse_ratios();
    return ratios;
}

double aspect_residual(int width, int height, const AspectRatio& ratio) noexcept {
    return std::log(double(width) / double(height)) - std::log(ratio.value());
}

AspectRatio snap_aspect(int width, int height) {
    if (width <= 0 || height <= 0)
        throw_invalid_arg("snap_aspect: width and height must be positive (got " +
                          std::to_string(width) + "x" + std::to_string(height) + ")");
    const auto ratios = supported_aspect_ratios();
    AspectRatio best = ratios[0];
    double best_d = std::fabs(aspect_residual(width, height, best));
    for (const auto& r : ratios) {
        double d = std::fabs(aspect_residual(width, height, r));
        if (d < best_d - 1e-12) {
            best_d = d;
            best = r;
        }
    }
    return best;
}

Rect fit_into(const Rect& box, int width, int height) {
    if (box.empty() || width <= 0 || height <= 0)
        throw_invalid_arg("fit_into: the box must not be empty and the size to fit must be positive");
    const double scale = std::min(double(box.w) / width, double(box.h) / height);
    int w = std::clamp(int(std::lround(width * scale)), 1, box.w);
    int h = std::clamp(int(std::lround(height * scale)), 1, box.h);
    return {box.x + (box.w - w) / 2, box.y + (box.h - h) / 2, w, h};
}

Pixels crop(const Pixels& px, const Rect& r) {
    detail::require_pixels(px, "crop", "image", 1, 4);
    if (r.empty() || !bounds_of(px).contains(r))
        throw_invalid_arg("crop: the rect " + std::to_string(r.w) + "x" + std::to_string(r.h) + "+" +
                          std::to_string(r.x) + "+" + std::to_string(r.y) +
                          " must be non-empty and inside the " + std::to_string(px.width) + "x" +
                          std::to_string(px.height) + " image; intersect it with the image first");
    Pixels out = detail::zeroed(r.w, r.h, px.channels);
    const std::size_t bytes = out.stride();
    for (int y = 0; y < r.h; ++y)
        std::memcpy(detail::row(out, y), detail::row(px, r.y + y) + std::size_t(r.x) * px.channels, bytes);
    return out;
}

}  // namespace nbcore::compose
