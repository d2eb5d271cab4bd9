// The blocking libcurl Transport: the pool of multi handles that carries connections from one send
// to the next, and the loop that drives one CurlTransfer through a multi handle on the caller's
// thread. (The shared I/O loop, io_loop.cpp, drives many transfers on one thread instead.)
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "net/curl_env.hpp"
#include "net/curl_transfer.hpp"
#include "net/net_internal.hpp"
#include "nbcore/transport.hpp"

namespace nbcore::net {
namespace {

using detail::CurlTransfer;

class MultiHandle {
public:
    MultiHandle() : multi_(curl_multi_init()) {
        if (!multi_) throw std::bad_alloc();
    }
    ~MultiHandle() { curl_multi_cleanup(multi_); }
    MultiHandle(const MultiHandle&) = delete;
    MultiHandle& operator=(const MultiHandle&) = delete;
    CURLM* get() const noexcept { return multi_; }

private:
    CURLM* multi_;
};

// Idle multi handles, the most recently used last. Each multi handle keeps its own connection
// cache, so a send that borrows one reuses the connections its previous borrower left open, and a
// multi handle (with its connections) serves one send at a time. curl's shared connection cache
// (CURL_LOCK_DATA_CONNECT) is documented as unsafe between concurrent threads (a known libcurl
// bug; see curl issues #4544, #13840), so connections are never shared that way.
class MultiPool {
public:
    explicit MultiPool(std::size_t max_idle) : max_idle_(max_idle) {}

    std::unique_ptr<MultiHandle> take() {
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (!idle_.empty()) {
                auto multi = std::move(idle_.back());
                idle_.pop_back();
                return multi;
            }
        }
        return std::make_unique<MultiHandle>();
    }

    void give_back(std::unique_ptr<MultiHandle> multi) noexcept {
        std::lock_guard<std::mutex> lock(mu_);
        if (idle_.size() < max_idle_) idle_.push_back(std::move(multi));   // else closed here
    }

private:
    std::mutex mu_;
    std::size_t max_idle_;
    std::vector<std::unique_ptr<MultiHandle>> idle_;
};

// A multi handle borrowed from the pool for one send.
class MultiLease {
public:
    explicit MultiLease(MultiPool& pool) : pool_(pool), multi_(pool.take()) {}
    ~MultiLease() { pool_.give_back(std::move(multi_)); }
    MultiLease(const MultiLease&) = delete;
    MultiLease& operator=(const MultiLease&) = delete;
    CURLM* get() const noexcept { return multi_->get(); }

private:
    MultiPool& pool_;
    std::unique_ptr<MultiHandle> multi_;
};

// Wakes the multi handle when the token is cancelled from another thread. CancelToken runs its
// callbacks outside its lock, so one may still be running after we unregister: the waker keeps
// its own lock and forgets the multi handle before that is destroyed.
class CancelHook {
public:
    CancelHook(const CancelToken* token, CURLM* multi) : waker_(std::make_shared<Waker>()) {
        waker_->multi = multi;
        if (!token) return;
        token_ = token;
        id_ = token_->on_cancel([waker = waker_] { waker->wake(); });
    }
    ~CancelHook() {
        waker_->disarm();
        if (token_ && id_ != 0) token_->remove(id_);
    }
    CancelHook(const CancelHook&) = delete;
    CancelHook& operator=(const CancelHook&) = delete;

private:
    struct Waker {
        std::mutex mu;
        CURLM* multi = nullptr;
        void wake() {
            std::lock_guard<std::mutex> lock(mu);
            if (multi) curl_multi_wakeup(multi);
        }
        void disarm() {
            std::lock_guard<std::mutex> lock(mu);
            multi = nullptr;
        }
    };
    std::shared_ptr<Waker> waker_;
    const CancelToken* token_ = nullptr;
    int id_ = 0;
};

// Drives one transfer to its end on the calling thread, alone on `multi`: curl's work, our
// timers, cancellation.
TransportResult drive_alone(CurlTransfer& transfer, CURLM* multi, const CancelToken* cancel) {
    if (curl_multi_add_handle(multi, transfer.easy()) != CURLM_OK) {
        transfer.stop(TransportErrorKind::Other, "curl could not start the transfer");
        return transfer.finish(CURLE_OK);
    }
    CURLcode code = CURLE_OK;
    {
        CancelHook hook(cancel, multi);
        bool done = false;
        while (!done) {
            if (cancel && cancel->cancelled()) {
                transfer.stop(TransportErrorKind::Cancelled, "cancelled by the caller");
                break;
            }
            int running = 0;
            CURLMcode mc = curl_multi_perform(multi, &running);
            int queued = 0;
            while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
                if (msg->msg == CURLMSG_DONE && msg->easy_handle == transfer.easy()) {
                    code = msg->data.result;
                    done = true;
                }
            }
            if (done) break;
            if (mc != CURLM_OK) {
                transfer.stop(TransportErrorKind::Other, std::string("curl: ") + curl_multi_strerror(mc));
                break;
            }
            auto now = std::chrono::steady_clock::now();
            if (transfer.on_tick(now)) break;
            mc = curl_multi_poll(multi, nullptr, 0, detail::poll_wait_ms(transfer.next_deadline(), now), nullptr);
            if (mc != CURLM_OK) {
                transfer.stop(TransportErrorKind::Other, std::string("curl: ") + curl_multi_strerror(mc));
                break;
            }
        }
    }
    curl_multi_remove_handle(multi, transfer.easy());
    TransportResult result = transfer.finish(code);
    transfer.rethrow_sink_exception();
    return result;
}

class CurlTransport final : public Transport {
public:
    // DNS answers and TLS sessions are shared by every send; connections travel with the multi
    // handles (see MultiPool).
    CurlTransport() : user_agent_(detail::curl_user_agent()), multis_(kMaxIdleMultiHandles) {}
    CurlTransport(const CurlTransport&) = delete;
    CurlTransport& operator=(const CurlTransport&) = delete;

    TransportResult send(const HttpRequest& req, BodySink& sink, const CancelToken* cancel) override {
        if (cancel && cancel->cancelled()) {
            TransportResult r;
            r.error = TransportErrorKind::Cancelled;
            r.detail = "cancelled before sending";
            return r;
        }
        MultiLease multi(multis_);   // outlives the transfer's easy handle
        CurlTransfer transfer(req, sink, share_.get(), user_agent_);
        if (transfer.refusal()) return *transfer.refusal();
        return drive_alone(transfer, multi.get(), cancel);
    }

private:
    // Enough warm connections for a handful of parallel sends; more are closed when returned.
    static constexpr std::size_t kMaxIdleMultiHandles = 8;

    std::string user_agent_;
    detail::CurlShare share_;   // declared before multis_, so pooled connections close first
    MultiPool multis_;
};

}  // namespace

std::shared_ptr<Transport> make_curl_transport() { return std::make_shared<CurlTransport>(); }

}  // namespace nbcore::net
