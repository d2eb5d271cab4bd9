#include "request.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>

#include <stb_image.h>

#include "nbcore/blob.hpp"
#include "nbcore/codec.hpp"
#include "nbcore/models.hpp"
#include "util.hpp"

namespace nbcore::emulator {
namespace {

using json = nlohmann::json;

// ---------------------------------------------------------------------------------------------
// A small description of the request protos: enough to reject unknown names and wrong types
// with the API's own messages.

enum class Kind { String, Int, Float, Bool, Bytes, Enum, Message, Any };

struct EnumType {
    std::string_view type_name;                 // "GenerationConfig.Modality"
    std::vector<std::string_view> values;
    bool case_insensitive = false;              // the docs show "Text"/"Image" spellings
};

struct Message;

struct Field {
    std::string_view name;                      // camelCase JSON name
    Kind kind;
    bool repeated = false;
    const Message* message = nullptr;
    const EnumType* enumeration = nullptr;
    bool vertex_only = false;
};

struct Message {
    std::string_view type_name;                 // "GenerationConfig"
    std::vector<Field> fields;
};

Field scalar(std::string_view name, Kind kind, bool repeated = false) { return {name, kind, repeated, nullptr, nullptr, false}; }
Field any(std::string_view name, bool repeated = false) { return {name, Kind::Any, repeated, nullptr, nullptr, false}; }
Field msg(std::string_view name, const Message& m, bool repeated = false) { return {name, Kind::Message, repeated, &m, nullptr, false}; }
Field enumf(std::string_view name, const EnumType& e, bool repeated = false) { return {name, Kind::Enum, repeated, nullptr, &e, false}; }
Field vertex(Field f) { f.vertex_only = true; return f; }

struct Schema {
    EnumType modality{"GenerationConfig.Modality", {"MODALITY_UNSPECIFIED", "TEXT", "IMAGE", "AUDIO"}, true};
    EnumType thinking_level{"ThinkingConfig.ThinkingLevel",
                            {"THINKING_LEVEL_UNSPECIFIED", "MINIMAL", "LOW", "MEDIUM", "HIGH"}, true};
    EnumType harm_category{"HarmCategory",
                           {"HARM_CATEGORY_UNSPECIFIED", "HARM_CATEGORY_DEROGATORY", "HARM_CATEGORY_TOXICITY",
                            "HARM_CATEGORY_VIOLENCE", "HARM_CATEGORY_SEXUAL", "HARM_CATEGORY_MEDICAL",
                            "HARM_CATEGORY_DANGEROUS", "HARM_CATEGORY_HARASSMENT", "HARM_CATEGORY_HATE_SPEECH",
                            "HARM_CATEGORY_SEXUALLY_EXPLICIT", "HARM_CATEGORY_DANGEROUS_CONTENT",
                            "HARM_CATEGORY_CIVIC_INTEGRITY", "HARM_CATEGORY_IMAGE_HATE",
                            "HARM_CATEGORY_IMAGE_DANGEROUS_CONTENT", "HARM_CATEGORY_IMAGE_HARASSMENT",
                            "HARM_CATEGORY_IMAGE_SEXUALLY_EXPLICIT", "HARM_CATEGORY_JAILBREAK"}};
    EnumType threshold{"SafetySetting.HarmBlockThreshold",
                       {"HARM_BLOCK_THRESHOLD_UNSPECIFIED", "BLOCK_LOW_AND_ABOVE", "BLOCK_MEDIUM_AND_ABOVE",
                        "BLOCK_ONLY_HIGH", "BLOCK_NONE", "OFF"}};

