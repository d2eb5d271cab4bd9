// Keys never leave the process in text: every message, log line and event goes through redact().
#pragma once

#include <string>
#include <string_view>

namespace nbcore {

// Replaces Google API keys (AIza followed by 35 key characters), `key` itself when given (at
// least 8 characters), and "key=..." URL parameters with "[REDACTED]".
std::string redact(std::string_view text, std::string_view key = {});

}  // namespace nbcore
