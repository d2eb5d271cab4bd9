// bench_burst: a burst of 3N requests against an emulator enforcing RPM = N, the way the real API
// does (a sliding minute per key and model, 429 with the real body and RetryInfo when over).
//
// The fastest any client can finish: N requests at once, N more when the first minute has passed,
// the last N a minute after that, so the theoretical minimum is 2 minutes plus one request's own
// time. Printed for nbcore with the tier configured (it knows RPM = N), nbcore learning the limit
// (no tier: it finds out from the first 429 and its QuotaFailure quotaValue), and a naive client
// that retries 429s after RetryInfo (what the official SDKs' retry options do): makespan, its ratio
// to the minimum, and the number of 429 answers.
//
//   bench_burst --emulator build/emulator/nbcore-emulator [--rpm 10] [--skip-naive]
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "nbcore/client.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

using Emulator = bench::EmulatorProcess;

// A fresh emulator per run, so every run starts with an empty minute.
bool start_emulator(Emulator& emu, const std::string& path, int rpm, const std::string& key) {
    return emu.start(path, {"--key", key, "--rpm", std::to_string(rpm), "--threads", "256"});
}

nbcore::Request burst_request(int i) {
    nbcore::Request r;
    r.model = "gemini-2.5-flash-image";
    r.prompt = "a lighthouse on a cliff, number " + std::to_string(i % 4);
    return r;
}

struct Run {
    std::string name;
    int ok = 0;
    int failed = 0;
    int answers_429 = 0;
    double makespan = 0;
};

nbcore::ClientOptions base_options(const Emulator& emu, const std::string& key) {
    nbcore::ClientOptions o;
    o.api_key = key;
    o.base_url = emu.url();
    o.keep_pixels = false;
    o.retry.max_attempts = 20;           // a burst against a small quota waits; it must not give up
    o.retry.max_wait = std::chrono::minutes(5);
    o.retry_budget.reset();              // the naive client retries every 429
    return o;
}

Run run_burst(const std::string& name, nbcore::ClientOptions o, int n) {
    Run r;
    r.name = name;
    nbcore::Client client(std::move(o));
    const auto t0 = Clock::now();
    std::vector<nbcore::JobPtr> jobs;
    for (int i = 0; i < n; ++i) jobs.push_back(client.submit(burst_request(i)));
    for (auto& j : jobs) {
        try {
            auto res = j->get();
            ++r.ok;
            for (const auto& a : res.attempts) r.answers_429 += a.http_status == 429;
        } catch (const nbcore::Error& e) {
            ++r.failed;
            for (const auto& a : e.attempts) r.answers_429 += a.http_status == 429;
            if (r.failed == 1) std::fprintf(stderr, "%s: %s\n", name.c_str(), e.what());
        }
    }
    r.makespan = std::chrono::duration<double>(Clock::now() - t0).count();
    return r;
}

// The naive client: every 429 retried after its RetryInfo, nothing learned shared between
// requests. Each request runs through a client of its own (nbcore's engine, so waits and
// retries are exact), which is what N independent SDK calls with retry options amount to.
Run run_naive(const Emulator& emu, const std::string& key, int n) {
    Run r;
    r.name = "naive: retry after RetryInfo";
    std::atomic<int> ok{0}, failed{0}, answers_429{0};
    const auto t0 = Clock::now();
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i) {
        threads.emplace_back([&, i] {
            nbcore::Client client(base_options(emu, key));
            try {
                auto res = client.generate(burst_request(i));
                ++ok;
                for (const auto& a : res.attempts) answers_429 += a.http_status == 429;
            } catch (const nbcore::Error& e) {
                ++failed;
                for (const auto& a : e.attempts) answers_429 += a.http_status == 429;
            }
        });
    }
    for (auto& t : threads) t.join();
    r.makespan = std::chrono::duration<double>(Clock::now() - t0).count();
    r.ok = ok;
    r.failed = failed;
    r.answers_429 = answers_429;
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    std::string emulator_path;
    int rpm = 10;
    bool naive = true;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--emulator" && i + 1 < argc) emulator_path = argv[++i];
        else if (a == "--rpm" && i + 1 < argc) rpm = std::max(1, std::atoi(argv[++i]));
        else if (a == "--skip-naive") naive = false;
        else {
            std::fprintf(stderr, "usage: bench_burst --emulator PATH [--rpm N] [--skip-naive]\n");
            return 2;
        }
    }
    if (emulator_path.empty()) {
        std::fprintf(stderr, "bench_burst: --emulator PATH to nbcore-emulator is required\n");
        return 2;
    }
    const int n = 3 * rpm;
    const std::string key = std::string("bench-burst-key-") + std::to_string(getpid());

    // One request's own time (generation and transfer), measured on an emulator without quota.
    double single = 0;
    {
        Emulator emu;
        if (!start_emulator(emu, emulator_path, 0, key)) {
            std::fprintf(stderr, "bench_burst: could not start %s\n", emulator_path.c_str());
            return 1;
        }
        nbcore::Client warm(base_options(emu, key));
        for (int i = 0; i < 4; ++i) warm.generate(burst_request(i));   // the emulator caches its renders
        auto t0 = Clock::now();
        warm.generate(burst_request(0));
        single = std::chrono::duration<double>(Clock::now() - t0).count();
    }
    const double minimum = 120.0 + single;
    std::printf("burst of %d requests against RPM = %d (sliding minute); theoretical minimum %.2f s "
                "(two full minutes + one request's %.2f s)\n\n",
                n, rpm, minimum, single);
    std::printf("%-34s %8s %10s %9s %8s\n", "client", "ok", "makespan", "x minimum", "429s");

    std::vector<Run> runs;
    auto one = [&](auto&& fn) {
        Emulator emu;
        if (!start_emulator(emu, emulator_path, rpm, key)) {
            std::fprintf(stderr, "bench_burst: could not start %s\n", emulator_path.c_str());
            std::exit(1);
        }
        Run r = fn(emu);
        std::printf("%-34s %4d/%-3d %8.2f s %9.3f %8d\n", r.name.c_str(), r.ok, r.ok + r.failed, r.makespan,
                    r.makespan / minimum, r.answers_429);
        std::fflush(stdout);
        runs.push_back(r);
    };
    one([&](const Emulator& emu) {
        auto o = base_options(emu, key);
        nbcore::quota::GovernorOptions g;
        g.custom.rpm = rpm;
        o.governor = nbcore::quota::Governor::create(g);
        return run_burst("nbcore, tier configured (rpm=N)", o, n);
    });
    one([&](const Emulator& emu) { return run_burst("nbcore, limits learned", base_options(emu, key), n); });
    if (naive) one([&](const Emulator& emu) { return run_naive(emu, key, n); });

    const Run& tiered = runs[0];
    const Run& learned = runs[1];
    const int windows = static_cast<int>(learned.makespan / 60.0) + 1;
    std::printf("\ntarget (a): tier configured: %.3fx the minimum (<= 1.05) with %d 429s (0): %s\n",
                tiered.makespan / minimum, tiered.answers_429,
                tiered.makespan / minimum <= 1.05 && tiered.answers_429 == 0 && tiered.failed == 0 ? "met" : "NOT met");
    std::printf("            limits learned: %d 429s over %d minute windows (at most one per window): %s\n",
                learned.answers_429, windows,
                learned.answers_429 <= windows && learned.failed == 0 ? "met" : "NOT met");
    return 0;
}
