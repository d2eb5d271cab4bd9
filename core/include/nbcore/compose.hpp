// The pixel and geometry layer under staged scenes and inpainting: rectangles and normalized
// boxes, aspect-ratio snapping, the inpaint crop, mask grow/feather, colour matching, mask-exact
// compositing, chroma-key cutouts and their placement, and the marker mask sent to the model.
// Pure functions over image::Pixels; no networking, no global state.
//
// Conventions used throughout:
//  * A "mask" is an image::Pixels with channels == 1: 0 = not selected, 255 = fully selected,
//    values in between = partly selected (a soft selection). "Selected" for geometry (bounds)
//    means nonzero.
//  * Colour images are RGBA8 (channels == 4) unless a function says it also takes RGB.
//  * Rect coordinates are pixels, x to the right, y down, half-open: [x, x+w) x [y, y+h).
//  * Data problems are reported in return values; impossible arguments (mismatched sizes, an empty
//    mask where one is needed, a rect outside its image) throw nbcore::Error with INVALID_ARG and a
//    message that says what to do.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nbcore/image.hpp"

namespace nbcore::compose {

using image::Pixels;

// ---------------------------------------------------------------------------------------------
// Geometry
// ---------------------------------------------------------------------------------------------

// An integer pixel rectangle, half-open. Empty when w <= 0 or h <= 0.
struct Rect {
    int x = 0;
    int y = 0;
    int w = 0;
    int h = 0;

