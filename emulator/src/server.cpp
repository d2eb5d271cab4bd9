// The HTTP side: cpp-httplib for parsing and routing, our own connection loop for the socket
// (so a reply can end in a TCP RST, and stop() never waits on an idle keep-alive connection),
// the request log, and the delivery of replies with their delays, stalls and cuts.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <deque>
#include <iterator>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <httplib.h>

#include "answer.hpp"
#include "auth.hpp"
#include "batch.hpp"
#include "compress.hpp"
#include "delivery.hpp"
#include "errors.hpp"
#include "faults.hpp"
#include "flaky.hpp"
#include "quota.hpp"
#include "nbcore/models.hpp"
#include "nbcore_emulator/emulator.hpp"
#include "connection.hpp"
#include "render.hpp"
#include "request.hpp"
#include "request_log.hpp"
#include "routes.hpp"
#include "script.hpp"
#include "util.hpp"

namespace nbcore::emulator {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kImageCacheBytes = 256u << 20;
constexpr std::size_t kMaxLogEntries = 10000;

// What the access log line needs from the handler (same thread as the logger).
struct LogNote {
    bool set = false;
    std::uint64_t n = 0;
    std::string fault;
    Clock::time_point start;
    std::string ending;   // "" = complete; "cut" or "RST" mid-body; "closed" or "reset" before any byte
};
thread_local LogNote tl_note;

// --------------------------------------------------------------------------------------------
// Small reply helpers

Reply html_not_found(const std::string& path) {
    Reply r;
    r.status = 404;
    r.content_type = kHtmlType;
    r.google_headers = false;
    r.headers = {{"Referrer-Policy", "no-referrer"}};
    r.segments.push_back(gfe_html_page(404, path));
    return r;
}

Reply control_json(int status, const nlohmann::json& body) {
    Reply r;
    r.status = status;
    r.google_headers = false;
    r.segments.push_back(body.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
    return r;
}

Headers headers_of(const httplib::Request& req) { return Headers(req.headers.begin(), req.headers.end()); }

std::vector<std::string> request_secrets(const httplib::Request& req, const std::string& configured_key) {
    return secrets_of(headers_of(req), req.target, configured_key);
}

// A fully scripted reply. A 200 `body` on a stream route is framed like the API's own answers
// (a list becomes one chunk per element); other bodies, and `body_text`, go out as given.
Reply custom_reply(const ScriptEntry& e, Framing framing) {
    Reply r;
    if (e.body && e.status == 200 && framing != Framing::Unary) {
        std::vector<ojson> chunks;
        if (e.body->is_array())
            for (const auto& c : *e.body) chunks.push_back(c);
        else
            chunks.push_back(*e.body);
        r = json_reply(200, chunks, framing);
    } else if (e.body) {
        r = json_reply(e.status, {*e.body}, Framing::Unary);
    } else if (e.body_text) {
        r.content_type = "text/plain; charset=UTF-8";
        r.segments.push_back(*e.body_text);
    }
    r.status = e.status;
    for (const auto& [name, value] : e.headers)
        if (to_lower(name) == "content-type") r.content_type = value;
    return r;
}

}  // namespace

// --------------------------------------------------------------------------------------------

struct Server::Impl {
    Options opts;
    AuthConfig auth;
    std::atomic<bool> stopping{false};
    std::unique_ptr<HttpServer> http;
    std::thread thread;
    int port = 0;
    bool running = false;
    Clock::time_point started_at = Clock::now();
    ImageCache cache{kImageCacheBytes};

    std::shared_ptr<nbcore::Clock> clock;

    mutable std::mutex mu;          // guards everything below
    Scheduler scheduler;
    QuotaLedger quota;
    std::uint64_t counter = 0;
    std::deque<nlohmann::json> log;   // the newest kMaxLogEntries requests

    BatchService batches;             // its own lock; takes `mu` through its hooks

