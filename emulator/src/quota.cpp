#include "quota.hpp"

#include "nbcore/policy.hpp"

namespace nbcore::emulator {
namespace {

using namespace std::chrono;

constexpr auto kMinute = minutes(1);

// When a request costing `cost` fits under `limit` in the sliding window, where weight(a) is what
// an admitted request used: `now` when it fits already, else when enough of the oldest entries
// have left the window. A cost above the limit never fits; like the API we still name a minute.
template <class Window, class Weight>
SteadyTime fits_at(const Window& window, Weight weight, long cost, long limit, SteadyTime now) {
    if (cost > limit) return now + kMinute;
    long used = 0;
    for (const auto& a : window) used += weight(a);
    if (used + cost <= limit) return now;
    for (const auto& a : window) {
        used -= weight(a);
        if (used + cost <= limit) return a.at + kMinute;
    }
    return now + kMinute;
}


std::string_view short_name(QuotaDimension d) {
    switch (d) {
        case QuotaDimension::Tpm: return "tpm";
        case QuotaDimension::Rpm: return "rpm";
        case QuotaDimension::Ipm: return "ipm";
        case QuotaDimension::Rpd: return "rpd";
    }
    return "";
}

}  // namespace

std::optional<QuotaRefusal> QuotaLedger::admit(const std::string& caller, const std::string& model, QuotaCost cost,
                                               SteadyTime now, WallTime wall) {
    if (!limits_.any()) return std::nullopt;
    Usage& u = usage_[{caller, model}];
    while (!u.last_minute.empty() && u.last_minute.front().at + kMinute <= now) u.last_minute.pop_front();
    if (wall >= u.day_ends) {
        u.today = 0;
        u.day_ends = nbcore::policy::next_pacific_midnight(wall);
    }

    QuotaRefusal refusal;
    auto check = [&](QuotaDimension d, int limit, auto weight, long request_cost) {
        if (limit <= 0) return;
        SteadyTime frees = fits_at(u.last_minute, weight, request_cost, limit, now);
        if (frees <= now) return;
        refusal.breaches.push_back({d, limit});
        refusal.retry_after = std::max<nanoseconds>(refusal.retry_after, frees - now);
    };
    check(QuotaDimension::Tpm, limits_.tpm, [](const Admitted& a) { return long{a.tokens}; }, cost.input_tokens);
    check(QuotaDimension::Rpm, limits_.rpm, [](const Admitted&) { return 1L; }, 1);
    check(QuotaDimension::Ipm, limits_.ipm, [](const Admitted& a) { return long{a.images}; }, cost.output_images);
    if (limits_.rpd > 0 && u.today >= limits_.rpd) {
        refusal.breaches.push_back({QuotaDimension::Rpd, limits_.rpd});
        refusal.retry_after = std::max<nanoseconds>(refusal.retry_after, u.day_ends - wall);
    }
    if (!refusal.breaches.empty()) return refusal;

    u.last_minute.push_back({now, cost.input_tokens, cost.output_images});
    ++u.today;
    return std::nullopt;
}

std::string quota_fault_label(const QuotaRefusal& refusal) {
    std::string label = "quota_";
    for (std::size_t i = 0; i < refusal.breaches.size(); ++i) {
        if (i) label += '+';
        label += short_name(refusal.breaches[i].dimension);
    }
    return label;
}

}  // namespace nbcore::emulator
