#include "flaky.hpp"

#include <cctype>

#include "nbcore/prompt.hpp"

namespace nbcore::emulator {
namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '\''; }

bool contains_word(const std::string& text, const std::string& term) {
    if (term.empty()) return false;
    for (std::size_t pos = text.find(term); pos != std::string::npos; pos = text.find(term, pos + 1)) {
        bool left = pos == 0 || !word_char(text[pos - 1]);
        std::size_t end = pos + term.size();
        bool right = end >= text.size() || !word_char(text[end]);
        if (left && right) return true;
    }
    return false;
}

bool all_terms(const std::string& text, const std::string& rule) {
    std::size_t start = 0;
    while (true) {
        std::size_t plus = rule.find('+', start);
        std::string term = lower(rule.substr(start, plus == std::string::npos ? std::string::npos : plus - start));
        while (!term.empty() && std::isspace(static_cast<unsigned char>(term.front()))) term.erase(term.begin());
        while (!term.empty() && std::isspace(static_cast<unsigned char>(term.back()))) term.pop_back();
        if (!contains_word(text, term)) return false;
        if (plus == std::string::npos) return true;
        start = plus + 1;
    }
}

}  // namespace

std::optional<std::string> flaky_match(std::string_view prompt, const FlakyRules& rules) {
    std::string text = lower(prompt);
    for (const auto& rule : rules.blank_when)
        if (all_terms(text, rule)) return "blank-when " + rule;
    if (rules.blank_over_subjects > 0) {
        int n = prompt::analyze(prompt).distinct_subjects;
        if (n > rules.blank_over_subjects)
            return std::to_string(n) + " distinct subjects > " + std::to_string(rules.blank_over_subjects);
    }
    return std::nullopt;
}

}  // namespace nbcore::emulator
