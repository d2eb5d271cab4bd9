// The transport's small public helpers: header lookup, error names, loopback detection.
#include <array>
#include <cstddef>

#include "nbcore/transport.hpp"

namespace nbcore::net {
namespace {

char ascii_lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}

bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// A decimal number of 1..max_digits digits no larger than max_value, nothing else.
bool is_bounded_decimal(std::string_view s, std::size_t max_digits, unsigned max_value) noexcept {
    if (s.empty() || s.size() > max_digits) return false;
    unsigned v = 0;
    for (char c : s) {
        if (!is_digit(c)) return false;
        v = v * 10 + static_cast<unsigned>(c - '0');
    }
    return v <= max_value;
}

// Exactly four dotted decimal parts, the first 127: 127.0.0.0/8. Shorthand forms ("127.1") and
// octal or hex spellings are not accepted; refusing them only keeps TLS checks on.
bool is_loopback_ipv4(std::string_view host) noexcept {
    std::array<std::string_view, 4> parts;
    std::size_t n = 0;
    while (true) {
        auto dot = host.find('.');
        if (n == parts.size()) return false;
        parts[n++] = host.substr(0, dot);
        if (dot == std::string_view::npos) break;
        host.remove_prefix(dot + 1);
    }
    if (n != 4 || parts[0] != "127") return false;
    for (auto p : parts) {
        if (!is_bounded_decimal(p, 3, 255)) return false;
        if (p.size() > 1 && p[0] == '0') return false;   // "010" would be octal to some parsers
    }
    return true;
}

}  // namespace

std::string_view header_value(const Headers& h, std::string_view name) noexcept {
    for (const auto& [n, v] : h)
        if (iequals(n, name)) return v;
    return {};
}

Headers parse_header_lines(std::string_view text) {
    Headers out;
    while (!text.empty()) {
        auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        auto colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) continue;
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
        out.emplace_back(std::string(line.substr(0, colon)), std::string(value));
    }
    return out;
}

std::string_view transport_error_name(TransportErrorKind k) noexcept {
    switch (k) {
        case TransportErrorKind::None: return "NONE";
        case TransportErrorKind::Dns: return "DNS";
        case TransportErrorKind::Connect: return "CONNECT";
        case TransportErrorKind::Tls: return "TLS";
        case TransportErrorKind::Send: return "SEND";
        case TransportErrorKind::Reset: return "RESET";
        case TransportErrorKind::Truncated: return "TRUNCATED";
        case TransportErrorKind::ConnectTimeout: return "CONNECT_TIMEOUT";
        case TransportErrorKind::FirstByteTimeout: return "FIRST_BYTE_TIMEOUT";
        case TransportErrorKind::IdleTimeout: return "IDLE_TIMEOUT";
        case TransportErrorKind::TotalTimeout: return "TOTAL_TIMEOUT";
        case TransportErrorKind::Cancelled: return "CANCELLED";
        case TransportErrorKind::Aborted: return "ABORTED";
        case TransportErrorKind::Protocol: return "PROTOCOL";
        case TransportErrorKind::Other: return "OTHER";
    }
    return "UNKNOWN";
}

// Accepts only plain spellings: scheme http/https, no user info, host 127.a.b.c, localhost or
// [::1], an optional numeric port, then the end or a path, query or fragment. Anything unusual
// (user info, backslashes, percent-escapes in the host, trailing dots) is "not loopback", which is
// the safe answer: it keeps TLS verification on.
bool is_loopback_url(std::string_view url) noexcept {
    std::string_view rest;
    if (istarts_with(url, "http://"))
        rest = url.substr(7);
    else if (istarts_with(url, "https://"))
        rest = url.substr(8);
    else
        return false;

    auto end = rest.find_first_of("/?#");
    std::string_view authority = rest.substr(0, end);
    for (char c : authority) {
        auto u = static_cast<unsigned char>(c);
        if (c == '@' || c == '\\' || c == '%' || u <= 0x20 || u >= 0x7f) return false;
    }

    std::string_view host = authority;
    std::string_view port;
    if (!host.empty() && host.front() == '[') {
        auto close = host.find(']');
        if (close == std::string_view::npos) return false;
        port = host.substr(close + 1);
        host = host.substr(0, close + 1);
    } else {
        auto colon = host.find(':');
        if (colon != std::string_view::npos) {
            port = host.substr(colon);
            host = host.substr(0, colon);
        }
    }
    if (!port.empty() && (port.front() != ':' || !is_bounded_decimal(port.substr(1), 5, 65535)))
        return false;

    return iequals(host, "localhost") || host == "[::1]" || is_loopback_ipv4(host);
}

}  // namespace nbcore::net
