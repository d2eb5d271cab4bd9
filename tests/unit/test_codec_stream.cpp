// ReplyDecoder framing: one JSON object, a JSON array of responses, SSE (every tolerated
// spelling); decoding that must not depend on how the bytes are chunked; and every malformed or
// oversized body ending in a clear error.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "test_codec_util.hpp"

using namespace nbcore;
using namespace codec_test;
using api::Framing;

namespace {

const std::string kImgA = random_bytes(5000, 11);
const std::string kImgB = random_bytes(1999, 12);

std::string image_chunk(const std::string& raw, bool thought, const char* signature = "") {
    std::string part = R"({"inlineData":{"mimeType":"image/png","data":")" + b64(raw) + "\"}";
    if (thought) part += R"(,"thought":true)";
    if (*signature) part += R"(,"thoughtSignature":")" + std::string(signature) + "\"";
    part += "}";
    return R"({"candidates":[{"content":{"role":"model","parts":[)" + part +
           R"(]},"index":0}],"modelVersion":"gemini-3-pro-image-preview","responseId":"r1"})";
}

std::string text_chunk(const char* text, bool thought) {
    return std::string(R"({"candidates":[{"content":{"role":"model","parts":[{"text":)") +
           nlohmann::json(text).dump() + (thought ? R"(,"thought":true)" : "") +
           R"(}]},"index":0}],"usageMetadata":{"promptTokenCount":9,"totalTokenCount":9},"modelVersion":"gemini-3-pro-image-preview","responseId":"r1"})";
}

const std::string kFinalChunk =
    R"({"candidates":[{"content":{"role":"model","parts":[{"text":""}]},"finishReason":"STOP","index":0}],)"
    R"("usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":1120,"thoughtsTokenCount":88,"totalTokenCount":1217},)"
    R"("modelVersion":"gemini-3-pro-image-preview","responseId":"r1"})";

// A Pro stream: thought text, an interim thought image, signed text, the final image, the end.
std::vector<std::string> pro_stream_chunks() {
    return {text_chunk("**Planning**", true), image_chunk(kImgB, true),
            text_chunk("Here it is.", false), image_chunk(kImgA, false, "c2ln"), kFinalChunk};
}

std::string sse(const std::vector<std::string>& events, const char* eol = "\n") {
    std::string out;
    for (const auto& e : events) out += "data: " + e + eol + eol;
    return out;
}

void require_pro_stream(const Decoded& d) {
    INFO(d.error);
    REQUIRE(d.ok);
    const Reply& r = d.reply;
    REQUIRE(r.chunks == 5);
    REQUIRE(r.thought_text == "**Planning**");
    REQUIRE(r.text == "Here it is.");
    REQUIRE(r.thought_images.size() == 1);
    REQUIRE(image_text(r.thought_images[0]) == kImgB);
    REQUIRE(r.images.size() == 1);
    REQUIRE(image_text(r.images[0]) == kImgA);
    REQUIRE(r.images[0].thought_signature == "c2ln");
    REQUIRE(r.finish_reason == "STOP");
    REQUIRE(r.usage.candidates_tokens == 1120);   // the last usage wins
    REQUIRE(r.usage.thoughts_tokens == 88);
    REQUIRE(r.response_id == "r1");
    REQUIRE_FALSE(r.error);
}

// Bodies whose decode must not depend on chunking (the chunk-size property test runs them all).
struct Fixture {
    std::string name;
    std::string body;
    Framing framing = Framing::Auto;
};

