// bench_state: what keeping quota and spend in a StateBackend costs per request, for the memory
// backend, the SQLite store and Redis (a redis-server started on loopback), side by side in one run.
//
// Each backend first holds `--window` admissions in the current minute (a busy key: tier 1 allows
// 300 per minute), then is measured for `--n` requests in two ways:
//   admission  one admit() (with take), timed alone; its entry is released again, untimed, so the
//              window keeps its size;
//   request    everything a request does to the state: admit, reserve, settle, settle_cost; the
//              requests are spread over simulated time so that the minute keeps `--window` of them.
// Figures: operations per second on one thread (1 / mean latency), mean, median and 99th
// percentile latency.
//
// Then Redis admission against the window's size: for each of `--sizes`, a key whose window holds
// that many entries, `--n` admissions timed alone as above, and the ratio of the largest window's
// cost to the smallest's (the running sums keep it near 1: admission never reads the window).
//
//   bench_state [--n 2000] [--window 250] [--sizes 10,1000,10000]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "../tests/support/redis_server.hpp"
#include "nbcore/state.hpp"

namespace {

using namespace nbcore;
using namespace nbcore::quota;
using Steady = std::chrono::steady_clock;

struct Figures {
    double per_second = 0, mean_us = 0, p50_us = 0, p99_us = 0;
};

Figures figures(std::vector<double> us) {
    std::sort(us.begin(), us.end());
    Figures f;
    double sum = 0;
    for (double v : us) sum += v;
    f.mean_us = sum / static_cast<double>(us.size());
    f.per_second = 1e6 / f.mean_us;
    f.p50_us = us[us.size() / 2];
    f.p99_us = us[std::min(us.size() - 1, us.size() * 99 / 100)];
    return f;
}

AdmitRequest admission(const QuotaKey& key, SystemTime now) {
    AdmitRequest r;
    r.key = key;
    r.configured.rpm = 1'000'000;   // a limit in force, never reached: every admission is checked
    r.configured.rpd = 100'000'000;
    r.demand = Demand{1, 600, 1};
    r.now = now;
    return r;
}

double since_us(Steady::time_point t) {
    return std::chrono::duration<double, std::micro>(Steady::now() - t).count();
}

// `n` admissions at `now`, each timed alone and released again, untimed, so the window keeps its size.
Figures admissions(StateBackend& st, const QuotaKey& key, int n, const std::function<SystemTime()>& now) {
    std::vector<double> us;
    for (int i = 0; i < n; ++i) {
        auto t = Steady::now();
        auto a = st.admit(admission(key, now()));
        us.push_back(since_us(t));
        st.release(key, a.ticket);
    }
    return figures(us);
}

std::pair<Figures, Figures> measure(StateBackend& st, int n, int window) {
    const QuotaKey key = QuotaKey::of("bench-state-key-0001", "gemini-3-pro-image-preview");
    for (int i = 0; i < window; ++i) st.admit(admission(key, std::chrono::system_clock::now()));
    std::vector<double> request_us;
    BudgetCaps caps;
    caps.daily_usd = 1e6;
    const Figures admit = admissions(st, key, n, [] { return std::chrono::system_clock::now(); });
    // Settled entries stay counted for their minute, so the requests are spread over simulated
    // time: one every 60 s / window, and the minute holds `window` of them, as in the admissions.
    const auto start = std::chrono::system_clock::now();
    const auto step = std::chrono::milliseconds(60'000 / std::max(window, 1));
    for (int i = 0; i < n; ++i) {
        const auto now = start + step * (i + 1);
        auto t = Steady::now();
        auto a = st.admit(admission(key, now));
        ReserveRequest r;
        r.amount = 134'000;
        r.caps = caps;
        r.now = now;
        r.model = key.model;
        auto h = st.reserve(r);
        st.settle(key, a.ticket, QuotaActual{580, 1}, Limits{}, LearnConfig{}, now);
        st.settle_cost(h.hold, 134'000, caps, now);
        request_us.push_back(since_us(t));
        st.release(key, a.ticket);   // settled: a no-op, as in the engine
    }
    return {admit, figures(request_us)};
}

// Admission with `size` entries in the window, on simulated time so that filling a large window
// never lets its first entries expire: the entries are spread over the 30 s before the instant
// the admissions are made at.
Figures by_window(StateBackend& st, int n, int size) {
    const QuotaKey key = QuotaKey::of("bench-state-size-" + std::to_string(size), "gemini-3-pro-image-preview");
    const SystemTime at = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    const auto span = std::chrono::milliseconds(30'000);
    for (int i = 0; i < size; ++i) st.admit(admission(key, at - span + span * i / size));
    return admissions(st, key, n, [&] { return at; });
}

std::vector<int> sizes_of(const char* list) {
    std::vector<int> out;
    for (const char* p = list; *p;) {
        char* end = nullptr;
        const long v = std::strtol(p, &end, 10);
        if (end == p) break;
        out.push_back(static_cast<int>(v));
        p = *end == ',' ? end + 1 : end;
    }
    return out;
}

void print(const char* name, const std::pair<Figures, Figures>& f) {
    std::printf("%-28s %10.0f %9.1f %9.1f %9.1f   %10.0f %9.1f %9.1f %9.1f\n", name, f.first.per_second,
                f.first.mean_us, f.first.p50_us, f.first.p99_us, f.second.per_second, f.second.mean_us,
                f.second.p50_us, f.second.p99_us);
}

}  // namespace

int main(int argc, char** argv) {
    int n = 2000, window = 250;
    std::vector<int> sizes{10, 1'000, 10'000};
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--n")) n = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--window")) window = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--sizes")) sizes = sizes_of(argv[i + 1]);
    }
    std::printf("bench_state: %d requests per backend, %d admissions already in the window, one thread\n\n", n, window);
    std::printf("%-28s %10s %9s %9s %9s   %10s %9s %9s %9s\n", "", "admit/s", "mean us", "p50 us", "p99 us",
                "request/s", "mean us", "p50 us", "p99 us");

