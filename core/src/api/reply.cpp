// JSON value -> Reply. Lenient about shapes (unknown fields, missing or null members, numbers sent
// as strings), strict only where a value cannot be a reply at all.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "api/reply_merge.hpp"
#include "nbcore/codec.hpp"

namespace nbcore {

std::vector<const ReplyImage*> deliverable_images(const Reply& r) {
    std::vector<const ReplyImage*> out;
    for (const auto& im : r.images) out.push_back(&im);
    if (out.empty() && !r.thought_images.empty()) out.push_back(&r.thought_images.back());
    return out;
}

std::int64_t Usage::candidates_tokens_for(const std::string& modality) const {
    std::int64_t sum = 0;
    for (const auto& d : candidates_details)
        if (d.modality == modality) sum += d.tokens;
    return sum;
}

namespace api {
namespace {

using nlohmann::json;
using detail::BlobTable;

std::string snake_case(std::string_view camel) {
    std::string out;
    for (char c : camel) {
        if (c >= 'A' && c <= 'Z') {
            out += '_';
            out += static_cast<char>(c - 'A' + 'a');
        } else {
            out += c;
        }
    }
    return out;
}

// obj[camelName], or obj[snake_name]: the API answers in lowerCamelCase but accepts (and some
// proxies echo) snake_case. nullptr when absent, null, or obj is not an object.
const json* field(const json& obj, std::string_view camel) {
    if (!obj.is_object()) return nullptr;
    auto it = obj.find(camel);
    if (it == obj.end()) {
        std::string snake = snake_case(camel);
        if (snake == camel) return nullptr;
        it = obj.find(snake);
        if (it == obj.end()) return nullptr;
    }
    return it->is_null() ? nullptr : &*it;
}

std::string string_field(const json& obj, std::string_view camel) {
    const json* v = field(obj, camel);
    return v && v->is_string() ? v->get<std::string>() : std::string();
}

bool bool_field(const json& obj, std::string_view camel) {
    const json* v = field(obj, camel);
    return v && v->is_boolean() && v->get<bool>();
}

// Counts are int64 in the proto, so proto3-JSON may send them as strings ("1290").
std::int64_t count_value(const json& v) {
    if (v.is_number_integer()) return v.get<std::int64_t>();
    if (v.is_number_float()) {
        double d = v.get<double>();
        return std::isfinite(d) && std::abs(d) < 9.0e18 ? static_cast<std::int64_t>(d) : 0;
    }
    if (v.is_string()) {
        const auto& s = v.get_ref<const std::string&>();
        std::int64_t n = 0;
        auto res = std::from_chars(s.data(), s.data() + s.size(), n);
        return res.ec == std::errc() && res.ptr == s.data() + s.size() ? n : 0;
    }
    return 0;
}

std::int64_t count_field(const json& obj, std::string_view camel) {
    const json* v = field(obj, camel);
    return v ? count_value(*v) : 0;
}

std::vector<ModalityTokens> modality_details(const json& obj, std::string_view camel) {
    std::vector<ModalityTokens> out;
    const json* arr = field(obj, camel);
    if (!arr || !arr->is_array()) return out;
    for (const auto& d : *arr)
        if (d.is_object()) out.push_back({string_field(d, "modality"), count_field(d, "tokenCount")});
    return out;
}

Usage parse_usage(const json& u) {
    Usage usage;
    usage.present = true;
    usage.prompt_tokens = count_field(u, "promptTokenCount");
    usage.cached_tokens = count_field(u, "cachedContentTokenCount");
    usage.candidates_tokens = count_field(u, "candidatesTokenCount");
    usage.thoughts_tokens = count_field(u, "thoughtsTokenCount");
    usage.tool_use_prompt_tokens = count_field(u, "toolUsePromptTokenCount");
    usage.total_tokens = count_field(u, "totalTokenCount");
    usage.prompt_details = modality_details(u, "promptTokensDetails");
    usage.candidates_details = modality_details(u, "candidatesTokensDetails");
    usage.traffic_type = string_field(u, "trafficType");
    return usage;
}

// google.rpc.Status. Some proxies send {"error": "text"}; keep that as the message.
ApiError parse_error(const json& e) {
    ApiError err;
    if (e.is_string()) {
        err.message = e.get<std::string>();
        return err;
    }
    if (const json* code = field(e, "code")) err.code = static_cast<int>(count_value(*code));
    err.status = string_field(e, "status");
    err.message = string_field(e, "message");
    if (const json* details = field(e, "details")) err.details_json = details->dump();
    return err;
}

void collect_blocked(const json& holder, std::vector<std::string>& out) {
    const json* ratings = field(holder, "safetyRatings");
    if (!ratings || !ratings->is_array()) return;
    for (const auto& r : *ratings) {
        if (!bool_field(r, "blocked")) continue;
        std::string category = string_field(r, "category");
        if (std::find(out.begin(), out.end(), category) == out.end()) out.push_back(std::move(category));
    }
}

void set_if_nonempty(std::string& target, std::string value) {
    if (!value.empty()) target = std::move(value);
}

// "#<n>" as the decoder writes it; -1 for anything else.
long blob_reference(const std::string& s) {
    if (s.size() < 2 || s[0] != '#') return -1;
    long n = 0;
    auto res = std::from_chars(s.data() + 1, s.data() + s.size(), n);
    return res.ec == std::errc() && res.ptr == s.data() + s.size() ? n : -1;
}

// The image bytes of an inlineData.data value: normally a blob the decoder filled; a plain
// base64 string only when the key escaped the scanner (e.g. written with \u escapes).
std::shared_ptr<Blob> image_bytes(const std::string& data, BlobTable& blobs, std::string& err) {
    long ref = blob_reference(data);
    if (ref >= 0) {
        if (static_cast<std::size_t>(ref) < blobs.size() && blobs[ref]) return std::move(blobs[ref]);
        err = "inlineData.data refers to an unknown image " + data;
        return nullptr;
    }
    auto blob = std::make_shared<Blob>();
    Base64Decoder dec;
    if (!dec.feed(data.data(), data.size(), *blob) || !dec.finish(*blob)) {
        err = "inlineData.data is not valid base64";
        return nullptr;
    }
    return blob;
}

}  // namespace

namespace detail {

bool ReplyMerger::merge(const json& value, BlobTable& blobs, std::string& err) {
    if (value.is_object()) return merge_object(value, blobs, err);
    if (value.is_array()) {
        for (const auto& element : value) {
            if (!element.is_object()) {
                err = std::string("expected a JSON object in the reply array, got ") + element.type_name();
                return false;
            }
            if (!merge_object(element, blobs, err)) return false;
        }
        return true;
    }
    err = std::string("expected a JSON object, got ") + value.type_name();
    return false;
}

bool ReplyMerger::merge_object(const json& obj, BlobTable& blobs, std::string& err) {
    ++reply_.chunks;
    if (const json* e = field(obj, "error")) reply_.error = parse_error(*e);

    if (const json* cands = field(obj, "candidates"); cands && cands->is_array()) {
        reply_.candidate_count = std::max(reply_.candidate_count, static_cast<int>(cands->size()));
        for (std::size_t i = 0; i < cands->size(); ++i) {
            const json& cand = (*cands)[i];
            collect_blocked(cand, reply_.blocked_categories);
            // Only the first candidate is the answer (image models return one).
            if (i == 0 && cand.is_object() && !merge_candidate(cand, blobs, err)) return false;
        }
    }
    if (const json* fb = field(obj, "promptFeedback")) {
        set_if_nonempty(reply_.block_reason, string_field(*fb, "blockReason"));
        set_if_nonempty(reply_.block_reason_message, string_field(*fb, "blockReasonMessage"));
        collect_blocked(*fb, reply_.blocked_categories);
    }
    if (const json* u = field(obj, "usageMetadata"); u && u->is_object()) reply_.usage = parse_usage(*u);
    set_if_nonempty(reply_.model_version, string_field(obj, "modelVersion"));
    set_if_nonempty(reply_.response_id, string_field(obj, "responseId"));
    return true;
}

bool ReplyMerger::merge_candidate(const json& cand, BlobTable& blobs, std::string& err) {
    const json* content = field(cand, "content");
    const json* parts = content ? field(*content, "parts") : nullptr;
    if (parts && parts->is_array())
        for (const auto& part : *parts)
            if (part.is_object() && !merge_part(part, blobs, err)) return false;
    set_if_nonempty(reply_.finish_reason, string_field(cand, "finishReason"));
    set_if_nonempty(reply_.finish_message, string_field(cand, "finishMessage"));
    return true;
}

bool ReplyMerger::merge_part(const json& part, BlobTable& blobs, std::string& err) {
    reply_.has_content = true;
    bool thought = bool_field(part, "thought");
    std::string signature = string_field(part, "thoughtSignature");
    json echo = part;  // what goes into parts_json

    const char* inline_key = part.contains("inlineData") ? "inlineData" : "inline_data";
    const json* inline_data = field(part, "inlineData");
    const json* data = inline_data ? field(*inline_data, "data") : nullptr;
    if (data && data->is_string()) {
        ReplyImage img;
        img.mime = string_field(*inline_data, "mimeType");
        img.data = image_bytes(data->get_ref<const std::string&>(), blobs, err);
        if (!img.data) return false;
        img.thought_signature = signature;
        img.thought = thought;
        (thought ? reply_.thought_images : reply_.images).push_back(std::move(img));
        echo[inline_key]["data"] = "#" + std::to_string(image_seq_++);
    }
    if (const json* text = field(part, "text"); text && text->is_string()) {
        const auto& t = text->get_ref<const std::string&>();
        if (thought) {
            reply_.thought_text += t;
        } else {
            reply_.text += t;
            if (!seen_text_) reply_.text_signature = signature;
            seen_text_ = true;
        }
    }
    parts_ += parts_.empty() ? '[' : ',';
    parts_ += echo.dump();
    return true;
}

Reply ReplyMerger::take() {
    Reply out = std::move(reply_);
    if (!parts_.empty()) out.parts_json = parts_ + "]";
    reply_ = Reply{};
    parts_.clear();
    seen_text_ = false;
    image_seq_ = 0;
    return out;
}

}  // namespace detail

namespace {

// Writes a JSON value, with every inlineData.data "#<n>" replaced by the next image's base64.
class PartsWriter {
public:
    PartsWriter(const Reply& reply, std::string& out) : reply_(reply), out_(out) {}