std::vector<Fixture> fixtures() {
    auto chunks = pro_stream_chunks();
    std::vector<Fixture> f;
    f.push_back({"single JSON object", image_chunk(kImgA, false, "c2ln")});
    f.push_back({"SSE LF", sse(chunks)});
    f.push_back({"SSE CRLF", sse(chunks, "\r\n")});
    f.push_back({"SSE CR", sse(chunks, "\r")});
    f.push_back({"JSON array", "[" + chunks[0] + ",\r\n" + chunks[1] + " , " + chunks[3] + "]"});
    f.push_back({"SSE with comments, event/id fields, multi-line data, bare error",
                 ": keep-alive\nevent: message\nid: 1\ndata: " + chunks[0] + "\n\ndata:{\"candidates\":\ndata: [" +
                     R"({"content":{"parts":[{"text":"more"}]}}]})" + "\nretry: 10\n\n" +
                     R"({"error": {"code": 500, "message": "An internal error has occurred.", "status": "INTERNAL"}})" +
                     "\n"});
    f.push_back({"escaped slashes", substitute(image_chunk(std::string(300, '\xFF'), false), "/", "\\/")});
    f.push_back({"pretty-printed error", "{\n  \"error\": {\n    \"code\": 429,\n    \"message\": \"x\",\n"
                                         "    \"status\": \"RESOURCE_EXHAUSTED\"\n  }\n}\n"});
    f.push_back({"HTML page", "<!DOCTYPE html>\n<html lang=en>\n<title>Error 502 (Server Error)!!1</title>\n"});
    f.push_back({"truncated image", image_chunk(kImgA, false).substr(0, 3000)});
    f.push_back({"bad base64", substitute(image_chunk(kImgB, false), "\"data\":\"", "\"data\":\"AB*D")});
    return f;
}

}  // namespace

TEST_CASE("SSE stream of several chunks merges in order", "[codec][sse]") {
    require_pro_stream(decode(sse(pro_stream_chunks())));
    require_pro_stream(decode(sse(pro_stream_chunks()), 0, Framing::Sse));
}

TEST_CASE("SSE delimiters: LF, CRLF, CR, and a stream without a final blank line", "[codec][sse]") {
    auto chunks = pro_stream_chunks();
    for (const char* eol : {"\n", "\r\n", "\r"}) {
        INFO("eol " << nlohmann::json(eol).dump());
        require_pro_stream(decode(sse(chunks, eol)));
        std::string unterminated = sse(chunks, eol);
        unterminated.resize(unterminated.size() - 2 * std::strlen(eol));   // ends right after the JSON
        require_pro_stream(decode(unterminated));
    }
}

TEST_CASE("SSE: data without a space, multi-line data, comments and other fields", "[codec][sse]") {
    std::string body = ": comment first\r\nevent: message\r\nid: 7\r\nretry: 3000\r\n"
                       "data:{\"candidates\":[{\"content\":{\"parts\":[\r\n"
                       "data: {\"text\":\"joined\"}]}}]}\r\n\r\n"
                       ": ping\r\n\r\n"
                       "data: {\"candidates\":[{\"finishReason\":\"STOP\"}]}\r\n\r\n";
    Decoded d = decode(body);
    INFO(d.error);
    REQUIRE(d.ok);
    REQUIRE(d.reply.text == "joined");
    REQUIRE(d.reply.finish_reason == "STOP");
    REQUIRE(d.reply.chunks == 2);
}

TEST_CASE("SSE: a bare JSON error line mid-stream is recorded, images kept", "[codec][sse]") {
    auto chunks = pro_stream_chunks();
    std::string body = "data: " + chunks[3] + "\n\n" +
                       R"({"error": {"code": 500, "message": "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting", "status": "INTERNAL"}})" +
                       "\n";
    Decoded d = decode(body);
    INFO(d.error);
    REQUIRE(d.ok);
    REQUIRE(image_text(d.reply.images.at(0)) == kImgA);
    REQUIRE(d.reply.error);
    REQUIRE(d.reply.error->code == 500);
    REQUIRE(d.reply.error->status == "INTERNAL");
    REQUIRE(d.reply.chunks == 2);

    // The same error right after a data line (no blank line between) and pretty-printed.
    std::string pretty = "data: " + chunks[3] + "\n{\n  \"error\": {\"code\": 503, \"status\": \"UNAVAILABLE\"}\n}\n";
    Decoded p = decode(pretty);
    INFO(p.error);
    REQUIRE(p.ok);
    REQUIRE(p.reply.images.size() == 1);
    REQUIRE(p.reply.error->code == 503);
}

TEST_CASE("SSE: last non-empty finishReason and model fields win", "[codec][sse]") {
    std::string body = sse({R"({"candidates":[{"finishReason":"MAX_TOKENS","finishMessage":"first"}],"modelVersion":"a"})",
                            R"({"candidates":[{"finishReason":"IMAGE_OTHER","finishMessage":"second"}]})",
                            R"({"candidates":[{"content":{"parts":[{"text":"tail"}]}}],"modelVersion":"b"})"});
    Decoded d = decode(body);
    REQUIRE(d.ok);
    REQUIRE(d.reply.finish_reason == "IMAGE_OTHER");
    REQUIRE(d.reply.finish_message == "second");
    REQUIRE(d.reply.model_version == "b");
    REQUIRE(d.reply.text == "tail");
}

