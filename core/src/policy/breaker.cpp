// Circuit breakers that know what an outcome means: overload, 5xx, timeouts and network failures
// count; a server-given wait (429 RetryInfo, a per-day quota) holds the route closed to traffic
// until then without counting as ill health; everything else (400s, auth, safety, no image) says
// nothing about the route and never counts, in either direction.
#include <algorithm>
#include <cmath>

#include "nbcore/resilience.hpp"
#include "policy/internal.hpp"

namespace nbcore::policy {
namespace {

using detail::format_duration;

std::string name_of(Status s) { return std::string(status_name(s)); }

// open_base * 2^reopens, capped; doubling stops at the cap so it cannot overflow.
Millis open_time(const BreakerConfig& c, int reopens) {
    Millis t = std::max(c.open_base, Millis(1));
    for (int i = 0; i < reopens && t < c.open_cap; ++i) t *= 2;
    return std::min(t, std::max(c.open_cap, Millis(1)));
}

std::string hold_reason(const Diagnosis& d, Millis hold) {
    if (d.code == Status::RATE_LIMITED)
        return "RATE_LIMITED: the server asked to wait " + format_duration(hold) + "; held until then";
    if (d.dimension == Dimension::ZERO)
        return "QUOTA_EXHAUSTED (ZERO): this route has no quota for the model; held for " + format_duration(hold);
    if (d.dimension == Dimension::RPD)
        return "QUOTA_EXHAUSTED (RPD): held until the daily quota resets in " + format_duration(hold);
    return "QUOTA_EXHAUSTED: held for " + format_duration(hold);
}

}  // namespace

std::string_view breaker_state_name(BreakerState s) noexcept {
    switch (s) {
    case BreakerState::Closed: return "closed";
    case BreakerState::Open: return "open";
    case BreakerState::HalfOpen: return "half-open";
    }
    return "unknown";
}

BreakerEffect breaker_effect(const Diagnosis& d, const BreakerConfig& config) {
    switch (d.code) {
    case Status::OK: return {BreakerVerdict::Success, Millis(0)};
    case Status::SERVER_ERROR:
    case Status::BAD_GATEWAY:
    case Status::UNAVAILABLE:
    case Status::TIMEOUT:
    case Status::NETWORK: return {BreakerVerdict::Failure, Millis(0)};
    case Status::RATE_LIMITED:
        // Without a server wait, decide()'s backoff handles it; the route is not judged.
        if (d.retry_after && *d.retry_after > Millis(0)) return {BreakerVerdict::Hold, *d.retry_after};
        return {BreakerVerdict::Neutral, Millis(0)};
    case Status::QUOTA_EXHAUSTED:
        // A zero quota never comes back by waiting: hold as long as a breaker ever holds.
        if (d.dimension != Dimension::ZERO && d.retry_after && *d.retry_after > Millis(0))
            return {BreakerVerdict::Hold, *d.retry_after};
        return {BreakerVerdict::Hold, config.open_cap};
    default: return {BreakerVerdict::Neutral, Millis(0)};
    }
}

CircuitBreaker::CircuitBreaker(BreakerConfig config)
    : config_([&] {
          config.window = std::max(config.window, 1);
          config.half_open_probes = std::max(config.half_open_probes, 1);
          config.open_base = std::max(config.open_base, Millis(1));
          config.open_cap = std::max(config.open_cap, config.open_base);
          return config;
      }()),
      ring_(static_cast<std::size_t>(config_.window), 0) {}

BreakerState CircuitBreaker::effective(SteadyTime now) const {
    if (state_ == BreakerState::Open && now >= until_)
        return tripped_ ? BreakerState::HalfOpen : BreakerState::Closed;
    return state_;
}

void CircuitBreaker::settle(SteadyTime now) {
    auto next = effective(now);
    if (next != state_) {
        if (next == BreakerState::HalfOpen) probes_.clear();
        state_ = next;
    }
    if (state_ == BreakerState::HalfOpen)   // probes whose callers never reported
        std::erase_if(probes_, [&](SteadyTime t) { return t + config_.probe_lease <= now; });
}

// Reads the state as settle() would leave it, without changing it, so peek() can share it.
Admission CircuitBreaker::answer(SteadyTime now) const {
    switch (effective(now)) {
    case BreakerState::Closed: return {true, false, now};
    case BreakerState::Open: return {false, false, until_};
    case BreakerState::HalfOpen: break;
    }
    // Probes in flight: none when the open time has just ended, else those within their lease.
    int live = 0;
    auto oldest = SteadyTime::max();
    if (state_ == BreakerState::HalfOpen)
        for (auto t : probes_)
            if (t + config_.probe_lease > now) {
                ++live;
                oldest = std::min(oldest, t);
            }
    if (live < config_.half_open_probes) return {true, true, now};
    // Every probe slot is taken and its outcome decides. Look again after open_base, or when the
    // oldest probe's lease runs out if that is sooner.
    return {false, false, std::min(now + config_.open_base, oldest + config_.probe_lease)};
}

Admission CircuitBreaker::admit(SteadyTime now) {
    std::lock_guard lock(mu_);
    settle(now);
    auto a = answer(now);
    if (a.probe) probes_.push_back(now);
    return a;
}

Admission CircuitBreaker::peek(SteadyTime now) const {
    std::lock_guard lock(mu_);
    return answer(now);
}

BreakerState CircuitBreaker::state(SteadyTime now) const {
    std::lock_guard lock(mu_);
    return effective(now);
}

SteadyTime CircuitBreaker::open_until() const {
    std::lock_guard lock(mu_);
    return until_;
}

CircuitBreaker::Counts CircuitBreaker::counts() const {
    std::lock_guard lock(mu_);
    return {consecutive_, ring_count_, ring_failures_, reopens_};
}

void CircuitBreaker::push_outcome(bool failed) {
    auto& slot = ring_[ring_next_];
    if (ring_count_ == config_.window) ring_failures_ -= slot;
    else ++ring_count_;
    slot = failed ? 1 : 0;
    ring_failures_ += slot;
    ring_next_ = (ring_next_ + 1) % ring_.size();
}

void CircuitBreaker::reset_counts() {
    std::fill(ring_.begin(), ring_.end(), 0);
    ring_next_ = 0;
    ring_count_ = 0;
    ring_failures_ = 0;
    consecutive_ = 0;
}

std::optional<BreakerTransition> CircuitBreaker::trip(SteadyTime now, std::string why) {
    auto from = state_;
    auto open_for = open_time(config_, reopens_);
    until_ = state_ == BreakerState::Open ? std::max(until_, now + open_for) : now + open_for;
    state_ = BreakerState::Open;
    tripped_ = true;
    probes_.clear();
    reset_counts();
    return BreakerTransition{from, BreakerState::Open, until_, why + "; open for " + format_duration(open_for)};
}

std::optional<BreakerTransition> CircuitBreaker::hold(SteadyTime now, Millis how_long, std::string why) {
    auto until = now + how_long;
    if (state_ == BreakerState::Open && until_ >= until) return std::nullopt;   // already held longer
    auto from = state_;
    state_ = BreakerState::Open;
    until_ = until;
    probes_.clear();
    return BreakerTransition{from, BreakerState::Open, until_, std::move(why)};
}

std::optional<BreakerTransition> CircuitBreaker::record(const Diagnosis& d, SteadyTime now, bool probe) {
    std::lock_guard lock(mu_);
    settle(now);
    bool was_probe = false;
    if (probe && state_ == BreakerState::HalfOpen && !probes_.empty()) {
        probes_.erase(probes_.begin());
        was_probe = true;
    }

    auto effect = breaker_effect(d, config_);
    switch (effect.verdict) {
    case BreakerVerdict::Neutral: return std::nullopt;
    case BreakerVerdict::Hold:
        cause_ = d;
        return hold(now, effect.hold, hold_reason(d, effect.hold));
    case BreakerVerdict::Success:
        if (was_probe) {
            auto from = state_;
            state_ = BreakerState::Closed;
            tripped_ = false;
            reopens_ = 0;
            probes_.clear();
            reset_counts();
            return BreakerTransition{from, BreakerState::Closed, {}, "probe succeeded"};
        }
        // Counted only while the route is not judged unhealthy; a late success from before a
        // trip proves less than the probe will.
        if (!tripped_) {
            push_outcome(false);
            consecutive_ = 0;
        }
        return std::nullopt;
    case BreakerVerdict::Failure:
        if (was_probe) {
            ++reopens_;
            cause_ = d;
            return trip(now, "probe failed with " + name_of(d.code));
        }
        if (tripped_) return std::nullopt;   // already open for failures
        push_outcome(true);
        ++consecutive_;
        cause_ = d;   // kept only if this failure trips the breaker; harmless otherwise
        if (config_.consecutive_failures > 0 && consecutive_ >= config_.consecutive_failures)
            return trip(now, std::to_string(consecutive_) + " failures in a row, last " + name_of(d.code));
        if (config_.failure_rate > 0 && ring_count_ >= std::max(config_.min_calls, 1) &&
            ring_failures_ >= config_.failure_rate * ring_count_ - 1e-9) {
            auto percent = [](double r) { return std::to_string(static_cast<int>(std::lround(r * 100))) + "%"; };
            return trip(now, std::to_string(ring_failures_) + " of the last " + std::to_string(ring_count_) +
                                 " outcomes failed (" +
                                 percent(static_cast<double>(ring_failures_) / ring_count_) + ", threshold " +
                                 percent(config_.failure_rate) + "), last " + name_of(d.code));
        }
        return std::nullopt;
    }
    return std::nullopt;
}

std::optional<Diagnosis> CircuitBreaker::cause() const {
    std::lock_guard lock(mu_);
    return cause_;
}

// ---- registry ------------------------------------------------------------------------------

std::string credential_fingerprint(std::string_view secret) {
    if (secret.empty()) return "none";
    constexpr std::string_view kSalt = "nbcore/credential/v1";
    std::uint64_t h = 0xcbf29ce484222325ULL;   // FNV-1a 64 offset basis
    auto mix = [&](std::string_view bytes) {
        for (unsigned char c : bytes) {
            h ^= c;
            h *= 0x100000001b3ULL;             // FNV-1a 64 prime
        }
    };
    mix(kSalt);
    mix(secret);
    mix(kSalt);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out(12, '0');
    for (int i = 0; i < 12; ++i) out[static_cast<std::size_t>(i)] = kHex[(h >> (60 - 4 * i)) & 0xf];   // top 48 bits
    return out;
}

BreakerRegistry::BreakerRegistry(BreakerConfig config) : config_(config) {}

BreakerKey BreakerRegistry::key_for(std::string_view route, std::string_view model, std::string_view credential) {
    return {std::string(route), std::string(model), credential_fingerprint(credential)};
}

std::shared_ptr<CircuitBreaker> BreakerRegistry::get(std::string_view route, std::string_view model,
                                                     std::string_view credential) {
    return get(key_for(route, model, credential));
}

std::shared_ptr<CircuitBreaker> BreakerRegistry::get(const BreakerKey& key) {
    std::lock_guard lock(mu_);
    auto& slot = breakers_[key];
    if (!slot) slot = std::make_shared<CircuitBreaker>(config_);
    return slot;
}

std::vector<BreakerSnapshot> BreakerRegistry::snapshot(SteadyTime now) const {
    std::vector<std::pair<BreakerKey, std::shared_ptr<CircuitBreaker>>> all;
    {
        std::lock_guard lock(mu_);
        all.assign(breakers_.begin(), breakers_.end());
    }
    std::vector<BreakerSnapshot> out;
    out.reserve(all.size());
    for (const auto& [key, breaker] : all) {
        BreakerSnapshot s;
        s.key = key;
        s.state = breaker->state(now);
        s.open_until = breaker->open_until();
        s.counts = breaker->counts();
        out.push_back(std::move(s));
    }
    return out;
}

std::size_t BreakerRegistry::size() const {
    std::lock_guard lock(mu_);
    return breakers_.size();
}

}  // namespace nbcore::policy
