// nbcore_redis_worker: one worker process of tests/redis/test_redis_scaling.cpp. Sends its plan's
// requests through one client whose quota lives in Redis; the exit code is the number of requests
// that did not succeed (0: all of them), 100 at most; 101 for a plan it cannot read.
//   nbcore_redis_worker state=URL base=URL rpm=N requests=N worker=N sequential=0|1 share=S deadline=S
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include "nbcore/client.hpp"
#include "nbcore/state.hpp"
#include "worker_plan.hpp"

using namespace nbcore;
using namespace std::chrono_literals;

namespace {

Request request(int worker, int i) {
    Request r;
    r.prompt = "worker " + std::to_string(worker) + " request " + std::to_string(i);
    r.image_size = "1K";
    return r;
}

int run(const nbcore_test::WorkerPlan& p) {
    int failed = 0, unreachable = 0, reconciled = 0;
    ClientOptions o;
    o.api_key = nbcore_test::worker_key();
    o.base_url = p.base_url;
    o.retry.server = {10ms, 50ms};
    o.retry.rate = o.retry.server;
    o.on_event = [&](const Event& e) {
        if (e.kind != EventKind::StateNotice) return;
        (e.reason == "reconciled" ? reconciled : unreachable)++;
    };
    quota::GovernorOptions g;
    g.custom.rpm = p.rpm;
    g.state = quota::open_state(p.state_url, {}, {}, p.share);
    o.governor = quota::Governor::create(std::move(g));
    Client client(o);
    CallOptions call;
    call.deadline = std::chrono::seconds(p.deadline_s);
    auto outcome = [&](auto&& send) {
        try {
            send();
        } catch (const std::exception& e) {
            std::printf("worker %d: %s\n", p.worker, e.what());
            ++failed;
        }
    };
    if (p.sequential) {
        for (int i = 0; i < p.requests; ++i) outcome([&] { client.generate(request(p.worker, i), call); });
    } else {
        std::vector<JobPtr> jobs;
        for (int i = 0; i < p.requests; ++i) jobs.push_back(client.submit(request(p.worker, i), call));
        for (auto& j : jobs) outcome([&] { j->get(); });
    }
    // Until Redis has what this worker did (a usage report reconnects and reconciles).
    for (int i = 0; i < 100 && client.usage().location.find("unreachable") != std::string::npos; ++i)
        std::this_thread::sleep_for(100ms);
    std::printf("worker %d: %d failed, state events: %d unreachable, %d reconciled\n", p.worker, failed, unreachable,
                reconciled);
    return failed;
}

}  // namespace

int main(int argc, char** argv) {
    const auto plan = nbcore_test::from_args(std::vector<std::string>(argv + 1, argv + argc));
    if (!plan) {
        std::fprintf(stderr, "nbcore_redis_worker: cannot read the plan (see the file's comment)\n");
        return 101;
    }
    int failed = 0;
    try {
        failed = run(*plan);
    } catch (const std::exception& e) {
        std::printf("worker %d: %s\n", plan->worker, e.what());
        failed = plan->requests;
    }
    std::fflush(stdout);
    return std::min(failed, 100);
}
