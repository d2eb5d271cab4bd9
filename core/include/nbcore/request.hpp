// What a caller asks for. Plain data; api::encode_request turns it into generateContent JSON.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nbcore/blob.hpp"

namespace nbcore {

struct InputImage {
    std::string mime;        // "image/png", "image/jpeg", "image/webp", "image/heic", "image/heif"
    BlobPtr data;            // encoded bytes (sent as base64 inlineData)
};

struct SafetySetting {
    std::string category;    // "HARM_CATEGORY_HARASSMENT", ...
    std::string threshold;   // "BLOCK_NONE", "BLOCK_ONLY_HIGH", ...
};

// One earlier turn, for multi-turn edits: the model's content echoed back verbatim (including
// thoughtSignature) is kept as raw JSON text.
struct Turn {
    std::string role;        // "user" or "model"
    std::string parts_json;  // a JSON array of parts, already encoded
};

struct Request {
    std::string model;                 // "" = the client's default model
    std::string prompt;
    std::vector<InputImage> images;    // reference / edit inputs, sent after the prompt text
    std::string aspect_ratio;          // "" = let the API choose (match input, else 1:1)
    std::string image_size;            // "" | "1K" | "2K" | "4K" (Pro only)
    std::vector<SafetySetting> safety;
    std::string system_instruction;
    std::optional<std::int32_t> seed;
    std::optional<double> temperature;
    std::optional<int> candidate_count;
    bool image_only = false;           // responseModalities ["IMAGE"] instead of ["TEXT","IMAGE"]
    bool include_thoughts = false;     // thinkingConfig.includeThoughts (Pro)
    std::vector<Turn> history;         // earlier turns, oldest first
};

// Checks a request against the model tables before anything is sent. Throws Error INVALID_ARG
// naming the field and the accepted values. `model` is the resolved model id.
void validate_request(const Request& req, const std::string& model);

}  // namespace nbcore
