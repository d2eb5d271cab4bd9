// The Batch API and the Files API over loopback: inline and file jobs through their states, per-entry
// faults from the script, results inline and as a downloadable JSONL file, list / cancel / delete,
// scripted FAILED / CANCELLED / EXPIRED ends, and the errors for malformed calls.
#include <catch2/catch.hpp>

#include <chrono>

#include "common.hpp"
#include "nbcore_emulator/emulator.hpp"

using namespace emutest;
using namespace std::chrono;

namespace {

json body_json(const HttpResult& r) {
    INFO("status " << r.status << ", body: " << r.body.substr(0, 600));
    return json::parse(r.body);
}

json inline_entry(const std::string& key, const json& request) {
    return {{"request", request}, {"metadata", {{"key", key}}}};
}

json inline_batch(const std::string& name, const std::vector<json>& entries) {
    return {{"batch", {{"displayName", name}, {"inputConfig", {{"requests", {{"requests", entries}}}}}}}};
}

struct Batches {
    const Emulator& emu;
    std::string key_header = kKeyHeader;

    HttpResult create(const std::string& model, const json& body) const {
        return post(emu.url("/v1beta/models/" + model + ":batchGenerateContent"), body.dump(),
                    {key_header, "Content-Type: application/json"});
    }
    HttpResult get_op(const std::string& name) const { return get(emu.url("/v1beta/" + name), {key_header}); }
    json op(const std::string& name) const {
        auto r = get_op(name);
        REQUIRE(r.status == 200);
        return body_json(r);
    }
    HttpResult cancel(const std::string& name) const { return post(emu.url("/v1beta/" + name + ":cancel"), "", {key_header}); }
    HttpResult remove(const std::string& name) const {
        return send({"DELETE", emu.url("/v1beta/" + name), "", {key_header}});
    }
    HttpResult list(const std::string& query = "") const { return get(emu.url("/v1beta/batches" + query), {key_header}); }

    // The resumable upload protocol: start, then one upload-and-finalize.
    json upload(const std::string& data, const std::string& display_name, const std::string& mime = "application/jsonl") const {
        auto start = send({"POST", emu.url("/upload/v1beta/files"), json{{"file", {{"displayName", display_name}}}}.dump(),
                           {key_header, "X-Goog-Upload-Protocol: resumable", "X-Goog-Upload-Command: start",
                            "X-Goog-Upload-Header-Content-Length: " + std::to_string(data.size()),
                            "X-Goog-Upload-Header-Content-Type: " + mime, "Content-Type: application/json"}});
        REQUIRE(start.status == 200);
        CHECK(start.header("x-goog-upload-status") == "active");
        const std::string url = start.header("x-goog-upload-url");
        REQUIRE_THAT(url, Catch::StartsWith(emu.server.url() + "/upload/v1beta/files?upload_id="));
        auto done = send({"POST", url, data, {"X-Goog-Upload-Command: upload, finalize", "X-Goog-Upload-Offset: 0"}});
        REQUIRE(done.status == 200);
        CHECK(done.header("x-goog-upload-status") == "final");
        return body_json(done)["file"];
    }
};

const json& inlined(const json& op) { return op["metadata"]["output"]["inlinedResponses"]["inlinedResponses"]; }

std::vector<json> jsonl(const std::string& text) {
    std::vector<json> out;
    std::size_t from = 0;
    while (from < text.size()) {
        auto end = text.find('\n', from);
        if (end == std::string::npos) end = text.size();
        if (end > from) out.push_back(json::parse(text.substr(from, end - from)));
        from = end + 1;
    }
    return out;
}

}  // namespace