    explicit Impl(Options o)
        : opts(std::move(o)),
          clock(opts.clock ? opts.clock : nbcore::SystemClock::instance()),
          quota(QuotaLimits{opts.rpm_limit, opts.tpm_limit, opts.ipm_limit, opts.rpd_limit}),
          batches(batch_hooks()) {
        auth.api_key = opts.api_key;
        auth.bearer_token = opts.bearer_token;
        if (opts.threads < 1 || opts.threads > 4096) throw std::invalid_argument("threads must be 1..4096");
        if (opts.grain < 0 || opts.grain > 64) throw std::invalid_argument("grain must be 0..64");
        if (opts.mime != "auto" && opts.mime != "png" && opts.mime != "jpeg")
            throw std::invalid_argument("mime must be auto, png or jpeg");
        if (opts.latency_ms < 0) throw std::invalid_argument("latency_ms must not be negative");
        if (opts.rpm_limit < 0 || opts.tpm_limit < 0 || opts.ipm_limit < 0 || opts.rpd_limit < 0)
            throw std::invalid_argument("quota limits must not be negative");
        if (opts.quota_tier != "free" && opts.quota_tier != "paid")
            throw std::invalid_argument("quota_tier must be free or paid");
        if (opts.batch_ms < 0) throw std::invalid_argument("batch_ms must not be negative");
        if (!opts.script_json.empty()) scheduler.load(parse_script(opts.script_json));
    }

    BatchHooks batch_hooks();
    Reply batch_reply(const Route& route, const httplib::Request& req);
    Reply answer_entry(const Route& route, std::string_view body, std::uint64_t n, const std::optional<ScriptEntry>& entry);
    void start();
    void stop();
    void handle(const httplib::Request& req, httplib::Response& res);
    Reply handle_control(const Route& route, const httplib::Request& req);
    Reply decide(const Route& route, const httplib::Request& req, std::uint64_t n, const std::optional<ScriptEntry>& entry);
    Reply answer_normally(const Route& route, const httplib::Request& req, std::uint64_t n);
    Reply generate(const Route& route, const GenerateParams& params, std::uint64_t n);
    std::optional<Reply> refuse_over_quota(const Route& route, const GenerateParams& params, const Credentials& caller);
    AnswerImages render_images(const GenerateParams& params, std::string_view force_mime);
    std::string output_mime(const GenerateParams& params, std::string_view force_mime) const;
    void finish_headers(Reply& reply, Clock::time_point start, const httplib::Request& req);
    void compress_if_accepted(Reply& reply, const httplib::Request& req) const;
    void record(const httplib::Request& req, const std::optional<Route>& route, std::uint64_t n, double arrival_ms,
                const Reply& reply);
    void deliver(Reply reply, httplib::Response& res);
    void log_line(const httplib::Request& req, const httplib::Response& res);
    nlohmann::json log_snapshot() const;
    nlohmann::json take_log();

    struct LazySource;
};

namespace {

AnswerContext fault_context(const Route& route, std::string_view body, std::uint64_t n) {
    if (route.is_generation()) {
        auto parsed = parse_generate_request(body, route, /*decode_images=*/false);
        if (auto* p = std::get_if<GenerateParams>(&parsed)) return make_answer_context(*p, route, n);
    }
    return fallback_answer_context(route, n);
}

Credentials credentials_of(const httplib::Request& req) {
    Credentials c;
    c.api_key = req.get_header_value("x-goog-api-key");
    if (c.api_key.empty()) c.api_key = query_value(parse_query(req.target), "key").value_or("");
    c.authorization = req.get_header_value("Authorization");
    return c;
}

// The quota pool a request draws on: its credential (keys and tokens are never shown).
std::string quota_caller(const Route& route, const Credentials& creds) {
    if (route.api == Api::Vertex) return "bearer:" + bearer_token_of(creds.authorization);
    return "key:" + creds.api_key;
}

}  // namespace

// The request's parameters for fault builders, parsed only when a fault needs them.
struct Server::Impl::LazySource final : public AnswerSource {
    LazySource(Impl& impl, const Route& route, std::string_view body)
        : impl_(impl), route_(route), body_(body) {}

    const GenerateParams& params() override {
        if (!params_) {
            auto parsed = parse_generate_request(body_, route_);
            if (auto* p = std::get_if<GenerateParams>(&parsed)) params_ = std::move(*p);
            else params_ = stand_in();
        }
        return *params_;
    }

    AnswerImages images(std::string_view force_mime) override {
        GenerateParams p = params();
        p.want_image = true;
        p.include_thoughts = false;
        return impl_.render_images(p, force_mime);
    }

    std::shared_ptr<const EncodedImage> blank_png() override {
        const GenerateParams& p = params();
        auto size = output_size(p.model, p.aspect, p.image_size).value_or(PixelSize{1024, 1024});
        std::uint64_t hue = fnv1a64(p.prompt, p.seed);
        std::uint64_t key = splitmix64(hue ^ 0xB1A4Cull ^ (static_cast<std::uint64_t>(size.width) << 20) ^
                                       static_cast<std::uint64_t>(size.height));
        auto grey = static_cast<std::uint8_t>(96 + hue % 64);
        return impl_.cache.get(key, [&] {
            return make_encoded(flat_raster(size.width, size.height, grey, grey, grey), "image/png", 0);
        });
    }

