// The libcurl transport (alone, and over the I/O loop) against the scripted loopback server: streaming, headers, every timer,
// every failure class, cancellation, connection reuse, concurrency and a large body.
//
// Timing checks allow for a loaded two-core machine: lower bounds are tight (a timer must never
// fire early), upper bounds generous.
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <stdexcept>
#include <thread>

#include "../../core/src/net/net_internal.hpp"
#include "nbcore/clock.hpp"
#include "nbcore/io_loop.hpp"
#include "nbcore/transport.hpp"
#include "script_server.hpp"
#include "tls_server.hpp"

using namespace nbcore;
using namespace nbcore::net;
using namespace nbtest;
using K = TransportErrorKind;
using SteadyClock = std::chrono::steady_clock;

// curl enforces the connect and total limits itself, rounding to whole milliseconds, so it may
// stop a hair before the limit; our own timers (first byte, idle) never fire early.
constexpr milliseconds kCurlTimerSlack{3};

namespace {

// Every case runs twice: on the blocking curl transport, and as a blocking send over the shared
// I/O loop (IoLoop::start), which must behave the same.
std::shared_ptr<Transport> transport_under_test() {
    static const auto loop = IoLoop::create();
    auto which = GENERATE(as<std::string>{}, "curl", "io-loop");
    UNSCOPED_INFO("transport: " << which);
    return which == "curl" ? make_curl_transport() : make_loop_transport(loop);
}

struct RecordingSink : BodySink {
    std::vector<std::string> events;
    int status = 0;
    int status_calls = 0;
    Headers headers;
    std::string body;
    std::size_t body_calls = 0;
    std::size_t refuse_after = SIZE_MAX;   // refuse once this many body bytes have arrived

    void on_status(int s, const Headers& h) override {
        events.emplace_back("status");
        ++status_calls;
        status = s;
        headers = h;
    }
    bool on_body(const char* data, std::size_t n) override {
        events.emplace_back("body");
        ++body_calls;
        body.append(data, n);
        return body.size() < refuse_after;
    }
};

// Counts and checks a large body without keeping it.
struct CountingSink : BodySink {
    std::size_t bytes = 0;
    std::size_t chunks = 0;
    std::size_t largest_chunk = 0;
    bool pattern_ok = true;
    void on_status(int, const Headers&) override {}
    bool on_body(const char* data, std::size_t n) override {
        for (std::size_t i = 0; i < n; ++i)
            if (static_cast<unsigned char>(data[i]) != static_cast<unsigned char>((bytes + i) % 251)) pattern_ok = false;
        bytes += n;
        ++chunks;
        largest_chunk = std::max(largest_chunk, n);
        return true;
    }
};

struct ThrowingSink : BodySink {
    void on_status(int, const Headers&) override {}
    bool on_body(const char*, std::size_t) override { throw std::runtime_error("sink failed"); }
};

HttpRequest post_to(const std::string& url, std::string body = R"({"contents":[]})") {
    HttpRequest r;
    r.url = url;
    r.body = std::move(body);
    return r;
}

struct Timed {
    TransportResult result;
    milliseconds elapsed;
};

Timed timed_send(Transport& t, const HttpRequest& req, BodySink& sink, const CancelToken* cancel = nullptr) {
    auto t0 = SteadyClock::now();
    auto r = t.send(req, sink, cancel);
    return {r, std::chrono::duration_cast<milliseconds>(SteadyClock::now() - t0)};
}

// Cancels a token from another thread after a delay and remembers when it did.
class CancelLater {
public:
    CancelLater(CancelToken& token, milliseconds after)
        : thread_([this, &token, after] {
              std::this_thread::sleep_for(after);
              fired_at_ = SteadyClock::now();
              token.cancel();
          }) {}
    ~CancelLater() {
        if (thread_.joinable()) thread_.join();
    }
    // Time from cancel() to `returned_at`.
    milliseconds reaction(SteadyClock::time_point returned_at) {
        thread_.join();
        return std::chrono::duration_cast<milliseconds>(returned_at - fired_at_);
    }

private:
    SteadyClock::time_point fired_at_;
    std::thread thread_;
};

Action streamed(int status, const Headers& headers, std::vector<Piece> body_pieces, Ending ending = Ending::Close) {
    Action a;
    a.pieces.push_back({0ms, http_head(status, headers)});
    for (auto& p : body_pieces) a.pieces.push_back(std::move(p));
    a.ending = ending;
    return a;
}

std::size_t count_named(const Headers& h, const std::string& name) {
    return static_cast<std::size_t>(std::count_if(h.begin(), h.end(), [&](const auto& kv) { return kv.first == name; }));
}

}  // namespace

