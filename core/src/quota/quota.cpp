// The governor's pure rules (quota.hpp): estimates, the Pacific calendar, sliding windows,
// earliest_fit, 80% warnings and learning from 429s.
#include "nbcore/quota.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "nbcore/models.hpp"
#include "nbcore/policy.hpp"
#include "nbcore/resilience.hpp"
#include "policy/internal.hpp"

namespace nbcore::quota {
namespace {

using namespace std::chrono;

std::size_t idx(Dimension d) { return static_cast<std::size_t>(dimension_index(d)); }

// The dearest input image among the known models: what an unknown model's images count as.
int dearest_input_image_tokens() {
    int most = 0;
    for (const auto& m : image_models()) most = std::max(most, m.input_image_tokens);
    return most;
}

int input_image_tokens_for(std::string_view model) {
    if (const ModelInfo* m = find_model(model)) return m->input_image_tokens;
    return dearest_input_image_tokens();
}

// Text and image parts of one history turn (a JSON array of parts). A turn that does not parse is
// counted as text, all of it: an overestimate, never an under-count.
void count_history_parts(std::string_view parts_json, std::int64_t& text_tokens, int& images) {
    auto doc = nlohmann::json::parse(parts_json, nullptr, false);
    if (doc.is_discarded() || !doc.is_array()) {
        text_tokens += estimate_text_tokens(parts_json);
        return;
    }
    for (const auto& part : doc) {
        if (!part.is_object()) continue;
        if (auto t = part.find("text"); t != part.end() && t->is_string())
            text_tokens += estimate_text_tokens(t->get_ref<const std::string&>());
        if (part.contains("inlineData") || part.contains("inline_data") || part.contains("fileData") ||
            part.contains("file_data"))
            ++images;
    }
}

// Midnight Pacific starting local day `local_day`: 08:00 UTC on that date is 00:00 PST or
// 01:00 PDT, inside the local day either way.
SystemTime pacific_midnight_of(sys_days local_day) { return pacific_day_start(SystemTime{local_day + hours(8)}); }

// The Pacific civil date of a Pacific day start: the start is local midnight, UTC-7 or UTC-8, so
// 7 h earlier is 00:00 (PDT) or 01:00 (PST) of the same local date.
year_month_day pacific_date_of_day_start(SystemTime day_start) {
    return year_month_day{floor<days>(day_start - hours(7))};
}

bool warned_in_window(const DimensionState& s, Dimension d, SystemTime now) {
    if (s.warned_at == SystemTime{}) return false;
    if (d == Dimension::RPD) return s.warned_at >= pacific_day_start(now);
    return s.warned_at > now - kWindow;
}

// What the server states for a dimension, the configured number otherwise (no adaptive part).
std::optional<std::int64_t> hard_limit(std::optional<std::int64_t> configured, const DimensionState& s) {
    return s.server_limit ? s.server_limit : configured;
}

}  // namespace

// ---- dimensions -------------------------------------------------------------------------------

int dimension_index(Dimension d) noexcept {
    switch (d) {
    case Dimension::RPM: return 0;
    case Dimension::TPM: return 1;
    case Dimension::IPM: return 2;
    case Dimension::RPD: return 3;
    default: return -1;
    }
}

bool is_per_minute(Dimension d) noexcept {
    return d == Dimension::RPM || d == Dimension::TPM || d == Dimension::IPM;
}

// ---- limits -----------------------------------------------------------------------------------

std::optional<std::int64_t> Limits::get(Dimension d) const noexcept {
    switch (d) {
    case Dimension::RPM: return rpm;
    case Dimension::TPM: return tpm;
    case Dimension::IPM: return ipm;
    case Dimension::RPD: return rpd;
    default: return std::nullopt;
    }
}

void Limits::set(Dimension d, std::optional<std::int64_t> value) noexcept {
    switch (d) {
    case Dimension::RPM: rpm = value; break;
    case Dimension::TPM: tpm = value; break;
    case Dimension::IPM: ipm = value; break;
    case Dimension::RPD: rpd = value; break;
    default: break;
    }
}

Limits Limits::overlaid(const Limits& over) const {
    Limits out = *this;
    for (auto d : kDimensions)
        if (auto v = over.get(d)) out.set(d, v);
    return out;
}

QuotaKey QuotaKey::of(std::string_view secret, std::string_view model) {
    return {policy::credential_fingerprint(secret), canonical_model_id(model)};
}

// ---- demand and estimates ---------------------------------------------------------------------

std::int64_t Demand::of(Dimension d) const noexcept {
    switch (d) {
    case Dimension::RPM:
    case Dimension::RPD: return requests;
    case Dimension::TPM: return input_tokens;
    case Dimension::IPM: return images;
    default: return 0;
    }
}

std::int64_t estimate_text_tokens(std::string_view text) noexcept {
    std::int64_t ascii = 0, other = 0;
    for (unsigned char c : text) {
        if (c < 0x80) ++ascii;
        else if ((c & 0xC0) != 0x80) ++other;   // a lead byte: one character
    }
    return (ascii + 2) / 3 + other;
}

std::int64_t estimate_input_tokens(std::string_view model, std::string_view text, int input_images) {
    return estimate_text_tokens(text) + static_cast<std::int64_t>(std::max(0, input_images)) * input_image_tokens_for(model);
}

Demand estimate_demand(const Request& req, std::string_view model) {
    std::int64_t tokens = estimate_text_tokens(req.prompt) + estimate_text_tokens(req.system_instruction);
    int images = static_cast<int>(req.images.size());
    for (const auto& turn : req.history) count_history_parts(turn.parts_json, tokens, images);
    Demand d;
    d.requests = 1;
    d.input_tokens = tokens + static_cast<std::int64_t>(images) * input_image_tokens_for(model) + kRequestTokenOverhead;
    d.images = 1;
    return d;
}

// ---- calendar ---------------------------------------------------------------------------------

SystemTime pacific_day_start(SystemTime now) {
    // The next midnight is the end of today; 26 h before it lies in yesterday whether today has
    // 23, 24 or 25 hours, and yesterday's next midnight is today's start.
    auto end = policy::next_pacific_midnight(now);
    return policy::next_pacific_midnight(end - hours(26));
}

SystemTime pacific_month_start(SystemTime now) {
    auto date = pacific_date_of_day_start(pacific_day_start(now));
    return pacific_midnight_of(sys_days{date.year() / date.month() / 1});
}

SystemTime next_pacific_month_start(SystemTime now) {
    auto date = pacific_date_of_day_start(pacific_day_start(now));
    auto first = date.year() / date.month() / 1;
    return pacific_midnight_of(sys_days{first + months(1)});
}

// ---- windows ----------------------------------------------------------------------------------

std::int64_t WindowEntry::of(Dimension d) const noexcept {
    switch (d) {
    case Dimension::RPM:
    case Dimension::RPD: return requests;
    case Dimension::TPM: return tokens;
    case Dimension::IPM: return images;
    default: return 0;
    }
}

std::int64_t window_used(std::span<const WindowEntry> entries, Dimension d, SystemTime now) {
    std::int64_t sum = 0;
    const auto from = now - kWindow;
    for (const auto& e : entries)
        if (e.at > from) sum += e.of(d);
    return sum;
}

std::optional<SystemTime> earliest_in_window(std::span<const WindowEntry> sorted, Dimension d,
                                             std::int64_t limit, std::int64_t amount, SystemTime now) {
    if (amount > limit) return std::nullopt;
    std::int64_t used = window_used(sorted, d, now);
    if (used + amount <= limit) return now;
    // Entries leave the window in time order, each at its time + 60 s (it then no longer counts:
    // only entries after t - 60 s do).
    const auto from = now - kWindow;
    for (const auto& e : sorted) {
        if (e.at <= from) continue;
        used -= e.of(d);
        if (used + amount <= limit) return e.at + kWindow;
    }
    return now;   // not reached: once every entry has left, used is 0 and amount <= limit
}

// ---- learned state ----------------------------------------------------------------------------

std::string_view limit_source_name(LimitSource s) noexcept {
    switch (s) {
    case LimitSource::Unknown: return "unknown";
    case LimitSource::Configured: return "configured";
    case LimitSource::Server: return "server";
    case LimitSource::Adaptive: return "adaptive";
    }
    return "unknown";
}

DimensionState& KeyState::at(Dimension d) { return dims.at(idx(d)); }
const DimensionState& KeyState::at(Dimension d) const { return dims.at(idx(d)); }

EffectiveLimit effective_limit(std::optional<std::int64_t> configured, const DimensionState& s,
                               std::int64_t demand) {
    EffectiveLimit out;
    if (s.server_limit) {
        out = {s.server_limit, LimitSource::Server, true};
    } else if (configured) {
        out = {configured, LimitSource::Configured, true};
    }
    if (s.adaptive) {
        // Never below the demand at hand: a lowered guess slows a request, never refuses it.
        // Clamped before the conversion: a guess that grew without a hard limit stays finite.
        const double guess = std::clamp(std::floor(*s.adaptive), 0.0, 1e15);
        auto adaptive = std::max<std::int64_t>(demand, static_cast<std::int64_t>(guess));
        adaptive = std::max<std::int64_t>(adaptive, 1);
        if (!out.limit || adaptive < *out.limit) out = {adaptive, LimitSource::Adaptive, false};
    }
    return out;
}

// ---- fitting a demand -------------------------------------------------------------------------

Fit earliest_fit(const FitInput& in) {
    const SystemTime now = in.now;
    Fit fit;
    fit.verdict = Verdict::Now;
    fit.at = now;

    if (in.state.zero_until > now) {
        fit.verdict = Verdict::Never;
        fit.at = in.state.zero_until;
        fit.binding = Dimension::ZERO;
        fit.limit = 0;
        fit.demand = in.demand.requests;
        fit.source = LimitSource::Server;
        return fit;
    }

    for (auto d : kDimensions) {
        const auto& s = in.state.at(d);
        const std::int64_t demand = in.demand.of(d);
        const auto eff = effective_limit(in.configured.get(d), s, demand);
        const std::int64_t used = d == Dimension::RPD ? in.used_today : window_used(in.recent, d, now);

        auto describe = [&](Fit& f) {
            f.binding = d;
            f.used = used;
            f.limit = eff.limit;
            f.demand = demand;
            f.source = eff.source;
        };

        if (eff.limit && demand > *eff.limit) {
            // Only a hard limit can be below the demand (an adaptive one never is).
            Fit never;
            never.verdict = Verdict::Never;
            never.at = now;
            describe(never);
            if (*eff.limit == 0) never.binding = Dimension::ZERO;
            return never;
        }

        SystemTime at = now;
        if (eff.limit) {
            if (d == Dimension::RPD) {
                if (used + demand > *eff.limit) at = policy::next_pacific_midnight(now);
            } else {
                at = *earliest_in_window(in.recent, d, *eff.limit, demand, now);
            }
        }
        bool drained = false;
        if (s.drained_until > at) {
            at = s.drained_until;
            drained = true;
        }
        if (at > fit.at) {
            fit.verdict = Verdict::Later;
            fit.at = at;
            describe(fit);
            fit.drained = drained;
        }
    }
    return fit;
}

std::vector<Dimension> warning_crossings(const FitInput& in) {
    std::vector<Dimension> out;
    for (auto d : kDimensions) {
        const auto& s = in.state.at(d);
        const std::int64_t demand = in.demand.of(d);
        const auto eff = effective_limit(in.configured.get(d), s, demand);
        if (!eff.limit || *eff.limit <= 0) continue;
        const std::int64_t used = d == Dimension::RPD ? in.used_today : window_used(in.recent, d, in.now);
        const std::int64_t after = used + demand;
        if (after * 100 < *eff.limit * 80) continue;   // below 80%
        if (warned_in_window(s, d, in.now)) continue;  // once per window (per day for RPD)
        out.push_back(d);
    }
    return out;
}

// ---- learning from 429s -----------------------------------------------------------------------

QuotaSignal signal_from_429(const Diagnosis& d, std::string_view body) {
    QuotaSignal sig;
    sig.dimension = d.dimension;
    sig.retry_after = d.retry_after;
    if (body.empty()) return sig;
    auto envelope = policy::detail::parse_error_body(body);
    for (const auto& v : policy::detail::quota_violations(envelope)) {
        if (v.value.empty() || v.value.size() > 18) continue;
        if (v.value.find_first_not_of("0123456789") != std::string::npos) continue;
        const std::int64_t value = std::stoll(v.value);
        Dimension dim = policy::detail::violation_metric_dimension(v);
        if (dimension_index(dim) < 0) {
            // A zero says "no quota" whatever it is about; other unattributed numbers teach nothing.
            if (value != 0) continue;
            dim = Dimension::UNKNOWN;
        }
        // The tightest statement per dimension wins.
        auto it = std::find_if(sig.server_limits.begin(), sig.server_limits.end(),
                               [&](const auto& p) { return p.first == dim; });
        if (it == sig.server_limits.end()) sig.server_limits.emplace_back(dim, value);
        else it->second = std::min(it->second, value);
    }
    return sig;
}

KeyState learn_from_429(KeyState s, const QuotaSignal& signal, const Limits& configured,
                        const UsedByDimension& used, SystemTime now, const LearnConfig& config) {
    bool zero = signal.dimension == Dimension::ZERO;
    std::array<bool, 4> stated{};
    for (const auto& [dim, value] : signal.server_limits) {
        if (value <= 0) {
            zero = true;   // a stated 0 holds locally for zero_hold, never as a lasting limit
            continue;
        }
        if (dimension_index(dim) < 0) continue;
        auto& ds = s.at(dim);
        ds.server_limit = value;
        ds.adaptive.reset();   // the server's number is exact; the guess is no longer needed
        stated[idx(dim)] = true;
    }
    if (zero) {
        s.zero_until = std::max(s.zero_until, now + config.zero_hold);
        return s;
    }

    Dimension dim = signal.dimension;
    if (dim == Dimension::RPD) {
        auto until = signal.retry_after ? now + *signal.retry_after : policy::next_pacific_midnight(now);
        auto& ds = s.at(Dimension::RPD);
        ds.drained_until = std::max(ds.drained_until, until);
        return s;
    }
    if (!is_per_minute(dim)) dim = Dimension::RPM;   // UNKNOWN / NONE: a capacity 429 without details
    auto& ds = s.at(dim);
    if (signal.retry_after)
        ds.drained_until = std::max(ds.drained_until, now + duration_cast<SystemTime::duration>(*signal.retry_after));
    // The server's own delay says exactly when to come back: trust it. Guess a lower rate only
    // where the limit is unknown (neither configured nor stated) and the 429 gives no delay
    // either (legacy and Vertex bodies).
    if (!stated[idx(dim)] && !signal.retry_after && !hard_limit(configured.get(dim), ds)) {
        const std::int64_t in_window = used[idx(dim)];
        auto in_force = effective_limit(configured.get(dim), ds, 0).limit;
        const double basis =
            static_cast<double>(in_force ? std::min<std::int64_t>(*in_force, in_window) : in_window);
        ds.adaptive = std::max(1.0, config.decrease * basis);
    }
    return s;
}

KeyState learn_from_success(KeyState s, const Demand& actual, const Limits& configured,
                            const LearnConfig& config) {
    for (auto d : kDimensions) {
        if (!is_per_minute(d)) continue;
        auto& ds = s.at(d);
        if (!ds.adaptive) continue;
        const double amount = static_cast<double>(std::max<std::int64_t>(0, actual.of(d)));
        if (amount <= 0) continue;
        const double limit = std::max(1.0, *ds.adaptive);
        const double growth = std::min(config.increase * amount, config.increase * amount * amount / limit);
        ds.adaptive = *ds.adaptive + growth;
        if (auto hard = hard_limit(configured.get(d), ds); hard && *ds.adaptive >= static_cast<double>(*hard))
            ds.adaptive.reset();
    }
    return s;
}

}  // namespace nbcore::quota
