// BatchClient: thin glue between the pure pieces and the blocking Transport. Each call is one or a
// few HTTP exchanges authenticated like an AI Studio route; every failure becomes an Error whose
// Diagnosis comes from the same classifier as online requests, with batch-specific advice where
// the online advice would mislead (a missing batch is not a missing model).
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <mutex>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "batch/internal.hpp"
#include "nbcore/models.hpp"
#include "nbcore/policy.hpp"
#include "nbcore/redact.hpp"
#include "nbcore/routes.hpp"

namespace nbcore::batch {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

// The Files API's chunk granularity: resumable uploads go in pieces of this size.
constexpr std::size_t kUploadChunk = 8u << 20;

std::string env(const char* name) {
    const char* v = std::getenv(name);
    std::string s = v ? v : "";
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.erase(s.begin());
    return s;
}

// "https://host:port" of a URL ("" when it has no scheme).
std::string origin_of(std::string_view url) {
    auto scheme = url.find("://");
    if (scheme == std::string_view::npos) return {};
    auto path = url.find('/', scheme + 3);
    return std::string(url.substr(0, path));
}

// Collects a whole body, up to a cap.
class CollectSink final : public net::BodySink {
public:
    explicit CollectSink(std::size_t cap) : cap_(cap) {}
    void on_status(int status, const net::Headers& headers) override {
        status_ = status;
        headers_ = headers;
    }
    bool on_body(const char* data, std::size_t n) override {
        if (body_.size() + n > cap_) {
            over_ = true;
            return false;
        }
        body_.append(data, n);
        return true;
    }
    int status() const { return status_; }
    const net::Headers& headers() const { return headers_; }
    std::string& body() { return body_; }
    bool over() const { return over_; }

private:
    std::size_t cap_;
    int status_ = 0;
    net::Headers headers_;
    std::string body_;
    bool over_ = false;
};

struct Http {
    net::TransportResult transport;
    int status = 0;
    net::Headers headers;
    std::string body;
    bool over_cap = false;
    std::size_t cap = 0;

    bool ok() const { return transport.error == net::TransportErrorKind::None && status >= 200 && status < 300; }
};

// What this client submitted, to give results back in submission order with their sizes.
struct Submitted {
    std::string model;
    std::vector<std::pair<std::string, std::string>> keys;   // (key, image size)
    std::vector<quota::MicroUsd> worst;                       // per entry, at batch prices
    quota::Governor::Ticket hold;                             // the budget reservation, if any
    bool settled = false;
};

// A batch may run for a day before its results are fetched: its reservation outlives that.
constexpr std::chrono::hours kBatchHoldLease{48};

Error budget_refusal(const quota::Governor::Admission& a, std::size_t entries, SystemTime now) {
    Diagnosis d;
    d.code = Status::BUDGET;
    d.reason = "BUDGET_CAP";
    const std::string period(quota::period_name(a.budget_period.value_or(quota::Period::Total)));
    d.message = "not sent: this batch of " + std::to_string(entries) + " requests may cost up to " +
                quota::format_usd(a.estimate) + " at batch prices and " + quota::format_usd(a.committed) +
                " of the " + quota::format_usd(a.cap) + " " + period + " cap is already spent or reserved";
    if (a.retry_at != SystemTime::max() && a.retry_at > now)
        d.retry_after = std::chrono::duration_cast<Millis>(a.retry_at - now);
    d.advice = "Submit fewer entries or smaller images, raise the " + period +
               " cap, or wait until it resets (retry_after).";
    return Error(std::move(d));
}

}  // namespace

struct BatchClient::Impl {
    Options opt;
    RouteConfig route;
    std::unique_ptr<RouteAuth> auth;
    std::mutex mu;
    std::map<std::string, Submitted> submitted;   // by job name

