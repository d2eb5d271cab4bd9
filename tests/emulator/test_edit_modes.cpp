// Mask edits and cutouts over loopback: the answers nbcore's scene and inpaint engine is tested
// against. A mask edit paints a marker exactly over the mask's white region of the (resampled)
// input and changes nothing else; a cutout is a centred subject on a flat key colour. Both stay
// deterministic and give way to scripted faults, streams, quotas and batches like any answer.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include "common.hpp"
#include "nbcore/clock.hpp"
#include "nbcore/models.hpp"

using namespace emutest;

namespace {

json body_json(const HttpResult& r) {
    INFO("status " << r.status << ", body: " << r.body.substr(0, 400));
    return json::parse(r.body);
}

struct Pixels {
    int w = 0;
    int h = 0;
    std::vector<std::uint8_t> rgb;

    const std::uint8_t* at(int x, int y) const {
        return rgb.data() + (static_cast<std::size_t>(y) * static_cast<std::size_t>(w) + static_cast<std::size_t>(x)) * 3;
    }
    std::uint8_t* at(int x, int y) {
        return rgb.data() + (static_cast<std::size_t>(y) * static_cast<std::size_t>(w) + static_cast<std::size_t>(x)) * 3;
    }
};

Pixels decode(const std::string& bytes) {
    Pixels p;
    int comp = 0;
    stbi_uc* px = stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()), static_cast<int>(bytes.size()),
                                        &p.w, &p.h, &comp, 3);
    REQUIRE(px != nullptr);
    p.rgb.assign(px, px + static_cast<std::size_t>(p.w) * static_cast<std::size_t>(p.h) * 3);
    stbi_image_free(px);
    return p;
}

std::string png(int w, int h, int comp, const std::vector<std::uint8_t>& data) {
    std::string out;
    stbi_write_png_to_func(
        [](void* ctx, void* d, int size) { static_cast<std::string*>(ctx)->append(static_cast<char*>(d), static_cast<std::size_t>(size)); },
        &out, w, h, comp, data.data(), w * comp);
    return out;
}

std::string png(const Pixels& p) { return png(p.w, p.h, 3, p.rgb); }

// A busy but smooth input: every pixel differs from its neighbours, none is black or white.
Pixels pattern(int w, int h) {
    Pixels p{w, h, std::vector<std::uint8_t>(static_cast<std::size_t>(w) * static_cast<std::size_t>(h) * 3)};
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            std::uint8_t* q = p.at(x, y);
            q[0] = static_cast<std::uint8_t>(40 + 170 * x / std::max(1, w - 1));
            q[1] = static_cast<std::uint8_t>(40 + 170 * y / std::max(1, h - 1));
            q[2] = static_cast<std::uint8_t>(40 + 170 * (x + y) / std::max(1, w + h - 2));
        }
    return p;
}

struct Box {
    int x0, y0, x1, y1;   // [x0, x1) x [y0, y1)
};

// A mask with one white box on black, `comp` channels (1 grey, 3 RGB, 4 RGBA).
std::string box_mask(int w, int h, Box b, int comp = 1) {
    std::vector<std::uint8_t> m(static_cast<std::size_t>(w) * static_cast<std::size_t>(h) * static_cast<std::size_t>(comp), 0);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            bool white = x >= b.x0 && x < b.x1 && y >= b.y0 && y < b.y1;
            for (int c = 0; c < comp; ++c)
                m[(static_cast<std::size_t>(y) * static_cast<std::size_t>(w) + static_cast<std::size_t>(x)) * static_cast<std::size_t>(comp) + static_cast<std::size_t>(c)] =
                    (c == 3 || white) ? 255 : 0;
        }
    return png(w, h, comp, m);
}

json mask_request(const std::string& prompt, const std::string& image_png, const std::string& mask_png,
                  json generation_config = json::object()) {
    json body = contents_body({turn("user", {text_part(prompt), image_part("image/png", encode_base64(image_png)),
                                             image_part("image/png", encode_base64(mask_png))})});
    if (!generation_config.empty()) body["generationConfig"] = std::move(generation_config);
    return body;
}

std::array<int, 3> hex_rgb(const std::string& hex) {
    REQUIRE(hex.size() == 7);
    return {std::stoi(hex.substr(1, 2), nullptr, 16), std::stoi(hex.substr(3, 2), nullptr, 16),
            std::stoi(hex.substr(5, 2), nullptr, 16)};
}

