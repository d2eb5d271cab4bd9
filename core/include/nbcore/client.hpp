// The engine: Client::generate runs admission -> attempts -> validation -> Result, or throws a
// typed Error carrying the Diagnosis, the advice and every attempt.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nbcore/clock.hpp"
#include "nbcore/codec.hpp"
#include "nbcore/image.hpp"
#include "nbcore/policy.hpp"
#include "nbcore/redact.hpp"
#include "nbcore/resilience.hpp"
#include "nbcore/routes.hpp"
#include "nbcore/reply.hpp"
#include "nbcore/request.hpp"
#include "nbcore/status.hpp"
#include "nbcore/transport.hpp"

namespace nbcore {

inline constexpr std::string_view kAiStudioBaseUrl = "https://generativelanguage.googleapis.com";

enum class EventKind {
    AttemptStart,       // an attempt is about to be sent
    AttemptEnd,         // it ended with an outcome (OK or a class)
    RetryScheduled,     // waiting `delay` before the next attempt
    Done,               // the request finished (success or final error)
    BreakerTransition,  // a route's circuit breaker changed state (message says from -> to, why)
    FailOver,           // the next attempt goes to another route (`route`)
    Downgrade,          // the next attempt asks for a smaller image (`image_size`)
};

struct Event {
    EventKind kind = EventKind::AttemptStart;
    int attempt = 0;
    Status outcome = Status::OK;
    int http_status = 0;
    std::string reason;
    std::string message;                         // the diagnosis message, or progress text
    std::optional<std::chrono::milliseconds> server_delay;
    std::chrono::milliseconds delay{0};          // RetryScheduled: the chosen wait
    std::chrono::milliseconds elapsed{0};        // since the request started
    std::string route;                           // the attempt's route (FailOver: the new one)
    std::string image_size;                      // the size asked for (Downgrade: the new one)
};
using EventCallback = std::function<void(const Event&)>;

struct ClientOptions {
    std::string api_key;                 // "" = GOOGLE_API_KEY, then GEMINI_API_KEY
    std::string base_url;                // "" = GOOGLE_GEMINI_BASE_URL, then AI Studio
    // Where requests go, in preference order. Empty: one route from base_url and the environment
    // (see default_routes()).
    std::vector<RouteConfig> routes;
    std::string model;                   // "" = kDefaultModel
    policy::RetryPolicy retry = policy::RetryPolicy::interactive();
    policy::BreakerConfig breaker;       // per (route, model, credential)
    std::optional<policy::RetryBudgetConfig> retry_budget = policy::RetryBudgetConfig{};  // nullopt: none
    bool downgrade_on_timeout = false;   // a TIMEOUT at 4K retries at 2K, then 1K (recorded)
    net::Timeouts timeouts;              // per attempt; first_byte 0 = chosen by image size
    std::chrono::milliseconds deadline{0};   // default total deadline per request, 0 = none
    api::DecodeLimits decode_limits;
    image::Limits image_limits;
    image::BlankRules blank_rules;
    bool keep_pixels = true;             // keep decoded pixels in results (no second decode)
    bool stream = false;                 // use :streamGenerateContent?alt=sse
    EventCallback on_event;
    std::shared_ptr<net::Transport> transport;   // null = libcurl
    std::shared_ptr<Clock> clock;                // null = system clock
    std::shared_ptr<Rng> rng;                    // null = random_device-seeded
};

struct CallOptions {
    std::chrono::milliseconds deadline{0};   // 0 = the client's default
    const CancelToken* cancel = nullptr;
};

struct ResultImage {
    std::string mime;
    BlobPtr data;                   // encoded bytes, exactly as the server sent them
    int width = 0;
    int height = 0;
    int channels = 0;
    image::PixelsPtr pixels;        // decoded pixels (null when keep_pixels is off)
    image::Stats stats;
    std::string thought_signature;
};

struct Result {
    std::vector<ResultImage> images;
    std::string text;
    Usage usage;
    std::string model;              // the model asked for
    std::string model_version;      // what the server says answered
    std::string response_id;
    std::string finish_reason;
    std::vector<Attempt> attempts;
    std::string route;              // the route that served the answer
    std::string image_size;         // the size it was asked for (differs after a downgrade)
    bool batch = false;             // served by the Batch API (billed at half the online price)
    std::chrono::milliseconds elapsed{0};
};

class Client {
public:
    explicit Client(ClientOptions options);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Blocking. Retries and waits inside; throws nbcore::Error on failure. Thread-safe.
    Result generate(const Request& req, const CallOptions& call = {});

    const ClientOptions& options() const noexcept;
    std::vector<std::string> route_names() const;   // in preference order
    // Every circuit breaker this client has used, with its state now.
    std::vector<policy::BreakerSnapshot> breakers() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Reads GOOGLE_API_KEY, then GEMINI_API_KEY (stripped). Sets *both_set when both are present and
// differ, so callers can warn like the official SDKs.
std::string api_key_from_env(bool* both_set = nullptr);

}  // namespace nbcore
