// What the server says about when to come back: RetryInfo.retryDelay, "Please retry in 45.5s."
// in the message, and the Retry-After header. All are rounded up to whole milliseconds so that we
// never come back earlier than asked.
#include <algorithm>
#include <array>
#include <cctype>

#include "policy/internal.hpp"

namespace nbcore::policy::detail {
namespace {

using namespace std::chrono;

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// Whole seconds saturate here (31,700 years): the milliseconds, even times 3600 for "hours",
// then fit in 64 bits, and the delay is capped to kMaxServerDelay in the end anyway.
constexpr long long kSaturatedSeconds = 1'000'000'000'000LL;

// "45.578569677" at the front of `s` -> milliseconds, rounded up. Advances `s` past the number.
std::optional<Millis> take_decimal_seconds(std::string_view& s) {
    std::size_t i = 0;
    long long whole = 0;
    bool any = false;
    while (i < s.size() && is_digit(s[i])) {
        whole = std::min(whole * 10 + (s[i++] - '0'), kSaturatedSeconds);
        any = true;
    }
    long long millis = 0;
    bool rest_nonzero = false;
    if (i < s.size() && s[i] == '.') {
        ++i;
        int digits = 0;
        while (i < s.size() && is_digit(s[i])) {
            if (digits < 3) millis = millis * 10 + (s[i] - '0');
            else if (s[i] != '0') rest_nonzero = true;
            ++digits;
            ++i;
            any = true;
        }
        for (; digits < 3; ++digits) millis *= 10;
    }
    if (!any) return std::nullopt;
    s.remove_prefix(i);
    return Millis(whole * 1000 + millis + (rest_nonzero ? 1 : 0));
}

std::string_view skip_spaces(std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    return s;
}

bool starts_with_word(std::string_view s, std::string_view word) {
    if (s.size() < word.size() || !equals_ci(s.substr(0, word.size()), word)) return false;
    return s.size() == word.size() || !std::isalpha(static_cast<unsigned char>(s[word.size()]));
}

// A number followed by a unit ("45.5s", "300 ms", "2 minutes"); a bare number is seconds.
std::optional<Millis> take_amount_with_unit(std::string_view s) {
    auto value = take_decimal_seconds(s);
    if (!value) return std::nullopt;
    s = skip_spaces(s);
    if (starts_with_word(s, "ms") || starts_with_word(s, "milliseconds") ||
        starts_with_word(s, "millisecond"))
        return Millis((value->count() + 999) / 1000);
    if (starts_with_word(s, "min") || starts_with_word(s, "minutes") ||
        starts_with_word(s, "minute") || starts_with_word(s, "m"))
        return *value * 60;
    if (starts_with_word(s, "h") || starts_with_word(s, "hours") || starts_with_word(s, "hour"))
        return *value * 3600;
    return value;
}

// HTTP-date in any of the three forms RFC 9110 accepts:
//   "Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"
std::optional<sys_seconds> parse_http_date(std::string_view text) {
    static constexpr std::array<std::string_view, 12> kMonths = {
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
    struct Token {
        std::string_view text;
        bool numeric;
    };
    std::vector<Token> tokens;
    std::size_t i = 0;
    while (i < text.size()) {
        if (std::string_view(" ,-:\t").find(text[i]) != std::string_view::npos) {
            ++i;
            continue;
        }
        auto start = i;
        while (i < text.size() && std::string_view(" ,-:\t").find(text[i]) == std::string_view::npos) ++i;
        auto word = text.substr(start, i - start);
        tokens.push_back({word, std::all_of(word.begin(), word.end(), is_digit)});
    }
    int month = 0;
    std::size_t month_at = 0;
    for (std::size_t t = 0; t < tokens.size() && month == 0; ++t)
        for (std::size_t m = 0; m < kMonths.size(); ++m)
            if (tokens[t].text.size() == 3 && equals_ci(tokens[t].text, kMonths[m])) {
                month = static_cast<int>(m) + 1;
                month_at = t;
            }
    if (month == 0) return std::nullopt;
    std::vector<long> before, after;
    for (std::size_t t = 0; t < tokens.size(); ++t)
        if (tokens[t].numeric && tokens[t].text.size() <= 4)
            (t < month_at ? before : after).push_back(std::stol(std::string(tokens[t].text)));
    long day = 0, yr = 0, hh = 0, mm = 0, ss = 0;
    if (before.size() == 1 && after.size() == 4) {   // IMF-fixdate and RFC 850
        day = before[0];
        yr = after[0];
        hh = after[1], mm = after[2], ss = after[3];
    } else if (before.empty() && after.size() == 5) {   // asctime
        day = after[0];
        hh = after[1], mm = after[2], ss = after[3];
        yr = after[4];
    } else {
        return std::nullopt;
    }
    if (yr < 100) yr += yr < 70 ? 2000 : 1900;
    if (hh > 23 || mm > 59 || ss > 60) return std::nullopt;
    year_month_day date{year{static_cast<int>(yr)}, std::chrono::month{static_cast<unsigned>(month)},
                        std::chrono::day{static_cast<unsigned>(day)}};
    if (!date.ok()) return std::nullopt;
    return sys_days{date} + hours(hh) + minutes(mm) + seconds(ss);
}

std::optional<Millis> larger(std::optional<Millis> a, std::optional<Millis> b) {
    if (!a) return b;
    if (!b) return a;
    return std::max(*a, *b);
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

}  // namespace

std::optional<Millis> parse_proto_duration(std::string_view text) {
    text = trim(text);
    if (text.empty() || text.back() != 's') return std::nullopt;
    text.remove_suffix(1);
    auto value = take_decimal_seconds(text);
    if (!value || !text.empty()) return std::nullopt;
    return value;
}

std::optional<Millis> retry_in_from_text(std::string_view message) {
    std::optional<Millis> best;
    // Only the phrasing the API uses; the generic "try again in 30 seconds" of the front end's 502
    // page is boilerplate, not a measured delay.
    for (std::string_view phrase : {"retry in ", "retry after "}) {
        std::size_t from = 0;
        while (true) {
            auto rest = message.substr(from);
            auto it = std::search(rest.begin(), rest.end(), phrase.begin(), phrase.end(),
                                  [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; });
            if (it == rest.end()) break;
            auto at = from + static_cast<std::size_t>(it - rest.begin()) + phrase.size();
            best = larger(best, take_amount_with_unit(skip_spaces(message.substr(at))));
            from = at;
        }
    }
    return best;
}

std::optional<Millis> retry_after_from_headers(const net::Headers* headers, SystemTime now) {
    std::optional<Millis> best;
    if (auto ms = trim(header_lookup(headers, "retry-after-ms")); !ms.empty()) {
        auto rest = ms;
        if (auto v = take_decimal_seconds(rest); v && rest.empty())
            best = Millis((v->count() + 999) / 1000);
    }
    auto value = trim(header_lookup(headers, "retry-after"));
    if (value.empty()) return best;
    auto rest = value;
    if (auto secs = take_decimal_seconds(rest); secs && rest.empty()) return larger(best, secs);
    if (auto when = parse_http_date(value)) {
        // In milliseconds, not in the clock's nanoseconds: a date after 2262 must not overflow.
        // `when` is whole seconds, so this is the delay rounded up.
        Millis delta = *when - floor<Millis>(now);
        return larger(best, std::max(delta, Millis(0)));
    }
    return best;
}

std::optional<Millis> largest_server_delay(const ErrorBody& e, const net::Headers* headers,
                                           SystemTime now) {
    auto best = larger(e.retry_delay, retry_in_from_text(e.message));
    best = larger(best, retry_after_from_headers(headers, now));
    if (best && *best > kMaxServerDelay) best = kMaxServerDelay;
    return best;
}

}  // namespace nbcore::policy::detail

namespace nbcore::policy {

std::optional<std::chrono::milliseconds> server_retry_delay(std::string_view body,
                                                           const net::Headers* headers,
                                                           SystemTime now) {
    return detail::largest_server_delay(detail::parse_error_body(body), headers, now);
}

}  // namespace nbcore::policy
