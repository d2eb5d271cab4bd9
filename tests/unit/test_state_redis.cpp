// The Redis state backend's own rules: state URLs (parsed, redacted, TLS options), and what happens
// when Redis cannot be reached: local buckets at a share of each limit, a notice, and every local
// admission counted into Redis once when it returns.
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <limits>
#include <thread>

#include "test_state_support.hpp"

using namespace quota_test;

TEST_CASE("redis: state URLs are parsed, and passwords never shown", "[state][redis]") {
    auto u = parse_redis_url("redis://user:s%40cret@db.internal:6380/3");
    CHECK(!u.tls);
    CHECK(u.user == "user");
    CHECK(u.password == "s@cret");
    CHECK(u.host == "db.internal");
    CHECK(u.port == 6380);
    CHECK(u.db == 3);
    auto d = parse_redis_url("redis://localhost");
    CHECK(d.host == "localhost");
    CHECK(d.port == 6379);
    CHECK(d.db == 0);
    CHECK(parse_redis_url("redis://:pw@[::1]:7000/1").host == "::1");
    CHECK(parse_redis_url("rediss://h:1/0").tls);

    CHECK(redact_state_url("redis://user:s3cret@h:1/0") == "redis://***@h:1/0");
    CHECK(redact_state_url("redis://h:1/0") == "redis://h:1/0");
    CHECK(redact_state_url("/var/state.db") == "/var/state.db");
    CHECK(is_redis_url("redis://h"));
    CHECK(is_redis_url("rediss://h"));
    CHECK_FALSE(is_redis_url("/tmp/redis://x"));

    for (const char* bad : {"redis://u:pw@h:99999/0", "redis://u:pw@h:1/x", "redis://u:pw@h:1/0?ssl=1", "redis://u:p%zz@h"}) {
        try {
            parse_redis_url(bad);
            FAIL("accepted " << bad);
        } catch (const Error& e) {
            CHECK(e.code() == Status::INVALID_ARG);
            const std::string text = std::string(e.what()) + e.diagnosis().advice;
            CHECK(text.find("pw") == std::string::npos);
            CHECK(text.find("p%zz") == std::string::npos);
            CHECK_FALSE(e.diagnosis().advice.empty());
        }
    }
}

TEST_CASE("redis: the fallback share: an explicit option wins, the environment fills in", "[state][redis]") {
    struct Case {
        double option;
        const char* env;
        double expect;   // < 0: INVALID_ARG
    };
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const Case cases[] = {
        {0, nullptr, 0.25},   {0, "", 0.25},          {0, "1/8", 0.125},   {0, "0.5", 0.5},
        {0.5, "1/8", 0.5},    {1, nullptr, 1},        {0.1, "junk", 0.1},  // the option wins, env unread
        {0, "0", -1},         {0, "1/0", -1},         {0, "2", -1},        {0, "1/4x", -1},
        {-0.25, nullptr, -1}, {1.5, "1/4", -1},       {nan, nullptr, -1},
    };
    for (const auto& c : cases) {
        CAPTURE(c.option, c.env ? c.env : "(unset)");
        if (c.expect >= 0) {
            CHECK(choose_fallback_share(c.option, c.env, 0.25) == Approx(c.expect));
        } else {
            try {
                choose_fallback_share(c.option, c.env, 0.25);
                FAIL("accepted");
            } catch (const Error& e) {
                CHECK(e.code() == Status::INVALID_ARG);
                CHECK_THAT(std::string(e.what()) + e.diagnosis().advice, Catch::Contains("(0, 1]"));
            }
        }
    }
}

TEST_CASE("redis: rediss:// URLs carry the TLS files as percent-decoded query options", "[state][redis][tls]") {
    auto u = parse_redis_url("rediss://user:hunter2@db.internal:6380/2?cacert=/etc/ca%20dir/ca.pem&cert=/c%26d.pem&key=/k.pem");
    CHECK(u.tls);
    CHECK(u.host == "db.internal");
    CHECK(u.port == 6380);
    CHECK(u.db == 2);
    CHECK(u.cacert == "/etc/ca dir/ca.pem");
    CHECK(u.cert == "/c&d.pem");
    CHECK(u.key == "/k.pem");
    auto no_db = parse_redis_url("rediss://h:7000?cacert=/x.pem");
    CHECK(no_db.port == 7000);
    CHECK(no_db.db == 0);
    CHECK(no_db.cacert == "/x.pem");
    auto bare = parse_redis_url("rediss://h:7000/0");
    CHECK(bare.cacert.empty());   // the system's trust store
    CHECK(bare.cert.empty());
    CHECK(parse_redis_url("rediss://[::1]:7000/0?cacert=/x").host == "::1");

    // The query is paths, not secrets: it stays; the password goes, even with an '@' in a path.
    CHECK(redact_state_url("rediss://u:hunter2@h:1/0?cacert=/a@b/ca.pem") == "rediss://***@h:1/0?cacert=/a@b/ca.pem");
    CHECK(redact_state_url("rediss://u:hunter2@h:1?cacert=/a@b/ca.pem") == "rediss://***@h:1?cacert=/a@b/ca.pem");
    CHECK(redact_state_url("rediss://h:1/0?cacert=/a@b/ca.pem") == "rediss://h:1/0?cacert=/a@b/ca.pem");
    CHECK(parse_redis_url("rediss://u:hunter2@h:1?cacert=/a@b/ca.pem").host == "h");
    CHECK(parse_redis_url("rediss://u:hunter2@h:1?cacert=/a@b/ca.pem").cacert == "/a@b/ca.pem");
    // A '?' in a password stays in it (and out of every message), as before queries were read.
    auto q = parse_redis_url("rediss://u:pass?word@h:1/0?cacert=/ca.pem");
    CHECK(q.password == "pass?word");
    CHECK(q.cacert == "/ca.pem");
    CHECK(redact_state_url("redis://u:pass?word@h:1/0") == "redis://***@h:1/0");
}

