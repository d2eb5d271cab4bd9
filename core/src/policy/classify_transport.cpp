// Failures below HTTP: the transport could not deliver a complete reply.
#include <array>

#include "nbcore/redact.hpp"
#include "policy/internal.hpp"

namespace nbcore::policy::detail {
namespace {

using Kind = net::TransportErrorKind;

struct TransportRule {
    Kind kind;
    Status code;
    std::string_view reason;
    std::string_view what;   // the start of the message
    bool retryable;
};

constexpr std::array<TransportRule, 14> kTransportRules = {{
    {Kind::Dns, Status::NETWORK, "DNS", "could not resolve the host", true},
    {Kind::Connect, Status::NETWORK, "CONNECT", "could not connect", true},
    {Kind::Tls, Status::NETWORK, "TLS", "the TLS handshake or certificate check failed", false},
    {Kind::Send, Status::NETWORK, "SEND", "sending the request failed", true},
    {Kind::Reset, Status::NETWORK, "RESET", "the connection was reset or closed early", true},
    {Kind::Truncated, Status::NETWORK, "TRUNCATED", "the reply ended short of its declared length", true},
    {Kind::ConnectTimeout, Status::TIMEOUT, "CONNECT_TIMEOUT", "connecting timed out", true},
    {Kind::FirstByteTimeout, Status::TIMEOUT, "FIRST_BYTE_TIMEOUT",
     "no reply arrived before the first-byte timeout", true},
    {Kind::IdleTimeout, Status::TIMEOUT, "IDLE_TIMEOUT", "the reply stalled past the idle timeout", true},
    {Kind::TotalTimeout, Status::TIMEOUT, "TOTAL_TIMEOUT", "the attempt ran past its total timeout", true},
    {Kind::Cancelled, Status::CANCELLED, "CANCELLED", "the request was cancelled", false},
    {Kind::Aborted, Status::BAD_RESPONSE, "BODY_TOO_LARGE",
     "the reply body went over the size limit and was abandoned", false},
    {Kind::Protocol, Status::NETWORK, "PROTOCOL", "the server's HTTP was malformed", true},
    {Kind::Other, Status::NETWORK, "TRANSPORT", "the transport failed", true},
}};

// Whether a retry could run the (billed) generation twice.
std::string_view execution_note(const net::TransportResult& t) {
    if (t.error == Kind::Cancelled || t.error == Kind::Aborted) return {};
    if (!t.request_sent) return "; the request was not sent, so it did not execute";
    if (t.response_started) return "; the server had started answering, so the request did execute";
    return "; the request was sent and may already have executed (and been billed)";
}

}  // namespace

Diagnosis classify_transport(const net::TransportResult& t, const Observation& obs) {
    const TransportRule* rule = &kTransportRules.back();
    for (const auto& r : kTransportRules)
        if (r.kind == t.error) rule = &r;

    Diagnosis d;
    d.code = rule->code;
    d.http_status = t.http_status ? t.http_status : obs.http_status;
    d.reason = std::string(rule->reason);
    d.retryable = rule->retryable;
    d.message = std::string(rule->what);
    if (!t.detail.empty()) d.message += " (" + redact(t.detail) + ")";
    d.message += execution_note(t);

    AdviceFacts facts;
    facts.model = obs.model;
    facts.image_size = obs.image_size;
    facts.request_sent = t.request_sent;
    d.advice = advice_for(d, facts);
    return d;
}

}  // namespace nbcore::policy::detail