    explicit Impl(Options o) : opt(std::move(o)) {
        if (opt.api_key.empty()) opt.api_key = api_key_from_env();
        if (opt.base_url.empty()) opt.base_url = env("GOOGLE_GEMINI_BASE_URL");
        while (!opt.base_url.empty() && opt.base_url.back() == '/') opt.base_url.pop_back();
        opt.model = canonical_model_id(opt.model.empty() ? std::string(kDefaultModel) : opt.model);
        if (!opt.transport) opt.transport = net::make_curl_transport();
        if (!opt.clock) opt.clock = SystemClock::instance();
        if (!opt.rng) opt.rng = std::make_shared<DefaultRng>();
        if (opt.inline_limit == 0) throw_invalid_arg("inline_limit must be positive (bytes; the API's limit is 20 MB)");
        RouteConfig r;
        r.kind = opt.base_url.empty() || opt.base_url == kAiStudioBaseUrl ? RouteKind::AiStudio : RouteKind::Custom;
        r.base_url = opt.base_url;
        r.name = "batch";
        route = resolve_route(std::move(r), opt.api_key);
        route.name = "batch:" + (route.kind == RouteKind::AiStudio ? std::string("ai-studio") : route.base_url);
        auth = std::make_unique<RouteAuth>(route, opt.clock);
    }

    std::string api_url(const std::string& path) const { return route.base_url + "/" + route.api_version + "/" + path; }

    Http send(const std::string& method, const std::string& url, std::string body, net::Headers headers,
              const CancelToken* cancel, bool authenticate = true, std::size_t cap = 16u << 20) {
        net::HttpRequest req;
        req.method = method;
        req.url = url;
        req.body = std::move(body);
        req.timeouts = opt.timeouts;
        if (authenticate) auth->add_headers(req.headers);
        req.headers.emplace_back("x-goog-api-client", "nbcore/" NBCORE_VERSION_STRING);
        for (auto& h : headers) req.headers.push_back(std::move(h));
        CollectSink sink(cap);
        Http h;
        h.transport = opt.transport->send(req, sink, cancel);
        h.status = sink.status();
        h.headers = sink.headers();
        h.body = std::move(sink.body());
        h.over_cap = sink.over();
        h.cap = cap;
        return h;
    }

    // What went wrong with an exchange, classified like an online attempt, as `doing` it.
    Error failure(const Http& h, const std::string& doing) {
        Diagnosis d;
        if (h.over_cap) {
            d.code = Status::BAD_RESPONSE;
            d.reason = "BODY_TOO_LARGE";
            d.message = "the answer exceeded " + std::to_string(h.cap) + " bytes";
            d.advice = "Raise the batch client's answer size limit (max_body_bytes), or submit smaller batches (a file job's results are "
                       "downloaded whole).";
        } else if (h.transport.error != net::TransportErrorKind::None) {
            policy::Observation obs;
            obs.transport = &h.transport;
            d = policy::classify(obs, opt.clock->wall());
        } else {
            d = policy::diagnose(h.status, h.body, h.headers, opt.clock->wall());
        }
        d.message = redact(doing + ": " + d.message, opt.api_key);
        d.advice = redact(d.advice, opt.api_key);
        if (d.http_status == 0) d.http_status = h.status;
        Error e(std::move(d));
        e.route = route.name;
        return e;
    }

    // A batch or file the API does not know (404 for batches, 403 for files): the online
    // advice (model ids, keys) would mislead.
    Error not_found(const Http& h, const std::string& what, const std::string& advice) {
        Error e = failure(h, "looking up " + what);
        Diagnosis& d = e.diagnosis();
        d.code = Status::INVALID_ARG;
        d.reason = "NOT_FOUND";
        d.retryable = false;
        d.advice = advice;
        return e;
    }

    Job call_for_job(const std::string& method, const std::string& name, const std::string& doing,
                     const CancelToken* cancel) {
        // A finished inline job's Operation carries every answer: it may be as large as the results.
        Http h = send(method, api_url(name), "", {}, cancel, true, opt.max_body_bytes);
        if (h.transport.error == net::TransportErrorKind::None && h.status == 404)
            throw not_found(h, name,
                            "No batch by that name for this API key: check the name (listing this key's batches "
                            "shows them); deleted batches are gone.");
        if (!h.ok()) throw failure(h, doing + " " + name);
        return parse_operation(h.body);
    }

