// bench_extract: CPU and memory to get the image bytes out of a 4K Nano Banana Pro reply.
//
//   (a) nbcore: api::ReplyDecoder fed the body in 64 KiB chunks (as the transport delivers it);
//       the base64 is decoded straight into the image Blob while the JSON is scanned.
//   (b) the usual way: nlohmann::json::parse of the whole body, then a plain base64 decode of the
//       inlineData.data string.
//
// Both end with the image bytes in memory (no pixel decode). CPU time is CLOCK_PROCESS_CPUTIME_ID
// (user + system, so page faults count), the median of --runs runs each, measured side by side in
// one process. Freeing the results is outside the timed region for both. Peak memory is the growth
// of the resident set's high-water mark during one run (reset through /proc/self/clear_refs).
// A measurement, not a test: it always exits 0.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nbcore/codec.hpp"

namespace {

using namespace nbcore;

constexpr std::size_t kChunk = 64 * 1024;

double cpu_ms() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// Random bytes behind a PNG signature: compressed image data is indistinguishable from noise.
std::string fake_png(std::size_t n) {
    std::mt19937_64 gen(20251204);
    std::string s(n, '\0');
    for (std::size_t i = 0; i + 8 <= n; i += 8) {
        std::uint64_t v = gen();
        std::memcpy(&s[i], &v, 8);
    }
    static const char kSig[] = "\x89PNG\r\n\x1a\n";
    std::memcpy(s.data(), kSig, std::min<std::size_t>(8, n));
    return s;
}

std::string b64(const std::string& raw) {
    return api::base64_encode(reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size());
}

// A realistic Pro 4K answer: signed text part, signed image part, usage, ids; pretty-printed
// like generateContent answers.
std::string pro_reply(const std::string& image) {
    std::string sig_text = b64(fake_png(1500)), sig_image = b64(fake_png(900));
    std::string body;
    body.reserve(image.size() / 3 * 4 + 8192);
    body += "{\n  \"candidates\": [\n    {\n      \"content\": {\n        \"role\": \"model\",\n"
            "        \"parts\": [\n          {\n            \"text\": \"Here is the lighthouse at dawn, "
            "rendered in oil with warm light on the water.\",\n            \"thoughtSignature\": \"" +
            sig_text +
            "\"\n          },\n          {\n            \"inlineData\": {\n              \"mimeType\": "
            "\"image/png\",\n              \"data\": \"";
    api::base64_encode_append(body, reinterpret_cast<const std::uint8_t*>(image.data()), image.size());
    body += "\"\n            },\n            \"thoughtSignature\": \"" + sig_image +
            "\"\n          }\n        ]\n      },\n      \"finishReason\": \"STOP\",\n      \"index\": 0\n"
            "    }\n  ],\n  \"usageMetadata\": {\n    \"promptTokenCount\": 147,\n"
            "    \"candidatesTokenCount\": 2000,\n    \"totalTokenCount\": 2362,\n"
            "    \"promptTokensDetails\": [\n      {\n        \"modality\": \"TEXT\",\n"
            "        \"tokenCount\": 147\n      }\n    ],\n    \"candidatesTokensDetails\": [\n"
            "      {\n        \"modality\": \"IMAGE\",\n        \"tokenCount\": 2000\n      }\n    ],\n"
            "    \"thoughtsTokenCount\": 215\n  },\n  \"modelVersion\": \"gemini-3-pro-image-preview\",\n"
            "  \"responseId\": \"KStzabiTDuClqtsP9KiFkQE\"\n}\n";
    return body;
}

// (a) The decoder, fed as the transport would feed it.
Reply extract_nbcore(const std::string& body, std::size_t* skeleton_capacity = nullptr,
                     api::Framing framing = api::Framing::Json) {
    api::ReplyDecoder dec(framing);
    dec.expect_body_size(body.size());
    for (std::size_t at = 0; at < body.size(); at += kChunk)
        if (!dec.feed(body.data() + at, std::min(kChunk, body.size() - at))) break;
    if (!dec.finish()) std::fprintf(stderr, "nbcore decode failed: %s\n", dec.error().c_str());
    if (skeleton_capacity) *skeleton_capacity = dec.skeleton().capacity();
    return dec.take();
}

// (b) A plain table-driven base64 decoder, four characters at a time, as commonly written.
std::vector<std::uint8_t> plain_base64_decode(const std::string& s) {
    static const auto table = [] {
        std::vector<int> t(256, -1);
        const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(alphabet[i])] = i;
        return t;
    }();
    std::vector<std::uint8_t> out;
    out.reserve(s.size() / 4 * 3);
    std::uint32_t acc = 0;
    int bits = 0;
    for (unsigned char c : s) {
        if (c == '=') break;
        int v = table[c];
        if (v < 0) return {};
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<std::uint8_t>(acc >> bits));
        }
    }
    return out;
}

struct DomResult {
    nlohmann::json doc;
    std::vector<std::uint8_t> image;
};

DomResult extract_nlohmann(const std::string& body) {
    DomResult r;
    r.doc = nlohmann::json::parse(body);
    const auto& data = r.doc["candidates"][0]["content"]["parts"][1]["inlineData"]["data"]
                           .get_ref<const std::string&>();
    r.image = plain_base64_decode(data);
    return r;
}

// ---- memory ----------------------------------------------------------------------------------

long status_kib(const char* field) {
    std::ifstream in("/proc/self/status");
    std::string line;
    std::size_t n = std::strlen(field);
    while (std::getline(in, line))
        if (line.compare(0, n, field) == 0) return std::strtol(line.c_str() + n + 1, nullptr, 10);
    return -1;
}

bool reset_peak_rss() {
    std::ofstream f("/proc/self/clear_refs");
    f << "5";
    return static_cast<bool>(f);
}

