// Shared state on Redis: every operation is one Lua script (redis_scripts.hpp), so workers on many
// machines share one quota and one budget as the processes of one machine share the SQLite file.
//
// The rules stay in C++: the limits in force are computed here from the configured limits and
// the learned state (cached per key, with the version it was read at) and passed to the admission
// script, which only counts and compares. Learning from a 429 reads, computes here, and writes
// back with a compare-and-set on the version.
//
// When Redis cannot be reached, admissions and reservations go to a local memory backend whose
// limits and caps are a share of those in force (RedisOptions::fallback_share), so N workers cut
// off together stay within the whole. Everything done locally is remembered and counted into Redis
// once when it returns (each local admission and each locally settled spend carries an id that
// Redis records, so a reconciliation interrupted half-way never counts anything twice). Tickets
// and holds made locally are negative; those made in Redis positive.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <set>
#include <mutex>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "nbcore/policy.hpp"
#include "quota/ledger.hpp"

#if NBCORE_WITH_REDIS
#include <hiredis/hiredis.h>

#include "quota/redis_scripts.hpp"
#include "quota/redis_tls.hpp"
#endif

namespace nbcore::quota {

// ---- URLs (pure; built with or without hiredis) ------------------------------------------------

namespace {

constexpr std::string_view kPlain = "redis://";
constexpr std::string_view kTls = "rediss://";

[[noreturn]] void bad_url(std::string_view url, const std::string& what) {
    throw Error(Status::INVALID_ARG, "state URL " + redact_state_url(url) + ": " + what,
                "Write it as redis://[user:password@]host:port/db, for example redis://127.0.0.1:6379/0, or for "
                "TLS rediss://[user:password@]host:port/db[?cacert=/path/ca.pem][&cert=/path/client.pem&key=/path/client.key].");
}

// `where` names the part being decoded for the message ("the user or password", "cacert").
std::string percent_decode(std::string_view url, std::string_view s, std::string_view where) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out += s[i];
            continue;
        }
        if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
            !std::isxdigit(static_cast<unsigned char>(s[i + 2])))
            bad_url(url, "a '%' in " + std::string(where) + " is not followed by two hex digits");
        out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
        i += 2;
    }
    return out;
}

int parse_number(std::string_view url, std::string_view digits, int lo, int hi, const char* what) {
    if (digits.empty() || digits.size() > 6 || digits.find_first_not_of("0123456789") != std::string_view::npos)
        bad_url(url, std::string(what) + " is not a number");
    int v = std::stoi(std::string(digits));
    if (v < lo || v > hi) bad_url(url, std::string(what) + " is out of range");
    return v;
}

// The '@' ending the userinfo of `rest` (the URL after "scheme://"): the last one before the first
// '/', so that a '?' in a password stays in the password (and out of messages). npos: none.
std::size_t userinfo_at(std::string_view rest) { return rest.substr(0, rest.find('/')).rfind('@'); }

constexpr std::string_view kKnownOptions = "cacert, cert and key";

// The TLS files named in the query (`cacert=/ca.pem&cert=/c.pem&key=/k.pem`, percent-encoded),
// into `u`. Only rediss:// takes them; cert and key go together.
void parse_tls_options(std::string_view url, std::string_view query, RedisUrl& u) {
    std::set<std::string, std::less<>> seen;
    while (!query.empty()) {
        const std::size_t amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        const std::size_t eq = pair.find('=');
        const std::string name = percent_decode(url, pair.substr(0, eq), "an option name");
        std::string* field = name == "cacert" ? &u.cacert : name == "cert" ? &u.cert : name == "key" ? &u.key : nullptr;
        if (!field) bad_url(url, "unknown option '" + name + "'; the known options are " + std::string(kKnownOptions));
        if (!seen.insert(name).second) bad_url(url, "option '" + name + "' is given twice");
        if (eq == std::string_view::npos || eq + 1 == pair.size()) bad_url(url, "option '" + name + "' needs a file path");
        *field = percent_decode(url, pair.substr(eq + 1), name);
    }
    if (!u.tls && !seen.empty())
        bad_url(url, "the options " + std::string(kKnownOptions) + " are for TLS: write the URL as rediss://");
    if (u.cert.empty() != u.key.empty()) bad_url(url, "cert and key must be given together (the client certificate and its key)");
}

}  // namespace

bool redis_error_is_transient(std::string_view reply) noexcept {
    const std::string_view code = reply.substr(0, reply.find(' '));
    for (std::string_view transient : {"LOADING", "BUSY", "MASTERDOWN", "READONLY", "TRYAGAIN", "CLUSTERDOWN"})
        if (code == transient) return true;
    return false;
}

bool is_redis_url(std::string_view location) noexcept {
    return location.starts_with(kPlain) || location.starts_with(kTls);
}

std::string redact_state_url(std::string_view location) {
    if (!is_redis_url(location)) return std::string(location);
    const std::size_t scheme = location.find("://") + 3;
    const std::size_t at = userinfo_at(location.substr(scheme));
    if (at == std::string_view::npos) return std::string(location);
    return std::string(location.substr(0, scheme)) + "***@" + std::string(location.substr(scheme + at + 1));
}

RedisUrl parse_redis_url(std::string_view url) {
    if (!is_redis_url(url)) bad_url(url, "it must start with redis:// or rediss://");
    RedisUrl u;
    u.tls = url.starts_with(kTls);
    std::string_view rest = url.substr(u.tls ? kTls.size() : kPlain.size());
    if (const std::size_t at = userinfo_at(rest); at != std::string_view::npos) {
        std::string_view userinfo = rest.substr(0, at);
        rest = rest.substr(at + 1);
        const std::size_t colon = userinfo.find(':');
        u.user = percent_decode(url, userinfo.substr(0, colon), "the user or password");
        if (colon != std::string_view::npos)
            u.password = percent_decode(url, userinfo.substr(colon + 1), "the user or password");
    }
    std::string_view query;
    if (const std::size_t q = rest.find('?'); q != std::string_view::npos) {
        query = rest.substr(q + 1);
        rest = rest.substr(0, q);
    }
    const std::size_t slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    parse_tls_options(url, query, u);
    std::string_view host = authority, port;
    if (authority.starts_with('[')) {   // [IPv6]:port
        const std::size_t close = authority.find(']');
        if (close == std::string_view::npos) bad_url(url, "an IPv6 host lacks its ']'");
        host = authority.substr(1, close - 1);
        std::string_view after = authority.substr(close + 1);
        if (after.starts_with(':')) port = after.substr(1);
        else if (!after.empty()) bad_url(url, "unexpected text after the IPv6 host");
    } else if (const std::size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
    }
    if (!host.empty()) u.host = std::string(host);
    if (!port.empty()) u.port = parse_number(url, port, 1, 65535, "the port");
    if (!path.empty()) u.db = parse_number(url, path, 0, 100000, "the database number");
    return u;
}

