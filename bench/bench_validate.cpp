// What does full validation cost on top of decoding? Builds a photo-like 5504x3072 RGB image (the
// size of a 4K 16:9 Nano Banana Pro answer), encodes it as PNG and JPEG, then measures side by
// side, interleaved, the median CPU time of
//   - image::check(..., &keep): sniff, structure + every CRC, header limits, decode, stats, blank
//     decision, pixels handed over in a Blob;
//   - a bare stbi_load_from_memory of the same bytes at the same req_comp (0), then free.
// The goal is a ratio of at most 1.1. A measurement, not a test: it always exits 0.
//
//   bench_validate [--runs N]
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

#include <stb_image.h>

#include "nbcore/image.hpp"

namespace {

using nbcore::Blob;
using namespace nbcore::image;

constexpr int kWidth = 5504;
constexpr int kHeight = 3072;

double thread_cpu_ms() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) / 1e6;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// splitmix64: a fast deterministic generator, so every run encodes the very same image.
struct Grain {
    std::uint64_t state = 0x9E3779B97F4A7C15ull;
    std::uint64_t next() {
        std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
};

// Smooth light (gradients and soft blobs) plus per-pixel sensor grain: the grain is what makes
// a photo's PNG large, because deflate cannot predict it.
Pixels photo_like() {
    Pixels px;
    px.width = kWidth;
    px.height = kHeight;
    px.channels = 3;
    const std::size_t bytes = std::size_t(kWidth) * kHeight * 3;
    px.data.prepare(bytes);
    px.data.commit(bytes);
    Grain grain;
    std::uint8_t* p = px.data.data();
    for (int y = 0; y < kHeight; ++y) {
        for (int x = 0; x < kWidth; x += 4) {
            std::uint64_t r = grain.next();  // 16 bits of grain for each of 4 pixels
            for (int k = 0; k < 4 && x + k < kWidth; ++k, r >>= 16) {
                int xx = x + k;
                int sky = 40 + (y * 150) / kHeight;
                int warm = (xx * 90) / kWidth;
                int dx = xx - kWidth / 3, dy = y - kHeight / 2;
                int blob = ((dx * dx + dy * dy) >> 16) < 40 ? 40 - ((dx * dx + dy * dy) >> 16) : 0;
                int g = int(r & 3) + int((r >> 2) & 3) - 3;  // luminance grain, -3..+3
                int b = int((r >> 4) & 1);                    // a little chroma grain
                *p++ = static_cast<std::uint8_t>(std::clamp(sky + warm + blob + g, 0, 255));
                *p++ = static_cast<std::uint8_t>(std::clamp(sky + warm / 2 + blob + g + b, 0, 255));
                *p++ = static_cast<std::uint8_t>(std::clamp(200 - sky / 2 + blob / 2 + g - b, 0, 255));
            }
        }
    }
    return px;
}

struct Row {
    const char* name;
    double check_ms;     // check(..., &keep)
    double nokeep_ms;    // check(..., nullptr): the same minus handing the pixels over
    double stb_ms;
    double stats_ms;     // compute_stats alone on decoded pixels
    double min_ratio;    // fastest check+keep over fastest decode: the least disturbed pair
};

// CPU time of one call of `work`.
double timed(const std::function<void()>& work) {
    double t0 = thread_cpu_ms();
    work();
    return thread_cpu_ms() - t0;
}

Row measure(const char* name, const Blob& file, int runs) {
    Check last;
    const std::function<void()> with_keep = [&] {
        Pixels keep;
        last = check(file.data(), file.size(), Limits{}, BlankRules{}, &keep);
    };
    const std::function<void()> without_keep = [&] {
        check(file.data(), file.size(), Limits{}, BlankRules{}, nullptr);
    };
    const std::function<void()> bare = [&] {
        int w = 0, h = 0, n = 0;
        stbi_uc* p = stbi_load_from_memory(file.data(), int(file.size()), &w, &h, &n, 0);
        if (!p) std::fprintf(stderr, "stbi_load_from_memory failed: %s\n", stbi_failure_reason());
        stbi_image_free(p);
    };
    const std::function<void()>* work[3] = {&with_keep, &bare, &without_keep};
    std::vector<double> times[3];
    for (auto* w : work) (*w)();  // warm-up, not counted: first-touch costs of the process
    for (int i = 0; i < runs; ++i) {
        // Interleaved and rotated, so drift in machine load and order effects hit all alike.
        for (int k = 0; k < 3; ++k) {
            int which = (i + k) % 3;
            times[which].push_back(timed(*work[which]));
        }
    }
    Pixels decoded;
    check(file.data(), file.size(), Limits{}, BlankRules{}, &decoded);
    std::vector<double> stats_times;
    for (int i = 0; i < runs; ++i)
        stats_times.push_back(timed([&] {
            if (compute_stats(decoded).pixels == 0) std::fprintf(stderr, "no pixels?\n");
        }));
    if (!last.ok)
        std::fprintf(stderr, "%s: check said %s: %s\n", name, last.blank ? "blank" : "bad",
                     last.reason.c_str());
    const double fastest_check = *std::min_element(times[0].begin(), times[0].end());
    const double fastest_stb = *std::min_element(times[1].begin(), times[1].end());
    return {name,          median(times[0]),    median(times[2]),
            median(times[1]), median(stats_times), fastest_check / fastest_stb};
}

int parse_runs(int argc, char** argv) {
    int runs = 7;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            runs = std::atoi(argv[++i]);
        } else {
            std::fprintf(stderr, "usage: %s [--runs N]   (N >= 5, default 7)\n", argv[0]);
            std::exit(0);
        }
    }
    return std::max(runs, 5);
}

}  // namespace

int main(int argc, char** argv) {
    const int runs = parse_runs(argc, argv);
    std::printf("building a photo-like %dx%d RGB image...\n", kWidth, kHeight);
    std::fflush(stdout);
    Pixels px = photo_like();
    double t0 = thread_cpu_ms();
    Blob png = encode_png(px);
    double t1 = thread_cpu_ms();
    Blob jpeg = encode_jpeg(px, 90);
    std::printf("PNG %.1f MB (encoded in %.0f ms), JPEG q90 %.1f MB; %d runs each, median CPU time\n\n",
                double(png.size()) / 1e6, t1 - t0, double(jpeg.size()) / 1e6, runs);

    std::printf("%-6s %15s %16s %7s   %16s %15s %10s\n", "format", "stbi_load (ms)",
                "check+keep (ms)", "ratio", "check, no keep", "stats alone", "min ratio");
    for (const Row& r : {measure("PNG", png, runs), measure("JPEG", jpeg, runs)})
        std::printf("%-6s %15.1f %16.1f %7.3f   %13.1f ms %12.1f ms %10.3f\n", r.name, r.stb_ms,
                    r.check_ms, r.check_ms / r.stb_ms, r.nokeep_ms, r.stats_ms, r.min_ratio);
    std::printf("\nratio = median check+keep / median stbi_load; goal <= 1.100. CPU time of this\n"
                "thread; on a busy machine run more (--runs 15) and read the min ratio too.\n");
    return 0;
}