// Growth of the peak resident set while fn runs, in bytes (-1 when it cannot be measured).
double peak_growth(const std::function<void()>& fn) {
    if (!reset_peak_rss()) return -1;
    long before = status_kib("VmRSS:");
    fn();
    long peak = status_kib("VmHWM:");
    return before < 0 || peak < 0 ? -1 : static_cast<double>(peak - before) * 1024.0;
}

// ---- timing ----------------------------------------------------------------------------------

struct Stats {
    double median = 0, min = 0, max = 0;
};

Stats summarize(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    Stats s;
    s.min = v.front();
    s.max = v.back();
    std::size_t m = v.size() / 2;
    s.median = v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
    return s;
}

}  // namespace

int main(int argc, char** argv) {
    double size_mb = 33.7;
    int runs = 5;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--size-mb" && i + 1 < argc) size_mb = std::atof(argv[++i]);
        else if (a == "--runs" && i + 1 < argc) runs = std::atoi(argv[++i]);
        else {
            std::printf("usage: %s [--size-mb N (default 33.7)] [--runs N (default 5)]\n", argv[0]);
            return 0;
        }
    }
    if (size_mb <= 0) size_mb = 33.7;
    if (runs < 1) runs = 1;

    const std::string image = fake_png(static_cast<std::size_t>(size_mb * 1e6));
    const std::string body = pro_reply(image);
    // The same answer as one SSE event (streamGenerateContent?alt=sse): one 45 MB line.
    std::string sse_body = "data: " + nlohmann::json::parse(body).dump() + "\r\n\r\n";
    std::printf("bench_extract: Pro 4K reply (5504x3072 PNG-sized payload)\n");
    std::printf("  image %.1f MB, body %.1f MB, fed in %zu KiB chunks, %d runs each, CPU = "
                "CLOCK_PROCESS_CPUTIME_ID\n\n",
                static_cast<double>(image.size()) / 1e6, static_cast<double>(body.size()) / 1e6,
                kChunk / 1024, runs);

    // Correctness first: both must produce the same bytes.
    {
        Reply r = extract_nbcore(body);
        DomResult d = extract_nlohmann(body);
        Reply s = extract_nbcore(sse_body, nullptr, api::Framing::Sse);
        bool ok = r.images.size() == 1 && r.images[0].data->view() == image && d.image.size() == image.size() &&
                  std::memcmp(d.image.data(), image.data(), image.size()) == 0 && s.images.size() == 1 &&
                  s.images[0].data->view() == image;
        if (!ok) std::printf("  WARNING: the two extractions disagree with the payload\n");
    }

    // Memory, measured before the timing loops so that allocator caches do not blur it.
    std::size_t blob_capacity = 0, skeleton_capacity = 0;
    double nb_peak = peak_growth([&] {
        Reply r = extract_nbcore(body, &skeleton_capacity);
        blob_capacity = r.images.empty() ? 0 : r.images[0].data->capacity();
    });
    double dom_peak = peak_growth([&] { DomResult d = extract_nlohmann(body); });

    std::vector<double> nb_ms, sse_ms, dom_ms, parse_ms;
    for (int i = 0; i < runs; ++i) {
        {
            double t0 = cpu_ms();
            Reply r = extract_nbcore(body);
            nb_ms.push_back(cpu_ms() - t0);
        }
        {
            double t0 = cpu_ms();
            Reply r = extract_nbcore(sse_body, nullptr, api::Framing::Sse);
            sse_ms.push_back(cpu_ms() - t0);
        }
        {
            double t0 = cpu_ms();
            DomResult d = extract_nlohmann(body);
            dom_ms.push_back(cpu_ms() - t0);
        }
        {
            double t0 = cpu_ms();
            nlohmann::json doc = nlohmann::json::parse(body);
            parse_ms.push_back(cpu_ms() - t0);
        }
    }
    Stats nb = summarize(nb_ms), sse = summarize(sse_ms), dom = summarize(dom_ms), parse = summarize(parse_ms);
    double img = static_cast<double>(image.size());

    auto mem = [&](double bytes) {
        static char buf[64];
        if (bytes < 0) std::snprintf(buf, sizeof buf, "n/a");
        else std::snprintf(buf, sizeof buf, "%.1f MB = %.2fx image", bytes / 1e6, bytes / img);
        return std::string(buf);
    };
    std::printf("  %-28s %10s %10s %10s   %s\n", "method", "median ms", "min ms", "max ms",
                "peak RSS growth");
    std::printf("  %-28s %10.1f %10.1f %10.1f   %s\n", "nbcore ReplyDecoder", nb.median, nb.min, nb.max,
                mem(nb_peak).c_str());
    std::printf("  %-28s %10.1f %10.1f %10.1f\n", "nbcore ReplyDecoder, SSE", sse.median, sse.min, sse.max);
    std::printf("  %-28s %10.1f %10.1f %10.1f   %s\n", "nlohmann::json + base64", dom.median, dom.min,
                dom.max, mem(dom_peak).c_str());
    std::printf("  %-28s %10.1f %10.1f %10.1f\n", "  of which json::parse", parse.median, parse.min,
                parse.max);
    std::printf("\n  nbcore allocation kept: Blob capacity %.1f MB + skeleton %.1f KB = %.3fx image\n",
                static_cast<double>(blob_capacity) / 1e6, static_cast<double>(skeleton_capacity) / 1e3,
                static_cast<double>(blob_capacity + skeleton_capacity) / img);
    std::printf("\nextract: nbcore %.1f ms, nlohmann+base64 %.1f ms, ratio %.1fx (goal >= 10x)\n",
                nb.median, dom.median, dom.median / nb.median);
    return 0;
}
