// The Batch API's pure pieces: state names, inline or file, poll delays, job ends, gRPC codes,
// the create bodies, Operations and result files read back, and entries judged like online replies.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "nbcore/batch.hpp"
#include "nbcore/codec.hpp"
#include "nbcore/policy.hpp"
#include "test_image_helpers.hpp"

using namespace nbcore;
using namespace nbcore::batch;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const SystemTime kNow{std::chrono::seconds(1'795'809'600)};   // 2026-11-27 12:00 PST

std::string png_base64() {
    auto png = image_test::png_of(image_test::noisy(64, 48, 3, {120, 80, 40, 255}, 40));
    return api::base64_encode(png.data(), png.size());
}

json image_response(const std::string& finish = "STOP") {
    json part = {{"inlineData", {{"mimeType", "image/png"}, {"data", png_base64()}}}};
    return {{"candidates", {{{"content", {{"role", "model"}, {"parts", {{{"text", "Here it is."}}, part}}}},
                             {"finishReason", finish},
                             {"index", 0}}}},
            {"usageMetadata", {{"promptTokenCount", 4}, {"candidatesTokenCount", 1290}, {"totalTokenCount", 1294}}},
            {"modelVersion", "gemini-2.5-flash-image"},
            {"responseId", "abc"}};
}

RawEntry response_entry(const std::string& key, const json& response) {
    RawEntry e;
    e.key = key;
    e.has_response = true;
    e.response_json = response.dump();
    return e;
}

JudgeOptions flash() {
    JudgeOptions o;
    o.model = "gemini-2.5-flash-image";
    return o;
}

Request prompt(const std::string& text) {
    Request r;
    r.prompt = text;
    return r;
}

}  // namespace

TEST_CASE("batch: state names both ways, terminal states", "[batch]") {
    for (State s : {State::Pending, State::Running, State::Succeeded, State::Failed, State::Cancelled, State::Expired})
        CHECK(parse_state(state_name(s)) == s);
    CHECK(state_name(State::Succeeded) == "BATCH_STATE_SUCCEEDED");
    CHECK(parse_state("JOB_STATE_RUNNING") == State::Running);
    CHECK(parse_state("BATCH_STATE_PAUSED") == State::Unspecified);   // unknown: never "done"
    CHECK(parse_state("") == State::Unspecified);
    CHECK_FALSE(is_terminal(State::Running));
    CHECK_FALSE(is_terminal(State::Unspecified));
    CHECK(is_terminal(State::Expired));
}

TEST_CASE("batch: inline under the limit, else a file", "[batch]") {
    CHECK(choose_input(0) == InputMode::Inline);
    CHECK(choose_input(kInlineLimitBytes - 1) == InputMode::Inline);
    CHECK(choose_input(kInlineLimitBytes) == InputMode::File);
    CHECK(choose_input(100, 100) == InputMode::File);
    CHECK(choose_input(99, 100) == InputMode::Inline);
}

TEST_CASE("batch: poll delays grow by the factor up to the cap, jitter only lengthens", "[batch]") {
    PollPolicy p;
    p.initial = 1000ms;
    p.factor = 2;
    p.cap = 5000ms;
    p.jitter = 0.1;
    CHECK(next_poll_delay(p, 0, 0.0) == 1000ms);
    CHECK(next_poll_delay(p, 1, 0.0) == 2000ms);
    CHECK(next_poll_delay(p, 2, 0.0) == 4000ms);
    CHECK(next_poll_delay(p, 3, 0.0) == 5000ms);
    CHECK(next_poll_delay(p, 1'000'000, 0.0) == 5000ms);   // no overflow
    CHECK(next_poll_delay(p, 0, 0.5) == 1050ms);
    CHECK(next_poll_delay(p, 3, 0.999) == 5500ms);
    CHECK(next_poll_delay(p, 0, 7.0) == 1100ms);          // u is clamped
    PollPolicy flat{500ms, 0.5, 60'000ms, 0};
    CHECK(next_poll_delay(flat, 5, 0.3) == 500ms);        // a factor below 1 does not shrink
}

TEST_CASE("batch: what a job's end means", "[batch]") {
    CHECK(diagnose_state(State::Succeeded, "batches/x", "").code == Status::OK);
    auto failed = diagnose_state(State::Failed, "batches/x", "boom");
    CHECK(failed.code == Status::SERVER_ERROR);
    CHECK(failed.retryable);
    CHECK(failed.message == "batch batches/x failed: boom");
    CHECK(failed.reason == "BATCH_STATE_FAILED");
    CHECK(diagnose_state(State::Expired, "batches/x", "").code == Status::TIMEOUT);
    CHECK(diagnose_state(State::Cancelled, "batches/x", "").code == Status::CANCELLED);
    auto running = diagnose_state(State::Running, "batches/x", "");
    CHECK(running.code == Status::INVALID_ARG);
    CHECK_THAT(running.advice, Catch::Contains("wait polls it"));
    for (State s : {State::Failed, State::Expired, State::Cancelled, State::Pending})
        CHECK_FALSE(diagnose_state(s, "batches/x", "").advice.empty());
}

TEST_CASE("batch: gRPC codes read as the online HTTP errors", "[batch]") {
    CHECK(http_status_for_grpc(3) == 400);
    CHECK(http_status_for_grpc(8) == 429);
    CHECK(http_status_for_grpc(13) == 500);
    CHECK(http_status_for_grpc(14) == 503);
    CHECK(http_status_for_grpc(4) == 504);
    CHECK(http_status_for_grpc(7) == 403);
    CHECK(http_status_for_grpc(16) == 401);
    CHECK(http_status_for_grpc(99) == 500);
    CHECK(grpc_status_name(8) == "RESOURCE_EXHAUSTED");
    CHECK(grpc_status_name(17).empty());
}

TEST_CASE("batch: create bodies carry each request as encode_request writes it", "[batch]") {
    Request cat = prompt("a cat\nwith a hat");
    cat.aspect_ratio = "16:9";
    std::vector<Entry> entries = {{"cat \"1\"", cat}, {"dog", prompt("a dog")}};
    json inline_body = json::parse(encode_inline_batch(entries, "pets"));
    const json& batch = inline_body["batch"];
    CHECK(batch["displayName"] == "pets");
    const json& reqs = batch["inputConfig"]["requests"]["requests"];
    REQUIRE(reqs.size() == 2);
    CHECK(reqs[0]["metadata"]["key"] == "cat \"1\"");
    CHECK(reqs[0]["request"] == json::parse(api::encode_request(cat)));
    CHECK(reqs[1]["request"]["contents"][0]["parts"][0]["text"] == "a dog");

    std::string lines = encode_jsonl(entries);
    CHECK(std::count(lines.begin(), lines.end(), '\n') == 2);   // one line per entry, newlines escaped
    auto first = json::parse(lines.substr(0, lines.find('\n')));
    CHECK(first["key"] == "cat \"1\"");
    CHECK(first["request"]["generationConfig"]["imageConfig"]["aspectRatio"] == "16:9");

    CHECK(json::parse(encode_file_batch("files/abc", "pets")) ==
          json{{"batch", {{"displayName", "pets"}, {"inputConfig", {{"fileName", "files/abc"}}}}}});
}

TEST_CASE("batch: Operations read back (reference 1.5 captures)", "[batch]") {
    // Created (real capture, reference 1.5).
    batch::Job created = parse_operation(R"({
      "name": "batches/4m855v7q30kc7gtzcigdg9m72o87s08w33vp",
      "metadata": {
        "@type": "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch",
        "model": "models/gemini-2.5-flash",
        "displayName": "test-batch-job",
        "createTime": "2025-12-10T18:27:01.407650525Z",
        "updateTime": "2025-12-10T18:27:01.407650525Z",
        "batchStats": {"requestCount": "3", "pendingRequestCount": "3"},
        "state": "BATCH_STATE_PENDING",
        "name": "batches/4m855v7q30kc7gtzcigdg9m72o87s08w33vp"}})");
    CHECK(created.name == "batches/4m855v7q30kc7gtzcigdg9m72o87s08w33vp");
    CHECK(created.model == "gemini-2.5-flash");
    CHECK(created.display_name == "test-batch-job");
    CHECK(created.state == State::Pending);
    CHECK_FALSE(created.done);
    CHECK(created.request_count == 3);
    CHECK(created.pending_count == 3);
    CHECK(created.input == InputMode::Inline);
    CHECK_FALSE(created.error);

    // A finished file job, and a failed one.
    batch::Job file = parse_operation(R"({"name": "batches/b1", "done": true,
      "metadata": {"state": "BATCH_STATE_SUCCEEDED", "inputConfig": {"fileName": "files/in"},
                   "output": {"responsesFile": "files/batch-b1"},
                   "batchStats": {"requestCount": "2", "successfulRequestCount": "1", "failedRequestCount": 1}},
      "response": {"@type": "x", "responsesFile": "files/batch-b1"}})");
    CHECK(file.state == State::Succeeded);
    CHECK(file.done);
    CHECK(file.input == InputMode::File);
    CHECK(file.input_file == "files/in");
    CHECK(file.responses_file == "files/batch-b1");
    CHECK(file.succeeded_count == 1);
    CHECK(file.failed_count == 1);
    batch::Job failed = parse_operation(R"({"name": "batches/f", "done": true, "metadata": {"state": "BATCH_STATE_FAILED"},
                                     "error": {"code": 13, "message": "it broke"}})");
    REQUIRE(failed.error);
    CHECK(failed.error->code == Status::SERVER_ERROR);
    CHECK_THAT(failed.error->message, Catch::Contains("it broke"));

    CHECK_THROWS_AS(parse_operation("<html>502</html>"), Error);
    CHECK_THROWS_AS(parse_operation(R"({"name": "models/x"})"), Error);
    try {
        parse_operation("[]");
    } catch (const Error& e) {
        CHECK(e.code() == Status::BAD_RESPONSE);
        CHECK_FALSE(e.diagnosis().advice.empty());
    }
}

