// nbcore-emulator's command line: parse flags, start the server, print the URL, wait for a
// signal. Exit codes: 0 after SIGINT/SIGTERM, 1 when the address cannot be bound, 2 for bad
// arguments or an unreadable or invalid script.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>

#include <pthread.h>

#include "faults.hpp"
#include "nbcore_emulator/emulator.hpp"

#ifndef NBCORE_EMULATOR_VERSION
#define NBCORE_EMULATOR_VERSION "0.0.0"
#endif

namespace nbcore::emulator {
namespace {

constexpr const char* kUsage =
    "usage: nbcore-emulator [options]\n"
    "\n"
    "A Gemini-compatible server for offline tests: the AI Studio and Vertex generateContent\n"
    "routes, the Batch and Files APIs, real error bodies, deterministic images, scripted faults.\n"
    "\n"
    "options:\n"
    "  --host H          address to listen on (default 127.0.0.1)\n"
    "  --port N          port, 0 = any free port (default 0)\n"
    "  --key KEY         the one valid API key (default test-key; also NBCORE_EMULATOR_KEY);\n"
    "                    an empty KEY accepts any non-empty key\n"
    "  --bearer TOKEN    the one valid Vertex Bearer token (default: any non-empty token)\n"
    "  --script FILE     reply script to start with (JSON; see docs/emulator.md)\n"
    "  --latency-ms N    added before every generated answer (default 0)\n"
    "  --threads N       connections served at once (default 64)\n"
    "  --grain N         film grain 0..64 in generated images (default 0)\n"
    "  --mime M          auto (Flash png, Pro jpeg), png or jpeg (default auto)\n"
    "  --no-gzip         never gzip answers (by default they are gzipped when accepted)\n"
    "  --rpm N           enforce N requests per minute per key and model (429 when over;\n"
    "                    default off)\n"
    "  --tpm N           enforce N input tokens per minute per key and model\n"
    "  --ipm N           enforce N output images per minute per key and model\n"
    "  --rpd N           enforce N requests per day per key and model (the day ends at\n"
    "                    midnight Pacific)\n"
    "  --quota-tier T    free or paid: the quota ids enforced 429s name (default free)\n"
    "  --batch-ms N      batch jobs run PENDING -> RUNNING -> SUCCEEDED in N ms (default 3000)\n"
    "  --blank-when T    answer blank when the prompt has the word(s) T; 'cat+dog' needs both\n"
    "                    (repeatable: any rule fires)\n"
    "  --blank-over-subjects K  answer blank when the prompt has more than K distinct subjects\n"
    "  --flaky-answer A  what those prompts get: blank (default) or no_image\n"
    "  --help            this text\n"
    "  --version         the version\n"
    "\n"
    "The first line on stdout is the URL it listens on. Control routes: POST /_emulator/script,\n"
    "POST /_emulator/reset, GET /_emulator/requests, GET /_emulator/health, GET or POST /_emulator/quota.\n";

struct CliError {
    std::string message;
};

int parse_int(const std::string& flag, const std::string& value, int lo, int hi) {
    try {
        std::size_t used = 0;
        long v = std::stol(value, &used);
        if (used == value.size() && v >= lo && v <= hi) return static_cast<int>(v);
    } catch (const std::exception&) {
    }
    throw CliError{flag + " needs a number from " + std::to_string(lo) + " to " + std::to_string(hi) + ", not \"" + value + "\""};
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw CliError{"cannot read script " + path};
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) throw CliError{"cannot read script " + path};
    return text.str();
}

std::string fault_list() {
    std::string s = "named faults:\n";
    for (const auto& f : fault_table()) {
        s += "  " + std::string(f.name);
        s.append(f.name.size() < 22 ? 22 - f.name.size() : 1, ' ');
        s += std::string(f.summary) + "\n";
    }
    return s;
}

enum class Action { Run, Help, Version };

// Fills `o`; throws CliError on anything it does not understand.
Action parse_args(int argc, char** argv, Options& o) {
    std::optional<std::string> key;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        std::string value;
        bool has_inline = false;
        if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
            value = arg.substr(eq + 1);
            arg = arg.substr(0, eq);
            has_inline = true;
        }
        auto next = [&]() -> std::string {
            if (has_inline) return value;
            if (i + 1 >= argc) throw CliError{arg + " needs a value"};
            return argv[++i];
        };
        if (arg == "--help" || arg == "-h") return Action::Help;
        if (arg == "--version") return Action::Version;
        if (arg == "--host") o.host = next();
        else if (arg == "--port") o.port = parse_int(arg, next(), 0, 65535);
        else if (arg == "--key") key = next();
        else if (arg == "--bearer") o.bearer_token = next();
        else if (arg == "--script") o.script_json = read_file(next());
        else if (arg == "--latency-ms") o.latency_ms = parse_int(arg, next(), 0, 3600000);
        else if (arg == "--threads") o.threads = parse_int(arg, next(), 1, 4096);
        else if (arg == "--grain") o.grain = parse_int(arg, next(), 0, 64);
        else if (arg == "--no-gzip" && !has_inline) o.gzip = false;
        else if (arg == "--rpm") o.rpm_limit = parse_int(arg, next(), 0, 1000000000);
        else if (arg == "--tpm") o.tpm_limit = parse_int(arg, next(), 0, 2000000000);
        else if (arg == "--ipm") o.ipm_limit = parse_int(arg, next(), 0, 1000000000);
        else if (arg == "--rpd") o.rpd_limit = parse_int(arg, next(), 0, 1000000000);
        else if (arg == "--batch-ms") o.batch_ms = parse_int(arg, next(), 0, 86400000);
        else if (arg == "--blank-when") {
            std::string rule = next();
            if (rule.empty() || rule.front() == '+' || rule.back() == '+' || rule.find("++") != std::string::npos)
                throw CliError{"--blank-when needs words, or words joined by '+', not \"" + rule + "\""};
            o.blank_when.push_back(rule);
        }
        else if (arg == "--blank-over-subjects") o.blank_over_subjects = parse_int(arg, next(), 1, 1000);
        else if (arg == "--flaky-answer") {
            o.flaky_answer = next();
            if (o.flaky_answer != "blank" && o.flaky_answer != "no_image")
                throw CliError{"--flaky-answer must be blank or no_image, not \"" + o.flaky_answer + "\""};
        }
        else if (arg == "--quota-tier") {
            o.quota_tier = next();
            if (o.quota_tier != "free" && o.quota_tier != "paid")
                throw CliError{"--quota-tier must be free or paid, not \"" + o.quota_tier + "\""};
        }
        else if (arg == "--mime") {
            o.mime = next();
            if (o.mime != "auto" && o.mime != "png" && o.mime != "jpeg")
                throw CliError{"--mime must be auto, png or jpeg, not \"" + o.mime + "\""};
        } else {
            throw CliError{"unknown option \"" + arg + "\" (see --help)"};
        }
    }
    if (key) o.api_key = *key;
    else if (const char* env = std::getenv("NBCORE_EMULATOR_KEY")) o.api_key = env;
    return Action::Run;
}

}  // namespace

