// The job state machine. One request moves through
//   begin -> choose route (breakers) -> admit -> [queue for a slot -> send -> transfer done ->
//   validate images (worker pool) -> classify -> record -> plan: retry / fail over / downgrade /
//   fail -> wait]* -> done
// on the I/O thread; only image validation and token commands leave it.
#include <algorithm>
#include <cstdio>

#include "engine.hpp"
#include "nbcore/models.hpp"
#include "nbcore/redact.hpp"
#include "reply_sink.hpp"

namespace nbcore::engine {
namespace {

using std::chrono::duration_cast;

constexpr const char* kDeadlineAdvice =
    "Allow a longer deadline, or use a smaller image size (2K and 1K answer faster than 4K).";
constexpr const char* kCancelledAdvice = "Nothing to do: the caller cancelled the request.";
constexpr std::size_t kMaxQueuedEvents = 1000;

// Generation time grows with the image size; an attempt that has heard nothing for this long
// is treated as lost. 4K answers regularly take 60-120 s of silence.
milliseconds default_attempt_timeout(std::string_view image_size) {
    if (image_size == "4K") return milliseconds(420'000);
    if (image_size == "2K") return milliseconds(240'000);
    return milliseconds(180'000);
}

Diagnosis local_failure(Status code, std::string reason, std::string message, std::string advice) {
    Diagnosis d;
    d.code = code;
    d.reason = std::move(reason);
    d.message = std::move(message);
    d.advice = std::move(advice);
    return d;
}

std::string seconds_text(milliseconds ms) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms.count()) / 1000.0);
    return buf;
}

Execution execution_of(const net::TransportResult& tr) {
    return tr.response_started ? Execution::Executed
           : tr.request_sent   ? Execution::PossiblyExecuted
                               : Execution::NotSent;
}

}  // namespace

// What one attempt's reply turned out to be (decoded on the loop, images checked on a worker).
struct JobState::Validated {
    Reply reply;
    bool have_reply = false;
    std::string decode_error;
    bool over_limit = false;
    std::string skeleton;
    std::vector<image::Check> checks;
    std::vector<image::Pixels> pixels;
    int failed = -1;   // index into checks of the first image that failed
};

JobState::JobState(std::shared_ptr<ClientCore> core, Request req, std::string model, CallOptions call,
                   std::uint64_t seq)
    : core_(std::move(core)),
      req_(std::move(req)),
      model_(std::move(model)),
      call_(call),
      seq_(seq),
      started_(std::chrono::steady_clock::now()) {
    total_budget_ = call_.deadline.count() > 0 ? call_.deadline : core_->opt.deadline;
    if (total_budget_.count() > 0) deadline_ = started_ + total_budget_;
    body_ = api::encode_request(req_);   // on the caller's thread: input images can be large
    last_secret_ = core_->opt.api_key;
    progress_.text = "queued";
}

milliseconds JobState::elapsed() const {
    return duration_cast<milliseconds>(std::chrono::steady_clock::now() - started_);
}

// ---- the Job interface (any thread) ------------------------------------------------------------

JobProgress JobState::progress() const {
    std::lock_guard<std::mutex> lock(mu_);
    JobProgress p = progress_;
    p.elapsed = elapsed();
    if (p.wait_left.count() > 0) {
        // wait_left holds the absolute end as an offset from the start; report what remains.
        auto left = p.wait_left - p.elapsed;
        p.wait_left = left.count() > 0 ? left : milliseconds(0);
    }
    return p;
}

bool JobState::wait(std::optional<milliseconds> timeout) {
    auto until = timeout ? std::chrono::steady_clock::now() + *timeout : SteadyTime::max();
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
        while (!events_.empty()) {
            Event ev = std::move(events_.front());
            events_.pop_front();
            lock.unlock();
            if (core_->opt.on_event) core_->opt.on_event(ev);   // may throw: the caller sees it
            lock.lock();
        }
        if (done_) return true;
        if (!timeout) {
            cv_.wait(lock, [&] { return done_ || !events_.empty(); });
        } else if (!cv_.wait_until(lock, until, [&] { return done_ || !events_.empty(); })) {
            return false;
        }
    }
}

bool JobState::done() const {
    std::lock_guard<std::mutex> lock(mu_);
    return done_;
}

Result JobState::get() {
    wait(std::nullopt);
    std::lock_guard<std::mutex> lock(mu_);
    if (error_) throw *error_;
    return *result_;
}

