#include "net/curl_transfer.hpp"

#include <algorithm>
#include <cstring>
#include <new>
#include <utility>

#include "nbcore/redact.hpp"

namespace nbcore::net::detail {
namespace {

using std::chrono::duration_cast;
using Clock = std::chrono::steady_clock;

// HTTP token characters (RFC 9110 5.6.2): what a method or header name may contain.
bool is_token(std::string_view s) noexcept {
    constexpr std::string_view kPunctuation = "!#$%&'*+-.^_`|~";
    if (s.empty()) return false;
    for (char c : s) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  kPunctuation.find(c) != std::string_view::npos;
        if (!ok) return false;
    }
    return true;
}

bool has_line_break(std::string_view s) noexcept { return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos; }

bool has_header(const Headers& h, std::string_view name) noexcept {
    auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
    return std::any_of(h.begin(), h.end(), [&](const auto& kv) {
        return std::equal(kv.first.begin(), kv.first.end(), name.begin(), name.end(),
                          [&](char a, char b) { return lower(a) == lower(b); });
    });
}

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
        s.remove_suffix(1);
    return s;
}

std::string http_version_name(long v) {
    switch (v) {
        case CURL_HTTP_VERSION_1_0: return "1.0";
        case CURL_HTTP_VERSION_1_1: return "1.1";
        case CURL_HTTP_VERSION_2_0: return "2";
        case CURL_HTTP_VERSION_3: return "3";
        default: return {};
    }
}

// Why a request must not go out, checked before curl sees it; nullopt when it may.
std::optional<std::string> why_not_sendable(const HttpRequest& req) {
    if (url_has_key_param(req.url) || redact(req.url) != req.url)
        return "the URL carries an API key; send it in the x-goog-api-key header instead";
    if (!is_token(req.method)) return "the HTTP method is not a valid token";
    if (req.method == "HEAD" && !req.body.empty()) return "a HEAD request cannot carry a body";
    for (const auto& [name, value] : req.headers) {
        if (!is_token(name)) return "a request header name is not a valid token";
        if (has_line_break(value)) return "the value of request header '" + name + "' has a line break";
    }
    return std::nullopt;
}

void append_header(curl_slist*& list, const std::string& line) {
    curl_slist* grown = curl_slist_append(list, line.c_str());
    if (!grown) throw std::bad_alloc();
    list = grown;
}

// Big enough that a 20 MB reply arrives in a few hundred callbacks, small enough to stream.
constexpr long kBufferSize = 64 * 1024;

}  // namespace

CurlTransfer::CurlTransfer(const HttpRequest& req, BodySink& sink, CURLSH* share, const std::string& user_agent)
    : req_(req), sink_(sink), started_(Clock::now()) {
    if (auto why = why_not_sendable(req)) {
        refuse(TransportErrorKind::Other, *why);
        return;
    }
    if (auto spent = spent_timer(req.timeouts); spent != TransportErrorKind::None) {
        refuse(spent, "its time limit was already spent (negative)");
        return;
    }
    easy_ = curl_easy_init();
    if (!easy_) throw std::bad_alloc();
    configure(share, user_agent);
}

CurlTransfer::~CurlTransfer() {
    if (easy_) curl_easy_cleanup(easy_);
    curl_slist_free_all(header_list_);
}

void CurlTransfer::refuse(TransportErrorKind kind, const std::string& why) {
    TransportResult r;
    r.error = kind;
    r.detail = "request refused before sending: " + why;
    refusal_ = std::move(r);
}

