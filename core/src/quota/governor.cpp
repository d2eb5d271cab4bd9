// The governor facade (governor.hpp): quota admission, then the cost reservation, in the order that
// never leaves a budget refusal holding quota.
#include "nbcore/governor.hpp"

#include <chrono>
#include <cmath>
#include <map>
#include <mutex>

#include "nbcore/models.hpp"

namespace nbcore::quota {
namespace {

[[noreturn]] void invalid(std::string message, std::string advice) {
    throw Error(Status::INVALID_ARG, "governor: " + std::move(message), std::move(advice));
}

void check_options(const GovernorOptions& o) {
    if (!o.tier.empty() && !tier_limits(o.tier, "")) {
        std::string names;
        for (auto n : tier_names()) names += (names.empty() ? "" : ", ") + std::string(n);
        invalid("unknown tier \"" + o.tier + "\"",
                "Use one of " + names + ", or leave the tier empty to learn the limits from the server's 429s.");
    }
    for (auto d : kDimensions) {
        if (auto v = o.custom.get(d); v && *v < 0)
            invalid("custom " + std::string(dimension_name(d)) + " limit is negative (" + std::to_string(*v) + ")",
                    "Give limits of 0 or more (0 = no quota), or leave the field unset to use the tier's number.");
    }
    const Period periods[] = {Period::Day, Period::Month, Period::Total};
    const std::optional<double> caps[] = {o.caps.daily_usd, o.caps.monthly_usd, o.caps.total_usd};
    for (int i = 0; i < 3; ++i) {
        if (caps[i] && (!std::isfinite(*caps[i]) || *caps[i] < 0))
            invalid(std::string(period_name(periods[i])) + " budget cap must be a non-negative amount of USD",
                    "Set the cap in US dollars (e.g. 5.00), or leave it unset for no cap.");
    }
    if (!(o.learn.decrease > 0 && o.learn.decrease <= 1))
        invalid("learn.decrease must be in (0, 1]", "Use 0.5 (halve the guess on each unexplained 429) unless you know better.");
    if (!(o.learn.increase >= 0) || !std::isfinite(o.learn.increase))
        invalid("learn.increase must be 0 or more", "Use 1.0 (about one request more per minute of successes).");
    if (o.learn.zero_hold.count() < 0)
        invalid("learn.zero_hold must not be negative", "Use one hour, the default.");
    if (o.learn.probe_spacing.count() < 0)
        invalid("learn.probe_spacing must not be negative", "Use 25 ms, the default, or 0 for no spacing.");
    if (o.allowance.thinking_tokens < 0 || o.allowance.text_tokens < 0)
        invalid("the output allowance must not be negative", "Leave Allowance at its defaults unless you know better.");
    if (o.lease.count() <= 0)
        invalid("the cost lease must be positive", "Use at least the longest an attempt may run (default one hour).");
    for (const auto& p : o.prices.images())
        if (!(p.usd_per_image >= 0) || !std::isfinite(p.usd_per_image))
            invalid("negative or invalid image price for " + p.model + " " + p.size, "Prices are non-negative USD.");
    for (const auto& p : o.prices.tokens())
        if (!(p.input_per_million >= 0) || !(p.output_text_per_million >= 0) || !std::isfinite(p.input_per_million) ||
            !std::isfinite(p.output_text_per_million))
            invalid("negative or invalid token price for " + p.model, "Prices are non-negative USD per million tokens.");
}

}  // namespace

std::shared_ptr<Governor> Governor::create(GovernorOptions options) {
    check_options(options);
    if (!options.state) options.state = make_memory_backend();
    return std::shared_ptr<Governor>(new Governor(std::move(options)));
}

Limits Governor::limits_for(std::string_view model) const {
    Limits base;
    if (!options_.tier.empty())
        if (auto t = tier_limits(options_.tier, model)) base = *t;
    return base.overlaid(options_.custom);
}

// How much later than our admission the server may stamp the same request (sending, transit,
// its own queueing). Waits for a per-minute window are lengthened by this much.
constexpr std::chrono::milliseconds kArrivalMargin{1000};

struct Governor::Pacing {
    std::mutex mu;
    std::map<QuotaKey, SystemTime> last;   // the latest admission while the key's RPM was unknown
};

Governor::Governor(GovernorOptions options)
    : options_(std::move(options)), pacing_(std::make_shared<Pacing>()) {}

std::optional<SystemTime> Governor::probe_wait(const QuotaKey& key, const Limits& configured, SystemTime now) {
    const auto spacing = std::chrono::duration_cast<SystemTime::duration>(options_.learn.probe_spacing);
    if (spacing.count() <= 0 || configured.rpm) return std::nullopt;
    const KeyState learned = state().learned(key);
    const auto& rpm = learned.at(Dimension::RPM);
    if (rpm.server_limit || rpm.adaptive) return std::nullopt;   // known now: the window decides
    std::lock_guard<std::mutex> lock(pacing_->mu);
    auto& last = pacing_->last[key];
    if (last != SystemTime{} && now < last + spacing) return last + spacing;
    last = now;
    return std::nullopt;
}

Governor::Admission Governor::admit(std::string_view credential_secret_or_pool, const Request& req,
                                    std::string_view model, std::string_view image_size, Mode mode, SystemTime now) {
    Admission a;
    Ticket t;
    t.key = QuotaKey::of(credential_secret_or_pool, model);
    t.demand = estimate_demand(req, t.key.model);
    t.cost.model = t.key.model;
    t.cost.image_size = std::string(image_size);
    t.cost.mode = mode;
    t.cost.input_tokens = t.demand.input_tokens;
    t.cost.images = t.demand.images;
    const CostEstimate worst = worst_case_cost(options_.prices, t.cost, options_.allowance);
    a.estimate = worst.total;

    AdmitRequest q;
    q.key = t.key;
    q.demand = t.demand;
    q.configured = limits_for(t.key.model);
    if (auto later = probe_wait(t.key, q.configured, now)) {
        a.kind = Admission::Wait;
        a.retry_at = *later;
        a.fit.verdict = Verdict::Later;
        a.fit.at = *later;
        a.fit.binding = Dimension::RPM;
        a.fit.source = LimitSource::Unknown;
        return a;
    }
    q.now = now;
    q.take = true;
    AdmitResult qr = state().admit(q);
    a.notices = std::move(qr.notices);
    a.fit = qr.fit;
    switch (qr.fit.verdict) {
    case Verdict::Later:
        a.kind = Admission::Wait;
        a.retry_at = qr.fit.at;
        // The server stamps a request when it arrives, a little after we admitted it: come back
        // a moment after our own window frees, so its window has freed too.
        if (is_per_minute(qr.fit.binding) && !qr.fit.drained) a.retry_at += kArrivalMargin;
        return a;
    case Verdict::Never:
        a.kind = Admission::RefusedQuota;
        a.retry_at = qr.fit.at;
        return a;
    case Verdict::Now:
        break;
    }
    t.quota_ticket = qr.ticket;

    ReserveRequest r;
    r.amount = worst.total;
    r.caps = options_.caps;
    r.now = now;
    r.lease = options_.lease;
    r.model = t.key.model;
    ReserveResult rr;
    try {
        rr = state().reserve(r);
    } catch (...) {
        state().release(t.key, t.quota_ticket);
        throw;
    }
    if (!rr.ok) {
        state().release(t.key, t.quota_ticket);
        a.kind = Admission::RefusedBudget;
        a.budget_period = rr.refused_by;
        a.committed = rr.committed;
        a.cap = rr.cap;
        auto end = rr.refused_by ? period_end(*rr.refused_by, now) : std::nullopt;
        a.retry_at = end ? *end : SystemTime::max();
        return a;
    }
    t.cost_hold = rr.hold;
    t.reserved = worst.total;
    a.kind = Admission::Admitted;
    a.ticket = std::move(t);
    a.warnings = std::move(qr.warnings);
    a.alerts = std::move(rr.alerts);
    return a;
}

Governor::Settlement Governor::settle(const Ticket& ticket, const Usage& usage, int images_delivered, SystemTime now) {
    QuotaActual actual;
    actual.input_tokens = usage.present ? usage.prompt_tokens + usage.tool_use_prompt_tokens : ticket.demand.input_tokens;
    actual.images = std::max(0, images_delivered);
    if (ticket.quota_ticket != 0)
        state().settle(ticket.key, ticket.quota_ticket, actual, limits_for(ticket.key.model), options_.learn, now);
    Settlement out;
    const MicroUsd cost = usage.present ? cost_of_usage(options_.prices, ticket.cost, usage) : ticket.reserved;
    if (ticket.cost_hold != 0) {
        auto r = state().settle_cost(ticket.cost_hold, cost, options_.caps, now);
        out.found = r.found;
        out.cost = r.booked;
        out.alerts = std::move(r.alerts);
    }
    return out;
}

void Governor::release(const Ticket& ticket, SystemTime now) {
    if (ticket.quota_ticket != 0) state().release(ticket.key, ticket.quota_ticket);
    if (ticket.cost_hold != 0) state().release_cost(ticket.cost_hold, now);
}

LearnResult Governor::on_429(const Ticket& ticket, const Diagnosis& diagnosis, std::string_view body, SystemTime now) {
    const QuotaSignal signal = signal_from_429(diagnosis, body);
    LearnResult out = state().on_429(ticket.key, signal, limits_for(ticket.key.model), options_.learn,
                                     ticket.quota_ticket, now);
    if (ticket.cost_hold != 0) state().release_cost(ticket.cost_hold, now);
    return out;
}

MicroUsd Governor::estimate(const Request& req, std::string_view model, std::string_view image_size, Mode mode) const {
    CostRequest c;
    c.model = canonical_model_id(model);
    c.image_size = std::string(image_size);
    c.mode = mode;
    const Demand d = estimate_demand(req, c.model);
    c.input_tokens = d.input_tokens;
    c.images = d.images;
    return worst_case_cost(options_.prices, c, options_.allowance).total;
}

MicroUsd Governor::cost_of(const Usage& usage, std::string_view model, std::string_view image_size, Mode mode) const {
    CostRequest c;
    c.model = canonical_model_id(model);
    c.image_size = std::string(image_size);
    c.mode = mode;
    return cost_of_usage(options_.prices, c, usage);
}

Governor::Admission Governor::reserve_cost(MicroUsd amount, std::string_view model, Millis lease, SystemTime now) {
    Admission a;
    a.estimate = amount;
    ReserveRequest r;
    r.amount = amount;
    r.caps = options_.caps;
    r.now = now;
    r.lease = lease;
    r.model = canonical_model_id(model);
    ReserveResult rr = state().reserve(r);
    if (!rr.ok) {
        a.kind = Admission::RefusedBudget;
        a.budget_period = rr.refused_by;
        a.committed = rr.committed;
        a.cap = rr.cap;
        auto end = rr.refused_by ? period_end(*rr.refused_by, now) : std::nullopt;
        a.retry_at = end ? *end : SystemTime::max();
        return a;
    }
    a.kind = Admission::Admitted;
    a.ticket.cost.model = r.model;
    a.ticket.cost.mode = Mode::Batch;
    a.ticket.cost_hold = rr.hold;
    a.ticket.reserved = amount;
    a.alerts = std::move(rr.alerts);
    return a;
}

Governor::Settlement Governor::settle_cost(const Ticket& ticket, MicroUsd actual, SystemTime now) {
    Settlement out;
    if (ticket.cost_hold == 0) return out;
    auto r = state().settle_cost(ticket.cost_hold, actual, options_.caps, now);
    out.found = r.found;
    out.cost = r.booked;
    out.alerts = std::move(r.alerts);
    return out;
}

UsageSnapshot Governor::usage(SystemTime now) { return state().snapshot(now); }

}  // namespace nbcore::quota
