// _nbcore: the Python extension, a thin layer over the C ABI (nbcore.h) and nothing else.
// Errors become the exception classes defined in Python (nbcore/_errors.py); the GIL is released
// around every blocking call and re-taken only to run Python callbacks.
#include <pybind11/functional.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "nbcore/nbcore.h"

namespace py = pybind11;

namespace {

py::dict attempt_dict(const nbc_attempt& a) {
    py::dict d;
    d["number"] = a.number;
    d["outcome"] = nbc_status_name(a.outcome);
    d["http_status"] = a.http_status;
    d["server_delay_ms"] = a.server_delay_ms >= 0 ? py::object(py::int_(a.server_delay_ms)) : py::none();
    d["chosen_delay_ms"] = a.chosen_delay_ms;
    d["duration_ms"] = a.duration_ms;
    d["route"] = a.route ? a.route : "";
    d["reason"] = a.reason ? a.reason : "";
    d["image_size"] = a.image_size ? a.image_size : "";
    static const char* kExec[] = {"not_sent", "possibly_executed", "executed"};
    d["execution"] = (a.execution >= 0 && a.execution <= 2) ? kExec[a.execution] : "unknown";
    return d;
}

// What an nbc_error says, copied out of it: nbc_error_last() is per thread, so a call made on a
// helper thread has its failure copied there and turned into an exception on the caller's thread.
// Copying needs neither Python nor the GIL.
struct AttemptCopy {
    nbc_attempt a = NBC_ATTEMPT_INIT;
    std::string route, reason, image_size;   // what a's strings point to once copied
};

struct ErrorCopy {
    int code = NBC_OK;
    std::string message, advice, api_status, reason, route;
    int http_status = 0;
    int64_t retry_after_ms = -1;
    int dimension = NBC_DIM_NONE;
    int safety_layer = 0;
    bool retryable = false;
    std::vector<AttemptCopy> attempts;
};

ErrorCopy copy_error(const nbc_error* e) {
    ErrorCopy c;
    c.code = nbc_error_code(e);
    c.message = nbc_error_message(e);
    c.advice = nbc_error_advice(e);
    c.api_status = nbc_error_api_status(e);
    c.reason = nbc_error_reason(e);
    c.route = nbc_error_route(e);
    c.http_status = nbc_error_http_status(e);
    c.retry_after_ms = nbc_error_retry_after_ms(e);
    c.dimension = nbc_error_dimension(e);
    c.safety_layer = nbc_error_safety_layer(e);
    c.retryable = nbc_error_retryable(e) != 0;
    for (int i = 0, n = nbc_error_attempt_count(e); i < n; ++i) {
        AttemptCopy a;
        if (nbc_error_attempt(&a.a, e, i) != NBC_OK) continue;
        a.route = a.a.route ? a.a.route : "";
        a.reason = a.a.reason ? a.a.reason : "";
        a.image_size = a.a.image_size ? a.a.image_size : "";
        c.attempts.push_back(std::move(a));
    }
    return c;
}

// The error's own fields (what nbc_diagnose answers).
py::dict error_fields(const ErrorCopy& c) {
    py::dict d;
    d["code"] = c.code;
    d["name"] = nbc_status_name(c.code);
    d["message"] = c.message;
    d["advice"] = c.advice;
    d["http_status"] = c.http_status;
    d["api_status"] = c.api_status;
    d["reason"] = c.reason;
    d["retry_after_ms"] = c.retry_after_ms >= 0 ? py::object(py::int_(c.retry_after_ms)) : py::none();
    d["dimension"] = c.dimension;
    d["safety_layer"] = c.safety_layer;
    d["retryable"] = c.retryable;
    return d;
}

// Everything the error knows, route and attempts too, as a dict for
// nbcore._errors.error_from_info().
py::dict error_info(const ErrorCopy& c) {
    py::dict d = error_fields(c);
    d["route"] = c.route;
    py::list attempts;
    for (const AttemptCopy& copy : c.attempts) {
        nbc_attempt a = copy.a;
        a.route = copy.route.c_str();
        a.reason = copy.reason.c_str();
        a.image_size = copy.image_size.c_str();
        attempts.append(attempt_dict(a));
    }
    d["attempts"] = attempts;
    return d;
}

py::dict error_dict(const nbc_error* e) { return error_fields(copy_error(e)); }

// Everything nbc_error_last() knows.
py::dict last_error_info() { return error_info(copy_error(nbc_error_last())); }

[[noreturn]] void raise_error(const ErrorCopy& c) {
    py::dict info = error_info(c);
    py::object exc = py::module_::import("nbcore._errors").attr("error_from_info")(info);
    PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
    throw py::error_already_set();
}

[[noreturn]] void raise_last_error() { raise_error(copy_error(nbc_error_last())); }

void check(int rc) {
    if (rc != NBC_OK) raise_last_error();
}

const char* or_null(const std::optional<std::string>& s) { return s ? s->c_str() : nullptr; }

// Holds the Python event callback and any exception it raised. Events are delivered on the thread
// that waits for a job, so an exception is kept for that thread and re-raised when its wait
// returns. Touched only with the GIL held.
struct EventBridge {
    py::object callback;
    std::map<std::thread::id, py::error_already_set> pending;

    std::optional<py::error_already_set> take_pending(std::thread::id thread = std::this_thread::get_id()) {
        auto it = pending.find(thread);
        if (it == pending.end()) return std::nullopt;
        py::error_already_set e = std::move(it->second);
        pending.erase(it);
        return e;
    }
    bool has_pending(std::thread::id thread) const { return pending.count(thread) != 0; }

