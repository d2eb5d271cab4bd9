// Helpers of the state and governor tests: fast store options, the backends the contract tests run
// against, and admission requests.
#pragma once

#include <memory>
#include <string>

#include "nbcore/state.hpp"
#include "test_quota_support.hpp"

namespace quota_test {

// Fast store options for tests: commits survive a killed process but are not fsynced.
inline StoreOptions fast_store() {
    StoreOptions o;
    o.durable = false;
    return o;
}

// One backend under test, with whatever it needs kept alive.
struct BackendUnderTest {
    std::string kind;
    std::unique_ptr<TempDir> dir;
    std::shared_ptr<StateBackend> backend;
};

inline BackendUnderTest make_backend(const std::string& kind) {
    BackendUnderTest b;
    b.kind = kind;
    if (kind == "memory") {
        b.backend = make_memory_backend();
    } else {
        b.dir = std::make_unique<TempDir>();
        b.backend = open_state_store(b.dir->file("state.db"), fast_store());
    }
    return b;
}

inline AdmitRequest admit_request(const QuotaKey& key, const Limits& limits, SystemTime now,
                                  Demand demand = one_request(), bool take = true) {
    AdmitRequest r;
    r.key = key;
    r.demand = demand;
    r.configured = limits;
    r.now = now;
    r.take = take;
    return r;
}

}  // namespace quota_test