TEST_CASE("batch: an inline job goes PENDING, RUNNING, SUCCEEDED over batch_ms", "[batch]") {
    auto clock = std::make_shared<nbcore::FakeClock>();
    Emulator emu([&](auto& o) { o.batch_ms = 1000; o.clock = clock; });
    Batches b{emu};
    auto created = b.create(kFlash, inline_batch("three cats", {inline_entry("a", prompt_body("a red cat")),
                                                                inline_entry("b", prompt_body("a blue cat")),
                                                                inline_entry("c", prompt_body("a green cat"))}));
    REQUIRE(created.status == 200);
    json op = body_json(created);
    const std::string name = op["name"].get<std::string>();
    CHECK_THAT(name, Catch::Matches("batches/[a-z0-9]{36}"));
    const json& md = op["metadata"];
    CHECK(md["@type"] == "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch");
    CHECK(md["model"] == "models/gemini-2.5-flash-image");
    CHECK(md["displayName"] == "three cats");
    CHECK(md["state"] == "BATCH_STATE_PENDING");
    CHECK(md["name"] == name);
    CHECK(md["batchStats"] == json{{"requestCount", "3"}, {"pendingRequestCount", "3"}});
    CHECK(md["createTime"] == md["updateTime"]);
    CHECK_FALSE(op.contains("done"));
    CHECK_FALSE(md.contains("inputConfig"));

    clock->advance(milliseconds(499));
    CHECK(b.op(name)["metadata"]["state"] == "BATCH_STATE_PENDING");
    clock->advance(milliseconds(1));
    json running = b.op(name);
    CHECK(running["metadata"]["state"] == "BATCH_STATE_RUNNING");
    CHECK(running["metadata"]["updateTime"] != running["metadata"]["createTime"]);
    clock->advance(milliseconds(499));
    CHECK(b.op(name)["metadata"]["state"] == "BATCH_STATE_RUNNING");
    clock->advance(milliseconds(1));

    json done = b.op(name);
    CHECK(done["done"] == true);
    CHECK(done["metadata"]["state"] == "BATCH_STATE_SUCCEEDED");
    CHECK(done["metadata"]["batchStats"] == json{{"requestCount", "3"}, {"successfulRequestCount", "3"}});
    CHECK(done["metadata"].contains("endTime"));
    CHECK(done["response"]["@type"] == "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput");
    CHECK(done["response"]["inlinedResponses"] == done["metadata"]["output"]["inlinedResponses"]);
    const json& items = inlined(done);
    REQUIRE(items.size() == 3);
    const char* keys[] = {"a", "b", "c"};
    for (std::size_t i = 0; i < 3; ++i) {
        CHECK(items[i]["metadata"]["key"] == keys[i]);
        const json& response = items[i]["response"];
        CHECK(response["modelVersion"] == kFlash);
        CHECK(response["candidates"][0]["finishReason"] == "STOP");
        auto info = image_info(first_image_bytes(response));
        CHECK(info.decodes);
        CHECK(info.width == 1024);
    }
    // The same results on every read; they differ per entry.
    CHECK(inlined(b.op(name)) == items);
    CHECK(first_image_bytes(items[0]["response"]) != first_image_bytes(items[1]["response"]));
}

TEST_CASE("batch: script replies apply to entries in order; bad entries fail alone", "[batch]") {
    auto clock = std::make_shared<nbcore::FakeClock>();
    Emulator emu([&](auto& o) { o.batch_ms = 10; o.clock = clock; });
    Batches b{emu};
    emu.server.set_script(R"({"replies": ["pass", "image_safety", "no_image", "500", "prompt_blocked_safety", "rpm_429"]})");
    json bad = prompt_body("a dog", {{"imageConfig", {{"aspectRatio", "7:3"}}}});
    auto created = b.create(kPro, inline_batch("faults", {inline_entry("ok", prompt_body("a dog")),
                                                          inline_entry("unsafe", prompt_body("a dog")),
                                                          inline_entry("none", prompt_body("a dog")),
                                                          inline_entry("broken", prompt_body("a dog")),
                                                          inline_entry("blocked", prompt_body("a dog")),
                                                          inline_entry("limited", prompt_body("a dog")),
                                                          inline_entry("bad", bad)}));
    REQUIRE(created.status == 200);
    // The script was taken by the batch as one block: online requests answer normally.
    CHECK(emu.generate(kPro, prompt_body("online")).status == 200);
    clock->advance(milliseconds(10));
    json done = b.op(body_json(created)["name"].get<std::string>());
    CHECK(done["metadata"]["batchStats"] ==
          json{{"requestCount", "7"}, {"successfulRequestCount", "4"}, {"failedRequestCount", "3"}});
    const json& items = inlined(done);
    REQUIRE(items.size() == 7);
    CHECK(image_info(first_image_bytes(items[0]["response"])).decodes);
    CHECK(items[1]["response"]["candidates"][0]["finishReason"] == "IMAGE_SAFETY");
    CHECK(items[2]["response"]["candidates"][0]["finishReason"] == "NO_IMAGE");
    CHECK(items[3]["error"] == json{{"code", 13}, {"message", "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting"}});
    CHECK(items[4]["response"]["promptFeedback"]["blockReason"] == "SAFETY");
    CHECK(items[5]["error"]["code"] == 8);
    CHECK(items[5]["error"]["details"].is_array());
    CHECK(items[6]["error"]["code"] == 3);
    CHECK_THAT(items[6]["error"]["message"].get<std::string>(), Catch::Contains("7:3"));
    CHECK(items[6]["metadata"]["key"] == "bad");
}

