// Deterministic procedural images: what the emulator "generates". The same request always gives
// the same bytes; a different prompt, seed, model, aspect ratio, size or input image gives
// different ones. Input images stay visible in the output, so tests can see an edit happened.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "request.hpp"

namespace nbcore::emulator {

struct Raster {
    int width = 0;
    int height = 0;
    std::vector<std::uint8_t> rgb;   // width * height * 3
};

struct SceneSpec {
    std::string prompt;
    std::uint64_t seed = 0;
    std::string model;
    std::string aspect;
    std::string image_size;
    int width = 0;
    int height = 0;
    int grain = 0;                   // 0..64
    bool draft = false;              // interim "thought" image: no caption, no grain
    std::vector<std::shared_ptr<const InputImage>> inputs;
    AnswerMode mode = AnswerMode::Scene;   // MaskEdit: inputs[0] is the image, inputs[1] the mask
    std::uint32_t cutout_key = 0;          // Cutout: 0xRRGGBB
};

std::uint64_t scene_hash(const SceneSpec& spec);
// `note`, when given, receives what a mask edit or cutout drew (for the request log); it stays
// null for ordinary scenes.
Raster render_scene(const SceneSpec& spec, nlohmann::json* note = nullptr);

// How far a mask edit's marker and a cutout's subject colours stay from the colour they must
// stand out against (Euclidean distance in RGB, 0..441).
inline constexpr double kMarkerMinDistance = 160;
inline constexpr double kCutoutMinDistance = 150;
// A cutout: the subject's extent along the smaller side, the key noise, the edge and the spill.
inline constexpr double kCutoutCoverage = 0.6;
inline constexpr int kCutoutKeyNoise = 2;
inline constexpr double kCutoutEdgePx = 1.5;
inline constexpr double kCutoutSpillPx = 3.0;
inline constexpr double kCutoutSpill = 0.06;
Raster flat_raster(int width, int height, std::uint8_t r, std::uint8_t g, std::uint8_t b);

std::string encode_png(const Raster& raster);
std::string encode_jpeg(const Raster& raster, int quality);

// An encoded image ready to go into an answer.
struct EncodedImage {
    std::string mime;        // "image/png" | "image/jpeg"
    std::string bytes;
    std::string base64;
    int width = 0;
    int height = 0;
    nlohmann::json note;     // render_scene's note (mask edits and cutouts), else null
};
EncodedImage make_encoded(const Raster& raster, std::string_view mime, int jpeg_quality);

// Recently encoded images, least recently used dropped first once over the byte budget.
// Concurrent requests for the same key render once; the others wait for that result.
class ImageCache {
public:
    explicit ImageCache(std::size_t budget_bytes) : budget_(budget_bytes) {}

    std::shared_ptr<const EncodedImage> get(std::uint64_t key, const std::function<EncodedImage()>& make);
    void clear();
    std::size_t hits() const;
    std::size_t misses() const;

private:
    struct Slot {
        std::shared_ptr<const EncodedImage> image;   // null while being rendered
        std::list<std::uint64_t>::iterator lru_pos;
    };
    void evict_locked();

    std::size_t budget_;
    std::size_t used_ = 0;
    std::size_t hits_ = 0;
    std::size_t misses_ = 0;
    mutable std::mutex mu_;
    std::condition_variable ready_;
    std::unordered_map<std::uint64_t, Slot> slots_;
    std::list<std::uint64_t> lru_;                   // front = most recent
};

}  // namespace nbcore::emulator
