// The transport's pure pieces: header lookup, names, loopback and key detection, the CURLcode
// mapping, status lines, detail scrubbing, and the timer arithmetic.
#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "../../core/src/net/net_internal.hpp"
#include "nbcore/transport.hpp"

using namespace nbcore;
using namespace nbcore::net;
using namespace nbcore::net::detail;
using namespace std::chrono_literals;
using K = TransportErrorKind;

TEST_CASE("header_value is case-insensitive and returns the first match", "[net][pure]") {
    Headers h{{"Content-Type", "application/json"}, {"Set-Cookie", "a=1"}, {"set-cookie", "b=2"}};
    CHECK(header_value(h, "content-type") == "application/json");
    CHECK(header_value(h, "CONTENT-TYPE") == "application/json");
    CHECK(header_value(h, "SET-COOKIE") == "a=1");
    CHECK(header_value(h, "Retry-After").empty());
    CHECK(header_value({}, "x").empty());
    CHECK(header_value(h, "Content-Typ").empty());
}

TEST_CASE("parse_header_lines reads \"Name: value\" lines as nbc_diagnose documents them", "[net][pure]") {
    struct Row {
        const char* text;
        Headers expected;
    };
    const Row rows[] = {
        {"", {}},
        {"Retry-After: 30", {{"Retry-After", "30"}}},
        {"Retry-After: 30\r\nContent-Type:\tapplication/json\r\n",
         {{"Retry-After", "30"}, {"Content-Type", "application/json"}}},
        {"A:1\n\nB:  2 \n", {{"A", "1"}, {"B", "2 "}}},            // blank lines skipped; trailing blanks kept
        {"no colon here\n: no name\nC:\n", {{"C", ""}}},            // nameless and colon-less lines ignored
        {"X-Time: 12:30:00", {{"X-Time", "12:30:00"}}},               // only the first colon splits
    };
    for (const auto& row : rows) {
        INFO(row.text);
        CHECK(parse_header_lines(row.text) == row.expected);
    }
}

TEST_CASE("every transport error kind has its own name", "[net][pure]") {
    std::set<std::string_view> names;
    for (int i = 0; i <= static_cast<int>(K::Other); ++i) {
        auto name = transport_error_name(static_cast<K>(i));
        CHECK(!name.empty());
        CHECK(name != "UNKNOWN");
        names.insert(name);
    }
    CHECK(names.size() == static_cast<std::size_t>(K::Other) + 1);
    CHECK(transport_error_name(K::FirstByteTimeout) == "FIRST_BYTE_TIMEOUT");
    CHECK(transport_error_name(static_cast<K>(999)) == "UNKNOWN");
}

TEST_CASE("is_loopback_url accepts plain loopback spellings", "[net][pure]") {
    for (const char* url : {"http://127.0.0.1", "http://127.0.0.1/", "http://127.0.0.1:8080/v1beta/models",
                            "https://127.0.0.1:443", "http://127.255.3.4:1/x?y=1#z", "http://localhost",
                            "http://LOCALHOST:9000/", "https://localhost/path", "http://[::1]",
                            "http://[::1]:8080/x", "HTTP://127.0.0.1/", "http://127.0.0.1?q", "http://localhost#f"}) {
        INFO(url);
        CHECK(is_loopback_url(url));
    }
}

TEST_CASE("is_loopback_url refuses look-alikes and tricks", "[net][pure]") {
    for (const char* url : {"http://127.0.0.1.evil.com/", "http://localhost@evil.com/", "http://evil.com/127.0.0.1",
                            "http://evil.com@127.0.0.1/", "http://evil.com?x=http://localhost",
                            "http://localhost.evil.com", "http://localhost./", "http://128.0.0.1/",
                            "http://127.0.0.256/", "http://127.0.0/", "http://127.1/", "http://127.0.0.1.1/",
                            "http://0127.0.0.1/", "http://127.0.0.01/", "http://[::2]/", "http://[::1/",
                            "http://127.0.0.1:99999/", "http://127.0.0.1:/", "http://127.0.0.1:80x/",
                            "http://127.0.0.1\\@evil.com/", "http://127%2e0.0.1/", "http://local host/",
                            "ftp://127.0.0.1/", "file:///etc/passwd", "127.0.0.1", "//127.0.0.1/", "",
                            "https://generativelanguage.googleapis.com/v1beta/models", "http://[::ffff:127.0.0.1]/"}) {
        INFO(url);
        CHECK_FALSE(is_loopback_url(url));
    }
}

