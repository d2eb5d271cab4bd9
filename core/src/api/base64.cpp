// Standard base64. The decoder is incremental and tuned for the one hot path that matters: tens
// of MB of image data arriving in network-sized chunks.
#include <array>
#include <cstring>

#include "nbcore/codec.hpp"

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
    // Unpadded tails of 2 or 3 characters are accepted (some encoders drop padding).
    if (have_ == 1) { failed_ = true; return false; }
    std::uint32_t a = acc_ << (6 * (4 - have_));
    std::uint8_t tmp[2] = {std::uint8_t(a >> 16), std::uint8_t(a >> 8)};
    out.append(tmp, static_cast<std::size_t>(have_ - 1));
    have_ = 0;
    return true;
}

}  // namespace nbcore::api
