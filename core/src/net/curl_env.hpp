// What every libcurl driver in the process shares: one-time global setup, the User-Agent, and the
// share object that carries DNS answers and TLS sessions between transfers.
#pragma once

#include <curl/curl.h>

#include <array>
#include <mutex>
#include <string>

namespace nbcore::net::detail {

// curl_global_init, once per process (never undone: other threads may still use curl at exit).
void init_curl_once();

// "nbcore/<version> libcurl/<version>".
std::string curl_user_agent();

// DNS answers and TLS sessions (for quick resumed handshakes), shared by every transfer whose
// easy handle points here. Locked, so drivers on several threads may use one share. Connections
// are never shared this way: curl's shared connection cache is unsafe between concurrent threads
// (curl issues #4544, #13840); they live in multi handles instead.
class CurlShare {
public:
    CurlShare();
    ~CurlShare();
    CurlShare(const CurlShare&) = delete;
    CurlShare& operator=(const CurlShare&) = delete;
    CURLSH* get() const noexcept { return share_; }

private:
    static void lock(CURL*, curl_lock_data data, curl_lock_access, void* self);
    static void unlock(CURL*, curl_lock_data data, void* self);
    std::mutex& lock_for(curl_lock_data data);

    std::array<std::mutex, CURL_LOCK_DATA_LAST> locks_;   // before share_: its callbacks use them
    CURLSH* share_ = nullptr;
};

}  // namespace nbcore::net::detail
