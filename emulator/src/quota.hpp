// Optional quota enforcement: per-model requests per minute, input tokens per minute and
// requests per day, answered with the real 429 bodies once exceeded. Off unless limits are set;
// scripts remain the way to force a particular 429.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <string>

#include "errors.hpp"

namespace nbcore::emulator {

using SteadyTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;

struct QuotaLimits {
    int rpm = 0;   // requests per minute per model; 0 = unlimited
    int tpm = 0;   // input tokens per minute per model
    int rpd = 0;   // requests per day per model; the day ends at midnight America/Los_Angeles
    bool any() const { return rpm > 0 || tpm > 0 || rpd > 0; }
};

struct QuotaRefusal {
    Quota kind;             // FreeRpm, FreeTpm or FreeRpd
    double retry_seconds;   // whole seconds until the request would fit
};

// Counts admitted requests. Not thread-safe; the server locks around it.
class QuotaLedger {
public:
    explicit QuotaLedger(QuotaLimits limits) : limits_(limits) {}

    // Admits (and counts) a request, or says which limit it would break and for how long.
    std::optional<QuotaRefusal> admit(const std::string& model, int input_tokens, SteadyTime now, WallTime wall);
    void clear() { usage_.clear(); }

private:
    struct Usage {
        std::deque<std::pair<SteadyTime, int>> last_minute;   // admitted requests and their tokens
        int today = 0;
        WallTime day_ends{};
    };
    QuotaLimits limits_;
    std::map<std::string, Usage> usage_;
};

// The next midnight in America/Los_Angeles (PST/PDT with the US rules since 2007): when daily
// quotas reset.
WallTime next_pacific_midnight(WallTime t);

}  // namespace nbcore::emulator