TEST_CASE("a 200 streamed in several pieces arrives intact, status before body", "[net][loopback]") {
    ScriptServer server;
    server.push(streamed(200, {{"Content-Length", "15"}, {"Connection", "close"}},
                         {{30ms, "hello"}, {30ms, "-wor"}, {30ms, "ld!!!!"}}));
    auto transport = transport_under_test();
    RecordingSink sink;
    auto r = transport->send(post_to(server.url("/v1beta/models/m:generateContent")), sink, nullptr);

    CHECK(r.error == K::None);
    CHECK(r.detail.empty());
    CHECK(r.http_status == 200);
    CHECK(r.request_sent);
    CHECK(r.response_started);
    CHECK(r.bytes_received == 15);
    CHECK(r.http_version == "1.1");
    CHECK(r.duration >= 90ms);
    CHECK(sink.body == "hello-world!!!!");
    CHECK(sink.status == 200);
    CHECK(sink.status_calls == 1);
    CHECK(sink.body_calls >= 3);
    REQUIRE(!sink.events.empty());
    CHECK(sink.events.front() == "status");
}

TEST_CASE("response headers are captured in order with duplicates", "[net][loopback]") {
    ScriptServer server;
    server.push(reply(200, "x",
                      {{"X-One", "1"}, {"Set-Cookie", "a=1"}, {"Set-Cookie", "b=2"}, {"X-Padded", "  spaced out  "}}));
    auto transport = transport_under_test();
    RecordingSink sink;
    auto r = transport->send(post_to(server.url()), sink, nullptr);

    REQUIRE(r.error == K::None);
    CHECK(count_named(sink.headers, "Set-Cookie") == 2);
    CHECK(header_value(sink.headers, "set-cookie") == "a=1");
    CHECK(header_value(sink.headers, "x-padded") == "spaced out");
    CHECK(header_value(sink.headers, "content-length") == "1");
    auto at = [&](const std::string& name, const std::string& value) {
        return std::find(sink.headers.begin(), sink.headers.end(), std::make_pair(name, value)) - sink.headers.begin();
    };
    CHECK(at("X-One", "1") < at("Set-Cookie", "a=1"));
    CHECK(at("Set-Cookie", "a=1") < at("Set-Cookie", "b=2"));
}

TEST_CASE("interim 1xx replies are skipped; the final status is delivered once", "[net][loopback]") {
    ScriptServer server;
    Action a = reply(200, "done");
    a.pieces.insert(a.pieces.begin(), Piece{0ms, "HTTP/1.1 103 Early Hints\r\nLink: </hint>\r\n\r\n"});
    server.push(a);
    auto transport = transport_under_test();
    RecordingSink sink;
    auto r = transport->send(post_to(server.url()), sink, nullptr);

    CHECK(r.error == K::None);
    CHECK(r.http_status == 200);
    CHECK(sink.status_calls == 1);
    CHECK(sink.status == 200);
    CHECK(header_value(sink.headers, "Link").empty());
    CHECK(sink.body == "done");
}

TEST_CASE("error statuses are replies, not transport errors", "[net][loopback]") {
    ScriptServer server;
    std::string body = R"({"error":{"code":503,"status":"UNAVAILABLE"}})";
    server.push(reply(503, body, {{"Content-Type", "application/json"}}));
    auto transport = transport_under_test();
    RecordingSink sink;
    auto r = transport->send(post_to(server.url()), sink, nullptr);
    CHECK(r.error == K::None);
    CHECK(r.http_status == 503);
    CHECK(sink.status == 503);
    CHECK(sink.body == body);
}

