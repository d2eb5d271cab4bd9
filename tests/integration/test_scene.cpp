// Staged scenes and mask-exact inpainting against the in-process emulator: the emulator paints a
// marker where the mask image is white and draws cutouts as an ellipse on the asked key colour
// (docs/emulator.md, "Mask edits and cutouts"), so placement can be checked to the pixel. Flash
// answers PNG, so pixel comparisons are exact.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "emulator_fixture.hpp"
#include "nbcore/compose.hpp"
#include "nbcore/models.hpp"
#include "nbcore/scene.hpp"

using namespace nbcore;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

constexpr const char* kKey = "scene-test-key-0001";
const std::string kFlash{kModelFlash};

// A smooth picture (gradients, no noise), so resampling there and back changes it little and the
// colour match has nothing to undo.
image::Pixels gradient(int w, int h) {
    image::Pixels px;
    px.width = w;
    px.height = h;
    px.channels = 4;
    px.data.resize(std::size_t(w) * h * 4);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            std::uint8_t* p = px.data.data() + (std::size_t(y) * w + x) * 4;
            p[0] = std::uint8_t(40 + 150 * x / w);
            p[1] = std::uint8_t(60 + 120 * y / h);
            p[2] = std::uint8_t(128 + 50 * std::sin(x / 180.0 + y / 240.0));
            p[3] = 255;
        }
    return px;
}

image::Pixels zero_mask(int w, int h) {
    image::Pixels m;
    m.width = w;
    m.height = h;
    m.channels = 1;
    m.data.resize(std::size_t(w) * h);
    return m;
}

void fill(image::Pixels& m, const compose::Rect& r, std::uint8_t v) {
    for (int y = r.y; y < r.bottom(); ++y)
        for (int x = r.x; x < r.right(); ++x) m.data.data()[std::size_t(y) * m.width + x] = v;
}

const std::uint8_t* at(const image::Pixels& px, int x, int y) {
    return px.data.data() + (std::size_t(y) * px.width + x) * px.channels;
}

compose::Rgb parse_hex(const std::string& s) {
    auto v = std::stoul(s.substr(1), nullptr, 16);
    return {std::uint8_t(v >> 16), std::uint8_t(v >> 8), std::uint8_t(v)};
}

double dist(const std::uint8_t* p, const compose::Rgb& c) {
    double dr = p[0] - c.r, dg = p[1] - c.g, db = p[2] - c.b;
    return std::sqrt(dr * dr + dg * dg + db * db);
}

// Bounds of the pixels within `tol` of colour `c` that differ from `before` (the picture the
// stage started from), so colours the picture already had do not count.
compose::Rect colour_bounds(const image::Pixels& px, const compose::Rgb& c, double tol, const image::Pixels& before) {
    compose::Rect r;
    for (int y = 0; y < px.height; ++y)
        for (int x = 0; x < px.width; ++x)
            if (dist(at(px, x, y), c) <= tol && !std::equal(at(px, x, y), at(px, x, y) + 3, at(before, x, y)))
                r = compose::unite(r, {x, y, 1, 1});
    return r;
}

// The render box of a mask edit (answer pixels), mapped back into the image through the crop.
compose::Rect mapped_render_box(const json& render, const compose::Rect& crop) {
    const auto& b = render["box"];
    const double sx = double(crop.w) / render["size"][0].get<double>();
    const double sy = double(crop.h) / render["size"][1].get<double>();
    const int x0 = int(std::lround(crop.x + b[0].get<double>() * sx));
    const int y0 = int(std::lround(crop.y + b[1].get<double>() * sy));
    const int x1 = int(std::lround(crop.x + (b[0].get<double>() + b[2].get<double>()) * sx));
    const int y1 = int(std::lround(crop.y + (b[1].get<double>() + b[3].get<double>()) * sy));
    return {x0, y0, x1 - x0, y1 - y0};
}

