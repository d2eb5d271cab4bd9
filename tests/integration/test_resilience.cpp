// Routes, failover, circuit breakers, downgrade, token refresh and the retry budget, end to end:
// the real client against two in-process emulators standing for two endpoints.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "nbcore/client.hpp"
#include "nbcore_emulator/emulator.hpp"

using namespace nbcore;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

constexpr const char* kKey = "resilience-key-0001";

std::unique_ptr<emulator::Server> start(std::string bearer = "") {
    emulator::Options o;
    o.api_key = kKey;
    o.bearer_token = std::move(bearer);
    auto s = std::make_unique<emulator::Server>(o);
    s->start();
    return s;
}

RouteConfig custom(const emulator::Server& s, std::string name, std::string pool = "") {
    RouteConfig r;
    r.kind = RouteKind::Custom;
    r.name = std::move(name);
    r.base_url = s.url();
    r.quota_pool = std::move(pool);
    return r;
}

ClientOptions options(std::vector<RouteConfig> routes) {
    ClientOptions o;
    o.api_key = kKey;
    o.routes = std::move(routes);
    o.retry.server = {10ms, 50ms};
    o.retry.gateway = o.retry.server;
    o.retry.rate = o.retry.server;
    return o;
}

Request prompt(std::string size = "") {
    Request r;
    r.prompt = "a harbour";
    r.image_size = std::move(size);
    return r;
}

std::vector<EventKind> kinds(const std::vector<Event>& events) {
    std::vector<EventKind> k;
    for (const auto& e : events) k.push_back(e.kind);
    return k;
}

bool has(const std::vector<EventKind>& k, EventKind want) {
    return std::find(k.begin(), k.end(), want) != k.end();
}

}  // namespace

TEST_CASE("a 503 on the first route fails over to the second at once", "[resilience][failover]") {
    auto a = start(), b = start();
    a->set_script(R"({"replies": ["503_overloaded"], "then": "repeat_last"})");
    std::vector<Event> events;
    auto opt = options({custom(*a, "primary"), custom(*b, "backup")});
    opt.on_event = [&](const Event& e) { events.push_back(e); };
    Client client(opt);
    auto res = client.generate(prompt());
    REQUIRE(res.attempts.size() == 2);
    CHECK(res.attempts[0].route == "primary");
    CHECK(res.attempts[0].outcome == Status::UNAVAILABLE);
    CHECK(res.attempts[1].route == "backup");
    CHECK(res.route == "backup");
    CHECK(has(kinds(events), EventKind::FailOver));
    CHECK(a->request_count() == 1);
    CHECK(b->request_count() == 1);
}

TEST_CASE("auth and safety failures never fail over", "[resilience][failover]") {
    for (auto fault : {"invalid_key", "image_safety", "bad_field"}) {
        auto a = start(), b = start();
        a->set_script(json({{"replies", {fault}}}).dump());
        Client client(options({custom(*a, "primary"), custom(*b, "backup")}));
        CHECK_THROWS_AS(client.generate(prompt()), Error);
        INFO(fault);
        CHECK(b->request_count() == 0);
    }
}

TEST_CASE("a per-day quota fails over only to another quota pool", "[resilience][quota]") {
    auto a = start(), b = start();
    a->set_script(R"({"replies": ["rpd_429"], "then": "repeat_last"})");
    {
        Client same_pool(options({custom(*a, "primary", "project-1"), custom(*b, "backup", "project-1")}));
        try {
            same_pool.generate(prompt());
            FAIL("expected QUOTA_EXHAUSTED");
        } catch (const Error& e) {
            CHECK(e.code() == Status::QUOTA_EXHAUSTED);
        }
        CHECK(b->request_count() == 0);
    }
    Client other_pool(options({custom(*a, "primary", "project-1"), custom(*b, "backup", "project-2")}));
    auto res = other_pool.generate(prompt());
    CHECK(res.route == "backup");
}

TEST_CASE("a route's breaker opens after repeated failures and later requests skip it",
          "[resilience][breaker]") {
    auto a = start(), b = start();
    a->set_script(R"({"replies": ["500"], "then": "repeat_last"})");
    auto opt = options({custom(*a, "primary"), custom(*b, "backup")});
    opt.breaker.consecutive_failures = 3;
    opt.breaker.open_base = 60s;
    std::vector<Event> events;
    opt.on_event = [&](const Event& e) { events.push_back(e); };
    Client client(opt);
    for (int i = 0; i < 3; ++i) CHECK(client.generate(prompt()).route == "backup");
    CHECK(a->request_count() == 3);
    CHECK(has(kinds(events), EventKind::BreakerTransition));
    // Open now: the next request starts on the backup without touching the primary.
    auto res = client.generate(prompt());
    CHECK(res.attempts.size() == 1);
    CHECK(res.route == "backup");
    CHECK(a->request_count() == 3);
    bool open_found = false;
    for (const auto& snap : client.breakers())
        if (snap.key.route == "primary") open_found = snap.state == policy::BreakerState::Open;
    CHECK(open_found);
}

