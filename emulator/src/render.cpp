#include "render.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include <stb_image_resize.h>
#include <stb_image_write.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include <stb_easy_font.h>
#pragma GCC diagnostic pop

#include "nbcore/codec.hpp"
#include "util.hpp"

namespace nbcore::emulator {
namespace {

struct Rgb {
    std::uint8_t r, g, b;
};

// A saturated colour from 64 hash bits (hue from the low bits, lightness from the high ones).
Rgb colour_from(std::uint64_t h) {
    double hue = static_cast<double>(h % 360);
    double light = 0.35 + static_cast<double>((h >> 20) % 40) / 100.0;
    double sat = 0.55 + static_cast<double>((h >> 32) % 40) / 100.0;
    double c = (1 - std::fabs(2 * light - 1)) * sat;
    double x = c * (1 - std::fabs(std::fmod(hue / 60.0, 2) - 1));
    double m = light - c / 2;
    double r = 0, g = 0, b = 0;
    if (hue < 60) { r = c; g = x; }
    else if (hue < 120) { r = x; g = c; }
    else if (hue < 180) { g = c; b = x; }
    else if (hue < 240) { g = x; b = c; }
    else if (hue < 300) { r = x; b = c; }
    else { r = c; b = x; }
    auto to8 = [](double v) { return static_cast<std::uint8_t>(std::clamp(std::lround(v * 255), 0L, 255L)); };
    return {to8(r + m), to8(g + m), to8(b + m)};
}

std::uint8_t* pixel(Raster& img, int x, int y) {
    return img.rgb.data() + (static_cast<std::size_t>(y) * static_cast<std::size_t>(img.width) + static_cast<std::size_t>(x)) * 3;
}

void blend(std::uint8_t* p, Rgb c, int alpha /*0..256*/) {
    p[0] = static_cast<std::uint8_t>((p[0] * (256 - alpha) + c.r * alpha) >> 8);
    p[1] = static_cast<std::uint8_t>((p[1] * (256 - alpha) + c.g * alpha) >> 8);
    p[2] = static_cast<std::uint8_t>((p[2] * (256 - alpha) + c.b * alpha) >> 8);
}

void fill_rect(Raster& img, int x0, int y0, int x1, int y1, Rgb c, int alpha) {
    x0 = std::max(x0, 0);
    y0 = std::max(y0, 0);
    x1 = std::min(x1, img.width);
    y1 = std::min(y1, img.height);
    for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x) blend(pixel(img, x, y), c, alpha);
}

// Four corner colours, blended bilinearly: cheap, smooth, and different for every hash.
void paint_gradient(Raster& img, std::uint64_t h) {
    Rgb corners[4] = {colour_from(splitmix64(h ^ 1)), colour_from(splitmix64(h ^ 2)),
                      colour_from(splitmix64(h ^ 3)), colour_from(splitmix64(h ^ 4))};
    const int w = img.width, hgt = img.height;
    for (int y = 0; y < hgt; ++y) {
        int fy = hgt > 1 ? (y * 256) / (hgt - 1) : 0;
        int left[3], right[3];
        const std::uint8_t tl[3] = {corners[0].r, corners[0].g, corners[0].b};
        const std::uint8_t tr[3] = {corners[1].r, corners[1].g, corners[1].b};
        const std::uint8_t bl[3] = {corners[2].r, corners[2].g, corners[2].b};
        const std::uint8_t br[3] = {corners[3].r, corners[3].g, corners[3].b};
        for (int c = 0; c < 3; ++c) {
            left[c] = (tl[c] * (256 - fy) + bl[c] * fy);
            right[c] = (tr[c] * (256 - fy) + br[c] * fy);
        }
        std::uint8_t* row = pixel(img, 0, y);
        for (int x = 0; x < w; ++x) {
            int fx = w > 1 ? (x * 256) / (w - 1) : 0;
            for (int c = 0; c < 3; ++c)
                row[x * 3 + c] = static_cast<std::uint8_t>((left[c] * (256 - fx) + right[c] * fx) >> 16);
        }
    }
}

// One shape per word of the prompt: where, how big and what colour come from the word.
void paint_word_shapes(Raster& img, std::string_view prompt, std::uint64_t h) {
    const int side = std::min(img.width, img.height);
    int count = 0;
    std::size_t i = 0;
    while (i < prompt.size() && count < 12) {
        while (i < prompt.size() && prompt[i] == ' ') ++i;
        std::size_t j = prompt.find(' ', i);
        if (j == std::string_view::npos) j = prompt.size();
        if (j == i) break;
        std::uint64_t wh = splitmix64(fnv1a64(prompt.substr(i, j - i), h));
        i = j;
        ++count;
        int cx = static_cast<int>((0.1 + 0.8 * static_cast<double>(wh % 1000) / 1000.0) * img.width);
        int cy = static_cast<int>((0.1 + 0.8 * static_cast<double>((wh >> 10) % 1000) / 1000.0) * img.height);
        int radius = static_cast<int>((0.05 + 0.15 * static_cast<double>((wh >> 20) % 1000) / 1000.0) * side);
        Rgb colour = colour_from(wh >> 7);
        int kind = static_cast<int>((wh >> 40) % 3);
        int r2 = radius * radius;
        for (int y = std::max(cy - radius, 0); y < std::min(cy + radius, img.height); ++y) {
            for (int x = std::max(cx - radius, 0); x < std::min(cx + radius, img.width); ++x) {
                int dx = x - cx, dy = y - cy;
                bool inside = kind == 0 ? dx * dx + dy * dy <= r2                       // disc
                            : kind == 1 ? true                                          // square
                                        : std::abs(dx) + std::abs(dy) <= radius;        // diamond
                if (inside) blend(pixel(img, x, y), colour, 150);
            }
        }
    }
}

// Text with stb_easy_font: it yields axis-aligned quads, which we scale and fill.
void draw_text(Raster& img, const std::string& text, int x, int y, int scale, Rgb colour) {
    std::string ascii = text;
    for (auto& c : ascii)
        if (static_cast<unsigned char>(c) < 32 || static_cast<unsigned char>(c) > 126) c = '?';
    std::vector<char> buffer(ascii.size() * 300 + 1024);
    int quads = stb_easy_font_print(0, 0, ascii.data(), nullptr, buffer.data(), static_cast<int>(buffer.size()));
    auto scaled = [scale](float v) { return static_cast<int>(v * static_cast<float>(scale)); };
    for (int q = 0; q < quads; ++q) {
        // A quad is four vertices of {x, y, z, rgba}; the first and third are opposite corners.
        float first[2], third[2];
        std::memcpy(first, buffer.data() + q * 64, sizeof first);
        std::memcpy(third, buffer.data() + q * 64 + 32, sizeof third);
        fill_rect(img, x + scaled(first[0]), y + scaled(first[1]), x + scaled(third[0]), y + scaled(third[1]), colour, 256);
    }
}

int text_width(const std::string& line) {
    std::string copy = line;
    return stb_easy_font_width(copy.data());
}

// Greedy word wrap to at most `max_lines` lines of `max_width` font units.
std::vector<std::string> wrap(std::string_view text, int max_width, int max_lines) {
    std::vector<std::string> lines;
    std::string line;
    std::size_t i = 0;
    while (i < text.size()) {
        std::size_t j = text.find(' ', i);
        if (j == std::string_view::npos) j = text.size();
        std::string word(text.substr(i, j - i));
        i = j + 1;
        if (word.empty()) continue;
        std::string candidate = line.empty() ? word : line + " " + word;
        if (!line.empty() && text_width(candidate) > max_width) {
            lines.push_back(line);
            line = word;
            if (static_cast<int>(lines.size()) == max_lines) {
                lines.back() += " ...";
                return lines;
            }
        } else {
            line = candidate;
        }
    }
    if (!line.empty()) lines.push_back(line);
    return lines;
}

// The prompt, in white on a dark band across the lower part of the image.
void paint_caption(Raster& img, std::string_view prompt) {
    if (prompt.empty()) return;
    int scale = std::max(1, img.width / 420);
    int max_units = (img.width * 9 / 10) / scale;
    auto lines = wrap(prompt, max_units, 6);
    int line_h = 12 * scale;
    int band_h = static_cast<int>(lines.size()) * line_h + 2 * line_h;
    int band_y = img.height - band_h - img.height / 12;
    fill_rect(img, 0, band_y, img.width, band_y + band_h, {16, 16, 24}, 170);
    for (std::size_t i = 0; i < lines.size(); ++i) {
        int x = (img.width - text_width(lines[i]) * scale) / 2;
        draw_text(img, lines[i], x, band_y + line_h + static_cast<int>(i) * line_h, scale, {250, 250, 250});
    }
}

Raster resized(const InputImage& in, int width, int height) {
    Raster out{width, height, std::vector<std::uint8_t>(static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 3)};
    stbir_resize_uint8(in.rgb.data(), in.width, in.height, 0, out.rgb.data(), width, height, 0, 3);
    return out;
}

void paste(Raster& dst, const Raster& src, int x0, int y0) {
    for (int y = 0; y < src.height && y0 + y < dst.height; ++y) {
        if (y0 + y < 0) continue;
        int n = std::min(src.width, dst.width - x0);
        if (n <= 0 || x0 < 0) return;
        std::memcpy(pixel(dst, x0, y0 + y), src.rgb.data() + static_cast<std::size_t>(y) * src.width * 3,
                    static_cast<std::size_t>(n) * 3);
    }
}

// An edit: the first input fills the frame under a tint, later inputs become thumbnails.
void paint_edit_base(Raster& img, const SceneSpec& spec, std::uint64_t h) {
    Raster base = resized(*spec.inputs[0], img.width, img.height);
    img.rgb = std::move(base.rgb);
    Rgb tint = colour_from(h);
    fill_rect(img, 0, 0, img.width, img.height, tint, 64);
    int thumb_w = img.width / 6, margin = img.width / 48;
    for (std::size_t i = 1; i < spec.inputs.size() && i <= 5; ++i) {
        const auto& in = *spec.inputs[i];
        int thumb_h = std::max(1, in.height * thumb_w / std::max(1, in.width));
        paste(img, resized(in, thumb_w, thumb_h), margin + static_cast<int>(i - 1) * (thumb_w + margin), margin);
    }
}

// ---------------------------------------------------------------------------------------------
// Mask edits and cutouts: answers whose geometry a test can check to the pixel.

using Rgbd = std::array<double, 3>;

std::string hex_colour(Rgb c) {
    static const char digits[] = "0123456789abcdef";
    std::string s = "#";
    for (std::uint8_t v : {c.r, c.g, c.b}) {
        s += digits[v >> 4];
        s += digits[v & 15];
    }
    return s;
}

Rgbd as_double(Rgb c) { return {double(c.r), double(c.g), double(c.b)}; }

double distance(const Rgbd& a, const Rgbd& b) {
    double dr = a[0] - b[0], dg = a[1] - b[1], db = a[2] - b[2];
    return std::sqrt(dr * dr + dg * dg + db * db);
}

// Distance from `p` to the segment a..b: every colour a blend of a and b can take.
double segment_distance(const Rgbd& p, const Rgbd& a, const Rgbd& b) {
    Rgbd ab{b[0] - a[0], b[1] - a[1], b[2] - a[2]};
    double len2 = ab[0] * ab[0] + ab[1] * ab[1] + ab[2] * ab[2];
    double t = 0;
    if (len2 > 0) t = std::clamp(((p[0] - a[0]) * ab[0] + (p[1] - a[1]) * ab[1] + (p[2] - a[2]) * ab[2]) / len2, 0.0, 1.0);
    return distance(p, {a[0] + t * ab[0], a[1] + t * ab[1], a[2] + t * ab[2]});
}

// A fully saturated colour (HSL saturation 1, lightness 0.5) of the given hue in degrees.
Rgb pure_hue(int hue) {
    hue = ((hue % 360) + 360) % 360;
    int sector = hue / 60, f = (hue % 60) * 255 / 60;
    auto up = static_cast<std::uint8_t>(f), down = static_cast<std::uint8_t>(255 - f);
    switch (sector) {
        case 0: return {255, up, 0};
        case 1: return {down, 255, 0};
        case 2: return {0, 255, up};
        case 3: return {0, down, 255};
        case 4: return {up, 0, 255};
        default: return {255, 0, down};
    }
}

// The twelve hues a hash offers, in the order it offers them: a start hue, then 30° steps.
std::array<Rgb, 12> hue_candidates(std::uint64_t h) {
    std::array<Rgb, 12> out{};
    int start = static_cast<int>(h % 360);
    for (int i = 0; i < 12; ++i) out[static_cast<std::size_t>(i)] = pure_hue(start + 30 * i);
    return out;
}

// The first candidate at least `min_distance` from `avoid`, else the farthest one.
Rgb far_colour(std::uint64_t h, const Rgbd& avoid, double min_distance) {
    auto candidates = hue_candidates(h);
    Rgb best = candidates[0];
    double best_d = -1;
    for (Rgb c : candidates) {
        double d = distance(as_double(c), avoid);
        if (d >= min_distance) return c;
        if (d > best_d) best = c, best_d = d;
    }
    return best;
}

Raster input_at(const InputImage& in, int width, int height) {
    if (in.width == width && in.height == height) return Raster{width, height, in.rgb};   // no resampling at all
    return resized(in, width, height);
}

// The first input at the answer's size, with one solid colour over the mask's white region. The
// mask is sampled nearest at each answer pixel's centre, so a box [a, b) of mask columns becomes
// the answer columns whose centres fall in [a·W/mw, b·W/mw). White = mean channel >= 128.
void paint_mask_edit(Raster& img, const SceneSpec& spec, nlohmann::json* note) {
    const InputImage& mask = *spec.inputs[1];
    img.rgb = input_at(*spec.inputs[0], img.width, img.height).rgb;
    const int w = img.width, hgt = img.height;
    std::vector<int> mx(static_cast<std::size_t>(w)), my(static_cast<std::size_t>(hgt));
    for (int x = 0; x < w; ++x)
        mx[static_cast<std::size_t>(x)] = static_cast<int>(std::min<long long>(mask.width - 1, (2LL * x + 1) * mask.width / (2LL * w)));
    for (int y = 0; y < hgt; ++y)
        my[static_cast<std::size_t>(y)] = static_cast<int>(std::min<long long>(mask.height - 1, (2LL * y + 1) * mask.height / (2LL * hgt)));
    std::vector<std::uint8_t> region(static_cast<std::size_t>(w) * static_cast<std::size_t>(hgt));
    std::size_t count = 0;
    int x0 = w, y0 = hgt, x1 = 0, y1 = 0;
    Rgbd sum{0, 0, 0};
    for (int y = 0; y < hgt; ++y) {
        const std::uint8_t* mrow = mask.rgb.data() + static_cast<std::size_t>(my[static_cast<std::size_t>(y)]) * static_cast<std::size_t>(mask.width) * 3;
        for (int x = 0; x < w; ++x) {
            const std::uint8_t* m = mrow + static_cast<std::size_t>(mx[static_cast<std::size_t>(x)]) * 3;
            if (m[0] + m[1] + m[2] < 3 * 128) continue;
            region[static_cast<std::size_t>(y) * static_cast<std::size_t>(w) + static_cast<std::size_t>(x)] = 1;
            ++count;
            x0 = std::min(x0, x), y0 = std::min(y0, y), x1 = std::max(x1, x + 1), y1 = std::max(y1, y + 1);
            const std::uint8_t* p = pixel(img, x, y);
            for (int c = 0; c < 3; ++c) sum[static_cast<std::size_t>(c)] += p[c];
        }
    }
    nlohmann::json n = {{"mode", "mask_edit"},
                        {"size", {w, hgt}},
                        {"input_size", {spec.inputs[0]->width, spec.inputs[0]->height}},
                        {"mask_size", {mask.width, mask.height}},
                        {"mask_white_pixels", count}};
    if (count == 0) {
        n["painted"] = false;
        n["reason"] = "the mask has no white pixels; the input is answered unchanged";
        if (note) *note = std::move(n);
        return;
    }
    Rgbd mean{sum[0] / double(count), sum[1] / double(count), sum[2] / double(count)};
    Rgb marker = far_colour(fnv1a64(spec.prompt, 0x4D41524Bull), mean, kMarkerMinDistance);
    for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x)
            if (region[static_cast<std::size_t>(y) * static_cast<std::size_t>(w) + static_cast<std::size_t>(x)]) {
                std::uint8_t* p = pixel(img, x, y);
                p[0] = marker.r, p[1] = marker.g, p[2] = marker.b;
            }
    n["painted"] = true;
    n["marker"] = hex_colour(marker);
    n["box"] = {x0, y0, x1 - x0, y1 - y0};
    if (note) *note = std::move(n);
}

