// The quota governor's rules, as pure functions: limits per tier, what a request demands, the
// earliest moment a demand fits every known limit, and how limits are learned from 429s. The
// store (state.hpp) applies these rules inside one atomic step; the governor (governor.hpp) is the
// thread-safe facade the engine calls.
//
// Windows. The issue speaks of token buckets, but a bucket refilling continuously lets a burst of
// L requests through at the end of one minute and another L at the start of the next: 2L inside
// 60 s, which a server counting a sliding minute answers with 429s. The governor therefore keeps
// exact admission times and admits a demand only when every 60-second interval holding it would
// stay within the limit: "at most L in any 60 s". That is the stricter guarantee; it also
// satisfies a server that counts fixed calendar minutes. Requests per day count everything
// admitted since the last midnight in America/Los_Angeles, when Google resets per-day quotas.
//
// Limits. A dimension's limit comes from, in order: what the server said (QuotaFailure
// quotaValue in a 429, taken exactly), else the configured tier or custom number, else nothing
// (unknown: optimistic until the first 429). On top of that an adaptive limit (AIMD) applies
// after 429s the known numbers do not explain: halved on each such 429, grown by about one
// request's demand per minute of successes. A per-minute 429 also drains its dimension: the
// window counts as full until the server's retry delay has passed.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nbcore/clock.hpp"
#include "nbcore/request.hpp"
#include "nbcore/status.hpp"

namespace nbcore::quota {

// The sliding window of the per-minute dimensions.
inline constexpr std::chrono::seconds kWindow{60};

// The dimensions a governor keeps, in this order everywhere (arrays, storage, reports).
inline constexpr std::array<Dimension, 4> kDimensions = {Dimension::RPM, Dimension::TPM, Dimension::IPM,
                                                         Dimension::RPD};
// Index of RPM/TPM/IPM/RPD in kDimensions; -1 for any other dimension.
int dimension_index(Dimension d) noexcept;
bool is_per_minute(Dimension d) noexcept;   // RPM, TPM, IPM

// ---- limits ----------------------------------------------------------------------------------

// Per (credential, model). nullopt = unknown (learned); 0 = no quota at all on this tier.
struct Limits {
    std::optional<std::int64_t> rpm;   // requests per minute
    std::optional<std::int64_t> tpm;   // input tokens per minute
    std::optional<std::int64_t> ipm;   // output images per minute
    std::optional<std::int64_t> rpd;   // requests per Pacific day

    std::optional<std::int64_t> get(Dimension d) const noexcept;
    void set(Dimension d, std::optional<std::int64_t> value) noexcept;
    // Fields set in `over` replace this one's.
    Limits overlaid(const Limits& over) const;
    bool operator==(const Limits&) const = default;
};

// Presets "free", "tier1", "tier2", "tier3" (see tiers.cpp for the numbers and where they come
// from). nullopt for an unknown tier name. Unknown models get the tier's general numbers.
std::optional<Limits> tier_limits(std::string_view tier, std::string_view model);
std::span<const std::string_view> tier_names() noexcept;

// Who a quota belongs to: a credential fingerprint (policy::credential_fingerprint, or a route's
// quota pool, which embeds one) and a canonical model id. Never a secret.
struct QuotaKey {
    std::string credential;
    std::string model;

