// The quota governor and cost ledger inside the engine, against the in-process emulator: requests
// wait for quota instead of provoking 429s, what cannot fit before its deadline is refused
// unsent with retry_after, spending caps refuse before sending, billed replies are booked, and a
// state file shares all of it between clients.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "nbcore/client.hpp"
#include "nbcore/state.hpp"
#include "emulator_fixture.hpp"
#include "nbcore_emulator/emulator.hpp"

using namespace nbcore;
using namespace std::chrono_literals;
using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr const char* kKey = "quota-test-key-0001";

struct Fixture : nbtest::EmulatorFixture {
    explicit Fixture(int rpm_limit = 0) : EmulatorFixture(kKey, [&] {
        emulator::Options o;
        o.rpm_limit = rpm_limit;
        return o;
    }()) {}
    ClientOptions options(quota::GovernorOptions g = {}) const {
        ClientOptions o = client_options();
        o.governor = quota::Governor::create(std::move(g));
        return o;
    }
};

Request prompt(std::string text) { return nbtest::prompt(std::move(text), "1K"); }

quota::GovernorOptions rpm(std::int64_t n) {
    quota::GovernorOptions g;
    g.custom.rpm = n;
    return g;
}

// A private directory for state files, removed afterwards.
struct TempDir {
    std::filesystem::path path;
    TempDir() {
        path = std::filesystem::temp_directory_path() / ("nbcore-quota-" + std::to_string(getpid()) + "-" +
                                                         std::to_string(SteadyClock::now().time_since_epoch().count()));
        std::filesystem::create_directories(path);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

double spent_today(const quota::UsageSnapshot& s) {
    for (const auto& c : s.caps)
        if (c.period == quota::Period::Day) return quota::usd(c.spent);
    return -1;
}

}  // namespace

TEST_CASE("a request that cannot fit its quota before the deadline is refused at once, unsent", "[quota]") {
    Fixture f(2);   // the emulator enforces 2 per minute too
    Client client(f.options(rpm(2)));
    client.generate(prompt("one"));
    client.generate(prompt("two"));
    CallOptions call;
    call.deadline = 5s;
    const auto t0 = SteadyClock::now();
    try {
        client.generate(prompt("three"), call);
        FAIL("the third request of the minute was sent");
    } catch (const Error& e) {
        CHECK(e.code() == Status::RATE_LIMITED);
        CHECK(e.diagnosis().reason == "QUOTA_LOCAL");
        CHECK(e.diagnosis().dimension == Dimension::RPM);
        REQUIRE(e.diagnosis().retry_after);
        CHECK(*e.diagnosis().retry_after > 50s);
        CHECK(*e.diagnosis().retry_after <= 61s);
        CHECK(e.attempts.empty());
        CHECK(std::string(e.what()).find("after the deadline") != std::string::npos);
        CHECK_FALSE(e.diagnosis().advice.empty());
    }
    CHECK(SteadyClock::now() - t0 < 1s);
    CHECK(f.server.request_count() == 2);   // never a 429: the third was not sent
}

TEST_CASE("after a 429, other requests wait for quota instead of provoking more", "[quota]") {
    Fixture f;
    std::vector<Event> events_b;
    auto o = f.options();
    Client client(o);
    f.server.set_script(R"({"replies": [{"fault": "rpm_429", "retry_delay": 1.5}]})");
    auto a = client.submit(prompt("first"));
    while (a->progress().stage != JobStage::Retrying) std::this_thread::sleep_for(5ms);
    const auto t_b = SteadyClock::now();
    auto b = client.submit(prompt("second"));
    std::optional<JobProgress> waiting;
    while (!b->done()) {
        auto p = b->progress();
        // Held by the governor's drain, or by the route's hold after the 429 (whichever looks first).
        if ((p.stage == JobStage::WaitingQuota || p.stage == JobStage::Queued) && p.wait_left > 0ms && !waiting)
            waiting = p;
        b->wait(10ms);
    }
    REQUIRE(waiting);
    CHECK(waiting->wait_left <= 1600ms);
    CHECK(b->get().attempts.size() == 1);   // B was never answered with a 429
    CHECK(SteadyClock::now() - t_b >= 1000ms);
    CHECK(a->get().attempts.size() == 2);
    CHECK(f.server.request_count() == 3);
}

TEST_CASE("a configured tier: requests past the limit wait in WaitingQuota with a QuotaWait event", "[quota]") {
    Fixture f(1);
    auto o = f.options(rpm(1));
    std::vector<Event> events;
    o.on_event = [&](const Event& e) { events.push_back(e); };
    Client client(o);
    client.generate(prompt("one"));
    auto job = client.submit(prompt("two"));
    std::this_thread::sleep_for(200ms);
    auto p = job->progress();
    CHECK(p.stage == JobStage::WaitingQuota);
    CHECK(p.wait_left > 50s);
    job->wait(100ms);   // delivers the events queued so far
    auto wait_event = std::find_if(events.begin(), events.end(), [](const Event& e) { return e.kind == EventKind::QuotaWait; });
    REQUIRE(wait_event != events.end());
    CHECK(wait_event->dimension == Dimension::RPM);
    CHECK(wait_event->delay > 50s);
    job->cancel();
    CHECK_THROWS_AS(job->get(), Error);
    CHECK(f.server.request_count() == 1);
}

TEST_CASE("use crossing 80% of a limit raises one QuotaWarning", "[quota]") {
    Fixture f;
    auto o = f.options(rpm(5));
    std::vector<Event> warnings;
    o.on_event = [&](const Event& e) {
        if (e.kind == EventKind::QuotaWarning) warnings.push_back(e);
    };
    Client client(o);
    for (int i = 0; i < 5; ++i) client.generate(prompt("n" + std::to_string(i)));
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].dimension == Dimension::RPM);
    CHECK(warnings[0].percent == 80);
    CHECK(warnings[0].attempt == 0);   // raised at admission, before the 4th request was sent
}