// A subject alone on a flat key colour: an ellipse centred in the frame, 0.6·S tall and
// 0.6·S·f wide (S = the smaller side, f in [0.75, 1] from the prompt), filled with a two-colour
// gradient and ripple far from the key; its edge fades into the key over 1.5 px, and the
// outer 3 px of the subject carry up to 6 % of the key (spill). The key itself has ±2 noise.
void paint_cutout(Raster& img, const SceneSpec& spec, std::uint64_t h, nlohmann::json* note) {
    const Rgb key{static_cast<std::uint8_t>(spec.cutout_key >> 16), static_cast<std::uint8_t>(spec.cutout_key >> 8),
                  static_cast<std::uint8_t>(spec.cutout_key)};
    const Rgbd k = as_double(key);
    const std::uint64_t ph = fnv1a64(spec.prompt, 0x43555430ull);   // the prompt's own hash

    // Two colours whose every blend stays far from the key.
    Rgbd a{}, b{};
    bool found = false;
    for (Rgb c : hue_candidates(ph)) {
        Rgbd ca = as_double(c);
        if (distance(ca, k) < kCutoutMinDistance) continue;
        const Rgbd darker{ca[0] * 0.55, ca[1] * 0.55, ca[2] * 0.55};
        const Rgbd lighter{ca[0] + (255 - ca[0]) * 0.45, ca[1] + (255 - ca[1]) * 0.45, ca[2] + (255 - ca[2]) * 0.45};
        for (const Rgbd& other : (splitmix64(ph) & 1) ? std::array<Rgbd, 2>{lighter, darker} : std::array<Rgbd, 2>{darker, lighter})
            if (!found && segment_distance(k, ca, other) >= kCutoutMinDistance) a = ca, b = other, found = true;
        if (found) break;
    }
    if (!found) a = b = as_double(far_colour(ph, k, kCutoutMinDistance));

    const int w = img.width, hgt = img.height;
    const double side = std::min(w, hgt);
    const double f = 0.75 + 0.25 * static_cast<double>(splitmix64(ph ^ 0xF) % 1001) / 1000.0;
    const double ry = kCutoutCoverage * side / 2, rx = ry * f;
    const double cx = w / 2.0, cy = hgt / 2.0;
    const double freq = (2 + static_cast<double>(splitmix64(ph ^ 0x5) % 3)) * 2 * 3.14159265358979 / side;   // 2..4 waves
    const double phase = static_cast<double>(h % 6283) / 1000.0;

    for (int y = 0; y < hgt; ++y) {
        std::uint64_t state = splitmix64(h ^ static_cast<std::uint64_t>(y) * 0x9E3779B97F4A7C15ull) | 1;
        for (int x = 0; x < w; ++x) {
            std::uint8_t* p = pixel(img, x, y);
            double bg[3];
            for (int c = 0; c < 3; ++c) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                int noise = static_cast<int>(state % (2 * kCutoutKeyNoise + 1)) - kCutoutKeyNoise;
                bg[c] = std::clamp(static_cast<int>(k[static_cast<std::size_t>(c)]) + noise, 0, 255);
            }
            const double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
            const double fv = (dx * dx) / (rx * rx) + (dy * dy) / (ry * ry) - 1;
            const double gx = 2 * dx / (rx * rx), gy = 2 * dy / (ry * ry);
            const double grad = std::sqrt(gx * gx + gy * gy);
            const double d = grad > 1e-9 ? fv / grad : -side;   // signed distance to the edge, px (< 0 inside)
            const double alpha = std::clamp(0.5 - d / kCutoutEdgePx, 0.0, 1.0);
            if (alpha <= 0) {
                p[0] = static_cast<std::uint8_t>(bg[0]), p[1] = static_cast<std::uint8_t>(bg[1]), p[2] = static_cast<std::uint8_t>(bg[2]);
                continue;
            }
            const double v = std::clamp((dy + ry) / (2 * ry), 0.0, 1.0);
            const double t = std::clamp(0.12 + 0.76 * v + 0.12 * std::sin(freq * (dx + 0.5 * dy) + phase), 0.0, 1.0);
            const double spill = kCutoutSpill * std::clamp(1 + d / kCutoutSpillPx, 0.0, 1.0);
            for (int c = 0; c < 3; ++c) {
                const std::size_t ci = static_cast<std::size_t>(c);
                double subject = a[ci] + (b[ci] - a[ci]) * t;
                subject += (k[ci] - subject) * spill;
                p[c] = static_cast<std::uint8_t>(std::clamp(std::lround(bg[c] + (subject - bg[c]) * alpha), 0L, 255L));
            }
        }
    }
    if (note) {
        auto to_rgb = [](const Rgbd& c) {
            return Rgb{static_cast<std::uint8_t>(std::lround(c[0])), static_cast<std::uint8_t>(std::lround(c[1])),
                       static_cast<std::uint8_t>(std::lround(c[2]))};
        };
        *note = {{"mode", "cutout"},
                 {"size", {w, hgt}},
                 {"key", hex_colour(key)},
                 {"subject", {{"centre", {cx, cy}}, {"size", {2 * rx, 2 * ry}}}},
                 {"colours", {hex_colour(to_rgb(a)), hex_colour(to_rgb(b))}}};
    }
}