double dist(const std::uint8_t* p, std::array<int, 3> c) {
    double s = 0;
    for (int i = 0; i < 3; ++i) s += (p[i] - c[static_cast<std::size_t>(i)]) * (p[i] - c[static_cast<std::size_t>(i)]);
    return std::sqrt(s);
}

int max_channel_diff(const std::uint8_t* p, std::array<int, 3> c) {
    int d = 0;
    for (int i = 0; i < 3; ++i) d = std::max(d, std::abs(p[i] - c[static_cast<std::size_t>(i)]));
    return d;
}

bool equal_px(const std::uint8_t* a, const std::uint8_t* b) { return a[0] == b[0] && a[1] == b[1] && a[2] == b[2]; }

// Where the answer's pixels equal `marker`: the bounding box, and how many.
std::pair<Box, long> marker_box(const Pixels& out, std::array<int, 3> marker) {
    Box b{out.w, out.h, 0, 0};
    long n = 0;
    for (int y = 0; y < out.h; ++y)
        for (int x = 0; x < out.w; ++x)
            if (max_channel_diff(out.at(x, y), marker) == 0) {
                ++n;
                b.x0 = std::min(b.x0, x), b.y0 = std::min(b.y0, y), b.x1 = std::max(b.x1, x + 1), b.y1 = std::max(b.y1, y + 1);
            }
    return {b, n};
}

// A mask edit whose input is already at the answer size: inside the box the marker, outside the
// input, bit for bit.
void check_exact_edit(const Pixels& input, const Pixels& out, Box box, std::array<int, 3> marker) {
    REQUIRE(out.w == input.w);
    REQUIRE(out.h == input.h);
    long inside_wrong = 0, outside_changed = 0;
    for (int y = 0; y < out.h; ++y)
        for (int x = 0; x < out.w; ++x) {
            bool inside = x >= box.x0 && x < box.x1 && y >= box.y0 && y < box.y1;
            if (inside) inside_wrong += max_channel_diff(out.at(x, y), marker) != 0;
            else outside_changed += !equal_px(out.at(x, y), input.at(x, y));
        }
    CHECK(inside_wrong == 0);
    CHECK(outside_changed == 0);
}

const json& render_note(const Emulator& emu) {
    static json last;
    last = emu.server.requests().back();
    REQUIRE(last.contains("render"));
    return last["render"];
}

}  // namespace

TEST_CASE("edit modes: a mask edit paints the marker exactly over the mask's white box", "[edit][mask]") {
    Emulator emu;
    // 1184x864 is Flash's 4:3 size: the answer keeps the input's size, so nothing is resampled.
    Pixels input = pattern(1184, 864);
    // The mask at a quarter of the size: its box maps to 4x the coordinates.
    auto r = emu.generate(kFlash, mask_request("put a lantern here", png(input), box_mask(296, 216, {37, 27, 148, 108})));
    REQUIRE(r.status == 200);
    json j = body_json(r);
    CHECK(j["candidates"][0]["finishReason"] == "STOP");
    Pixels out = decode(first_image_bytes(j));

    const json& note = render_note(emu);
    CHECK(note["mode"] == "mask_edit");
    CHECK(note["painted"] == true);
    CHECK(note["size"] == json::array({1184, 864}));
    CHECK(note["box"] == json::array({148, 108, 444, 324}));
    CHECK(note["mask_white_pixels"] == 444 * 324);
    auto marker = hex_rgb(note["marker"].get<std::string>());

    check_exact_edit(input, out, {148, 108, 592, 432}, marker);
    // The marker stands out from what it covers.
    auto mean = mean_colour(png(input), 148.0 / 1184, 108.0 / 864, 592.0 / 1184, 432.0 / 864);
    double d = std::sqrt(std::pow(marker[0] - mean[0], 2) + std::pow(marker[1] - mean[1], 2) + std::pow(marker[2] - mean[2], 2));
    CHECK(d >= 160);

    // RGB and RGBA masks at the input's own size mean the same.
    for (int comp : {3, 4}) {
        INFO("mask channels " << comp);
        auto again = emu.generate(kFlash, mask_request("put a lantern here", png(input), box_mask(1184, 864, {148, 108, 592, 432}, comp)));
        REQUIRE(again.status == 200);
        check_exact_edit(input, decode(first_image_bytes(body_json(again))), {148, 108, 592, 432}, marker);
    }
}