TEST_CASE("a Pro 1K answer costs its listed price plus the prompt, and is booked", "[quota][cost]") {
    Fixture f;
    Client client(f.options());
    auto res = client.generate(prompt("a lighthouse"));
    // $0.134 for the image; the prompt's tokens at $2 per million; thinking and text at $12.
    const auto image_tokens = res.usage.candidates_tokens_for("IMAGE");
    REQUIRE(image_tokens == 1120);
    const double prompt_usd = res.usage.prompt_tokens * 2.0 / 1e6;
    const double text_usd = (res.usage.thoughts_tokens + res.usage.candidates_tokens - image_tokens) * 12.0 / 1e6;
    CHECK(res.cost_usd == Approx(0.134 + prompt_usd + text_usd).margin(1e-6));
    CHECK(spent_today(client.usage()) == Approx(res.cost_usd).margin(1e-6));
}

TEST_CASE("a spending cap refuses before sending, with the cap and when it resets", "[quota][cost]") {
    Fixture f;
    quota::GovernorOptions g;
    g.caps.daily_usd = 0.25;
    std::vector<Event> alerts;
    auto o = f.options(g);
    o.on_event = [&](const Event& e) {
        if (e.kind == EventKind::BudgetAlert) alerts.push_back(e);
    };
    Client client(o);
    auto first = client.generate(prompt("one"));
    CHECK(first.cost_usd > 0.13);
    try {
        client.generate(prompt("two"));
        FAIL("the cap was crossed");
    } catch (const Error& e) {
        CHECK(e.code() == Status::BUDGET);
        CHECK(e.attempts.empty());
        CHECK(std::string(e.what()).find("daily cap") != std::string::npos);
        REQUIRE(e.diagnosis().retry_after);   // midnight Pacific
        CHECK(*e.diagnosis().retry_after <= 24h + 1h);
        CHECK(e.diagnosis().advice.find("daily") != std::string::npos);
    }
    CHECK(f.server.request_count() == 1);
    // The first reservation (worst case, above $0.125) crossed 50% of the cap.
    REQUIRE_FALSE(alerts.empty());
    CHECK(alerts[0].percent == 50);
}

TEST_CASE("a reply without an image is billed all the same", "[quota][cost]") {
    Fixture f;
    auto o = f.options();
    o.retry.max_billed_retries = 0;
    Client client(o);
    f.server.set_script(R"({"replies": ["text_only"]})");
    CHECK_THROWS_AS(client.generate(prompt("a refusal")), Error);
    CHECK(spent_today(client.usage()) > 0);
}

TEST_CASE("a 429 is not billed and its quota entry is given back", "[quota][cost]") {
    Fixture f;
    Client client(f.options());
    f.server.set_script(R"({"replies": [{"fault": "rpm_429", "retry_delay": 0.05}]})");
    auto res = client.generate(prompt("x"));
    REQUIRE(res.attempts.size() == 2);
    auto u = client.usage();
    CHECK(spent_today(u) == Approx(res.cost_usd).margin(1e-6));
    REQUIRE(u.keys.size() == 1);
    CHECK(u.keys[0].dimensions[0].used == 1);   // RPM: the 429'd attempt is not counted
}

TEST_CASE("two clients on one state file share the quota and the spend", "[quota][state]") {
    Fixture f;
    TempDir dir;
    const auto path = (dir.path / "state.db").string();
    auto governed = [&] {
        quota::GovernorOptions g = rpm(2);
        g.state = quota::open_state_store(path);
        return g;
    };
    Client one(f.options(governed()));
    Client two(f.options(governed()));
    one.generate(prompt("a"));
    two.generate(prompt("b"));
    CallOptions call;
    call.deadline = 3s;
    try {
        one.generate(prompt("c"), call);
        FAIL("the shared limit was crossed");
    } catch (const Error& e) {
        CHECK(e.code() == Status::RATE_LIMITED);
    }
    CHECK(f.server.request_count() == 2);
    CHECK(std::filesystem::status(path).permissions() ==
          (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
    // A third client, later, sees what both spent.
    Client three(f.options(governed()));
    auto u = three.usage();
    CHECK(spent_today(u) > 2 * 0.134);
    CHECK(u.location == path);
}

TEST_CASE("a job cancelled while it waits for quota gives its place back", "[quota]") {
    Fixture f;
    Client client(f.options(rpm(1)));
    client.generate(prompt("one"));
    auto job = client.submit(prompt("two"));
    while (job->progress().stage != JobStage::WaitingQuota) std::this_thread::sleep_for(5ms);
    job->cancel();
    try {
        job->get();
        FAIL("not cancelled");
    } catch (const Error& e) {
        CHECK(e.code() == Status::CANCELLED);
    }
    auto u = client.usage();
    REQUIRE(u.keys.size() == 1);
    CHECK(u.keys[0].dimensions[0].used == 1);
    for (const auto& c : u.caps) CHECK(c.held == 0);
}
