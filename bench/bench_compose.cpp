// What do the compose operations cost on a 4K answer? On a 5504x3072 image (a 4K 16:9 Nano Banana
// Pro answer) it measures the median thread CPU time of each pixel operation the inpaint and scene
// pipelines run, next to one memcpy of the RGBA image (the floor any pass over the pixels pays).
// The goal: every operation well under a second. A measurement, not a test: it always exits 0.
//
//   bench_compose [--runs N]
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "nbcore/compose.hpp"

namespace {

using namespace nbcore::compose;
using nbcore::image::Pixels;

constexpr int kWidth = 5504;
constexpr int kHeight = 3072;

double thread_ms() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

double median_ms(int runs, const std::function<void()>& f) {
    std::vector<double> t;
    for (int i = 0; i < runs; ++i) {
        double t0 = thread_ms();
        f();
        t.push_back(thread_ms() - t0);
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

Pixels make(int w, int h, int channels) {
    Pixels px;
    px.width = w;
    px.height = h;
    px.channels = channels;
    px.data.resize(std::size_t(w) * std::size_t(h) * std::size_t(channels));
    return px;
}

// Photo-like: gradients and grain.
Pixels photo(int w, int h, unsigned seed) {
    Pixels px = make(w, h, 4);
    std::mt19937 gen(seed);
    std::uniform_int_distribution<int> grain(-12, 12);
    std::uint8_t* p = px.data.data();
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x, p += 4) {
            p[0] = std::uint8_t(std::clamp(60 + x * 120 / w + grain(gen), 0, 255));
            p[1] = std::uint8_t(std::clamp(90 + y * 100 / h + grain(gen), 0, 255));
            p[2] = std::uint8_t(std::clamp(140 + grain(gen), 0, 255));
            p[3] = 255;
        }
    return px;
}

// A large soft-edged ellipse selection (a third of the frame), the worst realistic inpaint mask.
Pixels selection(int w, int h) {
    Pixels m = make(w, h, 1);
    const double cx = w / 2.0, cy = h / 2.0, rx = w / 5.0, ry = h / 4.0;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            double d = std::hypot((x - cx) / rx, (y - cy) / ry);
            m.data.data()[std::size_t(y) * w + x] = std::uint8_t(std::clamp((1.0 - d) * 40 * 255, 0.0, 255.0));
        }
    return m;
}

// An element on a key: a disc on noisy green, the size of a 4K answer.
Pixels on_key(int w, int h) {
    Pixels px = make(w, h, 3);
    std::mt19937 gen(3);
    std::uniform_int_distribution<int> n(-8, 8);
    std::uint8_t* p = px.data.data();
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x, p += 3) {
            bool in = std::hypot(x - w / 2.0, y - h / 2.0) < h / 3.0;
            p[0] = std::uint8_t(in ? 220 : 30 + n(gen));
            p[1] = std::uint8_t(in ? 120 : 230 + n(gen));
            p[2] = std::uint8_t(in ? 40 : 40 + n(gen));
        }
    return px;
}

}  // namespace

int main(int argc, char** argv) {
    int runs = 5;
    for (int i = 1; i + 1 < argc; ++i)
        if (std::strcmp(argv[i], "--runs") == 0) runs = std::max(1, std::atoi(argv[i + 1]));

    const Pixels image = photo(kWidth, kHeight, 1);
    const Pixels mask = selection(kWidth, kHeight);
    const Rect box = mask_bounds(mask);
    const Rect whole{0, 0, kWidth, kHeight};
    const Pixels patch = photo(kWidth, kHeight, 2);
    const Pixels key_image = on_key(kWidth, kHeight);
    const MaskOptions defaults;  // grow 4, auto feather
    const int feather = auto_feather(box);

    Pixels scratch = make(kWidth, kHeight, 4);
    const double copy = median_ms(runs, [&] { std::memcpy(scratch.data.data(), image.data.data(), image.data.size()); });
    std::printf("compose operations on %dx%d (selection %dx%d, auto feather %d px), median of %d runs\n\n", kWidth,
                kHeight, box.w, box.h, feather, runs);
    std::printf("%-46s %10s %10s\n", "operation", "CPU ms", "x memcpy");
    auto row = [&](const char* name, const std::function<void()>& f) {
        double ms = median_ms(runs, f);
        std::printf("%-46s %10.1f %10.1f\n", name, ms, ms / copy);
    };
    std::printf("%-46s %10.1f %10.1f\n", "memcpy of the RGBA image (floor)", copy, 1.0);
    row("mask_bounds", [&] { (void)mask_bounds(mask); });
    row("grow_mask, radius 4", [&] { (void)grow_mask(mask, 4); });
    row("grow_mask, radius 64", [&] { (void)grow_mask(mask, 64); });
    row("feather_mask, auto width", [&] { (void)feather_mask(mask, feather); });
    row("blend_alpha, defaults (grow 4 + feather)", [&] { (void)blend_alpha(mask, defaults); });
    const Pixels alpha = blend_alpha(mask, defaults);
    row("estimate_colour_match (16 px ring)", [&] { (void)estimate_colour_match(image, patch, alpha); });
    row("composite into a copy", [&] { (void)composite(image, patch, whole, alpha); });
    row("blend_inpaint, whole frame as crop", [&] {
        Pixels out = make(kWidth, kHeight, 4);
        std::memcpy(out.data.data(), image.data.data(), image.data.size());
        (void)blend_inpaint(out, mask, whole, patch);
    });
    row("marker_mask (RGB)", [&] { (void)marker_mask(mask); });
    row("cut_out (key, alpha, smooth, despill)", [&] { (void)cut_out(key_image); });
    row("choose_key_colour", [&] { (void)choose_key_colour(image); });
    const Cutout cut = cut_out(key_image);
    row("place_element (resize to half + alpha-over)", [&] {
        Pixels canvas = make(kWidth, kHeight, 4);
        (void)place_element(canvas, cut.rgba, {0, 0, kWidth / 2, kHeight / 2});
    });
    return 0;
}
