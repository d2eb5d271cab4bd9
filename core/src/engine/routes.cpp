#include "nbcore/routes.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "nbcore/status.hpp"

namespace nbcore {
namespace {

std::string env(const char* name) {
    const char* v = std::getenv(name);
    std::string s = v ? v : "";
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.erase(s.begin());
    return s;
}

bool env_true(const char* name) {
    std::string v = env(name);
    std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
    return v == "true" || v == "1";
}

std::string without_trailing_slash(std::string s) {
    while (!s.empty() && s.back() == '/') s.pop_back();
    return s;
}

// "user:password@" before the host, a query or a fragment: parts of a base URL that can only hold
// a credential (the request path is appended to the base URL, so a query there would break it).
bool carries_credentials(std::string_view url) {
    auto scheme_end = url.find("://");
    auto authority = url.substr(scheme_end == std::string_view::npos ? 0 : scheme_end + 3);
    authority = authority.substr(0, authority.find_first_of("/?#"));
    return authority.find('@') != std::string_view::npos || url.find_first_of("?#") != std::string_view::npos;
}

std::string vertex_endpoint(const std::string& location) {
    if (location.empty() || location == "global") return "https://aiplatform.googleapis.com";
    if (location == "us" || location == "eu") return "https://aiplatform." + location + ".rep.googleapis.com";
    return "https://" + location + "-aiplatform.googleapis.com";
}

Error auth_error(std::string reason, std::string message, std::string advice) {
    Diagnosis d;
    d.code = Status::AUTH;
    d.reason = std::move(reason);
    d.message = std::move(message);
    d.advice = std::move(advice);
    return Error(std::move(d));
}

// Runs `command` through /bin/sh and returns its standard output; nullopt when it fails, exits
// non-zero or takes longer than `limit` (it is then killed).
std::optional<std::string> run_command(const std::string& command, std::chrono::milliseconds limit) {
    int fds[2];
    if (pipe(fds) != 0) return std::nullopt;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return std::nullopt;
    }
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    close(fds[1]);
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + limit;
    bool timed_out = false;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) { timed_out = true; break; }
        pollfd p{fds[0], POLLIN, 0};
        int r = poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) continue;
        char buf[4096];
        ssize_t n = read(fds[0], buf, sizeof buf);
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
        if (out.size() > (1u << 20)) { timed_out = true; break; }   // not a token
    }
    close(fds[0]);
    if (timed_out) kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (timed_out || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
    while (!out.empty() && std::isspace(static_cast<unsigned char>(out.back()))) out.pop_back();
    return out;
}

}  // namespace

policy::Route planning_route(const RouteConfig& r) {
    policy::Route p;
    p.name = r.name;
    p.kind = r.kind;
    p.base_url = r.base_url;
    p.quota_pool = r.quota_pool;
    p.failover_on_capacity = r.failover_on_capacity;
    p.failover_on_quota = r.failover_on_quota;
    p.failover_on_location = r.failover_on_location;
    p.failover_on_safety = r.failover_on_safety;
    return p;
}

RouteConfig resolve_route(RouteConfig r, const std::string& client_api_key) {
    if (r.api_key.empty()) r.api_key = client_api_key;
    r.base_url = without_trailing_slash(r.base_url);
    // Refused before the URL becomes part of the route's name, which events, attempts and errors
    // show; and the message does not quote the URL.
    if (carries_credentials(r.base_url))
        throw_invalid_arg(std::string(r.name.empty() ? "the route's" : "route \"" + r.name + "\":") +
                          " base_url carries user info, a query or a fragment, where only a credential could "
                          "go; keys travel in the x-goog-api-key header only: pass the key as the API key and "
                          "give base_url as scheme://host[:port][/path]");
    switch (r.kind) {
    case RouteKind::AiStudio:
        if (r.base_url.empty()) r.base_url = "https://generativelanguage.googleapis.com";
        if (r.api_version.empty()) r.api_version = "v1beta";
        if (r.name.empty()) r.name = "ai-studio";
        if (r.quota_pool.empty()) r.quota_pool = "ai-studio:" + credential_fingerprint(r.api_key);
        break;
    case RouteKind::Vertex:
        if (r.location.empty()) r.location = "global";
        if (r.base_url.empty()) r.base_url = vertex_endpoint(r.location);
        if (r.api_version.empty()) r.api_version = "v1";
        if (r.name.empty()) r.name = "vertex:" + r.location;
        if (r.project.empty()) {
            if (r.quota_pool.empty()) r.quota_pool = "vertex-express:" + credential_fingerprint(r.api_key);
        } else {
            if (r.token_env.empty() && r.token_command.empty())
                throw_invalid_arg("Vertex route \"" + r.name + "\" for project " + r.project +
                                  " needs a token source: token_env (an environment variable holding an "
                                  "OAuth access token) or token_command (e.g. \"gcloud auth "
                                  "print-access-token\")");
            if (r.quota_pool.empty()) r.quota_pool = "vertex:" + r.project;
        }
        break;
    case RouteKind::Custom:
        if (r.base_url.empty()) throw_invalid_arg("a custom route needs base_url");
        if (r.api_version.empty()) r.api_version = "v1beta";
        if (r.name.empty()) r.name = "custom:" + r.base_url;
        if (r.quota_pool.empty()) r.quota_pool = "custom:" + r.base_url + ":" + credential_fingerprint(r.api_key);
        break;
    }
    if (r.base_url.rfind("http://", 0) != 0 && r.base_url.rfind("https://", 0) != 0)
        throw_invalid_arg("route \"" + r.name + "\": base_url must start with http:// or https://");
    if (r.base_url.rfind("http://", 0) == 0 && !net::is_loopback_url(r.base_url))
        throw_invalid_arg("route \"" + r.name + "\": plain http to a non-loopback host would send the "
                          "credential in clear; use https (http is allowed for 127.0.0.1/localhost)");
    return r;
}