TEST_CASE("batch: inlined responses and result files read back, keys kept", "[batch]") {
    json item_ok = {{"response", image_response()}, {"metadata", {{"key", "a"}}}};
    json item_err = {{"error", {{"code", 3}, {"message", "bad"}}}, {"metadata", {{"key", "b"}}}};
    json op = {{"name", "batches/x"},
               {"done", true},
               {"metadata", {{"state", "BATCH_STATE_SUCCEEDED"},
                             {"output", {{"inlinedResponses", {{"inlinedResponses", {item_ok, item_err}}}}}}}},
               {"response", {{"@type", "t"}, {"inlinedResponses", {{"inlinedResponses", {item_ok, item_err}}}}}}};
    // The state is read without keeping the responses.
    CHECK(parse_operation(op.dump()).state == State::Succeeded);
    auto raw = parse_inlined_responses(op.dump());
    REQUIRE(raw.size() == 2);
    CHECK(raw[0].key == "a");
    CHECK(raw[0].has_response);
    CHECK(json::parse(raw[0].response_json) == image_response());
    CHECK(raw[1].key == "b");
    CHECK_FALSE(raw[1].has_response);
    CHECK(raw[1].error_code == 3);
    CHECK(raw[1].error_message == "bad");

    std::string lines = json{{"response", image_response()}, {"key", "one"}}.dump() + "\n\n" +
                        json{{"key", "two"}, {"error", {{"code", 8}, {"message", "slow down"}, {"details", {{{"@type", "x"}}}}}}}.dump() +
                        "\nnot json\n";
    auto file = parse_result_lines(lines);
    REQUIRE(file.size() == 3);
    CHECK(file[0].key == "one");
    CHECK(file[1].key == "two");
    CHECK(file[1].error_code == 8);
    CHECK(json::parse(file[1].error_details_json)[0]["@type"] == "x");
    CHECK(file[2].error_code == 13);
}