TEST_CASE("SSE image event is one multi-megabyte line", "[codec][sse]") {
    std::string big = random_bytes(6 << 20, 99);
    std::string body = sse({image_chunk(big, false), kFinalChunk});
    REQUIRE(body.size() > 8u << 20);
    for (std::size_t chunk : {std::size_t(0), std::size_t(65536), std::size_t(16384 + 1)}) {
        Decoded d = decode(body, chunk, Framing::Sse);
        INFO(d.error);
        REQUIRE(d.ok);
        REQUIRE(d.reply.images.at(0).data->size() == big.size());
        REQUIRE(image_text(d.reply.images[0]) == big);
        // Reserved from the body-size hint and trimmed: capacity stays near the image size.
        REQUIRE(d.reply.images[0].data->capacity() < big.size() + 8192);
        REQUIRE(d.skeleton.size() < 1024);
    }
    // Without a size hint the Blob grows in steps (by mremap) and is trimmed at the end.
    Decoded d = decode(body, 65536, Framing::Auto, {}, /*hint=*/false);
    REQUIRE(d.ok);
    REQUIRE(image_text(d.reply.images.at(0)) == big);
    REQUIRE(d.reply.images[0].data->capacity() < big.size() + 8192);
}

TEST_CASE("JSON array stream: elements merge, an error element is kept", "[codec][array]") {
    auto chunks = pro_stream_chunks();
    std::string body = "[" + chunks[0] + "\n,\n" + chunks[1] + ",\n" + chunks[2] + "," + chunks[3] + "," +
                       chunks[4] + "]\n";
    require_pro_stream(decode(body));
    require_pro_stream(decode(body, 0, Framing::Json));

    Decoded err = decode("[" + chunks[3] + R"(,{"error":{"code":503,"message":"overloaded","status":"UNAVAILABLE"}}])");
    REQUIRE(err.ok);
    REQUIRE(err.reply.images.size() == 1);
    REQUIRE(err.reply.error->code == 503);

    Decoded empty = decode("[]");
    REQUIRE(empty.ok);
    REQUIRE(empty.reply.chunks == 0);
}

TEST_CASE("decoding does not depend on chunking", "[codec][property]") {
    for (const auto& fx : fixtures()) {
        INFO(fx.name);
        Decoded whole = decode(fx.body, 0, fx.framing);
        std::string expect = dump(whole.reply);
        // Every chunk size from 1 byte up to 64 (and a few bigger ones), so that every boundary
        // lands inside every token: "data:", CRLF, escapes, base64 quanta, keys.
        std::vector<std::size_t> sizes;
        for (std::size_t s = 1; s <= 64; ++s) sizes.push_back(s);
        for (std::size_t s : {97, 256, 1000, 4096, 65536}) sizes.push_back(s);
        for (std::size_t s : sizes) {
            INFO("chunk " << s);
            Decoded part = decode(fx.body, s, fx.framing);
            REQUIRE(part.ok == whole.ok);
            REQUIRE(part.error == whole.error);
            REQUIRE(part.skeleton == whole.skeleton);
            REQUIRE(dump(part.reply) == expect);
        }
    }
}

TEST_CASE("small bodies decode the same at every chunk size", "[codec][property]") {
    auto f = fixtures();
    for (const auto& fx : f) {
        if (fx.body.size() > 1200) continue;
        INFO(fx.name);
        Decoded whole = decode(fx.body, 0, fx.framing);
        for (std::size_t s = 1; s <= fx.body.size(); ++s) {
            Decoded part = decode(fx.body, s, fx.framing);
            REQUIRE(part.ok == whole.ok);
            REQUIRE(dump(part.reply) == dump(whole.reply));
        }
    }
}

// --- malformed bodies ---------------------------------------------------------------------------

