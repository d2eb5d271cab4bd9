// A decoded generateContent reply (or error body), as plain data.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nbcore/blob.hpp"

namespace nbcore {

struct ModalityTokens {
    std::string modality;    // "TEXT", "IMAGE", ...
    std::int64_t tokens = 0;
};

struct Usage {
    std::int64_t prompt_tokens = 0;
    std::int64_t cached_tokens = 0;
    std::int64_t candidates_tokens = 0;
    std::int64_t thoughts_tokens = 0;
    std::int64_t tool_use_prompt_tokens = 0;
    std::int64_t total_tokens = 0;
    std::vector<ModalityTokens> prompt_details;
    std::vector<ModalityTokens> candidates_details;
    std::string traffic_type;   // Vertex only
    bool present = false;       // usageMetadata was in the reply

    std::int64_t candidates_tokens_for(const std::string& modality) const;
};

struct ReplyImage {
    std::string mime;                 // as the reply's inlineData.mimeType says
    BlobPtr data;                     // decoded bytes, decoded straight from the reply stream
    std::string thought_signature;    // kept verbatim (base64 text) for multi-turn echo
    bool thought = false;             // an interim image inside the model's thinking
};

// One google.rpc.Status error envelope {"error": {...}}.
struct ApiError {
    int code = 0;                     // HTTP-like code from the body
    std::string status;               // "RESOURCE_EXHAUSTED"
    std::string message;
    std::string details_json;         // the "details" array, re-serialised (small)
};

struct Reply {
    // Candidate content. Images in reply order; thought images are kept apart from final ones.
    std::vector<ReplyImage> images;          // non-thought images
    std::vector<ReplyImage> thought_images;  // "thought": true images (interim renders)
    std::string text;                        // non-thought text parts, concatenated
    std::string thought_text;                // thought text parts, concatenated
    std::string text_signature;              // thoughtSignature on the first non-thought text part
    std::string parts_json;                  // candidates[0].content.parts with image data elided
                                             // as {"inlineData":{"mimeType":..,"data":"#<n>"}}

    int candidate_count = 0;                 // how many candidates the reply listed
    bool has_content = false;                // candidates[0].content had at least one part
    std::string finish_reason;               // "" when absent
    std::string finish_message;
    std::string block_reason;                // promptFeedback.blockReason
    std::string block_reason_message;        // promptFeedback.blockReasonMessage
    std::vector<std::string> blocked_categories;   // safetyRatings with "blocked": true

    Usage usage;
    std::string model_version;
    std::string response_id;

    std::optional<ApiError> error;           // an error envelope, at top level or mid-stream
    int chunks = 0;                          // SSE events / array elements merged into this reply
};

// The images a successful reply delivers: the final ones, or, when the model only rendered inside
// its thinking, the last thought image (the docs: the last image within thinking is also the
// final render).
std::vector<const ReplyImage*> deliverable_images(const Reply& r);

}  // namespace nbcore
