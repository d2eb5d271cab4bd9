// The Gemini wire codec: Request -> generateContent JSON, and reply bytes -> Reply.
//
// Replies are decoded while they stream in. The decoder scans the JSON incrementally; the value of
// every inlineData.data string is base64-decoded straight into the image's Blob as bytes arrive,
// and everything else (small) is kept as a "skeleton" that is parsed with nlohmann::json at the
// end. A 45 MB 4K answer therefore never exists as one string, and the image is written once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "nbcore/blob.hpp"
#include "nbcore/reply.hpp"
#include "nbcore/request.hpp"

namespace nbcore::api {

// Body of POST .../models/{model}:generateContent (and :streamGenerateContent). lowerCamelCase,
// as the SDKs send it. Input images are base64-encoded directly into the output string.
std::string encode_request(const Request& req);

// Standard base64 (RFC 4648, with padding).
std::string base64_encode(const std::uint8_t* data, std::size_t n);
void base64_encode_append(std::string& out, const std::uint8_t* data, std::size_t n);

// Incremental base64 decoder: accepts the alphabet plus '=' padding, tolerates JSON's escaped
// slash ("\/") when fed through ReplyDecoder, rejects anything else.
class Base64Decoder {
public:
    // Decodes `n` characters and appends the bytes to `out`. Returns false on an invalid
    // character or data after padding; the error is then sticky.
    bool feed(const char* s, std::size_t n, Blob& out);
    // True when the input ended on a quantum boundary (or with valid padding).
    bool finish(Blob& out);
    bool failed() const noexcept { return failed_; }

private:
    std::uint32_t acc_ = 0;
    int have_ = 0;       // sextets in acc_
    int pad_ = 0;        // '=' seen
    bool failed_ = false;
};

// What the body framing is. Chosen from Content-Type when known, else sniffed.
enum class Framing { Auto, Json, Sse };

struct DecodeLimits {
    std::size_t max_body_bytes = 64u << 20;     // raw bytes fed (after content decoding)
    std::size_t max_skeleton_bytes = 8u << 20;  // JSON outside image data
};

// Thrown-free incremental decoder. Feed raw body bytes as they arrive; call finish() at the end.
// Errors are reported as a status code plus message (the engine turns them into BAD_RESPONSE).
class ReplyDecoder {
public:
    explicit ReplyDecoder(Framing framing = Framing::Auto, DecodeLimits limits = {});
    ~ReplyDecoder();
    ReplyDecoder(const ReplyDecoder&) = delete;
    ReplyDecoder& operator=(const ReplyDecoder&) = delete;

    // Optional hint: the size the body will have (Content-Length), to reserve image buffers.
    void expect_body_size(std::size_t n);

    // Returns false once the input is known to be malformed or over a limit (sticky).
    bool feed(const char* data, std::size_t n);
    bool feed(std::string_view s) { return feed(s.data(), s.size()); }

    // Completes the parse. Returns false when the body was malformed, truncated or empty; the
    // reason is in error(). On success the Reply is ready to take().
    bool finish();

    const std::string& error() const noexcept;    // "" while all is well
    bool over_limit() const noexcept;              // the failure was a size limit
    std::size_t bytes_fed() const noexcept;
    // The raw bytes of the body with image data elided (for error classification and logs);
    // for non-JSON bodies (an HTML 502 page) the first bytes verbatim.
    const std::string& skeleton() const noexcept;

    Reply take();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Convenience for whole bodies already in memory (tests, diagnose): decode in one go.
// Returns false with `err` set when malformed.
bool decode_reply(std::string_view body, Reply& out, std::string& err,
                  Framing framing = Framing::Auto);

// Reply::parts_json with its image references ("#<n>": the n-th image of the reply in part order,
// thought and final images counted together) replaced by the images' base64 data: the model turn
// to echo back for a multi-turn edit. "" when the reply had no parts.
std::string parts_json_with_images(const Reply& reply);

}  // namespace nbcore::api
