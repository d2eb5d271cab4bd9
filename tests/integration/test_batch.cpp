// The batch client (libcurl transport) against the in-process emulator: inline and file jobs,
// polling on a shared fake clock, per-entry faults judged like the same online replies, job ends,
// cancellation, deadlines, flaky polls, and the argument checks.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>

#include "nbcore/batch.hpp"
#include "nbcore/client.hpp"
#include "nbcore/models.hpp"
#include "nbcore_emulator/emulator.hpp"

using namespace nbcore;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

constexpr const char* kKey = "integration-batch-key-01";

struct Fixture {
    std::shared_ptr<FakeClock> clock = std::make_shared<FakeClock>();
    emulator::Server server;

    explicit Fixture(int batch_ms = 10'000) : server([&] {
        emulator::Options o;
        o.api_key = kKey;
        o.batch_ms = batch_ms;
        o.clock = clock;
        return o;
    }()) {
        server.start();
    }

    batch::Options options() const {
        batch::Options o;
        o.api_key = kKey;
        o.base_url = server.url();
        o.model = std::string(kModelFlash);
        o.clock = clock;
        o.rng = std::make_shared<DefaultRng>(7);
        o.poll.initial = 1000ms;
        o.poll.factor = 2;
        o.poll.cap = 4000ms;
        return o;
    }
    void script(const json& s) { server.set_script(s.dump()); }

    // The same request online, with the same scripted reply, not retried.
    Diagnosis online(const std::string& fault, const Request& req) {
        script({{"replies", {fault}}});
        ClientOptions o;
        o.api_key = kKey;
        o.base_url = server.url();
        o.model = std::string(kModelFlash);
        o.retry = policy::RetryPolicy::none();
        o.clock = clock;
        Client c(o);
        try {
            c.generate(req);
        } catch (const Error& e) {
            return e.diagnosis();
        }
        return {};
    }
};

Request prompt(const std::string& text, const std::string& aspect = "") {
    Request r;
    r.prompt = text;
    r.aspect_ratio = aspect;
    return r;
}

// Fails the first `n` polls (GET batches/...) as if the connection were refused.
class FlakyPolls final : public net::Transport {
public:
    FlakyPolls(std::shared_ptr<net::Transport> inner, int n) : inner_(std::move(inner)), left_(n) {}
    net::TransportResult send(const net::HttpRequest& req, net::BodySink& sink, const CancelToken* cancel) override {
        if (req.method == "GET" && req.url.find("/batches/") != std::string::npos && left_ > 0) {
            --left_;
            ++failed;
            net::TransportResult r;
            r.error = net::TransportErrorKind::Connect;
            r.detail = "Connection refused";
            return r;
        }
        return inner_->send(req, sink, cancel);
    }
    std::atomic<int> failed{0};

private:
    std::shared_ptr<net::Transport> inner_;
    std::atomic<int> left_;
};

}  // namespace

