// One HTTP exchange on a curl easy handle: option setup, the callbacks that stream the reply into
// the sink, our own first-byte and idle timers, and the final TransportResult.
//
// It knows nothing about which multi handle drives it or on which thread: a driver adds easy() to
// a multi handle, calls on_tick() after each round of curl work, stop()s it on cancellation, and
// calls finish() once curl reports it done (or after stopping it). Everything runs on the driver's
// thread, so nothing here is synchronised.
#pragma once

#include <curl/curl.h>

#include <exception>
#include <optional>
#include <string>

#include "net/net_internal.hpp"
#include "nbcore/transport.hpp"

namespace nbcore::net::detail {

class CurlTransfer {
public:
    // Builds the easy handle. A request that must not go out (a key in the URL, a header with a
    // line break, a bad method, a time limit already spent) is refused here: refusal() then holds
    // the result, and nothing is sent.
    CurlTransfer(const HttpRequest& req, BodySink& sink, CURLSH* share, const std::string& user_agent);
    ~CurlTransfer();
    CurlTransfer(const CurlTransfer&) = delete;
    CurlTransfer& operator=(const CurlTransfer&) = delete;

    const std::optional<TransportResult>& refusal() const noexcept { return refusal_; }
    CURL* easy() const noexcept { return easy_; }

    // After each round of curl work: notes progress curl does not report through callbacks and
    // checks our timers. True when the transfer must stop now (a timer ran out, or the sink threw).
    bool on_tick(SteadyTime now);
    // When on_tick next needs to run for a timer to fire on time (nullopt: no timer armed).
    std::optional<SteadyTime> next_deadline() const noexcept;

    // The driver gives up on the transfer (cancellation); finish() will report `why`.
    void stop(TransportErrorKind why, std::string detail);

    // The outcome, once curl reported `code` for this handle or the transfer was stopped (then
    // `code` is ignored). Call after the handle has left its multi handle.
    TransportResult finish(CURLcode code);
    // What the sink threw inside a curl callback, rethrown once the handle is out of curl's hands.
    void rethrow_sink_exception();

private:
    static size_t header_cb(char* data, size_t size, size_t nitems, void* self);
    static size_t write_cb(char* data, size_t size, size_t nitems, void* self);
    static size_t read_cb(char* buffer, size_t size, size_t nitems, void* self);
    static int seek_cb(void* self, curl_off_t offset, int origin);
    static int prereq_cb(void* self, char* conn_primary_ip, char* conn_local_ip, int conn_primary_port,
                         int conn_local_port);

    size_t on_header(std::string_view line);
    size_t on_body(const char* data, size_t n);
    size_t on_read(char* buffer, size_t room);
    int on_seek(curl_off_t offset, int origin);

    void refuse(TransportErrorKind kind, const std::string& why);
    void configure(CURLSH* share, const std::string& user_agent);
    bool deliver_status();
    void mark_reply_bytes(SteadyTime now);

    const HttpRequest& req_;
    BodySink& sink_;
    CURL* easy_ = nullptr;
    curl_slist* header_list_ = nullptr;
    char error_buffer_[CURL_ERROR_SIZE] = {};
    std::optional<TransportResult> refusal_;

    SteadyTime started_;
    TransferMarks marks_;
    std::size_t body_offset_ = 0;   // how much of req_.body curl has taken
    bool connected_ = false;        // a connection was established or reused for the request

    // The reply as it arrives. A 1xx response is skipped; the final one is delivered once.
    bool in_final_response_ = false;
    bool status_delivered_ = false;
    int final_status_ = 0;
    Headers reply_headers_;
    std::size_t body_bytes_ = 0;

    bool resend_refused_ = false;   // see may_resend
    bool sink_refused_ = false;
    std::exception_ptr sink_exception_;
    std::optional<TransportErrorKind> stopped_;
    std::string stop_detail_;
};

}  // namespace nbcore::net::detail
