// The cost ledger's rules, as pure functions: the price table (data, overridable), the worst case
// a request may cost, what a reply actually cost from its usageMetadata, and which soft alerts a
// change in spend crosses. Money is kept in whole micro-dollars so sums never drift.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nbcore/clock.hpp"
#include "nbcore/reply.hpp"

namespace nbcore::quota {

using MicroUsd = std::int64_t;   // 1 USD = 1,000,000

MicroUsd micro_usd(double usd);               // rounded to the nearest micro-dollar
double usd(MicroUsd amount) noexcept;
std::string format_usd(MicroUsd amount);      // "$0.134", "$12.50", "$1,234.00"

enum class Mode { Online, Batch };            // generateContent, or the Batch API (half price)
std::string_view mode_name(Mode m) noexcept;  // "online", "batch"

// ---- prices ----------------------------------------------------------------------------------

struct ImagePrice {
    std::string model;
    std::string size;             // "1K", "2K", "4K" ("" is read as "1K", the API's default)
    Mode mode = Mode::Online;
    double usd_per_image = 0;
};

struct TokenPrice {
    std::string model;
    Mode mode = Mode::Online;
    double input_per_million = 0;         // text and image input tokens
    double output_text_per_million = 0;   // text output and thinking tokens
};

// A price table: per model x image size x mode for images, per model x mode for tokens. Plain
// data; defaults() holds the published prices (see prices.cpp), and a caller may override any
// entry or add models, e.g. from JSON:
//   {"models": {"gemini-3-pro-image-preview": {
//      "online": {"input_per_million": 2.0, "output_text_per_million": 12.0,
//                 "image": {"1K": 0.134, "2K": 0.134, "4K": 0.24}},
//      "batch":  {"image": {"4K": 0.12}}}}}
// Fields left out keep their current value.
class PriceTable {
public:
    static PriceTable defaults();
    static PriceTable none();                           // empty
    // Overrides on top of `base`. Throws Error INVALID_ARG naming the bad field.
    static PriceTable from_json(std::string_view json, PriceTable base = defaults());
    static PriceTable from_file(const std::string& path, PriceTable base = defaults());
    std::string to_json() const;

    void set_image_price(std::string_view model, std::string_view size, Mode mode, double usd_per_image);
    void set_token_price(std::string_view model, Mode mode, double input_per_million,
                         double output_text_per_million);

    // Exact entries; nullopt when the table has none.
    std::optional<double> image_price(std::string_view model, std::string_view size, Mode mode) const;
    std::optional<TokenPrice> token_price(std::string_view model, Mode mode) const;

    const std::vector<ImagePrice>& images() const noexcept { return images_; }
    const std::vector<TokenPrice>& tokens() const noexcept { return tokens_; }

private:
    std::vector<ImagePrice> images_;
    std::vector<TokenPrice> tokens_;
};

// What a request asks for, as far as money goes.
struct CostRequest {
    std::string model;
    std::string image_size;           // "" = 1K
    Mode mode = Mode::Online;
    std::int64_t input_tokens = 0;    // estimate (quota::estimate_demand)
    std::int64_t images = 1;          // output images expected
};

// Output text the worst case allows for: thinking models think before they draw (their thinking
// tokens are billed at the text output rate), and either model may add a caption.
struct Allowance {
    std::int64_t thinking_tokens = 2000;   // models that think (Pro)
    std::int64_t text_tokens = 300;        // every model
};

// The prices a request is charged at. Missing entries are never free: a size the model lacks is
// charged at the model's dearest size, a missing batch price at the online one, and a model the
// table does not know as the dearest image and token rates the table holds; `fallback` says so.
struct AppliedPrices {
    double usd_per_image = 0;
    double image_usd_per_token = 0;       // usd_per_image / output tokens per image at that size
    double input_per_million = 0;
    double output_text_per_million = 0;
    bool fallback = false;
};
AppliedPrices prices_for(const PriceTable& table, const CostRequest& req);

struct CostEstimate {
    MicroUsd images = 0;        // images x price at the requested size
    MicroUsd input = 0;         // estimated input tokens
    MicroUsd output_text = 0;   // thinking + text allowance
    MicroUsd total = 0;
    bool fallback_price = false;
};

// Pure: the most a request is expected to cost; reserved before it is sent.
CostEstimate worst_case_cost(const PriceTable& table, const CostRequest& req, const Allowance& allowance = {});

// Pure: what a reply cost, from usageMetadata: prompt (and tool-use prompt) tokens at the input
// rate; IMAGE candidate tokens at the image rate per token (so a standard image costs exactly its
// listed price); other candidate tokens and thinking tokens at the text output rate. Cached
// tokens are charged in full (an overestimate, never an under-count). Replies without per-modality
// detail charge all candidate tokens at the image rate. Blocked or imageless replies that carry
// usage are billed like any other.
MicroUsd cost_of_usage(const PriceTable& table, const CostRequest& req, const Usage& usage);

// ---- caps and alerts -------------------------------------------------------------------------

enum class Period { Day, Month, Total };      // Pacific day, Pacific calendar month, all time
std::string_view period_name(Period p) noexcept;   // "daily", "monthly", "total"

struct BudgetCaps {
    std::optional<double> daily_usd;
    std::optional<double> monthly_usd;
    std::optional<double> total_usd;
    std::optional<MicroUsd> get(Period p) const;   // in micro-dollars
};

inline constexpr int kAlertLevels[] = {50, 80, 100};   // percent of a cap

struct BudgetAlert {
    Period period = Period::Day;
    int percent = 0;                  // 50, 80 or 100
    MicroUsd committed = 0;           // spent + held in the period, after the change
    MicroUsd cap = 0;
    SystemTime period_start{};
};

// Pure: the alert levels that moving from `before` to `after` crosses upwards (before < level
// <= after), skipping those in `already` (each level is reported once per period).
std::vector<int> alert_crossings(MicroUsd before, MicroUsd after, MicroUsd cap, const std::vector<int>& already);

// Start of the period holding `now` (Total: the epoch) and when the next one starts
// (Total: nullopt).
SystemTime period_start(Period p, SystemTime now);
std::optional<SystemTime> period_end(Period p, SystemTime now);

}  // namespace nbcore::quota
