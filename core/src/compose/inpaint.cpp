// inpaint(): crop with context, send the crop and a marker mask, resize the answer back and
// composite it through the grown, feathered mask (docs/scenes-and-inpainting.md).
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "compose/scene_internal.hpp"
#include "nbcore/clock.hpp"
#include "nbcore/models.hpp"
#include "nbcore/scene.hpp"

namespace nbcore {

namespace detail {

std::string resolved_model(const Client& client, std::string_view model) {
    if (!model.empty()) return canonical_model_id(model);
    if (!client.options().model.empty()) return canonical_model_id(client.options().model);
    return std::string(kDefaultModel);
}

image::Pixels copy_pixels(const image::Pixels& px) {
    image::Pixels out;
    out.width = px.width;
    out.height = px.height;
    out.channels = px.channels;
    out.data.append(px.data.data(), px.stride() * std::size_t(px.height));
    return out;
}

image::Pixels rgba_of(const image::Pixels& px) {
    return px.channels == 4 ? copy_pixels(px) : image::to_rgba(px);
}

image::Pixels rgb_of(const image::Pixels& px) {
    if (px.channels == 3) return copy_pixels(px);
    image::Pixels rgba = px.channels == 4 ? image::Pixels{} : image::to_rgba(px);
    const image::Pixels& src = px.channels == 4 ? px : rgba;
    image::Pixels out;
    out.width = src.width;
    out.height = src.height;
    out.channels = 3;
    out.data.resize(std::size_t(src.width) * std::size_t(src.height) * 3);
    const std::uint8_t* s = src.data.data();
    std::uint8_t* d = out.data.data();
    const std::size_t n = std::size_t(src.width) * std::size_t(src.height);
    for (std::size_t i = 0; i < n; ++i) std::memcpy(d + 3 * i, s + 4 * i, 3);
    return out;
}

image::Pixels answer_pixels(const Client& client, const Result& res) {
    if (res.images.empty() || !res.images.front().data)
        throw Error(Status::NO_IMAGE, "the answer carries no image",
                    "Retry, or simplify the prompt.");
    const ResultImage& img = res.images.front();
    if (img.pixels) return rgba_of(*img.pixels);
    image::Pixels px;
    auto check = image::check(img.data->data(), img.data->size(), client.options().image_limits,
                              client.options().blank_rules, &px);
    if (!check.ok && check.code != Status::BLANK_IMAGE)
        throw Error(check.code == Status::OK ? Status::BAD_RESPONSE : check.code,
                    "the answer's image does not decode: " + check.reason, "Retry the request.");
    return rgba_of(px);
}

void throw_if_cancelled(const CallOptions& call) {
    if (!call.cancel || !call.cancel->cancelled()) return;
    Diagnosis d;
    d.code = Status::CANCELLED;
    d.reason = "CANCELLED";
    d.message = "cancelled before it was sent";
    d.advice = "Nothing to do: the caller cancelled the request.";
    throw Error(std::move(d));
}

}  // namespace detail

std::string inpaint_prompt(std::string_view prompt) {
    std::string p =
        "Edit the first image. The second image is a mask of the same framing: its white area marks "
        "the only region of the first image to change; its black area must stay as it is. Do not "
        "draw the mask, its outline or any white shape. In the white region: ";
    p += prompt;
    if (!p.empty() && p.back() != '.' && p.back() != '!' && p.back() != '?') p += '.';
    p += " Keep everything else exactly as it is.";
    return p;
}

std::string image_size_covering(std::string_view model, std::string_view aspect, int long_side) {
    const ModelInfo* info = find_model(model);
    if (!info || !info->supports_image_size) return {};
    for (std::string_view size : kImageSizes) {
        auto out = output_size(info->id, aspect, size);
        if (out && std::max(out->width, out->height) >= long_side) return std::string(size);
    }
    return "4K";
}

namespace {

[[noreturn]] void bad_arg(std::string message, std::string advice) {
    throw Error(Status::INVALID_ARG, std::move(message), std::move(advice));
}

void check_inpaint_args(const image::Pixels& rgba, const image::Pixels& mask, std::string_view prompt) {
    if (rgba.width <= 0 || rgba.height <= 0 || (rgba.channels != 3 && rgba.channels != 4) ||
        rgba.data.size() < rgba.stride() * std::size_t(rgba.height))
        bad_arg("inpaint: the image must be RGBA8 or RGB8 with width, height > 0 and width*height*channels "
                "bytes (got " + std::to_string(rgba.width) + "x" + std::to_string(rgba.height) + "x" +
                    std::to_string(rgba.channels) + ")",
                "Pass the image as 8-bit RGBA (or RGB) pixels, rows packed.");
    if (mask.channels != 1 || mask.data.size() < mask.stride() * std::size_t(std::max(mask.height, 0)))
        bad_arg("inpaint: the mask must have 1 channel (8-bit: 0 keep, 255 change), got " +
                    std::to_string(mask.channels) + " channel(s)",
                "Pass the selection as a single-channel 8-bit mask of the image's size.");
    if (mask.width != rgba.width || mask.height != rgba.height)
        bad_arg("inpaint: the mask is " + std::to_string(mask.width) + "x" + std::to_string(mask.height) +
                    " but the image is " + std::to_string(rgba.width) + "x" + std::to_string(rgba.height),
                "Pass a mask of exactly the image's size (resize or pad the selection first).");
    if (prompt.find_first_not_of(" \t\r\n") == std::string_view::npos)
        bad_arg("inpaint: the prompt is empty", "Say what the selected region should show.");
}

}  // namespace

InpaintResult inpaint(Client& client, const image::Pixels& rgba, const image::Pixels& mask,
                      std::string_view prompt, const InpaintOptions& options) {
    check_inpaint_args(rgba, mask, prompt);
    InpaintResult out;
    out.mask_box = compose::mask_bounds(mask);
    if (out.mask_box.empty())
        bad_arg("inpaint: the mask selects nothing (every pixel is 0)",
                "Paint the region to change in the mask (nonzero, 255 = fully changed) and try again.");
    detail::throw_if_cancelled(options.call);

    // The crop the model sees: the mask box with context, never cutting the feathered edge.
    compose::CropOptions crop_opt = options.crop;
    crop_opt.keep_margin = std::max(crop_opt.keep_margin, compose::blend_reach(out.mask_box, options.blend.mask));
    out.plan = compose::plan_inpaint_crop(rgba.width, rgba.height, out.mask_box, crop_opt);
    const compose::Rect& crop = out.plan.crop;

    Request req;
    req.model = detail::resolved_model(client, options.model);
    req.prompt = out.prompt = inpaint_prompt(prompt);
    req.aspect_ratio = std::string(out.plan.aspect.name);
    req.image_size = options.image_size.empty()
                         ? image_size_covering(req.model, req.aspect_ratio, std::max(crop.w, crop.h))
                         : options.image_size;
    req.seed = options.seed;
    req.safety = options.safety;
    {
        image::Pixels crop_px = detail::rgb_of(compose::crop(rgba, crop));
        auto crop_png = std::make_shared<Blob>(image::encode_png(crop_px));
        compose::Pixels mask_crop = compose::crop(mask, crop);
        // White where the selection is at least half on; a selection that is faint everywhere
        // (no pixel reaches half) is shown wherever it is nonzero, so the model still sees it.
        std::uint8_t peak = 0;
        for (std::size_t i = 0; i < mask_crop.data.size(); ++i) peak = std::max(peak, mask_crop.data.data()[i]);
        const std::uint8_t threshold = peak >= compose::kSelectionThreshold ? compose::kSelectionThreshold : 1;
        auto mask_png = std::make_shared<Blob>(
            compose::encode_marker_png(compose::marker_mask(mask_crop, threshold)));
        req.images.push_back({"image/png", std::move(crop_png)});
        req.images.push_back({"image/png", std::move(mask_png)});
    }

    out.result = client.generate(req, options.call);
    try {
        image::Pixels answer = detail::answer_pixels(client, out.result);
        image::Pixels patch = (answer.width == crop.w && answer.height == crop.h)
                                  ? std::move(answer)
                                  : image::resize(answer, crop.w, crop.h);
        image::Pixels full = detail::rgba_of(rgba);
        out.blend = compose::blend_inpaint(full, mask, crop, patch, options.blend);
        out.image = std::make_shared<const image::Pixels>(std::move(full));
    } catch (Error& e) {
        // A failure after the answer came back still reports what was sent and billed.
        if (e.attempts.empty()) e.attempts = out.result.attempts;
        if (e.route.empty()) e.route = out.result.route;
        throw;
    }
    return out;
}

}  // namespace nbcore