    Message blob{"Blob", {scalar("mimeType", Kind::String), scalar("data", Kind::Bytes),
                          vertex(scalar("displayName", Kind::String))}};
    Message file_data{"FileData", {scalar("mimeType", Kind::String), scalar("fileUri", Kind::String),
                                   vertex(scalar("displayName", Kind::String))}};
    Message part{"Part", {scalar("text", Kind::String), msg("inlineData", blob), msg("fileData", file_data),
                          any("functionCall"), any("functionResponse"), any("executableCode"),
                          any("codeExecutionResult"), scalar("thought", Kind::Bool),
                          scalar("thoughtSignature", Kind::Bytes), any("videoMetadata"), any("partMetadata"),
                          any("mediaResolution")}};
    Message content{"Content", {scalar("role", Kind::String), msg("parts", part, true)}};
    Message thinking{"ThinkingConfig", {scalar("includeThoughts", Kind::Bool), scalar("thinkingBudget", Kind::Int),
                                        enumf("thinkingLevel", thinking_level)}};
    Message output_options{"ImageOutputOptions", {scalar("mimeType", Kind::String),
                                                  scalar("compressionQuality", Kind::Int)}};
    Message image_config{"ImageConfig", {scalar("aspectRatio", Kind::String), scalar("imageSize", Kind::String),
                                         vertex(scalar("personGeneration", Kind::String)),
                                         vertex(scalar("prominentPeople", Kind::String)),
                                         vertex(msg("imageOutputOptions", output_options))}};
    Message generation_config{
        "GenerationConfig",
        {scalar("stopSequences", Kind::String, true), scalar("responseMimeType", Kind::String),
         any("responseSchema"), any("responseJsonSchema"), enumf("responseModalities", modality, true),
         scalar("candidateCount", Kind::Int), scalar("maxOutputTokens", Kind::Int),
         scalar("temperature", Kind::Float), scalar("topP", Kind::Float), scalar("topK", Kind::Float),
         scalar("seed", Kind::Int), scalar("presencePenalty", Kind::Float),
         scalar("frequencyPenalty", Kind::Float), scalar("responseLogprobs", Kind::Bool),
         scalar("logprobs", Kind::Int), scalar("enableEnhancedCivicAnswers", Kind::Bool),
         any("speechConfig"), msg("thinkingConfig", thinking), msg("imageConfig", image_config),
         any("mediaResolution")}};
    Message safety_setting{"SafetySetting", {enumf("category", harm_category), enumf("threshold", threshold),
                                             vertex(scalar("method", Kind::String))}};
    Message request{"GenerateContentRequest",
                    {scalar("model", Kind::String), msg("contents", content, true), msg("systemInstruction", content),
                     any("tools", true), any("toolConfig"), msg("safetySettings", safety_setting, true),
                     msg("generationConfig", generation_config), scalar("cachedContent", Kind::String),
                     scalar("serviceTier", Kind::String), vertex(any("labels"))}};
    Message count_tokens{"CountTokensRequest",
                         {scalar("model", Kind::String), msg("contents", content, true),
                          msg("generateContentRequest", request)}};
};

const Schema& schema() {
    static const Schema s;
    return s;
}

struct CheckContext {
    bool vertex = false;
    std::string package;                        // "google.ai.generativelanguage.v1beta"
    std::vector<FieldViolation> violations;
};

std::string join_path(const std::string& base, std::string_view name) {
    std::string snake = camel_to_snake(name);
    return base.empty() ? snake : base + "." + snake;
}

std::string render_value(const json& v) {
    if (v.is_string()) return json(v.get<std::string>().size() > 64 ? utf8_prefix(v.get<std::string>(), 40)
                                                                     : v.get<std::string>()).dump();
    std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
    return s.size() > 80 ? s.substr(0, 77) + "..." : s;
}

void invalid_value(CheckContext& ctx, const std::string& path, std::string_view type, const json& v) {
    std::string what = type.rfind("TYPE_", 0) == 0 ? std::string(type)
                                                   : "type.googleapis.com/" + ctx.package + "." + std::string(type);
    ctx.violations.push_back({path, "Invalid value at '" + path + "' (" + what + "), " + render_value(v)});
}

// An int32 as proto3 JSON writes it: a number without fraction, or a string of digits.
bool is_int_value(const json& v) {
    constexpr double lo = -2147483648.0, hi = 2147483647.0;
    if (v.is_number()) {
        double d = v.get<double>();
        return std::isfinite(d) && d == std::floor(d) && d >= lo && d <= hi;
    }
    if (v.is_string()) {
        const auto& s = v.get_ref<const std::string&>();
        std::size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
        if (i >= s.size() || s.size() - i > 10) return false;
        if (!std::all_of(s.begin() + static_cast<long>(i), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return false;
        double d = std::strtod(s.c_str(), nullptr);
        return d >= lo && d <= hi;
    }
    return false;
}

bool is_float_value(const json& v) {
    if (v.is_number()) return true;
    if (!v.is_string()) return false;
    const auto& s = v.get_ref<const std::string&>();
    if (s == "NaN" || s == "Infinity" || s == "-Infinity") return true;
    char* end = nullptr;
    std::strtod(s.c_str(), &end);
    return !s.empty() && end && *end == '\0';
}

bool enum_accepts(const EnumType& e, const json& v) {
    if (v.is_number_integer()) return v.get<long long>() >= 0 && v.get<long long>() < static_cast<long long>(e.values.size());
    if (!v.is_string()) return false;
    std::string s = v.get<std::string>();
    for (auto value : e.values)
        if (value == s || (e.case_insensitive && to_lower(value) == to_lower(s))) return true;
    return false;
}

void check_message(const json& obj, const Message& m, const std::string& path, CheckContext& ctx);

void check_single(const json& v, const Field& f, const std::string& path, CheckContext& ctx) {
    switch (f.kind) {
        case Kind::Any: return;
        case Kind::String:
            if (!v.is_string()) invalid_value(ctx, path, "TYPE_STRING", v);
            return;
        case Kind::Int:
            if (!is_int_value(v)) invalid_value(ctx, path, "TYPE_INT32", v);
            return;
        case Kind::Float:
            if (!is_float_value(v)) invalid_value(ctx, path, "TYPE_FLOAT", v);
            return;
        case Kind::Bool:
            if (!v.is_boolean()) invalid_value(ctx, path, "TYPE_BOOL", v);
            return;
        case Kind::Bytes:
            if (!v.is_string() || !is_valid_base64(v.get_ref<const std::string&>()))
                ctx.violations.push_back({path, "Invalid value at '" + path + "' (TYPE_BYTES), Base64 decoding failed for " +
                                                    render_value(v)});
            return;
        case Kind::Enum:
            if (!enum_accepts(*f.enumeration, v)) invalid_value(ctx, path, f.enumeration->type_name, v);
            return;
        case Kind::Message:
            if (!v.is_object())
                invalid_value(ctx, path, f.message->type_name, v);
            else
                check_message(v, *f.message, path, ctx);
            return;
    }
}

void check_field(const json& v, const Field& f, const std::string& path, CheckContext& ctx) {
    if (v.is_null()) return;   // proto3 JSON: null means "not set"
    if (f.repeated && v.is_array()) {
        for (std::size_t i = 0; i < v.size(); ++i)
            check_single(v[i], f, path + "[" + std::to_string(i) + "]", ctx);
        return;
    }
    // The API also takes a lone value for a repeated field, as a list of one.
    check_single(v, f, f.repeated ? path + "[0]" : path, ctx);
}

const Field* find_field(const Message& m, std::string_view key, bool vertex) {
    for (const auto& f : m.fields) {
        if (f.vertex_only && !vertex) continue;
        if (f.name == key || camel_to_snake(f.name) == key) return &f;
    }
    return nullptr;
}

void check_message(const json& obj, const Message& m, const std::string& path, CheckContext& ctx) {
    for (auto it = obj.begin(); it != obj.end(); ++it) {
        const Field* f = find_field(m, it.key(), ctx.vertex);
        if (!f) {
            std::string where = path.empty() ? "" : " at '" + path + "'";
            ctx.violations.push_back(
                {path, "Invalid JSON payload received. Unknown name \"" + it.key() + "\"" + where + ": Cannot find field."});
            continue;
        }
        check_field(it.value(), *f, join_path(path, f->name), ctx);
    }
}

// ---------------------------------------------------------------------------------------------
// Reading the (already type-checked) request.

// The value of field `camel` in either spelling; nullptr when absent or null.
const json* get(const json& obj, std::string_view camel) {
    if (!obj.is_object()) return nullptr;
    auto it = obj.find(std::string(camel));
    if (it == obj.end()) it = obj.find(camel_to_snake(camel));
    if (it == obj.end() || it->is_null()) return nullptr;
    return &*it;
}

// A repeated field as a list (a lone value counts as a list of one).
std::vector<const json*> list_of(const json* v) {
    std::vector<const json*> out;
    if (!v) return out;
    if (v->is_array()) {
        for (const auto& e : *v) out.push_back(&e);
    } else {
        out.push_back(v);
    }
    return out;
}

// Only called on values is_int_value() accepted.
long long int_of(const json& v) {
    if (v.is_string()) return std::strtoll(v.get_ref<const std::string&>().c_str(), nullptr, 10);
    return static_cast<long long>(v.get<double>());
}

std::string string_of(const json* v) { return v && v->is_string() ? v->get<std::string>() : std::string(); }

bool is_decodable_image_mime(std::string_view mime) {
    return mime == "image/png" || mime == "image/jpeg" || mime == "image/jpg" || mime == "image/gif" ||
           mime == "image/bmp";
}

bool is_supported_mime(std::string_view mime) {
    static const std::string_view accepted[] = {
        "image/png", "image/jpeg", "image/jpg", "image/webp", "image/heic", "image/heif", "image/gif",
        "image/bmp", "application/pdf", "text/plain", "text/html", "text/csv", "text/markdown",
        "application/json"};
    for (auto a : accepted)
        if (a == mime) return true;
    return mime.rfind("audio/", 0) == 0 || mime.rfind("video/", 0) == 0;
}

std::string content_path(std::size_t turn) { return "contents[" + std::to_string(turn) + "]"; }

ApiError oneof_error(const std::string& part_path) {
    return bad_request(part_path + ".data", "* GenerateContentRequest." + part_path +
                                                ".data: required oneof field 'data' must have one initialized field\n");
}

struct ContentsSummary {
    std::size_t text_chars = 0;
    int images = 0;
    std::string last_user_text;
    std::vector<const json*> last_user_images;     // inlineData objects
    const json* latest_image = nullptr;            // newest image anywhere (multi-turn edits)
};

bool has_data(const json& part) {
    for (auto name : {"text", "inlineData", "fileData", "functionCall", "functionResponse", "executableCode",
                      "codeExecutionResult"})
        if (get(part, name)) return true;
    return false;
}

// Walks the turns: checks roles, parts and MIME types, and collects text and images.
std::optional<ApiError> summarize_contents(const json* contents, bool vertex, ContentsSummary& out) {
    auto turns = list_of(contents);
    if (turns.empty())
        return bad_request("contents", "* GenerateContentRequest.contents: contents is not specified\n");
    for (std::size_t t = 0; t < turns.size(); ++t) {
        const json& turn = *turns[t];
        std::string role = string_of(get(turn, "role"));
        if ((vertex && role.empty()) || (!role.empty() && role != "user" && role != "model"))
            return bad_request(content_path(t) + ".role", "Please use a valid role: user, model.");
        auto parts = list_of(get(turn, "parts"));
        if (parts.empty())
            return bad_request(content_path(t) + ".parts", "* GenerateContentRequest." + content_path(t) +
                                                               ".parts: contents.parts must not be empty.\n");
        bool user = role != "model";
        if (user) {
            out.last_user_text.clear();
            out.last_user_images.clear();
        }
        for (std::size_t p = 0; p < parts.size(); ++p) {
            const json& part = *parts[p];
            std::string part_path = content_path(t) + ".parts[" + std::to_string(p) + "]";
            if (!has_data(part)) return oneof_error(part_path);
            bool thought = get(part, "thought") && get(part, "thought")->get<bool>();
            if (const json* text = get(part, "text")) {
                out.text_chars += utf8_length(text->get_ref<const std::string&>());
                if (user && !thought) {
                    if (!out.last_user_text.empty()) out.last_user_text += ' ';
                    out.last_user_text += text->get<std::string>();
                }
            }
            const json* blob = get(part, "inlineData");
            if (!blob) blob = get(part, "fileData");
            if (!blob) continue;
            std::string mime = string_of(get(*blob, "mimeType"));
            if (!is_supported_mime(mime)) return bad_request(part_path, "Unsupported MIME type: " + mime);
            if (mime.rfind("image/", 0) != 0 || thought) continue;
            ++out.images;
            if (!get(*blob, "data")) continue;    // fileData: counted, not seen
            out.latest_image = blob;
            if (user) out.last_user_images.push_back(blob);
        }
    }
    return std::nullopt;
}

std::optional<ApiError> decode_images(const std::vector<const json*>& blobs, GenerateParams& params) {
    for (const json* blob : blobs) {
        std::string mime = string_of(get(*blob, "mimeType"));
        if (!is_decodable_image_mime(mime)) continue;   // webp/heic: accepted, not drawn
        auto img = decode_input_image(get(*blob, "data")->get_ref<const std::string&>());
        if (!img)
            return ApiError{400, "INVALID_ARGUMENT",
                            "Unable to process input image. Please retry or report in " +
                                std::string(kTroubleshootingUrl),
                            ojson::array(), {}};
        params.edit_inputs.push_back(std::make_shared<InputImage>(std::move(*img)));
    }
    return std::nullopt;
}

std::string supported_list(const auto& values) {
    std::string s;
    for (auto v : values) s += (s.empty() ? "" : ", ") + std::string(v);
    return s;
}

std::optional<ApiError> read_image_config(const json* config, const ModelInfo& model, bool vertex, GenerateParams& params) {
    const std::string path = "generation_config.image_config";
    // proto3: an empty string is the default value, i.e. not set.
    if (const json* ratio = get(*config, "aspectRatio"); ratio && !ratio->get_ref<const std::string&>().empty()) {
        params.aspect = ratio->get<std::string>();
        if (!is_valid_aspect_ratio(params.aspect))
            return bad_request(path + ".aspect_ratio",
                               "Invalid value at '" + path + ".aspect_ratio': \"" + params.aspect +
                                   "\" is not a supported aspect ratio. Supported values: " +
                                   supported_list(kAspectRatios) + ".");
    }
    if (const json* size = get(*config, "imageSize"); size && !size->get_ref<const std::string&>().empty()) {
        std::string s = size->get<std::string>();
        if (!model.supports_image_size)
            return bad_request(path + ".image_size", "Image size is not supported for models/" +
                                                         std::string(model.id) + ". Remove image_config.image_size.");
        if (!is_valid_image_size(s))
            return bad_request(path + ".image_size", "Invalid value at '" + path + ".image_size': \"" + s +
                                                         "\" is not a supported image size. Supported values: " +
                                                         supported_list(kImageSizes) + " (uppercase K).");
        params.image_size = s;
    }
    const json* options = vertex ? get(*config, "imageOutputOptions") : nullptr;
    if (options) {
        params.output_mime = string_of(get(*options, "mimeType"));
        if (!params.output_mime.empty() && params.output_mime != "image/png" && params.output_mime != "image/jpeg")
            return bad_request(path + ".image_output_options.mime_type",
                               "Unsupported output MIME type: " + params.output_mime + ". Use image/png or image/jpeg.");
        if (const json* q = get(*options, "compressionQuality"))
            params.jpeg_quality = static_cast<int>(std::clamp<long long>(int_of(*q), 1, 100));
    }
    return std::nullopt;
}

std::optional<ApiError> read_generation_config(const json* config, const ModelInfo& model, bool vertex,
                                               GenerateParams& params) {
    if (!config) return std::nullopt;
    if (const json* seed = get(*config, "seed")) params.seed = static_cast<std::uint64_t>(int_of(*seed));
    if (const json* count = get(*config, "candidateCount")) {
        long long n = int_of(*count);
        if (n < 0)
            return bad_request("generation_config.candidate_count", "candidate_count must be positive.");
        // Gemini 3 refuses more than one candidate; Flash image quietly answers one.
        if (n > 1 && model.thinking) return bad_request("generation_config.candidate_count",
                                                        "Multiple candidates is not enabled for this model");
    }
    if (const json* modalities = get(*config, "responseModalities")) {
        auto list = list_of(modalities);
        if (!list.empty()) {
            params.want_text = params.want_image = false;
            for (const json* m : list) {
                std::string v = m->is_string() ? to_lower(m->get<std::string>()) : std::to_string(int_of(*m));
                if (v == "text" || v == "1") params.want_text = true;
                else if (v == "image" || v == "2") params.want_image = true;
                else if (v == "audio" || v == "3")
                    return bad_request("generation_config.response_modalities",
                                       "The requested combination of response modalities (AUDIO) is not supported "
                                       "by the model.");
            }
            if (!params.want_text && !params.want_image) params.want_text = params.want_image = true;
        }
    }
    if (const json* thinking = get(*config, "thinkingConfig"))
        if (const json* include = get(*thinking, "includeThoughts")) params.include_thoughts = include->get<bool>();
    if (const json* image = get(*config, "imageConfig"))
        return read_image_config(image, model, vertex, params);
    return std::nullopt;
}

std::string package_for(const Route& route) {
    if (route.is_vertex()) return "google.cloud.aiplatform." + (route.version.empty() ? "v1" : route.version);
    return "google.ai.generativelanguage.v1beta";
}

// Size, syntax and schema: the checks the API's front end makes before the model is looked up.
std::variant<json, ApiError> parse_body(std::string_view body, const Route& route, const Message& root) {
    if (body.size() > kMaxRequestBytes) return payload_too_large(kMaxRequestBytes);
    bool blank = std::all_of(body.begin(), body.end(), [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; });
    json doc = blank ? json::object() : json::parse(body, nullptr, false);
    if (doc.is_discarded())
        return bad_request("", "Invalid JSON payload received. Unexpected token.");
    if (!doc.is_object())
        return bad_request("", "Invalid JSON payload received. Root element must be a message.");
    CheckContext ctx;
    ctx.vertex = route.is_vertex();
    ctx.package = package_for(route);
    check_message(doc, root, "", ctx);
    if (!ctx.violations.empty()) return bad_request(std::move(ctx.violations));
    return doc;
}

// Everything after the syntax: the model, the turns, the images, the generation config.
ParseResult read_generate_request(const json& doc, const Route& route, bool decode) {
    const ModelInfo* model = find_model(route.model);
    if (!model) return model_not_found(route);
    GenerateParams params;
    params.model = std::string(model->id);
    ContentsSummary summary;
    if (auto err = summarize_contents(get(doc, "contents"), route.is_vertex(), summary)) return *err;
    if (const json* system = get(doc, "systemInstruction"))
        for (const json* part : list_of(get(*system, "parts")))
            if (const json* text = get(*part, "text")) summary.text_chars += utf8_length(text->get_ref<const std::string&>());
    if (auto err = read_generation_config(get(doc, "generationConfig"), *model, route.is_vertex(), params)) return *err;

    // The answer is built on the images of the last user turn, else on the newest image in
    // the conversation (a multi-turn edit of the model's previous answer).
    auto bases = summary.last_user_images;
    if (bases.empty() && summary.latest_image) bases.push_back(summary.latest_image);
    if (decode) {
        if (auto err = decode_images(bases, params)) return *err;
        // A mask edit: the last user turn's first two inline images both decoded (so they are
        // edit_inputs[0] and [1]) and the second one is black and white.
        const auto& own = summary.last_user_images;
        auto drawn = [](const json* blob) { return is_decodable_image_mime(string_of(get(*blob, "mimeType"))); };
        if (own.size() >= 2 && drawn(own[0]) && drawn(own[1]) && is_mask_image(*params.edit_inputs[1])) {
            params.mode = AnswerMode::MaskEdit;
        } else if (auto key = cutout_key_colour(summary.last_user_text)) {
            params.mode = AnswerMode::Cutout;
            params.cutout_key = *key;
        }
    }

    params.prompt = summary.last_user_text;
    params.prompt_text_tokens = static_cast<int>((summary.text_chars + 3) / 4);
    params.input_images = summary.images;
    if (params.aspect.empty())
        params.aspect = params.edit_inputs.empty()
                            ? "1:1"
                            : std::string(nearest_aspect_ratio(params.edit_inputs[0]->width, params.edit_inputs[0]->height));
    if (model->supports_image_size && params.image_size.empty()) params.image_size = "1K";
    return params;
}

}  // namespace

int text_tokens(std::string_view text) { return static_cast<int>((utf8_length(text) + 3) / 4); }

bool is_valid_base64(std::string_view s) {
    std::size_t n = s.size();
    while (n > 0 && s[n - 1] == '=') --n;
    if (s.size() - n > 2) return false;
    for (std::size_t i = 0; i < n; ++i) {
        char c = s[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
                  c == '/' || c == '-' || c == '_';
        if (!ok) return false;
    }
    return n % 4 != 1;
}

bool is_mask_image(const InputImage& img) {
    const std::size_t pixels = static_cast<std::size_t>(img.width) * static_cast<std::size_t>(img.height);
    if (pixels == 0 || img.rgb.size() < pixels * 3) return false;
    constexpr int lo = kMaskChannelTolerance, hi = 255 - kMaskChannelTolerance;
    std::size_t black_or_white = 0;
    for (std::size_t i = 0; i < pixels; ++i) {
        const std::uint8_t* p = img.rgb.data() + i * 3;
        int mx = std::max({p[0], p[1], p[2]}), mn = std::min({p[0], p[1], p[2]});
        if (mx <= lo || mn >= hi) ++black_or_white;
    }
    return static_cast<double>(black_or_white) >= kMaskMinShare * static_cast<double>(pixels);
}

std::optional<std::uint32_t> cutout_key_colour(std::string_view prompt) {
    static constexpr std::string_view words[] = {"on", "a", "plain", "solid", "background", "of", "colour"};
    auto lower = [](char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); };
    auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
    auto hex = [&](char c) -> int {
        c = lower(c);
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    auto word_char = [&](char c) {
        c = lower(c);
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    };
    auto word_at = [&](std::size_t at, std::string_view w) {
        if (at + w.size() > prompt.size()) return false;
        for (std::size_t k = 0; k < w.size(); ++k)
            if (lower(prompt[at + k]) != w[k]) return false;
        return true;
    };
    for (std::size_t start = 0; start < prompt.size(); ++start) {
        // The phrase starts at a word boundary.
        if (start > 0 && word_char(prompt[start - 1])) continue;
        std::size_t at = start;
        bool ok = true;
        for (std::size_t w = 0; w < std::size(words) && ok; ++w) {
            if (w > 0) {
                std::size_t gap = at;
                while (at < prompt.size() && space(prompt[at])) ++at;
                if (at == gap) ok = false;
            }
            if (ok && word_at(at, words[w])) at += words[w].size();
            else ok = false;
        }
        if (!ok) continue;
        std::size_t gap = at;
        while (at < prompt.size() && space(prompt[at])) ++at;
        if (at == gap || at + 7 > prompt.size() || prompt[at] != '#') continue;
        std::uint32_t value = 0;
        for (std::size_t k = 1; k <= 6 && ok; ++k) {
            int d = hex(prompt[at + k]);
            if (d < 0) ok = false;
            else value = value << 4 | static_cast<std::uint32_t>(d);
        }
        if (!ok || (at + 7 < prompt.size() && hex(prompt[at + 7]) >= 0)) continue;
        return value;
    }
    return std::nullopt;
}

std::optional<InputImage> decode_input_image(std::string_view base64_text) {
    std::string text(base64_text);
    std::replace(text.begin(), text.end(), '-', '+');
    std::replace(text.begin(), text.end(), '_', '/');
    while (text.size() % 4 != 0) text += '=';
    api::Base64Decoder decoder;
    Blob bytes;
    if (!decoder.feed(text.data(), text.size(), bytes) || !decoder.finish(bytes) || bytes.empty()) return std::nullopt;
    int w = 0, h = 0, channels = 0;
    stbi_uc* pixels = stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &w, &h, &channels, 3);
    if (!pixels) return std::nullopt;
    InputImage img;
    img.width = w;
    img.height = h;
    img.rgb.assign(pixels, pixels + static_cast<std::size_t>(w) * static_cast<std::size_t>(h) * 3);
    stbi_image_free(pixels);
    img.digest = fnv1a64(base64_text);
    return img;
}

ParseResult parse_generate_request(std::string_view body, const Route& route, bool decode_images) {
    auto parsed = parse_body(body, route, schema().request);
    if (auto* err = std::get_if<ApiError>(&parsed)) return *err;
    return read_generate_request(std::get<json>(parsed), route, decode_images);
}

ParseResult parse_count_tokens_request(std::string_view body, const Route& route) {
    auto parsed = parse_body(body, route, schema().count_tokens);
    if (auto* err = std::get_if<ApiError>(&parsed)) return *err;
    const json& doc = std::get<json>(parsed);
    const ModelInfo* model = find_model(route.model);
    if (!model) return model_not_found(route);
    const json* inner = get(doc, "generateContentRequest");
    const json& source = inner ? *inner : doc;
    ContentsSummary summary;
    if (auto err = summarize_contents(get(source, "contents"), route.is_vertex(), summary)) return *err;
    if (const json* system = get(source, "systemInstruction"))
        for (const json* part : list_of(get(*system, "parts")))
            if (const json* text = get(*part, "text")) summary.text_chars += utf8_length(text->get_ref<const std::string&>());
    GenerateParams params;
    params.model = std::string(model->id);
    params.prompt = summary.last_user_text;
    params.prompt_text_tokens = static_cast<int>((summary.text_chars + 3) / 4);
    params.input_images = summary.images;
    return params;
}

}  // namespace nbcore::emulator
