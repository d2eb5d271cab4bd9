// Who may call what: API keys on AI Studio routes, OAuth Bearer tokens on Vertex routes, and the
// exact errors the API gives for each wrong combination (400 API_KEY_INVALID, 401, 403 as published).
#pragma once

#include <optional>
#include <string>

#include "reply.hpp"
#include "routes.hpp"

namespace nbcore::emulator {

struct Credentials {
    std::string api_key;          // x-goog-api-key header, else ?key=; "" when absent
    std::string authorization;    // the Authorization header as sent; "" when absent
};

struct AuthConfig {
    std::string api_key;          // "" = any non-empty key is valid
    std::string bearer_token;     // "" = any non-empty Bearer token is valid
};

// nullopt when the caller may proceed.
std::optional<ApiError> check_auth(const Route& route, const Credentials& creds, const AuthConfig& config);

// The token of "Bearer <token>" (scheme case-insensitive); "" for anything else.
std::string bearer_token_of(const std::string& authorization);

}  // namespace nbcore::emulator
