// The real client (libcurl transport, streaming decoder, validation, policy) against the
// in-process emulator over loopback.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "nbcore/client.hpp"
#include "nbcore/models.hpp"
#include "emulator_fixture.hpp"
#include "nbcore_emulator/emulator.hpp"

using namespace nbcore;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

constexpr const char* kKey = "integration-key-0001";

struct Fixture : nbtest::EmulatorFixture {
    explicit Fixture(int latency_ms = 0) : EmulatorFixture(kKey, nbtest::with_latency(latency_ms)) {}
    ClientOptions options() const { return client_options(); }
};

using nbtest::prompt;

Status status_of(Client& c, const Request& r, Error* out = nullptr) {
    try {
        c.generate(r);
        return Status::OK;
    } catch (const Error& e) {
        if (out) *out = e;
        return e.code();
    }
}

}  // namespace

TEST_CASE("every Pro size and aspect ratio comes back at the reference size", "[client]") {
    Fixture f;
    Client client(f.options());
    for (auto aspect : {"1:1", "9:16", "21:9"}) {
        for (auto size : {"1K", "2K"}) {
            auto res = client.generate(prompt("a harbour", size, aspect));
            auto want = output_size(kModelPro, aspect, size);
            REQUIRE(res.images.size() == 1);
            CHECK(res.images[0].width == want->width);
            CHECK(res.images[0].height == want->height);
            CHECK(res.images[0].mime == "image/jpeg");
            REQUIRE(res.images[0].pixels);
            CHECK(res.images[0].pixels->width == want->width);
            CHECK(res.usage.candidates_tokens_for("IMAGE") == 1120);
        }
    }
}

TEST_CASE("a 4K answer arrives whole through the streaming decoder", "[client][4k]") {
    Fixture f;
    auto opt = f.options();
    opt.keep_pixels = false;
    Client client(opt);
    auto res = client.generate(prompt("a harbour at dusk", "4K", "16:9"));
    REQUIRE(res.images.size() == 1);
    CHECK(res.images[0].width == 5504);
    CHECK(res.images[0].height == 3072);
    CHECK_FALSE(res.images[0].pixels);
    CHECK(res.usage.candidates_tokens_for("IMAGE") == 2000);
}

TEST_CASE("SSE streaming and plain replies carry the same image", "[client][sse]") {
    Fixture f;
    Request r = prompt("a lighthouse", "1K");
    r.seed = 7;
    auto plain = Client(f.options()).generate(r);
    auto opt = f.options();
    opt.stream = true;
    auto streamed = Client(opt).generate(r);
    REQUIRE(plain.images.size() == 1);
    REQUIRE(streamed.images.size() == 1);
    CHECK(plain.images[0].data->view() == streamed.images[0].data->view());
}

TEST_CASE("a body over the size cap is a typed error, not a crash", "[client][limits]") {
    Fixture f;
    auto opt = f.options();
    opt.decode_limits.max_body_bytes = 16 * 1024;   // any 1K answer is larger than this
    Client client(opt);
    Error err(Status::OK, "");
    REQUIRE(status_of(client, prompt("a lighthouse"), &err) == Status::BAD_RESPONSE);
    CHECK_FALSE(err.diagnosis().retryable);
    CHECK(err.attempts.size() == 1);
    CHECK_FALSE(err.diagnosis().advice.empty());
}

TEST_CASE("malformed and corrupt replies end in typed errors", "[client][bad-input]") {
    Fixture f;
    auto opt = f.options();
    opt.retry = policy::RetryPolicy::none();
    Client client(opt);
    for (auto fault : {"malformed_json", "corrupt_base64", "truncated_png", "corrupt_png", "array_error"}) {
        f.script({{"replies", {fault}}});
        Error err(Status::OK, "");
        Status s = status_of(client, prompt("x"), &err);
        INFO(fault << ": " << err.what());
        CHECK(s != Status::OK);
        CHECK(s != Status::INTERNAL);
        CHECK_FALSE(err.diagnosis().advice.empty());
    }
}