TEST_CASE("batch: a JSONL file uploaded through the Files API, results as a file", "[batch][files]") {
    auto clock = std::make_shared<nbcore::FakeClock>();
    Emulator emu([&](auto& o) { o.batch_ms = 100; o.clock = clock; });
    Batches b{emu};
    std::string lines = json{{"key", "first"}, {"request", prompt_body("a lighthouse")}}.dump() + "\n" +
                        json{{"key", "second"}, {"request", prompt_body("a castle", {{"imageConfig", {{"aspectRatio", "16:9"}}}})}}.dump() +
                        "\n\n";
    json file = b.upload(lines, "requests.jsonl");
    const std::string file_name = file["name"].get<std::string>();
    CHECK_THAT(file_name, Catch::Matches("files/[a-z0-9]{12}"));
    CHECK(file["displayName"] == "requests.jsonl");
    CHECK(file["mimeType"] == "application/jsonl");
    CHECK(file["sizeBytes"] == std::to_string(lines.size()));
    CHECK(file["state"] == "ACTIVE");
    CHECK(file["source"] == "UPLOADED");
    CHECK(decode_base64(file["sha256Hash"].get<std::string>()).size() == 64);   // base64 of the hex digest
    CHECK(file["uri"] == emu.server.url() + "/v1beta/" + file_name);
    CHECK(body_json(get(emu.url("/v1beta/" + file_name), {kKeyHeader}))["sizeBytes"] == file["sizeBytes"]);
    // Uploads cannot be downloaded.
    CHECK(get(emu.url("/v1beta/" + file_name + ":download?alt=media"), {kKeyHeader}).status == 400);

    json create = {{"batch", {{"display_name", "from a file"}, {"input_config", {{"file_name", file_name}}}}}};
    auto created = b.create(kPro, create);
    REQUIRE(created.status == 200);
    json op = body_json(created);
    const std::string name = op["name"].get<std::string>();
    CHECK(op["metadata"]["inputConfig"]["fileName"] == file_name);
    CHECK(op["metadata"]["batchStats"]["requestCount"] == "2");

    clock->advance(milliseconds(100));
    json done = b.op(name);
    const std::string id = name.substr(8);
    CHECK(done["metadata"]["output"] == json{{"responsesFile", "files/batch-" + id}});
    CHECK(done["response"]["responsesFile"] == "files/batch-" + id);

    auto result_file = body_json(get(emu.url("/v1beta/files/batch-" + id), {kKeyHeader}));
    CHECK(result_file["source"] == "GENERATED");
    auto download = get(emu.url("/download/v1beta/files/batch-" + id + ":download?alt=media"), {kKeyHeader});
    REQUIRE(download.status == 200);
    auto plain = get(emu.url("/v1beta/files/batch-" + id + ":download?alt=media"), {kKeyHeader});
    CHECK(plain.body == download.body);
    auto out = jsonl(download.body);
    REQUIRE(out.size() == 2);
    CHECK(out[0]["key"] == "first");
    CHECK(out[1]["key"] == "second");
    auto wide = image_info(first_image_bytes(out[1]["response"]));
    CHECK(wide.width == 1376);
    CHECK(wide.height == 768);
    CHECK(result_file["sizeBytes"] == std::to_string(download.body.size()));

    // Listed, deleted, gone; files expire after 48 hours.
    auto files = body_json(get(emu.url("/v1beta/files"), {kKeyHeader}));
    CHECK(files["files"].size() == 2);
    CHECK(send({"DELETE", emu.url("/v1beta/files/batch-" + id), "", {kKeyHeader}}).status == 200);
    CHECK(get(emu.url("/v1beta/files/batch-" + id), {kKeyHeader}).status == 403);
    clock->advance(hours(48));
    auto expired = get(emu.url("/v1beta/" + file_name), {kKeyHeader});
    CHECK(expired.status == 403);
    CHECK(body_json(expired)["error"]["message"] ==
          "You do not have permission to access the File " + file_name.substr(6) + " or it may not exist.");
}