void check_within(const compose::Rect& got, const compose::Rect& want, int tol) {
    INFO("got {" << got.x << "," << got.y << "," << got.w << "," << got.h << "} want {" << want.x << ","
                 << want.y << "," << want.w << "," << want.h << "}");
    CHECK(std::abs(got.x - want.x) <= tol);
    CHECK(std::abs(got.y - want.y) <= tol);
    CHECK(std::abs(got.right() - want.right()) <= tol);
    CHECK(std::abs(got.bottom() - want.bottom()) <= tol);
}

Scene two_element_scene() {
    Scene s;
    s.background = "a quiet meadow under a pale sky";
    s.style = "watercolour";
    s.aspect_ratio = "16:9";
    s.model = kFlash;
    s.elements.push_back({"a red kite", {0.10, 0.15, 0.30, 0.40}, 1, ElementMode::Edit});
    s.elements.push_back({"a wooden cart", {0.55, 0.35, 0.35, 0.50}, 2, ElementMode::Cutout});
    return s;
}

int generation_requests(const emulator::Server& s) { return int(s.request_count()); }

}  // namespace

TEST_CASE("inpaint changes only the masked region; alpha-0 pixels are bit-identical", "[scene][inpaint]") {
    nbtest::EmulatorFixture f(kKey);
    Client client(f.client_options());
    const image::Pixels img = gradient(1600, 1000);
    image::Pixels mask = zero_mask(1600, 1000);
    const compose::Rect sel{620, 410, 260, 180};
    fill(mask, compose::inflate(sel, 2), 90);   // a soft fringe under half coverage
    fill(mask, sel, 255);

    InpaintOptions o;
    o.model = kFlash;
    InpaintResult r = inpaint(client, img, mask, "a red balloon", o);
    REQUIRE(r.image);
    REQUIRE(r.image->width == 1600);
    REQUIRE(r.image->height == 1000);
    REQUIRE(r.image->channels == 4);
    CHECK(r.mask_box == compose::inflate(sel, 2));
    CHECK(r.plan.crop.contains(compose::inflate(r.mask_box, r.blend.grow + r.blend.feather)));
    CHECK(r.result.attempts.size() == 1);
    CHECK(r.prompt.find("a red balloon") != std::string::npos);
    CHECK(r.prompt.find("Keep everything else exactly as it is.") != std::string::npos);

    // Every pixel whose blend alpha is 0 is bit-identical to the input; everything beyond
    // grow + feather of the mask is among them.
    const image::Pixels alpha = compose::blend_alpha(mask, {r.blend.grow, r.blend.feather});
    const compose::Rect reach = compose::inflate(r.mask_box, r.blend.grow + r.blend.feather + 1);
    long changed = 0, zero_alpha_diff = 0, far_diff = 0;
    for (int y = 0; y < 1000; ++y)
        for (int x = 0; x < 1600; ++x) {
            const bool same = std::equal(at(img, x, y), at(img, x, y) + 4, at(*r.image, x, y));
            if (!same) ++changed;
            if (alpha.data.data()[std::size_t(y) * 1600 + x] == 0 && !same) ++zero_alpha_diff;
            if (!reach.contains(x, y) && !same) ++far_diff;
        }
    CHECK(zero_alpha_diff == 0);
    CHECK(far_diff == 0);
    CHECK(changed > sel.w * sel.h / 2);
    CHECK(r.blend.changed.w > 0);
    CHECK(compose::inflate(r.mask_box, r.blend.grow + r.blend.feather + 1).contains(r.blend.changed));

    // The request: the crop and the mask image, the crop plan's ratio; the marker lands inside the
    // mask region (the part at or above half coverage).
    json log = f.server.requests();
    REQUIRE(log.size() == 1);
    const auto& parts = log[0]["body"]["contents"][0]["parts"];
    int images = 0;
    for (const auto& p : parts) images += p.contains("inlineData") ? 1 : 0;
    CHECK(images == 2);
    CHECK(log[0]["body"]["generationConfig"]["imageConfig"]["aspectRatio"] == std::string(r.plan.aspect.name));
    const json& render = log[0]["render"];
    REQUIRE(render["mode"] == "mask_edit");
    REQUIRE(render["painted"] == true);
    CHECK(render["input_size"] == json::array({r.plan.crop.w, r.plan.crop.h}));
    check_within(mapped_render_box(render, r.plan.crop), sel, 2);
    const compose::Rgb marker = parse_hex(render["marker"].get<std::string>());
    const compose::Rect painted = colour_bounds(*r.image, marker, 40, img);
    check_within(painted, sel, 2);
    CHECK(dist(at(*r.image, sel.x + sel.w / 2, sel.y + sel.h / 2), marker) < 12);
}