TEST_CASE("edit modes: the answer takes the nearest supported ratio; the box maps proportionally", "[edit][mask]") {
    Emulator emu([](auto& o) { o.mime = "png"; });
    Pixels input = pattern(1000, 700);
    const Box mbox{100, 150, 400, 450};
    const std::string mask = box_mask(1000, 700, mbox);
    REQUIRE(nbcore::nearest_aspect_ratio(1000, 700) == "3:2");

    struct Case {
        std::string model;
        json config;
        std::string ratio;
        std::string size;
    };
    const std::vector<Case> cases = {
        {kFlash, json::object(), "3:2", ""},                                                   // the input's nearest ratio
        {kPro, {{"imageConfig", {{"imageSize", "2K"}}}}, "3:2", "2K"},                         // at the requested size
        {kPro, {{"imageConfig", {{"aspectRatio", "16:9"}}}}, "16:9", "1K"},                    // a given ratio wins
    };
    for (const auto& c : cases) {
        INFO(c.model << " " << c.ratio << " " << c.size);
        auto r = emu.generate(c.model, mask_request("a small boat", png(input), mask, c.config));
        REQUIRE(r.status == 200);
        Pixels out = decode(first_image_bytes(body_json(r)));
        auto expected = nbcore::output_size(c.model, c.ratio, c.size);
        REQUIRE(expected);
        CHECK(out.w == expected->width);
        CHECK(out.h == expected->height);
        CHECK((out.w != input.w || out.h != input.h));   // the pixel shift clients must undo

        const json& note = render_note(emu);
        auto marker = hex_rgb(note["marker"].get<std::string>());
        // The painted box is the mask's box scaled by the answer's size, within 1 px on each side.
        const double sx = double(out.w) / input.w, sy = double(out.h) / input.h;
        auto [found, count] = marker_box(out, marker);
        CHECK(std::abs(found.x0 - mbox.x0 * sx) <= 1);
        CHECK(std::abs(found.x1 - mbox.x1 * sx) <= 1);
        CHECK(std::abs(found.y0 - mbox.y0 * sy) <= 1);
        CHECK(std::abs(found.y1 - mbox.y1 * sy) <= 1);
        CHECK(count == long(found.x1 - found.x0) * (found.y1 - found.y0));   // solid
        CHECK(note["box"] == json::array({found.x0, found.y0, found.x1 - found.x0, found.y1 - found.y0}));

        // Outside the box, 2 px clear of it: the input resampled (a smooth input, so a bilinear
        // sample of it is within a few levels of any resampling filter).
        long off = 0, checked = 0;
        for (int y = 0; y < out.h; y += 3)
            for (int x = 0; x < out.w; x += 3) {
                if (x >= found.x0 - 2 && x < found.x1 + 2 && y >= found.y0 - 2 && y < found.y1 + 2) continue;
                if (x < 3 || y < 3 || x >= out.w - 3 || y >= out.h - 3) continue;   // filter edge effects
                double fx = (x + 0.5) / sx - 0.5, fy = (y + 0.5) / sy - 0.5;
                int ix = std::clamp(int(fx), 0, input.w - 2), iy = std::clamp(int(fy), 0, input.h - 2);
                double ax = fx - ix, ay = fy - iy;
                ++checked;
                for (int ch = 0; ch < 3; ++ch) {
                    double v = (1 - ay) * ((1 - ax) * input.at(ix, iy)[ch] + ax * input.at(ix + 1, iy)[ch]) +
                               ay * ((1 - ax) * input.at(ix, iy + 1)[ch] + ax * input.at(ix + 1, iy + 1)[ch]);
                    if (std::abs(out.at(x, y)[ch] - v) > 3) {
                        ++off;
                        break;
                    }
                }
            }
        CHECK(checked > 10000);
        CHECK(off == 0);
    }
}

