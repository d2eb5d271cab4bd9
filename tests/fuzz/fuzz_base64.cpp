// The streaming base64 decoder (api::Base64Decoder: AVX2 blocks, a scalar quantum loop and a
// per-character state machine for padding and chunk edges) and the encoder.
//
// Properties, for any input taken as base64 text:
//   - one feed, ragged chunks and a plain reference decoder agree on acceptance and on the bytes;
// and for any input taken as binary data:
//   - encode then decode gives the input back, however the text is chunked.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "nbcore/blob.hpp"
#include "nbcore/codec.hpp"

namespace {

using Bytes = std::vector<std::uint8_t>;

int sextet(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

// The accepted language, written as the decoder documents it rather than as it is implemented:
// alphabet characters, then either nothing or the '=' that complete the last quantum to 4
// characters; an unpadded tail of 2 or 3 characters is accepted, a lone 1 never.
std::optional<Bytes> reference_decode(std::string_view text) {
    std::size_t pad_at = text.find('=');
    std::string_view body = text.substr(0, pad_at);
    std::string_view padding = pad_at == std::string_view::npos ? std::string_view() : text.substr(pad_at);
    for (char c : body)
        if (sextet(c) < 0) return std::nullopt;
    if (padding.find_first_not_of('=') != std::string_view::npos) return std::nullopt;
    std::size_t tail = body.size() % 4;
    if (tail == 1) return std::nullopt;
    if (!padding.empty() && (tail == 0 || tail + padding.size() != 4)) return std::nullopt;

    Bytes out;
    for (std::size_t at = 0; at < body.size(); at += 4) {
        std::size_t k = body.size() - at < 4 ? body.size() - at : 4;
        std::uint32_t v = 0;
        for (std::size_t i = 0; i < 4; ++i) v = (v << 6) | (i < k ? static_cast<std::uint32_t>(sextet(body[at + i])) : 0u);
        const std::uint8_t group[3] = {std::uint8_t(v >> 16), std::uint8_t(v >> 8), std::uint8_t(v)};
        out.insert(out.end(), group, group + (k - 1));
    }
    return out;
}

std::optional<Bytes> decode_whole(std::string_view text) {
    nbcore::api::Base64Decoder dec;
    nbcore::Blob out;
    bool ok = dec.feed(text.data(), text.size(), out) && dec.finish(out);
    nbfuzz::require(ok != dec.failed(), "Base64Decoder::failed() disagrees with the results");
    if (!ok) return std::nullopt;
    return Bytes(out.data(), out.data() + out.size());
}

std::optional<Bytes> decode_chunked(std::string_view text, nbfuzz::ChunkPlan plan) {
    nbcore::api::Base64Decoder dec;
    nbcore::Blob out;
    bool ok = nbfuzz::feed_in_chunks(reinterpret_cast<const std::uint8_t*>(text.data()), text.size(), plan,
                                     [&](const char* p, std::size_t n) { return dec.feed(p, n, out); }) &&
              dec.finish(out);
    if (!ok) return std::nullopt;
    return Bytes(out.data(), out.data() + out.size());
}

void require_same(const std::optional<Bytes>& a, const std::optional<Bytes>& b, std::string_view what) {
    if (a.has_value() != b.has_value()) nbfuzz::fail(what, a ? "first accepted, second refused" : "first refused, second accepted");
    if (a && *a != *b) nbfuzz::fail(what, "decoded bytes differ");
}

void check_decoding(std::string_view text, std::uint64_t seed) {
    auto whole = decode_whole(text);
    require_same(reference_decode(text), whole, "Base64Decoder (one feed) disagrees with the reference decoder");
    require_same(whole, decode_chunked(text, nbfuzz::ChunkPlan(seed)), "Base64Decoder: chunked feeding differs from one feed");
}

void check_round_trip(const std::uint8_t* data, std::size_t n, std::uint64_t seed) {
    std::string text = nbcore::api::base64_encode(data, n);
    nbfuzz::require(text.size() == (n + 2) / 3 * 4, "base64_encode wrote the wrong length");
    Bytes original(data, data + n);
    require_same(original, decode_whole(text), "encode then decode (one feed) does not give the input back");
    require_same(original, decode_chunked(text, nbfuzz::ChunkPlan(seed)),
                 "encode then decode (chunked) does not give the input back");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::uint64_t seed = nbfuzz::fnv1a(data, size);
    check_decoding(std::string_view(reinterpret_cast<const char*>(data), size), seed);
    check_round_trip(data, size, seed);
    return 0;
}
