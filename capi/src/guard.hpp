// The boundary between the C ABI and the C++ core. Every extern "C" body is one guard() call:
// no C++ exception ever crosses into C, and every failure lands in the thread-local last error.
#pragma once

#include <cstdint>
#include <new>
#include <string>
#include <vector>

#include "nbcore/nbcore.h"
#include "nbcore/status.hpp"

struct nbc_error {
    int code = NBC_OK;
    int http_status = 0;
    std::string api_status;
    std::string reason;
    std::string message;
    std::string advice;
    std::string route;
    std::int64_t retry_after_ms = -1;
    int dimension = NBC_DIM_NONE;
    int safety_layer = 0;
    int retryable = 0;
    std::vector<nbcore::Attempt> attempts;
};

namespace nbcapi {

nbc_error& last_error() noexcept;
void clear_last_error() noexcept;
void fill_error(nbc_error& e, const nbcore::Diagnosis& d);
void set_last_error(const nbcore::Error& e) noexcept;
void set_last_error(int code, const char* message, const char* advice) noexcept;
void fill_attempt(nbc_attempt* out, const nbcore::Attempt& a) noexcept;

// Thrown inside guard() bodies for argument errors; message names the argument.
[[noreturn]] void invalid_arg(const std::string& what);

template <class Fn>
int guard(Fn&& fn) noexcept {
    try {
        fn();
        clear_last_error();
        return NBC_OK;
    } catch (const nbcore::Error& e) {
        set_last_error(e);
        return static_cast<int>(e.code());
    } catch (const std::bad_alloc&) {
        set_last_error(NBC_E_INTERNAL, "out of memory",
                       "Free memory or reduce the image size / number of requests in flight.");
        return NBC_E_INTERNAL;
    } catch (const std::exception& e) {
        set_last_error(NBC_E_INTERNAL, e.what(),
                       "This is a bug in nbcore; please report it with the message.");
        return NBC_E_INTERNAL;
    } catch (...) {
        set_last_error(NBC_E_INTERNAL, "unknown exception",
                       "This is a bug in nbcore; please report it.");
        return NBC_E_INTERNAL;
    }
}

// Checks the struct_size of an options struct passed by a caller: at least the size of the first
// version of the struct and at most what this library knows, unless the unknown tail is zero.
void check_struct_size(const void* p, std::size_t min_size, std::size_t our_size, const char* name);

template <class T>
T* require(T* p, const char* name) {
    if (!p) invalid_arg(std::string(name) + " must not be NULL");
    return p;
}

}  // namespace nbcapi