    print("memory", measure(*make_memory_backend(), n, window));

    const auto dir = std::filesystem::temp_directory_path() / ("nbcore-bench-state-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    {
        print("sqlite (durable, fsync)", measure(*open_state_store((dir / "durable.db").string()), n, window));
        StoreOptions fast;
        fast.durable = false;
        print("sqlite (synchronous=NORMAL)", measure(*open_state_store((dir / "fast.db").string(), fast), n, window));
    }
    std::filesystem::remove_all(dir);

    if (!redis_supported()) {
        std::printf("redis: this build has no Redis support (NBCORE_WITH_REDIS=OFF)\n");
        return 0;
    }
    nbcore_test::RedisServer redis;
    if (!redis.available()) {
        std::printf("redis: %s\n", nbcore_test::RedisServer::missing_message());
        return 0;
    }
    auto backend = open_redis_backend(redis.url());
    print("redis (loopback)", measure(*backend, n, window));
    std::printf("\nrequest = admit + reserve + settle + settle_cost: the state operations of one request.\n");

    if (sizes.empty()) return 0;
    std::printf("\nredis admission against the window's size: %d admissions per size, one thread\n\n", n);
    std::printf("%-28s %10s %9s %9s %9s\n", "entries in the window", "admit/s", "mean us", "p50 us", "p99 us");
    std::vector<Figures> rows;
    for (int size : sizes) {
        rows.push_back(by_window(*backend, n, size));
        const Figures& f = rows.back();
        std::printf("%-28d %10.0f %9.1f %9.1f %9.1f\n", size, f.per_second, f.mean_us, f.p50_us, f.p99_us);
    }
    const auto lo = std::min_element(sizes.begin(), sizes.end()) - sizes.begin();
    const auto hi = std::max_element(sizes.begin(), sizes.end()) - sizes.begin();
    std::printf("\ncost with %d entries / cost with %d: mean x%.2f, p50 x%.2f, p99 x%.2f\n", sizes[hi], sizes[lo],
                rows[hi].mean_us / rows[lo].mean_us, rows[hi].p50_us / rows[lo].p50_us, rows[hi].p99_us / rows[lo].p99_us);
    return 0;
}
