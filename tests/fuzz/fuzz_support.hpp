// Shared by the fuzz targets: failing loudly, splitting an input into chunks, and a comparable
// summary of a decoded Reply. Header-only; each target is one translation unit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "nbcore/codec.hpp"
#include "nbcore/reply.hpp"

namespace nbfuzz {

// A broken property is a finding: print it and abort, so libFuzzer saves the input as a crash.
[[noreturn]] inline void fail(std::string_view what, std::string_view detail = {}) {
    std::fprintf(stderr, "\nnbcore fuzz property violated: %.*s\n%.*s\n", static_cast<int>(what.size()),
                 what.data(), static_cast<int>(detail.size()), detail.data());
    std::abort();
}

inline void require(bool ok, std::string_view what) {
    if (!ok) fail(what);
}

inline void require_equal(const std::string& a, const std::string& b, std::string_view what) {
    if (a != b) fail(what, "first:  " + a + "\nsecond: " + b);
}

// FNV-1a: a stable seed from the input itself, so a saved crash replays exactly.
inline std::uint64_t fnv1a(const std::uint8_t* data, std::size_t n) {
    std::uint64_t h = 14695981039346656037ull;
    for (std::size_t i = 0; i < n; ++i) h = (h ^ data[i]) * 1099511628211ull;
    return h;
}

// Chunk lengths as a network delivers them: mostly small and ragged (1..16 bytes, so every
// boundary lands inside tokens, escapes and line ends), now and then a large piece.
class ChunkPlan {
public:
    explicit ChunkPlan(std::uint64_t seed) : state_(seed | 1) {}

    std::size_t next_length() {
        std::uint64_t r = next_random();
        return (r & 7) == 0 ? 1 + (r >> 8) % 4096 : 1 + (r >> 8) % 16;
    }

private:
    std::uint64_t next_random() {   // xorshift64
        state_ ^= state_ << 13;
        state_ ^= state_ >> 7;
        state_ ^= state_ << 17;
        return state_;
    }
    std::uint64_t state_;
};

// Calls feed(pointer, length) over consecutive pieces of [data, data + n) until it returns false.
template <class Feed>
bool feed_in_chunks(const std::uint8_t* data, std::size_t n, ChunkPlan plan, Feed&& feed) {
    std::size_t at = 0;
    while (at < n) {
        std::size_t len = plan.next_length();
        if (len > n - at) len = n - at;
        if (!feed(reinterpret_cast<const char*>(data + at), len)) return false;
        at += len;
    }
    return true;
}

inline std::string hex_of(std::uint64_t v) {
    char buf[20];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
    return buf;
}

inline std::string describe_images(const std::vector<nbcore::ReplyImage>& images) {
    std::string out;
    for (const auto& im : images) {
        out += "[" + im.mime + " " + (im.thought ? "thought " : "") + im.thought_signature + " ";
        out += im.data ? std::to_string(im.data->size()) + " bytes " + hex_of(fnv1a(im.data->data(), im.data->size()))
                       : std::string("null");
        out += "]";
    }
    return out;
}

// Everything a caller can read from a Reply, as one string: two decodes of the same body must
// give equal summaries.
inline std::string describe(const nbcore::Reply& r) {
    std::string s;
    auto field = [&s](std::string_view name, const std::string& value) {
        s.append(name).append("=").append(value).append("\n");
    };
    field("images", describe_images(r.images));
    field("thought_images", describe_images(r.thought_images));
    field("text", r.text);
    field("thought_text", r.thought_text);
    field("text_signature", r.text_signature);
    field("parts_json", r.parts_json);
    field("candidates", std::to_string(r.candidate_count) + (r.has_content ? " content" : " empty"));
    field("finish", r.finish_reason + " / " + r.finish_message);
    field("block", r.block_reason + " / " + r.block_reason_message);
    std::string blocked;
    for (const auto& c : r.blocked_categories) blocked += c + ",";
    field("blocked", blocked);
    const auto& u = r.usage;
    field("usage", (u.present ? "present " : "absent ") + std::to_string(u.prompt_tokens) + " " +
                       std::to_string(u.cached_tokens) + " " + std::to_string(u.candidates_tokens) + " " +
                       std::to_string(u.thoughts_tokens) + " " + std::to_string(u.total_tokens) + " " +
                       std::to_string(u.prompt_details.size()) + " " +
                       std::to_string(u.candidates_details.size()) + " " + u.traffic_type);
    field("model", r.model_version + " / " + r.response_id);
    field("error", r.error ? std::to_string(r.error->code) + " " + r.error->status + " " + r.error->message +
                                 " " + r.error->details_json
                           : std::string("none"));
    field("chunks", std::to_string(r.chunks));
    return s;
}

// What one ReplyDecoder run produced: what the engine reads after a body has been received.
struct Decoded {
    bool ok = false;
    bool over_limit = false;
    std::string error;
    std::string skeleton;   // the engine classifies error bodies from it
    nbcore::Reply reply;
};

inline Decoded finish_decoding(nbcore::api::ReplyDecoder& dec, bool fed_ok) {
    Decoded d;
    d.ok = dec.finish() && fed_ok;
    d.over_limit = dec.over_limit();
    d.error = dec.error();
    d.skeleton = dec.skeleton();
    d.reply = dec.take();
    return d;
}

inline Decoded decode_whole(const std::uint8_t* data, std::size_t n, nbcore::api::Framing framing,
                            nbcore::api::DecodeLimits limits = {}) {
    nbcore::api::ReplyDecoder dec(framing, limits);
    dec.expect_body_size(n);
    bool fed = dec.feed(reinterpret_cast<const char*>(data), n);
    return finish_decoding(dec, fed);
}

inline Decoded decode_chunked(const std::uint8_t* data, std::size_t n, nbcore::api::Framing framing,
                              ChunkPlan plan) {
    nbcore::api::ReplyDecoder dec(framing);
    bool fed = feed_in_chunks(data, n, plan, [&dec](const char* p, std::size_t len) { return dec.feed(p, len); });
    return finish_decoding(dec, fed);
}

// Chunking is the network's choice, so it must not change anything the engine sees.
inline void require_same_decoding(const Decoded& a, const Decoded& b, std::string_view what) {
    if (a.ok != b.ok) fail(what, std::string("ok differs: ") + (a.ok ? "yes" : "no") + " vs " + (b.ok ? "yes" : "no") +
                                     "; errors: '" + a.error + "' vs '" + b.error + "'");
    require_equal(a.error, b.error, what);
    require(a.over_limit == b.over_limit, what);
    require_equal(a.skeleton, b.skeleton, what);
    if (a.ok) require_equal(describe(a.reply), describe(b.reply), what);
}

}  // namespace nbfuzz