std::string default_state_location() {
    if (const char* s = std::getenv("NBCORE_STATE"); s && *s) return s;
    return default_state_path();
}

namespace {

// "1/4" or "0.25", in (0, 1].
double parse_share(const std::string& s) {
    char* end = nullptr;
    double share = std::strtod(s.c_str(), &end);
    if (end && *end == '/') {
        const double den = std::strtod(end + 1, &end);
        share = den > 0 ? share / den : -1;
    }
    if (!end || *end != '\0' || !(share > 0 && share <= 1))
        throw Error(Status::INVALID_ARG, "NBCORE_STATE_FALLBACK_SHARE is \"" + s + "\"",
                    "Give the share of each limit a worker may use while Redis is unreachable, in (0, 1]: "
                    "1/N for N workers, e.g. 0.25 or 1/4.");
    return share;
}

}  // namespace

double choose_fallback_share(double option, const char* env, double otherwise) {
    if (!(option >= 0 && option <= 1)) {
        char shown[32];
        std::snprintf(shown, sizeof shown, "%g", option);
        throw Error(Status::INVALID_ARG,
                    std::string("the Redis fallback share is ") + shown + "; it must be in (0, 1], or 0 for the default",
                    "Give the share of each limit a worker may use while Redis is unreachable, e.g. 0.25 for four "
                    "workers, or 0 for NBCORE_STATE_FALLBACK_SHARE (else 0.25).");
    }
    if (option > 0) return option;   // an explicit option beats the environment
    if (env && *env) return parse_share(env);
    return otherwise;
}

double fallback_share_from_env(double otherwise) {
    return choose_fallback_share(0, std::getenv("NBCORE_STATE_FALLBACK_SHARE"), otherwise);
}

std::shared_ptr<StateBackend> open_state(const std::string& location, const StoreOptions& store,
                                         const RedisOptions& redis, double fallback_share) {
    if (is_redis_url(location)) {
        RedisOptions o = redis;
        o.fallback_share =
            choose_fallback_share(fallback_share, std::getenv("NBCORE_STATE_FALLBACK_SHARE"), o.fallback_share);
        return open_redis_backend(location, o);
    }
    return open_state_store(location, store);
}

#if !NBCORE_WITH_REDIS

bool redis_supported() noexcept { return false; }

std::shared_ptr<StateBackend> open_redis_backend(const std::string& url, const RedisOptions&) {
    throw Error(Status::INVALID_ARG, "state URL " + redact_state_url(url) + ": this nbcore was built without Redis support",
                "Install libhiredis-dev and rebuild nbcore (cmake -DNBCORE_WITH_REDIS=ON), or use a state file path.");
}

#else

bool redis_supported() noexcept { return true; }

namespace {

using namespace std::chrono;
using detail::epoch_ms;
using detail::from_epoch_ms;
using detail::to_ms;
using json = nlohmann::json;

constexpr Period kPeriods[] = {Period::Day, Period::Month, Period::Total};

// ---- pure helpers ------------------------------------------------------------------------------

// The limit of each dimension in force for this demand, as the admission script takes it
// (-1 = none known).
std::array<std::int64_t, 4> limits_in_force(const Limits& configured, const KeyState& state, const Demand& demand) {
    std::array<std::int64_t, 4> out{};
    for (std::size_t i = 0; i < kDimensions.size(); ++i) {
        const auto d = kDimensions[i];
        auto eff = effective_limit(configured.get(d), state.at(d), demand.of(d));
        out[i] = eff.limit ? *eff.limit : -1;
    }
    return out;
}

// What an admission the script never needs to see decides: a zero quota, or a demand above a
// hard limit. nullopt: ask Redis.
std::optional<Fit> decided_locally(const Limits& configured, const KeyState& state, const Demand& demand,
                                   SystemTime now) {
    // earliest_fit with no use recorded answers exactly these cases with Never.
    FitInput in{{}, 0, configured, state, demand, now};
    Fit f = earliest_fit(in);
    if (f.verdict == Verdict::Never) return f;
    return std::nullopt;
}

// The local share of a limit while Redis is away: at least one request's worth, so work goes on.
std::optional<std::int64_t> share_of(std::optional<std::int64_t> limit, std::int64_t demand, double share) {
    if (!limit) return std::nullopt;
    if (*limit == 0) return 0;
    auto part = static_cast<std::int64_t>(std::floor(static_cast<double>(*limit) * share));
    return std::max<std::int64_t>({part, demand, 1});
}

Limits shared_limits(const Limits& configured, const KeyState& state, const Demand& demand, double share) {
    Limits out;
    for (auto d : kDimensions)
        out.set(d, share_of(effective_limit(configured.get(d), state.at(d), demand.of(d)).limit, demand.of(d), share));
    return out;
}

BudgetCaps shared_caps(const BudgetCaps& caps, double share) {
    BudgetCaps out;
    if (caps.daily_usd) out.daily_usd = *caps.daily_usd * share;
    if (caps.monthly_usd) out.monthly_usd = *caps.monthly_usd * share;
    if (caps.total_usd) out.total_usd = *caps.total_usd * share;
    return out;
}

std::string limits_json(const Limits& l) {
    auto v = [](const std::optional<std::int64_t>& x) { return x ? json(*x) : json(nullptr); };
    return json{{"rpm", v(l.rpm)}, {"tpm", v(l.tpm)}, {"ipm", v(l.ipm)}, {"rpd", v(l.rpd)}}.dump();
}

Limits limits_from_json(const std::string& text) {
    Limits l;
    if (text.empty()) return l;
    auto j = json::parse(text, nullptr, false);
    if (!j.is_object()) return l;
    auto get = [&](const char* k) -> std::optional<std::int64_t> {
        auto it = j.find(k);
        return it == j.end() || !it->is_number_integer() ? std::nullopt : std::optional(it->get<std::int64_t>());
    };
    l.rpm = get("rpm");
    l.tpm = get("tpm");
    l.ipm = get("ipm");
    l.rpd = get("rpd");
    return l;
}

KeyState state_from_record(const std::string& text) {
    if (text.empty()) return {};
    return detail::record_from_text(text).state;
}

std::string record_of(const KeyState& s) {
    detail::KeyRecord r;
    r.state = s;
    return detail::record_to_text(r);
}

std::string share_text(double share) {
    std::ostringstream o;
    if (share > 0 && std::abs(1.0 / share - std::round(1.0 / share)) < 1e-9) o << "1/" << std::lround(1.0 / share);
    else o << share;
    return o.str();
}

// ---- the connection ------------------------------------------------------------------------

struct ReplyFree {
    void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyFree>;

// The connection failed: an outage, handled by falling back.
using Unreachable = detail::RedisUnreachable;

std::int64_t int_at(const redisReply* r, std::size_t i) {
    if (!r || r->type != REDIS_REPLY_ARRAY || i >= r->elements) return 0;
    const redisReply* e = r->element[i];
    if (e->type == REDIS_REPLY_INTEGER) return e->integer;
    if (e->type == REDIS_REPLY_STRING) return std::strtoll(e->str, nullptr, 10);
    return 0;
}

std::string str_at(const redisReply* r, std::size_t i) {
    if (!r || r->type != REDIS_REPLY_ARRAY || i >= r->elements) return {};
    const redisReply* e = r->element[i];
    if (e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS) return std::string(e->str, e->len);
    if (e->type == REDIS_REPLY_INTEGER) return std::to_string(e->integer);
    return {};
}

// Writing to a socket the server closed raises SIGPIPE, which kills a process by default; a
// library must not change the process's signal handling, so the calling thread blocks SIGPIPE for
// the duration of a command and drops one that arrived meanwhile.
class SigpipeGuard {
public:
    SigpipeGuard() {
        sigset_t pipe;
        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        sigset_t pending;
        sigpending(&pending);
        was_pending_ = sigismember(&pending, SIGPIPE) == 1;
        pthread_sigmask(SIG_BLOCK, &pipe, &old_);
    }
    ~SigpipeGuard() {
        sigset_t pipe;
        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        if (!was_pending_) {
            timespec zero{};
            while (sigtimedwait(&pipe, nullptr, &zero) > 0) {
            }
        }
        pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    }
    SigpipeGuard(const SigpipeGuard&) = delete;
    SigpipeGuard& operator=(const SigpipeGuard&) = delete;

private:
    sigset_t old_{};
    bool was_pending_ = false;
};

// Two transports behind one interface: hiredis's own redisContext for redis://, and for rediss://
// our TLS socket with hiredis's encoder and reader (redis_tls.hpp).
class Connection {
public:
    Connection(RedisUrl url, const RedisOptions& o, std::string shown)
        : url_(std::move(url)), o_(o), shown_(std::move(shown)) {}
    ~Connection() { drop(); }

