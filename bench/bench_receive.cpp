// bench_receive: peak memory to receive and extract one 4K answer over loopback, reply buffer
// included, as a multiple of the image's encoded size. nbcore's transport streams the body into
// the reply decoder, which base64-decodes the image as it arrives; the comparison receives the same
// answer the common way (the whole body in a string, nlohmann::json::parse, then base64 decode).
//
// The emulator runs as a separate process (its memory is not ours to count):
//   bench_receive --emulator build/emulator/nbcore-emulator [--grain 2] [--runs 3]
// Peak memory is the growth of VmHWM (reset through /proc/self/clear_refs before each run).
#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "nbcore/codec.hpp"
#include "nbcore/transport.hpp"

namespace {

using bench::reset_peak;
using bench::status_kb;
using Emulator = bench::EmulatorProcess;

const char* kBody =
    R"({"contents":[{"role":"user","parts":[{"text":"a harbour at dusk, photograph"}]}],)"
    R"("generationConfig":{"responseModalities":["IMAGE"],"imageConfig":{"aspectRatio":"16:9","imageSize":"4K"}}})";

std::string url_for(const Emulator& emu) {
    return emu.url() + "/v1beta/models/gemini-3-pro-image-preview:generateContent";
}

// nbcore: transport -> streaming decoder.
struct StreamingSink final : nbcore::net::BodySink {
    nbcore::api::ReplyDecoder dec;
    void on_status(int, const nbcore::net::Headers& h) override {
        auto clen = nbcore::net::header_value(h, "content-length");
        if (!clen.empty()) dec.expect_body_size(std::strtoull(std::string(clen).c_str(), nullptr, 10));
    }
    bool on_body(const char* d, std::size_t n) override { return dec.feed(d, n); }
};

std::size_t receive_nbcore(const Emulator& emu, nbcore::net::Transport& t) {
    nbcore::net::HttpRequest req;
    req.url = url_for(emu);
    req.body = kBody;
    req.headers = {{"x-goog-api-key", "bench-key-0001"}, {"Content-Type", "application/json"}};
    StreamingSink sink;
    auto r = t.send(req, sink, nullptr);
    if (r.error != nbcore::net::TransportErrorKind::None || !sink.dec.finish()) {
        std::fprintf(stderr, "nbcore receive failed: %s %s\n", r.detail.c_str(), sink.dec.error().c_str());
        return 0;
    }
    auto reply = sink.dec.take();
    return reply.images.empty() ? 0 : reply.images[0].data->size();
}

// The common way: the whole body in memory, a DOM, then a decode of the string.
std::size_t append_cb(char* p, std::size_t s, std::size_t n, void* u) {
    static_cast<std::string*>(u)->append(p, s * n);
    return s * n;
}

std::size_t receive_common(const Emulator& emu) {
    std::string body;
    CURL* c = curl_easy_init();
    curl_slist* h = curl_slist_append(nullptr, "x-goog-api-key: bench-key-0001");
    h = curl_slist_append(h, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url_for(emu).c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, kBody);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, append_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) return 0;
    auto doc = nlohmann::json::parse(body);
    const auto& parts = doc["candidates"][0]["content"]["parts"];
    for (const auto& p : parts) {
        if (!p.contains("inlineData")) continue;
        const std::string& b64 = p["inlineData"]["data"].get_ref<const std::string&>();
        nbcore::Blob out;
        nbcore::api::Base64Decoder d;
        d.feed(b64.data(), b64.size(), out);
        d.finish(out);
        return out.size();
    }
    return 0;
}

struct Measure {
    long peak_kb = 0;
    std::size_t image = 0;
};

template <class Fn>
Measure measure(Fn&& fn) {
    long before = status_kb("VmRSS:");
    reset_peak();
    Measure m;
    m.image = fn();
    m.peak_kb = status_kb("VmHWM:") - before;
    return m;
}

}  // namespace

int main(int argc, char** argv) {
    std::string emulator_path;
    int grain = 2;
    int runs = 3;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--emulator" && i + 1 < argc) emulator_path = argv[++i];
        else if (a == "--grain" && i + 1 < argc) grain = std::atoi(argv[++i]);
        else if (a == "--runs" && i + 1 < argc) runs = std::max(1, std::atoi(argv[++i]));
        else {
            std::fprintf(stderr, "usage: bench_receive --emulator PATH [--grain N] [--runs N]\n");
            return 2;
        }
    }
    if (emulator_path.empty()) {
        std::fprintf(stderr, "bench_receive: --emulator PATH to nbcore-emulator is required\n");
        return 2;
    }
    if (!reset_peak()) {
        std::fprintf(stderr, "bench_receive: /proc/self/clear_refs is not writable; cannot reset peak RSS\n");
        return 1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    Emulator emu;
    if (!emu.start(emulator_path, {"--key", "bench-key-0001", "--mime", "png", "--grain", std::to_string(grain)})) {
        std::fprintf(stderr, "bench_receive: could not start %s\n", emulator_path.c_str());
        return 1;
    }
    auto transport = nbcore::net::make_curl_transport();
    // Warm-up: the emulator renders and caches the answer; libraries load.
    receive_nbcore(emu, *transport);
    receive_common(emu);

    std::vector<Measure> ours, common;
    for (int i = 0; i < runs; ++i) {
        ours.push_back(measure([&] { return receive_nbcore(emu, *transport); }));
        common.push_back(measure([&] { return receive_common(emu); }));
    }
    auto best = [](const std::vector<Measure>& v) {
        return *std::min_element(v.begin(), v.end(), [](auto& a, auto& b) { return a.peak_kb < b.peak_kb; });
    };
    Measure o = best(ours), c = best(common);
    if (o.image == 0 || c.image == 0) {
        std::fprintf(stderr, "bench_receive: a receive failed (see above); no figures\n");
        return 1;
    }
    double image_mb = o.image / 1048576.0;
    std::printf("receive + extract one 4K answer (5504x3072 PNG, %.1f MB encoded), lowest of %d runs\n",
                image_mb, runs);
    std::printf("  %-40s peak +%7.1f MB  = %.2fx the image  (goal <= 1.5x)\n", "nbcore (streaming decode)",
                o.peak_kb / 1024.0, o.peak_kb * 1024.0 / o.image);
    std::printf("  %-40s peak +%7.1f MB  = %.2fx the image\n", "whole body + nlohmann::json + base64",
                c.peak_kb / 1024.0, c.peak_kb * 1024.0 / c.image);
    std::printf("  ratio: the common way peaks %.1fx higher\n", static_cast<double>(c.peak_kb) / o.peak_kb);
    curl_global_cleanup();
    return 0;
}
