// The job state machine. One request moves through
//   begin -> choose route (breakers) -> admit -> [queue for a slot -> send -> transfer done ->
//   validate images (worker pool) -> classify -> record -> plan: retry / fail over / downgrade /
//   fail -> wait]* -> done
// on the I/O thread; only image validation and token commands leave it.
#include <algorithm>
#include <cstdio>

#include "engine.hpp"
#include "engine/checked_reply.hpp"
#include "nbcore/prompt.hpp"
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
// An attempt needs at least this long before the deadline to be worth sending.
constexpr milliseconds kMinAttemptTime{1000};

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

bool is_per_day(Dimension d) { return d == Dimension::RPD || d == Dimension::ZERO; }

std::string dimension_words(Dimension d) {
    switch (d) {
    case Dimension::RPM: return "requests per minute";
    case Dimension::TPM: return "input tokens per minute";
    case Dimension::IPM: return "images per minute";
    case Dimension::RPD: return "requests per day";
    case Dimension::ZERO: return "a zero quota";
    default: return "quota";
    }
}

// "rate limited (per minute)" and the like, for progress lines.
std::string quota_wait_reason(const quota::Fit& fit) {
    if (!fit.limit) return "pacing requests while the per-minute limit is unknown";
    std::string why = is_per_day(fit.binding) ? "daily quota" : "rate limited (" + dimension_words(fit.binding) + ")";
    if (fit.drained) why += ", after a 429";
    return why;
}

std::string limit_text(const quota::Fit& fit) {
    if (!fit.limit) return "no known limit";
    return std::to_string(*fit.limit) + " " + dimension_words(fit.binding) + ", " +
           std::string(quota::limit_source_name(fit.source));
}

// The request is not sent: the quota would not admit it in time (or ever).
Diagnosis quota_refusal(const quota::Governor::Admission& a, const std::string& model, milliseconds wait,
                        bool past_deadline) {
    const auto& fit = a.fit;
    Diagnosis d;
    d.code = is_per_day(fit.binding) ? Status::QUOTA_EXHAUSTED : Status::RATE_LIMITED;
    d.reason = "QUOTA_LOCAL";
    d.dimension = fit.binding;
    d.retryable = !is_per_day(fit.binding);
    std::string what = "not sent: the " + std::string(dimension_name(fit.binding)) + " quota of " + model + " (" +
                       limit_text(fit) + ")";
    if (a.kind == quota::Governor::Admission::RefusedQuota) {
        if (fit.binding == Dimension::ZERO) {
            d.message = what + " is zero: the server said this key has no quota for this model";
            d.advice = "This model has no quota on your key's tier. Enable billing on the project (a paid tier), "
                       "or use a model your tier includes (gemini-2.5-flash-image).";
        } else {
            d.message = what + " is smaller than this one request needs (" + std::to_string(fit.demand) + ")";
            d.advice = "Shorten the prompt or send fewer or smaller input images, or raise the configured limit "
                       "if your tier allows more.";
        }
        if (wait.count() > 0) d.retry_after = wait;
        return d;
    }
    d.retry_after = wait;
    d.message = what + " is used up (" + std::to_string(fit.used) + " used); it admits this request in " +
                seconds_text(wait) + (past_deadline ? ", after the deadline" : ", longer than the longest wait allowed");
    d.advice = is_per_day(fit.binding)
                   ? "The per-day quota resets at midnight Pacific time (retry_after). Until then use another "
                     "project's key, or move to a paid tier with a higher daily limit."
                   : "Submit again after retry_after, allow a longer deadline, or spread requests out. If your "
                     "tier allows more, configure it (tier=\"tier1\" or custom limits).";
    return d;
}

