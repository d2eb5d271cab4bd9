// TLS to Redis: OpenSSL on a socket of our own, hiredis's encoder and reply reader for RESP.
// Every failure is sorted into "cannot reach" (RedisUnreachable: the backend falls back to local
// buckets) or "TLS refused" (Error with what to do next: verification is never turned off).
#include "quota/redis_tls.hpp"

#if NBCORE_WITH_REDIS

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace nbcore::quota::detail {

namespace {

using Clock = std::chrono::steady_clock;

// ---- decisions (pure) --------------------------------------------------------------------------

// What went wrong with TLS, in the terms a person fixes it in.
enum class TlsProblem {
    NotTls,               // the server answered in something other than TLS
    UntrustedChain,       // its certificate does not chain to a CA we trust
    NameMismatch,         // its certificate is valid, for another name or address
    Expired,              // outside its validity dates
    ClientCertRequired,   // it asks for a client certificate and we have none
    ClientCertRefused,    // it does not accept ours
    Other,
};

bool is_ip_literal(const std::string& host) {
    in6_addr a6{};
    in_addr a4{};
    return ::inet_pton(AF_INET, host.c_str(), &a4) == 1 || ::inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

// From OpenSSL's verify result (X509_V_OK when the chain was not the problem) and the reason of
// the first error it queued.
TlsProblem classify(long verify_result, int reason, bool have_client_cert) {
    switch (verify_result) {
        case X509_V_OK: break;
        case X509_V_ERR_HOSTNAME_MISMATCH:
        case X509_V_ERR_IP_ADDRESS_MISMATCH: return TlsProblem::NameMismatch;
        case X509_V_ERR_CERT_HAS_EXPIRED:
        case X509_V_ERR_CERT_NOT_YET_VALID: return TlsProblem::Expired;
        default: return TlsProblem::UntrustedChain;   // no issuer found, self-signed, bad signature
    }
    switch (reason) {
        // A RESP answer ("-ERR ...") read as a TLS record header.
        case SSL_R_WRONG_VERSION_NUMBER:
        case SSL_R_UNKNOWN_PROTOCOL:
        case SSL_R_PACKET_LENGTH_TOO_LONG: return TlsProblem::NotTls;
        case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED: return TlsProblem::ClientCertRequired;
        case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
            // TLS 1.2 servers say only "handshake failure" when a required certificate is missing.
            return have_client_cert ? TlsProblem::Other : TlsProblem::ClientCertRequired;
        case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
        case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
        case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
        case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
        case SSL_R_TLSV1_ALERT_DECRYPT_ERROR:
            return have_client_cert ? TlsProblem::ClientCertRefused : TlsProblem::ClientCertRequired;
        default: return TlsProblem::Other;
    }
}

std::string trust_source(const RedisUrl& url) {
    return url.cacert.empty() ? "this system's trust store" : "cacert=" + url.cacert;
}

std::string endpoint(const RedisUrl& url) {
    return (url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host) + ":" + std::to_string(url.port);
}

// The message and advice for a refused TLS session. `why` is OpenSSL's own words.
Error tls_refused(TlsProblem p, const RedisUrl& url, const std::string& shown, const std::string& why) {
    const std::string head = "state " + shown + ": TLS to " + endpoint(url) + " failed: ";
    std::string what, advice;
    switch (p) {
        case TlsProblem::NotTls:
            what = "the server does not speak TLS on this port (" + why + ")";
            advice = "Use redis:// for this port, or rediss:// with the port Redis serves TLS on (its tls-port).";
            break;
        case TlsProblem::UntrustedChain:
            what = "the server's certificate is not trusted (" + why + ")";
            advice = "The server's certificate is not signed by a CA in " + trust_source(url) +
                     "; pass the CA that signed it: rediss://host:port/db?cacert=/path/ca.pem (the file the "
                     "server's tls-ca-cert-file names, when one CA signs both sides).";
            break;
        case TlsProblem::NameMismatch:
            what = "the server's certificate is not issued for " + url.host + " (" + why + ")";
            advice = "Connect with a host name or IP address the certificate lists (its subjectAltName), or "
                     "reissue the server's certificate with " + url.host + " in it. Verification cannot be turned off.";
            break;
        case TlsProblem::Expired:
            what = "the server's certificate is not valid now (" + why + ")";
            advice = "Renew the server's certificate (tls-cert-file), or correct this machine's clock if it is wrong.";
            break;
        case TlsProblem::ClientCertRequired:
            what = "the server requires a client certificate and none was given (" + why + ")";
            advice = "Add a client certificate signed by a CA the server trusts (its tls-ca-cert-file): "
                     "?cert=/path/client.pem&key=/path/client.key, or set tls-auth-clients no on the server.";
            break;
        case TlsProblem::ClientCertRefused:
            what = "the server refused the client certificate cert=" + url.cert + " (" + why + ")";
            advice = "Use a client certificate signed by a CA in the server's tls-ca-cert-file, still valid, "
                     "with the key that belongs to it.";
            break;
        case TlsProblem::Other:
            what = why;
            advice = "Check that " + endpoint(url) + " is Redis's tls-port and that cacert, cert and key name the "
                     "right PEM files.";
            break;
    }
    return Error(Status::NETWORK, head + what, advice);
}

// OpenSSL's words for its first queued error, and that error's reason; empties the queue (it is
// per thread, and libcurl on this thread must not find our errors in it).
std::pair<std::string, int> take_openssl_error() {
    const unsigned long e = ERR_peek_error();
    std::string text;
    if (e != 0) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        text = buf;
        // "error:0A00010B:SSL routines::wrong version number" -> "wrong version number"
        if (const auto c = text.rfind(':'); c != std::string::npos) text = text.substr(c + 1);
    }
    ERR_clear_error();
    return {text, e == 0 ? 0 : ERR_GET_REASON(e)};
}

int remaining_ms(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left > 0 ? static_cast<int>(left) : 0;
}

// Waits until fd is readable (or writable); false when `ms` passed first.
bool wait_ready(int fd, bool for_write, int ms) {
    pollfd p{fd, static_cast<short>(for_write ? POLLOUT : POLLIN), 0};
    int rc;
    do {
        rc = ::poll(&p, 1, ms);
    } while (rc < 0 && errno == EINTR);
    return rc > 0;
}

// A non-blocking TCP connection to the first address of host:port that answers before the
// deadline. Throws RedisUnreachable.
int connect_tcp(const RedisUrl& url, Clock::time_point deadline) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(url.port);
    if (int rc = ::getaddrinfo(url.host.c_str(), port.c_str(), &hints, &found); rc != 0)
        throw RedisUnreachable{"cannot resolve " + url.host + ": " + ::gai_strerror(rc)};
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, ::freeaddrinfo);
    std::string last = "no address";
    for (const addrinfo* a = found; a; a = a->ai_next) {
        const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            last = std::strerror(errno);
            continue;
        }
        int err = ::connect(fd, a->ai_addr, a->ai_addrlen) == 0 ? 0 : errno;
        if (err == EINPROGRESS) {
            if (!wait_ready(fd, true, remaining_ms(deadline))) {
                err = ETIMEDOUT;
            } else {
                socklen_t len = sizeof err;
                ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
            }
        }
        if (err == 0) {
            const int one = 1;
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            return fd;
        }
        last = err == ETIMEDOUT ? "connection timed out" : std::strerror(err);
        ::close(fd);
    }
    throw RedisUnreachable{"cannot connect to " + endpoint(url) + ": " + last};
}