TEST_CASE("request line, headers and body reach the server exactly", "[net][loopback]") {
    ScriptServer server;
    auto transport = transport_under_test();
    RecordingSink sink;

    SECTION("POST with a JSON body") {
        HttpRequest req = post_to(server.url("/v1beta/models/gemini-2.5-flash-image:generateContent?alt=sse"),
                                  R"({"contents":[{"parts":[{"text":"a lighthouse"}]}]})");
        req.headers = {{"x-goog-api-key", "test-key-123"}, {"X-Custom", "v1"}, {"X-Custom", "v2"},
                       {"X-Server-Timeout", "60"}};
        auto r = transport->send(req, sink, nullptr);
        REQUIRE(r.error == K::None);
        REQUIRE(server.requests().size() == 1);
        auto got = server.requests()[0];
        CHECK(got.method == "POST");
        CHECK(got.target == "/v1beta/models/gemini-2.5-flash-image:generateContent?alt=sse");
        CHECK(got.body == req.body);
        CHECK(header_value(got.headers, "x-goog-api-key") == "test-key-123");
        CHECK(header_value(got.headers, "x-server-timeout") == "60");
        CHECK(count_named(got.headers, "X-Custom") == 2);
        CHECK(header_value(got.headers, "content-type") == "application/json");
        CHECK(header_value(got.headers, "content-length") == std::to_string(req.body.size()));
        CHECK(header_value(got.headers, "accept-encoding").find("gzip") != std::string_view::npos);
        CHECK(header_value(got.headers, "expect").empty());
        auto ua = std::string(header_value(got.headers, "user-agent"));
        CHECK(ua.rfind("nbcore/", 0) == 0);
        CHECK(ua.find(" libcurl/") != std::string::npos);
    }
    SECTION("the caller's Content-Type wins") {
        HttpRequest req = post_to(server.url(), "raw");
        req.headers = {{"Content-Type", "application/octet-stream"}};
        REQUIRE(transport->send(req, sink, nullptr).error == K::None);
        auto got = server.requests().at(0);
        CHECK(count_named(got.headers, "Content-Type") == 1);
        CHECK(header_value(got.headers, "content-type") == "application/octet-stream");
    }
    SECTION("GET without a body") {
        HttpRequest req;
        req.method = "GET";
        req.url = server.url("/v1beta/models?pageSize=50");
        REQUIRE(transport->send(req, sink, nullptr).error == K::None);
        auto got = server.requests().at(0);
        CHECK(got.method == "GET");
        CHECK(got.target == "/v1beta/models?pageSize=50");
        CHECK(got.body.empty());
        CHECK(header_value(got.headers, "content-type").empty());
    }
    SECTION("DELETE without a body") {
        HttpRequest req;
        req.method = "DELETE";
        req.url = server.url("/v1beta/batches/123");
        REQUIRE(transport->send(req, sink, nullptr).error == K::None);
        CHECK(server.requests().at(0).method == "DELETE");
    }
}

TEST_CASE("first-byte timeout fires near its value once the request was sent", "[net][loopback][timer]") {
    ScriptServer server;
    Action slow = reply(200, "late");
    slow.delay = 3000ms;
    server.push(slow);
    auto transport = transport_under_test();
    RecordingSink sink;
    HttpRequest req = post_to(server.url());
    SECTION("POST") {}
    SECTION("GET (no body to track)") {
        req.method = "GET";
        req.body.clear();
    }
    req.timeouts.first_byte = 200ms;
    auto [r, elapsed] = timed_send(*transport, req, sink);

    CHECK(r.error == K::FirstByteTimeout);
    CHECK(r.request_sent);
    CHECK_FALSE(r.response_started);
    CHECK(r.http_status == 0);
    CHECK(elapsed >= 200ms);
    CHECK(elapsed <= 700ms);
    CHECK(r.detail.find("200 ms") != std::string::npos);
    CHECK(sink.status_calls == 0);
}

