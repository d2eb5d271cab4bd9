// Standard base64. The decoder is incremental and tuned for the one hot path that matters: tens
// of MB of image data arriving in network-sized chunks.
#include <array>
#include <cstring>

#include "nbcore/codec.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define NBCORE_BASE64_AVX2 1
#endif

namespace nbcore::api {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// 0..63 for the alphabet, 64 for '=', 255 for anything else.
constexpr std::array<std::uint8_t, 256> make_decode_table() {
    std::array<std::uint8_t, 256> t{};
    for (auto& v : t) v = 255;
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::uint8_t>(i);
    t[static_cast<unsigned char>('=')] = 64;
    return t;
}
constexpr auto kDecode = make_decode_table();

#ifdef NBCORE_BASE64_AVX2
// 32 characters -> 24 bytes per step, for as long as the input is pure alphabet (no padding, no
// invalid byte); the scalar code takes over from the first 32-byte block that is not. Returns the
// number of characters consumed (a multiple of 32); writes 3/4 as many bytes to `out`.
//
// Validation splits each byte into its high and low nibble: lo_classes[low] & hi_classes[high] is
// non-zero exactly for bytes outside A-Z a-z 0-9 + /. Each bit stands for one high-nibble row:
//   bit 0: rows 0-1 and 8-F, never valid      bit 1: row 2, valid only at B ('+') and F ('/')
//   bit 2: row 3, valid at 0-9 only           bit 3: rows 4 and 6, invalid at 0 ('@', '`')
//   bit 4: rows 5 and 7, invalid at B-F
// Translation adds an offset chosen by the high nibble; '/' shares row 2 with '+', so its row
// index is moved to 1 first.
__attribute__((target("avx2"))) std::size_t decode_avx2(const unsigned char* in, std::size_t n,
                                                        std::uint8_t* out) {
    const __m256i lo_classes = _mm256_setr_epi8(
        0x0B, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x07, 0x15, 0x17, 0x17, 0x17, 0x15,
        0x0B, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x07, 0x15, 0x17, 0x17, 0x17, 0x15);
    const __m256i hi_classes = _mm256_setr_epi8(
        0x01, 0x01, 0x02, 0x04, 0x08, 0x10, 0x08, 0x10, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
        0x01, 0x01, 0x02, 0x04, 0x08, 0x10, 0x08, 0x10, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01);
    const __m256i offsets = _mm256_setr_epi8(
        0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m256i nibble = _mm256_set1_epi8(0x0F);
    const __m256i slash = _mm256_set1_epi8('/');
    // Pairs of sextets -> 12 bits, pairs of those -> 24 bits per 32-bit lane.
    const __m256i merge_sextets = _mm256_set1_epi32(0x01400140);
    const __m256i merge_pairs = _mm256_set1_epi32(0x00011000);
    // Per 128-bit lane: the three payload bytes of each dword, most significant first.
    const __m256i pick_bytes = _mm256_setr_epi8(
        2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1,
        2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
    const __m256i join_lanes = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 3, 7);

    std::size_t done = 0;
    for (; n - done >= 32; done += 32, out += 24) {
        __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + done));
        __m256i hi = _mm256_and_si256(_mm256_srli_epi32(c, 4), nibble);
        __m256i lo = _mm256_and_si256(c, nibble);
        __m256i bad = _mm256_and_si256(_mm256_shuffle_epi8(lo_classes, lo), _mm256_shuffle_epi8(hi_classes, hi));
        if (!_mm256_testz_si256(bad, bad)) break;
        __m256i row = _mm256_add_epi8(hi, _mm256_cmpeq_epi8(c, slash));
        __m256i sextets = _mm256_add_epi8(c, _mm256_shuffle_epi8(offsets, row));
        __m256i words = _mm256_maddubs_epi16(sextets, merge_sextets);
        __m256i dwords = _mm256_madd_epi16(words, merge_pairs);
        __m256i packed = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(dwords, pick_bytes), join_lanes);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm256_castsi256_si128(packed));
        _mm_storel_epi64(reinterpret_cast<__m128i*>(out + 16), _mm256_extracti128_si256(packed, 1));
    }
    return done;
}

bool cpu_has_avx2() {
    static const bool has = __builtin_cpu_supports("avx2");
    return has;
}
#endif

}  // namespace

