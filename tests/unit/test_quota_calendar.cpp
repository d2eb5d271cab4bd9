// The Pacific calendar of the governor and the ledger: where a quota day and a budget month start
// and end, across both 2026 DST switches (spring forward Sun 2026-03-08, fall back Sun 2026-11-01).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "nbcore/policy.hpp"
#include "test_quota_support.hpp"

using namespace quota_test;

namespace {

struct DayCase {
    std::string name;
    SystemTime now;
    SystemTime start;   // pacific_day_start(now)
    SystemTime end;     // next_pacific_midnight(now)
    std::chrono::hours length;
};

std::vector<DayCase> day_cases() {
    using std::chrono::hours;
    return {
        // Sat 2026-03-07, the day before spring forward: PST all day (UTC-8).
        {"day before spring forward, noon PST", utc(2026, 3, 7, 20), utc(2026, 3, 7, 8), utc(2026, 3, 8, 8), hours(24)},
        {"day before spring forward, 23:59:59 PST", utc(2026, 3, 8, 7, 59, 59), utc(2026, 3, 7, 8), utc(2026, 3, 8, 8), hours(24)},
        // Sun 2026-03-08: 02:00 PST jumps to 03:00 PDT, a 23-hour day.
        {"spring forward day, exactly midnight PST", utc(2026, 3, 8, 8), utc(2026, 3, 8, 8), utc(2026, 3, 9, 7), hours(23)},
        {"spring forward day, 01:59:59 PST", utc(2026, 3, 8, 9, 59, 59), utc(2026, 3, 8, 8), utc(2026, 3, 9, 7), hours(23)},
        {"spring forward day, 03:00 PDT", utc(2026, 3, 8, 10), utc(2026, 3, 8, 8), utc(2026, 3, 9, 7), hours(23)},
        {"spring forward day, 23:59:59 PDT", utc(2026, 3, 9, 6, 59, 59), utc(2026, 3, 8, 8), utc(2026, 3, 9, 7), hours(23)},
        // Mon 2026-03-09, the day after: PDT all day (UTC-7).
        {"day after spring forward, midnight PDT", utc(2026, 3, 9, 7), utc(2026, 3, 9, 7), utc(2026, 3, 10, 7), hours(24)},
        {"day after spring forward, noon PDT", utc(2026, 3, 9, 19), utc(2026, 3, 9, 7), utc(2026, 3, 10, 7), hours(24)},
        // Sat 2026-10-31, the day before fall back: PDT all day.
        {"day before fall back, noon PDT", utc(2026, 10, 31, 19), utc(2026, 10, 31, 7), utc(2026, 11, 1, 7), hours(24)},
        {"day before fall back, 23:59:59 PDT", utc(2026, 11, 1, 6, 59, 59), utc(2026, 10, 31, 7), utc(2026, 11, 1, 7), hours(24)},
        // Sun 2026-11-01: 02:00 PDT falls back to 01:00 PST, a 25-hour day; 01:30 happens twice.
        {"fall back day, exactly midnight PDT", utc(2026, 11, 1, 7), utc(2026, 11, 1, 7), utc(2026, 11, 2, 8), hours(25)},
        {"fall back day, the first 01:30 (PDT)", utc(2026, 11, 1, 8, 30), utc(2026, 11, 1, 7), utc(2026, 11, 2, 8), hours(25)},
        {"fall back day, the second 01:30 (PST)", utc(2026, 11, 1, 9, 30), utc(2026, 11, 1, 7), utc(2026, 11, 2, 8), hours(25)},
        {"fall back day, 23:59:59 PST", utc(2026, 11, 2, 7, 59, 59), utc(2026, 11, 1, 7), utc(2026, 11, 2, 8), hours(25)},
        // Mon 2026-11-02, the day after: PST all day.
        {"day after fall back, midnight PST", utc(2026, 11, 2, 8), utc(2026, 11, 2, 8), utc(2026, 11, 3, 8), hours(24)},
        {"day after fall back, noon PST", utc(2026, 11, 2, 20), utc(2026, 11, 2, 8), utc(2026, 11, 3, 8), hours(24)},
        // Year and leap-day boundaries.
        {"new year's eve 23:00 PST", utc(2027, 1, 1, 7), utc(2026, 12, 31, 8), utc(2027, 1, 1, 8), hours(24)},
        {"leap day 2028", utc(2028, 2, 29, 12), utc(2028, 2, 29, 8), utc(2028, 3, 1, 8), hours(24)},
    };
}

}  // namespace

