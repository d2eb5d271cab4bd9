// The Batch API (AI Studio) and the part of the Files API it needs, in memory.
//
//   POST   /v1beta/models/{m}:batchGenerateContent   create: inline requests or a JSONL file
//   GET    /v1beta/batches[?pageSize&pageToken]      list (without inlined responses)
//   GET    /v1beta/batches/{id}                      get: the long-running Operation
//   POST   /v1beta/batches/{id}:cancel               cancel
//   DELETE /v1beta/batches/{id}                      delete
//   POST   /upload/v1beta/files                      resumable upload: start, then upload/finalize
//   GET    /v1beta/files[/{id}], DELETE /v1beta/files/{id}
//   GET    [/download]/v1beta/files/{id}:download?alt=media
//
// A job is PENDING for the first half of `batch_ms`, RUNNING for the second half, then ends as
// the script says (SUCCEEDED unless "batches" names another end). Each entry is answered like a
// generateContent request, script faults included, when the job succeeds; entries become
// GenerateContentResponses or google.rpc.Status errors (gRPC codes), inline for inline jobs and
// as a JSONL result file ("files/batch-<id>") for file jobs. Files and jobs belong to the
// credential that made them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nbcore/clock.hpp"
#include "reply.hpp"
#include "routes.hpp"
#include "script.hpp"

namespace nbcore::emulator {

// What the batch and file routes need from one HTTP request.
struct BatchCall {
    const Route& route;
    std::string_view target;                                  // path and query
    std::string_view body;
    std::function<std::string(const std::string&)> header;    // "" when absent
    std::string caller;                                       // the credential's pool (never shown)
    std::string origin;                                       // "http://127.0.0.1:1234"
};

struct BatchHooks {
    std::shared_ptr<nbcore::Clock> clock;
    int batch_ms = 3000;
    // Takes the script entries of a new job's requests, in order, and how the job ends: under
    // the server's lock, so a batch takes its replies as one block.
    std::function<BatchEnd(const std::string& model, std::size_t count,
                           std::vector<std::optional<ScriptEntry>>& entries)>
        draw;
    // Answers one entry as generateContent would (faults and custom replies included; no quota,
    // no latency). `route` is the generateContent route of the job's model.
    std::function<Reply(const Route& route, std::string_view request_json, std::uint64_t n,
                        const std::optional<ScriptEntry>& entry)>
        answer;
};

// The gRPC code of a google.rpc status name ("INVALID_ARGUMENT" -> 3); 2 (UNKNOWN) when unknown.
int grpc_code(std::string_view status_name);
// The status an HTTP error maps to ("400" -> 3, "429" -> 8, "503" -> 14, ...).
int grpc_code_for_http(int http_status);

// The batch item a reply becomes: {"response": {...}} for a 200 JSON answer, else
// {"error": {"code": <gRPC code>, "message", "details"?}}. Returned as compact JSON text of the
// inner object, with `ok` saying which.
struct BatchItemResult {
    bool ok = false;
    std::string json;   // the GenerateContentResponse or the google.rpc.Status, one line
};
BatchItemResult batch_item_from_reply(const Reply& reply);

class BatchService {
public:
    explicit BatchService(BatchHooks hooks);
    ~BatchService();
    BatchService(const BatchService&) = delete;
    BatchService& operator=(const BatchService&) = delete;

    // Every route with Route::is_batch_or_file(). The caller has checked the credential, except
    // on upload session URLs (the session id is the credential there, as with the API).
    Reply handle(const BatchCall& call);
    // Forgets every job, file and upload session.
    void clear();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace nbcore::emulator
