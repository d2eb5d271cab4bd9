// Small text and time helpers for messages and advice.
#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "policy/internal.hpp"

namespace nbcore::policy::detail {

namespace {
char lower(char c) noexcept { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }
}  // namespace

bool equals_ci(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

bool contains_ci(std::string_view haystack, std::string_view needle) noexcept {
    if (needle.empty()) return true;
    auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                          [](char x, char y) { return lower(x) == lower(y); });
    return it != haystack.end();
}

// net::header_value lives with the transport; policy keeps its own so it stands alone.
std::string_view header_lookup(const net::Headers* headers, std::string_view name) noexcept {
    if (!headers) return {};
    for (const auto& [key, value] : *headers)
        if (equals_ci(key, name)) return value;
    return {};
}

std::string first_url_in(std::string_view text) {
    auto start = text.find("https://");
    if (start == std::string_view::npos) start = text.find("http://");
    if (start == std::string_view::npos) return {};
    auto end = start;
    while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end])) &&
           text[end] != '"' && text[end] != '\'' && text[end] != '<' && text[end] != '>')
        ++end;
    // Sentence punctuation after a URL is not part of it.
    while (end > start && std::string_view(".,;:)]").find(text[end - 1]) != std::string_view::npos)
        --end;
    return std::string(text.substr(start, end - start));
}

std::string clip(std::string_view text, std::size_t max_chars) {
    if (text.size() <= max_chars) return std::string(text);
    return std::string(text.substr(0, max_chars)) + "...";
}

std::string format_duration(Millis d) {
    using namespace std::chrono;
    if (d < Millis(0)) d = Millis(0);
    char buf[48];
    if (d < seconds(10)) {
        std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(d.count()) / 1000.0);
        return buf;
    }
    auto total_s = duration_cast<seconds>(d + milliseconds(500)).count();
    if (total_s < 60) {
        std::snprintf(buf, sizeof buf, "%lld s", static_cast<long long>(total_s));
    } else if (total_s < 3600) {
        auto m = total_s / 60, s = total_s % 60;
        if (s == 0)
            std::snprintf(buf, sizeof buf, "%lld min", static_cast<long long>(m));
        else
            std::snprintf(buf, sizeof buf, "%lld min %lld s", static_cast<long long>(m),
                          static_cast<long long>(s));
    } else {
        auto total_min = (total_s + 30) / 60;
        auto h = total_min / 60, m = total_min % 60;
        if (m == 0)
            std::snprintf(buf, sizeof buf, "%lld h", static_cast<long long>(h));
        else
            std::snprintf(buf, sizeof buf, "%lld h %lld min", static_cast<long long>(h),
                          static_cast<long long>(m));
    }
    return buf;
}

std::string format_local_time(SystemTime t) {
    std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm local{};
    if (!localtime_r(&tt, &local)) return {};
    char buf[64];
    if (std::strftime(buf, sizeof buf, "%H:%M %Z on %a %d %b", &local) == 0) return {};
    return buf;
}

int http_code_for_status(std::string_view status) noexcept {
    struct Pair {
        std::string_view status;
        int http;
    };
    // google.rpc.Code -> HTTP, as Google's front end maps them.
    static constexpr std::array<Pair, 16> kMap = {{
        {"CANCELLED", 499},          {"UNKNOWN", 500},          {"INVALID_ARGUMENT", 400},
        {"DEADLINE_EXCEEDED", 504},  {"NOT_FOUND", 404},        {"ALREADY_EXISTS", 409},
        {"PERMISSION_DENIED", 403},  {"RESOURCE_EXHAUSTED", 429}, {"FAILED_PRECONDITION", 400},
        {"ABORTED", 409},            {"OUT_OF_RANGE", 400},     {"UNIMPLEMENTED", 501},
        {"INTERNAL", 500},           {"UNAVAILABLE", 503},      {"DATA_LOSS", 500},
        {"UNAUTHENTICATED", 401},
    }};
    for (const auto& p : kMap)
        if (p.status == status) return p.http;
    return 0;
}

}  // namespace nbcore::policy::detail
