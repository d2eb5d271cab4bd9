// TLS to Redis (rediss://) without hiredis_ssl: Debian 12's hiredis 0.14 has no TLS, so OpenSSL
// carries the bytes and hiredis only encodes commands (redisFormatCommandArgv) and decodes replies
// (redisReader). The plain transport stays hiredis's own redisContext (redis_backend.cpp).
#pragma once

#if NBCORE_WITH_REDIS

#include <hiredis/hiredis.h>

#include <memory>
#include <string>

#include "nbcore/state.hpp"

namespace nbcore::quota::detail {

// Redis could not be reached (refused, timed out, resolved to nothing, connection lost): an outage
// the backend rides out on local buckets. A server that is reachable but wrongly configured (TLS
// refused, bad credentials) is an Error instead, because waiting will not fix it.
struct RedisUnreachable {
    std::string why;
};

// Throws Error INVALID_ARG naming the first of the URL's TLS files (cacert, cert, key) that cannot
// be opened for reading, and why. `shown` is the redacted URL for the message.
void check_tls_files(const RedisUrl& url, const std::string& shown);

// Whether the server at url's host and port answers a TLS ClientHello in TLS: asked when a plain
// (redis://) connection fails before its first reply, to tell "this is a TLS port" from an outage.
// False when it cannot be reached within `timeout`.
bool speaks_tls(const RedisUrl& url, Millis timeout);

// One TLS connection speaking RESP. Certificate verification is always on: the chain against
// url.cacert or the system trust store, and the name against url.host (an IP address against the
// certificate's IP entries); SNI is sent for host names.
class TlsTransport {
public:
    // Connects (TCP within connect_timeout, then the handshake within what is left of it) and
    // checks the channel with a PING, so that a server refusing our client certificate (which TLS
    // 1.3 reports only after the handshake) is known now. Throws RedisUnreachable when the server
    // cannot be reached, Error NETWORK with advice when TLS is refused, Error INVALID_ARG for TLS
    // files that OpenSSL cannot use.
    TlsTransport(const RedisUrl& url, Millis connect_timeout, Millis command_timeout, std::string shown);
    // Closes without a close_notify: after fork() the session may be the parent's, and writing to
    // it would break the parent's stream.
    ~TlsTransport();
    TlsTransport(const TlsTransport&) = delete;
    TlsTransport& operator=(const TlsTransport&) = delete;

    // Sends one command and returns its reply (free it with freeReplyObject). Each wait on the
    // socket is bounded by command_timeout, as SO_RCVTIMEO/SO_SNDTIMEO bound the plain transport's.
    // Throws RedisUnreachable (then the transport is unusable), or Error NETWORK when the server
    // ends the session with a TLS alert that needs a person (our certificate refused).
    redisReply* command(int argc, const char** argv, const size_t* lens);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace nbcore::quota::detail

#endif