void base64_encode_append(std::string& out, const std::uint8_t* data, std::size_t n) {
    std::size_t start = out.size();
    out.resize(start + (n + 2) / 3 * 4);
    char* o = out.data() + start;
    std::size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        std::uint32_t v = (std::uint32_t(data[i]) << 16) | (std::uint32_t(data[i + 1]) << 8) | data[i + 2];
        *o++ = kAlphabet[(v >> 18) & 63];
        *o++ = kAlphabet[(v >> 12) & 63];
        *o++ = kAlphabet[(v >> 6) & 63];
        *o++ = kAlphabet[v & 63];
    }
    if (i < n) {
        std::uint32_t v = std::uint32_t(data[i]) << 16;
        if (i + 1 < n) v |= std::uint32_t(data[i + 1]) << 8;
        *o++ = kAlphabet[(v >> 18) & 63];
        *o++ = kAlphabet[(v >> 12) & 63];
        *o++ = (i + 1 < n) ? kAlphabet[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
}

std::string base64_encode(const std::uint8_t* data, std::size_t n) {
    std::string s;
    base64_encode_append(s, data, n);
    return s;
}

// One character through the state machine (partial quanta, padding, errors).
// have_ == 4 after padding means "finished": any further character is an error.
static inline bool step(std::uint32_t& acc, int& have, int& pad, unsigned char ch, Blob& out) {
    std::uint8_t v = kDecode[ch];
    if (v > 64 || have == 4) return false;
    if (v == 64) {
        if (have < 2) return false;  // "=" can only be the 3rd or 4th character
        ++pad;
    } else {
        if (pad) return false;       // data after "="
        acc = (acc << 6) | v;
    }
    if (++have == 4) {
        std::uint32_t a = acc << (6 * pad);
        std::uint8_t tmp[3] = {std::uint8_t(a >> 16), std::uint8_t(a >> 8), std::uint8_t(a)};
        out.append(tmp, static_cast<std::size_t>(3 - pad));
        acc = 0;
        if (!pad) have = 0;
    }
    return true;
}

bool Base64Decoder::feed(const char* s, std::size_t n, Blob& out) {
    if (failed_) return false;
    const auto* p = reinterpret_cast<const unsigned char*>(s);
    const auto* end = p + n;
    while (p < end && have_ != 0) {
        if (!step(acc_, have_, pad_, *p++, out)) return !(failed_ = true);
    }
    if (p == end) return true;

    // Hot loop: whole quanta of alphabet characters, written straight into the blob.
    std::uint8_t* o0 = out.prepare(static_cast<std::size_t>(end - p) / 4 * 3 + 3);
    std::uint8_t* o = o0;
#ifdef NBCORE_BASE64_AVX2
    if (cpu_has_avx2()) {
        std::size_t used = decode_avx2(p, static_cast<std::size_t>(end - p), o);
        p += used;
        o += used / 4 * 3;
    }
#endif
    while (end - p >= 4) {
        std::uint32_t a = kDecode[p[0]], b = kDecode[p[1]], c = kDecode[p[2]], d = kDecode[p[3]];
        if ((a | b | c | d) > 63) break;  // padding or an invalid byte: slow path
        std::uint32_t v = (a << 18) | (b << 12) | (c << 6) | d;
        o[0] = std::uint8_t(v >> 16);
        o[1] = std::uint8_t(v >> 8);
        o[2] = std::uint8_t(v);
        o += 3;
        p += 4;
    }
    out.commit(static_cast<std::size_t>(o - o0));
    while (p < end) {
        if (!step(acc_, have_, pad_, *p++, out)) return !(failed_ = true);
    }
    return true;
}

bool Base64Decoder::finish(Blob& out) {
    (void)out;
    if (failed_) return false;
    if (have_ == 0 || have_ == 4) return true;
    // "QQ=" stops inside padding: the quantum is incomplete.
    if (pad_) { failed_ = true; return false; }
    // Unpadded tails of 2 or 3 characters are accepted (some encoders drop padding).
    if (have_ == 1) { failed_ = true; return false; }
    std::uint32_t a = acc_ << (6 * (4 - have_));
    std::uint8_t tmp[2] = {std::uint8_t(a >> 16), std::uint8_t(a >> 8)};
    out.append(tmp, static_cast<std::size_t>(have_ - 1));
    have_ = 0;
    return true;
}

}  // namespace nbcore::api
