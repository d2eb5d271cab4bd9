// The nbcore-emulator binary: first line of stdout is the URL, it serves, it logs without keys,
// it stops cleanly on SIGTERM and SIGINT, and it refuses bad arguments with exit status 2.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <thread>
#include <fstream>

#include "common.hpp"

extern char** environ;

using namespace emutest;

namespace {

// The binary sits next to the tests in the build tree: build/emulator/nbcore-emulator.
std::string emulator_binary() {
    if (const char* env = std::getenv("NBCORE_EMULATOR_BIN")) return env;
    auto self = std::filesystem::read_symlink("/proc/self/exe");
    return (self.parent_path().parent_path() / "emulator" / "nbcore-emulator").string();
}

struct Child {
    pid_t pid = -1;
    int out = -1;   // stdout
    int err = -1;   // stderr

    // Reads stdout up to the first newline, waiting at most `timeout_ms`.
    std::string first_line(int timeout_ms = 5000) {
        std::string line;
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        while (std::chrono::steady_clock::now() < deadline) {
            pollfd p{out, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            char c = 0;
            if (::read(out, &c, 1) != 1) break;
            if (c == '\n') return line;
            line += c;
        }
        return line;
    }

    std::string drain_stderr() {
        std::string text;
        char buf[4096];
        ssize_t n;
        while ((n = ::read(err, buf, sizeof buf)) > 0) text.append(buf, static_cast<std::size_t>(n));
        return text;
    }

    // Exit status, or -1 when it did not exit within `timeout_ms`.
    int wait_exit(int timeout_ms = 5000) {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        while (std::chrono::steady_clock::now() < deadline) {
            int status = 0;
            if (::waitpid(pid, &status, WNOHANG) == pid) {
                pid = -1;
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return -1;
    }

    ~Child() {
        if (pid > 0) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
        if (out >= 0) ::close(out);
        if (err >= 0) ::close(err);
    }
};

void spawn(Child& child, std::vector<std::string> args, std::vector<std::string> env_extra = {}) {
    int out_pipe[2], err_pipe[2];
    REQUIRE(::pipe(out_pipe) == 0);
    REQUIRE(::pipe(err_pipe) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
    posix_spawn_file_actions_addclose(&actions, out_pipe[0]);
    posix_spawn_file_actions_addclose(&actions, err_pipe[0]);
    std::string binary = emulator_binary();
    REQUIRE(std::filesystem::exists(binary));
    args.insert(args.begin(), binary);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e)
        if (std::string(*e).rfind("NBCORE_EMULATOR_KEY=", 0) != 0) env_strings.emplace_back(*e);
    for (auto& e : env_extra) env_strings.push_back(e);
    std::vector<char*> envp;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    REQUIRE(posix_spawn(&child.pid, binary.c_str(), &actions, nullptr, argv.data(), envp.data()) == 0);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    child.out = out_pipe[0];
    child.err = err_pipe[0];
}

}  // namespace

TEST_CASE("cli: prints its URL, serves, logs without the key, exits 0 on SIGTERM", "[cli]") {
    Child child;
    spawn(child, {"--port", "0", "--key", "cli-secret-key-42", "--latency-ms", "1"});
    std::string url = child.first_line();
    REQUIRE_THAT(url, Catch::Matches("http://127\\.0\\.0\\.1:[0-9]+"));

    CHECK(get(url + "/_emulator/health").status == 200);
    auto r = post(url + "/v1beta/models/gemini-2.5-flash-image:generateContent?key=cli-secret-key-42", prompt_body("cli").dump());
    CHECK(r.status == 200);
    CHECK(post(url + "/v1beta/models/gemini-2.5-flash-image:generateContent", "{}", {"x-goog-api-key: test-key"}).status == 400);

    ::kill(child.pid, SIGTERM);
    CHECK(child.wait_exit() == 0);
    std::string log = child.drain_stderr();
    CHECK_THAT(log, Catch::Contains("POST /v1beta/models/gemini-2.5-flash-image:generateContent 200 pass"));
    CHECK_THAT(log, Catch::Contains("stopping (SIGTERM)"));
    CHECK(log.find("cli-secret-key-42") == std::string::npos);
}

TEST_CASE("cli: SIGINT, a script file and the key from the environment", "[cli]") {
    auto script = std::filesystem::temp_directory_path() / ("nbcore-emulator-test-" + std::to_string(::getpid()) + ".json");
    std::ofstream(script) << R"({"replies": ["503_overloaded"]})";
    Child child;
    spawn(child, {"--script", script.string()}, {"NBCORE_EMULATOR_KEY=env-key-123"});
    std::string url = child.first_line();
    REQUIRE_FALSE(url.empty());
    auto body = prompt_body("x").dump();
    CHECK(post(url + "/v1beta/models/gemini-2.5-flash-image:generateContent", body, {"x-goog-api-key: env-key-123"}).status == 503);
    CHECK(post(url + "/v1beta/models/gemini-2.5-flash-image:generateContent", body, {"x-goog-api-key: env-key-123"}).status == 200);
    ::kill(child.pid, SIGINT);
    CHECK(child.wait_exit() == 0);
    std::filesystem::remove(script);
}

TEST_CASE("cli: --ipm, --quota-tier and --batch-ms", "[cli][quota][batch]") {
    Child child;
    spawn(child, {"--ipm", "1", "--quota-tier", "paid", "--batch-ms", "0"});
    std::string url = child.first_line();
    REQUIRE_FALSE(url.empty());
    const std::string gen = url + "/v1beta/models/gemini-2.5-flash-image:generateContent";
    CHECK(post(gen, prompt_body("x").dump(), {kKeyHeader}).status == 200);
    auto over = post(gen, prompt_body("x").dump(), {kKeyHeader});
    CHECK(over.status == 429);
    CHECK_THAT(over.body, Catch::Contains("GenerateContentPaidTierOutputImagesPerModelPerMinute"));
    json batch = {{"batch", {{"displayName", "cli"},
                             {"inputConfig", {{"requests", {{"requests", {{{"request", prompt_body("x")}}}}}}}}}}};
    auto created = post(url + "/v1beta/models/gemini-2.5-flash-image:batchGenerateContent", batch.dump(), {kKeyHeader});
    REQUIRE(created.status == 200);
    auto name = json::parse(created.body)["name"].get<std::string>();
    auto done = json::parse(get(url + "/v1beta/" + name, {kKeyHeader}).body);
    CHECK(done["metadata"]["state"] == "BATCH_STATE_SUCCEEDED");   // --batch-ms 0: done at once
    ::kill(child.pid, SIGTERM);
    CHECK(child.wait_exit() == 0);
    CHECK_THAT(child.drain_stderr(), Catch::Contains("429 quota_ipm"));
}

TEST_CASE("cli: bad arguments and bad scripts exit 2 with a message", "[cli]") {
    auto run = [](std::vector<std::string> args) {
        Child child;
        spawn(child, std::move(args));
        int code = child.wait_exit();
        return std::make_pair(code, child.drain_stderr());
    };
    auto [unknown, unknown_msg] = run({"--frobnicate"});
    CHECK(unknown == 2);
    CHECK_THAT(unknown_msg, Catch::Contains("unknown option \"--frobnicate\""));
    CHECK(run({"--port", "70000"}).first == 2);
    CHECK(run({"--mime", "gif"}).first == 2);
    auto [tier, tier_msg] = run({"--quota-tier", "gold"});
    CHECK(tier == 2);
    CHECK_THAT(tier_msg, Catch::Contains("--quota-tier must be free or paid"));
    CHECK(run({"--batch-ms", "-1"}).first == 2);
    CHECK(run({"--ipm", "x"}).first == 2);
    CHECK(run({"--port"}).first == 2);
    auto [missing, missing_msg] = run({"--script", "/nonexistent/script.json"});
    CHECK(missing == 2);
    CHECK_THAT(missing_msg, Catch::Contains("cannot read script /nonexistent/script.json"));

    auto bad = std::filesystem::temp_directory_path() / ("nbcore-emulator-bad-" + std::to_string(::getpid()) + ".json");
    std::ofstream(bad) << R"({"replies": ["not_a_fault"]})";
    auto [invalid, invalid_msg] = run({"--script", bad.string()});
    CHECK(invalid == 2);
    CHECK_THAT(invalid_msg, Catch::Contains("unknown fault \"not_a_fault\""));
    std::filesystem::remove(bad);
}

TEST_CASE("cli: --version and --help", "[cli]") {
    Child version;
    spawn(version, {"--version"});
    CHECK_THAT(version.first_line(), Catch::StartsWith("nbcore-emulator "));
    CHECK(version.wait_exit() == 0);
    Child help;
    spawn(help, {"--help"});
    CHECK_THAT(help.first_line(), Catch::StartsWith("usage: nbcore-emulator"));
    CHECK(help.wait_exit() == 0);
}
