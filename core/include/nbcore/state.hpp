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

// A shared store changed health: it became unreachable (work goes on from local buckets), or it
// is back and what was done locally meanwhile was counted into it.
struct StateNotice {
    bool reachable = false;
    std::string message;   // never shows a password
};

struct AdmitResult {
    Fit fit;
    std::int64_t ticket = 0;               // the recorded entry when taken (fit.verdict == Now)
    std::vector<Dimension> warnings;       // 80% crossings this admission caused (once each)
    std::vector<std::int64_t> used_after;  // per kDimensions, after the admission
    std::vector<std::optional<std::int64_t>> limits;   // per kDimensions, in force
    // Changes of the backend's health since the last admission (a shared store became
    // unreachable, or came back and was reconciled), in words for a StateNotice event.
    std::vector<StateNotice> notices;
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

// ---- shared state on Redis -------------------------------------------------------------------

// A parsed `redis://[user:password@]host:port/db`, or with TLS
// `rediss://[user:password@]host:port/db[?cacert=PATH][&cert=PATH&key=PATH]`.
struct RedisUrl {
    bool tls = false;
    std::string user;
    std::string password;
    std::string host = "127.0.0.1";
    int port = 6379;
    int db = 0;
    // rediss:// only. The server's certificate is always verified (chain and host name): against
    // `cacert` (PEM file) when given, else the system's trust store. `cert` and `key` (PEM files,
    // both or neither) are the client certificate for servers that ask for one.
    std::string cacert;
    std::string cert;
    std::string key;
};

// True for a state location that names Redis (redis:// or rediss://), not a file.
bool is_redis_url(std::string_view location) noexcept;
// Pure. Throws Error INVALID_ARG (the message shows the URL redacted) for a malformed URL, an
// unknown query option (the known ones are cacert, cert and key), options on a redis:// URL, or
// cert without key. Query values are percent-decoded.
RedisUrl parse_redis_url(std::string_view url);
// The URL with its userinfo replaced by "***": what logs, errors, events and reports show. The
// query (file paths, not secrets) is kept.
std::string redact_state_url(std::string_view location);
// Pure. Whether a Redis error reply means the server cannot serve anyone for now, so waiting
// fixes it: loading its data after a restart (LOADING), another script running long (BUSY), a
// replica cut off or promoted mid-failover (MASTERDOWN, READONLY), a cluster re-sharding
// (TRYAGAIN, CLUSTERDOWN). The backend rides those out on local buckets, as it does an outage.
bool redis_error_is_transient(std::string_view reply) noexcept;

struct RedisOptions {
    // While Redis cannot be reached, admissions and reservations go to local buckets holding this
    // share of each limit and cap in force (at least one request), so that N workers cut off at
    // once stay within the whole when share <= 1/N. In (0, 1].
    double fallback_share = 0.25;
    Millis connect_timeout{500};
    Millis command_timeout{2'000};
    Millis reconnect_every{500};           // while down, how often an operation tries Redis again
    std::string prefix = "nbcore";         // every key starts with "<prefix>:"
};

// State in one Redis server (or a Sentinel-managed primary; not Redis Cluster): admission and
// reservation are one Lua script each (EVALSHA, EVAL on NOSCRIPT), one round trip per admission;
// keys per credential fingerprint and model; windows expire by TTL, per-day counters at Pacific
// midnight. Does not connect eagerly: an unreachable server at start is a fallback like any
// other. Throws Error INVALID_ARG for a malformed URL, a TLS file (cacert, cert, key) that cannot
// be read, a share outside (0, 1], or a build without Redis support. Over rediss://, a server whose
// certificate fails verification (or that refuses ours, or does not speak TLS) is an Error
// NETWORK with advice from the operation that connects, not an outage to fall back from.
std::shared_ptr<StateBackend> open_redis_backend(const std::string& url, const RedisOptions& options = {});
bool redis_supported() noexcept;          // this build links hiredis

// $NBCORE_STATE (a path or a redis:// URL), else default_state_path().
std::string default_state_location();

// NBCORE_STATE_FALLBACK_SHARE ("0.25" or "1/4") when set, else `otherwise`. Throws INVALID_ARG.
double fallback_share_from_env(double otherwise);

// The fallback share a worker uses. An explicit option (> 0) wins; 0 means "not given", and then
// `env` (the text of NBCORE_STATE_FALLBACK_SHARE, "0.25" or "1/4") fills in when non-empty, else
// `otherwise`. Pure. Throws INVALID_ARG for an option outside [0, 1] (NaN included) or bad `env`.
double choose_fallback_share(double option, const char* env, double otherwise);

// A state location as users give it: a redis:// or rediss:// URL, else a file path (SQLite).
// fallback_share is the Redis share while it is unreachable (choose_fallback_share: > 0 wins, 0 =
// NBCORE_STATE_FALLBACK_SHARE when set, else redis.fallback_share); ignored for a file.
std::shared_ptr<StateBackend> open_state(const std::string& location, const StoreOptions& store = {},
                                         const RedisOptions& redis = {}, double fallback_share = 0);

}  // namespace nbcore::quota