std::vector<RouteConfig> default_routes(const std::string& base_url, std::optional<bool> vertexai,
                                        const std::string& project, const std::string& location) {
    RouteConfig r;
    if (vertexai.value_or(env_true("GOOGLE_GENAI_USE_VERTEXAI"))) {
        r.kind = RouteKind::Vertex;
        r.project = project.empty() ? env("GOOGLE_CLOUD_PROJECT") : project;
        r.location = location.empty() ? env("GOOGLE_CLOUD_LOCATION") : location;
        r.base_url = base_url.empty() ? env("GOOGLE_VERTEX_BASE_URL") : base_url;
        if (!r.project.empty()) {
            r.token_env = "GOOGLE_CLOUD_ACCESS_TOKEN";
            r.token_command = "gcloud auth print-access-token";
        }
        return {r};
    }
    std::string url = base_url.empty() ? env("GOOGLE_GEMINI_BASE_URL") : base_url;
    url = without_trailing_slash(url);
    if (!url.empty() && url != "https://generativelanguage.googleapis.com") {
        r.kind = RouteKind::Custom;
        r.base_url = url;
    }
    return {r};
}

std::string route_url(const RouteConfig& r, const std::string& model, bool stream) {
    std::string u = r.base_url + "/" + r.api_version;
    if (r.kind == RouteKind::Vertex) {
        if (!r.project.empty()) u += "/projects/" + r.project + "/locations/" + r.location;
        u += "/publishers/google/models/" + model;
    } else {
        u += "/models/" + model;
    }
    u += stream ? ":streamGenerateContent?alt=sse" : ":generateContent";
    return u;
}

RouteAuth::RouteAuth(RouteConfig route, std::shared_ptr<Clock> clock)
    : route_(std::move(route)), clock_(std::move(clock)) {}

std::string RouteAuth::bearer_token() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!token_.empty() && clock_->now() < token_expires_) return token_;
    if (!route_.token_env.empty()) {
        token_ = env(route_.token_env.c_str());
        if (token_.empty() && route_.token_command.empty())
            throw auth_error("NO_ACCESS_TOKEN", "the environment variable " + route_.token_env + " is empty",
                             "Set " + route_.token_env + " to an OAuth access token (gcloud auth "
                             "print-access-token), or give the route a token_command.");
    }
    if (token_.empty() && !route_.token_command.empty()) {
        auto out = run_command(route_.token_command, std::chrono::seconds(30));
        if (!out || out->empty())
            throw auth_error("TOKEN_COMMAND_FAILED",
                             "the token command of route " + route_.name + " failed or printed nothing",
                             "Run the route's token_command by hand (for example `gcloud auth "
                             "print-access-token`) and fix what it reports, e.g. `gcloud auth login`.");
        token_ = *out;
    }
    token_expires_ = clock_->now() + route_.token_ttl;
    return token_;
}

void RouteAuth::add_headers(net::Headers& headers) {
    bool oauth = route_.kind == RouteKind::Vertex && !route_.project.empty();
    if (oauth) {
        headers.emplace_back("Authorization", "Bearer " + bearer_token());
        headers.emplace_back("x-goog-user-project", route_.project);
        return;
    }
    if (route_.api_key.empty())
        throw auth_error("NO_API_KEY", "no API key was given",
                         "Set GOOGLE_API_KEY or GEMINI_API_KEY (or pass api_key); keys come from "
                         "https://aistudio.google.com/apikey.");
    headers.emplace_back("x-goog-api-key", route_.api_key);
}

void RouteAuth::invalidate() {
    std::lock_guard<std::mutex> lock(mu_);
    token_.clear();
    token_expires_ = {};
}

std::string RouteAuth::current_secret() const {
    std::lock_guard<std::mutex> lock(mu_);
    bool oauth = route_.kind == RouteKind::Vertex && !route_.project.empty();
    return oauth ? token_ : route_.api_key;
}

}  // namespace nbcore
