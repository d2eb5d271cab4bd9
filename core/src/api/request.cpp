// validate_request: refuse, before anything is sent (or billed), what the API would refuse anyway,
// with a message that names the field and the values that would work.
#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>

#include "nbcore/models.hpp"
#include "nbcore/request.hpp"
#include "nbcore/status.hpp"

namespace nbcore {
namespace {

// The API docs: inline images up to 7 MB each, 20 MB per request, at most 14 reference images.
constexpr std::size_t kMaxInputImages = 14;
constexpr std::size_t kMaxInlineImageBytes = 7u << 20;
constexpr std::size_t kMaxRequestBytes = 20'000'000;
constexpr std::array<std::string_view, 5> kInputMimes = {"image/png", "image/jpeg", "image/webp",
                                                         "image/heic", "image/heif"};

template <typename List>
std::string joined(const List& values) {
    std::string out;
    for (const auto& v : values) {
        if (!out.empty()) out += ", ";
        out += v;
    }
    return out;
}

template <typename List>
bool contains(const List& values, std::string_view v) {
    return std::find(values.begin(), values.end(), v) != values.end();
}

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string mebibytes(std::size_t n) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(n) / (1 << 20));
    return buf;
}

std::string megabytes(std::size_t n) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(n) / 1e6);
    return buf;
}

bool is_blank(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); });
}

