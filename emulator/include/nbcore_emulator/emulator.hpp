// nbcore-emulator: a Gemini-compatible HTTP server for offline tests.
//
// It serves the AI Studio routes (/v1beta/models/...) and the Vertex routes
// (/v1[beta1]/projects/.../publishers/google/models/...), checks keys and request bodies the way
// the real API does, answers with deterministic procedural images at the real output sizes, and
// replays scripted failures (quota 429s, 5xx, blocked images, corrupt payloads, stalls, resets)
// with the real response bodies. It enforces quotas per key and model when asked, and serves the
// Batch API with the part of the Files API that batches need. See docs/emulator.md.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "nbcore/clock.hpp"

namespace nbcore::emulator {

struct Options {
    std::string host = "127.0.0.1";
    int port = 0;                       // 0 = any free port
    std::string api_key = "test-key";   // the one valid key; "" = any non-empty key is valid
    std::string bearer_token;           // Vertex routes: "" = any non-empty Bearer token is valid
    int latency_ms = 0;                 // added before every generated answer
    int threads = 64;                   // concurrent connections served
    int grain = 0;                      // 0..64: film grain amplitude in generated images
    std::string mime = "auto";          // auto (Flash png, Pro jpeg) | png | jpeg
    std::string script_json;            // initial script ("" = none)
    bool gzip = true;                   // gzip answers when the client sends Accept-Encoding: gzip
    // Quota enforced per (API key or Bearer token, model) with the real 429 bodies; 0 = unlimited
    // (the default). The minute windows slide; the day ends at midnight America/Los_Angeles.
    int rpm_limit = 0;                  // requests per minute
    int tpm_limit = 0;                  // input tokens per minute
    int ipm_limit = 0;                  // output images per minute
    int rpd_limit = 0;                  // requests per day
    std::string quota_tier = "free";    // free | paid: which quotaMetric / quotaId the 429s name
    // Batch jobs go PENDING -> RUNNING -> SUCCEEDED over this many milliseconds (of `clock`).
    int batch_ms = 3000;
    // Flaky prompts (docs/emulator.md): a prompt containing every '+'-joined term of one rule, or
    // with more distinct subjects than blank_over_subjects (> 0), is answered with a blank image,
    // or with finishReason NO_IMAGE when flaky_answer is "no_image". Script entries still win.
    std::vector<std::string> blank_when;
    int blank_over_subjects = 0;
    std::string flaky_answer = "blank";   // blank | no_image
    // Time for the quota windows, the quota day and batch progress; null = system clock.
    std::shared_ptr<nbcore::Clock> clock;
    // One line per answered request (method, path, status, fault, ms); never holds a key.
    // Called from server threads; empty = no logging.
    std::function<void(std::string_view line)> on_log;
};

class Server {
public:
    explicit Server(Options o);   // throws std::invalid_argument on bad options or script
    ~Server();                    // stops
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds and serves on a background thread; returns once listening. Throws
    // std::runtime_error when the address cannot be bound.
    void start();
    // Idempotent; wakes sleeping handlers, drops open connections and joins.
    void stop();

    int port() const;
    std::string url() const;      // "http://127.0.0.1:PORT"

    // Replaces the reply queue. Throws std::invalid_argument with the reason on a bad script.
    void set_script(std::string_view json);
    // Clears the reply queue and the request log.
    void reset();

    // The request log: one object per received API request, oldest first.
    nlohmann::json requests() const;
    // The same, and empties the log (the script and the request numbering go on). For long runs:
    // the log keeps only the newest 10000 entries, so a caller that must see every request drains it.
    nlohmann::json take_requests();
    std::size_t request_count() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The whole command line program; main() only calls this.
int run_cli(int argc, char** argv);

}  // namespace nbcore::emulator