TEST_CASE("redis: malformed TLS options are refused with the known ones named", "[state][redis][tls]") {
    struct Row {
        const char* url;
        const char* says;
    };
    const Row rows[] = {
        {"rediss://u:hunter2@h:1/0?sslmode=require", "unknown option 'sslmode'; the known options are cacert, cert and key"},
        {"rediss://u:hunter2@h:1/0?cacert=", "needs a file path"},
        {"rediss://u:hunter2@h:1/0?cacert", "needs a file path"},
        {"rediss://u:hunter2@h:1/0?cacert=/a&cacert=/b", "given twice"},
        {"rediss://u:hunter2@h:1/0?cert=/c.pem", "cert and key must be given together"},
        {"rediss://u:hunter2@h:1/0?key=/k.pem", "cert and key must be given together"},
        {"rediss://u:hunter2@h:1/0?cacert=/a%zz", "not followed by two hex digits"},
        {"redis://u:hunter2@h:1/0?cacert=/ca.pem", "write the URL as rediss://"},
    };
    for (const auto& row : rows) {
        INFO(row.url);
        try {
            parse_redis_url(row.url);
            FAIL("accepted");
        } catch (const Error& e) {
            CHECK(e.code() == Status::INVALID_ARG);
            CHECK_THAT(e.what(), Catch::Contains(row.says));
            CHECK_THAT(e.diagnosis().advice, Catch::Contains("rediss://"));
            CHECK(std::string(e.what()).find("hunter2") == std::string::npos);
        }
    }
}

TEST_CASE("redis: an outage falls back to a share of each limit and is reconciled once", "[state][redis]") {
    if (!redis_supported()) return;
    nbcore_test::RedisServer redis;
    if (!redis.available()) {
        WARN(nbcore_test::RedisServer::missing_message());
        return;
    }
    RedisOptions o;
    o.prefix = "nbcore-outage-" + std::to_string(::getpid());
    o.reconnect_every = Millis(0);
    o.fallback_share = 0.25;
    const std::string url = "redis://someone:hunter2@127.0.0.1:" + std::to_string(redis.port()) + "/0";
    // The server has no password: AUTH is refused. Use the plain URL, and check redaction apart.
    auto st = open_redis_backend(redis.url(), o);
    const auto key = test_key();
    Limits l;
    l.rpm = 8;
    const SystemTime t0 = base_now();

    // Two through Redis.
    auto first = st->admit(admit_request(key, l, t0));
    REQUIRE(first.fit.verdict == Verdict::Now);
    CHECK(first.ticket > 0);
    CHECK(first.notices.empty());
    st->settle(key, first.ticket, QuotaActual{100, 1}, l, LearnConfig{}, t0);
    REQUIRE(st->admit(admit_request(key, l, t0 + 1ms)).fit.verdict == Verdict::Now);

    // Redis goes away: a local bucket of 8/4 = 2, counting this worker's own 2 admissions of
    // the minute, so nothing more fits until they leave the window.
    redis.stop();
    auto refused = st->admit(admit_request(key, l, t0 + 2s));
    CHECK(refused.fit.verdict == Verdict::Later);
    CHECK(refused.fit.at == t0 + 60s);
    REQUIRE(refused.notices.size() == 1);
    CHECK_FALSE(refused.notices[0].reachable);
    CHECK_THAT(refused.notices[0].message, Catch::Contains("1/4"));
    // A minute on, two fit locally, the third waits.
    auto l1 = st->admit(admit_request(key, l, t0 + 61s));
    auto l2 = st->admit(admit_request(key, l, t0 + 61s + 1ms));
    auto l3 = st->admit(admit_request(key, l, t0 + 61s + 2ms));
    CHECK(l1.ticket < 0);
    CHECK(l2.ticket < 0);
    CHECK(l3.fit.verdict == Verdict::Later);
    CHECK(l1.notices.empty());   // one notice per outage
    st->settle(key, l1.ticket, QuotaActual{90, 1}, l, LearnConfig{}, t0 + 62s);

    // Back: both local admissions are counted into Redis once, the unsettled one settles there.
    redis.start();
    auto back = st->admit(admit_request(key, l, t0 + 63s));
    CHECK(back.fit.verdict == Verdict::Now);
    REQUIRE(back.notices.size() == 1);
    CHECK(back.notices[0].reachable);
    CHECK_THAT(back.notices[0].message, Catch::Contains("2 admission(s)"));
    st->settle(key, l2.ticket, QuotaActual{90, 1}, l, LearnConfig{}, t0 + 64s);
    auto snap = st->snapshot(t0 + 64s);
    REQUIRE(snap.keys.size() == 1);
    // RPM over the last minute: the two local ones and the one just admitted.
    CHECK(snap.keys[0].dimensions[0].used == 3);
    // Today (the server restarted empty: no persistence in this test) holds what it saw since.
    CHECK(snap.keys[0].dimensions[3].used == 3);
    CHECK(snap.keys[0].unsettled == 1);

    // A second backend (another worker) sees the same counts.
    auto other = open_redis_backend(redis.url(), o);
    CHECK(other->snapshot(t0 + 64s).keys[0].dimensions[0].used == 3);

    CHECK(redact_state_url(url).find("hunter2") == std::string::npos);
}

