#include "batch.hpp"

#include <algorithm>
#include <chrono>
#include <set>

#include "errors.hpp"
#include "nbcore/codec.hpp"
#include "nbcore/models.hpp"
#include "request.hpp"
#include "sha256.hpp"
#include "util.hpp"

namespace nbcore::emulator {
namespace {

using json = nlohmann::ordered_json;
using Steady = nbcore::SteadyTime;
using Wall = nbcore::SystemTime;
using std::chrono::nanoseconds;

constexpr const char* kBatchType = "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch";
constexpr const char* kOutputType =
    "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput";
constexpr auto kFileLifetime = std::chrono::hours(48);
constexpr const char* kResultMime = "application/jsonl";
constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;
// Marks where the inlined responses go in a dumped Operation (they are spliced in as text).
constexpr const char* kInlinedMark = "\"@@nbcore-emulator-inlined@@\"";

enum class State { Pending, Running, Succeeded, Failed, Cancelled, Expired };

const char* state_name(State s) {
    switch (s) {
        case State::Pending: return "BATCH_STATE_PENDING";
        case State::Running: return "BATCH_STATE_RUNNING";
        case State::Succeeded: return "BATCH_STATE_SUCCEEDED";
        case State::Failed: return "BATCH_STATE_FAILED";
        case State::Cancelled: return "BATCH_STATE_CANCELLED";
        case State::Expired: return "BATCH_STATE_EXPIRED";
    }
    return "BATCH_STATE_UNSPECIFIED";
}

bool terminal(State s) { return s != State::Pending && s != State::Running; }

State state_of(BatchEnd e) {
    switch (e) {
        case BatchEnd::Succeeded: return State::Succeeded;
        case BatchEnd::Failed: return State::Failed;
        case BatchEnd::Cancelled: return State::Cancelled;
        case BatchEnd::Expired: return State::Expired;
    }
    return State::Succeeded;
}

ApiError make_error(int http, std::string status, std::string message) {
    ApiError e;
    e.http = http;
    e.status = std::move(status);
    e.message = std::move(message);
    return e;
}

// The API's answer for a batch that does not exist (or is not the caller's).
ApiError entity_not_found() { return make_error(404, "NOT_FOUND", "Requested entity was not found."); }

// The Files API's answer for a file that does not exist, expired, or is not the caller's.
ApiError file_denied(std::string_view id) {
    return make_error(403, "PERMISSION_DENIED",
                      "You do not have permission to access the File " + std::string(id) + " or it may not exist.");
}

ApiError unknown_field(std::string_view name, std::string_view at) {
    std::string where = at.empty() ? std::string() : " at '" + std::string(at) + "'";
    return bad_request(std::string(at), "Invalid JSON payload received. Unknown name \"" + std::string(name) + "\"" +
                                            where + ": Cannot find field.");
}

Reply empty_object() {
    Reply r;
    r.segments.push_back("{}\n");
    return r;
}

// proto3 JSON: a field under its lowerCamelCase or its snake_case name.
const json* field(const json& obj, std::string_view camel) {
    if (!obj.is_object()) return nullptr;
    auto it = obj.find(std::string(camel));
    if (it != obj.end()) return &*it;
    it = obj.find(camel_to_snake(camel));
    return it != obj.end() ? &*it : nullptr;
}

// The first key of `obj` that is none of `known` (camelCase names; snake_case also accepted).
std::optional<std::string> stray_key(const json& obj, std::initializer_list<std::string_view> known) {
    for (auto it = obj.begin(); it != obj.end(); ++it) {
        bool ok = false;
        for (auto k : known) ok = ok || it.key() == k || it.key() == camel_to_snake(k);
        if (!ok) return it.key();
    }
    return std::nullopt;
}

std::string base36_id(std::uint64_t seed, std::size_t len) {
    static constexpr char kDigits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    std::string out;
    std::uint64_t x = seed;
    while (out.size() < len) {
        x = splitmix64(x);
        std::uint64_t v = x;
        for (int i = 0; i < 8 && out.size() < len; ++i, v /= 36) out += kDigits[v % 36];
    }
    return out;
}

std::string int64_text(std::size_t n) { return std::to_string(n); }

struct StoredFile {
    std::string id;              // "abc123": the name is "files/" + id
    std::string owner;
    std::string display_name;
    std::string mime;
    std::string data;
    bool generated = false;      // a batch's results (source GENERATED) rather than an upload
    Wall created;
};

struct Session {
    std::string owner;
    std::string display_name;
    std::string mime;
    std::optional<std::size_t> declared;   // X-Goog-Upload-Header-Content-Length
    std::string data;
};

struct Item {
    std::optional<std::string> key;        // file jobs: the line's key
    std::optional<json> metadata;          // inline jobs: echoed with the result
    std::string request_json;
    std::optional<ScriptEntry> script;
};

struct Job {
    std::string id;
    std::string owner;
    std::string model;                     // canonical id
    std::string display_name;
    std::string input_file;                // "files/<id>" for file jobs, "" for inline ones
    std::optional<std::string> priority;
    std::vector<Item> items;
    BatchEnd end = BatchEnd::Succeeded;
    Steady started{};
    Wall created{};
    nanoseconds run{0};
    std::optional<Steady> cancelled_at;    // guarded by Impl::mu

