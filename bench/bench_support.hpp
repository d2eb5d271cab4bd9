// What the benchmarks share: peak-memory readings from /proc, and the emulator as a separate
// process (so its CPU and memory are never counted as the client's).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace bench {

// A field of /proc/self/status in kB ("VmRSS:", "VmHWM:"), or -1.
inline long status_kb(const char* field) {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind(field, 0) == 0) return std::strtol(line.c_str() + std::strlen(field) + 1, nullptr, 10);
    return -1;
}

// Resets VmHWM to the current RSS, so the next reading is the peak of what follows.
inline bool reset_peak() {
    std::ofstream f("/proc/self/clear_refs");
    f << "5";
    return static_cast<bool>(f);
}

// nbcore-emulator in a child process; stopped (SIGTERM) when this goes.
class EmulatorProcess {
public:
    EmulatorProcess() = default;
    EmulatorProcess(const EmulatorProcess&) = delete;
    EmulatorProcess& operator=(const EmulatorProcess&) = delete;
    ~EmulatorProcess() { stop(); }

    // Starts `path --port 0 args...` and reads the URL it prints first. Its stderr (the request
    // log) goes to /dev/null so it never interleaves with a table.
    bool start(const std::string& path, const std::vector<std::string>& args) {
        int fds[2];
        if (pipe(fds) != 0) return false;
        pid_ = fork();
        if (pid_ == 0) {
            dup2(fds[1], 1);
            close(fds[0]);
            int devnull = open("/dev/null", O_WRONLY);
            if (devnull >= 0) dup2(devnull, 2);
            std::vector<char*> argv{const_cast<char*>(path.c_str()), const_cast<char*>("--port"),
                                    const_cast<char*>("0")};
            for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
            argv.push_back(nullptr);
            execv(path.c_str(), argv.data());
            _exit(127);
        }
        close(fds[1]);
        char buf[256];
        ssize_t n = read(fds[0], buf, sizeof buf - 1);
        close(fds[0]);
        if (n <= 0) return false;
        buf[n] = 0;
        url_ = std::string(buf, strcspn(buf, "\r\n"));
        return url_.rfind("http", 0) == 0;
    }

    void stop() {
        if (pid_ > 0) {
            kill(pid_, SIGTERM);
            waitpid(pid_, nullptr, 0);
            pid_ = -1;
        }
    }

    const std::string& url() const { return url_; }

private:
    pid_t pid_ = -1;
    std::string url_;
};

}  // namespace bench
