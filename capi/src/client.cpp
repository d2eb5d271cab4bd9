// Clients, requests, generation and results.
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>

#include "guard.hpp"
#include "layouts.hpp"
#include "handles.hpp"
#include "nbcore/governor.hpp"
#include "nbcore/image.hpp"
#include "nbcore/state.hpp"
#include "nbcore/models.hpp"
#include "nbcore/prompt.hpp"
#include "nbcore/simplify.hpp"

using nbcapi::guard;
using nbcapi::invalid_arg;
using nbcapi::require;

namespace {

// The first published layout of nbc_client_options ended at route_count; callers built against
// it are still served.
constexpr std::size_t kClientOptionsV1 = offsetof(nbc_client_options, tier);
// The layout that added backend, project and location ends after location.
constexpr std::size_t kClientOptionsV3 = offsetof(nbc_client_options, location) + sizeof(const char*);
// The layout that added preflight ends after it.
constexpr std::size_t kClientOptionsV4 = offsetof(nbc_client_options, preflight) + sizeof(int32_t);
// The layout that added state_fallback_share ends after it.
constexpr std::size_t kClientOptionsV5 = offsetof(nbc_client_options, state_fallback_share) + sizeof(double);

std::string opt_str(const char* s) { return s ? std::string(s) : std::string(); }

nbcore::policy::RetryPolicy preset_policy(int preset, const char* what) {
    switch (preset) {
        case NBC_RETRY_INTERACTIVE: return nbcore::policy::RetryPolicy::interactive();
        case NBC_RETRY_PATIENT: return nbcore::policy::RetryPolicy::patient();
        case NBC_RETRY_NONE: return nbcore::policy::RetryPolicy::none();
        default:
            invalid_arg(std::string(what) + " is " + std::to_string(preset) +
                        "; use NBC_RETRY_INTERACTIVE, NBC_RETRY_PATIENT or NBC_RETRY_NONE");
    }
}

void check_backoff(int64_t base, int64_t cap, const char* name) {
    if (base < 0 || cap < base)
        invalid_arg(std::string("nbc_retry_policy.") + name + "_base_ms/_cap_ms must satisfy 0 <= base <= cap");
}

nbcore::policy::RetryPolicy to_core_policy(const nbc_retry_policy& caller) {
    nbcapi::check_struct_size(&caller, nbcapi::kRetryPolicyV1, sizeof(nbc_retry_policy), "nbc_retry_policy");
    const nbc_retry_policy p = nbcapi::read_in(&caller, nbc_retry_policy{});
    if (p.max_attempts < 1 || p.max_attempts > 100)
        invalid_arg("nbc_retry_policy.max_attempts is " + std::to_string(p.max_attempts) + "; use 1..100");
    check_backoff(p.server_base_ms, p.server_cap_ms, "server");
    check_backoff(p.gateway_base_ms, p.gateway_cap_ms, "gateway");
    check_backoff(p.rate_base_ms, p.rate_cap_ms, "rate");
    if (p.max_wait_ms < 0) invalid_arg("nbc_retry_policy.max_wait_ms must be >= 0");
    if (p.max_billed_retries < 0 || p.max_bad_response_retries < 0)
        invalid_arg("nbc_retry_policy.max_billed_retries / max_bad_response_retries must be >= 0");
    if (!(p.jitter_ratio >= 0.0 && p.jitter_ratio <= 1.0))
        invalid_arg("nbc_retry_policy.jitter_ratio must be between 0 and 1");
    using ms = std::chrono::milliseconds;
    nbcore::policy::RetryPolicy r;
    r.max_attempts = p.max_attempts;
    r.server = {ms(p.server_base_ms), ms(p.server_cap_ms)};
    r.gateway = {ms(p.gateway_base_ms), ms(p.gateway_cap_ms)};
    r.rate = {ms(p.rate_base_ms), ms(p.rate_cap_ms)};
    r.max_wait = ms(p.max_wait_ms);
    r.max_billed_retries = p.max_billed_retries;
    r.max_bad_response_retries = p.max_bad_response_retries;
    r.jitter_ratio = p.jitter_ratio;
    return r;
}

nbcore::RouteConfig to_core_route(const nbc_route& caller, size_t index) {
    std::string where = "nbc_client_options.routes[" + std::to_string(index) + "]";
    nbcapi::check_struct_size(&caller, nbcapi::kRouteV1, sizeof(nbc_route), where.c_str());
    const nbc_route r = nbcapi::read_in(&caller, nbc_route NBC_ROUTE_INIT);
    nbcore::RouteConfig c;
    switch (r.kind) {
        case NBC_ROUTE_AI_STUDIO: c.kind = nbcore::RouteKind::AiStudio; break;
        case NBC_ROUTE_VERTEX: c.kind = nbcore::RouteKind::Vertex; break;
        case NBC_ROUTE_CUSTOM: c.kind = nbcore::RouteKind::Custom; break;
        default:
            invalid_arg(where + ".kind is " + std::to_string(r.kind) +
                        "; use NBC_ROUTE_AI_STUDIO, NBC_ROUTE_VERTEX or NBC_ROUTE_CUSTOM");
    }
    constexpr uint32_t kKnown = NBC_ROUTE_NO_FAILOVER_CAPACITY | NBC_ROUTE_NO_FAILOVER_QUOTA |
                                NBC_ROUTE_NO_FAILOVER_LOCATION | NBC_ROUTE_FAILOVER_SAFETY;
    if (r.flags & ~kKnown) invalid_arg(where + ".flags has unknown bits");
    c.name = opt_str(r.name);
    c.base_url = opt_str(r.base_url);
    c.api_key = opt_str(r.api_key);
    c.project = opt_str(r.project);
    c.location = opt_str(r.location);
    c.token_env = opt_str(r.token_env);
    c.token_command = opt_str(r.token_command);
    c.quota_pool = opt_str(r.quota_pool);
    c.failover_on_capacity = !(r.flags & NBC_ROUTE_NO_FAILOVER_CAPACITY);
    c.failover_on_quota = !(r.flags & NBC_ROUTE_NO_FAILOVER_QUOTA);
    c.failover_on_location = !(r.flags & NBC_ROUTE_NO_FAILOVER_LOCATION);
    c.failover_on_safety = (r.flags & NBC_ROUTE_FAILOVER_SAFETY) != 0;
    return c;
}

std::string state_path_of(const char* path) {
    std::string p = opt_str(path);
    return p.empty() || p == NBC_STATE_DEFAULT ? nbcore::quota::default_state_location() : p;
}

std::shared_ptr<nbcore::quota::Governor> to_governor(const nbc_client_options& o) {
    namespace q = nbcore::quota;
    q::GovernorOptions g;
    g.tier = opt_str(o.tier);
    auto limit = [](int64_t v, const char* name) -> std::optional<std::int64_t> {
        if (v < 0) invalid_arg(std::string("nbc_client_options.") + name + " must be >= 0 (0 = the tier's or learned)");
        return v > 0 ? std::optional<std::int64_t>(v) : std::nullopt;
    };
    g.custom.rpm = limit(o.rpm_limit, "rpm_limit");
    g.custom.tpm = limit(o.tpm_limit, "tpm_limit");
    g.custom.ipm = limit(o.ipm_limit, "ipm_limit");
    g.custom.rpd = limit(o.rpd_limit, "rpd_limit");
    auto cap = [](double v, const char* name) -> std::optional<double> {
        if (!(v >= 0) || v > 1e9) invalid_arg(std::string("nbc_client_options.") + name + " must be 0 (no cap) or a positive amount in US dollars");
        return v > 0 ? std::optional<double>(v) : std::nullopt;
    };
    g.caps.daily_usd = cap(o.budget_daily_usd, "budget_daily_usd");
    g.caps.monthly_usd = cap(o.budget_monthly_usd, "budget_monthly_usd");
    g.caps.total_usd = cap(o.budget_total_usd, "budget_total_usd");
    if (o.prices_json) g.prices = q::PriceTable::from_json(o.prices_json);
    // Checked with or without a state: a bad value is a mistake wherever it is given.
    const double share = o.state_fallback_share;
    if (!(share >= 0 && share <= 1)) {
        char shown[32];
        std::snprintf(shown, sizeof shown, "%g", share);
        invalid_arg(std::string("nbc_client_options.state_fallback_share is ") + shown +
                    "; use a share in (0, 1] (1/N for N workers), or 0 for $NBCORE_STATE_FALLBACK_SHARE, else 0.25");
    }
    if (o.state_path) g.state = q::open_state(state_path_of(o.state_path), {}, {}, share);
    return q::Governor::create(std::move(g));
}

nbcore::ClientOptions to_core_options(const nbc_client_options& o) {
    nbcore::ClientOptions c;
    c.api_key = opt_str(o.api_key);
    c.base_url = opt_str(o.base_url);
    c.model = opt_str(o.model);
    c.retry = o.retry ? to_core_policy(*o.retry) : preset_policy(o.retry_preset, "nbc_client_options.retry_preset");
    if (o.max_attempts < 0 || o.max_attempts > 100)
        invalid_arg("nbc_client_options.max_attempts is " + std::to_string(o.max_attempts) +
                    "; use 0 (the preset's) or 1..100");
    if (o.max_attempts > 0) c.retry.max_attempts = o.max_attempts;
    if (o.deadline_ms < 0) invalid_arg("nbc_client_options.deadline_ms must be >= 0 (0 = none)");
    if (o.attempt_timeout_ms < 0)
        invalid_arg("nbc_client_options.attempt_timeout_ms must be >= 0 (0 = by image size)");
    if (o.idle_timeout_ms < 0) invalid_arg("nbc_client_options.idle_timeout_ms must be >= 0 (0 = 60 s)");
    constexpr uint32_t kKnownFlags = NBC_CLIENT_STREAM | NBC_CLIENT_DOWNGRADE_ON_TIMEOUT | NBC_CLIENT_NO_RETRY_BUDGET;
    if (o.flags & ~kKnownFlags)
        invalid_arg("nbc_client_options.flags has unknown bits; use NBC_CLIENT_STREAM, "
                    "NBC_CLIENT_DOWNGRADE_ON_TIMEOUT, NBC_CLIENT_NO_RETRY_BUDGET");
    c.downgrade_on_timeout = (o.flags & NBC_CLIENT_DOWNGRADE_ON_TIMEOUT) != 0;
    if (o.flags & NBC_CLIENT_NO_RETRY_BUDGET) c.retry_budget.reset();
    if (o.route_count > 0 && !o.routes) invalid_arg("nbc_client_options.routes is NULL but route_count is not 0");
    if (o.route_count > 64) invalid_arg("nbc_client_options.route_count is above 64");
    for (size_t i = 0; i < o.route_count; ++i) c.routes.push_back(to_core_route(o.routes[i], i));
    c.deadline = std::chrono::milliseconds(o.deadline_ms);
    c.timeouts.total = std::chrono::milliseconds(o.attempt_timeout_ms);
    c.timeouts.idle = std::chrono::milliseconds(o.idle_timeout_ms);
    c.stream = (o.flags & NBC_CLIENT_STREAM) != 0;
    if (o.max_in_flight < 0) invalid_arg("nbc_client_options.max_in_flight must be >= 0 (0 = 64)");
    if (o.max_in_flight > 0) c.max_in_flight = static_cast<std::size_t>(o.max_in_flight);
    c.governor = to_governor(o);
    switch (o.backend) {
        case NBC_BACKEND_ENV: break;
        case NBC_BACKEND_AI_STUDIO: c.vertexai = false; break;
        case NBC_BACKEND_VERTEX: c.vertexai = true; break;
        default:
            invalid_arg("nbc_client_options.backend is " + std::to_string(o.backend) +
                        "; use NBC_BACKEND_ENV, NBC_BACKEND_AI_STUDIO or NBC_BACKEND_VERTEX");
    }
    if ((o.project || o.location) && o.backend == NBC_BACKEND_AI_STUDIO)
        invalid_arg("nbc_client_options.project/location are for Vertex AI, but backend is "
                    "NBC_BACKEND_AI_STUDIO; use NBC_BACKEND_VERTEX or leave them NULL");
    c.project = opt_str(o.project);
    c.location = opt_str(o.location);
    switch (o.preflight) {
        case NBC_PREFLIGHT_OFF: c.preflight = nbcore::Preflight::Off; break;
        case NBC_PREFLIGHT_WARN: c.preflight = nbcore::Preflight::Warn; break;
        case NBC_PREFLIGHT_STRICT: c.preflight = nbcore::Preflight::Strict; break;
        default:
            invalid_arg("nbc_client_options.preflight is " + std::to_string(o.preflight) +
                        "; use NBC_PREFLIGHT_OFF, NBC_PREFLIGHT_WARN or NBC_PREFLIGHT_STRICT");
    }
    if (o.on_event) {
        nbc_event_fn fn = o.on_event;
        void* payload = o.event_payload;
        c.on_event = [fn, payload](const nbcore::Event& ev) {
            nbc_event e{};
            e.struct_size = sizeof e;
            e.kind = static_cast<int32_t>(ev.kind) + 1;
            e.attempt = ev.attempt;
            e.outcome = static_cast<int32_t>(ev.outcome);
            e.http_status = ev.http_status;
            e.server_delay_ms = ev.server_delay ? ev.server_delay->count() : -1;
            e.delay_ms = ev.delay.count();
            e.elapsed_ms = ev.elapsed.count();
            e.reason = ev.reason.c_str();
            e.message = ev.message.c_str();
            e.route = ev.route.c_str();
            e.image_size = ev.image_size.c_str();
            e.dimension = static_cast<int32_t>(ev.dimension);
            e.percent = ev.percent;
            fn(&e, payload);
        };
    }
    return c;
}

const nbcore::ResultImage& image_at(const nbc_result* res, int index) {
    require(res, "res");
    if (index < 0 || static_cast<std::size_t>(index) >= res->res.images.size())
        invalid_arg("image index " + std::to_string(index) + " is out of range (the result has " +
                    std::to_string(res->res.images.size()) + " images)");
    return res->res.images[static_cast<std::size_t>(index)];
}

// A malloc'd copy for nbc_string_free.
char* copy_string(const std::string& text) {
    char* copy = static_cast<char*>(std::malloc(text.size() + 1));
    if (!copy) throw std::bad_alloc();
    std::memcpy(copy, text.c_str(), text.size() + 1);
    return copy;
}

char* usage_string(const nbcore::quota::UsageSnapshot& snap, int format) {
    if (format != NBC_USAGE_TEXT && format != NBC_USAGE_JSON)
        invalid_arg("format is " + std::to_string(format) + "; use NBC_USAGE_TEXT or NBC_USAGE_JSON");
    return copy_string(format == NBC_USAGE_JSON ? nbcore::quota::usage_json(snap) : nbcore::quota::format_usage(snap));
}

void copy_truncated(char* dst, std::size_t cap, const std::string& src) {
    std::size_t n = src.size() < cap - 1 ? src.size() : cap - 1;
    std::memcpy(dst, src.data(), n);
    dst[n] = '\0';
}

}  // namespace

