// The flaky-prompt mode: prompts that ask for too much answer blank (or without an image), by
// rules the caller sets, so simplification and staging can be tested exactly.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nbcore::emulator {

struct FlakyRules {
    // Each rule is one or more terms joined by '+': the prompt must contain every one of them
    // (case-insensitive, whole words) for the rule to fire. "goldfish", "cat+dog".
    std::vector<std::string> blank_when;
    int blank_over_subjects = 0;   // > 0: fire when the prompt has more distinct subjects
    bool any() const noexcept { return !blank_when.empty() || blank_over_subjects > 0; }
};

// Why the rules fire for this prompt ("blank-when cat+dog", "5 distinct subjects > 3"), or
// nullopt. Pure.
std::optional<std::string> flaky_match(std::string_view prompt, const FlakyRules& rules);

}  // namespace nbcore::emulator