    static void trampoline(const nbc_event* ev, void* payload) {
        auto* self = static_cast<EventBridge*>(payload);
        py::gil_scoped_acquire gil;
        if (self->pending.count(std::this_thread::get_id())) return;  // one failure is enough
        try {
            py::dict d;
            static const char* kinds[] = {"",          "attempt_start", "attempt_end",   "retry_scheduled",
                                          "done",      "breaker",       "failover",      "downgrade",
                                          "quota_wait", "quota_warning", "budget_alert", "prompt_warning", "state"};
            constexpr int kKinds = sizeof kinds / sizeof kinds[0];
            d["kind"] = (ev->kind >= 1 && ev->kind < kKinds) ? kinds[ev->kind] : "unknown";
            d["attempt"] = ev->attempt;
            d["outcome"] = nbc_status_name(ev->outcome);
            d["http_status"] = ev->http_status;
            d["server_delay_ms"] = ev->server_delay_ms >= 0 ? py::object(py::int_(ev->server_delay_ms)) : py::none();
            d["delay_ms"] = ev->delay_ms;
            d["elapsed_ms"] = ev->elapsed_ms;
            d["reason"] = ev->reason ? ev->reason : "";
            d["message"] = ev->message ? ev->message : "";
            d["route"] = ev->route ? ev->route : "";
            d["image_size"] = ev->image_size ? ev->image_size : "";
            static const char* dims[] = {"", "RPM", "TPM", "IPM", "RPD", "ZERO", "UNKNOWN"};
            d["dimension"] = (ev->dimension >= 0 && ev->dimension <= 6) ? dims[ev->dimension] : "";
            d["percent"] = ev->percent;
            self->callback(d);
        } catch (py::error_already_set& e) {
            self->pending.emplace(std::this_thread::get_id(), std::move(e));
        }
    }
};

// Retry policies cross as dicts of the nbc_retry_policy fields.
py::dict policy_to_dict(const nbc_retry_policy& p) {
    py::dict d;
    d["max_attempts"] = p.max_attempts;
    d["server_base_ms"] = p.server_base_ms;
    d["server_cap_ms"] = p.server_cap_ms;
    d["gateway_base_ms"] = p.gateway_base_ms;
    d["gateway_cap_ms"] = p.gateway_cap_ms;
    d["rate_base_ms"] = p.rate_base_ms;
    d["rate_cap_ms"] = p.rate_cap_ms;
    d["max_wait_ms"] = p.max_wait_ms;
    d["max_billed_retries"] = p.max_billed_retries;
    d["max_bad_response_retries"] = p.max_bad_response_retries;
    d["jitter_ratio"] = p.jitter_ratio;
    return d;
}

nbc_retry_policy policy_from_dict(const py::dict& d) {
    nbc_retry_policy p{};
    p.struct_size = sizeof p;
    p.max_attempts = d["max_attempts"].cast<int32_t>();
    p.server_base_ms = d["server_base_ms"].cast<int64_t>();
    p.server_cap_ms = d["server_cap_ms"].cast<int64_t>();
    p.gateway_base_ms = d["gateway_base_ms"].cast<int64_t>();
    p.gateway_cap_ms = d["gateway_cap_ms"].cast<int64_t>();
    p.rate_base_ms = d["rate_base_ms"].cast<int64_t>();
    p.rate_cap_ms = d["rate_cap_ms"].cast<int64_t>();
    p.max_wait_ms = d["max_wait_ms"].cast<int64_t>();
    p.max_billed_retries = d["max_billed_retries"].cast<int32_t>();
    p.max_bad_response_retries = d["max_bad_response_retries"].cast<int32_t>();
    p.jitter_ratio = d["jitter_ratio"].cast<double>();
    return p;
}

py::dict retry_preset(int preset) {
    nbc_retry_policy p{};
    p.struct_size = sizeof p;
    check(nbc_retry_policy_preset(&p, preset));
    return policy_to_dict(p);
}

// Routes cross as dicts of nbc_route fields; the strings live in `keep` during nbc_client_new.
std::vector<nbc_route> routes_from(const py::list& list, std::vector<std::string>& keep) {
    keep.reserve(list.size() * 8);   // no reallocation: c_str() pointers stay valid
    auto str = [&](const py::dict& d, const char* k) -> const char* {
        if (!d.contains(k) || d[k].is_none()) return nullptr;
        keep.push_back(d[k].cast<std::string>());
        return keep.back().c_str();
    };
    std::vector<nbc_route> out;
    for (auto item : list) {
        py::dict d = item.cast<py::dict>();
        nbc_route r = NBC_ROUTE_INIT;
        r.kind = d["kind"].cast<int32_t>();
        r.name = str(d, "name");
        r.base_url = str(d, "base_url");
        r.api_key = str(d, "api_key");
        r.project = str(d, "project");
        r.location = str(d, "location");
        r.token_env = str(d, "token_env");
        r.token_command = str(d, "token_command");
        r.quota_pool = str(d, "quota_pool");
        r.flags = d["flags"].cast<uint32_t>();
        out.push_back(r);
    }
    return out;
}

struct ClientHandle {
    nbc_client* client = nullptr;
    std::unique_ptr<EventBridge> events;

    ClientHandle(std::optional<std::string> api_key, std::optional<std::string> base_url,
                 std::optional<std::string> model, py::dict retry, int64_t deadline_ms,
                 int64_t attempt_timeout_ms, int64_t idle_timeout_ms, bool stream, py::object on_event,
                 py::list routes, bool downgrade_on_timeout, bool retry_budget, py::dict quota, int backend,
                 std::optional<std::string> project, std::optional<std::string> location) {
        nbc_retry_policy policy = policy_from_dict(retry);
        std::vector<std::string> route_strings;
        std::vector<nbc_route> route_list = routes_from(routes, route_strings);
        nbc_client_options o = NBC_CLIENT_OPTIONS_INIT;
        o.api_key = or_null(api_key);
        o.base_url = or_null(base_url);
        o.model = or_null(model);
        o.retry = &policy;
        o.deadline_ms = deadline_ms;
        o.attempt_timeout_ms = attempt_timeout_ms;
        o.idle_timeout_ms = idle_timeout_ms;
        o.flags = (stream ? NBC_CLIENT_STREAM : 0u) | (downgrade_on_timeout ? NBC_CLIENT_DOWNGRADE_ON_TIMEOUT : 0u) |
                  (retry_budget ? 0u : NBC_CLIENT_NO_RETRY_BUDGET);
        o.routes = route_list.empty() ? nullptr : route_list.data();
        o.route_count = route_list.size();
        // Quota and budget (validated by the C layer, which names the field on error).
        auto str_field = [&](const char* k) -> std::optional<std::string> {
            if (!quota.contains(k) || quota[k].is_none()) return std::nullopt;
            return quota[k].cast<std::string>();
        };
        auto int_field = [&](const char* k) -> int64_t {
            return quota.contains(k) && !quota[k].is_none() ? quota[k].cast<int64_t>() : 0;
        };
        auto usd_field = [&](const char* k) -> double {
            return quota.contains(k) && !quota[k].is_none() ? quota[k].cast<double>() : 0.0;
        };
        auto tier = str_field("tier"), state_path = str_field("state_path"), prices = str_field("prices_json");
        o.tier = or_null(tier);
        o.rpm_limit = int_field("rpm");
        o.tpm_limit = int_field("tpm");
        o.ipm_limit = int_field("ipm");
        o.rpd_limit = int_field("rpd");
        o.budget_daily_usd = usd_field("daily");
        o.budget_monthly_usd = usd_field("monthly");
        o.budget_total_usd = usd_field("total");
        o.state_path = or_null(state_path);
        o.prices_json = or_null(prices);
        o.max_in_flight = static_cast<int32_t>(int_field("max_in_flight"));
        o.preflight = static_cast<int32_t>(int_field("preflight"));
        o.state_fallback_share = usd_field("state_fallback_share");
        o.backend = backend;
        o.project = or_null(project);
        o.location = or_null(location);
        if (!on_event.is_none()) {
            events = std::make_unique<EventBridge>();
            events->callback = on_event;
            o.on_event = &EventBridge::trampoline;
            o.event_payload = events.get();
        }
        int rc;
        {
            py::gil_scoped_release nogil;   // opening a shared state file may wait for its lock
            rc = nbc_client_new(&client, &o);
        }
        check(rc);
    }
    ~ClientHandle() {
        py::gil_scoped_release nogil;
        nbc_client_free(client);
    }