TEST_CASE("a two-element scene places each element within 2 px of its box", "[scene]") {
    nbtest::EmulatorFixture f(kKey);
    Client client(f.client_options());
    const Scene s = two_element_scene();
    std::vector<int> seen;
    SceneOptions so;
    so.on_stage = [&](const SceneStage& st) { seen.push_back(st.index); };
    SceneResult res = run_scene(client, s, so);
    REQUIRE(res.complete());
    CHECK(res.failed_stage == -1);
    CHECK(res.stage_count == 3);
    CHECK(seen == std::vector<int>{0, 1, 2});
    REQUIRE(res.stages.size() == 3);
    CHECK(res.stages[0].kind == "background");
    CHECK(res.stages[1].kind == "edit");
    CHECK(res.stages[2].kind == "cutout");
    CHECK(res.stages[0].prompt == "a quiet meadow under a pale sky, watercolour");
    for (const auto& st : res.stages) {
        CHECK(st.status == Status::OK);
        CHECK_FALSE(st.error);
        CHECK(st.attempts.size() == 1);
        CHECK(st.answer);
        REQUIRE(st.composite);
    }
    REQUIRE(res.image);
    CHECK(res.image == res.stages[2].composite);
    const int W = res.image->width, H = res.image->height;
    CHECK(W == 1344);   // Flash at 16:9
    CHECK(H == 768);
    CHECK(res.stages[0].placed == compose::Rect{0, 0, W, H});

    json log = f.server.requests();
    REQUIRE(log.size() == 3);
    CHECK(log[0]["body"]["generationConfig"]["imageConfig"]["aspectRatio"] == "16:9");

    // The edit: the marker the emulator painted, mapped back through the crop, is the box.
    const compose::Rect edit_box = compose::to_pixels(s.elements[0].box, W, H);
    CHECK(res.stages[1].placed == edit_box);
    REQUIRE(log[1]["render"]["mode"] == "mask_edit");
    check_within(mapped_render_box(log[1]["render"], res.stages[1].crop), edit_box, 2);
    const compose::Rgb marker = parse_hex(log[1]["render"]["marker"].get<std::string>());
    check_within(colour_bounds(*res.stages[1].composite, marker, 40, *res.stages[0].composite), edit_box, 2);

    // The cutout: asked on the chosen key, at the box's snapped ratio; placed aspect-kept and
    // centred in its box, touching it on one axis.
    const compose::Rect cut_box = compose::to_pixels(s.elements[1].box, W, H);
    const json& cr = log[2]["render"];
    REQUIRE(cr["mode"] == "cutout");
    // The emulator reports the key in lower case; the prompt carries compose::to_hex's spelling.
    CHECK(res.stages[2].prompt.find("on a plain solid background of colour " +
                                    compose::to_hex(parse_hex(cr["key"].get<std::string>()))) != std::string::npos);
    CHECK(log[2]["body"]["generationConfig"]["imageConfig"]["aspectRatio"] ==
          std::string(compose::snap_aspect(cut_box.w, cut_box.h).name));
    const compose::Rect placed = res.stages[2].placed;
    INFO("placed {" << placed.x << "," << placed.y << "," << placed.w << "," << placed.h << "}");
    CHECK(compose::inflate(cut_box, 2).contains(placed));
    const bool touches = std::abs(placed.w - cut_box.w) <= 2 || std::abs(placed.h - cut_box.h) <= 2;
    CHECK(touches);
    CHECK(std::abs((placed.x + placed.right()) - (cut_box.x + cut_box.right())) <= 4);    // centres within 2 px
    CHECK(std::abs((placed.y + placed.bottom()) - (cut_box.y + cut_box.bottom())) <= 4);
    // The subject's aspect is kept: the emulator's ellipse, scaled.
    const double want_aspect = cr["subject"]["size"][0].get<double>() / cr["subject"]["size"][1].get<double>();
    CHECK(std::abs(double(placed.w) / placed.h - want_aspect) < 0.05);
    // Outside the placed rect the cutout stage changed nothing; at its centre, the subject shows.
    const image::Pixels& before = *res.stages[1].composite;
    const image::Pixels& after = *res.stages[2].composite;
    long outside_diff = 0;
    for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x)
            if (!placed.contains(x, y) && !std::equal(at(before, x, y), at(before, x, y) + 4, at(after, x, y)))
                ++outside_diff;
    CHECK(outside_diff == 0);
    const int cx = placed.x + placed.w / 2, cy = placed.y + placed.h / 2;
    CHECK_FALSE(std::equal(at(before, cx, cy), at(before, cx, cy) + 3, at(after, cx, cy)));
    // No key colour fringe survives in the composite around the subject.
    const compose::Rgb key = parse_hex(cr["key"].get<std::string>());
    CHECK(colour_bounds(after, key, 30, before).empty());
}