TEST_CASE("edit modes: an input already at a supported size keeps its size and its pixels", "[edit][mask]") {
    Emulator emu([](auto& o) { o.mime = "png"; });
    auto size = nbcore::output_size(kPro, "3:4", "2K");
    REQUIRE(size);
    Pixels input = pattern(size->width, size->height);
    REQUIRE(nbcore::nearest_aspect_ratio(input.w, input.h) == "3:4");
    const Box box{size->width / 5, size->height / 3, size->width / 5 + 301, size->height / 3 + 177};
    auto r = emu.generate(kPro, mask_request("a red door", png(input), box_mask(input.w, input.h, box),
                                             {{"imageConfig", {{"imageSize", "2K"}}}}));
    REQUIRE(r.status == 200);
    Pixels out = decode(first_image_bytes(body_json(r)));
    auto marker = hex_rgb(render_note(emu)["marker"].get<std::string>());
    check_exact_edit(input, out, box, marker);
}

TEST_CASE("edit modes: what counts as a mask, and an empty one", "[edit][mask]") {
    Emulator emu;
    Pixels input = pattern(1024, 1024);
    const std::string input_png = png(input);

    SECTION("an all-black mask answers the input unchanged, and the log says so") {
        auto r = emu.generate(kFlash, mask_request("nothing to do", input_png, box_mask(1024, 1024, {0, 0, 0, 0})));
        REQUIRE(r.status == 200);
        Pixels out = decode(first_image_bytes(body_json(r)));
        CHECK(out.rgb == input.rgb);
        const json& note = render_note(emu);
        CHECK(note["mode"] == "mask_edit");
        CHECK(note["painted"] == false);
        CHECK(note["mask_white_pixels"] == 0);
        CHECK_FALSE(note.contains("marker"));
        CHECK(emu.server.requests().back()["fault"] == "pass");
    }

    // A mask with a white box and a share of mid-grey speckles: under 1 % is still a mask.
    auto speckled = [](double share) {
        std::vector<std::uint8_t> m(512 * 512, 0);
        for (int y = 100; y < 200; ++y)
            for (int x = 50; x < 250; ++x) m[static_cast<std::size_t>(y) * 512 + static_cast<std::size_t>(x)] = 255;
        const auto grey = static_cast<std::size_t>(share * 512 * 512);
        for (std::size_t i = 0; i < grey; ++i) m[(i * 7919) % m.size()] = 128;
        return png(512, 512, 1, m);
    };
    SECTION("0.5 % grey: a mask") {
        REQUIRE(emu.generate(kFlash, mask_request("a bird", input_png, speckled(0.005))).status == 200);
        CHECK(render_note(emu)["mode"] == "mask_edit");
    }
    SECTION("2 % grey: not a mask, an ordinary edit") {
        auto r = emu.generate(kFlash, mask_request("a bird", input_png, speckled(0.02)));
        REQUIRE(r.status == 200);
        CHECK_FALSE(emu.server.requests().back().contains("render"));
        Pixels out = decode(first_image_bytes(body_json(r)));
        CHECK(out.rgb != input.rgb);   // the usual tinted edit
    }
    SECTION("a colourful second image, or a single image: an ordinary edit") {
        REQUIRE(emu.generate(kFlash, mask_request("a bird", input_png, two_tone_png(64, 64, {200, 30, 30}, {30, 30, 200}))).status == 200);
        CHECK_FALSE(emu.server.requests().back().contains("render"));
        json one = contents_body({turn("user", {text_part("a bird"), image_part("image/png", encode_base64(box_mask(64, 64, {8, 8, 32, 32})))})});
        REQUIRE(emu.generate(kFlash, one).status == 200);
        CHECK_FALSE(emu.server.requests().back().contains("render"));
    }
    SECTION("the mask must be the second image of the last user turn") {
        json earlier = contents_body({turn("user", {text_part("draw"), image_part("image/png", encode_base64(input_png)),
                                                    image_part("image/png", encode_base64(box_mask(64, 64, {8, 8, 32, 32})))}),
                                      turn("model", {image_part("image/png", encode_base64(input_png))}),
                                      turn("user", {text_part("again")})});
        REQUIRE(emu.generate(kFlash, earlier).status == 200);
        CHECK_FALSE(emu.server.requests().back().contains("render"));
    }
}