    // The request did not parse: answer as if it asked for an empty prompt at the defaults.
    GenerateParams stand_in() const {
        GenerateParams p;
        const ModelInfo* info = find_model(route_.model);
        p.model = std::string(info ? info->id : kModelFlash);
        p.aspect = "1:1";
        if (info && info->supports_image_size) p.image_size = "1K";
        return p;
    }

    Impl& impl_;
    const Route& route_;
    std::string_view body_;
    std::optional<GenerateParams> params_;
};

std::string Server::Impl::output_mime(const GenerateParams& params, std::string_view force_mime) const {
    if (!force_mime.empty()) return std::string(force_mime);
    if (!params.output_mime.empty()) return params.output_mime;
    if (opts.mime == "png") return "image/png";
    if (opts.mime == "jpeg") return "image/jpeg";
    const ModelInfo* info = find_model(params.model);
    return std::string(info ? info->default_mime : "image/png");
}

AnswerImages Server::Impl::render_images(const GenerateParams& params, std::string_view force_mime) {
    AnswerImages out;
    if (!params.want_image) return out;
    auto size = output_size(params.model, params.aspect, params.image_size).value_or(PixelSize{1024, 1024});
    SceneSpec spec;
    spec.prompt = params.prompt;
    spec.seed = params.seed;
    spec.model = params.model;
    spec.aspect = params.aspect;
    spec.image_size = params.image_size;
    spec.width = size.width;
    spec.height = size.height;
    spec.grain = opts.grain;
    spec.inputs = params.edit_inputs;
    spec.mode = params.mode;
    spec.cutout_key = params.cutout_key;
    const std::string mime = output_mime(params, force_mime);
    const int quality = params.jpeg_quality > 0 ? params.jpeg_quality : 90;
    auto cached = [&](const SceneSpec& s) {
        std::uint64_t key = splitmix64(scene_hash(s) ^ fnv1a64(mime) ^ static_cast<std::uint64_t>(quality));
        return cache.get(key, [&] {
            nlohmann::json note;
            EncodedImage e = make_encoded(render_scene(s, &note), mime, quality);
            e.note = std::move(note);
            return e;
        });
    };
    out.image = cached(spec);
    const ModelInfo* info = find_model(params.model);
    if (params.include_thoughts && info && info->thinking) {
        // The interim thought image: the same scene, uncaptioned, at a quarter of the size.
        SceneSpec draft = spec;
        draft.draft = true;
        draft.width = std::max(1, spec.width / 4);
        draft.height = std::max(1, spec.height / 4);
        out.draft = cached(draft);
    }
    return out;
}

Reply Server::Impl::generate(const Route& route, const GenerateParams& params, std::uint64_t n) {
    AnswerContext ctx = make_answer_context(params, route, n);
    AnswerImages images = render_images(params, "");
    Chunks chunks = build_answer(ctx, params, images, route.framing());
    Reply r = text_chunks_reply(200, serialize(chunks, route.framing()), route.framing());
    r.generated = true;
    if (images.image) r.render_note = images.image->note;
    return r;
}

std::optional<Reply> Server::Impl::refuse_over_quota(const Route& route, const GenerateParams& params,
                                                     const Credentials& caller) {
    const ModelInfo* info = find_model(params.model);
    QuotaCost cost;
    cost.input_tokens = params.prompt_text_tokens + params.input_images * (info ? info->input_image_tokens : 0);
    cost.output_images = params.want_image ? 1 : 0;   // one candidate is answered, with one image
    std::optional<QuotaRefusal> refusal;
    {
        std::lock_guard lock(mu);
        refusal = quota.admit(quota_caller(route, caller), params.model, cost, clock->now(), clock->wall());
    }
    if (!refusal) return std::nullopt;
    const QuotaTier tier = opts.quota_tier == "paid" ? QuotaTier::Paid : QuotaTier::Free;
    Reply r = error_reply(quota_refused(tier, refusal->breaches, params.model, refusal->retry_after), route.framing());
    r.fault = quota_fault_label(*refusal);
    return r;
}

BatchHooks Server::Impl::batch_hooks() {
    BatchHooks h;
    h.clock = clock;
    h.batch_ms = opts.batch_ms;
    h.draw = [this](const std::string& model, std::size_t count, std::vector<std::optional<ScriptEntry>>& entries) {
        std::lock_guard lock(mu);
        entries.clear();
        for (std::size_t i = 0; i < count; ++i) entries.push_back(scheduler.next(model));
        return scheduler.next_batch_end();
    };
    h.answer = [this](const Route& route, std::string_view body, std::uint64_t n, const std::optional<ScriptEntry>& entry) {
        return answer_entry(route, body, n, entry);
    };
    return h;
}

// One batch entry, answered as generateContent would answer it: script faults and custom replies
// apply; delivery faults (stalls, resets, trickles) mean nothing inside a batch and are ignored.
Reply Server::Impl::answer_entry(const Route& route, std::string_view body, std::uint64_t n,
                                 const std::optional<ScriptEntry>& entry) {
    auto normally = [&] {
        auto parsed = parse_generate_request(body, route);
        if (auto* err = std::get_if<ApiError>(&parsed)) return error_reply(*err, Framing::Unary);
        return generate(route, std::get<GenerateParams>(parsed), n);
    };
    if (!entry || entry->kind == ScriptEntry::Kind::Pass) return normally();
    if (entry->kind == ScriptEntry::Kind::Custom) return custom_reply(*entry, Framing::Unary);
    const FaultSpec* spec = find_fault(entry->fault);
    if (!spec || !spec->build) return normally();
    LazySource source(*this, route, body);
    FaultInput in{route, fault_context(route, body, n), entry->arg, entry->retry_delay, source};
    return spec->build(in);
}

Reply Server::Impl::batch_reply(const Route& route, const httplib::Request& req) {
    const Credentials creds = credentials_of(req);
    // On an upload session URL the session id is the credential, as with the API.
    const bool session = route.rpc == Rpc::UploadFile && query_value(parse_query(req.target), "upload_id");
    if (!session)
        if (auto err = check_auth(route, creds, auth)) return error_reply(*err, Framing::Unary);
    std::string host = req.get_header_value("Host");
    BatchCall call{route,
                   req.target,
                   req.body,
                   [&req](const std::string& name) { return req.get_header_value(name.c_str()); },
                   quota_caller(route, creds),
                   "http://" + (host.empty() ? opts.host + ":" + std::to_string(port) : host)};
    return batches.handle(call);
}

Reply Server::Impl::answer_normally(const Route& route, const httplib::Request& req, std::uint64_t n) {
    const Framing framing = route.framing();
    if (route.is_batch_or_file()) return batch_reply(route, req);
    if (auto err = check_auth(route, credentials_of(req), auth)) return error_reply(*err, framing);
    switch (route.rpc) {
        case Rpc::ListModels: {
            const QueryParams query = parse_query(req.target);
            int page_size = 50;
            if (auto size_param = query_value(query, "pageSize")) {
                const std::string v = *size_param;
                char* end = nullptr;
                long size = std::strtol(v.c_str(), &end, 10);
                if (v.empty() || *end != '\0' || size < 0)
                    return error_reply(bad_request("page_size", "Invalid value at 'page_size' (TYPE_INT32), \"" + v + "\""), framing);
                page_size = size == 0 ? 50 : static_cast<int>(std::min(size, 1000L));
            }
            int first = 0;
            if (auto token = query_value(query, "pageToken"); token && !token->empty()) {
                auto index = index_from_page_token(*token);
                if (!index) return error_reply(bad_request("page_token", "Invalid page token."), framing);
                first = *index;
            }
            int next = -1;
            return json_reply(200, {models_list_json(page_size, first, next)}, framing);
        }
        case Rpc::GetModel: {
            auto model = model_json(route.model);
            if (!model) return error_reply(model_not_found(route), framing);
            return json_reply(200, {*model}, framing);
        }
        case Rpc::CountTokens: {
            auto parsed = parse_count_tokens_request(req.body, route);
            if (auto* err = std::get_if<ApiError>(&parsed)) return error_reply(*err, framing);
            return json_reply(200, {count_tokens_json(std::get<GenerateParams>(parsed))}, framing);
        }
        case Rpc::GenerateContent:
        case Rpc::StreamGenerateContent: {
            auto parsed = parse_generate_request(req.body, route);
            if (auto* err = std::get_if<ApiError>(&parsed)) return error_reply(*err, framing);
            if (auto refused = refuse_over_quota(route, std::get<GenerateParams>(parsed), credentials_of(req))) return *refused;
            if (auto flaky = flaky_match(std::get<GenerateParams>(parsed).prompt, {opts.blank_when, opts.blank_over_subjects})) {
                const FaultSpec* spec = find_fault(opts.flaky_answer == "no_image" ? "no_image" : "blank_image");
                LazySource source(*this, route, req.body);
                FaultInput in{route, fault_context(route, req.body, n), "", std::nullopt, source};
                Reply r = spec->build(in);
                r.fault = "flaky " + *flaky;
                return r;
            }
            return generate(route, std::get<GenerateParams>(parsed), n);
        }
        case Rpc::Control: break;
        default: break;   // batch and file routes: answered above
    }
    return html_not_found(req.path);
}

Reply Server::Impl::decide(const Route& route, const httplib::Request& req, std::uint64_t n,
                           const std::optional<ScriptEntry>& entry) {
    if (!entry) return answer_normally(route, req, n);
    Reply r;
    switch (entry->kind) {
        case ScriptEntry::Kind::Pass:
            r = answer_normally(route, req, n);
            break;
        case ScriptEntry::Kind::Custom:
            r = custom_reply(*entry, route.framing());
            break;
        case ScriptEntry::Kind::Fault: {
            const FaultSpec* spec = find_fault(entry->fault);
            if (spec->build) {
                LazySource source(*this, route, req.body);
                FaultInput in{route, fault_context(route, req.body, n), entry->arg, entry->retry_delay, source};
                r = spec->build(in);
            } else {
                r = answer_normally(route, req, n);
                r.mods = spec->transport(entry->arg);
            }
            break;
        }
    }
    for (const auto& h : entry->headers)
        if (to_lower(h.first) != "content-type") r.headers.push_back(h);
    r.mods.merge_from(entry->mods);
    if (entry->kind != ScriptEntry::Kind::Pass) r.fault = entry->label();   // pass keeps "pass" or a quota refusal
    return r;
}

Reply Server::Impl::handle_control(const Route& route, const httplib::Request& req) {
    if (route.control == "script") {
        try {
            Script script = parse_script(req.body);
            std::lock_guard lock(mu);
            scheduler.load(std::move(script));
            return control_json(200, {{"ok", true}, {"queued", scheduler.queued()}});
        } catch (const std::invalid_argument& e) {
            return control_json(400, {{"error", {{"code", 400}, {"message", e.what()}, {"status", "INVALID_ARGUMENT"}}}});
        }
    }
    if (route.control == "reset") {
        std::lock_guard lock(mu);
        scheduler.clear();
        quota.clear();
        log.clear();
        counter = 0;
        batches.clear();
        return control_json(200, {{"ok", true}});
    }
    if (route.control == "quota") {
        // GET: the limits in force. POST {"rpm": N, ...}: the limits named change (0 = off), the
        // others stay; the counts stay too (reset clears them).
        std::lock_guard lock(mu);
        QuotaLimits l = quota.limits();
        if (req.method == "POST") {
            nlohmann::json body = nlohmann::json::parse(req.body.empty() ? std::string("{}") : req.body, nullptr, false);
            std::string problem;
            if (!body.is_object()) problem = "the body must be a JSON object such as {\"rpm\": 5}";
            QuotaLimits next = l;
            if (problem.empty()) {
                for (const auto& [name, value] : body.items()) {
                    int* slot = name == "rpm" ? &next.rpm : name == "tpm" ? &next.tpm : name == "ipm" ? &next.ipm
                              : name == "rpd" ? &next.rpd : nullptr;
                    if (!slot) problem = "unknown field \"" + name + "\"; known: rpm, tpm, ipm, rpd";
                    else if (!value.is_number_integer() || value.get<long long>() < 0 || value.get<long long>() > 1000000000)
                        problem = "\"" + name + "\" must be a whole number from 0 (off) to 1000000000";
                    else *slot = value.get<int>();
                    if (!problem.empty()) break;
                }
            }
            if (!problem.empty())
                return control_json(400, {{"error", {{"code", 400}, {"message", "quota: " + problem}, {"status", "INVALID_ARGUMENT"}}}});
            quota.set_limits(next);
            l = next;
        }
        return control_json(200, {{"ok", true}, {"rpm", l.rpm}, {"tpm", l.tpm}, {"ipm", l.ipm}, {"rpd", l.rpd}});
    }
    if (route.control == "requests") {
        Reply r;
        r.google_headers = false;
        r.segments.push_back(log_snapshot().dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
        return r;
    }
    return control_json(200, {{"ok", true}});
}

void Server::Impl::finish_headers(Reply& reply, Clock::time_point start, const httplib::Request& req) {
    Headers h;
    h.emplace_back("Date", http_date(std::chrono::system_clock::now()));
    if (reply.google_headers) {
        // What Google's front end sends with every API answer (seen in published header dumps).
        h.emplace_back("Vary", "Origin");
        h.emplace_back("Vary", "X-Origin");
        h.emplace_back("Vary", "Referer");
        h.emplace_back("Server", "scaffolding on HTTPServer2");
        h.emplace_back("X-XSS-Protection", "0");
        h.emplace_back("X-Frame-Options", "SAMEORIGIN");
        h.emplace_back("X-Content-Type-Options", "nosniff");
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
        h.emplace_back("Server-Timing", "gfet4t7; dur=" + std::to_string(ms));
    }
    for (auto& extra : reply.headers) h.push_back(std::move(extra));
    reply.headers = std::move(h);
    // Error bodies are small and may echo what the client sent (a model id, a field name):
    // make sure no key ever goes back out in one.
    if (reply.status >= 400 && reply.body_size() < (64u << 10)) {
        const auto secrets = request_secrets(req, opts.api_key);
        for (auto& s : reply.segments) s = scrub_text(s, secrets);
    }
}

// Like the front end: gzip when the client accepts it. Faults then cut and stall the compressed
// bytes, which is what a client meets on the wire.
void Server::Impl::compress_if_accepted(Reply& reply, const httplib::Request& req) const {
    if (!opts.gzip || reply.empty_reply || reply.body_size() == 0) return;
    if (!accepts_gzip(req.get_header_value("Accept-Encoding"))) return;
    for (const auto& [name, value] : reply.headers)
        if (to_lower(name) == "content-encoding") return;   // a script chose the encoding
    reply.segments = gzip_segments(reply.segments);
    reply.headers.emplace_back("Content-Encoding", "gzip");
    reply.headers.emplace_back("Vary", "Accept-Encoding");
}

void Server::Impl::record(const httplib::Request& req, const std::optional<Route>& route, std::uint64_t n,
                          double arrival_ms, const Reply& reply) {
    LoggedRequest r;
    r.n = n;
    r.method = req.method;
    r.target = req.target;
    r.path = req.path;
    r.headers = headers_of(req);
    r.body = req.body;
    if (route && !route->model.empty()) r.model = canonical_model_id(route->model);
    r.arrival_ms = arrival_ms;
    bool reset_first = reply.mods.reset.value_or(false) && reply.mods.reset_at && reply.mods.reset_at->before_headers();
    r.status = reply.empty_reply || reset_first ? 0 : reply.status;
    r.fault = reply.fault;
    r.render = reply.render_note;
    auto entry = log_entry(r, opts.api_key);
    std::lock_guard lock(mu);
    log.push_back(std::move(entry));
    if (log.size() > kMaxLogEntries) log.pop_front();   // a long-running server must not grow forever
}

void Server::Impl::deliver(Reply reply, httplib::Response& res) {
    Connection* conn = tl_connection;
    int wait = reply.mods.delay_ms.value_or(0) + (reply.generated ? opts.latency_ms : 0);
    if (!sleep_unless_stopped(wait, stopping) || reply.empty_reply) {
        if (conn) conn->dead = true;   // nothing is sent; the loop closes the socket (FIN)
        tl_note.ending = "closed";
        return;
    }
    if (reply.mods.reset.value_or(false) && reply.mods.reset_at && reply.mods.reset_at->before_headers()) {
        if (conn) conn->dead = conn->reset = true;
        tl_note.ending = "reset";
        return;
    }
    res.status = reply.status;
    for (const auto& [name, value] : reply.headers) res.headers.emplace(name, value);

    std::vector<std::size_t> sizes;
    for (const auto& s : reply.segments) sizes.push_back(s.size());
    auto steps = std::make_shared<std::vector<Step>>(plan_delivery(sizes, reply.mods));
    const std::size_t total = reply.body_size();
    auto body = std::make_shared<std::vector<std::string>>(std::move(reply.segments));
    const std::atomic<bool>& stop = stopping;

    // Runs the plan once; returns whether the body went out completely.
    auto run = [steps, body, &stop](httplib::DataSink& sink) {
        auto write_range = [&](std::size_t begin, std::size_t end) {
            std::size_t seg_start = 0;
            for (const auto& seg : *body) {
                std::size_t seg_end = seg_start + seg.size();
                std::size_t b = std::max(begin, seg_start), e = std::min(end, seg_end);
                if (b < e && !sink.write(seg.data() + (b - seg_start), e - b)) return false;
                seg_start = seg_end;
            }
            return true;
        };
        for (const Step& step : *steps) {
            switch (step.kind) {
                case Step::Kind::Write:
                    if (!write_range(step.begin, step.end)) return false;
                    break;
                case Step::Kind::Sleep:
                    if (!sleep_unless_stopped(step.ms, stop)) {
                        if (tl_connection) tl_connection->dead = true;
                        tl_note.ending = "cut";
                        return false;
                    }
                    break;
                case Step::Kind::Reset:
                    if (tl_connection) tl_connection->dead = tl_connection->reset = true;
                    tl_note.ending = "RST";
                    return false;
                case Step::Kind::Close:
                    if (tl_connection) tl_connection->dead = true;
                    tl_note.ending = "cut";
                    return false;
            }
        }
        return true;
    };

    const bool plain = steps->size() == 1 && steps->front().kind == Step::Kind::Write;
    if (total == 0 && plain) {
        res.set_content("", reply.content_type);
    } else if (reply.chunked || total == 0) {
        res.set_chunked_content_provider(reply.content_type, [run](size_t, httplib::DataSink& sink) {
            if (!run(sink)) return false;
            sink.done();
            return true;
        });
    } else {
        // Content-Length is the whole body even when the plan stops early: that is a truncation.
        res.set_content_provider(total, reply.content_type, [run](size_t offset, size_t, httplib::DataSink& sink) {
            return offset == 0 && run(sink);
        });
    }
}

void Server::Impl::handle(const httplib::Request& req, httplib::Response& res) {
    const auto start = Clock::now();
    const bool alt_sse = query_value(parse_query(req.target), "alt") == "sse";
    const auto route = parse_route(req.method, req.path, alt_sse);
    tl_note = LogNote{true, 0, "control", start, ""};
    if (route && route->api == Api::Control) {
        Reply reply = handle_control(*route, req);
        finish_headers(reply, start, req);
        compress_if_accepted(reply, req);
        deliver(std::move(reply), res);
        return;
    }

    // Number the request and take its script entry together, so entries go out in arrival order.
    std::uint64_t n = 0;
    double arrival_ms = 0;
    std::optional<ScriptEntry> entry;
    {
        std::lock_guard lock(mu);
        n = ++counter;
        arrival_ms = std::chrono::duration<double, std::milli>(start - started_at).count();
        arrival_ms = std::round(arrival_ms * 1000) / 1000;
        if (route && route->is_generation()) entry = scheduler.next(route->model);
    }
    Reply reply = route ? decide(*route, req, n, entry) : html_not_found(req.path);

    // X-Server-Timeout: the API gives up on a generation that takes longer than the client's
    // declared timeout and answers 504 at that point.
    if (reply.generated && req.has_header("X-Server-Timeout") && route) {
        double limit_s = std::strtod(req.get_header_value("X-Server-Timeout").c_str(), nullptr);
        if (limit_s > 0 && opts.latency_ms > limit_s * 1000) {
            std::string fault = reply.fault;
            reply = error_reply(deadline_exceeded(), route->framing());
            reply.fault = fault;
            reply.mods.delay_ms = static_cast<int>(limit_s * 1000);
        }
    }
    tl_note = LogNote{true, n, reply.fault, start, ""};
    finish_headers(reply, start, req);
    record(req, route, n, arrival_ms, reply);
    compress_if_accepted(reply, req);
    deliver(std::move(reply), res);
}

namespace {

// Entries are recorded when answered; the log lists them in arrival order.
nlohmann::json in_arrival_order(std::vector<nlohmann::json> entries) {
    std::sort(entries.begin(), entries.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
        return a["n"].get<std::uint64_t>() < b["n"].get<std::uint64_t>();
    });
    return nlohmann::json(std::move(entries));
}

}  // namespace

nlohmann::json Server::Impl::log_snapshot() const {
    std::vector<nlohmann::json> entries;
    {
        std::lock_guard lock(mu);
        entries.assign(log.begin(), log.end());
    }
    return in_arrival_order(std::move(entries));
}

nlohmann::json Server::Impl::take_log() {
    std::vector<nlohmann::json> entries;
    {
        std::lock_guard lock(mu);
        entries.assign(std::make_move_iterator(log.begin()), std::make_move_iterator(log.end()));
        log.clear();
    }
    return in_arrival_order(std::move(entries));
}

void Server::Impl::log_line(const httplib::Request& req, const httplib::Response& res) {
    if (!opts.on_log) return;
    LogNote note = tl_note;
    tl_note = LogNote{};
    auto ms = note.set ? std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - note.start).count() : 0;
    std::string status = note.ending == "closed" || note.ending == "reset"
                             ? note.ending
                             : std::to_string(res.status) + (note.ending.empty() ? "" : "/" + note.ending);
    std::string line = (note.n ? "#" + std::to_string(note.n) + " " : std::string()) + req.method + " " +
                       scrub_text(req.path, request_secrets(req, opts.api_key)) + " " + status + " " +
                       (note.set ? note.fault : std::string("-")) + " " + std::to_string(ms) + "ms";
    opts.on_log(line);
}

