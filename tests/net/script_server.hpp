// A scripted HTTP/1.1 server on 127.0.0.1 for the transport tests. Each request (or connection, for
// actions that do not read one) takes the next Action from a queue: what to send, with which pauses,
// and how to end (close, reset, keep the connection for the next request, or hang). It records
// every request it reads.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "nbcore/transport.hpp"

namespace nbtest {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using nbcore::net::Headers;

// Bytes to write after a pause; `repeat` writes them that many times (large bodies, not stored).
struct Piece {
    milliseconds pause{0};
    std::string bytes;
    std::size_t repeat = 1;
};

enum class Ending {
    Close,       // FIN after the last piece
    Reset,       // RST (SO_LINGER {1, 0}) after the last piece
    KeepAlive,   // read the next request on the same connection
    Hang,        // keep the connection open, silent, until the server stops
};

struct Action {
    bool read_request = true;   // false: act as soon as the connection is accepted
    milliseconds delay{0};      // after the request, before the first piece
    std::vector<Piece> pieces;
    Ending ending = Ending::Close;
    bool echo = false;          // reply 200 with the request body (ignores pieces)
};

// "HTTP/1.1 <status> <reason>\r\n" + headers + "\r\n".
std::string http_head(int status, const Headers& headers);
// A complete reply with Content-Length and "Connection: close" (unless headers say otherwise).
Action reply(int status, const std::string& body, Headers headers = {});
// An action that reads the request and then closes without answering.
Action close_without_answer();
// An action that reads the request and never answers.
Action never_answer();
// "<hex size>\r\n<data>\r\n".
std::string chunk(const std::string& data);
// gzip-compress `data` (zlib).
std::string gzip(const std::string& data);

struct RecordedRequest {
    std::string method;
    std::string target;
    Headers headers;
    std::string body;
    int connection = 0;   // 1-based index of the connection it came on
};

class ScriptServer {
public:
    ScriptServer();
    ~ScriptServer();
    ScriptServer(const ScriptServer&) = delete;
    ScriptServer& operator=(const ScriptServer&) = delete;

    int port() const { return port_; }
    std::string url(const std::string& path = "/") const;

    void push(Action a);
    void set_default(Action a);   // used when the queue is empty
    std::vector<RecordedRequest> requests() const;
    int connections() const { return connections_.load(); }
    bool wait_for_requests(std::size_t n, milliseconds timeout) const;

private:
    void accept_loop();
    void serve(int fd, int connection);
    std::optional<RecordedRequest> read_request(int fd, std::string& buffered, int connection);
    bool send_all(int fd, const std::string& bytes);
    bool nap(milliseconds d);   // false when the server is stopping
    bool wait_readable(int fd);
    std::optional<Action> next_action(bool for_new_connection);

    int listen_fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stopping_{false};
    std::atomic<int> connections_{0};
    mutable std::mutex mu_;
    mutable std::condition_variable cv_;
    std::deque<Action> queue_;
    std::optional<Action> default_;
    std::vector<RecordedRequest> requests_;
    std::vector<std::thread> workers_;
    std::vector<int> open_fds_;
    std::thread acceptor_;
};

// A port on 127.0.0.1 where nothing listens (bound, then closed).
int closed_port();

}  // namespace nbtest
