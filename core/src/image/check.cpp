// image::check: is this reply really an image? Sniff, look at the container, check the size from
// the header, decode once, and judge blankness — each failure a typed verdict with one line of
// reason. Order matters: everything that can be decided without allocating pixels is decided
// first, so a hostile header costs microseconds, not gigabytes.
#include <algorithm>
#include <climits>
#include <cstring>
#include <memory>
#include <new>

#include <stb_image.h>

#if defined(__linux__)
#endif

#include "image/image_internal.hpp"

namespace nbcore::image {
namespace {

using detail::text;

Check& fail(Check& c, Status code, std::string reason) {
    c.ok = false;
    c.code = code;
    c.reason = std::move(reason);
    return c;
}

// stb_image's buffer, released by stbi_image_free whatever happens.
struct StbFree {
    void operator()(stbi_uc* p) const noexcept { stbi_image_free(p); }
};
using StbPixels = std::unique_ptr<stbi_uc, StbFree>;

std::string pixel_limit_text(std::int64_t max_pixels) {
    constexpr std::int64_t kMega = std::int64_t(1) << 20;
    if (max_pixels >= kMega && max_pixels % kMega == 0)
        return text("%lld Mpixel", static_cast<long long>(max_pixels / kMega));
    return text("%lld-pixel", static_cast<long long>(max_pixels));
}

// The size limits, checked on header values before any pixel buffer exists. "" when within.
std::string over_limits(std::int64_t w, std::int64_t h, const Limits& limits) {
    auto size = [&] { return text("image %lldx%lld", static_cast<long long>(w), static_cast<long long>(h)); };
    if (w > 0 && h > 0 && w > limits.max_pixels / h)
        return size() + " exceeds the " + pixel_limit_text(limits.max_pixels) + " limit";
    if (w > limits.max_width)
        return size() + text(" exceeds the %d-pixel width limit", limits.max_width);
    if (h > limits.max_height)
        return size() + text(" exceeds the %d-pixel height limit", limits.max_height);
    return {};
}

// Bytes that are not an image are often an error page or JSON that went the wrong way.
std::string unknown_format_text(const std::uint8_t* data, std::size_t n) {
    std::string hex;
    for (std::size_t i = 0; i < n && i < 8; ++i) hex += text(i ? " %02x" : "%02x", data[i]);
    std::size_t skip = 0;
    while (skip < n && skip < 64 && (data[skip] == ' ' || data[skip] == '\n' ||
                                     data[skip] == '\r' || data[skip] == '\t'))
        ++skip;
    const char* looks = "";
    if (skip < n && data[skip] == '<') looks = ", looks like HTML or XML";
    if (skip < n && (data[skip] == '{' || data[skip] == '[')) looks = ", looks like JSON";
    return "not an image: unrecognised format (first bytes " + hex + looks + ")";
}

bool stb_cannot_decode(std::string_view mime) {
    return mime == "image/webp" || mime == "image/heic" || mime == "image/heif" ||
           mime == "image/avif";
}

detail::Structure check_structure(std::string_view mime, const std::uint8_t* data, std::size_t n) {
    if (mime == "image/png") return detail::check_png_structure(data, n);
    if (mime == "image/jpeg") return detail::check_jpeg_structure(data, n);
    if (mime == "image/gif") return detail::check_gif_structure(data, n);
    if (mime == "image/bmp") return detail::check_bmp_structure(data, n);
    return {};
}

std::string stb_reason() {
    const char* why = stbi_failure_reason();
    return why ? why : "unknown decoder error";
}

std::string out_of_memory_text(const Check& c) {
    return text("out of memory decoding %dx%d", c.width, c.height);
}

std::string format_name(std::string_view mime) {
    std::string name(mime.substr(mime.find('/') + 1));
    for (char& ch : name) ch = static_cast<char>(ch >= 'a' && ch <= 'z' ? ch - 'a' + 'A' : ch);
    return name;
}

// stbi_info on the bytes: size and channel count as stb sees them, checked against the limits.
// False (with the verdict in c) when the header cannot be read or is over a limit.
bool read_header(Check& c, const std::uint8_t* data, std::size_t n, const Limits& limits) {
    if (n > static_cast<std::size_t>(INT_MAX)) {
        fail(c, Status::BAD_RESPONSE, text("image data of %zu bytes is too large to decode", n));
        return false;
    }
    int w = 0, h = 0, channels = 0;
    if (!stbi_info_from_memory(data, static_cast<int>(n), &w, &h, &channels)) {
        fail(c, Status::BAD_RESPONSE, "corrupt " + format_name(c.mime) + ": " + stb_reason());
        return false;
    }
    c.width = w;
    c.height = h;
    c.channels = channels;
    // stb accepts a GIF screen 0 pixels wide; an image with no pixels is corrupt, not blank.
    if (w <= 0 || h <= 0) {
        fail(c, Status::BAD_RESPONSE,
             text("corrupt %s: the header gives no pixels (%dx%d)", format_name(c.mime).c_str(), w, h));
        return false;
    }
    if (auto over = over_limits(w, h, limits); !over.empty()) {
        fail(c, Status::BAD_RESPONSE, over);
        return false;
    }
    return true;
}

// The one decode, at the native channel count. Null (with the verdict in c) on failure.
StbPixels decode(Check& c, const std::uint8_t* data, std::size_t n) {
    // stb's "flip vertically" switch is process-wide; the thread-local override keeps our rows
    // top-down whatever another part of the process chose.
    stbi_set_flip_vertically_on_load_thread(0);
    int w = 0, h = 0, channels = 0;
    StbPixels pixels(stbi_load_from_memory(data, static_cast<int>(n), &w, &h, &channels, 0));
    if (!pixels) {
        std::string why = stb_reason();
        fail(c, Status::BAD_RESPONSE, why == "outofmem"
                                          ? out_of_memory_text(c)
                                          : "corrupt " + format_name(c.mime) + ": " + why);
        return nullptr;
    }
    if (channels < 1 || channels > 4 || w != c.width || h != c.height) {
        fail(c, Status::BAD_RESPONSE, text("decoder returned %dx%dx%d for a %dx%d header", w, h,
                                           channels, c.width, c.height));
        return nullptr;
    }
    c.channels = channels;
    return pixels;
}

// The statistics pass over the decoded pixels; when `keep` is given, stb's buffer itself is
// handed over (stb allocates with malloc, and Debian's libstb is built without custom allocators),
// so the pixels are never copied.
void measure(Check& c, StbPixels decoded, Pixels* keep) {
    const std::size_t count = std::size_t(c.width) * std::size_t(c.height);
    c.stats = detail::scan_pixels(decoded.get(), count, c.channels);
    if (!keep) return;
    Pixels owned;
    owned.width = c.width;
    owned.height = c.height;
    owned.channels = c.channels;
    owned.data = Blob::adopt_malloc(decoded.release(), count * std::size_t(c.channels));
    *keep = std::move(owned);
}

// Everything after the sniff, cheapest decisions first. May throw std::bad_alloc, which check()
// turns into a verdict.
Check& check_sniffed(Check& c, const std::uint8_t* data, std::size_t n, const Limits& limits,
                     const BlankRules& rules, Pixels* keep) {
    if (stb_cannot_decode(c.mime))
        return fail(c, Status::BAD_RESPONSE, "cannot validate " + c.mime + ": unsupported format");

    const detail::Structure structure = check_structure(c.mime, data, n);
    if (!structure.ok) return fail(c, Status::BAD_RESPONSE, structure.problem);
    c.width = static_cast<int>(std::min<std::int64_t>(structure.width, INT_MAX));
    c.height = static_cast<int>(std::min<std::int64_t>(structure.height, INT_MAX));
    if (auto over = over_limits(structure.width, structure.height, limits); !over.empty())
        return fail(c, Status::BAD_RESPONSE, over);
    if (!read_header(c, data, n, limits)) return c;

    StbPixels decoded = decode(c, data, n);
    if (!decoded) return c;
    measure(c, std::move(decoded), keep);

    std::string why;
    c.blank = is_blank(c.stats, c.channels, rules, &why);
    if (c.blank) return fail(c, Status::BLANK_IMAGE, why);
    c.ok = true;
    c.code = Status::OK;
    c.reason = structure.note;
    return c;
}

}  // namespace

Check check(const std::uint8_t* data, std::size_t n, const Limits& limits, const BlankRules& rules,
            Pixels* keep) {
    Check c;
    try {
        if (data == nullptr || n == 0) return fail(c, Status::BAD_RESPONSE, "empty image data");
        c.mime = std::string(sniff_mime(data, n));
        if (n > limits.max_encoded_bytes)
            return fail(c, Status::BAD_RESPONSE,
                        text("image data of %zu bytes exceeds the %zu-byte limit", n,
                             limits.max_encoded_bytes));
        if (c.mime.empty()) return fail(c, Status::BAD_RESPONSE, unknown_format_text(data, n));
        return check_sniffed(c, data, n, limits, rules, keep);
    } catch (const std::bad_alloc&) {
        c.stats = Stats{};
        return fail(c, Status::BAD_RESPONSE, out_of_memory_text(c));
    }
}

}  // namespace nbcore::image
