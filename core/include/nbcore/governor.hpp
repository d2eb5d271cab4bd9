// The quota governor and cost ledger as one thread-safe facade: what the engine calls around every
// attempt. It keeps no state of its own beyond its options; everything lives in a StateBackend
// (state.hpp), so several clients, threads or processes sharing one backend share one quota and one
// budget.
//
// One attempt, as the engine is meant to drive it:
//   a = gov->admit(key or pool, req, model, size, mode, wall_now)
//     Admitted       -> send the attempt with a.ticket; then exactly one of
//                         settle(ticket, reply usage, images, now)  a reply came back (billed)
//                         on_429(ticket, diagnosis, body, now)      the server said 429
//                         release(ticket, now)                      never sent / not billed
//     Wait           -> nothing was taken; wait until a.retry_at (within the deadline), admit again
//     RefusedQuota   -> cannot fit while the limits stand (a demand above a limit, a zero quota)
//     RefusedBudget  -> a spending cap would be crossed (Status::BUDGET)
//   a.warnings and a.alerts (and Settlement::alerts) are what the engine turns into events.
//
// Every call does file I/O when the backend is the SQLite store (one transaction per backend step,
// waiting for other processes' transactions up to their busy timeout): callers run it off the
// I/O thread. Times are wall-clock (system_clock), comparable across processes.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nbcore/clock.hpp"
#include "nbcore/cost.hpp"
#include "nbcore/quota.hpp"
#include "nbcore/reply.hpp"
#include "nbcore/request.hpp"
#include "nbcore/state.hpp"
#include "nbcore/status.hpp"

namespace nbcore::quota {

struct GovernorOptions {
    std::string tier;                      // "" = learn from 429s only, or free | tier1 | tier2 | tier3
    Limits custom;                         // set fields replace the tier's numbers (any model)
    BudgetCaps caps;                       // daily / monthly / total spending caps, USD
    PriceTable prices = PriceTable::defaults();
    LearnConfig learn;
    Allowance allowance;                   // output text a worst-case reservation allows for
    Millis lease{std::chrono::hours(1)};   // a cost hold neither settled nor released by then is
                                           // booked as spent at its full amount
    std::shared_ptr<StateBackend> state;   // null = a process-local memory backend
};

class Governor {
public:
    // Checks the options and fills in the backend. Throws Error INVALID_ARG with advice for an
    // unknown tier name, negative limits, caps, allowance or prices, a non-positive lease, or a
    // LearnConfig outside decrease in (0, 1], increase >= 0, zero_hold >= 0.
    static std::shared_ptr<Governor> create(GovernorOptions options);

    // What an admitted attempt holds; pass it back to exactly one of settle / on_429 / release.
    struct Ticket {
        QuotaKey key;
        std::int64_t quota_ticket = 0;     // the backend's window entry
        std::int64_t cost_hold = 0;        // the backend's cost reservation
        MicroUsd reserved = 0;             // its amount (the worst case)
        CostRequest cost;                  // model, size, mode and estimate it was priced with
        Demand demand;                     // what it took from each quota dimension
    };

    struct Admission {
        enum Kind { Admitted, Wait, RefusedQuota, RefusedBudget } kind = Admitted;
        Ticket ticket;                     // Admitted only
        SystemTime retry_at{};             // Wait: when it fits (nothing was taken);
                                           // RefusedQuota: fit.at (for a zero quota, when the
                                           // local hold ends; otherwise now);
                                           // RefusedBudget: when the period resets
                                           // (SystemTime::max() for the total cap)
        Fit fit;                           // the quota verdict, with the binding dimension
        std::optional<Period> budget_period;   // RefusedBudget: the cap that refused
        MicroUsd committed = 0;            // RefusedBudget: spent + held in that period
        MicroUsd cap = 0;                  // RefusedBudget: that cap
        MicroUsd estimate = 0;             // the worst-case cost of the attempt
        std::vector<Dimension> warnings;   // Admitted: dimensions that crossed 80% (once per window)
        std::vector<BudgetAlert> alerts;   // Admitted: caps whose 50/80/100% this reservation crossed
        std::vector<StateNotice> notices;  // any kind: the state backend changed health (StateNotice)
    };

    // Quota first (taken only when the demand fits every dimension now), then the worst-case cost
    // is reserved; when the budget refuses, the quota entry is released again before returning.
    // `credential_secret_or_pool` is the API key (only its fingerprint is kept) or a route's quota
    // pool; `model` the resolved model id; `image_size` "" | 1K | 2K | 4K; `mode` prices online or
    // Batch API attempts (quota applies to both alike).
    Admission admit(std::string_view credential_secret_or_pool, const Request& req, std::string_view model,
                    std::string_view image_size, Mode mode, SystemTime now);

    struct Settlement {
        bool found = false;                // false: the hold was already settled, released or expired
        MicroUsd cost = 0;                 // what was booked
        std::vector<BudgetAlert> alerts;   // caps crossed because the reply cost more than reserved
    };

    // A reply came back: the server billed it, whatever it held (blocked and imageless replies
    // carry usage too). The quota entry takes the reply's promptTokenCount and the images
    // delivered; the cost is cost_of_usage(). Without usage metadata the reserved worst case is
    // booked (never an under-count) and the quota entry keeps its estimate.
    Settlement settle(const Ticket& ticket, const Usage& usage, int images_delivered, SystemTime now);

    // The attempt was never sent, or failed in a way that is not billed: the quota entry and the
    // cost hold are dropped.
    void release(const Ticket& ticket, SystemTime now);

    // The server answered 429: learn from it (limits the body states, drain, AIMD; quota.hpp),
    // drop the attempt's quota entry (after counting it) and its cost hold. Returns what changed.
    LearnResult on_429(const Ticket& ticket, const Diagnosis& diagnosis, std::string_view body, SystemTime now);

    // ---- cost only (the Batch API: no per-minute quota, half price, answered within a day) ----

    // The worst-case cost of one request at `mode`'s prices.
    MicroUsd estimate(const Request& req, std::string_view model, std::string_view image_size, Mode mode) const;
    // What a reply cost, from its usage, at `mode`'s prices.
    MicroUsd cost_of(const Usage& usage, std::string_view model, std::string_view image_size, Mode mode) const;
    // Reserves `amount` against the caps with its own lease (a batch may take a day): Admitted
    // with ticket.cost_hold set, or RefusedBudget. No quota is taken.
    Admission reserve_cost(MicroUsd amount, std::string_view model, Millis lease, SystemTime now);
    // Books `actual` for a reservation (releases it when actual is 0 and nothing ran).
    Settlement settle_cost(const Ticket& ticket, MicroUsd actual, SystemTime now);

    // Everything the backend knows: each key's dimensions against their limits, spend against caps.
    UsageSnapshot usage(SystemTime now);

    // The configured limits for a model: the tier's preset overlaid with the custom limits.
    Limits limits_for(std::string_view model) const;

    const GovernorOptions& options() const noexcept { return options_; }
    StateBackend& state() const noexcept { return *options_.state; }

private:
    explicit Governor(GovernorOptions options);
    // Spacing of admissions while a key's RPM is unknown (LearnConfig::probe_spacing); local to
    // this process, as the probing it paces is.
    std::optional<SystemTime> probe_wait(const QuotaKey& key, const Limits& configured, SystemTime now);

    const GovernorOptions options_;
    struct Pacing;
    std::shared_ptr<Pacing> pacing_;
};

}  // namespace nbcore::quota
