// Advice: what a person should do next, in one or two sentences, without reading anything else.
// One function per class; advice_for() picks it from a table.
#include <array>

#include "nbcore/models.hpp"
#include "policy/internal.hpp"

namespace nbcore::policy::detail {
namespace {

constexpr std::string_view kRateLimitsDoc = "https://ai.google.dev/gemini-api/docs/rate-limits";
constexpr std::string_view kKeysPage = "https://aistudio.google.com/apikey";

std::string image_model_list() {
    std::string out;
    for (const auto& m : image_models()) {
        if (!out.empty()) out += " or ";
        out += std::string(m.id) + " (" + std::string(m.display_name) + ")";
    }
    return out;
}

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
    return out;
}

std::string model_or(std::string_view model, std::string_view fallback) {
    return model.empty() ? std::string(fallback) : canonical_model_id(model);
}

bool is_4k(std::string_view size) { return equals_ci(size, "4K"); }

// ---- quota ----------------------------------------------------------------------------------

std::string rate_limited(const Diagnosis& d, const AdviceFacts&) {
    std::string wait = d.retry_after ? "the server asks to wait " + format_duration(*d.retry_after)
                                     : "it frees up within a minute";
    std::string_view what;
    switch (d.dimension) {
    case Dimension::RPM: what = "requests-per-minute"; break;
    case Dimension::TPM: what = "input-tokens-per-minute (input images count as tokens)"; break;
    case Dimension::IPM: what = "images-per-minute"; break;
    default:
        return "The server is short of capacity or quota for this project and gave no details; " + wait +
               ", lower concurrency, and if it persists on Vertex AI try another region or Provisioned "
               "Throughput.";
    }
    return "The " + std::string(what) + " limit is reached; " + wait +
           ". Set your quota tier in nbcore's options so it paces requests below the limit instead of "
           "hitting 429s (limits: " + std::string(kRateLimitsDoc) + ").";
}

std::string quota_exhausted(const Diagnosis& d, const AdviceFacts& f) {
    auto model = model_or(f.model, f.quota_model.empty() ? "this model" : f.quota_model);
    if (d.dimension == Dimension::ZERO)
        return "Your project has no quota (limit 0) for " + model +
               " on its current tier, so retrying can never succeed. Enable billing on the project in "
               "Google AI Studio (or upgrade the tier), or use a model your tier includes; see " +
               std::string(kRateLimitsDoc) + ".";
    if (d.dimension == Dimension::RPD && d.retry_after) {
        auto reset = f.now + *d.retry_after;
        return "The daily request quota for " + model + " is used up; it resets at midnight Pacific (" +
               format_local_time(reset) + ", your local time), " + format_duration(*d.retry_after) +
               " from now. To raise it, enable billing or move to a higher usage tier: " + std::string(kRateLimitsDoc) +
               ".";
    }
    return "The quota for " + model + " is used up and waiting will not help soon; check usage and limits at " +
           std::string(kRateLimitsDoc) + ", and enable billing or raise the tier.";
}

// ---- who is calling -------------------------------------------------------------------------

struct AuthAdvice {
    std::string_view reason;
    std::string_view text;
};

constexpr std::array<AuthAdvice, 15> kAuthAdvice = {{
    {"API_KEY_INVALID",
     "The API key was rejected: a 400 here means the key, not the request. Copy a valid key from "
     "https://aistudio.google.com/apikey and pass it (or set GOOGLE_API_KEY / GEMINI_API_KEY)."},
    {"API_KEY_EXPIRED", "The API key has expired; create a new one at https://aistudio.google.com/apikey."},
    {"API_KEY_MISSING",
     "No API key reached the server. Set GOOGLE_API_KEY or GEMINI_API_KEY (or pass the key "
     "explicitly); keys come from https://aistudio.google.com/apikey."},
    {"ACCESS_TOKEN_TYPE_UNSUPPORTED",
     "An API key was sent as an OAuth bearer token; the Gemini API takes the key as an API key "
     "(x-goog-api-key header), so pass it as the API key, not as an Authorization token."},
    {"CREDENTIALS_MISSING",
     "This endpoint (Vertex AI) needs OAuth credentials, not an API key: authenticate with a service "
     "account or `gcloud auth application-default login`, or call the Gemini API with your key."},
    {"ACCESS_TOKEN_EXPIRED", "The OAuth access token has expired; refresh it and retry."},
    {"CONSUMER_SUSPENDED",
     "The project behind this key is suspended; use a key from another project "
     "(https://aistudio.google.com/apikey) or ask Google Cloud support to restore it."},
    {"BILLING_DISABLED",
     "This model needs an active billing account on the project; link one in Google AI Studio "
     "(Billing) or the Cloud console, then retry."},
    {"API_KEY_SERVICE_BLOCKED",
     "The key's API restrictions block the Generative Language API; allow it in the key's settings "
     "in the Google Cloud console, or use an unrestricted key."},
    {"API_KEY_HTTP_REFERRER_BLOCKED",
     "The key's website restriction rejects this caller; relax it in the Cloud console or use a key "
     "meant for servers."},
    {"API_KEY_IP_ADDRESS_BLOCKED",
     "The key's IP address restriction rejects this machine; add its address in the Cloud console."},
    {"API_KEY_ANDROID_APP_BLOCKED",
     "The key is restricted to Android apps; use a key without application restrictions."},
    {"API_KEY_IOS_APP_BLOCKED", "The key is restricted to iOS apps; use a key without application restrictions."},
    {"UNAUTHENTICATED",
     "The credentials were rejected; check the API key (https://aistudio.google.com/apikey) or OAuth "
     "token and that it belongs to the intended project."},
    {"IAM_PERMISSION_DENIED",
     "The account lacks permission on this project; grant it the Vertex AI User role (or use the "
     "right project)."},
}};

std::string auth(const Diagnosis& d, const AdviceFacts& f) {
    if (d.reason == "SERVICE_DISABLED")
        return "The Generative Language API is disabled for this project; enable it at " +
               (f.link.empty() ? std::string("the Google Cloud console (APIs & Services)") : f.link) +
               ", wait a few minutes, then retry.";
    for (const auto& a : kAuthAdvice)
        if (a.reason == d.reason) return std::string(a.text);
    return "The key's project is not allowed to do this; check that the key belongs to the intended "
           "project, the Generative Language API is enabled, and the model is available on your tier "
           "(keys: " + std::string(kKeysPage) + ").";
}

std::string location(const Diagnosis&, const AdviceFacts&) {
    return "The Gemini API is not available in your region without billing (the free tier is "
           "region-limited). Link a billing account to the project in Google AI Studio, or call the "
           "model through Vertex AI, which serves more regions.";
}

// ---- the request ----------------------------------------------------------------------------

struct Retired {
    std::string_view id;
    std::string_view replacement;
};

constexpr std::array<Retired, 4> kRetiredModels = {{
    {"gemini-2.0-flash-preview-image-generation", kModelFlash},
    {"gemini-2.0-flash-exp-image-generation", kModelFlash},
    {"gemini-2.0-flash-exp", kModelFlash},
    {"gemini-2.5-flash-image-preview", kModelFlash},
}};

std::string model_not_found(const Diagnosis&, const AdviceFacts& f) {
    std::string_view id = f.model;
    if (id.substr(0, 7) == "models/") id.remove_prefix(7);
    for (const auto& r : kRetiredModels)
        if (r.id == id)
            return "'" + std::string(id) + "' is retired; use " + std::string(r.replacement) +
                   " instead (current image models: " + image_model_list() + ").";
    if (!id.empty() && find_model(id))   // a current id: the endpoint, region or version lacks it
        return "'" + std::string(id) + "' is not served by this endpoint or API version; use the Gemini API "
               "v1beta endpoint (or Vertex AI's global location), or another current image model: " +
               image_model_list() + ".";
    std::string named = id.empty() ? "The model" : "'" + std::string(id) + "'";
    return named + " is not served for image generation here; use " + image_model_list() + ".";
}

struct RequestHint {
    std::string_view message_part;
    std::string_view hint;
};

// Known 400 messages and the fix each needs (bodies users have published).
constexpr std::array<RequestHint, 5> kRequestHints = {{
    {"only supports text output",
     "This model cannot generate images; use gemini-2.5-flash-image or gemini-3-pro-image-preview."},
    {"Multiple candidates is not enabled", "Image models return one candidate; request candidateCount 1."},
    {"Developer instruction is not enabled",
     "This model takes no system instruction; move those instructions into the prompt."},
    {"payload size exceeds",
     "The request is too large; send smaller or fewer input images (inline requests are limited to about 20 MB)."},
    {"too large",
     "The request is too large; send smaller or fewer input images (inline requests are limited to about 20 MB)."},
}};

std::string bad_request(const Diagnosis& d, const AdviceFacts& f) {
    for (const auto& h : kRequestHints)
        if (contains_ci(d.message, h.message_part)) return std::string(h.hint);
    if (d.http_status == 413)
        return "The request is too large; send smaller or fewer input images (inline requests are "
               "limited to about 20 MB).";
    if (!f.field.empty())
        return "The server rejected the field `" + f.field +
               "`; correct or remove it. Retrying the same request fails the same way.";
    return "The server rejected the request as invalid (see the message); fix it before retrying, since "
           "the same request fails the same way.";
}

// ---- what came back -------------------------------------------------------------------------

std::string blocked_safety(const Diagnosis&, const AdviceFacts& f) {
    std::string what = f.prompt_side ? "The prompt" : "The output";
    std::string cats = f.categories.empty() ? std::string() : " (" + join(f.categories) + ")";
    return what + " was blocked by the configurable safety filter" + cats +
           ". Raise the thresholds in safetySettings" + (cats.empty() ? "" : " for those categories") +
           " (e.g. BLOCK_ONLY_HIGH or BLOCK_NONE), or rephrase.";
}

std::string blocked_policy(const Diagnosis& d, const AdviceFacts& f) {
    std::string text;
    if (f.prompt_side) {
        text = "The prompt was refused by a policy filter that safetySettings cannot configure; rephrase "
               "it (drop names of real people, brands and sensitive terms) and try again.";
    } else if (d.reason == "RECITATION" || d.reason == "IMAGE_RECITATION") {
        text = "The output was too close to existing material, and that filter cannot be configured; ask "
               "for something more original (avoid naming specific artworks, characters or brands).";
    } else if (d.reason == "SPII") {
        text = "The output would have shown sensitive personal information, and that filter cannot be "
               "configured; remove personal details from the prompt.";
    } else {
        text = "The generated image was removed by Google's output filter, which safetySettings cannot "
               "configure; rephrase the prompt (for product shots, state the commercial context, e.g. "
               "\"studio product photo for an online catalogue\").";
    }
    if (f.not_charged) text += " The server says blocked images are not charged.";
    return text;
}

std::string billing_note(const AdviceFacts& f) {
    return f.not_charged ? " The server says this attempt is not charged."
                         : " Each such attempt is billed, so retries are capped.";
}

std::string no_image(const Diagnosis& d, const AdviceFacts& f) {
    if (d.reason == "TEXT_ONLY")
        return "The model answered with text instead of an image (often a refusal; read it in the "
               "message). Ask explicitly for an image, or rephrase or simplify the prompt." + billing_note(f);
    if (d.reason == "MAX_TOKENS")
        return "The output token limit ran out before the image; remove maxOutputTokens or raise it (an "
               "image needs 1120-2000 output tokens plus thinking)." + billing_note(f);
    if (d.reason == "EMPTY_CANDIDATES")
        return "The server returned neither an image nor a reason; retry once, and if it repeats, "
               "simplify the prompt." + billing_note(f);
    return "The model did not produce an image; simplify the prompt to one main subject, or build the "
           "scene in stages (background first, then each element)." + billing_note(f);
}

std::string blank_image(const Diagnosis&, const AdviceFacts&) {
    return "The image came back blank; simplify the prompt to one main subject, or generate in stages "
           "(background first, then each element composited). Each attempt is billed.";
}

std::string bad_response(const Diagnosis& d, const AdviceFacts&) {
    if (d.reason == "BODY_TOO_LARGE")
        return "The reply exceeded the body size limit; raise the limit (a 4K reply can be tens of MB of "
               "base64) or request a smaller imageSize.";
    if (d.reason == "UNEXPECTED_HTTP_STATUS")
        return "The server answered with an unexpected HTTP status (a redirect or a proxy page?); check the "
               "base URL and any proxy.";
    return "The reply was malformed, corrupt or cut off; a retry usually succeeds. If it repeats, check any "
           "proxy between you and Google.";
}

// ---- the server and the network -------------------------------------------------------------

std::string server_error(const Diagnosis&, const AdviceFacts&) {
    return "Google's server failed internally; nbcore retries with backoff. If it keeps failing, try "
           "again later or use another route or region.";
}

std::string bad_gateway(const Diagnosis&, const AdviceFacts&) {
    return "A gateway in front of the model failed (HTTP 502); it is usually brief, so retry after a "
           "short wait. If 502s persist behind a proxy or custom base URL, check that.";
}

std::string unavailable(const Diagnosis& d, const AdviceFacts& f) {
    if (d.reason == "DEADLINE_EXPIRED")
        return std::string("The server gave up on a long generation; retry, and ") +
               (is_4k(f.image_size) ? "request 2K instead of 4K" : "simplify the prompt") + " if it repeats.";
    return "The model is overloaded (common for preview models at peak times); nbcore retries with "
           "backoff. If it persists, try later, another Vertex AI region, or " + std::string(kModelFlash) + ".";
}

std::string timeout(const Diagnosis& d, const AdviceFacts& f) {
    if (d.reason == "SERVER_TIMEOUT_TOO_SHORT")
        return "Our server deadline (X-Server-Timeout " + format_duration(f.server_timeout_sent) +
               ") was too short for image generation and the server gave up; give each attempt at least "
               "60 s (4K: 120 s or more).";
    if (d.reason == "CONNECT_TIMEOUT")
        return "Could not connect in time; check the network, firewall and proxy settings (HTTPS_PROXY), "
               "then retry.";
    std::string text = d.reason == "IDLE_TIMEOUT"
                           ? "The reply stalled mid-body; a proxy or HTTP/2 idle timeout may be cutting long "
                             "replies. "
                           : "";
    if (is_4k(f.image_size))
        return text + "4K images often need 60-120 s of silence before the first byte; raise the attempt "
                      "timeout (180 s or more) or request 2K.";
    return text + "Image generation can take a minute or more; raise the attempt timeout, or simplify the "
                  "prompt.";
}

std::string network(const Diagnosis& d, const AdviceFacts& f) {
    if (d.reason == "DNS") return "Could not resolve the API host; check the base URL, DNS and internet access.";
    if (d.reason == "CONNECT")
        return "Could not connect; check the base URL, firewall rules and proxy settings (HTTPS_PROXY).";
    if (d.reason == "TLS")
        return "The TLS handshake failed; check the system CA certificates, any TLS-intercepting proxy "
               "(install its CA certificate), and that this machine's clock is correct.";
    return std::string("The connection failed; nbcore retries.") +
           (f.request_sent ? " The request may already have executed and been billed." : "");
}

std::string cancelled(const Diagnosis& d, const AdviceFacts&) {
    if (d.http_status == 499)
        return "The server saw the request as cancelled by the client; retry if that was not intended.";
    return "The request was cancelled by the caller; nothing needs fixing.";
}

std::string invalid_arg(const Diagnosis&, const AdviceFacts&) {
    return "The image exceeds the configured image limits; raise them in the client options if the "
           "source is trusted.";
}

using AdviceFn = std::string (*)(const Diagnosis&, const AdviceFacts&);

struct AdviceRule {
    Status code;
    AdviceFn fn;
};

constexpr std::array<AdviceRule, 19> kAdvice = {{
    {Status::RATE_LIMITED, rate_limited},     {Status::QUOTA_EXHAUSTED, quota_exhausted},
    {Status::SERVER_ERROR, server_error},     {Status::BAD_GATEWAY, bad_gateway},
    {Status::UNAVAILABLE, unavailable},       {Status::TIMEOUT, timeout},
    {Status::NETWORK, network},               {Status::AUTH, auth},
    {Status::LOCATION, location},             {Status::MODEL_NOT_FOUND, model_not_found},
    {Status::BAD_REQUEST, bad_request},       {Status::BLOCKED_SAFETY, blocked_safety},
    {Status::BLOCKED_POLICY, blocked_policy}, {Status::NO_IMAGE, no_image},
    {Status::BLANK_IMAGE, blank_image},       {Status::BAD_RESPONSE, bad_response},
    {Status::CANCELLED, cancelled},           {Status::INVALID_ARG, invalid_arg},
    {Status::OK, nullptr},
}};

}  // namespace

std::string advice_for(const Diagnosis& d, const AdviceFacts& facts) {
    for (const auto& rule : kAdvice)
        if (rule.code == d.code) return rule.fn ? rule.fn(d, facts) : std::string();
    return std::string(status_summary(d.code));
}

}  // namespace nbcore::policy::detail
