// Helpers shared by the policy tests: fixed instants, replies built the way the codec builds
// them, a scripted Rng and a scoped TZ.
#pragma once

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "nbcore/clock.hpp"
#include "nbcore/policy.hpp"
#include "nbcore/reply.hpp"

namespace policy_test {

using namespace nbcore;
using namespace std::chrono_literals;

// A syntactically valid Google API key ("AIza" + 35 characters) that must never survive redaction.
// Shaped like a real key (so redaction is tested on the real shape), assembled at run time so no
// key-shaped literal sits in the tree.
inline const std::string kTestKey = std::string("AI") + "zaSyTESTKEY0123456789abcdefghijklmnop";

inline SystemTime utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
    using namespace std::chrono;
    return SystemTime{sys_days{year{y} / month{mo} / day{d}} + hours(h) + minutes(mi) + seconds(s)};
}

// The fixed "now" of the tests that do not care: Tue 2024-03-12 16:00:00 UTC (09:00 PDT).
inline SystemTime test_now() { return utc(2024, 3, 12, 16, 0, 0); }

// What the codec produces for an error body: ApiError with details re-serialised as JSON text.
// A one-element array wrapper is unwrapped like the codec does.
inline Reply reply_with_error(std::string_view body) {
    Reply r;
    auto doc = nlohmann::json::parse(body);
    if (doc.is_array()) doc = doc.at(0);
    const auto& err = doc.at("error");
    ApiError e;
    e.code = err.value("code", 0);
    e.status = err.value("status", "");
    e.message = err.value("message", "");
    if (err.contains("details")) e.details_json = err.at("details").dump();
    r.error = e;
    return r;
}

inline Diagnosis classify_body(int status, std::string_view body, const net::Headers* headers = nullptr,
                               SystemTime now = test_now(), std::string_view model = {},
                               std::chrono::milliseconds server_timeout = {}) {
    policy::Observation obs;
    obs.http_status = status;
    obs.body = body;
    obs.headers = headers;
    obs.model = model;
    obs.server_timeout_sent = server_timeout;
    return policy::classify(obs, now);
}

inline Diagnosis classify_reply(const Reply& reply, const image::Check* failed = nullptr,
                                std::string_view image_size = {}) {
    policy::Observation obs;
    obs.http_status = 200;
    obs.reply = &reply;
    obs.failed_image = failed;
    obs.image_size = image_size;
    return policy::classify(obs, test_now());
}

inline bool contains(std::string_view haystack, std::string_view needle) {
    return haystack.find(needle) != std::string_view::npos;
}

// Returns the scripted values in order, then repeats the last one.
class ScriptedRng final : public Rng {
public:
    explicit ScriptedRng(std::vector<double> values) : values_(std::move(values)) {}
    double uniform() override {
        ++calls_;
        if (values_.empty()) return 0.0;
        double v = values_[next_ < values_.size() ? next_ : values_.size() - 1];
        ++next_;
        return v;
    }
    int calls() const { return calls_; }

private:
    std::vector<double> values_;
    std::size_t next_ = 0;
    int calls_ = 0;
};

// Sets TZ for the lifetime of the object (POSIX TZ strings need no tz database).
class ScopedTz {
public:
    explicit ScopedTz(const char* tz) {
        if (const char* old = std::getenv("TZ")) old_ = old;
        setenv("TZ", tz, 1);
        tzset();
    }
    ~ScopedTz() {
        if (old_) setenv("TZ", old_->c_str(), 1);
        else unsetenv("TZ");
        tzset();
    }
    ScopedTz(const ScopedTz&) = delete;
    ScopedTz& operator=(const ScopedTz&) = delete;

private:
    std::optional<std::string> old_;
};

}  // namespace policy_test
