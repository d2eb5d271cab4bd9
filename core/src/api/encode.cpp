// Request -> generateContent JSON. Written as text, field by field, so that input images are
// base64-encoded once, straight into the body, with no JSON DOM holding copies of them.
#include <charconv>
#include <cmath>
#include <string>
#include <string_view>

#include "nbcore/codec.hpp"

namespace nbcore::api {
namespace {

// JSON string literal. UTF-8 passes through untouched; only what JSON forbids raw is escaped.
void append_json_string(std::string& out, std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    out += '"';
    std::size_t run = 0;  // start of the pending unescaped run
    for (std::size_t i = 0; i < s.size(); ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        out.append(s, run, i - run);
        run = i + 1;
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                out += "\\u00";
                out += kHex[c >> 4];
                out += kHex[c & 15];
        }
    }
    out.append(s, run, s.size() - run);
    out += '"';
}

template <typename Number>
void append_number(std::string& out, Number v) {
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, res.ptr);
}

// `"key":` preceded by a comma unless it opens the object.
void append_key(std::string& out, bool& first, std::string_view key) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, key);
    out += ':';
}

void append_user_turn(std::string& out, const Request& req) {
    out += R"({"role":"user","parts":[)";
    bool first = true;
    if (!req.prompt.empty()) {
        out += R"({"text":)";
        append_json_string(out, req.prompt);
        out += '}';
        first = false;
    }
    for (const auto& img : req.images) {
        if (!first) out += ',';
        first = false;
        out += R"({"inlineData":{"mimeType":)";
        append_json_string(out, img.mime);
        out += R"(,"data":")";
        if (img.data) base64_encode_append(out, img.data->data(), img.data->size());
        out += R"("}})";
    }
    out += "]}";
}

void append_contents(std::string& out, const Request& req) {
    out += '[';
    for (const auto& turn : req.history) {
        out += '{';
        if (!turn.role.empty()) {
            out += R"("role":)";
            append_json_string(out, turn.role);
            out += ',';
        }
        out += R"("parts":)";
        // Earlier turns are echoed verbatim (thoughtSignature included), as the docs require.
        out += turn.parts_json.empty() ? std::string_view("[]") : std::string_view(turn.parts_json);
        out += "},";
    }
    append_user_turn(out, req);
    out += ']';
}

void append_generation_config(std::string& out, const Request& req) {
    out += '{';
    bool first = true;
    append_key(out, first, "responseModalities");
    out += req.image_only ? R"(["IMAGE"])" : R"(["TEXT","IMAGE"])";
    if (!req.aspect_ratio.empty() || !req.image_size.empty()) {
        append_key(out, first, "imageConfig");
        out += '{';
        bool first_in_image = true;
        if (!req.aspect_ratio.empty()) {
            append_key(out, first_in_image, "aspectRatio");
            append_json_string(out, req.aspect_ratio);
        }
        if (!req.image_size.empty()) {
            append_key(out, first_in_image, "imageSize");
            append_json_string(out, req.image_size);
        }
        out += '}';
    }
    if (req.seed) {
        append_key(out, first, "seed");
        append_number(out, *req.seed);
    }
    // A NaN or infinity has no JSON spelling; validate_request rejects them before this point.
    if (req.temperature && std::isfinite(*req.temperature)) {
        append_key(out, first, "temperature");
        append_number(out, *req.temperature);
    }
    if (req.candidate_count) {
        append_key(out, first, "candidateCount");
        append_number(out, *req.candidate_count);
    }
    if (req.include_thoughts) {
        append_key(out, first, "thinkingConfig");
        out += R"({"includeThoughts":true})";
    }
    out += '}';
}

void append_safety_settings(std::string& out, const std::vector<SafetySetting>& settings) {
    out += '[';
    for (std::size_t i = 0; i < settings.size(); ++i) {
        if (i) out += ',';
        out += R"({"category":)";
        append_json_string(out, settings[i].category);
        out += R"(,"threshold":)";
        append_json_string(out, settings[i].threshold);
        out += '}';
    }
    out += ']';
}

// Enough for the whole body, so the big base64 appends never reallocate.
std::size_t estimated_body_size(const Request& req) {
    std::size_t n = 1024 + req.prompt.size() * 6 / 5 + req.system_instruction.size() * 6 / 5;
    for (const auto& img : req.images)
        if (img.data) n += (img.data->size() + 2) / 3 * 4 + 64;
    for (const auto& turn : req.history) n += turn.parts_json.size() + 64;
    for (const auto& s : req.safety) n += s.category.size() + s.threshold.size() + 32;
    return n;
}

}  // namespace

std::string encode_request(const Request& req) {
    std::string out;
    out.reserve(estimated_body_size(req));
    out += '{';
    bool first = true;
    append_key(out, first, "contents");
    append_contents(out, req);
    if (!req.system_instruction.empty()) {
        append_key(out, first, "systemInstruction");
        out += R"({"parts":[{"text":)";
        append_json_string(out, req.system_instruction);
        out += "}]}";
    }
    if (!req.safety.empty()) {
        append_key(out, first, "safetySettings");
        append_safety_settings(out, req.safety);
    }
    append_key(out, first, "generationConfig");
    append_generation_config(out, req);
    out += '}';
    return out;
}

}  // namespace nbcore::api
