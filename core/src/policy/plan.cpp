// plan(): what the next attempt is, given decide()'s per-class verdict, the routes and their
// breakers, the size downgrade option and the retry budget. Each candidate (downgrade here, fail
// over to another route, retry here) gets the earliest time it could start; the earliest that fits
// the deadline and max_wait wins. Failing over needs no backoff (the other route is healthy) and no
// retry budget, but it does count as an attempt.
#include <algorithm>

#include "nbcore/resilience.hpp"
#include "policy/internal.hpp"

namespace nbcore::policy {
namespace {

using detail::format_duration;

std::string name_of(Status s) { return std::string(status_name(s)); }

// Why a request might leave its route, which decides what another route must offer.
enum class Leave {
    Never,           // the request or the caller is at fault; no route changes that
    Capacity,        // the route is overloaded or unreachable: any other route may help
    MinuteQuota,     // a per-minute quota: only a route drawing from another pool helps
    Quota,           // a per-day or zero quota: likewise
    Location,        // the caller's location: another entry point, or a billed project, helps
    Safety,          // another route may filter differently; opt-in at both ends
};

Leave leave_reason(const Diagnosis& d) {
    switch (d.code) {
    case Status::UNAVAILABLE:
    case Status::SERVER_ERROR:
    case Status::BAD_GATEWAY:
    case Status::TIMEOUT:
    case Status::NETWORK: return Leave::Capacity;
    case Status::RATE_LIMITED:
        switch (d.dimension) {
        case Dimension::RPM:
        case Dimension::TPM:
        case Dimension::IPM: return Leave::MinuteQuota;
        default: return Leave::Capacity;   // a 429 without quota details: shared capacity
        }
    case Status::QUOTA_EXHAUSTED: return Leave::Quota;
    case Status::LOCATION: return Leave::Location;
    case Status::BLOCKED_SAFETY:
    case Status::BLOCKED_POLICY: return Leave::Safety;
    default: return Leave::Never;
    }
}

bool flag_for(const Route& r, Leave why) {
    switch (why) {
    case Leave::Capacity:
    case Leave::MinuteQuota: return r.failover_on_capacity;
    case Leave::Quota: return r.failover_on_quota;
    case Leave::Location: return r.failover_on_location;
    case Leave::Safety: return r.failover_on_safety;
    case Leave::Never: return false;
    }
    return false;
}

// Whether `to` can serve what failed on `from` for this reason.
bool can_take_over(const Route& from, const Route& to, Leave why) {
    if (!flag_for(from, why) || !flag_for(to, why)) return false;
    bool other_pool = quota_pool_of(from) != quota_pool_of(to);
    switch (why) {
    case Leave::MinuteQuota:
    case Leave::Quota: return other_pool;
    case Leave::Location: return other_pool || from.base_url != to.base_url;
    default: return true;
    }
}

std::string_view no_route_hint(Leave why) {
    switch (why) {
    case Leave::MinuteQuota:
    case Leave::Quota: return "no route that allows it draws from another quota pool";
    case Leave::Location: return "no route that allows it enters elsewhere or draws from another quota pool";
    case Leave::Safety: return "failover on safety blocks is off";
    case Leave::Capacity: return "no other route allows failover";
    case Leave::Never: return "";
    }
    return "";
}

struct Option {
    Plan::Action action = Plan::Action::Retry;
    std::size_t route = 0;
    Millis delay{0};
    bool breaker_wait = false;   // the delay is the route's breaker, not a backoff
};

// At equal delays: a downgrade (the caller opted in and the size is the likely cause), then
// leaving the route that just failed, then trying it again.
int rank(Plan::Action a) {
    switch (a) {
    case Plan::Action::Downgrade: return 0;
    case Plan::Action::FailOver: return 1;
    default: return 2;
    }
}

// Options are collected in preference order, so a strict comparison keeps the earlier route.
bool sooner(const Option& a, const Option& b) {
    if (a.delay != b.delay) return a.delay < b.delay;
    return rank(a.action) < rank(b.action);
}

class Planner {
public:
    Planner(const PlanInput& in, Rng& rng) : in_(in), d_(in.diagnosis), now_(in.retry.now) {
        decision_ = decide(d_, in.retry, in.policy, rng);
    }