// A connection for a probe, or -1 when there is nobody to ask (the probes answer "no" then).
int probe_connect(const RedisUrl& url, Clock::time_point deadline) {
    try {
        return connect_tcp(url, deadline);
    } catch (const RedisUnreachable&) {
        return -1;
    }
}

// Whether a plain Redis answers at host:port: asked when a TLS handshake got no answer at all,
// because a plain Redis waits silently for the rest of a ClientHello (it reads it as an inline
// command cut short) and the mistake would otherwise look like an outage.
bool plain_redis_answers(const RedisUrl& url, Millis timeout) {
    const auto deadline = Clock::now() + timeout;
    const int fd = probe_connect(url, deadline);
    if (fd < 0) return false;
    constexpr std::string_view ping = "PING\r\n";
    char first = 0;
    const bool answered = ::send(fd, ping.data(), ping.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(ping.size()) &&
                          wait_ready(fd, false, remaining_ms(deadline)) && ::recv(fd, &first, 1, 0) == 1;
    ::close(fd);
    return answered && (first == '+' || first == '-');   // +PONG, or -NOAUTH from a server with a password
}

// Never prompt on the terminal for a key's passphrase: a library has no terminal.
int no_passphrase(char*, int, int, void*) { return 0; }

struct CtxFree {
    void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};

// A client context trusting url.cacert (or the system store), with the client certificate when
// given. Throws Error INVALID_ARG for files OpenSSL cannot use.
std::unique_ptr<SSL_CTX, CtxFree> client_context(const RedisUrl& url, const std::string& shown) {
    std::unique_ptr<SSL_CTX, CtxFree> ctx(SSL_CTX_new(TLS_client_method()));
    if (!ctx) throw Error(Status::INTERNAL, "state " + shown + ": OpenSSL could not make a TLS context",
                          "The process is probably out of memory; retry, or run fewer clients in it.");
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    SSL_CTX_set_default_passwd_cb(ctx.get(), no_passphrase);
    auto unusable = [&](const std::string& option, const std::string& path, const std::string& advice) {
        const std::string why = take_openssl_error().first;
        return Error(Status::INVALID_ARG,
                     "state " + shown + ": " + option + "=" + path + " cannot be used" + (why.empty() ? "" : " (" + why + ")"),
                     advice);
    };
    const std::string key_advice = "Give the private key that belongs to cert=" + url.cert + " (PEM, unencrypted).";
    if (url.cacert.empty()) {
        SSL_CTX_set_default_verify_paths(ctx.get());
    } else if (SSL_CTX_load_verify_locations(ctx.get(), url.cacert.c_str(), nullptr) != 1) {
        throw unusable("cacert", url.cacert,
                       "Give the certificate of the CA that signed the server's certificate (PEM; several may follow "
                       "each other in the file).");
    }
    if (!url.cert.empty()) {
        if (SSL_CTX_use_certificate_chain_file(ctx.get(), url.cert.c_str()) != 1)
            throw unusable("cert", url.cert, "Give the client certificate, then any intermediate CAs (PEM).");
        if (SSL_CTX_use_PrivateKey_file(ctx.get(), url.key.c_str(), SSL_FILETYPE_PEM) != 1)
            throw unusable("key", url.key, key_advice);
        if (SSL_CTX_check_private_key(ctx.get()) != 1) throw unusable("key", url.key, key_advice);
    }
    ERR_clear_error();
    return ctx;
}

}  // namespace

