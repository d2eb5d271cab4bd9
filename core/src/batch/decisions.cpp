// The Batch API's pure decisions: state names, inline or file, poll delays, what a job's end
// means, and how a batch entry's gRPC error reads as the online HTTP error.
#include <algorithm>
#include <array>
#include <cmath>

#include "nbcore/batch.hpp"

namespace nbcore::batch {
namespace {

constexpr std::array<std::string_view, 7> kStateNames = {
    "BATCH_STATE_UNSPECIFIED", "BATCH_STATE_PENDING",   "BATCH_STATE_RUNNING", "BATCH_STATE_SUCCEEDED",
    "BATCH_STATE_FAILED",      "BATCH_STATE_CANCELLED", "BATCH_STATE_EXPIRED"};

constexpr std::array<std::string_view, 17> kGrpcNames = {
    "OK",           "CANCELLED",         "UNKNOWN",            "INVALID_ARGUMENT",    "DEADLINE_EXCEEDED",
    "NOT_FOUND",    "ALREADY_EXISTS",    "PERMISSION_DENIED",  "RESOURCE_EXHAUSTED",  "FAILED_PRECONDITION",
    "ABORTED",      "OUT_OF_RANGE",      "UNIMPLEMENTED",      "INTERNAL",            "UNAVAILABLE",
    "DATA_LOSS",    "UNAUTHENTICATED"};

}  // namespace

std::string_view state_name(State s) noexcept { return kStateNames[static_cast<std::size_t>(s)]; }

State parse_state(std::string_view name) noexcept {
    for (std::string_view prefix : {"BATCH_STATE_", "JOB_STATE_"})
        if (name.substr(0, prefix.size()) == prefix) {
            name.remove_prefix(prefix.size());
            break;
        }
    if (name == "PENDING" || name == "QUEUED") return State::Pending;
    if (name == "RUNNING") return State::Running;
    if (name == "SUCCEEDED") return State::Succeeded;
    if (name == "FAILED") return State::Failed;
    if (name == "CANCELLED") return State::Cancelled;
    if (name == "EXPIRED") return State::Expired;
    return State::Unspecified;
}

bool is_terminal(State s) noexcept {
    return s == State::Succeeded || s == State::Failed || s == State::Cancelled || s == State::Expired;
}

InputMode choose_input(std::size_t inline_body_bytes, std::size_t limit) noexcept {
    return inline_body_bytes < limit ? InputMode::Inline : InputMode::File;
}

std::chrono::milliseconds next_poll_delay(const PollPolicy& p, int polls_done, double u) noexcept {
    const double cap = static_cast<double>(std::max<long long>(p.cap.count(), 0));
    double d = static_cast<double>(std::max<long long>(p.initial.count(), 0));
    const double factor = std::max(p.factor, 1.0);
    for (int i = 0; i < polls_done && d < cap; ++i) d *= factor;   // no pow overflow for large counts
    d = std::min(d, cap);
    u = std::clamp(std::isfinite(u) ? u : 0.0, 0.0, 1.0);
    d *= 1.0 + std::max(p.jitter, 0.0) * u;
    return std::chrono::milliseconds(static_cast<long long>(std::ceil(d)));
}

Diagnosis diagnose_state(State s, std::string_view name, std::string_view message) {
    Diagnosis d;
    d.reason = std::string(state_name(s));
    const std::string job = name.empty() ? std::string("the batch") : "batch " + std::string(name);
    const std::string said = message.empty() ? std::string() : ": " + std::string(message);
    switch (s) {
        case State::Succeeded:
            d.code = Status::OK;
            d.message = job + " succeeded";
            break;
        case State::Failed:
            d.code = Status::SERVER_ERROR;
            d.retryable = true;
            d.message = job + " failed" + said;
            d.advice = "Submit the requests again; if the batch fails again, split it into smaller batches or "
                       "send the requests online.";
            break;
        case State::Expired:
            d.code = Status::TIMEOUT;
            d.retryable = true;
            d.message = job + " expired before it finished" + said;
            d.advice = "The API gives a batch 48 hours. Submit the requests again, in smaller batches, or send "
                       "the urgent ones online.";
            break;
        case State::Cancelled:
            d.code = Status::CANCELLED;
            d.message = job + " was cancelled" + said;
            d.advice = "It was cancelled through the API, by this client or another one with this key. Submit "
                       "it again to run the requests.";
            break;
        case State::Pending:
        case State::Running:
        case State::Unspecified:
            d.code = Status::INVALID_ARG;
            d.reason = "BATCH_NOT_DONE";
            d.message = job + " has not finished (" + std::string(state_name(s)) + ")";
            d.advice = "Wait until the batch ends (the batch client's wait polls it for you), then ask for its results.";
            break;
    }
    return d;
}

int http_status_for_grpc(int code) noexcept {
    switch (code) {
        case 0: return 200;
        case 1: return 499;
        case 3: case 9: case 11: return 400;
        case 4: return 504;
        case 5: return 404;
        case 6: case 10: return 409;
        case 7: return 403;
        case 8: return 429;
        case 12: return 501;
        case 14: return 503;
        case 16: return 401;
        default: return 500;   // 2 UNKNOWN, 13 INTERNAL, 15 DATA_LOSS, anything else
    }
}

std::string_view grpc_status_name(int code) noexcept {
    if (code < 0 || code >= static_cast<int>(kGrpcNames.size())) return {};
    return kGrpcNames[static_cast<std::size_t>(code)];
}

}  // namespace nbcore::batch