    bool empty() const noexcept { return w <= 0 || h <= 0; }
    int right() const noexcept { return x + w; }    // one past the last column
    int bottom() const noexcept { return y + h; }   // one past the last row
    bool contains(int px, int py) const noexcept {
        return px >= x && py >= y && px < x + w && py < y + h;
    }
    // True when `r` lies completely inside (an empty `r` is inside anything non-empty).
    bool contains(const Rect& r) const noexcept {
        return r.empty() ? !empty()
                         : r.x >= x && r.y >= y && r.right() <= right() && r.bottom() <= bottom();
    }
    friend bool operator==(const Rect&, const Rect&) = default;
};

// Overlap of two rects; an empty Rect {0,0,0,0} when they do not overlap.
Rect intersect(const Rect& a, const Rect& b) noexcept;
// Smallest rect holding both (an empty operand is ignored).
Rect unite(const Rect& a, const Rect& b) noexcept;
// `r` grown by `by` pixels on every side (shrunk when negative; never below zero size).
Rect inflate(const Rect& r, int by) noexcept;
// The whole image as a Rect.
inline Rect bounds_of(const Pixels& px) noexcept { return {0, 0, px.width, px.height}; }

// A box in normalized image coordinates: x, y, w, h as fractions of the image's width and height
// (0..1; the origin is the top-left corner).
struct BoxF {
    double x = 0;
    double y = 0;
    double w = 1;
    double h = 1;
};

// Pixels of `box` in a width x height image. Each edge is rounded on its own to the nearest pixel
// boundary (halves round up): left = round(x*W), right = round((x+w)*W), likewise for y, so boxes
// that share an edge in normalized space share it in pixels (no gaps, no overlaps). Edges are
// clamped to the image, and a box with positive size is never less than 1 px wide or high.
// Throws INVALID_ARG for a non-positive image size, a non-finite field or a negative w or h.
Rect to_pixels(const BoxF& box, int width, int height);
// The inverse: the rect as fractions of a width x height image (exact, no rounding).
BoxF to_normalized(const Rect& r, int width, int height);

// Bounding box of the pixels whose value is above `threshold` (default: every nonzero pixel) in a
// mask (channels == 1; for other channel counts the last channel, e.g. alpha, is read). An empty
// Rect when there is none.
Rect mask_bounds(const Pixels& mask, std::uint8_t threshold = 0);

// One of the aspect ratios the Gemini image models accept (nbcore::kAspectRatios).
struct AspectRatio {
    std::string_view name;   // "16:9"
    int w = 1;               // 16
    int h = 1;               // 9
    double value() const noexcept { return double(w) / double(h); }
};

// The supported ratios, parsed from nbcore::kAspectRatios, in the order the docs list them.
std::span<const AspectRatio> supported_aspect_ratios() noexcept;

// The supported ratio nearest to width:height by log-ratio distance |ln(width/height) - ln(w/h)|
// (so 2:1 and 1:2 are equally far from 1:1). Ties go to the ratio listed first. Throws
// INVALID_ARG when width or height is not positive.
AspectRatio snap_aspect(int width, int height);
// ln(width/height) - ln(ratio): the signed log residual; 0 for a perfect match, positive when
// width:height is wider than the ratio.
double aspect_residual(int width, int height, const AspectRatio& ratio) noexcept;

// The largest w x h rect with w:h == width:height (rounded) that fits in `box`, centred in it
// (any odd leftover pixel goes right / down). Used to place a cut-out element into its box without
// distorting it. Width and height of the result are at least 1. Throws INVALID_ARG when `box` is
// empty or width/height are not positive.
Rect fit_into(const Rect& box, int width, int height);

// A copy of the pixels of `px` inside `r` (any channel count). Throws INVALID_ARG when `r` is
// empty or not inside the image.
Pixels crop(const Pixels& px, const Rect& r);

// ---------------------------------------------------------------------------------------------
// Inpaint crop: which part of the image the model sees
// ---------------------------------------------------------------------------------------------

enum class ContextMode {
    Auto,        // padding = max(longest image side / 16, half the mask box's mean side), crop sides
                 // at least `min_side` where the image allows (Krita AI Diffusion's rule)
    Pixels,      // padding = exactly `context_px` on each side (no minimum side): predictable
    WholeImage,  // start from the whole image
};

struct CropOptions {
    ContextMode context = ContextMode::Auto;
    int context_px = 0;     // padding for ContextMode::Pixels
    int min_side = 512;     // ContextMode::Auto: each crop side grows to at least this (or the
                            // image side); the aspect fit may then shrink a side only when the
                            // other already spans the image
    // Pixels around the mask box that must stay inside the crop and are never cut by the aspect
    // fit. Pass grow + feather + 1 (see blend_reach) so the feathered alpha is never cut off by the
    // crop edge (a cut feather is a seam). Also a lower bound on the padding.
    int keep_margin = 0;
};

struct CropPlan {
    Rect crop;                  // inside the image, contains the mask box (and its keep margin)
    AspectRatio aspect;         // the ratio to request; the crop's own ratio when exact
    bool exact = true;          // crop w:h equals `aspect` up to rounding to whole pixels
    double residual = 0;        // aspect_residual(crop.w, crop.h, aspect): the distortion the
                                // model's answer will be resized by (rounding only when exact;
                                // larger only when the image edges force it)
    int padding = 0;            // the context padding that was applied before clamping and fitting
};

// Plans the crop sent to the model for an inpaint of `mask_box` in a width x height image:
//  1. padding (see ContextMode; never less than keep_margin); crop = mask box + padding on every
//     side, clamped to the image; in Auto mode each side is then grown to min_side (centred, and
//     shifted to stay inside the image) where the image is large enough.
//  2. Aspect fit: the nearest supported ratio to the crop (snap_aspect). The short side grows to
//     match (centred on the crop, shifted to stay inside the image); only when the image is too
//     small for that does the long side shrink instead, centred on the mask box and never cutting
//     into the mask box grown by keep_margin. If even that cannot reach the ratio, the crop keeps
//     its best size, `exact` is false, `aspect` is the nearest ratio to what was achieved and
//     `residual` says how far off it is. WholeImage mode goes through the same fit (it may shrink
//     the image's long side to reach an exact ratio, never into the mask box).
// Throws INVALID_ARG when the image size is not positive or `mask_box` is empty or not inside it.
CropPlan plan_inpaint_crop(int width, int height, const Rect& mask_box, const CropOptions& options = {});

// ---------------------------------------------------------------------------------------------
// Mask processing: grow, feather, the composite alpha
// ---------------------------------------------------------------------------------------------

// Feather width used when MaskOptions::feather is kAutoFeather: max(8, round(10% of the mask box's
// diagonal)) — Krita AI Diffusion's default with a smaller floor.
inline constexpr int kAutoFeather = -1;
int auto_feather(const Rect& mask_box) noexcept;

struct MaskOptions {
    int grow = 4;                 // px, >= 0
    int feather = kAutoFeather;   // px, >= 0, or kAutoFeather
    // grow 0, feather 0: the composite alpha is the mask itself ("generate into the selection",
    // e.g. comic panels, where any transition band would be wrong).
    static MaskOptions exact_selection() noexcept { return MaskOptions{0, 0}; }
};

// Pixels at which the selection counts as "inside" for growing: at or above half coverage, the line
// where GIMP and Krita draw the selection's marching ants.
inline constexpr std::uint8_t kSelectionThreshold = 128;

// Grow and feather read a soft mask as a selection with an inside and a fringe: pixels at or
// above kSelectionThreshold are inside (and come out 255); fainter pixels keep their value unless
// the grown or feathered inside covers them (values are only ever raised). So a hard mask is
// processed exactly, and a soft selection's half-selected line is where growth starts; its own
// feathering is replaced by the outward feather below. Only MaskOptions::exact_selection() keeps
// every soft value as it is.

// Grows a mask by a disc of radius `radius` px (exact Euclidean distance, computed with the
// Felzenszwalb-Huttenlocher distance transform, O(pixels) whatever the radius):
//   out(p) = 255 where p is within `radius` of a pixel >= kSelectionThreshold, else mask(p).
Pixels grow_mask(const Pixels& mask, int radius);

// Feathers a mask outward only: full selection stays 255 (Krita keeps the selection opaque inside
// and blurs only outside it). The transition runs from 255 at the mask's edge to 0 at `feather`
// px beyond it:
//   E = 255 where within (feather - s) of a pixel >= kSelectionThreshold, else mask   (s = feather/2)
//   B = E blurred by three box blurs in x and then y with radii summing to s (a separable,
//       Gaussian-like kernel with support exactly [-s, s] per axis; running sums, O(1) per pixel
//       per pass whatever the radius); the image edge is extended (replicated), not darkened
//   out = max(mask, B), then 0 wherever the pixel is farther than `feather` (Euclidean) from every
//       nonzero mask pixel (this trims the blur's square support to a disc)
Pixels feather_mask(const Pixels& mask, int feather);

// The alpha used to composite a patch through `mask`: grow then feather in one pass (two distance
// transforms at most, over the mask's bounds plus the reach only). Guarantees:
//   * alpha == 255 wherever mask == 255;
//   * alpha == 0 wherever the pixel is farther than grow + feather from every nonzero mask pixel;
//   * with MaskOptions::exact_selection(), alpha == mask.
// kAutoFeather is resolved with auto_feather(mask_bounds(mask)). Throws INVALID_ARG for an empty
// mask (nothing is selected: paint the region to change) or negative grow / feather.
Pixels blend_alpha(const Pixels& mask, const MaskOptions& options = {});

// How far (px) the blend alpha of a mask with bounds `mask_box` can reach beyond it:
// grow + feather + 1 (the +1 covers rounding). Pass it as CropOptions::keep_margin.
int blend_reach(const Rect& mask_box, const MaskOptions& options = {}) noexcept;

// ---------------------------------------------------------------------------------------------
// Colour match: undo the model's colour shift before compositing
// ---------------------------------------------------------------------------------------------

struct ColourMatchOptions {
    int ring_width = 16;        // px of context just outside the alpha (> 0) region to compare
    int min_ring_pixels = 256;  // fewer than this: too little evidence, skip
    double min_gain = 0.5;
    double max_gain = 2.0;
    double max_offset = 64;     // |offset| in 8-bit levels
    double min_stddev = 4.0;    // below this spread (either image) a gain is noise: offset only
};

// A per-channel affine correction: corrected = gain * value + offset (R, G, B; alpha untouched).
struct ColourMatch {
    bool applied = false;       // false: identity (gain 1, offset 0) and `reason` says why
    std::string reason;         // why it was skipped, or a one-line summary when applied
    std::array<double, 3> gain{1, 1, 1};
    std::array<double, 3> offset{0, 0, 0};
    int ring_pixels = 0;
};

// Estimates the model's colour shift from the ring of pixels where alpha == 0 but within
// ring_width of a pixel with alpha > 0. The model was told to change nothing there, so any
// difference between `original` and `patch` in the ring is its shift. Per channel: gain =
// std(original) / std(patch), offset = mean(original) - gain * mean(patch) over the ring (means
// and spreads matched); the gain is clamped to [min_gain, max_gain] (1 when either spread is under
// min_stddev), the offset to +-max_offset. Skipped (identity, with a reason) when the ring has
// fewer than min_ring_pixels pixels. `original` and `patch` are the same size, RGB or RGBA;
// `alpha` is a mask of that size. Throws INVALID_ARG on mismatched sizes.
ColourMatch estimate_colour_match(const Pixels& original, const Pixels& patch, const Pixels& alpha,
                                  const ColourMatchOptions& options = {});

// Applies `m` to the R, G, B channels of `px` in place (rounded, clamped to 0..255).
void apply_colour_match(Pixels& px, const ColourMatch& m);

// ---------------------------------------------------------------------------------------------
// Composite
// ---------------------------------------------------------------------------------------------

// Blends `patch` (RGBA8, at.w x at.h) into `base` (RGBA8) at `at` through `alpha` (a mask of
// at.w x at.h), in place. Per channel, all four including alpha, in sRGB integers:
//   out = (base * (255 - a) + patch * a + 127) / 255      (integer division: rounded)
// so a == 0 leaves the base pixel bit-identical, a == 255 gives the patch pixel exactly, and
// pixels outside `at` are not touched. sRGB (not linear) blending is what GIMP's default and
// Krita's compositing do for 8-bit layers, and it is exact and predictable. Throws INVALID_ARG
// when `at` is not inside `base` or the sizes or channel counts do not match.
void composite_in_place(Pixels& base, const Pixels& patch, const Rect& at, const Pixels& alpha);
// The same, into a copy of `base`.
Pixels composite(const Pixels& base, const Pixels& patch, const Rect& at, const Pixels& alpha);

// Porter-Duff "over" with straight (not premultiplied) alpha: draws `src` (RGBA8) onto `dst`
// (RGBA8) with src's top-left at (x, y); parts outside dst are clipped. Where src alpha is 0 the
// dst pixel is bit-identical; where it is 255 the src pixel is copied; onto an opaque dst this is
// out = (src * a + dst * (255 - a) + 127) / 255.
void alpha_over(Pixels& dst, const Pixels& src, int x, int y);

struct InpaintBlendOptions {
    MaskOptions mask;
    bool colour_match = true;
    ColourMatchOptions colour;
    // Also return the patch as a layer (InpaintBlend::layer), for editors that keep the change
    // on a layer of its own with the blend alpha as its mask.
    bool keep_layer = false;
};

struct InpaintBlend {
    Rect changed;             // image coordinates, inside the crop: where alpha > 0; nothing
                              // outside it changed
    int grow = 0;             // the grow and feather actually used (auto resolved)
    int feather = 0;
    ColourMatch colour;       // what colour matching did (applied == false when off or skipped)
    // With keep_layer: RGBA8 over `changed`. RGB is the answer as composited (resized, colour
    // matched), A the blend alpha. Laid "over" the original image at changed.x, changed.y it
    // gives exactly the composited image; empty otherwise.
    Pixels layer;
};

// The inpaint pipeline's local half, once the model's answer is back: `image` (RGBA8) is changed in
// place through the mask only. `mask` is the selection over the whole image (width x height of
// `image`), `crop` the rect the model saw (CropPlan::crop) and `patch` the model's answer already
// resized to crop.w x crop.h (RGB or RGBA; its alpha is ignored: the answer is opaque). Steps:
// blend_alpha on the crop's part of the mask, optional colour match on the ring, composite.
// Pixels where the blend alpha is 0 — including everything outside `crop` and everything farther
// than grow + feather from the selection — stay bit-identical. Throws INVALID_ARG when sizes do not
// match, the crop is not inside the image, or the mask is empty inside the crop.
InpaintBlend blend_inpaint(Pixels& image, const Pixels& mask, const Rect& crop, const Pixels& patch,
                           const InpaintBlendOptions& options = {});

// ---------------------------------------------------------------------------------------------
// Marker mask: what the model is shown
// ---------------------------------------------------------------------------------------------

// The mask image sent with an inpaint request: the same size as `mask`, white (255) where the
// change goes (mask >= threshold), black elsewhere. `channels` 1 (grey) or 3 (RGB; the default,
// since a plain RGB image is what the model is most used to seeing).
Pixels marker_mask(const Pixels& mask, std::uint8_t threshold = kSelectionThreshold, int channels = 3);
// The same for a box: white inside `box` (clipped to the image), black elsewhere.
Pixels marker_box(int width, int height, const Rect& box, int channels = 3);
// PNG bytes of a marker image (image::encode_png).
Blob encode_marker_png(const Pixels& marker);

// ---------------------------------------------------------------------------------------------
// Cutout: an element generated alone on a flat key colour, made transparent
// ---------------------------------------------------------------------------------------------

struct Rgb {
    std::uint8_t r = 0;
    std::uint8_t g = 0;
    std::uint8_t b = 0;
    friend bool operator==(const Rgb&, const Rgb&) = default;
};

inline constexpr Rgb kKeyGreen{0, 255, 0};
inline constexpr Rgb kKeyMagenta{255, 0, 255};
inline constexpr Rgb kKeyBlue{0, 0, 255};
inline constexpr Rgb kDefaultKey = kKeyGreen;
// The keys choose_key_colour picks from, in order of preference (green keys cleanest: models
// render it flattest, and it is far from skin tones).
inline constexpr std::array<Rgb, 3> kKeyCandidates = {kKeyGreen, kKeyMagenta, kKeyBlue};

// "#00FF00".
std::string to_hex(const Rgb& c);

// Distance between two colours' chroma in YCbCr (BT.601, 0..255 scale), with luminance counted at
// a quarter weight: shading of the key (a darker or brighter green) stays close to the key, while
// any other hue is far. Pure green to pure magenta is about 270; to white about 140.
double chroma_distance(const Rgb& a, const Rgb& b) noexcept;

struct KeyChoice {
    Rgb key = kDefaultKey;
    std::vector<double> presence;   // per candidate: share of reference pixels near its chroma
};

// Picks the candidate key colour least present in `reference` (RGB or RGBA, e.g. the background the
// element will be placed on, whose colours the element is likely to pick up): for each candidate the
// share of (sampled) reference pixels within `near` chroma distance of it; the smallest share wins,
// ties (within 0.5%) going to the earlier candidate. Throws INVALID_ARG for an empty candidate list.
KeyChoice choose_key_colour(const Pixels& reference, std::span<const Rgb> candidates = kKeyCandidates,
                            double near = 64);

struct CutoutOptions {
    Rgb key = kDefaultKey;       // the key colour the model was asked for
    double inner = 24;           // chroma distance at or below which a pixel is key (alpha 0) ...
    double outer = 64;           // ... and at or above which it is subject (alpha 255); linear ramp
                                 // between. Both widen to the key's measured noise (see Cutout).
    int border = 0;              // width of the frame sampled for the key; 0 = max(2, min side / 64)
    bool despill = true;         // remove the key's cast from soft and edge pixels
    int despill_band = 2;        // px around any alpha < 255 pixel that also get despilled
    bool smooth_edges = true;    // a 1 px (3x3 binomial) smoothing of the alpha
    double max_key_drift = 100;  // estimated key farther than this from `key`: not plausible
    double min_border_key_share = 0.6;   // border share that must look like key to be plausible
};

struct CutoutReport {
    Rgb key;                     // the key colour actually found (median of the border frame)
    double key_drift = 0;        // chroma_distance(key, options.key)
    double border_key_share = 0; // share of border pixels within `inner` of the found key
    double noise = 0;            // 95th percentile chroma distance of border key pixels to the key
    double inner = 0;            // thresholds actually used
    double outer = 0;
    bool plausible = true;       // false: the answer does not look like an element on a flat key
    std::string problem;         // why not plausible (for a retry decision and the user)
};

struct Cutout {
    Pixels rgba;                 // RGBA8, same size as the input
    CutoutReport report;
};

// Makes the key background of `image` (RGB or RGBA) transparent:
//  1. the key is estimated as the per-channel median of the border frame (models never hit the
//     exact colour asked for); the thresholds widen so inner >= 1.25 x the key's noise (95th
//     percentile distance of border pixels to it) and outer >= inner + 24;
//  2. alpha = linear ramp of chroma_distance(pixel, key) from inner (0) to outer (255), times the
//     input alpha when there is one;
//  3. soft edges: alpha smoothed by a 3x3 binomial kernel (1 px);
//  4. despill: on visible pixels with alpha < 255 or within despill_band px of one, the component
//     of the pixel's chroma (Cb, Cr) pointing toward the key's chroma is removed, luminance kept
//     (after the smoothing, so the pixels it makes faintly visible are cleaned too).
// Never throws for odd content: an image that is not an element on a flat key gives a report with
// plausible == false. Throws INVALID_ARG for empty pixels or fewer than 3 channels.
Cutout cut_out(const Pixels& image, const CutoutOptions& options = {});

// Bounding box of pixels whose alpha is above `threshold` (an RGBA image); empty when none.
Rect alpha_bounds(const Pixels& rgba, std::uint8_t threshold = 16);

// Places a cut-out element into `box` of `canvas` (both RGBA8): the element's subject bounds
// (alpha_bounds with `threshold`) are cropped, resized with image::resize (premultiplied alpha, so
// no key-coloured fringe is filtered in) to fit_into(box, subject size) — aspect kept, centred —
// and drawn with alpha_over. `box` may reach outside the canvas (clipped). Returns the rect the
// subject was resized into (canvas coordinates). Throws INVALID_ARG when the element has no pixel
// above `threshold` (nothing was cut out: check CutoutReport) or `box` is empty.
Rect place_element(Pixels& canvas, const Pixels& element, const Rect& box, std::uint8_t threshold = 16);

}  // namespace nbcore::compose
