#include "net/curl_env.hpp"

#include <new>

#ifndef NBCORE_VERSION_STRING
#error "NBCORE_VERSION_STRING comes from the project version (core/CMakeLists.txt)"
#endif

namespace nbcore::net::detail {

void init_curl_once() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw std::bad_alloc();
    });
}

std::string curl_user_agent() {
    const curl_version_info_data* info = curl_version_info(CURLVERSION_NOW);
    return std::string("nbcore/" NBCORE_VERSION_STRING " libcurl/") + (info && info->version ? info->version : "?");
}

CurlShare::CurlShare() {
    init_curl_once();
    share_ = curl_share_init();
    if (!share_) throw std::bad_alloc();
    curl_share_setopt(share_, CURLSHOPT_USERDATA, static_cast<void*>(this));
    curl_share_setopt(share_, CURLSHOPT_LOCKFUNC, &CurlShare::lock);
    curl_share_setopt(share_, CURLSHOPT_UNLOCKFUNC, &CurlShare::unlock);
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
}

CurlShare::~CurlShare() { curl_share_cleanup(share_); }

void CurlShare::lock(CURL*, curl_lock_data data, curl_lock_access, void* self) {
    static_cast<CurlShare*>(self)->lock_for(data).lock();
}

void CurlShare::unlock(CURL*, curl_lock_data data, void* self) {
    static_cast<CurlShare*>(self)->lock_for(data).unlock();
}

std::mutex& CurlShare::lock_for(curl_lock_data data) {
    auto i = static_cast<std::size_t>(data);
    return locks_[i < locks_.size() ? i : 0];
}

}  // namespace nbcore::net::detail
