// The inpaint crop: mask box + context padding, minimum side, then a supported aspect ratio.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>

#include "compose/compose_internal.hpp"

namespace nbcore::compose {
namespace {

// A 1-D span [start, start + len) on one axis of the crop.
struct Span {
    int start;
    int len;
};

// Grows `s` to `target` (no-op when already that long), centred, then shifted to stay in
// [0, limit). `target` must not exceed `limit`.
Span grow_to(Span s, int target, int limit) {
    if (s.len >= target) return s;
    int start = s.start - (target - s.len) / 2;
    start = std::clamp(start, 0, limit - target);
    return {start, target};
}

// Shrinks `s` to `target` around the centre of `keep`, never cutting into `keep` and staying in
// `s`. keep.len <= target <= s.len and keep lies inside s.
Span shrink_to(Span s, int target, Span keep) {
    int start = keep.start + keep.len / 2 - target / 2;
    start = std::clamp(start, s.start, s.start + s.len - target);
    start = std::clamp(start, keep.start + keep.len - target, keep.start);
    return {start, target};
}

Rect from_spans(Span x, Span y) { return {x.start, y.start, x.len, y.len}; }

// w:h equals the ratio up to rounding one side to whole pixels.
bool exact_ratio(int w, int h, const AspectRatio& r) {
    return std::llabs(std::int64_t(w) * r.h - std::int64_t(h) * r.w) * 2 <= std::max(r.w, r.h);
}

// Fits `crop` to `ratio`: the short side grows first; when the image is too small for that, the
// long side shrinks instead (never into `keep`).
Rect fit_ratio(Rect crop, const AspectRatio& ratio, int width, int height, const Rect& keep) {
    Span x{crop.x, crop.w}, y{crop.y, crop.h};
    const Span kx{keep.x, keep.w}, ky{keep.y, keep.h};
    const std::int64_t lhs = std::int64_t(crop.w) * ratio.h, rhs = std::int64_t(crop.h) * ratio.w;
    if (lhs < rhs) {  // too narrow
        int want_w = int(std::lround(double(crop.h) * ratio.w / ratio.h));
        if (want_w <= width) {
            x = grow_to(x, want_w, width);
        } else {
            x = grow_to(x, width, width);
            int want_h = int(std::lround(double(width) * ratio.h / ratio.w));
            y = shrink_to(y, std::clamp(want_h, ky.len, y.len), ky);
        }
    } else if (lhs > rhs) {  // too wide
        int want_h = int(std::lround(double(crop.w) * ratio.h / ratio.w));
        if (want_h <= height) {
            y = grow_to(y, want_h, height);
        } else {
            y = grow_to(y, height, height);
            int want_w = int(std::lround(double(height) * ratio.w / ratio.h));
            x = shrink_to(x, std::clamp(want_w, kx.len, x.len), kx);
        }
    }
    return from_spans(x, y);
}

}  // namespace

CropPlan plan_inpaint_crop(int width, int height, const Rect& mask_box, const CropOptions& options) {
    const Rect image{0, 0, width, height};
    if (width <= 0 || height <= 0)
        throw_invalid_arg("plan_inpaint_crop: the image size must be positive (got " +
                          std::to_string(width) + "x" + std::to_string(height) + ")");
    if (mask_box.empty())
        throw_invalid_arg("plan_inpaint_crop: the mask box is empty (the mask selects nothing); "
                          "select or paint the region to change, then pass mask_bounds(mask)");
    if (!image.contains(mask_box))
        throw_invalid_arg("plan_inpaint_crop: the mask box must lie inside the " +
                          std::to_string(width) + "x" + std::to_string(height) + " image");
    if (options.context_px < 0 || options.min_side < 0 || options.keep_margin < 0)
        throw_invalid_arg("plan_inpaint_crop: context_px, min_side and keep_margin must not be negative");

    const Rect keep = intersect(inflate(mask_box, options.keep_margin), image);
    CropPlan plan;
    int pad = 0;
    switch (options.context) {
        case ContextMode::Auto: {
            const double longest = std::max(width, height);
            const double mean_side = (mask_box.w + mask_box.h) / 2.0;
            pad = int(std::ceil(std::max(longest / 16.0, mean_side / 2.0)));
            break;
        }
        case ContextMode::Pixels: pad = options.context_px; break;
        case ContextMode::WholeImage: pad = 0; break;
    }
    pad = std::max(pad, options.keep_margin);
    plan.padding = pad;

    Rect crop = options.context == ContextMode::WholeImage ? image
                                                           : intersect(inflate(mask_box, pad), image);
    if (options.context == ContextMode::Auto) {
        Span x = grow_to({crop.x, crop.w}, std::min(options.min_side, width), width);
        Span y = grow_to({crop.y, crop.h}, std::min(options.min_side, height), height);
        crop = from_spans(x, y);
    }

    const AspectRatio wanted = snap_aspect(crop.w, crop.h);
    crop = fit_ratio(crop, wanted, width, height, keep);
    plan.crop = crop;
    plan.aspect = wanted;
    plan.exact = exact_ratio(crop.w, crop.h, wanted);
    if (!plan.exact) {
        // The image edges (and the mask) forced a compromise: ask for the ratio nearest to what
        // the crop really is, and say how far off it still is.
        plan.aspect = snap_aspect(crop.w, crop.h);
        plan.exact = exact_ratio(crop.w, crop.h, plan.aspect);
    }
    plan.residual = aspect_residual(crop.w, crop.h, plan.aspect);
    return plan;
}

}  // namespace nbcore::compose
