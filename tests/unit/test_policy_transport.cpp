// classify() on transport failures: each kind, and whether the request may already have run.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "test_policy_support.hpp"

using namespace policy_test;
using Kind = net::TransportErrorKind;

namespace {

struct TransportCase {
    std::string name;
    Kind kind;
    bool sent;
    bool started;
    std::string image_size;
    Status code;
    bool retryable;
    std::string reason;
    std::string message_has;
    std::vector<std::string> advice_has;
};

std::vector<TransportCase> transport_cases() {
    return {
        {"DNS", Kind::Dns, false, false, "", Status::NETWORK, true, "DNS", "did not execute", {"DNS", "base URL"}},
        {"connect refused", Kind::Connect, false, false, "", Status::NETWORK, true, "CONNECT", "not sent",
         {"firewall", "HTTPS_PROXY"}},
        {"TLS certificate", Kind::Tls, false, false, "", Status::NETWORK, false, "TLS", "TLS",
         {"CA certificates", "proxy", "clock"}},
        {"send failed before the request left", Kind::Send, false, false, "", Status::NETWORK, true, "SEND",
         "not sent", {"retries"}},
        {"reset after sending", Kind::Reset, true, false, "", Status::NETWORK, true, "RESET",
         "may already have executed", {"may already have executed"}},
        {"reset after the reply began", Kind::Reset, true, true, "", Status::NETWORK, true, "RESET", "did execute",
         {"retries"}},
        {"truncated body", Kind::Truncated, true, true, "", Status::NETWORK, true, "TRUNCATED", "ended short",
         {"retries"}},
        {"connect timeout", Kind::ConnectTimeout, false, false, "", Status::TIMEOUT, true, "CONNECT_TIMEOUT",
         "connecting timed out", {"proxy"}},
        {"first-byte timeout at 4K", Kind::FirstByteTimeout, true, false, "4K", Status::TIMEOUT, true,
         "FIRST_BYTE_TIMEOUT", "first-byte timeout", {"60-120 s", "request 2K", "attempt timeout"}},
        {"first-byte timeout at 1K", Kind::FirstByteTimeout, true, false, "1K", Status::TIMEOUT, true,
         "FIRST_BYTE_TIMEOUT", "may already have executed", {"raise the attempt timeout"}},
        {"idle timeout", Kind::IdleTimeout, true, true, "", Status::TIMEOUT, true, "IDLE_TIMEOUT", "stalled",
         {"stalled", "attempt timeout"}},
        {"total timeout at 4K", Kind::TotalTimeout, true, true, "4K", Status::TIMEOUT, true, "TOTAL_TIMEOUT",
         "total timeout", {"2K"}},
        {"cancelled", Kind::Cancelled, true, false, "", Status::CANCELLED, false, "CANCELLED", "cancelled",
         {"cancelled by the caller"}},
        {"body over the cap", Kind::Aborted, true, true, "", Status::BAD_RESPONSE, false, "BODY_TOO_LARGE",
         "size limit", {"raise the limit"}},
        {"malformed HTTP", Kind::Protocol, true, true, "", Status::NETWORK, true, "PROTOCOL", "malformed",
         {"retries"}},
        {"other", Kind::Other, false, false, "", Status::NETWORK, true, "TRANSPORT", "failed", {"retries"}},
    };
}

}  // namespace

TEST_CASE("transport failures name the phase and whether the request ran", "[policy][transport]") {
    for (const auto& c : transport_cases()) {
        DYNAMIC_SECTION(c.name) {
            net::TransportResult t;
            t.error = c.kind;
            t.request_sent = c.sent;
            t.response_started = c.started;
            t.http_status = c.started ? 200 : 0;
            t.detail = "curl: something went wrong";
            policy::Observation obs;
            obs.transport = &t;
            obs.image_size = c.image_size;
            auto d = policy::classify(obs, test_now());
            INFO("message: " << d.message);
            INFO("advice: " << d.advice);
            CHECK(d.code == c.code);
            CHECK(d.retryable == c.retryable);
            CHECK(d.reason == c.reason);
            CHECK(d.http_status == t.http_status);
            CHECK(d.dimension == Dimension::NONE);
            CHECK(d.safety_layer == 0);
            CHECK_FALSE(d.retry_after.has_value());
            CHECK(contains(d.message, c.message_has));
            CHECK(contains(d.message, "curl: something went wrong"));
            for (const auto& fact : c.advice_has) CHECK(contains(d.advice, fact));
        }
    }
}

TEST_CASE("a transport failure outranks the status line that came before it", "[policy][transport]") {
    net::TransportResult t;
    t.error = Kind::IdleTimeout;
    t.request_sent = true;
    t.response_started = true;
    t.http_status = 503;
    policy::Observation obs;
    obs.transport = &t;
    obs.http_status = 503;
    obs.body = R"({"error": {"code": 503, "mess)";
    auto d = policy::classify(obs, test_now());
    CHECK(d.code == Status::TIMEOUT);
    CHECK(d.http_status == 503);
    CHECK(d.retryable);
}

TEST_CASE("transport details are redacted", "[policy][transport][redact]") {
    net::TransportResult t;
    t.error = Kind::Dns;
    t.detail = "Could not resolve host for https://x.invalid/v1beta/models?key=" + std::string(kTestKey);
    policy::Observation obs;
    obs.transport = &t;
    auto d = policy::classify(obs, test_now());
    CHECK_FALSE(contains(d.message, kTestKey));
    CHECK(contains(d.message, "key=[REDACTED]"));
}

TEST_CASE("a transport result without an error defers to the HTTP status", "[policy][transport]") {
    net::TransportResult t;
    t.http_status = 503;
    t.response_started = true;
    t.request_sent = true;
    policy::Observation obs;
    obs.transport = &t;
    obs.body = R"({"error": {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}})";
    auto d = policy::classify(obs, test_now());
    CHECK(d.code == Status::UNAVAILABLE);
    CHECK(d.http_status == 503);
}
