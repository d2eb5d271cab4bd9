// A throwaway redis-server on loopback for the tests and benchmarks of the Redis state backend:
// started on a free port with no persistence, stopped (and restartable on the same port) at will.
// No system service is needed; when redis-server is not installed, available() says so and the
// callers skip with a message.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace nbcore_test {

inline std::string find_redis_server() {
    if (const char* p = std::getenv("NBCORE_TEST_REDIS_SERVER"); p && *p) return p;
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/bin:/bin";
    dirs += ":/usr/sbin:/usr/local/bin";
    std::size_t start = 0;
    while (start <= dirs.size()) {
        std::size_t end = dirs.find(':', start);
        if (end == std::string::npos) end = dirs.size();
        std::string candidate = dirs.substr(start, end - start) + "/redis-server";
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
        start = end + 1;
    }
    return {};
}

// A port nothing listens on right now (the kernel's pick).
inline int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

inline bool port_accepts(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
}

// What a TLS-only server is started with (its tls-cert-file, tls-key-file, tls-ca-cert-file).
// Redis then asks every client for a certificate signed by `ca` (tls-auth-clients yes).
struct RedisTlsFiles {
    std::string cert, key, ca;
};

class RedisServer {
public:
    // data_dir empty: nothing persisted (a restart starts empty). Else an append-only file there,
    // fsynced on every write, so a stop and restart keeps every count, as in production.
    explicit RedisServer(std::string data_dir = {})
        : binary_(find_redis_server()), port_(free_port()), data_dir_(std::move(data_dir)) {
        if (!binary_.empty()) start();
    }
    // TLS only: the plain port is closed (--port 0) and port() is the tls-port.
    explicit RedisServer(RedisTlsFiles tls)
        : binary_(find_redis_server()), port_(free_port()), tls_(std::move(tls)) {
        if (!binary_.empty()) start();
    }
    ~RedisServer() { stop(); }
    RedisServer(const RedisServer&) = delete;
    RedisServer& operator=(const RedisServer&) = delete;

    bool available() const { return !binary_.empty(); }
    static const char* missing_message() {
        return "redis-server not found (install Debian's redis-server, as scripts/install-deps does, or set "
               "NBCORE_TEST_REDIS_SERVER): the Redis state tests are skipped";
    }
    int port() const { return port_; }
    std::string url(int db = 0) const { return "redis://127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db); }

    void start() {
        if (pid_ > 0) return;
        // Everything the child needs is built first: between fork() and exec it must not
        // allocate, since another thread of this process may hold the allocator's lock.
        const std::vector<std::string> args = arguments();
        std::vector<char*> argv;
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        pid_ = ::fork();
        if (pid_ == 0) {
            // Dies with the test; its chatter does not hold the test's output pipe open.
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            int null = ::open("/dev/null", O_RDWR);
            ::dup2(null, 1);
            ::dup2(null, 2);
            ::execv(binary_.c_str(), argv.data());
            ::_exit(127);
        }
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!port_accepts(port_)) {
            if (std::chrono::steady_clock::now() > until) throw std::runtime_error("redis-server did not start");
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }

    // Stops the server (SIGTERM: a clean shutdown) and waits until it is gone.
    void stop() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }

private:
    std::vector<std::string> arguments() const {
        const std::string port = std::to_string(port_);
        std::vector<std::string> a{"redis-server", "--bind", "127.0.0.1", "--save", "", "--loglevel", "warning"};
        if (tls_.cert.empty()) a.insert(a.end(), {"--port", port});
        else
            a.insert(a.end(), {"--port", "0", "--tls-port", port, "--tls-cert-file", tls_.cert, "--tls-key-file", tls_.key,
                               "--tls-ca-cert-file", tls_.ca});
        if (data_dir_.empty()) a.insert(a.end(), {"--appendonly", "no"});
        else a.insert(a.end(), {"--appendonly", "yes", "--appendfsync", "always", "--dir", data_dir_});
        return a;
    }

    std::string binary_;
    int port_;
    std::string data_dir_;
    RedisTlsFiles tls_;
    pid_t pid_ = -1;
};

}  // namespace nbcore_test
