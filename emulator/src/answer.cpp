#include "answer.hpp"

#include <random>

#include "nbcore/codec.hpp"
#include "nbcore/models.hpp"
#include "util.hpp"

namespace nbcore::emulator {
namespace {

// Placeholders must not be forgeable from a prompt: a per-process nonce makes them unique.
const std::string& placeholder_nonce() {
    static const std::string nonce = [] {
        std::random_device rd;
        return std::to_string(rd()) + std::to_string(rd());
    }();
    return nonce;
}

std::string placeholder(std::size_t i) { return "\x01nbimg" + placeholder_nonce() + "#" + std::to_string(i) + "\x01"; }
// How the placeholder looks once the JSON library escaped its control characters.
std::string placeholder_serialized(std::size_t i) {
    return "\\u0001nbimg" + placeholder_nonce() + "#" + std::to_string(i) + "\\u0001";
}

std::string splice(const std::string& text, const Chunks& chunks) {
    std::string out;
    std::size_t extra = 0;
    for (const auto& p : chunks.payloads) extra += p->size();
    out.reserve(text.size() + extra);
    std::size_t pos = 0;
    for (;;) {
        std::size_t at = text.find("\\u0001nbimg", pos);
        if (at == std::string::npos) break;
        std::size_t matched = std::string::npos;
        for (std::size_t i = 0; i < chunks.payloads.size(); ++i) {
            auto ph = placeholder_serialized(i);
            if (text.compare(at, ph.size(), ph) == 0) {
                matched = i;
                out.append(text, pos, at - pos);
                out += *chunks.payloads[i];
                pos = at + ph.size();
                break;
            }
        }
        if (matched == std::string::npos) {
            out.append(text, pos, at + 1 - pos);
            pos = at + 1;
        }
    }
    out.append(text, pos, std::string::npos);
    return out;
}

std::string prompt_snippet(const AnswerContext& ctx) {
    return ctx.prompt.empty() ? "your request" : "\"" + utf8_prefix(ctx.prompt, 60) + "\"";
}

std::string thought_text(const AnswerContext& ctx) {
    return "**Planning the composition**\n\nI'm working out a layout for " + prompt_snippet(ctx) +
           ": choosing a palette, placing the main subjects and checking the requested aspect ratio.";
}

ojson details(std::initializer_list<std::pair<const char*, int>> entries) {
    ojson list = ojson::array();
    for (const auto& [modality, count] : entries)
        if (count > 0) list.push_back({{"modality", modality}, {"tokenCount", count}});
    return list;
}

ojson with_signature(ojson part, const AnswerContext& ctx, int index) {
    if (ctx.thinking) part["thoughtSignature"] = thought_signature(ctx, index);
    return part;
}

// A streamed delta: candidates[0] with some parts, running usage.
ojson delta_chunk(const AnswerContext& ctx, ojson parts, const Usage& usage) {
    ojson cand = {{"content", {{"parts", std::move(parts)}, {"role", "model"}}}, {"index", 0}};
    return envelope(ctx, ojson::array({cand}), usage);
}

struct ListedModel {
    std::string_view name;
    const ModelInfo* info;
};

std::vector<ListedModel> listed_models() {
    return {{kModelFlash, find_model(kModelFlash)},
            {kModelPro, find_model(kModelPro)},
            {"nano-banana-pro-preview", find_model(kModelPro)}};
}

ojson model_entry(std::string_view name, const ModelInfo& m) {
    ojson e = {{"name", "models/" + std::string(name)},
               {"version", m.thinking ? "3.0" : "2.0"},
               {"displayName", m.display_name},
               {"description", m.description},
               {"inputTokenLimit", m.input_token_limit},
               {"outputTokenLimit", m.output_token_limit},
               {"supportedGenerationMethods", {"generateContent", "countTokens", "batchGenerateContent"}},
               {"temperature", 1},
               {"topP", 0.95},
               {"topK", 64},
               {"maxTemperature", 1}};
    if (m.thinking) e["thinking"] = true;
    return e;
}

}  // namespace

AnswerContext make_answer_context(const GenerateParams& params, const Route& route, std::uint64_t request_number) {
    AnswerContext ctx;
    ctx.model = params.model;
    const ModelInfo* info = find_model(params.model);
    ctx.thinking = info && info->thinking;
    ctx.vertex = route.is_vertex();
    ctx.request_number = request_number;
    ctx.now = std::chrono::system_clock::now();
    ctx.prompt = params.prompt;
    ctx.prompt_text_tokens = params.prompt_text_tokens;
    ctx.input_images = params.input_images;
    return ctx;
}

AnswerContext fallback_answer_context(const Route& route, std::uint64_t request_number) {
    AnswerContext ctx;
    const ModelInfo* info = find_model(route.model);
    ctx.model = info ? std::string(info->id) : canonical_model_id(route.model);
    ctx.thinking = info && info->thinking;
    ctx.vertex = route.is_vertex();
    ctx.request_number = request_number;
    ctx.now = std::chrono::system_clock::now();
    return ctx;
}

Usage prompt_usage(const AnswerContext& ctx) {
    Usage u;
    u.prompt_text = ctx.prompt_text_tokens;
    const ModelInfo* info = find_model(ctx.model);
    u.prompt_images = ctx.input_images * (info ? info->input_image_tokens : 258);
    return u;
}

int thoughts_tokens(const AnswerContext& ctx) {
    if (!ctx.thinking) return 0;
    return 100 + static_cast<int>(fnv1a64(ctx.prompt, 0x7468696E6Bull) % 301);   // per prompt
}

ojson usage_json(const Usage& u, bool vertex) {
    int prompt = u.prompt_text + u.prompt_images;
    int candidates = u.candidates_text + u.candidates_image;
    ojson j = ojson::object();
    if (prompt > 0) j["promptTokenCount"] = prompt;
    if (candidates > 0 || u.explicit_zero_candidates) j["candidatesTokenCount"] = candidates;
    j["totalTokenCount"] = prompt + candidates + u.thoughts;
    auto prompt_details = details({{"IMAGE", u.prompt_images}, {"TEXT", u.prompt_text}});
    if (!prompt_details.empty()) j["promptTokensDetails"] = prompt_details;
    // Like the API, the candidates' details name the image alone when there is one.
    auto cand_details = u.candidates_image > 0 ? details({{"IMAGE", u.candidates_image}})
                                               : details({{"TEXT", u.candidates_text}});
    if (!cand_details.empty()) j["candidatesTokensDetails"] = cand_details;
    if (u.thoughts > 0) j["thoughtsTokenCount"] = u.thoughts;
    if (vertex) j["trafficType"] = "ON_DEMAND";
    return j;
}

ojson Chunks::inline_data(std::string mime, std::shared_ptr<const std::string> data) {
    payloads.push_back(std::move(data));
    return {{"mimeType", std::move(mime)}, {"data", placeholder(payloads.size() - 1)}};
}

std::vector<std::string> serialize(const Chunks& chunks, Framing framing) {
    std::vector<std::string> out;
    out.reserve(chunks.values.size());
    for (const auto& v : chunks.values) {
        std::string text = dump_for(v, framing);
        out.push_back(chunks.payloads.empty() ? std::move(text) : splice(text, chunks));
    }
    return out;
}

ojson envelope(const AnswerContext& ctx, ojson candidates, const Usage& usage) {
    ojson r = ojson::object();
    if (!candidates.is_null()) r["candidates"] = std::move(candidates);
    r["usageMetadata"] = usage_json(usage, ctx.vertex);
    r["modelVersion"] = ctx.model;
    if (ctx.vertex) r["createTime"] = rfc3339_micros(ctx.now);
    r["responseId"] = response_id(ctx.request_number);
    return r;
}

ojson candidate(ojson parts, const char* finish_reason) {
    ojson c = ojson::object();
    c["content"] = {{"parts", std::move(parts)}, {"role", "model"}};
    if (finish_reason) c["finishReason"] = finish_reason;
    c["index"] = 0;
    return c;
}

std::string thought_signature(const AnswerContext& ctx, int part_index) {
    std::uint64_t seed = splitmix64(fnv1a64(ctx.prompt, ctx.request_number) ^ static_cast<std::uint64_t>(part_index));
    return random_base64(seed, part_index == 0 ? 96 : 384);
}

std::string response_id(std::uint64_t request_number) {
    return random_base64url(splitmix64(request_number ^ 0x5EED0F1D5ull), 16);
}

std::string intro_text(const AnswerContext& ctx, bool edit) {
    return edit ? "Here is the edited image for " + prompt_snippet(ctx) + "."
                : "Here is an image of " + prompt_snippet(ctx) + ".";
}

Chunks build_answer(const AnswerContext& ctx, const GenerateParams& params, const AnswerImages& images, Framing framing) {
    Chunks out;
    const bool show_thoughts = ctx.thinking && params.include_thoughts;
    const bool edit = !params.edit_inputs.empty();
    std::string text;
    if (params.want_text)
        text = params.want_image ? intro_text(ctx, edit)
                                 : "Here is a description of an image of " + prompt_snippet(ctx) +
                                       ": a colour gradient with one shape for each word of the prompt.";

    // The parts in the order the API sends them; signatures on the first non-thought part and
    // on every non-thought image.
    std::vector<ojson> thought_parts, answer_parts;
    if (show_thoughts) {
        thought_parts.push_back({{"text", thought_text(ctx)}, {"thought", true}});
        if (images.draft)
            thought_parts.push_back({{"inlineData", out.inline_data(images.draft->mime, std::shared_ptr<const std::string>(images.draft, &images.draft->base64))},
                                     {"thought", true}});
    }
    if (!text.empty()) answer_parts.push_back(with_signature({{"text", text}}, ctx, 0));
    if (images.image) {
        ojson part = {{"inlineData", out.inline_data(images.image->mime,
                                                     std::shared_ptr<const std::string>(images.image, &images.image->base64))}};
        answer_parts.push_back(with_signature(std::move(part), ctx, 1));
    }

    Usage usage = prompt_usage(ctx);
    usage.thoughts = thoughts_tokens(ctx);
    usage.candidates_text = text_tokens(text);
    usage.candidates_image = images.image ? output_image_tokens(ctx.model, params.image_size) : 0;

    if (framing == Framing::Unary) {
        ojson parts = ojson::array();
        for (auto& p : thought_parts) parts.push_back(std::move(p));
        for (auto& p : answer_parts) parts.push_back(std::move(p));
        out.values.push_back(envelope(ctx, ojson::array({candidate(std::move(parts), "STOP")}), usage));
        return out;
    }
    // Streams: every chunk is a whole GenerateContentResponse with a delta of parts; usage
    // grows to the final figures on the last chunk.
    Usage running = prompt_usage(ctx);
    running.thoughts = usage.thoughts;
    for (auto& p : thought_parts) out.values.push_back(delta_chunk(ctx, ojson::array({std::move(p)}), running));
    for (auto& p : answer_parts) out.values.push_back(delta_chunk(ctx, ojson::array({std::move(p)}), running));
    out.values.push_back(envelope(ctx, ojson::array({candidate(ojson::array({{{"text", ""}}}), "STOP")}), usage));
    return out;
}

std::size_t listed_model_count() { return listed_models().size(); }

ojson models_list_json(int page_size, int first_index, int& next_index_out) {
    auto models = listed_models();
    ojson list = ojson::array();
    int i = std::max(first_index, 0);
    for (; i < static_cast<int>(models.size()) && static_cast<int>(list.size()) < page_size; ++i)
        list.push_back(model_entry(models[static_cast<std::size_t>(i)].name, *models[static_cast<std::size_t>(i)].info));
    next_index_out = i < static_cast<int>(models.size()) ? i : -1;
    ojson r = {{"models", list}};
    if (next_index_out >= 0) r["nextPageToken"] = page_token_for(next_index_out);
    return r;
}

std::optional<ojson> model_json(std::string_view id) {
    if (id.substr(0, 7) == "models/") id.remove_prefix(7);
    const ModelInfo* info = find_model(id);
    if (!info) return std::nullopt;
    return model_entry(id, *info);
}

// Like the API's tokens: unpadded base64 of a small protobuf naming the next model
// ("\n" length name).
std::string page_token_for(int index) {
    auto models = listed_models();
    std::string name = "models/" + std::string(models.at(static_cast<std::size_t>(index)).name);
    std::string raw = "\n" + std::string(1, static_cast<char>(name.size())) + name;
    std::string token = api::base64_encode(reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size());
    while (!token.empty() && token.back() == '=') token.pop_back();
    return token;
}

std::optional<int> index_from_page_token(std::string_view token) {
    // Tolerate the padding, and a '+' that an unencoded query turned into a space.
    std::string normal(token);
    while (!normal.empty() && normal.back() == '=') normal.pop_back();
    for (auto& c : normal)
        if (c == ' ') c = '+';
    auto models = listed_models();
    for (std::size_t i = 0; i < models.size(); ++i)
        if (page_token_for(static_cast<int>(i)) == normal) return static_cast<int>(i);
    return std::nullopt;
}

ojson count_tokens_json(const GenerateParams& params) {
    const ModelInfo* info = find_model(params.model);
    int image_tokens = params.input_images * (info ? info->input_image_tokens : 258);
    ojson r = {{"totalTokens", params.prompt_text_tokens + image_tokens}};
    auto d = details({{"IMAGE", image_tokens}, {"TEXT", params.prompt_text_tokens}});
    if (!d.empty()) r["promptTokensDetails"] = d;
    return r;
}

}  // namespace nbcore::emulator
