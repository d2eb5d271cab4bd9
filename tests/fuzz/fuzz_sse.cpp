// The SSE framing of streamGenerateContent?alt=sse (ReplyDecoder with Framing::Sse): events of
// data lines, comments, CR / LF / CRLF line ends, bare JSON error lines, events that span chunks.
//
// Properties:
//   - never crashes, leaks or hits UB;
//   - the result does not depend on where the network cut the stream: ragged chunks and one byte
//     at a time decode exactly like one feed (Reply, error text, skeleton);
//   - a stream that decodes carried at least one JSON event.
#include <cstddef>
#include <cstdint>

#include "fuzz_support.hpp"
#include "nbcore/codec.hpp"

namespace {

using nbcore::api::Framing;

// One byte per feed is the worst case for every state that spans a boundary; the cap keeps an
// execution fast on large inputs.
constexpr std::size_t kByteByByteMax = 4096;

nbfuzz::Decoded decode_byte_by_byte(const std::uint8_t* data, std::size_t n) {
    nbcore::api::ReplyDecoder dec(Framing::Sse);
    bool fed = true;
    for (std::size_t i = 0; i < n && fed; ++i) fed = dec.feed(reinterpret_cast<const char*>(data + i), 1);
    return nbfuzz::finish_decoding(dec, fed);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    nbfuzz::Decoded whole = nbfuzz::decode_whole(data, size, Framing::Sse);
    if (whole.ok) nbfuzz::require(whole.reply.chunks >= 1, "an SSE stream decoded without any event");

    nbfuzz::Decoded chunked = nbfuzz::decode_chunked(data, size, Framing::Sse, nbfuzz::ChunkPlan(nbfuzz::fnv1a(data, size)));
    nbfuzz::require_same_decoding(whole, chunked, "SSE: ragged chunks decode differently from one feed");

    if (size <= kByteByByteMax)
        nbfuzz::require_same_decoding(whole, decode_byte_by_byte(data, size),
                                      "SSE: one byte at a time decodes differently from one feed");
    return 0;
}
