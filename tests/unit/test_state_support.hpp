// Helpers of the state and governor tests: fast store options, the backends the contract tests run
// against, and admission requests.
#pragma once

#include <memory>
#include <string>

#include "nbcore/state.hpp"
#include "test_quota_support.hpp"
#include "../support/redis_server.hpp"
#include "../support/test_certs.hpp"

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

// One redis-server for the whole test run, started on first use.
inline nbcore_test::RedisServer& test_redis() {
    static nbcore_test::RedisServer server;
    return server;
}

// A TLS-only redis-server for the whole test run, with throwaway certificates (a CA, a server
// certificate for 127.0.0.1 and localhost, a client certificate), started on first use.
struct TlsRedis {
    nbcore_test::TestCertificates certs;
    std::unique_ptr<nbcore_test::RedisServer> server;
    TlsRedis() {
        if (certs.available())
            server = std::make_unique<nbcore_test::RedisServer>(
                nbcore_test::RedisTlsFiles{certs.server_cert(), certs.server_key(), certs.ca()});
    }
    bool available() const { return server && server->available(); }
    // rediss://[auth@]host:port/db?cacert=..&cert=..&key=.. trusting the test CA, with the client
    // certificate the server asks for.
    std::string url(const std::string& host = "127.0.0.1", const std::string& auth = {}) const {
        return "rediss://" + auth + host + ":" + std::to_string(server->port()) + "/0?cacert=" + certs.ca() +
               "&cert=" + certs.client_cert() + "&key=" + certs.client_key();
    }
};

inline TlsRedis& test_tls_redis() {
    static TlsRedis tls;
    return tls;
}

// The backends every contract test runs against: memory, SQLite, and Redis when this build has it
// and redis-server is installed (otherwise a warning says why it is left out), both plain
// (redis://) and over TLS (rediss://, when the openssl command line can make certificates).
inline std::vector<std::string> backend_kinds() {
    std::vector<std::string> kinds{"memory", "sqlite"};
    if (!redis_supported()) return kinds;
    static bool warned = false;
    if (!test_redis().available()) {
        if (!warned) WARN(nbcore_test::RedisServer::missing_message());
        warned = true;
        return kinds;
    }
    kinds.push_back("redis");
    if (!test_tls_redis().available()) {
        if (!warned) WARN(nbcore_test::TestCertificates::missing_message());
        warned = true;
        return kinds;
    }
    kinds.push_back("rediss");
    return kinds;
}

inline BackendUnderTest make_backend(const std::string& kind) {
    BackendUnderTest b;
    b.kind = kind;
    if (kind == "memory") {
        b.backend = make_memory_backend();
    } else if (kind == "redis" || kind == "rediss") {
        // A fresh key prefix per backend: tests share the server, never each other's keys.
        static int n = 0;
        RedisOptions o;
        o.prefix = "nbcore-test-" + std::to_string(::getpid()) + "-" + std::to_string(++n);
        b.backend = open_redis_backend(kind == "redis" ? test_redis().url() : test_tls_redis().url(), o);
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