    bool open() const { return (ctx_ != nullptr || tls_ != nullptr) && pid_ == ::getpid(); }

    // Throws Unreachable, or Error when the server is reachable but refuses us (TLS, AUTH, SELECT).
    void connect() {
        drop();
        if (url_.tls) {
            SigpipeGuard no_sigpipe;   // the handshake writes too
            tls_ = std::make_unique<detail::TlsTransport>(url_, o_.connect_timeout, o_.command_timeout, shown_);
        } else {
            connect_plain();
        }
        pid_ = ::getpid();
        if (!url_.password.empty()) {
            Reply r = url_.user.empty() ? command({"AUTH", url_.password}) : command({"AUTH", url_.user, url_.password});
            if (r->type == REDIS_REPLY_ERROR) {
                drop();
                // The server's text is about the credentials, never contains them.
                throw Error(Status::INVALID_ARG, "state " + shown_ + ": authentication failed: " + std::string(r->str, r->len),
                            "Check the user and password in the state URL (redis://user:password@host:port/db).");
            }
        }
        if (url_.db != 0) {
            Reply r = command({"SELECT", std::to_string(url_.db)});
            if (r->type == REDIS_REPLY_ERROR) {
                drop();
                throw Error(Status::INVALID_ARG, "state " + shown_ + ": SELECT " + std::to_string(url_.db) + " failed: " + std::string(r->str, r->len),
                            "Use a database number the server has (0 to 15 by default) in the state URL.");
            }
        }
        shas_.clear();
    }

    void drop() {
        // A context inherited over fork() is the parent's socket: freeing it only closes our copy
        // (the TLS transport, too, closes without writing to the session).
        if (ctx_) redisFree(ctx_);
        ctx_ = nullptr;
        tls_.reset();
        answered_ = false;
    }

    // One command; throws Unreachable on any I/O failure, Error when the server refuses us at the
    // TLS level (either way the connection is dropped).
    Reply command(const std::vector<std::string>& args) {
        std::vector<const char*> argv;
        std::vector<size_t> lens;
        for (const auto& a : args) {
            argv.push_back(a.data());
            lens.push_back(a.size());
        }
        SigpipeGuard no_sigpipe;
        if (tls_) {
            Reply r;
            try {
                r = Reply(tls_->command(static_cast<int>(argv.size()), argv.data(), lens.data()));
            } catch (...) {
                drop();
                throw;
            }
            return busy_is_unreachable(std::move(r));
        }
        auto* r = static_cast<redisReply*>(redisCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data()));
        if (!r) {
            std::string why = ctx_->errstr[0] ? ctx_->errstr : "connection lost";
            const bool first = !answered_;
            drop();
            // A TLS port closes (or sends an alert) at our first plaintext command: ask it, so
            // that the mistake is reported instead of being ridden out as an outage.
            if (first && detail::speaks_tls(url_, o_.connect_timeout))
                throw Error(Status::NETWORK, "state " + shown_ + ": the server at " + url_.host + ":" + std::to_string(url_.port) +
                                                 " speaks TLS on this port, not plain Redis protocol (" + why + ")",
                            "This is a TLS port: write the state URL as rediss://host:port/db (with ?cacert=/path/ca.pem "
                            "unless the system trusts the server's CA), or use the server's plain port with redis://.");
            throw Unreachable{why};
        }
        answered_ = true;
        return busy_is_unreachable(Reply(r));
    }

    // A server that is up but cannot serve for now (loading its data, a failover) is an outage
    // to ride out on local buckets, not an error to give the caller.
    Reply busy_is_unreachable(Reply r) {
        if (r && r->type == REDIS_REPLY_ERROR && redis_error_is_transient(std::string_view(r->str, r->len))) {
            std::string why = "the server answered " + std::string(r->str, r->len);
            drop();
            throw Unreachable{why};
        }
        return r;
    }

