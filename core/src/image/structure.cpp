// Container checks run before decoding. stb_image tolerates some damage (it reads zeros past a
// truncated end, it never looks at a CRC), so a cut or corrupted reply could otherwise decode
// "successfully" into an image with a grey or black lower half.
#include <algorithm>
#include <string>

#include "image/image_internal.hpp"

namespace nbcore::image::detail {
namespace {

std::uint32_t be32(const std::uint8_t* p) {
    return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) |
           p[3];
}
std::uint32_t be16(const std::uint8_t* p) { return (std::uint32_t(p[0]) << 8) | p[1]; }
std::uint32_t le16(const std::uint8_t* p) { return (std::uint32_t(p[1]) << 8) | p[0]; }
std::uint32_t le32(const std::uint8_t* p) {
    return (std::uint32_t(p[3]) << 24) | (std::uint32_t(p[2]) << 16) | (std::uint32_t(p[1]) << 8) |
           p[0];
}

Structure problem(std::string why) {
    Structure s;
    s.ok = false;
    s.problem = std::move(why);
    return s;
}

// ---------------------------------------------------------------------------------------- PNG

constexpr std::size_t kPngSignatureSize = 8;
constexpr std::size_t kChunkOverhead = 12;  // length, type, CRC
constexpr std::uint32_t kMaxChunkLength = 0x7FFFFFFFu;  // PNG: lengths must fit in 31 bits

// Chunk types are four ASCII letters; anything else means we are not looking at a chunk.
bool is_chunk_type(const std::uint8_t* t) {
    for (int i = 0; i < 4; ++i) {
        std::uint8_t c = t[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) return false;
    }
    return true;
}

std::string chunk_name(const std::uint8_t* t) {
    return is_chunk_type(t) ? std::string(reinterpret_cast<const char*>(t), 4) : std::string("?");
}

bool type_is(const std::uint8_t* t, const char* name) {
    return t[0] == name[0] && t[1] == name[1] && t[2] == name[2] && t[3] == name[3];
}

}  // namespace

Structure check_png_structure(const std::uint8_t* data, std::size_t n) {
    static constexpr std::uint8_t kSignature[kPngSignatureSize] = {0x89, 'P',  'N',  'G',
                                                                  '\r', '\n', 0x1A, '\n'};
    if (n < kPngSignatureSize || !std::equal(kSignature, kSignature + kPngSignatureSize, data))
        return problem("corrupt PNG: bad signature");

    Structure s;
    bool seen_idat = false;
    std::size_t pos = kPngSignatureSize;
    for (bool first = true;; first = false) {
        if (pos == n) return problem("truncated PNG: no IEND chunk");
        if (n - pos < kChunkOverhead)
            return problem(text("truncated PNG: no IEND chunk (data ends inside a chunk header "
                                  "at offset %zu)", pos));
        const std::uint8_t* type = data + pos + 4;
        std::uint32_t length = be32(data + pos);
        if (!is_chunk_type(type))
            return problem(text("corrupt PNG: invalid chunk type at offset %zu", pos));
        std::string name = chunk_name(type);
        if (length > kMaxChunkLength)
            return problem(text("corrupt PNG: %s chunk at offset %zu claims %u bytes",
                                  name.c_str(), pos, length));
        if (length > n - pos - kChunkOverhead)
            return problem(text("truncated PNG: no IEND chunk (data ends inside the %s chunk "
                                  "at offset %zu: it needs %u bytes, %zu remain)",
                                  name.c_str(), pos, length, n - pos - kChunkOverhead));
        // The CRC covers the type and the data, not the length.
        std::uint32_t stored = be32(data + pos + 8 + length);
        if (crc32(type, 4 + std::size_t(length)) != stored)
            return problem(text("corrupt PNG: CRC mismatch in the %s chunk at offset %zu",
                                  name.c_str(), pos));

        if (first) {
            if (!type_is(type, "IHDR"))
                return problem("corrupt PNG: the first chunk is " + name + ", not IHDR");
            if (length != 13)
                return problem(text("corrupt PNG: IHDR is %u bytes, not 13", length));
            s.width = be32(data + pos + 8);
            s.height = be32(data + pos + 12);
            if (s.width == 0 || s.height == 0 || s.width > kMaxChunkLength ||
                s.height > kMaxChunkLength)
                return problem(text("corrupt PNG: IHDR gives impossible size %lldx%lld",
                                      static_cast<long long>(s.width),
                                      static_cast<long long>(s.height)));
        } else if (type_is(type, "IHDR")) {
            return problem(text("corrupt PNG: a second IHDR at offset %zu", pos));
        } else if (type_is(type, "IDAT")) {
            seen_idat = true;
        } else if (type_is(type, "IEND")) {
            if (!seen_idat) return problem("corrupt PNG: no IDAT chunk before IEND");
            std::size_t end = pos + kChunkOverhead + length;
            if (end < n) s.note = text("%zu trailing bytes after IEND ignored", n - end);
            return s;
        }
        pos += kChunkOverhead + length;
    }
}

