// Writes the fuzzers' seed corpus (tests/fuzz/corpus/<target>/) from the emulator's real answers:
// every named fault that builds a reply, on the unary, SSE and JSON-array routes, plus normal
// Flash (PNG) and Pro (JPEG, with thoughts) answers.
//
//   cmake --build build --target nbcore_fuzz_seeds
//   build/tests/fuzz/nbcore_fuzz_seeds tests/fuzz/corpus
//
// Real answers carry ~1 MP images (60-100 KB of base64); a fuzzer spends its time mutating bytes
// that matter, so every image is shrunk to 32 px before it is written: decoded images are resized
// and re-encoded in their format, and the emulator's damaged payloads (truncated / corrupt PNG,
// corrupt base64) are redone on the small image with the emulator's own damage functions. The
// output is deterministic: the same emulator gives the same files.
#include <curl/curl.h>
#include <stb_image_write.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "../emulator/http_client.hpp"
#include "../../emulator/src/faults.hpp"
#include "nbcore/codec.hpp"
#include "nbcore/image.hpp"
#include "nbcore_emulator/emulator.hpp"

namespace fs = std::filesystem;
namespace image = nbcore::image;

namespace {

constexpr int kSmallSide = 32;
constexpr std::size_t kMinImagePayload = 64;   // shorter "data" strings are not images

// ---- routes and requests --------------------------------------------------------------------

struct Route {
    std::string_view name;     // file name prefix
    std::string_view suffix;   // after models/{model}
};
constexpr Route kRoutes[] = {
    {"unary", ":generateContent"},
    {"sse", ":streamGenerateContent?alt=sse"},
    {"array", ":streamGenerateContent"},
};

constexpr std::string_view kFlash = "gemini-2.5-flash-image";
constexpr std::string_view kPro = "gemini-3-pro-image-preview";

// The normal answers: which model, and whether the model's thinking (thought images) is asked for.
struct NormalAnswer {
    std::string_view name;
    std::string_view model;
    bool thoughts;
};
constexpr NormalAnswer kNormalAnswers[] = {
    {"pass-flash-png", kFlash, false},
    {"pass-pro-jpeg", kPro, false},
    {"pass-pro-thoughts", kPro, true},
};

std::string request_body(bool thoughts) {
    std::string body = R"({"contents":[{"role":"user","parts":[{"text":"a lighthouse at dawn, oil painting"}]}])";
    if (thoughts) body += R"(,"generationConfig":{"thinkingConfig":{"includeThoughts":true}})";
    return body + "}";
}

struct Answer {
    long status = 0;
    std::vector<std::pair<std::string, std::string>> headers;   // in order, names lower-case
    std::string body;
};

// Headers that only describe this connection or this moment; the rest go into the seeds.
bool is_incidental_header(const std::string& name) {
    static const std::set<std::string> kIncidental = {"date", "server-timing", "content-length", "connection",
                                                     "keep-alive"};
    return kIncidental.count(name) > 0;
}

Answer fetch(nbcore::emulator::Server& server, std::string_view model, const Route& route, bool thoughts) {
    emutest::HttpResult r = emutest::post(server.url() + "/v1beta/models/" + std::string(model) + std::string(route.suffix),
                                          request_body(thoughts),
                                          {"x-goog-api-key: test-key", "Content-Type: application/json"});
    if (r.code != CURLE_OK) throw std::runtime_error("request failed: " + r.error);
    Answer a;
    a.status = r.status;
    a.body = r.body;
    for (const auto& [name, value] : r.headers)
        if (!is_incidental_header(name)) a.headers.emplace_back(name, value);
    return a;
}

// ---- small images ---------------------------------------------------------------------------

std::string bytes_of(const nbcore::Blob& b) { return std::string(b.view()); }

std::string to_base64(const std::string& bytes) {
    return nbcore::api::base64_encode(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}

std::optional<std::string> from_base64(std::string_view text) {
    nbcore::api::Base64Decoder dec;
    nbcore::Blob out;
    if (!dec.feed(text.data(), text.size(), out) || !dec.finish(out)) return std::nullopt;
    return bytes_of(out);
}

// Decoded pixels, or nullopt when the bytes do not decode (blank images decode).
std::optional<image::Pixels> decode(const std::string& bytes) {
    image::Pixels px;
    image::Check c = image::check(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), {}, {}, &px);
    if (!c.ok && !c.blank) return std::nullopt;
    return px;
}

image::Pixels shrink(const image::Pixels& px) {
    int longest = std::max(px.width, px.height);
    int w = std::max(1, px.width * kSmallSide / longest);
    int h = std::max(1, px.height * kSmallSide / longest);
    return image::resize(px, w, h);
}

std::string encode_like(const image::Pixels& px, std::string_view mime) {
    return bytes_of(mime == "image/jpeg" ? image::encode_jpeg(px, 85) : image::encode_png(px));
}

// The small stand-ins of the model's images, made once from the normal answers.
struct SmallImages {
    std::string png;    // from Flash's answer
    std::string jpeg;   // from Pro's answer
};

// The emulator's damaged payloads, redone on the small PNG with the emulator's own functions.
std::optional<std::string> damaged_payload(std::string_view fault, const SmallImages& small) {
    namespace emu = nbcore::emulator;
    if (fault == "truncated_png") return to_base64(emu::truncate_png_bytes(small.png));
    if (fault == "corrupt_png") return to_base64(emu::corrupt_png_bytes(small.png));
    if (fault == "corrupt_base64") return emu::corrupt_base64_text(to_base64(small.png));
    return std::nullopt;
}

// One inlineData.data payload, small: a decodable image is resized and re-encoded in its format.
std::string small_payload(std::string_view base64, std::string_view fault, const SmallImages& small) {
    if (auto damaged = damaged_payload(fault, small)) return *damaged;
    auto bytes = from_base64(base64);
    auto px = bytes ? decode(*bytes) : std::nullopt;
    if (!px) throw std::runtime_error("cannot shrink the image payload of fault " + std::string(fault));
    auto mime = image::sniff_mime(reinterpret_cast<const std::uint8_t*>(bytes->data()), bytes->size());
    return to_base64(encode_like(shrink(*px), mime));
}

// What an answer cut in the middle of its image leaves: half of the small PNG's base64.
std::string half_payload(const SmallImages& small) {
    std::string full = to_base64(small.png);
    return full.substr(0, full.size() / 2);
}

// Calls on_payload for every "data": "<long string>" in a body (pretty or compact JSON, SSE or
// array framing) and puts back what it returns. A string the body ends inside (malformed_json is
// half an answer) is passed with cut = true.
using PayloadFn = std::function<std::string(std::string_view payload, bool cut)>;

std::string replace_payloads(const std::string& body, const PayloadFn& on_payload) {
    std::string out;
    std::size_t at = 0;
    for (std::size_t key = body.find("\"data\""); key != std::string::npos; key = body.find("\"data\"", key + 1)) {
        std::size_t open = body.find_first_not_of(" \t\r\n", key + 6);
        if (open == std::string::npos || body[open] != ':') continue;
        open = body.find_first_not_of(" \t\r\n", open + 1);
        if (open == std::string::npos || body[open] != '"') continue;
        std::size_t close = body.find('"', open + 1);
        bool cut = close == std::string::npos;
        if (cut) close = body.size();
        if (close - open - 1 < kMinImagePayload) continue;
        out.append(body, at, open + 1 - at);
        out += on_payload(std::string_view(body).substr(open + 1, close - open - 1), cut);
        at = close;
        key = close;
        if (cut) break;
    }
    return out.append(body, at, std::string::npos);
}

// ---- the corpus ---------------------------------------------------------------------------------

class Corpus {
public:
    explicit Corpus(fs::path root) : root_(std::move(root)) {}

