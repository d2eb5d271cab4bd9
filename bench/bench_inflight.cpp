// bench_inflight: many requests in flight at once against a slow server, and what holding them
// costs the client. The same burst (N requests, all started together, each answered after the
// emulator's latency) runs two ways, side by side:
//   nbcore   Client::submit for all N: one I/O thread drives every transfer; images are
//            validated on the worker pool; results are collected as jobs finish.
//   threads  the common design: one thread per request, each doing a blocking send (the curl
//            transport), the same streaming decode and the same image check inline.
// Printed for each: wall time, peak transfers in flight, CPU time of the whole process and of the
// I/O thread (as cores: CPU seconds / wall seconds), threads at peak and peak RSS.
//
// The emulator runs as a separate process (its CPU and memory are not ours to count):
//   bench_inflight --emulator build/emulator/nbcore-emulator [--requests 500] [--latency-ms 2000]
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "nbcore/client.hpp"
#include "nbcore/codec.hpp"
#include "nbcore/image.hpp"
#include "nbcore/io_loop.hpp"
#include "nbcore/transport.hpp"

namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kKey = "bench-key-0001";

using bench::reset_peak;
using bench::status_kb;

using bench::process_cpu_seconds;
using bench::thread_cpu_seconds;

int thread_count() { return static_cast<int>(status_kb("Threads:")); }

using Emulator = bench::EmulatorProcess;

// One prompt for every request: the emulator renders an image per distinct prompt (seconds of
// its CPU for hundreds), and that is the server's cost, not the client's.
nbcore::Request bench_request(int) {
    nbcore::Request r;
    r.model = "gemini-2.5-flash-image";
    r.prompt = "a lighthouse on a cliff";
    r.aspect_ratio = "1:1";
    return r;
}

struct Run {
    const char* name = "";
    int ok = 0;
    int failed = 0;
    double wall = 0;
    std::size_t peak_in_flight = 0;
    int peak_threads = 0;
    double cpu = 0;        // whole process
    double io_cpu = -1;    // the I/O thread (nbcore only)
    double worker_cpu = -1;
    long peak_rss_kb = 0;  // VmHWM after a reset
};

