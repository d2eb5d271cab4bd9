#include "script_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace nbtest {
namespace {

constexpr int kPollSliceMs = 20;   // how often blocked server loops look at the stop flag

bool iequals(const std::string& a, const std::string& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

bool has(const Headers& h, const std::string& name) {
    for (const auto& kv : h)
        if (iequals(kv.first, name)) return true;
    return false;
}

int bind_loopback(int* port_out) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("socket failed");
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        throw std::runtime_error("bind failed");
    }
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    *port_out = ntohs(addr.sin_port);
    return fd;
}

}  // namespace

std::string http_head(int status, const Headers& headers) {
    std::string s = "HTTP/1.1 " + std::to_string(status) + (status == 200 ? " OK" : " Status") + "\r\n";
    for (const auto& [name, value] : headers) s += name + ": " + value + "\r\n";
    return s + "\r\n";
}

Action reply(int status, const std::string& body, Headers headers) {
    if (!has(headers, "Content-Length") && !has(headers, "Transfer-Encoding"))
        headers.emplace_back("Content-Length", std::to_string(body.size()));
    if (!has(headers, "Connection")) headers.emplace_back("Connection", "close");
    Action a;
    a.pieces.push_back({0ms, http_head(status, headers) + body});
    return a;
}

Action close_without_answer() { return Action{}; }

Action never_answer() {
    Action a;
    a.ending = Ending::Hang;
    return a;
}

std::string chunk(const std::string& data) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    return size + data + "\r\n";
}

std::string gzip(const std::string& data) {
    z_stream zs{};
    if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        throw std::runtime_error("deflateInit2 failed");
    std::string out(deflateBound(&zs, static_cast<uLong>(data.size())), '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    zs.avail_in = static_cast<uInt>(data.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    int rc = deflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) throw std::runtime_error("deflate failed");
    return out;
}

int closed_port() {
    int port = 0;
    ::close(bind_loopback(&port));
    return port;
}

ScriptServer::ScriptServer() {
    listen_fd_ = bind_loopback(&port_);
    if (::listen(listen_fd_, 1024) != 0) throw std::runtime_error("listen failed");
    acceptor_ = std::thread([this] { accept_loop(); });
}

ScriptServer::~ScriptServer() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    acceptor_.join();
    for (auto& t : workers_) t.join();   // the acceptor has stopped adding workers
    ::close(listen_fd_);
}

std::string ScriptServer::url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void ScriptServer::push(Action a) {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(a));
}

void ScriptServer::set_default(Action a) {
    std::lock_guard<std::mutex> lock(mu_);
    default_ = std::move(a);
}

std::vector<RecordedRequest> ScriptServer::requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
}

bool ScriptServer::wait_for_requests(std::size_t n, milliseconds timeout) const {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
}

bool ScriptServer::nap(milliseconds d) {
    if (d.count() <= 0) return !stopping_;
    std::unique_lock<std::mutex> lock(mu_);
    return !cv_.wait_for(lock, d, [&] { return stopping_.load(); });
}

bool ScriptServer::wait_readable(int fd) {
    while (!stopping_) {
        pollfd p{fd, POLLIN, 0};
        int rc = ::poll(&p, 1, kPollSliceMs);
        if (rc > 0) return true;
        if (rc < 0 && errno != EINTR) return false;
    }
    return false;
}

bool ScriptServer::send_all(int fd, const std::string& bytes) {
    std::size_t off = 0;
    while (off < bytes.size()) {
        if (stopping_) return false;
        ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += static_cast<std::size_t>(n);
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            pollfd p{fd, POLLOUT, 0};
            ::poll(&p, 1, kPollSliceMs);
        } else {
            return false;   // the client went away
        }
    }
    return true;
}