    void add(std::string_view target, const std::string& name, const std::string& bytes) {
        fs::path dir = root_ / target;
        fs::create_directories(dir);
        std::ofstream(dir / name, std::ios::binary) << bytes;
        ++files_;
        bytes_ += bytes.size();
    }

    // Every base64 payload goes to the base64 target once.
    void add_payload(const std::string& base64) {
        if (payloads_.insert(base64).second) add("base64", "payload-" + std::to_string(payloads_.size()) + ".txt", base64);
    }

    std::size_t files() const { return files_; }
    std::size_t bytes() const { return bytes_; }

private:
    fs::path root_;
    std::set<std::string> payloads_;
    std::size_t files_ = 0;
    std::size_t bytes_ = 0;
};

// The classify target's format: status line, header lines, a blank line, the body.
std::string classify_seed(const Answer& a) {
    std::string s = std::to_string(a.status) + "\n";
    for (const auto& [name, value] : a.headers) s += name + ": " + value + "\n";
    return s + "\n" + a.body;
}

std::string_view extension_of(std::string_view route) { return route == "sse" ? ".sse" : ".json"; }

// One answer into the reply (unary, array), sse and classify corpora, its images shrunk.
void add_answer(Corpus& corpus, const Route& route, const std::string& name, Answer a, const SmallImages& small,
                std::string_view fault) {
    a.body = replace_payloads(a.body, [&](std::string_view payload, bool cut) {
        std::string s = cut ? half_payload(small) : small_payload(payload, fault, small);
        corpus.add_payload(s);
        return s;
    });
    std::string file = std::string(route.name) + "-" + name;
    corpus.add(route.name == "sse" ? "sse" : "reply_decoder", file + std::string(extension_of(route.name)), a.body);
    corpus.add("classify", file + ".txt", classify_seed(a));
}

// ---- hand-made seeds: one row per scenario --------------------------------------------------

// Line-end and field variants of a real SSE stream (the framing's optional parts).
struct SseVariant {
    std::string_view name;
    std::string (*make)(const std::string& stream);
};

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
    for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
        s.replace(at, from.size(), to);
    return s;
}

