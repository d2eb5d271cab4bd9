// The Batch API (AI Studio): many requests in one job at half the price, answered within a day.
//
// A few pure decisions (inline or file, the next poll delay, what a job's state means, how an
// entry's gRPC error reads online) and thin glue over the blocking Transport:
//
//   batch::BatchClient bc({.api_key = key});
//   batch::Job job = bc.submit({{"cat", cat_request}, {"dog", dog_request}}, "pets");
//   job = bc.wait(job.name);                       // polls with backoff; cancellable
//   for (auto& r : bc.results(job))                // one per entry, in submission order
//       if (r.diagnosis.code == Status::OK) save(r.key, r.result->images[0]);
//
// Every entry's answer is decoded, its images validated and the whole classified exactly as an
// online reply is (codec + image::check + policy::classify), so a blocked entry carries the same
// Status, reason and advice as the same block online. Results are marked `batch` for pricing.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nbcore/client.hpp"
#include "nbcore/clock.hpp"
#include "nbcore/codec.hpp"
#include "nbcore/governor.hpp"
#include "nbcore/image.hpp"
#include "nbcore/request.hpp"
#include "nbcore/status.hpp"
#include "nbcore/transport.hpp"

namespace nbcore::batch {

// Inline requests must keep the whole create body under this size; larger batches go through an
// uploaded JSONL file (reference 1.5).
inline constexpr std::size_t kInlineLimitBytes = 20u * 1024u * 1024u;

enum class State { Unspecified, Pending, Running, Succeeded, Failed, Cancelled, Expired };

std::string_view state_name(State s) noexcept;            // "BATCH_STATE_SUCCEEDED"
// BATCH_STATE_* as on the wire, JOB_STATE_* as the SDKs spell them; anything else Unspecified.
State parse_state(std::string_view name) noexcept;
bool is_terminal(State s) noexcept;                         // SUCCEEDED, FAILED, CANCELLED, EXPIRED

// ---- pure decisions --------------------------------------------------------------------------

enum class InputMode { Inline, File };
// Inline when the inline create body would be under `limit` bytes, else a file.
InputMode choose_input(std::size_t inline_body_bytes, std::size_t limit = kInlineLimitBytes) noexcept;

struct PollPolicy {
    std::chrono::milliseconds initial{2000};
    double factor = 1.5;
    std::chrono::milliseconds cap{60'000};
    double jitter = 0.1;              // up to +10 %, so many waiting clients do not poll in step
};
// The wait after `polls_done` polls (0 = after the first): min(cap, initial * factor^polls_done),
// stretched by jitter * u for u in [0, 1) from an Rng.
std::chrono::milliseconds next_poll_delay(const PollPolicy& p, int polls_done, double u) noexcept;

// What a finished job's state means for its caller: OK for SUCCEEDED, else the class to report
// (FAILED -> SERVER_ERROR, EXPIRED -> TIMEOUT, CANCELLED -> CANCELLED) with advice. `message` is
// the Operation's error message, if any.
Diagnosis diagnose_state(State s, std::string_view name, std::string_view message);

// A batch entry's error carries a gRPC code; online the same error has an HTTP status and a
// status name. 3 -> 400 "INVALID_ARGUMENT", 8 -> 429 "RESOURCE_EXHAUSTED", 14 -> 503, ...
int http_status_for_grpc(int code) noexcept;
std::string_view grpc_status_name(int code) noexcept;     // "" for codes outside 0..16

// One entry's answer, as the job holds it: a GenerateContentResponse (JSON text) or an error.
struct RawEntry {
    std::string key;                  // the entry's key ("" when the job did not keep one)
    bool has_response = false;
    std::string response_json;        // GenerateContentResponse, when has_response
    int error_code = 0;               // gRPC code, when !has_response
    std::string error_message;
    std::string error_details_json;   // the Status's "details" array, "" when none
};

// How an entry is judged: what the online engine would need to classify the same reply.
struct JudgeOptions {
    std::string model;                // the job's model
    std::string image_size;           // what the entry asked for ("" = default)
    image::Limits image_limits;
    image::BlankRules blank_rules;
    api::DecodeLimits decode_limits;
    bool keep_pixels = false;
};

// Decodes, validates and classifies one entry exactly as an online reply (an error entry is
// classified as the HTTP error the API would have answered online). Pure but for `now`.
struct EntryResult {
    std::string key;
    Diagnosis diagnosis;              // code OK on success, else the class, reason and advice
    std::optional<Result> result;     // on success: images, text, usage; result->batch is true
};
EntryResult judge_entry(const RawEntry& raw, const JudgeOptions& o, SystemTime now);

// ---- the wire ----------------------------------------------------------------------------------

struct Entry {
    std::string key;                  // unique, non-empty: results come back under it
    Request request;                  // request.model "" = the client's model
};

struct Job {
    std::string name;                 // "batches/<id>"
    std::string display_name;
    std::string model;                // canonical id
    State state = State::Unspecified;
    bool done = false;
    InputMode input = InputMode::Inline;
    std::string input_file;           // "files/<id>" when the requests went in a file
    std::string responses_file;       // "files/batch-<id>" when results come as a file
    std::int64_t request_count = 0;
    std::int64_t succeeded_count = 0;
    std::int64_t failed_count = 0;
    std::int64_t pending_count = 0;
    std::string create_time, update_time, end_time;   // RFC 3339, as the API gives them
    std::optional<Diagnosis> error;   // the job's own failure (FAILED, EXPIRED, CANCELLED)
};

// The body of POST .../models/{m}:batchGenerateContent for inline entries, with each request
// encoded by api::encode_request and the key in metadata. Requests are not validated here.
std::string encode_inline_batch(const std::vector<Entry>& entries, std::string_view display_name);
// One JSONL line per entry: {"key": ..., "request": {...}}\n.
std::string encode_jsonl(const std::vector<Entry>& entries);
// The body of a create call for an uploaded file.
std::string encode_file_batch(std::string_view file_name, std::string_view display_name);

// A google.longrunning.Operation (create / get answer) -> Job; inlined responses are skipped.
// Throws Error BAD_RESPONSE when the text is not an Operation.
Job parse_operation(std::string_view json);
// Inlined responses of a finished inline job's Operation, and the lines of a result file.
std::vector<RawEntry> parse_inlined_responses(std::string_view operation_json);
std::vector<RawEntry> parse_result_lines(std::string_view jsonl);

// ---- the client --------------------------------------------------------------------------------

struct Options {
    std::string api_key;              // "" = GOOGLE_API_KEY, then GEMINI_API_KEY
    std::string base_url;             // "" = GOOGLE_GEMINI_BASE_URL, then AI Studio
    std::string model;                // "" = kDefaultModel
    PollPolicy poll;
    std::size_t inline_limit = kInlineLimitBytes;
    net::Timeouts timeouts{std::chrono::milliseconds(10'000), std::chrono::milliseconds(0),
                           std::chrono::milliseconds(60'000), std::chrono::milliseconds(600'000)};
    std::size_t max_body_bytes = std::size_t{1} << 30;   // a result download larger than this fails
    int max_poll_failures = 5;        // polls in a row that may fail (503, network) before giving up
    image::Limits image_limits;
    image::BlankRules blank_rules;
    api::DecodeLimits decode_limits{std::size_t{256} << 20, std::size_t{8} << 20};
    bool keep_pixels = false;         // keep decoded pixels in results
    std::shared_ptr<net::Transport> transport;   // null = libcurl
    std::shared_ptr<Clock> clock;                // null = system clock
    // Spending caps: the batch's worst case at batch prices is reserved before it is created
    // (BUDGET when a cap would be crossed; nothing is sent) and settled from the results' usage
    // when this client fetches them (entries that failed book their worst case: they may have
    // been billed). A reservation never settled is booked in full after two days. null = none;
    // results still carry cost_usd at the default batch prices.
    std::shared_ptr<quota::Governor> governor;
    std::shared_ptr<Rng> rng;                    // null = random_device-seeded
};

struct WaitOptions {
    std::chrono::milliseconds deadline{0};       // 0 = wait as long as it takes
    const CancelToken* cancel = nullptr;         // stops waiting; the job keeps running
    std::function<void(const Job&)> on_poll;     // after every successful poll
};

// Every call blocks and throws nbcore::Error (with advice) when it cannot do what it says.
// Thread-safe.
class BatchClient {
public:
    explicit BatchClient(Options options);
    ~BatchClient();
    BatchClient(const BatchClient&) = delete;
    BatchClient& operator=(const BatchClient&) = delete;