void add_grain(Raster& img, int amplitude, std::uint64_t h) {
    if (amplitude <= 0) return;
    const int span = 2 * amplitude + 1;
    for (int y = 0; y < img.height; ++y) {
        std::uint64_t state = splitmix64(h ^ static_cast<std::uint64_t>(y) * 0x9E3779B97F4A7C15ull);
        std::uint8_t* row = pixel(img, 0, y);
        for (int i = 0; i < img.width * 3; ++i) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            int v = row[i] + static_cast<int>(state % static_cast<std::uint64_t>(span)) - amplitude;
            row[i] = static_cast<std::uint8_t>(std::clamp(v, 0, 255));
        }
    }
}

void write_to_string(void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<std::size_t>(size));
}

}  // namespace

std::uint64_t scene_hash(const SceneSpec& spec) {
    std::uint64_t h = fnv1a64(spec.prompt);
    h = fnv1a64(spec.model, splitmix64(h ^ spec.seed));
    h = fnv1a64(spec.aspect + "|" + spec.image_size, h);
    h = splitmix64(h ^ (static_cast<std::uint64_t>(spec.width) << 32 | static_cast<std::uint32_t>(spec.height)));
    h = splitmix64(h ^ static_cast<std::uint64_t>(spec.grain) ^ (spec.draft ? 0xD4AF7ull : 0));
    for (const auto& in : spec.inputs) h = splitmix64(h ^ in->digest);
    if (spec.mode != AnswerMode::Scene)
        h = splitmix64(h ^ (static_cast<std::uint64_t>(spec.mode) << 32 | spec.cutout_key) ^ 0x6D6F6465ull);
    return h;
}