    Plan run() {
        if (d_.code == Status::OK) return done();
        if (!in_.routes.empty() && in_.current >= in_.routes.size())
            return fail(Status::INTERNAL, "plan(): current route " + std::to_string(in_.current) +
                                              " is not one of the " + std::to_string(in_.routes.size()) + " routes");
        auto leave = leave_reason(d_);
        if (in_.retry.attempts_made >= in_.policy.max_attempts) {   // failovers are attempts too
            if (d_.retryable || leave == Leave::Never) return from_decision();
            return fail(d_.code, name_of(d_.code) + ": no attempt left to fail over with (max_attempts " +
                                     std::to_string(in_.policy.max_attempts) + ")", d_.retry_after);
        }

        collect(leave);
        const Option* best = nullptr;
        for (const auto& o : options_)
            if (fits(o.delay) && (!best || sooner(o, *best))) best = &o;
        if (best) return take(*best);
        return nothing_fits(leave);
    }

private:
    void collect(Leave leave) {
        auto smaller = downgraded_size(in_.image_size);
        bool retry_here = decision_.action == Action::Retry;
        bool downgrade = in_.downgrade_enabled && d_.code == Status::TIMEOUT && !smaller.empty();
        // Another attempt on this route draws on the retry budget; leaving it does not.
        budget_refused_ = (retry_here || downgrade) && !in_.budget_allows_retry;
        if (downgrade && !budget_refused_)   // no backoff: the smaller size is the remedy
            options_.push_back({Plan::Action::Downgrade, in_.current, route_wait(in_.current),
                                route_wait(in_.current) > Millis(0)});
        if (retry_here && !budget_refused_) {
            auto wait = std::max(decision_.delay, route_wait(in_.current));
            options_.push_back({Plan::Action::Retry, in_.current, wait, wait > decision_.delay});
        }
        if (leave == Leave::Never || in_.routes.empty()) return;
        const auto& from = in_.routes[in_.current].route;
        for (std::size_t i = 0; i < in_.routes.size(); ++i) {
            if (i == in_.current || !can_take_over(from, in_.routes[i].route, leave)) continue;
            ++failover_targets_;
            options_.push_back({Plan::Action::FailOver, i, route_wait(i), route_wait(i) > Millis(0)});
        }
    }

    Admission admission(std::size_t i) const {
        if (in_.routes.empty()) return {true, false, now_};   // no breakers: always admitted
        return in_.routes[i].admission;
    }

    Millis route_wait(std::size_t i) const {
        auto a = admission(i);
        if (a.allowed || a.retry_at <= now_) return Millis(0);
        return std::chrono::ceil<Millis>(a.retry_at - now_);
    }

    std::string route_name(std::size_t i) const {
        if (in_.routes.empty()) return "the route";
        return in_.routes[i].route.name;
    }

    bool fits(Millis delay) const {
        if (delay > in_.policy.max_wait) return false;
        return !in_.retry.deadline || now_ + delay < *in_.retry.deadline;
    }

    std::string attempt_of() const {
        return "attempt " + std::to_string(in_.retry.attempts_made + 1) + " of " +
               std::to_string(in_.policy.max_attempts);
    }

    // Why a delay does not fit: "beyond max_wait of 5 min" / "but only 12 s remain before the deadline".
    // Only asked while some time remains before the deadline.
    std::string beyond(Millis delay) const {
        if (delay > in_.policy.max_wait) return "beyond max_wait of " + format_duration(in_.policy.max_wait);
        auto remaining = std::chrono::ceil<Millis>(*in_.retry.deadline - now_);
        return "but only " + format_duration(remaining) + " remain before the deadline";
    }

    Plan base() const {
        Plan p;
        p.route = in_.current;
        p.image_size = std::string(in_.image_size);
        p.fail_as = d_.code;
        return p;
    }

    Plan done() const {
        auto p = base();
        p.action = Plan::Action::Done;
        p.why = "the attempt succeeded; nothing to plan";
        return p;
    }

    Plan fail(Status code, std::string why, std::optional<Millis> retry_after = std::nullopt) const {
        auto p = base();
        p.action = Plan::Action::Fail;
        p.fail_as = code;
        p.retry_after = retry_after;
        p.why = std::move(why);
        return p;
    }

    Plan from_decision() const { return fail(decision_.fail_as, decision_.why, d_.retry_after); }