    std::string upload(const std::string& data, const std::string& display_name, const CancelToken* cancel) {
        net::Headers start_headers = {{"X-Goog-Upload-Protocol", "resumable"},
                                      {"X-Goog-Upload-Command", "start"},
                                      {"X-Goog-Upload-Header-Content-Length", std::to_string(data.size())},
                                      {"X-Goog-Upload-Header-Content-Type", "application/jsonl"},
                                      {"Content-Type", "application/json"}};
        const std::string start_body = nlohmann::json{{"file", {{"displayName", display_name}}}}.dump(
            -1, ' ', false, nlohmann::json::error_handler_t::replace);
        Http start = send("POST", route.base_url + "/upload/" + route.api_version + "/files", start_body,
                          std::move(start_headers), cancel);
        if (!start.ok()) throw failure(start, "starting the upload of the batch's requests");
        const std::string url(net::header_value(start.headers, "x-goog-upload-url"));
        if (url.empty()) {
            Diagnosis d;
            d.code = Status::BAD_RESPONSE;
            d.reason = "NO_UPLOAD_URL";
            d.message = "the Files API started an upload but sent no X-Goog-Upload-URL";
            d.advice = "Check that the base URL points at the Gemini API (or a proxy that passes the "
                       "X-Goog-Upload-* headers through), then submit again.";
            throw Error(std::move(d));
        }
        // The session URL is the upload's credential; the key goes along only to the API's own host.
        const bool same_host = origin_of(url) == origin_of(route.base_url);
        std::size_t offset = 0;
        do {
            const std::size_t n = std::min(kUploadChunk, data.size() - offset);
            const bool last = offset + n == data.size();
            net::Headers h = {{"X-Goog-Upload-Command", last ? "upload, finalize" : "upload"},
                              {"X-Goog-Upload-Offset", std::to_string(offset)},
                              {"Content-Type", "application/jsonl"}};
            Http part = send("POST", url, data.substr(offset, n), std::move(h), cancel, same_host);
            if (!part.ok()) throw failure(part, "uploading the batch's requests");
            offset += n;
            if (last) {
                std::string name = detail::uploaded_file_name(part.body);
                if (name.empty()) {
                    Diagnosis d;
                    d.code = Status::BAD_RESPONSE;
                    d.reason = "NO_FILE_NAME";
                    d.message = "the Files API finished the upload without naming the file";
                    d.advice = "Submit again; if it repeats, the endpoint is not the Gemini Files API.";
                    throw Error(std::move(d));
                }
                return name;
            }
        } while (true);
    }

    Job submit(const std::vector<Entry>& entries, const std::string& display_name, const CancelToken* cancel) {
        if (entries.empty()) throw_invalid_arg("submit needs at least one entry");
        Submitted record;
        std::unordered_map<std::string, bool> seen;
        for (const auto& e : entries) {
            if (e.key.empty()) throw_invalid_arg("every batch entry needs a non-empty key (results come back by key)");
            if (!seen.emplace(e.key, true).second)
                throw_invalid_arg("the key \"" + e.key + "\" is used twice; give every batch entry its own key");
            const std::string model = canonical_model_id(e.request.model.empty() ? opt.model : e.request.model);
            if (record.model.empty()) record.model = model;
            if (model != record.model)
                throw_invalid_arg("entries \"" + entries.front().key + "\" and \"" + e.key + "\" use models " +
                                  record.model + " and " + model + "; a batch runs one model: submit one batch per model");
            try {
                validate_request(e.request, model);
            } catch (Error& err) {
                err.diagnosis().message = "entry \"" + e.key + "\": " + err.diagnosis().message;
                throw Error(err.diagnosis());
            }
            record.keys.emplace_back(e.key, e.request.image_size);
            if (opt.governor)
                record.worst.push_back(
                    opt.governor->estimate(e.request, model, e.request.image_size, quota::Mode::Batch));
        }
        if (opt.governor) {
            quota::MicroUsd total = 0;
            for (auto w : record.worst) total += w;
            const SystemTime now = opt.clock->wall();
            auto a = opt.governor->reserve_cost(total, record.model, kBatchHoldLease, now);
            if (a.kind != quota::Governor::Admission::Admitted) throw budget_refusal(a, entries.size(), now);
            record.hold = a.ticket;
        }
        const quota::Governor::Ticket hold = record.hold;
        try {
            return create(entries, display_name, std::move(record), cancel);
        } catch (...) {
            // Not created: nothing will run, so nothing is booked.
            if (opt.governor && hold.cost_hold != 0) opt.governor->settle_cost(hold, 0, opt.clock->wall());
            throw;
        }
    }

