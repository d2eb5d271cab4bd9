// Mask-exact compositing, alpha-over, and the local half of the inpaint pipeline.
#include <algorithm>
#include <cstring>
#include <string>

#include "compose/compose_internal.hpp"

namespace nbcore::compose {
namespace {

std::string rect_text(const Rect& r) {
    return std::to_string(r.w) + "x" + std::to_string(r.h) + "+" + std::to_string(r.x) + "+" +
           std::to_string(r.y);
}

Pixels copy_of(const Pixels& px) {
    Pixels out = detail::zeroed(px.width, px.height, px.channels);
    std::memcpy(out.data.data(), px.data.data(), out.data.size());
    return out;
}

}  // namespace

namespace detail {

void composite(Pixels& base, View patch, const Rect& at, const Pixels& alpha, const ChannelTables* tables,
               bool opaque) {
    const int cp = patch.channels;
    const bool patch_alpha = cp == 4 && !opaque;
    for (int y = 0; y < at.h; ++y) {
        std::uint8_t* b = row(base, at.y + y) + std::size_t(at.x) * 4;
        const std::uint8_t* p = patch.row(y);
        const std::uint8_t* a = row(alpha, y);
        for (int x = 0; x < at.w; ++x, b += 4, p += cp) {
            const std::uint32_t w = a[x];
            if (w == 0) continue;  // bit-identical: not even rewritten
            std::uint8_t src[4] = {p[0], p[1], p[2], patch_alpha ? p[3] : std::uint8_t(255)};
            if (tables)
                for (int k = 0; k < 3; ++k) src[k] = (*tables)[k][src[k]];
            if (w == 255) {
                std::memcpy(b, src, 4);
                continue;
            }
            for (int k = 0; k < 4; ++k) b[k] = std::uint8_t((b[k] * (255 - w) + src[k] * w + 127) / 255);
        }
    }
}

}  // namespace detail

void composite_in_place(Pixels& base, const Pixels& patch, const Rect& at, const Pixels& alpha) {
    detail::require_pixels(base, "composite", "base", 4, 4);
    detail::require_pixels(patch, "composite", "patch", 4, 4);
    detail::require_mask(alpha, "composite", "alpha");
    if (at.empty() || !bounds_of(base).contains(at))
        throw_invalid_arg("composite: the target rect " + rect_text(at) + " must be inside the " +
                          std::to_string(base.width) + "x" + std::to_string(base.height) + " base image");
    if (patch.width != at.w || patch.height != at.h)
        throw_invalid_arg("composite: the patch (" + std::to_string(patch.width) + "x" +
                          std::to_string(patch.height) + ") must be the size of the target rect " +
                          rect_text(at) + "; resize it first");
    detail::require_same_size(patch, alpha, "composite", "patch", "alpha");
    detail::composite(base, detail::view_of(patch), at, alpha, nullptr, false);
}

Pixels composite(const Pixels& base, const Pixels& patch, const Rect& at, const Pixels& alpha) {
    detail::require_pixels(base, "composite", "base", 4, 4);
    Pixels out = copy_of(base);
    composite_in_place(out, patch, at, alpha);
    return out;
}

void alpha_over(Pixels& dst, const Pixels& src, int x, int y) {
    detail::require_pixels(dst, "alpha_over", "dst", 4, 4);
    detail::require_pixels(src, "alpha_over", "src", 4, 4);
    const Rect area = intersect({x, y, src.width, src.height}, bounds_of(dst));
    for (int yy = area.y; yy < area.bottom(); ++yy) {
        std::uint8_t* d = detail::row(dst, yy) + std::size_t(area.x) * 4;
        const std::uint8_t* s = detail::row(src, yy - y) + std::size_t(area.x - x) * 4;
        for (int xx = 0; xx < area.w; ++xx, d += 4, s += 4) {
            const std::uint32_t as = s[3];
            if (as == 0) continue;
            if (as == 255) {
                std::memcpy(d, s, 4);
                continue;
            }
            // Weights in 1/255^2 units: source as*255, what shows through of dst ad*(255-as).
            const std::uint32_t ws = as * 255, wd = std::uint32_t(d[3]) * (255 - as), wo = ws + wd;
            for (int k = 0; k < 3; ++k) d[k] = std::uint8_t((s[k] * ws + d[k] * wd + wo / 2) / wo);
            d[3] = std::uint8_t((wo + 127) / 255);
        }
    }
}

namespace {

// The patch over `changed` (crop coordinates) as RGBA: the answer's colours as composite() wrote
// them, with the blend alpha as A.
Pixels patch_layer(const detail::View& answer, const Pixels& alpha, const Rect& changed,
                   const detail::ChannelTables* tables) {
    Pixels layer;
    layer.width = changed.w;
    layer.height = changed.h;
    layer.channels = 4;
    layer.data.resize(std::size_t(changed.w) * std::size_t(changed.h) * 4);
    for (int y = 0; y < changed.h; ++y) {
        const std::uint8_t* src = answer.row(changed.y + y) + std::size_t(changed.x) * std::size_t(answer.channels);
        const std::uint8_t* a = alpha.data.data() + std::size_t(changed.y + y) * alpha.stride() + std::size_t(changed.x);
        std::uint8_t* dst = layer.data.data() + std::size_t(y) * layer.stride();
        for (int x = 0; x < changed.w; ++x, src += answer.channels, dst += 4) {
            for (int c = 0; c < 3; ++c) dst[c] = tables ? (*tables)[c][src[c]] : src[c];
            dst[3] = a[x];
        }
    }
    return layer;
}

}  // namespace

InpaintBlend blend_inpaint(Pixels& image, const Pixels& mask, const Rect& crop_rect, const Pixels& patch,
                           const InpaintBlendOptions& options) {
    detail::require_pixels(image, "blend_inpaint", "image", 4, 4);
    detail::require_mask(mask, "blend_inpaint", "mask");
    detail::require_pixels(patch, "blend_inpaint", "patch", 3, 4);
    detail::require_same_size(image, mask, "blend_inpaint", "image", "mask");
    if (crop_rect.empty() || !bounds_of(image).contains(crop_rect))
        throw_invalid_arg("blend_inpaint: the crop " + rect_text(crop_rect) + " must be inside the " +
                          std::to_string(image.width) + "x" + std::to_string(image.height) + " image");
    if (patch.width != crop_rect.w || patch.height != crop_rect.h)
        throw_invalid_arg("blend_inpaint: the patch (" + std::to_string(patch.width) + "x" +
                          std::to_string(patch.height) + ") must be the crop's size " +
                          rect_text(crop_rect) + "; resize the model's answer with image::resize first");
    const Rect selected = mask_bounds(mask);
    if (selected.empty())
        throw_invalid_arg("blend_inpaint: the mask is empty (every pixel is 0), so nothing would "
                          "change; select or paint the region to change first");
    if (!crop_rect.contains(selected))
        throw_invalid_arg("blend_inpaint: the mask selects pixels outside the crop " +
                          rect_text(crop_rect) + " (selection bounds " + rect_text(selected) +
                          "); plan the crop from mask_bounds(mask) with plan_inpaint_crop");

    InpaintBlend result;
    const Pixels local_mask = crop(mask, crop_rect);
    result.grow = options.mask.grow;
    result.feather = options.mask.feather == kAutoFeather ? auto_feather(selected) : options.mask.feather;
    const Pixels alpha = blend_alpha(local_mask, MaskOptions{result.grow, result.feather});

    // Colour match and the patch's opacity are folded into the composite pass: the original and
    // the patch are read in place, never copied (these are tens of MB at 4K). The answer is opaque
    // whatever its alpha says: inpainting fills.
    const detail::View original = detail::view_of(image, crop_rect), answer = detail::view_of(patch);
    detail::ChannelTables tables;
    if (options.colour_match) {
        result.colour = detail::estimate_colour_match(original, answer, alpha, options.colour);
        detail::colour_tables(result.colour, tables);
    } else {
        result.colour.reason = "off";
    }
    detail::composite(image, answer, crop_rect, alpha, result.colour.applied ? &tables : nullptr, true);
    Rect changed = mask_bounds(alpha);
    result.changed = {changed.x + crop_rect.x, changed.y + crop_rect.y, changed.w, changed.h};
    if (options.keep_layer && !changed.empty()) result.layer = patch_layer(answer, alpha, changed,
                                                                      result.colour.applied ? &tables : nullptr);
    return result;
}

}  // namespace nbcore::compose