TEST_CASE("TLS checks stay on unless the URL is loopback and the request allows it", "[net][pure]") {
    // allow_insecure_loopback is the only switch (and no public option reaches it): it may turn
    // verification off for this machine's own addresses, and has no effect on any other host,
    // however much its URL looks like loopback.
    struct Case {
        const char* url;
        bool verified_when_allowed;   // tls_checks_required(url, true)
    };
    const Case cases[] = {
        // Loopback: the switch works.
        {"https://127.0.0.1:8443/", false},
        {"https://127.8.9.10/v1beta/models", false},
        {"https://localhost/", false},
        {"https://LOCALHOST:9443/", false},
        {"HTTPS://127.0.0.1/", false},
        {"https://[::1]:8443/", false},
        // Everything else: verified whatever the switch says.
        {"https://generativelanguage.googleapis.com/", true},
        {"https://aiplatform.googleapis.com/v1/projects/p", true},
        {"https://127.0.0.1.evil.com/", true},
        {"https://127.0.0.1.nip.io/", true},
        {"https://localhost.example/", true},
        {"https://LOCALHOST.EXAMPLE/", true},
        {"https://localhost./", true},
        {"https://127.0.0.1@evil.com/", true},
        {"https://user:pw@127.0.0.1/", true},
        {"https://evil.com#@127.0.0.1/", true},
        {"https://evil.com\\@127.0.0.1/", true},
        {"https://127%2e0%2e0%2e1/", true},
        {"https://[::1].evil.com/", true},
        {"https://[::ffff:127.0.0.1]/", true},
        {"https://[0:0:0:0:0:0:0:1]/", true},
        {"https://2130706433/", true},
        {"https://0x7f.0.0.1/", true},
        {"https://127.1/", true},
        {"https://0.0.0.0/", true},
        {"https://10.0.0.1/", true},
        {"https://evil.com/?next=https://127.0.0.1/", true},
        {"https:///127.0.0.1/", true},
        {"https://127.0.0.1 .evil.com/", true},
        {"", true},
    };
    for (const auto& c : cases) {
        INFO(c.url);
        CHECK(tls_checks_required(c.url, true) == c.verified_when_allowed);
        CHECK(tls_checks_required(c.url, false));   // without the switch: always verified
    }
}

TEST_CASE("url_has_key_param finds the key in any spelling of the query", "[net][pure]") {
    CHECK(url_has_key_param("https://h/v1beta/models/m:generateContent?key=abc"));
    CHECK(url_has_key_param("https://h/m:streamGenerateContent?alt=sse&key=abc"));
    CHECK(url_has_key_param("https://h/m?KEY=abc"));
    CHECK(url_has_key_param("https://h/m?%6Bey=abc"));
    CHECK(url_has_key_param("https://h/m?a=1;key=abc"));
    CHECK(url_has_key_param("https://h/m?key="));
    CHECK_FALSE(url_has_key_param("https://h/m?alt=sse"));
    CHECK_FALSE(url_has_key_param("https://h/m?monkey=1&keys=2&apikey=3"));
    CHECK_FALSE(url_has_key_param("https://h/key=abc"));
    CHECK_FALSE(url_has_key_param("https://h/m#?key=abc"));
    CHECK_FALSE(url_has_key_param("https://h/m?pageToken=key%3Dx"));
}