    Job create(const std::vector<Entry>& entries, const std::string& display_name, Submitted record,
               const CancelToken* cancel) {
        const std::string name = display_name.empty() ? "nbcore-batch-" + std::to_string(entries.size()) : display_name;
        const std::string create_url = api_url("models/" + record.model + ":batchGenerateContent");
        std::string body = encode_inline_batch(entries, name);
        Http h;
        if (choose_input(body.size(), opt.inline_limit) == InputMode::Inline) {
            h = send("POST", create_url, std::move(body), {{"Content-Type", "application/json"}}, cancel);
        } else {
            body = {};
            const std::string file = upload(encode_jsonl(entries), name + ".jsonl", cancel);
            h = send("POST", create_url, encode_file_batch(file, name), {{"Content-Type", "application/json"}}, cancel);
        }
        if (!h.ok()) throw failure(h, "creating the batch");
        Job job = parse_operation(h.body);
        std::lock_guard lock(mu);
        submitted[job.name] = std::move(record);
        return job;
    }

    Job wait(const std::string& name, const WaitOptions& w) {
        Clock& clock = *opt.clock;
        const SteadyTime started = clock.now();
        std::optional<SteadyTime> deadline;
        if (w.deadline.count() > 0) deadline = started + w.deadline;
        int polls = 0, failures = 0;
        std::optional<Job> last;
        auto stopped = [&](Status code, const std::string& why, std::string advice) {
            Diagnosis d;
            d.code = code;
            d.reason = code == Status::CANCELLED ? "CANCELLED" : "DEADLINE";
            d.message = why + " batch " + name +
                        (last ? " while it was " + std::string(state_name(last->state)) : std::string()) +
                        "; the batch keeps running";
            d.advice = std::move(advice);
            Error e(std::move(d));
            e.route = route.name;
            return e;
        };
        const std::string kCancelAdvice =
            "The batch keeps running on the server: wait for it again later to collect the results, or "
            "cancel the batch to stop it there.";
        const std::string kDeadlineAdvice =
            "Wait again later (the API finishes most batches within a day), or cancel the batch.";
        for (;;) {
            if (w.cancel && w.cancel->cancelled()) throw stopped(Status::CANCELLED, "stopped waiting for", kCancelAdvice);
            milliseconds delay{0};
            try {
                Job job = call_for_job("GET", name, "polling", w.cancel);
                failures = 0;
                if (w.on_poll) w.on_poll(job);
                if (is_terminal(job.state)) return job;
                last = std::move(job);
                delay = next_poll_delay(opt.poll, polls++, opt.rng->uniform());
            } catch (const Error& e) {
                const Diagnosis& d = e.diagnosis();
                if (d.code == Status::CANCELLED && w.cancel && w.cancel->cancelled())
                    throw stopped(Status::CANCELLED, "stopped waiting for", kCancelAdvice);
                // A poll that failed for a passing reason (503, 429, network) is tried again.
                if (!d.retryable || ++failures > opt.max_poll_failures) throw;
                delay = std::max(next_poll_delay(opt.poll, polls++, opt.rng->uniform()),
                                 d.retry_after.value_or(milliseconds(0)));
            }
            SteadyTime at = clock.now() + delay;
            if (deadline) {
                if (clock.now() >= *deadline)
                    throw stopped(Status::DEADLINE,
                                  "the deadline of " + std::to_string(w.deadline.count()) + " ms ran out waiting for",
                                  kDeadlineAdvice);
                at = std::min(at, *deadline);   // one last poll at the deadline
            }
            if (!clock.sleep_until(at, w.cancel)) throw stopped(Status::CANCELLED, "stopped waiting for", kCancelAdvice);
        }
    }

