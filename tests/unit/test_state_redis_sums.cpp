// The Redis backend's running sums (K:sum in redis_scripts.hpp): admission reads them instead of
// the whole window, so they must always equal a full recount of the window's entries. The tests
// read the backend's keys directly with hiredis and recount them here, independently of the Lua.
#include <catch2/catch.hpp>

#if NBCORE_TEST_HIREDIS

#include <hiredis/hiredis.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "test_state_support.hpp"

using namespace quota_test;

namespace {

struct ReplyFree {
    void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyFree>;

// A plain connection to the test's redis-server, to look behind the backend.
class RawRedis {
public:
    explicit RawRedis(int port) : port_(port), ctx_(redisConnect("127.0.0.1", port)) {}
    ~RawRedis() {
        if (ctx_) redisFree(ctx_);
    }
    RawRedis(const RawRedis&) = delete;
    RawRedis& operator=(const RawRedis&) = delete;

    Reply cmd(const std::vector<std::string>& args) {
        // A connection from before a restart is gone: connect again once.
        for (int round = 0; round < 2; ++round) {
            std::vector<const char*> argv;
            std::vector<size_t> lens;
            for (const auto& a : args) {
                argv.push_back(a.data());
                lens.push_back(a.size());
            }
            auto* r = static_cast<redisReply*>(redisCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data()));
            if (r) return Reply(r);
            reconnect();
        }
        FAIL("redis command failed: " << args.front());
        return nullptr;
    }
    void reconnect() {
        redisFree(ctx_);
        ctx_ = redisConnect("127.0.0.1", port_);
    }

private:
    int port_;
    redisContext* ctx_;
};

struct Amounts {
    std::int64_t requests = 0, tokens = 0, images = 0;
    bool operator==(const Amounts&) const = default;
};

std::ostream& operator<<(std::ostream& o, const Amounts& a) {
    return o << "{" << a.requests << ", " << a.tokens << ", " << a.images << "}";
}

// Everything in K:w, counted entry by entry from K:e: "at requests tokens images settled day";
// an entry without its amounts counts one request (the rule the scripts keep).
Amounts recount(RawRedis& redis, const std::string& k) {
    Amounts sum;
    Reply tickets = redis.cmd({"ZRANGE", k + ":w", "0", "-1"});
    for (std::size_t n = 0; n < tickets->elements; ++n) {
        Reply e = redis.cmd({"HGET", k + ":e", tickets->element[n]->str});
        if (e->type != REDIS_REPLY_STRING) {
            sum.requests += 1;
            continue;
        }
        long long at = 0, r = 0, t = 0, i = 0;
        REQUIRE(std::sscanf(e->str, "%lld %lld %lld %lld", &at, &r, &t, &i) == 4);
        sum.requests += r;
        sum.tokens += t;
        sum.images += i;
    }
    return sum;
}

std::optional<Amounts> stored_sums(RawRedis& redis, const std::string& k) {
    Reply got = redis.cmd({"HMGET", k + ":sum", "r", "t", "i"});
    for (std::size_t n = 0; n < 3; ++n)
        if (got->element[n]->type != REDIS_REPLY_STRING) return std::nullopt;
    auto at = [&](std::size_t n) { return std::stoll(got->element[n]->str); };
    return Amounts{at(0), at(1), at(2)};
}

// A restarted server accepts connections before it has read its append-only file back, and
// answers LOADING meanwhile: wait for that to end.
void wait_loaded(RawRedis& redis) {
    for (int i = 0; i < 1000; ++i) {
        Reply r = redis.cmd({"PING"});
        if (r->type != REDIS_REPLY_ERROR) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    FAIL("redis-server kept loading");
}

bool exists(RawRedis& redis, const std::string& key) { return redis.cmd({"EXISTS", key})->integer == 1; }

// K:sum is there exactly while K:w is, equals the recount, and expires with K:w (both TTLs read
// in one script, so at one instant).
void check_sums(RawRedis& redis, const std::string& k) {
    INFO("key " << k);
    if (!exists(redis, k + ":w")) {
        CHECK_FALSE(exists(redis, k + ":sum"));
        return;
    }
    const auto sums = stored_sums(redis, k);
    REQUIRE(sums.has_value());
    CHECK(*sums == recount(redis, k));
    Reply ttl = redis.cmd({"EVAL", "return {redis.call('PTTL', KEYS[1]), redis.call('PTTL', KEYS[2])}", "2",
                           k + ":w", k + ":sum"});
    CHECK(std::llabs(ttl->element[0]->integer - ttl->element[1]->integer) <= 2);
}

RedisOptions options(const std::string& prefix) {
    RedisOptions o;
    o.prefix = prefix + "-" + std::to_string(::getpid());
    o.reconnect_every = Millis(0);
    o.fallback_share = 1.0;   // while Redis is away, the local buckets hold whole limits
    return o;
}

std::string window_key(const RedisOptions& o, const QuotaKey& key) {
    return o.prefix + ":q:" + key.credential + ":" + key.model;
}

}  // namespace

TEST_CASE("redis sums: equal a full recount after random admit/settle/release/expire/outage sequences",
          "[state][redis][sums]") {
    if (!redis_supported()) return;
    // Its own server, with an append-only file: an outage is a stop and a restart that keeps
    // every count, so the local admissions are imported into the window they left.
    TempDir dir;
    nbcore_test::RedisServer server(dir.path().string());
    if (!server.available()) {
        WARN(nbcore_test::RedisServer::missing_message());
        return;
    }
    RawRedis raw(server.port());
    const RedisOptions o = options("nbcore-sums");
    auto st = open_redis_backend(server.url(), o);
    const std::vector<QuotaKey> keys{test_key(0), test_key(1)};

    Limits l;
    l.rpm = 8;
    l.tpm = 12'000;
    l.ipm = 8;
    l.rpd = 100'000;
    std::mt19937 rng(20261127);   // fixed: a failure replays
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    SystemTime now = base_now();
    std::vector<std::pair<QuotaKey, std::int64_t>> open;   // tickets taken and not yet settled or released
    auto take_open = [&] {
        const auto n = static_cast<std::size_t>(pick(0, static_cast<int>(open.size()) - 1));
        auto t = open[n];
        open.erase(open.begin() + static_cast<std::ptrdiff_t>(n));
        return t;
    };
    bool up = true;
    std::set<std::string> dropped;   // K:sum deleted behind the backend's back, not yet used again
    int outages = 0, admitted = 0, later = 0, settled = 0, released = 0, rebuilt = 0, learned = 0;

    for (int step = 0; step < 700; ++step) {
        // Mostly small steps; now and then more than a window, so everything leaves at once.
        now += std::chrono::milliseconds(pick(0, 199) < 3 ? pick(60'000, 90'000) : pick(0, 1'500));
        const QuotaKey& key = keys[static_cast<std::size_t>(pick(0, 1))];
        const int op = pick(0, 99);
        INFO("step " << step << " op " << op);
        if (op < 45) {
            const Demand d{1, pick(100, 3'000), pick(0, 2)};
            auto a = st->admit(admit_request(key, l, now, d, pick(0, 9) != 0));
            if (a.ticket != 0) {
                open.push_back({key, a.ticket});
                ++admitted;
                // What admission counted: the window by this clock, which is now all of K:w.
                if (up && a.ticket > 0) {
                    const Amounts all = recount(raw, window_key(o, key));
                    CHECK(Amounts{a.used_after[0], a.used_after[1], a.used_after[2]} == all);
                }
            } else if (a.fit.verdict == Verdict::Later) {
                ++later;
            }
        } else if (op < 70 && !open.empty()) {
            auto [k, ticket] = take_open();
            st->settle(k, ticket, QuotaActual{pick(0, 4'000), pick(0, 2)}, l, LearnConfig{}, now);
            ++settled;
        } else if (op < 82 && !open.empty()) {
            auto [k, ticket] = take_open();
            st->release(k, ticket);
            ++released;
        } else if (op < 86 && !open.empty() && up) {
            // A 429 that states the limit in force: learned (the read script), its entry released.
            auto [k, ticket] = take_open();
            QuotaSignal sig;
            sig.dimension = Dimension::RPM;
            sig.server_limits = {{Dimension::RPM, *l.rpm}};
            st->on_429(k, sig, l, LearnConfig{}, ticket, now);
            ++learned;
        } else if (op < 90 && up) {
            // Sums lost (evicted, or keys of the version before them): rebuilt on the next use.
            raw.cmd({"DEL", window_key(o, key) + ":sum"});
            dropped.insert(window_key(o, key));
            ++rebuilt;
        } else if (op < 93) {
            // Redis goes away or comes back; the next operation after it returns imports what was
            // admitted locally meanwhile.
            if (up) {
                server.stop();
            } else {
                server.start();
                wait_loaded(raw);
            }
            up = !up;
            outages += up ? 0 : 1;
        }
        if (up && op < 86) {
            for (const auto& k : keys) {
                const std::string wk = window_key(o, k);
                // Dropped sums come back when a script next reads that window, not before.
                if (dropped.count(wk) && exists(raw, wk + ":w") && !exists(raw, wk + ":sum")) continue;
                dropped.erase(wk);
                check_sums(raw, wk);
            }
        }
    }
    if (!up) {
        server.start();
        wait_loaded(raw);
    }
    for (const auto& k : keys) {
        st->admit(admit_request(k, l, now, Demand{1, 1, 0}));
        check_sums(raw, window_key(o, k));
    }
    INFO("admitted " << admitted << ", later " << later << ", settled " << settled << ", released " << released
                     << ", learned " << learned << ", sums dropped " << rebuilt << ", outages " << outages);
    // The sequence did exercise every path.
    CHECK(admitted > 100);
    CHECK(later > 10);
    CHECK(settled > 50);
    CHECK(released > 20);
    CHECK(learned > 5);
    CHECK(rebuilt > 5);
    CHECK(outages >= 5);
}

TEST_CASE("redis sums: admission trusts them, and rebuilds them once when they are missing", "[state][redis][sums]") {
    if (!redis_supported() || !test_redis().available()) {
        WARN(nbcore_test::RedisServer::missing_message());
        return;
    }
    RawRedis raw(test_redis().port());
    const RedisOptions o = options("nbcore-sums-heal");
    auto st = open_redis_backend(test_redis().url(), o);
    const auto key = test_key();
    const std::string k = window_key(o, key);
    const SystemTime t0 = base_now();
    const Limits l = rpm_only(10);
    for (int i = 0; i < 3; ++i) REQUIRE(st->admit(admit_request(key, l, t0 + std::chrono::seconds(i))).ticket > 0);
    check_sums(raw, k);

    // Keys as the version before the sums left them: no K:sum, and an entry whose amounts went
    // (that version's settle dropped them for an entry it thought out of the window).
    raw.cmd({"DEL", k + ":sum"});
    const auto at_ms = std::chrono::duration_cast<std::chrono::milliseconds>((t0 + 3s).time_since_epoch()).count();
    raw.cmd({"ZADD", k + ":w", std::to_string(at_ms), "9999"});
    auto a = st->admit(admit_request(key, l, t0 + 4s, Demand{1, 50, 1}));
    CHECK(a.used_after[0] == 5);   // three, the one without amounts, this one
    check_sums(raw, k);

    // Admission reads the sums, not the entries: sums that say the window is full refuse.
    raw.cmd({"HSET", k + ":sum", "r", "10"});
    CHECK(st->admit(admit_request(key, l, t0 + 5s)).fit.verdict == Verdict::Later);
    // Gone (evicted): rebuilt from the entries, five of ten.
    raw.cmd({"DEL", k + ":sum"});
    auto b = st->admit(admit_request(key, l, t0 + 6s));
    CHECK(b.fit.verdict == Verdict::Now);
    CHECK(b.used_after[0] == 6);
    check_sums(raw, k);
}

TEST_CASE("redis sums: a later answer walks the window only as far as it must, as the memory backend does",
          "[state][redis][sums]") {
    if (!redis_supported() || !test_redis().available()) {
        WARN(nbcore_test::RedisServer::missing_message());
        return;
    }
    // 700 entries of 10 tokens, one per millisecond from t0; the probe wants 1 request and 100
    // tokens at t0 + 700 ms. Each row sets limits so that exactly the `leave`-th oldest entry must
    // leave (at t0 + (leave - 1) ms + 60 s); the walk reads chunks of 64, 128, 256, ... entries.
    struct Row {
        const char* what;
        std::int64_t rpm, tpm;   // -1: none
        int leave;
    };
    const std::vector<Row> rows{
        {"the oldest entry is enough", -1, 7'090, 1},
        {"the last entry of the first chunk", -1, 6'460, 64},
        {"the first entry of the second chunk", -1, 6'450, 65},
        {"the first entry of the third chunk", -1, 5'170, 193},
        {"every entry must leave", -1, 100, 700},
        {"RPM binds later than TPM", 401, 6'450, 300},
        {"TPM binds later than RPM", 691, 2'100, 500},
    };
    auto fill = [](StateBackend& st, const QuotaKey& key, SystemTime t0) {
        for (int i = 0; i < 700; ++i)
            REQUIRE(st.admit(admit_request(key, Limits{}, t0 + std::chrono::milliseconds(i), Demand{1, 10, 0})).ticket != 0);
    };
    const auto key = test_key();
    const SystemTime t0 = base_now();
    auto memory = make_memory_backend();
    auto redis = open_redis_backend(test_redis().url(), options("nbcore-sums-later"));
    fill(*memory, key, t0);
    fill(*redis, key, t0);
    const SystemTime now = t0 + 700ms;
    for (const auto& row : rows) {
        INFO(row.what);
        Limits l;
        if (row.rpm >= 0) l.rpm = row.rpm;
        l.tpm = row.tpm;
        const auto probe = admit_request(key, l, now, Demand{1, 100, 0}, false);
        const Fit r = redis->admit(probe).fit;
        CHECK(r.verdict == Verdict::Later);
        CHECK(r.at == t0 + std::chrono::milliseconds(row.leave - 1) + 60s);
        const Fit m = memory->admit(probe).fit;
        CHECK(r.at == m.at);
        CHECK(r.binding == m.binding);
        CHECK(r.used == m.used);
    }
}

#endif
