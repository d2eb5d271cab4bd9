// nbcore_cases: runs scenario files (tests/cases/*.json) through the real client against the
// in-process emulator. `nbcore_cases FILE...` checks the given files; with --matrix it prints the
// fault matrix (scenario, expected, got) for all of them. Exit status 1 when any case fails.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "case_runner.hpp"

int main(int argc, char** argv) {
    bool matrix = false;
    std::vector<std::string> files;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--matrix") == 0) matrix = true;
        else files.emplace_back(argv[i]);
    }
    if (files.empty()) {
        std::fprintf(stderr, "usage: nbcore_cases [--matrix] FILE.json...\n");
        return 2;
    }
    int failed = 0;
    std::vector<nbcore::testing::CaseOutcome> results;
    for (const auto& file : files) {
        std::ifstream f(file);
        if (!f) {
            std::fprintf(stderr, "%s: cannot read\n", file.c_str());
            ++failed;
            continue;
        }
        std::stringstream ss;
        ss << f.rdbuf();
        nlohmann::json spec;
        try {
            spec = nlohmann::json::parse(ss.str());
        } catch (const std::exception& e) {
            std::fprintf(stderr, "%s: not valid JSON: %s\n", file.c_str(), e.what());
            ++failed;
            continue;
        }
        auto r = nbcore::testing::run_case(std::filesystem::path(file).filename().string(), spec);
        if (!r.passed) {
            ++failed;
            std::fprintf(stderr, "FAIL %s (%s)\n", r.name.c_str(), file.c_str());
            for (const auto& why : r.failures) std::fprintf(stderr, "  - %s\n", why.c_str());
        }
        results.push_back(std::move(r));
    }
    if (matrix) {
        std::printf("fault matrix: %zu scenarios, %d failed\n%-52s %-16s %-16s\n", results.size(), failed,
                    "scenario", "expected", "got");
        for (const auto& r : results)
            std::printf("%-52.52s %-16s %-16s%s\n", r.name.c_str(), r.expected.c_str(), r.got.c_str(),
                        r.passed ? "" : "  FAIL");
    }
    return failed ? 1 : 0;
}