TEST_CASE("batch: entries are judged exactly as the same online reply", "[batch]") {
    SECTION("an image") {
        auto r = judge_entry(response_entry("k", image_response()), flash(), kNow);
        CHECK(r.key == "k");
        REQUIRE(r.diagnosis.code == Status::OK);
        REQUIRE(r.result);
        CHECK(r.result->batch);
        REQUIRE(r.result->images.size() == 1);
        CHECK(r.result->images[0].width == 64);
        CHECK(r.result->images[0].mime == "image/png");
        CHECK(r.result->text == "Here it is.");
        CHECK(r.result->usage.candidates_tokens == 1290);
        CHECK(r.result->model == "gemini-2.5-flash-image");
        CHECK(r.result->attempts.size() == 1);
    }
    SECTION("blocked, empty and refused answers") {
        const json blocked_prompt = {{"promptFeedback", {{"blockReason", "SAFETY"}}}, {"modelVersion", "m"}};
        json image_safety = image_response("IMAGE_SAFETY");
        image_safety["candidates"][0]["content"] = json::object();
        json no_image = image_response("NO_IMAGE");
        no_image["candidates"][0]["content"] = json::object();
        json text_only = image_response();
        text_only["candidates"][0]["content"]["parts"] = {{{"text", "I can't draw that."}}};
        for (const json* body : std::initializer_list<const json*>{&blocked_prompt, &image_safety, &no_image, &text_only}) {
            auto batch = judge_entry(response_entry("k", *body), flash(), kNow).diagnosis;
            auto online = policy::diagnose(200, body->dump(), {}, kNow);
            INFO(body->dump());
            CHECK(batch.code != Status::OK);
            CHECK(batch.code == online.code);
            CHECK(batch.reason == online.reason);
            CHECK(batch.safety_layer == online.safety_layer);
            CHECK(batch.advice == online.advice);
            CHECK(batch.retryable == online.retryable);
        }
        CHECK(judge_entry(response_entry("k", blocked_prompt), flash(), kNow).diagnosis.code == Status::BLOCKED_SAFETY);
        CHECK(judge_entry(response_entry("k", image_safety), flash(), kNow).diagnosis.code == Status::BLOCKED_POLICY);
        CHECK(judge_entry(response_entry("k", no_image), flash(), kNow).diagnosis.code == Status::NO_IMAGE);
    }
    SECTION("a broken image is BAD_RESPONSE, a blank one BLANK_IMAGE") {
        json broken = image_response();
        broken["candidates"][0]["content"]["parts"][1]["inlineData"]["data"] = "iVBORw0KGgo=";
        CHECK(judge_entry(response_entry("k", broken), flash(), kNow).diagnosis.code == Status::BAD_RESPONSE);
        json blank = image_response();
        auto png = image_test::png_of(image_test::solid(64, 48, 3, {200, 200, 200, 255}));
        blank["candidates"][0]["content"]["parts"][1]["inlineData"]["data"] = api::base64_encode(png.data(), png.size());
        CHECK(judge_entry(response_entry("k", blank), flash(), kNow).diagnosis.code == Status::BLANK_IMAGE);
    }
    SECTION("errors carry gRPC codes and read as the online HTTP errors") {
        RawEntry quota;
        quota.key = "q";
        quota.error_code = 8;
        quota.error_message = "You exceeded your current quota";
        quota.error_details_json = R"([{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}])";
        auto d = judge_entry(quota, flash(), kNow).diagnosis;
        CHECK(d.code == Status::RATE_LIMITED);
        CHECK(d.http_status == 429);
        CHECK(d.retry_after == 7000ms);
        RawEntry invalid;
        invalid.error_code = 3;
        invalid.error_message = "Invalid value at 'generation_config.image_config.aspect_ratio'";
        auto bad = judge_entry(invalid, flash(), kNow).diagnosis;
        CHECK(bad.code == Status::BAD_REQUEST);
        CHECK(bad.api_status == "INVALID_ARGUMENT");
        CHECK_FALSE(bad.advice.empty());
        RawEntry internal;
        internal.error_code = 13;
        CHECK(judge_entry(internal, flash(), kNow).diagnosis.code == Status::SERVER_ERROR);
    }
}

