// Pure decisions of the libcurl transport, kept apart from the curl glue so each is tested on its own.
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "nbcore/clock.hpp"
#include "nbcore/transport.hpp"

namespace nbcore::net::detail {

using std::chrono::milliseconds;

// What a finished transfer's CURLcode means for the caller. curl reports connect-phase and whole-
// exchange timeouts with the same code, and "HTTP/0.9 or unknown version" replies with the code it
// also uses for unsupported URL schemes; `connected` (a connection was established or reused)
// and the configured timeouts tell them apart.
TransportErrorKind kind_for_curl_code(CURLcode code, bool connected, const Timeouts& timeouts) noexcept;

// True when the query string carries a `key` parameter (the legacy form of the API key), whatever
// its case or percent-encoding.
bool url_has_key_param(std::string_view url) noexcept;

// TLS checks may be switched off only for a loopback URL whose request asks for it.
bool tls_checks_required(std::string_view url, bool allow_insecure_loopback) noexcept;

// "HTTP/1.1 200 OK" -> {200, "1.1"}; "HTTP/2 404" -> {404, "2"}; nullopt for other lines.
struct StatusLine {
    int status = 0;
    std::string version;
};
std::optional<StatusLine> parse_status_line(std::string_view line);

// curl's error text with every request header value (and anything that looks like a key) masked,
// so a detail string can never repeat a secret.
std::string scrub_detail(std::string_view text, const Headers& request_headers);

// A negative limit means the caller's budget ran out before the send: that timer has fired
// already (total first, then connect, first byte, idle). None when every limit is usable.
TransportErrorKind spent_timer(const Timeouts& t) noexcept;

// When the request and response reached their milestones; drives our own timers.
struct TransferMarks {
    std::optional<SteadyTime> request_sent;   // the body was fully handed to curl
    std::optional<SteadyTime> first_byte;     // the first response byte (a header line) arrived
    std::optional<SteadyTime> last_byte;      // the latest response bytes arrived
};

// The first-byte and idle timers (connect and total are curl's). Which one has run out at `now`
// (None when neither), and when the next one would.
TransportErrorKind expired_timer(const TransferMarks& marks, const Timeouts& t, SteadyTime now) noexcept;
std::optional<SteadyTime> next_timer_deadline(const TransferMarks& marks, const Timeouts& t) noexcept;

// How long a driver may sleep in curl_multi_poll before our next timer is due: rounded up to whole
// milliseconds, at most `max_ms` so a lost wake-up is never fatal.
int poll_wait_ms(std::optional<SteadyTime> deadline, SteadyTime now, int max_ms = 1000) noexcept;

// curl silently re-sends a request when a reused connection turns out dead before any reply byte.
// Once the whole body went out the server may have received it, and an image request that runs
// twice is billed twice: every request that leaves this machine must be an attempt the engine
// counts (max_attempts bounds what is sent). So a re-send is allowed only while the body had not
// all gone out. Connections idle for long are not reused at all (kMaxConnectionAge), which keeps
// the keep-alive race rare.
bool may_resend(const TransferMarks& marks, SteadyTime now) noexcept;
constexpr long kMaxConnectionAgeSeconds = 30;

}  // namespace nbcore::net::detail
