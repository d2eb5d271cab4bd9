// The state operations, written once: every StateBackend runs them over its own Txn, the
// primitive reads and writes of one atomic step (the memory backend under its mutex, SQLite inside
// one BEGIN IMMEDIATE transaction). So both backends obey the same rules by construction, and the
// contract tests check the storage, not two copies of the logic. Not a public header.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "nbcore/state.hpp"

namespace nbcore::quota::detail {

// Every time an operation sees is floored to whole milliseconds, the resolution the stores keep.
SystemTime to_ms(SystemTime t);
std::int64_t epoch_ms(SystemTime t);
SystemTime from_epoch_ms(std::int64_t ms);

struct StoredEntry {
    std::int64_t id = 0;
    SystemTime at{};
    std::int64_t requests = 1;
    std::int64_t tokens = 0;
    std::int64_t images = 0;
    bool settled = false;
};

struct KeyRecord {
    KeyState state;
    Limits configured;   // as the last admission passed them (for reports)
};

// A key's learned state and configured limits as JSON text (the stores keep it as one value).
std::string record_to_text(const KeyRecord& r);
KeyRecord record_from_text(const std::string& text);   // throws nlohmann::json::exception

struct StoredHold {
    std::int64_t id = 0;
    MicroUsd amount = 0;
    SystemTime created{};
    SystemTime expires{};
    std::string model;
    SystemTime day_start{};     // the periods the hold (and its settlement) belongs to
    SystemTime month_start{};
};

class Txn {
public:
    virtual ~Txn() = default;

    // Quota entries of one key.
    virtual std::vector<StoredEntry> entries_after(const QuotaKey& key, SystemTime after) = 0;   // at > after, by (at, id)
    virtual std::int64_t requests_from(const QuotaKey& key, SystemTime from) = 0;               // sum where at >= from
    virtual std::optional<StoredEntry> entry(const QuotaKey& key, std::int64_t id) = 0;
    virtual std::int64_t insert_entry(const QuotaKey& key, const StoredEntry& e) = 0;           // returns the id
    virtual void update_entry(const QuotaKey& key, const StoredEntry& e) = 0;
    virtual void delete_entry(const QuotaKey& key, std::int64_t id) = 0;
    virtual void prune_entries(SystemTime before) = 0;                                         // every key, at < before

    // Learned state per key.
    virtual std::optional<KeyRecord> key_record(const QuotaKey& key) = 0;
    virtual void put_key_record(const QuotaKey& key, const KeyRecord& r) = 0;
    virtual void delete_key_record(const QuotaKey& key) = 0;
    virtual std::vector<QuotaKey> keys() = 0;   // keys with a record or entries, ordered

    // Cost.
    virtual std::vector<StoredHold> holds() = 0;
    virtual std::optional<StoredHold> hold(std::int64_t id) = 0;
    virtual std::int64_t insert_hold(const StoredHold& h) = 0;
    virtual void delete_hold(std::int64_t id) = 0;
    virtual MicroUsd spent(Period p, SystemTime start) = 0;
    virtual void add_spent(Period p, SystemTime start, MicroUsd amount) = 0;
    virtual std::vector<int> alerts(Period p, SystemTime start) = 0;
    virtual void add_alert(Period p, SystemTime start, int percent) = 0;
    virtual std::optional<MicroUsd> cap(Period p) = 0;                 // as last configured
    virtual void set_cap(Period p, std::optional<MicroUsd> cap) = 0;
};

AdmitResult admit(Txn& t, const AdmitRequest& request);
void settle(Txn& t, const QuotaKey& key, std::int64_t ticket, const QuotaActual& actual, const Limits& configured,
            const LearnConfig& learn, SystemTime now);
void release(Txn& t, const QuotaKey& key, std::int64_t ticket);
LearnResult on_429(Txn& t, const QuotaKey& key, const QuotaSignal& signal, const Limits& configured,
                   const LearnConfig& learn, std::int64_t release_ticket, SystemTime now);
KeyState learned(Txn& t, const QuotaKey& key);
void forget(Txn& t, const QuotaKey& key);

ReserveResult reserve(Txn& t, const ReserveRequest& request);
SettleCostResult settle_cost(Txn& t, std::int64_t hold, MicroUsd actual, const BudgetCaps& caps, SystemTime now);
void release_cost(Txn& t, std::int64_t hold, SystemTime now);

UsageSnapshot snapshot(Txn& t, SystemTime now, std::string location);

// A StateBackend whose every operation is one of the above inside one transaction. A backend
// supplies only how a transaction runs and where its data lives.
class LedgerBackend : public StateBackend {
    // Defined before the operations, so its deduced return type is known where they use it.
    template <class Fn>
    auto run(Fn&& fn) {
        if constexpr (std::is_void_v<decltype(fn(std::declval<Txn&>()))>) {
            transact(fn);
        } else {
            decltype(fn(std::declval<Txn&>())) result{};
            transact([&](Txn& t) { result = fn(t); });
            return result;
        }
    }

public:
    AdmitResult admit(const AdmitRequest& request) override {
        return run([&](Txn& t) { return detail::admit(t, request); });
    }
    void settle(const QuotaKey& key, std::int64_t ticket, const QuotaActual& actual, const Limits& configured,
                const LearnConfig& learn, SystemTime now) override {
        run([&](Txn& t) { detail::settle(t, key, ticket, actual, configured, learn, now); });
    }
    void release(const QuotaKey& key, std::int64_t ticket) override {
        run([&](Txn& t) { detail::release(t, key, ticket); });
    }
    LearnResult on_429(const QuotaKey& key, const QuotaSignal& signal, const Limits& configured,
                       const LearnConfig& learn, std::int64_t release_ticket, SystemTime now) override {
        return run([&](Txn& t) { return detail::on_429(t, key, signal, configured, learn, release_ticket, now); });
    }
    KeyState learned(const QuotaKey& key) override {
        return run([&](Txn& t) { return detail::learned(t, key); });
    }
    void forget(const QuotaKey& key) override {
        run([&](Txn& t) { detail::forget(t, key); });
    }
    ReserveResult reserve(const ReserveRequest& request) override {
        return run([&](Txn& t) { return detail::reserve(t, request); });
    }
    SettleCostResult settle_cost(std::int64_t hold, MicroUsd actual, const BudgetCaps& caps, SystemTime now) override {
        return run([&](Txn& t) { return detail::settle_cost(t, hold, actual, caps, now); });
    }
    void release_cost(std::int64_t hold, SystemTime now) override {
        run([&](Txn& t) { detail::release_cost(t, hold, now); });
    }
    UsageSnapshot snapshot(SystemTime now) override {
        return run([&](Txn& t) { return detail::snapshot(t, now, location()); });
    }

protected:
    // Runs `body` as one atomic step: all of its writes happen, or none.
    virtual void transact(const std::function<void(Txn&)>& body) = 0;
    virtual std::string location() const = 0;   // the state file, or "memory"

};

}  // namespace nbcore::quota::detail