TEST_CASE("edit modes: mask edits are deterministic", "[edit][mask]") {
    Emulator emu;
    json body = mask_request("a kite", png(pattern(900, 600)), box_mask(90, 60, {10, 10, 40, 30}));
    auto a = emu.generate(kFlash, body);
    auto b = emu.generate(kFlash, body);
    REQUIRE(a.status == 200);
    std::string bytes = first_image_bytes(body_json(a));
    CHECK(bytes == first_image_bytes(body_json(b)));
    Emulator other;
    CHECK(bytes == first_image_bytes(body_json(other.generate(kFlash, body))));
    // The marker's colour follows the prompt.
    std::set<std::string> markers;
    for (const char* prompt : {"a kite", "a tree", "a cat", "a boat"}) {
        REQUIRE(emu.generate(kFlash, mask_request(prompt, png(pattern(900, 600)), box_mask(90, 60, {10, 10, 40, 30}))).status == 200);
        markers.insert(render_note(emu)["marker"].get<std::string>());
    }
    CHECK(markers.size() >= 2);
}

namespace {

struct CutoutCheck {
    Pixels out;
    json note;
};

// Everything a cutout promises: the key at the border and around the subject (within the noise),
// the subject centred at 60 % of the smaller side, far from the key inside, an antialiased edge
// and a key-coloured rim.
void check_cutout(const Pixels& out, const json& note, const std::string& key_hex) {
    auto key = hex_rgb(key_hex);
    CHECK(note["mode"] == "cutout");
    CHECK(note["key"] == key_hex);
    CHECK(note["size"] == json::array({out.w, out.h}));

    // The border: the key, within ±2 on every channel.
    long border_off = 0;
    for (int y = 0; y < out.h; ++y)
        for (int x = 0; x < out.w; ++x)
            if (x < 8 || y < 8 || x >= out.w - 8 || y >= out.h - 8) border_off += max_channel_diff(out.at(x, y), key) > 2;
    CHECK(border_off == 0);

    // The subject: every pixel off the key by more than the noise.
    Box b{out.w, out.h, 0, 0};
    long area = 0;
    for (int y = 0; y < out.h; ++y)
        for (int x = 0; x < out.w; ++x)
            if (max_channel_diff(out.at(x, y), key) > 2) {
                ++area;
                b.x0 = std::min(b.x0, x), b.y0 = std::min(b.y0, y), b.x1 = std::max(b.x1, x + 1), b.y1 = std::max(b.y1, y + 1);
            }
    const double side = std::min(out.w, out.h);
    const double bw = b.x1 - b.x0, bh = b.y1 - b.y0;
    CHECK(std::abs((b.x0 + b.x1) / 2.0 - out.w / 2.0) <= 1);
    CHECK(std::abs((b.y0 + b.y1) / 2.0 - out.h / 2.0) <= 1);
    // 60 % of the smaller side; the box also holds the faint outer half of the 1.5 px edge.
    CHECK(std::abs(bh - 0.6 * side) <= 3);
    CHECK(bw >= 0.75 * 0.6 * side - 3);
    CHECK(bw <= 0.6 * side + 3);
    CHECK(std::abs(note["subject"]["size"][1].get<double>() - bh) <= 3);
    CHECK(std::abs(note["subject"]["size"][0].get<double>() - bw) <= 3);
    // An ellipse fills pi/4 of its box.
    CHECK(std::abs(double(area) / (bw * bh) - 3.14159265 / 4) < 0.02);

    // Inside, away from the edge: far from the key. On the edge: blends. Just inside the edge:
    // a little of the key (spill) compared with a few pixels deeper.
    const double cx = out.w / 2.0, cy = out.h / 2.0;
    const double rx = note["subject"]["size"][0].get<double>() / 2, ry = note["subject"]["size"][1].get<double>() / 2;
    auto depth_at = [&](int x, int y) {   // distance inside the edge, px (negative outside)
        double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
        double f = dx * dx / (rx * rx) + dy * dy / (ry * ry) - 1;
        double gx = 2 * dx / (rx * rx), gy = 2 * dy / (ry * ry);
        return -f / std::max(1e-9, std::sqrt(gx * gx + gy * gy));
    };
    long near_key_inside = 0, blends = 0, rim_samples = 0;
    double spill_sum = 0, deep_sum = 0;
    for (int y = 0; y < out.h; ++y)
        for (int x = 0; x < out.w; ++x) {
            double depth = depth_at(x, y);
            double d = dist(out.at(x, y), key);
            if (depth > 4) near_key_inside += d < 140;
            if (std::abs(depth) < 0.6 && d > 10) ++blends;
            if (depth >= 0.8 && depth < 1.5) {
                // The same spot 5 px deeper along the normal.
                double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
                double nx = dx / (rx * rx), ny = dy / (ry * ry), nl = std::sqrt(nx * nx + ny * ny);
                int qx = int(std::lround(x - 5 * nx / nl)), qy = int(std::lround(y - 5 * ny / nl));
                spill_sum += d;
                deep_sum += dist(out.at(qx, qy), key);
                ++rim_samples;
            }
        }
    CHECK(near_key_inside == 0);
    CHECK(blends > 100);
    REQUIRE(rim_samples > 100);
    // The rim is 2 % or more closer to the key than the subject just behind it (6 % at the edge).
    CHECK(spill_sum < deep_sum * 0.98);
    CHECK(spill_sum > deep_sum * 0.90);
}

}  // namespace

