// The SQLite state store on its own: file modes, persistence across reopen, errors, several
// processes sharing one file, and a process killed with SIGKILL while it settles costs.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "test_state_support.hpp"

using namespace quota_test;

namespace {

mode_t mode_of(const std::string& path) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

// Sets or unsets an environment variable for one scope.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const char* value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        if (value) ::setenv(name, value, 1);
        else ::unsetenv(name);
    }
    ~ScopedEnv() {
        if (old_) ::setenv(name_, old_->c_str(), 1);
        else ::unsetenv(name_);
    }

private:
    const char* name_;
    std::optional<std::string> old_;
};

void write_all(int fd, const void* data, std::size_t n) {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
        ssize_t w = ::write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) ::_exit(3);
        p += w;
        n -= static_cast<std::size_t>(w);
    }
}

// Reads whole int64 records from `fd` until EOF, until `stop_after` records, or until `wait` has
// passed, whichever comes first.
std::vector<std::int64_t> read_records(int fd, std::chrono::milliseconds wait, std::size_t stop_after = SIZE_MAX) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    std::vector<std::int64_t> out;
    std::string buf;
    while (out.size() < stop_after) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() < 0) break;
        pollfd p{fd, POLLIN, 0};
        int rc = ::poll(&p, 1, static_cast<int>(left.count()));
        if (rc < 0 && errno == EINTR) continue;
        if (rc <= 0) break;
        char chunk[sizeof(std::int64_t)];
        // One record at a time, so nothing past stop_after is consumed.
        ssize_t n = ::read(fd, chunk, sizeof chunk - buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        buf.append(chunk, static_cast<std::size_t>(n));
        if (buf.size() == sizeof(std::int64_t)) {
            std::int64_t v;
            std::memcpy(&v, buf.data(), sizeof v);
            out.push_back(v);
            buf.clear();
        }
    }
    return out;
}

// Children block on the read end until the parent closes the write end: they all start at once.
struct StartLine {
    int fds[2] = {-1, -1};
    StartLine() { REQUIRE(::pipe(fds) == 0); }
    ~StartLine() {
        for (int fd : fds)
            if (fd >= 0) ::close(fd);
    }
    void wait_in_child() {
        ::close(fds[1]);
        char c;
        while (::read(fds[0], &c, 1) < 0 && errno == EINTR) {
        }
    }
    void release_children() {
        ::close(fds[1]);
        fds[1] = -1;
    }
};

const CapUsage& cap_of(const UsageSnapshot& s, Period p) {
    for (const auto& c : s.caps)
        if (c.period == p) return c;
    FAIL("no cap usage");
    return s.caps.front();
}

}  // namespace

TEST_CASE("state sqlite: the file is 0600 in a 0700 directory, and so are its WAL files", "[state][sqlite]") {
    TempDir dir;
    const std::string path = dir.file("nested/deeper/state.db");
    auto st = open_state_store(path, fast_store());
    st->admit(admit_request(test_key(), Limits{}, base_now()));   // writes: the -wal file exists now
    CHECK(mode_of(path) == 0600);
    CHECK(mode_of(dir.file("nested")) == 0700);
    CHECK(mode_of(dir.file("nested/deeper")) == 0700);
    for (const char* suffix : {"-wal", "-shm"}) {
        INFO(suffix);
        if (::access((path + suffix).c_str(), F_OK) == 0) CHECK(mode_of(path + suffix) == 0600);
    }
    CHECK(::access((path + "-wal").c_str(), F_OK) == 0);   // WAL mode is on
    // An existing file is opened as it is.
    auto again = open_state_store(path, fast_store());
    CHECK(mode_of(path) == 0600);
}

// umask() is per process: the tests that set it run one at a time (Catch2 runs serially).
class ScopedUmask {
public:
    explicit ScopedUmask(mode_t mask) : old_(::umask(mask)) {}
    ~ScopedUmask() { ::umask(old_); }
    ScopedUmask(const ScopedUmask&) = delete;
    ScopedUmask& operator=(const ScopedUmask&) = delete;

private:
    mode_t old_;
};

TEST_CASE("state sqlite: whatever the umask, every file of the store is 0600 and every new directory 0700",
          "[state][sqlite]") {
    for (mode_t mask : {mode_t{0}, mode_t{022}, mode_t{077}}) {
        INFO("umask " << std::oct << mask);
        TempDir dir;
        const std::string path = dir.file("made/here/state.db");
        ScopedUmask scoped(mask);
        auto st = open_state_store(path, fast_store());
        st->admit(admit_request(test_key(), Limits{}, base_now()));   // the -wal and -shm files exist now
        std::vector<std::string> files;   // state.db and whatever SQLite put beside it (-wal, -shm, -journal)
        for (const auto& entry : std::filesystem::directory_iterator(dir.file("made/here")))
            if (entry.path().filename().string().rfind("state.db", 0) == 0) files.push_back(entry.path().string());
        CHECK(files.size() >= 3);
        for (const auto& f : files) {
            INFO(f);
            CHECK(mode_of(f) == 0600);
        }
        CHECK(mode_of(dir.file("made")) == 0700);
        CHECK(mode_of(dir.file("made/here")) == 0700);
    }
}

