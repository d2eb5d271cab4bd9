// Pure decisions of the libcurl transport (see net_internal.hpp).
#include <algorithm>
#include <cstddef>

#include "nbcore/redact.hpp"
#include "net/net_internal.hpp"

namespace nbcore::net::detail {
namespace {

char ascii_lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    c = ascii_lower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

// A query parameter name, percent-decoded and lower-cased ("%4Bey" -> "key").
std::string decode_param_name(std::string_view raw) {
    std::string out;
    for (std::size_t i = 0; i < raw.size(); ++i) {
        char c = raw[i];
        if (c == '%' && i + 2 < raw.size() && hex_value(raw[i + 1]) >= 0 && hex_value(raw[i + 2]) >= 0) {
            c = static_cast<char>(hex_value(raw[i + 1]) * 16 + hex_value(raw[i + 2]));
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        out += ascii_lower(c);
    }
    return out;
}

// curl's default connect timeout when none is set.
constexpr milliseconds kCurlDefaultConnectTimeout{300'000};

TransportErrorKind timeout_kind(bool connected, const Timeouts& t) noexcept {
    if (connected) return TransportErrorKind::TotalTimeout;
    auto connect = t.connect.count() > 0 ? t.connect : kCurlDefaultConnectTimeout;
    // Still connecting: whichever of the two limits is shorter is the one that fired.
    if (t.total.count() > 0 && t.total < connect) return TransportErrorKind::TotalTimeout;
    return TransportErrorKind::ConnectTimeout;
}

}  // namespace

TransportErrorKind kind_for_curl_code(CURLcode code, bool connected, const Timeouts& timeouts) noexcept {
    using K = TransportErrorKind;
    switch (code) {
        case CURLE_OK: return K::None;

        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY: return K::Dns;

        case CURLE_COULDNT_CONNECT:
        case CURLE_QUIC_CONNECT_ERROR: return K::Connect;

        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CRL_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
        case CURLE_SSL_CLIENTCERT:
        case CURLE_SSL_SHUTDOWN_FAILED: return K::Tls;

        case CURLE_SEND_ERROR: return K::Send;

        // The peer went away before the reply was complete. SEND_FAIL_REWIND only happens when we
        // refused curl's silent re-send after a reused connection died (see may_resend).
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_HTTP2_STREAM:
        case CURLE_SEND_FAIL_REWIND: return K::Reset;

        case CURLE_PARTIAL_FILE: return K::Truncated;

        case CURLE_OPERATION_TIMEDOUT: return timeout_kind(connected, timeouts);

        // Our callbacks stop a transfer only when the sink refuses data (or throws).
        case CURLE_WRITE_ERROR:
        case CURLE_ABORTED_BY_CALLBACK: return K::Aborted;

        case CURLE_WEIRD_SERVER_REPLY:
        case CURLE_HTTP2:
        case CURLE_HTTP3:
        case CURLE_BAD_CONTENT_ENCODING:
        case CURLE_TOO_MANY_REDIRECTS: return K::Protocol;

        // Before a connection this is an unusable URL scheme; after, an HTTP/0.9 or unknown-version reply.
        case CURLE_UNSUPPORTED_PROTOCOL: return connected ? K::Protocol : K::Other;

        default: return K::Other;
    }
}

bool url_has_key_param(std::string_view url) noexcept {
    url = url.substr(0, url.find('#'));   // the fragment never leaves the machine
    auto q = url.find('?');
    if (q == std::string_view::npos) return false;
    auto query = url.substr(q + 1);
    while (!query.empty()) {
        auto sep = query.find_first_of("&;");
        auto param = query.substr(0, sep);
        auto eq = param.find('=');
        if (eq != std::string_view::npos) {
            try {
                if (decode_param_name(param.substr(0, eq)) == "key") return true;
            } catch (...) {
                return true;   // out of memory: refuse rather than risk sending a key
            }
        }
        if (sep == std::string_view::npos) break;
        query.remove_prefix(sep + 1);
    }
    return false;
}

bool tls_checks_required(std::string_view url, bool allow_insecure_loopback) noexcept {
    return !(allow_insecure_loopback && is_loopback_url(url));
}

std::optional<StatusLine> parse_status_line(std::string_view line) {
    if (line.substr(0, 5) != "HTTP/") return std::nullopt;
    line.remove_prefix(5);
    auto sp = line.find(' ');
    if (sp == std::string_view::npos || sp == 0) return std::nullopt;
    auto version = line.substr(0, sp);
    auto code = line.substr(sp + 1, 3);
    if (code.size() != 3 || !std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return std::nullopt;
    auto after = line.substr(sp + 4);
    if (!after.empty() && after.front() != ' ' && after.front() != '\r' && after.front() != '\n')
        return std::nullopt;
    return StatusLine{(code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0'), std::string(version)};
}

std::string scrub_detail(std::string_view text, const Headers& request_headers) {
    std::string out(text);
    for (const auto& [name, value] : request_headers) {
        if (value.size() < 4) continue;   // too short to be a secret; masking it would garble the text
        for (auto at = out.find(value); at != std::string::npos; at = out.find(value, at + 10))
            out.replace(at, value.size(), "[REDACTED]");
    }
    return redact(out);
}

TransportErrorKind spent_timer(const Timeouts& t) noexcept {
    if (t.total.count() < 0) return TransportErrorKind::TotalTimeout;
    if (t.connect.count() < 0) return TransportErrorKind::ConnectTimeout;
    if (t.first_byte.count() < 0) return TransportErrorKind::FirstByteTimeout;
    if (t.idle.count() < 0) return TransportErrorKind::IdleTimeout;
    return TransportErrorKind::None;
}

TransportErrorKind expired_timer(const TransferMarks& m, const Timeouts& t, SteadyTime now) noexcept {
    if (t.first_byte.count() > 0 && m.request_sent && !m.first_byte && now - *m.request_sent >= t.first_byte)
        return TransportErrorKind::FirstByteTimeout;
    if (t.idle.count() > 0 && m.last_byte && now - *m.last_byte >= t.idle)
        return TransportErrorKind::IdleTimeout;
    return TransportErrorKind::None;
}

std::optional<SteadyTime> next_timer_deadline(const TransferMarks& m, const Timeouts& t) noexcept {
    std::optional<SteadyTime> next;
    auto consider = [&next](SteadyTime at) { next = next ? std::min(*next, at) : at; };
    if (t.first_byte.count() > 0 && m.request_sent && !m.first_byte) consider(*m.request_sent + t.first_byte);
    if (t.idle.count() > 0 && m.last_byte) consider(*m.last_byte + t.idle);
    return next;
}

int poll_wait_ms(std::optional<SteadyTime> deadline, SteadyTime now, int max_ms) noexcept {
    if (!deadline) return max_ms;
    if (*deadline <= now) return 0;
    auto wait = std::chrono::ceil<milliseconds>(*deadline - now).count();
    return wait < max_ms ? static_cast<int>(wait) : max_ms;
}

bool may_resend(const TransferMarks& m, SteadyTime now) noexcept {
    (void)now;
    return !m.request_sent;
}

}  // namespace nbcore::net::detail
