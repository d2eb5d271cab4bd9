// The local persistent store: SQLite in WAL mode, one BEGIN IMMEDIATE transaction per operation.
//
// BEGIN IMMEDIATE takes the database's write lock before the operation reads anything, so two
// processes never interleave a read-check-write (the lock is what makes "at most L in any 60 s"
// hold across processes); WAL lets readers run beside that writer and survives a killed process:
// a transaction either committed (it is in the WAL) or never happened. The file is created 0600
// in a 0700 directory: it holds fingerprints and spend, never a secret, but it is nobody else's
// business.
#include <fcntl.h>
#include <pwd.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "quota/ledger.hpp"

namespace nbcore::quota {
namespace {

using detail::epoch_ms;
using detail::from_epoch_ms;
using detail::KeyRecord;
using detail::StoredEntry;
using detail::StoredHold;
using detail::record_from_text;
using detail::record_to_text;
using json = nlohmann::json;

// user_version of the schema below; a file with a larger one was written by a newer nbcore.
constexpr int kFormat = 1;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS quota_entry (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  credential TEXT NOT NULL,
  model TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  requests INTEGER NOT NULL,
  tokens INTEGER NOT NULL,
  images INTEGER NOT NULL,
  settled INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS quota_entry_key_at ON quota_entry (credential, model, at_ms);
CREATE INDEX IF NOT EXISTS quota_entry_at ON quota_entry (at_ms);
CREATE TABLE IF NOT EXISTS quota_key (
  credential TEXT NOT NULL,
  model TEXT NOT NULL,
  record TEXT NOT NULL,
  PRIMARY KEY (credential, model)
);
CREATE TABLE IF NOT EXISTS cost_hold (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  amount INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL,
  model TEXT NOT NULL,
  day_ms INTEGER NOT NULL,
  month_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS cost_spent (
  period INTEGER NOT NULL,
  start_ms INTEGER NOT NULL,
  micro_usd INTEGER NOT NULL,
  PRIMARY KEY (period, start_ms)
);
CREATE TABLE IF NOT EXISTS cost_alert (
  period INTEGER NOT NULL,
  start_ms INTEGER NOT NULL,
  percent INTEGER NOT NULL,
  PRIMARY KEY (period, start_ms, percent)
);
CREATE TABLE IF NOT EXISTS cost_cap (
  period INTEGER PRIMARY KEY,
  micro_usd INTEGER
);
)sql";

[[noreturn]] void fail(Status code, const std::string& path, const std::string& what, std::string advice) {
    throw Error(code, "state store " + path + ": " + what, std::move(advice));
}

// ---- the connection ---------------------------------------------------------------------------

class Db;

// One prepared statement, reset and cleared when the binding goes out of scope.
class Stmt {
public:
    Stmt(Db& db, sqlite3_stmt* s) : db_(db), s_(s) {}
    ~Stmt() {
        sqlite3_reset(s_);
        sqlite3_clear_bindings(s_);
    }
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;

    Stmt& bind(int i, std::int64_t v) {
        sqlite3_bind_int64(s_, i, v);
        return *this;
    }
    Stmt& bind(int i, const std::string& v) {
        sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
        return *this;
    }
    Stmt& bind_null(int i) {
        sqlite3_bind_null(s_, i);
        return *this;
    }
    bool step();   // true: a row is ready
    void run() {
        while (step()) {
        }
    }
    std::int64_t i64(int col) const { return sqlite3_column_int64(s_, col); }
    bool is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
    std::string text(int col) const {
        auto p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
        return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, col))) : std::string();
    }

private:
    Db& db_;
    sqlite3_stmt* s_;
};

