#include "connection.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

namespace nbcore::emulator {

thread_local Connection* tl_connection = nullptr;

namespace {

using Clock = std::chrono::steady_clock;

// Waits for `events` in short slices so that stop() is noticed within ~50 ms.
// 1 = ready, 0 = timed out, -1 = error or stopping.
int wait_fd(int fd, short events, int timeout_ms, const std::atomic<bool>& stopping) {
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        if (stopping.load()) return -1;
        pollfd p{fd, events, 0};
        int r = ::poll(&p, 1, 50);
        if (r > 0) return (p.revents & (events | POLLHUP | POLLERR)) ? 1 : -1;
        if (r < 0 && errno != EINTR) return -1;
        if (Clock::now() >= deadline) return 0;
    }
}

void address_of(int fd, bool peer, std::string& ip, int& port) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    int r = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len)
                 : ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    if (r != 0) return;
    char buf[INET6_ADDRSTRLEN] = {};
    if (addr.ss_family == AF_INET) {
        auto* a = reinterpret_cast<sockaddr_in*>(&addr);
        ::inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
        port = ntohs(a->sin_port);
    } else if (addr.ss_family == AF_INET6) {
        auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
        ::inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
        port = ntohs(a->sin6_port);
    }
    ip = buf;
}

// A socket stream for httplib that never blocks past a stop() and never raises SIGPIPE.
class ConnectionStream final : public httplib::Stream {
public:
    ConnectionStream(Connection& conn, const std::atomic<bool>& stopping) : conn_(conn), stopping_(stopping) {}

    bool is_readable() const override {
        return !conn_.dead && wait_fd(conn_.fd, POLLIN, kReadTimeoutMs, stopping_) > 0;
    }
    bool is_writable() const override {
        return !conn_.dead && wait_fd(conn_.fd, POLLOUT, kWriteTimeoutMs, stopping_) > 0;
    }

    ssize_t read(char* ptr, size_t size) override {
        // httplib reads request lines a byte at a time: serve those from a buffer.
        if (buffered_ < filled_) {
            size_t n = std::min(size, filled_ - buffered_);
            std::memcpy(ptr, buffer_ + buffered_, n);
            buffered_ += n;
            return static_cast<ssize_t>(n);
        }
        for (;;) {
            if (!is_readable()) return -1;
            ssize_t n = ::recv(conn_.fd, buffer_, sizeof buffer_, MSG_DONTWAIT);
            if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            if (n <= 0) return n;
            filled_ = static_cast<size_t>(n);
            buffered_ = 0;
            return read(ptr, size);
        }
    }

    ssize_t write(const char* ptr, size_t size) override {
        for (;;) {
            if (!is_writable()) return -1;
            ssize_t n = ::send(conn_.fd, ptr, size, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            return n;
        }
    }

    void get_remote_ip_and_port(std::string& ip, int& port) const override { address_of(conn_.fd, true, ip, port); }
    void get_local_ip_and_port(std::string& ip, int& port) const override { address_of(conn_.fd, false, ip, port); }
    socket_t socket() const override { return conn_.fd; }

private:
    Connection& conn_;
    const std::atomic<bool>& stopping_;
    char buffer_[4096];
    size_t filled_ = 0;
    size_t buffered_ = 0;
};

}  // namespace

void HttpServer::widen_backlog() { ::listen(svr_sock_, 1024); }

// The keep-alive loop of httplib's own process_and_close_socket(), with stop-aware waits and
// a choice of FIN or RST at the end.
bool HttpServer::process_and_close_socket(socket_t sock) {
    int one = 1;
    ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    Connection conn;
    conn.fd = sock;
    tl_connection = &conn;
    bool ok = true;
    for (std::size_t served = 0; served < kKeepAliveMaxRequests; ++served) {
        if (svr_sock_ == INVALID_SOCKET || wait_fd(sock, POLLIN, kKeepAliveSec * 1000, stopping_) <= 0) break;
        ConnectionStream stream(conn, stopping_);
        bool closed = false;
        ok = process_request(stream, served + 1 == kKeepAliveMaxRequests, closed, nullptr);
        if (!ok || closed || conn.dead) break;
    }
    tl_connection = nullptr;
    if (conn.reset) {
        // SO_LINGER {on, 0 s}: close() discards unsent data and sends RST instead of FIN.
        linger abort{1, 0};
        ::setsockopt(sock, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
    } else {
        ::shutdown(sock, SHUT_RDWR);
    }
    ::close(sock);
    return ok;
}

}  // namespace nbcore::emulator