TEST_CASE("idle timeout fires during a mid-body stall", "[net][loopback][timer]") {
    ScriptServer server;
    server.push(streamed(200, {{"Content-Length", "10"}}, {{0ms, "abc"}, {3000ms, "defghij"}}));
    auto transport = transport_under_test();
    RecordingSink sink;
    HttpRequest req = post_to(server.url());
    req.timeouts.first_byte = 2000ms;
    req.timeouts.idle = 200ms;
    auto [r, elapsed] = timed_send(*transport, req, sink);

    CHECK(r.error == K::IdleTimeout);
    CHECK(r.request_sent);
    CHECK(r.response_started);
    CHECK(r.http_status == 200);
    CHECK(r.bytes_received == 3);
    CHECK(sink.body == "abc");
    CHECK(elapsed >= 200ms);
    CHECK(elapsed <= 700ms);
}

TEST_CASE("the idle timer never cuts a long silent wait before the first byte", "[net][loopback][timer]") {
    ScriptServer server;
    Action slow = reply(200, "image");
    slow.delay = 600ms;   // stands in for a 4K image's minute of silence
    server.push(slow);
    auto transport = transport_under_test();
    RecordingSink sink;
    HttpRequest req = post_to(server.url());
    req.timeouts.idle = 150ms;
    auto r = transport->send(req, sink, nullptr);
    CHECK(r.error == K::None);
    CHECK(sink.body == "image");
}

TEST_CASE("total timeout covers the whole exchange", "[net][loopback][timer]") {
    ScriptServer server;
    Action slow = reply(200, "late");
    slow.delay = 3000ms;
    server.push(slow);
    auto transport = transport_under_test();
    RecordingSink sink;
    HttpRequest req = post_to(server.url());
    req.timeouts.total = 300ms;
    auto [r, elapsed] = timed_send(*transport, req, sink);

    CHECK(r.error == K::TotalTimeout);
    CHECK(r.request_sent);
    CHECK(elapsed >= 300ms - kCurlTimerSlack);
    CHECK(elapsed <= 800ms);
}

TEST_CASE("a refused connection is Connect and nothing was sent", "[net][loopback]") {
    auto transport = transport_under_test();
    RecordingSink sink;
    auto r = transport->send(post_to("http://127.0.0.1:" + std::to_string(closed_port()) + "/"), sink, nullptr);
    CHECK(r.error == K::Connect);
    CHECK_FALSE(r.request_sent);
    CHECK_FALSE(r.response_started);
    CHECK_FALSE(r.detail.empty());
}

TEST_CASE("a connect that never completes is ConnectTimeout", "[net][loopback][timer]") {
    // A listener with a full accept queue: Linux drops further SYNs, so the handshake hangs.
    int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
    REQUIRE(::listen(listener, 0) == 0);
    std::vector<int> fillers;
    for (int i = 0; i < 3; ++i) {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        fillers.push_back(fd);
    }
    std::this_thread::sleep_for(50ms);

    auto transport = transport_under_test();
    RecordingSink sink;
    HttpRequest req = post_to("http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/");
    req.timeouts.connect = 300ms;
    req.timeouts.total = 5000ms;
    auto [r, elapsed] = timed_send(*transport, req, sink);

    CHECK(r.error == K::ConnectTimeout);
    CHECK_FALSE(r.request_sent);
    CHECK(elapsed >= 300ms - kCurlTimerSlack);
    CHECK(elapsed <= 900ms);
    for (int fd : fillers) ::close(fd);
    ::close(listener);
}

TEST_CASE("an unresolvable host is Dns", "[net][loopback]") {
    auto transport = transport_under_test();
    RecordingSink sink;
    HttpRequest req = post_to("http://nbcore-no-such-host.invalid/v1beta/models");
    req.headers = {{"x-goog-api-key", (std::string("AI") + "zaSyTHIS_IS_NOT_A_REAL_KEY_0123456789")}};
    req.timeouts.connect = 5000ms;
    auto r = transport->send(req, sink, nullptr);
    CHECK(r.error == K::Dns);
    CHECK_FALSE(r.request_sent);
    CHECK(r.detail.find("AIza") == std::string::npos);
}

