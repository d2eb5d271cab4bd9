// The state operations over a Txn (ledger.hpp): each reads what it needs, applies the pure rules of
// quota.hpp / cost.hpp and writes the result, inside the caller's one atomic step.
#include "quota/ledger.hpp"

#include <algorithm>

#include "nbcore/policy.hpp"

namespace nbcore::quota::detail {
namespace {

using namespace std::chrono;

constexpr Period kPeriods[] = {Period::Day, Period::Month, Period::Total};

std::size_t idx(Dimension d) { return static_cast<std::size_t>(dimension_index(d)); }

std::vector<WindowEntry> window_of(const std::vector<StoredEntry>& stored) {
    std::vector<WindowEntry> out;
    out.reserve(stored.size());
    for (const auto& e : stored) out.push_back({e.at, e.requests, e.tokens, e.images});
    return out;
}

// Where a hold, or spend at `now`, is counted in period p.
SystemTime hold_start(const StoredHold& h, Period p) {
    switch (p) {
    case Period::Day: return h.day_start;
    case Period::Month: return h.month_start;
    case Period::Total: return SystemTime{};
    }
    return SystemTime{};
}

MicroUsd held(Txn& t, Period p, SystemTime start) {
    MicroUsd sum = 0;
    for (const auto& h : t.holds())
        if (hold_start(h, p) == start) sum += h.amount;
    return sum;
}

MicroUsd committed(Txn& t, Period p, SystemTime start) { return t.spent(p, start) + held(t, p, start); }

void book(Txn& t, const StoredHold& h, MicroUsd amount) {
    if (amount == 0) return;
    for (auto p : kPeriods) t.add_spent(p, hold_start(h, p), amount);
}

// Holds past their lease are booked as spent at their full amount: the attempt may have run, and
// the ledger must never under-count. Committed totals do not change (held becomes spent).
void expire_holds(Txn& t, SystemTime now) {
    for (const auto& h : t.holds()) {
        if (h.expires > now) continue;
        book(t, h, h.amount);
        t.delete_hold(h.id);
    }
}

void remember_caps(Txn& t, const BudgetCaps& caps) {
    for (auto p : kPeriods) {
        auto want = caps.get(p);
        if (t.cap(p) != want) t.set_cap(p, want);
    }
}

// Alerts for a change of committed spend from `before` to `after` in each capped period.
void add_alerts(Txn& t, const BudgetCaps& caps, Period p, SystemTime start, MicroUsd before, MicroUsd after,
                std::vector<BudgetAlert>& out) {
    auto cap = caps.get(p);
    if (!cap) return;
    for (int level : alert_crossings(before, after, *cap, t.alerts(p, start))) {
        t.add_alert(p, start, level);
        out.push_back({p, level, after, *cap, start});
    }
}

struct KeyView {
    KeyRecord record;
    bool existed = false;
    std::vector<StoredEntry> recent;   // after now - 60 s
    std::vector<WindowEntry> window;
    std::int64_t used_today = 0;
};

KeyView load_key(Txn& t, const QuotaKey& key, SystemTime now) {
    KeyView v;
    if (auto r = t.key_record(key)) {
        v.record = *r;
        v.existed = true;
    }
    v.recent = t.entries_after(key, now - kWindow);
    v.window = window_of(v.recent);
    v.used_today = t.requests_from(key, pacific_day_start(now));
    return v;
}

}  // namespace

SystemTime to_ms(SystemTime t) { return floor<milliseconds>(t); }
std::int64_t epoch_ms(SystemTime t) { return floor<milliseconds>(t.time_since_epoch()).count(); }
SystemTime from_epoch_ms(std::int64_t ms) { return SystemTime{milliseconds(ms)}; }

// ---- quota ------------------------------------------------------------------------------------

AdmitResult admit(Txn& t, const AdmitRequest& request) {
    const SystemTime now = to_ms(request.now);
    const SystemTime day = pacific_day_start(now);
    // Entries older than both the window and today count nowhere any more.
    t.prune_entries(std::min(now - kWindow, day));

    KeyView v = load_key(t, request.key, now);
    KeyRecord rec = v.record;
    FitInput in{v.window, v.used_today, request.configured, rec.state, request.demand, now};

    AdmitResult out;
    out.fit = earliest_fit(in);
    const bool take = request.take && out.fit.verdict == Verdict::Now;
    if (take) {
        out.warnings = warning_crossings(in);
        for (auto d : out.warnings) rec.state.at(d).warned_at = now;
        StoredEntry e;
        e.at = now;
        e.requests = request.demand.requests;
        e.tokens = request.demand.input_tokens;
        e.images = request.demand.images;
        out.ticket = t.insert_entry(request.key, e);
    }
    for (auto d : kDimensions) {
        std::int64_t used = d == Dimension::RPD ? v.used_today : window_used(v.window, d, now);
        if (take) used += request.demand.of(d);
        out.used_after.push_back(used);
        out.limits.push_back(effective_limit(request.configured.get(d), rec.state.at(d), request.demand.of(d)).limit);
    }
    rec.configured = request.configured;
    if (request.take && (!v.existed || !(rec.state == v.record.state) || !(rec.configured == v.record.configured)))
        t.put_key_record(request.key, rec);
    return out;
}

void settle(Txn& t, const QuotaKey& key, std::int64_t ticket, const QuotaActual& actual, const Limits& configured,
            const LearnConfig& learn, SystemTime) {
    auto e = t.entry(key, ticket);
    if (!e || e->settled) return;
    e->tokens = std::max<std::int64_t>(0, actual.input_tokens);
    e->images = std::max<std::int64_t>(0, actual.images);
    e->settled = true;
    t.update_entry(key, *e);
    auto rec = t.key_record(key).value_or(KeyRecord{});
    Demand d{e->requests, e->tokens, e->images};
    auto after = learn_from_success(rec.state, d, configured, learn);
    if (!(after == rec.state)) {
        rec.state = after;
        t.put_key_record(key, rec);
    }
}

void release(Txn& t, const QuotaKey& key, std::int64_t ticket) {
    auto e = t.entry(key, ticket);
    if (e && !e->settled) t.delete_entry(key, ticket);
}

LearnResult on_429(Txn& t, const QuotaKey& key, const QuotaSignal& signal, const Limits& configured,
                   const LearnConfig& learn, std::int64_t release_ticket, SystemTime now_in) {
    const SystemTime now = to_ms(now_in);
    KeyView v = load_key(t, key, now);
    LearnResult out;
    out.before = v.record.state;
    for (auto d : kDimensions)
        out.used[idx(d)] = d == Dimension::RPD ? v.used_today : window_used(v.window, d, now);
    out.after = learn_from_429(out.before, signal, configured, out.used, now, learn);
    KeyRecord rec = v.record;
    rec.state = out.after;
    if (!v.existed) rec.configured = configured;
    t.put_key_record(key, rec);
    if (release_ticket != 0) release(t, key, release_ticket);
    return out;
}

KeyState learned(Txn& t, const QuotaKey& key) {
    auto r = t.key_record(key);
    return r ? r->state : KeyState{};
}

void forget(Txn& t, const QuotaKey& key) {
    auto r = t.key_record(key);
    if (!r) return;
    r->state = KeyState{};
    t.put_key_record(key, *r);
}

// ---- cost -------------------------------------------------------------------------------------

ReserveResult reserve(Txn& t, const ReserveRequest& request) {
    const SystemTime now = to_ms(request.now);
    expire_holds(t, now);
    remember_caps(t, request.caps);

    StoredHold h;
    h.amount = std::max<MicroUsd>(0, request.amount);
    h.created = now;
    h.expires = now + duration_cast<SystemTime::duration>(std::max(request.lease, Millis(1)));
    h.model = request.model;
    h.day_start = pacific_day_start(now);
    h.month_start = pacific_month_start(now);

    ReserveResult out;
    MicroUsd before[3] = {};
    for (std::size_t i = 0; i < 3; ++i) {
        const Period p = kPeriods[i];
        before[i] = committed(t, p, hold_start(h, p));
        auto cap = request.caps.get(p);
        if (cap && before[i] + h.amount > *cap) {
            out.ok = false;
            out.refused_by = p;
            out.committed = before[i];
            out.cap = *cap;
            return out;
        }
    }
    out.ok = true;
    out.hold = t.insert_hold(h);
    for (std::size_t i = 0; i < 3; ++i)
        add_alerts(t, request.caps, kPeriods[i], hold_start(h, kPeriods[i]), before[i], before[i] + h.amount, out.alerts);
    return out;
}

SettleCostResult settle_cost(Txn& t, std::int64_t hold_id, MicroUsd actual, const BudgetCaps& caps, SystemTime now_in) {
    const SystemTime now = to_ms(now_in);
    expire_holds(t, now);
    remember_caps(t, caps);
    SettleCostResult out;
    auto h = t.hold(hold_id);
    if (!h) return out;
    actual = std::max<MicroUsd>(0, actual);
    MicroUsd before[3] = {};
    for (std::size_t i = 0; i < 3; ++i) before[i] = committed(t, kPeriods[i], hold_start(*h, kPeriods[i]));
    book(t, *h, actual);
    t.delete_hold(h->id);
    out.found = true;
    out.booked = actual;
    for (std::size_t i = 0; i < 3; ++i)
        add_alerts(t, caps, kPeriods[i], hold_start(*h, kPeriods[i]), before[i], before[i] - h->amount + actual,
                   out.alerts);
    return out;
}

void release_cost(Txn& t, std::int64_t hold_id, SystemTime now) {
    expire_holds(t, to_ms(now));
    if (t.hold(hold_id)) t.delete_hold(hold_id);
}

// ---- snapshot ---------------------------------------------------------------------------------

UsageSnapshot snapshot(Txn& t, SystemTime now_in, std::string location) {
    const SystemTime now = to_ms(now_in);
    expire_holds(t, now);
    const SystemTime day = pacific_day_start(now);

    UsageSnapshot s;
    s.taken_at = now;
    s.location = std::move(location);
    for (const auto& key : t.keys()) {
        KeyView v = load_key(t, key, now);
        KeyUsage ku;
        ku.key = key;
        ku.zero_until = v.record.state.zero_until;
        for (const auto& e : t.entries_after(key, day - milliseconds(1)))
            if (!e.settled) ++ku.unsettled;
        for (auto d : kDimensions) {
            const auto& ds = v.record.state.at(d);
            DimensionUsage du;
            du.dimension = d;
            du.configured = v.record.configured.get(d);
            du.server_limit = ds.server_limit;
            du.adaptive = ds.adaptive;
            du.drained_until = ds.drained_until;
            auto eff = effective_limit(du.configured, ds, 0);
            du.limit = eff.limit;
            du.source = eff.source;
            if (d == Dimension::RPD) {
                du.used = v.used_today;
                du.frees_at = policy::next_pacific_midnight(now);
            } else {
                du.used = window_used(v.window, d, now);
                du.frees_at = now;
                for (const auto& e : v.window) {
                    if (e.of(d) > 0) {
                        du.frees_at = e.at + kWindow;
                        break;
                    }
                }
            }
            ku.dimensions.push_back(du);
        }
        s.keys.push_back(std::move(ku));
    }
    for (auto p : kPeriods) {
        CapUsage c;
        c.period = p;
        c.start = period_start(p, now);
        c.spent = t.spent(p, c.start);
        c.held = held(t, p, c.start);
        c.cap = t.cap(p);
        c.resets_at = period_end(p, now);
        s.caps.push_back(c);
    }
    s.open_holds = static_cast<std::int64_t>(t.holds().size());
    return s;
}

}  // namespace nbcore::quota::detail
