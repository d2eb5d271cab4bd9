// Runs one data-driven scenario (tests/cases/*.json) against the in-process emulator and checks
// what the client did: the outcome class, the attempts, the waits, and what it sent.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace nbcore::testing {

struct CaseOutcome {
    std::string name;
    std::string expected;   // status name
    std::string got;
    bool passed = false;
    std::vector<std::string> failures;   // one line per mismatch
};

// Loads every tests/cases/*.json, sorted by file name.
std::vector<std::pair<std::string, nlohmann::json>> load_cases(const std::string& dir);

CaseOutcome run_case(const std::string& file, const nlohmann::json& spec);

}  // namespace nbcore::testing
