#include <cstring>

#include "guard.hpp"

namespace nbcapi {

nbc_error& last_error() noexcept {
    static thread_local nbc_error err;
    return err;
}

void clear_last_error() noexcept {
    nbc_error& e = last_error();
    if (e.code == NBC_OK && e.message.empty()) return;
    e = nbc_error{};
}

void fill_error(nbc_error& e, const nbcore::Diagnosis& d) {
    e.code = static_cast<int>(d.code);
    e.http_status = d.http_status;
    e.api_status = d.api_status;
    e.reason = d.reason;
    e.message = d.message.empty() ? std::string(nbcore::status_summary(d.code)) : d.message;
    e.advice = d.advice;
    e.retry_after_ms = d.retry_after ? d.retry_after->count() : -1;
    e.dimension = static_cast<int>(d.dimension);
    e.safety_layer = d.safety_layer;
    e.retryable = d.retryable ? 1 : 0;
}

void set_last_error(const nbcore::Error& ex) noexcept {
    try {
        const nbcore::Diagnosis& d = ex.diagnosis();
        nbc_error& e = last_error();
        e = nbc_error{};
        fill_error(e, d);
        e.route = ex.route;
        e.attempts = ex.attempts;
    } catch (...) {
        set_last_error(static_cast<int>(ex.code()), "out of memory while recording an error", "");
    }
}

void set_last_error(int code, const char* message, const char* advice) noexcept {
    nbc_error& e = last_error();
    try {
        e = nbc_error{};
        e.code = code;
        e.message = message ? message : "";
        e.advice = advice ? advice : "";
    } catch (...) {
        e.code = code;  // strings may be partly assigned; the code is what matters
    }
}

void fill_attempt(nbc_attempt* out, const nbcore::Attempt& a) noexcept {
    nbc_attempt v = NBC_ATTEMPT_INIT;
    v.number = a.number;
    v.outcome = static_cast<int32_t>(a.outcome);
    v.http_status = a.http_status;
    v.server_delay_ms = a.server_delay ? a.server_delay->count() : -1;
    v.chosen_delay_ms = a.chosen_delay.count();
    v.duration_ms = a.duration.count();
    v.route = a.route.c_str();
    v.reason = a.reason.c_str();
    v.image_size = a.image_size.c_str();
    v.execution = static_cast<int32_t>(a.execution);
    // Copy only what the caller's version of the struct has room for.
    std::size_t n = out->struct_size < sizeof v ? out->struct_size : sizeof v;
    uint32_t caller_size = out->struct_size;
    std::memcpy(out, &v, n);
    out->struct_size = caller_size;
}

void invalid_arg(const std::string& what) {
    nbcore::Diagnosis d;
    d.code = nbcore::Status::INVALID_ARG;
    d.reason = "INVALID_ARG";
    d.message = what;
    d.advice = "Fix the argument named in the message; see nbcore.h for the accepted values.";
    throw nbcore::Error(std::move(d));
}

void check_struct_size(const void* p, std::size_t min_size, std::size_t our_size, const char* name) {
    uint32_t size;
    std::memcpy(&size, p, sizeof size);
    if (size < min_size)
        invalid_arg(std::string(name) + ".struct_size is " + std::to_string(size) +
                    "; set it to sizeof(" + name + ") or use the _INIT macro / _init() function");
    if (size > our_size) {
        // A newer caller: acceptable only if every field this library does not know is zero.
        const auto* bytes = static_cast<const unsigned char*>(p);
        for (std::size_t i = our_size; i < size; ++i)
            if (bytes[i] != 0)
                invalid_arg(std::string(name) + " has fields this library (" NBC_VERSION_STRING
                            ") does not know; upgrade libnbcore or leave the new fields zero");
    }
}

}  // namespace nbcapi

using nbcapi::last_error;

namespace {
const nbc_error& or_last(const nbc_error* e) { return e ? *e : last_error(); }
}  // namespace

extern "C" {

NBC_API(const char*) nbc_strerror(int code) {
    static thread_local std::string text;
    auto s = static_cast<nbcore::Status>(code);
    text = std::string(nbcore::status_name(s)) + ": " + std::string(nbcore::status_summary(s));
    return text.c_str();
}

NBC_API(const char*) nbc_status_name(int code) {
    return nbcore::status_name(static_cast<nbcore::Status>(code)).data();
}

NBC_API(const nbc_error*) nbc_error_last(void) { return &last_error(); }
NBC_API(int) nbc_error_code(const nbc_error* e) { return or_last(e).code; }
NBC_API(const char*) nbc_error_message(const nbc_error* e) { return or_last(e).message.c_str(); }
NBC_API(const char*) nbc_error_advice(const nbc_error* e) { return or_last(e).advice.c_str(); }
NBC_API(int) nbc_error_http_status(const nbc_error* e) { return or_last(e).http_status; }
NBC_API(const char*) nbc_error_api_status(const nbc_error* e) { return or_last(e).api_status.c_str(); }
NBC_API(const char*) nbc_error_reason(const nbc_error* e) { return or_last(e).reason.c_str(); }
NBC_API(int64_t) nbc_error_retry_after_ms(const nbc_error* e) { return or_last(e).retry_after_ms; }
NBC_API(int) nbc_error_dimension(const nbc_error* e) { return or_last(e).dimension; }
NBC_API(int) nbc_error_safety_layer(const nbc_error* e) { return or_last(e).safety_layer; }
NBC_API(int) nbc_error_retryable(const nbc_error* e) { return or_last(e).retryable; }
NBC_API(const char*) nbc_error_route(const nbc_error* e) { return or_last(e).route.c_str(); }
NBC_API(int) nbc_error_attempt_count(const nbc_error* e) {
    return static_cast<int>(or_last(e).attempts.size());
}

NBC_API(int) nbc_error_attempt(nbc_attempt* out, const nbc_error* e, int index) {
    // Reading an attempt must not overwrite the error being read: no guard() here.
    const nbc_error& err = or_last(e);
    if (!out || out->struct_size < offsetof(nbc_attempt, route)) return NBC_E_INVALID_ARG;
    if (index < 0 || static_cast<std::size_t>(index) >= err.attempts.size()) return NBC_E_INVALID_ARG;
    nbcapi::fill_attempt(out, err.attempts[static_cast<std::size_t>(index)]);
    return NBC_OK;
}

}  // extern "C"
