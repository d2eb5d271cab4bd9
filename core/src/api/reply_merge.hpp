// Private to the codec: merging decoded JSON values (one per SSE event / array element / body)
// into one Reply. The decoder extracts image data into Blobs and leaves "#<n>" in the JSON.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "nbcore/blob.hpp"
#include "nbcore/reply.hpp"

namespace nbcore::api::detail {

// Blobs extracted so far; "#<n>" in a skeleton refers to blobs[n]. Merging takes ownership of
// the ones it uses and leaves nullptr behind.
using BlobTable = std::vector<std::shared_ptr<Blob>>;

class ReplyMerger {
public:
    // Merges one top-level value: a GenerateContentResponse, an {"error":...} envelope, or an
    // array of those. Returns false with `err` set when the value cannot be a reply.
    bool merge(const nlohmann::json& value, BlobTable& blobs, std::string& err);
    // The Reply so far; parts_json is completed here.
    Reply take();
    int chunks() const noexcept { return reply_.chunks; }
    bool has_error() const noexcept { return reply_.error.has_value(); }

private:
    bool merge_object(const nlohmann::json& obj, BlobTable& blobs, std::string& err);
    bool merge_candidate(const nlohmann::json& cand, BlobTable& blobs, std::string& err);
    bool merge_part(const nlohmann::json& part, BlobTable& blobs, std::string& err);

    Reply reply_;
    std::string parts_;        // parts_json without its closing bracket
    bool seen_text_ = false;   // a non-thought text part has been seen (for text_signature)
    int image_seq_ = 0;        // "#<n>" numbering in parts_json
};

}  // namespace nbcore::api::detail
