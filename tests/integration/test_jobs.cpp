// Jobs on the one I/O thread, against the in-process emulator: submit returns at once, progress
// moves through its stages, cancel stops a request at any stage, transfer slots are bounded and
// handed out by priority then earliest deadline, and events reach the waiting thread.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "nbcore/client.hpp"
#include "emulator_fixture.hpp"
#include "nbcore_emulator/emulator.hpp"

using namespace nbcore;
using namespace std::chrono_literals;
using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr const char* kKey = "jobs-test-key-0001";

struct Fixture : nbtest::EmulatorFixture {
    std::shared_ptr<net::IoLoop> loop = net::IoLoop::create();
    explicit Fixture(int latency_ms = 0) : EmulatorFixture(kKey, nbtest::with_latency(latency_ms)) {}
    ClientOptions options() const {
        ClientOptions o = client_options();
        o.io_loop = loop;   // a loop of its own, so transfers_in_flight counts this test only
        return o;
    }
};

Request prompt(std::string text) { return nbtest::prompt(std::move(text), "1K"); }

struct AlmostOne final : Rng {
    double uniform() override { return 0.99; }
};

}  // namespace

TEST_CASE("submit returns at once; the job moves through its stages to done", "[jobs]") {
    Fixture f(400);
    Client client(f.options());
    const auto t0 = SteadyClock::now();
    auto job = client.submit(prompt("a lighthouse"));
    CHECK(SteadyClock::now() - t0 < 200ms);
    CHECK_FALSE(job->done());
    std::set<JobStage> seen;
    while (!job->done()) {
        seen.insert(job->progress().stage);
        job->wait(10ms);
    }
    CHECK(seen.count(JobStage::WaitingServer) == 1);
    auto p = job->progress();
    CHECK(p.stage == JobStage::Done);
    CHECK(p.attempt == 1);
    CHECK(p.elapsed >= 400ms);
    auto res = job->get();
    CHECK(res.images.size() == 1);
    CHECK(job->get().images.size() == 1);   // repeatable
}

TEST_CASE("a job waiting on a retry says why and for how long", "[jobs]") {
    Fixture f;
    auto o = f.options();
    o.retry.server = {1500ms, 1500ms};
    o.rng = std::make_shared<AlmostOne>();   // backoff draws near its cap: a visible wait
    Client client(o);
    f.server.set_script(R"({"replies": ["500"]})");
    auto job = client.submit(prompt("a harbour"));
    std::optional<JobProgress> retrying;
    while (!job->done()) {
        auto p = job->progress();
        if (p.stage == JobStage::Retrying && !retrying) retrying = p;
        job->wait(20ms);
    }
    REQUIRE(retrying);
    CHECK(retrying->last_outcome == Status::SERVER_ERROR);
    CHECK(retrying->wait_left > 0ms);
    CHECK(retrying->wait_left <= 1500ms);
    CHECK(retrying->text.find("retrying in") != std::string::npos);
    CHECK(retrying->text.find("SERVER_ERROR") != std::string::npos);
    CHECK(job->get().attempts.size() == 2);
}

