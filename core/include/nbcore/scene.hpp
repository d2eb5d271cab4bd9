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

}  // namespace nbcore