    // Fingerprints `secret` and canonicalises `model` ("models/..." and aliases).
    static QuotaKey of(std::string_view secret, std::string_view model);
    auto operator<=>(const QuotaKey&) const = default;
};

// ---- demand and estimates --------------------------------------------------------------------

// What one attempt takes from each dimension.
struct Demand {
    std::int64_t requests = 1;
    std::int64_t input_tokens = 0;
    std::int64_t images = 1;       // output images expected
    std::int64_t of(Dimension d) const noexcept;   // RPD counts requests
    bool operator==(const Demand&) const = default;
};

// Conservative token count for text: ceil(ASCII bytes / 3) + one token per non-ASCII character.
// English runs near 4 characters per token and CJK near one token per character, so this
// overestimates both a little; the difference is released when the reply's usage settles.
std::int64_t estimate_text_tokens(std::string_view text) noexcept;

// Framing the API adds per request (role markers, turn separators).
inline constexpr std::int64_t kRequestTokenOverhead = 8;

// Input tokens of a prompt plus `input_images` images (models.hpp input_image_tokens; unknown
// models count as the dearest known model).
std::int64_t estimate_input_tokens(std::string_view model, std::string_view text, int input_images);

// The whole request: prompt, system instruction, history parts (text and inline images) and
// input images; one output image expected. `model` is the resolved model id.
Demand estimate_demand(const Request& req, std::string_view model);

// ---- calendar --------------------------------------------------------------------------------

// Midnight America/Los_Angeles starting the Pacific day that holds `now`.
SystemTime pacific_day_start(SystemTime now);
// Midnight Pacific on the first day of the Pacific month that holds `now`, and of the next one.
SystemTime pacific_month_start(SystemTime now);
SystemTime next_pacific_month_start(SystemTime now);

// ---- windows ---------------------------------------------------------------------------------

// One admitted attempt as the window sees it.
struct WindowEntry {
    SystemTime at{};
    std::int64_t requests = 1;
    std::int64_t tokens = 0;
    std::int64_t images = 0;
    std::int64_t of(Dimension d) const noexcept;
};

// Sum of dimension `d` over the entries that still count at `now`: those admitted after
// now - 60 s (entries stamped later than `now`, from a clock a little ahead, count too).
std::int64_t window_used(std::span<const WindowEntry> entries, Dimension d, SystemTime now);

// The earliest time >= now at which `amount` more fits under `limit` in dimension `d`, given the
// entries sorted by time. nullopt when it never fits (amount > limit).
std::optional<SystemTime> earliest_in_window(std::span<const WindowEntry> sorted, Dimension d,
                                             std::int64_t limit, std::int64_t amount, SystemTime now);

// ---- learned state ---------------------------------------------------------------------------

// Where the limit in force comes from.
enum class LimitSource { Unknown, Configured, Server, Adaptive };
std::string_view limit_source_name(LimitSource s) noexcept;   // "unknown", "configured", ...

struct DimensionState {
    std::optional<std::int64_t> server_limit;   // quotaValue from a 429: the server's number
    std::optional<double> adaptive;             // AIMD limit; nullopt = no unexplained 429 yet
    SystemTime drained_until{};                 // counts as full until then (drain on 429)
    SystemTime warned_at{};                     // when the last 80% event was raised
    bool operator==(const DimensionState&) const = default;
};

struct KeyState {
    std::array<DimensionState, 4> dims{};       // in kDimensions order
    SystemTime zero_until{};                    // a 429 said limit 0: refuse until then

