// rediss:// against real TLS redis-servers on loopback, with certificates made for the run: what
// works (the state contract suite also runs over TLS: test_state_contract.cpp), and one row per way
// TLS can be refused, each a typed error whose advice says what to do next and never shows the
// password. An unreachable TLS server is an outage like a plain one: local buckets, no error.
#include <catch2/catch.hpp>

#include "test_state_support.hpp"

using namespace quota_test;

namespace {

// Skips (with the reason) unless this build has Redis and the TLS test server runs.
bool tls_redis_ready() {
    if (!redis_supported()) return false;
    if (!test_redis().available()) {
        WARN(nbcore_test::RedisServer::missing_message());
        return false;
    }
    if (!test_tls_redis().available()) {
        WARN(nbcore_test::TestCertificates::missing_message());
        return false;
    }
    return true;
}

// A TLS server whose certificate (signed by the test CA) names other.example only.
nbcore_test::RedisServer& other_name_redis() {
    const auto& c = test_tls_redis().certs;
    static nbcore_test::RedisServer server(nbcore_test::RedisTlsFiles{c.other_name_cert(), c.other_name_key(), c.ca()});
    return server;
}

RedisOptions test_options() {
    static int n = 0;
    RedisOptions o;
    o.prefix = "nbcore-tls-" + std::to_string(::getpid()) + "-" + std::to_string(++n);
    return o;
}

AdmitResult admit_one(StateBackend& st) { return st.admit(admit_request(test_key(), rpm_only(5), base_now())); }

const std::string kAuth = "someone:hunter2@";

}  // namespace

TEST_CASE("redis tls: a rediss:// backend by host name (SNI, DNS name check) admits", "[state][redis][tls]") {
    if (!tls_redis_ready()) return;
    auto st = open_redis_backend(test_tls_redis().url("localhost"), test_options());
    auto r = admit_one(*st);
    CHECK(r.fit.verdict == Verdict::Now);
    CHECK(r.ticket > 0);   // a Redis ticket, not a local one
    CHECK(r.notices.empty());
}

