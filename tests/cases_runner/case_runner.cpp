#include "case_runner.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
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

Request request_from(const json& r) {
    Request req;
    req.model = r.value("model", "");
    req.prompt = r.value("prompt", "a red apple on a table");
    req.aspect_ratio = r.value("aspect_ratio", "");
    req.image_size = r.value("image_size", "");
    if (r.contains("seed")) req.seed = r["seed"].get<int>();
    req.image_only = r.value("image_only", false);
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

    emulator::Options eo;
    eo.api_key = kKey;
    const json emu = spec.value("emulator", json::object());
    eo.latency_ms = emu.value("latency_ms", 0);
    eo.script_json = spec.value("script", json::object()).dump();
    emulator::Server server(eo);
    server.start();

    Client client(client_from(spec.value("client", json::object()), server.url()));
    std::vector<Attempt> attempts;
    std::optional<Diagnosis> diag;
    std::size_t images = 0;
    try {
        Result r = client.generate(request_from(spec.value("request", json::object())));
        attempts = r.attempts;
        images = r.images.size();
        out.got = "OK";
    } catch (const Error& e) {
        attempts = e.attempts;
        diag = e.diagnosis();
        out.got = std::string(status_name(e.code()));
    }

    if (out.got != out.expected) fail("status: expected " + out.expected + ", got " + out.got +
                                      (diag ? " (" + diag->message + ")" : ""));
    if (expect.contains("attempts") && expect["attempts"].get<std::size_t>() != attempts.size())
        fail("attempts: expected " + expect["attempts"].dump() + ", got " + std::to_string(attempts.size()));
    if (expect.contains("outcomes")) {
        std::vector<std::string> got;
        for (const auto& a : attempts) got.emplace_back(status_name(a.outcome));
        if (json(got) != expect["outcomes"])
            fail("outcomes: expected " + expect["outcomes"].dump() + ", got " + json(got).dump());
    }
    if (expect.contains("waits_ms")) {
        const json& w = expect["waits_ms"];
        for (std::size_t i = 0; i < w.size(); ++i) {
            if (i >= attempts.size()) { fail("waits_ms: no attempt " + std::to_string(i + 1)); break; }
            auto ms = attempts[i].chosen_delay.count();
            if (ms < w[i][0].get<long>() || ms > w[i][1].get<long>())
                fail("wait after attempt " + std::to_string(i + 1) + ": " + std::to_string(ms) +
                     " ms not within " + w[i].dump());
        }
    }
    if (expect.contains("images") && expect["images"].get<std::size_t>() != images)
        fail("images: expected " + expect["images"].dump() + ", got " + std::to_string(images));
    if (diag) {
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
        for (const auto& needle : expect.value("advice_contains", json::array()))
            if (diag->advice.find(needle.get<std::string>()) == std::string::npos)
                fail("advice does not mention " + needle.dump() + ": " + diag->advice);
        if (diag->advice.empty()) fail("the error carries no advice");
        if (expect.contains("retry_after_ms")) {
            const json& b = expect["retry_after_ms"];
            long ra = diag->retry_after ? static_cast<long>(diag->retry_after->count()) : -1;
            if (ra < b[0].get<long>() || ra > b[1].get<long>())
                fail("retry_after_ms " + std::to_string(ra) + " not within " + b.dump());
        }
    }

    // What the client sent, as the emulator saw it.
    json log = server.requests();
    const json sent = spec.value("sent", json::object());
    if (sent.contains("requests") && sent["requests"].get<std::size_t>() != log.size())
        fail("requests sent: expected " + sent["requests"].dump() + ", got " + std::to_string(log.size()));
    for (const auto& req : log) {
        std::string where;
        if (sent.contains("path") && req.value("path", "") != sent["path"].get<std::string>())
            fail("path: expected " + sent["path"].dump() + ", got " + req.value("path", ""));
        for (const auto& h : sent.value("headers_present", json::array())) {
            bool found = false;
            for (auto it = req["headers"].begin(); it != req["headers"].end(); ++it) {
                std::string k = it.key();
                std::transform(k.begin(), k.end(), k.begin(), ::tolower);
                if (k == h.get<std::string>()) found = true;
            }
            if (!found) fail("header " + h.dump() + " was not sent");
        }
        if (sent.contains("body") && !json_contains(req["body"], sent["body"], where))
            fail("request body differs at " + where + ": " + req["body"].dump().substr(0, 300));
        if (req.dump().find(kKey) != std::string::npos) fail("the API key appears in the emulator's log");
    }
    out.passed = out.failures.empty();
    return out;
}

}  // namespace nbcore::testing