    std::string usage(int format) {
        char* text = nullptr;
        int rc;
        {
            py::gil_scoped_release nogil;   // the state file may be busy with another process
            rc = nbc_client_usage(&text, client, format);
        }
        check(rc);
        std::string out(text);
        nbc_string_free(text);
        return out;
    }
    std::string simplify(const std::string& prompt, int max_requests, double max_cost_usd,
                         std::optional<std::string> model, std::optional<std::string> aspect_ratio,
                         std::optional<std::string> image_size, int64_t step_deadline_ms) {
        nbc_simplify_options so = NBC_SIMPLIFY_OPTIONS_INIT;
        so.max_requests = max_requests;
        so.max_cost_usd = max_cost_usd;
        so.model = or_null(model);
        so.aspect_ratio = or_null(aspect_ratio);
        so.image_size = or_null(image_size);
        so.step_deadline_ms = step_deadline_ms;
        char* text = nullptr;
        int rc;
        {
            py::gil_scoped_release nogil;   // several generations
            rc = nbc_simplify(&text, client, prompt.c_str(), &so, NBC_USAGE_JSON);
        }
        check(rc);
        std::string out(text);
        nbc_string_free(text);
        return out;
    }
    ClientHandle(const ClientHandle&) = delete;
    ClientHandle& operator=(const ClientHandle&) = delete;

    std::unique_ptr<nbc_request, decltype(&nbc_request_free)> build_request(
        const std::string& prompt, const std::optional<std::string>& model,
        const std::optional<std::string>& aspect_ratio, const std::optional<std::string>& image_size,
        std::optional<int64_t> seed, std::optional<double> temperature,
        const std::optional<std::string>& system_instruction,
        const std::vector<std::pair<py::bytes, std::optional<std::string>>>& images,
        const std::vector<std::pair<std::string, std::string>>& safety) {
        std::unique_ptr<nbc_request, decltype(&nbc_request_free)> req(nullptr, &nbc_request_free);
        {
            nbc_request* r = nullptr;
            check(nbc_request_new(&r, prompt.c_str()));
            req.reset(r);
        }
        check(nbc_request_set_model(req.get(), or_null(model)));
        check(nbc_request_set_aspect_ratio(req.get(), or_null(aspect_ratio)));
        check(nbc_request_set_image_size(req.get(), or_null(image_size)));
        if (seed) check(nbc_request_set_seed(req.get(), *seed));
        if (temperature) check(nbc_request_set_temperature(req.get(), *temperature));
        if (system_instruction) check(nbc_request_set_system_instruction(req.get(), system_instruction->c_str()));
        for (const auto& [data, mime] : images) {
            std::string_view v = data;  // no copy: the request copies once
            check(nbc_request_add_image(req.get(), reinterpret_cast<const uint8_t*>(v.data()), v.size(),
                                        or_null(mime)));
        }
        for (const auto& [cat, thr] : safety)
            check(nbc_request_add_safety_setting(req.get(), cat.c_str(), thr.c_str()));
        return req;
    }
};

// Decoded pixels, exported through the buffer protocol as a height x width x channels array of
// bytes (rows top to bottom): numpy.asarray() and memoryview() read them in place.
struct Pixels {
    std::unique_ptr<uint8_t[]> data;
    py::ssize_t width = 0, height = 0, channels = 4;
};

// Owns one nbc_result for as long as any Python Result or Image refers to it, so pixels can be
// converted on request (nbc_result_image_rgba) long after the request finished.
struct ResultHandle {
    nbc_result* res = nullptr;
    explicit ResultHandle(nbc_result* r) : res(r) {}
    ~ResultHandle() { nbc_result_free(res); }
    ResultHandle(const ResultHandle&) = delete;
    ResultHandle& operator=(const ResultHandle&) = delete;

    // channels 4: RGBA; 3: RGB (alpha dropped in place after the one conversion).
    std::unique_ptr<Pixels> pixels(int index, int channels) {
        if (channels != 3 && channels != 4) {
            PyErr_SetString(PyExc_ValueError, "channels must be 3 (RGB) or 4 (RGBA)");
            throw py::error_already_set();
        }
        nbc_image_info info = NBC_IMAGE_INFO_INIT;
        check(nbc_result_image(&info, res, index));
        auto px = std::make_unique<Pixels>();
        px->width = info.width;
        px->height = info.height;
        px->channels = channels;
        const std::size_t count = static_cast<std::size_t>(info.width) * static_cast<std::size_t>(info.height);
        px->data.reset(new uint8_t[count * 4]);   // not value-initialised: every byte is written
        int rc;
        {
            py::gil_scoped_release nogil;
            rc = nbc_result_image_rgba(res, index, px->data.get(), count * 4);
            if (rc == NBC_OK && channels == 3) {
                uint8_t* p = px->data.get();
                for (std::size_t i = 0; i < count; ++i) {   // forward: the write never passes the read
                    p[i * 3 + 0] = p[i * 4 + 0];
                    p[i * 3 + 1] = p[i * 4 + 1];
                    p[i * 3 + 2] = p[i * 4 + 2];
                }
            }
        }
        check(rc);
        return px;
    }
};

// A result (online or a batch entry) as the dict _result_from() reads. Takes ownership of res.
py::dict result_dict(nbc_result* res) {
    auto handle = std::make_shared<ResultHandle>(res);
    py::dict out;
    out["handle"] = handle;
    py::list imgs;
    for (int i = 0, n = nbc_result_image_count(res); i < n; ++i) {
        nbc_image_info info = NBC_IMAGE_INFO_INIT;
        check(nbc_result_image(&info, res, i));
        py::dict im;
        im["data"] = py::bytes(reinterpret_cast<const char*>(info.data), info.size);
        im["mime"] = info.mime;
        im["width"] = info.width;
        im["height"] = info.height;
        im["channels"] = info.channels;
        imgs.append(im);
    }
    out["images"] = imgs;
    out["text"] = nbc_result_text(res);
    out["model_version"] = nbc_result_model_version(res);
    out["route"] = nbc_result_route(res);
    out["image_size"] = nbc_result_image_size(res);
    py::list attempts;
    for (int i = 0, n = nbc_result_attempt_count(res); i < n; ++i) {
        nbc_attempt a = NBC_ATTEMPT_INIT;
        check(nbc_result_attempt(&a, res, i));
        attempts.append(attempt_dict(a));
    }
    out["attempts"] = attempts;
    nbc_usage u = NBC_USAGE_INIT;
    check(nbc_result_usage(&u, res));
    py::dict usage;
    usage["prompt_tokens"] = u.prompt_tokens;
    usage["candidates_tokens"] = u.candidates_tokens;
    usage["thoughts_tokens"] = u.thoughts_tokens;
    usage["total_tokens"] = u.total_tokens;
    usage["image_output_tokens"] = u.image_output_tokens;
    out["usage"] = usage;
    out["cost_usd"] = nbc_result_cost_usd(res);
    out["batch"] = nbc_result_is_batch(res) != 0;
    return out;
}

// A job in flight. Waiting releases the GIL and wakes every 100 ms to let Python handle signals:
// Ctrl-C cancels the job and raises KeyboardInterrupt within a fraction of a second.
struct JobHandle {
    nbc_job* job = nullptr;
    std::shared_ptr<ClientHandle> client;   // keeps the client (and its event bridge) alive

