// GenerateContentResponse bodies: the normal answer (text + image, thought parts and signatures
// for Pro, usage metadata with the real token counts), its streamed form, and the pieces fault
// builders reuse. Also models.list / models.get / countTokens answers.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "render.hpp"
#include "reply.hpp"
#include "request.hpp"
#include "routes.hpp"

namespace nbcore::emulator {

// What every answer to one request shares.
struct AnswerContext {
    std::string model;                  // canonical id; modelVersion
    bool vertex = false;                // createTime, trafficType
    bool thinking = false;              // Pro: thoughts, thoughtsTokenCount, thoughtSignature
    std::uint64_t request_number = 0;   // responseId and signatures derive from it
    std::chrono::system_clock::time_point now;
    std::string prompt;
    int prompt_text_tokens = 0;
    int input_images = 0;
};

AnswerContext make_answer_context(const GenerateParams& params, const Route& route, std::uint64_t request_number);
// For faults answered without a parsed request: the route's model, nothing else known.
AnswerContext fallback_answer_context(const Route& route, std::uint64_t request_number);

struct Usage {
    int prompt_text = 0;
    int prompt_images = 0;        // tokens, not images
    int candidates_text = 0;
    int candidates_image = 0;
    int thoughts = 0;
    bool explicit_zero_candidates = false;   // blocked images report "candidatesTokenCount": 0
};
Usage prompt_usage(const AnswerContext& ctx);
ojson usage_json(const Usage& u, bool vertex);
int thoughts_tokens(const AnswerContext& ctx);     // deterministic, 100..400 for Pro

// JSON values with image data kept aside: each payload replaces one placeholder string when
// serialized, so a 20 MB image is never copied through the JSON library.
struct Chunks {
    std::vector<ojson> values;
    std::vector<std::shared_ptr<const std::string>> payloads;

    // An inlineData object whose data is payload `data`.
    ojson inline_data(std::string mime, std::shared_ptr<const std::string> data);
};
std::vector<std::string> serialize(const Chunks& chunks, Framing framing);

// {"candidates": [...], "usageMetadata", "modelVersion", ("createTime"), "responseId"}
ojson envelope(const AnswerContext& ctx, ojson candidates, const Usage& usage);
ojson candidate(ojson parts, const char* finish_reason /* nullptr = none */);
std::string thought_signature(const AnswerContext& ctx, int part_index);
std::string response_id(std::uint64_t request_number);

struct AnswerImages {
    std::shared_ptr<const EncodedImage> image;    // null when no image was asked for
    std::shared_ptr<const EncodedImage> draft;    // Pro with includeThoughts: the interim image
};

// The normal answer. Unary: one complete response. Streams: the text, then the image, then a
// final chunk with finishReason STOP and the full usage.
Chunks build_answer(const AnswerContext& ctx, const GenerateParams& params, const AnswerImages& images, Framing framing);

std::string intro_text(const AnswerContext& ctx, bool edit);

// models.list page and models.get entry; nullopt entry = unknown model.
ojson models_list_json(int page_size, int first_index, int& next_index_out);
std::optional<ojson> model_json(std::string_view id);
std::size_t listed_model_count();
std::string page_token_for(int index);
std::optional<int> index_from_page_token(std::string_view token);

ojson count_tokens_json(const GenerateParams& params);

}  // namespace nbcore::emulator
