// Helpers shared by the codec tests: random "images", body templates, chunked decoding, and a
// canonical dump of a Reply for comparisons.
#pragma once

#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "nbcore/codec.hpp"

namespace codec_test {

using namespace nbcore;

// Image bytes are opaque to the codec: random bytes of a given size, reproducible by seed.
inline std::string random_bytes(std::size_t n, unsigned seed) {
    std::mt19937 gen(seed);
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(gen() & 0xFF);
    return s;
}

inline std::string b64(std::string_view raw) {
    return api::base64_encode(reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size());
}

// Replaces every occurrence of `key` in `body`.
inline std::string substitute(std::string body, std::string_view key, std::string_view value) {
    for (std::size_t at = body.find(key); at != std::string::npos; at = body.find(key, at + value.size()))
        body.replace(at, key.size(), value);
    return body;
}

struct Decoded {
    bool ok = false;
    bool fed_ok = false;
    bool over_limit = false;
    std::string error;
    std::string skeleton;
    Reply reply;
};

// Feeds `body` in chunks of `chunk` bytes (0 = in one go), then finishes.
inline Decoded decode(std::string_view body, std::size_t chunk = 0,
                      api::Framing framing = api::Framing::Auto, api::DecodeLimits limits = {},
                      bool hint = true) {
    api::ReplyDecoder dec(framing, limits);
    if (hint) dec.expect_body_size(body.size());
    Decoded d;
    d.fed_ok = true;
    if (chunk == 0) chunk = body.size() ? body.size() : 1;
    for (std::size_t i = 0; i < body.size() && d.fed_ok; i += chunk)
        d.fed_ok = dec.feed(body.substr(i, chunk));
    d.ok = d.fed_ok && dec.finish();
    d.over_limit = dec.over_limit();
    d.error = dec.error();
    d.skeleton = dec.skeleton();
    d.reply = dec.take();
    return d;
}

inline std::string image_text(const ReplyImage& img) {
    return img.data ? std::string(img.data->view()) : std::string("<null>");
}

// Every field of a Reply, as text: two decodes agree iff their dumps are equal.
inline std::string dump(const Reply& r) {
    std::ostringstream o;
    auto images = [&](const char* name, const std::vector<ReplyImage>& list) {
        for (const auto& img : list)
            o << name << ' ' << img.mime << ' ' << img.thought << ' ' << img.thought_signature << ' '
              << b64(image_text(img)) << '\n';
    };
    images("image", r.images);
    images("thought_image", r.thought_images);
    o << "text " << r.text << "\nthought_text " << r.thought_text << "\nsig " << r.text_signature
      << "\nparts " << r.parts_json << "\ncands " << r.candidate_count << ' ' << r.has_content
      << "\nfinish " << r.finish_reason << " | " << r.finish_message << "\nblock " << r.block_reason
      << " | " << r.block_reason_message << "\nblocked";
    for (const auto& c : r.blocked_categories) o << ' ' << c;
    const Usage& u = r.usage;
    o << "\nusage " << u.present << ' ' << u.prompt_tokens << ' ' << u.cached_tokens << ' '
      << u.candidates_tokens << ' ' << u.thoughts_tokens << ' ' << u.tool_use_prompt_tokens << ' '
      << u.total_tokens << ' ' << u.traffic_type;
    for (const auto& d : u.prompt_details) o << " p:" << d.modality << '=' << d.tokens;
    for (const auto& d : u.candidates_details) o << " c:" << d.modality << '=' << d.tokens;
    o << "\nmodel " << r.model_version << " id " << r.response_id << " chunks " << r.chunks;
    if (r.error)
        o << "\nerror " << r.error->code << ' ' << r.error->status << ' ' << r.error->message << ' '
          << r.error->details_json;
    return o.str();
}

}  // namespace codec_test
