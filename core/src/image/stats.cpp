// Blank detection. One pass over the pixels gathers, per channel, the sum, the sum of squares
// and (for alpha) the count of zeros, all in exact integers, plus a 256-bin histogram of Rec. 601
// luminance for the percentiles.
//
// Speed matters: this pass runs on every image the engine accepts, right after a decode that
// takes ~300 ms for a 4K PNG, and its budget is a few percent of that. Pixels go through in
// blocks that stay in L1/L2, each in two steps: sums, squares, zero counts and luminance bytes
// first, then a histogram of the luminance bytes spread over four sub-histograms, so that runs of
// equal values (flat backgrounds) do not serialise on one counter. On x86-64 CPUs with AVX2 the
// first step is a fixed-size-group loop the compiler turns into 256-bit vector code (picked at
// run time); elsewhere it is a plain scalar loop. For 5504x3072 RGB: ~13 ms vs ~45 ms.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "image/image_internal.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define NBCORE_IMAGE_AVX2 1
#endif

namespace nbcore::image {
namespace detail {
namespace {

using u8 = std::uint8_t;
using u16 = std::uint16_t;
using u32 = std::uint32_t;
using u64 = std::uint64_t;

constexpr int kGroup = 32;                 // pixels per fixed-size group
constexpr std::size_t kBlockPixels = 8192;  // per block: at most 32 KB of pixels, 8 KB of luma
// Per-lane partial sums are emptied after every block, so they never overflow: 16-bit sums
// (fewer registers: the AVX2 loop then does not spill) and 32-bit sums of squares.
static_assert(kBlockPixels / kGroup * 255u <= 0xFFFFu);
static_assert(kBlockPixels / kGroup * 255u * 255u <= 0xFFFFFFFFu);

// Rec. 601 luma with integer weights that sum to 256 (0.299, 0.587, 0.114), rounded.
inline unsigned luma601(unsigned r, unsigned g, unsigned b) {
    return (77u * r + 150u * g + 29u * b + 128u) >> 8;
}

struct Totals {
    u64 sum[4] = {0, 0, 0, 0};
    u64 sq[4] = {0, 0, 0, 0};
    u64 zero_alpha = 0;
    u64 luma[4][256] = {};  // four sub-histograms, summed at the end
};

// Histogram of `count` bytes spaced `step` apart, over the four sub-histograms in turn.
void histogram_step(const u8* p, std::size_t count, std::size_t step, u64 (&h)[4][256]) {
    std::size_t i = 0;
    for (; i + 4 <= count; i += 4, p += 4 * step) {
        ++h[0][p[0]];
        ++h[1][p[step]];
        ++h[2][p[2 * step]];
        ++h[3][p[3 * step]];
    }
    for (; i < count; ++i, p += step) ++h[0][*p];
}

// The scalar kernel's first step: sums in locals (registers), luminance bytes into `luma`.
struct ChannelSums {
    u64 sum = 0, sq = 0;
    void add(u32 v) {
        sum += v;
        sq += v * v;
    }
};

template <int C>
void scalar_sums(const u8* __restrict p, std::size_t count, u8* __restrict luma, Totals& t) {
    ChannelSums s0, s1, s2, s3;  // named, not an array: -O2 keeps them in registers
    u64 zero_alpha = 0;
    for (std::size_t i = 0; i < count; ++i, p += C) {
        s0.add(p[0]);
        if constexpr (C >= 2) s1.add(p[1]);
        if constexpr (C >= 3) s2.add(p[2]);
        if constexpr (C >= 4) s3.add(p[3]);
        if constexpr (C == 2 || C == 4) zero_alpha += p[C - 1] == 0 ? 1u : 0u;
        if constexpr (C >= 3) luma[i] = static_cast<u8>(luma601(p[0], p[1], p[2]));
    }
    const ChannelSums* sums[4] = {&s0, &s1, &s2, &s3};
    for (int c = 0; c < C; ++c) {
        t.sum[c] += sums[c]->sum;
        t.sq[c] += sums[c]->sq;
    }
    t.zero_alpha += zero_alpha;
}

// The luminance histogram of a block whose luminance bytes are in `luma` (colour images) or
// are channel 0 of the pixels themselves (grey).
template <int C>
void luma_histogram(const u8* block, const u8* luma, std::size_t count, Totals& t) {
    if constexpr (C >= 3)
        histogram_step(luma, count, 1, t.luma);
    else
        histogram_step(block, count, C, t.luma);
}

// The portable kernel: one pixel at a time. Runs whole blocks where there is no vector build,
// and the last few pixels of a block where there is.
template <int C>
void scalar_block(const u8* block, std::size_t count, Totals& t) {
    alignas(64) u8 luma[kBlockPixels];
    scalar_sums<C>(block, count, luma, t);
    luma_histogram<C>(block, luma, count, t);
}

#ifdef NBCORE_IMAGE_AVX2

// The vector kernel. Per-lane partial sums of one block: lane i sees pixels i, i + kGroup, ...
template <int C>
struct Lanes {
    u16 sum[C][kGroup];
    u32 sq[C][kGroup];
    u32 zero_alpha[kGroup];
};

template <int C>
[[gnu::always_inline]] inline void add_sample(Lanes<C>& l, int c, int lane, u32 v) {
    l.sum[c][lane] = static_cast<u16>(l.sum[c][lane] + v);
    l.sq[c][lane] += v * v;
}

// Sums, squares, zero counts and luminance bytes over `groups` groups of kGroup pixels. The
// inner trip counts are compile-time constants, which is what lets -O2 vectorise the loop.
template <int C>
[[gnu::target("avx2")]] void group_step_avx2(const u8* __restrict p, std::size_t groups,
                                             u8* __restrict luma, Lanes<C>& l) {
    for (std::size_t g = 0; g < groups; ++g, p += kGroup * C, luma += kGroup) {
        for (int i = 0; i < kGroup; ++i) {
            const u8* px = p + i * C;
            // Channels spelled out rather than looped: a loop over c would be the innermost
            // loop, and the vectoriser only looks at that one.
            add_sample(l, 0, i, px[0]);
            if constexpr (C >= 2) add_sample(l, 1, i, px[1]);
            if constexpr (C >= 3) add_sample(l, 2, i, px[2]);
            if constexpr (C >= 4) add_sample(l, 3, i, px[3]);
            if constexpr (C == 2 || C == 4) l.zero_alpha[i] += px[C - 1] == 0 ? 1u : 0u;
            if constexpr (C >= 3) luma[i] = static_cast<u8>(luma601(px[0], px[1], px[2]));
        }
    }
}

template <int C>
void add_lanes(const Lanes<C>& l, Totals& t) {
    for (int i = 0; i < kGroup; ++i) {
        for (int c = 0; c < C; ++c) {
            t.sum[c] += l.sum[c][i];
            t.sq[c] += l.sq[c][i];
        }
        t.zero_alpha += l.zero_alpha[i];
    }
}

template <int C>
void vector_block(const u8* block, std::size_t count, Totals& t) {
    alignas(64) u8 luma[kBlockPixels];
    Lanes<C> lanes{};
    const std::size_t groups = count / kGroup;
    group_step_avx2<C>(block, groups, luma, lanes);
    add_lanes(lanes, t);
    const std::size_t grouped = groups * kGroup;
    luma_histogram<C>(block, luma, grouped, t);
    scalar_block<C>(block + grouped * C, count - grouped, t);
}

#endif  // NBCORE_IMAGE_AVX2

template <int C>
using BlockFn = void (*)(const u8* block, std::size_t count, Totals& t);

template <int C>
BlockFn<C> pick_kernel(Kernel kernel) {
#ifdef NBCORE_IMAGE_AVX2
    static const bool has_avx2 = __builtin_cpu_supports("avx2");
    if (kernel == Kernel::best && has_avx2) return &vector_block<C>;
#endif
    (void)kernel;
    return &scalar_block<C>;
}

// Smallest value v such that at least `rank` samples (1-based) are <= v.
int value_at_rank(const u64 (&h)[256], u64 rank) {
    u64 seen = 0;
    for (int v = 0; v < 256; ++v) {
        seen += h[v];
        if (seen >= rank) return v;
    }
    return 255;
}

Stats summarize(const Totals& t, int channels, u64 pixels) {
    Stats s;
    s.pixels = static_cast<std::int64_t>(pixels);
    if (pixels == 0) return s;
    const double n = double(pixels);
    for (int c = 0; c < channels; ++c) {
        // Both sums are exact integers (below 2^53 for any image up to 2^37 pixels), so the
        // variance formula loses nothing to rounding worth a tenth of a level.
        double mean = double(t.sum[c]) / n;
        double variance = double(t.sq[c]) / n - mean * mean;
        s.mean[c] = mean;
        s.stddev[c] = std::sqrt(std::max(variance, 0.0));
    }
    u64 luma[256];
    for (int v = 0; v < 256; ++v) luma[v] = t.luma[0][v] + t.luma[1][v] + t.luma[2][v] + t.luma[3][v];
    // Nearest-rank percentiles: the 1st percentile is the ceil(N/100)-th smallest value.
    s.luma_p01 = value_at_rank(luma, std::max<u64>(1, (pixels + 99) / 100));
    s.luma_p99 = value_at_rank(luma, std::max<u64>(1, (99 * pixels + 99) / 100));
    if (channels == 2 || channels == 4) s.transparent_fraction = double(t.zero_alpha) / n;
    return s;
}

template <int C>
Stats scan(const u8* pixels, std::size_t count, u8* copy_to, Kernel kernel) {
    const BlockFn<C> kernel_fn = pick_kernel<C>(kernel);
    Totals t;
    for (std::size_t done = 0; done < count;) {
        const std::size_t k = std::min(kBlockPixels, count - done);
        const u8* block = pixels + done * C;
        kernel_fn(block, k, t);
        // Copy while the block is still in cache: the copy costs a write, not a second read.
        if (copy_to) std::memcpy(copy_to + done * C, block, k * C);
        done += k;
    }
    return summarize(t, C, count);
}

}  // namespace

Stats scan_pixels(const std::uint8_t* pixels, std::size_t count, int channels,
                  std::uint8_t* copy_to, Kernel kernel) {
    switch (channels) {
        case 1: return scan<1>(pixels, count, copy_to, kernel);
        case 2: return scan<2>(pixels, count, copy_to, kernel);
        case 3: return scan<3>(pixels, count, copy_to, kernel);
        default: return scan<4>(pixels, count, copy_to, kernel);
    }
}

}  // namespace detail

namespace {

bool well_formed(const Pixels& px) {
    return px.width >= 0 && px.height >= 0 && px.channels >= 1 && px.channels <= 4 &&
           px.data.size() >= px.stride() * std::size_t(px.height);
}

// "12,12,13" with the given precision.
std::string join(const double* v, int n, int decimals) {
    std::string out;
    for (int i = 0; i < n; ++i) {
        if (i) out += ',';
        out += detail::text("%.*f", decimals, v[i]);
    }
    return out;
}

// Shares near 100% are printed rounded down, so 99.96% reads "99.9%" and never "100.0%".
std::string percent_floor(double fraction) {
    if (fraction >= 1.0) return "100%";
    return detail::text("%.1f%%", std::floor(fraction * 1000.0) / 10.0);
}

}  // namespace

Stats compute_stats(const Pixels& px) {
    if (!well_formed(px))
        throw_invalid_arg("compute_stats: pixels need 1..4 channels and width*height*channels bytes");
    std::size_t count = std::size_t(px.width) * std::size_t(px.height);
    return detail::scan_pixels(px.data.data(), count, px.channels);
}

bool is_blank(const Stats& s, int channels, const BlankRules& rules, std::string* why) {
    auto say = [&](std::string reason) {
        if (why) *why = std::move(reason);
        return true;
    };
    if (s.pixels <= 0) return say("empty image (no pixels)");
    channels = std::clamp(channels, 1, 4);
    bool has_alpha = channels == 2 || channels == 4;
    if (has_alpha && s.transparent_fraction >= rules.transparent_alpha_fraction)
        return say("fully transparent (" + percent_floor(s.transparent_fraction) +
                   " of pixels have alpha 0)");

    // Alpha counts as a channel here: a flat colour cut into a shape by its alpha is a picture.
    bool flat = std::all_of(s.stddev, s.stddev + channels,
                            [&](double sd) { return sd <= rules.max_stddev; });
    int luma_range = s.luma_p99 - s.luma_p01;
    if (!flat || luma_range > rules.max_luma_range) {
        if (why) why->clear();
        return false;
    }
    return say(detail::text("uniform %s (mean %s; stddev %s <= %.1f; luma range %d <= %d)",
                            channels >= 3 ? "colour" : "grey", join(s.mean, channels, 0).c_str(),
                            join(s.stddev, channels, 1).c_str(), rules.max_stddev, luma_range,
                            rules.max_luma_range));
}

}  // namespace nbcore::image