TEST_CASE("an HTML 502 page is not JSON, and its first 64 KiB are kept verbatim", "[codec][malformed]") {
    std::string page =
        "<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n"
        "  <title>Error 502 (Server Error)!!1</title>\n"
        "  <p><b>502.</b> <ins>That\xE2\x80\x99s an error.</ins>\n"
        "  <p>The server encountered a temporary error and could not complete your request.<p>Please try again in 30 seconds.  <ins>That\xE2\x80\x99s all we know.</ins>\n";
    for (Framing f : {Framing::Auto, Framing::Json, Framing::Sse}) {
        Decoded d = decode(page, 7, f);
        REQUIRE_FALSE(d.ok);
        REQUIRE(d.error == "not JSON: starts with '<!DOCTYPE html>'");
        REQUIRE(d.skeleton == page);
        REQUIRE_FALSE(d.over_limit);
    }
    // A large page: only the first 64 KiB are kept, and feeding stops being useful after that.
    std::string big = page + std::string(200000, 'x');
    api::ReplyDecoder dec;
    bool accepted = true;
    std::size_t fed = 0;
    while (accepted && fed < big.size()) {
        accepted = dec.feed(big.data() + fed, 1000);
        fed += 1000;
    }
    REQUIRE_FALSE(accepted);
    REQUIRE(fed < 70000);
    REQUIRE_FALSE(dec.finish());
    REQUIRE(dec.skeleton() == big.substr(0, 65536));
    REQUIRE(dec.error() == "not JSON: starts with '<!DOCTYPE html>'");

    Decoded text = decode("upstream connect error or disconnect/reset before headers");
    REQUIRE(text.error == "not JSON: starts with 'upstream connect error or disconnect/reset before headers'");
    Decoded colon = decode("error: code=502\n");
    REQUIRE(colon.error == "not JSON: starts with 'error: code=502'");
    REQUIRE(colon.skeleton == "error: code=502\n");
}