void Server::Impl::start() {
    if (running) return;
    stopping = false;
    http = std::make_unique<HttpServer>(stopping);
    const int threads = opts.threads;
    http->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
    http->set_read_timeout(kReadTimeoutMs / 1000);
    http->set_write_timeout(kWriteTimeoutMs / 1000);
    http->set_keep_alive_timeout(kKeepAliveSec);
    http->set_keep_alive_max_count(kKeepAliveMaxRequests);
    http->set_payload_max_length(64u << 20);
    // SO_REUSEADDR only: httplib's default SO_REUSEPORT would let two servers share a port.
    http->set_socket_options([](socket_t sock) {
        int one = 1;
        ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    });
    httplib::Server::Handler handler = [this](const httplib::Request& req, httplib::Response& res) { handle(req, res); };
    http->Get(".*", handler);
    http->Post(".*", handler);
    http->Put(".*", handler);
    http->Patch(".*", handler);
    http->Delete(".*", handler);
    http->Options(".*", handler);
    http->set_logger([this](const httplib::Request& req, const httplib::Response& res) { log_line(req, res); });
    http->set_exception_handler([this](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown exception";
        try {
            std::rethrow_exception(ep);
        } catch (const std::exception& e) {
            what = e.what();
        } catch (...) {
        }
        if (opts.on_log) opts.on_log("internal error: " + scrub_text(what, {opts.api_key}));
        res.status = 500;
        res.set_content(dump_for(error_json(internal_error()), Framing::Unary), kJsonType);
    });

    errno = 0;
    int bound = opts.port == 0 ? http->bind_to_any_port(opts.host)
                               : (http->bind_to_port(opts.host, opts.port) ? opts.port : -1);
    if (bound < 0) {
        std::string why = errno ? std::strerror(errno) : "address unavailable";
        http.reset();
        throw std::runtime_error("cannot listen on " + opts.host + ":" + std::to_string(opts.port) + ": " + why);
    }
    port = bound;
    http->widen_backlog();
    thread = std::thread([this] { http->listen_after_bind(); });
    while (!http->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    running = true;
}

void Server::Impl::stop() {
    if (!running) return;
    stopping = true;
    http->stop();
    thread.join();
    http.reset();
    running = false;
}

// --------------------------------------------------------------------------------------------

Server::Server(Options o) : impl_(std::make_unique<Impl>(std::move(o))) {}
Server::~Server() { stop(); }
void Server::start() { impl_->start(); }
void Server::stop() { impl_->stop(); }
int Server::port() const { return impl_->port; }

std::string Server::url() const {
    const std::string& host = impl_->opts.host;
    bool v6 = host.find(':') != std::string::npos;
    return "http://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(impl_->port);
}

void Server::set_script(std::string_view json) {
    Script script = parse_script(json);
    std::lock_guard lock(impl_->mu);
    impl_->scheduler.load(std::move(script));
}

void Server::reset() {
    std::lock_guard lock(impl_->mu);
    impl_->scheduler.clear();
    impl_->quota.clear();
    impl_->log.clear();
    impl_->counter = 0;
    impl_->batches.clear();
}

nlohmann::json Server::requests() const { return impl_->log_snapshot(); }

nlohmann::json Server::take_requests() { return impl_->take_log(); }

std::size_t Server::request_count() const {
    std::lock_guard lock(impl_->mu);
    return impl_->log.size();
}

}  // namespace nbcore::emulator
