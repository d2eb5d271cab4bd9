#include "nbcore/models.hpp"

#include <cmath>
#include <cstdlib>
#include <string>

namespace nbcore {
namespace {

constexpr ModelInfo kModels[] = {
    {kModelFlash, "Nano Banana", "Gemini 2.5 Flash Preview Image", false, false, 32768, 32768, 258,
     "image/png"},
    {kModelPro, "Nano Banana Pro", "Gemini 3 Pro Image Preview", true, true, 131072, 32768, 560,
     "image/jpeg"},
};

struct Alias {
    std::string_view alias;
    std::string_view id;
};
constexpr Alias kAliases[] = {
    {"gemini-2.5-flash-image-preview", kModelFlash},
    {"nano-banana-pro-preview", kModelPro},
};

// gemini-2.5-flash-image: one size per aspect ratio (the image-generation docs).
constexpr PixelSize kFlashSizes[10] = {
    {1024, 1024}, {832, 1248}, {1248, 832}, {864, 1184}, {1184, 864},
    {896, 1152},  {1152, 896}, {768, 1344}, {1344, 768}, {1536, 672}};

// gemini-3-pro-image-preview: [aspect][1K, 2K, 4K].
constexpr PixelSize kProSizes[10][3] = {
    {{1024, 1024}, {2048, 2048}, {4096, 4096}},
    {{848, 1264}, {1696, 2528}, {3392, 5056}},
    {{1264, 848}, {2528, 1696}, {5056, 3392}},
    {{896, 1200}, {1792, 2400}, {3584, 4800}},
    {{1200, 896}, {2400, 1792}, {4800, 3584}},
    {{928, 1152}, {1856, 2304}, {3712, 4608}},
    {{1152, 928}, {2304, 1856}, {4608, 3712}},
    {{768, 1376}, {1536, 2752}, {3072, 5504}},
    {{1376, 768}, {2752, 1536}, {5504, 3072}},
    {{1584, 672}, {3168, 1344}, {6336, 2688}}};

int aspect_index(std::string_view ratio) noexcept {
    if (ratio.empty()) return 0;
    for (std::size_t i = 0; i < kAspectRatios.size(); ++i)
        if (kAspectRatios[i] == ratio) return static_cast<int>(i);
    return -1;
}

int size_index(std::string_view size) noexcept {
    if (size.empty()) return 0;
    for (std::size_t i = 0; i < kImageSizes.size(); ++i)
        if (kImageSizes[i] == size) return static_cast<int>(i);
    return -1;
}

}  // namespace

std::span<const ModelInfo> image_models() noexcept { return kModels; }

std::string canonical_model_id(std::string_view id) {
    if (id.substr(0, 7) == "models/") id.remove_prefix(7);
    for (const auto& a : kAliases)
        if (a.alias == id) return std::string(a.id);
    return std::string(id);
}

const ModelInfo* find_model(std::string_view id) noexcept {
    if (id.substr(0, 7) == "models/") id.remove_prefix(7);
    for (const auto& a : kAliases)
        if (a.alias == id) id = a.id;
    for (const auto& m : kModels)
        if (m.id == id) return &m;
    return nullptr;
}

bool is_valid_aspect_ratio(std::string_view ratio) noexcept {
    return !ratio.empty() && aspect_index(ratio) >= 0;
}

bool is_valid_image_size(std::string_view size) noexcept {
    return !size.empty() && size_index(size) >= 0;
}

std::optional<PixelSize> output_size(std::string_view model, std::string_view aspect,
                                     std::string_view image_size) noexcept {
    const ModelInfo* m = find_model(model);
    int a = aspect_index(aspect);
    int s = size_index(image_size);
    if (!m || a < 0 || s < 0) return std::nullopt;
    if (!m->supports_image_size) {
        if (!image_size.empty()) return std::nullopt;
        return kFlashSizes[a];
    }
    return kProSizes[a][s];
}

int output_image_tokens(std::string_view model, std::string_view image_size) noexcept {
    const ModelInfo* m = find_model(model);
    if (!m) return 0;
    if (!m->supports_image_size) return 1290;
    return image_size == "4K" ? 2000 : 1120;
}

std::string_view nearest_aspect_ratio(int width, int height) noexcept {
    if (width <= 0 || height <= 0) return kAspectRatios[0];
    double want = std::log(static_cast<double>(width) / height);
    std::string_view best = kAspectRatios[0];
    double best_d = 1e9;
    for (auto r : kAspectRatios) {
        auto colon = r.find(':');
        double w = std::strtod(std::string(r.substr(0, colon)).c_str(), nullptr);
        double h = std::strtod(std::string(r.substr(colon + 1)).c_str(), nullptr);
        double d = std::fabs(std::log(w / h) - want);
        if (d < best_d) { best_d = d; best = r; }
    }
    return best;
}

}  // namespace nbcore
