#include "quota.hpp"

#include <cmath>

namespace nbcore::emulator {
namespace {

using namespace std::chrono;

constexpr auto kMinute = minutes(1);

// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
long days_from_civil(long y, unsigned m, unsigned d) {
    y -= m <= 2;
    const long era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<long>(doe) - 719468;
}

long year_of(long days) {
    // Inverse of days_from_civil, year only.
    days += 719468;
    const long era = (days >= 0 ? days : days - 146096) / 146097;
    const unsigned doe = static_cast<unsigned>(days - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    return static_cast<long>(yoe) + era * 400 + (mp >= 10 ? 1 : 0);
}

// The n-th Sunday (1-based) of a month, as days since the epoch.
long nth_sunday(long year, unsigned month, int n) {
    long first = days_from_civil(year, month, 1);
    long weekday = ((first % 7) + 11) % 7;   // 1970-01-01 was a Thursday; 0 = Sunday
    long first_sunday = first + (7 - weekday) % 7;
    return first_sunday + 7 * (n - 1);
}

// Pacific daylight time runs from 02:00 PST on the second Sunday of March (10:00 UTC) to
// 02:00 PDT on the first Sunday of November (09:00 UTC).
hours pacific_offset(sys_seconds t) {
    long year = year_of(static_cast<long>(floor<days>(t).time_since_epoch().count()));
    auto dst_start = sys_seconds(seconds((nth_sunday(year, 3, 2) * 86400) + 10 * 3600));
    auto dst_end = sys_seconds(seconds((nth_sunday(year, 11, 1) * 86400) + 9 * 3600));
    return t >= dst_start && t < dst_end ? hours(-7) : hours(-8);
}

}  // namespace

WallTime next_pacific_midnight(WallTime t) {
    auto utc = floor<seconds>(t);
    auto local = utc + pacific_offset(utc);
    auto local_midnight = sys_seconds(floor<days>(local) + days(1));
    // Local midnight is 07:00 or 08:00 UTC, before that day's DST switch (09:00 or 10:00 UTC):
    // the offset at 08:00 UTC is the one in force at midnight.
    return local_midnight - pacific_offset(local_midnight + hours(8));
}

std::optional<QuotaRefusal> QuotaLedger::admit(const std::string& model, int input_tokens, SteadyTime now,
                                               WallTime wall) {
    if (!limits_.any()) return std::nullopt;
    Usage& u = usage_[model];
    while (!u.last_minute.empty() && u.last_minute.front().first + kMinute <= now) u.last_minute.pop_front();
    if (wall >= u.day_ends) {
        u.today = 0;
        u.day_ends = next_pacific_midnight(wall);
    }
    auto seconds_until = [](auto d) { return std::ceil(duration<double>(d).count()); };

    if (limits_.rpd > 0 && u.today >= limits_.rpd) return QuotaRefusal{Quota::FreeRpd, seconds_until(u.day_ends - wall)};
    if (limits_.rpm > 0 && static_cast<int>(u.last_minute.size()) >= limits_.rpm) {
        auto frees_at = u.last_minute[u.last_minute.size() - static_cast<std::size_t>(limits_.rpm)].first + kMinute;
        return QuotaRefusal{Quota::FreeRpm, seconds_until(frees_at - now)};
    }
    if (limits_.tpm > 0) {
        int used = 0;
        for (const auto& [at, tokens] : u.last_minute) used += tokens;
        if (used + input_tokens > limits_.tpm) {
            // Wait until enough of the minute's tokens have expired (a whole minute if it can never fit).
            SteadyTime frees_at = now + kMinute;
            int left = used;
            for (const auto& [at, tokens] : u.last_minute) {
                left -= tokens;
                if (left + input_tokens <= limits_.tpm) {
                    frees_at = at + kMinute;
                    break;
                }
            }
            return QuotaRefusal{Quota::FreeTpm, seconds_until(frees_at - now)};
        }
    }
    u.last_minute.emplace_back(now, input_tokens);
    ++u.today;
    return std::nullopt;
}

}  // namespace nbcore::emulator
