// Staged scenes and mask-exact inpainting over the Gemini image models (docs/scenes-and-inpainting.md).
//
// Gemini takes no mask and draws many-subject scenes poorly in one go, so the engine owns the
// geometry: inpaint() crops the selection with context, sends the crop plus a black-and-white mask
// image, resizes the answer back and composites it through the grown, feathered mask, so pixels
// the mask does not reach never change. run_scene() builds a picture in stages: a background,
// then one element per request, each either a masked edit of the running composite (Edit) or an
// element generated alone on a key colour and cut out locally (Cutout). Every request goes
// through Client::generate, so each stage is validated and retried under the client's policy on
// its own; a failed stage keeps every earlier one, and a later run can resume from it.
//
// Plain data in, plain data out: the C ABI and the Python module wrap these calls one to one.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nbcore/client.hpp"
#include "nbcore/compose.hpp"

namespace nbcore {

// ---------------------------------------------------------------------------------------------
// Inpainting
// ---------------------------------------------------------------------------------------------

struct InpaintOptions {
    std::string model;                   // "" = the client's default model
    // "" = the smallest of 1K / 2K / 4K whose output covers the crop's long side (4K when none
    // does) on models that take an image size; nothing on those that do not (Flash).
    std::string image_size;
    // The crop the model sees. keep_margin is raised to blend_reach(mask box, blend.mask) so the
    // feathered edge is never cut by the crop.
    compose::CropOptions crop;
    compose::InpaintBlendOptions blend;  // grow 4 px, feather auto, colour match on
    std::optional<std::int32_t> seed;
    std::vector<SafetySetting> safety;
    CallOptions call;
};

struct InpaintResult {
    image::PixelsPtr image;          // RGBA8, the input's size: the input changed through the mask only
    Result result;                   // the model's answer: images, attempts, usage, cost, image_size
    compose::Rect mask_box;          // bounds of the mask's nonzero pixels
    compose::CropPlan plan;          // plan.crop: the rect the model saw; plan.aspect: the ratio asked
    compose::InpaintBlend blend;     // where pixels changed, grow and feather used, colour match
    std::string prompt;              // the prompt as sent
};

// Changes the part of `rgba` (RGBA8, or RGB) selected by `mask` (1 channel, 8-bit, soft: 0 keep,
// 255 change, the image's size) as `prompt` says. One request: the crop (PNG) and the marker mask
// (PNG, white = change), aspect = the crop plan's ratio. Every pixel whose blend alpha is 0 —
// everything outside the crop and farther than grow + feather from the mask — is bit-identical
// to the input. Throws Error: INVALID_ARG for bad arguments (empty mask, size mismatch, empty
// prompt), and whatever Client::generate throws when the model fails.
InpaintResult inpaint(Client& client, const image::Pixels& rgba, const image::Pixels& mask,
                      std::string_view prompt, const InpaintOptions& options = {});

// The text sent with an inpaint: the mask instruction, the caller's prompt, then "keep everything
// else exactly as it is".
std::string inpaint_prompt(std::string_view prompt);

// The smallest image size ("1K", "2K", "4K") whose output at `aspect` covers `long_side` pixels
// on `model`; "4K" when none does; "" when the model takes no image size (Flash) or is unknown.
std::string image_size_covering(std::string_view model, std::string_view aspect, int long_side);

// ---------------------------------------------------------------------------------------------
// Scenes
// ---------------------------------------------------------------------------------------------

enum class ElementMode {
    Edit,     // a masked edit of the running composite, the element's box as the mask
    Cutout,   // generated alone on a key colour, cut out and placed into its box locally
};
std::string_view element_mode_name(ElementMode m) noexcept;   // "edit", "cutout"

struct SceneElement {
    std::string prompt;
    compose::BoxF box;             // normalized, inside 0..1
    int z = 0;                     // drawing order: lower first; equal z keep their order
    ElementMode mode = ElementMode::Edit;
};

struct Scene {
    std::string background;        // what the background stage draws
    std::string style;             // appended to every stage's prompt
    std::string aspect_ratio;      // "" = the API's default (1:1)
    std::string image_size;        // "" | "1K" | "2K" | "4K" (Pro only): the background's size
    std::string model;             // "" = the client's default model
    std::vector<SceneElement> elements;
};

// A scene planned from one prompt by prompt::analyze + prompt::plan_stages: the setting (and any
// text to render) as the background, the style, lighting and camera clauses as the style, one
// element per distinct subject with its planned box and z (docs/prompt-analysis.md). Always
// plans, whatever the prompt's risk; aspect ratio, image size and model are left for the caller.
Scene scene_from_prompt(std::string_view prompt, ElementMode mode = ElementMode::Edit);

struct SceneStage {
    int index = 0;                     // 0 = background, then one per element in z order
    std::string kind;                  // "background" | "edit" | "cutout"
    std::string prompt;                // as sent
    Status status = Status::OK;
    std::optional<Diagnosis> error;    // when status != OK: what failed, why, and the advice
    std::vector<Attempt> attempts;
    std::string image_size;            // the size finally asked for (after any downgrade)
    BlobPtr answer;                    // the model's image, encoded, as sent (null if none came)
    image::PixelsPtr composite;        // RGBA8 after this stage (null when it failed)
    compose::Rect placed;              // background: the canvas; edit: the box; cutout: the rect
                                       // the subject was resized into
    compose::Rect crop;                // edit: the rect the model saw; background: the canvas
    double cost_usd = 0;               // billed for this stage's answer (0 when it failed)
};

struct SceneResult {
    std::vector<SceneStage> stages;    // every stage run or reused, up to and including a failed one
    image::PixelsPtr image;            // the last good composite (null when the background failed)
    int failed_stage = -1;             // index of the failed stage, -1 when none failed
    int stage_count = 0;               // stages the scene has: 1 + its elements
    bool complete() const noexcept {
        return failed_stage < 0 && stage_count > 0 && int(stages.size()) == stage_count;
    }
    double cost_usd() const noexcept;  // sum over the stages
};

struct SceneOptions {
    CallOptions call;                          // for every stage's request (deadline per stage)
    compose::MaskOptions mask;                 // edit stages: grow and feather of the box mask
    bool colour_match = true;                  // edit stages: match the patch to its surroundings
    compose::CropOptions crop;                 // edit stages: the context crop
    compose::CutoutOptions cutout;             // cutout stages (its key is the one chosen)
    std::vector<compose::Rgb> key_candidates{compose::kKeyCandidates.begin(),
                                             compose::kKeyCandidates.end()};
    std::optional<std::int32_t> seed;
    std::vector<SafetySetting> safety;
    std::function<void(const SceneStage&)> on_stage;   // after each stage, on the calling thread
};

// Runs the scene's stages in order: the background ("<background>, <style>" at the scene's
// aspect ratio and image size), then each element in z order (stable). A failed stage stops the
// run: the result keeps every earlier stage, names the failed one and why, and nothing is thrown
// for it. With `resume` (a previous result of the same scene), its good stages are reused and
// only the remaining ones are sent. Throws Error INVALID_ARG for a bad scene (empty background or
// element prompt, a box outside 0..1 or of no size, a bad aspect ratio or image size) or a
// `resume` of another scene.
SceneResult run_scene(Client& client, const Scene& scene, const SceneOptions& options = {},
                      const SceneResult* resume = nullptr);

}  // namespace nbcore
