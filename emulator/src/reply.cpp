#include "reply.hpp"

#include <algorithm>
#include <cmath>

namespace nbcore::emulator {

std::size_t BodyOffset::resolve(std::size_t body_size) const {
    double at = fraction ? value * static_cast<double>(body_size) : value;
    if (!(at > 0)) return 0;   // also NaN
    if (at >= static_cast<double>(body_size)) return body_size;
    return static_cast<std::size_t>(std::floor(at));
}

void Modifiers::merge_from(const Modifiers& over) {
    if (over.delay_ms) delay_ms = over.delay_ms;
    if (over.stall_ms) stall_ms = over.stall_ms;
    if (over.stall_at) stall_at = over.stall_at;
    if (over.reset) reset = over.reset;
    if (over.reset_at) reset_at = over.reset_at;
    if (over.truncate_at) truncate_at = over.truncate_at;
    if (over.trickle_bytes) trickle_bytes = over.trickle_bytes;
    if (over.trickle_ms) trickle_ms = over.trickle_ms;
}

std::size_t Reply::body_size() const {
    std::size_t n = 0;
    for (const auto& s : segments) n += s.size();
    return n;
}

std::string Reply::body() const {
    std::string out;
    out.reserve(body_size());
    for (const auto& s : segments) out += s;
    return out;
}

ojson error_json(const ApiError& e) {
    ojson err = {{"code", e.http}, {"message", e.message}, {"status", e.status}};
    if (!e.details.empty()) err["details"] = e.details;
    return {{"error", err}};
}

std::string dump_for(const ojson& value, Framing framing) {
    // Invalid UTF-8 (a cut prompt, a hostile header) must never throw out of a handler.
    constexpr auto replace = ojson::error_handler_t::replace;
    return framing == Framing::Sse ? value.dump(-1, ' ', false, replace)
                                   : value.dump(2, ' ', false, replace);
}

Reply text_chunks_reply(int status, std::vector<std::string> chunk_texts, Framing framing) {
    Reply r;
    r.status = status;
    switch (framing) {
        case Framing::Unary:
            if (!chunk_texts.empty()) r.segments.push_back(std::move(chunk_texts.front()));
            break;
        case Framing::Sse:
            r.content_type = kSseType;
            r.chunked = true;
            for (auto& c : chunk_texts) r.segments.push_back("data: " + c + "\r\n\r\n");
            break;
        case Framing::JsonArray:
            r.chunked = true;
            for (std::size_t i = 0; i < chunk_texts.size(); ++i) {
                std::string piece = i == 0 ? "[" : ",\r\n";
                piece += chunk_texts[i];
                if (i + 1 == chunk_texts.size()) piece += "]";
                r.segments.push_back(std::move(piece));
            }
            if (chunk_texts.empty()) r.segments.push_back("[]");
            break;
    }
    return r;
}

Reply json_reply(int status, const std::vector<ojson>& chunks, Framing framing) {
    std::vector<std::string> texts;
    texts.reserve(chunks.size());
    for (const auto& c : chunks) texts.push_back(dump_for(c, framing));
    return text_chunks_reply(status, std::move(texts), framing);
}

Reply error_reply(const ApiError& e, Framing framing) {
    // An error that happens before a stream starts is a plain JSON body on the SSE route; the
    // JSON-array route wraps it in an array.
    Reply r;
    r.status = e.http;
    r.headers = e.headers;
    std::string body = dump_for(error_json(e), Framing::Unary);
    if (framing == Framing::JsonArray) body = "[" + body + "]";
    r.segments.push_back(std::move(body));
    return r;
}

}  // namespace nbcore::emulator
