// Our own per-connection loop under cpp-httplib. The base class calls the virtual
// process_and_close_socket() for every accepted socket; owning that loop lets a reply end the
// connection with a TCP RST, and lets stop() leave idle keep-alive connections at once.
#pragma once

#include <atomic>

#include <httplib.h>

namespace nbcore::emulator {

// The connection the current thread serves. httplib runs the handler and writes the response
// on the thread that owns the socket, so handlers and content providers reach it through
// tl_connection.
struct Connection {
    int fd = -1;
    bool reset = false;   // end with RST instead of FIN
    bool dead = false;    // no more I/O: writes fail, the loop closes the socket
};
extern thread_local Connection* tl_connection;

inline constexpr int kReadTimeoutMs = 120'000;
inline constexpr int kWriteTimeoutMs = 120'000;
inline constexpr int kKeepAliveSec = 20;
inline constexpr std::size_t kKeepAliveMaxRequests = 1000;

class HttpServer final : public httplib::Server {
public:
    explicit HttpServer(const std::atomic<bool>& stopping) : stopping_(stopping) {}

    // httplib listens with a backlog of 5; bursts of connections need more.
    void widen_backlog();

private:
    bool process_and_close_socket(socket_t sock) override;

    const std::atomic<bool>& stopping_;
};

}  // namespace nbcore::emulator