TEST_CASE("a reset in the middle of the body is Reset after the reply started", "[net][loopback]") {
    ScriptServer server;
    server.push(streamed(200, {{"Content-Length", "100"}}, {{50ms, std::string(30, 'x')}, {50ms, ""}}, Ending::Reset));
    auto transport = transport_under_test();
    RecordingSink sink;
    auto r = transport->send(post_to(server.url()), sink, nullptr);
    CHECK(r.error == K::Reset);
    CHECK(r.request_sent);
    CHECK(r.response_started);
    CHECK(r.http_status == 200);
    CHECK(r.bytes_received <= 30);
}

TEST_CASE("a connection closed without an answer is Reset, possibly executed", "[net][loopback]") {
    ScriptServer server;
    server.push(close_without_answer());
    auto transport = transport_under_test();
    RecordingSink sink;
    auto r = transport->send(post_to(server.url()), sink, nullptr);
    CHECK(r.error == K::Reset);
    CHECK(r.request_sent);
    CHECK_FALSE(r.response_started);
    CHECK(server.requests().size() == 1);
}

TEST_CASE("a body shorter than its Content-Length is Truncated", "[net][loopback]") {
    ScriptServer server;
    server.push(streamed(200, {{"Content-Length", "100"}}, {{0ms, std::string(40, 'y')}}));
    auto transport = transport_under_test();
    RecordingSink sink;
    auto r = transport->send(post_to(server.url()), sink, nullptr);
    CHECK(r.error == K::Truncated);
    CHECK(r.response_started);
    CHECK(r.bytes_received == 40);
}

TEST_CASE("chunked bodies are reassembled; an unfinished one is Truncated", "[net][loopback]") {
    ScriptServer server;
    auto transport = transport_under_test();
    RecordingSink sink;
    Headers chunked{{"Transfer-Encoding", "chunked"}, {"Connection", "close"}};
    SECTION("complete") {
        server.push(streamed(200, chunked, {{0ms, chunk("hello ")}, {20ms, chunk("world")}, {20ms, "0\r\n\r\n"}}));
        auto r = transport->send(post_to(server.url()), sink, nullptr);
        CHECK(r.error == K::None);
        CHECK(sink.body == "hello world");
        CHECK(r.bytes_received == 11);
    }
    SECTION("ends before the last chunk") {
        server.push(streamed(200, chunked, {{0ms, chunk("hello ")}, {20ms, chunk("wor")}}));
        auto r = transport->send(post_to(server.url()), sink, nullptr);
        CHECK(r.error == K::Truncated);
        CHECK(sink.body == "hello wor");
    }
}

TEST_CASE("a gzip-encoded reply is decoded transparently", "[net][loopback]") {
    ScriptServer server;
    std::string json;
    for (int i = 0; i < 2000; ++i) json += R"({"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo"}},)";
    server.push(reply(200, gzip(json), {{"Content-Encoding", "gzip"}, {"Content-Type", "application/json"}}));
    auto transport = transport_under_test();
    RecordingSink sink;
    auto r = transport->send(post_to(server.url()), sink, nullptr);
    CHECK(r.error == K::None);
    CHECK(sink.body == json);
    CHECK(r.bytes_received == json.size());
    CHECK(header_value(server.requests().at(0).headers, "accept-encoding").find("gzip") != std::string_view::npos);
}

TEST_CASE("a sink that refuses more data aborts the transfer", "[net][loopback]") {
    ScriptServer server;
    server.push(streamed(200, {{"Content-Length", "300000"}},
                         {{0ms, std::string(100000, 'a')}, {30ms, std::string(100000, 'b')}, {30ms, std::string(100000, 'c')}}));
    auto transport = transport_under_test();
    RecordingSink sink;
    sink.refuse_after = 1;
    auto r = transport->send(post_to(server.url()), sink, nullptr);
    CHECK(r.error == K::Aborted);
    CHECK(r.response_started);
    CHECK(r.bytes_received < 300000);
    CHECK(r.detail.find("sink") != std::string::npos);
}

