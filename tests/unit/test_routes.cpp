// Routes: URLs per kind, derived names and quota pools, environment defaults, credentials.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <memory>
#include <string>

#include "nbcore/routes.hpp"
#include "nbcore/status.hpp"

using namespace nbcore;

namespace {

struct ScopedEnv {
    std::string name;
    std::optional<std::string> old;
    ScopedEnv(const char* n, const char* value) : name(n) {
        if (const char* o = std::getenv(n)) old = o;
        if (value) setenv(n, value, 1);
        else unsetenv(n);
    }
    ~ScopedEnv() {
        if (old) setenv(name.c_str(), old->c_str(), 1);
        else unsetenv(name.c_str());
    }
};

RouteConfig vertex(std::string project, std::string location) {
    RouteConfig r;
    r.kind = RouteKind::Vertex;
    r.project = std::move(project);
    r.location = std::move(location);
    r.token_env = "NBCORE_TEST_TOKEN";
    return r;
}

}  // namespace

TEST_CASE("route URLs follow each endpoint family", "[routes]") {
    struct Row {
        RouteConfig route;
        bool stream;
        std::string url;
    };
    RouteConfig express;
    express.kind = RouteKind::Vertex;
    RouteConfig custom;
    custom.kind = RouteKind::Custom;
    custom.base_url = "http://127.0.0.1:8080/";
    std::vector<Row> rows = {
        {RouteConfig{}, false,
         "https://generativelanguage.googleapis.com/v1beta/models/gemini-3-pro-image-preview:generateContent"},
        {RouteConfig{}, true,
         "https://generativelanguage.googleapis.com/v1beta/models/gemini-3-pro-image-preview:streamGenerateContent?alt=sse"},
        {vertex("p1", "us-central1"), false,
         "https://us-central1-aiplatform.googleapis.com/v1/projects/p1/locations/us-central1/publishers/google/models/gemini-3-pro-image-preview:generateContent"},
        {vertex("p1", "global"), false,
         "https://aiplatform.googleapis.com/v1/projects/p1/locations/global/publishers/google/models/gemini-3-pro-image-preview:generateContent"},
        {vertex("p1", "eu"), false,
         "https://aiplatform.eu.rep.googleapis.com/v1/projects/p1/locations/eu/publishers/google/models/gemini-3-pro-image-preview:generateContent"},
        {express, false,
         "https://aiplatform.googleapis.com/v1/publishers/google/models/gemini-3-pro-image-preview:generateContent"},
        {custom, false, "http://127.0.0.1:8080/v1beta/models/gemini-3-pro-image-preview:generateContent"},
    };
    for (const auto& row : rows) {
        auto r = resolve_route(row.route, "key-0001");
        CHECK(route_url(r, "gemini-3-pro-image-preview", row.stream) == row.url);
    }
}

TEST_CASE("derived names and quota pools", "[routes]") {
    auto a = resolve_route(RouteConfig{}, "key-aaaa");
    auto b = resolve_route(RouteConfig{}, "key-bbbb");
    CHECK(a.name == "ai-studio");
    CHECK(a.quota_pool != b.quota_pool);   // different keys, different quota
    CHECK(a.quota_pool.find("key-aaaa") == std::string::npos);
    auto v1 = resolve_route(vertex("proj", "us-central1"), "key-aaaa");
    auto v2 = resolve_route(vertex("proj", "europe-west4"), "key-aaaa");
    CHECK(v1.name == "vertex:us-central1");
    CHECK(v1.quota_pool == v2.quota_pool);   // one project: one quota, whatever the region
    CHECK(v1.quota_pool != a.quota_pool);
}

TEST_CASE("impossible routes are refused with the field named", "[routes]") {
    RouteConfig plain;
    plain.kind = RouteKind::Custom;
    plain.base_url = "http://example.com";
    CHECK_THROWS_WITH(resolve_route(plain, "k"), Catch::Contains("plain http"));
    RouteConfig no_token;
    no_token.kind = RouteKind::Vertex;
    no_token.project = "p";
    CHECK_THROWS_WITH(resolve_route(no_token, "k"), Catch::Contains("token"));
    RouteConfig no_url;
    no_url.kind = RouteKind::Custom;
    CHECK_THROWS_WITH(resolve_route(no_url, "k"), Catch::Contains("base_url"));
}