extern "C" {

NBC_API(int) nbc_client_options_init(nbc_client_options* opts, size_t struct_size) {
    return guard([&] {
        require(opts, "opts");
        if (struct_size < kClientOptionsV1 || struct_size > sizeof(nbc_client_options))
            invalid_arg("struct_size " + std::to_string(struct_size) +
                        " does not match any version of nbc_client_options; pass sizeof(nbc_client_options)");
        nbc_client_options defaults = NBC_CLIENT_OPTIONS_INIT;
        std::memcpy(opts, &defaults, struct_size);
        opts->struct_size = static_cast<uint32_t>(struct_size);
    });
}

NBC_API(int) nbc_client_new(nbc_client** out, const nbc_client_options* opts) {
    if (out) *out = nullptr;
    return guard([&] {
        require(out, "out");
        nbc_client_options o = NBC_CLIENT_OPTIONS_INIT;
        if (opts) {
            nbcapi::check_struct_size(opts, kClientOptionsV1, sizeof(nbc_client_options), "nbc_client_options");
            std::memcpy(&o, opts, std::min<std::size_t>(opts->struct_size, sizeof o));
            // backend sits in what was the tail padding of the previous layout, so a caller built
            // against that layout (struct_size 192) may pass garbage there: the fields added with
            // it count only when struct_size covers the whole group.
            if (opts->struct_size < kClientOptionsV3) {
                o.backend = NBC_BACKEND_ENV;
                o.project = nullptr;
                o.location = nullptr;
            }
            if (opts->struct_size < kClientOptionsV4) o.preflight = NBC_PREFLIGHT_OFF;
            if (opts->struct_size < kClientOptionsV5) o.state_fallback_share = 0.0;
        }
        auto c = std::make_unique<nbc_client>();
        c->client = std::make_unique<nbcore::Client>(to_core_options(o));
        *out = c.release();
    });
}

NBC_API(void) nbc_client_free(nbc_client* client) { delete client; }

NBC_API(int) nbc_retry_policy_preset(nbc_retry_policy* out, int preset) {
    return guard([&] {
        require(out, "out");
        nbcapi::check_struct_size(out, nbcapi::kRetryPolicyV1, sizeof(nbc_retry_policy), "nbc_retry_policy");
        auto r = preset_policy(preset, "preset");
        nbc_retry_policy v{};
        v.struct_size = sizeof v;
        v.max_attempts = r.max_attempts;
        v.server_base_ms = r.server.base.count();
        v.server_cap_ms = r.server.cap.count();
        v.gateway_base_ms = r.gateway.base.count();
        v.gateway_cap_ms = r.gateway.cap.count();
        v.rate_base_ms = r.rate.base.count();
        v.rate_cap_ms = r.rate.cap.count();
        v.max_wait_ms = r.max_wait.count();
        v.max_billed_retries = r.max_billed_retries;
        v.max_bad_response_retries = r.max_bad_response_retries;
        v.jitter_ratio = r.jitter_ratio;
        nbcapi::write_out(out, v);
    });
}

NBC_API(int) nbc_request_new(nbc_request** out, const char* prompt) {
    if (out) *out = nullptr;
    return guard([&] {
        require(out, "out");
        auto r = std::make_unique<nbc_request>();
        r->req.prompt = opt_str(prompt);
        *out = r.release();
    });
}

NBC_API(void) nbc_request_free(nbc_request* req) { delete req; }

NBC_API(int) nbc_request_set_prompt(nbc_request* req, const char* prompt) {
    return guard([&] { require(req, "req")->req.prompt = opt_str(prompt); });
}

NBC_API(int) nbc_request_set_model(nbc_request* req, const char* model) {
    return guard([&] { require(req, "req")->req.model = opt_str(model); });
}

NBC_API(int) nbc_request_set_aspect_ratio(nbc_request* req, const char* ratio) {
    return guard([&] {
        require(req, "req");
        std::string r = opt_str(ratio);
        if (!r.empty() && !nbcore::is_valid_aspect_ratio(r))
            invalid_arg("aspect ratio \"" + r +
                        "\" is not supported; use one of 1:1, 2:3, 3:2, 3:4, 4:3, 4:5, 5:4, 9:16, 16:9, 21:9");
        req->req.aspect_ratio = r;
    });
}

NBC_API(int) nbc_request_set_image_size(nbc_request* req, const char* size) {
    return guard([&] {
        require(req, "req");
        std::string s = opt_str(size);
        if (!s.empty() && !nbcore::is_valid_image_size(s))
            invalid_arg("image size \"" + s + "\" is not supported; use \"1K\", \"2K\" or \"4K\" (uppercase K)");
        req->req.image_size = s;
    });
}

NBC_API(int) nbc_request_set_seed(nbc_request* req, int64_t seed) {
    return guard([&] {
        require(req, "req");
        if (seed == -1) { req->req.seed.reset(); return; }
        if (seed < std::numeric_limits<int32_t>::min() || seed > std::numeric_limits<int32_t>::max())
            invalid_arg("seed " + std::to_string(seed) + " is outside the int32 range the API accepts (-1 = unset)");
        req->req.seed = static_cast<int32_t>(seed);
    });
}

NBC_API(int) nbc_request_set_temperature(nbc_request* req, double t) {
    return guard([&] {
        require(req, "req");
        if (std::isnan(t) || t > 2.0) invalid_arg("temperature must be between 0 and 2 (negative = unset)");
        if (t < 0) req->req.temperature.reset();
        else req->req.temperature = t;
    });
}

NBC_API(int) nbc_request_set_system_instruction(nbc_request* req, const char* text) {
    return guard([&] { require(req, "req")->req.system_instruction = opt_str(text); });
}

NBC_API(int) nbc_request_add_safety_setting(nbc_request* req, const char* category, const char* threshold) {
    return guard([&] {
        require(req, "req");
        require(category, "category");
        require(threshold, "threshold");
        req->req.safety.push_back({category, threshold});
    });
}

NBC_API(int) nbc_request_add_image(nbc_request* req, const uint8_t* data, size_t len, const char* mime) {
    return guard([&] {
        require(req, "req");
        require(data, "data");
        if (len == 0) invalid_arg("len must be > 0: an input image cannot be empty");
        nbcore::InputImage im;
        im.mime = mime ? std::string(mime) : std::string(nbcore::image::sniff_mime(data, len));
        if (im.mime.empty())
            invalid_arg("the input image's format is not recognised; pass its MIME type (image/png, image/jpeg, image/webp)");
        im.data = std::make_shared<const nbcore::Blob>(data, len);
        req->req.images.push_back(std::move(im));
    });
}

NBC_API(int) nbc_generate(nbc_result** out, nbc_client* client, const nbc_request* req) {
    if (out) *out = nullptr;
    return guard([&] {
        require(out, "out");
        require(client, "client");
        require(req, "req");
        auto r = std::make_unique<nbc_result>();
        r->res = client->client->generate(req->req);
        *out = r.release();
    });
}

NBC_API(void) nbc_result_free(nbc_result* res) { delete res; }

NBC_API(int) nbc_result_image_count(const nbc_result* res) {
    return res ? static_cast<int>(res->res.images.size()) : 0;
}

NBC_API(int) nbc_result_image(nbc_image_info* out, const nbc_result* res, int index) {
    return guard([&] {
        require(out, "out");
        nbcapi::check_struct_size(out, nbcapi::kImageInfoV1, sizeof(nbc_image_info), "nbc_image_info");
        const auto& im = image_at(res, index);
        nbc_image_info v = NBC_IMAGE_INFO_INIT;
        v.width = im.width;
        v.height = im.height;
        v.channels = im.channels;
        v.mime = im.mime.c_str();
        v.data = im.data ? im.data->data() : nullptr;
        v.size = im.data ? im.data->size() : 0;
        nbcapi::write_out(out, v);
    });
}

NBC_API(int) nbc_result_image_rgba(const nbc_result* res, int index, uint8_t* buf, size_t buf_len) {
    return guard([&] {
        const nbcore::ResultImage& im = image_at(res, index);
        require(buf, "buf");
        std::size_t need = static_cast<std::size_t>(im.width) * static_cast<std::size_t>(im.height) * 4;
        if (buf_len < need)
            invalid_arg("buf_len is " + std::to_string(buf_len) + " but image " + std::to_string(index) +
                        " needs " + std::to_string(need) + " bytes (4 * " + std::to_string(im.width) +
                        " * " + std::to_string(im.height) + ")");
        nbcore::image::Pixels decoded;
        const nbcore::image::Pixels* px = im.pixels.get();
        if (!px) {   // the result did not keep pixels (e.g. from a batch): decode once here
            if (!im.data) invalid_arg("image " + std::to_string(index) + " has no data");
            auto chk = nbcore::image::check(im.data->data(), im.data->size(), {}, {}, &decoded);
            if (decoded.data.empty())
                throw nbcore::Error(nbcore::Status::BAD_RESPONSE, "image " + std::to_string(index) + " does not decode: " + chk.reason,
                                    "The stored image is corrupt; read its encoded bytes with nbc_result_image instead.");
            px = &decoded;
        }
        if (px->channels == 4) {
            std::memcpy(buf, px->data.data(), need);
        } else {
            nbcore::image::Pixels rgba = nbcore::image::to_rgba(*px);
            std::memcpy(buf, rgba.data.data(), need);
        }
    });
}

NBC_API(const char*) nbc_result_text(const nbc_result* res) { return res ? res->res.text.c_str() : ""; }
NBC_API(const char*) nbc_result_model_version(const nbc_result* res) {
    return res ? res->res.model_version.c_str() : "";
}
NBC_API(const char*) nbc_result_route(const nbc_result* res) { return res ? res->res.route.c_str() : ""; }
NBC_API(const char*) nbc_result_image_size(const nbc_result* res) {
    return res ? res->res.image_size.c_str() : "";
}
NBC_API(int) nbc_result_attempt_count(const nbc_result* res) {
    return res ? static_cast<int>(res->res.attempts.size()) : 0;
}

NBC_API(int) nbc_result_attempt(nbc_attempt* out, const nbc_result* res, int index) {
    return guard([&] {
        require(out, "out");
        require(res, "res");
        if (out->struct_size < offsetof(nbc_attempt, route))
            invalid_arg("nbc_attempt.struct_size is too small; use NBC_ATTEMPT_INIT");
        if (index < 0 || static_cast<std::size_t>(index) >= res->res.attempts.size())
            invalid_arg("attempt index " + std::to_string(index) + " is out of range (the result has " +
                        std::to_string(res->res.attempts.size()) + " attempts)");
        nbcapi::fill_attempt(out, res->res.attempts[static_cast<std::size_t>(index)]);
    });
}

NBC_API(double) nbc_result_cost_usd(const nbc_result* res) { return res ? res->res.cost_usd : 0.0; }

NBC_API(int) nbc_client_usage(char** out, nbc_client* client, int format) {
    if (out) *out = nullptr;
    return guard([&] {
        require(out, "out");
        require(client, "client");
        *out = usage_string(client->client->usage(), format);
    });
}

NBC_API(int) nbc_state_usage(char** out, const char* state_path, int format) {
    if (out) *out = nullptr;
    return guard([&] {
        require(out, "out");
        if (format != NBC_USAGE_TEXT && format != NBC_USAGE_JSON)
            invalid_arg("format is " + std::to_string(format) + "; use NBC_USAGE_TEXT or NBC_USAGE_JSON");
        nbcore::quota::StoreOptions so;
        so.create = false;   // reading usage never creates a state file
        auto path = state_path_of(state_path);
        auto store = nbcore::quota::open_state(path, so);
        *out = usage_string(store->snapshot(std::chrono::system_clock::now()), format);
    });
}

NBC_API(void) nbc_string_free(char* s) { std::free(s); }

NBC_API(int) nbc_result_usage(nbc_usage* out, const nbc_result* res) {
    return guard([&] {
        require(out, "out");
        require(res, "res");
        nbcapi::check_struct_size(out, nbcapi::kUsageV1, sizeof(nbc_usage), "nbc_usage");
        const auto& u = res->res.usage;
        nbc_usage v = NBC_USAGE_INIT;
        v.prompt_tokens = u.prompt_tokens;
        v.candidates_tokens = u.candidates_tokens;
        v.thoughts_tokens = u.thoughts_tokens;
        v.total_tokens = u.total_tokens;
        v.image_output_tokens = u.candidates_tokens_for("IMAGE");
        nbcapi::write_out(out, v);
    });
}

NBC_API(int) nbc_prompt_analyze(char** out, const char* prompt, const char* image_size, int format) {
    if (out) *out = nullptr;
    return guard([&] {
        require(out, "out");
        require(prompt, "prompt");
        if (format != NBC_USAGE_TEXT && format != NBC_USAGE_JSON)
            invalid_arg("format is " + std::to_string(format) + "; use NBC_USAGE_TEXT or NBC_USAGE_JSON");
        std::string size = opt_str(image_size);
        if (!size.empty() && size != "1K" && size != "2K" && size != "4K")
            invalid_arg("image_size is \"" + size + "\"; use \"1K\", \"2K\", \"4K\" or NULL");
        auto a = nbcore::prompt::analyze(prompt, size);
        *out = copy_string(format == NBC_USAGE_JSON ? nbcore::prompt::analysis_json(a) : nbcore::prompt::format_analysis(a));
    });
}

NBC_API(int) nbc_simplify_options_init(nbc_simplify_options* opts, size_t struct_size) {
    return guard([&] {
        require(opts, "opts");
        if (struct_size < nbcapi::kSimplifyOptionsV1 || struct_size > sizeof(nbc_simplify_options))
            invalid_arg("struct_size " + std::to_string(struct_size) +
                        " does not match any version of nbc_simplify_options; pass sizeof(nbc_simplify_options)");
        nbc_simplify_options defaults = NBC_SIMPLIFY_OPTIONS_INIT;
        std::memcpy(opts, &defaults, struct_size);
        opts->struct_size = static_cast<uint32_t>(struct_size);
    });
}

NBC_API(int) nbc_simplify(char** out, nbc_client* client, const char* prompt, const nbc_simplify_options* opts,
                          int format) {
    if (out) *out = nullptr;
    return guard([&] {
        require(out, "out");
        require(client, "client");
        require(prompt, "prompt");
        if (format != NBC_USAGE_TEXT && format != NBC_USAGE_JSON)
            invalid_arg("format is " + std::to_string(format) + "; use NBC_USAGE_TEXT or NBC_USAGE_JSON");
        nbc_simplify_options o = NBC_SIMPLIFY_OPTIONS_INIT;
        if (opts) {
            nbcapi::check_struct_size(opts, nbcapi::kSimplifyOptionsV1, sizeof(nbc_simplify_options), "nbc_simplify_options");
            o = nbcapi::read_in(opts, o);
        }
        nbcore::SimplifyOptions s;
        if (o.max_requests < 0 || o.max_requests > 1000)
            invalid_arg("nbc_simplify_options.max_requests is " + std::to_string(o.max_requests) + "; use 0 (8) or 1..1000");
        if (o.max_requests > 0) s.max_requests = o.max_requests;
        if (!(o.max_cost_usd >= 0) || o.max_cost_usd > 1e6)
            invalid_arg("nbc_simplify_options.max_cost_usd must be 0 (1.0) or a positive amount in US dollars");
        if (o.max_cost_usd > 0) s.max_cost_usd = o.max_cost_usd;
        if (o.step_deadline_ms < 0) invalid_arg("nbc_simplify_options.step_deadline_ms must be >= 0 (0 = the client's)");
        s.model = opt_str(o.model);
        s.aspect_ratio = opt_str(o.aspect_ratio);
        s.image_size = opt_str(o.image_size);
        s.call.deadline = std::chrono::milliseconds(o.step_deadline_ms);
        auto report = nbcore::simplify(*client->client, prompt, s);
        *out = copy_string(format == NBC_USAGE_JSON ? nbcore::simplify_report_json(report)
                                                    : nbcore::format_simplify_report(report));
    });
}

NBC_API(int) nbc_check_image(nbc_image_check* out, const uint8_t* data, size_t len) {
    return guard([&] {
        require(out, "out");
        nbcapi::check_struct_size(out, nbcapi::kImageCheckV1, sizeof(nbc_image_check), "nbc_image_check");
        if (!data && len) invalid_arg("data must not be NULL when len > 0");
        auto c = nbcore::image::check(data, len);
        nbc_image_check v = NBC_IMAGE_CHECK_INIT;
        v.ok = c.ok ? 1 : 0;
        v.blank = c.blank ? 1 : 0;
        v.code = static_cast<int32_t>(c.code);
        v.width = c.width;
        v.height = c.height;
        v.channels = c.channels;
        copy_truncated(v.mime, sizeof v.mime, c.mime);
        copy_truncated(v.reason, sizeof v.reason, c.reason);
        nbcapi::write_out(out, v);
    });
}

}  // extern "C"