TEST_CASE("a blocked element keeps the earlier stages and names the failed one; resume sends the rest",
          "[scene][resume]") {
    nbtest::EmulatorFixture f(kKey);
    Client client(f.client_options());
    const Scene s = two_element_scene();
    f.script({{"replies", {"pass", "pass", "image_safety"}}});
    SceneResult res = run_scene(client, s);
    CHECK(generation_requests(f.server) == 3);
    CHECK_FALSE(res.complete());
    CHECK(res.failed_stage == 2);
    REQUIRE(res.stages.size() == 3);
    CHECK(res.stages[0].status == Status::OK);
    CHECK(res.stages[1].status == Status::OK);
    REQUIRE(res.stages[0].composite);
    REQUIRE(res.stages[1].composite);
    const SceneStage& failed = res.stages[2];
    CHECK(failed.kind == "cutout");
    CHECK(failed.status == Status::BLOCKED_POLICY);
    REQUIRE(failed.error);
    CHECK(failed.error->code == Status::BLOCKED_POLICY);
    CHECK(failed.error->reason == "IMAGE_SAFETY");
    CHECK(failed.error->safety_layer == 2);
    CHECK_FALSE(failed.error->advice.empty());
    CHECK(failed.attempts.size() == 1);
    CHECK_FALSE(failed.composite);
    CHECK(res.image == res.stages[1].composite);   // the last good composite

    SECTION("resume sends only the remaining stage and reuses the good ones") {
        f.server.reset();
        SceneResult again = run_scene(client, s, {}, &res);
        CHECK(generation_requests(f.server) == 1);
        REQUIRE(again.complete());
        REQUIRE(again.stages.size() == 3);
        CHECK(again.stages[0].composite == res.stages[0].composite);
        CHECK(again.stages[1].composite == res.stages[1].composite);
        CHECK(again.stages[2].status == Status::OK);
        CHECK(again.stages[2].prompt == failed.prompt);
        json log = f.server.requests();
        REQUIRE(log.size() == 1);
        CHECK(log[0]["render"]["mode"] == "cutout");
        // A complete result resumes to itself without a request.
        f.server.reset();
        SceneResult same = run_scene(client, s, {}, &again);
        CHECK(same.complete());
        CHECK(generation_requests(f.server) == 0);
    }
    SECTION("resume with another scene is refused") {
        Scene other = s;
        other.elements[0].prompt = "a blue kite";
        f.server.reset();
        try {
            run_scene(client, other, {}, &res);
            FAIL("resumed another scene");
        } catch (const Error& e) {
            CHECK(e.code() == Status::INVALID_ARG);
            CHECK(std::string(e.what()).find("not of this scene") != std::string::npos);
            CHECK_FALSE(e.diagnosis().advice.empty());
        }
        Scene fewer = s;
        fewer.elements.pop_back();
        CHECK_THROWS_AS(run_scene(client, fewer, {}, &res), Error);
        CHECK(generation_requests(f.server) == 0);
    }
}

