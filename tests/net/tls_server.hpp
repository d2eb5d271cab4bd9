// A minimal HTTPS/1.1 server on 127.0.0.1 with a freshly made self-signed certificate: it answers
// every request with one fixed reply. Enough to show that TLS verification is on by default and
// off only for loopback when the request allows it.
#pragma once

#include <atomic>
#include <string>
#include <thread>

namespace nbtest {

class TlsServer {
public:
    explicit TlsServer(std::string reply_body);
    ~TlsServer();
    TlsServer(const TlsServer&) = delete;
    TlsServer& operator=(const TlsServer&) = delete;

    int port() const { return port_; }
    int handshakes() const { return handshakes_.load(); }   // completed TLS handshakes

private:
    void serve();
    void answer(int fd);

    std::string body_;
    int listen_fd_ = -1;
    int port_ = 0;
    void* ctx_ = nullptr;   // SSL_CTX*, kept opaque so tests need no OpenSSL headers
    std::atomic<bool> stopping_{false};
    std::atomic<int> handshakes_{0};
    std::thread thread_;
};

}  // namespace nbtest
