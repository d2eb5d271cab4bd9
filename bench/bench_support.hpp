// What the benchmarks share: peak-memory readings from /proc, and the emulator as a separate
// process (so its CPU and memory are never counted as the client's).
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
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

// CPU seconds (user + system) of this whole process.
inline double process_cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
    return s(ru.ru_utime) + s(ru.ru_stime);
}

// CPU seconds of this process's threads named `name` (nbcore names its threads "nbcore-io" and
// "nbcore-worker"): utime + stime from /proc/self/task/*/stat. -1 when /proc is not there.
inline double thread_cpu_seconds(const std::string& name) {
    double total = 0;
    const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
    DIR* d = opendir("/proc/self/task");
    if (!d) return -1;
    while (dirent* e = readdir(d)) {
        if (e->d_name[0] == '.') continue;
        const std::string base = std::string("/proc/self/task/") + e->d_name;
        std::string comm;
        std::getline(std::ifstream(base + "/comm"), comm);
        if (comm != name) continue;
        std::ifstream f(base + "/stat");
        std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        auto close = all.rfind(')');
        if (close == std::string::npos) continue;
        // Fields after the command: state(3) ... utime(14) stime(15).
        std::vector<std::string> fields;
        for (std::size_t pos = close + 2; pos < all.size();) {
            auto sp = all.find(' ', pos);
            fields.push_back(all.substr(pos, sp - pos));
            if (sp == std::string::npos) break;
            pos = sp + 1;
        }
        if (fields.size() > 12) total += (std::stod(fields[11]) + std::stod(fields[12])) / tick;
    }
    closedir(d);
    return total;
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