    bool write_parts(const json& parts) {
        out_ += '[';
        for (std::size_t i = 0; i < parts.size(); ++i) {
            if (i) out_ += ',';
            if (!write_part(parts[i])) return false;
        }
        out_ += ']';
        return true;
    }

private:
    bool write_part(const json& part) {
        if (!part.is_object()) {
            out_ += part.dump();
            return true;
        }
        const ReplyImage* image = nullptr;
        if (const json* inl = field(part, "inlineData")) {
            const json* data = field(*inl, "data");
            if (data && data->is_string() && blob_reference(data->get<std::string>()) >= 0) {
                // Images were numbered in part order; a thought part owns the next thought image.
                bool thought = bool_field(part, "thought");
                auto& list = thought ? reply_.thought_images : reply_.images;
                std::size_t& next = thought ? next_thought_ : next_final_;
                if (next >= list.size() || !list[next].data) return false;
                image = &list[next++];
            }
        }
        out_ += '{';
        bool first = true;
        for (const auto& [key, value] : part.items()) {
            if (!first) out_ += ',';
            first = false;
            out_ += json(key).dump();
            out_ += ':';
            if (image && (key == "inlineData" || key == "inline_data") && value.is_object())
                write_inline_data(value, *image);
            else
                out_ += value.dump();
        }
        out_ += '}';
        return true;
    }