    // EVALSHA of `script` (loaded once per connection); EVAL when the server does not know it
    // (NOSCRIPT: restarted, or SCRIPT FLUSH). Throws Error INTERNAL for an error reply.
    Reply eval(const std::string& script, const std::vector<std::string>& keys, const std::vector<std::string>& args) {
        auto call = [&](const char* verb, const std::string& body) {
            std::vector<std::string> argv{verb, body, std::to_string(keys.size())};
            argv.insert(argv.end(), keys.begin(), keys.end());
            argv.insert(argv.end(), args.begin(), args.end());
            return command(argv);
        };
        auto& sha = shas_[&script];
        if (sha.empty()) {
            Reply loaded = command({"SCRIPT", "LOAD", script});
            if (loaded->type == REDIS_REPLY_STRING) sha.assign(loaded->str, loaded->len);
        }
        Reply r = sha.empty() ? call("EVAL", script) : call("EVALSHA", sha);
        if (r->type == REDIS_REPLY_ERROR && std::strncmp(r->str, "NOSCRIPT", 8) == 0) {
            sha.clear();
            r = call("EVAL", script);
        }
        if (r->type == REDIS_REPLY_ERROR)
            throw Error(Status::INTERNAL, "state " + shown_ + ": Redis answered an error: " + std::string(r->str, r->len),
                        "Use Redis 5 or later (Lua scripting), and keep other programs off nbcore's keys.");
        return r;
    }

private:
    void connect_plain() {
        timeval tv = to_timeval(o_.connect_timeout);
        redisContext* c = redisConnectWithTimeout(url_.host.c_str(), url_.port, tv);
        if (!c) throw Unreachable{"out of memory"};
        if (c->err) {
            std::string why = c->errstr;
            redisFree(c);
            throw Unreachable{why};
        }
        timeval cmd = to_timeval(o_.command_timeout);
        redisSetTimeout(c, cmd);
        ctx_ = c;
    }

    static timeval to_timeval(Millis m) {
        timeval tv{};
        tv.tv_sec = static_cast<time_t>(m.count() / 1000);
        tv.tv_usec = static_cast<suseconds_t>((m.count() % 1000) * 1000);
        return tv;
    }

    RedisUrl url_;
    RedisOptions o_;
    std::string shown_;
    redisContext* ctx_ = nullptr;                  // redis://
    std::unique_ptr<detail::TlsTransport> tls_;   // rediss://
    bool answered_ = false;                       // this connection has had a reply
    pid_t pid_ = 0;
    std::map<const std::string*, std::string> shas_;
};

// ---- the backend ---------------------------------------------------------------------------

// The scripts with their shared functions in front.
struct Scripts {
    std::string admit, settle, release, read, put_record, import, reserve, settle_cost, release_cost, book_spent,
        snapshot;
    Scripts() {
        const std::string q = detail::lua::kEntryParse;
        const std::string c = detail::lua::kCostCommon;
        admit = q + detail::lua::kAdmit;
        settle = q + detail::lua::kSettle;
        release = q + detail::lua::kRelease;
        read = q + detail::lua::kRead;
        put_record = q + detail::lua::kPutRecord;
        import = q + detail::lua::kImport;
        reserve = c + detail::lua::kReserve;
        settle_cost = c + detail::lua::kSettleCost;
        release_cost = c + detail::lua::kReleaseCost;
        book_spent = c + detail::lua::kBookSpent;
        snapshot = q + c + detail::lua::kSnapshot;
    }
};

const Scripts& scripts() {
    static const Scripts s;
    return s;
}

std::string caps_arg(const BudgetCaps& caps, Period p) {
    auto c = caps.get(p);
    return std::to_string(c ? *c : -1);
}

class RedisBackend final : public StateBackend {
public:
    RedisBackend(std::string url, RedisUrl parsed, RedisOptions o)
        : shown_(redact_state_url(url)), o_(std::move(o)), conn_(std::move(parsed), o_, shown_),
          local_(make_memory_backend()), local_quota_(make_memory_backend()) {
        std::random_device rd;
        run_id_ = std::to_string(rd()) + "-" + std::to_string(rd()) + "-" + std::to_string(::getpid());
    }

    // ---- quota ----

    AdmitResult admit(const AdmitRequest& request) override {
        std::lock_guard lock(mu_);
        const SystemTime now = to_ms(request.now);
        AdmitResult out;
        if (reachable(now)) {
            try {
                out = admit_remote(request, now);
            } catch (const Unreachable& u) {
                went_down(u.why);
                out = admit_local(request, now);
            }
        } else {
            out = admit_local(request, now);
        }
        out.notices = std::move(notices_);
        notices_.clear();
        return out;
    }

    void settle(const QuotaKey& key, std::int64_t ticket, const QuotaActual& actual, const Limits& configured,
                const LearnConfig& learn, SystemTime now_in) override {
        std::lock_guard lock(mu_);
        const SystemTime now = to_ms(now_in);
        reachable(now);   // Redis back: what was admitted locally is counted in first
        if (ticket < 0) {
            auto it = local_admissions_.find(ticket);
            if (it != local_admissions_.end() && it->second.redis_ticket == 0) {
                local_quota_->settle(key, -ticket, actual, shared(configured, key), learn, now);
                it->second.settled = true;
                it->second.tokens = actual.input_tokens;
                it->second.images = actual.images;
                return;
            }
            if (it == local_admissions_.end()) return;
            ticket = it->second.redis_ticket;
            local_admissions_.erase(it);
        }
        Deferred op{Deferred::Settle, key, ticket, actual, configured, learn};
        run_or_defer(op, now);
    }

    void release(const QuotaKey& key, std::int64_t ticket) override {
        std::lock_guard lock(mu_);
        const SystemTime now = to_ms(system_clock::now());
        reachable(now);
        if (ticket < 0) {
            auto it = local_admissions_.find(ticket);
            if (it == local_admissions_.end()) return;
            if (it->second.redis_ticket == 0) {
                local_quota_->release(key, -ticket);
                local_admissions_.erase(it);
                return;
            }
            ticket = it->second.redis_ticket;
            local_admissions_.erase(it);
        }
        if (ticket == 0) return;
        Deferred op{Deferred::Release, key, ticket, {}, {}, {}};
        run_or_defer(op, now);
    }

    LearnResult on_429(const QuotaKey& key, const QuotaSignal& signal, const Limits& configured,
                       const LearnConfig& learn, std::int64_t release_ticket, SystemTime now_in) override {
        std::lock_guard lock(mu_);
        const SystemTime now = to_ms(now_in);
        std::int64_t remote_ticket = release_ticket;
        const bool up = reachable(now);
        if (release_ticket < 0) {
            auto it = local_admissions_.find(release_ticket);
            remote_ticket = 0;
            if (it != local_admissions_.end()) {
                if (it->second.redis_ticket == 0) {
                    local_quota_->release(key, -release_ticket);
                } else {
                    remote_ticket = it->second.redis_ticket;
                }
                local_admissions_.erase(it);
            }
        }
        if (up) {
            try {
                return on_429_remote(key, signal, configured, learn, remote_ticket, now);
            } catch (const Unreachable& u) {
                went_down(u.why);
            }
        }
        // Learn locally; the release waits for Redis.
        if (remote_ticket > 0) deferred_.push_back({Deferred::Release, key, remote_ticket, {}, {}, {}});
        auto cached = cache_[key].state;
        UsedByDimension used{};
        LearnResult r{cached, learn_from_429(cached, signal, configured, used, now, learn), used};
        cache_[key].state = r.after;
        return r;
    }