Diagnosis budget_refusal(const quota::Governor::Admission& a, SystemTime wall) {
    Diagnosis d;
    d.code = Status::BUDGET;
    d.reason = "BUDGET_CAP";
    const std::string period(quota::period_name(a.budget_period.value_or(quota::Period::Total)));
    d.message = "not sent: this request may cost up to " + quota::format_usd(a.estimate) + " and " +
                quota::format_usd(a.committed) + " of the " + quota::format_usd(a.cap) + " " + period +
                " cap is already spent or reserved";
    if (a.retry_at != SystemTime::max() && a.retry_at > wall)
        d.retry_after = duration_cast<milliseconds>(a.retry_at - wall);
    d.advice = a.budget_period == quota::Period::Total
                   ? "The total cap is reached: raise it (budget={\"total\": ...}) to spend more."
                   : "Raise the " + period + " cap (budget={\"" + period + "\": ...}), or wait until it resets at "
                     "midnight Pacific time (retry_after). Smaller images cost less (4K costs most).";
    return d;
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
    CheckedImages images;
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
    // A token raised before the call: begin_on_loop fails the job unsent. Setting the flag here,
    // not through the token's callback, closes the window in which the loop could send first.
    if (call_.cancel && call_.cancel->cancelled()) cancel_requested_ = true;
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

void JobState::warn_prompt(std::string risk, std::string reasons) {
    Event ev = event(EventKind::PromptWarning);
    ev.reason = std::move(risk);
    ev.message = std::move(reasons);
    emit(std::move(ev));
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
    release_ticket();   // admitted but never sent (cancelled or out of time while queued)
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
        if (self->finished_ || self->transfer_ || self->concluding_attempt_ ||
            self->progress().stage == JobStage::Validating)
            return;
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

// ---- quota and budget: before and after every attempt -----------------------------------------

// Asks the governor (on the state thread) whether this attempt may go now.
void JobState::admit_on_loop() {
    if (!core_->governor) {
        queue_for_slot_on_loop();
        return;
    }
    const RouteSlot& slot = core_->routes[current_];
    std::string owner = slot.config.quota_pool.empty() ? slot.credential : slot.config.quota_pool;
    std::string size = req_.image_size;
    auto self = shared_from_this();
    // req_ is not touched on the loop while an admission is pending; the state thread reads it.
    core_->state_thread->submit([self, owner = std::move(owner), size = std::move(size)] {
        std::optional<quota::Governor::Admission> a;
        std::optional<Diagnosis> failure;
        try {
            a = self->core_->governor->admit(owner, self->req_, self->model_, size, quota::Mode::Online,
                                             self->core_->opt.clock->wall());
        } catch (const Error& e) {
            failure = e.diagnosis();
        } catch (const std::exception& e) {
            failure = local_failure(Status::INTERNAL, "STATE", std::string("the quota state failed: ") + e.what(),
                                    "Check that the state file's disk is local and writable, or use another "
                                    "state path.");
        }
        self->core_->loop->post([self, a = std::move(a), failure = std::move(failure)]() mutable {
            self->on_admission_on_loop(std::move(a), std::move(failure));
        });
    });
}

void JobState::on_admission_on_loop(std::optional<quota::Governor::Admission> a, std::optional<Diagnosis> failure) {
    using Kind = quota::Governor::Admission::Kind;
    if (a && a->kind == Kind::Admitted) ticket_ = a->ticket;
    if (finished_) {
        release_ticket();
        return;
    }
    if (cancel_requested_) {
        release_ticket();
        fail_on_loop(local_failure(Status::CANCELLED, "CANCELLED",
                                   number_ == 0 ? "cancelled before it was sent"
                                                : "cancelled while waiting after attempt " + std::to_string(number_),
                                   kCancelledAdvice));
        return;
    }
    if (failure) {
        fail_on_loop(std::move(*failure));
        return;
    }
    for (auto& notice : a->notices) {
        Event ev = event(EventKind::StateNotice);
        ev.reason = notice.reachable ? "reconciled" : "unreachable";
        ev.message = std::move(notice.message);
        emit(std::move(ev));
    }
    const auto now = std::chrono::steady_clock::now();
    const auto wall = core_->opt.clock->wall();
    switch (a->kind) {
    case Kind::Admitted:
        for (Dimension d : a->warnings) {
            Event ev = event(EventKind::QuotaWarning);
            ev.dimension = d;
            ev.percent = 80;
            ev.message = std::string(dimension_name(d)) + " use for " + model_ + " crossed 80% of its limit";
            emit(std::move(ev));
        }
        for (const auto& al : a->alerts) {
            Event ev = event(EventKind::BudgetAlert);
            ev.percent = al.percent;
            ev.message = std::string(quota::period_name(al.period)) + " spend reached " + std::to_string(al.percent) +
                         "% of its cap: " + quota::format_usd(al.committed) + " of " + quota::format_usd(al.cap) +
                         " spent or reserved";
            emit(std::move(ev));
        }
        queue_for_slot_on_loop();
        return;
    case Kind::Wait: {
        auto wait = std::max(duration_cast<milliseconds>(a->retry_at - wall), milliseconds(1));
        const bool past_deadline = deadline_ && now + wait + kMinAttemptTime > *deadline_;
        if (past_deadline || wait > core_->opt.retry.max_wait) {
            fail_on_loop(quota_refusal(*a, model_, wait, past_deadline));
            return;
        }
        if (a->fit.limit) {   // pacing under an unknown limit is milliseconds: no event for it
            Event ev = event(EventKind::QuotaWait);
            ev.dimension = a->fit.binding;
            ev.delay = wait;
            ev.message = "waiting " + seconds_text(wait) + ": " + quota_wait_reason(a->fit) + "; " + limit_text(a->fit);
            emit(std::move(ev));
        }
        wait_then_on_loop(now + wait, JobStage::WaitingQuota,
                          "waiting " + seconds_text(wait) + ": " + quota_wait_reason(a->fit), &JobState::admit_on_loop);
        return;
    }
    case Kind::RefusedQuota: {
        auto wait = a->retry_at > wall ? duration_cast<milliseconds>(a->retry_at - wall) : milliseconds(0);
        fail_on_loop(quota_refusal(*a, model_, wait, false));
        return;
    }
    case Kind::RefusedBudget:
        fail_on_loop(budget_refusal(*a, wall));
        return;
    }
}

void JobState::queue_for_slot_on_loop() {
    set_stage(JobStage::Queued);
    core_->enqueue_on_loop(shared_from_this());
}

// An admitted attempt that will never be sent gives its quota entry and cost hold back.
void JobState::release_ticket() {
    if (!ticket_ || !core_->governor) return;
    auto gov = core_->governor;
    auto clock = core_->opt.clock;
    core_->state_thread->submit([gov, clock, t = std::move(*ticket_)] {
        try {
            gov->release(t, clock->wall());
        } catch (...) {
            // The hold expires after its lease and is then booked in full: never an under-count.
        }
    });
    ticket_.reset();
}

// After an attempt: the governor learns what it used and what it cost, then the job goes on.
//   a 429                          -> on_429: learn the limits and the drain, drop the entry
//   a reply (200, even blocked)    -> settle from usageMetadata: billed
//   an error reply, or never sent  -> release: not billed
//   sent, no answer (timeout)      -> settle without usage: the worst case is booked
void JobState::settle_then_on_loop(Diagnosis diag, std::shared_ptr<Validated> v) {
    enum class How { Settle, On429, Release };
    How how = How::Settle;
    if (diag.http_status == 429) how = How::On429;
    else if (v->have_reply) how = How::Settle;
    else if (diag.http_status > 0 || attempts_.back().execution == Execution::NotSent) how = How::Release;
    Usage usage = v->have_reply ? v->reply.usage : Usage{};
    int images = v->have_reply ? static_cast<int>(deliverable_images(v->reply).size()) : 0;
    std::string body = how == How::On429 && sink_ ? sink_->raw() : std::string();
    auto ticket = std::move(*ticket_);
    ticket_.reset();
    auto self = shared_from_this();
    core_->state_thread->submit([self, how, ticket = std::move(ticket), usage = std::move(usage), images,
                                 body = std::move(body), diag = std::move(diag), v]() mutable {
        quota::Governor::Settlement settled;
        auto& gov = *self->core_->governor;
        auto wall = self->core_->opt.clock->wall();
        try {
            if (how == How::On429) gov.on_429(ticket, diag, body, wall);
            else if (how == How::Release) gov.release(ticket, wall);
            else settled = gov.settle(ticket, usage, images, wall);
        } catch (...) {
            // The attempt's outcome stands; an unsettled hold is booked in full when its lease ends.
        }
        self->core_->loop->post([self, settled = std::move(settled), diag = std::move(diag), v]() mutable {
            self->cost_ += settled.cost;
            for (const auto& al : settled.alerts) {
                Event ev = self->event(EventKind::BudgetAlert);
                ev.percent = al.percent;
                ev.message = std::string(quota::period_name(al.period)) + " spend reached " +
                             std::to_string(al.percent) + "% of its cap: " + quota::format_usd(al.committed) +
                             " of " + quota::format_usd(al.cap);
                self->emit(std::move(ev));
            }
            if (self->finished_) return;
            self->after_attempt_on_loop(std::move(diag), std::move(v));
        });
    });
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
    http.headers.emplace_back("x-goog-api-client", "nbcore/" NBCORE_VERSION_STRING);
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
    concluding_attempt_ = true;
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
        v->images = check_images(v->reply, opt.image_limits, opt.blank_rules, opt.keep_pixels);
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
        obs.failed_image = v->images.failed_check();
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

    if (ticket_) {
        settle_then_on_loop(std::move(diag), std::move(v));
        return;
    }
    after_attempt_on_loop(std::move(diag), std::move(v));
}

void JobState::after_attempt_on_loop(Diagnosis diag, std::shared_ptr<Validated> v) {
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
        concluding_attempt_ = false;
        admit_on_loop();
        return;
    }
    plan_on_loop(std::move(diag));
}

void JobState::plan_on_loop(Diagnosis diag) {
    concluding_attempt_ = false;
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
    policy::RetryPolicy policy = core_->opt.retry;
    if (call_.max_billed_retries) policy.max_billed_retries = *call_.max_billed_retries;
    policy::PlanInput in{diag, retry_, policy};
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
    fill_result(res, v.reply, v.images, core_->opt.keep_pixels);
    res.model = model_;
    res.attempts = attempts_;
    res.route = core_->routes[current_].config.name;
    res.image_size = req_.image_size;
    res.elapsed = elapsed();
    res.cost_usd = quota::usd(cost_);
    Event done = event(EventKind::Done);
    done.outcome = Status::OK;
    emit(done);
    finish(std::move(res), std::nullopt);
}

void JobState::fail_on_loop(Diagnosis d) {
    if (d.code == Status::NO_IMAGE || d.code == Status::BLANK_IMAGE) {
        // Crowded prompts are the usual cause of empty answers: say so when this one is crowded.
        std::string why = prompt::blank_output_advice(prompt::analyze(req_.prompt, req_.image_size));
        if (!why.empty()) d.advice += (d.advice.empty() ? "" : " ") + why;
    }
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
