// Base64Decoder: the vector path (32 characters at a time) must agree with a plain reference
// decoder on every byte value at every position, and chunking must never change the result.
#include <catch2/catch.hpp>

#include <optional>

#include "test_codec_util.hpp"

using namespace nbcore;
using namespace codec_test;

namespace {

// Independent reference: strict RFC 4648 with optional padding on the last quantum only.
std::optional<std::string> reference_decode(std::string_view s) {
    static const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::size_t pad = 0;
    while (pad < 2 && pad < s.size() && s[s.size() - 1 - pad] == '=') ++pad;
    std::string_view body = s.substr(0, s.size() - pad);
    if (pad && s.size() % 4 != 0) return std::nullopt;
    if (body.size() % 4 == 1) return std::nullopt;
    std::string out;
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : body) {
        auto v = alphabet.find(c);
        if (v == std::string::npos) return std::nullopt;
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xFF);
        }
    }
    return out;
}

std::optional<std::string> decode_chunked(std::string_view s, std::size_t chunk) {
    api::Base64Decoder dec;
    Blob out;
    for (std::size_t i = 0; i < s.size(); i += chunk)
        if (!dec.feed(s.data() + i, std::min(chunk, s.size() - i), out)) return std::nullopt;
    if (!dec.finish(out)) return std::nullopt;
    return std::string(out.view());
}

}  // namespace

TEST_CASE("base64: every byte value at every position of a vector block", "[codec][base64]") {
    // 96 characters: three 32-character blocks; the byte under test visits every lane.
    const std::string valid = b64(random_bytes(72, 31));
    REQUIRE(valid.size() == 96);
    for (int byte = 0; byte < 256; ++byte) {
        for (std::size_t pos = 0; pos < 64; ++pos) {
            std::string s = valid;
            s[pos] = static_cast<char>(byte);
            auto expect = reference_decode(s);
            auto got = decode_chunked(s, s.size());
            INFO("byte " << byte << " at " << pos);
            REQUIRE(got.has_value() == expect.has_value());
            if (got) REQUIRE(*got == *expect);
        }
    }
}

TEST_CASE("base64: long random inputs agree with the reference at any chunking", "[codec][base64]") {
    for (std::size_t n : {0, 1, 2, 3, 23, 24, 25, 47, 48, 49, 1000, 100000}) {
        std::string raw = random_bytes(n, static_cast<unsigned>(n) + 7);
        std::string enc = b64(raw);
        REQUIRE(reference_decode(enc) == raw);
        for (std::size_t chunk : {1, 3, 4, 31, 32, 33, 64, 4096, 1 << 20}) {
            INFO("n " << n << " chunk " << chunk);
            REQUIRE(decode_chunked(enc, chunk) == raw);
        }
        // Unpadded form (some encoders drop '=').
        std::string bare = enc.substr(0, enc.find('='));
        REQUIRE(decode_chunked(bare, 5) == raw);
    }
}

TEST_CASE("base64: padding is only accepted at the very end", "[codec][base64]") {
    const std::string block = b64(random_bytes(48, 3));   // 64 characters, no padding
    for (const std::string& bad : {block + "QQ=", block + "Q===", block + "QQ==" + block, block + "=",
                                   "QQ=" + std::string("A") + block}) {
        INFO(bad.size());
        REQUIRE_FALSE(decode_chunked(bad, bad.size()));
        REQUIRE_FALSE(decode_chunked(bad, 1));
    }
    REQUIRE(decode_chunked(block + "QQ==", 7) == *reference_decode(block + "QQ=="));
    REQUIRE(decode_chunked(block + "QUI=", 7) == *reference_decode(block + "QUI="));
}

TEST_CASE("base64: an error is sticky", "[codec][base64]") {
    api::Base64Decoder dec;
    Blob out;
    REQUIRE_FALSE(dec.feed("QU*D", 4, out));
    REQUIRE(dec.failed());
    REQUIRE_FALSE(dec.feed("QUJD", 4, out));
    REQUIRE_FALSE(dec.finish(out));
}
