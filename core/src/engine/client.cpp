// Client::generate: the glue around the pure pieces. One request runs
//   validate -> [attempt: encode, send (streaming decode), validate images, classify, decide]* -> Result
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

std::string strip_trailing_slash(std::string s) {
    while (!s.empty() && s.back() == '/') s.pop_back();
    return s;
}

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

struct Client::Impl {
    ClientOptions opt;
    std::string base_url;   // without trailing slash
    std::string route;

    explicit Impl(ClientOptions o) : opt(std::move(o)) {
        if (opt.api_key.empty()) opt.api_key = api_key_from_env();
        opt.api_key = trim(opt.api_key);
        if (opt.base_url.empty()) opt.base_url = env("GOOGLE_GEMINI_BASE_URL");
        base_url = strip_trailing_slash(opt.base_url.empty() ? std::string(kAiStudioBaseUrl) : opt.base_url);
        if (base_url.rfind("http://", 0) != 0 && base_url.rfind("https://", 0) != 0)
            throw_invalid_arg("base_url \"" + redact(base_url) + "\" must start with http:// or https://");
        if (base_url.rfind("http://", 0) == 0 && !net::is_loopback_url(base_url))
            throw_invalid_arg("base_url \"" + redact(base_url) +
                              "\" uses plain http to a non-loopback host; API keys are only sent over "
                              "https (plain http is allowed for 127.0.0.1/localhost emulators)");
        route = base_url == kAiStudioBaseUrl ? "ai-studio" : "custom:" + base_url;
        if (opt.model.empty()) opt.model = std::string(kDefaultModel);
        if (opt.api_version.empty()) opt.api_version = "v1beta";
        if (!opt.transport) opt.transport = net::make_curl_transport();
        if (!opt.clock) opt.clock = SystemClock::instance();
        if (!opt.rng) opt.rng = std::make_shared<DefaultRng>();
        if (opt.retry.max_attempts < 1) throw_invalid_arg("retry.max_attempts must be at least 1");
    }

    void emit(const Event& ev) const {
        if (opt.on_event) opt.on_event(ev);
    }

    std::string url_for(const std::string& model) const {
        std::string u = base_url + "/" + opt.api_version + "/models/" + model;
        u += opt.stream ? ":streamGenerateContent?alt=sse" : ":generateContent";
        return u;
    }

    Result generate(const Request& req_in, const CallOptions& call);
};