TEST_CASE("state sqlite: everything survives closing and reopening", "[state][sqlite]") {
    TempDir dir;
    const std::string path = dir.file("state.db");
    const SystemTime t0 = base_now();
    const auto key = test_key();
    const Limits l = *tier_limits("tier1", kModelPro);
    BudgetCaps caps;
    caps.daily_usd = 5.0;
    std::string before_json;
    KeyState learned_before;
    std::int64_t open_ticket = 0;
    {
        auto st = open_state_store(path);   // the defaults: durable
        auto a = st->admit(admit_request(key, l, t0));
        open_ticket = st->admit(admit_request(key, l, t0 + 1s)).ticket;
        st->settle(key, a.ticket, QuotaActual{120, 1}, l, LearnConfig{}, t0 + 2s);
        QuotaSignal sig;
        sig.dimension = Dimension::TPM;
        sig.retry_after = Millis(30'000);
        sig.server_limits = {{Dimension::TPM, 90'000}};
        learned_before = st->on_429(key, sig, l, LearnConfig{}, 0, t0 + 3s).after;
        ReserveRequest r;
        r.amount = 160'000;
        r.caps = caps;
        r.now = t0;
        auto h = st->reserve(r);
        st->settle_cost(h.hold, 134'000, caps, t0 + 4s);
        r.amount = 50'000;
        st->reserve(r);
        before_json = usage_json(st->snapshot(t0 + 5s));
    }
    auto st = open_state_store(path);
    CHECK(usage_json(st->snapshot(t0 + 5s)) == before_json);
    CHECK(st->learned(key) == learned_before);
    CHECK(st->learned(key).at(Dimension::TPM).server_limit == 90'000);
    // The unsettled ticket from before the restart can still be settled.
    st->settle(key, open_ticket, QuotaActual{10, 1}, l, LearnConfig{}, t0 + 6s);
    auto snap = st->snapshot(t0 + 6s);
    REQUIRE(snap.keys.size() == 1);
    CHECK(snap.keys[0].unsettled == 0);
    CHECK(snap.keys[0].dimensions[1].used == 130);
    CHECK(cap_of(snap, Period::Day).spent == 134'000);
    CHECK(cap_of(snap, Period::Day).cap == 5'000'000);
}

TEST_CASE("state sqlite: two handles on one file see each other's writes", "[state][sqlite]") {
    TempDir dir;
    const std::string path = dir.file("state.db");
    auto a = open_state_store(path, fast_store());
    auto b = open_state_store(path, fast_store());
    const auto key = test_key();
    const SystemTime t0 = base_now();
    CHECK(a->admit(admit_request(key, rpm_only(2), t0)).fit.verdict == Verdict::Now);
    CHECK(b->admit(admit_request(key, rpm_only(2), t0)).fit.verdict == Verdict::Now);
    CHECK(a->admit(admit_request(key, rpm_only(2), t0)).fit.verdict == Verdict::Later);
    CHECK(b->admit(admit_request(key, rpm_only(2), t0)).fit.verdict == Verdict::Later);
}

TEST_CASE("state sqlite: unusable paths and files are typed errors", "[state][sqlite]") {
    TempDir dir;
    auto code_of = [](auto&& fn) -> std::optional<Status> {
        try {
            fn();
        } catch (const Error& e) {
            CHECK_FALSE(e.diagnosis().advice.empty());
            return e.code();
        }
        return std::nullopt;
    };
    CHECK(code_of([&] { open_state_store("", fast_store()); }) == Status::INVALID_ARG);
    CHECK(code_of([&] { open_state_store(dir.path().string(), fast_store()); }) == Status::INVALID_ARG);
    StoreOptions no_create = fast_store();
    no_create.create = false;
    CHECK(code_of([&] { open_state_store(dir.file("missing.db"), no_create); }) == Status::INVALID_ARG);
    CHECK_FALSE(std::filesystem::exists(dir.file("missing.db")));
    CHECK(code_of([&] { open_state_store("/proc/nbcore-test/state.db", fast_store()); }) == Status::INVALID_ARG);
    {
        std::ofstream f(dir.file("garbage.db"));
        f << std::string(4096, 'x');
    }
    CHECK(code_of([&] { open_state_store(dir.file("garbage.db"), fast_store()); }) == Status::INTERNAL);
    // A file written by a newer nbcore is refused, not rewritten.
    const std::string newer = dir.file("newer.db");
    open_state_store(newer, fast_store());
    {
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open(newer.c_str(), &db) == SQLITE_OK);
        REQUIRE(sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr) == SQLITE_OK);
        sqlite3_close(db);
    }
    try {
        open_state_store(newer, fast_store());
        FAIL("a newer format was accepted");
    } catch (const Error& e) {
        CHECK(e.code() == Status::INTERNAL);
        CHECK_THAT(e.diagnosis().message, Catch::Contains("newer"));
    }
}

TEST_CASE("state sqlite: the default path", "[state][sqlite]") {
    {
        ScopedEnv f("NBCORE_STATE_FILE", "/tmp/x/state-file.db");
        CHECK(default_state_path() == "/tmp/x/state-file.db");
    }
    ScopedEnv f("NBCORE_STATE_FILE", nullptr);
    {
        ScopedEnv x("XDG_STATE_HOME", "/var/tmp/xdg");
        CHECK(default_state_path() == "/var/tmp/xdg/nbcore/state.db");
    }
    ScopedEnv x("XDG_STATE_HOME", nullptr);
    ScopedEnv h("HOME", "/home/someone");
    CHECK(default_state_path() == "/home/someone/.local/state/nbcore/state.db");
}

TEST_CASE("state sqlite: processes admitting against one file never exceed the limit", "[state][sqlite][multiprocess]") {
    TempDir dir;
    const std::string path = dir.file("shared.db");
    open_state_store(path, fast_store());   // the schema exists before the children race
    const auto key = test_key();
    constexpr int kChildren = 4;
    StartLine start;

    SECTION("one instant: exactly the limit is admitted, however the children interleave") {
        constexpr int kAttempts = 40;
        const Limits l = rpm_only(100);
        std::vector<int> fds;
        std::vector<pid_t> pids;
        for (int c = 0; c < kChildren; ++c) {
            int p[2];
            REQUIRE(::pipe(p) == 0);
            pid_t pid = ::fork();
            REQUIRE(pid >= 0);
            if (pid == 0) {
                ::close(p[0]);
                int code = 0;
                try {
                    auto st = open_state_store(path, fast_store());
                    start.wait_in_child();
                    std::int64_t admitted = 0;
                    for (int i = 0; i < kAttempts; ++i)
                        if (st->admit(admit_request(key, l, base_now())).fit.verdict == Verdict::Now) ++admitted;
                    write_all(p[1], &admitted, sizeof admitted);
                } catch (...) {
                    code = 2;
                }
                ::_exit(code);
            }
            ::close(p[1]);
            fds.push_back(p[0]);
            pids.push_back(pid);
        }
        start.release_children();
        std::int64_t total = 0;
        for (int c = 0; c < kChildren; ++c) {
            auto rec = read_records(fds[c], std::chrono::seconds(20));
            ::close(fds[c]);
            int status = 0;
            REQUIRE(::waitpid(pids[c], &status, 0) == pids[c]);
            REQUIRE(WIFEXITED(status));
            CHECK(WEXITSTATUS(status) == 0);
            REQUIRE(rec.size() == 1);
            total += rec[0];
        }
        CHECK(total == 100);
        auto snap = open_state_store(path, fast_store())->snapshot(base_now());
        REQUIRE(snap.keys.size() == 1);
        CHECK(snap.keys[0].dimensions[0].used == 100);
    }

    SECTION("moving time, out of order across processes: at most L in any 60 s") {
        constexpr int kAttempts = 30;
        const Limits l = rpm_only(5);
        std::vector<int> fds;
        std::vector<pid_t> pids;
        for (int c = 0; c < kChildren; ++c) {
            int p[2];
            REQUIRE(::pipe(p) == 0);
            pid_t pid = ::fork();
            REQUIRE(pid >= 0);
            if (pid == 0) {
                ::close(p[0]);
                int code = 0;
                try {
                    auto st = open_state_store(path, fast_store());
                    start.wait_in_child();
                    for (int i = 0; i < kAttempts; ++i) {
                        // Each child walks the same minutes with its own offset, so the processes'
                        // clocks disagree by up to a few seconds.
                        SystemTime now = base_now() + std::chrono::milliseconds(i * 4'000 + c * 1'300);
                        auto r = st->admit(admit_request(key, l, now));
                        if (r.fit.verdict == Verdict::Now) {
                            std::int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                                  std::chrono::floor<std::chrono::milliseconds>(now).time_since_epoch())
                                                  .count();
                            write_all(p[1], &ms, sizeof ms);
                        }
                    }
                } catch (...) {
                    code = 2;
                }
                ::_exit(code);
            }
            ::close(p[1]);
            fds.push_back(p[0]);
            pids.push_back(pid);
        }
        start.release_children();
        std::vector<std::int64_t> admitted;
        for (int c = 0; c < kChildren; ++c) {
            auto rec = read_records(fds[c], std::chrono::seconds(20));
            ::close(fds[c]);
            int status = 0;
            REQUIRE(::waitpid(pids[c], &status, 0) == pids[c]);
            REQUIRE(WIFEXITED(status));
            CHECK(WEXITSTATUS(status) == 0);
            admitted.insert(admitted.end(), rec.begin(), rec.end());
        }
        std::sort(admitted.begin(), admitted.end());
        INFO("admitted " << admitted.size());
        CHECK(admitted.size() >= 5);
        for (std::size_t i = 0; i < admitted.size(); ++i) {
            auto in_window = std::count_if(admitted.begin(), admitted.end(),
                                           [&](std::int64_t t) { return t >= admitted[i] && t < admitted[i] + 60'000; });
            REQUIRE(in_window <= 5);
        }
    }
}

TEST_CASE("state sqlite: a store opened before fork() serves the child on a connection of its own", "[state][sqlite][multiprocess]") {
    TempDir dir;
    const std::string path = dir.file("forked.db");
    auto st = open_state_store(path, fast_store());
    const auto key = test_key();
    const Limits l = rpm_only(3);
    REQUIRE(st->admit(admit_request(key, l, base_now())).fit.verdict == Verdict::Now);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int code = 1;
        try {
            if (st->admit(admit_request(key, l, base_now())).fit.verdict == Verdict::Now) code = 0;
        } catch (...) {
            code = 2;
        }
        ::_exit(code);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    // The parent's connection still works and sees the child's admission.
    CHECK(st->admit(admit_request(key, l, base_now())).used_after[0] == 3);
    CHECK(st->admit(admit_request(key, l, base_now())).fit.verdict == Verdict::Later);
}

TEST_CASE("state sqlite: a process killed with SIGKILL loses no settlement it reported", "[state][sqlite][crash]") {
    std::random_device rd;
    std::mt19937 rng(rd());
    for (int round = 0; round < 3; ++round) {
        INFO("round " << round);
        TempDir dir;
        const std::string path = dir.file("crash.db");
        open_state_store(path);
        int p[2];
        REQUIRE(::pipe(p) == 0);
        pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            ::close(p[0]);
            try {
                auto st = open_state_store(path);   // durable: synchronous=FULL
                const BudgetCaps none;
                for (std::int64_t i = 1;; ++i) {
                    ReserveRequest r;
                    r.amount = 5'000;
                    r.now = base_now() + std::chrono::milliseconds(i);
                    auto h = st->reserve(r);
                    st->settle_cost(h.hold, 1'000 + i, none, r.now);
                    write_all(p[1], &i, sizeof i);   // reported only once committed
                }
            } catch (...) {
                ::_exit(2);
            }
        }
        ::close(p[1]);
        // Let the child commit at least once, then kill it at a random moment.
        auto first = read_records(p[0], std::chrono::seconds(20), 1);
        REQUIRE(first.size() == 1);
        std::uniform_int_distribution<int> delay_ms(0, 150);
        auto more = read_records(p[0], std::chrono::milliseconds(delay_ms(rng)));
        (void)more;
        REQUIRE(::kill(pid, SIGKILL) == 0);
        int status = 0;
        REQUIRE(::waitpid(pid, &status, 0) == pid);
        REQUIRE(WIFSIGNALED(status));
        CHECK(WTERMSIG(status) == SIGKILL);
        // Everything written before the kill is still in the pipe.
        auto rest = read_records(p[0], std::chrono::seconds(5));
        ::close(p[0]);
        std::vector<std::int64_t> reported = first;
        reported.insert(reported.end(), more.begin(), more.end());
        reported.insert(reported.end(), rest.begin(), rest.end());
        const auto n = static_cast<std::int64_t>(reported.size());
        for (std::int64_t i = 0; i < n; ++i) REQUIRE(reported[static_cast<std::size_t>(i)] == i + 1);

        auto snap = open_state_store(path)->snapshot(base_now() + std::chrono::milliseconds(n + 2));
        const MicroUsd spent = cap_of(snap, Period::Total).spent;
        const MicroUsd reported_sum = 1'000 * n + n * (n + 1) / 2;
        INFO("reported " << n << " settlements, " << reported_sum << " micro-USD; store has " << spent
                         << " spent and " << snap.open_holds << " open holds");
        // Every reported settlement is there; at most one more committed before its report.
        CHECK((spent == reported_sum || spent == reported_sum + 1'000 + n + 1));
        CHECK(snap.open_holds <= 1);
    }
}