    KeyState learned(const QuotaKey& key) override {
        std::lock_guard lock(mu_);
        const SystemTime now = to_ms(system_clock::now());
        if (reachable(now)) {
            try {
                refresh(key, now);
            } catch (const Unreachable& u) {
                went_down(u.why);
            }
        }
        return cache_[key].state;
    }

    void forget(const QuotaKey& key) override {
        std::lock_guard lock(mu_);
        const SystemTime now = to_ms(system_clock::now());
        cache_[key].state = KeyState{};
        local_quota_->forget(key);
        if (!reachable(now)) return;
        try {
            put_state(key, [](const KeyState&) { return KeyState{}; }, 0);
        } catch (const Unreachable& u) {
            went_down(u.why);
        }
    }

    // ---- cost ----

    ReserveResult reserve(const ReserveRequest& request) override {
        std::lock_guard lock(mu_);
        const SystemTime now = to_ms(request.now);
        if (reachable(now)) {
            try {
                return reserve_remote(request, now);
            } catch (const Unreachable& u) {
                went_down(u.why);
            }
        }
        ReserveRequest local = request;
        local.caps = shared_caps(request.caps, o_.fallback_share);
        ReserveResult r = local_->reserve(local);
        if (r.ok) r.hold = -r.hold;
        return r;
    }

    SettleCostResult settle_cost(std::int64_t hold, MicroUsd actual, const BudgetCaps& caps, SystemTime now_in) override {
        std::lock_guard lock(mu_);
        const SystemTime now = to_ms(now_in);
        if (hold < 0) {
            // Settled where it was held; the spend is counted into Redis now or when it returns.
            SettleCostResult r = local_->settle_cost(-hold, actual, shared_caps(caps, o_.fallback_share), now);
            if (r.found && r.booked > 0)
                local_spend_.push_back({next_id(), r.booked, pacific_day_start(now), pacific_month_start(now)});
            if (reachable(now)) {
                try {
                    book_local_spend();
                } catch (const Unreachable& u) {
                    went_down(u.why);
                }
            }
            return r;
        }
        if (reachable(now)) {
            try {
                return settle_cost_remote(hold, actual, caps, now);
            } catch (const Unreachable& u) {
                went_down(u.why);
            }
        }
        deferred_costs_.push_back({hold, actual, caps, false});
        SettleCostResult r;
        r.found = true;
        r.booked = std::max<MicroUsd>(0, actual);
        return r;
    }

    void release_cost(std::int64_t hold, SystemTime now_in) override {
        std::lock_guard lock(mu_);
        const SystemTime now = to_ms(now_in);
        if (hold < 0) {
            local_->release_cost(-hold, now);
            return;
        }
        if (reachable(now)) {
            try {
                conn_.eval(scripts().release_cost, {cost_prefix()}, {std::to_string(epoch_ms(now)), std::to_string(hold)});
                return;
            } catch (const Unreachable& u) {
                went_down(u.why);
            }
        }
        deferred_costs_.push_back({hold, 0, {}, true});
    }

    UsageSnapshot snapshot(SystemTime now_in) override {
        std::lock_guard lock(mu_);
        const SystemTime now = to_ms(now_in);
        if (reachable(now)) {
            try {
                return snapshot_remote(now);
            } catch (const Unreachable& u) {
                went_down(u.why);
            }
        }
        UsageSnapshot s = local_quota_->snapshot(now);
        s.location = shown_ + " (unreachable: local share " + share_text(o_.fallback_share) + ")";
        return s;
    }

private:
    struct Cached {
        KeyState state;
        std::string version = "0";
    };
    struct LocalAdmission {
        std::string id;                 // counted into Redis under P:imp:<id>
        QuotaKey key;
        SystemTime at{};
        Demand demand;
        bool settled = false;
        std::int64_t tokens = 0, images = 0;
        std::int64_t redis_ticket = 0;  // once counted into Redis
    };
    struct LocalSpend {
        std::string id;
        MicroUsd amount = 0;
        SystemTime day{}, month{};
    };
    // Work on Redis tickets and holds that could not reach it; replayed when it returns (each is
    // idempotent there: a settled entry is not settled twice, a missing one is not released).
    struct Deferred {
        enum Kind { Settle, Release } kind = Settle;
        QuotaKey key;
        std::int64_t ticket = 0;
        QuotaActual actual;
        Limits configured;
        LearnConfig learn;
    };
    struct DeferredCost {
        std::int64_t hold = 0;
        MicroUsd actual = 0;
        BudgetCaps caps;
        bool release = false;
    };

    std::string key_prefix(const QuotaKey& k) const { return o_.prefix + ":q:" + k.credential + ":" + k.model; }
    std::string member(const QuotaKey& k) const { return k.credential + "\t" + k.model; }
    std::string keys_set() const { return o_.prefix + ":keys"; }
    std::string cost_prefix() const { return o_.prefix + ":cost"; }
    std::string next_id() { return run_id_ + "-" + std::to_string(++local_counter_); }

    Limits shared(const Limits& configured, const QuotaKey& key) {
        return shared_limits(configured, cache_[key].state, Demand{}, o_.fallback_share);
    }

    // ---- health ----

    // Connected, or connected again now (and reconciled); false while it stays unreachable.
    bool reachable(SystemTime now) {
        if (conn_.open()) return true;
        const auto steady = steady_clock::now();
        if (down_ && steady < next_try_) return false;
        try {
            conn_.connect();
        } catch (const Unreachable& u) {
            went_down(u.why);
            return false;
        }
        if (down_) {
            try {
                const std::size_t counted = reconcile(now);
                notices_.push_back({true, "state: Redis at " + shown_ + " is reachable again; " + std::to_string(counted) +
                                           " admission(s) made locally were counted into it"});
            } catch (const Unreachable& u) {
                went_down(u.why);
                return false;
            }
        }
        down_ = false;
        return true;
    }

    void went_down(const std::string& why) {
        conn_.drop();
        next_try_ = steady_clock::now() + o_.reconnect_every;
        if (down_) return;
        down_ = true;
        notices_.push_back({false, "state: Redis at " + shown_ + " cannot be reached (" + why +
                                       "); admitting from local buckets holding " + share_text(o_.fallback_share) +
                                       " of each limit and cap until it returns"});
    }

