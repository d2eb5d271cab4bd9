// Image decoding and validation (stb_image, linked from Debian's compiled libstb), blank
// detection, encoding, resizing. Pure functions over byte buffers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "nbcore/blob.hpp"
#include "nbcore/status.hpp"

namespace nbcore::image {

// Decoded pixels, 8 bits per channel, rows packed (stride = width * channels).
struct Pixels {
    int width = 0;
    int height = 0;
    int channels = 0;        // 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA (as decoded, native count)
    Blob data;

    std::size_t stride() const noexcept { return static_cast<std::size_t>(width) * channels; }
};
using PixelsPtr = std::shared_ptr<const Pixels>;

struct Limits {
    int max_width = 16384;
    int max_height = 16384;
    std::int64_t max_pixels = 64ll << 20;       // checked from the header, before allocating
    std::size_t max_encoded_bytes = 64u << 20;
};

// How "blank" is judged. A blank image is fully transparent, or so uniform that it carries no
// picture: every colour channel's standard deviation at or below `max_stddev` and the 1st..99th
// percentile luminance spread at or below `max_luma_range`. (Alpha counts as a channel here: a
// flat colour cut into a shape by alpha is a picture.) With the defaults a subject on a plain
// background is still seen when it covers >= 1% of the frame with a luminance contrast above 12,
// or when contrast d (0..255) and share f give d * sqrt(f * (1 - f)) > 3: for black on white that
// is anything over 0.014% of the frame (a 13x13 px dot in 1024x1024).
struct BlankRules {
    double max_stddev = 3.0;
    int max_luma_range = 12;
    double transparent_alpha_fraction = 0.995;  // share of pixels with alpha == 0
};

// Statistics the blank decision used (reported so a person can see why).
struct Stats {
    double mean[4] = {0, 0, 0, 0};      // per channel of the decoded image (R,G,B,A or Y,A)
    double stddev[4] = {0, 0, 0, 0};
    int luma_p01 = 0;                   // 1st percentile of luminance (0..255)
    int luma_p99 = 0;                   // 99th percentile
    double transparent_fraction = 0;    // alpha == 0
    std::int64_t pixels = 0;
};

struct Check {
    bool ok = false;               // decodes, within limits, not blank
    bool blank = false;
    Status code = Status::OK;      // OK, BLANK_IMAGE, or BAD_RESPONSE (corrupt, truncated,
                                   // unsupported, or over a Limit) — what the engine reports
    std::string reason;            // one line: "truncated PNG: no IEND chunk", "uniform colour (mean
                                   // 12,12,13; stddev 0.4,0.4,0.5 <= 3.0; luma range 2 <= 12)";
                                   // when ok, empty or a tolerated oddity ("17 trailing bytes...")
    std::string mime;              // sniffed from magic bytes: image/png, image/jpeg, image/webp, ...
    int width = 0;
    int height = 0;
    int channels = 0;
    Stats stats;
};

// Sniff a MIME type from magic bytes; "" when unknown.
std::string_view sniff_mime(const std::uint8_t* data, std::size_t n) noexcept;

// Decode and validate. When `keep` is non-null and decoding succeeded, the decoded pixels are
// moved into *keep (so nobody decodes the same image twice). Never throws for bad data.
Check check(const std::uint8_t* data, std::size_t n, const Limits& limits = {},
            const BlankRules& rules = {}, Pixels* keep = nullptr);

// Blank statistics over already-decoded pixels.
Stats compute_stats(const Pixels& px);
bool is_blank(const Stats& s, int channels, const BlankRules& rules, std::string* why = nullptr);

// Expand any channel count to RGBA8 (no re-decode).
Pixels to_rgba(const Pixels& px);

// Encode as PNG (stbi_write_png_to_func) or JPEG (quality 1..100).
Blob encode_png(const Pixels& px);
Blob encode_jpeg(const Pixels& px, int quality = 90);

// Resample to w x h (stb_image_resize, sRGB-aware for colour channels, alpha premultiplied).
Pixels resize(const Pixels& px, int width, int height);

}  // namespace nbcore::image
