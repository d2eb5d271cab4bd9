// Client::generate: the glue around the pure pieces. One request runs
//   validate -> [admit (breaker) -> attempt: encode, send (streaming decode), validate images,
//                classify -> record (breaker) -> plan: retry / fail over / downgrade / fail]* -> Result
// and every attempt is recorded and reported through events.
#include "nbcore/client.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <utility>

#include "nbcore/models.hpp"
#include "nbcore/redact.hpp"

namespace nbcore {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

std::string trim(std::string s) {
    auto not_space = [](unsigned char c) { return !std::isspace(c); };
    s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
    s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
    return s;
}

std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v ? trim(v) : std::string();
}

// One route as the engine holds it: its configuration, credentials and circuit breaker key.
struct RouteSlot {
    RouteConfig config;
    policy::Route planning;
    std::unique_ptr<RouteAuth> auth;
    std::string credential;   // what the breaker key fingerprints (key or project)
};

// Generation time grows with the image size; an attempt that has heard nothing for this long
// is treated as lost. 4K answers regularly take 60-120 s of silence.
milliseconds default_attempt_timeout(std::string_view image_size) {
    if (image_size == "4K") return milliseconds(420'000);
    if (image_size == "2K") return milliseconds(240'000);
    return milliseconds(180'000);
}

// Receives the reply as it streams. Error statuses are small: keep them raw for classification.
// Success bodies go through the streaming decoder so images are decoded as they arrive.
class ReplySink final : public net::BodySink {
public:
    ReplySink(const api::DecodeLimits& limits) : limits_(limits) {}

    void on_status(int status, const net::Headers& headers) override {
        status_ = status;
        headers_ = headers;
        if (status >= 200 && status < 300) {
            auto ctype = net::header_value(headers, "content-type");
            auto framing = ctype.find("event-stream") != std::string_view::npos ? api::Framing::Sse
                                                                                : api::Framing::Auto;
            decoder_ = std::make_unique<api::ReplyDecoder>(framing, limits_);
            auto clen = net::header_value(headers, "content-length");
            if (!clen.empty()) decoder_->expect_body_size(std::strtoull(std::string(clen).c_str(), nullptr, 10));
        }
    }

    bool on_body(const char* data, std::size_t n) override {
        if (decoder_) {
            if (decoder_->feed(data, n)) return true;
            stopped_on_decode_error_ = true;
            return false;
        }
        // Error bodies: keep the first MiB (real ones are a few KB; HTML pages a few more).
        constexpr std::size_t kErrorBodyCap = 1u << 20;
        if (raw_.size() < kErrorBodyCap) raw_.append(data, std::min(n, kErrorBodyCap - raw_.size()));
        return true;
    }

    int status() const { return status_; }
    const net::Headers& headers() const { return headers_; }
    api::ReplyDecoder* decoder() { return decoder_.get(); }
    const std::string& raw() const { return raw_; }
    bool stopped_on_decode_error() const { return stopped_on_decode_error_; }

private:
    api::DecodeLimits limits_;
    int status_ = 0;
    net::Headers headers_;
    std::unique_ptr<api::ReplyDecoder> decoder_;
    std::string raw_;
    bool stopped_on_decode_error_ = false;
};

// A failure decided on this side of the wire (no HTTP reply involved).
Diagnosis local_failure(Status code, std::string reason, std::string message, std::string advice) {
    Diagnosis d;
    d.code = code;
    d.reason = std::move(reason);
    d.message = std::move(message);
    d.advice = std::move(advice);
    return d;
}

constexpr const char* kDeadlineAdvice =
    "Allow a longer deadline, or use a smaller image size (2K and 1K answer faster than 4K).";
constexpr const char* kCancelledAdvice = "Nothing to do: the caller cancelled the request.";

}  // namespace

std::string api_key_from_env(bool* both_set) {
    std::string google = env("GOOGLE_API_KEY");
    std::string gemini = env("GEMINI_API_KEY");
    if (both_set) *both_set = !google.empty() && !gemini.empty();
    return !google.empty() ? google : gemini;
}

// What one attempt produced.
struct AttemptOutcome {
    Diagnosis diag;
    Reply reply;
    std::vector<image::Check> checks;    // per deliverable image
    std::vector<image::Pixels> pixels;   // kept when keep_pixels
    std::string secret;                  // the credential it used (for redaction)
    Execution execution = Execution::NotSent;
};

struct Client::Impl {
    ClientOptions opt;
    std::vector<RouteSlot> routes;
    policy::BreakerRegistry breakers;
    std::unique_ptr<policy::RetryBudget> budget;

    explicit Impl(ClientOptions o) : opt(std::move(o)), breakers(opt.breaker) {
        if (opt.api_key.empty()) opt.api_key = api_key_from_env();
        opt.api_key = trim(opt.api_key);
        if (opt.model.empty()) opt.model = std::string(kDefaultModel);
        if (!opt.transport) opt.transport = net::make_curl_transport();
        if (!opt.clock) opt.clock = SystemClock::instance();
        if (!opt.rng) opt.rng = std::make_shared<DefaultRng>();
        if (opt.retry.max_attempts < 1) throw_invalid_arg("retry.max_attempts must be at least 1");
        if (opt.retry_budget) budget = std::make_unique<policy::RetryBudget>(*opt.retry_budget);

        auto configs = opt.routes.empty() ? default_routes(opt.base_url) : opt.routes;
        for (auto& c : configs) {
            RouteSlot slot;
            slot.config = resolve_route(std::move(c), opt.api_key);
            for (const auto& other : routes)
                if (other.config.name == slot.config.name)
                    throw_invalid_arg("two routes are named \"" + slot.config.name + "\"; give each a distinct name");
            slot.planning = planning_route(slot.config);
            slot.auth = std::make_unique<RouteAuth>(slot.config, opt.clock);
            bool oauth = slot.config.kind == RouteKind::Vertex && !slot.config.project.empty();
            slot.credential = oauth ? "project:" + slot.config.project : slot.config.api_key;
            routes.push_back(std::move(slot));
        }
    }

    void emit(const Event& ev) const {
        if (opt.on_event) opt.on_event(ev);
    }

    std::shared_ptr<policy::CircuitBreaker> breaker(std::size_t route, const std::string& model) {
        return breakers.get(routes[route].config.name, model, routes[route].credential);
    }

    std::vector<policy::RouteView> route_views(const std::string& model, SteadyTime now) {
        std::vector<policy::RouteView> views;
        views.reserve(routes.size());
        for (std::size_t i = 0; i < routes.size(); ++i)
            views.push_back({routes[i].planning, breaker(i, model)->peek(now)});
        return views;
    }

    AttemptOutcome attempt(std::size_t route, const std::string& model, const Request& req,
                           const std::string& body, milliseconds timeout, bool capped_by_deadline,
                           milliseconds total_budget, int number, const CancelToken* cancel);

    // Every route refuses for longer than the request may wait: report why the first route is
    // closed. A hold keeps its cause's class (a per-day quota stays QUOTA_EXHAUSTED); a breaker
    // opened by failures reports UNAVAILABLE. Nothing is sent.
    Diagnosis refused_by_breakers(const std::string& model, milliseconds wait) {
        auto cause = breaker(0, model)->cause();
        const std::string& route = routes[0].config.name;
        Diagnosis d;
        bool held = cause && (cause->code == Status::RATE_LIMITED || cause->code == Status::QUOTA_EXHAUSTED);
        if (held) {
            d = *cause;
            d.message = "not sent: route " + route + " is held after an earlier " +
                        std::string(status_name(cause->code)) + " (" + cause->message + ")";
            if (cause->dimension == Dimension::ZERO) d.retry_after.reset();   // waiting cannot help
            else d.retry_after = wait;
            return d;
        }
        d = local_failure(Status::UNAVAILABLE, "CIRCUIT_OPEN",
                          "not sent: every route's circuit breaker is open after repeated failures" +
                              (cause ? ", last " + std::string(status_name(cause->code)) + " on " + route
                                     : std::string()),
                          "Wait for retry_after, or add another route (another region or Vertex AI) so "
                          "requests can fail over.");
        d.retry_after = wait;
        d.retryable = true;
        return d;
    }

    Result generate(const Request& req, const CallOptions& call);
};

AttemptOutcome Client::Impl::attempt(std::size_t route, const std::string& model, const Request& req,
                                     const std::string& body, milliseconds timeout,
                                     bool capped_by_deadline, milliseconds total_budget, int number,
                                     const CancelToken* cancel) {
    AttemptOutcome out;
    RouteSlot& slot = routes[route];

    net::HttpRequest http;
    http.url = route_url(slot.config, model, opt.stream);
    http.body = body;
    http.timeouts = opt.timeouts;
    http.timeouts.total = timeout;
    if (http.timeouts.idle.count() == 0) http.timeouts.idle = milliseconds(60'000);
    // The server enforces the same budget (X-Server-Timeout, seconds), like the official SDKs.
    auto server_timeout_s = (timeout.count() + 999) / 1000;
    try {
        slot.auth->add_headers(http.headers);
    } catch (const Error& e) {
        out.diag = e.diagnosis();   // no credential: the attempt is not sent
        return out;
    }
    out.secret = slot.auth->current_secret();
    http.headers.emplace_back("Content-Type", "application/json");
    http.headers.emplace_back("x-goog-api-client", "nbcore/0.1.0");
    http.headers.emplace_back("X-Server-Timeout", std::to_string(server_timeout_s));

    ReplySink sink(opt.decode_limits);
    net::TransportResult tr = opt.transport->send(http, sink, cancel);
    out.execution = tr.response_started ? Execution::Executed
                    : tr.request_sent   ? Execution::PossiblyExecuted
                                        : Execution::NotSent;

    net::TransportResult effective = tr;
    std::string decode_error;
    bool over_limit = false;
    bool have_reply = false;
    std::string skeleton;
    if (auto* dec = sink.decoder()) {
        if (tr.error == net::TransportErrorKind::Aborted && sink.stopped_on_decode_error()) {
            // We stopped the transfer ourselves because the body was malformed or too big.
            over_limit = dec->over_limit();
            if (!over_limit) effective.error = net::TransportErrorKind::None;
            decode_error = dec->error();
        } else if (tr.error == net::TransportErrorKind::None) {
            if (dec->finish()) {
                out.reply = dec->take();
                have_reply = true;
            } else {
                decode_error = dec->error();
                over_limit = dec->over_limit();
            }
        }
        skeleton = dec->skeleton();
    }

    // Validate every image we would deliver; the first failure decides.
    const image::Check* failed_image = nullptr;
    if (have_reply && effective.error == net::TransportErrorKind::None) {
        auto deliver = deliverable_images(out.reply);
        out.checks.reserve(deliver.size());
        out.pixels.resize(deliver.size());
        for (std::size_t i = 0; i < deliver.size(); ++i) {
            const Blob& b = *deliver[i]->data;
            out.checks.push_back(image::check(b.data(), b.size(), opt.image_limits, opt.blank_rules,
                                              opt.keep_pixels ? &out.pixels[i] : nullptr));
            if (!out.checks.back().ok && !failed_image) failed_image = &out.checks.back();
        }
    }

    policy::Observation obs;
    obs.transport = &effective;
    obs.http_status = sink.status();
    obs.headers = &sink.headers();
    obs.body = sink.decoder() ? std::string_view(skeleton) : std::string_view(sink.raw());
    obs.reply = have_reply ? &out.reply : nullptr;
    obs.decode_error = decode_error;
    obs.decode_over_limit = over_limit;
    obs.failed_image = failed_image;
    obs.model = model;
    obs.image_size = req.image_size;
    obs.server_timeout_sent = milliseconds(server_timeout_s * 1000);
    out.diag = policy::classify(obs, opt.clock->wall());
    if (out.diag.http_status == 0) out.diag.http_status = sink.status();
    if (capped_by_deadline && out.diag.code == Status::TIMEOUT &&
        tr.error == net::TransportErrorKind::TotalTimeout) {
        out.diag.code = Status::DEADLINE;
        out.diag.retryable = false;
        out.diag.message = "the deadline of " + std::to_string(total_budget.count()) +
                           " ms ran out during attempt " + std::to_string(number);
        out.diag.advice = kDeadlineAdvice;
    }
    return out;
}

Result Client::Impl::generate(const Request& req_in, const CallOptions& call) {
    Clock& clock = *opt.clock;
    const SteadyTime started = clock.now();
    auto elapsed = [&] { return duration_cast<milliseconds>(clock.now() - started); };

    const std::string model = canonical_model_id(req_in.model.empty() ? opt.model : req_in.model);
    validate_request(req_in, model);

    milliseconds total_budget = call.deadline.count() > 0 ? call.deadline : opt.deadline;
    std::optional<SteadyTime> deadline;
    if (total_budget.count() > 0) deadline = started + total_budget;

    Request req = req_in;   // the image size may be downgraded; images are shared, not copied
    std::string body = api::encode_request(req);
    std::vector<Attempt> attempts;
    policy::RetryState state;
    std::size_t current = 0;
    std::string last_secret = opt.api_key;
    bool refreshed_token = false;
    if (budget) budget->on_request(clock.now());

    auto event = [&](EventKind kind, int number) {
        Event ev;
        ev.kind = kind;
        ev.attempt = number;
        ev.elapsed = elapsed();
        ev.route = routes[current].config.name;
        ev.image_size = req.image_size;
        return ev;
    };

    auto fail = [&](Diagnosis d) -> Error {
        d.message = redact(redact(d.message, opt.api_key), last_secret);
        d.advice = redact(d.advice, last_secret);
        Error e(std::move(d));
        e.attempts = attempts;
        e.route = attempts.empty() ? std::string() : attempts.back().route;
        Event done = event(EventKind::Done, static_cast<int>(attempts.size()));
        done.outcome = e.code();
        done.http_status = e.diagnosis().http_status;
        done.reason = e.diagnosis().reason;
        done.message = e.diagnosis().message;
        emit(done);
        return e;
    };

    // Start on the first route whose breaker admits; when none does, wait for the earliest.
    {
        auto now = clock.now();
        auto views = route_views(model, now);
        std::optional<std::size_t> open_route;
        SteadyTime earliest = SteadyTime::max();
        for (std::size_t i = 0; i < views.size(); ++i) {
            if (views[i].admission.allowed) { open_route = i; break; }
            earliest = std::min(earliest, views[i].admission.retry_at);
        }
        if (open_route) {
            current = *open_route;
        } else {
            // Waiting is worth it only if an attempt still has time to run afterwards.
            constexpr milliseconds kMinAttemptTime{1000};
            auto wait = duration_cast<milliseconds>(earliest - now);
            if ((deadline && earliest + kMinAttemptTime >= *deadline) || wait > opt.retry.max_wait)
                throw fail(refused_by_breakers(model, wait));
            if (!clock.sleep_until(earliest, call.cancel))
                throw fail(local_failure(Status::CANCELLED, "CANCELLED", "cancelled while every route was open",
                                         kCancelledAdvice));
        }
    }

    for (int number = 1;; ++number) {
        if (call.cancel && call.cancel->cancelled())
            throw fail(local_failure(Status::CANCELLED, "CANCELLED",
                                     "cancelled before attempt " + std::to_string(number), kCancelledAdvice));

        // Per-attempt timeout, never beyond the total deadline.
        milliseconds timeout = opt.timeouts.total.count() ? opt.timeouts.total : default_attempt_timeout(req.image_size);
        bool capped_by_deadline = false;
        if (deadline) {
            auto remaining = duration_cast<milliseconds>(*deadline - clock.now());
            if (remaining.count() <= 0)
                throw fail(local_failure(Status::DEADLINE, "DEADLINE",
                                         "the deadline of " + std::to_string(total_budget.count()) +
                                             " ms ran out before attempt " + std::to_string(number),
                                         kDeadlineAdvice));
            if (remaining < timeout) {
                timeout = remaining;
                capped_by_deadline = true;
            }
        }

        auto br = breaker(current, model);
        policy::Admission admission = br->admit(clock.now());

        Event start = event(EventKind::AttemptStart, number);
        start.message = "sending attempt " + std::to_string(number) + " to " + model;
        emit(start);

        const SteadyTime sent_at = clock.now();
        AttemptOutcome out = attempt(current, model, req, body, timeout, capped_by_deadline, total_budget,
                                     number, call.cancel);
        if (!out.secret.empty()) last_secret = out.secret;
        Diagnosis& diag = out.diag;
        diag.message = redact(redact(diag.message, opt.api_key), last_secret);

        auto transition = br->record(diag, clock.now(), admission.probe);

        Attempt a;
        a.number = number;
        a.route = routes[current].config.name;
        a.image_size = req.image_size;
        a.outcome = diag.code;
        a.http_status = diag.http_status;
        a.reason = diag.reason;
        a.server_delay = diag.retry_after;
        a.duration = duration_cast<milliseconds>(clock.now() - sent_at);
        a.execution = out.execution;
        attempts.push_back(a);

        Event end = event(EventKind::AttemptEnd, number);
        end.outcome = diag.code;
        end.http_status = a.http_status;
        end.reason = diag.reason;
        end.message = diag.code == Status::OK ? "ok" : diag.message;
        end.server_delay = diag.retry_after;
        emit(end);
        if (transition) {
            Event ev = event(EventKind::BreakerTransition, number);
            ev.message = std::string(policy::breaker_state_name(transition->from)) + " -> " +
                         std::string(policy::breaker_state_name(transition->to)) + ": " + transition->why;
            ev.outcome = diag.code;
            emit(ev);
        }

        if (diag.code == Status::OK) {
            Result res;
            auto deliver = deliverable_images(out.reply);
            for (std::size_t i = 0; i < deliver.size(); ++i) {
                ResultImage ri;
                ri.mime = deliver[i]->mime.empty() ? out.checks[i].mime : deliver[i]->mime;
                ri.data = deliver[i]->data;
                ri.width = out.checks[i].width;
                ri.height = out.checks[i].height;
                ri.channels = out.checks[i].channels;
                ri.stats = out.checks[i].stats;
                ri.thought_signature = deliver[i]->thought_signature;
                if (opt.keep_pixels)
                    ri.pixels = std::make_shared<const image::Pixels>(std::move(out.pixels[i]));
                res.images.push_back(std::move(ri));
            }
            res.text = std::move(out.reply.text);
            res.usage = std::move(out.reply.usage);
            res.model = model;
            res.model_version = std::move(out.reply.model_version);
            res.response_id = std::move(out.reply.response_id);
            res.finish_reason = std::move(out.reply.finish_reason);
            res.attempts = std::move(attempts);
            res.route = routes[current].config.name;
            res.image_size = req.image_size;
            res.elapsed = elapsed();
            Event done = event(EventKind::Done, number);
            done.outcome = Status::OK;
            emit(done);
            return res;
        }

        // An expired OAuth token: refresh it and try once more at once.
        if (diag.code == Status::AUTH && diag.http_status == 401 && !refreshed_token &&
            routes[current].config.kind == RouteKind::Vertex && !routes[current].config.project.empty() &&
            number < opt.retry.max_attempts) {
            refreshed_token = true;
            routes[current].auth->invalidate();
            Event retry = event(EventKind::RetryScheduled, number);
            retry.outcome = diag.code;
            retry.http_status = diag.http_status;
            retry.reason = diag.reason;
            retry.message = "refreshing the access token after 401";
            emit(retry);
            continue;
        }

        state.attempts_made = number;
        state.now = clock.now();
        state.deadline = deadline;
        auto views = route_views(model, state.now);
        policy::PlanInput in{diag, state, opt.retry};
        in.routes = views;
        in.current = current;
        in.image_size = req.image_size;
        in.downgrade_enabled = opt.downgrade_on_timeout;
        in.budget_allows_retry = !budget || budget->can_retry(state.now);
        policy::Plan p = policy::plan(in, *opt.rng);

        bool retry_like = p.action == policy::Plan::Action::Retry || p.action == policy::Plan::Action::Downgrade;
        if (retry_like && budget && !budget->try_retry(clock.now())) {
            p.action = policy::Plan::Action::Fail;
            p.fail_as = diag.code;
            p.why = "the retry budget is spent: retries are limited to a share of requests";
        }
        if (p.action == policy::Plan::Action::Fail || p.action == policy::Plan::Action::Done) {
            if (p.fail_as != Status::OK && p.fail_as != diag.code) diag.code = p.fail_as;
            if (p.retry_after && !diag.retry_after) diag.retry_after = p.retry_after;
            // Say why no retry follows when one could have been expected.
            if (!p.why.empty() && (number > 1 || diag.retryable)) diag.message += " (" + p.why + ")";
            throw fail(std::move(diag));
        }
        if (diag.code == Status::NO_IMAGE || diag.code == Status::BLANK_IMAGE) ++state.billed_retries;
        if (diag.code == Status::BAD_RESPONSE) ++state.bad_response_retries;
        attempts.back().chosen_delay = p.delay;

        if (p.action == policy::Plan::Action::FailOver) {
            Event ev = event(EventKind::FailOver, number);
            current = p.route;
            ev.route = routes[current].config.name;
            ev.outcome = diag.code;
            ev.message = p.why;
            emit(ev);
        } else if (p.action == policy::Plan::Action::Downgrade) {
            req.image_size = p.image_size;
            body = api::encode_request(req);
            Event ev = event(EventKind::Downgrade, number);
            ev.outcome = diag.code;
            ev.message = p.why;
            emit(ev);
        }

        Event retry = event(EventKind::RetryScheduled, number);
        retry.outcome = diag.code;
        retry.http_status = a.http_status;
        retry.reason = diag.reason;
        retry.message = p.why;
        retry.server_delay = diag.retry_after;
        retry.delay = p.delay;
        emit(retry);

        if (!clock.sleep_until(clock.now() + p.delay, call.cancel))
            throw fail(local_failure(Status::CANCELLED, "CANCELLED",
                                     "cancelled while waiting to retry after " + std::string(status_name(diag.code)),
                                     kCancelledAdvice));
    }
}

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Client::~Client() = default;

Result Client::generate(const Request& req, const CallOptions& call) { return impl_->generate(req, call); }

const ClientOptions& Client::options() const noexcept { return impl_->opt; }

std::vector<std::string> Client::route_names() const {
    std::vector<std::string> names;
    for (const auto& r : impl_->routes) names.push_back(r.config.name);
    return names;
}

std::vector<policy::BreakerSnapshot> Client::breakers() const {
    return impl_->breakers.snapshot(impl_->opt.clock->now());
}

}  // namespace nbcore