TEST_CASE("redis: which error replies mean \"busy for now\"", "[state][redis]") {
    struct Row {
        const char* reply;
        bool transient;
    };
    const Row rows[] = {
        {"LOADING Redis is loading the dataset in memory", true},
        {"BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.", true},
        {"MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.", true},
        {"READONLY You can't write against a read only replica.", true},
        {"TRYAGAIN Multiple keys request during rehashing of slot", true},
        {"CLUSTERDOWN The cluster is down", true},
        {"LOADING", true},
        {"NOSCRIPT No matching script. Please use EVAL.", false},
        {"WRONGPASS invalid username-password pair or user is disabled.", false},
        {"NOAUTH Authentication required.", false},
        {"ERR unknown command 'EVALSHA'", false},
        {"LOADINGX not a code we know", false},
        {"", false},
    };
    for (const auto& row : rows) {
        INFO(row.reply);
        CHECK(redis_error_is_transient(row.reply) == row.transient);
    }
}

// A server that accepts connections and answers every command "-LOADING ...", as Redis does while
// it reads its data back after a restart.
class LoadingServer {
public:
    LoadingServer() {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        socklen_t len = sizeof a;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        REQUIRE(::listen(fd_, 8) == 0);
        thread_ = std::thread([this] { serve(); });
    }
    ~LoadingServer() {
        stop_ = true;
        thread_.join();
        ::close(fd_);
    }
    int port() const { return port_; }
    int commands() const { return commands_; }

private:
    void serve() {
        std::vector<int> clients;
        while (!stop_) {
            std::vector<pollfd> fds{{fd_, POLLIN, 0}};
            for (int c : clients) fds.push_back({c, POLLIN, 0});
            if (::poll(fds.data(), fds.size(), 20) <= 0) continue;
            if (fds[0].revents & POLLIN) clients.push_back(::accept(fd_, nullptr, nullptr));
            for (std::size_t i = 1; i < fds.size(); ++i) {
                if (!(fds[i].revents & (POLLIN | POLLHUP))) continue;
                char buf[4096];
                if (::read(fds[i].fd, buf, sizeof buf) <= 0) continue;
                ++commands_;   // one command at a time: the backend waits for each answer
                static const char kLoading[] = "-LOADING Redis is loading the dataset in memory\r\n";
                (void)!::write(fds[i].fd, kLoading, sizeof kLoading - 1);
            }
        }
        for (int c : clients) ::close(c);
    }

    int fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> commands_{0};
    std::thread thread_;
};

TEST_CASE("redis: a server still loading its data is ridden out on local buckets", "[state][redis]") {
    if (!redis_supported()) return;
    LoadingServer loading;
    RedisOptions o;
    o.prefix = "nbcore-loading";
    o.reconnect_every = Millis(0);
    o.fallback_share = 0.5;
    auto st = open_redis_backend("redis://127.0.0.1:" + std::to_string(loading.port()) + "/0", o);
    const auto key = test_key();
    Limits l;
    l.rpm = 4;
    const SystemTime t0 = base_now();
    // Not an INTERNAL error for the caller: an outage, with its one notice, and 4 x 1/2 = 2 local
    // admissions before the third must wait for the window.
    auto first = st->admit(admit_request(key, l, t0));
    CHECK(first.fit.verdict == Verdict::Now);
    CHECK(first.ticket < 0);
    REQUIRE(first.notices.size() == 1);
    CHECK_FALSE(first.notices[0].reachable);
    CHECK_THAT(first.notices[0].message, Catch::Contains("LOADING"));
    CHECK(st->admit(admit_request(key, l, t0 + 1ms)).fit.verdict == Verdict::Now);
    CHECK(st->admit(admit_request(key, l, t0 + 2ms)).fit.verdict == Verdict::Later);
    CHECK(loading.commands() > 0);   // it was asked, and answered LOADING each time
}