TEST_CASE("batch client: an inline job, polled to the end, entries judged like online replies", "[batch]") {
    Fixture f;
    batch::BatchClient bc(f.options());
    f.script({{"replies", {"pass", "image_safety", "no_image", "prompt_blocked_safety", "rpm_429"}}});
    std::vector<batch::Entry> entries = {{"harbour", prompt("a harbour", "16:9")},
                                         {"unsafe", prompt("a harbour")},
                                         {"empty", prompt("a harbour")},
                                         {"blocked", prompt("a harbour")},
                                         {"limited", prompt("a harbour")},
                                         {"plain", prompt("a plain harbour")}};
    batch::Job job = bc.submit(entries, "harbours");
    CHECK_THAT(job.name, Catch::StartsWith("batches/"));
    CHECK(job.state == batch::State::Pending);
    CHECK(job.input == batch::InputMode::Inline);
    CHECK(job.request_count == 6);
    CHECK(job.display_name == "harbours");
    CHECK(job.model == kModelFlash);

    std::vector<batch::State> seen;
    const auto started = f.clock->now();
    batch::WaitOptions w;
    w.on_poll = [&](const batch::Job& j) { seen.push_back(j.state); };
    batch::Job done = bc.wait(job.name, w);
    CHECK(done.state == batch::State::Succeeded);
    CHECK(done.done);
    CHECK(done.succeeded_count == 5);
    CHECK(done.failed_count == 1);
    CHECK(seen.front() == batch::State::Pending);
    CHECK(std::find(seen.begin(), seen.end(), batch::State::Running) != seen.end());
    CHECK(seen.back() == batch::State::Succeeded);
    // Backoff 1 s, 2 s, 4 s, 4 s (+ up to 10 %): done at the first poll after 10 s.
    CHECK(f.clock->now() - started >= 10s);
    CHECK(f.clock->now() - started < 16s);

    auto results = bc.results(done);
    REQUIRE(results.size() == 6);
    CHECK(results[0].key == "harbour");
    REQUIRE(results[0].diagnosis.code == Status::OK);
    REQUIRE(results[0].result);
    CHECK(results[0].result->batch);
    REQUIRE(results[0].result->images.size() == 1);
    CHECK(results[0].result->images[0].width == 1344);   // Flash 16:9
    CHECK(results[0].result->images[0].height == 768);
    CHECK(results[0].result->route == "batch:" + f.server.url());
    CHECK(results[5].diagnosis.code == Status::OK);

    const char* faults[] = {"image_safety", "no_image", "prompt_blocked_safety", "rpm_429"};
    const Status codes[] = {Status::BLOCKED_POLICY, Status::NO_IMAGE, Status::BLOCKED_SAFETY, Status::RATE_LIMITED};
    for (std::size_t i = 0; i < 4; ++i) {
        const auto& r = results[i + 1];
        INFO(r.key << ": " << r.diagnosis.message);
        CHECK(r.key == entries[i + 1].key);
        CHECK_FALSE(r.result);
        CHECK(r.diagnosis.code == codes[i]);
        Diagnosis online = f.online(faults[i], prompt("a harbour"));
        CHECK(r.diagnosis.code == online.code);
        CHECK(r.diagnosis.reason == online.reason);
        CHECK(r.diagnosis.safety_layer == online.safety_layer);
        CHECK(r.diagnosis.dimension == online.dimension);
        CHECK(r.diagnosis.advice == online.advice);
    }
}

TEST_CASE("batch client: over the inline limit the requests go up as a JSONL file", "[batch][files]") {
    Fixture f(2000);
    auto o = f.options();
    o.inline_limit = 200;   // bytes: two requests do not fit
    batch::BatchClient bc(o);
    batch::Job job = bc.submit({{"a", prompt("a lighthouse")}, {"b", prompt("a castle", "9:16")}});
    CHECK(job.input == batch::InputMode::File);
    CHECK_THAT(job.input_file, Catch::StartsWith("files/"));
    CHECK(job.display_name == "nbcore-batch-2");
    batch::Job done = bc.wait(job.name);
    CHECK(done.responses_file == "files/batch-" + job.name.substr(8));
    auto results = bc.results(done);
    REQUIRE(results.size() == 2);
    CHECK(results[0].key == "a");
    CHECK(results[1].key == "b");
    REQUIRE(results[1].result);
    CHECK(results[1].result->images[0].height == 1344);   // Flash 9:16
    CHECK(results[1].result->batch);

    // Upload, create, polls, download: the key went only to the emulator's own host.
    auto log = f.server.requests();
    CHECK(log[0]["path"] == "/upload/v1beta/files");
    CHECK(log[1]["path"] == "/upload/v1beta/files");
    CHECK(log[2]["path"] == "/v1beta/models/gemini-2.5-flash-image:batchGenerateContent");
    CHECK(log.back()["path"] == "/v1beta/files/batch-" + job.name.substr(8) + ":download");
}