TEST_CASE("a timeout at 4K is retried at 2K when downgrade is on", "[resilience][downgrade]") {
    auto a = start();
    a->set_script(R"({"replies": ["slow_first_byte:3000"]})");
    auto opt = options({custom(*a, "only")});
    opt.downgrade_on_timeout = true;
    opt.timeouts.total = 1500ms;   // the 4K answer itself takes a while to render the first time
    std::vector<Event> events;
    opt.on_event = [&](const Event& e) { events.push_back(e); };
    Client client(opt);
    auto res = client.generate(prompt("4K"));
    REQUIRE(res.attempts.size() == 2);
    CHECK(res.attempts[0].outcome == Status::TIMEOUT);
    CHECK(res.attempts[0].image_size == "4K");
    CHECK(res.attempts[1].image_size == "2K");
    CHECK(res.image_size == "2K");
    CHECK(res.images[0].width == 2048);
    CHECK(has(kinds(events), EventKind::Downgrade));
    auto log = a->requests();
    REQUIRE(log.size() == 2);
    CHECK(log[1]["body"]["generationConfig"]["imageConfig"]["imageSize"] == "2K");
}

TEST_CASE("without downgrade a 4K timeout retries at 4K", "[resilience][downgrade]") {
    auto a = start();
    a->set_script(R"({"replies": ["slow_first_byte:3000"]})");
    auto opt = options({custom(*a, "only")});
    opt.timeouts.total = 1500ms;
    Client client(opt);
    auto res = client.generate(prompt("2K"));
    REQUIRE(res.attempts.size() == 2);
    CHECK(res.attempts[1].image_size == "2K");
}

TEST_CASE("a Vertex route sends the Vertex path with a Bearer token", "[resilience][vertex]") {
    auto v = start("ya29.good-token");
    setenv("NBCORE_TEST_VERTEX_TOKEN", "ya29.good-token", 1);
    RouteConfig r;
    r.kind = RouteKind::Vertex;
    r.base_url = v->url();
    r.project = "my-project";
    r.location = "us-central1";
    r.token_env = "NBCORE_TEST_VERTEX_TOKEN";
    Client client(options({r}));
    auto res = client.generate(prompt());
    CHECK(res.route == "vertex:us-central1");
    auto log = v->requests();
    REQUIRE(log.size() == 1);
    CHECK(log[0]["path"] ==
          "/v1/projects/my-project/locations/us-central1/publishers/google/models/gemini-3-pro-image-preview:generateContent");
    CHECK(log[0].dump().find("ya29.good-token") == std::string::npos);   // redacted in the log
    unsetenv("NBCORE_TEST_VERTEX_TOKEN");
}

TEST_CASE("a 401 on a Vertex route refreshes the token once", "[resilience][vertex]") {
    auto v = start("ya29.fresh");
    auto dir = std::filesystem::temp_directory_path() / ("nbcore-token-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    auto counter = dir / "n";
    // Prints a stale token the first time, a fresh one after.
    std::string cmd = "if [ -f '" + counter.string() + "' ]; then echo ya29.fresh; else touch '" +
                      counter.string() + "'; echo ya29.stale; fi";
    RouteConfig r;
    r.kind = RouteKind::Vertex;
    r.base_url = v->url();
    r.project = "p";
    r.token_command = cmd;
    Client client(options({r}));
    auto res = client.generate(prompt());
    REQUIRE(res.attempts.size() == 2);
    CHECK(res.attempts[0].outcome == Status::AUTH);
    CHECK(res.attempts[0].http_status == 401);
    CHECK(res.attempts[1].outcome == Status::OK);
    std::filesystem::remove_all(dir);
}

TEST_CASE("a spent retry budget stops retries with a clear reason", "[resilience][budget]") {
    auto a = start();
    a->set_script(R"({"replies": ["500"], "then": "repeat_last"})");
    auto opt = options({custom(*a, "only")});
    opt.retry_budget = policy::RetryBudgetConfig{0.0, std::chrono::seconds(10), 0.0};
    Client client(opt);
    try {
        client.generate(prompt());
        FAIL("expected SERVER_ERROR");
    } catch (const Error& e) {
        CHECK(e.code() == Status::SERVER_ERROR);
        CHECK(e.attempts.size() == 1);
        CHECK(e.diagnosis().message.find("budget") != std::string::npos);
    }
}

TEST_CASE("attempts record whether they could have run on the server", "[resilience][execution]") {
    auto a = start();
    a->set_script(R"({"replies": ["reset_connection", "503_overloaded"]})");
    auto opt = options({custom(*a, "only")});
    Client client(opt);
    auto res = client.generate(prompt());
    REQUIRE(res.attempts.size() == 3);
    CHECK(res.attempts[0].outcome == Status::NETWORK);
    CHECK(res.attempts[0].execution == Execution::PossiblyExecuted);
    CHECK(res.attempts[1].execution == Execution::Executed);
    CHECK(res.attempts[2].execution == Execution::Executed);

    ClientOptions refused = options({});
    RouteConfig closed;
    closed.kind = RouteKind::Custom;
    closed.base_url = "http://127.0.0.1:9";   // nothing listens on the discard port
    refused.routes = {closed};
    refused.retry = policy::RetryPolicy::none();
    try {
        Client(refused).generate(prompt());
        FAIL("expected NETWORK");
    } catch (const Error& e) {
        REQUIRE(e.attempts.size() == 1);
        CHECK(e.attempts[0].execution == Execution::NotSent);
    }
}