TEST_CASE("cancellation interrupts a slow attempt at once", "[client][cancel]") {
    Fixture f;
    f.script({{"replies", {{{"pass", true}, {"delay_ms", 5000}}}}});
    Client client(f.options());
    CancelToken token;
    std::thread canceller([&] {
        std::this_thread::sleep_for(200ms);
        token.cancel();
    });
    auto t0 = std::chrono::steady_clock::now();
    Error err(Status::OK, "");
    CallOptions call;
    call.cancel = &token;
    Status s;
    try {
        client.generate(prompt("x"), call);
        s = Status::OK;
    } catch (const Error& e) {
        s = e.code();
        err = e;
    }
    canceller.join();
    auto took = std::chrono::steady_clock::now() - t0;
    CHECK(s == Status::CANCELLED);
    CHECK(took < 2s);
}

TEST_CASE("a token raised before the call sends nothing, for generate and for a submitted job", "[client][cancel]") {
    Fixture f;
    Client client(f.options());
    CancelToken token;
    token.cancel();
    CallOptions call;
    call.cancel = &token;
    // Many times: the job starts on the I/O thread, which must never get to send it first.
    for (int i = 0; i < 50; ++i) {
        try {
            client.generate(prompt("x"), call);
            FAIL("generate with a raised token succeeded");
        } catch (const Error& e) {
            CHECK(e.code() == Status::CANCELLED);
            CHECK(e.attempts.empty());
            CHECK(std::string(e.what()).find("before it was sent") != std::string::npos);
        }
        JobPtr job = client.submit(prompt("x"), call);
        CHECK_THROWS_AS(job->get(), Error);
    }
    CHECK(f.server.request_count() == 0);
}

TEST_CASE("cancellation interrupts a retry wait", "[client][cancel]") {
    Fixture f;
    f.script({{"replies", {{{"fault", "rpm_429"}, {"retry_delay", "30s"}}}}});
    Client client(f.options());
    CancelToken token;
    std::thread canceller([&] {
        std::this_thread::sleep_for(300ms);
        token.cancel();
    });
    auto t0 = std::chrono::steady_clock::now();
    CallOptions call;
    call.cancel = &token;
    Status s = Status::OK;
    try {
        client.generate(prompt("x"), call);
    } catch (const Error& e) {
        s = e.code();
        CHECK(e.attempts.size() == 1);
    }
    canceller.join();
    CHECK(s == Status::CANCELLED);
    CHECK(std::chrono::steady_clock::now() - t0 < 3s);
}

TEST_CASE("a server wait beyond the deadline fails at once with retry_after", "[client][deadline]") {
    Fixture f;
    f.script({{"replies", {{{"fault", "rpm_429"}, {"retry_delay", "20s"}}}}});
    auto opt = f.options();
    opt.deadline = 3s;
    Client client(opt);
    auto t0 = std::chrono::steady_clock::now();
    Error err(Status::OK, "");
    REQUIRE(status_of(client, prompt("x"), &err) == Status::RATE_LIMITED);
    CHECK(std::chrono::steady_clock::now() - t0 < 2s);
    REQUIRE(err.diagnosis().retry_after);
    CHECK(err.diagnosis().retry_after->count() == 20000);
}

TEST_CASE("the deadline bounds a slow attempt", "[client][deadline]") {
    Fixture f;
    f.script({{"replies", {{{"pass", true}, {"delay_ms", 5000}}}}});
    auto opt = f.options();
    opt.deadline = 700ms;
    Client client(opt);
    auto t0 = std::chrono::steady_clock::now();
    Error err(Status::OK, "");
    CHECK(status_of(client, prompt("x"), &err) == Status::DEADLINE);
    CHECK(std::chrono::steady_clock::now() - t0 < 3s);
}

TEST_CASE("events describe every attempt", "[client][events]") {
    Fixture f;
    f.script({{"replies", {"503_overloaded"}}});
    std::vector<Event> events;
    auto opt = f.options();
    opt.on_event = [&](const Event& e) { events.push_back(e); };
    Client client(opt);
    auto res = client.generate(prompt("x"));
    REQUIRE(res.attempts.size() == 2);
    std::vector<EventKind> kinds;
    for (auto& e : events) kinds.push_back(e.kind);
    CHECK(kinds == std::vector<EventKind>{EventKind::AttemptStart, EventKind::AttemptEnd, EventKind::RetryScheduled,
                                          EventKind::AttemptStart, EventKind::AttemptEnd, EventKind::Done});
    CHECK(events[1].outcome == Status::UNAVAILABLE);
    CHECK(events[1].http_status == 503);
    CHECK(events[2].delay == res.attempts[0].chosen_delay);
}

