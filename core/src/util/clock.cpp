#include "nbcore/clock.hpp"

#include <algorithm>
#include <thread>

namespace nbcore {

bool SystemClock::sleep_until(SteadyTime until, const CancelToken* cancel) {
    if (cancel) return cancel->wait_until(until);
    std::this_thread::sleep_until(until);
    return true;
}

std::shared_ptr<Clock> SystemClock::instance() {
    static std::shared_ptr<Clock> clock = std::make_shared<SystemClock>();
    return clock;
}

bool FakeClock::sleep_until(SteadyTime until, const CancelToken* cancel) {
    if (cancel && cancel->cancelled()) return false;
    if (until > now()) offset_ = until - SteadyTime{};
    return !(cancel && cancel->cancelled());
}

DefaultRng::DefaultRng() : gen_(std::random_device{}()) {}

double DefaultRng::uniform() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::uniform_real_distribution<double>(0.0, 1.0)(gen_);
}

void CancelToken::cancel() {
    std::vector<std::pair<int, std::function<void()>>> run;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (flag_.exchange(true, std::memory_order_acq_rel)) return;
        run.swap(callbacks_);
    }
    cv_.notify_all();
    for (auto& [id, fn] : run) fn();
}

bool CancelToken::wait_until(SteadyTime until) const {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_until(lock, until, [&] { return flag_.load(std::memory_order_acquire); });
    return !flag_.load(std::memory_order_acquire);
}

int CancelToken::on_cancel(std::function<void()> fn) const {
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (!flag_.load(std::memory_order_acquire)) {
            int id = next_id_++;
            callbacks_.emplace_back(id, std::move(fn));
            return id;
        }
    }
    fn();
    return 0;
}

void CancelToken::remove(int id) const {
    std::lock_guard<std::mutex> lock(mu_);
    callbacks_.erase(std::remove_if(callbacks_.begin(), callbacks_.end(),
                                    [id](const auto& p) { return p.first == id; }),
                     callbacks_.end());
}

}  // namespace nbcore