void JobState::cancel() {
    if (cancel_requested_.exchange(true)) return;
    auto self = shared_from_this();
    core_->loop->post([self] { self->cancel_on_loop(); });
}

void JobState::start() {
    core_->track(shared_from_this());
    auto self = shared_from_this();
    core_->loop->post([self] { self->begin_on_loop(); });
}

// ---- shared-state helpers --------------------------------------------------------------------

Event JobState::event(EventKind kind) const {
    Event ev;
    ev.kind = kind;
    ev.attempt = number_;
    ev.elapsed = elapsed();
    ev.route = core_->routes[current_].config.name;
    ev.image_size = req_.image_size;
    return ev;
}

void JobState::emit(Event ev) {
    if (!core_->opt.on_event) return;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (events_.size() >= kMaxQueuedEvents) {   // nobody is waiting: keep the newest
            events_.pop_front();
            ++dropped_events_;
        }
        events_.push_back(std::move(ev));
    }
    cv_.notify_all();
}

void JobState::set_stage(JobStage stage, std::string text, milliseconds wait) {
    std::lock_guard<std::mutex> lock(mu_);
    progress_.stage = stage;
    progress_.attempt = number_;
    progress_.route = core_->routes[current_].config.name;
    progress_.text = text.empty() ? std::string(job_stage_name(stage)) : std::move(text);
    progress_.wait_left = wait.count() > 0 ? elapsed() + wait : milliseconds(0);
    if (stage == JobStage::Sending) progress_.bytes_received = 0;
}

void JobState::finish(std::optional<Result> result, std::optional<Error> error) {
    finished_ = true;
    if (deadline_timer_) core_->loop->cancel_timer(*deadline_timer_);
    if (timer_) core_->loop->cancel_timer(*timer_);
    deadline_timer_.reset();
    timer_.reset();
    if (holds_slot_) {
        holds_slot_ = false;
        core_->release_slot_on_loop();
    }
    {
        std::lock_guard<std::mutex> lock(mu_);
        done_ = true;
        result_ = std::move(result);
        error_ = std::move(error);
        progress_.stage = JobStage::Done;
        progress_.text = error_ ? "failed: " + std::string(status_name(error_->code())) : "done";
        progress_.wait_left = milliseconds(0);
    }
    cv_.notify_all();
    core_->untrack(this);
}

// ---- the state machine (loop thread) -----------------------------------------------------------

void JobState::begin_on_loop() {
    if (cancel_requested_) {
        fail_on_loop(local_failure(Status::CANCELLED, "CANCELLED", "cancelled before it was sent", kCancelledAdvice));
        return;
    }
    arm_deadline_on_loop();
    if (core_->budget) core_->budget->on_request(std::chrono::steady_clock::now());
    choose_route_on_loop();
}

void JobState::arm_deadline_on_loop() {
    if (!deadline_) return;
    auto self = shared_from_this();
    deadline_timer_ = core_->loop->schedule(*deadline_, [self] {
        self->deadline_timer_.reset();
        // A transfer in flight ends by its own timeout (capped by the deadline) and a validation
        // in progress is about to report; only a job that is waiting is stopped here.
        if (self->finished_ || self->transfer_ || self->progress().stage == JobStage::Validating) return;
        if (self->timer_) self->core_->loop->cancel_timer(*self->timer_);
        self->timer_.reset();
        self->core_->remove_from_queue_on_loop(self.get());
        self->fail_on_loop(local_failure(
            Status::DEADLINE, "DEADLINE",
            "the deadline of " + std::to_string(self->total_budget_.count()) + " ms ran out while " +
                std::string(job_stage_name(self->progress().stage)),
            kDeadlineAdvice));
    });
}

void JobState::wait_then_on_loop(SteadyTime when, JobStage stage, std::string text, void (JobState::*next)()) {
    auto now = std::chrono::steady_clock::now();
    set_stage(stage, std::move(text), duration_cast<milliseconds>(when - now));
    auto self = shared_from_this();
    timer_ = core_->loop->schedule(when, [self, next] {
        self->timer_.reset();
        if (self->finished_) return;
        ((*self).*next)();
    });
}

