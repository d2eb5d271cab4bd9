// 429 RESOURCE_EXHAUSTED: every quota violation is read, and the one that decides what to do wins:
// a zero quota (never succeeds) over a per-day quota (not before midnight Pacific) over a
// per-minute one (wait and retry).
#include <cctype>

#include "policy/internal.hpp"

namespace nbcore::policy::detail {
namespace {

bool is_zero_value(std::string_view v) {
    return !v.empty() && v.find_first_not_of('0') == std::string_view::npos;
}

Dimension dimension_of(const QuotaViolation& v) {
    if (is_zero_value(v.value)) return Dimension::ZERO;
    return violation_metric_dimension(v);
}

}  // namespace

Dimension violation_metric_dimension(const QuotaViolation& v) {
    std::string text = v.id + " " + v.metric;
    bool per_day = contains_ci(text, "PerDay") || contains_ci(text, "per_day") || contains_ci(text, "per day");
    bool per_minute = contains_ci(text, "PerMinute") || contains_ci(text, "per_minute") ||
                      contains_ci(text, "per minute");
    if (per_day) return Dimension::RPD;
    if (contains_ci(text, "token")) return Dimension::TPM;
    if (contains_ci(text, "image")) return Dimension::IPM;
    if (per_minute && contains_ci(text, "request")) return Dimension::RPM;
    return Dimension::UNKNOWN;
}

namespace {

int rank(Dimension d) {
    switch (d) {
    case Dimension::ZERO: return 3;
    case Dimension::RPD: return 2;
    default: return 1;
    }
}

// The newer message form lists violations in text:
//   "* Quota exceeded for metric: generativelanguage.googleapis.com/..., limit: 0, model: gemini-3-pro"
std::vector<QuotaViolation> violations_in_message(std::string_view message) {
    std::vector<QuotaViolation> out;
    std::size_t from = 0;
    while (true) {
        auto at = message.find("limit:", from);
        if (at == std::string_view::npos) break;
        from = at + 6;
        if (at > 0 && message[at - 1] != ' ') continue;   // "rate-limit:" is not a quota line
        QuotaViolation v;
        auto value_start = message.find_first_not_of(' ', from);
        if (value_start == std::string_view::npos) break;
        auto value_end = value_start;
        while (value_end < message.size() && std::isdigit(static_cast<unsigned char>(message[value_end])))
            ++value_end;
        v.value = std::string(message.substr(value_start, value_end - value_start));
        auto line_start = message.rfind('\n', at);
        auto line = message.substr(line_start == std::string_view::npos ? 0 : line_start + 1);
        line = line.substr(0, line.find('\n'));
        if (auto m = line.find("metric:"); m != std::string_view::npos) {
            auto metric = line.substr(m + 7);
            metric = metric.substr(0, metric.find(','));
            while (!metric.empty() && metric.front() == ' ') metric.remove_prefix(1);
            v.metric = std::string(metric);
        }
        if (auto m = line.find("model:"); m != std::string_view::npos) {
            auto model = line.substr(m + 6);
            model = model.substr(0, model.find_first_of(",\n"));
            while (!model.empty() && model.front() == ' ') model.remove_prefix(1);
            while (!model.empty() && model.back() == ' ') model.remove_suffix(1);
            v.model = std::string(model);
        }
        if (!v.value.empty()) out.push_back(std::move(v));
    }
    return out;
}

// Vertex puts the limit into ErrorInfo: reason RATE_LIMIT_EXCEEDED, metadata quota_limit,
// quota_limit_value, quota_metric.
std::optional<QuotaViolation> violation_in_error_info(const ErrorBody& e) {
    auto limit = e.metadata("quota_limit");
    auto value = e.metadata("quota_limit_value");
    auto metric = e.metadata("quota_metric");
    if (limit.empty() && value.empty() && metric.empty()) return std::nullopt;
    return QuotaViolation{std::string(metric), std::string(limit), std::string(value), {}};
}

struct Verdict {
    Dimension dimension = Dimension::UNKNOWN;
    const QuotaViolation* winner = nullptr;
};

Verdict strictest(const std::vector<QuotaViolation>& all) {
    Verdict v;
    for (const auto& q : all) {
        auto d = dimension_of(q);
        if (!v.winner || rank(d) > rank(v.dimension)) {
            v.dimension = d;
            v.winner = &q;
        }
    }
    return v;
}

}  // namespace

std::vector<QuotaViolation> quota_violations(const ErrorBody& e) {
    std::vector<QuotaViolation> all = e.violations;
    if (auto info = violation_in_error_info(e)) all.push_back(std::move(*info));
    for (auto& v : violations_in_message(e.message)) all.push_back(std::move(v));
    return all;
}

Diagnosis classify_quota(int http_status, const ErrorBody& e, const Observation& obs,
                         SystemTime now) {
    std::vector<QuotaViolation> all = quota_violations(e);
    auto verdict = strictest(all);

    Diagnosis d;
    d.http_status = http_status;
    d.api_status = e.status;
    d.message = e.message;
    d.dimension = verdict.dimension;
    d.reason = !e.info_reason.empty() ? e.info_reason : e.legacy_reason;
    if (verdict.winner) {
        const auto& w = *verdict.winner;
        if (!w.id.empty()) d.reason = w.id;
        else if (d.reason.empty()) d.reason = w.metric;
    }

    AdviceFacts facts;
    facts.now = now;
    facts.model = obs.model;
    facts.image_size = obs.image_size;
    if (verdict.winner) facts.quota_model = verdict.winner->model;

    switch (verdict.dimension) {
    case Dimension::ZERO:   // no quota at all on this tier: waiting changes nothing
        d.code = Status::QUOTA_EXHAUSTED;
        d.retryable = false;
        break;
    case Dimension::RPD:    // comes back at midnight Pacific
        d.code = Status::QUOTA_EXHAUSTED;
        d.retryable = false;
        d.retry_after = std::chrono::ceil<Millis>(next_pacific_midnight(now) - now);
        break;
    default:                // per-minute, or a capacity 429 without details
        d.code = Status::RATE_LIMITED;
        d.retryable = true;
        d.retry_after = largest_server_delay(e, obs.headers, now);
        break;
    }
    d.advice = advice_for(d, facts);
    return d;
}

}  // namespace nbcore::policy::detail
