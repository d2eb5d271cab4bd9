// The per-day quota boundary: midnight in America/Los_Angeles. libstdc++ here has no tz database,
// so the US rules in force since 2007 are computed from civil dates: PDT (UTC-7) from the second
// Sunday of March 02:00 PST until the first Sunday of November 02:00 PDT, PST (UTC-8) otherwise.
#include <chrono>

#include "nbcore/policy.hpp"

namespace nbcore::policy {
namespace {

using namespace std::chrono;

constexpr hours kPst{-8};
constexpr hours kPdt{-7};

sys_days dst_start_day(year y) { return sys_days{y / March / Sunday[2]}; }
sys_days dst_end_day(year y) { return sys_days{y / November / Sunday[1]}; }

// The UTC offset in force at the instant `t`. Both switches happen at 02:00 local time:
// 10:00 UTC in March (02:00 PST), 09:00 UTC in November (02:00 PDT).
hours offset_at(SystemTime t) {
    auto y = year_month_day{floor<days>(t)}.year();
    auto starts = dst_start_day(y) + hours(10);
    auto ends = dst_end_day(y) + hours(9);
    return (t >= starts && t < ends) ? kPdt : kPst;
}

// The offset at 00:00 local on `local_day`. Midnight is never inside a switch (those are at
// 02:00), so the day decides: the March switch day still starts in PST, the November one in PDT.
hours offset_at_local_midnight(sys_days local_day) {
    auto y = year_month_day{local_day}.year();
    return (local_day > dst_start_day(y) && local_day <= dst_end_day(y)) ? kPdt : kPst;
}

}  // namespace

SystemTime next_pacific_midnight(SystemTime now) {
    auto local = now + offset_at(now);
    auto next_day = floor<days>(local) + days(1);
    return SystemTime{next_day - offset_at_local_midnight(next_day)};
}

}  // namespace nbcore::policy
