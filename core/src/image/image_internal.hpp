// Pieces shared by the image sources: CRC-32, the structural checks run before decoding, and the
// statistics pass that can copy the pixels it reads. Private to core/src/image.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "nbcore/image.hpp"

namespace nbcore::image::detail {

// printf into a std::string: the reasons in Check are one-line messages with numbers.
[[gnu::format(printf, 1, 2)]] std::string text(const char* fmt, ...);

// CRC-32 as PNG (and zlib, gzip) define it: reflected polynomial 0xEDB88320, initial and final
// value 0xFFFFFFFF. `crc` is the running value of a previous call, 0 to start.
// Uses carry-less multiplication when the CPU has it; crc32_portable is the table-driven code
// alone (the tests compare the two).
std::uint32_t crc32(const std::uint8_t* data, std::size_t n, std::uint32_t crc = 0) noexcept;
std::uint32_t crc32_portable(const std::uint8_t* data, std::size_t n, std::uint32_t crc = 0) noexcept;

// What a look at the container (before decoding) found.
struct Structure {
    bool ok = true;
    std::string problem;      // why it is not ok: "truncated PNG: no IEND chunk"
    std::string note;         // tolerated oddities: "12 trailing bytes after IEND"
    std::int64_t width = 0;   // from the header when the format's check reads it, else 0
    std::int64_t height = 0;
};

// Signature, chunk walk with length sanity, IHDR first, IDAT present, IEND last, every CRC.
Structure check_png_structure(const std::uint8_t* data, std::size_t n);
// SOI at the start, EOI at the end (zero padding allowed), a SOF before the first scan.
Structure check_jpeg_structure(const std::uint8_t* data, std::size_t n);
// Header present and the trailer byte at the end.
Structure check_gif_structure(const std::uint8_t* data, std::size_t n);
// Uncompressed bitmaps must hold all the rows their header promises.
Structure check_bmp_structure(const std::uint8_t* data, std::size_t n);

// Which code runs the statistics' vector-friendly step: the fastest the CPU supports, or the
// portable build alone (so the tests can compare the two).
enum class Kernel { best, portable };

// One pass over `count` pixels of `channels` channels: the statistics compute_stats reports.
// When `copy_to` is non-null the pixels are also copied there (while they are hot in cache), so
// a caller that must own the pixels pays for no second pass.
Stats scan_pixels(const std::uint8_t* pixels, std::size_t count, int channels,
                  std::uint8_t* copy_to = nullptr, Kernel kernel = Kernel::best);

}  // namespace nbcore::image::detail