class Db {
public:
    Db(std::string path, const StoreOptions& options) : path_(std::move(path)) {
        int rc = sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
        if (rc != SQLITE_OK) {
            std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
            sqlite3_close(db_);
            db_ = nullptr;
            fail(Status::INVALID_ARG, path_, "cannot open: " + msg, "Check that the path names a writable file.");
        }
        sqlite3_extended_result_codes(db_, 1);
        sqlite3_busy_timeout(db_, static_cast<int>(std::max<std::int64_t>(0, options.busy_timeout.count())));
        try {
            exec("PRAGMA journal_mode=WAL");
            exec(options.durable ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
            transaction([&] {
                Stmt v = prepare("PRAGMA user_version");
                int version = v.step() ? static_cast<int>(v.i64(0)) : 0;
                if (version > kFormat)
                    fail(Status::INTERNAL, path_,
                         "written by a newer nbcore (format " + std::to_string(version) + ", this one reads " +
                             std::to_string(kFormat) + ")",
                         "Upgrade nbcore, or point NBCORE_STATE_FILE at another file.");
                if (version < kFormat) {
                    exec(kSchema);
                    exec("PRAGMA user_version=" + std::to_string(kFormat));
                }
            });
        } catch (...) {
            close();
            throw;
        }
    }
    ~Db() { close(); }
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;

    const std::string& path() const { return path_; }

    Stmt prepare(const std::string& sql) {
        auto it = cache_.find(sql);
        if (it == cache_.end()) {
            sqlite3_stmt* s = nullptr;
            int rc = sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
            if (rc != SQLITE_OK) raise(rc, "prepare");
            it = cache_.emplace(sql, s).first;
        }
        return Stmt(*this, it->second);
    }

    void exec(const std::string& sql) {
        char* err = nullptr;
        int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
        std::string msg = err ? err : "";
        sqlite3_free(err);
        if (rc != SQLITE_OK) raise(rc, msg.empty() ? sql : msg);
    }

    // Runs fn inside BEGIN IMMEDIATE ... COMMIT; any throw rolls back.
    template <class Fn>
    void transaction(Fn&& fn) {
        exec("BEGIN IMMEDIATE");
        try {
            fn();
            exec("COMMIT");
        } catch (...) {
            sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
            throw;
        }
    }

    std::int64_t last_id() const { return sqlite3_last_insert_rowid(db_); }

    [[noreturn]] void raise(int rc, const std::string& during) {
        const int primary = rc & 0xff;
        std::string msg = std::string(sqlite3_errstr(rc)) + " (" + during + ")";
        if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
            fail(Status::INTERNAL, path_, "busy: " + msg,
                 "Another process held the state file longer than the busy timeout; retry, or raise "
                 "StoreOptions::busy_timeout.");
        if (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT)
            fail(Status::INTERNAL, path_, "not a valid state file: " + msg,
                 "Move the damaged file aside (nbcore starts a fresh one), or point NBCORE_STATE_FILE elsewhere.");
        if (primary == SQLITE_READONLY || primary == SQLITE_CANTOPEN || primary == SQLITE_PERM)
            fail(Status::INVALID_ARG, path_, "cannot write: " + msg,
                 "Check the permissions of the state file and of its directory.");
        fail(Status::INTERNAL, path_, msg, "Check the disk (space, permissions) holding the state file.");
    }

private:
    void close() {
        for (auto& [_, s] : cache_) sqlite3_finalize(s);
        cache_.clear();
        if (db_) sqlite3_close(db_);
        db_ = nullptr;
    }

    std::string path_;
    sqlite3* db_ = nullptr;
    std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

bool Stmt::step() {
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    db_.raise(rc, sqlite3_sql(s_) ? sqlite3_sql(s_) : "step");
}

// ---- the transaction view ---------------------------------------------------------------------

StoredEntry entry_from(const Stmt& s) {
    // columns: id, at_ms, requests, tokens, images, settled
    StoredEntry e;
    e.id = s.i64(0);
    e.at = from_epoch_ms(s.i64(1));
    e.requests = s.i64(2);
    e.tokens = s.i64(3);
    e.images = s.i64(4);
    e.settled = s.i64(5) != 0;
    return e;
}

StoredHold hold_from(const Stmt& s) {
    // columns: id, amount, created_ms, expires_ms, model, day_ms, month_ms
    StoredHold h;
    h.id = s.i64(0);
    h.amount = s.i64(1);
    h.created = from_epoch_ms(s.i64(2));
    h.expires = from_epoch_ms(s.i64(3));
    h.model = s.text(4);
    h.day_start = from_epoch_ms(s.i64(5));
    h.month_start = from_epoch_ms(s.i64(6));
    return h;
}

std::int64_t period_code(Period p) { return static_cast<std::int64_t>(p); }

class SqlTxn final : public detail::Txn {
public:
    explicit SqlTxn(Db& db) : db_(db) {}

    std::vector<StoredEntry> entries_after(const QuotaKey& key, SystemTime after) override {
        auto s = db_.prepare(
            "SELECT id, at_ms, requests, tokens, images, settled FROM quota_entry "
            "WHERE credential = ?1 AND model = ?2 AND at_ms > ?3 ORDER BY at_ms, id");
        s.bind(1, key.credential).bind(2, key.model).bind(3, epoch_ms(after));
        std::vector<StoredEntry> out;
        while (s.step()) out.push_back(entry_from(s));
        return out;
    }
    std::int64_t requests_from(const QuotaKey& key, SystemTime from) override {
        auto s = db_.prepare(
            "SELECT COALESCE(SUM(requests), 0) FROM quota_entry WHERE credential = ?1 AND model = ?2 AND at_ms >= ?3");
        s.bind(1, key.credential).bind(2, key.model).bind(3, epoch_ms(from));
        return s.step() ? s.i64(0) : 0;
    }
    std::optional<StoredEntry> entry(const QuotaKey& key, std::int64_t id) override {
        auto s = db_.prepare(
            "SELECT id, at_ms, requests, tokens, images, settled FROM quota_entry "
            "WHERE id = ?1 AND credential = ?2 AND model = ?3");
        s.bind(1, id).bind(2, key.credential).bind(3, key.model);
        if (!s.step()) return std::nullopt;
        return entry_from(s);
    }
    std::int64_t insert_entry(const QuotaKey& key, const StoredEntry& e) override {
        auto s = db_.prepare(
            "INSERT INTO quota_entry (credential, model, at_ms, requests, tokens, images, settled) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
        s.bind(1, key.credential).bind(2, key.model).bind(3, epoch_ms(e.at)).bind(4, e.requests).bind(5, e.tokens);
        s.bind(6, e.images).bind(7, std::int64_t{e.settled ? 1 : 0});
        s.run();
        return db_.last_id();
    }
    void update_entry(const QuotaKey& key, const StoredEntry& e) override {
        auto s = db_.prepare(
            "UPDATE quota_entry SET at_ms = ?1, requests = ?2, tokens = ?3, images = ?4, settled = ?5 "
            "WHERE id = ?6 AND credential = ?7 AND model = ?8");
        s.bind(1, epoch_ms(e.at)).bind(2, e.requests).bind(3, e.tokens).bind(4, e.images);
        s.bind(5, std::int64_t{e.settled ? 1 : 0}).bind(6, e.id).bind(7, key.credential).bind(8, key.model);
        s.run();
    }
    void delete_entry(const QuotaKey& key, std::int64_t id) override {
        auto s = db_.prepare("DELETE FROM quota_entry WHERE id = ?1 AND credential = ?2 AND model = ?3");
        s.bind(1, id).bind(2, key.credential).bind(3, key.model);
        s.run();
    }
    void prune_entries(SystemTime before) override {
        auto s = db_.prepare("DELETE FROM quota_entry WHERE at_ms < ?1");
        s.bind(1, epoch_ms(before));
        s.run();
    }

    std::optional<KeyRecord> key_record(const QuotaKey& key) override {
        auto s = db_.prepare("SELECT record FROM quota_key WHERE credential = ?1 AND model = ?2");
        s.bind(1, key.credential).bind(2, key.model);
        if (!s.step()) return std::nullopt;
        try {
            return record_from_text(s.text(0));
        } catch (const json::exception& e) {
            fail(Status::INTERNAL, db_.path(), std::string("damaged quota record: ") + e.what(),
                 "Move the damaged file aside (nbcore starts a fresh one), or point NBCORE_STATE_FILE elsewhere.");
        }
    }
    void put_key_record(const QuotaKey& key, const KeyRecord& r) override {
        auto s = db_.prepare(
            "INSERT INTO quota_key (credential, model, record) VALUES (?1, ?2, ?3) "
            "ON CONFLICT (credential, model) DO UPDATE SET record = excluded.record");
        s.bind(1, key.credential).bind(2, key.model).bind(3, record_to_text(r));
        s.run();
    }
    void delete_key_record(const QuotaKey& key) override {
        auto s = db_.prepare("DELETE FROM quota_key WHERE credential = ?1 AND model = ?2");
        s.bind(1, key.credential).bind(2, key.model);
        s.run();
    }
    std::vector<QuotaKey> keys() override {
        auto s = db_.prepare(
            "SELECT credential, model FROM quota_key UNION SELECT DISTINCT credential, model FROM quota_entry "
            "ORDER BY 1, 2");
        std::vector<QuotaKey> out;
        while (s.step()) out.push_back({s.text(0), s.text(1)});
        return out;
    }

    std::vector<StoredHold> holds() override {
        auto s = db_.prepare("SELECT id, amount, created_ms, expires_ms, model, day_ms, month_ms FROM cost_hold ORDER BY id");
        std::vector<StoredHold> out;
        while (s.step()) out.push_back(hold_from(s));
        return out;
    }
    std::optional<StoredHold> hold(std::int64_t id) override {
        auto s = db_.prepare(
            "SELECT id, amount, created_ms, expires_ms, model, day_ms, month_ms FROM cost_hold WHERE id = ?1");
        s.bind(1, id);
        if (!s.step()) return std::nullopt;
        return hold_from(s);
    }
    std::int64_t insert_hold(const StoredHold& h) override {
        auto s = db_.prepare(
            "INSERT INTO cost_hold (amount, created_ms, expires_ms, model, day_ms, month_ms) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
        s.bind(1, h.amount).bind(2, epoch_ms(h.created)).bind(3, epoch_ms(h.expires)).bind(4, h.model);
        s.bind(5, epoch_ms(h.day_start)).bind(6, epoch_ms(h.month_start));
        s.run();
        return db_.last_id();
    }
    void delete_hold(std::int64_t id) override {
        auto s = db_.prepare("DELETE FROM cost_hold WHERE id = ?1");
        s.bind(1, id);
        s.run();
    }
    MicroUsd spent(Period p, SystemTime start) override {
        auto s = db_.prepare("SELECT micro_usd FROM cost_spent WHERE period = ?1 AND start_ms = ?2");
        s.bind(1, period_code(p)).bind(2, epoch_ms(start));
        return s.step() ? s.i64(0) : 0;
    }
    void add_spent(Period p, SystemTime start, MicroUsd amount) override {
        auto s = db_.prepare(
            "INSERT INTO cost_spent (period, start_ms, micro_usd) VALUES (?1, ?2, ?3) "
            "ON CONFLICT (period, start_ms) DO UPDATE SET micro_usd = micro_usd + excluded.micro_usd");
        s.bind(1, period_code(p)).bind(2, epoch_ms(start)).bind(3, amount);
        s.run();
    }
    std::vector<int> alerts(Period p, SystemTime start) override {
        auto s = db_.prepare("SELECT percent FROM cost_alert WHERE period = ?1 AND start_ms = ?2 ORDER BY percent");
        s.bind(1, period_code(p)).bind(2, epoch_ms(start));
        std::vector<int> out;
        while (s.step()) out.push_back(static_cast<int>(s.i64(0)));
        return out;
    }
    void add_alert(Period p, SystemTime start, int percent) override {
        auto s = db_.prepare("INSERT OR IGNORE INTO cost_alert (period, start_ms, percent) VALUES (?1, ?2, ?3)");
        s.bind(1, period_code(p)).bind(2, epoch_ms(start)).bind(3, std::int64_t{percent});
        s.run();
    }
    std::optional<MicroUsd> cap(Period p) override {
        auto s = db_.prepare("SELECT micro_usd FROM cost_cap WHERE period = ?1");
        s.bind(1, period_code(p));
        if (!s.step() || s.is_null(0)) return std::nullopt;
        return s.i64(0);
    }
    void set_cap(Period p, std::optional<MicroUsd> cap) override {
        auto s = db_.prepare(
            "INSERT INTO cost_cap (period, micro_usd) VALUES (?1, ?2) "
            "ON CONFLICT (period) DO UPDATE SET micro_usd = excluded.micro_usd");
        s.bind(1, period_code(p));
        if (cap) s.bind(2, *cap);
        else s.bind_null(2);
        s.run();
    }

private:
    Db& db_;
};

class SqliteStore final : public detail::LedgerBackend {
public:
    SqliteStore(std::string path, const StoreOptions& options)
        : path_(std::move(path)), options_(options), db_(std::make_unique<Db>(path_, options_)), pid_(::getpid()) {}

protected:
    // One BEGIN IMMEDIATE transaction per operation (Db::transaction), so other processes see
    // all of it or nothing.
    void transact(const std::function<void(detail::Txn&)>& body) override {
        std::lock_guard lock(mu_);
        Db& db = connection();
        SqlTxn t(db);
        db.transaction([&] { body(t); });
    }
    std::string location() const override { return path_; }

private:
    // A connection must not cross fork(): SQLite's locks belong to the process that opened it. A
    // child (Python's multiprocessing, a daemon) opens its own on first use; the inherited one is
    // left untouched (closing it could checkpoint or unlink files the parent still relies on).
    Db& connection() {
        if (::getpid() != pid_) {
            (void)db_.release();
            db_ = std::make_unique<Db>(path_, options_);
            pid_ = ::getpid();
        }
        return *db_;
    }

    std::mutex mu_;
    const std::string path_;
    const StoreOptions options_;
    std::unique_ptr<Db> db_;
    pid_t pid_;
};

// mkdir -p for the parents of `path`, each new directory 0700.
void make_parents(const std::string& path) {
    for (std::size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1)) {
        std::string dir = path.substr(0, slash);
        if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
            fail(Status::INVALID_ARG, path, "cannot create directory " + dir + ": " + std::strerror(errno),
                 "Choose a state file under a directory you can write to (NBCORE_STATE_FILE).");
    }
}

}  // namespace

std::string default_state_path() {
    if (const char* f = std::getenv("NBCORE_STATE_FILE"); f && *f) return f;
    if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x == '/') return std::string(x) + "/nbcore/state.db";
    std::string home;
    if (const char* h = std::getenv("HOME"); h && *h) {
        home = h;
    } else if (const passwd* pw = ::getpwuid(::getuid()); pw && pw->pw_dir) {
        home = pw->pw_dir;
    } else {
        home = "/tmp";
    }
    return home + "/.local/state/nbcore/state.db";
}

std::shared_ptr<StateBackend> open_state_store(const std::string& path, const StoreOptions& options) {
    if (path.empty())
        throw Error(Status::INVALID_ARG, "state store: empty path",
                    "Pass a file path, or leave it out for the default (NBCORE_STATE_FILE, else "
                    "$XDG_STATE_HOME/nbcore/state.db).");
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {
        if (!S_ISREG(st.st_mode))
            fail(Status::INVALID_ARG, path, "not a regular file", "Point the state store at a file, not a directory.");
    } else {
        if (!options.create)
            fail(Status::INVALID_ARG, path, "does not exist", "Fix the path, or run a client with this state file once: clients create it (0600) when they first use it.");
        make_parents(path);
        // Created here with 0600 (O_EXCL: if another process wins the race, its file is used as is);
        // SQLite gives its -wal and -shm files the same mode.
        int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            ::fchmod(fd, 0600);
            ::close(fd);
        } else if (errno != EEXIST) {
            fail(Status::INVALID_ARG, path, std::string("cannot create: ") + std::strerror(errno),
                 "Choose a state file under a directory you can write to (NBCORE_STATE_FILE).");
        }
    }
    return std::make_shared<SqliteStore>(path, options);
}

}  // namespace nbcore::quota