TEST_CASE("the API key travels only in the header and is never logged", "[client][keys]") {
    Fixture f;
    f.script({{"replies", {"invalid_key"}}});
    Client client(f.options());
    Error err(Status::OK, "");
    REQUIRE(status_of(client, prompt("x"), &err) == Status::AUTH);
    std::string everything = std::string(err.what()) + err.diagnosis().advice + err.diagnosis().message;
    CHECK(everything.find(kKey) == std::string::npos);
    auto log = f.server.requests();
    REQUIRE(log.size() == 1);
    CHECK(log.dump().find(kKey) == std::string::npos);
    CHECK_FALSE(log[0]["query"].contains("key"));   // the key never went into the URL
}

TEST_CASE("plain http to a non-loopback host is refused before anything is sent", "[client][keys]") {
    ClientOptions o;
    o.api_key = kKey;
    o.base_url = "http://example.com";
    CHECK_THROWS_AS(Client(o), Error);
}

TEST_CASE("concurrent requests through one client", "[client][threads]") {
    Fixture f(200);
    Client client(f.options());
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 8; ++i)
        threads.emplace_back([&, i] {
            Request r = prompt("thread " + std::to_string(i));
            if (client.generate(r).images.size() == 1) ++ok;
        });
    for (auto& t : threads) t.join();
    CHECK(ok == 8);
    CHECK(std::chrono::steady_clock::now() - t0 < 5s);
}

TEST_CASE("a blank answer to a crowded prompt says the prompt is the likely cause", "[client][prompt]") {
    nbcore::emulator::Options o;
    o.blank_over_subjects = 3;
    nbtest::EmulatorFixture f(kKey, o);
    Client client(f.client_options());
    try {
        client.generate(prompt("a cat, a dog, a parrot and a goldfish in a garden"));
        FAIL("a blank answer");
    } catch (const Error& e) {
        CHECK(e.code() == Status::BLANK_IMAGE);
        CHECK(e.attempts.size() == 2);   // the one billed retry, then the verdict
        CHECK_THAT(e.diagnosis().advice, Catch::Contains("4 distinct subjects (more than 3 raises the risk of a blank output)"));
        CHECK_THAT(e.diagnosis().advice, Catch::Contains("generate it in stages"));
    }
    // A plain prompt's blank answer is not blamed on the prompt.
    f.script({{"replies", {{{"fault", "blank_image"}}, {{"fault", "blank_image"}}}}});
    try {
        client.generate(prompt("a lighthouse"));
        FAIL("a blank answer");
    } catch (const Error& e) {
        CHECK(e.code() == Status::BLANK_IMAGE);
        CHECK_THAT(e.diagnosis().advice, !Catch::Contains("too much at once"));
    }
}

TEST_CASE("the pre-flight check warns about a risky prompt, and strict mode refuses it unsent", "[client][prompt]") {
    Fixture f;
    std::vector<Event> events;
    auto o = f.client_options();
    o.preflight = Preflight::Warn;
    o.on_event = [&](const Event& ev) {
        if (ev.kind == EventKind::PromptWarning) events.push_back(ev);
    };
    Client client(o);
    client.generate(prompt("a cat, a dog, a parrot and a goldfish"));   // warned, then sent
    REQUIRE(events.size() == 1);
    CHECK(events[0].reason == "high");
    CHECK_THAT(events[0].message, Catch::Contains("4 distinct subjects"));
    client.generate(prompt("a lighthouse at dawn"));                    // low risk: nothing
    CHECK(events.size() == 1);
    CHECK(f.server.requests().size() == 2);

    CallOptions strict;
    strict.preflight = Preflight::Strict;
    try {
        client.generate(prompt("a cat, a dog, a parrot and a goldfish"), strict);
        FAIL("refused");
    } catch (const Error& e) {
        CHECK(e.code() == Status::INVALID_ARG);
        CHECK(e.diagnosis().reason == "PROMPT_TOO_COMPLEX");
        CHECK_THAT(e.diagnosis().message, Catch::Contains("4 distinct subjects"));
        CHECK_THAT(e.diagnosis().advice, Catch::Contains("stages"));
    }
    CHECK(f.server.requests().size() == 2);   // nothing sent
    // Medium risk in strict mode is a warning, not a refusal.
    client.generate(prompt("a cat on the left and a dog on the right"), strict);
    CHECK(events.size() == 2);
    CHECK(events[1].reason == "medium");
}