// Samples threads and in-flight transfers while a run goes on.
class Sampler {
public:
    explicit Sampler(std::function<std::size_t()> in_flight) : in_flight_(std::move(in_flight)) {
        thread_ = std::thread([this] {
            while (!stop_) {
                peak_in_flight_ = std::max(peak_in_flight_.load(), in_flight_());
                peak_threads_ = std::max(peak_threads_.load(), thread_count());
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
        });
    }
    void finish(Run& r) {
        stop_ = true;
        thread_.join();
        r.peak_in_flight = peak_in_flight_;
        r.peak_threads = peak_threads_;
    }

private:
    std::function<std::size_t()> in_flight_;
    std::atomic<bool> stop_{false};
    std::atomic<std::size_t> peak_in_flight_{0};
    std::atomic<int> peak_threads_{0};
    std::thread thread_;
};

Run run_nbcore(const Emulator& emu, int n) {
    nbcore::ClientOptions o;
    o.api_key = kKey;
    o.base_url = emu.url();
    o.max_in_flight = static_cast<std::size_t>(n);
    o.keep_pixels = false;
    o.retry = nbcore::policy::RetryPolicy::none();
    o.io_loop = nbcore::net::IoLoop::create();
    // Limits the burst never reaches, as a project this busy would configure; without them the
    // governor paces admissions while it learns the per-minute limit.
    nbcore::quota::GovernorOptions g;
    g.custom = {1'000'000, 1'000'000'000, 1'000'000, 100'000'000};
    o.governor = nbcore::quota::Governor::create(g);
    auto loop = o.io_loop;
    nbcore::Client client(o);

    Run r;
    r.name = "nbcore (one I/O thread)";
    reset_peak();
    const double io0 = thread_cpu_seconds("nbcore-io"), w0 = thread_cpu_seconds("nbcore-worker");
    const double cpu0 = process_cpu_seconds();
    const auto t0 = Clock::now();
    Sampler sampler([&] { return loop->transfers_in_flight(); });
    std::vector<nbcore::JobPtr> jobs;
    jobs.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) jobs.push_back(client.submit(bench_request(i)));
    // Collect as they finish, so finished results do not pile up.
    std::size_t left = jobs.size();
    while (left > 0) {
        for (auto& j : jobs) {
            if (!j || !j->done()) continue;
            try {
                j->get();
                ++r.ok;
            } catch (const nbcore::Error& e) {
                if (r.failed++ == 0) std::fprintf(stderr, "nbcore: %s\n", e.what());
            }
            j.reset();
            --left;
        }
        if (left > 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    r.wall = std::chrono::duration<double>(Clock::now() - t0).count();
    sampler.finish(r);
    r.cpu = process_cpu_seconds() - cpu0;
    r.io_cpu = thread_cpu_seconds("nbcore-io") - io0;
    r.worker_cpu = thread_cpu_seconds("nbcore-worker") - w0;
    r.peak_rss_kb = status_kb("VmHWM:");
    return r;
}

struct DecodingSink final : nbcore::net::BodySink {
    nbcore::api::ReplyDecoder dec;
    int status = 0;
    void on_status(int s, const nbcore::net::Headers&) override { status = s; }
    bool on_body(const char* d, std::size_t n) override { return dec.feed(d, n); }
};

Run run_threads(const Emulator& emu, int n) {
    auto transport = nbcore::net::make_curl_transport();
    Run r;
    r.name = "thread per request";
    std::atomic<int> ok{0}, failed{0}, in_flight{0};
    reset_peak();
    const double cpu0 = process_cpu_seconds();
    const auto t0 = Clock::now();
    Sampler sampler([&] { return static_cast<std::size_t>(in_flight.load()); });
    std::vector<std::thread> threads;
    threads.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        threads.emplace_back([&, i] {
            nbcore::net::HttpRequest req;
            req.url = emu.url() + "/v1beta/models/gemini-2.5-flash-image:generateContent";
            req.headers = {{"x-goog-api-key", kKey}, {"Content-Type", "application/json"}};
            req.body = nbcore::api::encode_request(bench_request(i));
            DecodingSink sink;
            ++in_flight;
            auto res = transport->send(req, sink, nullptr);
            --in_flight;
            bool good = res.error == nbcore::net::TransportErrorKind::None && sink.status == 200 && sink.dec.finish();
            if (good) {
                auto reply = sink.dec.take();
                good = !reply.images.empty();
                for (auto& im : reply.images) {
                    auto c = nbcore::image::check(reinterpret_cast<const std::uint8_t*>(im.data->data()),
                                                  im.data->size());
                    good = good && c.ok;
                }
            }
            (good ? ok : failed)++;
        });
    }
    for (auto& t : threads) t.join();
    r.wall = std::chrono::duration<double>(Clock::now() - t0).count();
    sampler.finish(r);
    r.cpu = process_cpu_seconds() - cpu0;
    r.ok = ok;
    r.failed = failed;
    r.peak_rss_kb = status_kb("VmHWM:");
    return r;
}

void print_row(const Run& r) {
    char io[32] = "-", workers[32] = "-";
    if (r.io_cpu >= 0) std::snprintf(io, sizeof io, "%.2f s %.2f", r.io_cpu, r.io_cpu / r.wall);
    if (r.worker_cpu >= 0) std::snprintf(workers, sizeof workers, "%.2f s", r.worker_cpu);
    std::printf("%-26s %5d/%-5d %7.2f s %9zu %8d %8.2f s %6.2f   %-14s %-10s %8.1f\n", r.name, r.ok, r.ok + r.failed,
                r.wall, r.peak_in_flight, r.peak_threads, r.cpu, r.cpu / r.wall, io, workers, r.peak_rss_kb / 1024.0);
}

}  // namespace

int main(int argc, char** argv) {
    std::string emulator_path;
    int n = 500;
    int latency_ms = 2000;
    bool threads_too = true;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--emulator" && i + 1 < argc) emulator_path = argv[++i];
        else if (a == "--requests" && i + 1 < argc) n = std::max(1, std::atoi(argv[++i]));
        else if (a == "--latency-ms" && i + 1 < argc) latency_ms = std::max(0, std::atoi(argv[++i]));
        else if (a == "--nbcore-only") threads_too = false;
        else {
            std::fprintf(stderr, "usage: bench_inflight --emulator PATH [--requests N] [--latency-ms MS] [--nbcore-only]\n");
            return 2;
        }
    }
    if (emulator_path.empty()) {
        std::fprintf(stderr, "bench_inflight: --emulator PATH to nbcore-emulator is required\n");
        return 2;
    }
    if (!reset_peak()) {
        std::fprintf(stderr, "bench_inflight: /proc/self/clear_refs is not writable; cannot reset peak RSS\n");
        return 1;
    }
    // Each transfer holds a socket; the default soft limit (often 1024) is too tight for two.
    rlimit nofile{};
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }
    Emulator emu;
    if (!emu.start(emulator_path, {"--key", kKey, "--latency-ms", std::to_string(latency_ms), "--threads", std::to_string(n + 64)})) {
        std::fprintf(stderr, "bench_inflight: could not start %s\n", emulator_path.c_str());
        return 1;
    }
    // Warm-up: the emulator renders and caches its answer; libraries load; the pools start.
    {
        nbcore::ClientOptions o;
        o.api_key = kKey;
        o.base_url = emu.url();
        nbcore::Client warm(o);
        std::vector<nbcore::JobPtr> jobs;
        for (int i = 0; i < 4; ++i) jobs.push_back(warm.submit(bench_request(i)));
        for (auto& j : jobs) j->get();
    }

    std::printf("%d requests at once, emulator latency %d ms, %u cores\n\n", n, latency_ms,
                std::thread::hardware_concurrency());
    std::printf("%-26s %11s %9s %9s %8s %10s %6s   %-14s %-10s %8s\n", "client", "ok", "wall", "in flight", "threads",
                "CPU", "cores", "I/O thread", "validation", "RSS MB");
    Run ours = run_nbcore(emu, n);
    print_row(ours);
    if (threads_too) {
        Run theirs = run_threads(emu, n);
        print_row(theirs);
        std::printf("\nratios thread-per-request / nbcore: CPU %.2fx, peak RSS %.2fx, threads %.1fx\n",
                    theirs.cpu / std::max(ours.cpu, 1e-9),
                    static_cast<double>(theirs.peak_rss_kb) / std::max(ours.peak_rss_kb, 1L),
                    static_cast<double>(theirs.peak_threads) / std::max(ours.peak_threads, 1));
    }
    const double minimum = latency_ms / 1000.0;
    std::printf("\ntarget (b): %zu in flight at once on one I/O thread: I/O thread %.2f cores (< 1), whole process "
                "%.2f cores, peak RSS %.0f MB (< 200): %s\n",
                ours.peak_in_flight, ours.io_cpu / ours.wall, ours.cpu / ours.wall, ours.peak_rss_kb / 1024.0,
                (ours.peak_in_flight >= static_cast<std::size_t>(n) * 9 / 10 && ours.cpu / ours.wall < 1.0 &&
                 ours.peak_rss_kb < 200 * 1024)
                    ? "met"
                    : "NOT met");
    std::printf("wall %.2f s against the %.2f s the latency alone takes (%.2fx)\n", ours.wall, minimum,
                ours.wall / std::max(minimum, 1e-9));
    return ours.failed == 0 ? 0 : 1;
}