    ~JobHandle() {
        py::gil_scoped_release nogil;   // a running job is cancelled first
        nbc_job_free(job);
    }

    // True when done within `timeout` seconds (None = until done).
    bool wait(std::optional<double> timeout) {
        using clock = std::chrono::steady_clock;
        auto until = timeout ? clock::now() + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(*timeout))
                             : clock::time_point::max();
        for (;;) {
            auto left = until - clock::now();
            int64_t slice = 100;
            if (timeout) slice = std::max<int64_t>(0, std::min<int64_t>(100, std::chrono::duration_cast<std::chrono::milliseconds>(left).count()));
            int done = 0;
            int rc;
            {
                py::gil_scoped_release nogil;
                rc = nbc_job_wait(&done, job, slice);
            }
            if (client->events)
                if (auto e = client->events->take_pending()) {
                    nbc_job_cancel(job);
                    throw std::move(*e);
                }
            check(rc);
            if (done) return true;
            if (PyErr_CheckSignals() != 0) {
                nbc_job_cancel(job);
                throw py::error_already_set();
            }
            if (timeout && clock::now() >= until) return false;
        }
    }

    bool done() {
        int d = 0;
        int rc;
        {
            py::gil_scoped_release nogil;   // pending events are delivered (with the GIL) here
            rc = nbc_job_wait(&d, job, 0);
        }
        check(rc);
        if (client->events)
            if (auto e = client->events->take_pending()) throw std::move(*e);
        return d != 0;
    }

    py::dict result() {
        nbc_result* res = nullptr;
        int rc = nbc_job_result(&res, job);
        if (rc != NBC_OK) {
            nbc_result_free(res);
            raise_last_error();
        }
        return result_dict(res);
    }

    void cancel() { check(nbc_job_cancel(job)); }

    py::dict progress() {
        nbc_progress p = NBC_PROGRESS_INIT;
        check(nbc_job_progress(&p, job));
        static const char* kStages[] = {"queued",    "waiting_quota", "sending", "waiting_server",
                                        "receiving", "validating",    "retrying", "done"};
        py::dict d;
        d["stage"] = (p.stage >= 0 && p.stage <= 7) ? kStages[p.stage] : "unknown";
        d["attempt"] = p.attempt;
        d["last_outcome"] = nbc_status_name(p.last_outcome);
        d["wait_left"] = static_cast<double>(p.wait_left_ms) / 1000.0;
        d["elapsed"] = static_cast<double>(p.elapsed_ms) / 1000.0;
        d["bytes_received"] = p.bytes_received;
        d["route"] = std::string(p.route);
        d["text"] = std::string(p.text);
        return d;
    }
};

std::unique_ptr<JobHandle> submit(std::shared_ptr<ClientHandle> client, const std::string& prompt,
                                  std::optional<std::string> model, std::optional<std::string> aspect_ratio,
                                  std::optional<std::string> image_size, std::optional<int64_t> seed,
                                  std::optional<double> temperature, std::optional<std::string> system_instruction,
                                  const std::vector<std::pair<py::bytes, std::optional<std::string>>>& images,
                                  const std::vector<std::pair<std::string, std::string>>& safety,
                                  int64_t deadline_ms, int priority) {
    auto req = client->build_request(prompt, model, aspect_ratio, image_size, seed, temperature,
                                     system_instruction, images, safety);
    nbc_submit_options o = NBC_SUBMIT_OPTIONS_INIT;
    o.deadline_ms = deadline_ms;
    o.priority = priority;
    auto h = std::make_unique<JobHandle>();
    h->client = client;
    int rc;
    {
        py::gil_scoped_release nogil;   // encoding large input images takes a moment
        rc = nbc_submit(&h->job, client->client, req.get(), &o);
    }
    check(rc);
    return h;
}

py::dict diagnose(int status, py::bytes body, std::optional<std::string> headers) {
    std::string_view v = body;
    nbc_error* e = nullptr;
    int rc;
    {
        py::gil_scoped_release nogil;
        rc = nbc_diagnose(&e, status, v.data(), v.size(), headers ? headers->c_str() : nullptr);
    }
    check(rc);
    std::unique_ptr<nbc_error, decltype(&nbc_error_free)> owned(e, &nbc_error_free);
    return error_dict(e);
}

py::dict check_image(py::bytes data) {
    std::string_view v = data;
    nbc_image_check c = NBC_IMAGE_CHECK_INIT;
    int rc;
    {
        py::gil_scoped_release nogil;
        rc = nbc_check_image(&c, reinterpret_cast<const uint8_t*>(v.data()), v.size());
    }
    check(rc);
    py::dict d;
    d["ok"] = c.ok != 0;
    d["blank"] = c.blank != 0;
    d["code"] = nbc_status_name(c.code);
    d["width"] = c.width;
    d["height"] = c.height;
    d["channels"] = c.channels;
    d["mime"] = std::string(c.mime);
    d["reason"] = std::string(c.reason);
    return d;
}

// ---- scenes and inpainting: a thin shell over the nbc_scene_* / nbc_inpaint section -------------

// An nbc_cancel owned for one call.
struct CancelToken {
    nbc_cancel* token = nullptr;
    CancelToken() { check(nbc_cancel_new(&token)); }
    ~CancelToken() { nbc_cancel_free(token); }
    CancelToken(const CancelToken&) = delete;
    CancelToken& operator=(const CancelToken&) = delete;
};