TEST_CASE("redis tls: each way TLS is refused is a typed error with what to do next", "[state][redis][tls]") {
    if (!tls_redis_ready()) return;
    const auto& tls = test_tls_redis();
    const auto& c = tls.certs;
    const std::string tls_port = std::to_string(tls.server->port());
    const std::string plain_port = std::to_string(test_redis().port());
    const std::string client = "&cert=" + c.client_cert() + "&key=" + c.client_key();

    struct Row {
        std::string name;
        std::string url;
        bool at_open;          // refused by open_redis_backend; else by the first operation
        Status code;
        std::string message;   // a fragment of what()
        std::string advice;    // a fragment of the advice
    };
    const std::vector<Row> rows = {
        {"a CA that did not sign the server's certificate",
         "rediss://" + kAuth + "127.0.0.1:" + tls_port + "/0?cacert=" + c.other_ca() + client, false, Status::NETWORK,
         "not trusted", "not signed by a CA in cacert=" + c.other_ca() + "; pass the CA that signed it"},
        {"the system trust store, which lacks the test CA",
         "rediss://" + kAuth + "127.0.0.1:" + tls_port + "/0?cert=" + c.client_cert() + "&key=" + c.client_key(), false,
         Status::NETWORK, "not trusted", "not signed by a CA in this system's trust store"},
        {"an IP address the certificate does not list",
         "rediss://" + kAuth + "127.0.0.1:" + std::to_string(other_name_redis().port()) + "/0?cacert=" + c.ca() + client,
         false, Status::NETWORK, "not issued for 127.0.0.1", "subjectAltName"},
        {"a host name the certificate does not list",
         "rediss://" + kAuth + "localhost:" + std::to_string(other_name_redis().port()) + "/0?cacert=" + c.ca() + client,
         false, Status::NETWORK, "not issued for localhost", "subjectAltName"},
        {"a plain Redis port named by rediss://",
         "rediss://" + kAuth + "127.0.0.1:" + plain_port + "/0?cacert=" + c.ca() + client, false, Status::NETWORK,
         "does not speak TLS on this port", "use redis:// for this port, or rediss:// with the port Redis serves TLS on"},
        {"a TLS port named by redis://", "redis://" + kAuth + "127.0.0.1:" + tls_port + "/0", false, Status::NETWORK,
         "speaks TLS on this port", "write the state URL as rediss://"},
        {"no client certificate for a server that requires one",
         "rediss://" + kAuth + "127.0.0.1:" + tls_port + "/0?cacert=" + c.ca(), false, Status::NETWORK,
         "requires a client certificate", "?cert=/path/client.pem&key=/path/client.key"},
        {"a client certificate from a CA the server does not trust",
         "rediss://" + kAuth + "127.0.0.1:" + tls_port + "/0?cacert=" + c.ca() + "&cert=" + c.other_ca() +
             "&key=" + c.dir() + "/other-ca.key",
         false, Status::NETWORK, "refused the client certificate", "signed by a CA in the server's tls-ca-cert-file"},
        {"a cacert path that cannot be read",
         "rediss://" + kAuth + "127.0.0.1:" + tls_port + "/0?cacert=" + c.dir() + "/missing.pem" + client, true,
         Status::INVALID_ARG, "cacert=" + c.dir() + "/missing.pem cannot be read: No such file", "readable PEM file"},
        {"a cacert that is not a certificate",
         "rediss://" + kAuth + "127.0.0.1:" + tls_port + "/0?cacert=" + c.client_key() + client, false,
         Status::INVALID_ARG, "cacert=" + c.client_key() + " cannot be used", "the certificate of the CA"},
        {"a key that does not belong to the certificate",
         "rediss://" + kAuth + "127.0.0.1:" + tls_port + "/0?cacert=" + c.ca() + "&cert=" + c.client_cert() +
             "&key=" + c.server_key(),
         false, Status::INVALID_ARG, "key=" + c.server_key() + " cannot be used", "belongs to cert="},
        {"an unknown query option", "rediss://" + kAuth + "127.0.0.1:" + tls_port + "/0?sslmode=require", true,
         Status::INVALID_ARG, "the known options are cacert, cert and key", "rediss://"},
    };
    for (const auto& row : rows) {
        INFO(row.name << ": " << redact_state_url(row.url));
        try {
            auto st = open_redis_backend(row.url, test_options());
            REQUIRE_FALSE(row.at_open);
            admit_one(*st);
            FAIL("admitted");
        } catch (const Error& e) {
            const std::string what = e.what(), advice = e.diagnosis().advice;
            INFO(what << "\n" << advice);
            CHECK(status_name(e.code()) == status_name(row.code));
            CHECK_THAT(what, Catch::Contains(row.message, Catch::CaseSensitive::No));
            CHECK_THAT(advice, Catch::Contains(row.advice, Catch::CaseSensitive::No));
            CHECK(what.find("hunter2") == std::string::npos);
            CHECK(advice.find("hunter2") == std::string::npos);
            CHECK(e.diagnosis().message.find("hunter2") == std::string::npos);
        }
    }
}

TEST_CASE("redis tls: a TLS server that cannot be reached is an outage: local buckets, no error", "[state][redis][tls]") {
    if (!tls_redis_ready()) return;
    const auto& c = test_tls_redis().certs;
    const std::string url = "rediss://" + kAuth + "127.0.0.1:" + std::to_string(nbcore_test::free_port()) +
                            "/0?cacert=" + c.ca() + "&cert=" + c.client_cert() + "&key=" + c.client_key();
    auto st = open_redis_backend(url, test_options());
    auto r = admit_one(*st);
    CHECK(r.fit.verdict == Verdict::Now);
    CHECK(r.ticket < 0);   // local
    REQUIRE(r.notices.size() == 1);
    CHECK_FALSE(r.notices[0].reachable);
    CHECK_THAT(r.notices[0].message, Catch::Contains("cannot be reached"));
    CHECK(r.notices[0].message.find("hunter2") == std::string::npos);
}
