// The Batch API's JSON: create bodies built around api::encode_request's text (no re-parse of the
// requests and their images), Operations and result files read back.
#include <nlohmann/json.hpp>

#include "batch/internal.hpp"
#include "nbcore/codec.hpp"
#include "nbcore/models.hpp"

namespace nbcore::batch {
namespace {

using json = nlohmann::json;

std::string json_string(std::string_view s) {
    return json(std::string(s)).dump(-1, ' ', false, json::error_handler_t::replace);
}

// A request's JSON on one line: JSON text never holds a raw newline inside a string, so any
// newline is whitespace between tokens and may become a space.
std::string one_line(std::string text) {
    for (auto& c : text)
        if (c == '\n' || c == '\r') c = ' ';
    return text;
}

[[noreturn]] void bad_operation(std::string what) {
    Diagnosis d;
    d.code = Status::BAD_RESPONSE;
    d.reason = "BAD_OPERATION";
    d.message = "the Batch API answered something that is not a batch: " + std::move(what);
    d.advice = "Check that the base URL points at the Gemini API (or a faithful proxy) and retry; the "
               "answer is kept in the message.";
    throw Error(std::move(d));
}

std::string string_at(const json& obj, const char* key) {
    auto it = obj.find(key);
    return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// int64 fields are JSON strings ("3"); tolerate numbers.
std::int64_t int64_at(const json& obj, const char* key) {
    auto it = obj.find(key);
    if (it == obj.end()) return 0;
    if (it->is_number_integer()) return it->get<std::int64_t>();
    if (it->is_string()) {
        const std::string& s = it->get_ref<const std::string&>();
        char* end = nullptr;
        long long v = std::strtoll(s.c_str(), &end, 10);
        return end && *end == '\0' ? v : 0;
    }
    return 0;
}

const json* object_at(const json& obj, const char* key) {
    auto it = obj.find(key);
    return it != obj.end() && it->is_object() ? &*it : nullptr;
}

Job job_from(const json& op) {
    if (!op.is_object()) bad_operation("not a JSON object");
    Job job;
    job.name = string_at(op, "name");
    const json* md = object_at(op, "metadata");
    if (job.name.empty() && md) job.name = string_at(*md, "name");
    if (job.name.rfind("batches/", 0) != 0) bad_operation("no \"name\": \"batches/...\"");
    job.done = op.value("done", false);
    if (md) {
        job.display_name = string_at(*md, "displayName");
        job.model = canonical_model_id(string_at(*md, "model"));
        job.state = parse_state(string_at(*md, "state"));
        job.create_time = string_at(*md, "createTime");
        job.update_time = string_at(*md, "updateTime");
        job.end_time = string_at(*md, "endTime");
        if (const json* stats = object_at(*md, "batchStats")) {
            job.request_count = int64_at(*stats, "requestCount");
            job.succeeded_count = int64_at(*stats, "successfulRequestCount");
            job.failed_count = int64_at(*stats, "failedRequestCount");
            job.pending_count = int64_at(*stats, "pendingRequestCount");
        }
        if (const json* input = object_at(*md, "inputConfig")) {
            job.input_file = string_at(*input, "fileName");
            if (!job.input_file.empty()) job.input = InputMode::File;
        }
        if (const json* output = object_at(*md, "output")) job.responses_file = string_at(*output, "responsesFile");
    }
    if (const json* response = object_at(op, "response"); response && job.responses_file.empty())
        job.responses_file = string_at(*response, "responsesFile");
    if (job.state == State::Unspecified && job.done && !object_at(op, "error")) job.state = State::Succeeded;
    const json* error = object_at(op, "error");
    if (error || (is_terminal(job.state) && job.state != State::Succeeded)) {
        State s = job.state == State::Succeeded || !is_terminal(job.state) ? State::Failed : job.state;
        job.error = diagnose_state(s, job.name, error ? string_at(*error, "message") : std::string());
    }
    return job;
}

RawEntry entry_from(const json& item, const std::string& key) {
    RawEntry e;
    e.key = key;
    if (auto it = item.find("response"); it != item.end() && it->is_object()) {
        e.has_response = true;
        e.response_json = it->dump(-1, ' ', false, json::error_handler_t::replace);
        return e;
    }
    if (const json* err = object_at(item, "error")) {
        auto code = err->find("code");
        e.error_code = code != err->end() && code->is_number_integer() ? code->get<int>() : 2;
        e.error_message = string_at(*err, "message");
        if (auto d = err->find("details"); d != err->end() && d->is_array() && !d->empty())
            e.error_details_json = d->dump(-1, ' ', false, json::error_handler_t::replace);
        return e;
    }
    e.error_code = 2;
    e.error_message = "the batch result for this entry has neither a response nor an error";
    return e;
}

}  // namespace

std::string encode_inline_batch(const std::vector<Entry>& entries, std::string_view display_name) {
    std::string out = R"({"batch":{"displayName":)" + json_string(display_name) + R"(,"inputConfig":{"requests":{"requests":[)";
    for (std::size_t i = 0; i < entries.size(); ++i) {
        if (i) out += ',';
        out += R"({"request":)";
        out += api::encode_request(entries[i].request);
        out += R"(,"metadata":{"key":)" + json_string(entries[i].key) + "}}";
    }
    out += "]}}}}";
    return out;
}

std::string encode_jsonl(const std::vector<Entry>& entries) {
    std::string out;
    for (const auto& e : entries) {
        out += R"({"key":)" + json_string(e.key) + R"(,"request":)";
        out += one_line(api::encode_request(e.request));
        out += "}\n";
    }
    return out;
}

std::string encode_file_batch(std::string_view file_name, std::string_view display_name) {
    return R"({"batch":{"displayName":)" + json_string(display_name) + R"(,"inputConfig":{"fileName":)" +
           json_string(file_name) + "}}}";
}

Job parse_operation(std::string_view text) {
    // Inlined responses can be hundreds of megabytes of images: not kept while reading the state.
    json::parser_callback_t skip_inlined = [](int, json::parse_event_t event, json& parsed) {
        return !(event == json::parse_event_t::key && parsed == "inlinedResponses");
    };
    json op = json::parse(text, skip_inlined, false);
    if (op.is_discarded()) bad_operation("not JSON: " + std::string(text.substr(0, 200)));
    return job_from(op);
}

std::vector<RawEntry> parse_inlined_responses(std::string_view text) {
    json op = json::parse(text, nullptr, false);
    if (op.is_discarded() || !op.is_object()) bad_operation("not JSON: " + std::string(text.substr(0, 200)));
    const json* holder = object_at(op, "response");
    const json* list = nullptr;
    for (int pass = 0; pass < 2 && !list; ++pass) {
        if (pass == 1) {
            const json* md = object_at(op, "metadata");
            holder = md ? object_at(*md, "output") : nullptr;
        }
        if (const json* outer = holder ? object_at(*holder, "inlinedResponses") : nullptr) {
            auto inner = outer->find("inlinedResponses");
            if (inner != outer->end() && inner->is_array()) list = &*inner;
        }
    }
    std::vector<RawEntry> out;
    if (!list) return out;
    for (const auto& item : *list) {
        std::string key;
        if (const json* md = object_at(item, "metadata")) key = string_at(*md, "key");
        out.push_back(entry_from(item, key));
    }
    return out;
}

std::vector<RawEntry> parse_result_lines(std::string_view text) {
    std::vector<RawEntry> out;
    std::size_t from = 0, line_no = 0;
    while (from < text.size()) {
        auto end = text.find('\n', from);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(from, end - from);
        from = end + 1;
        ++line_no;
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
        if (line.empty()) continue;
        json item = json::parse(line, nullptr, false);
        if (!item.is_object()) {
            RawEntry e;
            e.error_code = 13;
            e.error_message = "line " + std::to_string(line_no) + " of the result file is not JSON";
            out.push_back(std::move(e));
            continue;
        }
        std::string key = string_at(item, "key");
        if (key.empty())
            if (const json* md = object_at(item, "metadata")) key = string_at(*md, "key");
        out.push_back(entry_from(item, key));
    }
    return out;
}

namespace detail {

std::vector<Job> parse_list(std::string_view text, std::string& next_page_token) {
    json doc = json::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) bad_operation("the batch list is not a JSON object");
    std::vector<Job> jobs;
    if (auto it = doc.find("operations"); it != doc.end() && it->is_array())
        for (const auto& op : *it) jobs.push_back(job_from(op));
    next_page_token = string_at(doc, "nextPageToken");
    return jobs;
}

std::string uploaded_file_name(std::string_view text) {
    json doc = json::parse(text, nullptr, false);
    if (!doc.is_object()) return {};
    const json* file = object_at(doc, "file");
    return file ? string_at(*file, "name") : std::string();
}

}  // namespace detail
}  // namespace nbcore::batch
