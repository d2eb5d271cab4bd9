// Grow and feather (the composite alpha) and the marker mask sent to the model.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "compose/compose_internal.hpp"

namespace nbcore::compose {
namespace {

// Grow by `grow`, then feather by `feather`, as documented on feather_mask / blend_alpha. Work is
// confined to the nonzero pixels' bounds plus the reach; everything beyond stays 0.
Pixels shape_mask(const Pixels& mask, int grow, int feather, const char* who) {
    detail::require_mask(mask, who, "mask");
    if (grow < 0 || feather < 0)
        throw_invalid_arg(std::string(who) + ": grow and feather must not be negative (got grow " +
                          std::to_string(grow) + ", feather " + std::to_string(feather) + ")");
    const Rect selected = mask_bounds(mask);
    if (selected.empty())
        throw_invalid_arg(std::string(who) + ": the mask is empty (every pixel is 0), so nothing "
                          "would change; select or paint the region to change first");

    Pixels out = detail::zeroed(mask.width, mask.height, 1);
    if (grow == 0 && feather == 0) {  // exact selection: the alpha is the mask
        std::memcpy(out.data.data(), mask.data.data(), out.data.size());
        return out;
    }

    const Rect roi = intersect(inflate(selected, grow + feather + 1), bounds_of(mask));
    const int w = roi.w, h = roi.h;
    auto m = [&](int x, int y) { return detail::row(mask, roi.y + y)[roi.x + x]; };

    // Soft pixels below the selection threshold make "nonzero" and "selected" differ; only then
    // is a second distance transform needed for the final trim.
    bool has_faint = false;
    for (int y = 0; y < h && !has_faint; ++y)
        for (int x = 0; x < w; ++x)
            if (std::uint8_t v = m(x, y); v > 0 && v < kSelectionThreshold) {
                has_faint = true;
                break;
            }

    std::vector<std::int32_t> d2;
    detail::squared_distance(w, h, [&](int x, int y) { return m(x, y) >= kSelectionThreshold; }, d2);

    const int s = feather / 2;               // blur half-support
    const int extra = feather - s;           // hard extension the blur then softens
    const std::int64_t grow2 = std::int64_t(grow) * grow;
    const std::int64_t ext2 = std::int64_t(grow + extra) * (grow + extra);
    std::vector<std::uint8_t> spread(std::size_t(w) * std::size_t(h));
    for (int y = 0; y < h; ++y) {
        std::uint8_t* o = detail::row(out, roi.y + y) + roi.x;
        const std::int32_t* d = d2.data() + std::size_t(y) * std::size_t(w);
        std::uint8_t* e = spread.data() + std::size_t(y) * std::size_t(w);
        for (int x = 0; x < w; ++x) {
            const std::uint8_t v = m(x, y);
            o[x] = d[x] <= grow2 ? 255 : v;   // grown mask: soft pixels only ever raised
            e[x] = d[x] <= ext2 ? 255 : v;    // grown a further `extra`, to be blurred
        }
    }
    if (s == 0) {  // no blur: the extension is the whole feather
        for (int y = 0; y < h; ++y)
            std::memcpy(detail::row(out, roi.y + y) + roi.x, spread.data() + std::size_t(y) * std::size_t(w),
                        std::size_t(w));
        return out;
    }
    std::vector<std::uint8_t> tmp;
    detail::triple_box_blur(spread.data(), w, h, s, tmp);

    if (has_faint)
        detail::squared_distance(w, h, [&](int x, int y) { return m(x, y) > 0; }, d2);
    const std::int64_t reach2 = std::int64_t(grow + feather) * (grow + feather);
    for (int y = 0; y < h; ++y) {
        std::uint8_t* o = detail::row(out, roi.y + y) + roi.x;
        const std::int32_t* d = d2.data() + std::size_t(y) * std::size_t(w);
        const std::uint8_t* b = spread.data() + std::size_t(y) * std::size_t(w);
        for (int x = 0; x < w; ++x)
            o[x] = d[x] > reach2 ? 0 : std::max(o[x], b[x]);  // outward only; trimmed to a disc
    }
    return out;
}

}  // namespace

int auto_feather(const Rect& mask_box) noexcept {
    if (mask_box.empty()) return 8;
    const double diagonal = std::hypot(double(mask_box.w), double(mask_box.h));
    return std::max(8, int(std::lround(0.1 * diagonal)));
}

int blend_reach(const Rect& mask_box, const MaskOptions& options) noexcept {
    const int feather = options.feather == kAutoFeather ? auto_feather(mask_box) : options.feather;
    return std::max(0, options.grow) + std::max(0, feather) + 1;
}

Pixels grow_mask(const Pixels& mask, int radius) { return shape_mask(mask, radius, 0, "grow_mask"); }

Pixels feather_mask(const Pixels& mask, int feather) {
    return shape_mask(mask, 0, feather, "feather_mask");
}

Pixels blend_alpha(const Pixels& mask, const MaskOptions& options) {
    detail::require_mask(mask, "blend_alpha", "mask");
    const int feather = options.feather == kAutoFeather ? auto_feather(mask_bounds(mask)) : options.feather;
    return shape_mask(mask, options.grow, feather, "blend_alpha");
}

namespace {

void require_marker_channels(int channels, const char* who) {
    if (channels != 1 && channels != 3)
        throw_invalid_arg(std::string(who) + ": channels must be 1 (grey) or 3 (RGB)");
}

}  // namespace

Pixels marker_mask(const Pixels& mask, std::uint8_t threshold, int channels) {
    detail::require_mask(mask, "marker_mask", "mask");
    require_marker_channels(channels, "marker_mask");
    Pixels out = detail::zeroed(mask.width, mask.height, channels);
    const std::size_t count = std::size_t(mask.width) * std::size_t(mask.height);
    const std::uint8_t* in = mask.data.data();
    std::uint8_t* o = out.data.data();
    for (std::size_t i = 0; i < count; ++i) {
        const std::uint8_t v = in[i] >= threshold ? 255 : 0;
        for (int k = 0; k < channels; ++k) *o++ = v;
    }
    return out;
}

Pixels marker_box(int width, int height, const Rect& box, int channels) {
    if (width <= 0 || height <= 0)
        throw_invalid_arg("marker_box: the image size must be positive");
    require_marker_channels(channels, "marker_box");
    Pixels out = detail::zeroed(width, height, channels);
    const Rect r = intersect(box, {0, 0, width, height});
    for (int y = r.y; y < r.bottom(); ++y)
        std::memset(detail::row(out, y) + std::size_t(r.x) * channels, 255,
                    std::size_t(r.w) * std::size_t(channels));
    return out;
}

Blob encode_marker_png(const Pixels& marker) {
    detail::require_pixels(marker, "encode_marker_png", "marker", 1, 4);
    return image::encode_png(marker);
}

}  // namespace nbcore::compose
