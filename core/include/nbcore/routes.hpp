// Where requests go: an ordered list of routes (AI Studio, Vertex AI regional or global, any base
// URL), how each one builds its URL and authenticates, and the defaults read from the environment
// the way the official SDKs read it.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "nbcore/clock.hpp"
#include "nbcore/resilience.hpp"
#include "nbcore/transport.hpp"

namespace nbcore {

using policy::RouteKind;
using policy::credential_fingerprint;

struct RouteConfig {
    std::string name;            // "" = derived: "ai-studio", "vertex:us-central1", "custom:<url>"
    RouteKind kind = RouteKind::AiStudio;
    std::string base_url;        // "" = the kind's public endpoint
    std::string api_version;     // "" = v1beta (AI Studio, custom), v1 (Vertex)
    // AI Studio / custom / Vertex express mode: the API key ("" = the client's key).
    std::string api_key;
    // Vertex: project and location ("global", "us-central1", "us", "eu", ...). Without a project a
    // Vertex route uses express mode (API key, /v1/publishers/google/models/...).
    std::string project;
    std::string location;
    // Vertex OAuth access token: read from this environment variable, or printed by this command
    // (e.g. "gcloud auth print-access-token"), cached and refreshed after `token_ttl` or a 401.
    std::string token_env;
    std::string token_command;
    std::chrono::seconds token_ttl{50 * 60};
    // Routes drawing on the same quota do not help each other with quota errors.
    std::string quota_pool;      // "" = derived from the kind, project and key
    bool failover_on_capacity = true;
    bool failover_on_quota = true;
    bool failover_on_location = true;   // to another entry point or project
    bool failover_on_safety = false;
};

// Fills derived fields (name, base_url, api_version, quota_pool). Throws INVALID_ARG naming the
// field when the configuration cannot work (e.g. plain http to a non-loopback host, a Vertex route
// with a project but no token source).
RouteConfig resolve_route(RouteConfig r, const std::string& client_api_key);

// The routes a client uses when it is given none: one route from base_url / the environment
// (GOOGLE_GENAI_USE_VERTEXAI, GOOGLE_CLOUD_PROJECT, GOOGLE_CLOUD_LOCATION, GOOGLE_GEMINI_BASE_URL,
// GOOGLE_VERTEX_BASE_URL), as the official SDKs choose.
// `vertexai` and a non-empty `project` / `location` override the environment when given.
std::vector<RouteConfig> default_routes(const std::string& base_url,
                                        std::optional<bool> vertexai = std::nullopt,
                                        const std::string& project = {}, const std::string& location = {});

// The URL of generateContent (or streamGenerateContent?alt=sse) for a model on a route.
std::string route_url(const RouteConfig& r, const std::string& model, bool stream);

// The planner's view of a route (name, kind, quota pool and failover flags).
policy::Route planning_route(const RouteConfig& r);

// Produces the headers that authenticate one request on a route. Thread-safe; a command's token
// is cached, and invalidate() forces a refresh (after a 401).
class RouteAuth {
public:
    RouteAuth(RouteConfig route, std::shared_ptr<Clock> clock);
    // Throws Error AUTH (with advice) when no credential can be had.
    void add_headers(net::Headers& headers);
    void invalidate();
    const RouteConfig& route() const noexcept { return route_; }
    // The secret used (key or token) for redaction; "" before the first add_headers.
    std::string current_secret() const;

private:
    std::string bearer_token();
    RouteConfig route_;
    std::shared_ptr<Clock> clock_;
    mutable std::mutex mu_;
    std::string token_;
    SteadyTime token_expires_{};
};

}  // namespace nbcore
