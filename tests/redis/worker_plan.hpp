// What one worker process of the Redis scaling tests does, and how the test tells it: the plan
// travels as key=value arguments on the command line of nbcore_redis_worker, which the test
// starts with posix_spawn (a fresh process image: nothing of the test's threads, locks or
// sanitizer state is inherited, which a fork() without exec cannot promise).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace nbcore_test {

struct WorkerPlan {
    std::string state_url;
    std::string base_url;
    std::int64_t rpm = 0;
    int requests = 0;
    int worker = 0;
    bool sequential = false;   // one request at a time, else all submitted at once
    double share = 0;          // the Redis fallback share; 0: NBCORE_STATE_FALLBACK_SHARE, else 1/4
    int deadline_s = 150;      // per request, quota waits included
};

// The key every worker sends and the emulator accepts (not shaped like a real key).
inline std::string worker_key() { return "redis-scaling-test-key-0001"; }

// Pure: the plan as arguments, and back. from_args gives nothing for an unknown or missing key.
inline std::vector<std::string> to_args(const WorkerPlan& p) {
    return {"state=" + p.state_url,
            "base=" + p.base_url,
            "rpm=" + std::to_string(p.rpm),
            "requests=" + std::to_string(p.requests),
            "worker=" + std::to_string(p.worker),
            std::string("sequential=") + (p.sequential ? "1" : "0"),
            "share=" + std::to_string(p.share),
            "deadline=" + std::to_string(p.deadline_s)};
}

inline std::optional<WorkerPlan> from_args(const std::vector<std::string>& args) {
    std::map<std::string, std::string> kv;
    for (const auto& a : args) {
        const auto eq = a.find('=');
        if (eq == std::string::npos) return std::nullopt;
        kv[a.substr(0, eq)] = a.substr(eq + 1);
    }
    const WorkerPlan defaults;
    if (kv.size() != to_args(defaults).size()) return std::nullopt;
    try {
        WorkerPlan p;
        p.state_url = kv.at("state");
        p.base_url = kv.at("base");
        p.rpm = std::stoll(kv.at("rpm"));
        p.requests = std::stoi(kv.at("requests"));
        p.worker = std::stoi(kv.at("worker"));
        p.sequential = kv.at("sequential") == "1";
        p.share = std::stod(kv.at("share"));
        p.deadline_s = std::stoi(kv.at("deadline"));
        return p;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

}  // namespace nbcore_test