TEST_CASE("batch client: FAILED, CANCELLED and EXPIRED jobs; cancel, list, remove", "[batch]") {
    Fixture f(4000);
    batch::BatchClient bc(f.options());
    f.script({{"batches", {"failed", "expired"}}});
    auto failed = bc.wait(bc.submit({{"k", prompt("x")}}).name);
    CHECK(failed.state == batch::State::Failed);
    REQUIRE(failed.error);
    CHECK(failed.error->code == Status::SERVER_ERROR);
    try {
        bc.results(failed);
        FAIL("results of a failed job");
    } catch (const Error& e) {
        CHECK(e.code() == Status::SERVER_ERROR);
        CHECK_FALSE(e.diagnosis().advice.empty());
    }
    auto expired = bc.wait(bc.submit({{"k", prompt("x")}}).name);
    CHECK(expired.state == batch::State::Expired);
    CHECK(expired.error->code == Status::TIMEOUT);

    auto running = bc.submit({{"k", prompt("x")}});
    bc.cancel(running.name);
    auto cancelled = bc.wait(running.name);
    CHECK(cancelled.state == batch::State::Cancelled);
    CHECK(cancelled.error->code == Status::CANCELLED);

    auto jobs = bc.list();
    REQUIRE(jobs.size() == 3);
    CHECK(jobs[0].name == running.name);   // newest first
    CHECK(bc.list(1).size() == 1);
    bc.remove(running.name);
    CHECK(bc.list().size() == 2);
    try {
        bc.get(running.name);
        FAIL("a deleted job");
    } catch (const Error& e) {
        CHECK(e.code() == Status::INVALID_ARG);
        CHECK(e.diagnosis().reason == "NOT_FOUND");
        CHECK_THAT(e.diagnosis().advice, Catch::Contains("listing this key's batches"));
    }
}

