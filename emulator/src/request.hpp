// Parsing and validating generateContent / countTokens bodies the way the API does: proto3 JSON
// (camelCase or snake_case names, unknown names rejected with their path), then the image
// models' own rules (aspect ratios, image sizes, candidate count, readable input images).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "errors.hpp"
#include "reply.hpp"
#include "routes.hpp"

namespace nbcore::emulator {

// Requests above this size are refused like the API refuses them.
inline constexpr std::size_t kMaxRequestBytes = 20u * 1024u * 1024u;

// An input image, decoded to 8-bit RGB.
struct InputImage {
    int width = 0;
    int height = 0;
    std::vector<std::uint8_t> rgb;
    std::uint64_t digest = 0;     // of its base64 text: part of the answer's cache key
};

// What kind of image the answer is (see docs/emulator.md, "Mask edits and cutouts").
enum class AnswerMode {
    Scene,      // the procedural scene, or the usual tinted edit of the input
    MaskEdit,   // the first input, resampled, with a solid marker over the second input's white region
    Cutout,     // a centred subject on a flat key colour named in the prompt
};

struct GenerateParams {
    std::string model;                 // canonical id
    std::string prompt;                // text of the last user turn (what the image shows)
    std::uint64_t seed = 0;            // generationConfig.seed; unseeded requests use 0
    std::string aspect;                // resolved: given, else the input's nearest, else 1:1
    std::string image_size;            // resolved: "1K"/"2K"/"4K" for Pro, "" for Flash
    bool want_text = true;             // responseModalities
    bool want_image = true;
    bool include_thoughts = false;     // thinkingConfig.includeThoughts
    int prompt_text_tokens = 0;        // all text in the request, about 4 characters a token
    int input_images = 0;              // inline images in the request (each billed)
    std::string output_mime;           // Vertex imageOutputOptions.mimeType; "" = server's choice
    int jpeg_quality = 0;              // Vertex imageOutputOptions.compressionQuality; 0 = default
    std::vector<std::shared_ptr<const InputImage>> edit_inputs;   // images the answer is built on
    AnswerMode mode = AnswerMode::Scene;   // MaskEdit: edit_inputs[0] is the image, [1] the mask
    std::uint32_t cutout_key = 0;          // Cutout: the key colour, 0xRRGGBB
};

using ParseResult = std::variant<GenerateParams, ApiError>;

// The whole check for generateContent and streamGenerateContent. `route.model` may be unknown:
// that is reported after the body's syntax, as the API does. decode_images = false skips
// decoding the input images (then edit_inputs stays empty): enough for token counts.
ParseResult parse_generate_request(std::string_view body, const Route& route, bool decode_images = true);

// countTokens: {"contents": [...]} or {"generateContentRequest": {...}}. On success the params
// carry the token counts (and the model).
ParseResult parse_count_tokens_request(std::string_view body, const Route& route);

// Token estimate for text: about four characters a token, rounded up.
int text_tokens(std::string_view text);

// Standard or URL-safe base64, padding optional (what proto3 JSON accepts for bytes).
bool is_valid_base64(std::string_view s);

// A mask image: at least 99 % of its pixels near black (every channel <= 16) or near white
// (every channel >= 239). The colour channels decide; alpha is dropped when decoding.
inline constexpr int kMaskChannelTolerance = 16;
inline constexpr double kMaskMinShare = 0.99;
bool is_mask_image(const InputImage& img);

// The key colour of a cutout prompt: "on a plain solid background of colour #RRGGBB" (any case,
// words separated by any whitespace, exactly six hex digits not followed by another one).
std::optional<std::uint32_t> cutout_key_colour(std::string_view prompt);

// Decodes PNG/JPEG/GIF/BMP input bytes; nullopt when they are not a readable image.
std::optional<InputImage> decode_input_image(std::string_view base64_text);

}  // namespace nbcore::emulator