    // Filled once, when the job has succeeded and someone looks.
    std::mutex finish_mu;
    bool finished = false;
    std::vector<std::string> results;      // inline: {"response"|"error", "metadata"} texts
    std::size_t succeeded = 0;
    std::size_t failed = 0;

    bool file_job() const { return !input_file.empty(); }
    std::string name() const { return "batches/" + id; }
    std::string output_file_id() const { return "batch-" + id; }
};

}  // namespace

int grpc_code(std::string_view s) {
    static constexpr std::string_view kNames[] = {
        "OK",        "CANCELLED",         "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
        "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
        "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};
    for (std::size_t i = 0; i < std::size(kNames); ++i)
        if (kNames[i] == s) return static_cast<int>(i);
    return 2;
}

int grpc_code_for_http(int http) {
    switch (http) {
        case 400: return 3;
        case 401: return 16;
        case 403: return 7;
        case 404: return 5;
        case 409: return 10;
        case 429: return 8;
        case 499: return 1;
        case 500: return 13;
        case 501: return 12;
        case 502: return 14;
        case 503: return 14;
        case 504: return 4;
        default: return http >= 500 ? 13 : http >= 400 ? 9 : 2;
    }
}

BatchItemResult batch_item_from_reply(const Reply& reply) {
    constexpr auto replace = json::error_handler_t::replace;
    auto status = [&](int code, const std::string& message, const json* details) {
        json s = {{"code", code}, {"message", message}};
        if (details && details->is_array() && !details->empty()) s["details"] = *details;
        return BatchItemResult{false, s.dump(-1, ' ', false, replace)};
    };
    if (reply.empty_reply || reply.status == 0) return status(14, "The service is currently unavailable.", nullptr);
    json doc = json::parse(reply.body(), nullptr, false);
    if (doc.is_array() && doc.size() == 1) doc = json(doc[0]);   // [{"error": ...}]
    const json* err = doc.is_object() ? field(doc, "error") : nullptr;
    if (err && !err->is_object()) err = nullptr;
    if (reply.status >= 200 && reply.status < 300) {
        if (doc.is_object() && !err) return {true, doc.dump(-1, ' ', false, replace)};
        if (!err) return status(13, "Internal error encountered.", nullptr);
    }
    if (err) {
        const json* name = field(*err, "status");
        const json* message = field(*err, "message");
        int code = name && name->is_string() ? grpc_code(name->get<std::string>()) : grpc_code_for_http(reply.status);
        return status(code, message && message->is_string() ? message->get<std::string>() : std::string(),
                      field(*err, "details"));
    }
    int code = grpc_code_for_http(reply.status);
    return status(code,
                  reply.status >= 500 ? "The service is currently unavailable."
                                      : "The request failed with HTTP status " + std::to_string(reply.status) + ".",
                  nullptr);
}

struct BatchService::Impl {
    BatchHooks hooks;
    std::mutex mu;   // guards the maps and every job's cancelled_at
    std::map<std::string, std::shared_ptr<StoredFile>> files;
    std::map<std::string, Session> sessions;
    std::map<std::string, std::shared_ptr<Job>> jobs;
    std::vector<std::string> job_order;    // creation order (listed newest first)
    std::vector<std::string> file_order;
    std::uint64_t counter = 0;

    explicit Impl(BatchHooks h) : hooks(std::move(h)) {}

    Steady now() const { return hooks.clock->now(); }
    Wall wall() const { return hooks.clock->wall(); }
    std::string new_id(std::string_view kind, std::size_t len) {
        return base36_id(fnv1a64(kind, ++counter), len);
    }

    // ---- jobs ------------------------------------------------------------------------------

    State state_at(const Job& j, Steady t) const {
        const Steady end_at = j.started + j.run;
        if (j.cancelled_at && *j.cancelled_at < end_at) return State::Cancelled;
        if (t >= end_at) return state_of(j.end);
        if (t >= j.started + j.run / 2) return State::Running;
        return State::Pending;
    }

    // When the state seen at `t` began, as wall time.
    Wall changed_at(const Job& j, State s) const {
        auto at = [&](Steady t) { return j.created + std::chrono::duration_cast<Wall::duration>(t - j.started); };
        switch (s) {
            case State::Pending: return j.created;
            case State::Running: return at(j.started + j.run / 2);
            case State::Cancelled:
                if (j.cancelled_at && *j.cancelled_at < j.started + j.run) return at(*j.cancelled_at);
                return at(j.started + j.run);
            default: return at(j.started + j.run);
        }
    }

    // Answers every entry of a job that succeeded (once), and stores a file job's result file.
    void finish(Job& j) {
        std::lock_guard job_lock(j.finish_mu);
        if (j.finished) return;
        Route route;
        route.api = Api::AiStudio;
        route.rpc = Rpc::GenerateContent;
        route.version = "v1beta";
        route.model = j.model;
        std::string lines;
        for (std::size_t i = 0; i < j.items.size(); ++i) {
            const Item& item = j.items[i];
            std::uint64_t n = splitmix64(fnv1a64(j.id) + i);
            BatchItemResult r = batch_item_from_reply(hooks.answer(route, item.request_json, n, item.script));
            ++(r.ok ? j.succeeded : j.failed);
            std::string text = std::string("{\"") + (r.ok ? "response" : "error") + "\":" + r.json;
            if (j.file_job()) {
                if (item.key) text += ",\"key\":" + json(*item.key).dump(-1, ' ', false, json::error_handler_t::replace);
                lines += text + "}\n";
            } else {
                if (item.metadata)
                    text += ",\"metadata\":" + item.metadata->dump(-1, ' ', false, json::error_handler_t::replace);
                j.results.push_back(text + "}");
            }
        }
        if (j.file_job()) {
            auto f = std::make_shared<StoredFile>();
            f->id = j.output_file_id();
            f->owner = j.owner;
            f->display_name = j.display_name + " results";
            f->mime = kResultMime;
            f->data = std::move(lines);
            f->generated = true;
            f->created = changed_at(j, State::Succeeded);
            std::lock_guard lock(mu);
            if (!files.count(f->id)) file_order.push_back(f->id);
            files[f->id] = std::move(f);
        }
        j.finished = true;
    }

    // The Operation for a job as it stands at `t`. `full` = with inlined responses (get);
    // list leaves them out, as the API does.
    Reply operation(Job& j, Steady t, bool full, std::optional<State> shown = std::nullopt) {
        State s;
        {
            std::lock_guard lock(mu);
            s = shown ? *shown : state_at(j, t);
        }
        if (s == State::Succeeded) finish(j);
        json md = json::object();
        md["@type"] = kBatchType;
        md["model"] = "models/" + j.model;
        md["displayName"] = j.display_name;
        if (j.file_job()) md["inputConfig"] = {{"fileName", j.input_file}};
        json output;
        if (s == State::Succeeded) {
            if (j.file_job()) output = {{"responsesFile", "files/" + j.output_file_id()}};
            else if (full) output = {{"inlinedResponses", {{"inlinedResponses", "@@nbcore-emulator-inlined@@"}}}};
            if (!output.is_null()) md["output"] = output;
        }
        md["createTime"] = rfc3339_micros(j.created);
        if (terminal(s)) md["endTime"] = rfc3339_micros(changed_at(j, s));
        md["updateTime"] = rfc3339_micros(changed_at(j, s));
        json stats = {{"requestCount", int64_text(j.items.size())}};
        if (s == State::Pending || s == State::Running) stats["pendingRequestCount"] = int64_text(j.items.size());
        if (s == State::Succeeded) {
            if (j.succeeded) stats["successfulRequestCount"] = int64_text(j.succeeded);
            if (j.failed) stats["failedRequestCount"] = int64_text(j.failed);
        }
        if (s == State::Failed) stats["failedRequestCount"] = int64_text(j.items.size());
        md["batchStats"] = stats;
        md["state"] = state_name(s);
        md["name"] = j.name();
        if (j.priority) md["priority"] = *j.priority;

        json op = {{"name", j.name()}, {"metadata", md}};
        if (terminal(s)) {
            op["done"] = true;
            if (s == State::Succeeded) {
                if (!output.is_null()) {
                    json response = {{"@type", kOutputType}};
                    for (auto it = output.begin(); it != output.end(); ++it) response[it.key()] = it.value();
                    op["response"] = response;
                }
            } else {
                int code = s == State::Cancelled ? 1 : s == State::Expired ? 4 : 13;
                std::string message =
                    s == State::Cancelled
                        ? "The batch job was cancelled before it finished; no results were kept. Submit the "
                          "requests again to run them."
                    : s == State::Expired
                        ? "The batch job expired: it did not finish within 48 hours. Submit the requests "
                          "again, in smaller batches if it keeps expiring."
                        : "The batch job failed: an internal error has occurred. Submit it again; if it "
                          "keeps failing, split it into smaller batches.";
                op["error"] = {{"code", code}, {"message", message}};
            }
        }
        return spliced(dump_for(op, Framing::Unary), j);
    }

    // Replaces the inlined-responses marks in `text` by the job's results.
    Reply spliced(const std::string& text, const Job& j) {
        Reply r;
        std::size_t from = 0;
        const std::string_view mark = kInlinedMark;
        while (true) {
            auto at = text.find(mark, from);
            if (at == std::string::npos) break;
            r.segments.push_back(text.substr(from, at - from) + "[");
            for (std::size_t i = 0; i < j.results.size(); ++i) r.segments.push_back((i ? "," : "") + j.results[i]);
            r.segments.push_back("]");
            from = at + mark.size();
        }
        r.segments.push_back(text.substr(from));
        return r;
    }

    std::shared_ptr<Job> find_job(const Route& route, const std::string& caller) {
        std::lock_guard lock(mu);
        auto it = jobs.find(route.resource.substr(8));   // "batches/"
        if (it == jobs.end() || it->second->owner != caller) return nullptr;
        return it->second;
    }

    std::variant<std::vector<Item>, ApiError> inline_items(const json& requests) {
        const json* list = field(requests, "requests");
        if (!requests.is_object() || !list || !list->is_array())
            return bad_request("batch.input_config.requests.requests",
                               "batch.input_config.requests must be {\"requests\": [{\"request\": {...}, "
                               "\"metadata\": {\"key\": ...}}, ...]}.");
        if (auto stray = stray_key(requests, {"requests"}))
            return unknown_field(*stray, "batch.input_config.requests");
        std::vector<Item> items;
        for (std::size_t i = 0; i < list->size(); ++i) {
            const json& e = (*list)[i];
            const std::string at = "batch.input_config.requests.requests[" + std::to_string(i) + "]";
            if (!e.is_object()) return bad_request(at, "Each inline request must be an object {\"request\": {...}, \"metadata\": {...}}.");
            if (auto stray = stray_key(e, {"request", "metadata"})) return unknown_field(*stray, at);
            const json* request = field(e, "request");
            if (!request || !request->is_object())
                return bad_request(at + ".request", "Each inline request needs \"request\": a GenerateContentRequest object.");
            Item item;
            item.request_json = request->dump();
            if (const json* md = field(e, "metadata")) {
                if (!md->is_object()) return bad_request(at + ".metadata", "\"metadata\" must be an object, e.g. {\"key\": \"request-1\"}.");
                item.metadata = *md;
            }
            items.push_back(std::move(item));
        }
        return items;
    }

    std::variant<std::vector<Item>, ApiError> file_items(const StoredFile& f) {
        std::vector<Item> items;
        std::size_t line_no = 0, from = 0;
        const std::string& data = f.data;
        while (from < data.size()) {
            auto end = data.find('\n', from);
            if (end == std::string::npos) end = data.size();
            std::string_view line(data.data() + from, end - from);
            from = end + 1;
            ++line_no;
            while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
            if (line.empty()) continue;
            const std::string where = "files/" + f.id + " line " + std::to_string(line_no);
            json doc = json::parse(line, nullptr, false);
            if (!doc.is_object())
                return bad_request("batch.input_config.file_name",
                                   where + " is not a JSON object. Each line must be {\"key\": \"...\", \"request\": "
                                           "{GenerateContentRequest}}; fix the file and upload it again.");
            if (auto stray = stray_key(doc, {"key", "request", "metadata"}))
                return bad_request("batch.input_config.file_name",
                                   where + " has an unknown field \"" + *stray +
                                       "\". Each line must be {\"key\": \"...\", \"request\": {...}}.");
            const json* request = field(doc, "request");
            if (!request || !request->is_object())
                return bad_request("batch.input_config.file_name",
                                   where + " has no \"request\" object. Each line must be {\"key\": \"...\", "
                                           "\"request\": {GenerateContentRequest}}.");
            Item item;
            item.request_json = request->dump();
            if (const json* key = field(doc, "key")) {
                if (!key->is_string())
                    return bad_request("batch.input_config.file_name", where + ": \"key\" must be a string.");
                item.key = key->get<std::string>();
            }
            items.push_back(std::move(item));
        }
        if (items.empty())
            return bad_request("batch.input_config.file_name",
                               "files/" + f.id + " holds no requests. Upload a JSONL file with one "
                                                 "{\"key\", \"request\"} object per line.");
        return items;
    }

    Reply create(const BatchCall& c) {
        if (c.body.size() > kMaxRequestBytes) return error_reply(payload_too_large(kMaxRequestBytes), Framing::Unary);
        const ModelInfo* model = find_model(c.route.model);
        if (!model) return error_reply(model_not_found(c.route), Framing::Unary);
        json doc = json::parse(c.body, nullptr, false);
        if (!doc.is_object())
            return error_reply(bad_request("", "Invalid JSON payload received. Expected an object {\"batch\": {...}}."),
                               Framing::Unary);
        if (auto stray = stray_key(doc, {"batch"})) return error_reply(unknown_field(*stray, ""), Framing::Unary);
        const json* batch = field(doc, "batch");
        if (!batch || !batch->is_object())
            return error_reply(bad_request("batch", "batch is required: send {\"batch\": {\"displayName\": \"...\", "
                                                    "\"inputConfig\": {...}}}."),
                               Framing::Unary);
        if (auto stray = stray_key(*batch, {"displayName", "inputConfig", "model", "priority", "name"}))
            return error_reply(unknown_field(*stray, "batch"), Framing::Unary);
        const json* display = field(*batch, "displayName");
        if (!display || !display->is_string() || display->get<std::string>().empty())
            return error_reply(bad_request("batch.display_name",
                                           "batch.display_name is required: give the batch a name, e.g. \"my-batch\"."),
                               Framing::Unary);
        std::optional<std::string> priority;
        if (const json* p = field(*batch, "priority")) {
            bool ok = p->is_number_integer() ||
                      (p->is_string() && !p->get<std::string>().empty() &&
                       p->get<std::string>().find_first_not_of("-0123456789") == std::string::npos);
            if (!ok) return error_reply(bad_request("batch.priority", "batch.priority must be an integer."), Framing::Unary);
            priority = p->is_string() ? p->get<std::string>() : std::to_string(p->get<long long>());
        }
        const json* input = field(*batch, "inputConfig");
        if (!input || !input->is_object())
            return error_reply(bad_request("batch.input_config",
                                           "batch.input_config is required: {\"requests\": {\"requests\": [...]}} for "
                                           "inline requests, or {\"fileName\": \"files/...\"} for an uploaded JSONL file."),
                               Framing::Unary);
        if (auto stray = stray_key(*input, {"requests", "fileName"}))
            return error_reply(unknown_field(*stray, "batch.input_config"), Framing::Unary);
        const json* requests = field(*input, "requests");
        const json* file_name = field(*input, "fileName");
        if ((requests != nullptr) == (file_name != nullptr))
            return error_reply(bad_request("batch.input_config",
                                           "batch.input_config takes exactly one of \"requests\" (inline) and "
                                           "\"fileName\" (an uploaded JSONL file)."),
                               Framing::Unary);

        auto job = std::make_shared<Job>();
        std::variant<std::vector<Item>, ApiError> items;
        if (requests) {
            items = inline_items(*requests);
        } else {
            std::string name = file_name->is_string() ? file_name->get<std::string>() : std::string();
            std::shared_ptr<StoredFile> f;
            if (name.rfind("files/", 0) == 0) f = find_file(name.substr(6), c.caller);
            if (!f)
                return error_reply(bad_request("batch.input_config.file_name",
                                               "File " + (name.empty() ? std::string("\"\"") : name) +
                                                   " was not found. Upload the JSONL file with the Files API "
                                                   "(POST /upload/v1beta/files) and pass the name it returns."),
                                   Framing::Unary);
            job->input_file = "files/" + f->id;
            items = file_items(*f);
        }
        if (auto* err = std::get_if<ApiError>(&items)) return error_reply(*err, Framing::Unary);
        job->items = std::move(std::get<std::vector<Item>>(items));
        if (job->items.empty())
            return error_reply(bad_request("batch.input_config.requests.requests",
                                           "The batch holds no requests. Add at least one {\"request\": {...}}."),
                               Framing::Unary);

        std::vector<std::optional<ScriptEntry>> entries;
        job->end = hooks.draw(std::string(model->id), job->items.size(), entries);
        for (std::size_t i = 0; i < job->items.size() && i < entries.size(); ++i) job->items[i].script = entries[i];
        job->owner = c.caller;
        job->model = std::string(model->id);
        job->display_name = display->get<std::string>();
        job->priority = priority;
        job->started = now();
        job->created = wall();
        job->run = std::chrono::milliseconds(hooks.batch_ms);
        {
            std::lock_guard lock(mu);
            job->id = new_id("batch", 36);
            jobs[job->id] = job;
            job_order.push_back(job->id);
        }
        // The API answers creation with the new job, whatever the clock says.
        return operation(*job, job->started, true, State::Pending);
    }

    Reply list_jobs(const BatchCall& c) {
        auto page = page_args(c.target);
        if (auto* err = std::get_if<ApiError>(&page)) return error_reply(*err, Framing::Unary);
        auto [size, token] = std::get<std::pair<int, std::string>>(page);
        std::vector<std::shared_ptr<Job>> mine;
        {
            std::lock_guard lock(mu);
            for (auto it = job_order.rbegin(); it != job_order.rend(); ++it) {
                auto j = jobs.find(*it);
                if (j != jobs.end() && j->second->owner == c.caller) mine.push_back(j->second);
            }
        }
        std::size_t first = 0;
        if (!token.empty()) {
            auto at = std::find_if(mine.begin(), mine.end(), [&](const auto& j) { return j->id == token; });
            if (at == mine.end()) return error_reply(bad_request("page_token", "Invalid page token."), Framing::Unary);
            first = static_cast<std::size_t>(at - mine.begin());
        }
        Reply r;
        r.segments.push_back("{\n  \"operations\": [");
        const Steady t = now();
        std::size_t last = std::min(mine.size(), first + static_cast<std::size_t>(size));
        for (std::size_t i = first; i < last; ++i) {
            Reply op = operation(*mine[i], t, false);
            r.segments.push_back(i == first ? "\n" : ",\n");
            for (auto& s : op.segments) r.segments.push_back(std::move(s));
        }
        std::string tail = "\n  ]";
        if (last < mine.size()) tail += ",\n  \"nextPageToken\": \"" + mine[last]->id + "\"";
        r.segments.push_back(tail + "\n}\n");
        if (first == last) r.segments = {"{}\n"};
        return r;
    }

    Reply cancel_job(const BatchCall& c) {
        auto j = find_job(c.route, c.caller);
        if (!j) return error_reply(entity_not_found(), Framing::Unary);
        {
            std::lock_guard lock(mu);
            Steady t = now();
            if (!terminal(state_at(*j, t))) j->cancelled_at = t;   // a finished job stays as it ended
        }
        return empty_object();
    }

    Reply delete_job(const BatchCall& c) {
        std::lock_guard lock(mu);
        auto it = jobs.find(c.route.resource.substr(8));
        if (it == jobs.end() || it->second->owner != c.caller) return error_reply(entity_not_found(), Framing::Unary);
        jobs.erase(it);
        return empty_object();
    }

    // ---- files -----------------------------------------------------------------------------

    std::shared_ptr<StoredFile> find_file(const std::string& id, const std::string& caller) {
        // A job's result file appears when the job is first seen finished; looking for it counts.
        if (id.rfind("batch-", 0) == 0) {
            std::shared_ptr<Job> j;
            {
                std::lock_guard lock(mu);
                auto it = jobs.find(id.substr(6));
                if (it != jobs.end() && it->second->owner == caller && it->second->file_job() &&
                    state_at(*it->second, now()) == State::Succeeded)
                    j = it->second;
            }
            if (j) finish(*j);
        }
        std::lock_guard lock(mu);
        auto it = files.find(id);
        if (it == files.end() || it->second->owner != caller) return nullptr;
        if (wall() >= it->second->created + kFileLifetime) {   // files live 48 hours
            files.erase(it);
            return nullptr;
        }
        return it->second;
    }

    json file_json(const StoredFile& f, const std::string& origin) const {
        json j = json::object();
        j["name"] = "files/" + f.id;
        if (!f.display_name.empty()) j["displayName"] = f.display_name;
        j["mimeType"] = f.mime;
        j["sizeBytes"] = int64_text(f.data.size());
        j["createTime"] = rfc3339_micros(f.created);
        j["updateTime"] = rfc3339_micros(f.created);
        j["expirationTime"] = rfc3339_micros(f.created + kFileLifetime);
        // As the API gives it: base64 of the hex digest.
        const std::string hex = sha256_hex(f.data);
        j["sha256Hash"] = api::base64_encode(reinterpret_cast<const std::uint8_t*>(hex.data()), hex.size());
        j["uri"] = origin + "/v1beta/files/" + f.id;
        if (f.generated) j["downloadUri"] = origin + "/download/v1beta/files/" + f.id + ":download?alt=media";
        j["state"] = "ACTIVE";
        j["source"] = f.generated ? "GENERATED" : "UPLOADED";
        return j;
    }

    Reply upload(const BatchCall& c) {
        const QueryParams query = parse_query(c.target);
        auto session_id = query_value(query, "upload_id");
        std::set<std::string> commands;
        {
            std::string text = to_lower(c.header("X-Goog-Upload-Command"));
            std::size_t from = 0;
            while (from <= text.size()) {
                auto comma = text.find(',', from);
                std::string word = text.substr(from, comma == std::string::npos ? std::string::npos : comma - from);
                word.erase(0, word.find_first_not_of(' '));
                word.erase(word.find_last_not_of(' ') + 1);
                if (!word.empty()) commands.insert(word);
                if (comma == std::string::npos) break;
                from = comma + 1;
            }
        }
        if (!session_id) return start_upload(c, commands);

        std::lock_guard lock(mu);
        auto it = sessions.find(*session_id);
        if (it == sessions.end())
            return error_reply(make_error(404, "NOT_FOUND",
                                          "Upload session not found: it finished, was cancelled or never existed. "
                                          "Start a new upload with X-Goog-Upload-Command: start."),
                               Framing::Unary);
        Session& s = it->second;
        Reply r;
        r.segments.push_back("");
        if (commands.count("cancel")) {
            sessions.erase(it);
            r.headers = {{"X-Goog-Upload-Status", "cancelled"}};
            return r;
        }
        if (commands.count("query")) {
            r.headers = {{"X-Goog-Upload-Status", "active"}, {"X-Goog-Upload-Size-Received", std::to_string(s.data.size())}};
            return r;
        }
        if (!commands.count("upload") && !commands.count("finalize"))
            return error_reply(bad_request("", "X-Goog-Upload-Command must be \"upload\", \"upload, finalize\", "
                                               "\"finalize\", \"query\" or \"cancel\" on an upload session."),
                               Framing::Unary);
        if (commands.count("upload")) {
            std::string offset_text = c.header("X-Goog-Upload-Offset");
            if (offset_text.empty() || offset_text.find_first_not_of("0123456789") != std::string::npos ||
                std::stoull(offset_text) != s.data.size())
                return error_reply(bad_request("", "X-Goog-Upload-Offset must be the number of bytes received so far (" +
                                                       std::to_string(s.data.size()) +
                                                       "); ask with X-Goog-Upload-Command: query and resume from there."),
                                   Framing::Unary);
            s.data.append(c.body);
        }
        if (!commands.count("finalize")) {
            r.headers = {{"X-Goog-Upload-Status", "active"}};
            return r;
        }
        if (s.declared && *s.declared != s.data.size())
            return error_reply(bad_request("", "The upload has " + std::to_string(s.data.size()) +
                                                   " bytes but X-Goog-Upload-Header-Content-Length announced " +
                                                   std::to_string(*s.declared) +
                                                   "; send the missing bytes before finalizing, or start again."),
                               Framing::Unary);
        auto f = std::make_shared<StoredFile>();
        f->id = new_id("file", 12);
        f->owner = s.owner;
        f->display_name = s.display_name;
        f->mime = s.mime;
        f->data = std::move(s.data);
        f->created = wall();
        sessions.erase(it);
        files[f->id] = f;
        file_order.push_back(f->id);
        Reply done = json_reply(200, {json{{"file", file_json(*f, c.origin)}}}, Framing::Unary);
        done.headers = {{"X-Goog-Upload-Status", "final"}};
        return done;
    }

    Reply start_upload(const BatchCall& c, const std::set<std::string>& commands) {
        if (to_lower(c.header("X-Goog-Upload-Protocol")) != "resumable" || !commands.count("start") || commands.size() != 1)
            return error_reply(bad_request("", "Uploads use the resumable protocol: POST /upload/v1beta/files with "
                                               "X-Goog-Upload-Protocol: resumable and X-Goog-Upload-Command: start, "
                                               "then POST the bytes to the X-Goog-Upload-URL it returns."),
                               Framing::Unary);
        Session s;
        s.owner = c.caller;
        s.mime = c.header("X-Goog-Upload-Header-Content-Type");
        std::string length = c.header("X-Goog-Upload-Header-Content-Length");
        if (!length.empty()) {
            if (length.find_first_not_of("0123456789") != std::string::npos || length.size() > 15)
                return error_reply(bad_request("", "X-Goog-Upload-Header-Content-Length must be the file's size in bytes."),
                                   Framing::Unary);
            s.declared = static_cast<std::size_t>(std::stoull(length));
        }
        if (!c.body.empty()) {
            json doc = json::parse(c.body, nullptr, false);
            const json* file = doc.is_object() ? field(doc, "file") : nullptr;
            if (!doc.is_object() || (file && !file->is_object()))
                return error_reply(bad_request("file", "The start request's body must be {\"file\": {\"displayName\": "
                                                       "\"...\"}} or empty."),
                                   Framing::Unary);
            if (auto stray = stray_key(doc, {"file"})) return error_reply(unknown_field(*stray, ""), Framing::Unary);
            if (file) {
                if (auto stray = stray_key(*file, {"displayName", "mimeType", "name"}))
                    return error_reply(unknown_field(*stray, "file"), Framing::Unary);
                if (const json* d = field(*file, "displayName"); d && d->is_string()) s.display_name = d->get<std::string>();
                if (const json* m = field(*file, "mimeType"); m && m->is_string() && s.mime.empty())
                    s.mime = m->get<std::string>();
            }
        }
        if (s.mime.empty()) s.mime = "application/octet-stream";
        std::string id;
        {
            std::lock_guard lock(mu);
            id = "AHxI1nM" + random_base64url(fnv1a64("upload", ++counter), 48);
            sessions[id] = std::move(s);
        }
        Reply r;
        r.segments.push_back("");
        r.headers = {{"X-Goog-Upload-URL", c.origin + "/upload/v1beta/files?upload_id=" + id + "&upload_protocol=resumable"},
                     {"X-Goog-Upload-Status", "active"},
                     {"X-Goog-Upload-Chunk-Granularity", "8388608"},
                     {"X-GUploader-UploadID", id}};
        return r;
    }

    Reply list_files(const BatchCall& c) {
        auto page = page_args(c.target);
        if (auto* err = std::get_if<ApiError>(&page)) return error_reply(*err, Framing::Unary);
        auto [size, token] = std::get<std::pair<int, std::string>>(page);
        std::vector<std::string> ids;
        {
            std::lock_guard lock(mu);
            for (auto it = file_order.rbegin(); it != file_order.rend(); ++it)
                if (auto f = files.find(*it); f != files.end() && f->second->owner == c.caller) ids.push_back(*it);
        }
        std::vector<std::shared_ptr<StoredFile>> mine;
        for (const auto& id : ids)
            if (auto f = find_file(id, c.caller)) mine.push_back(f);   // drops expired ones
        std::size_t first = 0;
        if (!token.empty()) {
            auto at = std::find_if(mine.begin(), mine.end(), [&](const auto& f) { return f->id == token; });
            if (at == mine.end()) return error_reply(bad_request("page_token", "Invalid page token."), Framing::Unary);
            first = static_cast<std::size_t>(at - mine.begin());
        }
        std::size_t last = std::min(mine.size(), first + static_cast<std::size_t>(size));
        json out = json::object();
        if (first < last) {
            out["files"] = json::array();
            for (std::size_t i = first; i < last; ++i) out["files"].push_back(file_json(*mine[i], c.origin));
        }
        if (last < mine.size()) out["nextPageToken"] = mine[last]->id;
        return json_reply(200, {out}, Framing::Unary);
    }

    // pageSize (0 = default, capped) and pageToken from the query.
    std::variant<std::pair<int, std::string>, ApiError> page_args(std::string_view target) {
        const QueryParams query = parse_query(target);
        int size = kDefaultPageSize;
        if (auto v = query_value(query, "pageSize")) {
            char* end = nullptr;
            long n = std::strtol(v->c_str(), &end, 10);
            if (v->empty() || *end != '\0' || n < 0)
                return bad_request("page_size", "Invalid value at 'page_size' (TYPE_INT32), \"" + *v + "\"");
            size = n == 0 ? kDefaultPageSize : static_cast<int>(std::min<long>(n, kMaxPageSize));
        }
        return std::pair<int, std::string>{size, query_value(query, "pageToken").value_or("")};
    }

    Reply handle(const BatchCall& c) {
        const std::string id = c.route.resource.size() > 6 ? c.route.resource.substr(6) : std::string();   // "files/"
        switch (c.route.rpc) {
            case Rpc::BatchGenerateContent: return create(c);
            case Rpc::ListBatches: return list_jobs(c);
            case Rpc::GetBatch: {
                auto j = find_job(c.route, c.caller);
                if (!j) return error_reply(entity_not_found(), Framing::Unary);
                return operation(*j, now(), true);
            }
            case Rpc::CancelBatch: return cancel_job(c);
            case Rpc::DeleteBatch: return delete_job(c);
            case Rpc::UploadFile: return upload(c);
            case Rpc::ListFiles: return list_files(c);
            case Rpc::GetFile: {
                auto f = find_file(id, c.caller);
                if (!f) return error_reply(file_denied(id), Framing::Unary);
                return json_reply(200, {file_json(*f, c.origin)}, Framing::Unary);
            }
            case Rpc::DeleteFile: {
                if (!find_file(id, c.caller)) return error_reply(file_denied(id), Framing::Unary);
                std::lock_guard lock(mu);
                files.erase(id);
                return empty_object();
            }
            case Rpc::DownloadFile: {
                auto f = find_file(id, c.caller);
                if (!f) return error_reply(file_denied(id), Framing::Unary);
                if (!f->generated)
                    return error_reply(bad_request("", "Only files generated by the API (batch results) can be "
                                                       "downloaded; files/" + id +
                                                           " was uploaded. Keep your own copy of what you upload."),
                                       Framing::Unary);
                Reply r;
                r.content_type = f->mime;
                r.segments.push_back(f->data);
                return r;
            }
            default: break;
        }
        return error_reply(entity_not_found(), Framing::Unary);
    }
};

BatchService::BatchService(BatchHooks hooks) : impl_(std::make_unique<Impl>(std::move(hooks))) {}
BatchService::~BatchService() = default;

Reply BatchService::handle(const BatchCall& call) { return impl_->handle(call); }

void BatchService::clear() {
    std::lock_guard lock(impl_->mu);
    impl_->files.clear();
    impl_->sessions.clear();
    impl_->jobs.clear();
    impl_->job_order.clear();
    impl_->file_order.clear();
}

}  // namespace nbcore::emulator