Raster render_scene(const SceneSpec& spec, nlohmann::json* note) {
    Raster img{spec.width, spec.height,
               std::vector<std::uint8_t>(static_cast<std::size_t>(spec.width) * static_cast<std::size_t>(spec.height) * 3)};
    std::uint64_t h = scene_hash(spec);
    if (note) *note = nullptr;
    // Mask edits and cutouts are exact: no caption, no tint, no grain.
    if (spec.mode == AnswerMode::MaskEdit && spec.inputs.size() >= 2) {
        paint_mask_edit(img, spec, note);
        return img;
    }
    if (spec.mode == AnswerMode::Cutout) {
        paint_cutout(img, spec, h, note);
        return img;
    }
    if (spec.inputs.empty()) {
        paint_gradient(img, h);
        paint_word_shapes(img, spec.prompt, h);
    } else {
        paint_edit_base(img, spec, h);
    }
    if (!spec.draft) {
        paint_caption(img, spec.prompt);
        add_grain(img, std::clamp(spec.grain, 0, 64), h);
    }
    return img;
}

Raster flat_raster(int width, int height, std::uint8_t r, std::uint8_t g, std::uint8_t b) {
    Raster img{width, height, std::vector<std::uint8_t>(static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 3)};
    for (std::size_t i = 0; i < img.rgb.size(); i += 3) {
        img.rgb[i] = r;
        img.rgb[i + 1] = g;
        img.rgb[i + 2] = b;
    }
    return img;
}