    void write_inline_data(const json& inl, const ReplyImage& image) {
        out_ += '{';
        bool first = true;
        for (const auto& [key, value] : inl.items()) {
            if (!first) out_ += ',';
            first = false;
            out_ += json(key).dump();
            out_ += ':';
            if (key == "data") {
                out_ += '"';
                base64_encode_append(out_, image.data->data(), image.data->size());
                out_ += '"';
            } else {
                out_ += value.dump();
            }
        }
        out_ += '}';
    }

    const Reply& reply_;
    std::string& out_;
    std::size_t next_final_ = 0;
    std::size_t next_thought_ = 0;
};

}  // namespace

std::string parts_json_with_images(const Reply& reply) {
    if (reply.parts_json.empty()) return {};
    json parts = json::parse(reply.parts_json, nullptr, /*allow_exceptions=*/false);
    if (!parts.is_array()) return {};
    std::string out;
    std::size_t image_bytes = 0;
    for (const auto& img : reply.images) image_bytes += img.data ? img.data->size() : 0;
    for (const auto& img : reply.thought_images) image_bytes += img.data ? img.data->size() : 0;
    out.reserve(reply.parts_json.size() + image_bytes / 3 * 4 + 64);
    PartsWriter writer(reply, out);
    return writer.write_parts(parts) ? out : std::string();
}

}  // namespace api
}  // namespace nbcore
