// bench_compare_nbcore: the nbcore C++ client's side of bench/compare.sh. One workload per run,
// against an emulator that bench/compare.py started and prepared (quota, script); prints one JSON
// object on its last line. The driver measures this process's CPU time and peak RSS from outside
// (wait4); the workload's own figures (what succeeded, when, how long) come from here.
//
//   bench_compare_nbcore --workload receive|burst|retryinfo|mix|inflight --url URL --key KEY
//                        [--n N] [--model M] [--size 4K] [--aspect 16:9] [--prompt P]
//                        [--attempts 10] [--rpm N] [--deadline-s S] [--go EPOCH_SECONDS]
//
// The same workloads, with the same meaning of each option, are in compare_worker.py (nbcore's
// Python module and the google-genai SDK) and compare_worker.mjs (the @google/genai SDK).
#include <sys/resource.h>
#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "nbcore/client.hpp"

namespace {

using Steady = std::chrono::steady_clock;

struct Args {
    std::string workload, url, key, model = "gemini-2.5-flash-image", size, aspect, prompt = "a lighthouse on a cliff";
    int n = 1;
    int attempts = 10;
    int rpm = 0;
    double deadline_s = 0;
    double go = 0;   // CLOCK_REALTIME seconds to send the first request at (0: at once)
};

using bench::process_cpu_seconds;
using bench::thread_cpu_seconds;

double epoch_now() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string json_str(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\', out += c;
        else if (static_cast<unsigned char>(c) < 0x20) out += ' ';
        else out += c;
    }
    return out + "\"";
}

nbcore::Request request_for(const Args& a) {
    nbcore::Request r;
    r.model = a.model;
    r.prompt = a.prompt;
    r.image_size = a.size;
    r.aspect_ratio = a.aspect;
    return r;
}

// Errors by kind, counted: "RATE_LIMITED: ..." -> n.
struct Tally {
    int ok = 0;
    int failed = 0;
    std::map<std::string, int> errors;
    void fail(const std::string& what) {
        ++failed;
        ++errors[what.substr(0, 160)];
    }
    std::string errors_json() const {
        std::string out = "{";
        for (const auto& [k, v] : errors) out += (out.size() > 1 ? "," : "") + json_str(k) + ":" + std::to_string(v);
        return out + "}";
    }
};

std::string error_text(const nbcore::Error& e) {
    return std::string(nbcore::status_name(e.code())) + ": " + e.what();
}