// How a blocking call made on a helper thread ended: its status, the copy of that thread's last
// error when it failed, and the helper's id (its events' exceptions are kept under it).
struct HelperOutcome {
    int rc = NBC_E_INTERNAL;
    ErrorCopy error;
    std::thread::id thread;
};

// Runs `call` (a blocking nbc_* call given `token`) on a helper thread while this thread, holding
// the GIL, looks every 50 ms for a signal: Ctrl-C raises the token, so the call ends within a
// fraction of a second, and then KeyboardInterrupt (whatever the signal handler raised) is raised
// here. An exception from the client's on_event (delivered on the helper thread) raises the token
// too, and is raised here once the call has ended. `discard` releases what the call produced when
// one of those exceptions is raised instead of returning it.
template <class Call, class Discard>
HelperOutcome run_cancellable(ClientHandle& client, nbc_cancel* token, Call call, Discard discard) {
    struct Shared {
        std::mutex mu;
        std::condition_variable cv;
        bool done = false;
    } shared;
    HelperOutcome out;
    std::thread helper;
    {
        py::gil_scoped_release nogil;
        helper = std::thread([&] {
            int rc = call();
            ErrorCopy error;
            if (rc != NBC_OK) {
                try {
                    error = copy_error(nbc_error_last());
                } catch (...) {   // out of memory: the code alone is still right
                    error.code = rc;
                }
            }
            std::lock_guard<std::mutex> lock(shared.mu);
            out.rc = rc;
            out.error = std::move(error);
            shared.done = true;
            shared.cv.notify_all();
        });
    }
    out.thread = helper.get_id();
    // Whatever happens below, the helper is joined before `shared` and `out` go: with the GIL
    // released, since it may be delivering an event.
    struct Joiner {
        std::thread& t;
        nbc_cancel* token;
        ~Joiner() {
            if (!t.joinable()) return;
            nbc_cancel_trigger(token);
            py::gil_scoped_release nogil;
            t.join();
        }
    } joiner{helper, token};

    std::optional<py::error_already_set> interrupted;
    for (;;) {
        bool done;
        {
            py::gil_scoped_release nogil;
            std::unique_lock<std::mutex> lock(shared.mu);
            done = shared.cv.wait_for(lock, std::chrono::milliseconds(50), [&] { return shared.done; });
        }
        if (done) break;
        if (interrupted) continue;
        if (PyErr_CheckSignals() != 0) {
            interrupted.emplace();   // takes the handler's exception (KeyboardInterrupt)
            nbc_cancel_trigger(token);
        } else if (client.events && client.events->has_pending(out.thread)) {
            nbc_cancel_trigger(token);
        }
    }
    {
        py::gil_scoped_release nogil;
        helper.join();
    }
    std::optional<py::error_already_set> from_event;
    if (client.events) from_event = client.events->take_pending(out.thread);
    if (interrupted || from_event) {
        discard();
        throw std::move(interrupted ? *interrupted : *from_event);
    }
    return out;
}

// Owns one nbc_scene_result for as long as any Python SceneResult (or a resume) refers to it, so
// composites can be read on request.
struct SceneResultHandle {
    nbc_scene_result* res = nullptr;
    explicit SceneResultHandle(nbc_scene_result* r) : res(r) {}
    ~SceneResultHandle() { nbc_scene_result_free(res); }
    SceneResultHandle(const SceneResultHandle&) = delete;
    SceneResultHandle& operator=(const SceneResultHandle&) = delete;

    // The composite after `stage` (-1: the final image); channels 4 RGBA or 3 RGB.
    std::unique_ptr<Pixels> pixels(int stage, int channels) {
        if (channels != 3 && channels != 4) {
            PyErr_SetString(PyExc_ValueError, "channels must be 3 (RGB) or 4 (RGBA)");
            throw py::error_already_set();
        }
        int32_t w = 0, h = 0;
        check(nbc_scene_result_rgba(res, stage, nullptr, 0, &w, &h));
        auto px = std::make_unique<Pixels>();
        px->width = w;
        px->height = h;
        px->channels = channels;
        const std::size_t count = static_cast<std::size_t>(w) * static_cast<std::size_t>(h);
        px->data.reset(new uint8_t[count * 4]);
        int rc;
        {
            py::gil_scoped_release nogil;
            rc = nbc_scene_result_rgba(res, stage, px->data.get(), count * 4, &w, &h);
            if (rc == NBC_OK && channels == 3) {
                uint8_t* p = px->data.get();
                for (std::size_t i = 0; i < count; ++i) {
                    p[i * 3 + 0] = p[i * 4 + 0];
                    p[i * 3 + 1] = p[i * 4 + 1];
                    p[i * 3 + 2] = p[i * 4 + 2];
                }
            }
        }
        check(rc);
        return px;
    }
};

py::dict error_object_info(nbc_error* e) { return error_info(copy_error(e)); }

py::dict scene_result_dict(nbc_scene_result* res) {
    auto handle = std::make_shared<SceneResultHandle>(res);
    py::dict out;
    out["handle"] = handle;
    py::list stages;
    for (int i = 0, n = nbc_scene_result_stage_count(res); i < n; ++i) {
        nbc_scene_stage_info st = NBC_SCENE_STAGE_INFO_INIT;
        check(nbc_scene_result_stage(&st, res, i));
        py::dict d;
        d["index"] = st.index;
        d["kind"] = st.kind;
        d["prompt"] = st.prompt;
        d["status"] = nbc_status_name(st.status);
        d["image_size"] = st.image_size;
        d["placed"] = py::make_tuple(st.placed_x, st.placed_y, st.placed_w, st.placed_h);
        d["width"] = st.width;
        d["height"] = st.height;
        d["cost_usd"] = st.cost_usd;
        d["answer"] = st.answer ? py::object(py::bytes(reinterpret_cast<const char*>(st.answer), st.answer_size))
                                : py::object(py::none());
        d["answer_mime"] = st.answer_mime ? st.answer_mime : "";
        py::list attempts;
        for (int a = 0; a < st.attempt_count; ++a) {
            nbc_attempt at = NBC_ATTEMPT_INIT;
            check(nbc_scene_result_stage_attempt(&at, res, i, a));
            attempts.append(attempt_dict(at));
        }
        d["attempts"] = attempts;
        if (st.status == NBC_OK) {
            d["error"] = py::none();
        } else {
            nbc_error* e = nullptr;
            check(nbc_scene_result_stage_error(&e, res, i));
            std::unique_ptr<nbc_error, decltype(&nbc_error_free)> owned(e, &nbc_error_free);
            d["error"] = error_object_info(e);
        }
        stages.append(d);
    }
    out["stages"] = stages;
    out["failed_stage"] = nbc_scene_result_failed_stage(res);
    out["total_stages"] = nbc_scene_result_total_stages(res);
    out["cost_usd"] = nbc_scene_result_cost_usd(res);
    return out;
}

