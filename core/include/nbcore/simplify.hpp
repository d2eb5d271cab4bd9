// The prompt simplifier: after a prompt came back blank or without an image, find which of its
// requirements makes it fail, within a request and a cost budget the caller sets.
//
// The method (docs/prompt-analysis.md, "Simplifying a prompt that fails"): the prompt is read into
// requirements (prompt.hpp); the core subject (the first subject) is always kept. Starting from the
// core alone, requirements are added back in prompt order, and a binary search over how many are
// added finds the first one whose addition makes the prompt fail. That requirement belongs to the
// minimal failing set; if the core plus the set found so far still works, the search repeats over
// the requirements before it, with the set always included, until the set fails on its own. One
// triggering requirement among n takes at most ceil(log2 n) + 2 requests; a pair that fails only
// together is found the same way. Each step is one generation whose blank or imageless answer is
// the verdict (no billed retry).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nbcore/client.hpp"
#include "nbcore/prompt.hpp"

namespace nbcore {

struct SimplifyOptions {
    int max_requests = 8;          // steps (generations) at most; >= 1
    double max_cost_usd = 1.0;     // worst-case spend at most, in US dollars; > 0
    std::string model;             // "" = the client's
    std::string aspect_ratio;
    std::string image_size;
    bool verify_original = false;  // spend one step confirming the whole prompt fails first
    CallOptions call;              // deadline and cancel token for each step
};

struct SimplifyStep {
    int number = 0;                       // 1-based
    std::string purpose;                  // "the core subject alone", "requirements 1..4", ...
    std::vector<int> requirements;        // indices into the analysis' requirements, in order
    std::string prompt;                   // as sent
    Status outcome = Status::OK;          // OK (works), NO_IMAGE / BLANK_IMAGE (fails), or what stopped it
    bool works = false;
    std::string reason;                   // the failure's reason, "" when it works
    double cost_usd = 0;                  // billed (failed steps: the worst case of each billed attempt)
    std::vector<Attempt> attempts;
};

struct SimplifyReport {
    prompt::Analysis analysis;
    std::vector<int> core;                // the requirements always kept (the core subject)
    std::vector<SimplifyStep> steps;      // every step, in order
    bool found = false;                   // the minimal failing set was established
    std::vector<int> minimal_failing;     // requirements that, with the core, make it fail; empty
                                          // with found = true means the core subject alone fails
    std::string minimal_failing_prompt;
    std::string largest_working_prompt;   // the largest prompt seen to work ("" when none did)
    std::vector<int> largest_working;
    int rounds_to_find = 0;               // steps spent until `found`
    std::string stopped;                  // why it ended early ("" when it finished): budget, error
    double cost_usd = 0;
    prompt::StagePlan plan;               // the staged alternative to simplifying
};

// The prompt made of the core plus `requirements` (indices), in prompt order, with the original
// text between neighbouring requirements. Pure.
std::string compose_prompt(std::string_view prompt, const prompt::Analysis& a, const std::vector<int>& requirements);

// Runs the search. Throws INVALID_ARG for an empty prompt or impossible budgets; every other
// outcome is in the report (a step that fails for another reason, such as quota, stops the search
// and says so in `stopped`).
SimplifyReport simplify(Client& client, std::string_view prompt, const SimplifyOptions& options = {});

// A report for people: the steps, the minimal failing set, the largest working prompt, the plan.
std::string format_simplify_report(const SimplifyReport& r);
std::string simplify_report_json(const SimplifyReport& r);

}  // namespace nbcore
