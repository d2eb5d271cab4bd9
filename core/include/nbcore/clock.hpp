// Injectable time and randomness, so every timing rule is testable without sleeping, and a
// cancellation token that interrupts waits at once.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <utility>
#include <vector>

namespace nbcore {

using SteadyTime = std::chrono::steady_clock::time_point;
using SystemTime = std::chrono::system_clock::time_point;

class CancelToken;

class Clock {
public:
    virtual ~Clock() = default;
    virtual SteadyTime now() const = 0;
    virtual SystemTime wall() const = 0;
    // Sleep until `until` or until `cancel` fires; returns false when cancelled.
    virtual bool sleep_until(SteadyTime until, const CancelToken* cancel) = 0;
};

class SystemClock final : public Clock {
public:
    SteadyTime now() const override { return std::chrono::steady_clock::now(); }
    SystemTime wall() const override { return std::chrono::system_clock::now(); }
    bool sleep_until(SteadyTime until, const CancelToken* cancel) override;
    static std::shared_ptr<Clock> instance();
};

// A clock that only moves when told to (tests). sleep_until advances it instantly.
class FakeClock final : public Clock {
public:
    explicit FakeClock(SystemTime wall_start = SystemTime{std::chrono::seconds(1'700'000'000)})
        : wall0_(wall_start) {}
    SteadyTime now() const override { return SteadyTime{} + offset_.load(); }
    SystemTime wall() const override {
        return wall0_ + std::chrono::duration_cast<SystemTime::duration>(offset_.load());
    }
    bool sleep_until(SteadyTime until, const CancelToken* cancel) override;
    void advance(std::chrono::nanoseconds d) { offset_ = offset_.load() + d; }

private:
    SystemTime wall0_;
    std::atomic<std::chrono::nanoseconds> offset_{std::chrono::nanoseconds(1'000'000'000)};
};

// Uniform doubles in [0, 1). Injectable for deterministic jitter.
class Rng {
public:
    virtual ~Rng() = default;
    virtual double uniform() = 0;
};

class DefaultRng final : public Rng {
public:
    DefaultRng();
    explicit DefaultRng(std::uint64_t seed) : gen_(seed) {}
    double uniform() override;

private:
    std::mutex mu_;
    std::mt19937_64 gen_;
};

// Thread-safe one-shot cancellation. Waiters wake immediately; callbacks run once on cancel().
class CancelToken {
public:
    void cancel();
    bool cancelled() const noexcept { return flag_.load(std::memory_order_acquire); }
    // Waits until `until` (steady clock) or cancellation; false when cancelled.
    bool wait_until(SteadyTime until) const;
    // Registers a callback run on cancel (immediately if already cancelled). Returns an id.
    // const: observers of a token may register interest without owning it.
    int on_cancel(std::function<void()> fn) const;
    void remove(int id) const;

private:
    std::atomic<bool> flag_{false};
    mutable std::mutex mu_;
    mutable std::condition_variable cv_;
    mutable std::vector<std::pair<int, std::function<void()>>> callbacks_;
    mutable int next_id_ = 1;
};

}  // namespace nbcore