namespace {

// Answers every request with one canned status and body, in 64 KiB pieces, as a transport would.
class CannedTransport final : public net::Transport {
public:
    CannedTransport(int status, std::string body) : status_(status), body_(std::move(body)) {}
    net::TransportResult send(const net::HttpRequest& req, net::BodySink& sink, const CancelToken*) override {
        last_url = req.url;
        net::TransportResult r;
        r.request_sent = r.response_started = true;
        r.http_status = status_;
        sink.on_status(status_, {{"Content-Type", "application/json; charset=UTF-8"}});
        for (std::size_t at = 0; at < body_.size(); at += 65536) {
            std::size_t n = std::min<std::size_t>(65536, body_.size() - at);
            if (!sink.on_body(body_.data() + at, n)) {
                r.error = net::TransportErrorKind::Aborted;
                return r;
            }
            r.bytes_received += n;
        }
        return r;
    }
    std::string last_url;

private:
    int status_;
    std::string body_;
};

Options canned(std::shared_ptr<net::Transport> t) {
    Options o;
    o.api_key = "unit-test-key-0001";
    o.base_url = "http://127.0.0.1:9";
    o.transport = std::move(t);
    o.clock = std::make_shared<FakeClock>();
    return o;
}

}  // namespace

TEST_CASE("batch client: a finished job's Operation may be as large as its results", "[batch]") {
    // Three answers with a ~4 MB noisy PNG each: the Operation is over 16 MiB.
    auto png = image_test::png_of(image_test::noisy(1200, 1200, 3, {128, 128, 128, 255}, 120));
    json response = image_response();
    response["candidates"][0]["content"]["parts"][1]["inlineData"]["data"] = api::base64_encode(png.data(), png.size());
    json items = json::array();
    for (const char* key : {"a", "b", "c"}) items.push_back({{"response", response}, {"metadata", {{"key", key}}}});
    json op = {{"name", "batches/big"},
               {"done", true},
               {"metadata", {{"state", "BATCH_STATE_SUCCEEDED"}, {"batchStats", {{"requestCount", "3"}}}}},
               {"response", {{"inlinedResponses", {{"inlinedResponses", items}}}}}};
    const std::string text = op.dump();
    REQUIRE(text.size() > (16u << 20));
    auto transport = std::make_shared<CannedTransport>(200, text);
    BatchClient bc(canned(transport));
    batch::Job job = bc.get("batches/big");
    CHECK(transport->last_url == "http://127.0.0.1:9/v1beta/batches/big");
    CHECK(job.state == State::Succeeded);
    auto results = bc.results(job);
    REQUIRE(results.size() == 3);
    CHECK(results[2].key == "c");
    REQUIRE(results[2].diagnosis.code == Status::OK);
    CHECK(results[2].result->images[0].width == 1200);

    auto small = canned(transport);
    small.max_body_bytes = 1u << 20;
    BatchClient capped(small);
    try {
        capped.get("batches/big");
        FAIL("over the cap");
    } catch (const Error& e) {
        CHECK(e.code() == Status::BAD_RESPONSE);
        CHECK(e.diagnosis().reason == "BODY_TOO_LARGE");
        CHECK_THAT(e.diagnosis().message, Catch::Contains("1048576 bytes"));
        CHECK_THAT(e.diagnosis().advice, Catch::Contains("max_body_bytes"));
    }
}

TEST_CASE("batch client: HTTP failures read as online errors, with batch advice for unknown jobs", "[batch]") {
    auto missing = std::make_shared<CannedTransport>(
        404, R"({"error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND"}})");
    BatchClient bc(canned(missing));
    try {
        bc.cancel("batches/gone");
        FAIL("404");
    } catch (const Error& e) {
        CHECK(e.code() == Status::INVALID_ARG);
        CHECK(e.diagnosis().reason == "NOT_FOUND");
        CHECK_THAT(e.diagnosis().message, Catch::Contains("batches/gone"));
        CHECK_THAT(e.diagnosis().advice, Catch::Contains("listing this key's batches"));
    }
    auto overloaded = std::make_shared<CannedTransport>(
        503, R"({"error": {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}})");
    BatchClient busy(canned(overloaded));
    try {
        busy.list();
        FAIL("503");
    } catch (const Error& e) {
        CHECK(e.code() == Status::UNAVAILABLE);
        CHECK_THAT(e.diagnosis().message, Catch::StartsWith("listing batches: "));
        CHECK_FALSE(e.diagnosis().advice.empty());
    }
}