TEST_CASE("a sink exception propagates after the transfer is torn down", "[net][loopback]") {
    ScriptServer server;
    server.push(reply(200, "boom"));
    server.push(reply(200, "fine"));
    auto transport = transport_under_test();
    ThrowingSink thrower;
    CHECK_THROWS_AS(transport->send(post_to(server.url()), thrower, nullptr), std::runtime_error);
    RecordingSink sink;
    auto r = transport->send(post_to(server.url()), sink, nullptr);
    CHECK(r.error == K::None);
    CHECK(sink.body == "fine");
}

TEST_CASE("cancel from another thread interrupts at once", "[net][loopback][cancel]") {
    ScriptServer server;
    auto transport = transport_under_test();
    RecordingSink sink;
    CancelToken token;
    SECTION("while waiting for the first byte") {
        server.push(never_answer());
        CancelLater later(token, 150ms);
        auto r = transport->send(post_to(server.url()), sink, &token);
        auto reaction = later.reaction(SteadyClock::now());
        CHECK(r.error == K::Cancelled);
        CHECK(r.request_sent);
        CHECK_FALSE(r.response_started);
        CHECK(reaction <= 100ms);
    }
    SECTION("during a mid-body stall") {
        server.push(streamed(200, {{"Content-Length", "10"}}, {{0ms, "abc"}, {3000ms, "defghij"}}));
        CancelLater later(token, 150ms);
        auto r = transport->send(post_to(server.url()), sink, &token);
        auto reaction = later.reaction(SteadyClock::now());
        CHECK(r.error == K::Cancelled);
        CHECK(r.response_started);
        CHECK(r.bytes_received == 3);
        CHECK(reaction <= 100ms);
    }
}

TEST_CASE("a token cancelled before send stops it before anything is sent", "[net][loopback][cancel]") {
    ScriptServer server;
    auto transport = transport_under_test();
    RecordingSink sink;
    CancelToken token;
    token.cancel();
    auto r = transport->send(post_to(server.url()), sink, &token);
    CHECK(r.error == K::Cancelled);
    CHECK_FALSE(r.request_sent);
    std::this_thread::sleep_for(100ms);
    CHECK(server.connections() == 0);
}

TEST_CASE("requests that must not go out are refused before sending", "[net][loopback]") {
    ScriptServer server;
    auto transport = transport_under_test();
    RecordingSink sink;
    std::string key = (std::string("AI") + "zaSyTHIS_IS_NOT_A_REAL_KEY_0123456789");
    SECTION("a key in the query") {
        auto r = transport->send(post_to(server.url("/v1beta/models/m:generateContent?alt=sse&key=" + key)), sink, nullptr);
        CHECK(r.error == K::Other);
        CHECK(r.detail.find("API key") != std::string::npos);
        CHECK(r.detail.find(key) == std::string::npos);
        CHECK_FALSE(r.request_sent);
    }
    SECTION("a key-shaped token anywhere in the URL") {
        auto r = transport->send(post_to(server.url("/v1beta/" + key + "/x")), sink, nullptr);
        CHECK(r.error == K::Other);
    }
    SECTION("a header value with a line break") {
        HttpRequest req = post_to(server.url());
        req.headers = {{"X-Evil", "a\r\nX-Injected: 1"}};
        auto r = transport->send(req, sink, nullptr);
        CHECK(r.error == K::Other);
        CHECK(r.detail.find("X-Injected") == std::string::npos);
    }
    SECTION("a total limit already spent") {
        HttpRequest req = post_to(server.url());
        req.timeouts.total = -20ms;
        auto r = transport->send(req, sink, nullptr);
        CHECK(r.error == K::TotalTimeout);
        CHECK_FALSE(r.request_sent);
    }
    SECTION("a method that is not a token") {
        HttpRequest req = post_to(server.url());
        req.method = "GET /x HTTP/1.1\r\n";
        CHECK(transport->send(req, sink, nullptr).error == K::Other);
    }
    std::this_thread::sleep_for(100ms);
    CHECK(server.connections() == 0);
}

