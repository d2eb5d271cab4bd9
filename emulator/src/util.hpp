// Small pure helpers shared by the emulator's modules: hashing, ids, time and text formatting.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace nbcore::emulator {

// FNV-1a, 64 bit. Stable across runs and platforms: generated images and ids depend on it.
std::uint64_t fnv1a64(std::string_view s, std::uint64_t seed = 14695981039346656037ull);
// One step of splitmix64: a good 64-bit mixer for deriving streams of numbers from a seed.
std::uint64_t splitmix64(std::uint64_t x);

// Deterministic xorshift-style generator over splitmix64.
class Rng {
public:
    explicit Rng(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next() { state_ += 0x9E3779B97F4A7C15ull; return splitmix64(state_); }
    int below(int n) { return n <= 0 ? 0 : static_cast<int>(next() % static_cast<std::uint64_t>(n)); }
    double unit() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }

private:
    std::uint64_t state_;
};

// Standard base64 (for thoughtSignature) and unpadded base64url (for responseId) of n
// pseudo-random bytes derived from `seed`.
std::string random_base64(std::uint64_t seed, std::size_t n_bytes);
std::string random_base64url(std::uint64_t seed, std::size_t n_bytes);

// "2025-12-04T09:54:26.137486Z"
std::string rfc3339_micros(std::chrono::system_clock::time_point t);
// "Thu, 27 Nov 2026 01:30:43 GMT"
std::string http_date(std::chrono::system_clock::time_point t);

// Number of Unicode code points in UTF-8 text (invalid bytes count as one each).
std::size_t utf8_length(std::string_view s);
// The first `max_chars` code points of s, "..." appended when cut.
std::string utf8_prefix(std::string_view s, std::size_t max_chars);

// s with every byte that is not part of valid UTF-8 replaced by U+FFFD (JSON output needs it).
std::string valid_utf8(std::string_view s);

std::string to_lower(std::string_view s);
// "generationConfig" -> "generation_config"
std::string camel_to_snake(std::string_view s);

// A Duration as proto3 JSON writes it: "7s", "7.500s", "0.250s".
std::string format_duration(double seconds);
// The same, exact to the nanosecond: 0, 3, 6 or 9 fractional digits ("7s", "7.500s",
// "0.000250s", "44.999999999s"), as proto3 JSON writes a Duration.
std::string format_duration_exact(std::chrono::nanoseconds d);
// Seconds with up to nine decimals and no trailing zeros ("45.578569677", "7", "0.5").
std::string seconds_text_exact(std::chrono::nanoseconds d);

// Sleeps `ms` in short slices; returns false (early) once `stop` is set.
bool sleep_unless_stopped(int ms, const std::atomic<bool>& stop);

}  // namespace nbcore::emulator