// elements: (prompt, x, y, w, h, z, mode) tuples. A failed stage returns normally (its error is in
// the stage); argument errors raise.
py::dict run_scene(std::shared_ptr<ClientHandle> client, std::optional<std::string> background,
                   std::optional<std::string> plan, int plan_mode, std::optional<std::string> style,
                   std::optional<std::string> aspect_ratio, std::optional<std::string> image_size,
                   std::optional<std::string> model,
                   const std::vector<std::tuple<std::string, double, double, double, double, int, int>>& elements,
                   int grow, int feather, int colour_match, std::optional<int64_t> seed, int64_t stage_deadline_ms,
                   std::shared_ptr<SceneResultHandle> resume) {
    std::unique_ptr<nbc_scene, decltype(&nbc_scene_free)> scene(nullptr, &nbc_scene_free);
    {
        nbc_scene* s = nullptr;
        if (plan) check(nbc_scene_from_prompt(&s, plan->c_str(), plan_mode));
        else check(nbc_scene_new(&s, background ? background->c_str() : nullptr));
        scene.reset(s);
    }
    if (style) check(nbc_scene_set_style(scene.get(), style->c_str()));
    check(nbc_scene_set_aspect_ratio(scene.get(), or_null(aspect_ratio)));
    check(nbc_scene_set_image_size(scene.get(), or_null(image_size)));
    check(nbc_scene_set_model(scene.get(), or_null(model)));
    for (const auto& [prompt, x, y, w, h, z, mode] : elements)
        check(nbc_scene_add_element(scene.get(), prompt.c_str(), x, y, w, h, z, mode));
    CancelToken cancel;
    nbc_scene_options o = NBC_SCENE_OPTIONS_INIT;
    o.grow_px = grow;
    o.feather_px = feather;
    o.colour_match = colour_match;
    o.seed = seed ? *seed : -1;
    o.stage_deadline_ms = stage_deadline_ms;
    o.cancel = cancel.token;
    nbc_scene_result* res = nullptr;
    nbc_scene_result* from = resume ? resume->res : nullptr;
    HelperOutcome done = run_cancellable(
        *client, cancel.token, [&] { return nbc_scene_run(&res, client->client, scene.get(), &o, from); },
        [&] {
            nbc_scene_result_free(res);
            res = nullptr;
        });
    if (!res) raise_error(done.error);   // an argument error: nothing was sent
    return scene_result_dict(res);
}

// The change of an inpaint as a layer of its own (nbc_result_inpaint_layer): where it sits and
// its RGBA bytes, alpha the blend mask. Bytes, not Pixels, so a Result still pickles.
py::dict inpaint_layer_dict(const nbc_result* res) {
    int32_t x = 0, y = 0, width = 0, height = 0;
    check(nbc_result_inpaint_layer(res, nullptr, 0, &x, &y, &width, &height));
    std::string rgba(static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 4, '\0');
    check(nbc_result_inpaint_layer(res, reinterpret_cast<uint8_t*>(rgba.data()), rgba.size(), &x, &y, &width,
                                   &height));
    py::dict d;
    d["x"] = x;
    d["y"] = y;
    d["width"] = width;
    d["height"] = height;
    d["rgba"] = py::bytes(rgba);
    return d;
}

py::dict inpaint(std::shared_ptr<ClientHandle> client, py::bytes rgba, int32_t width, int32_t height, py::bytes mask,
                 const std::string& prompt, std::optional<std::string> model, std::optional<std::string> image_size,
                 int grow, int feather, int colour_match, int context_px, std::optional<int64_t> seed,
                 int64_t deadline_ms) {
    std::string_view px = rgba, mk = mask;
    if (width <= 0 || height <= 0 ||
        px.size() != static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 4 ||
        mk.size() != static_cast<std::size_t>(width) * static_cast<std::size_t>(height)) {
        PyErr_SetString(PyExc_ValueError, "rgba must hold 4 * width * height bytes and mask width * height");
        throw py::error_already_set();
    }
    nbc_inpaint_options o = NBC_INPAINT_OPTIONS_INIT;
    o.model = or_null(model);
    o.image_size = or_null(image_size);
    o.grow_px = grow;
    o.feather_px = feather;
    o.colour_match = colour_match;
    o.context_px = context_px;
    o.seed = seed ? *seed : -1;
    o.deadline_ms = deadline_ms;
    CancelToken cancel;
    o.cancel = cancel.token;
    nbc_result* res = nullptr;
    HelperOutcome done = run_cancellable(
        *client, cancel.token,
        [&] {
            return nbc_inpaint(&res, client->client, reinterpret_cast<const uint8_t*>(px.data()), width, height,
                               static_cast<std::size_t>(width) * 4, reinterpret_cast<const uint8_t*>(mk.data()),
                               static_cast<std::size_t>(width), prompt.c_str(), &o);
        },
        [&] {
            nbc_result_free(res);
            res = nullptr;
        });
    if (done.rc != NBC_OK) raise_error(done.error);
    py::dict out = result_dict(res);   // the result now belongs to out["handle"]
    out["inpaint_layer"] = inpaint_layer_dict(res);
    return out;
}

// ---- batch: a thin shell over the nbc_batch_* section ------------------------------------------

py::dict batch_job_dict(const nbc_batch_job* job) {
    nbc_batch_job_info info = NBC_BATCH_JOB_INFO_INIT;
    check(nbc_batch_job_describe(&info, job));
    static const char* kStates[] = {"UNSPECIFIED", "PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED"};
    py::dict d;
    d["name"] = info.name;
    d["display_name"] = info.display_name;
    d["model"] = info.model;
    d["state"] = (info.state >= 0 && info.state <= 6) ? kStates[info.state] : "UNSPECIFIED";
    d["done"] = info.done != 0;
    d["file_input"] = info.file_input != 0;
    d["request_count"] = info.request_count;
    d["succeeded_count"] = info.succeeded_count;
    d["failed_count"] = info.failed_count;
    d["pending_count"] = info.pending_count;
    d["responses_file"] = info.responses_file;
    d["create_time"] = info.create_time;
    d["end_time"] = info.end_time;
    d["error"] = nbc_batch_job_status(job) == NBC_OK ? py::object(py::none()) : py::object(last_error_info());
    return d;
}

struct BatchHandle {
    nbc_batch_client* bc = nullptr;
    using Job = std::unique_ptr<nbc_batch_job, decltype(&nbc_batch_job_free)>;

