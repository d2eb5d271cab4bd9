#include "util.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <thread>
#include <vector>

#include "nbcore/codec.hpp"

namespace nbcore::emulator {

std::uint64_t fnv1a64(std::string_view s, std::uint64_t seed) {
    std::uint64_t h = seed;
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return h;
}

std::uint64_t splitmix64(std::uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

namespace {

std::vector<std::uint8_t> random_bytes(std::uint64_t seed, std::size_t n) {
    Rng rng(seed);
    std::vector<std::uint8_t> bytes(n);
    for (auto& b : bytes) b = static_cast<std::uint8_t>(rng.next() >> 56);
    return bytes;
}

}  // namespace

std::string random_base64(std::uint64_t seed, std::size_t n_bytes) {
    auto bytes = random_bytes(seed, n_bytes);
    return api::base64_encode(bytes.data(), bytes.size());
}

std::string random_base64url(std::uint64_t seed, std::size_t n_bytes) {
    auto bytes = random_bytes(seed, n_bytes);
    std::string s = api::base64_encode(bytes.data(), bytes.size());
    while (!s.empty() && s.back() == '=') s.pop_back();
    std::replace(s.begin(), s.end(), '+', '-');
    std::replace(s.begin(), s.end(), '/', '_');
    return s;
}

std::string rfc3339_micros(std::chrono::system_clock::time_point t) {
    using namespace std::chrono;
    auto since = t.time_since_epoch();
    std::time_t secs = static_cast<std::time_t>(duration_cast<seconds>(since).count());
    auto micros = duration_cast<microseconds>(since).count() % 1000000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<long long>(micros));
    return buf;
}

std::string http_date(std::chrono::system_clock::time_point t) {
    std::time_t secs = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return buf;
}

std::size_t utf8_length(std::string_view s) {
    std::size_t n = 0;
    for (unsigned char c : s)
        if ((c & 0xC0) != 0x80) ++n;
    return n;
}

std::string utf8_prefix(std::string_view s, std::size_t max_chars) {
    std::size_t chars = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
            if (chars == max_chars) return std::string(s.substr(0, i)) + "...";
            ++chars;
        }
    }
    return std::string(s);
}

std::string valid_utf8(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    std::size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        bool ok = len > 0 && i + len <= s.size();
        for (std::size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
        if (ok && len == 2) ok = c >= 0xC2;                                            // no overlong forms
        if (ok && len == 3) {
            auto c1 = static_cast<unsigned char>(s[i + 1]);
            ok = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 >= 0xA0);            // overlong, surrogates
        }
        if (ok && len == 4) {
            auto c1 = static_cast<unsigned char>(s[i + 1]);
            ok = c <= 0xF4 && !(c == 0xF0 && c1 < 0x90) && !(c == 0xF4 && c1 >= 0x90);
        }
        if (ok) {
            out.append(s, i, len);
            i += len;
        } else {
            out += "\xEF\xBF\xBD";
            ++i;
        }
    }
    return out;
}

std::string to_lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

std::string camel_to_snake(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 4);
    for (char c : s) {
        if (c >= 'A' && c <= 'Z') {
            out += '_';
            out += static_cast<char>(c - 'A' + 'a');
        } else {
            out += c;
        }
    }
    return out;
}

std::string format_duration(double seconds) {
    if (seconds < 0) seconds = 0;
    auto millis = static_cast<long long>(std::llround(seconds * 1000.0));
    char buf[48];
    if (millis % 1000 == 0)
        std::snprintf(buf, sizeof buf, "%llds", millis / 1000);
    else
        std::snprintf(buf, sizeof buf, "%lld.%03llds", millis / 1000, millis % 1000);
    return buf;
}

std::string format_duration_exact(std::chrono::nanoseconds d) {
    long long ns = std::max<long long>(d.count(), 0);
    long long whole = ns / 1'000'000'000, frac = ns % 1'000'000'000;
    char buf[48];
    if (frac == 0)
        std::snprintf(buf, sizeof buf, "%llds", whole);
    else if (frac % 1'000'000 == 0)
        std::snprintf(buf, sizeof buf, "%lld.%03llds", whole, frac / 1'000'000);
    else if (frac % 1000 == 0)
        std::snprintf(buf, sizeof buf, "%lld.%06llds", whole, frac / 1000);
    else
        std::snprintf(buf, sizeof buf, "%lld.%09llds", whole, frac);
    return buf;
}

std::string seconds_text_exact(std::chrono::nanoseconds d) {
    long long ns = std::max<long long>(d.count(), 0);
    char buf[48];
    std::snprintf(buf, sizeof buf, "%lld.%09lld", ns / 1'000'000'000, ns % 1'000'000'000);
    std::string s = buf;
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
    return s;
}

bool sleep_unless_stopped(int ms, const std::atomic<bool>& stop) {
    using namespace std::chrono;
    auto until = steady_clock::now() + milliseconds(std::max(ms, 0));
    while (!stop.load(std::memory_order_relaxed)) {
        auto now = steady_clock::now();
        if (now >= until) return true;
        std::this_thread::sleep_for(std::min<steady_clock::duration>(until - now, milliseconds(10)));
    }
    return false;
}

}  // namespace nbcore::emulator