    // Everything done locally meanwhile is counted into Redis once; deferred work is replayed.
    std::size_t reconcile(SystemTime now) {
        std::size_t counted = 0;
        for (auto& [ticket, a] : local_admissions_) {
            if (a.redis_ticket != 0) continue;
            const SystemTime day = pacific_day_start(a.at);
            Reply r = conn_.eval(scripts().import,
                                 {key_prefix(a.key), o_.prefix + ":imp:" + a.id, keys_set()},
                                 {std::to_string(epoch_ms(a.at)), std::to_string(a.demand.requests),
                                  std::to_string(a.settled ? a.tokens : a.demand.input_tokens),
                                  std::to_string(a.settled ? a.images : a.demand.images), a.settled ? "1" : "0",
                                  std::to_string(epoch_ms(day)), std::to_string(epoch_ms(pacific_day_start(now))),
                                  std::to_string(epoch_ms(policy::next_pacific_midnight(now))),
                                  std::to_string(epoch_ms(now)), std::to_string(kWindowMs), member(a.key)});
            a.redis_ticket = r->type == REDIS_REPLY_INTEGER && r->integer > 0 ? r->integer : -1;
            ++counted;
        }
        // Settled ones are done with; unsettled ones now settle or release in Redis. The local
        // buckets start afresh at the next outage (seeded again from this worker's own use).
        std::erase_if(local_admissions_, [](const auto& kv) { return kv.second.settled && kv.second.redis_ticket != 0; });
        local_quota_ = make_memory_backend();
        seeded_.clear();
        book_local_spend();
        auto deferred = std::move(deferred_);
        deferred_.clear();
        for (std::size_t i = 0; i < deferred.size(); ++i) {
            try {
                apply(deferred[i]);
            } catch (const Unreachable&) {
                deferred_.insert(deferred_.end(), deferred.begin() + static_cast<std::ptrdiff_t>(i), deferred.end());
                throw;
            }
        }
        auto costs = std::move(deferred_costs_);
        deferred_costs_.clear();
        for (std::size_t i = 0; i < costs.size(); ++i) {
            try {
                if (costs[i].release)
                    conn_.eval(scripts().release_cost, {cost_prefix()},
                               {std::to_string(epoch_ms(now)), std::to_string(costs[i].hold)});
                else
                    settle_cost_remote(costs[i].hold, costs[i].actual, costs[i].caps, now);
            } catch (const Unreachable&) {
                deferred_costs_.insert(deferred_costs_.end(), costs.begin() + static_cast<std::ptrdiff_t>(i), costs.end());
                throw;
            }
        }
        return counted;
    }

    void book_local_spend() {
        while (!local_spend_.empty()) {
            const auto& s = local_spend_.front();
            conn_.eval(scripts().book_spent, {cost_prefix(), o_.prefix + ":imp:" + s.id},
                       {std::to_string(s.amount), std::to_string(epoch_ms(s.day)), std::to_string(epoch_ms(s.month))});
            local_spend_.erase(local_spend_.begin());
        }
    }

    void run_or_defer(const Deferred& op, SystemTime now) {
        if (reachable(now)) {
            try {
                apply(op);
                return;
            } catch (const Unreachable& u) {
                went_down(u.why);
            }
        }
        deferred_.push_back(op);
    }

    void apply(const Deferred& op) {
        if (op.kind == Deferred::Release) {
            conn_.eval(scripts().release, {key_prefix(op.key)}, {std::to_string(op.ticket)});
            return;
        }
        Reply r = conn_.eval(scripts().settle, {key_prefix(op.key)},
                             {std::to_string(op.ticket), std::to_string(std::max<std::int64_t>(0, op.actual.input_tokens)),
                              std::to_string(std::max<std::int64_t>(0, op.actual.images))});
        if (int_at(r.get(), 0) != 1) return;
        // Additive increase applies only where a guessed (adaptive) limit exists.
        const Demand d{int_at(r.get(), 1), op.actual.input_tokens, op.actual.images};
        auto grow = [&](const KeyState& s) { return learn_from_success(s, d, op.configured, op.learn); };
        const auto& cached = cache_[op.key].state;
        if (grow(cached) == cached) return;
        put_state(op.key, grow, 0);
    }

    // ---- this worker's own recent admissions ----

    // What this worker admitted through Redis in the last window: its local bucket starts from
    // them when Redis goes away, so its share counts what it already sent.
    void remember_own(const QuotaKey& key, SystemTime now, const Demand& d) {
        auto& q = own_recent_[key];
        q.push_back({now, d});
        while (!q.empty() && q.front().first <= now - kWindow) q.pop_front();
    }

    void seed_local(const QuotaKey& key, SystemTime now) {
        if (!seeded_.insert(key).second) return;
        for (const auto& [at, d] : own_recent_[key]) {
            if (at <= now - kWindow) continue;
            AdmitRequest seed;
            seed.key = key;
            seed.demand = d;
            seed.now = at;   // no limits: always taken, at the time it was admitted
            local_quota_->admit(seed);
        }
    }

    // ---- remote operations ----

    static constexpr std::int64_t kWindowMs = duration_cast<milliseconds>(kWindow).count();

    void remember(const QuotaKey& key, const std::string& version, const std::string& record) {
        auto& c = cache_[key];
        c.version = version;
        c.state = state_from_record(record);
    }

    void refresh(const QuotaKey& key, SystemTime now) {
        Reply r = conn_.eval(scripts().read, {key_prefix(key)},
                             {std::to_string(epoch_ms(now)), std::to_string(kWindowMs),
                              std::to_string(epoch_ms(pacific_day_start(now)))});
        remember(key, str_at(r.get(), 0), str_at(r.get(), 1));
    }

    // Compare-and-set of the learned state: `change` is applied to the current state until no
    // other worker changed it in between. Releases `release_ticket` in the same step.
    template <class Change>
    std::pair<KeyState, KeyState> put_state(const QuotaKey& key, Change&& change, std::int64_t release_ticket) {
        for (int round = 0;; ++round) {
            auto& c = cache_[key];
            const KeyState before = c.state;
            const KeyState after = change(before);
            Reply r = conn_.eval(scripts().put_record, {key_prefix(key), keys_set()},
                                 {c.version, record_of(after), std::to_string(release_ticket), member(key)});
            if (int_at(r.get(), 0) == 1) {
                c.version = str_at(r.get(), 1);
                c.state = after;
                return {before, after};
            }
            remember(key, str_at(r.get(), 1), str_at(r.get(), 2));
            if (round > 50)
                throw Error(Status::INTERNAL, "state " + shown_ + ": the learned state kept changing under this worker",
                            "Retry; if it persists, check that no other program writes nbcore's keys.");
        }
    }

