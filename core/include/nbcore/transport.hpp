// The HTTP transport interface and its libcurl implementation.
//
// A transport sends one request and streams the reply body into a sink as it arrives (the reply
// decoder sits behind the sink, so large answers are never buffered whole). It reports transport
// failures as data, never by throwing, including whether the request may have reached the server.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nbcore/clock.hpp"

namespace nbcore::net {

using Headers = std::vector<std::pair<std::string, std::string>>;

// Case-insensitive lookup; "" when absent.
std::string_view header_value(const Headers& h, std::string_view name) noexcept;

// "Name: value" lines separated by \n, as nbc_diagnose takes them: a trailing \r is dropped,
// blanks after the colon are skipped, and lines without a name are ignored.
Headers parse_header_lines(std::string_view text);

struct Timeouts {
    std::chrono::milliseconds connect{10'000};
    std::chrono::milliseconds first_byte{0};   // 0 = none; request sent -> first reply byte
    std::chrono::milliseconds idle{0};         // 0 = none; longest gap between body bytes
    std::chrono::milliseconds total{0};        // 0 = none; whole exchange
};

struct HttpRequest {
    std::string method = "POST";
    std::string url;
    Headers headers;            // secrets travel only here (x-goog-api-key / Authorization)
    std::string body;
    Timeouts timeouts;
    bool allow_insecure_loopback = true;   // TLS checks are never off for non-loopback hosts
};

// Receives the reply as it streams. Return false from on_body to abort (e.g. body over a cap).
class BodySink {
public:
    virtual ~BodySink() = default;
    virtual void on_status(int http_status, const Headers& headers) = 0;
    virtual bool on_body(const char* data, std::size_t n) = 0;
};

enum class TransportErrorKind {
    None,
    Dns,               // could not resolve the host
    Connect,           // refused / unreachable
    Tls,               // handshake or certificate failure
    Send,              // failed while sending the request
    Reset,             // connection reset or closed before the reply completed
    Truncated,         // the body ended short of its declared length
    ConnectTimeout,
    FirstByteTimeout,  // nothing came back in time
    IdleTimeout,       // the body stalled
    TotalTimeout,
    Cancelled,
    Aborted,           // the sink refused more data (over a limit)
    Protocol,          // malformed HTTP
    Other,
};

std::string_view transport_error_name(TransportErrorKind k) noexcept;

struct TransportResult {
    TransportErrorKind error = TransportErrorKind::None;
    std::string detail;              // curl's text, never containing the key
    bool request_sent = false;       // the whole request left this machine ("possibly executed")
    bool response_started = false;   // at least the status line arrived
    int http_status = 0;
    std::size_t bytes_received = 0;
    std::chrono::milliseconds duration{0};
    std::string http_version;        // "1.1", "2"
};

class Transport {
public:
    virtual ~Transport() = default;
    virtual TransportResult send(const HttpRequest& req, BodySink& sink,
                                 const CancelToken* cancel) = 0;
};

// libcurl (easy handle driven through a private multi handle so that cancellation and the
// first-byte / idle timers are enforced to the millisecond). gzip and HTTP/2 where offered;
// TLS verification always on except for loopback URLs when the request allows it.
std::shared_ptr<Transport> make_curl_transport();

// True for http(s)://127.x.x.x, [::1] and localhost URLs.
bool is_loopback_url(std::string_view url) noexcept;

}  // namespace nbcore::net