TEST_CASE("CURLcode maps to transport error kinds", "[net][pure]") {
    Timeouts t;   // connect 10 s, no total
    CHECK(kind_for_curl_code(CURLE_OK, true, t) == K::None);
    CHECK(kind_for_curl_code(CURLE_COULDNT_RESOLVE_HOST, false, t) == K::Dns);
    CHECK(kind_for_curl_code(CURLE_COULDNT_RESOLVE_PROXY, false, t) == K::Dns);
    CHECK(kind_for_curl_code(CURLE_COULDNT_CONNECT, false, t) == K::Connect);
    CHECK(kind_for_curl_code(CURLE_SSL_CONNECT_ERROR, false, t) == K::Tls);
    CHECK(kind_for_curl_code(CURLE_PEER_FAILED_VERIFICATION, false, t) == K::Tls);
    CHECK(kind_for_curl_code(CURLE_SSL_CACERT_BADFILE, false, t) == K::Tls);
    CHECK(kind_for_curl_code(CURLE_SSL_PINNEDPUBKEYNOTMATCH, false, t) == K::Tls);
    CHECK(kind_for_curl_code(CURLE_SEND_ERROR, true, t) == K::Send);
    CHECK(kind_for_curl_code(CURLE_RECV_ERROR, true, t) == K::Reset);
    CHECK(kind_for_curl_code(CURLE_GOT_NOTHING, true, t) == K::Reset);
    CHECK(kind_for_curl_code(CURLE_HTTP2_STREAM, true, t) == K::Reset);
    CHECK(kind_for_curl_code(CURLE_SEND_FAIL_REWIND, true, t) == K::Reset);
    CHECK(kind_for_curl_code(CURLE_PARTIAL_FILE, true, t) == K::Truncated);
    CHECK(kind_for_curl_code(CURLE_WRITE_ERROR, true, t) == K::Aborted);
    CHECK(kind_for_curl_code(CURLE_ABORTED_BY_CALLBACK, true, t) == K::Aborted);
    CHECK(kind_for_curl_code(CURLE_WEIRD_SERVER_REPLY, true, t) == K::Protocol);
    CHECK(kind_for_curl_code(CURLE_HTTP2, true, t) == K::Protocol);
    CHECK(kind_for_curl_code(CURLE_BAD_CONTENT_ENCODING, true, t) == K::Protocol);
    CHECK(kind_for_curl_code(CURLE_UNSUPPORTED_PROTOCOL, true, t) == K::Protocol);
    CHECK(kind_for_curl_code(CURLE_UNSUPPORTED_PROTOCOL, false, t) == K::Other);
    CHECK(kind_for_curl_code(CURLE_URL_MALFORMAT, false, t) == K::Other);
    CHECK(kind_for_curl_code(CURLE_OUT_OF_MEMORY, true, t) == K::Other);
}

TEST_CASE("curl's one timeout code is told apart by phase and limits", "[net][pure]") {
    Timeouts t;
    t.connect = 1000ms;
    t.total = 0ms;
    CHECK(kind_for_curl_code(CURLE_OPERATION_TIMEDOUT, false, t) == K::ConnectTimeout);
    CHECK(kind_for_curl_code(CURLE_OPERATION_TIMEDOUT, true, t) == K::TotalTimeout);
    t.total = 5000ms;
    CHECK(kind_for_curl_code(CURLE_OPERATION_TIMEDOUT, false, t) == K::ConnectTimeout);
    CHECK(kind_for_curl_code(CURLE_OPERATION_TIMEDOUT, true, t) == K::TotalTimeout);
    t.total = 500ms;   // shorter than connect: it fired first even while connecting
    CHECK(kind_for_curl_code(CURLE_OPERATION_TIMEDOUT, false, t) == K::TotalTimeout);
    t.connect = 0ms;   // curl's default connect limit (300 s)
    CHECK(kind_for_curl_code(CURLE_OPERATION_TIMEDOUT, false, t) == K::TotalTimeout);
    t.total = 0ms;
    CHECK(kind_for_curl_code(CURLE_OPERATION_TIMEDOUT, false, t) == K::ConnectTimeout);
}

TEST_CASE("parse_status_line reads HTTP/1.x and HTTP/2 status lines", "[net][pure]") {
    auto s = parse_status_line("HTTP/1.1 200 OK\r\n");
    REQUIRE(s);
    CHECK(s->status == 200);
    CHECK(s->version == "1.1");
    s = parse_status_line("HTTP/2 429 \r\n");
    REQUIRE(s);
    CHECK(s->status == 429);
    CHECK(s->version == "2");
    s = parse_status_line("HTTP/1.1 100\r\n");
    REQUIRE(s);
    CHECK(s->status == 100);
    CHECK_FALSE(parse_status_line("Content-Type: text/plain\r\n"));
    CHECK_FALSE(parse_status_line("HTTP/1.1 20 OK\r\n"));
    CHECK_FALSE(parse_status_line("HTTP/1.1 2000 OK\r\n"));
    CHECK_FALSE(parse_status_line("HTTP/ 200 OK\r\n"));
    CHECK_FALSE(parse_status_line("\r\n"));
}