void check_tls_files(const RedisUrl& url, const std::string& shown) {
    const std::pair<const char*, const std::string*> files[] = {{"cacert", &url.cacert}, {"cert", &url.cert}, {"key", &url.key}};
    for (const auto& [option, path] : files) {
        if (path->empty()) continue;
        const int fd = ::open(path->c_str(), O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            ::close(fd);
            continue;
        }
        throw Error(Status::INVALID_ARG,
                    "state " + shown + ": " + option + "=" + *path + " cannot be read: " + std::strerror(errno),
                    std::string("Give the path of a readable PEM file in ") + option + "= (percent-encode '&', '?' and '%').");
    }
}

bool speaks_tls(const RedisUrl& url, Millis timeout) {
    const auto deadline = Clock::now() + timeout;
    const int fd = probe_connect(url, deadline);
    if (fd < 0) return false;
    // OpenSSL writes a ClientHello into memory; we send it and look only at the record header of
    // the answer. No session is made, so nothing here verifies or trusts anything.
    std::unique_ptr<SSL_CTX, CtxFree> ctx(SSL_CTX_new(TLS_client_method()));
    SSL* ssl = ctx ? SSL_new(ctx.get()) : nullptr;
    bool tls = false;
    if (ssl) {
        SSL_set_bio(ssl, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
        SSL_connect(ssl);   // wants to read: the hello is written
        char* hello = nullptr;
        const long size = BIO_get_mem_data(SSL_get_wbio(ssl), &hello);
        unsigned char head[2] = {0, 0};
        std::size_t got = 0;
        if (size > 0 && ::send(fd, hello, static_cast<std::size_t>(size), MSG_NOSIGNAL) == size) {
            while (got < sizeof head && wait_ready(fd, false, remaining_ms(deadline))) {
                const ssize_t n = ::recv(fd, head + got, sizeof head - got, 0);
                if (n <= 0) break;
                got += static_cast<std::size_t>(n);
            }
        }
        // A handshake (0x16) or alert (0x15) record of some TLS version (0x03 0x0N).
        tls = got == sizeof head && (head[0] == 0x16 || head[0] == 0x15) && head[1] == 0x03;
        SSL_free(ssl);
    }
    ERR_clear_error();
    ::close(fd);
    return tls;
}

struct TlsTransport::Impl {
    RedisUrl url;
    std::string shown;
    Millis command_timeout;
    int fd = -1;
    SSL* ssl = nullptr;
    redisReader* reader = nullptr;
    bool timed_out = false;   // the last RedisUnreachable was a wait that ran out
    bool asked_for_cert = false;   // the server sent a CertificateRequest
    bool answered = false;         // a reply came back on this session

    // Watches the handshake for the server's CertificateRequest.
    static void on_message(int write_p, int, int content_type, const void* buf, size_t len, SSL*, void* arg) {
        if (write_p || content_type != SSL3_RT_HANDSHAKE || len == 0) return;
        if (static_cast<const unsigned char*>(buf)[0] == SSL3_MT_CERTIFICATE_REQUEST)
            static_cast<Impl*>(arg)->asked_for_cert = true;
    }

    ~Impl() {
        if (reader) redisReaderFree(reader);
        if (ssl) SSL_free(ssl);
        if (fd >= 0) ::close(fd);
    }

    [[noreturn]] void refused(long verify_result) {
        auto [why, reason] = take_openssl_error();
        if (verify_result != X509_V_OK) why = X509_verify_cert_error_string(verify_result);
        throw tls_refused(classify(verify_result, reason, !url.cert.empty()), url, shown, why);
    }

    // Where SSL_get_error left us after a call that did not complete: wait for the socket, or
    // throw. `ms` bounds the wait; `doing` names the step for messages.
    void wait_or_throw(int rc, int ms, const char* doing) {
        const int err = SSL_get_error(ssl, rc);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
            if (wait_ready(fd, err == SSL_ERROR_WANT_WRITE, ms)) return;
            ERR_clear_error();
            timed_out = true;
            throw RedisUnreachable{std::string(doing) + " timed out"};
        }
        if (err == SSL_ERROR_SSL) refused(SSL_get_verify_result(ssl));
        const int saved = errno;
        ERR_clear_error();
        // A server that refuses our certificate (or our lack of one) sends an alert and closes;
        // when our next bytes are still unread there, the close is a reset that can destroy the
        // alert before we read it. Closed before any reply, after asking for a certificate: that.
        if (!answered && asked_for_cert && (err == SSL_ERROR_ZERO_RETURN || err == SSL_ERROR_SYSCALL)) {
            const std::string why = std::string("the server closed the connection after asking for a client certificate") +
                                    (saved ? std::string(": ") + std::strerror(saved) : "");
            throw tls_refused(url.cert.empty() ? TlsProblem::ClientCertRequired : TlsProblem::ClientCertRefused, url,
                              shown, why);
        }
        if (err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && saved == 0))
            throw RedisUnreachable{std::string("the server closed the connection while ") + doing};
        throw RedisUnreachable{std::string(doing) + ": " + (saved ? std::strerror(saved) : "TLS error")};
    }

    void handshake(Clock::time_point deadline) {
        ssl = SSL_new(client_context(url, shown).get());   // the SSL keeps its own reference
        if (!ssl)
            throw Error(Status::INTERNAL, "state " + shown + ": OpenSSL could not start a TLS session",
                        "The process is probably out of memory; retry, or run fewer clients in it.");
        SSL_set_fd(ssl, fd);
        SSL_set_msg_callback(ssl, on_message);
        SSL_set_msg_callback_arg(ssl, this);
        // Without the name to check, any certificate from a trusted CA would pass: never go on.
        const bool name_set = is_ip_literal(url.host)
                                  ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), url.host.c_str()) == 1
                                  : SSL_set_tlsext_host_name(ssl, url.host.c_str()) == 1 &&
                                        SSL_set1_host(ssl, url.host.c_str()) == 1;
        if (!name_set)
            throw Error(Status::INVALID_ARG, "state " + shown + ": cannot check a certificate against the host '" + url.host + "'",
                        "Write the host of the rediss:// URL as a DNS name or an IP address.");
        for (;;) {
            ERR_clear_error();
            const int rc = SSL_connect(ssl);
            if (rc == 1) return;
            wait_or_throw(rc, remaining_ms(deadline), "the TLS handshake");
        }
    }

    void write_all(const char* data, std::size_t size) {
        while (size > 0) {
            ERR_clear_error();
            const int n = SSL_write(ssl, data, static_cast<int>(size));
            if (n > 0) {
                data += n;
                size -= static_cast<std::size_t>(n);
                continue;
            }
            wait_or_throw(n, static_cast<int>(command_timeout.count()), "sending to Redis");
        }
    }

    redisReply* read_reply() {
        char buf[16384];
        for (;;) {
            void* reply = nullptr;
            if (redisReaderGetReply(reader, &reply) != REDIS_OK)
                throw RedisUnreachable{std::string("protocol error: ") + reader->errstr};
            if (reply) {
                answered = true;
                return static_cast<redisReply*>(reply);
            }
            ERR_clear_error();
            const int n = SSL_read(ssl, buf, sizeof buf);
            if (n > 0) {
                redisReaderFeed(reader, buf, static_cast<std::size_t>(n));
                continue;
            }
            wait_or_throw(n, static_cast<int>(command_timeout.count()), "waiting for Redis");
        }
    }
};