TEST_CASE("a raised token fails the next stage unsent; the result resumes, and on_stage reports only stages run",
          "[scene][cancel]") {
    nbtest::EmulatorFixture f(kKey);
    Client client(f.client_options());
    const Scene s = two_element_scene();
    CancelToken token;
    std::vector<std::pair<int, Status>> reported;
    SceneOptions o;
    o.call.cancel = &token;
    // Raised from on_stage after the background: the edit stage fails before it is sent.
    o.on_stage = [&](const SceneStage& st) {
        reported.emplace_back(st.index, st.status);
        if (st.index == 0) token.cancel();
    };
    SceneResult res = run_scene(client, s, o);
    CHECK(generation_requests(f.server) == 1);
    CHECK(res.failed_stage == 1);
    REQUIRE(res.stages.size() == 2);
    CHECK(res.stages[0].status == Status::OK);
    const SceneStage& cancelled = res.stages[1];
    CHECK(cancelled.status == Status::CANCELLED);
    REQUIRE(cancelled.error);
    CHECK(cancelled.error->message == "cancelled before it was sent");
    CHECK(cancelled.attempts.empty());
    CHECK_FALSE(cancelled.prompt.empty());
    CHECK(reported == std::vector<std::pair<int, Status>>{{0, Status::OK}, {1, Status::CANCELLED}});

    f.server.reset();
    reported.clear();
    CancelToken fresh;
    o.call.cancel = &fresh;
    SceneResult again = run_scene(client, s, o, &res);
    CHECK(again.complete());
    CHECK(generation_requests(f.server) == 2);
    CHECK(reported == std::vector<std::pair<int, Status>>{{1, Status::OK}, {2, Status::OK}});

    // An inpaint with a raised token: refused before the crop is sent.
    f.server.reset();
    image::Pixels px = gradient(64, 48);
    image::Pixels m = zero_mask(64, 48);
    fill(m, {8, 8, 16, 16}, 255);
    InpaintOptions io;
    io.call.cancel = &token;
    try {
        inpaint(client, px, m, "a dot", io);
        FAIL("inpaint with a raised token succeeded");
    } catch (const Error& e) {
        CHECK(e.code() == Status::CANCELLED);
    }
    CHECK(generation_requests(f.server) == 0);
}

TEST_CASE("scene_from_prompt plans a background and one element per subject", "[scene][plan]") {
    const Scene s = scene_from_prompt(
        "a cat, a dog, a parrot and a goldfish, a hamster in a sunny garden, watercolour painting");
    CHECK(s.elements.size() == 5);
    CHECK(s.background.find("garden") != std::string::npos);
    CHECK(s.style.find("watercolour") != std::string::npos);
    CHECK(s.background.find("watercolour") == std::string::npos);   // the style is added once, per stage
    for (const auto& e : s.elements) {
        CHECK_FALSE(e.prompt.empty());
        CHECK(e.box.w > 0);
        CHECK(e.box.h > 0);
        CHECK(e.box.x >= 0);
        CHECK(e.box.y >= 0);
        CHECK(e.box.x + e.box.w <= 1.0 + 1e-9);
        CHECK(e.box.y + e.box.h <= 1.0 + 1e-9);
        CHECK(e.mode == ElementMode::Edit);
    }
    CHECK(scene_from_prompt("a cat, a dog", ElementMode::Cutout).elements.at(1).mode == ElementMode::Cutout);
}

