// Facts about the image models: ids, aspect ratios, output sizes and tokens per image.
// Source: the image-generation and pricing pages of ai.google.dev. The emulator answers from these
// tables, and the client validates requests against them.
#pragma once

#include <array>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace nbcore {

inline constexpr std::string_view kModelFlash = "gemini-2.5-flash-image";
inline constexpr std::string_view kModelPro = "gemini-3-pro-image-preview";
inline constexpr std::string_view kDefaultModel = kModelPro;

// The ten aspect ratios both models accept, in the order the docs list them.
inline constexpr std::array<std::string_view, 10> kAspectRatios = {
    "1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"};

inline constexpr std::array<std::string_view, 3> kImageSizes = {"1K", "2K", "4K"};

struct PixelSize {
    int width = 0;
    int height = 0;
};

struct ModelInfo {
    std::string_view id;             // "gemini-3-pro-image-preview"
    std::string_view display_name;   // "Nano Banana Pro"
    std::string_view description;
    bool supports_image_size;        // only Pro takes imageConfig.imageSize
    bool thinking;                   // Pro thinks and returns thoughtSignature
    int input_token_limit;
    int output_token_limit;
    int input_image_tokens;          // tokens charged per input image
    std::string_view default_mime;   // what the API usually answers with
};

// The current image models. Aliases (older ids that still resolve) map to them.
std::span<const ModelInfo> image_models() noexcept;
const ModelInfo* find_model(std::string_view id) noexcept;   // accepts "models/<id>" and aliases

// Strip a leading "models/" and resolve an alias to its canonical id; unknown ids are returned
// unchanged (the server decides).
std::string canonical_model_id(std::string_view id);

bool is_valid_aspect_ratio(std::string_view ratio) noexcept;
bool is_valid_image_size(std::string_view size) noexcept;   // uppercase K only, like the API

// Output size for a model, aspect ratio ("" = 1:1) and image size ("" = 1K). nullopt when the
// combination is not served (unknown model, bad ratio, imageSize on Flash).
std::optional<PixelSize> output_size(std::string_view model, std::string_view aspect,
                                     std::string_view image_size) noexcept;

// Output tokens billed per generated image.
int output_image_tokens(std::string_view model, std::string_view image_size) noexcept;

// The supported aspect ratio nearest to width:height (log-ratio distance).
std::string_view nearest_aspect_ratio(int width, int height) noexcept;

}  // namespace nbcore
