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
#include "nbcore/governor.hpp"
#include "nbcore/image.hpp"
#include "nbcore/io_loop.hpp"
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
    QuotaWait,          // the quota governor holds the request for `delay` (`dimension` binds)
    QuotaWarning,       // use of `dimension` crossed `percent` (80) of its limit
    BudgetAlert,        // spend crossed `percent` (50, 80, 100) of a cap; message names it
    PromptWarning,      // the pre-flight check found the prompt risky: `reason` is the risk
                        // ("medium", "high"), `message` the reasons (docs/prompt-analysis.md)
    StateNotice,        // the shared quota state changed health: `reason` is "unreachable" (Redis
                        // cannot be reached: local buckets at a share of each limit) or
                        // "reconciled" (it is back, local use counted in); `message` says more
};

// The pre-flight prompt check (docs/prompt-analysis.md): Off; Warn: a PromptWarning event for a
// medium- or high-risk prompt; Strict: the same, and a high-risk prompt is refused unsent
// (INVALID_ARG, reason PROMPT_TOO_COMPLEX) with the reasons and the ways out.
enum class Preflight { Off, Warn, Strict };

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
    Dimension dimension = Dimension::NONE;       // QuotaWait, QuotaWarning
    int percent = 0;                             // QuotaWarning, BudgetAlert
};
using EventCallback = std::function<void(const Event&)>;

struct ClientOptions {
    std::string api_key;                 // "" = GOOGLE_API_KEY, then GEMINI_API_KEY
    std::string base_url;                // "" = GOOGLE_GEMINI_BASE_URL, then AI Studio
    // Where requests go, in preference order. Empty: one route from base_url and the environment
    // (see default_routes()).
    std::vector<RouteConfig> routes;
    // For the default route only: Vertex AI or not (nullopt: GOOGLE_GENAI_USE_VERTEXAI decides),
    // and its project and location ("" = GOOGLE_CLOUD_PROJECT / GOOGLE_CLOUD_LOCATION).
    std::optional<bool> vertexai;
    std::string project;
    std::string location;
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
    // Delivered on the thread that waits for the request (generate(), Job::wait()), never on
    // the I/O thread, so a slow callback cannot stall other transfers and an exception it throws
    // surfaces in the waiting caller.
    EventCallback on_event;
    // Quota and budget: admission before every attempt, the worst-case cost reserved and then
    // settled from usage (governor.hpp). null = a governor of this client's own that learns
    // limits from 429s, with no spending caps, in memory. Share one governor (or one state
    // file) between clients and processes that use the same key and project.
    std::shared_ptr<quota::Governor> governor;
    std::size_t max_in_flight = 64;      // transfers at once for this client; more wait their turn
    Preflight preflight = Preflight::Off;
    std::shared_ptr<net::IoLoop> io_loop;          // null = the process-wide loop
    std::shared_ptr<net::WorkerPool> workers;      // image validation; null = the process-wide pool
    std::shared_ptr<Clock> clock;        // wall time (quota days, advice); null = system clock
    std::shared_ptr<Rng> rng;            // null = random_device-seeded
};

struct CallOptions {
    std::chrono::milliseconds deadline{0};   // 0 = the client's default
    const CancelToken* cancel = nullptr;
    int priority = 0;                        // higher goes first when requests queue
    // Replaces the policy's max_billed_retries for this request: 0 makes a blank answer or one
    // without an image a verdict at once (the prompt simplifier's tests), not a retry.
    std::optional<int> max_billed_retries;
    std::optional<Preflight> preflight;      // nullopt = the client's
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
    double cost_usd = 0;            // what every attempt was billed, from usage (price table)
};

// Where a request stands.
enum class JobStage {
    Queued,         // waiting for a transfer slot (or a route to reopen)
    WaitingQuota,   // the quota governor holds it until the limits allow it
    Sending,        // the request is going out
    WaitingServer,  // sent; the model is working (no bytes yet)
    Receiving,      // the answer is streaming in
    Validating,     // decoding and checking the images
    Retrying,       // waiting before the next attempt
    Done,
};
std::string_view job_stage_name(JobStage s) noexcept;   // "queued", "waiting for quota", ...

struct JobProgress {
    JobStage stage = JobStage::Queued;
    int attempt = 0;                          // the current or last attempt
    Status last_outcome = Status::OK;         // of the last finished attempt
    std::chrono::milliseconds wait_left{0};   // WaitingQuota / Retrying: until the next step
    std::chrono::milliseconds elapsed{0};
    std::size_t bytes_received = 0;           // of the current attempt
    std::string route;
    std::string text;                         // one line for people: "retrying in 3.0 s after RATE_LIMITED"
};

// A request in flight. Thread-safe; the engine keeps it alive until it is done.
class Job {
public:
    virtual ~Job() = default;
    virtual JobProgress progress() const = 0;
    // Waits up to `timeout` (nullopt = until done), delivering this job's events to the client's
    // on_event on the calling thread meanwhile. True when the job is done.
    virtual bool wait(std::optional<std::chrono::milliseconds> timeout = std::nullopt) = 0;
    virtual bool done() const = 0;
    // Waits until done, then returns the Result or throws the Error. Repeatable.
    virtual Result get() = 0;
    // Stops the request at once (a transfer is aborted, a wait interrupted); the job then ends
    // with CANCELLED unless it had already finished. Idempotent.
    virtual void cancel() = 0;
};
using JobPtr = std::shared_ptr<Job>;

class Client {
public:
    explicit Client(ClientOptions options);
    ~Client();   // cancels the jobs still running and waits for them to end
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Starts a request and returns at once. Argument errors throw here (INVALID_ARG).
    JobPtr submit(const Request& req, const CallOptions& call = {});
    // submit() + get(): retries and waits inside; throws nbcore::Error on failure. Thread-safe.
    Result generate(const Request& req, const CallOptions& call = {});

    const ClientOptions& options() const noexcept;
    std::vector<std::string> route_names() const;   // in preference order
    // Every circuit breaker this client has used, with its state now.
    std::vector<policy::BreakerSnapshot> breakers() const;
    // Quota used against limits and spend against caps, from the governor's state.
    quota::UsageSnapshot usage() const;
    const std::shared_ptr<quota::Governor>& governor() const noexcept;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Reads GOOGLE_API_KEY, then GEMINI_API_KEY (stripped). Sets *both_set when both are present and
// differ, so callers can warn like the official SDKs.
std::string api_key_from_env(bool* both_set = nullptr);

}  // namespace nbcore
