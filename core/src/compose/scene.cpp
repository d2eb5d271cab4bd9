// run_scene(): a background, then one element per request, each stage validated and retried by
// Client::generate on its own; scene_from_prompt(): a Scene from a prompt's staging plan.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "compose/scene_internal.hpp"
#include "nbcore/models.hpp"
#include "nbcore/prompt.hpp"
#include "nbcore/scene.hpp"

namespace nbcore {

std::string_view element_mode_name(ElementMode m) noexcept {
    return m == ElementMode::Cutout ? "cutout" : "edit";
}

double SceneResult::cost_usd() const noexcept {
    double sum = 0;
    for (const auto& s : stages) sum += s.cost_usd;
    return sum;
}

Scene scene_from_prompt(std::string_view prompt, ElementMode mode) {
    prompt::StagePlan plan = prompt::plan_stages(prompt::analyze(prompt));
    Scene scene;
    scene.style = plan.style;
    scene.background = plan.background;
    // The plan's background already ends with the style clauses; the scene adds the style to every
    // stage itself, so it is taken off here rather than sent twice.
    const std::string suffix = ", " + plan.style;
    if (!plan.style.empty() && scene.background.size() > suffix.size() &&
        scene.background.compare(scene.background.size() - suffix.size(), suffix.size(), suffix) == 0)
        scene.background.erase(scene.background.size() - suffix.size());
    for (const auto& e : plan.elements) {
        SceneElement el;
        el.prompt = e.prompt;
        // Planned boxes are inside the canvas; clamping only guards against rounding.
        el.box.x = std::clamp(e.box.x, 0.0, 1.0);
        el.box.y = std::clamp(e.box.y, 0.0, 1.0);
        el.box.w = std::clamp(e.box.w, 0.0, 1.0 - el.box.x);
        el.box.h = std::clamp(e.box.h, 0.0, 1.0 - el.box.y);
        el.z = e.z;
        el.mode = mode;
        scene.elements.push_back(std::move(el));
    }
    return scene;
}

namespace {

[[noreturn]] void bad_arg(std::string message, std::string advice) {
    throw Error(Status::INVALID_ARG, std::move(message), std::move(advice));
}

bool blank_text(std::string_view s) { return s.find_first_not_of(" \t\r\n") == std::string_view::npos; }

std::string with_style(std::string text, const std::string& style) {
    if (!style.empty()) text += ", " + style;
    return text;
}

std::string background_prompt(const Scene& scene) { return with_style(scene.background, scene.style); }

std::string edit_prompt(const SceneElement& el, const Scene& scene) {
    return inpaint_prompt(with_style(el.prompt, scene.style));
}

std::string cutout_prompt(const SceneElement& el, const Scene& scene, const compose::Rgb& key) {
    std::string p = el.prompt + ", alone and centred, on a plain solid background of colour " +
                    compose::to_hex(key) + ", no shadow, nothing else.";
    if (!scene.style.empty()) p += " " + scene.style;
    return p;
}

compose::Rgb cutout_key(const image::Pixels& canvas, const SceneOptions& o) {
    if (o.key_candidates.empty()) return compose::choose_key_colour(canvas).key;
    return compose::choose_key_colour(canvas, o.key_candidates).key;
}

// The stages in running order: the background, then the elements by z (stable).
struct Plan {
    const SceneElement* element = nullptr;   // null for the background
    std::string_view kind;
};

std::vector<Plan> plan_of(const Scene& scene) {
    std::vector<const SceneElement*> els;
    for (const auto& e : scene.elements) els.push_back(&e);
    std::stable_sort(els.begin(), els.end(), [](auto* a, auto* b) { return a->z < b->z; });
    std::vector<Plan> plan{{nullptr, "background"}};
    for (auto* e : els) plan.push_back({e, element_mode_name(e->mode)});
    return plan;
}

// The prompt stage `p` sends when drawn over `before` (null for the background).
std::string stage_prompt(const Plan& p, const Scene& scene, const image::Pixels* before,
                         const SceneOptions& o) {
    if (!p.element) return background_prompt(scene);
    if (p.element->mode == ElementMode::Edit) return edit_prompt(*p.element, scene);
    return cutout_prompt(*p.element, scene, cutout_key(*before, o));
}

void validate_scene(const Client& client, const Scene& scene) {
    if (blank_text(scene.background))
        bad_arg("scene: the background prompt is empty",
                "Describe the background (the setting, without the foreground elements).");
    for (std::size_t i = 0; i < scene.elements.size(); ++i) {
        const SceneElement& e = scene.elements[i];
        const std::string who = "scene: element " + std::to_string(i) + " (\"" + e.prompt + "\")";
        if (blank_text(e.prompt))
            bad_arg("scene: element " + std::to_string(i) + " has an empty prompt", "Say what the element is.");
        const compose::BoxF& b = e.box;
        constexpr double eps = 1e-9;
        if (!std::isfinite(b.x) || !std::isfinite(b.y) || !std::isfinite(b.w) || !std::isfinite(b.h) ||
            b.w <= 0 || b.h <= 0 || b.x < -eps || b.y < -eps || b.x + b.w > 1 + eps || b.y + b.h > 1 + eps)
            bad_arg(who + ": its box {x " + std::to_string(b.x) + ", y " + std::to_string(b.y) + ", w " +
                        std::to_string(b.w) + ", h " + std::to_string(b.h) +
                        "} must have w, h > 0 and lie inside the canvas (0..1)",
                    "Give the box as fractions of the canvas: x, y of its top-left corner, w and h > 0, "
                    "with x + w <= 1 and y + h <= 1.");
    }
    // The background request is checked against the model tables (aspect ratio, image size)
    // before anything is sent; every later request is built from the same checked values.
    Request req;
    req.model = detail::resolved_model(client, scene.model);
    req.prompt = background_prompt(scene);
    req.aspect_ratio = scene.aspect_ratio;
    req.image_size = scene.image_size;
    validate_request(req, req.model);
}

void fail_stage(SceneStage& st, const Error& e) {
    st.status = e.code();
    st.error = e.diagnosis();
    if (st.attempts.empty()) st.attempts = e.attempts;
    st.composite.reset();
}

void take_result(SceneStage& st, const Result& r) {
    st.attempts = r.attempts;
    st.image_size = r.image_size;
    st.cost_usd = r.cost_usd;
    if (!r.images.empty()) st.answer = r.images.front().data;
}

void run_background(Client& client, const Scene& scene, const std::string& model, const SceneOptions& o,
                    SceneStage& st) {
    Request req;
    req.model = model;
    req.prompt = st.prompt;
    req.seed = o.seed;
    req.safety = o.safety;
    req.aspect_ratio = scene.aspect_ratio;
    req.image_size = scene.image_size;
    Result r = client.generate(req, o.call);
    take_result(st, r);
    image::Pixels canvas = detail::answer_pixels(client, r);
    st.placed = st.crop = compose::bounds_of(canvas);
    st.composite = std::make_shared<const image::Pixels>(std::move(canvas));
}

void run_edit(Client& client, const SceneElement& el, const std::string& style, const std::string& model,
              const image::Pixels& canvas, const SceneOptions& o, SceneStage& st) {
    const compose::Rect box = compose::to_pixels(el.box, canvas.width, canvas.height);
    image::Pixels mask;
    mask.width = canvas.width;
    mask.height = canvas.height;
    mask.channels = 1;
    mask.data.resize(std::size_t(canvas.width) * std::size_t(canvas.height));
    for (int y = box.y; y < box.bottom(); ++y)
        std::fill_n(mask.data.data() + std::size_t(y) * std::size_t(canvas.width) + box.x, box.w, std::uint8_t(255));
    InpaintOptions io;
    io.model = model;
    io.crop = o.crop;
    io.blend.mask = o.mask;
    io.blend.colour_match = o.colour_match;
    io.seed = o.seed;
    io.safety = o.safety;
    io.call = o.call;
    InpaintResult ir = inpaint(client, canvas, mask, with_style(el.prompt, style), io);
    take_result(st, ir.result);
    st.placed = box;
    st.crop = ir.plan.crop;
    st.composite = std::move(ir.image);
}

void run_cutout(Client& client, const SceneElement& el, const std::string& model, const image::Pixels& canvas,
                const compose::Rgb& key, const SceneOptions& o, SceneStage& st) {
    const compose::Rect box = compose::to_pixels(el.box, canvas.width, canvas.height);
    Request req;
    req.model = model;
    req.prompt = st.prompt;
    req.aspect_ratio = std::string(compose::snap_aspect(box.w, box.h).name);
    req.image_size = image_size_covering(model, req.aspect_ratio, std::max(box.w, box.h));
    req.seed = o.seed;
    req.safety = o.safety;
    Result r = client.generate(req, o.call);
    take_result(st, r);
    image::Pixels answer = detail::answer_pixels(client, r);
    compose::CutoutOptions co = o.cutout;
    co.key = key;
    compose::Cutout cut = compose::cut_out(answer, co);
    auto refuse = [&](std::string reason, std::string message) {
        Diagnosis d;
        d.code = Status::BLANK_IMAGE;
        d.reason = std::move(reason);
        d.message = std::move(message);
        d.advice = "Describe one concrete object for the element, or use edit mode for it; the model was "
                   "asked to draw it alone on " + compose::to_hex(key) + ".";
        Error e(std::move(d));
        e.attempts = r.attempts;
        e.route = r.route;
        throw e;
    };
    if (!cut.report.plausible)
        refuse("CUTOUT_NO_KEY", "cutout: the answer is not an element on a flat key colour (" +
                                    cut.report.problem + "), so nothing can be cut out");
    if (compose::alpha_bounds(cut.rgba).empty())
        refuse("CUTOUT_NO_SUBJECT", "cutout: the answer shows only the key colour " + compose::to_hex(cut.report.key) +
                                        "; no subject was found to cut out");
    image::Pixels next = detail::copy_pixels(canvas);
    st.placed = compose::place_element(next, cut.rgba, box);
    st.crop = {};
    st.composite = std::make_shared<const image::Pixels>(std::move(next));
}

}  // namespace

SceneResult run_scene(Client& client, const Scene& scene, const SceneOptions& options, const SceneResult* resume) {
    validate_scene(client, scene);
    const std::string model = detail::resolved_model(client, scene.model);
    const std::vector<Plan> plan = plan_of(scene);

    SceneResult out;
    out.stage_count = int(plan.size());

    if (resume) {
        auto mismatch = [&](const std::string& why) {
            bad_arg("run_scene: the result to resume is not of this scene: " + why,
                    "Resume with the SceneResult of the same Scene (same background, style, elements and "
                    "key colours), or run this scene from the start without resume.");
        };
        if (resume->stage_count != out.stage_count)
            mismatch("it has " + std::to_string(resume->stage_count) + " stages, this scene " +
                     std::to_string(out.stage_count));
        const image::Pixels* before = nullptr;
        for (std::size_t i = 0; i < resume->stages.size(); ++i) {
            const SceneStage& st = resume->stages[i];
            if (i >= plan.size()) mismatch("it has more stages than this scene");
            if (st.index != int(i) || st.kind != plan[i].kind)
                mismatch("its stage " + std::to_string(i) + " is a " + st.kind + " stage, this scene's is " +
                         std::string(plan[i].kind));
            const std::string expect = stage_prompt(plan[i], scene, before, options);
            if (st.prompt != expect)
                mismatch("its stage " + std::to_string(i) + " sent \"" + st.prompt + "\", this scene's sends \"" +
                         expect + "\"");
            if (st.status != Status::OK || !st.composite) break;
            out.stages.push_back(st);
            out.image = st.composite;
            before = st.composite.get();
        }
    }

    for (std::size_t i = out.stages.size(); i < plan.size(); ++i) {
        SceneStage st;
        st.index = int(i);
        st.kind = std::string(plan[i].kind);
        const image::Pixels* canvas = out.image.get();
        try {
            // The prompt is set before the cancellation check, so that a stage cancelled before
            // it was sent still resumes as a stage of this scene.
            if (!plan[i].element) {
                st.prompt = background_prompt(scene);
                detail::throw_if_cancelled(options.call);
                run_background(client, scene, model, options, st);
            } else if (plan[i].element->mode == ElementMode::Edit) {
                st.prompt = edit_prompt(*plan[i].element, scene);
                detail::throw_if_cancelled(options.call);
                run_edit(client, *plan[i].element, scene.style, model, *canvas, options, st);
            } else {
                const compose::Rgb key = cutout_key(*canvas, options);
                st.prompt = cutout_prompt(*plan[i].element, scene, key);
                detail::throw_if_cancelled(options.call);
                run_cutout(client, *plan[i].element, model, *canvas, key, options, st);
            }
        } catch (const Error& e) {
            fail_stage(st, e);
        }
        if (st.status == Status::OK) out.image = st.composite;
        out.stages.push_back(st);
        if (options.on_stage) options.on_stage(out.stages.back());
        if (st.status != Status::OK) {
            out.failed_stage = st.index;
            break;
        }
    }
    return out;
}

}  // namespace nbcore
