// Tier presets: the limits the governor plans with before the server has said anything.
//
// Where the numbers come from. Google's rate-limits page (ai.google.dev/gemini-api/docs/rate-limits)
// states the rules (limits per project, not per key; RPM, input TPM and RPD, plus IPM for image
// models; RPD resets at midnight Pacific; preview models get tighter limits) but no longer
// publishes a table: it sends each project to AI Studio for its live numbers. So these presets are
// deliberately conservative planning figures, and every number here gives way to what a 429 states
// (QuotaFailure quotaValue, "limit: N") the moment the server says it (quota.hpp). Callers who know
// their project's numbers pass them as custom limits, which overlay the preset.
//
//   free   RPM 5..10, RPD 100, TPM 15,000: the project's planning figures for the free tier
//          (the older public table listed 10 RPM / 100 RPD for Gemini 2.0 Flash image generation,
//          and 15,000 TPM is the smallest free-tier TPM it listed).
//   tier1  up to 300 RPM, 10,000 RPD, 100,000 TPM: the project's planning figures for Tier 1
//          (billing linked).
//   tier2, tier3  "higher": Tier 2 and Tier 3 unlock at $250 and $1,000 of cumulative spend
//          (rate-limits page); we plan with 2x and 4x Tier 1, a guess the server corrects.
//
// Per model, where the reference (shared/reference/gemini-wire.md) has evidence:
//   gemini-3-pro-image-preview on the free tier: no quota at all. The pricing page lists the free
//          tier as not available, and live 429s say "limit: 0, model: gemini-3-pro-image"
//          (continuedev/continue#9570, gemini-wire.md 4.6). Preset 0 refuses locally with a
//          zero-quota verdict instead of spending a request to learn it.
//   gemini-3-pro-image-preview on paid tiers: a preview model, so tighter (rate-limits page), but
//          the reference has no number. It gets the tier's general figures: a guess above the real
//          limit costs one 429 and is then corrected (quotaValue, or AIMD); a guess below it would
//          throttle silently forever, since no 429 would ever say otherwise.
//   gemini-2.5-flash-image on the free tier: free-tier 429s for this model carry per-minute and
//          per-day violations (gemini-cli#8437), so it had free quota; the pricing page now says
//          "Free tier: Not available". We keep the free figures (10 RPM, 100 RPD); a "limit: 0"
//          answer is then learned and held locally (LearnConfig::zero_hold).
//   IPM: image models count images per minute too; one request yields one image, so IPM is
//          planned equal to RPM.
#include <array>

#include "nbcore/models.hpp"
#include "nbcore/quota.hpp"

namespace nbcore::quota {
namespace {

constexpr std::array<std::string_view, 4> kTierNames = {"free", "tier1", "tier2", "tier3"};

struct TierRow {
    std::string_view tier;
    std::string_view model;   // "" = every model without its own row
    std::int64_t rpm, tpm, ipm, rpd;
};

constexpr TierRow kRows[] = {
    // free: the conservative end (5 RPM) for models without evidence of their own.
    {"free", "", 5, 15'000, 5, 100},
    {"free", kModelFlash, 10, 15'000, 10, 100},
    {"free", kModelPro, 0, 0, 0, 0},
    // tier1: billing linked.
    {"tier1", "", 300, 100'000, 300, 10'000},
    // tier2: 2x tier1.
    {"tier2", "", 600, 200'000, 600, 20'000},
    // tier3: 4x tier1.
    {"tier3", "", 1'200, 400'000, 1'200, 40'000},
};

}  // namespace

std::span<const std::string_view> tier_names() noexcept { return kTierNames; }

std::optional<Limits> tier_limits(std::string_view tier, std::string_view model) {
    const std::string id = canonical_model_id(model);
    const TierRow* general = nullptr;
    for (const auto& row : kRows) {
        if (row.tier != tier) continue;
        if (row.model == id) return Limits{row.rpm, row.tpm, row.ipm, row.rpd};
        if (row.model.empty()) general = &row;
    }
    if (!general) return std::nullopt;
    return Limits{general->rpm, general->tpm, general->ipm, general->rpd};
}

}  // namespace nbcore::quota