TEST_CASE("batch: list, cancel and delete; jobs belong to their key", "[batch]") {
    auto clock = std::make_shared<nbcore::FakeClock>();
    Emulator emu([&](auto& o) { o.api_key = ""; o.batch_ms = 1000; o.clock = clock; });
    Batches b{emu, "x-goog-api-key: batch-owner"};
    Batches other{emu, "x-goog-api-key: someone-else"};
    auto first = body_json(b.create(kFlash, inline_batch("one", {inline_entry("k", prompt_body("x"))})))["name"].get<std::string>();
    auto second = body_json(b.create(kFlash, inline_batch("two", {inline_entry("k", prompt_body("y"))})))["name"].get<std::string>();

    auto listed = body_json(b.list());
    REQUIRE(listed["operations"].size() == 2);
    CHECK(listed["operations"][0]["name"] == second);   // newest first
    CHECK_FALSE(listed.contains("nextPageToken"));
    auto page = body_json(b.list("?pageSize=1"));
    REQUIRE(page["operations"].size() == 1);
    auto rest = body_json(b.list("?pageSize=1&pageToken=" + page["nextPageToken"].get<std::string>()));
    CHECK(rest["operations"][0]["name"] == first);
    CHECK(body_json(other.list()) == json::object());
    CHECK(other.get_op(first).status == 404);
    CHECK(other.cancel(first).status == 404);

    REQUIRE(b.cancel(first).status == 200);
    json cancelled = b.op(first);
    CHECK(cancelled["metadata"]["state"] == "BATCH_STATE_CANCELLED");
    CHECK(cancelled["done"] == true);
    CHECK(cancelled["error"]["code"] == 1);
    CHECK_FALSE(cancelled.contains("response"));
    clock->advance(seconds(2));
    CHECK(b.op(first)["metadata"]["state"] == "BATCH_STATE_CANCELLED");   // stays cancelled
    CHECK(b.cancel(second).status == 200);                                // finished: no change
    CHECK(b.op(second)["metadata"]["state"] == "BATCH_STATE_SUCCEEDED");

    // The list leaves inlined responses out.
    auto after = body_json(b.list());
    CHECK_FALSE(after["operations"][0]["metadata"].contains("output"));
    CHECK(after["operations"][0]["done"] == true);

    CHECK(b.remove(first).status == 200);
    auto gone = b.get_op(first);
    CHECK(gone.status == 404);
    CHECK(body_json(gone)["error"]["status"] == "NOT_FOUND");
    CHECK(b.remove(first).status == 404);
}

TEST_CASE("batch: scripted FAILED, EXPIRED and CANCELLED ends", "[batch]") {
    auto clock = std::make_shared<nbcore::FakeClock>();
    Emulator emu([&](auto& o) { o.batch_ms = 100; o.clock = clock; });
    Batches b{emu};
    emu.server.set_script(R"({"batches": ["failed", "BATCH_STATE_EXPIRED", "cancelled"]})");
    std::vector<std::string> names;
    for (int i = 0; i < 4; ++i)
        names.push_back(body_json(b.create(kFlash, inline_batch("job", {inline_entry("k", prompt_body("x"))})))["name"].get<std::string>());
    clock->advance(milliseconds(50));
    CHECK(b.op(names[0])["metadata"]["state"] == "BATCH_STATE_RUNNING");
    clock->advance(milliseconds(50));
    struct End { const char* state; int code; };
    const End ends[] = {{"BATCH_STATE_FAILED", 13}, {"BATCH_STATE_EXPIRED", 4}, {"BATCH_STATE_CANCELLED", 1}};
    for (int i = 0; i < 3; ++i) {
        json op = b.op(names[static_cast<std::size_t>(i)]);
        CHECK(op["metadata"]["state"] == ends[i].state);
        CHECK(op["done"] == true);
        CHECK(op["error"]["code"] == ends[i].code);
        CHECK_FALSE(op["error"]["message"].get<std::string>().empty());
        CHECK_FALSE(op["metadata"].contains("output"));
    }
    CHECK(b.op(names[3])["metadata"]["state"] == "BATCH_STATE_SUCCEEDED");   // the list ran out
    CHECK_THROWS_WITH(emu.server.set_script(R"({"batches": ["paused"]})"),
                      Catch::Contains("batches[0]: must be \"succeeded\", \"failed\", \"cancelled\" or \"expired\""));
}