TEST_CASE("TLS failures are Tls; a non-TLS peer cannot pass for one", "[net][loopback]") {
    ScriptServer server;
    Action plain;
    plain.read_request = false;   // answer the ClientHello with plain HTTP
    plain.pieces.push_back({0ms, http_head(200, {{"Content-Length", "0"}})});
    server.push(plain);
    auto transport = transport_under_test();
    RecordingSink sink;
    auto r = transport->send(post_to("https://127.0.0.1:" + std::to_string(server.port()) + "/"), sink, nullptr);
    CHECK(r.error == K::Tls);
    CHECK_FALSE(r.request_sent);
    CHECK_FALSE(r.response_started);
}

TEST_CASE("TLS verification is on unless a loopback request allows a self-signed peer", "[net][loopback][tls]") {
    TlsServer server("secure");
    auto transport = transport_under_test();
    RecordingSink sink;
    HttpRequest req = post_to("https://127.0.0.1:" + std::to_string(server.port()) + "/v1beta/models");
    SECTION("loopback, insecure allowed: the self-signed certificate is accepted") {
        req.allow_insecure_loopback = true;
        auto r = transport->send(req, sink, nullptr);
        CHECK(r.error == K::None);
        CHECK(sink.body == "secure");
        CHECK(r.http_version == "1.1");
    }
    SECTION("localhost spelling, insecure allowed") {
        req.url = "https://localhost:" + std::to_string(server.port()) + "/";
        auto r = transport->send(req, sink, nullptr);
        CHECK(r.error == K::None);
    }
    SECTION("loopback, insecure not allowed: verification fails") {
        req.allow_insecure_loopback = false;
        auto r = transport->send(req, sink, nullptr);
        CHECK(r.error == K::Tls);
        CHECK_FALSE(r.request_sent);
        CHECK(server.handshakes() == 0);
    }
}

TEST_CASE("a reply that is not HTTP is Protocol", "[net][loopback]") {
    ScriptServer server;
    Action junk;
    junk.pieces.push_back({0ms, "SSH-2.0-OpenSSH_9.2\r\n\r\n"});
    server.push(junk);
    auto transport = transport_under_test();
    RecordingSink sink;
    auto r = transport->send(post_to(server.url()), sink, nullptr);
    CHECK(r.error == K::Protocol);
    CHECK(r.request_sent);
}

TEST_CASE("connections are reused across sends", "[net][loopback][reuse]") {
    ScriptServer server;
    Headers keep{{"Connection", "keep-alive"}};
    Action first = reply(200, "one", keep);
    first.ending = Ending::KeepAlive;
    Action second = reply(200, "two", keep);
    second.ending = Ending::KeepAlive;
    server.push(first);
    server.push(second);
    auto transport = transport_under_test();
    RecordingSink a, b;
    REQUIRE(transport->send(post_to(server.url()), a, nullptr).error == K::None);
    SECTION("by the same thread") {
        REQUIRE(transport->send(post_to(server.url()), b, nullptr).error == K::None);
    }
    SECTION("by another thread") {
        TransportResult r;   // Catch2 assertions stay on the test's own thread
        std::thread other([&] { r = transport->send(post_to(server.url()), b, nullptr); });
        other.join();
        REQUIRE(r.error == K::None);
    }
    CHECK(a.body == "one");
    CHECK(b.body == "two");
    CHECK(server.connections() == 1);
}