TEST_CASE("batch client: waiting stops at the deadline or on cancel; the job keeps running", "[batch]") {
    Fixture f(60'000);
    batch::BatchClient bc(f.options());
    auto job = bc.submit({{"k", prompt("x")}});
    batch::WaitOptions w;
    w.deadline = 5000ms;
    const auto started = f.clock->now();
    try {
        bc.wait(job.name, w);
        FAIL("the deadline");
    } catch (const Error& e) {
        CHECK(e.code() == Status::DEADLINE);
        CHECK_THAT(e.diagnosis().message, Catch::Contains("keeps running"));
        CHECK_FALSE(e.diagnosis().advice.empty());
    }
    CHECK(f.clock->now() - started == 5000ms);   // the last poll is at the deadline, not after

    CancelToken cancel;
    int polls = 0;
    batch::WaitOptions c;
    c.cancel = &cancel;
    c.on_poll = [&](const batch::Job&) {
        if (++polls == 2) cancel.cancel();
    };
    try {
        bc.wait(job.name, c);
        FAIL("cancelled");
    } catch (const Error& e) {
        CHECK(e.code() == Status::CANCELLED);
        CHECK_THAT(e.diagnosis().advice, Catch::Contains("keeps running on the server"));
    }
    CHECK(polls == 2);
    CHECK(bc.get(job.name).state == batch::State::Pending);
}

TEST_CASE("batch client: polls that fail for a passing reason are tried again", "[batch]") {
    Fixture f(3000);
    auto o = f.options();
    auto flaky = std::make_shared<FlakyPolls>(net::make_curl_transport(), 2);
    o.transport = flaky;
    batch::BatchClient bc(o);
    auto job = bc.submit({{"k", prompt("x")}});
    CHECK(bc.wait(job.name).state == batch::State::Succeeded);
    CHECK(flaky->failed == 2);

    auto o2 = f.options();
    o2.transport = std::make_shared<FlakyPolls>(net::make_curl_transport(), 5);
    o2.max_poll_failures = 1;
    batch::BatchClient impatient(o2);
    auto again = impatient.submit({{"k", prompt("x")}});
    try {
        impatient.wait(again.name);
        FAIL("two failed polls in a row");
    } catch (const Error& e) {
        CHECK(e.code() == Status::NETWORK);
        CHECK_THAT(e.diagnosis().message, Catch::StartsWith("polling " + again.name));
    }
}

TEST_CASE("batch client: arguments are checked before anything is sent", "[batch]") {
    Fixture f;
    batch::BatchClient bc(f.options());
    auto code_of = [&](const std::vector<batch::Entry>& entries, std::string* message = nullptr) {
        try {
            bc.submit(entries);
        } catch (const Error& e) {
            if (message) *message = e.diagnosis().message;
            return e.code();
        }
        return Status::OK;
    };
    std::string msg;
    CHECK(code_of({}) == Status::INVALID_ARG);
    CHECK(code_of({{"", prompt("x")}}) == Status::INVALID_ARG);
    CHECK(code_of({{"a", prompt("x")}, {"a", prompt("y")}}, &msg) == Status::INVALID_ARG);
    CHECK_THAT(msg, Catch::Contains("\"a\" is used twice"));
    Request pro = prompt("y");
    pro.model = std::string(kModelPro);
    CHECK(code_of({{"a", prompt("x")}, {"b", pro}}, &msg) == Status::INVALID_ARG);
    CHECK_THAT(msg, Catch::Contains("one model"));
    CHECK(code_of({{"a", prompt("x")}, {"b", prompt("y", "7:3")}}, &msg) == Status::INVALID_ARG);
    CHECK_THAT(msg, Catch::StartsWith("entry \"b\": "));
    CHECK(f.server.request_count() == 0);

    auto o = f.options();
    o.api_key = "not-the-emulator-key";
    batch::BatchClient wrong(o);
    try {
        wrong.submit({{"a", prompt("x")}});
        FAIL("a wrong key");
    } catch (const Error& e) {
        CHECK(e.code() == Status::AUTH);
        CHECK_THAT(e.diagnosis().message, Catch::StartsWith("creating the batch: "));
        CHECK(e.diagnosis().message.find("not-the-emulator-key") == std::string::npos);
    }
}

TEST_CASE("batch client: a spending cap refuses a batch before it is created", "[batch][cost]") {
    Fixture f;
    auto o = f.options();
    quota::GovernorOptions g;
    g.caps.daily_usd = 0.05;   // Flash at batch prices: $0.0195 an image plus the text allowance
    o.governor = quota::Governor::create(g);
    batch::BatchClient bc(o);
    std::vector<batch::Entry> entries = {{"a", prompt("one")}, {"b", prompt("two")}, {"c", prompt("three")}};
    try {
        bc.submit(entries);
        FAIL("the batch was created past its cap");
    } catch (const Error& e) {
        CHECK(e.code() == Status::BUDGET);
        CHECK(std::string(e.what()).find("batch of 3 requests") != std::string::npos);
        CHECK(e.diagnosis().retry_after.has_value());
        CHECK_FALSE(e.diagnosis().advice.empty());
    }
    CHECK(f.server.request_count() == 0);
    for (const auto& c : o.governor->usage(f.clock->wall()).caps) CHECK(c.held == 0);
}

TEST_CASE("batch client: results cost batch prices, and settle what was reserved", "[batch][cost]") {
    Fixture f(1000);
    auto o = f.options();
    quota::GovernorOptions g;
    g.caps.daily_usd = 1.0;
    o.governor = quota::Governor::create(g);
    batch::BatchClient bc(o);
    auto job = bc.submit({{"a", prompt("one")}, {"b", prompt("two")}});
    auto held = [&] {
        quota::MicroUsd h = 0;
        for (const auto& c : o.governor->usage(f.clock->wall()).caps)
            if (c.period == quota::Period::Day) h = c.held;
        return h;
    };
    CHECK(held() > 0);
    job = bc.wait(job.name);
    auto results = bc.results(job);
    REQUIRE(results.size() == 2);
    double sum = 0;
    for (const auto& r : results) {
        REQUIRE(r.result);
        CHECK(r.result->batch);
        // $0.0195 for the image (half of $0.039), the prompt at $0.15 per million, text at $1.25.
        const auto& u = r.result->usage;
        const double text = static_cast<double>(u.candidates_tokens - u.candidates_tokens_for("IMAGE"));
        CHECK(r.result->cost_usd == Approx(0.0195 + u.prompt_tokens * 0.15 / 1e6 + text * 1.25 / 1e6).margin(2e-6));
        sum += r.result->cost_usd;
    }
    CHECK(held() == 0);
    double spent = -1;
    for (const auto& c : o.governor->usage(f.clock->wall()).caps)
        if (c.period == quota::Period::Day) spent = quota::usd(c.spent);
    CHECK(spent == Approx(sum).margin(2e-6));
    bc.results(job);   // fetching again books nothing twice
    for (const auto& c : o.governor->usage(f.clock->wall()).caps)
        if (c.period == quota::Period::Day) CHECK(quota::usd(c.spent) == Approx(sum).margin(2e-6));
}