TEST_CASE("edit modes: a cutout is a centred subject on the key colour", "[edit][cutout]") {
    Emulator emu([](auto& o) { o.mime = "png"; });

    SECTION("Flash, 1:1") {
        auto r = emu.generate(kFlash, prompt_body("a red apple, on a plain solid background of colour #1E90FF, studio light"));
        REQUIRE(r.status == 200);
        Pixels out = decode(first_image_bytes(body_json(r)));
        CHECK(out.w == 1024);
        CHECK(out.h == 1024);
        check_cutout(out, render_note(emu), "#1e90ff");
    }
    SECTION("Pro at a requested ratio and size, any case, keys at the cube's corners") {
        for (const char* key : {"#00ff00", "#FFFFFF", "#000000", "#808080"}) {
            INFO(key);
            auto r = emu.generate(kPro, prompt_body(std::string("A lone pine tree ON A PLAIN SOLID BACKGROUND OF COLOUR ") + key,
                                                    {{"imageConfig", {{"aspectRatio", "16:9"}, {"imageSize", "1K"}}}}));
            REQUIRE(r.status == 200);
            Pixels out = decode(first_image_bytes(body_json(r)));
            auto size = nbcore::output_size(kPro, "16:9", "1K");
            CHECK(out.w == size->width);
            CHECK(out.h == size->height);
            std::string lower = key;
            for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            check_cutout(out, render_note(emu), lower);
        }
    }
    SECTION("portrait, with a reference image that is not a mask: the input's ratio") {
        json body = contents_body({turn("user", {text_part("this mug on a plain solid background of colour #ff00ff"),
                                                 image_part("image/png", encode_base64(two_tone_png(600, 900, {200, 30, 30}, {30, 30, 200})))})});
        auto r = emu.generate(kFlash, body);
        REQUIRE(r.status == 200);
        Pixels out = decode(first_image_bytes(body_json(r)));
        auto size = nbcore::output_size(kFlash, "2:3", "");
        CHECK(out.w == size->width);
        CHECK(out.h == size->height);
        check_cutout(out, render_note(emu), "#ff00ff");
    }
    SECTION("near misses are ordinary scenes") {
        for (const char* prompt : {"an apple on a plain solid background of colour #1E90F",
                                   "an apple on a plain solid background of color #1E90FF",
                                   "an apple on a plain solid background of colour #1E90FF0",
                                   "an apple on a plain background of colour #1E90FF"}) {
            INFO(prompt);
            REQUIRE(emu.generate(kFlash, prompt_body(prompt)).status == 200);
            CHECK_FALSE(emu.server.requests().back().contains("render"));
        }
    }
}

TEST_CASE("edit modes: cutouts are deterministic for a prompt and seed", "[edit][cutout]") {
    Emulator emu;
    const std::string prompt = "a paper crane on a plain solid background of colour #00B140";
    auto bytes = [&](int seed) { return first_image_bytes(body_json(emu.generate(kFlash, prompt_body(prompt, {{"seed", seed}})))); };
    std::string a = bytes(3);
    CHECK(a == bytes(3));
    Emulator other;
    CHECK(a == first_image_bytes(body_json(other.generate(kFlash, prompt_body(prompt, {{"seed", 3}})))));
    json first_note = render_note(emu);
    std::string c = bytes(4);
    CHECK(c != a);                                                        // another seed: other noise
    CHECK(render_note(emu)["subject"] == first_note["subject"]);          // the same subject
    CHECK(render_note(emu)["colours"] == first_note["colours"]);
}

