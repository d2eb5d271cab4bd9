// Throwaway certificates for the TLS tests, made at run time with the openssl command line into a
// temporary directory that is removed afterwards: no key is ever committed. When openssl is not
// installed, available() says so and the callers skip with a message.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace nbcore_test {

class TestCertificates {
public:
    TestCertificates() {
        static std::mt19937_64 gen{std::random_device{}()};
        dir_ = std::filesystem::temp_directory_path() /
               ("nbcore-tls-test-" + std::to_string(::getpid()) + "-" + std::to_string(gen()));
        std::filesystem::create_directories(dir_);
        std::filesystem::permissions(dir_, std::filesystem::perms::owner_all);
        ok_ = std::system("command -v openssl >/dev/null 2>&1") == 0 && make();
    }
    ~TestCertificates() {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    TestCertificates(const TestCertificates&) = delete;
    TestCertificates& operator=(const TestCertificates&) = delete;

    bool available() const { return ok_; }
    static const char* missing_message() {
        return "the openssl command line could not make test certificates (install Debian's openssl, as "
               "scripts/install-deps does): the rediss:// tests are skipped";
    }

    // The CA that signed everything below; another CA that signed nothing the servers use.
    std::string ca() const { return file("ca.pem"); }
    std::string other_ca() const { return file("other-ca.pem"); }
    // A server certificate for 127.0.0.1 and localhost, and one for other.example only.
    std::string server_cert() const { return file("server.pem"); }
    std::string server_key() const { return file("server.key"); }
    std::string other_name_cert() const { return file("other-name.pem"); }
    std::string other_name_key() const { return file("other-name.key"); }
    // A client certificate the servers accept.
    std::string client_cert() const { return file("client.pem"); }
    std::string client_key() const { return file("client.key"); }
    std::string dir() const { return dir_.string(); }

private:
    std::string file(const char* name) const { return (dir_ / name).string(); }

    bool run(const std::string& command) const {
        return std::system(("cd '" + dir_.string() + "' && " + command + " >/dev/null 2>&1").c_str()) == 0;
    }

    // A leaf certificate `name`.pem/.key signed by ca.pem with the given extensions.
    bool leaf(const std::string& name, const std::string& subject, const std::string& extensions) const {
        std::ofstream(dir_ / (name + ".ext")) << extensions << "\n";
        return run("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + name +
                   ".key -out " + name + ".csr -subj '/CN=" + subject + "'") &&
               run("openssl x509 -req -in " + name + ".csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out " +
                   name + ".pem -extfile " + name + ".ext");
    }

    bool make() const {
        auto ca = [&](const std::string& name, const std::string& subject) {
            return run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -keyout " +
                       name + ".key -out " + name + ".pem -subj '/CN=" + subject +
                       "' -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign");
        };
        return ca("ca", "nbcore test CA") && ca("other-ca", "nbcore other test CA") &&
               leaf("server", "127.0.0.1",
                    "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth") &&
               leaf("other-name", "other.example",
                    "subjectAltName=DNS:other.example\nextendedKeyUsage=serverAuth,clientAuth") &&
               leaf("client", "nbcore test client", "extendedKeyUsage=clientAuth");
    }

    std::filesystem::path dir_;
    bool ok_ = false;
};

}  // namespace nbcore_test