std::string encode_png(const Raster& raster) {
    std::string out;
    stbi_write_png_to_func(write_to_string, &out, raster.width, raster.height, 3, raster.rgb.data(), raster.width * 3);
    return out;
}

std::string encode_jpeg(const Raster& raster, int quality) {
    std::string out;
    stbi_write_jpg_to_func(write_to_string, &out, raster.width, raster.height, 3, raster.rgb.data(), quality);
    return out;
}

EncodedImage make_encoded(const Raster& raster, std::string_view mime, int jpeg_quality) {
    EncodedImage e;
    e.mime = std::string(mime);
    e.width = raster.width;
    e.height = raster.height;
    e.bytes = mime == "image/jpeg" ? encode_jpeg(raster, jpeg_quality > 0 ? jpeg_quality : 90) : encode_png(raster);
    e.base64 = api::base64_encode(reinterpret_cast<const std::uint8_t*>(e.bytes.data()), e.bytes.size());
    return e;
}

std::shared_ptr<const EncodedImage> ImageCache::get(std::uint64_t key, const std::function<EncodedImage()>& make) {
    std::unique_lock lock(mu_);
    for (;;) {
        auto it = slots_.find(key);
        if (it == slots_.end()) break;
        if (it->second.image) {
            ++hits_;
            lru_.splice(lru_.begin(), lru_, it->second.lru_pos);
            return it->second.image;
        }
        ready_.wait(lock);   // someone else is rendering this key
    }
    ++misses_;
    slots_[key];   // placeholder: "being rendered"
    lock.unlock();
    std::shared_ptr<const EncodedImage> image;
    try {
        image = std::make_shared<const EncodedImage>(make());
    } catch (...) {
        lock.lock();
        slots_.erase(key);
        ready_.notify_all();
        throw;
    }
    lock.lock();
    lru_.push_front(key);
    slots_[key] = Slot{image, lru_.begin()};
    used_ += image->bytes.size() + image->base64.size();
    evict_locked();
    ready_.notify_all();
    return image;
}

void ImageCache::evict_locked() {
    while (used_ > budget_ && lru_.size() > 1) {
        auto key = lru_.back();
        lru_.pop_back();
        auto it = slots_.find(key);
        used_ -= it->second.image->bytes.size() + it->second.image->base64.size();
        slots_.erase(it);
    }
}

void ImageCache::clear() {
    std::lock_guard lock(mu_);
    for (auto it = slots_.begin(); it != slots_.end();) {
        if (it->second.image) it = slots_.erase(it);
        else ++it;
    }
    lru_.clear();
    used_ = 0;
}

std::size_t ImageCache::hits() const {
    std::lock_guard lock(mu_);
    return hits_;
}

std::size_t ImageCache::misses() const {
    std::lock_guard lock(mu_);
    return misses_;
}

}  // namespace nbcore::emulator