    std::vector<EntryResult> results(const Job& job, const CancelToken* cancel) {
        if (job.state != State::Succeeded) throw Error(job.error ? *job.error : diagnose_state(job.state, job.name, ""));
        std::vector<RawEntry> raw;
        if (!job.responses_file.empty()) {
            const std::string id = job.responses_file.substr(job.responses_file.find('/') + 1);
            Http h = send("GET", api_url("files/" + id + ":download?alt=media"), "", {}, cancel, true, opt.max_body_bytes);
            if (h.transport.error == net::TransportErrorKind::None && (h.status == 403 || h.status == 404))
                throw not_found(h, job.responses_file,
                                "The result file is gone: result files are kept 48 hours after the batch ends. "
                                "Download results sooner, or submit the batch again.");
            if (!h.ok()) throw failure(h, "downloading the results of " + job.name);
            raw = parse_result_lines(h.body);
        } else {
            Http h = send("GET", api_url(job.name), "", {}, cancel, true, opt.max_body_bytes);
            if (h.transport.error == net::TransportErrorKind::None && h.status == 404)
                throw not_found(h, job.name,
                                "No batch by that name for this API key: it was deleted, or the name is wrong.");
            if (!h.ok()) throw failure(h, "fetching the results of " + job.name);
            raw = parse_inlined_responses(h.body);
        }

        std::optional<Submitted> mine;
        {
            std::lock_guard lock(mu);
            if (auto it = submitted.find(job.name); it != submitted.end()) mine = it->second;
        }
        // Settles the reservation once, when this client submitted the job and fetches it first.
        auto settle = [&](quota::MicroUsd total) {
            if (!mine || !opt.governor || mine->hold.cost_hold == 0) return;
            {
                std::lock_guard lock(mu);
                auto it = submitted.find(job.name);
                if (it == submitted.end() || it->second.settled) return;
                it->second.settled = true;
            }
            opt.governor->settle_cost(mine->hold, total, opt.clock->wall());
        };
        const quota::PriceTable default_prices = quota::PriceTable::defaults();
        auto cost_of = [&](const Usage& u, const std::string& model, const std::string& size) {
            if (opt.governor) return opt.governor->cost_of(u, model, size, quota::Mode::Batch);
            quota::CostRequest c;
            c.model = model;
            c.image_size = size;
            c.mode = quota::Mode::Batch;
            return quota::cost_of_usage(default_prices, c, u);
        };
        JudgeOptions jo;
        jo.model = mine ? mine->model : (job.model.empty() ? opt.model : job.model);
        jo.image_limits = opt.image_limits;
        jo.blank_rules = opt.blank_rules;
        jo.decode_limits = opt.decode_limits;
        jo.keep_pixels = opt.keep_pixels;
        const SystemTime now = opt.clock->wall();
        auto judged = [&](const RawEntry& r, const std::string& image_size) {
            jo.image_size = image_size;
            EntryResult e = judge_entry(r, jo, now);
            e.diagnosis.message = redact(e.diagnosis.message, opt.api_key);
            if (e.result) {
                e.result->route = route.name;
                for (auto& a : e.result->attempts) a.route = route.name;
                e.result->cost_usd = quota::usd(cost_of(e.result->usage, jo.model, image_size));
            }
            return e;
        };

        std::vector<EntryResult> out;
        if (!mine) {
            for (const auto& r : raw) out.push_back(judged(r, ""));
            return out;
        }
        std::unordered_map<std::string, std::size_t> by_key;
        for (std::size_t i = 0; i < raw.size(); ++i) by_key.emplace(raw[i].key, i);
        std::vector<bool> used(raw.size(), false);
        quota::MicroUsd booked = 0;
        for (std::size_t k = 0; k < mine->keys.size(); ++k) {
            const auto& [key, size] = mine->keys[k];
            auto it = by_key.find(key);
            if (it == by_key.end()) {
                EntryResult missing;
                missing.key = key;
                missing.diagnosis.code = Status::BAD_RESPONSE;
                missing.diagnosis.reason = "NO_RESULT";
                missing.diagnosis.message = "batch " + job.name + " returned no result for entry \"" + key + "\"";
                missing.diagnosis.advice = "Submit this entry again (alone, or in a new batch).";
                missing.diagnosis.retryable = true;
                out.push_back(std::move(missing));
                continue;
            }
            used[it->second] = true;
            out.push_back(judged(raw[it->second], size));
            // A success costs what its usage says; a failed entry may have been billed (blocked
            // and imageless answers are), so it books its worst case: never an under-count.
            if (out.back().result) booked += quota::micro_usd(out.back().result->cost_usd);
            else if (k < mine->worst.size()) booked += mine->worst[k];
        }
        for (std::size_t i = 0; i < raw.size(); ++i)
            if (!used[i]) out.push_back(judged(raw[i], ""));   // answers for keys we did not send
        settle(booked);
        return out;
    }
};