TEST_CASE("malformed bodies end in a clear error", "[codec][malformed]") {
    const std::string img = image_chunk(kImgA, false);
    struct Bad {
        const char* name;
        std::string body;
        const char* error_start;
        Framing framing = Framing::Auto;
    };
    const std::vector<Bad> bads = {
        {"empty body", "", "empty body"},
        {"only whitespace", " \r\n\t ", "empty body (only whitespace)"},
        {"truncated object", R"({"candidates": [{"finishReason": "STOP")", "truncated JSON: the body ended inside an object"},
        {"truncated string", R"({"candidates": [{"finishReason": "STO)", "truncated JSON: the body ended inside a string"},
        {"truncated base64", img.substr(0, 2000), "truncated JSON: the body ended inside inlineData.data of image #0"},
        {"base64 ends mid-quantum", R"({"candidates":[{"content":{"parts":[{"inlineData":{"mimeType":"image/png","data":"QUJDR"}}]}}]})",
         "invalid base64 in inlineData.data of image #0: the data ends in the middle of a quantum"},
        {"partial padding", R"({"candidates":[{"content":{"parts":[{"inlineData":{"data":"QQ="}}]}}]})",
         "invalid base64 in inlineData.data of image #0: the data ends in the middle of a quantum"},
        {"garbage base64", substitute(img, "\"data\":\"", "\"data\":\"QUJDAB*D"), "invalid base64 in inlineData.data of image #0 after 3 decoded bytes"},
        {"whitespace inside base64", substitute(img, "\"data\":\"", "\"data\":\"QUJD RA=="), "invalid base64"},
        {"escaped newline in base64", substitute(img, "\"data\":\"", "\"data\":\"QUJD\\n"), "invalid escape '\\n' in inlineData.data"},
        {"escaped quote in base64", substitute(img, "\"data\":\"", "\"data\":\"QU\\\""), "invalid escape '\\\"' in inlineData.data"},
        {"data after padding", substitute(img, "\"data\":\"", "\"data\":\"QQ==QUJD"), "invalid base64"},
        {"missing colon", R"({"candidates" []})", "malformed JSON: [json.exception.parse_error.101]"},
        {"bad literal", R"({"candidates": nul})", "malformed JSON:"},
        {"bad escape in text", R"({"text": "\q"})", "malformed JSON:"},
        {"raw control character", "{\"text\": \"a\x01\"}", "malformed JSON:"},
        {"mismatched bracket", R"({"candidates": [}])", "malformed JSON: unexpected '}' at byte 16"},
        {"trailing garbage", R"({"candidates": []} xyz)", "trailing data after the JSON value at byte 19: 'x'"},
        {"two objects", R"({} {})", "trailing data after the JSON value at byte 3"},
        {"top-level string", R"("hello")", "not JSON: starts with '\"hello\"'"},
        {"top-level number", "42", "not JSON: starts with '42'"},
        {"array of numbers", "[1, 2]", "malformed JSON array: expected an object at byte 1, found '1'"},
        {"array missing comma", R"([{} {}])", "malformed JSON array: expected ',' or ']' at byte 4"},
        {"truncated array", R"([{"candidates": []},)", "truncated JSON array: the body ended between elements"},
        {"SSE forced on HTML", "<html>", "not JSON: starts with '<html>'", Framing::Sse},
        {"JSON forced on SSE", "data: {}\n\n", "not JSON: starts with 'data: {}'", Framing::Json},
        {"SSE data not JSON", "data: hello\n\n", "SSE data is not JSON at byte 6: 'h'"},
        {"SSE truncated event", "data: {\"candidates\": [\n\n", "truncated JSON: an SSE event ended inside an array"},
        {"SSE truncated at end", "data: {\"candidates\": [", "truncated JSON: an SSE event ended inside an array"},
        {"SSE truncated bare JSON", "data: {}\n\n{\"error\": {", "truncated JSON: the body ended inside an object"},
        {"SSE two values in one event", "data: {}\ndata: {}\n\n", "SSE: an event carries more than one JSON value"},
        {"SSE no events", ": ping\n\n: ping\n\n", "SSE stream carried no JSON events"},
        {"SSE garbage line", "data: {}\n\n<html>\n", "SSE: unexpected line at byte 10: starts with '' then '<'"},
        {"SSE junk after bare JSON", "data: {}\n\n{} x\n", "SSE: unexpected data after a JSON line at byte 13"},
        {"SSE malformed event", "data: {\"a\" 1}\n\n", "malformed JSON:"},
        {"not an object in SSE", "data: [1]\n\n", "expected a JSON object in the reply array, got number"},
    };
    for (const auto& bad : bads) {
        INFO(bad.name << ": " << bad.body.substr(0, 80));
        Decoded d = decode(bad.body, 0, bad.framing);
        INFO(d.error);
        REQUIRE_FALSE(d.ok);
        REQUIRE(d.error.rfind(bad.error_start, 0) == 0);
        REQUIRE_FALSE(d.over_limit);
        // Chunked feeding gives the same verdict.
        Decoded c = decode(bad.body, 3, bad.framing);
        REQUIRE_FALSE(c.ok);
        REQUIRE(c.error == d.error);
    }
}

TEST_CASE("nesting deeper than 512 levels is refused, not recursed into", "[codec][malformed]") {
    std::string deep = "{\"a\":" + std::string(100000, '[');
    Decoded d = decode(deep);
    REQUIRE_FALSE(d.ok);
    REQUIRE(d.error == "JSON nested deeper than 512 levels");
}

TEST_CASE("a failed decode keeps what was merged before the failure", "[codec][malformed]") {
    auto chunks = pro_stream_chunks();
    std::string body = sse({chunks[3]}) + "data: {\"candidates\": [{\"content\": {\"parts\": [{\"inlineData\": {\"data\": \"QUJD";
    Decoded d = decode(body);
    REQUIRE_FALSE(d.ok);
    REQUIRE(d.error.rfind("truncated JSON: an SSE event ended inside inlineData.data of image #1 (3 bytes decoded)", 0) == 0);
    REQUIRE(image_text(d.reply.images.at(0)) == kImgA);
}

TEST_CASE("feeding after finish is an error, and finish is idempotent", "[codec][malformed]") {
    api::ReplyDecoder dec;
    REQUIRE(dec.feed("{}"));
    REQUIRE(dec.finish());
    REQUIRE(dec.finish());
    REQUIRE_FALSE(dec.feed("{}"));
    REQUIRE(dec.error() == "data fed after finish()");
}

// --- limits -------------------------------------------------------------------------------------

