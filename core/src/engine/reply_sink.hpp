// Receives one attempt's reply as it streams (on the I/O thread). Error statuses are small: kept
// raw for classification. Success bodies go through the streaming decoder, so images are decoded
// as they arrive and the body is never held whole.
#pragma once

#include <cstdlib>
#include <functional>
#include <memory>
#include <string>

#include "nbcore/codec.hpp"
#include "nbcore/transport.hpp"

namespace nbcore::engine {

class ReplySink final : public net::BodySink {
public:
    explicit ReplySink(const api::DecodeLimits& limits) : limits_(limits) {}

    std::function<void()> on_first_byte;   // optional: the answer started

    void on_status(int status, const net::Headers& headers) override {
        status_ = status;
        headers_ = headers;
        if (on_first_byte) on_first_byte();
        if (status >= 200 && status < 300) {
            auto ctype = net::header_value(headers, "content-type");
            auto framing = ctype.find("event-stream") != std::string_view::npos ? api::Framing::Sse
                                                                                : api::Framing::Auto;
            decoder_ = std::make_unique<api::ReplyDecoder>(framing, limits_);
            auto clen = net::header_value(headers, "content-length");
            if (!clen.empty())
                decoder_->expect_body_size(std::strtoull(std::string(clen).c_str(), nullptr, 10));
        }
    }

    bool on_body(const char* data, std::size_t n) override {
        bytes_ += n;
        if (decoder_) {
            if (decoder_->feed(data, n)) return true;
            stopped_on_decode_error_ = true;
            return false;
        }
        // Error bodies: keep the first MiB (real ones are a few KB; HTML pages a few more).
        constexpr std::size_t kErrorBodyCap = 1u << 20;
        if (raw_.size() < kErrorBodyCap) raw_.append(data, std::min(n, kErrorBodyCap - raw_.size()));
        return true;
    }

    int status() const { return status_; }
    const net::Headers& headers() const { return headers_; }
    api::ReplyDecoder* decoder() { return decoder_.get(); }
    const std::string& raw() const { return raw_; }
    bool stopped_on_decode_error() const { return stopped_on_decode_error_; }
    std::size_t bytes() const { return bytes_; }

private:
    api::DecodeLimits limits_;
    int status_ = 0;
    net::Headers headers_;
    std::unique_ptr<api::ReplyDecoder> decoder_;
    std::string raw_;
    std::size_t bytes_ = 0;
    bool stopped_on_decode_error_ = false;
};

}  // namespace nbcore::engine
