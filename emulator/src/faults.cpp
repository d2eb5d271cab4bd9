#include "faults.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "errors.hpp"
#include "nbcore/codec.hpp"
#include "nbcore/models.hpp"
#include "util.hpp"

namespace nbcore::emulator {
namespace {

// ---------------------------------------------------------------------------------------------
// Helpers

double seconds_or(const FaultInput& in, double fallback) {
    if (in.retry_seconds) return *in.retry_seconds;
    if (!in.arg.empty()) return std::strtod(in.arg.c_str(), nullptr);
    return fallback;
}

Reply error(const FaultInput& in, const ApiError& e) { return error_reply(e, in.route.framing()); }

Reply quota(const FaultInput& in, Quota kind, double default_seconds) {
    return error(in, quota_exhausted(kind, in.ctx.model, seconds_or(in, default_seconds)));
}

// A 200 answer made of whole response objects, framed for the route.
Reply answer_chunks(const FaultInput& in, const Chunks& chunks) {
    Reply r = text_chunks_reply(200, serialize(chunks, in.route.framing()), in.route.framing());
    r.generated = true;
    return r;
}

Reply answer(const FaultInput& in, std::vector<ojson> values) {
    Chunks chunks;
    chunks.values = std::move(values);
    return answer_chunks(in, chunks);
}


Usage blocked_usage(const FaultInput& in) {
    Usage u = prompt_usage(in.ctx);
    u.thoughts = thoughts_tokens(in.ctx);
    u.explicit_zero_candidates = true;
    return u;
}

// Output-side blocks: a candidate with no parts, the reason, and the API's explanation.
Reply blocked_output(const FaultInput& in, const char* reason, std::string message) {
    ojson cand = ojson::object();
    cand["content"] = ojson::object();
    cand["finishReason"] = reason;
    cand["index"] = 0;
    if (!message.empty()) cand["finishMessage"] = std::move(message);
    return answer(in, {envelope(in.ctx, ojson::array({cand}), blocked_usage(in))});
}

ojson safety_ratings(bool blocked_dangerous) {
    ojson r = ojson::array();
    for (auto cat : {"HARM_CATEGORY_SEXUALLY_EXPLICIT", "HARM_CATEGORY_HATE_SPEECH", "HARM_CATEGORY_HARASSMENT"})
        r.push_back({{"category", cat}, {"probability", "NEGLIGIBLE"}});
    ojson danger = {{"category", "HARM_CATEGORY_DANGEROUS_CONTENT"}, {"probability", blocked_dangerous ? "HIGH" : "NEGLIGIBLE"}};
    if (blocked_dangerous) danger["blocked"] = true;
    r.push_back(danger);
    return r;
}

// Prompt-side blocks: no candidates at all, promptFeedback says why.
Reply blocked_prompt(const FaultInput& in, const char* reason, bool with_ratings) {
    ojson feedback = {{"blockReason", reason}};
    if (with_ratings) feedback["safetyRatings"] = safety_ratings(true);
    ojson r = {{"promptFeedback", feedback}};
    const ojson rest = envelope(in.ctx, nullptr, prompt_usage(in.ctx));
    for (auto it = rest.begin(); it != rest.end(); ++it) r[it.key()] = *it;
    return answer(in, {r});
}

// The normal answer with its image payload replaced.
Reply answer_with_image(const FaultInput& in, std::shared_ptr<const EncodedImage> image) {
    AnswerImages images;
    images.image = std::move(image);
    GenerateParams params = in.source.params();
    params.include_thoughts = false;
    params.want_image = true;
    return answer_chunks(in, build_answer(in.ctx, params, images, in.route.framing()));
}

std::shared_ptr<const EncodedImage> with_payload(const EncodedImage& base, std::string bytes, std::string base64) {
    auto img = std::make_shared<EncodedImage>(base);
    img->bytes = std::move(bytes);
    img->base64 = std::move(base64);
    return img;
}

std::string to_base64(const std::string& bytes) {
    return api::base64_encode(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}

// ---------------------------------------------------------------------------------------------
// Builders, in table order

Reply rpm_429(const FaultInput& in) { return quota(in, Quota::FreeRpm, 47); }
Reply tpm_429(const FaultInput& in) { return quota(in, Quota::FreeTpm, 26); }
Reply rpd_429(const FaultInput& in) { return quota(in, Quota::FreeRpd, 45.578569677); }
Reply rpm_rpd_429(const FaultInput& in) { return quota(in, Quota::FreeRpmRpd, 45.578569677); }
Reply zero_quota_429(const FaultInput& in) { return quota(in, Quota::ZeroQuota, 45.578569677); }
Reply paid_rpm_429(const FaultInput& in) { return quota(in, Quota::PaidRpm, 13); }
Reply legacy_429(const FaultInput& in) { return quota(in, Quota::Legacy, 0); }
Reply vertex_429(const FaultInput& in) { return quota(in, Quota::Vertex, 0); }
Reply internal_500(const FaultInput& in) { return error(in, internal_error()); }

Reply html_502(const FaultInput&) {
    Reply r;
    r.status = 502;
    r.content_type = kHtmlType;
    r.google_headers = false;
    r.headers = {{"Referrer-Policy", "no-referrer"}};
    r.segments.push_back(gfe_html_page(502, ""));
    return r;
}

Reply overloaded_503(const FaultInput& in) { return error(in, model_overloaded()); }
Reply deadline_503(const FaultInput& in) { return error(in, deadline_unavailable()); }
Reply deadline_504(const FaultInput& in) { return error(in, deadline_exceeded()); }
Reply invalid_key(const FaultInput& in) { return error(in, invalid_api_key(in.route)); }
Reply no_key(const FaultInput& in) { return error(in, no_api_key()); }
Reply suspended(const FaultInput& in) { return error(in, suspended_key()); }
Reply disabled(const FaultInput& in) { return error(in, service_disabled()); }
Reply unauthenticated(const FaultInput& in) { return error(in, oauth_token_rejected(in.route)); }
Reply location(const FaultInput& in) { return error(in, location_unsupported()); }
Reply billing_location(const FaultInput& in) { return error(in, billing_location_unsupported()); }
Reply not_found(const FaultInput& in) { return error(in, model_not_found(in.route)); }

Reply bad_field(const FaultInput& in) {
    return error(in, bad_request("generation_config.image_config",
                                 "Invalid JSON payload received. Unknown name \"size\" at "
                                 "'generation_config.image_config': Cannot find field."));
}

Reply image_safety(const FaultInput& in) {
    return blocked_output(in, "IMAGE_SAFETY",
                          "Unable to show the generated image. The image was filtered out because it violated "
                          "Google's [Generative AI Prohibited Use policy](https://policies.google.com/terms/generative-ai/use-policy). "
                          "You will not be charged for blocked images. Try rephrasing the prompt. If you think this "
                          "was an error, [send feedback](https://ai.google.dev/gemini-api/docs/troubleshooting).");
}

Reply image_prohibited(const FaultInput& in) {
    return blocked_output(in, "IMAGE_PROHIBITED_CONTENT",
                          "Unable to show the generated image. The image was filtered out because it violated "
                          "Google's [Generative AI Prohibited Use policy](https://policies.google.com/terms/generative-ai/use-policy). "
                          "You will not be charged for blocked images. Try rephrasing the prompt.");
}

Reply image_recitation(const FaultInput& in) {
    return blocked_output(in, "IMAGE_RECITATION",
                          "Unable to show the generated image. The image was filtered out because it closely "
                          "resembles existing content. You will not be charged for blocked images. Try rephrasing "
                          "the prompt.");
}

Reply prohibited_content(const FaultInput& in) { return blocked_prompt(in, "PROHIBITED_CONTENT", false); }
Reply prompt_blocked_safety(const FaultInput& in) { return blocked_prompt(in, "SAFETY", true); }
Reply prompt_blocked_other(const FaultInput& in) { return blocked_prompt(in, "OTHER", false); }

Reply finish_safety(const FaultInput& in) {
    ojson cand = {{"finishReason", "SAFETY"}, {"index", 0}, {"safetyRatings", safety_ratings(true)}};
    return answer(in, {envelope(in.ctx, ojson::array({cand}), blocked_usage(in))});
}

Reply no_image(const FaultInput& in) {
    return blocked_output(in, "NO_IMAGE",
                          "Unable to show the generated image. The model did not generate an image for this "
                          "prompt. You will not be charged for this request. Try rephrasing the prompt.");
}

Reply image_other(const FaultInput& in) {
    return blocked_output(in, "IMAGE_OTHER",
                          "Unable to show the generated image. The model could not generate the image based on "
                          "the prompt provided. You will not be charged for this request. Try rephrasing the prompt.");
}

Reply text_only(const FaultInput& in) {
    const std::string text =
        "I'm unable to create that image. I can help with a different request, or you can try rephrasing "
        "this one.";
    ojson part = {{"text", text}};
    if (in.ctx.thinking) part["thoughtSignature"] = thought_signature(in.ctx, 0);
    Usage u = prompt_usage(in.ctx);
    u.thoughts = thoughts_tokens(in.ctx);
    u.candidates_text = text_tokens(text);
    return answer(in, {envelope(in.ctx, ojson::array({candidate(ojson::array({part}), "STOP")}), u)});
}

Reply empty_candidates(const FaultInput& in) {
    return answer(in, {envelope(in.ctx, ojson::array(), prompt_usage(in.ctx))});
}

Reply thought_only_image(const FaultInput& in) {
    auto image = in.source.images("").image;
    Chunks chunks;
    ojson parts = ojson::array();
    parts.push_back({{"text", "**Rendering the scene**\n\nPlacing the subjects and lighting the scene."},
                     {"thought", true}});
    parts.push_back({{"inlineData", chunks.inline_data(image->mime, std::shared_ptr<const std::string>(image, &image->base64))},
                     {"thought", true}});
    Usage u = prompt_usage(in.ctx);
    u.thoughts = std::max(thoughts_tokens(in.ctx), 120);
    chunks.values.push_back(envelope(in.ctx, ojson::array({candidate(std::move(parts), "STOP")}), u));
    return answer_chunks(in, chunks);
}

Reply blank_image(const FaultInput& in) { return answer_with_image(in, in.source.blank_png()); }

Reply corrupt_base64(const FaultInput& in) {
    auto image = in.source.images("").image;
    return answer_with_image(in, with_payload(*image, image->bytes, corrupt_base64_text(image->base64)));
}

Reply truncated_png(const FaultInput& in) {
    auto image = in.source.images("image/png").image;
    std::string cut = truncate_png_bytes(image->bytes);
    std::string b64 = to_base64(cut);
    return answer_with_image(in, with_payload(*image, std::move(cut), std::move(b64)));
}

Reply corrupt_png(const FaultInput& in) {
    auto image = in.source.images("image/png").image;
    std::string bad = corrupt_png_bytes(image->bytes);
    std::string b64 = to_base64(bad);
    return answer_with_image(in, with_payload(*image, std::move(bad), std::move(b64)));
}

// A complete HTTP body (Content-Length matches) holding half a JSON document.
Reply malformed_json(const FaultInput& in) {
    AnswerImages images = in.source.images("");
    GenerateParams params = in.source.params();
    params.include_thoughts = false;
    Reply full = answer_chunks(in, build_answer(in.ctx, params, images, in.route.framing()));
    std::string body = full.body();
    Reply r = full;
    r.segments = {body.substr(0, std::max<std::size_t>(body.size() / 2, 1))};
    return r;
}

Reply array_error(const FaultInput&) {
    Reply r;
    r.status = 500;
    r.segments.push_back("[" + dump_for(error_json(internal_error()), Framing::Unary) + "]");
    return r;
}

// Streams: one good chunk, then a bare {"error": ...} line without "data: " (what the SDKs
// brace-balance). The unary route has no middle of a stream: it answers 500.
Reply sse_midstream_error(const FaultInput& in) {
    Framing framing = in.route.framing();
    if (framing == Framing::Unary) return error(in, internal_error());
    ojson part = {{"text", intro_text(in.ctx, false)}};
    if (in.ctx.thinking) part["thoughtSignature"] = thought_signature(in.ctx, 0);
    ojson first = envelope(in.ctx, ojson::array({candidate(ojson::array({part}), nullptr)}), prompt_usage(in.ctx));
    Reply r = answer(in, {first});
    std::string err = error_json(internal_error()).dump();
    if (framing == Framing::Sse) {
        r.segments.push_back(err + "\r\n\r\n");
    } else {
        r.segments.back().pop_back();   // reopen the array: "[{...}" + ",\r\n{error}]"
        r.segments.push_back(",\r\n" + err + "]");
    }
    return r;
}

Reply empty_reply(const FaultInput&) {
    Reply r;
    r.empty_reply = true;
    return r;
}

int millis_arg(std::string_view arg, int fallback) {
    int v = fallback;
    if (!arg.empty()) std::from_chars(arg.data(), arg.data() + arg.size(), v);
    return v;
}

Modifiers slow_first_byte(std::string_view arg) {
    Modifiers m;
    m.delay_ms = millis_arg(arg, 3000);
    return m;
}

Modifiers stall_mid_body(std::string_view arg) {
    Modifiers m;
    m.stall_ms = millis_arg(arg, 3000);
    m.stall_at = BodyOffset::part(0.5);
    return m;
}

Modifiers reset_connection(std::string_view arg) {
    Modifiers m;
    m.reset = true;
    m.reset_at = arg.empty() ? BodyOffset::bytes(-1) : *parse_offset(arg);
    return m;
}

Modifiers trickle(std::string_view arg) {
    Modifiers m;
    m.trickle_bytes = 16384;
    m.trickle_ms = millis_arg(arg, 20);
    return m;
}

Modifiers truncate_body(std::string_view arg) {
    Modifiers m;
    m.truncate_at = arg.empty() ? BodyOffset::part(0.5) : *parse_offset(arg);
    return m;
}

using A = FaultArg;

constexpr FaultSpec kFaults[] = {
    {"rpm_429", 429, A::Seconds, "free tier requests-per-minute quota (QuotaFailure + Help + RetryInfo)", rpm_429, nullptr},
    {"tpm_429", 429, A::Seconds, "free tier input-tokens-per-minute quota, quotaValue 250000", tpm_429, nullptr},
    {"rpd_429", 429, A::Seconds, "free tier requests-per-day quota, newer itemized message", rpd_429, nullptr},
    {"rpm_rpd_429", 429, A::Seconds, "per-minute and per-day violations in one body", rpm_rpd_429, nullptr},
    {"zero_quota_429", 429, A::Seconds, "a model with no free quota: limit 0, quotaValue \"0\"", zero_quota_429, nullptr},
    {"paid_rpm_429", 429, A::Seconds, "paid tier requests-per-minute quota", paid_rpm_429, nullptr},
    {"legacy_429", 429, A::Seconds, "the old short RESOURCE_EXHAUSTED body, no details", legacy_429, nullptr},
    {"vertex_429", 429, A::Seconds, "Vertex AI's resource-exhausted body", vertex_429, nullptr},
    {"500", 500, A::None, "INTERNAL: \"An internal error has occurred...\"", internal_500, nullptr},
    {"502_html", 502, A::None, "the Google front end's HTML error page (text/html)", html_502, nullptr},
    {"503_overloaded", 503, A::None, "UNAVAILABLE: \"The model is overloaded...\"", overloaded_503, nullptr},
    {"503_deadline", 503, A::None, "UNAVAILABLE: \"Deadline expired before operation could complete.\"", deadline_503, nullptr},
    {"504", 504, A::None, "DEADLINE_EXCEEDED", deadline_504, nullptr},
    {"invalid_key", 400, A::None, "API_KEY_INVALID", invalid_key, nullptr},
    {"no_key", 403, A::None, "unregistered callers (no key)", no_key, nullptr},
    {"suspended_key", 403, A::None, "CONSUMER_SUSPENDED", suspended, nullptr},
    {"service_disabled", 403, A::None, "SERVICE_DISABLED (API not enabled in the project)", disabled, nullptr},
    {"unauthenticated_401", 401, A::None, "ACCESS_TOKEN_TYPE_UNSUPPORTED, with WWW-Authenticate", unauthenticated, nullptr},
    {"location", 400, A::None, "FAILED_PRECONDITION: user location not supported", location, nullptr},
    {"billing_location", 400, A::None, "FAILED_PRECONDITION: location needs a billing account", billing_location, nullptr},
    {"model_not_found", 404, A::None, "NOT_FOUND for the requested model", not_found, nullptr},
    {"bad_field", 400, A::None, "INVALID_ARGUMENT: unknown field \"size\" in image_config", bad_field, nullptr},
    {"image_safety", 200, A::None, "finishReason IMAGE_SAFETY, empty content, finishMessage", image_safety, nullptr},
    {"image_prohibited", 200, A::None, "finishReason IMAGE_PROHIBITED_CONTENT", image_prohibited, nullptr},
    {"image_recitation", 200, A::None, "finishReason IMAGE_RECITATION", image_recitation, nullptr},
    {"prohibited_content", 200, A::None, "promptFeedback.blockReason PROHIBITED_CONTENT, no candidates", prohibited_content, nullptr},
    {"prompt_blocked_safety", 200, A::None, "promptFeedback.blockReason SAFETY with safetyRatings", prompt_blocked_safety, nullptr},
    {"prompt_blocked_other", 200, A::None, "promptFeedback.blockReason OTHER", prompt_blocked_other, nullptr},
    {"finish_safety", 200, A::None, "finishReason SAFETY with blocked safetyRatings", finish_safety, nullptr},
    {"no_image", 200, A::None, "finishReason NO_IMAGE", no_image, nullptr},
    {"image_other", 200, A::None, "finishReason IMAGE_OTHER", image_other, nullptr},
    {"text_only", 200, A::None, "STOP with only a refusal text part", text_only, nullptr},
    {"empty_candidates", 200, A::None, "\"candidates\": []", empty_candidates, nullptr},
    {"thought_only_image", 200, A::None, "the only image is in a thought part", thought_only_image, nullptr},
    {"blank_image", 200, A::None, "a valid PNG of one flat colour at the real size", blank_image, nullptr},
    {"corrupt_base64", 200, A::None, "inlineData.data is not valid base64", corrupt_base64, nullptr},
    {"truncated_png", 200, A::None, "a PNG cut inside its image data (no IEND), valid base64", truncated_png, nullptr},
    {"corrupt_png", 200, A::None, "a full-length PNG with overwritten IDAT bytes", corrupt_png, nullptr},
    {"malformed_json", 200, A::None, "half a JSON answer in a complete HTTP body", malformed_json, nullptr},
    {"array_error", 500, A::None, "an error wrapped in an array: [{\"error\": ...}]", array_error, nullptr},
    {"sse_midstream_error", 200, A::None, "streams: a good chunk, then a bare {\"error\": ...} line", sse_midstream_error, nullptr},
    {"empty_reply", 0, A::None, "the connection closes (FIN) before any byte", empty_reply, nullptr},
    {"slow_first_byte", 0, A::Millis, "the normal answer after a delay (default 3000 ms)", nullptr, slow_first_byte},
    {"stall_mid_body", 0, A::Millis, "half the body, silence (default 3000 ms), the rest", nullptr, stall_mid_body},
    {"reset_connection", 0, A::Offset, "TCP RST before any byte, or after N bytes / a fraction of the body", nullptr, reset_connection},
    {"trickle", 0, A::Millis, "the body in 16 KiB pieces with pauses (default 20 ms)", nullptr, trickle},
    {"truncate_body", 0, A::Offset, "full Content-Length declared, connection closed after half (or N bytes)", nullptr, truncate_body},
};

}  // namespace

std::span<const FaultSpec> fault_table() { return kFaults; }

const FaultSpec* find_fault(std::string_view name) {
    for (const auto& f : kFaults)
        if (f.name == name) return &f;
    return nullptr;
}

bool is_quota_fault(std::string_view name) {
    const FaultSpec* f = find_fault(name);
    return f && f->arg == FaultArg::Seconds;
}

std::optional<BodyOffset> parse_offset(std::string_view text) {
    if (text.empty()) return std::nullopt;
    std::string s(text);
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (!end || *end != '\0' || !std::isfinite(v)) return std::nullopt;
    bool has_point = s.find('.') != std::string::npos;
    if (has_point) {
        if (v < 0 || v > 1) return std::nullopt;
        return BodyOffset::part(v);
    }
    if (v < -1) return std::nullopt;
    return BodyOffset::bytes(static_cast<long long>(v));
}

std::string check_fault_arg(const FaultSpec& spec, std::string_view arg) {
    if (arg.empty()) return "";
    switch (spec.arg) {
        case FaultArg::None:
            return "fault \"" + std::string(spec.name) + "\" takes no argument";
        case FaultArg::Seconds: {
            std::string s(arg);
            char* end = nullptr;
            double v = std::strtod(s.c_str(), &end);
            if (!end || *end != '\0' || !(v >= 0) || v > 86400)
                return "fault \"" + std::string(spec.name) + "\": the argument is a retry delay in seconds (0..86400), not \"" + s + "\"";
            return "";
        }
        case FaultArg::Millis: {
            int v = -1;
            auto [p, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), v);
            if (ec != std::errc() || p != arg.data() + arg.size() || v < 0 || v > 600000)
                return "fault \"" + std::string(spec.name) + "\": the argument is milliseconds (0..600000), not \"" + std::string(arg) + "\"";
            return "";
        }
        case FaultArg::Offset:
            if (!parse_offset(arg))
                return "fault \"" + std::string(spec.name) + "\": the argument is a byte count or a fraction like 0.5, not \"" + std::string(arg) + "\"";
            return "";
    }
    return "";
}

std::string corrupt_base64_text(std::string base64) {
    // Characters outside the alphabet in the middle, and a length that is no multiple of 4.
    std::size_t mid = base64.size() / 2;
    const std::string junk = "!*%$";
    for (std::size_t i = 0; i < junk.size() && mid + i < base64.size(); ++i) base64[mid + i] = junk[i];
    if (!base64.empty()) base64.pop_back();
    if (base64.size() % 4 == 0) base64.pop_back();
    return base64;
}

namespace {

// Finds the first IDAT chunk: returns the offset of its data and its length.
std::optional<std::pair<std::size_t, std::size_t>> first_idat(const std::string& png) {
    std::size_t pos = 8;   // after the signature
    while (pos + 8 <= png.size()) {
        auto b = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(png[pos + i])); };
        std::size_t len = (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
        if (png.compare(pos + 4, 4, "IDAT") == 0) return std::make_pair(pos + 8, len);
        pos += 12 + len;
    }
    return std::nullopt;
}

}  // namespace

std::string truncate_png_bytes(const std::string& png) {
    auto idat = first_idat(png);
    // Cut in the middle of the image data: decoders run out of data and there is no IEND.
    std::size_t cut = idat ? idat->first + idat->second / 2 : png.size() * 6 / 10;
    return png.substr(0, std::min(cut, png.size() > 12 ? png.size() - 12 : png.size()));
}

std::string corrupt_png_bytes(std::string png) {
    auto idat = first_idat(png);
    if (!idat || idat->second < 8) return png;
    // 0xFF runs are invalid deflate Huffman codes; skip the 2-byte zlib header so the stream
    // still starts like one. The chunk CRC is left as it was, so strict decoders object too.
    std::size_t start = idat->first + 2 + (idat->second - 2) / 4;
    std::size_t n = std::min<std::size_t>(64, idat->first + idat->second - start);
    for (std::size_t i = 0; i < n; ++i) png[start + i] = static_cast<char>(0xFF);
    return png;
}

}  // namespace nbcore::emulator