BatchClient::BatchClient(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}
BatchClient::~BatchClient() = default;

Job BatchClient::submit(const std::vector<Entry>& entries, const std::string& display_name, const CancelToken* cancel) {
    return impl_->submit(entries, display_name, cancel);
}

Job BatchClient::get(const std::string& name, const CancelToken* cancel) {
    return impl_->call_for_job("GET", name, "getting", cancel);
}

std::vector<Job> BatchClient::list(std::size_t max) {
    std::vector<Job> out;
    std::string token;
    do {
        std::string url = impl_->api_url("batches?pageSize=" + std::to_string(max && max < 1000 ? max : 1000));
        if (!token.empty()) url += "&pageToken=" + token;
        Http h = impl_->send("GET", url, "", {}, nullptr);
        if (!h.ok()) throw impl_->failure(h, "listing batches");
        for (auto& job : detail::parse_list(h.body, token)) {
            if (max && out.size() >= max) return out;
            out.push_back(std::move(job));
        }
    } while (!token.empty());
    return out;
}

void BatchClient::cancel(const std::string& name) {
    Http h = impl_->send("POST", impl_->api_url(name + ":cancel"), "", {}, nullptr);
    if (h.transport.error == net::TransportErrorKind::None && h.status == 404)
        throw impl_->not_found(h, name, "No batch by that name for this API key: check the name (listing this key's batches shows them).");
    if (!h.ok()) throw impl_->failure(h, "cancelling " + name);
}

void BatchClient::remove(const std::string& name) {
    Http h = impl_->send("DELETE", impl_->api_url(name), "", {}, nullptr);
    if (h.transport.error == net::TransportErrorKind::None && h.status == 404)
        throw impl_->not_found(h, name, "No batch by that name for this API key: it may already be deleted.");
    if (!h.ok()) throw impl_->failure(h, "deleting " + name);
    std::lock_guard lock(impl_->mu);
    impl_->submitted.erase(name);
}

Job BatchClient::wait(const std::string& name, const WaitOptions& w) { return impl_->wait(name, w); }

std::vector<EntryResult> BatchClient::results(const Job& job, const CancelToken* cancel) {
    return impl_->results(job, cancel);
}

const Options& BatchClient::options() const noexcept { return impl_->opt; }

}  // namespace nbcore::batch