TEST_CASE("scrub_detail masks request header values and keys", "[net][pure]") {
    Headers h{{"x-goog-api-key", "sekrit-value-123"}, {"Accept", "a"}};
    auto out = scrub_detail("failed near sekrit-value-123 and sekrit-value-123 (a)", h);
    CHECK(out.find("sekrit") == std::string::npos);
    CHECK(out == "failed near [REDACTED] and [REDACTED] (a)");
    auto key = "AIza" + std::string(35, 'x');
    CHECK(scrub_detail("url ?key=abc and " + key, {}).find(key) == std::string::npos);
    CHECK(scrub_detail("url ?key=abc", {}).find("abc") == std::string::npos);
    CHECK(scrub_detail("Could not resolve host: x.invalid", h) == "Could not resolve host: x.invalid");
}

TEST_CASE("first-byte timer runs from request sent to the first reply byte", "[net][pure]") {
    Timeouts t;
    t.first_byte = 200ms;
    SteadyTime t0{std::chrono::seconds(100)};
    TransferMarks m;
    CHECK(expired_timer(m, t, t0 + 10s) == K::None);   // not sent yet: not armed
    CHECK_FALSE(next_timer_deadline(m, t));
    m.request_sent = t0;
    CHECK(next_timer_deadline(m, t) == t0 + 200ms);
    CHECK(expired_timer(m, t, t0 + 199ms) == K::None);
    CHECK(expired_timer(m, t, t0 + 200ms) == K::FirstByteTimeout);
    m.first_byte = t0 + 150ms;
    m.last_byte = t0 + 150ms;
    CHECK(expired_timer(m, t, t0 + 10s) == K::None);   // disarmed by the reply; no idle limit
    CHECK_FALSE(next_timer_deadline(m, t));
}

TEST_CASE("idle timer runs from the latest reply byte, only once the reply started", "[net][pure]") {
    Timeouts t;
    t.idle = 300ms;
    SteadyTime t0{std::chrono::seconds(100)};
    TransferMarks m;
    m.request_sent = t0;
    CHECK(expired_timer(m, t, t0 + 60s) == K::None);   // a long silent generation is not idle
    m.first_byte = t0 + 1s;
    m.last_byte = t0 + 2s;
    CHECK(next_timer_deadline(m, t) == t0 + 2300ms);
    CHECK(expired_timer(m, t, t0 + 2299ms) == K::None);
    CHECK(expired_timer(m, t, t0 + 2300ms) == K::IdleTimeout);
    t.first_byte = 100ms;   // both limits: only the idle one applies after the first byte
    CHECK(next_timer_deadline(m, t) == t0 + 2300ms);
}

TEST_CASE("poll_wait_ms rounds up and caps", "[net][pure]") {
    SteadyTime now{std::chrono::seconds(5)};
    CHECK(poll_wait_ms(std::nullopt, now) == 1000);
    CHECK(poll_wait_ms(now - 1ms, now) == 0);
    CHECK(poll_wait_ms(now, now) == 0);
    CHECK(poll_wait_ms(now + std::chrono::microseconds(1), now) == 1);
    CHECK(poll_wait_ms(now + 37ms, now) == 37);
    CHECK(poll_wait_ms(now + 5s, now) == 1000);
    CHECK(poll_wait_ms(now + 5s, now, 250) == 250);
}

TEST_CASE("a request may be re-sent only while its body had not all gone out", "[net][pure]") {
    SteadyTime t0{std::chrono::seconds(100)};
    TransferMarks m;
    CHECK(may_resend(m, t0));   // the body was not all out: the server cannot have acted on it
    m.request_sent = t0;
    CHECK_FALSE(may_resend(m, t0));   // the server may have it: a re-send is a new attempt
    CHECK_FALSE(may_resend(m, t0 + 5ms));
    CHECK_FALSE(may_resend(m, t0 + 90s));
}

TEST_CASE("a negative limit counts as already spent", "[net][pure]") {
    Timeouts t;
    CHECK(spent_timer(t) == K::None);
    t.idle = -1ms;
    CHECK(spent_timer(t) == K::IdleTimeout);
    t.first_byte = -1ms;
    CHECK(spent_timer(t) == K::FirstByteTimeout);
    t.connect = -5ms;
    CHECK(spent_timer(t) == K::ConnectTimeout);
    t.total = -5ms;
    CHECK(spent_timer(t) == K::TotalTimeout);
}
