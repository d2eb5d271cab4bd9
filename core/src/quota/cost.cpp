// The cost ledger's pure rules (cost.hpp): money, applied prices, worst case, cost of a reply,
// alert crossings and budget periods.
#include "nbcore/cost.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "nbcore/models.hpp"
#include "nbcore/policy.hpp"
#include "nbcore/quota.hpp"

namespace nbcore::quota {
namespace {

// The output tokens one image is billed as, for turning a per-image price into a per-token rate.
// Models the tables do not know are taken at the fewest tokens a known model bills per image
// (1120): the highest rate per token for a given price, never an under-count.
double tokens_per_image(std::string_view model, std::string_view size) {
    int t = output_image_tokens(model, size);
    if (t > 0) return t;
    int fewest = 0;
    for (const auto& m : image_models()) {
        for (auto sz : kImageSizes) {
            int n = output_image_tokens(m.id, m.supports_image_size ? sz : std::string_view{});
            if (n > 0 && (fewest == 0 || n < fewest)) fewest = n;
        }
    }
    return fewest > 0 ? fewest : 1;
}

const ImagePrice* dearest_image(const PriceTable& t, std::optional<Mode> mode, std::string_view model = {}) {
    const ImagePrice* best = nullptr;
    for (const auto& p : t.images()) {
        if (mode && p.mode != *mode) continue;
        if (!model.empty() && p.model != model) continue;
        if (!best || p.usd_per_image > best->usd_per_image) best = &p;
    }
    return best;
}

}  // namespace

MicroUsd micro_usd(double amount) { return static_cast<MicroUsd>(std::llround(amount * 1'000'000.0)); }

double usd(MicroUsd amount) noexcept { return static_cast<double>(amount) / 1'000'000.0; }

std::string format_usd(MicroUsd amount) {
    const bool negative = amount < 0;
    // Work on the magnitude as unsigned (INT64_MIN has no positive counterpart).
    unsigned long long mag = negative ? 0ULL - static_cast<unsigned long long>(amount) : static_cast<unsigned long long>(amount);
    unsigned long long whole = mag / 1'000'000ULL;
    unsigned long long frac = mag % 1'000'000ULL;

    std::string digits = std::to_string(whole);
    std::string grouped;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) grouped += ',';
        grouped += digits[i];
    }
    std::string f = std::to_string(frac);
    f.insert(0, 6 - f.size(), '0');
    while (f.size() > 2 && f.back() == '0') f.pop_back();   // at least cents, at most micro-dollars
    return std::string(negative ? "-$" : "$") + grouped + "." + f;
}

std::string_view mode_name(Mode m) noexcept { return m == Mode::Batch ? "batch" : "online"; }

// ---- applied prices ---------------------------------------------------------------------------

AppliedPrices prices_for(const PriceTable& table, const CostRequest& req) {
    AppliedPrices out;
    const std::string model = canonical_model_id(req.model);
    const std::string size = req.image_size.empty() ? std::string("1K") : req.image_size;

    // Image: the exact entry; else this model's dearest size in this mode (a size it lacks); else
    // its online price (batch not listed); else the dearest image the table knows.
    std::string price_model = model, price_size = size;
    if (auto exact = table.image_price(model, size, req.mode)) {
        out.usd_per_image = *exact;
    } else {
        out.fallback = true;
        const ImagePrice* p = dearest_image(table, req.mode, model);
        if (!p) {
            if (auto online = table.image_price(model, size, Mode::Online)) {
                out.usd_per_image = *online;
            } else {
                p = dearest_image(table, Mode::Online, model);
                if (!p) p = dearest_image(table, req.mode);
                if (!p) p = dearest_image(table, std::nullopt);
            }
        }
        if (p) {
            out.usd_per_image = p->usd_per_image;
            price_model = p->model;
            price_size = p->size;
        }
    }
    out.image_usd_per_token = out.usd_per_image / tokens_per_image(price_model, price_size);

    // Tokens: the exact entry; else this model's online rates; else the dearest rates known.
    if (auto exact = table.token_price(model, req.mode)) {
        out.input_per_million = exact->input_per_million;
        out.output_text_per_million = exact->output_text_per_million;
    } else if (auto online = table.token_price(model, Mode::Online)) {
        out.fallback = true;
        out.input_per_million = online->input_per_million;
        out.output_text_per_million = online->output_text_per_million;
    } else {
        out.fallback = true;
        for (const auto& p : table.tokens()) {
            out.input_per_million = std::max(out.input_per_million, p.input_per_million);
            out.output_text_per_million = std::max(out.output_text_per_million, p.output_text_per_million);
        }
    }
    return out;
}

