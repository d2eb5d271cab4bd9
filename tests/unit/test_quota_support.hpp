// Helpers shared by the quota, cost, state and governor tests: fixed instants, test credentials,
// temporary directories, small demands and limits.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include "nbcore/cost.hpp"
#include "nbcore/models.hpp"
#include "nbcore/quota.hpp"

namespace quota_test {

using namespace nbcore;
using namespace nbcore::quota;
using namespace std::chrono_literals;

inline SystemTime utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
    using namespace std::chrono;
    return SystemTime{sys_days{year{y} / month{mo} / day{d}} + hours(h) + minutes(mi) + seconds(s)};
}

// Tue 2026-03-10 17:00:00 UTC = 10:00 PDT: a plain weekday, far from both midnight and DST.
inline SystemTime base_now() { return utc(2026, 3, 10, 17, 0, 0); }

// A test credential built at run time (never a string shaped like a real key in the sources).
inline std::string test_secret(int n = 0) { return "test-credential-" + std::to_string(n); }

// A fresh directory under the system temp dir, removed with everything in it on destruction.
class TempDir {
public:
    TempDir() {
        static std::mt19937_64 gen{std::random_device{}()};
        path_ = std::filesystem::temp_directory_path() /
                ("nbcore-quota-test-" + std::to_string(::getpid()) + "-" + std::to_string(gen()));
        std::filesystem::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    std::string file(const std::string& name) const { return (path_ / name).string(); }

private:
    std::filesystem::path path_;
};

inline QuotaKey test_key(int n = 0, std::string_view model = kModelPro) { return QuotaKey::of(test_secret(n), model); }

inline Demand one_request(std::int64_t tokens = 100) { return Demand{1, tokens, 1}; }

inline Limits rpm_only(std::int64_t rpm) {
    Limits l;
    l.rpm = rpm;
    return l;
}

}  // namespace quota_test