TEST_CASE("batch: malformed calls get the API's errors, each saying what to do", "[batch][files]") {
    Emulator emu([](auto& o) { o.batch_ms = 0; });
    Batches b{emu};
    auto error_of = [](const HttpResult& r) { return body_json(r)["error"]; };
    auto entry = inline_entry("k", prompt_body("x"));

    auto no_name = b.create(kFlash, {{"batch", {{"inputConfig", {{"requests", {{"requests", {entry}}}}}}}}});
    CHECK(no_name.status == 400);
    CHECK_THAT(error_of(no_name)["message"].get<std::string>(), Catch::Contains("display_name is required"));
    auto both = b.create(kFlash, {{"batch", {{"displayName", "x"}, {"inputConfig", {{"requests", {{"requests", {entry}}}}, {"fileName", "files/x"}}}}}});
    CHECK(both.status == 400);
    auto missing_file = b.create(kFlash, {{"batch", {{"displayName", "x"}, {"inputConfig", {{"fileName", "files/nothere"}}}}}});
    CHECK(missing_file.status == 400);
    CHECK_THAT(error_of(missing_file)["message"].get<std::string>(), Catch::Contains("Upload the JSONL file"));
    auto stray = b.create(kFlash, {{"batch", {{"displayName", "x"}, {"colour", "red"}, {"inputConfig", {{"requests", {{"requests", {entry}}}}}}}}});
    CHECK(stray.status == 400);
    CHECK_THAT(error_of(stray)["message"].get<std::string>(), Catch::Contains("Unknown name \"colour\""));
    CHECK(b.create(kFlash, inline_batch("empty", {})).status == 400);
    CHECK(b.create("imagen-9", inline_batch("x", {entry})).status == 404);
    CHECK(post(emu.url("/v1beta/models/" + kFlash + ":batchGenerateContent"), inline_batch("x", {entry}).dump()).status == 403);

    // Over 20 MB inline: the API's size error (use a file instead).
    auto huge = b.create(kFlash, inline_batch("huge", {inline_entry("k", prompt_body(std::string(21u << 20, 'a')))}));
    CHECK(huge.status == 400);
    CHECK_THAT(error_of(huge)["message"].get<std::string>(), Catch::StartsWith("Request payload size exceeds the limit"));

    CHECK(b.get_op("batches/doesnotexist").status == 404);

    // Upload protocol mistakes.
    auto not_resumable = send({"POST", emu.url("/upload/v1beta/files"), "data", {kKeyHeader}});
    CHECK(not_resumable.status == 400);
    CHECK_THAT(error_of(not_resumable)["message"].get<std::string>(), Catch::Contains("X-Goog-Upload-Protocol: resumable"));
    auto start = send({"POST", emu.url("/upload/v1beta/files"), "",
                       {kKeyHeader, "X-Goog-Upload-Protocol: resumable", "X-Goog-Upload-Command: start",
                        "X-Goog-Upload-Header-Content-Length: 10"}});
    REQUIRE(start.status == 200);
    const std::string url = start.header("x-goog-upload-url");
    CHECK(send({"POST", url, "12345", {"X-Goog-Upload-Command: upload", "X-Goog-Upload-Offset: 3"}}).status == 400);
    auto part = send({"POST", url, "12345", {"X-Goog-Upload-Command: upload", "X-Goog-Upload-Offset: 0"}});
    CHECK(part.status == 200);
    CHECK(part.header("x-goog-upload-status") == "active");
    auto query = send({"POST", url, "", {"X-Goog-Upload-Command: query"}});
    CHECK(query.header("x-goog-upload-size-received") == "5");
    auto short_file = send({"POST", url, "", {"X-Goog-Upload-Command: finalize"}});
    CHECK(short_file.status == 400);
    CHECK_THAT(error_of(short_file)["message"].get<std::string>(), Catch::Contains("announced 10"));
    auto rest = send({"POST", url, "67890", {"X-Goog-Upload-Command: upload, finalize", "X-Goog-Upload-Offset: 5"}});
    REQUIRE(rest.status == 200);
    CHECK(body_json(rest)["file"]["sizeBytes"] == "10");
    CHECK(send({"POST", url, "", {"X-Goog-Upload-Command: query"}}).status == 404);   // the session is over

    // A JSONL line that is not a request names the line.
    json file = Batches{emu}.upload("{\"key\": \"a\", \"request\": {}}\nnot json\n", "bad.jsonl");
    auto bad_lines = b.create(kFlash, {{"batch", {{"displayName", "x"}, {"inputConfig", {{"fileName", file["name"]}}}}}});
    CHECK(bad_lines.status == 400);
    CHECK_THAT(error_of(bad_lines)["message"].get<std::string>(), Catch::Contains("line 2 is not a JSON object"));
}
