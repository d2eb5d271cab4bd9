// What the emulator sends back: status, headers, body (in pieces), and how to deliver it
// (delays, stalls, resets, truncation). Built by pure functions, sent by the server.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace nbcore::emulator {

using ojson = nlohmann::ordered_json;   // output keeps the field order the real API uses
using Headers = std::vector<std::pair<std::string, std::string>>;

inline constexpr const char* kJsonType = "application/json; charset=UTF-8";
inline constexpr const char* kSseType = "text/event-stream";
inline constexpr const char* kHtmlType = "text/html; charset=UTF-8";

// A position in a reply body: a byte count, or a fraction of the body ("0.5").
// Negative bytes mean "before the status line" (only meaningful for reset_at).
struct BodyOffset {
    double value = 0;
    bool fraction = false;

    static BodyOffset bytes(long long n) { return {static_cast<double>(n), false}; }
    static BodyOffset part(double f) { return {f, true}; }
    bool before_headers() const { return !fraction && value < 0; }
    std::size_t resolve(std::size_t body_size) const;   // clamped to [0, body_size]
};

// How a reply is delivered. Unset fields take the fault's defaults, then the server's.
struct Modifiers {
    std::optional<int> delay_ms;              // before the first byte
    std::optional<int> stall_ms;              // silence in the middle of the body...
    std::optional<BodyOffset> stall_at;       // ...after this much of it
    std::optional<bool> reset;                // end with a TCP RST...
    std::optional<BodyOffset> reset_at;       // ...after this much of the body
    std::optional<BodyOffset> truncate_at;    // close (FIN) after this much of the body
    std::optional<int> trickle_bytes;         // send in pieces of this size...
    std::optional<int> trickle_ms;            // ...with these pauses

    // Fields set in `over` replace ours.
    void merge_from(const Modifiers& over);
};

// How a route frames its answers.
enum class Framing {
    Unary,       // one JSON value
    Sse,         // streamGenerateContent?alt=sse: "data: {...}\r\n\r\n" events
    JsonArray,   // streamGenerateContent without alt=sse: "[{...},\r\n{...}]"
};

struct Reply {
    int status = 200;
    std::string content_type = kJsonType;
    Headers headers;                      // extra headers (WWW-Authenticate, custom ones)
    std::vector<std::string> segments;    // the body; each piece is one write (one SSE event)
    bool chunked = false;                 // Transfer-Encoding: chunked (stream routes)
    bool google_headers = true;           // add the Google front end's usual headers
    bool generated = false;               // a model answer: the server's latency applies
    bool empty_reply = false;             // close the connection without a byte (FIN)
    Modifiers mods;
    std::string fault = "pass";           // for the request log: fault name, "pass", "custom"
    nlohmann::json render_note;           // for the request log: what a mask edit or cutout drew

    std::size_t body_size() const;
    std::string body() const;             // the segments joined (tests, logs)
};

// google.rpc.Status as the API sends it inside {"error": ...}.
struct ApiError {
    int http = 400;
    std::string status = "INVALID_ARGUMENT";
    std::string message;
    ojson details = ojson::array();
    Headers headers;
};

ojson error_json(const ApiError& e);     // {"error": {"code", "message", "status", "details"?}}

// JSON text as the API writes it: pretty-printed with two spaces for whole bodies, one line
// per event on the SSE route.
std::string dump_for(const ojson& value, Framing framing);

// Frame JSON values for a route. `chunks` are GenerateContentResponse objects (Unary uses the
// first). Errors on the JSON-array stream route are wrapped in an array, as the API does.
Reply json_reply(int status, const std::vector<ojson>& chunks, Framing framing);
Reply error_reply(const ApiError& e, Framing framing);
// JSON text already serialized (large answers splice image data into it).
Reply text_chunks_reply(int status, std::vector<std::string> chunk_texts, Framing framing);

}  // namespace nbcore::emulator
