// Blank detection. One pass over the pixels gathers, per channel, the sum, the sum of squares
// and (for alpha) the count of zeros, all in exact integers, plus a 256-bin histogram of Rec. 601
// luminance for the percentiles.
//
// Speed matters: this pass runs on every image the engine accepts, right after a decode that
// takes ~300 ms for a 4K PNG, and its budget is a few percent of that. So pixels go through in
// blocks that stay in L1/L2, and each block in two steps: a fixed-size-group loop (sums, squares,
// zero counts, luminance bytes) that compilers turn into wide vector code, and a scalar
// histogram of the luminance bytes spread over four sub-histograms, so that runs of equal values
// (common: flat backgrounds) do not serialise on one counter. On x86-64 the group loop is also
// compiled for AVX2 and picked at run time when the CPU has it.
#include <algorithm>
#include <array>
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

// Per-lane partial sums of one block: lane i sees pixels i, i + kGroup, i + 2 kGroup, ...
template <int C>
struct Lanes {
    u16 sum[C][kGroup];
    u32 sq[C][kGroup];
    u32 zero_alpha[kGroup];
};

struct Totals {
    u64 sum[4] = {0, 0, 0, 0};
    u64 sq[4] = {0, 0, 0, 0};
    u64 zero_alpha = 0;
    u64 luma[4][256] = {};  // four sub-histograms, summed at the end
};

template <int C>
[[gnu::always_inline]] inline void add_sample(Lanes<C>& l, int c, int lane, u32 v) {
    l.sum[c][lane] = static_cast<u16>(l.sum[c][lane] + v);
    l.sq[c][lane] += v * v;
}

// The vector-friendly step over `groups` groups of kGroup pixels: the trip counts of the inner
// loops are compile-time constants, which is what lets -O2 vectorise them.
template <int C>
[[gnu::always_inline]] inline void group_step(const u8* __restrict p, std::size_t groups,
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
using GroupStepFn = void (*)(const u8*, std::size_t, u8*, Lanes<C>&);

template <int C>
void group_step_portable(const u8* p, std::size_t groups, u8* luma, Lanes<C>& l) {
    group_step<C>(p, groups, luma, l);
}

#ifdef NBCORE_IMAGE_AVX2
template <int C>
[[gnu::target("avx2")]] void group_step_avx2(const u8* p, std::size_t groups, u8* luma, Lanes<C>& l) {
    group_step<C>(p, groups, luma, l);
}
#endif

template <int C>
GroupStepFn<C> pick_group_step(Kernel kernel) {
#ifdef NBCORE_IMAGE_AVX2
    static const bool has_avx2 = __builtin_cpu_supports("avx2");
    if (kernel == Kernel::best && has_avx2) return &group_step_avx2<C>;
#endif
    (void)kernel;
    return &group_step_portable<C>;
}

// Scalar step for the pixels after the last whole group, straight into the totals.
template <int C>
void tail_step(const u8* p, std::size_t count, Totals& t) {
    for (std::size_t i = 0; i < count; ++i, p += C) {
        for (int c = 0; c < C; ++c) {
            t.sum[c] += p[c];
            t.sq[c] += u32(p[c]) * p[c];
        }
        if constexpr (C == 2 || C == 4) t.zero_alpha += p[C - 1] == 0 ? 1u : 0u;
        unsigned y = C >= 3 ? luma601(p[0], p[1], p[2]) : p[0];
        ++t.luma[0][y];
    }
}

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
    const GroupStepFn<C> group_step_fn = pick_group_step<C>(kernel);
    Totals t;
    alignas(64) u8 luma[kBlockPixels];
    for (std::size_t done = 0; done < count;) {
        const std::size_t k = std::min(kBlockPixels, count - done);
        const u8* block = pixels + done * C;
        const std::size_t groups = k / kGroup;
        Lanes<C> lanes{};
        group_step_fn(block, groups, luma, lanes);
        add_lanes(lanes, t);
        const std::size_t grouped = groups * kGroup;
        if constexpr (C >= 3)
            histogram_step(luma, grouped, 1, t.luma);
        else
            histogram_step(block, grouped, C, t.luma);  // grey: the luminance is channel 0
        tail_step<C>(block + grouped * C, k - grouped, t);
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