    AdmitResult admit_remote(const AdmitRequest& request, SystemTime now) {
        const auto& s = scripts();
        const SystemTime day = pacific_day_start(now);
        const SystemTime midnight = policy::next_pacific_midnight(now);
        for (int round = 0;; ++round) {
            Cached& c = cache_[request.key];
            if (auto f = decided_locally(request.configured, c.state, request.demand, now)) {
                AdmitResult out;
                out.fit = *f;
                for (auto d : kDimensions) {
                    out.used_after.push_back(0);
                    out.limits.push_back(effective_limit(request.configured.get(d), c.state.at(d), request.demand.of(d)).limit);
                }
                return out;
            }
            const auto limits = limits_in_force(request.configured, c.state, request.demand);
            std::vector<std::string> args{std::to_string(epoch_ms(now)), std::to_string(request.demand.requests),
                                          std::to_string(request.demand.input_tokens), std::to_string(request.demand.images)};
            for (auto l : limits) args.push_back(std::to_string(l));
            for (auto d : kDimensions) args.push_back(std::to_string(epoch_ms(c.state.at(d).drained_until)));
            args.push_back(c.version);
            args.push_back(request.take ? "1" : "0");
            args.push_back(std::to_string(epoch_ms(day)));
            args.push_back(std::to_string(epoch_ms(midnight)));
            args.push_back(std::to_string(kWindowMs));
            args.push_back(member(request.key));
            args.push_back(limits_json(request.configured));
            Reply r = conn_.eval(s.admit, {key_prefix(request.key), keys_set()}, args);
            if (int_at(r.get(), 0) == 0) {
                remember(request.key, str_at(r.get(), 1), str_at(r.get(), 2));
                if (round > 50)
                    throw Error(Status::INTERNAL, "state " + shown_ + ": the learned state kept changing under this worker",
                                "Retry; if it persists, check that no other program writes nbcore's keys.");
                continue;
            }
            AdmitResult out = admit_result(request, c.state, limits, r.get(), now);
            if (out.ticket != 0) remember_own(request.key, now, request.demand);
            return out;
        }
    }

    static AdmitResult admit_result(const AdmitRequest& request, const KeyState& state,
                                    const std::array<std::int64_t, 4>& limits, const redisReply* r, SystemTime now) {
        AdmitResult out;
        const bool later = int_at(r, 1) == 1;
        const int binding = static_cast<int>(int_at(r, 3));
        out.ticket = int_at(r, 5);
        out.fit.verdict = later ? Verdict::Later : Verdict::Now;
        out.fit.at = later ? from_epoch_ms(int_at(r, 2)) : now;
        if (later && binding >= 1 && binding <= 4) {
            const auto d = kDimensions[static_cast<std::size_t>(binding - 1)];
            const auto eff = effective_limit(request.configured.get(d), state.at(d), request.demand.of(d));
            out.fit.binding = d;
            out.fit.used = int_at(r, 5 + static_cast<std::size_t>(binding));
            out.fit.limit = eff.limit;
            out.fit.demand = request.demand.of(d);
            out.fit.source = eff.source;
            out.fit.drained = int_at(r, 4) == 1;
        }
        for (std::size_t i = 0; i < kDimensions.size(); ++i) {
            const auto d = kDimensions[i];
            std::int64_t used = int_at(r, 6 + i);
            if (out.ticket != 0) used += request.demand.of(d);
            out.used_after.push_back(used);
            out.limits.push_back(limits[i] >= 0 ? std::optional<std::int64_t>(limits[i]) : std::nullopt);
            if (int_at(r, 10 + i) == 1) out.warnings.push_back(d);
        }
        return out;
    }

    AdmitResult admit_local(const AdmitRequest& request, SystemTime now) {
        const KeyState& state = cache_[request.key].state;
        if (auto f = decided_locally(request.configured, state, request.demand, now)) {
            AdmitResult out;
            out.fit = *f;
            return out;
        }
        // The drains a 429 taught still hold while Redis is away.
        for (auto d : kDimensions) {
            if (state.at(d).drained_until > now) {
                AdmitResult out;
                out.fit.verdict = Verdict::Later;
                out.fit.at = state.at(d).drained_until;
                out.fit.binding = d;
                out.fit.drained = true;
                out.fit.limit = effective_limit(request.configured.get(d), state.at(d), request.demand.of(d)).limit;
                return out;
            }
        }
        AdmitRequest local = request;
        local.now = now;
        local.configured = shared_limits(request.configured, state, request.demand, o_.fallback_share);
        seed_local(request.key, now);
        AdmitResult out = local_quota_->admit(local);
        if (out.ticket != 0) {
            LocalAdmission a;
            a.id = next_id();
            a.key = request.key;
            a.at = now;
            a.demand = request.demand;
            out.ticket = -out.ticket;
            local_admissions_[out.ticket] = a;
        }
        return out;
    }

    LearnResult on_429_remote(const QuotaKey& key, const QuotaSignal& signal, const Limits& configured,
                              const LearnConfig& learn, std::int64_t release_ticket, SystemTime now) {
        Reply r = conn_.eval(scripts().read, {key_prefix(key)},
                             {std::to_string(epoch_ms(now)), std::to_string(kWindowMs),
                              std::to_string(epoch_ms(pacific_day_start(now)))});
        remember(key, str_at(r.get(), 0), str_at(r.get(), 1));
        UsedByDimension used{int_at(r.get(), 2), int_at(r.get(), 3), int_at(r.get(), 4), int_at(r.get(), 5)};
        auto [before, after] = put_state(
            key, [&](const KeyState& s) { return learn_from_429(s, signal, configured, used, now, learn); }, release_ticket);
        return LearnResult{before, after, used};
    }

    ReserveResult reserve_remote(const ReserveRequest& request, SystemTime now) {
        const auto amount = std::max<MicroUsd>(0, request.amount);
        const SystemTime expires = now + duration_cast<SystemTime::duration>(std::max(request.lease, Millis(1)));
        std::vector<std::string> args{std::to_string(epoch_ms(now)), std::to_string(amount),
                                      std::to_string(epoch_ms(expires)), std::to_string(epoch_ms(pacific_day_start(now))),
                                      std::to_string(epoch_ms(pacific_month_start(now))),
                                      request.model.empty() ? "-" : request.model};
        for (auto p : kPeriods) args.push_back(caps_arg(request.caps, p));
        Reply r = conn_.eval(scripts().reserve, {cost_prefix()}, args);
        ReserveResult out;
        if (int_at(r.get(), 0) == 0) {
            out.ok = false;
            out.refused_by = kPeriods[static_cast<std::size_t>(int_at(r.get(), 1))];
            out.committed = int_at(r.get(), 2);
            out.cap = int_at(r.get(), 3);
            return out;
        }
        out.ok = true;
        out.hold = int_at(r.get(), 1);
        out.alerts = alerts_from(r.get(), 2, now);
        return out;
    }