TEST_CASE("a reused connection closed as the request arrives is reported, not re-sent", "[net][loopback][reuse]") {
    // The server received the request: sending it again would be a second request the engine
    // never counted (and, for a real image request, a second bill).
    ScriptServer server;
    Action first = reply(200, "one", {{"Connection", "keep-alive"}});
    first.ending = Ending::KeepAlive;
    server.push(first);
    server.push(close_without_answer());   // the keep-alive race: closed as the request arrives
    server.push(reply(200, "must not be used"));
    auto transport = transport_under_test();
    RecordingSink a, b;
    REQUIRE(transport->send(post_to(server.url(), "first"), a, nullptr).error == K::None);
    auto r = transport->send(post_to(server.url(), "second"), b, nullptr);
    CHECK(r.error == K::Reset);
    CHECK(r.request_sent);
    std::this_thread::sleep_for(100ms);
    auto got = server.requests();
    REQUIRE(got.size() == 2);
    CHECK(got[1].connection == 1);
    CHECK(got[1].body == "second");
}

TEST_CASE("a reused connection that dies long after the request is not silently re-sent", "[net][loopback][reuse]") {
    ScriptServer server;
    Action first = reply(200, "one", {{"Connection", "keep-alive"}});
    first.ending = Ending::KeepAlive;
    server.push(first);
    Action dies_late = close_without_answer();
    dies_late.delay = 300ms;
    server.push(dies_late);
    server.push(reply(200, "must not be used"));
    auto transport = transport_under_test();
    RecordingSink a, b;
    REQUIRE(transport->send(post_to(server.url(), "first"), a, nullptr).error == K::None);
    auto r = transport->send(post_to(server.url(), "second"), b, nullptr);
    CHECK(r.error == K::Reset);
    CHECK(r.request_sent);
    CHECK_FALSE(r.response_started);
    CHECK(r.detail.find("not re-sent") != std::string::npos);
    // curl opens the fresh connection before it asks to rewind the body; nothing goes out on it.
    std::this_thread::sleep_for(100ms);
    CHECK(server.requests().size() == 2);
}

TEST_CASE("sixteen threads share one transport at once", "[net][loopback][concurrency]") {
    ScriptServer server;
    Action echo;
    echo.echo = true;
    echo.delay = 50ms;   // keep the sends overlapping
    server.set_default(echo);
    auto transport = transport_under_test();
    constexpr int kThreads = 16;
    std::vector<TransportResult> results(kThreads);
    std::vector<std::string> bodies(kThreads), sent(kThreads);
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
        sent[i] = "request " + std::to_string(i) + " " + std::string(static_cast<std::size_t>(1000 * (i + 1)), 'z');
        threads.emplace_back([&, i] {
            RecordingSink sink;
            results[i] = transport->send(post_to(server.url(), sent[i]), sink, nullptr);
            bodies[i] = sink.body;
        });
    }
    for (auto& t : threads) t.join();
    for (int i = 0; i < kThreads; ++i) {
        INFO("thread " << i << ": " << results[i].detail);
        CHECK(results[i].error == K::None);
        CHECK(bodies[i] == sent[i]);
    }
    CHECK(server.requests().size() == kThreads);
}

TEST_CASE("a 50 MB body streams through without being buffered", "[net][loopback][large]") {
    ScriptServer server;
    constexpr std::size_t kBlock = 251 * 256;   // a whole number of pattern periods
    constexpr std::size_t kRepeat = (50u << 20) / kBlock;
    std::string block(kBlock, '\0');
    for (std::size_t i = 0; i < kBlock; ++i) block[i] = static_cast<char>(i % 251);
    Action big;
    big.pieces.push_back({0ms, http_head(200, {{"Content-Length", std::to_string(kBlock * kRepeat)}})});
    big.pieces.push_back({0ms, block, kRepeat});
    server.push(big);
    auto transport = transport_under_test();
    CountingSink sink;
    auto r = transport->send(post_to(server.url()), sink, nullptr);
    CHECK(r.error == K::None);
    CHECK(r.bytes_received == kBlock * kRepeat);
    CHECK(sink.bytes == kBlock * kRepeat);
    CHECK(sink.pattern_ok);
    CHECK(sink.chunks > 100);
    CHECK(sink.largest_chunk <= (1u << 20));
}
