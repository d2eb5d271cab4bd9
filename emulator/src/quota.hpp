// Optional quota enforcement, the way the API counts: per caller (API key or Bearer token) and
// model, requests / input tokens / output images in a sliding 60-second window, and requests per
// day until midnight America/Los_Angeles. Off unless limits are set; scripts remain the way to
// force a particular 429.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "errors.hpp"

namespace nbcore::emulator {

using SteadyTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;

struct QuotaLimits {
    int rpm = 0;   // requests per minute; 0 = unlimited
    int tpm = 0;   // input tokens per minute
    int ipm = 0;   // output images per minute
    int rpd = 0;   // requests per day; the day ends at midnight America/Los_Angeles
    bool any() const { return rpm > 0 || tpm > 0 || ipm > 0 || rpd > 0; }
};

// What one request draws from the quotas besides itself.
struct QuotaCost {
    int input_tokens = 0;
    int output_images = 0;
};

struct QuotaRefusal {
    std::vector<QuotaBreach> breaches;   // every quota the request would break, in body order
    // Until all of them let it through: exact, so that a request sent this much later is
    // admitted and one sent a nanosecond earlier is not.
    std::chrono::nanoseconds retry_after{0};
};

// Counts admitted requests. Not thread-safe; the server locks around it. `caller` is an opaque
// name of the credential ("key:<key>", "bearer:<token>"): each has its own quotas, per model.
class QuotaLedger {
public:
    explicit QuotaLedger(QuotaLimits limits) : limits_(limits) {}

    // Admits (and counts) a request, or says which limits it would break and for how long.
    // `now` drives the minute windows, `wall` the Pacific day.
    std::optional<QuotaRefusal> admit(const std::string& caller, const std::string& model, QuotaCost cost,
                                      SteadyTime now, WallTime wall);
    void clear() { usage_.clear(); }
    const QuotaLimits& limits() const { return limits_; }
    // New limits from now on; what was counted stays (a limit turned off counts nothing new).
    void set_limits(QuotaLimits limits) { limits_ = limits; }

private:
    struct Admitted {
        SteadyTime at;
        int tokens;
        int images;
    };
    struct Usage {
        std::deque<Admitted> last_minute;
        int today = 0;
        WallTime day_ends{};
    };
    QuotaLimits limits_;
    std::map<std::pair<std::string, std::string>, Usage> usage_;   // (caller, model)
};

// "quota_rpm", or "quota_rpm+rpd" when several quotas refused: the request log's fault label.
std::string quota_fault_label(const QuotaRefusal& refusal);

}  // namespace nbcore::emulator