TlsTransport::TlsTransport(const RedisUrl& url, Millis connect_timeout, Millis command_timeout, std::string shown)
    : impl_(std::make_unique<Impl>()) {
    impl_->url = url;
    impl_->shown = std::move(shown);
    impl_->command_timeout = command_timeout;
    const auto deadline = Clock::now() + connect_timeout;
    impl_->fd = connect_tcp(url, deadline);
    try {
        impl_->handshake(deadline);
    } catch (const RedisUnreachable&) {
        const bool silent = impl_->timed_out && BIO_number_read(SSL_get_rbio(impl_->ssl)) == 0;
        if (silent && plain_redis_answers(url, connect_timeout))
            throw tls_refused(TlsProblem::NotTls, url, impl_->shown,
                              "no answer to the TLS handshake, and a plain Redis answers on this port");
        throw;
    }
    impl_->reader = redisReaderCreate();
    if (!impl_->reader) throw RedisUnreachable{"out of memory"};
    const char* ping[] = {"PING"};
    const size_t len[] = {4};
    freeReplyObject(command(1, ping, len));   // any answer, even -NOAUTH, proves the channel
}

TlsTransport::~TlsTransport() = default;

redisReply* TlsTransport::command(int argc, const char** argv, const size_t* lens) {
    char* encoded = nullptr;
    const int size = redisFormatCommandArgv(&encoded, argc, argv, lens);
    if (size < 0) throw RedisUnreachable{"out of memory"};
    std::unique_ptr<char, decltype(&redisFreeCommand)> owned(encoded, redisFreeCommand);
    impl_->write_all(encoded, static_cast<std::size_t>(size));
    return impl_->read_reply();
}

}  // namespace nbcore::quota::detail

#endif
