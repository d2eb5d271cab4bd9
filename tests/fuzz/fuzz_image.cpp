// image::check on any bytes: the magic-byte sniff, the container walks (PNG chunks and CRCs, JPEG
// segments, GIF, BMP), the header limits, stb_image's decode and the blank statistics.
//
// Properties:
//   - never crashes, leaks, throws or hits UB (stb_image itself is Debian's uninstrumented libstb:
//     a wild read there shows as SEGV, not as an ASan report);
//   - the verdict is coherent: ok <=> code OK; blank <=> BLANK_IMAGE; otherwise BAD_RESPONSE;
//     decoded pixels have exactly width * height * channels bytes, within the limits;
//   - the fast and portable CRC-32 and statistics kernels agree on what they are given;
//   - a decoded image re-encoded as PNG (lossless) gets the same verdict and size.
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "fuzz_support.hpp"
#include "image/image_internal.hpp"
#include "nbcore/image.hpp"

namespace {

namespace image = nbcore::image;
using nbcore::Status;

// Small limits keep one execution in milliseconds (a 64 Mpixel header would make stb allocate
// 256 MB); the code paths are the same as with the defaults.
image::Limits fuzz_limits() {
    image::Limits l;
    l.max_width = 4096;
    l.max_height = 4096;
    l.max_pixels = 4 << 20;
    return l;
}

// Re-encoding costs more than checking; only small decodes get the round trip.
constexpr std::int64_t kRoundTripMaxPixels = 64 * 1024;

void check_verdict(const image::Check& c, const image::Pixels& px, const image::Limits& limits) {
    nbfuzz::require(c.ok == (c.code == Status::OK), "Check::ok disagrees with Check::code");
    nbfuzz::require(c.blank == (c.code == Status::BLANK_IMAGE), "Check::blank disagrees with Check::code");
    nbfuzz::require(c.ok || c.code == Status::BLANK_IMAGE || c.code == Status::BAD_RESPONSE,
                    "a failed check reports a code other than BLANK_IMAGE or BAD_RESPONSE");
    nbfuzz::require(c.ok || !c.reason.empty(), "a failed check gives no reason");
    if (!c.ok && !c.blank) return;
    nbfuzz::require(c.width > 0 && c.height > 0 && c.width <= limits.max_width && c.height <= limits.max_height &&
                        std::int64_t(c.width) * c.height <= limits.max_pixels,
                    "a decoded image is outside the limits");
    nbfuzz::require(px.width == c.width && px.height == c.height && px.channels == c.channels,
                    "the kept pixels disagree with the verdict's size");
    nbfuzz::require(c.channels >= 1 && c.channels <= 4, "decoded pixels with an impossible channel count");
    nbfuzz::require(px.data.size() == px.stride() * std::size_t(px.height), "the kept pixels have the wrong length");
}

bool close(double a, double b, double tolerance) { return std::fabs(a - b) <= tolerance * (1 + std::fabs(a)); }

void check_kernels_agree(const std::uint8_t* data, std::size_t n, const image::Pixels& px) {
    namespace detail = image::detail;
    nbfuzz::require(detail::crc32(data, n) == detail::crc32_portable(data, n), "CRC-32: fast and portable differ");
    if (px.data.empty()) return;
    std::size_t count = std::size_t(px.width) * std::size_t(px.height);
    auto best = detail::scan_pixels(px.data.data(), count, px.channels, nullptr, detail::Kernel::best);
    auto portable = detail::scan_pixels(px.data.data(), count, px.channels, nullptr, detail::Kernel::portable);
    bool same = best.pixels == portable.pixels && best.luma_p01 == portable.luma_p01 &&
                best.luma_p99 == portable.luma_p99 &&
                close(best.transparent_fraction, portable.transparent_fraction, 1e-12);
    for (int ch = 0; ch < px.channels; ++ch)
        same = same && close(best.mean[ch], portable.mean[ch], 1e-9) && close(best.stddev[ch], portable.stddev[ch], 1e-6);
    nbfuzz::require(same, "statistics: fast and portable kernels differ");
}

void check_png_round_trip(const image::Check& first, const image::Pixels& px, const image::Limits& limits) {
    if (px.data.empty() || std::int64_t(px.width) * px.height > kRoundTripMaxPixels) return;
    nbcore::Blob png = image::encode_png(px);
    image::Check again = image::check(png.data(), png.size(), limits);
    nbfuzz::require(again.code == first.code && again.width == first.width && again.height == first.height &&
                        again.channels == first.channels,
                    "a decoded image re-encoded as PNG gets another verdict");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const image::Limits limits = fuzz_limits();
    image::Pixels px;
    image::Check c = image::check(data, size, limits, image::BlankRules{}, &px);
    nbfuzz::require(c.mime == image::sniff_mime(data, size), "Check::mime is not the sniffed type");
    check_verdict(c, px, limits);
    check_kernels_agree(data, size, px);
    check_png_round_trip(c, px, limits);
    return 0;
}