TEST_CASE("a base URL that carries a credential is refused without being quoted", "[routes]") {
    // The route's name is derived from its base URL and shows up in events, attempts and errors,
    // so user info, a query or a fragment (where only a credential could go: the request path is
    // appended to the base URL) is refused, and the refusal does not repeat the URL.
    const std::string secret = "secret-" + std::string("4c1e0f9a7b2d");
    struct Case {
        std::string base_url;
        bool refused;
    };
    const Case cases[] = {
        {"http://127.0.0.1:8080", false},
        {"http://localhost:8080/gateway/", false},
        {"https://proxy.example.com/gemini", false},
        {"https://proxy.example.com:8443/a/b/", false},
        {"http://127.0.0.1:8080/?key=" + secret, true},
        {"http://127.0.0.1:8080?key=" + secret, true},
        {"https://proxy.example.com/v1?token=" + secret, true},
        {"https://proxy.example.com/#" + secret, true},
        {"http://user:" + secret + "@127.0.0.1:8080", true},
        {"https://" + secret + "@proxy.example.com/", true},
        {"https://user:" + secret + "@proxy.example.com:8443/path", true},
    };
    for (const auto& c : cases) {
        INFO(c.base_url);
        RouteConfig r;
        r.kind = RouteKind::Custom;
        r.base_url = c.base_url;
        if (!c.refused) {
            CHECK_NOTHROW(resolve_route(r, "k"));
            continue;
        }
        try {
            resolve_route(r, "k");
            FAIL("accepted");
        } catch (const Error& e) {
            CHECK(e.code() == Status::INVALID_ARG);
            CHECK(std::string(e.what()).find("base_url") != std::string::npos);
            CHECK(std::string(e.what()).find(secret) == std::string::npos);
            CHECK(e.diagnosis().message.find(secret) == std::string::npos);
        }
    }
}

TEST_CASE("default routes follow the SDKs' environment variables", "[routes]") {
    {
        ScopedEnv a("GOOGLE_GENAI_USE_VERTEXAI", nullptr);
        ScopedEnv b("GOOGLE_GEMINI_BASE_URL", nullptr);
        auto r = default_routes("");
        REQUIRE(r.size() == 1);
        CHECK(r[0].kind == RouteKind::AiStudio);
    }
    {
        ScopedEnv a("GOOGLE_GENAI_USE_VERTEXAI", nullptr);
        ScopedEnv b("GOOGLE_GEMINI_BASE_URL", "http://127.0.0.1:9/");
        auto r = default_routes("");
        CHECK(r[0].kind == RouteKind::Custom);
        CHECK(r[0].base_url == "http://127.0.0.1:9");
    }
    {
        ScopedEnv a("GOOGLE_GENAI_USE_VERTEXAI", "True");
        ScopedEnv b("GOOGLE_CLOUD_PROJECT", "my-proj");
        ScopedEnv c("GOOGLE_CLOUD_LOCATION", "us-east5");
        auto r = default_routes("");
        CHECK(r[0].kind == RouteKind::Vertex);
        CHECK(r[0].project == "my-proj");
        CHECK(r[0].location == "us-east5");
        CHECK_FALSE(r[0].token_env.empty());
    }
    {   // the caller's choice wins over the environment, both ways
        ScopedEnv a("GOOGLE_GENAI_USE_VERTEXAI", "true");
        ScopedEnv b("GOOGLE_CLOUD_PROJECT", "env-proj");
        auto r = default_routes("", false);
        CHECK(r[0].kind == RouteKind::AiStudio);
        r = default_routes("", std::nullopt, "my-proj", "europe-west4");
        CHECK(r[0].kind == RouteKind::Vertex);
        CHECK(r[0].project == "my-proj");
        CHECK(r[0].location == "europe-west4");
    }
    {
        ScopedEnv a("GOOGLE_GENAI_USE_VERTEXAI", nullptr);
        ScopedEnv b("GOOGLE_CLOUD_PROJECT", nullptr);
        ScopedEnv c("GOOGLE_CLOUD_LOCATION", nullptr);
        auto r = default_routes("", true);
        CHECK(r[0].kind == RouteKind::Vertex);
        CHECK(r[0].project.empty());       // express mode: the API key authenticates
        CHECK(r[0].token_env.empty());
    }
}