Result Client::Impl::generate(const Request& req_in, const CallOptions& call) {
    Clock& clock = *opt.clock;
    const SteadyTime started = clock.now();
    auto elapsed = [&] { return duration_cast<milliseconds>(clock.now() - started); };

    const std::string model = canonical_model_id(req_in.model.empty() ? opt.model : req_in.model);
    validate_request(req_in, model);
    if (opt.api_key.empty())
        throw Error(local_failure(Status::AUTH, "NO_API_KEY", "no API key was given",
                                  "Set GOOGLE_API_KEY or GEMINI_API_KEY (or pass api_key); keys come "
                                  "from https://aistudio.google.com/apikey."));

    milliseconds total_budget = call.deadline.count() > 0 ? call.deadline : opt.deadline;
    std::optional<SteadyTime> deadline;
    if (total_budget.count() > 0) deadline = started + total_budget;

    const std::string body = api::encode_request(req_in);
    std::vector<Attempt> attempts;
    policy::RetryState state;

    auto fail = [&](Diagnosis d) -> Error {
        d.message = redact(d.message, opt.api_key);
        Error e(std::move(d));
        e.attempts = attempts;
        e.route = attempts.empty() ? std::string() : route;
        Event done;
        done.kind = EventKind::Done;
        done.attempt = static_cast<int>(attempts.size());
        done.outcome = e.code();
        done.http_status = e.diagnosis().http_status;
        done.reason = e.diagnosis().reason;
        done.message = e.diagnosis().message;
        done.elapsed = elapsed();
        done.route = route;
        emit(done);
        return e;
    };

    for (int number = 1;; ++number) {
        if (call.cancel && call.cancel->cancelled())
            throw fail(local_failure(Status::CANCELLED, "CANCELLED",
                                     "cancelled before attempt " + std::to_string(number), kCancelledAdvice));

        // Per-attempt timeouts, never beyond the total deadline.
        net::HttpRequest http;
        http.url = url_for(model);
        http.body = body;
        http.timeouts = opt.timeouts;
        if (http.timeouts.total.count() == 0) http.timeouts.total = default_attempt_timeout(req_in.image_size);
        if (http.timeouts.idle.count() == 0) http.timeouts.idle = milliseconds(60'000);
        bool capped_by_deadline = false;
        if (deadline) {
            auto remaining = duration_cast<milliseconds>(*deadline - clock.now());
            if (remaining.count() <= 0)
                throw fail(local_failure(Status::DEADLINE, "DEADLINE",
                                         "the deadline of " + std::to_string(total_budget.count()) +
                                             " ms ran out before attempt " + std::to_string(number),
                                         kDeadlineAdvice));
            if (remaining < http.timeouts.total) {
                http.timeouts.total = remaining;
                capped_by_deadline = true;
            }
        }
        // The server enforces the same budget (X-Server-Timeout, seconds), like the official SDKs.
        auto server_timeout_s = (http.timeouts.total.count() + 999) / 1000;
        http.headers = {{"x-goog-api-key", opt.api_key},
                        {"Content-Type", "application/json"},
                        {"x-goog-api-client", "nbcore/0.1.0"},
                        {"X-Server-Timeout", std::to_string(server_timeout_s)}};

        Event start;
        start.kind = EventKind::AttemptStart;
        start.attempt = number;
        start.elapsed = elapsed();
        start.route = route;
        start.message = "sending attempt " + std::to_string(number) + " to " + model;
        emit(start);

        ReplySink sink(opt.decode_limits);
        const SteadyTime sent_at = clock.now();
        net::TransportResult tr = opt.transport->send(http, sink, call.cancel);

        // What the attempt produced, for classify().
        net::TransportResult effective = tr;
        std::string decode_error;
        bool over_limit = false;
        Reply reply;
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
                    reply = dec->take();
                    have_reply = true;
                } else {
                    decode_error = dec->error();
                    over_limit = dec->over_limit();
                }
            }
            skeleton = dec->skeleton();
        }

        // Validate every image we would deliver; the first failure decides.
        std::vector<image::Check> checks;
        std::vector<image::Pixels> pixels;
        const image::Check* failed_image = nullptr;
        if (have_reply && effective.error == net::TransportErrorKind::None) {
            auto deliver = deliverable_images(reply);
            checks.reserve(deliver.size());
            pixels.resize(deliver.size());
            for (std::size_t i = 0; i < deliver.size(); ++i) {
                const Blob& b = *deliver[i]->data;
                checks.push_back(image::check(b.data(), b.size(), opt.image_limits, opt.blank_rules,
                                              opt.keep_pixels ? &pixels[i] : nullptr));
                if (!checks.back().ok && !failed_image) failed_image = &checks.back();
            }
        }

        policy::Observation obs;
        obs.transport = &effective;
        obs.http_status = sink.status();
        obs.headers = &sink.headers();
        obs.body = sink.decoder() ? std::string_view(skeleton) : std::string_view(sink.raw());
        obs.reply = have_reply ? &reply : nullptr;
        obs.decode_error = decode_error;
        obs.decode_over_limit = over_limit;
        obs.failed_image = failed_image;
        obs.model = model;
        obs.image_size = req_in.image_size;
        obs.server_timeout_sent = milliseconds(server_timeout_s * 1000);
        Diagnosis diag = policy::classify(obs, clock.wall());
        if (capped_by_deadline && diag.code == Status::TIMEOUT &&
            tr.error == net::TransportErrorKind::TotalTimeout) {
            diag.code = Status::DEADLINE;
            diag.retryable = false;
            diag.message = "the deadline of " + std::to_string(total_budget.count()) +
                           " ms ran out during attempt " + std::to_string(number);
            diag.advice = kDeadlineAdvice;
        }
        diag.message = redact(diag.message, opt.api_key);

        Attempt a;
        a.number = number;
        a.route = route;
        a.outcome = diag.code;
        a.http_status = diag.http_status ? diag.http_status : sink.status();
        a.reason = diag.reason;
        a.server_delay = diag.retry_after;
        a.duration = duration_cast<milliseconds>(clock.now() - sent_at);
        attempts.push_back(a);

        Event end;
        end.kind = EventKind::AttemptEnd;
        end.attempt = number;
        end.outcome = diag.code;
        end.http_status = a.http_status;
        end.reason = diag.reason;
        end.message = diag.code == Status::OK ? "ok" : diag.message;
        end.server_delay = diag.retry_after;
        end.elapsed = elapsed();
        end.route = route;
        emit(end);

        if (diag.code == Status::OK) {
            Result res;
            auto deliver = deliverable_images(reply);
            for (std::size_t i = 0; i < deliver.size(); ++i) {
                ResultImage ri;
                ri.mime = deliver[i]->mime.empty() ? checks[i].mime : deliver[i]->mime;
                ri.data = deliver[i]->data;
                ri.width = checks[i].width;
                ri.height = checks[i].height;
                ri.channels = checks[i].channels;
                ri.stats = checks[i].stats;
                ri.thought_signature = deliver[i]->thought_signature;
                if (opt.keep_pixels) ri.pixels = std::make_shared<const image::Pixels>(std::move(pixels[i]));
                res.images.push_back(std::move(ri));
            }
            res.text = std::move(reply.text);
            res.usage = std::move(reply.usage);
            res.model = model;
            res.model_version = std::move(reply.model_version);
            res.response_id = std::move(reply.response_id);
            res.finish_reason = std::move(reply.finish_reason);
            res.attempts = std::move(attempts);
            res.route = route;
            res.elapsed = elapsed();
            Event done;
            done.kind = EventKind::Done;
            done.attempt = number;
            done.outcome = Status::OK;
            done.elapsed = res.elapsed;
            done.route = route;
            emit(done);
            return res;
        }

        state.attempts_made = number;
        state.now = clock.now();
        state.deadline = deadline;
        policy::Decision dec = policy::decide(diag, state, opt.retry, *opt.rng);
        if (dec.action == policy::Action::Fail) {
            if (dec.fail_as != Status::OK && dec.fail_as != diag.code) diag.code = dec.fail_as;
            if (!dec.why.empty() && diag.code != Status::OK && number > 1)
                diag.message += " (" + dec.why + ")";
            throw fail(std::move(diag));
        }
        if (diag.code == Status::NO_IMAGE || diag.code == Status::BLANK_IMAGE) ++state.billed_retries;
        if (diag.code == Status::BAD_RESPONSE) ++state.bad_response_retries;
        attempts.back().chosen_delay = dec.delay;

        Event retry;
        retry.kind = EventKind::RetryScheduled;
        retry.attempt = number;
        retry.outcome = diag.code;
        retry.http_status = a.http_status;
        retry.reason = diag.reason;
        retry.message = dec.why;
        retry.server_delay = diag.retry_after;
        retry.delay = dec.delay;
        retry.elapsed = elapsed();
        retry.route = route;
        emit(retry);

        if (!clock.sleep_until(clock.now() + dec.delay, call.cancel))
            throw fail(local_failure(Status::CANCELLED, "CANCELLED",
                                     "cancelled while waiting to retry after " +
                                         std::string(status_name(diag.code)),
                                     kCancelledAdvice));
    }
}

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Client::~Client() = default;

Result Client::generate(const Request& req, const CallOptions& call) { return impl_->generate(req, call); }

const ClientOptions& Client::options() const noexcept { return impl_->opt; }
std::string Client::route_name() const { return impl_->route; }

}  // namespace nbcore
