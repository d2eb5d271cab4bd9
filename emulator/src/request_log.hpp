// The request log: what each API request looked like and what it got, with every secret and all
// image data left out. Pure functions; the server keeps the entries.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "reply.hpp"

namespace nbcore::emulator {

struct LoggedRequest {
    std::uint64_t n = 0;
    std::string method;
    std::string target;      // path and query, as sent
    std::string path;        // the decoded path
    Headers headers;         // as received
    std::string body;
    std::string model;       // canonical id, "" when the route has none
    double arrival_ms = 0;
    int status = 0;          // 0 = nothing was sent (empty reply, reset before the status line)
    std::string fault;       // fault name, "pass" or "custom"
    nlohmann::json render;   // a mask edit's or cutout's note; null for other answers
};

// The secrets a request carried (API key, Bearer token) plus the configured key: the strings that
// must never be written anywhere.
std::vector<std::string> secrets_of(const Headers& headers, std::string_view target, const std::string& configured_key);

// `text` as valid UTF-8 with every secret (and anything that looks like a Google API key or a
// key= parameter) replaced by "[REDACTED]".
std::string scrub_text(std::string_view text, const std::vector<std::string>& secrets);

// {"n", "method", "path", "query", "headers", "body", "model", "arrival_ms", "status", "fault"},
// plus "render" when the answer was a mask edit or a cutout.
// Header names are lower-cased; x-goog-api-key and Authorization are "[REDACTED]"; every
// inlineData.data becomes "<N base64 chars>".
nlohmann::json log_entry(const LoggedRequest& request, const std::string& configured_key);

}  // namespace nbcore::emulator
