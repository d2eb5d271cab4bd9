#include "nbcore/status.hpp"

#include <array>

namespace nbcore {
namespace {

struct StatusText {
    std::string_view name;
    std::string_view summary;
};

// Indexed by the numeric value; keep in step with the enum (a unit test checks it).
constexpr std::array<StatusText, kStatusCount> kStatusText = {{
    {"OK", "success"},
    {"RATE_LIMITED", "rate limited (per-minute quota); retrying after a wait will succeed"},
    {"QUOTA_EXHAUSTED", "quota exhausted (per-day, zero, or billing); it will not reset soon"},
    {"SERVER_ERROR", "the server had an internal error"},
    {"BAD_GATEWAY", "a gateway between us and the model failed"},
    {"UNAVAILABLE", "the model is overloaded or unavailable"},
    {"TIMEOUT", "the request timed out"},
    {"NETWORK", "the network failed (DNS, connect, reset or TLS)"},
    {"AUTH", "the API key or credentials were rejected"},
    {"LOCATION", "the API is not available for this location or billing setup"},
    {"MODEL_NOT_FOUND", "the model id is unknown or retired"},
    {"BAD_REQUEST", "the server rejected the request as invalid"},
    {"BLOCKED_SAFETY", "blocked by a configurable safety filter (layer 1)"},
    {"BLOCKED_POLICY", "blocked by a policy filter that cannot be configured (layer 2)"},
    {"NO_IMAGE", "the reply contained no image"},
    {"BLANK_IMAGE", "the image came back blank"},
    {"BAD_RESPONSE", "the reply was malformed, truncated or not a valid image"},
    {"BUDGET", "a spending cap would be crossed"},
    {"DEADLINE", "the deadline ran out"},
    {"CANCELLED", "cancelled"},
    {"INVALID_ARG", "invalid argument"},
    {"INTERNAL", "internal error in nbcore"},
}};

constexpr std::array<std::string_view, 7> kDimensionNames = {"",    "RPM",  "TPM",    "IPM",
                                                             "RPD", "ZERO", "UNKNOWN"};

}  // namespace

std::string_view status_name(Status s) noexcept {
    auto i = static_cast<int>(s);
    return (i >= 0 && i < kStatusCount) ? kStatusText[i].name : std::string_view("UNKNOWN_STATUS");
}

std::string_view status_summary(Status s) noexcept {
    auto i = static_cast<int>(s);
    return (i >= 0 && i < kStatusCount) ? kStatusText[i].summary : std::string_view("unknown status");
}

std::string_view dimension_name(Dimension d) noexcept {
    auto i = static_cast<std::size_t>(d);
    return i < kDimensionNames.size() ? kDimensionNames[i] : std::string_view("UNKNOWN");
}

std::optional<Status> status_from_name(std::string_view name) noexcept {
    for (int i = 0; i < kStatusCount; ++i)
        if (kStatusText[i].name == name) return static_cast<Status>(i);
    return std::nullopt;
}

std::optional<Dimension> dimension_from_name(std::string_view name) noexcept {
    if (name.empty() || name == "NONE") return Dimension::NONE;
    for (std::size_t i = 1; i < kDimensionNames.size(); ++i)
        if (kDimensionNames[i] == name) return static_cast<Dimension>(i);
    return std::nullopt;
}

namespace {
std::string what_text(const Diagnosis& d) {
    std::string s(status_name(d.code));
    if (!d.message.empty()) {
        s += ": ";
        s += d.message;
    }
    return s;
}
}  // namespace

Error::Error(Diagnosis d) : std::runtime_error(what_text(d)), diag_(std::move(d)) {}

Error::Error(Status code, std::string message, std::string advice)
    : Error([&] {
          Diagnosis d;
          d.code = code;
          d.message = std::move(message);
          d.advice = std::move(advice);
          return d;
      }()) {}

void throw_invalid_arg(std::string what) {
    throw Error(Status::INVALID_ARG, std::move(what),
                "Fix the argument named in the message; the accepted values are listed there.");
}

}  // namespace nbcore
