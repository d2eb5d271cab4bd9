// The reply decoder on any body (framing sniffed, as for generateContent): it never crashes, and
// the ways of reaching a Reply that must agree do agree.
//
// Properties:
//   - chunked feeding (ragged network-sized pieces) decodes exactly like one feed;
//   - Framing::Json, when it accepts the body, gives the same Reply as the sniffed framing;
//   - a tight skeleton limit either fails as over_limit or gives the same Reply;
//   - a decoded reply's model turn (parts_json_with_images) is a JSON array whenever the reply had
//     parts, and every deliverable image has bytes.
#include <cstddef>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "fuzz_support.hpp"
#include "nbcore/codec.hpp"

namespace {

using nbcore::api::DecodeLimits;
using nbcore::api::Framing;

void check_model_turn(const nbcore::Reply& reply) {
    for (const nbcore::ReplyImage* im : nbcore::deliverable_images(reply))
        nbfuzz::require(im != nullptr && im->data != nullptr, "a deliverable image without bytes");
    if (reply.parts_json.empty()) return;
    std::string turn = nbcore::api::parts_json_with_images(reply);
    nbfuzz::require(!turn.empty(), "parts_json_with_images lost the parts of a decoded reply");
    auto parsed = nlohmann::json::parse(turn, nullptr, /*allow_exceptions=*/false);
    nbfuzz::require(parsed.is_array(), "parts_json_with_images is not a JSON array");
}

void check_strict_json_framing(const std::uint8_t* data, std::size_t n, const nbfuzz::Decoded& sniffed) {
    nbfuzz::Decoded strict = nbfuzz::decode_whole(data, n, Framing::Json);
    if (!strict.ok) return;
    nbfuzz::require(sniffed.ok, "Framing::Json accepted a body the sniffed framing refused");
    nbfuzz::require_equal(nbfuzz::describe(sniffed.reply), nbfuzz::describe(strict.reply),
                          "Framing::Json and the sniffed framing decode differently");
}

void check_tight_limit(const std::uint8_t* data, std::size_t n, const nbfuzz::Decoded& normal) {
    DecodeLimits tight;
    tight.max_skeleton_bytes = 256;
    nbfuzz::Decoded limited = nbfuzz::decode_whole(data, n, Framing::Auto, tight);
    if (!limited.ok) return;
    nbfuzz::require(normal.ok, "a tight limit accepted a body the default limits refused");
    nbfuzz::require_equal(nbfuzz::describe(normal.reply), nbfuzz::describe(limited.reply),
                          "a tight skeleton limit changed the decoded reply");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    nbfuzz::Decoded whole = nbfuzz::decode_whole(data, size, Framing::Auto);
    nbfuzz::Decoded chunked = nbfuzz::decode_chunked(data, size, Framing::Auto, nbfuzz::ChunkPlan(nbfuzz::fnv1a(data, size)));
    nbfuzz::require_same_decoding(whole, chunked, "chunked feeding decodes differently from one feed");
    if (whole.ok) check_model_turn(whole.reply);
    check_strict_json_framing(data, size, whole);
    check_tight_limit(data, size, whole);
    return 0;
}
