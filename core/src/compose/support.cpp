// Argument checks, allocation, the distance transform's row pass and the box blur.
#include <algorithm>
#include <cstring>
#include <string>

#include "compose/compose_internal.hpp"

namespace nbcore::compose::detail {

Pixels zeroed(int width, int height, int channels) {
    Pixels px;
    px.width = width;
    px.height = height;
    px.channels = channels;
    px.data.resize(std::size_t(width) * std::size_t(height) * std::size_t(channels));
    return px;
}

void require_pixels(const Pixels& px, const char* who, const char* what, int min_ch, int max_ch) {
    bool ok = px.width > 0 && px.height > 0 && px.channels >= min_ch && px.channels <= max_ch &&
              px.data.size() >= px.stride() * std::size_t(px.height);
    if (ok) return;
    std::string channels = min_ch == max_ch ? std::to_string(min_ch)
                                            : std::to_string(min_ch) + ".." + std::to_string(max_ch);
    throw_invalid_arg(std::string(who) + ": " + what + " must have width, height > 0, " + channels +
                      " channel(s) and width*height*channels bytes (got " +
                      std::to_string(px.width) + "x" + std::to_string(px.height) + "x" +
                      std::to_string(px.channels) + ", " + std::to_string(px.data.size()) + " bytes)");
}

void require_mask(const Pixels& mask, const char* who, const char* what) {
    require_pixels(mask, who, what, 1, 1);
}

void require_same_size(const Pixels& a, const Pixels& b, const char* who, const char* a_name,
                       const char* b_name) {
    if (a.width == b.width && a.height == b.height) return;
    throw_invalid_arg(std::string(who) + ": " + a_name + " (" + std::to_string(a.width) + "x" +
                      std::to_string(a.height) + ") and " + b_name + " (" + std::to_string(b.width) +
                      "x" + std::to_string(b.height) + ") must be the same size; resize or crop first");
}

void envelope_1d(std::int32_t* f, int n, std::vector<int>& v, std::vector<double>& z,
                 std::vector<std::int32_t>& scratch) {
    // Lower envelope of the parabolas (x - q)^2 + f(q) over the seeds q with a finite f.
    int k = -1;
    auto height = [&](int q) { return double(f[q]) + double(q) * double(q); };
    for (int q = 0; q < n; ++q) {
        if (f[q] >= kFar) continue;
        if (k < 0) {
            k = 0;
            v[0] = q;
            z[0] = -1e300;
            z[1] = 1e300;
            continue;
        }
        double s = (height(q) - height(v[std::size_t(k)])) / (2.0 * (q - v[std::size_t(k)]));
        while (s <= z[std::size_t(k)]) {  // z[0] is -inf, so k never drops below 0
            --k;
            s = (height(q) - height(v[std::size_t(k)])) / (2.0 * (q - v[std::size_t(k)]));
        }
        ++k;
        v[std::size_t(k)] = q;
        z[std::size_t(k)] = s;
        z[std::size_t(k) + 1] = 1e300;
    }
    if (k < 0) return;  // no seed in this row nor in its columns: stays kFar
    std::memcpy(scratch.data(), f, std::size_t(n) * sizeof(std::int32_t));
    int j = 0;
    for (int x = 0; x < n; ++x) {
        while (z[std::size_t(j) + 1] < x) ++j;
        const int q = v[std::size_t(j)];
        const std::int64_t d = std::int64_t(x - q) * (x - q) + scratch[std::size_t(q)];
        f[x] = d < kFar ? std::int32_t(d) : kFar;
    }
}

namespace {

// floor((sum + n/2) / n) without a division per pixel: sum <= 255 n and n < 4096 keep the
// 32.32 fixed-point reciprocal exact (the error stays below 1/n).
struct RoundedDivide {
    std::uint64_t m;
    std::uint32_t half;
    explicit RoundedDivide(std::uint32_t n) : m((std::uint64_t(1) << 32) / n + 1), half(n / 2) {}
    std::uint8_t operator()(std::uint32_t sum) const {
        return std::uint8_t((std::uint64_t(sum + half) * m) >> 32);
    }
};

void box_rows(const std::uint8_t* src, std::uint8_t* dst, int w, int h, int r) {
    const std::uint32_t n = std::uint32_t(2 * r + 1);
    const RoundedDivide div(n);
    for (int y = 0; y < h; ++y) {
        const std::uint8_t* s = src + std::size_t(y) * std::size_t(w);
        std::uint8_t* d = dst + std::size_t(y) * std::size_t(w);
        auto at = [&](int x) { return std::uint32_t(s[std::clamp(x, 0, w - 1)]); };
        std::uint32_t sum = 0;
        for (int i = -r; i <= r; ++i) sum += at(i);
        for (int x = 0; x < w; ++x) {
            d[x] = div(sum);
            sum += at(x + r + 1);
            sum -= at(x - r);
        }
    }
}

void box_columns(const std::uint8_t* src, std::uint8_t* dst, int w, int h, int r,
                 std::vector<std::uint32_t>& sums) {
    const std::uint32_t n = std::uint32_t(2 * r + 1);
    const RoundedDivide div(n);
    auto line = [&](int y) { return src + std::size_t(std::clamp(y, 0, h - 1)) * std::size_t(w); };
    sums.assign(std::size_t(w), 0);
    for (int i = -r; i <= r; ++i) {
        const std::uint8_t* s = line(i);
        for (int x = 0; x < w; ++x) sums[std::size_t(x)] += s[x];
    }
    for (int y = 0; y < h; ++y) {
        std::uint8_t* d = dst + std::size_t(y) * std::size_t(w);
        for (int x = 0; x < w; ++x) d[x] = div(sums[std::size_t(x)]);
        const std::uint8_t* in = line(y + r + 1);
        const std::uint8_t* out = line(y - r);
        for (int x = 0; x < w; ++x) sums[std::size_t(x)] += std::uint32_t(in[x]) - out[x];
    }
}

}  // namespace

void triple_box_blur(std::uint8_t* data, int w, int h, int s, std::vector<std::uint8_t>& tmp) {
    if (s <= 0 || w <= 0 || h <= 0) return;
    const int radii[3] = {s / 3, (s + 1) / 3, (s + 2) / 3};  // sum == s
    tmp.resize(std::size_t(w) * std::size_t(h));
    std::vector<std::uint32_t> sums;
    // Six passes ping-pong data -> tmp -> data ..., ending back in data.
    std::uint8_t* a = data;
    std::uint8_t* b = tmp.data();
    for (int r : radii) {
        box_rows(a, b, w, h, r);
        std::swap(a, b);
    }
    for (int r : radii) {
        box_columns(a, b, w, h, r, sums);
        std::swap(a, b);
    }
}

}  // namespace nbcore::compose::detail