// Start on the first route whose breaker admits; when none does, wait for the earliest, unless
// that leaves no time for an attempt.
void JobState::choose_route_on_loop() {
    auto now = std::chrono::steady_clock::now();
    auto views = core_->route_views(model_, now);
    SteadyTime earliest = SteadyTime::max();
    for (std::size_t i = 0; i < views.size(); ++i) {
        if (views[i].admission.allowed) {
            current_ = i;
            admit_on_loop();
            return;
        }
        earliest = std::min(earliest, views[i].admission.retry_at);
    }
    constexpr milliseconds kMinAttemptTime{1000};
    auto wait = duration_cast<milliseconds>(earliest - now);
    if ((deadline_ && earliest + kMinAttemptTime >= *deadline_) || wait > core_->opt.retry.max_wait) {
        // Report why the first route is closed: a hold keeps its cause's class.
        auto cause = core_->breaker(0, model_)->cause();
        const std::string& route = core_->routes[0].config.name;
        Diagnosis d;
        if (cause && (cause->code == Status::RATE_LIMITED || cause->code == Status::QUOTA_EXHAUSTED)) {
            d = *cause;
            d.message = "not sent: route " + route + " is held after an earlier " +
                        std::string(status_name(cause->code)) + " (" + cause->message + ")";
            if (cause->dimension == Dimension::ZERO) d.retry_after.reset();   // waiting cannot help
            else d.retry_after = wait;
        } else {
            d = local_failure(Status::UNAVAILABLE, "CIRCUIT_OPEN",
                              "not sent: every route's circuit breaker is open after repeated failures" +
                                  (cause ? ", last " + std::string(status_name(cause->code)) + " on " + route
                                         : std::string()),
                              "Wait for retry_after, or add another route (another region or Vertex AI) so "
                              "requests can fail over.");
            d.retry_after = wait;
            d.retryable = true;
        }
        fail_on_loop(std::move(d));
        return;
    }
    wait_then_on_loop(earliest, JobStage::Queued, "waiting " + seconds_text(wait) + " for a route to reopen",
                      &JobState::choose_route_on_loop);
}

void JobState::admit_on_loop() {
    set_stage(JobStage::Queued);
    core_->enqueue_on_loop(shared_from_this());
}