const SseVariant kSseVariants[] = {
    {"crlf", [](const std::string& s) { return replace_all(s, "\n", "\r\n"); }},
    {"cr", [](const std::string& s) { return replace_all(s, "\n", "\r"); }},
    {"comments-and-fields", [](const std::string& s) { return ": keep-alive\nevent: message\nid: 1\nretry: 100\n" + replace_all(s, "\n\n", "\n\n: ping\n\n"); }},
    {"no-space-after-colon", [](const std::string& s) { return replace_all(s, "data: ", "data:"); }},
    {"no-final-newline", [](const std::string& s) { return s.substr(0, s.find_last_not_of('\n') + 1); }},
    {"cut-in-half", [](const std::string& s) { return s.substr(0, s.size() / 2); }},
    {"bom", [](const std::string& s) { return "\xEF\xBB\xBF" + s; }},
};

// Headers the classifier reads, on a real 429 body.
struct HeaderCase {
    std::string_view name;
    std::string_view headers;
};
const HeaderCase kHeaderCases[] = {
    {"retry-after-seconds", "Retry-After: 30\n"},
    {"retry-after-fraction", "Retry-After: 1.5\n"},
    {"retry-after-ms", "retry-after-ms: 2500\n"},
    {"retry-after-imf-date", "Retry-After: Sun, 15 Jun 2025 12:00:30 GMT\n"},
    {"retry-after-rfc850-date", "Retry-After: Sunday, 15-Jun-25 12:00:30 GMT\n"},
    {"retry-after-asctime", "Retry-After: Sun Jun 15 12:00:30 2025\n"},
    {"event-stream-type", "Content-Type: text/event-stream\n"},
    {"crlf-lines", "Content-Type: application/json\r\nRetry-After: 5\r\n"},
};

// Edge cases of the base64 language, one per rule.
struct Base64Case {
    std::string_view name;
    std::string_view text;
};
const Base64Case kBase64Cases[] = {
    {"empty", ""},
    {"two-pad", "QQ=="},
    {"one-pad", "QUI="},
    {"full-quantum", "QUJD"},
    {"unpadded-two", "QQ"},
    {"unpadded-three", "QUI"},
    {"lone-char", "Q"},
    {"half-padding", "QQ="},
    {"too-much-padding", "QQ==="},
    {"pad-after-quantum", "QUJD="},
    {"only-padding", "===="},
    {"data-after-padding", "QQ==QUJD"},
    {"slash-and-plus", "+/+/"},
    {"newline", "QUJD\nQUJD"},
    {"url-safe-alphabet", "-_-_"},
    {"avx-block-then-pad", "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3ODk="},
};

// The small PNG's pixels with 1, 2 and 4 channels, and the other containers the sniffer knows.
std::string with_channels(const image::Pixels& rgb, int channels) {
    image::Pixels px;
    px.width = rgb.width;
    px.height = rgb.height;
    px.channels = channels;
    px.data.resize(std::size_t(rgb.width) * rgb.height * channels);
    for (std::size_t i = 0; i < std::size_t(rgb.width) * rgb.height; ++i) {
        const std::uint8_t* s = rgb.data.data() + i * rgb.channels;
        std::uint8_t* d = px.data.data() + i * channels;
        std::uint8_t grey = static_cast<std::uint8_t>((s[0] * 77 + s[1] * 150 + s[2] * 29) >> 8);
        std::uint8_t alpha = static_cast<std::uint8_t>(i % 7 == 0 ? 0 : 255);
        if (channels <= 2) d[0] = grey;
        else std::copy(s, s + 3, d);
        if (channels == 2 || channels == 4) d[channels - 1] = alpha;
    }
    return bytes_of(image::encode_png(px));
}

std::string bmp_of(const image::Pixels& px) {
    std::string out;
    auto write = [](void* ctx, void* data, int n) { static_cast<std::string*>(ctx)->append(static_cast<char*>(data), std::size_t(n)); };
    stbi_write_bmp_to_func(write, &out, px.width, px.height, px.channels, px.data.data());
    return out;
}