    BatchHandle(std::optional<std::string> api_key, std::optional<std::string> base_url,
                std::optional<std::string> model, int64_t poll_initial_ms, int64_t poll_max_ms,
                int64_t inline_limit_bytes, py::dict quota) {
        nbc_batch_options o = NBC_BATCH_OPTIONS_INIT;
        auto usd_field = [&](const char* k) -> double {
            return quota.contains(k) && !quota[k].is_none() ? quota[k].cast<double>() : 0.0;
        };
        auto str_field = [&](const char* k) -> std::optional<std::string> {
            if (!quota.contains(k) || quota[k].is_none()) return std::nullopt;
            return quota[k].cast<std::string>();
        };
        auto state_path = str_field("state_path"), prices = str_field("prices_json");
        o.budget_daily_usd = usd_field("daily");
        o.budget_monthly_usd = usd_field("monthly");
        o.budget_total_usd = usd_field("total");
        o.state_path = or_null(state_path);
        o.prices_json = or_null(prices);
        o.api_key = or_null(api_key);
        o.base_url = or_null(base_url);
        o.model = or_null(model);
        o.poll_initial_ms = poll_initial_ms;
        o.poll_max_ms = poll_max_ms;
        o.inline_limit_bytes = inline_limit_bytes;
        int rc;
        {
            py::gil_scoped_release nogil;
            rc = nbc_batch_client_new(&bc, &o);
        }
        check(rc);
    }
    ~BatchHandle() {
        py::gil_scoped_release nogil;
        nbc_batch_client_free(bc);
    }
    BatchHandle(const BatchHandle&) = delete;
    BatchHandle& operator=(const BatchHandle&) = delete;

    // entries: dicts {"key", "prompt", "model"?, "aspect_ratio"?, "image_size"?, "seed"?}.
    py::dict submit(const py::list& entries, std::optional<std::string> display_name) {
        std::vector<std::unique_ptr<nbc_request, decltype(&nbc_request_free)>> owned;
        std::vector<std::string> keys;
        keys.reserve(entries.size());
        auto opt = [](const py::dict& d, const char* k) -> std::optional<std::string> {
            if (!d.contains(k) || d[k].is_none()) return std::nullopt;
            return d[k].cast<std::string>();
        };
        for (auto item : entries) {
            py::dict d = item.cast<py::dict>();
            keys.push_back(d["key"].cast<std::string>());
            nbc_request* r = nullptr;
            check(nbc_request_new(&r, d["prompt"].cast<std::string>().c_str()));
            owned.emplace_back(r, &nbc_request_free);
            check(nbc_request_set_model(r, or_null(opt(d, "model"))));
            check(nbc_request_set_aspect_ratio(r, or_null(opt(d, "aspect_ratio"))));
            check(nbc_request_set_image_size(r, or_null(opt(d, "image_size"))));
            if (d.contains("seed") && !d["seed"].is_none()) check(nbc_request_set_seed(r, d["seed"].cast<int64_t>()));
        }
        std::vector<const char*> key_ptrs;
        std::vector<const nbc_request*> reqs;
        for (std::size_t i = 0; i < keys.size(); ++i) {
            key_ptrs.push_back(keys[i].c_str());
            reqs.push_back(owned[i].get());
        }
        nbc_batch_job* job = nullptr;
        int rc;
        {
            py::gil_scoped_release nogil;
            rc = nbc_batch_submit(&job, bc, key_ptrs.data(), reqs.data(), reqs.size(), or_null(display_name));
        }
        check(rc);
        Job owned_job(job, &nbc_batch_job_free);
        return batch_job_dict(job);
    }

    py::dict get(const std::string& name) {
        nbc_batch_job* job = nullptr;
        int rc;
        {
            py::gil_scoped_release nogil;
            rc = nbc_batch_get(&job, bc, name.c_str());
        }
        check(rc);
        Job owned(job, &nbc_batch_job_free);
        return batch_job_dict(job);
    }

    py::dict wait(const std::string& name, int64_t deadline_ms) {
        nbc_batch_job* job = nullptr;
        int rc;
        {
            py::gil_scoped_release nogil;
            rc = nbc_batch_wait(&job, bc, name.c_str(), deadline_ms);
        }
        check(rc);
        Job owned(job, &nbc_batch_job_free);
        return batch_job_dict(job);
    }

    void cancel(const std::string& name) {
        int rc;
        {
            py::gil_scoped_release nogil;
            rc = nbc_batch_cancel(bc, name.c_str());
        }
        check(rc);
    }

    void remove(const std::string& name) {
        int rc;
        {
            py::gil_scoped_release nogil;
            rc = nbc_batch_delete(bc, name.c_str());
        }
        check(rc);
    }

    // [{"key", "result": dict | None, "error": error-info dict | None}], one per entry.
    py::list results(const std::string& name) {
        nbc_batch_job* job = nullptr;
        nbc_batch_results* rs = nullptr;
        int rc;
        {
            py::gil_scoped_release nogil;
            rc = nbc_batch_get(&job, bc, name.c_str());
            if (rc == NBC_OK) rc = nbc_batch_results_get(&rs, bc, job);
        }
        Job owned_job(job, &nbc_batch_job_free);
        std::unique_ptr<nbc_batch_results, decltype(&nbc_batch_results_free)> owned(rs, &nbc_batch_results_free);
        check(rc);
        py::list out;
        for (int i = 0, n = nbc_batch_results_count(rs); i < n; ++i) {
            py::dict e;
            e["key"] = nbc_batch_results_key(rs, i);
            nbc_result* r = nullptr;
            if (nbc_batch_results_entry(&r, rs, i) == NBC_OK) {
                e["result"] = result_dict(r);
                e["error"] = py::none();
            } else {
                e["result"] = py::none();
                e["error"] = last_error_info();
            }
            out.append(e);
        }
        return out;
    }
};

}  // namespace

