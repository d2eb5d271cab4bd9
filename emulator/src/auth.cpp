#include "auth.hpp"

#include "errors.hpp"
#include "util.hpp"

namespace nbcore::emulator {
namespace {

bool key_accepted(const std::string& key, const AuthConfig& config) {
    return !key.empty() && (config.api_key.empty() || key == config.api_key);
}

bool token_accepted(const std::string& token, const AuthConfig& config) {
    return !token.empty() && (config.bearer_token.empty() || token == config.bearer_token);
}

std::optional<ApiError> check_key(const Route& route, const Credentials& creds, const AuthConfig& config) {
    if (!creds.api_key.empty())
        return key_accepted(creds.api_key, config) ? std::nullopt : std::optional(invalid_api_key(route));
    // A key sent as "Authorization: Bearer" is taken for an OAuth token, and rejected as one.
    if (!creds.authorization.empty()) return oauth_token_rejected(route);
    return no_api_key();
}

std::optional<ApiError> check_vertex_token(const Route& route, const Credentials& creds, const AuthConfig& config) {
    if (!creds.authorization.empty()) {
        return token_accepted(bearer_token_of(creds.authorization), config) ? std::nullopt
                                                                            : std::optional(oauth_token_rejected(route));
    }
    if (!creds.api_key.empty()) return vertex_api_key_unsupported(route);
    return vertex_credentials_missing(route);
}

}  // namespace

std::string bearer_token_of(const std::string& authorization) {
    if (authorization.size() < 7 || to_lower(authorization.substr(0, 7)) != "bearer ") return {};
    auto token = authorization.substr(7);
    while (!token.empty() && token.front() == ' ') token.erase(0, 1);
    while (!token.empty() && token.back() == ' ') token.pop_back();
    return token;
}

std::optional<ApiError> check_auth(const Route& route, const Credentials& creds, const AuthConfig& config) {
    switch (route.api) {
        case Api::Control: return std::nullopt;
        case Api::Vertex: return check_vertex_token(route, creds, config);
        case Api::AiStudio:
        case Api::VertexExpress: return check_key(route, creds, config);
    }
    return std::nullopt;
}

}  // namespace nbcore::emulator
