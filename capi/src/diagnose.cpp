// nbc_diagnose: the policy's classify() for statuses and bodies obtained anywhere.
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "guard.hpp"
#include "nbcore/policy.hpp"
#include "nbcore/redact.hpp"
#include "nbcore/transport.hpp"

namespace {

// A body can quote the key it was sent with. nbc_diagnose is given no key, so it redacts the keys
// this process would send (GOOGLE_API_KEY, GEMINI_API_KEY), as nbc_generate redacts the client's.
void redact_environment_keys(nbcore::Diagnosis& d) {
    for (const char* name : {"GOOGLE_API_KEY", "GEMINI_API_KEY"}) {
        const char* value = std::getenv(name);
        std::string_view key = value ? value : "";
        while (!key.empty() && std::isspace(static_cast<unsigned char>(key.back()))) key.remove_suffix(1);
        while (!key.empty() && std::isspace(static_cast<unsigned char>(key.front()))) key.remove_prefix(1);
        if (key.empty()) continue;
        for (std::string* text : {&d.message, &d.reason, &d.advice, &d.api_status}) *text = nbcore::redact(*text, key);
    }
}

}  // namespace

extern "C" {

NBC_API(int) nbc_diagnose(nbc_error** out, int http_status, const char* body, size_t body_len,
                          const char* headers) {
    if (out) *out = nullptr;
    return nbcapi::guard([&] {
        nbcapi::require(out, "out");
        if (!body && body_len) nbcapi::invalid_arg("body must not be NULL when body_len > 0");
        if (http_status < 100 || http_status > 599)
            nbcapi::invalid_arg("http_status " + std::to_string(http_status) + " is not an HTTP status (100..599)");
        auto d = nbcore::policy::diagnose(http_status, std::string_view(body ? body : "", body_len),
                                          nbcore::net::parse_header_lines(headers ? headers : ""), std::chrono::system_clock::now());
        redact_environment_keys(d);
        auto e = std::make_unique<nbc_error>();
        nbcapi::fill_error(*e, d);
        *out = e.release();
    });
}

NBC_API(void) nbc_error_free(nbc_error* e) {
    if (e && e != &nbcapi::last_error()) delete e;
}

}  // extern "C"
