// Where quota use, learned limits and spend live: a StateBackend. Every operation is one atomic
// step that reads what it needs, applies the pure rules of quota.hpp / cost.hpp and writes the
// result, never a read-modify-write spread over two calls. So the same interface fits the local
// stores here (in memory; SQLite shared by the processes of one machine) and a networked one
// (Redis: one Lua script per operation, keys per credential fingerprint, model and dimension,
// windows expiring by TTL, RPD keys at Pacific midnight).
//
// All times are wall-clock (system_clock): steady clocks are not comparable across processes.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nbcore/clock.hpp"
#include "nbcore/cost.hpp"
#include "nbcore/quota.hpp"

namespace nbcore::quota {

// ---- operations ------------------------------------------------------------------------------

struct AdmitRequest {
    QuotaKey key;
    Demand demand;
    Limits configured;          // the caller's tier / custom limits (also kept for reports)
    SystemTime now{};
    bool take = true;           // false: only compute the fit, record nothing
};

struct AdmitResult {
    Fit fit;
    std::int64_t ticket = 0;               // the recorded entry when taken (fit.verdict == Now)
    std::vector<Dimension> warnings;       // 80% crossings this admission caused (once each)
    std::vector<std::int64_t> used_after;  // per kDimensions, after the admission
    std::vector<std::optional<std::int64_t>> limits;   // per kDimensions, in force
};

// What an attempt really used, from the reply.
struct QuotaActual {
    std::int64_t input_tokens = 0;   // usageMetadata.promptTokenCount
    std::int64_t images = 0;         // images delivered
};

struct LearnResult {
    KeyState before;
    KeyState after;
    UsedByDimension used{};          // window use when the 429 arrived
};

struct ReserveRequest {
    MicroUsd amount = 0;
    BudgetCaps caps;
    SystemTime now{};
    Millis lease{std::chrono::hours(1)};   // a hold not settled by then is booked as spent
    std::string model;                     // recorded with the hold, for reports
};

struct ReserveResult {
    bool ok = false;
    std::int64_t hold = 0;
    std::optional<Period> refused_by;      // the cap the amount would cross
    MicroUsd committed = 0;                // refused: spent + held in that period before
    MicroUsd cap = 0;                      // refused: that cap
    std::vector<BudgetAlert> alerts;       // soft alerts this reservation crossed
};

struct SettleCostResult {
    bool found = false;                    // false: already settled, released or expired
    MicroUsd booked = 0;
    std::vector<BudgetAlert> alerts;
};

// ---- snapshot (`nbcore usage`) ---------------------------------------------------------------

struct DimensionUsage {
    Dimension dimension = Dimension::NONE;
    std::int64_t used = 0;                 // in the last 60 s, or today for RPD
    std::optional<std::int64_t> limit;     // in force
    LimitSource source = LimitSource::Unknown;
    std::optional<std::int64_t> configured;
    std::optional<std::int64_t> server_limit;
    std::optional<double> adaptive;
    SystemTime frees_at{};                 // RPD: next Pacific midnight; else when the oldest
                                           // counted entry leaves the window (or now when empty)
    SystemTime drained_until{};
};

struct KeyUsage {
    QuotaKey key;
    std::vector<DimensionUsage> dimensions;   // in kDimensions order
    std::int64_t unsettled = 0;               // admitted today, not settled or released yet
    SystemTime zero_until{};
};

struct CapUsage {
    Period period = Period::Day;
    MicroUsd spent = 0;
    MicroUsd held = 0;                     // reservations not settled yet
    std::optional<MicroUsd> cap;           // as last configured by a ledger
    SystemTime start{};
    std::optional<SystemTime> resets_at;
};

struct UsageSnapshot {
    SystemTime taken_at{};
    std::string location;                  // the state file, or "memory"
    std::vector<KeyUsage> keys;            // ordered by key
    std::vector<CapUsage> caps;            // Day, Month, Total
    std::int64_t open_holds = 0;
};

// A table for people: each dimension used against its limit, and spend against each cap.
std::string format_usage(const UsageSnapshot& s);
// The same as JSON (times as ISO-8601 UTC and epoch milliseconds).
std::string usage_json(const UsageSnapshot& s);

// ---- the interface ---------------------------------------------------------------------------

class StateBackend {
public:
    virtual ~StateBackend() = default;

    // Quota. admit: check every dimension of the key and, when the demand fits now and
    // request.take, record it; else say when it would fit. settle: replace the estimate with what
    // the reply used and grow adaptive limits (an unknown or already released ticket changes
    // nothing). release: forget an unsettled entry (the attempt was never sent, or was refused
    // with a 429). on_429: learn from a 429; `release_ticket` (0 = none) is released in the same
    // step, after its use has been counted.
    virtual AdmitResult admit(const AdmitRequest& request) = 0;
    virtual void settle(const QuotaKey& key, std::int64_t ticket, const QuotaActual& actual,
                        const Limits& configured, const LearnConfig& learn, SystemTime now) = 0;
    virtual void release(const QuotaKey& key, std::int64_t ticket) = 0;
    virtual LearnResult on_429(const QuotaKey& key, const QuotaSignal& signal, const Limits& configured,
                               const LearnConfig& learn, std::int64_t release_ticket, SystemTime now) = 0;
    virtual KeyState learned(const QuotaKey& key) = 0;
    virtual void forget(const QuotaKey& key) = 0;          // drop learned limits and drains

    // Cost. reserve: refuse when spent + held + amount would cross a cap, else hold the amount.
    // settle_cost: book `actual` in the hold's periods and drop the hold. release_cost: drop the
    // hold (nothing was billed). Holds older than their lease are booked as spent at their full
    // amount (the attempt may have run; the ledger must never under-count).
    virtual ReserveResult reserve(const ReserveRequest& request) = 0;
    virtual SettleCostResult settle_cost(std::int64_t hold, MicroUsd actual, const BudgetCaps& caps,
                                         SystemTime now) = 0;
    virtual void release_cost(std::int64_t hold, SystemTime now) = 0;

    virtual UsageSnapshot snapshot(SystemTime now) = 0;
};

// Process-local state; thread-safe.
std::shared_ptr<StateBackend> make_memory_backend();

// ---- the local persistent store --------------------------------------------------------------

struct StoreOptions {
    bool create = true;                    // create the file (0600) and its directory (0700)
    bool durable = true;                   // fsync every commit (synchronous=FULL); false keeps
                                           // commits across a process crash but not a power cut
    Millis busy_timeout{10'000};           // how long to wait for another process's transaction
};

// $NBCORE_STATE_FILE, else $XDG_STATE_HOME/nbcore/state.db, else ~/.local/state/nbcore/state.db.
std::string default_state_path();

// SQLite in WAL mode, one BEGIN IMMEDIATE transaction per operation: shared safely by every
// process on the machine, and nothing committed is lost when a process is killed. Throws Error
// (INVALID_ARG for a path that cannot be used, INTERNAL for a damaged or newer-format file).
std::shared_ptr<StateBackend> open_state_store(const std::string& path = default_state_path(),
                                               const StoreOptions& options = {});

}  // namespace nbcore::quota
