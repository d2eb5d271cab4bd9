#include "nbcore/redact.hpp"

namespace nbcore {
namespace {

constexpr std::string_view kMask = "[REDACTED]";

bool is_key_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

}  // namespace

std::string redact(std::string_view text, std::string_view key) {
    std::string out;
    out.reserve(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
        // The caller's own key, wherever it appears.
        if (key.size() >= 8 && text.compare(i, key.size(), key) == 0) {
            out += kMask;
            i += key.size();
            continue;
        }
        // Google API keys: "AIza" + 35 characters of [A-Za-z0-9_-].
        if (text.compare(i, 4, "AIza") == 0) {
            std::size_t j = i + 4;
            while (j < text.size() && is_key_char(text[j])) ++j;
            if (j - i >= 39) {
                out += kMask;
                i = j;
                continue;
            }
        }
        // URL parameters "key=..." (the legacy query form of the API key).
        if ((text[i] == '?' || text[i] == '&') && text.compare(i + 1, 4, "key=") == 0) {
            out.append(text.substr(i, 5));
            std::size_t j = i + 5;
            while (j < text.size() && text[j] != '&' && text[j] != ' ' && text[j] != '"' &&
                   text[j] != '\'' && text[j] != '\n')
                ++j;
            out += kMask;
            i = j;
            continue;
        }
        out += text[i++];
    }
    return out;
}

}  // namespace nbcore