// The API rejects bodies that are not UTF-8; better to say which field is at fault.
bool is_valid_utf8(std::string_view s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const auto* end = p + s.size();
    while (p < end) {
        unsigned char c = *p;
        if (c < 0x80) { ++p; continue; }
        int extra;
        std::uint32_t cp;
        if ((c & 0xE0) == 0xC0) { extra = 1; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { extra = 2; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { extra = 3; cp = c & 0x07; }
        else return false;
        if (end - p <= extra) return false;
        for (int i = 1; i <= extra; ++i) {
            if ((p[i] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        static constexpr std::uint32_t kMinForLength[4] = {0, 0x80, 0x800, 0x10000};
        if (cp < kMinForLength[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        p += extra + 1;
    }
    return true;
}

void check_text(std::string_view field, std::string_view text) {
    if (!is_valid_utf8(text))
        throw_invalid_arg(std::string(field) + " is not valid UTF-8; the API accepts UTF-8 text only");
}

void check_prompt(const Request& req) {
    if (req.images.empty() && is_blank(req.prompt))
        throw_invalid_arg("prompt is empty; give a prompt, or at least one input image to edit");
    check_text("prompt", req.prompt);
    check_text("system_instruction", req.system_instruction);
}

void check_aspect_ratio(const std::string& ratio) {
    if (ratio.empty() || is_valid_aspect_ratio(ratio)) return;
    throw_invalid_arg("aspect_ratio " + quoted(ratio) +
                      " is not a supported aspect ratio; use one of " + joined(kAspectRatios));
}

void check_image_size(const std::string& size, const std::string& model) {
    if (size.empty()) return;
    if (!is_valid_image_size(size)) {
        std::string upper = size;
        std::transform(upper.begin(), upper.end(), upper.begin(),
                       [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
        if (is_valid_image_size(upper))
            throw_invalid_arg("image_size " + quoted(size) + " must be written with an uppercase K: " +
                              quoted(upper) + " (the API rejects lowercase sizes)");
        throw_invalid_arg("image_size " + quoted(size) + " is not supported; use one of " +
                          joined(kImageSizes));
    }
    const ModelInfo* info = find_model(model);
    if (info && !info->supports_image_size)
        throw_invalid_arg("image_size " + quoted(size) + " is not accepted by " + std::string(info->id) +
                          ", which always answers at 1K; leave image_size empty, or use " +
                          std::string(kModelPro) + " for 2K and 4K");
}

void check_sampling(const Request& req) {
    if (req.temperature && !(*req.temperature >= 0.0 && *req.temperature <= 2.0)) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%g", *req.temperature);
        throw_invalid_arg(std::string("temperature ") + buf +
                          " is out of range; use a value from 0.0 to 2.0 (1.0 is the models' default)");
    }
    if (req.candidate_count && *req.candidate_count != 1)
        throw_invalid_arg("candidate_count " + std::to_string(*req.candidate_count) +
                          " is not supported: image models return one candidate; leave it unset or use 1");
}

// Roughly what encode_request will produce: base64 grows images by 4/3.
std::size_t estimated_request_bytes(const Request& req) {
    std::size_t n = 1024 + req.prompt.size() + req.system_instruction.size();
    for (const auto& img : req.images)
        if (img.data) n += (img.data->size() + 2) / 3 * 4 + 64;
    for (const auto& turn : req.history) n += turn.parts_json.size() + 32;
    return n;
}

void check_images(const Request& req) {
    if (req.images.size() > kMaxInputImages)
        throw_invalid_arg("images: " + std::to_string(req.images.size()) +
                          " input images given; the API takes at most " + std::to_string(kMaxInputImages) +
                          ": send fewer reference images");
    for (std::size_t i = 0; i < req.images.size(); ++i) {
        const auto& img = req.images[i];
        std::string field = "images[" + std::to_string(i) + "]";
        if (!contains(kInputMimes, img.mime))
            throw_invalid_arg(field + ".mime " + quoted(img.mime) + " is not supported; use one of " +
                              joined(kInputMimes));
        if (!img.data || img.data->empty())
            throw_invalid_arg(field + ".data is empty; give the encoded image bytes");
        if (img.data->size() > kMaxInlineImageBytes)
            throw_invalid_arg(field + " is " + mebibytes(img.data->size()) +
                              "; an inline image may be at most 7 MiB: downscale or recompress it");
    }
    std::size_t total = estimated_request_bytes(req);
    if (total > kMaxRequestBytes)
        throw_invalid_arg("request is about " + megabytes(total) +
                          " once encoded; the API accepts at most 20 MB inline: send fewer or smaller images");
}

void check_safety(const Request& req) {
    for (std::size_t i = 0; i < req.safety.size(); ++i) {
        std::string field = "safety[" + std::to_string(i) + "]";
        if (req.safety[i].category.empty())
            throw_invalid_arg(field + ".category is empty; use e.g. HARM_CATEGORY_HARASSMENT, "
                              "HARM_CATEGORY_HATE_SPEECH, HARM_CATEGORY_SEXUALLY_EXPLICIT, "
                              "HARM_CATEGORY_DANGEROUS_CONTENT");
        if (req.safety[i].threshold.empty())
            throw_invalid_arg(field + ".threshold is empty; use one of BLOCK_LOW_AND_ABOVE, "
                              "BLOCK_MEDIUM_AND_ABOVE, BLOCK_ONLY_HIGH, BLOCK_NONE, OFF");
    }
}

// Turns are pasted into the body verbatim, so they must at least look like a role and an array.
void check_history(const Request& req) {
    for (std::size_t i = 0; i < req.history.size(); ++i) {
        const auto& turn = req.history[i];
        std::string field = "history[" + std::to_string(i) + "]";
        if (turn.role != "user" && turn.role != "model")
            throw_invalid_arg(field + ".role " + quoted(turn.role) + " is not valid; use user or model");
        auto first = turn.parts_json.find_first_not_of(" \t\r\n");
        auto last = turn.parts_json.find_last_not_of(" \t\r\n");
        if (first == std::string::npos || turn.parts_json[first] != '[' || turn.parts_json[last] != ']')
            throw_invalid_arg(field + ".parts_json must be a JSON array of parts");
    }
}

}  // namespace

void validate_request(const Request& req, const std::string& model) {
    check_prompt(req);
    check_aspect_ratio(req.aspect_ratio);
    check_image_size(req.image_size, model);
    check_sampling(req);
    check_images(req);
    check_safety(req);
    check_history(req);
}

}  // namespace nbcore