// A 1x1 GIF written from the format's parts: header, screen with a 2-colour table, image
// descriptor, LZW data (clear, index 0, end: 3-bit codes 4, 0, 5 packed LSB first), trailer.
std::string tiny_gif() {
    std::string g = "GIF89a";
    g += std::string("\x01\x00\x01\x00\x80\x00\x00", 7);   // 1x1, global table of 2 colours
    g += std::string("\xFF\x00\x00\x00\x00\xFF", 6);       // red, blue
    g += std::string("\x2C\x00\x00\x00\x00\x01\x00\x01\x00\x00", 10);
    g += std::string("\x02\x02\x44\x01\x00", 5);           // min code size 2, one 2-byte block
    return g + "\x3B";
}

void add_images(Corpus& corpus, const SmallImages& small) {
    auto rgb = decode(small.png);
    if (!rgb || rgb->channels < 3) throw std::runtime_error("the small PNG does not decode to RGB");
    const std::pair<std::string, std::string> images[] = {
        {"flash.png", small.png},
        {"pro.jpg", small.jpeg},
        {"grey.png", with_channels(*rgb, 1)},
        {"grey-alpha.png", with_channels(*rgb, 2)},
        {"rgba.png", with_channels(*rgb, 4)},
        {"truncated.png", nbcore::emulator::truncate_png_bytes(small.png)},
        {"corrupt.png", nbcore::emulator::corrupt_png_bytes(small.png)},
        {"truncated.jpg", small.jpeg.substr(0, small.jpeg.size() / 2)},
        {"trailing-bytes.png", small.png + "trailing"},
        {"small.bmp", bmp_of(*rgb)},
        {"tiny.gif", tiny_gif()},
    };
    for (const auto& [name, bytes] : images) corpus.add("image", name, bytes);
}

// ---- main -----------------------------------------------------------------------------------

// The targets' directories; only these are replaced under the output directory.
constexpr std::string_view kTargets[] = {"reply_decoder", "sse", "classify", "base64", "image"};

void write_corpus(const fs::path& root) {
    for (std::string_view target : kTargets) fs::remove_all(root / target);
    Corpus corpus(root);
    nbcore::emulator::Options options;
    options.gzip = false;
    nbcore::emulator::Server server(options);
    server.start();

    // The small images come from the normal answers first: the faults' payloads are redone on them.
    SmallImages small;
    auto first_image = [&](std::string_view model) {
        std::string found;
        replace_payloads(fetch(server, model, kRoutes[0], false).body, [&](std::string_view p, bool) {
            if (found.empty()) found = std::string(p);
            return std::string(p);
        });
        auto px = decode(*from_base64(found));
        return encode_like(shrink(*px), model == kPro ? "image/jpeg" : "image/png");
    };
    small.png = first_image(kFlash);
    small.jpeg = first_image(kPro);

    for (const Route& route : kRoutes) {
        for (const NormalAnswer& n : kNormalAnswers) {
            server.set_script(R"(["pass"])");
            add_answer(corpus, route, std::string(n.name), fetch(server, n.model, route, n.thoughts), small, "pass");
        }
        for (const auto& fault : nbcore::emulator::fault_table()) {
            if (!fault.build || fault.status == 0) continue;   // transport faults: a normal body, delivered oddly
            server.set_script("[\"" + std::string(fault.name) + "\"]");
            add_answer(corpus, route, std::string(fault.name), fetch(server, kFlash, route, false), small, fault.name);
        }
    }

    server.set_script(R"(["pass"])");
    Answer stream = fetch(server, kFlash, kRoutes[1], false);
    stream.body = replace_payloads(stream.body, [&](std::string_view, bool) { return to_base64(small.png); });
    for (const SseVariant& v : kSseVariants) corpus.add("sse", "variant-" + std::string(v.name) + ".sse", v.make(stream.body));

    server.set_script(R"(["rpm_429"])");
    Answer quota = fetch(server, kFlash, kRoutes[0], false);
    for (const HeaderCase& h : kHeaderCases)
        corpus.add("classify", "headers-" + std::string(h.name) + ".txt", "429 1749988800\n" + std::string(h.headers) + "\n" + quota.body);

    for (const Base64Case& b : kBase64Cases) corpus.add("base64", "case-" + std::string(b.name) + ".txt", std::string(b.text));
    add_images(corpus, small);

    server.stop();
    std::cout << "wrote " << corpus.files() << " files, " << corpus.bytes() << " bytes, under " << root << "\n";
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: nbcore_fuzz_seeds OUTPUT_DIR   (e.g. tests/fuzz/corpus; its target directories are replaced)\n";
        return 2;
    }
    try {
        write_corpus(argv[1]);
    } catch (const std::exception& e) {
        std::cerr << "nbcore_fuzz_seeds: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
