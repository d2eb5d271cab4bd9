// CRC-32 for PNG chunks. Every chunk's CRC is verified before decoding, and for a 4K image that
// is ~30 MB, so it must run at memory-like speed next to a ~300 ms decode.
//
// Two implementations, same results:
//  - portable: table-driven, slicing-by-16. Sixteen tables let each step fold 16 input bytes
//    with 16 independent lookups instead of one byte at a time (~3 GB/s here).
//  - x86-64 with PCLMULQDQ: carry-less multiplication folds 64 bytes per step (Intel's "Fast CRC
//    Computation Using PCLMULQDQ", 2009), several times faster; picked at run time, and the
//    portable code finishes the last < 16 bytes.
#include <array>
#include <bit>
#include <cstring>

#include "image/image_internal.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define NBCORE_CRC_CLMUL 1
#include <immintrin.h>
#endif

namespace nbcore::image::detail {
namespace {

constexpr std::uint32_t kPolynomial = 0xEDB88320u;  // CRC-32/ISO-HDLC, bit-reflected
constexpr int kSlices = 16;

using Tables = std::array<std::array<std::uint32_t, 256>, kSlices>;

// tables[0] is the classic byte-at-a-time table; tables[k][b] is the CRC of byte b followed by
// k zero bytes, which is what lets one step combine bytes that sit k positions apart.
constexpr Tables make_tables() {
    Tables t{};
    for (std::uint32_t b = 0; b < 256; ++b) {
        std::uint32_t c = b;
        for (int bit = 0; bit < 8; ++bit) c = (c & 1u) ? (c >> 1) ^ kPolynomial : c >> 1;
        t[0][b] = c;
    }
    for (int k = 1; k < kSlices; ++k)
        for (std::uint32_t b = 0; b < 256; ++b)
            t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xFFu];
    return t;
}

constexpr Tables kTables = make_tables();

// Little-endian 32-bit load at any alignment; the tables assume the first byte is the low one.
inline std::uint32_t load_le32(const std::uint8_t* p) noexcept {
    std::uint32_t v;
    std::memcpy(&v, p, sizeof v);
    if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap32(v);
    return v;
}

inline std::uint32_t byte(std::uint32_t v, int i) noexcept { return (v >> (8 * i)) & 0xFFu; }

// `state` is the raw register (already inverted by the caller).
std::uint32_t update_tables(std::uint32_t state, const std::uint8_t* data, std::size_t n) noexcept {
    const auto& t = kTables;
    while (n >= kSlices) {
        std::uint32_t a = load_le32(data) ^ state;
        std::uint32_t b = load_le32(data + 4);
        std::uint32_t c = load_le32(data + 8);
        std::uint32_t d = load_le32(data + 12);
        state = t[15][byte(a, 0)] ^ t[14][byte(a, 1)] ^ t[13][byte(a, 2)] ^ t[12][byte(a, 3)] ^
                t[11][byte(b, 0)] ^ t[10][byte(b, 1)] ^ t[9][byte(b, 2)] ^ t[8][byte(b, 3)] ^
                t[7][byte(c, 0)] ^ t[6][byte(c, 1)] ^ t[5][byte(c, 2)] ^ t[4][byte(c, 3)] ^
                t[3][byte(d, 0)] ^ t[2][byte(d, 1)] ^ t[1][byte(d, 2)] ^ t[0][byte(d, 3)];
        data += kSlices;
        n -= kSlices;
    }
    while (n--) state = (state >> 8) ^ t[0][(state ^ *data++) & 0xFFu];
    return state;
}

#ifdef NBCORE_CRC_CLMUL

// ---- folding constants, derived rather than pasted -------------------------------------------
// Folding a 128-bit lane forward by D bits multiplies its two 64-bit halves by x^(D+32) and
// x^(D-32) modulo P. In the bit-reflected world of this CRC the constants are those remainders
// reflected to 32 bits and shifted left once (a reflected product comes out one bit short).

constexpr std::uint64_t kP = 0x104C11DB7ull;  // the polynomial, normal bit order, with x^32

constexpr std::uint64_t x_pow_mod_p(int n) {
    std::uint64_t r = 1;
    for (int i = 0; i < n; ++i) {
        r <<= 1;
        if (r & (1ull << 32)) r ^= kP;
    }
    return r;
}

constexpr std::uint64_t reflect(std::uint64_t v, int bits) {
    std::uint64_t r = 0;
    for (int i = 0; i < bits; ++i)
        if (v & (1ull << i)) r |= 1ull << (bits - 1 - i);
    return r;
}

constexpr std::uint64_t fold_constant(int n) { return reflect(x_pow_mod_p(n), 32) << 1; }

// floor(x^64 / P), for the final Barrett reduction: polynomial long division, one bit at a time.
constexpr std::uint64_t barrett_mu() {
    std::uint64_t remainder = 0, quotient = 0;
    for (int bit = 64; bit >= 0; --bit) {
        remainder = (remainder << 1) | (bit == 64 ? 1u : 0u);  // x^64: only bit 64 is set
        quotient <<= 1;
        if (remainder & (1ull << 32)) {
            remainder ^= kP;
            quotient |= 1;
        }
    }
    return quotient;
}

constexpr std::uint64_t kFold512Lo = fold_constant(512 + 32);  // four lanes ahead
constexpr std::uint64_t kFold512Hi = fold_constant(512 - 32);
constexpr std::uint64_t kFold128Lo = fold_constant(128 + 32);  // one lane ahead
constexpr std::uint64_t kFold128Hi = fold_constant(128 - 32);
constexpr std::uint64_t kFold64 = fold_constant(64);
constexpr std::uint64_t kMu = reflect(barrett_mu(), 33);
constexpr std::uint64_t kPReflected = reflect(kP, 33);

// The published values (Intel's paper; also in the Linux kernel), as a check on the derivation.
static_assert(kFold512Lo == 0x154442bd4ull && kFold512Hi == 0x1c6e41596ull);
static_assert(kFold128Lo == 0x1751997d0ull && kFold128Hi == 0x0ccaa009eull);
static_assert(kFold64 == 0x163cd6124ull);
static_assert(kMu == 0x1F7011641ull && kPReflected == 0x1DB710641ull);

#define NBCORE_CLMUL_TARGET [[gnu::target("pclmul,sse2")]]

NBCORE_CLMUL_TARGET inline __m128i constants(std::uint64_t lo, std::uint64_t hi) {
    return _mm_set_epi64x(static_cast<long long>(hi), static_cast<long long>(lo));
}

// x's low half times k's low half, plus x's high half times k's high half, plus `next`.
NBCORE_CLMUL_TARGET inline __m128i fold(__m128i x, __m128i k, __m128i next) {
    __m128i lo = _mm_clmulepi64_si128(x, k, 0x00);
    __m128i hi = _mm_clmulepi64_si128(x, k, 0x11);
    return _mm_xor_si128(_mm_xor_si128(lo, hi), next);
}

NBCORE_CLMUL_TARGET inline __m128i load(const std::uint8_t* p) {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

// n >= 64 and a multiple of 16.
NBCORE_CLMUL_TARGET std::uint32_t update_clmul(std::uint32_t state, const std::uint8_t* p,
                                               std::size_t n) noexcept {
    const __m128i k512 = constants(kFold512Lo, kFold512Hi);
    const __m128i k128 = constants(kFold128Lo, kFold128Hi);
    __m128i x0 = _mm_xor_si128(load(p), _mm_cvtsi32_si128(static_cast<int>(state)));
    __m128i x1 = load(p + 16), x2 = load(p + 32), x3 = load(p + 48);
    p += 64;
    n -= 64;
    for (; n >= 64; p += 64, n -= 64) {
        x0 = fold(x0, k512, load(p));
        x1 = fold(x1, k512, load(p + 16));
        x2 = fold(x2, k512, load(p + 32));
        x3 = fold(x3, k512, load(p + 48));
    }
    __m128i x = fold(fold(fold(x0, k128, x1), k128, x2), k128, x3);
    for (; n >= 16; p += 16, n -= 16) x = fold(x, k128, load(p));

    // 128 -> 64 bits: the low half moves 64 bits on.
    x = _mm_xor_si128(_mm_clmulepi64_si128(x, k128, 0x10), _mm_srli_si128(x, 8));
    // 64 -> 32 bits.
    const __m128i mask32 = _mm_set_epi32(0, 0, 0, -1);
    const __m128i k64 = constants(kFold64, 0);
    x = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(x, mask32), k64, 0x00),
                      _mm_srli_si128(x, 4));
    // Barrett reduction to the 32-bit remainder.
    const __m128i barrett = constants(kPReflected, kMu);
    __m128i t = _mm_and_si128(_mm_clmulepi64_si128(_mm_and_si128(x, mask32), barrett, 0x10), mask32);
    t = _mm_clmulepi64_si128(t, barrett, 0x00);
    x = _mm_xor_si128(x, t);
    return static_cast<std::uint32_t>(_mm_cvtsi128_si32(_mm_srli_si128(x, 4)));
}

bool cpu_has_clmul() {
    static const bool has = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse2");
    return has;
}

#endif  // NBCORE_CRC_CLMUL

}  // namespace

std::uint32_t crc32_portable(const std::uint8_t* data, std::size_t n, std::uint32_t crc) noexcept {
    return ~update_tables(~crc, data, n);
}

std::uint32_t crc32(const std::uint8_t* data, std::size_t n, std::uint32_t crc) noexcept {
    std::uint32_t state = ~crc;
#ifdef NBCORE_CRC_CLMUL
    if (n >= 64 && cpu_has_clmul()) {
        std::size_t whole = n & ~std::size_t(15);
        state = update_clmul(state, data, whole);
        data += whole;
        n -= whole;
    }
#endif
    return ~update_tables(state, data, n);
}

}  // namespace nbcore::image::detail