int run_cli(int argc, char** argv) {
    Options opts;
    try {
        switch (parse_args(argc, argv, opts)) {
            case Action::Help:
                std::cout << kUsage << "\n" << fault_list();
                return 0;
            case Action::Version:
                std::cout << "nbcore-emulator " << NBCORE_EMULATOR_VERSION << "\n";
                return 0;
            case Action::Run: break;
        }
    } catch (const CliError& e) {
        std::cerr << "nbcore-emulator: " << e.message << "\n";
        return 2;
    }

    // A reader that goes away (`| head -1`) must not kill the server through SIGPIPE.
    std::signal(SIGPIPE, SIG_IGN);
    // Block the stop signals before any server thread exists, so only sigwait() sees them.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    static std::mutex stderr_mutex;
    opts.on_log = [](std::string_view line) {
        std::lock_guard lock(stderr_mutex);
        std::cerr << line << "\n";
    };

    std::optional<Server> server;
    try {
        server.emplace(opts);
    } catch (const std::invalid_argument& e) {
        std::cerr << "nbcore-emulator: " << e.what() << "\n";
        return 2;
    }
    try {
        server->start();
    } catch (const std::exception& e) {
        std::cerr << "nbcore-emulator: " << e.what() << "\n";
        return 1;
    }
    std::cout << server->url() << std::endl;   // scripts read this line: flush now
    {
        std::lock_guard lock(stderr_mutex);
        std::cerr << "nbcore-emulator " << NBCORE_EMULATOR_VERSION << " listening on " << server->url()
                  << (opts.api_key.empty() ? " (any API key accepted)" : "") << "\n";
    }

    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    {
        std::lock_guard lock(stderr_mutex);
        std::cerr << "nbcore-emulator: stopping (" << (signal_number == SIGINT ? "SIGINT" : "SIGTERM") << ")\n";
    }
    server->stop();
    return 0;
}

}  // namespace nbcore::emulator