    DimensionState& at(Dimension d);
    const DimensionState& at(Dimension d) const;
    bool operator==(const KeyState&) const = default;
};

struct EffectiveLimit {
    std::optional<std::int64_t> limit;          // nullopt = none known
    LimitSource source = LimitSource::Unknown;
    bool hard = false;                          // configured or server-given (may refuse forever)
};

// The limit in force for one dimension. An adaptive limit never drops below the demand at hand,
// so a lowered guess slows a request down but never refuses it outright.
EffectiveLimit effective_limit(std::optional<std::int64_t> configured, const DimensionState& s,
                               std::int64_t demand);

// ---- fitting a demand ------------------------------------------------------------------------

enum class Verdict {
    Now,     // fits every limit now
    Later,   // fits at `at`
    Never,   // cannot fit while the limits stand (demand above a limit, or a zero quota)
};

struct Fit {
    Verdict verdict = Verdict::Now;
    SystemTime at{};                            // Now: now; Later: the earliest time it fits;
                                                // Never: when a local zero-quota hold ends
                                                // (KeyState::zero_until), else now
    Dimension binding = Dimension::NONE;        // the dimension that decides (NONE when Now);
                                                // ZERO for a zero quota
    std::int64_t used = 0;                      // of the binding dimension, now
    std::optional<std::int64_t> limit;          // of the binding dimension
    std::int64_t demand = 0;                    // of the binding dimension
    LimitSource source = LimitSource::Unknown;
    bool drained = false;                       // `at` comes from a 429's drain, not the window
};

struct FitInput {
    std::span<const WindowEntry> recent;        // entries of this key, sorted by time
    std::int64_t used_today = 0;                // requests since pacific_day_start(now)
    const Limits& configured;
    const KeyState& state;
    const Demand& demand;
    SystemTime now{};
};

// Pure: the earliest time the demand fits every dimension (the latest of the per-dimension
// times, since each only loosens as time passes).
Fit earliest_fit(const FitInput& in);

// Dimensions whose use crosses 80% of the limit in force with this demand, and were not warned
// about within their current window (the last 60 s, or today for RPD).
std::vector<Dimension> warning_crossings(const FitInput& in);

// ---- learning from 429s ----------------------------------------------------------------------

// What one 429 teaches: the dimension it is about, the server's wait, and every limit the body
// states (QuotaFailure quotaValue, Vertex quota_limit_value, "limit: N" in the message).
struct QuotaSignal {
    Dimension dimension = Dimension::UNKNOWN;
    std::optional<Millis> retry_after;
    std::vector<std::pair<Dimension, std::int64_t>> server_limits;
};

// Reads the limits out of a raw 429 body; dimension and retry_after come from the Diagnosis.
// A number whose dimension the body does not name is ignored, except 0 ("limit: 0" on a metric
// that does not say per minute or per day), which is kept as UNKNOWN: no quota is no quota.
// Several statements about one dimension: the smallest.
QuotaSignal signal_from_429(const Diagnosis& d, std::string_view body);

struct LearnConfig {
    double decrease = 0.5;              // multiplicative decrease on an unexplained 429
    double increase = 1.0;              // additive increase: this many requests' demand per
                                        // window's worth of successes
    Millis zero_hold{std::chrono::hours(1)};   // how long a "limit: 0" answer refuses locally
    // While a key's requests-per-minute limit is unknown (no tier, nothing learned yet), attempts
    // are admitted at most this often, so that when the window fills, the first 429 (answered at
    // once by the front end) arrives before more requests are sent into it: one 429 teaches the
    // limit instead of a burst of them. 0 = no spacing.
    Millis probe_spacing{25};
};

// Window use per dimension at the moment of the 429 (RPM/TPM/IPM over the last 60 s, RPD today).
using UsedByDimension = std::array<std::int64_t, 4>;

// Pure. The rules:
//  - every positive limit the body states becomes that dimension's server limit (and drops its
//    adaptive guess);
//  - ZERO (the Diagnosis says so, or the body states a 0 anywhere): refuse locally for
//    zero_hold; a 0 is never kept as a lasting limit, and nothing else is learned;
//  - RPD: drained until the retry delay or, without one, the next Pacific midnight;
//  - RPM/TPM/IPM (UNKNOWN counts as RPM: a capacity 429 without details): drained until the
//    retry delay when there is one; when the limit is unknown (neither configured nor ever
//    stated) and the body gives no delay either (legacy and Vertex bodies), the adaptive limit
//    becomes
//    max(1, decrease * min(limit in force, use in the window)). A server-given delay is
//    trusted as it is: guessing a lower rate on top of it would wait longer than asked.
KeyState learn_from_429(KeyState s, const QuotaSignal& signal, const Limits& configured,
                        const UsedByDimension& used, SystemTime now, const LearnConfig& config);

// Pure. After an attempt that was not a 429: each adaptive limit grows by
// increase * amount^2 / limit (at most increase * amount), so a window's worth of successes
// adds about `increase` requests' demand. Reaching the hard limit drops the adaptive one.
KeyState learn_from_success(KeyState s, const Demand& actual, const Limits& configured,
                            const LearnConfig& config);

}  // namespace nbcore::quota