void JobState::send_on_loop() {
    holds_slot_ = true;
    if (finished_) {
        holds_slot_ = false;
        core_->release_slot_on_loop();
        return;
    }
    auto now = std::chrono::steady_clock::now();
    ++number_;

    // Per-attempt timeout, never beyond the total deadline.
    milliseconds timeout = core_->opt.timeouts.total.count() ? core_->opt.timeouts.total
                                                             : default_attempt_timeout(req_.image_size);
    capped_by_deadline_ = false;
    if (deadline_) {
        auto remaining = duration_cast<milliseconds>(*deadline_ - now);
        if (remaining.count() <= 0) {
            --number_;
            fail_on_loop(local_failure(Status::DEADLINE, "DEADLINE",
                                       "the deadline of " + std::to_string(total_budget_.count()) +
                                           " ms ran out before attempt " + std::to_string(number_ + 1),
                                       kDeadlineAdvice));
            return;
        }
        if (remaining < timeout) {
            timeout = remaining;
            capped_by_deadline_ = true;
        }
    }

    RouteSlot& slot = core_->routes[current_];
    breaker_ = core_->breaker(current_, model_);
    admission_ = breaker_->admit(now);

    net::HttpRequest http;
    http.url = route_url(slot.config, model_, core_->opt.stream);
    http.body = body_;
    http.timeouts = core_->opt.timeouts;
    http.timeouts.total = timeout;
    if (http.timeouts.idle.count() == 0) http.timeouts.idle = milliseconds(60'000);
    // The server enforces the same budget (X-Server-Timeout, seconds), like the official SDKs.
    auto server_timeout_s = (timeout.count() + 999) / 1000;
    server_timeout_sent_ = milliseconds(server_timeout_s * 1000);

    Event start = event(EventKind::AttemptStart);
    start.message = "sending attempt " + std::to_string(number_) + " to " + model_;
    emit(start);
    sent_at_ = std::chrono::steady_clock::now();

    // Credentials: an API key is at hand; an OAuth token may need a command run (seconds), which
    // must not happen on the I/O thread.
    if (!slot.oauth()) {
        std::optional<Diagnosis> failure;
        try {
            slot.auth->add_headers(http.headers);
        } catch (const Error& e) {
            failure = e.diagnosis();
        }
        transmit_on_loop(std::move(http), std::move(failure));
        return;
    }
    set_stage(JobStage::Sending, "getting an access token");
    auto self = shared_from_this();
    core_->workers->submit([self, http = std::move(http)]() mutable {
        std::optional<Diagnosis> failure;
        try {
            self->core_->routes[self->current_].auth->add_headers(http.headers);
        } catch (const Error& e) {
            failure = e.diagnosis();
        }
        self->core_->loop->post([self, http = std::move(http), failure = std::move(failure)]() mutable {
            self->transmit_on_loop(std::move(http), std::move(failure));
        });
    });
}

void JobState::transmit_on_loop(net::HttpRequest http, std::optional<Diagnosis> auth_failure) {
    if (finished_) return;
    if (auth_failure) {
        // Not sent: an attempt that never left, with the credential's failure as its outcome.
        holds_slot_ = false;
        core_->release_slot_on_loop();
        sink_.reset();
        auth_failure_ = std::move(auth_failure);
        classify_on_loop(net::TransportResult{}, std::make_shared<Validated>());
        return;
    }
    http.headers.emplace_back("Content-Type", "application/json");
    http.headers.emplace_back("x-goog-api-client", "nbcore/0.1.0");
    http.headers.emplace_back("X-Server-Timeout", std::to_string(server_timeout_sent_.count() / 1000));
    auto secret = core_->routes[current_].auth->current_secret();
    if (!secret.empty()) last_secret_ = secret;
    sink_ = std::make_shared<ReplySink>(core_->opt.decode_limits);
    std::weak_ptr<JobState> weak = shared_from_this();
    sink_->on_first_byte = [weak] {
        if (auto j = weak.lock()) j->set_stage(JobStage::Receiving, "receiving the answer");
    };
    set_stage(JobStage::WaitingServer, "waiting for the server");
    auto self = shared_from_this();
    transfer_ = core_->loop->start(std::move(http), sink_,
                                   [self](const net::TransportResult& tr) { self->on_transfer_done(tr); });
}

void JobState::on_transfer_done(const net::TransportResult& tr) {
    transfer_.reset();
    if (holds_slot_) {
        holds_slot_ = false;
        core_->release_slot_on_loop();
    }
    if (finished_) return;

    // Decode what arrived (cheap: the images were decoded while streaming; this parses the
    // small remainder).
    auto v = std::make_shared<Validated>();
    net::TransportResult effective = tr;
    if (auto* dec = sink_->decoder()) {
        if (tr.error == net::TransportErrorKind::Aborted && sink_->stopped_on_decode_error()) {
            // We stopped the transfer ourselves because the body was malformed or too big.
            v->over_limit = dec->over_limit();
            if (!v->over_limit) effective.error = net::TransportErrorKind::None;
            v->decode_error = dec->error();
        } else if (tr.error == net::TransportErrorKind::None) {
            if (dec->finish()) {
                v->reply = dec->take();
                v->have_reply = true;
            } else {
                v->decode_error = dec->error();
                v->over_limit = dec->over_limit();
            }
        }
        v->skeleton = dec->skeleton();
    }
    if (!v->have_reply || effective.error != net::TransportErrorKind::None ||
        deliverable_images(v->reply).empty()) {
        classify_on_loop(effective, v);
        return;
    }

    // Decoding a 4K image takes a third of a second of CPU: never on the I/O thread.
    set_stage(JobStage::Validating, "decoding and checking the image");
    auto self = shared_from_this();
    core_->workers->submit([self, v, effective] {
        const auto& opt = self->core_->opt;
        auto deliver = deliverable_images(v->reply);
        v->checks.reserve(deliver.size());
        v->pixels.resize(deliver.size());
        for (std::size_t i = 0; i < deliver.size(); ++i) {
            const Blob& b = *deliver[i]->data;
            v->checks.push_back(image::check(b.data(), b.size(), opt.image_limits, opt.blank_rules,
                                             opt.keep_pixels ? &v->pixels[i] : nullptr));
            if (!v->checks.back().ok && v->failed < 0) v->failed = static_cast<int>(i);
        }
        self->core_->loop->post([self, v, effective] { self->classify_on_loop(effective, v); });
    });
}

void JobState::classify_on_loop(net::TransportResult tr, std::shared_ptr<Validated> v) {
    if (finished_) return;
    Diagnosis diag;
    if (auth_failure_) {
        diag = std::move(*auth_failure_);
        auth_failure_.reset();
    } else {
        policy::Observation obs;
        obs.transport = &tr;
        obs.http_status = sink_ ? sink_->status() : 0;
        obs.headers = sink_ ? &sink_->headers() : nullptr;
        obs.body = sink_ && sink_->decoder() ? std::string_view(v->skeleton)
                   : sink_                   ? std::string_view(sink_->raw())
                                             : std::string_view();
        obs.reply = v->have_reply ? &v->reply : nullptr;
        obs.decode_error = v->decode_error;
        obs.decode_over_limit = v->over_limit;
        obs.failed_image = v->failed >= 0 ? &v->checks[static_cast<std::size_t>(v->failed)] : nullptr;
        obs.model = model_;
        obs.image_size = req_.image_size;
        obs.server_timeout_sent = server_timeout_sent_;
        diag = policy::classify(obs, core_->opt.clock->wall());
        if (diag.http_status == 0 && sink_) diag.http_status = sink_->status();
        if (capped_by_deadline_ && diag.code == Status::TIMEOUT &&
            tr.error == net::TransportErrorKind::TotalTimeout) {
            diag.code = Status::DEADLINE;
            diag.retryable = false;
            diag.message = "the deadline of " + std::to_string(total_budget_.count()) +
                           " ms ran out during attempt " + std::to_string(number_);
            diag.advice = kDeadlineAdvice;
        }
    }
    diag.message = redact(redact(diag.message, core_->opt.api_key), last_secret_);
    auto now = std::chrono::steady_clock::now();
    auto transition = breaker_ ? breaker_->record(diag, now, admission_.probe) : std::nullopt;

    Attempt a;
    a.number = number_;
    a.route = core_->routes[current_].config.name;
    a.image_size = req_.image_size;
    a.outcome = diag.code;
    a.http_status = diag.http_status;
    a.reason = diag.reason;
    a.server_delay = diag.retry_after;
    a.duration = duration_cast<milliseconds>(now - sent_at_);
    a.execution = execution_of(tr);
    attempts_.push_back(a);
    {
        std::lock_guard<std::mutex> lock(mu_);
        progress_.last_outcome = diag.code;
        progress_.bytes_received = sink_ ? sink_->bytes() : 0;
    }

    Event end = event(EventKind::AttemptEnd);
    end.outcome = diag.code;
    end.http_status = a.http_status;
    end.reason = diag.reason;
    end.message = diag.code == Status::OK ? "ok" : diag.message;
    end.server_delay = diag.retry_after;
    emit(end);
    if (transition) {
        Event ev = event(EventKind::BreakerTransition);
        ev.message = std::string(policy::breaker_state_name(transition->from)) + " -> " +
                     std::string(policy::breaker_state_name(transition->to)) + ": " + transition->why;
        ev.outcome = diag.code;
        emit(ev);
    }

    if (diag.code == Status::OK) {
        succeed_on_loop(*v);
        return;
    }
    // An expired OAuth token: refresh it and try once more at once.
    RouteSlot& slot = core_->routes[current_];
    if (diag.code == Status::AUTH && diag.http_status == 401 && !refreshed_token_ && slot.oauth() &&
        number_ < core_->opt.retry.max_attempts && !cancel_requested_) {
        refreshed_token_ = true;
        slot.auth->invalidate();
        Event retry = event(EventKind::RetryScheduled);
        retry.outcome = diag.code;
        retry.http_status = diag.http_status;
        retry.reason = diag.reason;
        retry.message = "refreshing the access token after 401";
        emit(retry);
        admit_on_loop();
        return;
    }
    plan_on_loop(std::move(diag));
}

void JobState::plan_on_loop(Diagnosis diag) {
    auto now = std::chrono::steady_clock::now();
    if (cancel_requested_ && diag.code != Status::CANCELLED) {
        fail_on_loop(local_failure(Status::CANCELLED, "CANCELLED",
                                   "cancelled after attempt " + std::to_string(number_), kCancelledAdvice));
        return;
    }
    retry_.attempts_made = number_;
    retry_.now = now;
    retry_.deadline = deadline_;
    auto views = core_->route_views(model_, now);
    policy::PlanInput in{diag, retry_, core_->opt.retry};
    in.routes = views;
    in.current = current_;
    in.image_size = req_.image_size;
    in.downgrade_enabled = core_->opt.downgrade_on_timeout;
    in.budget_allows_retry = !core_->budget || core_->budget->can_retry(now);
    policy::Plan p = policy::plan(in, *core_->opt.rng);

    bool retry_like = p.action == policy::Plan::Action::Retry || p.action == policy::Plan::Action::Downgrade;
    if (retry_like && core_->budget && !core_->budget->try_retry(now)) {
        p.action = policy::Plan::Action::Fail;
        p.fail_as = diag.code;
        p.why = "the retry budget is spent: retries are limited to a share of requests";
    }
    if (p.action == policy::Plan::Action::Fail || p.action == policy::Plan::Action::Done) {
        if (p.fail_as != Status::OK && p.fail_as != diag.code) diag.code = p.fail_as;
        if (p.retry_after && !diag.retry_after) diag.retry_after = p.retry_after;
        // Say why no retry follows when one could have been expected.
        if (!p.why.empty() && (number_ > 1 || diag.retryable)) diag.message += " (" + p.why + ")";
        fail_on_loop(std::move(diag));
        return;
    }
    if (diag.code == Status::NO_IMAGE || diag.code == Status::BLANK_IMAGE) ++retry_.billed_retries;
    if (diag.code == Status::BAD_RESPONSE) ++retry_.bad_response_retries;
    attempts_.back().chosen_delay = p.delay;

    if (p.action == policy::Plan::Action::FailOver) {
        current_ = p.route;
        Event ev = event(EventKind::FailOver);
        ev.outcome = diag.code;
        ev.message = p.why;
        emit(ev);
    } else if (p.action == policy::Plan::Action::Downgrade) {
        req_.image_size = p.image_size;
        body_ = api::encode_request(req_);
        Event ev = event(EventKind::Downgrade);
        ev.outcome = diag.code;
        ev.message = p.why;
        emit(ev);
    }
    Event retry = event(EventKind::RetryScheduled);
    retry.outcome = diag.code;
    retry.http_status = diag.http_status;
    retry.reason = diag.reason;
    retry.message = p.why;
    retry.server_delay = diag.retry_after;
    retry.delay = p.delay;
    emit(retry);

    std::string text = "retrying in " + seconds_text(p.delay) + " after " + std::string(status_name(diag.code));
    if (diag.dimension != Dimension::NONE) text += " (" + std::string(dimension_name(diag.dimension)) + ")";
    wait_then_on_loop(now + p.delay, JobStage::Retrying, std::move(text), &JobState::admit_on_loop);
}

void JobState::succeed_on_loop(Validated& v) {
    Result res;
    auto deliver = deliverable_images(v.reply);
    for (std::size_t i = 0; i < deliver.size(); ++i) {
        ResultImage ri;
        ri.mime = deliver[i]->mime.empty() ? v.checks[i].mime : deliver[i]->mime;
        ri.data = deliver[i]->data;
        ri.width = v.checks[i].width;
        ri.height = v.checks[i].height;
        ri.channels = v.checks[i].channels;
        ri.stats = v.checks[i].stats;
        ri.thought_signature = deliver[i]->thought_signature;
        if (core_->opt.keep_pixels) ri.pixels = std::make_shared<const image::Pixels>(std::move(v.pixels[i]));
        res.images.push_back(std::move(ri));
    }
    res.text = std::move(v.reply.text);
    res.usage = std::move(v.reply.usage);
    res.model = model_;
    res.model_version = std::move(v.reply.model_version);
    res.response_id = std::move(v.reply.response_id);
    res.finish_reason = std::move(v.reply.finish_reason);
    res.attempts = attempts_;
    res.route = core_->routes[current_].config.name;
    res.image_size = req_.image_size;
    res.elapsed = elapsed();
    Event done = event(EventKind::Done);
    done.outcome = Status::OK;
    emit(done);
    finish(std::move(res), std::nullopt);
}

void JobState::fail_on_loop(Diagnosis d) {
    d.message = redact(redact(d.message, core_->opt.api_key), last_secret_);
    d.advice = redact(d.advice, last_secret_);
    Error e(std::move(d));
    e.attempts = attempts_;
    e.route = attempts_.empty() ? std::string() : attempts_.back().route;
    Event done = event(EventKind::Done);
    done.outcome = e.code();
    done.http_status = e.diagnosis().http_status;
    done.reason = e.diagnosis().reason;
    done.message = e.diagnosis().message;
    emit(done);
    finish(std::nullopt, std::move(e));
}

void JobState::cancel_on_loop() {
    if (finished_) return;
    if (transfer_) {
        // The transfer's Done arrives with Cancelled and is classified like any outcome.
        core_->loop->abort(*transfer_);
        return;
    }
    if (progress().stage == JobStage::Validating) return;   // plan_on_loop sees the flag
    if (timer_) core_->loop->cancel_timer(*timer_);
    timer_.reset();
    core_->remove_from_queue_on_loop(this);
    fail_on_loop(local_failure(Status::CANCELLED, "CANCELLED",
                               number_ == 0 ? "cancelled before it was sent"
                                            : "cancelled while waiting after attempt " + std::to_string(number_),
                               kCancelledAdvice));
}

}  // namespace nbcore::engine