TEST_CASE("credentials: header per kind, token from env or command, refreshed", "[routes]") {
    auto clock = std::make_shared<FakeClock>();
    {
        RouteAuth auth(resolve_route(RouteConfig{}, "key-0001"), clock);
        net::Headers h;
        auth.add_headers(h);
        CHECK(net::header_value(h, "x-goog-api-key") == "key-0001");
        CHECK(net::header_value(h, "authorization").empty());
    }
    {
        ScopedEnv t("NBCORE_TEST_TOKEN", "ya29.token-one");
        RouteAuth auth(resolve_route(vertex("p", "global"), "key-0001"), clock);
        net::Headers h;
        auth.add_headers(h);
        CHECK(net::header_value(h, "authorization") == "Bearer ya29.token-one");
        CHECK(net::header_value(h, "x-goog-api-key").empty());
        CHECK(net::header_value(h, "x-goog-user-project") == "p");
        CHECK(auth.current_secret() == "ya29.token-one");
    }
    {
        auto r = vertex("p", "global");
        r.token_env.clear();
        r.token_command = "echo ya29.from-command";
        r.token_ttl = std::chrono::seconds(60);
        RouteAuth auth(resolve_route(r, ""), clock);
        net::Headers h;
        auth.add_headers(h);
        CHECK(net::header_value(h, "authorization") == "Bearer ya29.from-command");
    }
    {
        auto r = vertex("p", "global");
        r.token_env.clear();
        r.token_command = "exit 3";
        RouteAuth auth(resolve_route(r, ""), clock);
        net::Headers h;
        try {
            auth.add_headers(h);
            FAIL("expected an AUTH error");
        } catch (const Error& e) {
            CHECK(e.code() == Status::AUTH);
            CHECK(e.diagnosis().reason == "TOKEN_COMMAND_FAILED");
            CHECK_FALSE(e.diagnosis().advice.empty());
        }
    }
}

TEST_CASE("a cached token is refreshed after its ttl and after invalidate()", "[routes]") {
    auto clock = std::make_shared<FakeClock>();
    ScopedEnv t("NBCORE_TEST_TOKEN", "first");
    auto r = vertex("p", "global");
    r.token_ttl = std::chrono::seconds(100);
    RouteAuth auth(resolve_route(r, ""), clock);
    net::Headers h;
    auth.add_headers(h);
    setenv("NBCORE_TEST_TOKEN", "second", 1);
    net::Headers h2;
    auth.add_headers(h2);
    CHECK(net::header_value(h2, "authorization") == "Bearer first");   // cached
    clock->advance(std::chrono::seconds(101));
    net::Headers h3;
    auth.add_headers(h3);
    CHECK(net::header_value(h3, "authorization") == "Bearer second");
    setenv("NBCORE_TEST_TOKEN", "third", 1);
    auth.invalidate();
    net::Headers h4;
    auth.add_headers(h4);
    CHECK(net::header_value(h4, "authorization") == "Bearer third");
}

TEST_CASE("credential fingerprints never contain the credential", "[routes]") {
    auto f1 = credential_fingerprint("secret-key-1");
    auto f2 = credential_fingerprint("secret-key-2");
    CHECK(f1 != f2);
    CHECK(f1.size() == 12);
    CHECK(credential_fingerprint("") == "none");
    CHECK(f1.find("secret") == std::string::npos);
    CHECK(credential_fingerprint("secret-key-1") == f1);
}