int run(const Args& a) {
    nbcore::ClientOptions o;
    o.api_key = a.key;
    o.base_url = a.url;
    o.retry.max_attempts = a.attempts;
    if (a.workload == "inflight" || a.workload == "mix" || a.workload == "burst")
        o.max_in_flight = static_cast<std::size_t>(std::max(a.n, 1));
    // Requests that only count: the results are dropped as they come, so keep no pixels (the
    // image is still decoded once, to validate it). The receive workload keeps them: getting the
    // pixels is its point.
    if (a.workload != "receive") o.keep_pixels = false;
    std::string limits_note;
    if (a.workload == "burst" && a.rpm > 0) {
        nbcore::quota::GovernorOptions g;
        g.custom.rpm = a.rpm;   // the tier is known: requests wait for quota instead of provoking 429s
        o.governor = nbcore::quota::Governor::create(g);
        limits_note = ", governor rpm=" + std::to_string(a.rpm);
    } else if (a.workload == "mix" || a.workload == "inflight") {
        // The project's limits, which these workloads never reach (the emulator enforces none).
        // Unconfigured, the governor spaces first attempts 25 ms apart while it learns the
        // per-minute limit, which would cap the requests in flight, not measure them.
        nbcore::quota::GovernorOptions g;
        g.custom = {1'000'000, 1'000'000'000, 1'000'000, 100'000'000};
        o.governor = nbcore::quota::Governor::create(g);
        limits_note = ", governor limits rpm=ipm=1e6, tpm=1e9, rpd=1e8 (never reached)";
    }
    nbcore::CallOptions call;
    if (a.deadline_s > 0) call.deadline = std::chrono::milliseconds(static_cast<long long>(a.deadline_s * 1000));

    nbcore::Client client(o);
    const long rss_start_kb = bench::status_kb("VmRSS:");
    if (a.go > 0) {
        const double wait = a.go - epoch_now();
        if (wait > 0) std::this_thread::sleep_for(std::chrono::duration<double>(wait));
    }
    const double cpu0 = process_cpu_seconds(), worker0 = thread_cpu_seconds("nbcore-worker"), io0 = thread_cpu_seconds("nbcore-io");
    const double start_epoch = epoch_now();
    const auto t0 = Steady::now();
    Tally t;
    long long image_bytes = 0;
    int attempts_429 = 0;

    if (a.workload == "receive" || a.workload == "retryinfo") {
        // One request at a time: the peak is what one answer costs.
        for (int i = 0; i < a.n; ++i) {
            try {
                nbcore::Result r = client.generate(request_for(a), call);
                const auto& im = r.images.at(0);
                // The pixels were decoded once while the answer was validated; they are here.
                const bool decoded = a.workload != "receive" || (im.pixels && im.width > 0);
                if (decoded) ++t.ok;
                else t.fail("no pixels");
                image_bytes += static_cast<long long>(im.data->size());
                for (const auto& at : r.attempts) attempts_429 += at.http_status == 429;
            } catch (const nbcore::Error& e) {
                t.fail(error_text(e));
                for (const auto& at : e.attempts) attempts_429 += at.http_status == 429;
            }
        }
    } else {
        // All at once through the job API (one I/O thread), results collected as they finish.
        std::vector<nbcore::JobPtr> jobs;
        jobs.reserve(static_cast<std::size_t>(a.n));
        for (int i = 0; i < a.n; ++i) jobs.push_back(client.submit(request_for(a), call));
        std::size_t left = jobs.size();
        std::size_t oldest = 0;
        while (left > 0) {
            // Wait on the oldest unfinished job for up to 50 ms, then take every finished one:
            // results are dropped soon after they finish, without a busy poll.
            while (oldest < jobs.size() && !jobs[oldest]) ++oldest;
            if (oldest < jobs.size()) jobs[oldest]->wait(std::chrono::milliseconds(50));
            for (auto& j : jobs) {
                if (!j || !j->done()) continue;
                try {
                    nbcore::Result r = j->get();
                    ++t.ok;
                    image_bytes += static_cast<long long>(r.images.at(0).data->size());
                    for (const auto& at : r.attempts) attempts_429 += at.http_status == 429;
                } catch (const nbcore::Error& e) {
                    t.fail(error_text(e));
                    for (const auto& at : e.attempts) attempts_429 += at.http_status == 429;
                }
                j.reset();
                --left;
            }
        }
    }
    const double wall = std::chrono::duration<double>(Steady::now() - t0).count();
    const double cpu = process_cpu_seconds() - cpu0;
    const double worker = thread_cpu_seconds("nbcore-worker") - worker0, io = thread_cpu_seconds("nbcore-io") - io0;
    std::printf("{\"client\":\"nbcore C++\",\"workload\":%s,\"ok\":%d,\"failed\":%d,\"errors\":%s,"
                "\"wall_s\":%.4f,\"start_epoch\":%.4f,\"cpu_before_s\":%.4f,\"cpu_s\":%.4f,"
                "\"decode_cpu_s\":%.4f,\"io_thread_cpu_s\":%.4f,\"rss_start_mb\":%.1f,\"image_bytes\":%lld,"
                "\"client_429s\":%d,\"settings\":%s}\n",
                json_str(a.workload).c_str(), t.ok, t.failed, t.errors_json().c_str(), wall, start_epoch, cpu0, cpu,
                worker, io, rss_start_kb / 1024.0, image_bytes, attempts_429,
                json_str("RetryPolicy::interactive() with max_attempts=" + std::to_string(a.attempts) + limits_note +
                         (a.deadline_s > 0 ? ", deadline " + std::to_string(static_cast<int>(a.deadline_s)) + " s" : ""))
                    .c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        const std::string k = argv[i];
        if (i + 1 >= argc) {
            std::fprintf(stderr, "bench_compare_nbcore: %s needs a value\n", k.c_str());
            return 2;
        }
        const char* v = argv[++i];
        if (k == "--workload") a.workload = v;
        else if (k == "--url") a.url = v;
        else if (k == "--key") a.key = v;
        else if (k == "--n") a.n = std::atoi(v);
        else if (k == "--model") a.model = v;
        else if (k == "--size") a.size = v;
        else if (k == "--aspect") a.aspect = v;
        else if (k == "--prompt") a.prompt = v;
        else if (k == "--attempts") a.attempts = std::atoi(v);
        else if (k == "--rpm") a.rpm = std::atoi(v);
        else if (k == "--deadline-s") a.deadline_s = std::atof(v);
        else if (k == "--go") a.go = std::atof(v);
        else {
            std::fprintf(stderr, "bench_compare_nbcore: unknown option %s\n", k.c_str());
            return 2;
        }
    }
    if (a.url.empty() || a.key.empty() || a.workload.empty()) {
        std::fprintf(stderr, "usage: bench_compare_nbcore --workload W --url URL --key KEY [options]\n");
        return 2;
    }
    rlimit nofile{};
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }
    try {
        return run(a);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_compare_nbcore: %s\n", e.what());
        return 1;
    }
}