TEST_CASE("quota calendar: the Pacific day holding an instant, across both 2026 DST switches", "[quota][calendar]") {
    for (const auto& c : day_cases()) {
        INFO(c.name);
        CHECK(pacific_day_start(c.now) == c.start);
        CHECK(policy::next_pacific_midnight(c.now) == c.end);
        CHECK(c.end - c.start == c.length);
        CHECK(period_start(Period::Day, c.now) == c.start);
        CHECK(period_end(Period::Day, c.now) == c.end);
        // A day's start is its own start, and one millisecond earlier is the previous day.
        CHECK(pacific_day_start(c.start) == c.start);
        CHECK(pacific_day_start(c.start - 1ms) < c.start);
        CHECK(policy::next_pacific_midnight(c.start - 1ms) == c.start);
    }
}

TEST_CASE("quota calendar: walking day by day through 2026 gives one 23-hour and one 25-hour day", "[quota][calendar]") {
    SystemTime day = pacific_day_start(utc(2026, 1, 1, 12));
    int short_days = 0, long_days = 0, days = 0;
    SystemTime short_day{}, long_day{};
    while (day < utc(2027, 1, 1, 8)) {
        SystemTime next = policy::next_pacific_midnight(day);
        auto len = next - day;
        if (len == 23h) {
            ++short_days;
            short_day = day;
        } else if (len == 25h) {
            ++long_days;
            long_day = day;
        } else {
            REQUIRE(len == 24h);
        }
        REQUIRE(pacific_day_start(next - 1s) == day);
        day = next;
        ++days;
    }
    CHECK(days == 365);
    CHECK(short_days == 1);
    CHECK(long_days == 1);
    CHECK(short_day == utc(2026, 3, 8, 8));
    CHECK(long_day == utc(2026, 11, 1, 7));
}

TEST_CASE("quota calendar: Pacific months for the monthly budget", "[quota][calendar]") {
    struct MonthCase {
        std::string name;
        SystemTime now, start, next;
    };
    const std::vector<MonthCase> cases = {
        {"March 2026 (starts in PST, ends in PDT)", utc(2026, 3, 15, 12), utc(2026, 3, 1, 8), utc(2026, 4, 1, 7)},
        {"the spring forward day is in March", utc(2026, 3, 8, 10), utc(2026, 3, 1, 8), utc(2026, 4, 1, 7)},
        {"March 31 23:59:59 PDT is still March", utc(2026, 4, 1, 6, 59, 59), utc(2026, 3, 1, 8), utc(2026, 4, 1, 7)},
        {"April 1 00:00 PDT is April", utc(2026, 4, 1, 7), utc(2026, 4, 1, 7), utc(2026, 5, 1, 7)},
        {"November 2026 (starts in PDT, ends in PST)", utc(2026, 11, 20), utc(2026, 11, 1, 7), utc(2026, 12, 1, 8)},
        {"October 31 23:59 PDT is still October", utc(2026, 11, 1, 6, 59), utc(2026, 10, 1, 7), utc(2026, 11, 1, 7)},
        {"December into January", utc(2027, 1, 1, 7, 59, 59), utc(2026, 12, 1, 8), utc(2027, 1, 1, 8)},
        {"February of a leap year", utc(2028, 2, 29, 20), utc(2028, 2, 1, 8), utc(2028, 3, 1, 8)},
    };
    for (const auto& c : cases) {
        INFO(c.name);
        CHECK(pacific_month_start(c.now) == c.start);
        CHECK(next_pacific_month_start(c.now) == c.next);
        CHECK(period_start(Period::Month, c.now) == c.start);
        CHECK(period_end(Period::Month, c.now) == c.next);
    }
    CHECK(period_start(Period::Total, base_now()) == SystemTime{});
    CHECK_FALSE(period_end(Period::Total, base_now()).has_value());
}
