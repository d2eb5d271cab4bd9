// Process-local state: plain containers under one mutex; every operation of ledger.cpp runs with
// the mutex held, so each is one atomic step.
#include <algorithm>
#include <map>
#include <mutex>

#include "quota/ledger.hpp"

namespace nbcore::quota {
namespace {

using detail::KeyRecord;
using detail::StoredEntry;
using detail::StoredHold;

struct Data {
    std::map<QuotaKey, std::map<std::int64_t, StoredEntry>> entries;   // by id; ids grow with time
    std::map<QuotaKey, KeyRecord> records;
    std::map<std::int64_t, StoredHold> holds;
    std::map<std::pair<Period, SystemTime>, MicroUsd> spent;
    std::map<std::pair<Period, SystemTime>, std::vector<int>> alerts;
    std::map<Period, std::optional<MicroUsd>> caps;
    std::int64_t next_entry = 1;
    std::int64_t next_hold = 1;
};

class MemoryTxn final : public detail::Txn {
public:
    explicit MemoryTxn(Data& d) : d_(d) {}

    std::vector<StoredEntry> entries_after(const QuotaKey& key, SystemTime after) override {
        std::vector<StoredEntry> out;
        if (auto it = d_.entries.find(key); it != d_.entries.end())
            for (const auto& [id, e] : it->second)
                if (e.at > after) out.push_back(e);
        std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
            return a.at != b.at ? a.at < b.at : a.id < b.id;
        });
        return out;
    }
    std::int64_t requests_from(const QuotaKey& key, SystemTime from) override {
        std::int64_t sum = 0;
        if (auto it = d_.entries.find(key); it != d_.entries.end())
            for (const auto& [id, e] : it->second)
                if (e.at >= from) sum += e.requests;
        return sum;
    }
    std::optional<StoredEntry> entry(const QuotaKey& key, std::int64_t id) override {
        auto it = d_.entries.find(key);
        if (it == d_.entries.end()) return std::nullopt;
        auto e = it->second.find(id);
        if (e == it->second.end()) return std::nullopt;
        return e->second;
    }
    std::int64_t insert_entry(const QuotaKey& key, const StoredEntry& e) override {
        StoredEntry copy = e;
        copy.id = d_.next_entry++;
        d_.entries[key][copy.id] = copy;
        return copy.id;
    }
    void update_entry(const QuotaKey& key, const StoredEntry& e) override {
        auto it = d_.entries.find(key);
        if (it == d_.entries.end()) return;
        if (auto slot = it->second.find(e.id); slot != it->second.end()) slot->second = e;
    }
    void delete_entry(const QuotaKey& key, std::int64_t id) override {
        auto it = d_.entries.find(key);
        if (it == d_.entries.end()) return;
        it->second.erase(id);
        if (it->second.empty()) d_.entries.erase(it);
    }
    void prune_entries(SystemTime before) override {
        for (auto it = d_.entries.begin(); it != d_.entries.end();) {
            std::erase_if(it->second, [&](const auto& kv) { return kv.second.at < before; });
            it = it->second.empty() ? d_.entries.erase(it) : std::next(it);
        }
    }

    std::optional<KeyRecord> key_record(const QuotaKey& key) override {
        auto it = d_.records.find(key);
        if (it == d_.records.end()) return std::nullopt;
        return it->second;
    }
    void put_key_record(const QuotaKey& key, const KeyRecord& r) override { d_.records[key] = r; }
    void delete_key_record(const QuotaKey& key) override { d_.records.erase(key); }
    std::vector<QuotaKey> keys() override {
        std::vector<QuotaKey> out;
        for (const auto& [k, _] : d_.records) out.push_back(k);
        for (const auto& [k, _] : d_.entries) out.push_back(k);
        std::sort(out.begin(), out.end());
        out.erase(std::unique(out.begin(), out.end()), out.end());
        return out;
    }

    std::vector<StoredHold> holds() override {
        std::vector<StoredHold> out;
        for (const auto& [id, h] : d_.holds) out.push_back(h);
        return out;
    }
    std::optional<StoredHold> hold(std::int64_t id) override {
        auto it = d_.holds.find(id);
        if (it == d_.holds.end()) return std::nullopt;
        return it->second;
    }
    std::int64_t insert_hold(const StoredHold& h) override {
        StoredHold copy = h;
        copy.id = d_.next_hold++;
        d_.holds[copy.id] = copy;
        return copy.id;
    }
    void delete_hold(std::int64_t id) override { d_.holds.erase(id); }
    MicroUsd spent(Period p, SystemTime start) override {
        auto it = d_.spent.find({p, start});
        return it == d_.spent.end() ? 0 : it->second;
    }
    void add_spent(Period p, SystemTime start, MicroUsd amount) override { d_.spent[{p, start}] += amount; }
    std::vector<int> alerts(Period p, SystemTime start) override {
        auto it = d_.alerts.find({p, start});
        return it == d_.alerts.end() ? std::vector<int>{} : it->second;
    }
    void add_alert(Period p, SystemTime start, int percent) override { d_.alerts[{p, start}].push_back(percent); }
    std::optional<MicroUsd> cap(Period p) override {
        auto it = d_.caps.find(p);
        return it == d_.caps.end() ? std::nullopt : it->second;
    }
    void set_cap(Period p, std::optional<MicroUsd> cap) override { d_.caps[p] = cap; }

private:
    Data& d_;
};

class MemoryBackend final : public detail::LedgerBackend {
protected:
    // Every operation runs whole under the mutex. Nothing in ledger.cpp throws between its writes
    // except on memory exhaustion, so no undo log is kept.
    void transact(const std::function<void(detail::Txn&)>& body) override {
        std::lock_guard lock(mu_);
        MemoryTxn t(data_);
        body(t);
    }
    std::string location() const override { return "memory"; }

private:
    std::mutex mu_;
    Data data_;
};

}  // namespace

std::shared_ptr<StateBackend> make_memory_backend() { return std::make_shared<MemoryBackend>(); }

}  // namespace nbcore::quota
