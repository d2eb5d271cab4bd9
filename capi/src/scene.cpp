// Staged scenes and mask-exact inpainting: nbc_scene_*, nbc_inpaint over core/scene.hpp.
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <memory>
#include <string>

#include "guard.hpp"
#include "handles.hpp"
#include "layouts.hpp"
#include "nbcore/image.hpp"
#include "nbcore/models.hpp"
#include "nbcore/scene.hpp"

struct nbc_scene {
    nbcore::Scene scene;
};

struct nbc_scene_result {
    nbcore::SceneResult res;
    std::vector<std::string> answer_mimes;   // one per stage: sniffed from the answer's bytes
};

using nbcapi::guard;
using nbcapi::invalid_arg;
using nbcapi::require;

namespace {

std::string opt_str(const char* s) { return s ? std::string(s) : std::string(); }

nbcore::ElementMode to_mode(int mode, const char* what) {
    switch (mode) {
        case NBC_ELEMENT_EDIT: return nbcore::ElementMode::Edit;
        case NBC_ELEMENT_CUTOUT: return nbcore::ElementMode::Cutout;
        default:
            invalid_arg(std::string(what) + " is " + std::to_string(mode) +
                        "; use NBC_ELEMENT_EDIT or NBC_ELEMENT_CUTOUT");
    }
}

std::optional<std::int32_t> to_seed(int64_t seed, const char* what) {
    if (seed == -1) return std::nullopt;
    if (seed < std::numeric_limits<int32_t>::min() || seed > std::numeric_limits<int32_t>::max())
        invalid_arg(std::string(what) + " " + std::to_string(seed) +
                    " is outside the int32 range the API accepts (-1 = none)");
    return static_cast<std::int32_t>(seed);
}

nbcore::compose::MaskOptions to_mask(int32_t grow, int32_t feather, const char* owner) {
    nbcore::compose::MaskOptions m;
    if (grow < -1) invalid_arg(std::string(owner) + ".grow_px must be >= 0, or -1 for the default (4)");
    if (feather < -1) invalid_arg(std::string(owner) + ".feather_px must be >= 0, or -1 for auto");
    if (grow >= 0) m.grow = grow;
    m.feather = feather >= 0 ? feather : nbcore::compose::kAutoFeather;
    return m;
}

bool to_colour_match(int32_t v, const char* owner) {
    if (v < -1 || v > 1) invalid_arg(std::string(owner) + ".colour_match must be -1 (default: on), 0 or 1");
    return v != 0;
}

const nbcore::SceneStage& stage_at(const nbc_scene_result* res, int index) {
    require(res, "res");
    if (index < 0 || static_cast<std::size_t>(index) >= res->res.stages.size())
        invalid_arg("stage index " + std::to_string(index) + " is out of range (the result has " +
                    std::to_string(res->res.stages.size()) + " stages)");
    return res->res.stages[static_cast<std::size_t>(index)];
}

// What nbc_scene_result_stage and the on_stage callback report of a stage; the strings point into
// `st` and `mime`.
nbc_scene_stage_info stage_info(const nbcore::SceneStage& st, const std::string& mime) {
    nbc_scene_stage_info v = NBC_SCENE_STAGE_INFO_INIT;
    v.index = st.index;
    v.status = static_cast<int32_t>(st.status);
    v.attempt_count = static_cast<int32_t>(st.attempts.size());
    v.kind = st.kind.c_str();
    v.prompt = st.prompt.c_str();
    v.image_size = st.image_size.c_str();
    v.placed_x = st.placed.x;
    v.placed_y = st.placed.y;
    v.placed_w = st.placed.w;
    v.placed_h = st.placed.h;
    v.width = st.composite ? st.composite->width : 0;
    v.height = st.composite ? st.composite->height : 0;
    v.cost_usd = st.cost_usd;
    v.answer = st.answer ? st.answer->data() : nullptr;
    v.answer_size = st.answer ? st.answer->size() : 0;
    v.answer_mime = mime.c_str();
    return v;
}

std::string answer_mime(const nbcore::SceneStage& st) {
    return st.answer ? std::string(nbcore::image::sniff_mime(st.answer->data(), st.answer->size())) : std::string();
}

std::unique_ptr<nbc_scene_result> wrap(nbcore::SceneResult r) {
    auto out = std::make_unique<nbc_scene_result>();
    out->res = std::move(r);
    for (const auto& st : out->res.stages) out->answer_mimes.push_back(answer_mime(st));
    return out;
}

void copy_rgba(const nbcore::image::Pixels& px, uint8_t* buf) {
    const std::size_t need = static_cast<std::size_t>(px.width) * static_cast<std::size_t>(px.height) * 4;
    if (px.channels == 4) {
        std::memcpy(buf, px.data.data(), need);
    } else {
        nbcore::image::Pixels rgba = nbcore::image::to_rgba(px);
        std::memcpy(buf, rgba.data.data(), need);
    }
}

}  // namespace

