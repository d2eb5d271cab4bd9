// classify on any HTTP status, headers and body: policy::diagnose (decode + image check +
// classify + advice + server delays), decide() on what it returns, and the C ABI's nbc_diagnose.
//
// Input format, so that seeds stay readable (tests/fuzz/corpus/classify):
//   <status>[ <unix seconds for "now">]\n
//   Name: value\n            (any number of header lines)
//   \n
//   <body bytes>
//
// Properties:
//   - nothing throws; nbc_diagnose answers NBC_OK with the same class as policy::diagnose;
//   - OK only for a 2xx whose body decodes to a reply with an image; any other outcome has advice;
//   - safety layers and quota dimensions only on their classes; server delays are never negative;
//   - no Google API key survives into any text of the diagnosis;
//   - decide() never retries what is not retryable, never waits a negative time or beyond max_wait.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "nbcore/codec.hpp"
#include "nbcore/nbcore.h"
#include "nbcore/policy.hpp"
#include "nbcore/transport.hpp"

namespace {

using nbcore::Diagnosis;
using nbcore::Status;
namespace policy = nbcore::policy;

struct Case {
    int http_status = 200;
    nbcore::SystemTime now;
    std::string headers_text;   // as nbc_diagnose takes them: "Name: value" lines
    std::string_view body;
};

// 2025-06-15 12:00 UTC: the default "now".
constexpr long long kDefaultNow = 1'749'988'800;
// 2200-01-01 UTC: the system clock counts nanoseconds in 64 bits, which ends in 2262.
constexpr long long kLatestNow = 7'258'118'400;

long long leading_number(std::string_view& s, long long ceiling) {
    long long n = 0;
    while (!s.empty() && s.front() >= '0' && s.front() <= '9') {
        n = n * 10 + (s.front() - '0');
        if (n > ceiling) n = ceiling;
        s.remove_prefix(1);
    }
    return n;
}

// Any number maps into 100..599, so every mutation of the status line is a valid status.
int status_from(long long n) { return n >= 100 && n <= 599 ? static_cast<int>(n) : 100 + static_cast<int>(n % 500); }

std::string_view take_line(std::string_view& rest) {
    auto nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    return line;
}

Case parse_case(const std::uint8_t* data, std::size_t size) {
    std::string_view rest(reinterpret_cast<const char*>(data), size);
    Case c;
    std::string_view first = take_line(rest);
    bool has_status = !first.empty() && first.front() >= '0' && first.front() <= '9';
    c.http_status = has_status ? status_from(leading_number(first, 1'000'000)) : 200;
    while (!first.empty() && first.front() == ' ') first.remove_prefix(1);
    bool has_now = !first.empty() && first.front() >= '0' && first.front() <= '9';
    c.now = nbcore::SystemTime(std::chrono::seconds(has_now ? leading_number(first, kLatestNow) : kDefaultNow));
    while (!rest.empty()) {
        std::string_view line = take_line(rest);
        if (line.empty() || line == "\r") break;
        c.headers_text.append(line).append("\n");
    }
    // The C ABI takes the headers as a C string: both paths stop at a NUL.
    c.headers_text.resize(c.headers_text.find('\0') == std::string::npos ? c.headers_text.size()
                                                                         : c.headers_text.find('\0'));
    c.body = rest;
    return c;
}

bool is_key_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

// "AIza" and 35 more key characters: what a Google API key looks like.
bool holds_api_key(std::string_view text) {
    for (auto at = text.find("AIza"); at != std::string_view::npos; at = text.find("AIza", at + 1)) {
        std::size_t end = at + 4;
        while (end < text.size() && is_key_char(text[end])) ++end;
        if (end - at >= 39) return true;
    }
    return false;
}

std::string folded(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    return out;
}

// diagnose() reads the body as SSE when the (first) Content-Type says so; the check must too.
nbcore::api::Framing framing_of(const nbcore::net::Headers& headers) {
    for (const auto& [name, value] : headers)
        if (folded(name) == "content-type")
            return folded(value).find("text/event-stream") != std::string::npos ? nbcore::api::Framing::Sse
                                                                                 : nbcore::api::Framing::Auto;
    return nbcore::api::Framing::Auto;
}

bool reply_has_image(std::string_view body, const nbcore::net::Headers& headers) {
    nbcore::Reply reply;
    std::string err;
    return nbcore::api::decode_reply(body, reply, err, framing_of(headers)) && !nbcore::deliverable_images(reply).empty();
}

void check_diagnosis(const Diagnosis& d, const Case& c, const nbcore::net::Headers& headers) {
    using nbcore::Dimension;
    if (d.code == Status::OK)
        nbfuzz::require(c.http_status >= 200 && c.http_status < 300 && reply_has_image(c.body, headers),
                        "OK for something that is not a 2xx reply with an image");
    else
        nbfuzz::require(!d.advice.empty(), "a failure without advice");
    nbfuzz::require(!d.retry_after || d.retry_after->count() >= 0, "a negative retry_after");
    nbfuzz::require(d.safety_layer == (d.code == Status::BLOCKED_SAFETY ? 1 : d.code == Status::BLOCKED_POLICY ? 2 : 0),
                    "a safety layer that does not match the class");
    nbfuzz::require(d.dimension == Dimension::NONE || d.code == Status::RATE_LIMITED || d.code == Status::QUOTA_EXHAUSTED,
                    "a quota dimension on a class that is not about quota");
    for (const std::string* text : {&d.message, &d.advice, &d.reason, &d.api_status})
        if (holds_api_key(*text)) nbfuzz::fail("an API key survives in the diagnosis", *text);
}

// Always the same draw: the extremes of [0, 1) are where jitter arithmetic breaks.
class ConstantRng final : public nbcore::Rng {
public:
    explicit ConstantRng(double v) : v_(v) {}
    double uniform() override { return v_; }

private:
    double v_;
};

void check_decision(const Diagnosis& d, const policy::RetryPolicy& p, int attempts, bool with_deadline, double draw) {
    policy::RetryState s;
    s.attempts_made = attempts;
    s.now = nbcore::SteadyTime(std::chrono::hours(1));
    if (with_deadline) s.deadline = s.now + std::chrono::seconds(30);
    ConstantRng rng(draw);
    policy::Decision out = policy::decide(d, s, p, rng);
    if (out.action == policy::Action::Retry) {
        nbfuzz::require(d.retryable && d.code != Status::OK, "decide() retries an outcome that is not retryable");
        nbfuzz::require(out.delay.count() >= 0 && out.delay <= p.max_wait, "decide() waits outside 0..max_wait");
        nbfuzz::require(!s.deadline || s.now + out.delay < *s.deadline, "decide() waits past the deadline");
    } else {
        nbfuzz::require(out.fail_as == d.code, "decide() fails as another code than the outcome's");
    }
    nbfuzz::require(!out.why.empty(), "decide() gives no reason");
}

void check_c_abi(const Case& c, const Diagnosis& d) {
    nbc_error* e = nullptr;
    int rc = nbc_diagnose(&e, c.http_status, c.body.data(), c.body.size(), c.headers_text.c_str());
    if (rc != NBC_OK) nbfuzz::fail("nbc_diagnose failed", nbc_error_message(nbc_error_last()));
    nbfuzz::require(e != nullptr, "nbc_diagnose returned NBC_OK without an error object");
    // Its clock is the real one, so only the class (not the times in texts) must match.
    nbfuzz::require(nbc_error_code(e) == static_cast<int>(d.code), "nbc_diagnose and policy::diagnose disagree");
    nbfuzz::require(nbc_error_message(e) && nbc_error_advice(e) && nbc_error_api_status(e) && nbc_error_reason(e) &&
                        nbc_error_route(e),
                    "an nbc_error accessor returned NULL");
    nbc_error_free(e);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const Case c = parse_case(data, size);
    const nbcore::net::Headers headers = nbcore::net::parse_header_lines(c.headers_text);

    Diagnosis d = policy::diagnose(c.http_status, c.body, headers, c.now);
    check_diagnosis(d, c, headers);
    auto delay = policy::server_retry_delay(c.body, &headers, c.now);
    nbfuzz::require(!delay || delay->count() >= 0, "server_retry_delay is negative");

    for (double draw : {0.0, 0.9999999999}) {
        check_decision(d, policy::RetryPolicy::interactive(), 1, false, draw);
        check_decision(d, policy::RetryPolicy::patient(), 2, true, draw);
        check_decision(d, policy::RetryPolicy::none(), 1, false, draw);
    }
    check_c_abi(c, d);
    return 0;
}
