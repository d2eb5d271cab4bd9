#include "case_runner.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <fstream>
#include <sstream>

#include "nbcore/client.hpp"
#include "nbcore_emulator/emulator.hpp"

namespace nbcore::testing {
namespace {

using nlohmann::json;

constexpr const char* kKey = "case-runner-key-0001";

// Is every member of `want` present in `have` with an equal value (recursively)?
bool json_contains(const json& have, const json& want, std::string& where) {
    if (want.is_object()) {
        if (!have.is_object()) return false;
        for (auto it = want.begin(); it != want.end(); ++it) {
            if (!have.contains(it.key())) { where = it.key(); return false; }
            if (!json_contains(have.at(it.key()), it.value(), where)) {
                where = it.key() + (where.empty() ? "" : "." + where);
                return false;
            }
        }
        return true;
    }
    return have == want;
}

// Is there a value at the dotted `path` ("generationConfig.imageConfig.imageSize")?
bool json_has_path(const json& have, const std::string& path) {
    const json* at = &have;
    std::size_t from = 0;
    while (from <= path.size()) {
        auto dot = path.find('.', from);
        std::string key = path.substr(from, dot == std::string::npos ? std::string::npos : dot - from);
        if (!at->is_object() || !at->contains(key)) return false;
        at = &(*at)[key];
        if (dot == std::string::npos) return true;
        from = dot + 1;
    }
    return true;
}

// Every field a scenario file may use, per section. Both drivers (this one and
// tests/python/test_cases.py) accept exactly these, so a misspelt expectation fails loudly
// instead of checking nothing.
const std::vector<std::pair<std::string, std::vector<std::string>>>& known_fields() {
    static const std::vector<std::pair<std::string, std::vector<std::string>>> k = {
        {"", {"name", "comment", "request", "client", "emulator", "script", "expect", "sent"}},
        {"request", {"model", "prompt", "aspect_ratio", "image_size", "seed", "repeat"}},
        {"client", {"retry", "max_attempts", "max_billed_retries", "backoff_base_ms", "backoff_cap_ms",
                    "deadline_ms", "attempt_timeout_ms", "idle_timeout_ms", "stream", "routes",
                    "downgrade_on_timeout", "retry_budget"}},
        {"emulator", {"latency_ms", "rpm_limit", "tpm_limit", "ipm_limit", "rpd_limit", "quota_tier"}},
        {"expect", {"status", "attempts", "outcomes", "reasons", "http_statuses", "routes", "image_sizes",
                    "executions", "waits_ms", "durations_ms", "images", "image", "dimension", "safety_layer",
                    "retryable", "reason", "http_status", "api_status", "advice_contains", "message_contains",
                    "retry_after_ms", "min_elapsed_ms", "max_elapsed_ms"}},
        {"sent", {"requests", "path", "headers_present", "header_values", "body", "bodies", "body_absent",
                  "faults"}},
    };
    return k;
}

const std::vector<std::string> kRouteFields = {"name", "quota_pool", "failover_on_capacity", "failover_on_quota",
                                               "failover_on_location", "failover_on_safety"};

void check_fields(const json& spec, const std::function<void(std::string)>& fail) {
    for (const auto& [section, keys] : known_fields()) {
        const json* obj = &spec;
        if (!section.empty()) {
            if (!spec.contains(section)) continue;
            obj = &spec[section];
        }
        if (!obj->is_object()) { fail("\"" + section + "\" must be an object"); continue; }
        for (auto it = obj->begin(); it != obj->end(); ++it)
            if (std::find(keys.begin(), keys.end(), it.key()) == keys.end())
                fail("unknown field \"" + (section.empty() ? "" : section + ".") + it.key() + "\"");
    }
    if (spec.contains("client") && spec["client"].is_object() && spec["client"].contains("routes"))
        for (const auto& r : spec["client"]["routes"])
            for (auto it = r.begin(); it != r.end(); ++it)
                if (std::find(kRouteFields.begin(), kRouteFields.end(), it.key()) == kRouteFields.end())
                    fail("unknown field \"client.routes[]." + it.key() + "\"");
}

std::string execution_name(Execution e) {
    switch (e) {
    case Execution::NotSent: return "not_sent";
    case Execution::PossiblyExecuted: return "possibly_executed";
    case Execution::Executed: return "executed";
    }
    return "unknown";
}

// Is v within the [lo, hi] pair `bounds`?
bool within(long v, const json& bounds) { return v >= bounds[0].get<long>() && v <= bounds[1].get<long>(); }

Request request_from(const json& r) {
    Request req;
    req.model = r.value("model", "");
    req.prompt = r.value("prompt", "a red apple on a table");
    req.aspect_ratio = r.value("aspect_ratio", "");
    req.image_size = r.value("image_size", "");
    if (r.contains("seed")) req.seed = r["seed"].get<int>();
    return req;
}

ClientOptions client_from(const json& c, const std::string& url) {
    ClientOptions o;
    o.api_key = kKey;
    o.base_url = url;
    std::string preset = c.value("retry", "interactive");
    o.retry = preset == "patient" ? policy::RetryPolicy::patient()
            : preset == "none"    ? policy::RetryPolicy::none()
                                  : policy::RetryPolicy::interactive();
    if (c.contains("max_attempts")) o.retry.max_attempts = c["max_attempts"];
    if (c.contains("max_billed_retries")) o.retry.max_billed_retries = c["max_billed_retries"];
    // Scenario files keep backoff short so the suite runs in seconds; server-given waits are real.
    o.retry.server.base = std::chrono::milliseconds(c.value("backoff_base_ms", 50));
    o.retry.server.cap = std::chrono::milliseconds(c.value("backoff_cap_ms", 400));
    o.retry.gateway = o.retry.server;
    o.retry.rate.base = o.retry.server.base;
    o.retry.rate.cap = o.retry.server.cap;
    o.deadline = std::chrono::milliseconds(c.value("deadline_ms", 30'000));
    o.timeouts.total = std::chrono::milliseconds(c.value("attempt_timeout_ms", 10'000));
    if (c.contains("idle_timeout_ms")) o.timeouts.idle = std::chrono::milliseconds(c["idle_timeout_ms"]);
    o.stream = c.value("stream", false);
    // Named routes, all to the one emulator: what differs is the name, the quota pool and which
    // failures each may fail over for.
    for (const auto& r : c.value("routes", json::array())) {
        RouteConfig rc;
        rc.kind = RouteKind::Custom;
        rc.base_url = url;
        rc.name = r.value("name", "");
        rc.quota_pool = r.value("quota_pool", "");
        rc.failover_on_capacity = r.value("failover_on_capacity", true);
        rc.failover_on_quota = r.value("failover_on_quota", true);
        rc.failover_on_location = r.value("failover_on_location", true);
        rc.failover_on_safety = r.value("failover_on_safety", false);
        o.routes.push_back(rc);
    }
    o.downgrade_on_timeout = c.value("downgrade_on_timeout", false);
    if (!c.value("retry_budget", true)) o.retry_budget.reset();
    return o;
}

}  // namespace

std::vector<std::pair<std::string, json>> load_cases(const std::string& dir) {
    std::vector<std::pair<std::string, json>> out;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        if (e.path().extension() != ".json") continue;
        std::ifstream f(e.path());
        std::stringstream ss;
        ss << f.rdbuf();
        out.emplace_back(e.path().filename().string(), json::parse(ss.str()));
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    return out;
}

CaseOutcome run_case(const std::string& file, const json& spec) {
    CaseOutcome out;
    out.name = spec.value("name", file);
    const json expect = spec.value("expect", json::object());
    out.expected = expect.value("status", "OK");
    auto fail = [&](std::string what) { out.failures.push_back(std::move(what)); };
    check_fields(spec, fail);
    if (!out.failures.empty()) return out;

    emulator::Options eo;
    eo.api_key = kKey;
    const json emu = spec.value("emulator", json::object());
    eo.latency_ms = emu.value("latency_ms", 0);
    eo.rpm_limit = emu.value("rpm_limit", 0);
    eo.tpm_limit = emu.value("tpm_limit", 0);
    eo.ipm_limit = emu.value("ipm_limit", 0);
    eo.rpd_limit = emu.value("rpd_limit", 0);
    eo.quota_tier = emu.value("quota_tier", std::string("free"));
    eo.script_json = spec.value("script", json::object()).dump();
    emulator::Server server(eo);
    server.start();

    Client client(client_from(spec.value("client", json::object()), server.url()));
    std::vector<Attempt> attempts;
    std::optional<Diagnosis> diag;
    std::vector<ResultImage> images;
    // `repeat` runs the same request that many times through the one client (breakers, holds and
    // budgets carry over); every expectation is about the last run, `sent` about all of them.
    const json rq = spec.value("request", json::object());
    const int repeat = rq.value("repeat", 1);
    long elapsed_ms = 0;
    for (int run = 0; run < repeat; ++run) {
        attempts.clear();
        images.clear();
        diag.reset();
        const auto t0 = std::chrono::steady_clock::now();
        try {
            Result r = client.generate(request_from(rq));
            attempts = r.attempts;
            images = r.images;
            out.got = "OK";
        } catch (const Error& e) {
            attempts = e.attempts;
            diag = e.diagnosis();
            out.got = std::string(status_name(e.code()));
        }
        elapsed_ms = static_cast<long>(
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count());
    }

    if (out.got != out.expected) fail("status: expected " + out.expected + ", got " + out.got +
                                      (diag ? " (" + diag->message + ")" : ""));
    if (expect.contains("attempts") && expect["attempts"].get<std::size_t>() != attempts.size())
        fail("attempts: expected " + expect["attempts"].dump() + ", got " + std::to_string(attempts.size()));

    // Per-attempt lists, compared whole.
    auto per_attempt = [&](const char* key, auto value_of) {
        if (!expect.contains(key)) return;
        json got = json::array();
        for (const auto& a : attempts) got.push_back(value_of(a));
        if (got != expect[key]) fail(std::string(key) + ": expected " + expect[key].dump() + ", got " + got.dump());
    };
    per_attempt("outcomes", [](const Attempt& a) { return std::string(status_name(a.outcome)); });
    per_attempt("reasons", [](const Attempt& a) { return a.reason; });
    per_attempt("http_statuses", [](const Attempt& a) { return a.http_status; });
    per_attempt("routes", [](const Attempt& a) { return a.route; });
    per_attempt("image_sizes", [](const Attempt& a) { return a.image_size; });
    per_attempt("executions", [](const Attempt& a) { return execution_name(a.execution); });

    // Per-attempt bounds: the wait chosen after attempt i, and how long attempt i took.
    auto per_attempt_bounds = [&](const char* key, const char* what, auto ms_of) {
        if (!expect.contains(key)) return;
        const json& w = expect[key];
        for (std::size_t i = 0; i < w.size(); ++i) {
            if (i >= attempts.size()) { fail(std::string(key) + ": no attempt " + std::to_string(i + 1)); break; }
            long ms = static_cast<long>(ms_of(attempts[i]));
            if (!within(ms, w[i]))
                fail(std::string(what) + " of attempt " + std::to_string(i + 1) + ": " + std::to_string(ms) +
                     " ms not within " + w[i].dump());
        }
    };
    per_attempt_bounds("waits_ms", "wait after", [](const Attempt& a) { return a.chosen_delay.count(); });
    per_attempt_bounds("durations_ms", "duration", [](const Attempt& a) { return a.duration.count(); });

    if (expect.contains("min_elapsed_ms") && elapsed_ms < expect["min_elapsed_ms"].get<long>())
        fail("elapsed " + std::to_string(elapsed_ms) + " ms, expected at least " + expect["min_elapsed_ms"].dump());
    if (expect.contains("max_elapsed_ms") && elapsed_ms > expect["max_elapsed_ms"].get<long>())
        fail("elapsed " + std::to_string(elapsed_ms) + " ms, expected at most " + expect["max_elapsed_ms"].dump());

    if (expect.contains("images") && expect["images"].get<std::size_t>() != images.size())
        fail("images: expected " + expect["images"].dump() + ", got " + std::to_string(images.size()));
    if (expect.contains("image")) {
        const json& want = expect["image"];
        if (images.empty()) {
            fail("image: expected " + want.dump() + ", got no image");
        } else {
            json got = {{"mime", images[0].mime}, {"width", images[0].width}, {"height", images[0].height}};
            std::string where;
            if (!json_contains(got, want, where)) fail("image: expected " + want.dump() + ", got " + got.dump());
        }
    }

    // Expectations about the error; asking for them of a success is itself a failure.
    static const char* kErrorFields[] = {"dimension", "safety_layer", "retryable", "reason", "http_status",
                                         "api_status", "advice_contains", "message_contains", "retry_after_ms"};
    if (!diag) {
        for (const char* k : kErrorFields)
            if (expect.contains(k)) fail(std::string(k) + ": expected an error, the request succeeded");
    } else {
        if (expect.contains("dimension") && expect["dimension"] != std::string(dimension_name(diag->dimension)))
            fail("dimension: expected " + expect["dimension"].dump() + ", got \"" +
                 std::string(dimension_name(diag->dimension)) + "\"");
        if (expect.contains("safety_layer") && expect["safety_layer"].get<int>() != diag->safety_layer)
            fail("safety_layer: expected " + expect["safety_layer"].dump() + ", got " +
                 std::to_string(diag->safety_layer));
        if (expect.contains("retryable") && expect["retryable"].get<bool>() != diag->retryable)
            fail("retryable: expected " + expect["retryable"].dump());
        if (expect.contains("reason") && expect["reason"].get<std::string>() != diag->reason)
            fail("reason: expected " + expect["reason"].dump() + ", got \"" + diag->reason + "\"");
        if (expect.contains("http_status") && expect["http_status"].get<int>() != diag->http_status)
            fail("http_status: expected " + expect["http_status"].dump() + ", got " +
                 std::to_string(diag->http_status));
        if (expect.contains("api_status") && expect["api_status"].get<std::string>() != diag->api_status)
            fail("api_status: expected " + expect["api_status"].dump() + ", got \"" + diag->api_status + "\"");
        for (const auto& needle : expect.value("advice_contains", json::array()))
            if (diag->advice.find(needle.get<std::string>()) == std::string::npos)
                fail("advice does not mention " + needle.dump() + ": " + diag->advice);
        for (const auto& needle : expect.value("message_contains", json::array()))
            if (diag->message.find(needle.get<std::string>()) == std::string::npos)
                fail("message does not mention " + needle.dump() + ": " + diag->message);
        if (diag->advice.empty()) fail("the error carries no advice");
        if (expect.contains("retry_after_ms")) {
            const json& b = expect["retry_after_ms"];
            if (b.is_null()) {
                if (diag->retry_after)
                    fail("retry_after_ms: expected none, got " + std::to_string(diag->retry_after->count()));
            } else {
                long ra = diag->retry_after ? static_cast<long>(diag->retry_after->count()) : -1;
                if (!within(ra, b)) fail("retry_after_ms " + std::to_string(ra) + " not within " + b.dump());
            }
        }
    }

    // What the client sent, as the emulator saw it.
    json log = server.requests();
    const json sent = spec.value("sent", json::object());
    if (sent.contains("requests") && sent["requests"].get<std::size_t>() != log.size())
        fail("requests sent: expected " + sent["requests"].dump() + ", got " + std::to_string(log.size()));
    if (sent.contains("faults")) {
        json got = json::array();
        for (const auto& req : log) got.push_back(req.value("fault", ""));
        if (got != sent["faults"]) fail("faults served: expected " + sent["faults"].dump() + ", got " + got.dump());
    }
    if (sent.contains("bodies")) {
        const json& bodies = sent["bodies"];
        if (bodies.size() != log.size())
            fail("bodies: expected " + std::to_string(bodies.size()) + " requests, got " + std::to_string(log.size()));
        for (std::size_t i = 0; i < std::min(bodies.size(), log.size()); ++i) {
            std::string where;
            if (!json_contains(log[i]["body"], bodies[i], where))
                fail("body of request " + std::to_string(i + 1) + " differs at " + where + ": " +
                     log[i]["body"].dump().substr(0, 300));
        }
    }
    for (const auto& req : log) {
        std::string where;
        if (sent.contains("path") && req.value("path", "") != sent["path"].get<std::string>())
            fail("path: expected " + sent["path"].dump() + ", got " + req.value("path", ""));
        json headers = json::object();   // lower-case names
        for (auto it = req["headers"].begin(); it != req["headers"].end(); ++it) {
            std::string k = it.key();
            std::transform(k.begin(), k.end(), k.begin(), [](unsigned char c) { return std::tolower(c); });
            headers[k] = it.value();
        }
        for (const auto& h : sent.value("headers_present", json::array()))
            if (!headers.contains(h.get<std::string>())) fail("header " + h.dump() + " was not sent");
        const json header_values = sent.value("header_values", json::object());
        for (auto it = header_values.begin(); it != header_values.end(); ++it)
            if (!headers.contains(it.key()) || headers[it.key()] != it.value())
                fail("header " + it.key() + ": expected " + it.value().dump() + ", got " +
                     (headers.contains(it.key()) ? headers[it.key()].dump() : std::string("none")));
        if (sent.contains("body") && !json_contains(req["body"], sent["body"], where))
            fail("request body differs at " + where + ": " + req["body"].dump().substr(0, 300));
        for (const auto& p : sent.value("body_absent", json::array()))
            if (json_has_path(req["body"], p.get<std::string>()))
                fail("request body has " + p.dump() + ", which must be absent");
        if (req.dump().find(kKey) != std::string::npos) fail("the API key appears in the emulator's log");
    }
    out.passed = out.failures.empty();
    return out;
}

}  // namespace nbcore::testing