    Plan take(const Option& o) const {
        auto p = base();
        p.action = o.action;
        p.route = o.route;
        p.delay = o.delay;
        auto when = o.delay == Millis(0) ? std::string() : " in " + format_duration(o.delay);
        auto reopens = o.breaker_wait ? ", when " + route_name(o.route) + " admits again" : std::string();
        switch (o.action) {
        case Plan::Action::Downgrade:
            p.image_size = downgraded_size(in_.image_size);
            p.why = "downgrade " + std::string(in_.image_size) + " -> " + p.image_size + " after TIMEOUT" + when +
                    reopens + " (" + attempt_of() + ")";
            break;
        case Plan::Action::FailOver:
            p.why = "fail over from " + route_name(in_.current) + " to " + route_name(o.route) + " after " +
                    name_of(d_.code) + when + reopens + " (" + attempt_of() + ")";
            break;
        default:
            p.why = o.breaker_wait ? "retry " + std::to_string(in_.retry.attempts_made + 1) + " of " +
                                         std::to_string(in_.policy.max_attempts) + when + " after " +
                                         name_of(d_.code) + reopens + " (its breaker is open; the wait alone was " +
                                         format_duration(decision_.delay) + ")"
                                   : decision_.why;
            break;
        }
        return p;
    }

    Plan nothing_fits(Leave leave) const {
        if (in_.retry.deadline && now_ >= *in_.retry.deadline)
            return fail(d_.code, name_of(d_.code) + ": no time remains before the deadline, so neither a retry "
                                                    "nor a failover can start",
                        d_.retry_after);
        if (options_.empty()) {
            std::string why = budget_refused_
                                  ? name_of(d_.code) + ": the retry budget is spent (retries across all requests "
                                                       "are capped), so nbcore does not retry"
                                  : decision_.why;
            if (leave != Leave::Never && failover_targets_ == 0 && in_.routes.size() > 1)
                why += "; no failover: " + std::string(no_route_hint(leave));
            return fail(d_.code, why, d_.retry_after);
        }
        const Option* earliest = &options_.front();
        for (const auto& o : options_)
            if (sooner(o, *earliest)) earliest = &o;
        // Open: the current route and every route that could take over refuse the next attempt now.
        bool every_route_open = !admission(in_.current).allowed &&
                                std::none_of(options_.begin(), options_.end(),
                                             [&](const Option& o) { return admission(o.route).allowed; });
        std::string why = name_of(d_.code) + ": " +
                          (every_route_open ? "every route is open; the earliest to admit again is "
                                            : "no attempt can start in time; the earliest is on ") +
                          route_name(earliest->route) + ", in " + format_duration(earliest->delay) + ", " +
                          beyond(earliest->delay);
        if (decision_.action == Action::Fail) why += " (" + decision_.why + ")";
        if (budget_refused_) why += "; the retry budget is spent";
        return fail(d_.code, why, every_route_open ? std::optional<Millis>(earliest->delay) : d_.retry_after);
    }

    const PlanInput& in_;
    const Diagnosis& d_;
    SteadyTime now_;
    Decision decision_;
    std::vector<Option> options_;
    bool budget_refused_ = false;
    int failover_targets_ = 0;
};

}  // namespace

std::string_view route_kind_name(RouteKind k) noexcept {
    switch (k) {
    case RouteKind::AiStudio: return "ai-studio";
    case RouteKind::Vertex: return "vertex";
    case RouteKind::Custom: return "custom";
    }
    return "unknown";
}

std::string_view quota_pool_of(const Route& r) noexcept {
    return r.quota_pool.empty() ? std::string_view(r.name) : std::string_view(r.quota_pool);
}

std::string downgraded_size(std::string_view size) {
    if (size == "4K") return "2K";
    if (size == "2K") return "1K";
    return {};
}

std::string_view plan_action_name(Plan::Action a) noexcept {
    switch (a) {
    case Plan::Action::Done: return "done";
    case Plan::Action::Retry: return "retry";
    case Plan::Action::FailOver: return "fail over";
    case Plan::Action::Downgrade: return "downgrade";
    case Plan::Action::Fail: return "fail";
    }
    return "unknown";
}

Plan plan(const PlanInput& in, Rng& rng) { return Planner(in, rng).run(); }

}  // namespace nbcore::policy