std::optional<Action> ScriptServer::next_action(bool for_new_connection) {
    std::lock_guard<std::mutex> lock(mu_);
    if (for_new_connection) {   // only an action that acts before reading may be taken at accept
        if (!queue_.empty() && !queue_.front().read_request) {
            Action a = std::move(queue_.front());
            queue_.pop_front();
            return a;
        }
        return std::nullopt;
    }
    if (!queue_.empty()) {
        Action a = std::move(queue_.front());
        queue_.pop_front();
        return a;
    }
    if (default_) return default_;
    return reply(200, "ok");
}

std::optional<RecordedRequest> ScriptServer::read_request(int fd, std::string& buffered, int connection) {
    auto receive_more = [&]() {
        if (!wait_readable(fd)) return false;
        char buf[65536];
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return false;
        buffered.append(buf, static_cast<std::size_t>(n));
        return true;
    };
    std::size_t head_end;
    while ((head_end = buffered.find("\r\n\r\n")) == std::string::npos)
        if (!receive_more()) return std::nullopt;

    RecordedRequest req;
    req.connection = connection;
    std::string head = buffered.substr(0, head_end);
    std::size_t line_end = head.find("\r\n");
    std::string request_line = head.substr(0, line_end);
    auto sp1 = request_line.find(' ');
    auto sp2 = request_line.find(' ', sp1 + 1);
    req.method = request_line.substr(0, sp1);
    req.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
    std::size_t content_length = 0;
    for (std::size_t pos = line_end; pos != std::string::npos && pos < head.size();) {
        std::size_t start = pos + 2;
        std::size_t end = head.find("\r\n", start);
        std::string line = head.substr(start, end == std::string::npos ? std::string::npos : end - start);
        auto colon = line.find(':');
        if (colon != std::string::npos) {
            std::string name = line.substr(0, colon);
            std::string value = line.substr(colon + 1);
            while (!value.empty() && value.front() == ' ') value.erase(0, 1);
            if (iequals(name, "Content-Length")) content_length = std::stoul(value);
            req.headers.emplace_back(name, value);
        }
        pos = end;
    }
    buffered.erase(0, head_end + 4);
    while (buffered.size() < content_length)
        if (!receive_more()) return std::nullopt;
    req.body = buffered.substr(0, content_length);
    buffered.erase(0, content_length);
    return req;
}

void ScriptServer::accept_loop() {
    while (!stopping_) {
        pollfd p{listen_fd_, POLLIN, 0};
        if (::poll(&p, 1, kPollSliceMs) <= 0) continue;
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) continue;
        int connection = ++connections_;
        std::lock_guard<std::mutex> lock(mu_);
        workers_.emplace_back([this, fd, connection] { serve(fd, connection); });
    }
}

void ScriptServer::serve(int fd, int connection) {
    std::string buffered;
    bool first = true;
    while (!stopping_) {
        // At accept, only an action that does not read a request is taken up front; otherwise the
        // action is taken once a request has arrived, so an idle keep-alive connection that the
        // client closes never uses one up.
        std::optional<Action> action = first ? next_action(true) : std::nullopt;
        first = false;
        if (!action) {
            auto req = read_request(fd, buffered, connection);
            if (!req) break;
            std::string echoed = req->body;
            {
                std::lock_guard<std::mutex> lock(mu_);
                requests_.push_back(std::move(*req));
            }
            cv_.notify_all();
            action = next_action(false);
            if (action->echo) {
                Ending ending = action->ending;
                action = reply(200, echoed);
                action->ending = ending;
            }
        }
        bool ok = nap(action->delay);
        for (const auto& piece : action->pieces) {
            if (!ok) break;
            ok = nap(piece.pause);
            for (std::size_t i = 0; ok && i < piece.repeat; ++i) ok = send_all(fd, piece.bytes);
        }
        if (action->ending == Ending::KeepAlive && ok) continue;
        if (action->ending == Ending::Hang) {
            while (nap(1000ms)) {
            }
        }
        if (action->ending == Ending::Reset) {
            linger hard{1, 0};
            ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
        }
        break;
    }
    ::close(fd);
}

}  // namespace nbtest
