// A retry budget in the style of Finagle and Envoy: retries may be at most `ratio` of the first
// attempts seen over a sliding window, plus a small per-second reserve. Under an outage this keeps
// retries from multiplying the load (and the bill); a lone user still gets the reserve.
#include <algorithm>
#include <cmath>

#include "nbcore/resilience.hpp"

namespace nbcore::policy {
namespace {

RetryBudgetConfig sane(RetryBudgetConfig c) {
    c.window = std::clamp(c.window, std::chrono::seconds(1), std::chrono::seconds(3600));
    c.ratio = std::max(c.ratio, 0.0);
    c.min_retries_per_second = std::max(c.min_retries_per_second, 0.0);
    return c;
}

}  // namespace

RetryBudget::RetryBudget(RetryBudgetConfig config)
    : config_(sane(config)), ring_(static_cast<std::size_t>(config_.window.count())) {}

std::int64_t RetryBudget::second_of(SteadyTime now) const {
    auto s = std::chrono::floor<std::chrono::seconds>(now.time_since_epoch()).count();
    // Callers read the clock before taking the lock, so a thread may arrive with a time a little
    // older than one already counted: it counts in the latest second instead of going back.
    return std::max<std::int64_t>(s, latest_);
}

RetryBudget::Bucket& RetryBudget::bucket_at(std::int64_t second) {
    latest_ = second;
    auto n = static_cast<std::int64_t>(ring_.size());
    auto& b = ring_[static_cast<std::size_t>((second % n + n) % n)];
    if (b.second != second) b = Bucket{second, 0, 0};   // a second that left the window: reuse it
    return b;
}

// Sums the buckets inside the window that ends with `second`.
RetryBudget::Totals RetryBudget::totals(std::int64_t second) const {
    auto span = static_cast<std::int64_t>(ring_.size());
    Totals t;
    for (const auto& b : ring_)
        if (b.second > second - span && b.second <= second) {
            t.requests += b.requests;
            t.retries += b.retries;
        }
    return t;
}

double RetryBudget::allowance(const Totals& t) const {
    return config_.ratio * static_cast<double>(t.requests) +
           config_.min_retries_per_second * static_cast<double>(config_.window.count());
}

void RetryBudget::on_request(SteadyTime now) {
    std::lock_guard lock(mu_);
    ++bucket_at(second_of(now)).requests;
}

bool RetryBudget::try_retry(SteadyTime now) {
    std::lock_guard lock(mu_);
    auto second = second_of(now);
    auto t = totals(second);
    if (static_cast<double>(t.retries + 1) > allowance(t) + 1e-9) return false;
    ++bucket_at(second).retries;
    return true;
}

bool RetryBudget::can_retry(SteadyTime now) const {
    std::lock_guard lock(mu_);
    auto t = totals(second_of(now));
    return static_cast<double>(t.retries + 1) <= allowance(t) + 1e-9;
}

double RetryBudget::available(SteadyTime now) const {
    std::lock_guard lock(mu_);
    auto t = totals(second_of(now));
    return std::max(0.0, allowance(t) - static_cast<double>(t.retries));
}

}  // namespace nbcore::policy
