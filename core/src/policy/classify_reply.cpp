// HTTP 2xx: the reply can still be a failure (a blocked prompt, a filtered image, text instead of
// an image, a broken body). Nothing here reports OK without an image.
#include <array>

#include "policy/internal.hpp"

namespace nbcore::policy::detail {
namespace {

// What a finishReason means for an image request.
enum class Finish {
    Normal,      // STOP: judge by the content
    Safety,      // layer 1, configurable
    Policy,      // layer 2, not configurable
    NoImage,     // the model gave up or ran out; an image present still counts
};

struct FinishRule {
    std::string_view reason;
    Finish meaning;
};

// Candidate.FinishReason (generative_service proto), plus Vertex's block reasons (MODEL_ARMOR, JAILBREAK)
// should they ever arrive as finish reasons: their names would not give them away as blocks.
constexpr std::array<FinishRule, 20> kFinishRules = {{
    {"STOP", Finish::Normal},
    {"FINISH_REASON_UNSPECIFIED", Finish::Normal},
    {"SAFETY", Finish::Safety},
    {"IMAGE_SAFETY", Finish::Policy},
    {"IMAGE_PROHIBITED_CONTENT", Finish::Policy},
    {"PROHIBITED_CONTENT", Finish::Policy},
    {"SPII", Finish::Policy},
    {"BLOCKLIST", Finish::Policy},
    {"RECITATION", Finish::Policy},
    {"IMAGE_RECITATION", Finish::Policy},
    {"MODEL_ARMOR", Finish::Policy},
    {"JAILBREAK", Finish::Policy},
    {"NO_IMAGE", Finish::NoImage},
    {"IMAGE_OTHER", Finish::NoImage},
    {"MAX_TOKENS", Finish::NoImage},
    {"OTHER", Finish::NoImage},
    {"LANGUAGE", Finish::NoImage},
    {"MALFORMED_FUNCTION_CALL", Finish::NoImage},
    {"UNEXPECTED_TOOL_CALL", Finish::NoImage},
    {"TOO_MANY_TOOL_CALLS", Finish::NoImage},
}};

// A value we have never seen: a block if it sounds like one, otherwise "no image". Never OK.
Finish unknown_finish(std::string_view reason) {
    for (std::string_view word : {"SAFETY", "PROHIBITED", "BLOCK", "RECITATION"})
        if (contains_ci(reason, word)) return Finish::Policy;
    return Finish::NoImage;
}

std::optional<Finish> known_finish(std::string_view reason) {
    for (const auto& r : kFinishRules)
        if (r.reason == reason) return r.meaning;
    return std::nullopt;
}

bool says_not_charged(std::string_view text) {
    return contains_ci(text, "not be charged") || contains_ci(text, "not charged");
}

constexpr std::size_t kMaxModelText = 1000;

AdviceFacts facts_for(const Observation& obs, SystemTime now) {
    AdviceFacts f;
    f.now = now;
    f.model = obs.model;
    f.image_size = obs.image_size;
    return f;
}

Diagnosis finish(Diagnosis d, const AdviceFacts& facts) {
    d.advice = advice_for(d, facts);
    return d;
}

Diagnosis blocked(Status code, int layer, std::string reason, std::string message) {
    Diagnosis d;
    d.code = code;
    d.reason = std::move(reason);
    d.message = std::move(message);
    d.safety_layer = layer;
    d.retryable = false;
    return d;
}

// promptFeedback.blockReason: the prompt never reached the model.
Diagnosis prompt_blocked(const Reply& r, AdviceFacts facts) {
    bool safety = r.block_reason == "SAFETY";
    std::string message = !r.block_reason_message.empty()
                              ? r.block_reason_message
                              : "the prompt was blocked (blockReason " + r.block_reason + ")";
    auto d = safety ? blocked(Status::BLOCKED_SAFETY, 1, r.block_reason, std::move(message))
                    : blocked(Status::BLOCKED_POLICY, 2, r.block_reason, std::move(message));
    facts.prompt_side = true;
    facts.categories = r.blocked_categories;
    return finish(std::move(d), facts);
}

// The text a NO_IMAGE diagnosis shows: the finish message, then what the model said (often a
// refusal worth reading).
std::string no_image_message(const Reply& r, std::string_view fallback) {
    std::string m = !r.finish_message.empty() ? r.finish_message : std::string(fallback);
    if (!r.text.empty()) m += "; the model said: \"" + clip(r.text, kMaxModelText) + "\"";
    return m;
}

Diagnosis no_image(std::string reason, std::string message, AdviceFacts facts, bool not_charged) {
    Diagnosis d;
    d.code = Status::NO_IMAGE;
    d.reason = std::move(reason);
    d.message = std::move(message);
    d.retryable = true;
    facts.not_charged = not_charged;
    return finish(std::move(d), facts);
}

// A reply that decoded: judge the finish reason and the content.
Diagnosis judge_content(const Reply& r, const Observation& obs, const AdviceFacts& facts) {
    bool has_image = !r.images.empty() || !r.thought_images.empty();
    auto meaning = r.finish_reason.empty() ? Finish::Normal
                                           : known_finish(r.finish_reason).value_or(unknown_finish(r.finish_reason));
    bool unknown = !r.finish_reason.empty() && !known_finish(r.finish_reason);
    bool not_charged = says_not_charged(r.finish_message);

    if (meaning == Finish::Safety || meaning == Finish::Policy) {
        bool safety = meaning == Finish::Safety;
        std::string message = !r.finish_message.empty()
                                  ? r.finish_message
                                  : "the output was blocked (finishReason " + r.finish_reason + ")";
        auto d = blocked(safety ? Status::BLOCKED_SAFETY : Status::BLOCKED_POLICY, safety ? 1 : 2,
                         r.finish_reason, std::move(message));
        auto f = facts;
        f.categories = r.blocked_categories;
        f.not_charged = not_charged;
        return finish(std::move(d), f);
    }
    if (obs.failed_image) {
        const auto& check = *obs.failed_image;
        Diagnosis d;
        d.code = check.code == Status::OK ? Status::BAD_RESPONSE : check.code;
        d.reason = d.code == Status::BLANK_IMAGE    ? "BLANK_IMAGE"
                   : d.code == Status::BAD_RESPONSE ? "CORRUPT_IMAGE"
                                                    : "IMAGE_OVER_LIMIT";
        d.message = check.reason.empty() ? std::string("the image failed validation") : check.reason;
        d.retryable = d.code == Status::BLANK_IMAGE || d.code == Status::BAD_RESPONSE;
        return finish(std::move(d), facts);
    }
    if (unknown)   // a new finishReason: never trust the image it came with
        return no_image(r.finish_reason, no_image_message(r, "unknown finishReason " + r.finish_reason),
                        facts, not_charged);
    if (has_image) {
        Diagnosis d;
        d.reason = r.finish_reason;
        if (r.images.empty())
            d.message = "only thought images came back; the last one is the final render";
        return d;
    }
    if (meaning == Finish::NoImage)
        return no_image(r.finish_reason, no_image_message(r, "no image (finishReason " + r.finish_reason + ")"),
                        facts, not_charged);
    if (!r.text.empty())
        return no_image("TEXT_ONLY", "the model answered with text only: \"" + clip(r.text, kMaxModelText) + "\"",
                        facts, not_charged);
    if (r.candidate_count == 0)
        return no_image("EMPTY_CANDIDATES", "the reply had no candidates and no promptFeedback", facts,
                        not_charged);
    return no_image("NO_CONTENT", no_image_message(r, "the candidate had no content"), facts, not_charged);
}

Diagnosis bad_response(std::string reason, std::string message, bool retryable,
                       const AdviceFacts& facts) {
    Diagnosis d;
    d.code = Status::BAD_RESPONSE;
    d.reason = std::move(reason);
    d.message = std::move(message);
    d.retryable = retryable;
    return finish(std::move(d), facts);
}

}  // namespace

Diagnosis classify_reply(const Observation& obs, SystemTime now) {
    int http_status = obs.http_status ? obs.http_status : 200;
    auto facts = facts_for(obs, now);
    const Reply* r = obs.reply;

    // An error envelope inside the stream, decoded or still in the raw body.
    if (r && r->error) return classify_error(http_status, envelope_of(obs), obs, now);
    if (!r || !obs.decode_error.empty()) {
        auto e = parse_error_body(obs.body);
        if (e.present && !e.html) return classify_error(http_status, e, obs, now);
    }

    Diagnosis d;
    if (obs.decode_over_limit) {
        d = bad_response("BODY_TOO_LARGE", "the reply body exceeded the size limit" +
                             (obs.decode_error.empty() ? std::string() : ": " + std::string(obs.decode_error)),
                         false, facts);
    } else if (!obs.decode_error.empty()) {
        d = bad_response("MALFORMED_REPLY", std::string(obs.decode_error), true, facts);
    } else if (!r) {
        d = bad_response("MALFORMED_REPLY",
                         obs.body.empty() ? "the reply body was empty" : "the reply could not be decoded",
                         true, facts);
    } else if (!r->block_reason.empty()) {
        d = prompt_blocked(*r, facts);
    } else {
        d = judge_content(*r, obs, facts);
    }
    d.http_status = http_status;
    return d;
}

}  // namespace nbcore::policy::detail
