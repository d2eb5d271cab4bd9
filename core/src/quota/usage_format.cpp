// `nbcore usage`: a snapshot as a table for people, and as JSON.
#include <chrono>
#include <cstdio>
#include <sstream>

#include <nlohmann/json.hpp>

#include "nbcore/state.hpp"

namespace nbcore::quota {
namespace {

using namespace std::chrono;
using json = nlohmann::json;

std::int64_t ms_of(SystemTime t) { return floor<milliseconds>(t.time_since_epoch()).count(); }

// "2026-03-08T08:00:00Z" (millisecond precision when there is a fraction).
std::string iso(SystemTime t) {
    auto ms = floor<milliseconds>(t);
    auto day = floor<days>(ms);
    year_month_day ymd{day};
    hh_mm_ss<milliseconds> hms{ms - day};
    char buf[48];
    int frac = static_cast<int>(hms.subseconds().count());
    if (frac)
        std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(ymd.year()),
                      static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                      static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                      static_cast<int>(hms.seconds().count()), frac);
    else
        std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(ymd.year()),
                      static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                      static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                      static_cast<int>(hms.seconds().count()));
    return buf;
}

json time_json(SystemTime t) { return {{"iso", iso(t)}, {"epoch_ms", ms_of(t)}}; }

json opt(const std::optional<std::int64_t>& v) { return v ? json(*v) : json(nullptr); }

// "in 42 s", "in 3 h 5 min", "in 21 d 13 h" for a time after `now`; "" otherwise.
std::string in_from(SystemTime t, SystemTime now) {
    if (t <= now) return "";
    auto s = duration_cast<seconds>(t - now).count();
    char buf[64];
    if (s < 60) std::snprintf(buf, sizeof buf, "in %lld s", static_cast<long long>(s));
    else if (s < 3600) std::snprintf(buf, sizeof buf, "in %lld min %lld s", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
    else if (s < 2 * 86400) std::snprintf(buf, sizeof buf, "in %lld h %lld min", static_cast<long long>(s / 3600), static_cast<long long>(s % 3600 / 60));
    else std::snprintf(buf, sizeof buf, "in %lld d %lld h", static_cast<long long>(s / 86400), static_cast<long long>(s % 86400 / 3600));
    return buf;
}

std::string pad(std::string s, std::size_t width) {
    if (s.size() < width) s.append(width - s.size(), ' ');
    return s;
}

}  // namespace

std::string format_usage(const UsageSnapshot& s) {
    std::ostringstream out;
    out << "nbcore usage at " << iso(s.taken_at) << " (state: " << s.location << ")\n";
    if (s.keys.empty()) out << "\nquota: nothing admitted yet\n";
    for (const auto& k : s.keys) {
        out << "\nquota " << k.key.model << "  credential " << k.key.credential;
        if (k.unsettled) out << "  (" << k.unsettled << " in flight)";
        out << "\n";
        if (k.zero_until > s.taken_at)
            out << "  no quota on this tier (the server said limit 0); refused locally " << in_from(k.zero_until, s.taken_at)
                << " more\n";
        out << "  " << pad("", 5) << pad("used", 10) << pad("limit", 12) << pad("source", 12) << "frees\n";
        for (const auto& d : k.dimensions) {
            std::string used = std::to_string(d.used);
            std::string limit = d.limit ? std::to_string(*d.limit) : std::string("-");
            std::string pct;
            if (d.limit && *d.limit > 0) pct = " (" + std::to_string(d.used * 100 / *d.limit) + "%)";
            std::string frees = d.dimension == Dimension::RPD ? "midnight Pacific, " + in_from(d.frees_at, s.taken_at)
                                                              : in_from(d.frees_at, s.taken_at);
            if (d.drained_until > s.taken_at) frees += "  drained after a 429, " + in_from(d.drained_until, s.taken_at);
            out << "  " << pad(std::string(dimension_name(d.dimension)), 5) << pad(used, 10) << pad(limit + pct, 12)
                << pad(std::string(limit_source_name(d.source)), 12) << frees << "\n";
        }
    }
    out << "\nspend\n";
    for (const auto& c : s.caps) {
        out << "  " << pad(std::string(period_name(c.period)), 9) << pad(format_usd(c.spent), 14);
        if (c.held) out << "+ " << format_usd(c.held) << " held  ";
        if (c.cap) {
            out << "of " << format_usd(*c.cap);
            if (*c.cap > 0) out << " (" << (c.spent + c.held) * 100 / *c.cap << "%)";
        } else {
            out << "no cap";
        }
        if (c.resets_at) out << "  resets " << in_from(*c.resets_at, s.taken_at);
        out << "\n";
    }
    if (s.open_holds) out << "  " << s.open_holds << " reservation(s) not settled yet\n";
    return out.str();
}

std::string usage_json(const UsageSnapshot& s) {
    json keys = json::array();
    for (const auto& k : s.keys) {
        json dims = json::array();
        for (const auto& d : k.dimensions) {
            dims.push_back({{"dimension", dimension_name(d.dimension)},
                            {"used", d.used},
                            {"limit", opt(d.limit)},
                            {"source", limit_source_name(d.source)},
                            {"configured", opt(d.configured)},
                            {"server_limit", opt(d.server_limit)},
                            {"adaptive", d.adaptive ? json(*d.adaptive) : json(nullptr)},
                            {"frees_at", time_json(d.frees_at)},
                            {"drained_until", d.drained_until > SystemTime{} ? time_json(d.drained_until) : json(nullptr)}});
        }
        keys.push_back({{"credential", k.key.credential},
                        {"model", k.key.model},
                        {"unsettled", k.unsettled},
                        {"zero_until", k.zero_until > SystemTime{} ? time_json(k.zero_until) : json(nullptr)},
                        {"dimensions", dims}});
    }
    json caps = json::array();
    for (const auto& c : s.caps) {
        caps.push_back({{"period", period_name(c.period)},
                        {"spent_usd", usd(c.spent)},
                        {"spent_micro_usd", c.spent},
                        {"held_micro_usd", c.held},
                        {"cap_micro_usd", c.cap ? json(*c.cap) : json(nullptr)},
                        {"start", time_json(c.start)},
                        {"resets_at", c.resets_at ? time_json(*c.resets_at) : json(nullptr)}});
    }
    return json{{"taken_at", time_json(s.taken_at)},
                {"location", s.location},
                {"keys", keys},
                {"caps", caps},
                {"open_holds", s.open_holds}}
        .dump(2);
}

}  // namespace nbcore::quota