CostEstimate worst_case_cost(const PriceTable& table, const CostRequest& req, const Allowance& allowance) {
    const AppliedPrices p = prices_for(table, req);
    const ModelInfo* info = find_model(req.model);
    const bool thinks = info ? info->thinking : true;   // an unknown model may think
    const std::int64_t text_out = std::max<std::int64_t>(0, allowance.text_tokens) +
                                  (thinks ? std::max<std::int64_t>(0, allowance.thinking_tokens) : 0);
    CostEstimate e;
    e.images = micro_usd(static_cast<double>(std::max<std::int64_t>(0, req.images)) * p.usd_per_image);
    e.input = micro_usd(static_cast<double>(std::max<std::int64_t>(0, req.input_tokens)) * p.input_per_million / 1e6);
    e.output_text = micro_usd(static_cast<double>(text_out) * p.output_text_per_million / 1e6);
    e.total = e.images + e.input + e.output_text;
    e.fallback_price = p.fallback;
    return e;
}

MicroUsd cost_of_usage(const PriceTable& table, const CostRequest& req, const Usage& usage) {
    const AppliedPrices p = prices_for(table, req);
    auto nonneg = [](std::int64_t v) { return static_cast<double>(std::max<std::int64_t>(0, v)); };
    const double input_tokens = nonneg(usage.prompt_tokens) + nonneg(usage.tool_use_prompt_tokens);
    double image_tokens = 0, text_tokens = 0;
    if (usage.candidates_details.empty()) {
        image_tokens = nonneg(usage.candidates_tokens);
    } else {
        image_tokens = nonneg(usage.candidates_tokens_for("IMAGE"));
        double detailed = 0;
        for (const auto& d : usage.candidates_details) detailed += nonneg(d.tokens);
        // Whatever is not IMAGE is text (the total may exceed the details' sum: count it as text).
        text_tokens = std::max(detailed, nonneg(usage.candidates_tokens)) - image_tokens;
        if (text_tokens < 0) text_tokens = 0;
    }
    text_tokens += nonneg(usage.thoughts_tokens);
    const double total = input_tokens * p.input_per_million / 1e6 + image_tokens * p.image_usd_per_token +
                         text_tokens * p.output_text_per_million / 1e6;
    return micro_usd(total);
}

// ---- caps and alerts --------------------------------------------------------------------------

std::string_view period_name(Period p) noexcept {
    switch (p) {
    case Period::Day: return "daily";
    case Period::Month: return "monthly";
    case Period::Total: return "total";
    }
    return "total";
}

std::optional<MicroUsd> BudgetCaps::get(Period p) const {
    const std::optional<double>* v = nullptr;
    switch (p) {
    case Period::Day: v = &daily_usd; break;
    case Period::Month: v = &monthly_usd; break;
    case Period::Total: v = &total_usd; break;
    }
    if (!v || !v->has_value()) return std::nullopt;
    return micro_usd(**v);
}

std::vector<int> alert_crossings(MicroUsd before, MicroUsd after, MicroUsd cap, const std::vector<int>& already) {
    std::vector<int> out;
    if (cap <= 0 || after <= before) return out;
    // Amounts beyond $92 billion are clamped so the products below cannot overflow.
    constexpr MicroUsd kMax = std::numeric_limits<MicroUsd>::max() / 100;
    auto clamp = [&](MicroUsd v) { return std::clamp<MicroUsd>(v, -kMax, kMax); };
    before = clamp(before);
    after = clamp(after);
    cap = clamp(cap);
    for (int level : kAlertLevels) {
        // before < level% of cap <= after, in integers.
        const MicroUsd threshold = cap * level;
        const bool crossed = before * 100 < threshold && threshold <= after * 100;
        if (crossed && std::find(already.begin(), already.end(), level) == already.end()) out.push_back(level);
    }
    return out;
}

SystemTime period_start(Period p, SystemTime now) {
    switch (p) {
    case Period::Day: return pacific_day_start(now);
    case Period::Month: return pacific_month_start(now);
    case Period::Total: return SystemTime{};
    }
    return SystemTime{};
}

std::optional<SystemTime> period_end(Period p, SystemTime now) {
    switch (p) {
    case Period::Day: return policy::next_pacific_midnight(now);
    case Period::Month: return next_pacific_month_start(now);
    case Period::Total: return std::nullopt;
    }
    return std::nullopt;
}

}  // namespace nbcore::quota