TEST_CASE("a 4K background that times out falls back to 2K, recorded on its stage", "[scene][downgrade]") {
    nbtest::EmulatorFixture f(kKey);
    auto o = f.client_options();
    o.downgrade_on_timeout = true;
    o.timeouts.total = 1500ms;
    Client client(o);
    f.script({{"replies", {"slow_first_byte:3000"}}});
    Scene s;
    s.background = "a harbour at dusk";
    s.aspect_ratio = "1:1";
    s.image_size = "4K";
    s.model = std::string(kModelPro);
    s.elements.push_back({"a lighthouse", {0.6, 0.2, 0.25, 0.5}, 0, ElementMode::Cutout});
    SceneResult res = run_scene(client, s);
    REQUIRE(res.complete());
    const SceneStage& bg = res.stages.at(0);
    REQUIRE(bg.attempts.size() == 2);
    CHECK(bg.attempts[0].outcome == Status::TIMEOUT);
    CHECK(bg.attempts[0].image_size == "4K");
    CHECK(bg.attempts[1].image_size == "2K");
    CHECK(bg.image_size == "2K");
    REQUIRE(bg.composite);
    CHECK(bg.composite->width == 2048);
    // The element ran on the 2K canvas, at the smallest size that covers its box.
    const SceneStage& el = res.stages.at(1);
    CHECK(el.attempts.size() == 1);
    CHECK(el.image_size == "1K");
    CHECK(compose::inflate(compose::to_pixels(s.elements[0].box, 2048, 2048), 2).contains(el.placed));
}

TEST_CASE("argument errors are INVALID_ARG with advice, before anything is sent", "[scene][args]") {
    nbtest::EmulatorFixture f(kKey);
    Client client(f.client_options());
    const image::Pixels img = gradient(640, 480);
    auto expect_invalid = [&](auto&& fn, const std::string& words) {
        try {
            fn();
            FAIL("no error");
        } catch (const Error& e) {
            INFO(e.what());
            CHECK(e.code() == Status::INVALID_ARG);
            CHECK(std::string(e.what()).find(words) != std::string::npos);
            CHECK_FALSE(e.diagnosis().advice.empty());
        }
    };
    expect_invalid([&] { inpaint(client, img, zero_mask(640, 480), "x"); }, "selects nothing");
    expect_invalid([&] { inpaint(client, img, zero_mask(320, 240), "x"); }, "320x240");
    image::Pixels rgb_mask = gradient(640, 480);
    expect_invalid([&] { inpaint(client, img, rgb_mask, "x"); }, "1 channel");
    image::Pixels m = zero_mask(640, 480);
    fill(m, {10, 10, 20, 20}, 255);
    expect_invalid([&] { inpaint(client, img, m, "  "); }, "prompt is empty");

    Scene s = two_element_scene();
    s.elements[0].box = {0.1, 0.1, 0, 0.2};
    expect_invalid([&] { run_scene(client, s); }, "box");
    s.elements[0].box = {0.9, 0.1, 0.3, 0.2};
    expect_invalid([&] { run_scene(client, s); }, "inside the canvas");
    s.elements[0].box = {std::numeric_limits<double>::quiet_NaN(), 0.1, 0.3, 0.2};
    expect_invalid([&] { run_scene(client, s); }, "box");
    s = two_element_scene();
    s.background = "";
    expect_invalid([&] { run_scene(client, s); }, "background");
    s = two_element_scene();
    s.image_size = "4K";   // Flash takes no image size
    CHECK_THROWS_AS(run_scene(client, s), Error);
    CHECK(generation_requests(f.server) == 0);
}