void CurlTransfer::configure(CURLSH* share, const std::string& user_agent) {
    CURLcode failed = CURLE_OK;
    auto set = [&](CURLoption option, auto value) {
        CURLcode rc = curl_easy_setopt(easy_, option, value);
        if (rc != CURLE_OK && failed == CURLE_OK) failed = rc;
    };

    set(CURLOPT_PRIVATE, static_cast<void*>(this));
    set(CURLOPT_ERRORBUFFER, error_buffer_);
    set(CURLOPT_URL, req_.url.c_str());
    set(CURLOPT_PROTOCOLS_STR, "http,https");
    set(CURLOPT_NOSIGNAL, 1L);
    set(CURLOPT_SHARE, share);
    set(CURLOPT_USERAGENT, user_agent.c_str());
    set(CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
    set(CURLOPT_ACCEPT_ENCODING, "");   // every encoding curl can decode; it decodes before write_cb
    set(CURLOPT_BUFFERSIZE, kBufferSize);
    set(CURLOPT_UPLOAD_BUFFERSIZE, kBufferSize);
    // An image can take two minutes to come back with nothing on the wire; keep-alive probes keep
    // NATs and middleboxes from forgetting the connection meanwhile.
    set(CURLOPT_TCP_KEEPALIVE, 1L);
    set(CURLOPT_MAXAGE_CONN, detail::kMaxConnectionAgeSeconds);   // long-idle connections are not reused
    set(CURLOPT_TCP_KEEPIDLE, 30L);
    set(CURLOPT_TCP_KEEPINTVL, 15L);
    set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(req_.timeouts.connect.count()));
    set(CURLOPT_TIMEOUT_MS, static_cast<long>(req_.timeouts.total.count()));
    set(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);   // a proxy's CONNECT reply is not the server's
    // Stopping during a slow DNS lookup must not wait for the resolver thread to finish (curl
    // detaches it and it cleans up after itself). Optional: older curl lacks it (7.87.0+).
    (void)curl_easy_setopt(easy_, CURLOPT_QUICK_EXIT, 1L);

    bool verify = tls_checks_required(req_.url, req_.allow_insecure_loopback);
    set(CURLOPT_SSL_VERIFYPEER, verify ? 1L : 0L);
    set(CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
    if (is_loopback_url(req_.url)) set(CURLOPT_PROXY, "");   // never send loopback traffic to a proxy

    set(CURLOPT_HEADERFUNCTION, &CurlTransfer::header_cb);
    set(CURLOPT_HEADERDATA, static_cast<void*>(this));
    set(CURLOPT_WRITEFUNCTION, &CurlTransfer::write_cb);
    set(CURLOPT_WRITEDATA, static_cast<void*>(this));
    set(CURLOPT_PREREQFUNCTION, &CurlTransfer::prereq_cb);
    set(CURLOPT_PREREQDATA, static_cast<void*>(this));

    const std::string& method = req_.method;
    bool posts_body = !req_.body.empty() || method == "POST";
    if (method == "HEAD") {
        set(CURLOPT_NOBODY, 1L);
    } else if (posts_body) {
        // The body is fed through read_cb so we know the moment curl has all of it.
        set(CURLOPT_POST, 1L);
        set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req_.body.size()));
        set(CURLOPT_READFUNCTION, &CurlTransfer::read_cb);
        set(CURLOPT_READDATA, static_cast<void*>(this));
        set(CURLOPT_SEEKFUNCTION, &CurlTransfer::seek_cb);
        set(CURLOPT_SEEKDATA, static_cast<void*>(this));
        if (method != "POST") set(CURLOPT_CUSTOMREQUEST, method.c_str());
    } else {
        set(CURLOPT_HTTPGET, 1L);
        if (method != "GET") set(CURLOPT_CUSTOMREQUEST, method.c_str());
    }

    for (const auto& [name, value] : req_.headers)
        append_header(header_list_, value.empty() ? name + ";" : name + ": " + value);   // "Name;" sends it empty
    if (posts_body && !has_header(req_.headers, "Content-Type"))
        append_header(header_list_, "Content-Type: application/json");
    append_header(header_list_, "Expect:");   // no 100-continue round trip before the body
    set(CURLOPT_HTTPHEADER, header_list_);

    if (failed != CURLE_OK)
        refuse(TransportErrorKind::Other, std::string("curl rejected an option: ") + curl_easy_strerror(failed));
}

// ---- curl callbacks (static trampolines, then the members that do the work) ----

size_t CurlTransfer::header_cb(char* data, size_t size, size_t nitems, void* self) {
    return static_cast<CurlTransfer*>(self)->on_header(std::string_view(data, size * nitems));
}

size_t CurlTransfer::write_cb(char* data, size_t size, size_t nitems, void* self) {
    return static_cast<CurlTransfer*>(self)->on_body(data, size * nitems);
}

size_t CurlTransfer::read_cb(char* buffer, size_t size, size_t nitems, void* self) {
    return static_cast<CurlTransfer*>(self)->on_read(buffer, size * nitems);
}

int CurlTransfer::seek_cb(void* self, curl_off_t offset, int origin) {
    return static_cast<CurlTransfer*>(self)->on_seek(offset, origin);
}

int CurlTransfer::prereq_cb(void* self, char*, char*, int, int) {
    static_cast<CurlTransfer*>(self)->connected_ = true;
    return CURL_PREREQFUNC_OK;
}

void CurlTransfer::mark_reply_bytes(SteadyTime now) {
    if (!marks_.first_byte) marks_.first_byte = now;
    marks_.last_byte = now;
}

size_t CurlTransfer::on_header(std::string_view line) {
    auto now = Clock::now();
    if (status_delivered_) {   // trailers after a chunked body: activity, but not delivered
        mark_reply_bytes(now);
        return line.size();
    }
    if (auto status = parse_status_line(line)) {
        reply_headers_.clear();
        // 1xx replies are interim: skipped, and they neither start the reply nor its timers.
        in_final_response_ = !(status->status >= 100 && status->status < 200);
        if (in_final_response_) {
            final_status_ = status->status;
            mark_reply_bytes(now);
        }
        return line.size();
    }
    if (!in_final_response_) return line.size();
    mark_reply_bytes(now);

    std::string_view text = trim(line);
    if (text.empty()) return deliver_status() ? line.size() : 0;   // the blank line ends the headers
    if ((line.front() == ' ' || line.front() == '\t') && !reply_headers_.empty()) {
        reply_headers_.back().second.append(" ").append(text);   // obsolete line folding
        return line.size();
    }
    auto colon = text.find(':');
    if (colon == std::string_view::npos) return line.size();
    reply_headers_.emplace_back(std::string(trim(text.substr(0, colon))), std::string(trim(text.substr(colon + 1))));
    return line.size();
}