TEST_CASE("edit modes: faults, streams, quotas and batches treat them like any answer", "[edit][faults]") {
    auto clock = std::make_shared<nbcore::FakeClock>();
    Emulator emu([&](auto& o) { o.batch_ms = 10; o.clock = clock; });
    Pixels input = pattern(1184, 864);
    const json mask_body = mask_request("a lamp", png(input), box_mask(1184, 864, {100, 100, 300, 200}));
    const json cutout_body = prompt_body("a lamp on a plain solid background of colour #112233");

    const std::string mask_image = first_image_bytes(body_json(emu.generate(kFlash, mask_body)));
    const std::string cutout_image = first_image_bytes(body_json(emu.generate(kFlash, cutout_body)));

    SECTION("a scripted fault wins") {
        emu.server.set_script(R"({"replies": ["image_safety", "blank_image", "no_image", "500"]})");
        json blocked = body_json(emu.generate(kFlash, mask_body));
        CHECK(blocked["candidates"][0]["finishReason"] == "IMAGE_SAFETY");
        CHECK(image_parts(blocked).empty());
        Pixels blank = decode(first_image_bytes(body_json(emu.generate(kFlash, mask_body))));
        CHECK(blank.w == 1184);
        CHECK(std::all_of(blank.rgb.begin(), blank.rgb.end(), [&](std::uint8_t v) { return v == blank.rgb[0]; }));
        CHECK(body_json(emu.generate(kFlash, cutout_body))["candidates"][0]["finishReason"] == "NO_IMAGE");
        CHECK(emu.generate(kFlash, cutout_body).status == 500);
        auto log = emu.server.requests();
        for (std::size_t i = log.size() - 4; i < log.size(); ++i) CHECK_FALSE(log[i].contains("render"));
        // Transport faults deliver the same answer.
        emu.server.set_script(R"({"replies": ["trickle:1"]})");
        CHECK(first_image_bytes(body_json(emu.generate(kFlash, mask_body))) == mask_image);
    }
    SECTION("streams carry the same image") {
        for (bool sse : {true, false}) {
            auto r = emu.generate(kFlash, cutout_body, true, sse);
            REQUIRE(r.status == 200);
            std::vector<json> chunks = sse ? sse_events(r.body) : json::parse(r.body).get<std::vector<json>>();
            std::string found;
            for (const auto& c : chunks)
                if (auto b = first_image_bytes(c); !b.empty()) found = b;
            CHECK(found == cutout_image);
        }
    }
    SECTION("enforced quotas still refuse") {
        Emulator limited([](auto& o) { o.rpm_limit = 1; });
        CHECK(limited.generate(kFlash, mask_body).status == 200);
        CHECK(limited.generate(kFlash, mask_body).status == 429);
        CHECK(limited.server.requests().back()["fault"] == "quota_rpm");
    }
    SECTION("batch entries answer the same images") {
        json entries = json::array();
        for (const json* request : {&mask_body, &cutout_body}) {
            json entry = json::object();
            entry["request"] = *request;
            entries.push_back(entry);
        }
        json batch;
        batch["batch"]["displayName"] = "modes";
        batch["batch"]["inputConfig"]["requests"]["requests"] = entries;
        auto created = post(emu.url("/v1beta/models/" + kFlash + ":batchGenerateContent"), batch.dump(),
                            {kKeyHeader, "Content-Type: application/json"});
        REQUIRE(created.status == 200);
        const std::string name = body_json(created)["name"].get<std::string>();
        clock->advance(std::chrono::milliseconds(20));
        json done = body_json(get(emu.url("/v1beta/" + name), {kKeyHeader}));
        REQUIRE(done["done"] == true);
        const json& items = done["response"]["inlinedResponses"]["inlinedResponses"];
        REQUIRE(items.size() == 2);
        CHECK(first_image_bytes(items[0]["response"]) == mask_image);
        CHECK(first_image_bytes(items[1]["response"]) == cutout_image);
    }
}