TEST_CASE("a body over max_body_bytes stops the decoder", "[codec][limits]") {
    api::DecodeLimits limits;
    limits.max_body_bytes = 10000;
    std::string body = image_chunk(kImgA, false);   // ~6.8 KB of base64 plus JSON
    REQUIRE(decode(body, 1000, Framing::Auto, limits).ok);

    std::string bigger = image_chunk(random_bytes(9000, 5), false);
    Decoded d = decode(bigger, 1000, Framing::Auto, limits);
    REQUIRE_FALSE(d.ok);
    REQUIRE_FALSE(d.fed_ok);
    REQUIRE(d.over_limit);
    REQUIRE(d.error == "reply body is over the limit max_body_bytes = 10000 bytes (11000 bytes received)");
}

TEST_CASE("JSON outside image data over max_skeleton_bytes stops the decoder", "[codec][limits]") {
    api::DecodeLimits limits;
    limits.max_skeleton_bytes = 4096;
    // Images do not count toward the skeleton...
    REQUIRE(decode(image_chunk(kImgA, false), 512, Framing::Auto, limits).ok);
    // ...text does.
    std::string text(5000, 'a');
    std::string body = R"({"candidates":[{"content":{"parts":[{"text":")" + text + R"("}]}}]})";
    Decoded d = decode(body, 512, Framing::Auto, limits);
    REQUIRE_FALSE(d.ok);
    REQUIRE_FALSE(d.fed_ok);
    REQUIRE(d.over_limit);
    REQUIRE(d.error.rfind("reply JSON outside image data is over the limit max_skeleton_bytes = 4096 bytes", 0) == 0);
    // Across SSE events the total counts.
    std::vector<std::string> events(40, text_chunk("0123456789012345678901234567890123456789", false));
    Decoded s = decode(sse(events), 0, Framing::Auto, limits);
    REQUIRE(s.over_limit);
}

TEST_CASE("decode_reply decodes a whole body and reports errors", "[codec]") {
    Reply r;
    std::string err;
    REQUIRE(api::decode_reply(image_chunk(kImgA, false, "c2ln"), r, err));
    REQUIRE(err.empty());
    REQUIRE(image_text(r.images.at(0)) == kImgA);
    REQUIRE_FALSE(api::decode_reply("{", r, err));
    REQUIRE(err == "truncated JSON: the body ended inside an object");
    REQUIRE(api::decode_reply(sse(pro_stream_chunks()), r, err, Framing::Sse));
    REQUIRE(r.chunks == 5);
}

TEST_CASE("a UTF-8 byte order mark before the body is skipped", "[codec]") {
    Decoded d = decode("\xEF\xBB\xBF{\"responseId\":\"x\"}");
    REQUIRE(d.ok);
    REQUIRE(d.reply.response_id == "x");
}

TEST_CASE("mutated bodies never crash and decode the same whatever the chunking", "[codec][property]") {
    // Random byte flips, insertions and deletions of the fixtures: the decoder must always come to
    // a verdict, and the verdict must not depend on how the bytes were split.
    std::mt19937 gen(4242);
    const char interesting[] = "{}[]\",:\\/ \r\n=#adtAZ09+";
    for (const auto& fx : fixtures()) {
        for (int round = 0; round < 60; ++round) {
            std::string body = fx.body;
            int edits = 1 + static_cast<int>(gen() % 4);
            for (int e = 0; e < edits && !body.empty(); ++e) {
                std::size_t at = gen() % body.size();
                char c = (gen() % 2) ? interesting[gen() % (sizeof interesting - 1)] : static_cast<char>(gen());
                switch (gen() % 3) {
                    case 0: body[at] = c; break;
                    case 1: body.insert(body.begin() + static_cast<long>(at), c); break;
                    default: body.erase(at, 1 + gen() % 8); break;
                }
            }
            Decoded whole = decode(body, 0, fx.framing);
            std::size_t chunk = 1 + gen() % 97;
            Decoded part = decode(body, chunk, fx.framing);
            INFO(fx.name << " round " << round << " chunk " << chunk);
            REQUIRE(part.ok == whole.ok);
            REQUIRE(part.error == whole.error);
            REQUIRE(dump(part.reply) == dump(whole.reply));
            if (!whole.ok) REQUIRE_FALSE(whole.error.empty());
        }
    }
}
