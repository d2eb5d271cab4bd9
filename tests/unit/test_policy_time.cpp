// next_pacific_midnight(): the per-day quota boundary, across both DST switches and leap days.
#include <catch2/catch.hpp>

#include <ctime>
#include <string>
#include <vector>

#include "test_policy_support.hpp"

using namespace policy_test;

namespace {

struct MidnightCase {
    std::string name;
    SystemTime now;
    SystemTime expect;
};

std::vector<MidnightCase> midnight_cases() {
    using std::chrono::milliseconds;
    return {
        {"an ordinary PDT morning", utc(2024, 3, 12, 16), utc(2024, 3, 13, 7)},
        {"an ordinary PST afternoon", utc(2024, 1, 15, 22), utc(2024, 1, 16, 8)},
        // Spring forward: 2024-03-10 (second Sunday of March) 02:00 PST -> 03:00 PDT.
        {"one second before the spring-forward day starts", utc(2024, 3, 10, 7, 59, 59), utc(2024, 3, 10, 8)},
        {"exactly midnight of the spring-forward day (PST)", utc(2024, 3, 10, 8), utc(2024, 3, 11, 7)},
        {"01:59:59 PST just before the switch", utc(2024, 3, 10, 9, 59, 59), utc(2024, 3, 11, 7)},
        {"03:00 PDT just after the switch", utc(2024, 3, 10, 10), utc(2024, 3, 11, 7)},
        {"23:59:59 PDT on the spring-forward day", utc(2024, 3, 11, 6, 59, 59), utc(2024, 3, 11, 7)},
        // Fall back: 2024-11-03 (first Sunday of November) 02:00 PDT -> 01:00 PST.
        {"one second before the fall-back day starts", utc(2024, 11, 3, 6, 59, 59), utc(2024, 11, 3, 7)},
        {"exactly midnight of the fall-back day (PDT)", utc(2024, 11, 3, 7), utc(2024, 11, 4, 8)},
        {"the first 01:30 (PDT)", utc(2024, 11, 3, 8, 30), utc(2024, 11, 4, 8)},
        {"the second 01:30 (PST)", utc(2024, 11, 3, 9, 30), utc(2024, 11, 4, 8)},
        {"23:59:59 PST on the fall-back day", utc(2024, 11, 4, 7, 59, 59), utc(2024, 11, 4, 8)},
        // 2026: March 8 and November 1.
        {"2026 spring-forward day", utc(2026, 3, 8, 12), utc(2026, 3, 9, 7)},
        {"2026 eve of fall-back, late evening PDT", utc(2026, 11, 1, 6), utc(2026, 11, 1, 7)},
        {"2026 fall-back day 01:00 PDT", utc(2026, 11, 1, 8), utc(2026, 11, 2, 8)},
        // 2007, the first year of the current rules: March 11 and November 4.
        {"2007 spring-forward day", utc(2007, 3, 11, 12), utc(2007, 3, 12, 7)},
        {"2007 fall-back day", utc(2007, 11, 4, 12), utc(2007, 11, 5, 8)},
        // Leap years and month/year ends.
        {"leap year: Feb 28 -> Feb 29", utc(2024, 2, 28, 12), utc(2024, 2, 29, 8)},
        {"leap year: Feb 29 -> Mar 1", utc(2024, 2, 29, 10), utc(2024, 3, 1, 8)},
        {"common year: Feb 28 -> Mar 1", utc(2023, 2, 28, 10), utc(2023, 3, 1, 8)},
        {"2000 was a leap year", utc(2000, 2, 28, 10), utc(2000, 2, 29, 8)},
        {"2100 will not be a leap year", utc(2100, 2, 28, 10), utc(2100, 3, 1, 8)},
        {"new year's eve noon PST", utc(2024, 12, 31, 20), utc(2025, 1, 1, 8)},
        {"23:59 PST on new year's eve (already Jan 1 in UTC)", utc(2025, 1, 1, 7, 59), utc(2025, 1, 1, 8)},
        {"a millisecond before midnight", utc(2024, 3, 13, 6, 59, 59) + milliseconds(999), utc(2024, 3, 13, 7)},
    };
}

}  // namespace

TEST_CASE("next Pacific midnight across DST switches and leap days", "[policy][time]") {
    for (const auto& c : midnight_cases())
        DYNAMIC_SECTION(c.name) { CHECK(policy::next_pacific_midnight(c.now) == c.expect); }
}

TEST_CASE("next Pacific midnight agrees with the C library's US rules hour by hour", "[policy][time]") {
    // The POSIX TZ string encodes the same US rules; glibc is an independent oracle for them.
    ScopedTz tz("PST8PDT,M3.2.0,M11.1.0");
    using namespace std::chrono;
    for (int year : {2024, 2025, 2027}) {
        for (auto t = utc(year, 1, 1); t < utc(year + 1, 1, 1); t += minutes(59)) {
            auto next = policy::next_pacific_midnight(t);
            std::time_t tt = system_clock::to_time_t(next);
            std::tm local{};
            localtime_r(&tt, &local);
            INFO("year " << year << ", offset " << duration_cast<minutes>(t - utc(year, 1, 1)).count() << " min");
            REQUIRE(local.tm_hour == 0);
            REQUIRE(local.tm_min == 0);
            REQUIRE(local.tm_sec == 0);
            REQUIRE(next > t);
            REQUIRE(next - t <= hours(25));
            REQUIRE(policy::next_pacific_midnight(next - milliseconds(1)) == next);
        }
    }
}