TEST_CASE("cancel stops a job waiting for the server within moments", "[jobs][cancel]") {
    Fixture f(10'000);
    Client client(f.options());
    auto job = client.submit(prompt("a slow one"));
    while (job->progress().stage != JobStage::WaitingServer) std::this_thread::sleep_for(5ms);
    const auto t0 = SteadyClock::now();
    job->cancel();
    CHECK(job->wait(2s));
    CHECK(SteadyClock::now() - t0 < 500ms);
    try {
        job->get();
        FAIL("a cancelled job returned a result");
    } catch (const Error& e) {
        CHECK(e.code() == Status::CANCELLED);
    }
    job->cancel();   // idempotent
    CHECK(f.loop->transfers_in_flight() == 0);
}

TEST_CASE("cancel stops a job during its retry wait", "[jobs][cancel]") {
    Fixture f;
    auto o = f.options();
    o.retry.server = {30s, 30s};
    Client client(o);
    f.server.set_script(R"({"replies": ["500"], "then": "repeat_last"})");
    auto job = client.submit(prompt("x"));
    while (job->progress().stage != JobStage::Retrying) std::this_thread::sleep_for(5ms);
    job->cancel();
    CHECK(job->wait(1s));
    CHECK_THROWS_AS(job->get(), Error);
}

TEST_CASE("no more than max_in_flight transfers run at once", "[jobs][slots]") {
    Fixture f(300);
    auto o = f.options();
    o.max_in_flight = 2;
    Client client(o);
    std::vector<JobPtr> jobs;
    const auto t0 = SteadyClock::now();
    for (int i = 0; i < 6; ++i) jobs.push_back(client.submit(prompt("job " + std::to_string(i))));
    std::size_t peak = 0;
    bool all_done = false;
    while (!all_done) {
        peak = std::max(peak, f.loop->transfers_in_flight());
        all_done = true;
        for (auto& j : jobs) all_done = all_done && j->done();
        std::this_thread::sleep_for(5ms);
    }
    CHECK(peak <= 2);
    CHECK(peak >= 1);
    CHECK(SteadyClock::now() - t0 >= 900ms);   // three rounds of two
    for (auto& j : jobs) CHECK(j->get().images.size() == 1);
}

TEST_CASE("a waiting job of higher priority takes the next slot", "[jobs][slots]") {
    Fixture f(300);
    auto o = f.options();
    o.max_in_flight = 1;
    Client client(o);
    auto blocker = client.submit(prompt("first in"));
    while (blocker->progress().stage == JobStage::Queued) std::this_thread::sleep_for(2ms);
    CallOptions low, high;
    high.priority = 5;
    auto low_job = client.submit(prompt("low"), low);
    auto high_job = client.submit(prompt("high"), high);
    CHECK(low_job->progress().stage == JobStage::Queued);
    high_job->get();
    CHECK_FALSE(low_job->done());
    low_job->get();
}

TEST_CASE("among equal priorities the earliest deadline goes first", "[jobs][slots]") {
    Fixture f(300);
    auto o = f.options();
    o.max_in_flight = 1;
    Client client(o);
    auto blocker = client.submit(prompt("first in"));
    while (blocker->progress().stage == JobStage::Queued) std::this_thread::sleep_for(2ms);
    CallOptions later, sooner;
    later.deadline = 20s;
    sooner.deadline = 10s;
    auto later_job = client.submit(prompt("later"), later);
    auto sooner_job = client.submit(prompt("sooner"), sooner);
    sooner_job->get();
    CHECK_FALSE(later_job->done());
    later_job->get();
}

TEST_CASE("a hundred jobs at once finish together, not one after another", "[jobs][concurrency]") {
    Fixture f(500);
    Client client(f.options());
    std::vector<JobPtr> jobs;
    const auto t0 = SteadyClock::now();
    for (int i = 0; i < 100; ++i) jobs.push_back(client.submit(prompt("crowd " + std::to_string(i))));
    for (auto& j : jobs) CHECK(j->get().images.size() == 1);
    // One after another: 50 s. Together: one latency plus decoding on two cores.
    CHECK(SteadyClock::now() - t0 < 25s);
}

TEST_CASE("events reach the thread that waits, never the I/O thread", "[jobs][events]") {
    Fixture f(50);
    auto o = f.options();
    std::set<std::thread::id> threads;
    std::vector<EventKind> kinds;
    o.on_event = [&](const Event& e) {
        threads.insert(std::this_thread::get_id());
        kinds.push_back(e.kind);
    };
    Client client(o);
    f.server.set_script(R"({"replies": ["503_overloaded"]})");
    auto res = client.generate(prompt("x"));
    CHECK(threads == std::set<std::thread::id>{std::this_thread::get_id()});
    REQUIRE_FALSE(kinds.empty());
    CHECK(kinds.front() == EventKind::AttemptStart);
    CHECK(kinds.back() == EventKind::Done);
    CHECK(std::count(kinds.begin(), kinds.end(), EventKind::RetryScheduled) == 1);
}

TEST_CASE("an exception thrown by the event callback cancels the job and reaches the caller", "[jobs][events]") {
    Fixture f(200);
    auto o = f.options();
    o.on_event = [](const Event& e) {
        if (e.kind == EventKind::AttemptStart) throw std::runtime_error("callback says stop");
    };
    Client client(o);
    CHECK_THROWS_WITH(client.generate(prompt("x")), "callback says stop");
    CHECK(f.loop->transfers_in_flight() == 0);
}

TEST_CASE("a job past its deadline ends with DEADLINE while the server is still working", "[jobs][deadline]") {
    Fixture f(5000);
    Client client(f.options());
    CallOptions call;
    call.deadline = 300ms;
    const auto t0 = SteadyClock::now();
    auto job = client.submit(prompt("x"), call);
    try {
        job->get();
        FAIL("no deadline");
    } catch (const Error& e) {
        CHECK((e.code() == Status::DEADLINE || e.code() == Status::TIMEOUT));
    }
    CHECK(SteadyClock::now() - t0 < 2s);
}

TEST_CASE("destroying the client cancels what is still running", "[jobs][cancel]") {
    Fixture f(10'000);
    JobPtr job;
    const auto t0 = SteadyClock::now();
    {
        Client client(f.options());
        job = client.submit(prompt("x"));
        while (job->progress().stage != JobStage::WaitingServer) std::this_thread::sleep_for(5ms);
    }
    CHECK(SteadyClock::now() - t0 < 3s);
    CHECK(job->done());
    CHECK_THROWS_AS(job->get(), Error);
}