bool CurlTransfer::deliver_status() {
    status_delivered_ = true;
    try {
        sink_.on_status(final_status_, reply_headers_);
        return true;
    } catch (...) {
        sink_exception_ = std::current_exception();
        return false;
    }
}

size_t CurlTransfer::on_body(const char* data, size_t n) {
    if (!status_delivered_ && !deliver_status()) return 0;
    mark_reply_bytes(Clock::now());
    body_bytes_ += n;
    try {
        if (sink_.on_body(data, n)) return n;
        sink_refused_ = true;
    } catch (...) {
        sink_exception_ = std::current_exception();
    }
    return 0;   // anything short of n makes curl stop with CURLE_WRITE_ERROR
}

size_t CurlTransfer::on_read(char* buffer, size_t room) {
    size_t n = std::min(room, req_.body.size() - body_offset_);
    std::memcpy(buffer, req_.body.data() + body_offset_, n);
    body_offset_ += n;
    // The first-byte timer starts when curl holds the whole body (again, after a rewind).
    if (n > 0 && body_offset_ == req_.body.size()) marks_.request_sent = Clock::now();
    return n;
}

int CurlTransfer::on_seek(curl_off_t offset, int origin) {
    if (origin != SEEK_SET || offset != 0) return CURL_SEEKFUNC_CANTSEEK;
    if (!may_resend(marks_, Clock::now())) {
        resend_refused_ = true;
        return CURL_SEEKFUNC_CANTSEEK;
    }
    body_offset_ = 0;
    return CURL_SEEKFUNC_OK;
}

// ---- driver interface ----

bool CurlTransfer::on_tick(SteadyTime now) {
    if (sink_exception_) return true;
    // A request without a body has no read_cb to tell us it went out; curl's count of request
    // bytes written does.
    if (req_.body.empty() && connected_ && !marks_.request_sent) {
        long written = 0;
        if (curl_easy_getinfo(easy_, CURLINFO_REQUEST_SIZE, &written) == CURLE_OK && written > 0)
            marks_.request_sent = now;
    }
    switch (expired_timer(marks_, req_.timeouts, now)) {
        case TransportErrorKind::FirstByteTimeout:
            stop(TransportErrorKind::FirstByteTimeout,
                 "no reply within " + std::to_string(req_.timeouts.first_byte.count()) +
                     " ms of sending the request");
            return true;
        case TransportErrorKind::IdleTimeout:
            stop(TransportErrorKind::IdleTimeout, "the reply stalled for " +
                                                      std::to_string(req_.timeouts.idle.count()) +
                                                      " ms after " + std::to_string(body_bytes_) + " body bytes");
            return true;
        default: return false;
    }
}

std::optional<SteadyTime> CurlTransfer::next_deadline() const noexcept {
    // Until a bodyless request is seen to go out, on_tick has to look again soon.
    auto next = next_timer_deadline(marks_, req_.timeouts);
    if (req_.body.empty() && connected_ && !marks_.request_sent && req_.timeouts.first_byte.count() > 0) {
        auto soon = Clock::now() + std::chrono::milliseconds(5);
        next = next ? std::min(*next, soon) : soon;
    }
    return next;
}

void CurlTransfer::stop(TransportErrorKind why, std::string detail) {
    if (stopped_) return;
    stopped_ = why;
    stop_detail_ = std::move(detail);
}

TransportResult CurlTransfer::finish(CURLcode code) {
    TransportResult r;
    r.duration = duration_cast<std::chrono::milliseconds>(Clock::now() - started_);
    r.response_started = final_status_ != 0;
    r.request_sent = marks_.request_sent.has_value() || r.response_started;
    r.http_status = final_status_;
    r.bytes_received = body_bytes_;
    if (r.response_started) {
        long version = 0;
        if (curl_easy_getinfo(easy_, CURLINFO_HTTP_VERSION, &version) == CURLE_OK)
            r.http_version = http_version_name(version);
    }

    if (stopped_) {
        r.error = *stopped_;
        r.detail = stop_detail_;
    } else if (sink_refused_ || sink_exception_) {
        r.error = TransportErrorKind::Aborted;
        r.detail = sink_exception_ ? "the body sink threw"
                                   : "the body sink refused more data after " + std::to_string(body_bytes_) + " bytes";
    } else {
        r.error = kind_for_curl_code(code, connected_, req_.timeouts);
        if (code == CURLE_SEND_FAIL_REWIND && resend_refused_)
            r.detail = "the reused connection closed without a reply well after the request went out; "
                       "not re-sent, since the server may have acted on it";
        else if (r.error != TransportErrorKind::None)
            r.detail = scrub_detail(error_buffer_[0] ? error_buffer_ : curl_easy_strerror(code), req_.headers);
    }
    return r;
}

void CurlTransfer::rethrow_sink_exception() {
    if (sink_exception_) std::rethrow_exception(std::exchange(sink_exception_, nullptr));
}

}  // namespace nbcore::net::detail