extern "C" {

NBC_API(int) nbc_scene_new(nbc_scene** out, const char* background) {
    if (out) *out = nullptr;
    return guard([&] {
        require(out, "out");
        require(background, "background");
        auto s = std::make_unique<nbc_scene>();
        s->scene.background = background;
        *out = s.release();
    });
}

NBC_API(int) nbc_scene_from_prompt(nbc_scene** out, const char* prompt, int mode) {
    if (out) *out = nullptr;
    return guard([&] {
        require(out, "out");
        require(prompt, "prompt");
        const nbcore::ElementMode m = to_mode(mode, "mode");
        if (!*prompt) invalid_arg("prompt is empty; describe the scene to plan");
        auto s = std::make_unique<nbc_scene>();
        s->scene = nbcore::scene_from_prompt(prompt, m);
        *out = s.release();
    });
}

NBC_API(void) nbc_scene_free(nbc_scene* scene) { delete scene; }

NBC_API(int) nbc_scene_set_style(nbc_scene* scene, const char* style) {
    return guard([&] { require(scene, "scene")->scene.style = opt_str(style); });
}

NBC_API(int) nbc_scene_set_aspect_ratio(nbc_scene* scene, const char* ratio) {
    return guard([&] {
        require(scene, "scene");
        std::string r = opt_str(ratio);
        if (!r.empty() && !nbcore::is_valid_aspect_ratio(r))
            invalid_arg("aspect ratio \"" + r +
                        "\" is not supported; use one of 1:1, 2:3, 3:2, 3:4, 4:3, 4:5, 5:4, 9:16, 16:9, 21:9");
        scene->scene.aspect_ratio = r;
    });
}

NBC_API(int) nbc_scene_set_image_size(nbc_scene* scene, const char* size) {
    return guard([&] {
        require(scene, "scene");
        std::string s = opt_str(size);
        if (!s.empty() && !nbcore::is_valid_image_size(s))
            invalid_arg("image size \"" + s + "\" is not supported; use \"1K\", \"2K\" or \"4K\" (uppercase K)");
        scene->scene.image_size = s;
    });
}

NBC_API(int) nbc_scene_set_model(nbc_scene* scene, const char* model) {
    return guard([&] { require(scene, "scene")->scene.model = opt_str(model); });
}

NBC_API(int) nbc_scene_add_element(nbc_scene* scene, const char* prompt, double x, double y, double w,
                                   double h, int z, int mode) {
    return guard([&] {
        require(scene, "scene");
        require(prompt, "prompt");
        if (!*prompt) invalid_arg("prompt is empty; say what the element is");
        const nbcore::ElementMode m = to_mode(mode, "mode");
        const double v[4] = {x, y, w, h};
        const char* names[4] = {"x", "y", "w", "h"};
        for (int i = 0; i < 4; ++i)
            if (!std::isfinite(v[i]) || v[i] < 0.0 || v[i] > 1.0)
                invalid_arg(std::string("box ") + names[i] + " is " + std::to_string(v[i]) +
                            "; boxes are normalized to the canvas (0..1)");
        if (w <= 0.0 || h <= 0.0) invalid_arg("box w and h must be > 0");
        if (x + w > 1.0 + 1e-9 || y + h > 1.0 + 1e-9)
            invalid_arg("box (x + w, y + h) reaches past the canvas; keep x + w <= 1 and y + h <= 1");
        nbcore::SceneElement el;
        el.prompt = prompt;
        el.box = {x, y, w, h};
        el.z = z;
        el.mode = m;
        scene->scene.elements.push_back(std::move(el));
    });
}

NBC_API(int) nbc_scene_element_count(const nbc_scene* scene) {
    return scene ? static_cast<int>(scene->scene.elements.size()) : 0;
}

NBC_API(const char*) nbc_scene_background(const nbc_scene* scene) {
    return scene ? scene->scene.background.c_str() : "";
}

NBC_API(const char*) nbc_scene_style(const nbc_scene* scene) { return scene ? scene->scene.style.c_str() : ""; }

NBC_API(int) nbc_scene_element(nbc_scene_element_info* out, const nbc_scene* scene, int index) {
    return guard([&] {
        require(out, "out");
        nbcapi::check_struct_size(out, nbcapi::kSceneElementInfoV1, sizeof(nbc_scene_element_info),
                                  "nbc_scene_element_info");
        require(scene, "scene");
        if (index < 0 || static_cast<std::size_t>(index) >= scene->scene.elements.size())
            invalid_arg("element index " + std::to_string(index) + " is out of range (the scene has " +
                        std::to_string(scene->scene.elements.size()) + " elements)");
        const auto& el = scene->scene.elements[static_cast<std::size_t>(index)];
        nbc_scene_element_info v = NBC_SCENE_ELEMENT_INFO_INIT;
        v.z = el.z;
        v.mode = el.mode == nbcore::ElementMode::Cutout ? NBC_ELEMENT_CUTOUT : NBC_ELEMENT_EDIT;
        v.prompt = el.prompt.c_str();
        v.x = el.box.x;
        v.y = el.box.y;
        v.w = el.box.w;
        v.h = el.box.h;
        nbcapi::write_out(out, v);
    });
}

NBC_API(int) nbc_scene_options_init(nbc_scene_options* opts, size_t struct_size) {
    return guard([&] {
        require(opts, "opts");
        if (struct_size < nbcapi::kSceneOptionsV1 || struct_size > sizeof(nbc_scene_options))
            invalid_arg("struct_size " + std::to_string(struct_size) +
                        " does not match any version of nbc_scene_options; pass sizeof(nbc_scene_options)");
        nbc_scene_options defaults = NBC_SCENE_OPTIONS_INIT;
        std::memcpy(opts, &defaults, struct_size);
        opts->struct_size = static_cast<uint32_t>(struct_size);
    });
}

NBC_API(int) nbc_scene_run(nbc_scene_result** out, nbc_client* client, const nbc_scene* scene,
                           const nbc_scene_options* opts, const nbc_scene_result* resume) {
    if (out) *out = nullptr;
    return guard([&] {
        require(out, "out");
        require(client, "client");
        require(scene, "scene");
        nbc_scene_options o = NBC_SCENE_OPTIONS_INIT;
        if (opts) {
            nbcapi::check_struct_size(opts, nbcapi::kSceneOptionsV1, sizeof(nbc_scene_options), "nbc_scene_options");
            o = nbcapi::read_in(opts, o);
            if (opts->struct_size < nbcapi::kSceneOptionsV2) {   // the V2 group counts only whole
                o.cancel = nullptr;
                o.on_stage = nullptr;
                o.stage_payload = nullptr;
            }
        }
        nbcore::SceneOptions so;
        so.mask = to_mask(o.grow_px, o.feather_px, "nbc_scene_options");
        so.colour_match = to_colour_match(o.colour_match, "nbc_scene_options");
        so.seed = to_seed(o.seed, "nbc_scene_options.seed");
        if (o.stage_deadline_ms < 0) invalid_arg("nbc_scene_options.stage_deadline_ms must be >= 0 (0 = the client's)");
        so.call.deadline = std::chrono::milliseconds(o.stage_deadline_ms);
        if (o.cancel) so.call.cancel = &o.cancel->token;
        if (o.on_stage) {
            const nbc_scene_stage_fn fn = o.on_stage;
            void* const payload = o.stage_payload;
            const int total = 1 + static_cast<int>(scene->scene.elements.size());
            // Never throws: a report that cannot be made (out of memory), or a callback that
            // throws (a C++ function behind the C pointer), must not cost the run its result.
            so.on_stage = [fn, payload, total](const nbcore::SceneStage& st) noexcept {
                try {
                    const std::string mime = answer_mime(st);
                    const nbc_scene_stage_info info = stage_info(st, mime);
                    fn(&info, total, payload);
                } catch (...) {
                }
            };
        }
        auto r = wrap(nbcore::run_scene(*client->client, scene->scene, so, resume ? &resume->res : nullptr));
        const int failed = r->res.failed_stage;
        nbcore::Diagnosis d;
        std::vector<nbcore::Attempt> attempts;
        if (failed >= 0 && static_cast<std::size_t>(failed) < r->res.stages.size()) {
            const auto& st = r->res.stages[static_cast<std::size_t>(failed)];
            if (st.error) d = *st.error;
            else d.code = st.status;
            attempts = st.attempts;
            d.message = "scene stage " + std::to_string(failed) + " (" + st.kind + ") failed: " +
                        (d.message.empty() ? std::string(nbcore::status_summary(d.code)) : d.message);
        }
        *out = r.release();
        if (failed >= 0) {
            nbcore::Error e(std::move(d));
            e.attempts = std::move(attempts);
            throw e;
        }
    });
}

NBC_API(int) nbc_scene_result_stage_count(const nbc_scene_result* res) {
    return res ? static_cast<int>(res->res.stages.size()) : 0;
}
NBC_API(int) nbc_scene_result_total_stages(const nbc_scene_result* res) { return res ? res->res.stage_count : 0; }
NBC_API(int) nbc_scene_result_failed_stage(const nbc_scene_result* res) { return res ? res->res.failed_stage : -1; }
NBC_API(double) nbc_scene_result_cost_usd(const nbc_scene_result* res) { return res ? res->res.cost_usd() : 0.0; }

NBC_API(int) nbc_scene_result_stage(nbc_scene_stage_info* out, const nbc_scene_result* res, int index) {
    return guard([&] {
        require(out, "out");
        nbcapi::check_struct_size(out, nbcapi::kSceneStageInfoV1, sizeof(nbc_scene_stage_info), "nbc_scene_stage_info");
        const nbcore::SceneStage& st = stage_at(res, index);
        nbcapi::write_out(out, stage_info(st, res->answer_mimes[static_cast<std::size_t>(index)]));
    });
}

NBC_API(int) nbc_scene_result_stage_attempt(nbc_attempt* out, const nbc_scene_result* res, int stage, int index) {
    return guard([&] {
        require(out, "out");
        if (out->struct_size < offsetof(nbc_attempt, route))
            invalid_arg("nbc_attempt.struct_size is too small; use NBC_ATTEMPT_INIT");
        const nbcore::SceneStage& st = stage_at(res, stage);
        if (index < 0 || static_cast<std::size_t>(index) >= st.attempts.size())
            invalid_arg("attempt index " + std::to_string(index) + " is out of range (stage " +
                        std::to_string(stage) + " has " + std::to_string(st.attempts.size()) + " attempts)");
        nbcapi::fill_attempt(out, st.attempts[static_cast<std::size_t>(index)]);
    });
}

NBC_API(int) nbc_scene_result_stage_error(nbc_error** out, const nbc_scene_result* res, int stage) {
    if (out) *out = nullptr;
    return guard([&] {
        require(out, "out");
        const nbcore::SceneStage& st = stage_at(res, stage);
        auto e = std::make_unique<nbc_error>();
        if (st.error) {
            nbcapi::fill_error(*e, *st.error);
        } else {
            e->code = static_cast<int>(st.status);
            e->message = std::string(nbcore::status_summary(st.status));
        }
        e->attempts = st.attempts;
        if (!st.attempts.empty()) e->route = st.attempts.back().route;
        *out = e.release();
    });
}

NBC_API(int) nbc_scene_result_rgba(const nbc_scene_result* res, int stage, uint8_t* buf, size_t buf_len,
                                   int32_t* width, int32_t* height) {
    return guard([&] {
        require(res, "res");
        const nbcore::image::Pixels* px = nullptr;
        if (stage == -1) {
            if (!res->res.image) invalid_arg("the scene has no image: its background stage failed");
            px = res->res.image.get();
        } else {
            const nbcore::SceneStage& st = stage_at(res, stage);
            if (!st.composite)
                invalid_arg("stage " + std::to_string(stage) + " failed and has no image; pass -1 for the last good one");
            px = st.composite.get();
        }
        if (width) *width = px->width;
        if (height) *height = px->height;
        if (!buf) {
            if (buf_len) invalid_arg("buf is NULL but buf_len is not 0");
            return;
        }
        const std::size_t need = static_cast<std::size_t>(px->width) * static_cast<std::size_t>(px->height) * 4;
        if (buf_len < need)
            invalid_arg("buf_len is " + std::to_string(buf_len) + " but the image needs " + std::to_string(need) +
                        " bytes (4 * " + std::to_string(px->width) + " * " + std::to_string(px->height) + ")");
        copy_rgba(*px, buf);
    });
}

NBC_API(void) nbc_scene_result_free(nbc_scene_result* res) { delete res; }

NBC_API(int) nbc_inpaint_options_init(nbc_inpaint_options* opts, size_t struct_size) {
    return guard([&] {
        require(opts, "opts");
        if (struct_size < nbcapi::kInpaintOptionsV1 || struct_size > sizeof(nbc_inpaint_options))
            invalid_arg("struct_size " + std::to_string(struct_size) +
                        " does not match any version of nbc_inpaint_options; pass sizeof(nbc_inpaint_options)");
        nbc_inpaint_options defaults = NBC_INPAINT_OPTIONS_INIT;
        std::memcpy(opts, &defaults, struct_size);
        opts->struct_size = static_cast<uint32_t>(struct_size);
    });
}

NBC_API(int) nbc_inpaint(nbc_result** out, nbc_client* client, const uint8_t* image, int32_t width,
                         int32_t height, size_t stride, const uint8_t* mask, size_t mask_stride,
                         const char* prompt, const nbc_inpaint_options* opts) {
    if (out) *out = nullptr;
    return guard([&] {
        require(out, "out");
        require(client, "client");
        require(image, "image");
        require(mask, "mask");
        require(prompt, "prompt");
        if (width <= 0 || height <= 0 || width > 16384 || height > 16384)
            invalid_arg("width and height must be 1..16384 (got " + std::to_string(width) + " x " +
                        std::to_string(height) + ")");
        if (stride < static_cast<std::size_t>(width) * 4)
            invalid_arg("stride is " + std::to_string(stride) + "; an RGBA8 row needs at least 4 * width = " +
                        std::to_string(static_cast<std::size_t>(width) * 4) + " bytes");
        if (mask_stride < static_cast<std::size_t>(width))
            invalid_arg("mask_stride is " + std::to_string(mask_stride) + "; a mask row needs at least width = " +
                        std::to_string(width) + " bytes");
        if (!*prompt) invalid_arg("prompt is empty; say what to put in the masked region");
        nbc_inpaint_options o = NBC_INPAINT_OPTIONS_INIT;
        if (opts) {
            nbcapi::check_struct_size(opts, nbcapi::kInpaintOptionsV1, sizeof(nbc_inpaint_options), "nbc_inpaint_options");
            o = nbcapi::read_in(opts, o);
            if (opts->struct_size < nbcapi::kInpaintOptionsV2) o.cancel = nullptr;
        }
        nbcore::InpaintOptions io;
        io.model = opt_str(o.model);
        io.image_size = opt_str(o.image_size);
        if (!io.image_size.empty() && !nbcore::is_valid_image_size(io.image_size))
            invalid_arg("nbc_inpaint_options.image_size \"" + io.image_size + "\" is not supported; use \"1K\", \"2K\" or \"4K\"");
        io.blend.mask = to_mask(o.grow_px, o.feather_px, "nbc_inpaint_options");
        io.blend.colour_match = to_colour_match(o.colour_match, "nbc_inpaint_options");
        if (o.context_px < -1) invalid_arg("nbc_inpaint_options.context_px must be 0 (auto), > 0 (px) or -1 (the whole image)");
        if (o.context_px == -1) io.crop.context = nbcore::compose::ContextMode::WholeImage;
        else if (o.context_px > 0) {
            io.crop.context = nbcore::compose::ContextMode::Pixels;
            io.crop.context_px = o.context_px;
        }
        io.seed = to_seed(o.seed, "nbc_inpaint_options.seed");
        io.blend.keep_layer = true;   // for nbc_result_inpaint_layer
        if (o.deadline_ms < 0) invalid_arg("nbc_inpaint_options.deadline_ms must be >= 0 (0 = the client's)");
        io.call.deadline = std::chrono::milliseconds(o.deadline_ms);
        if (o.cancel) io.call.cancel = &o.cancel->token;

        const std::size_t w = static_cast<std::size_t>(width), h = static_cast<std::size_t>(height);
        nbcore::image::Pixels rgba;
        rgba.width = width;
        rgba.height = height;
        rgba.channels = 4;
        rgba.data.resize(w * h * 4);
        nbcore::image::Pixels m;
        m.width = width;
        m.height = height;
        m.channels = 1;
        m.data.resize(w * h);
        for (std::size_t y = 0; y < h; ++y) {
            std::memcpy(rgba.data.data() + y * w * 4, image + y * stride, w * 4);
            std::memcpy(m.data.data() + y * w, mask + y * mask_stride, w);
        }

        nbcore::InpaintResult ir = nbcore::inpaint(*client->client, rgba, m, prompt, io);
        auto r = std::make_unique<nbc_result>();
        r->res = std::move(ir.result);
        nbcore::ResultImage im;
        im.mime = "image/png";
        im.data = std::make_shared<const nbcore::Blob>(nbcore::image::encode_png(*ir.image));
        im.width = ir.image->width;
        im.height = ir.image->height;
        im.channels = 4;
        im.pixels = ir.image;
        im.stats = nbcore::image::compute_stats(*ir.image);
        r->res.images.clear();
        r->res.images.push_back(std::move(im));
        r->inpaint_layer = std::move(ir.blend.layer);
        r->layer_x = ir.blend.changed.x;
        r->layer_y = ir.blend.changed.y;
        *out = r.release();
    });
}

NBC_API(int) nbc_result_inpaint_layer(const nbc_result* res, uint8_t* buf, size_t buf_len, int32_t* x, int32_t* y,
                                      int32_t* width, int32_t* height) {
    return guard([&] {
        require(res, "res");
        const nbcore::image::Pixels& layer = res->inpaint_layer;
        if (layer.data.empty())
            invalid_arg("this result did not come from nbc_inpaint, so it has no inpaint layer; use "
                        "nbc_result_image_rgba for its image");
        if (x) *x = res->layer_x;
        if (y) *y = res->layer_y;
        if (width) *width = layer.width;
        if (height) *height = layer.height;
        if (!buf) {
            if (buf_len) invalid_arg("buf is NULL but buf_len is not 0");
            return;
        }
        const std::size_t need = layer.data.size();
        if (buf_len < need)
            invalid_arg("buf_len is " + std::to_string(buf_len) + " but the layer needs " + std::to_string(need) +
                        " bytes (4 * " + std::to_string(layer.width) + " * " + std::to_string(layer.height) + ")");
        std::memcpy(buf, layer.data.data(), need);
    });
}

}  // extern "C"