// --------------------------------------------------------------------------------------- JPEG

namespace {

constexpr std::uint8_t kSOI = 0xD8, kEOI = 0xD9, kSOS = 0xDA, kTEM = 0x01;

// Start-of-frame markers carry the size. C4 (DHT), C8 (reserved JPG) and CC (DAC) share the range
// but are not frames.
bool is_sof(std::uint8_t m) { return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC; }
// Markers without a length field.
bool is_standalone(std::uint8_t m) { return m == kTEM || (m >= 0xD0 && m <= 0xD7); }

}  // namespace

Structure check_jpeg_structure(const std::uint8_t* data, std::size_t n) {
    if (n < 4 || data[0] != 0xFF || data[1] != kSOI) return problem("corrupt JPEG: no SOI marker");
    // Some encoders pad the file with zeros after EOI.
    std::size_t end = n;
    while (end > 2 && data[end - 1] == 0) --end;
    if (end < 4 || data[end - 2] != 0xFF || data[end - 1] != kEOI)
        return problem("truncated JPEG: no EOI marker");

    // Walk the header segments up to the first scan; the entropy-coded data after it is left to
    // the decoder (it cannot contain FF D9, so a cut file almost never ends with EOI by chance).
    Structure s;
    bool seen_sof = false;
    std::size_t pos = 2;
    while (pos < end) {
        if (data[pos] != 0xFF)
            return problem(text("corrupt JPEG: expected a marker at offset %zu", pos));
        while (pos < end && data[pos] == 0xFF) ++pos;  // fill bytes
        if (pos >= end) break;
        std::uint8_t marker = data[pos++];
        if (is_standalone(marker)) continue;
        if (marker == kEOI || marker == kSOI || marker == 0)
            return problem(text("corrupt JPEG: unexpected marker FF%02X before the image data",
                                  marker));
        if (end - pos < 2)
            return problem(text("truncated JPEG: segment FF%02X at offset %zu is cut off",
                                  marker, pos - 2));
        std::uint32_t length = be16(data + pos);
        if (length < 2 || length > end - pos)
            return problem(text("corrupt JPEG: segment FF%02X at offset %zu has bad length %u",
                                  marker, pos - 2, length));
        if (is_sof(marker)) {
            if (length < 8)
                return problem(text("corrupt JPEG: SOF segment of %u bytes is too short", length));
            s.height = be16(data + pos + 3);
            s.width = be16(data + pos + 5);
            seen_sof = true;
        } else if (marker == kSOS) {
            if (!seen_sof) return problem("corrupt JPEG: no SOF marker before the scan data");
            return s;
        }
        pos += length;
    }
    return problem(seen_sof ? "corrupt JPEG: no scan data (SOS marker)"
                            : "corrupt JPEG: no SOF marker");
}

// ---------------------------------------------------------------------------------------- GIF

Structure check_gif_structure(const std::uint8_t* data, std::size_t n) {
    constexpr std::size_t kHeader = 13;  // signature, logical screen descriptor
    if (n < kHeader) return problem("truncated GIF: header cut off");
    Structure s;
    s.width = le16(data + 6);
    s.height = le16(data + 8);
    if (data[n - 1] != 0x3B) return problem("truncated GIF: no trailer");
    return s;
}

// ---------------------------------------------------------------------------------------- BMP

Structure check_bmp_structure(const std::uint8_t* data, std::size_t n) {
    constexpr std::size_t kFileHeader = 14;
    if (n < kFileHeader + 16) return problem("truncated BMP: header cut off");
    std::uint32_t pixel_offset = le32(data + 10);
    std::uint32_t info_size = le32(data + 14);
    Structure s;
    if (info_size < 40) return s;  // old OS/2 header: leave it to the decoder
    if (n < kFileHeader + 40) return problem("truncated BMP: header cut off");
    auto width = static_cast<std::int32_t>(le32(data + 18));
    auto height = static_cast<std::int32_t>(le32(data + 22));  // negative: rows top-down
    std::uint32_t bits = le16(data + 28);
    std::uint32_t compression = le32(data + 30);
    s.width = width;
    s.height = height < 0 ? -std::int64_t(height) : height;
    if (s.width <= 0 || s.height <= 0)
        return problem(text("corrupt BMP: impossible size %dx%d", width, height));
    bool uncompressed = compression == 0 || compression == 3;  // BI_RGB, BI_BITFIELDS
    if (!uncompressed || bits == 0 || bits > 32) return s;
    // Rows are padded to 4 bytes.
    std::uint64_t row = (std::uint64_t(bits) * std::uint64_t(s.width) + 31) / 32 * 4;
    std::uint64_t needed = std::uint64_t(pixel_offset) + row * std::uint64_t(s.height);
    if (needed > n)
        return problem(text("truncated BMP: the pixel rows need %llu bytes, %zu present",
                              static_cast<unsigned long long>(needed), n));
    return s;
}

}  // namespace nbcore::image::detail
