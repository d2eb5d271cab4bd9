// MIME type from magic bytes. The server's declared mimeType is not trusted: what matters is
// what the bytes are.
#include <cstring>

#include "nbcore/image.hpp"

namespace nbcore::image {
namespace {

bool starts_with(const std::uint8_t* data, std::size_t n, const char* magic, std::size_t len) {
    return n >= len && std::memcmp(data, magic, len) == 0;
}

bool bytes_at(const std::uint8_t* data, std::size_t n, std::size_t at, const char* what) {
    std::size_t len = std::strlen(what);
    return n >= at + len && std::memcmp(data + at, what, len) == 0;
}

// The image brand a four-letter ISO-BMFF brand stands for; "" for brands of other kinds.
std::string_view brand_mime(const std::uint8_t* brand) {
    auto is = [&](const char* b) { return std::memcmp(brand, b, 4) == 0; };
    for (const char* b : {"heic", "heix", "hevc", "hevx", "heim", "heis"})
        if (is(b)) return "image/heic";
    if (is("avif") || is("avis")) return "image/avif";
    if (is("mif1") || is("msf1")) return "image/heif";  // generic: any HEIF-based image
    return {};
}

// ISO base media files (an "ftyp" box first) name their kind by brands: the major brand at
// offset 8, then a minor version, then compatible brands. A specific brand (heic, avif) wins over
// the generic HEIF one wherever it is listed.
std::string_view iso_bmff_image_mime(const std::uint8_t* data, std::size_t n) {
    if (!bytes_at(data, n, 4, "ftyp") || n < 12) return {};
    std::size_t box = (std::size_t(data[0]) << 24) | (std::size_t(data[1]) << 16) |
                      (std::size_t(data[2]) << 8) | data[3];
    if (box < 12 || box > n) box = n < 64 ? n : 64;  // malformed size: look at a few brands
    std::string_view generic;
    for (std::size_t at = 8; at + 4 <= box; at += 4) {
        if (at == 12) continue;  // the minor version, not a brand
        std::string_view m = brand_mime(data + at);
        if (m == "image/heif") {
            if (generic.empty()) generic = m;
        } else if (!m.empty()) {
            return m;
        }
    }
    return generic;
}

}  // namespace

std::string_view sniff_mime(const std::uint8_t* data, std::size_t n) noexcept {
    if (data == nullptr) return {};
    if (starts_with(data, n, "\x89PNG\r\n\x1a\n", 8)) return "image/png";
    if (starts_with(data, n, "\xFF\xD8\xFF", 3)) return "image/jpeg";
    if (starts_with(data, n, "GIF87a", 6) || starts_with(data, n, "GIF89a", 6)) return "image/gif";
    if (starts_with(data, n, "RIFF", 4) && bytes_at(data, n, 8, "WEBP")) return "image/webp";
    if (starts_with(data, n, "BM", 2) && n >= 26) return "image/bmp";
    return iso_bmff_image_mime(data, n);
}

}  // namespace nbcore::image