    // Validates every request (INVALID_ARG naming the key), then creates the job: inline when the
    // body stays under the limit, else through a JSONL file uploaded with the Files API. All
    // entries must use one model. `display_name` "" = "nbcore-batch-<n entries>".
    Job submit(const std::vector<Entry>& entries, const std::string& display_name = {},
               const CancelToken* cancel = nullptr);
    Job get(const std::string& name, const CancelToken* cancel = nullptr);
    // This key's jobs, newest first (every page; at most `max` jobs, 0 = all).
    std::vector<Job> list(std::size_t max = 0);
    // Asks the API to stop the job; a job that has ended stays as it ended.
    void cancel(const std::string& name);
    // Deletes the job (its result file, if any, stays until it expires).
    void remove(const std::string& name);
    // Polls until the job ends, with backoff (PollPolicy). Throws DEADLINE or CANCELLED when
    // waiting stops first (the job keeps running), or the error of a poll that cannot succeed.
    Job wait(const std::string& name, const WaitOptions& w = {});
    // The entries of a SUCCEEDED job, judged as online replies: one per submitted entry in
    // submission order when this client submitted the job (an entry the job did not answer
    // comes back as BAD_RESPONSE), else in the job's order. Other states throw the job's error.
    std::vector<EntryResult> results(const Job& job, const CancelToken* cancel = nullptr);

    const Options& options() const noexcept;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace nbcore::batch
