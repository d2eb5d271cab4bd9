// Shared pieces of the emulator tests: an in-process server, request bodies, decoding answers.
#pragma once

#include <stb_image.h>
#include <stb_image_write.h>

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "http_client.hpp"
#include "nbcore/blob.hpp"
#include "nbcore/codec.hpp"
#include "nbcore_emulator/emulator.hpp"

namespace emutest {

using nlohmann::json;

inline const std::string kFlash = "gemini-2.5-flash-image";
inline const std::string kPro = "gemini-3-pro-image-preview";
inline const std::string kKeyHeader = "x-goog-api-key: test-key";

inline nbcore::emulator::Options options_with(const std::function<void(nbcore::emulator::Options&)>& set) {
    nbcore::emulator::Options o;
    set(o);
    return o;
}

// A started emulator on a free loopback port; stops when it goes out of scope.
struct Emulator {
    nbcore::emulator::Server server;

    explicit Emulator(nbcore::emulator::Options o = {}) : server(std::move(o)) { server.start(); }
    // Emulator emu([](auto& o) { o.latency_ms = 100; });
    explicit Emulator(const std::function<void(nbcore::emulator::Options&)>& set) : Emulator(options_with(set)) {}

    std::string url(const std::string& path) const { return server.url() + path; }
    std::string generate_url(const std::string& model, bool stream = false, bool sse = true) const {
        return url("/v1beta/models/" + model + (stream ? ":streamGenerateContent" : ":generateContent") +
                   (stream && sse ? "?alt=sse" : ""));
    }
    HttpResult generate(const std::string& model, const json& body, bool stream = false, bool sse = true) const {
        return post(generate_url(model, stream, sse), body.dump(), {kKeyHeader, "Content-Type: application/json"});
    }
};

inline json text_part(const std::string& text) { return json{{"text", text}}; }

inline json image_part(const std::string& mime, const std::string& base64) {
    json part;
    part["inlineData"] = {{"mimeType", mime}, {"data", base64}};
    return part;
}

inline json turn(const std::string& role, std::vector<json> parts) {
    json t;
    t["role"] = role;
    t["parts"] = std::move(parts);
    return t;
}

inline json contents_body(std::vector<json> turns) {
    json body;
    body["contents"] = std::move(turns);
    return body;
}

inline json prompt_body(const std::string& prompt, json generation_config = json::object()) {
    json body = contents_body({turn("user", {text_part(prompt)})});
    if (!generation_config.empty()) body["generationConfig"] = std::move(generation_config);
    return body;
}

inline std::string decode_base64(const std::string& text) {
    nbcore::api::Base64Decoder decoder;
    nbcore::Blob out;
    if (!decoder.feed(text.data(), text.size(), out) || !decoder.finish(out)) return {};
    return std::string(out.view());
}

inline std::string encode_base64(const std::string& bytes) {
    return nbcore::api::base64_encode(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}

struct ImageInfo {
    int width = 0;
    int height = 0;
    bool decodes = false;
};

// Header dimensions (stbi_info) and whether the whole image decodes.
inline ImageInfo image_info(const std::string& bytes) {
    ImageInfo info;
    int comp = 0;
    auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
    int n = static_cast<int>(bytes.size());
    if (!stbi_info_from_memory(data, n, &info.width, &info.height, &comp)) return info;
    int w = 0, h = 0;
    stbi_uc* pixels = stbi_load_from_memory(data, n, &w, &h, &comp, 3);
    info.decodes = pixels != nullptr;
    stbi_image_free(pixels);
    return info;
}

// The non-thought image parts of a response's first candidate.
inline std::vector<json> image_parts(const json& response, bool thoughts = false) {
    std::vector<json> out;
    if (!response.contains("candidates") || response["candidates"].empty()) return out;
    const json& content = response["candidates"][0]["content"];
    if (!content.contains("parts")) return out;
    for (const auto& p : content["parts"])
        if (p.contains("inlineData") && p.value("thought", false) == thoughts) out.push_back(p);
    return out;
}

inline std::string first_image_bytes(const json& response) {
    auto parts = image_parts(response);
    return parts.empty() ? std::string() : decode_base64(parts[0]["inlineData"]["data"].get<std::string>());
}

// "data: {...}\r\n\r\n" events -> JSON values; non-data lines come back as {"bare": line}.
inline std::vector<json> sse_events(const std::string& body) {
    std::vector<json> out;
    std::size_t pos = 0;
    while (pos < body.size()) {
        std::size_t end = body.find("\r\n\r\n", pos);
        if (end == std::string::npos) end = body.size();
        std::string event = body.substr(pos, end - pos);
        pos = end + 4;
        if (event.empty()) continue;
        if (event.rfind("data: ", 0) == 0)
            out.push_back(json::parse(event.substr(6)));
        else
            out.push_back({{"bare", event}});
    }
    return out;
}

// A PNG whose left half is `left` and right half `right` (RGB).
inline std::string two_tone_png(int w, int h, std::array<std::uint8_t, 3> left, std::array<std::uint8_t, 3> right) {
    std::vector<std::uint8_t> rgb(static_cast<std::size_t>(w) * static_cast<std::size_t>(h) * 3);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            for (int c = 0; c < 3; ++c)
                rgb[(static_cast<std::size_t>(y) * static_cast<std::size_t>(w) + static_cast<std::size_t>(x)) * 3 + static_cast<std::size_t>(c)] =
                    x < w / 2 ? left[static_cast<std::size_t>(c)] : right[static_cast<std::size_t>(c)];
    std::string out;
    stbi_write_png_to_func(
        [](void* ctx, void* data, int size) { static_cast<std::string*>(ctx)->append(static_cast<char*>(data), static_cast<std::size_t>(size)); },
        &out, w, h, 3, rgb.data(), w * 3);
    return out;
}

// Mean colour of a rectangle of a decoded image.
inline std::array<double, 3> mean_colour(const std::string& bytes, double x0, double y0, double x1, double y1) {
    int w = 0, h = 0, comp = 0;
    stbi_uc* px = stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()), static_cast<int>(bytes.size()), &w, &h, &comp, 3);
    std::array<double, 3> sum{0, 0, 0};
    if (!px) return sum;
    long n = 0;
    for (int y = static_cast<int>(y0 * h); y < static_cast<int>(y1 * h); ++y)
        for (int x = static_cast<int>(x0 * w); x < static_cast<int>(x1 * w); ++x, ++n)
            for (int c = 0; c < 3; ++c) sum[static_cast<std::size_t>(c)] += px[(static_cast<std::size_t>(y) * static_cast<std::size_t>(w) + static_cast<std::size_t>(x)) * 3 + static_cast<std::size_t>(c)];
    stbi_image_free(px);
    for (auto& v : sum) v /= static_cast<double>(std::max(n, 1L));
    return sum;
}

}  // namespace emutest