PYBIND11_MODULE(_nbcore, m) {
    m.doc() = "Low-level bindings over the nbcore C ABI; use the nbcore package instead.";
    m.attr("ABI_VERSION_STRING") = NBC_VERSION_STRING;
    m.attr("BACKEND_ENV") = NBC_BACKEND_ENV;
    m.attr("BACKEND_AI_STUDIO") = NBC_BACKEND_AI_STUDIO;
    m.attr("BACKEND_VERTEX") = NBC_BACKEND_VERTEX;
    m.attr("ELEMENT_EDIT") = NBC_ELEMENT_EDIT;
    m.attr("ELEMENT_CUTOUT") = NBC_ELEMENT_CUTOUT;
    m.def("version", [] { return std::string(nbc_version_string()); });
    m.def("version_number", [] { return nbc_version_number(); });
    m.def("status_name", [](int code) { return std::string(nbc_status_name(code)); });
    m.def("strerror", [](int code) { return std::string(nbc_strerror(code)); });
    m.def("check_image", &check_image, py::arg("data"));
    m.def("retry_preset", &retry_preset, py::arg("preset"));
    m.def("diagnose", &diagnose, py::arg("status"), py::arg("body"), py::arg("headers"));

    py::class_<Pixels>(m, "Pixels", py::buffer_protocol(), R"doc(
Decoded pixels of one image: 8 bits per channel, rows top to bottom, channels RGB or RGBA.
Supports the buffer protocol, so numpy.asarray(p) or memoryview(p) read them without a copy
(shape (height, width, channels), dtype uint8). Made by nbcore.Image.pixels().)doc")
        .def_buffer([](Pixels& p) {
            return py::buffer_info(p.data.get(), 1, py::format_descriptor<uint8_t>::format(), 3,
                                   {p.height, p.width, p.channels}, {p.width * p.channels, p.channels, py::ssize_t(1)},
                                   false);
        })
        .def_property_readonly("width", [](const Pixels& p) { return p.width; })
        .def_property_readonly("height", [](const Pixels& p) { return p.height; })
        .def_property_readonly("channels", [](const Pixels& p) { return p.channels; })
        .def_property_readonly("mode", [](const Pixels& p) { return p.channels == 4 ? "RGBA" : "RGB"; },
                               "The Pillow mode of these pixels: \"RGBA\" or \"RGB\".")
        .def_property_readonly("nbytes", [](const Pixels& p) { return p.width * p.height * p.channels; })
        .def("tobytes", [](const Pixels& p) {
            return py::bytes(reinterpret_cast<const char*>(p.data.get()), static_cast<std::size_t>(p.width * p.height * p.channels));
        }, "A copy of the pixels as bytes.")
        .def("__repr__", [](const Pixels& p) {
            return "<nbcore.Pixels " + std::to_string(p.width) + "x" + std::to_string(p.height) + " " +
                   (p.channels == 4 ? "RGBA" : "RGB") + ">";
        });

    py::class_<ResultHandle, std::shared_ptr<ResultHandle>>(m, "_Result")
        .def("pixels", &ResultHandle::pixels, py::arg("index"), py::arg("channels"));

    py::class_<JobHandle>(m, "_Job")
        .def("wait", &JobHandle::wait, py::arg("timeout"))
        .def("done", &JobHandle::done)
        .def("result", &JobHandle::result)
        .def("cancel", &JobHandle::cancel)
        .def("progress", &JobHandle::progress);

    m.def("analyze_prompt", [](const std::string& prompt, std::optional<std::string> image_size, int format) {
        char* text = nullptr;
        check(nbc_prompt_analyze(&text, prompt.c_str(), or_null(image_size), format));
        std::string out(text);
        nbc_string_free(text);
        return out;
    }, py::arg("prompt"), py::arg("image_size"), py::arg("format"));

    m.def("state_usage", [](std::optional<std::string> path, int format) {
        char* text = nullptr;
        int rc;
        {
            py::gil_scoped_release nogil;
            rc = nbc_state_usage(&text, or_null(path), format);
        }
        check(rc);
        std::string out(text);
        nbc_string_free(text);
        return out;
    }, py::arg("path"), py::arg("format"));

    py::class_<ClientHandle, std::shared_ptr<ClientHandle>>(m, "_Client")
        .def(py::init<std::optional<std::string>, std::optional<std::string>, std::optional<std::string>,
                      py::dict, int64_t, int64_t, int64_t, bool, py::object, py::list, bool, bool, py::dict, int,
                      std::optional<std::string>, std::optional<std::string>>(),
             py::arg("api_key"), py::arg("base_url"), py::arg("model"), py::arg("retry"),
             py::arg("deadline_ms"), py::arg("attempt_timeout_ms"), py::arg("idle_timeout_ms"),
             py::arg("stream"), py::arg("on_event"), py::arg("routes"), py::arg("downgrade_on_timeout"),
             py::arg("retry_budget"), py::arg("quota"), py::arg("backend"), py::arg("project"),
             py::arg("location"))
        .def("usage", &ClientHandle::usage, py::arg("format"))
        .def("simplify", &ClientHandle::simplify, py::arg("prompt"), py::arg("max_requests"), py::arg("max_cost_usd"),
             py::arg("model"), py::arg("aspect_ratio"), py::arg("image_size"), py::arg("step_deadline_ms"))
        .def("submit", &submit, py::arg("prompt"), py::arg("model"), py::arg("aspect_ratio"),
             py::arg("image_size"), py::arg("seed"), py::arg("temperature"), py::arg("system_instruction"),
             py::arg("images"), py::arg("safety"), py::arg("deadline_ms"), py::arg("priority"))
        .def("scene", &run_scene, py::arg("background"), py::arg("plan"), py::arg("plan_mode"), py::arg("style"),
             py::arg("aspect_ratio"), py::arg("image_size"), py::arg("model"), py::arg("elements"), py::arg("grow"),
             py::arg("feather"), py::arg("colour_match"), py::arg("seed"), py::arg("stage_deadline_ms"),
             py::arg("resume"))
        .def("inpaint", &inpaint, py::arg("rgba"), py::arg("width"), py::arg("height"), py::arg("mask"),
             py::arg("prompt"), py::arg("model"), py::arg("image_size"), py::arg("grow"), py::arg("feather"),
             py::arg("colour_match"), py::arg("context_px"), py::arg("seed"), py::arg("deadline_ms"));

    py::class_<SceneResultHandle, std::shared_ptr<SceneResultHandle>>(m, "_SceneResult")
        .def("pixels", &SceneResultHandle::pixels, py::arg("stage"), py::arg("channels"));

    py::class_<BatchHandle>(m, "_BatchClient")
        .def(py::init<std::optional<std::string>, std::optional<std::string>, std::optional<std::string>, int64_t,
                      int64_t, int64_t, py::dict>(),
             py::arg("api_key"), py::arg("base_url"), py::arg("model"), py::arg("poll_initial_ms"),
             py::arg("poll_max_ms"), py::arg("inline_limit_bytes"), py::arg("quota"))
        .def("submit", &BatchHandle::submit, py::arg("entries"), py::arg("display_name"))
        .def("get", &BatchHandle::get, py::arg("name"))
        .def("wait", &BatchHandle::wait, py::arg("name"), py::arg("deadline_ms"))
        .def("cancel", &BatchHandle::cancel, py::arg("name"))
        .def("delete", &BatchHandle::remove, py::arg("name"))
        .def("results", &BatchHandle::results, py::arg("name"));
}