    SettleCostResult settle_cost_remote(std::int64_t hold, MicroUsd actual, const BudgetCaps& caps, SystemTime now) {
        actual = std::max<MicroUsd>(0, actual);
        std::vector<std::string> args{std::to_string(epoch_ms(now)), std::to_string(hold), std::to_string(actual)};
        for (auto p : kPeriods) args.push_back(caps_arg(caps, p));
        Reply r = conn_.eval(scripts().settle_cost, {cost_prefix()}, args);
        SettleCostResult out;
        if (int_at(r.get(), 0) != 1) return out;
        out.found = true;
        out.booked = actual;
        out.alerts = alerts_from(r.get(), 1, now);
        return out;
    }

    static std::vector<BudgetAlert> alerts_from(const redisReply* r, std::size_t first, SystemTime now) {
        std::vector<BudgetAlert> out;
        for (std::size_t i = first; i + 3 < r->elements; i += 4) {
            const Period p = kPeriods[static_cast<std::size_t>(int_at(r, i))];
            out.push_back({p, static_cast<int>(int_at(r, i + 1)), int_at(r, i + 2), int_at(r, i + 3), period_start(p, now)});
        }
        return out;
    }

    UsageSnapshot snapshot_remote(SystemTime now) {
        Reply r = conn_.eval(scripts().snapshot, {cost_prefix(), keys_set(), o_.prefix + ":q"},
                             {std::to_string(epoch_ms(now)), std::to_string(kWindowMs),
                              std::to_string(epoch_ms(pacific_day_start(now))),
                              std::to_string(epoch_ms(pacific_month_start(now)))});
        const json j = json::parse(std::string(r->str, r->len));
        UsageSnapshot s;
        s.taken_at = now;
        s.location = shown_;
        auto as_array = [](const json& v) { return v.is_array() ? v : json::array(); };   // cjson: {} for []
        for (const auto& k : as_array(j.value("keys", json::array()))) {
            const std::string m = k.value("member", "");
            const auto tab = m.find('\t');
            KeyUsage ku;
            ku.key = {m.substr(0, tab), tab == std::string::npos ? "" : m.substr(tab + 1)};
            const KeyState state = state_from_record(k.value("rec", ""));
            const Limits configured = limits_from_json(k.value("conf", ""));
            std::vector<WindowEntry> window;
            for (const auto& e : as_array(k.value("entries", json::array())))
                window.push_back({from_epoch_ms(e[0].get<std::int64_t>()), e[1].get<std::int64_t>(),
                                  e[2].get<std::int64_t>(), e[3].get<std::int64_t>()});
            std::sort(window.begin(), window.end(), [](const auto& a, const auto& b) { return a.at < b.at; });
            ku.unsettled = k.value("unsettled", std::int64_t{0});
            ku.zero_until = state.zero_until;
            for (auto d : kDimensions) {
                const auto& ds = state.at(d);
                DimensionUsage du;
                du.dimension = d;
                du.configured = configured.get(d);
                du.server_limit = ds.server_limit;
                du.adaptive = ds.adaptive;
                du.drained_until = ds.drained_until;
                const auto eff = effective_limit(du.configured, ds, 0);
                du.limit = eff.limit;
                du.source = eff.source;
                if (d == Dimension::RPD) {
                    du.used = k.value("today", std::int64_t{0});
                    du.frees_at = policy::next_pacific_midnight(now);
                } else {
                    du.used = window_used(window, d, now);
                    du.frees_at = now;
                    for (const auto& e : window)
                        if (e.of(d) > 0) {
                            du.frees_at = e.at + kWindow;
                            break;
                        }
                }
                ku.dimensions.push_back(du);
            }
            s.keys.push_back(std::move(ku));
        }
        std::sort(s.keys.begin(), s.keys.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
        const json caps = as_array(j.value("caps", json::array()));
        for (std::size_t i = 0; i < 3; ++i) {
            CapUsage c;
            c.period = kPeriods[i];
            c.start = period_start(c.period, now);
            c.resets_at = period_end(c.period, now);
            if (i < caps.size()) {
                c.spent = caps[i][0].get<std::int64_t>();
                c.held = caps[i][1].get<std::int64_t>() - c.spent;
                const auto cap = caps[i][2].get<std::int64_t>();
                if (cap >= 0) c.cap = cap;
            }
            s.caps.push_back(c);
        }
        s.open_holds = j.value("holds", std::int64_t{0});
        return s;
    }

    std::mutex mu_;
    const std::string shown_;   // the URL as reports show it (no password)
    const RedisOptions o_;
    Connection conn_;
    std::shared_ptr<StateBackend> local_;         // cost holds made while Redis was away
    std::shared_ptr<StateBackend> local_quota_;   // quota buckets while Redis is away
    std::map<QuotaKey, std::deque<std::pair<SystemTime, Demand>>> own_recent_;
    std::set<QuotaKey> seeded_;
    std::map<QuotaKey, Cached> cache_;
    std::map<std::int64_t, LocalAdmission> local_admissions_;   // by local (negative) ticket
    std::vector<LocalSpend> local_spend_;
    std::vector<Deferred> deferred_;
    std::vector<DeferredCost> deferred_costs_;
    std::vector<StateNotice> notices_;
    std::string run_id_;
    std::uint64_t local_counter_ = 0;
    bool down_ = false;
    steady_clock::time_point next_try_{};
};

}  // namespace

std::shared_ptr<StateBackend> open_redis_backend(const std::string& url, const RedisOptions& options) {
    RedisUrl parsed = parse_redis_url(url);
    // A typo in a file path is known now, not at the first request.
    if (parsed.tls) detail::check_tls_files(parsed, "URL " + redact_state_url(url));
    if (!(options.fallback_share > 0 && options.fallback_share <= 1))
        throw Error(Status::INVALID_ARG, "Redis fallback share must be in (0, 1]",
                    "Give the share of each limit a worker may use while Redis is unreachable, e.g. 0.25 "
                    "for four workers (NBCORE_STATE_FALLBACK_SHARE).");
    return std::make_shared<RedisBackend>(url, std::move(parsed), options);
}

#endif

}  // namespace nbcore::quota
