#include "routes.hpp"

#include <vector>

namespace nbcore::emulator {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
    std::vector<std::string_view> parts;
    while (!path.empty()) {
        if (path.front() == '/') {
            path.remove_prefix(1);
            continue;
        }
        auto slash = path.find('/');
        parts.push_back(path.substr(0, slash));
        if (slash == std::string_view::npos) break;
        path.remove_prefix(slash);
    }
    return parts;
}

std::optional<Rpc> rpc_from_verb(std::string_view verb) {
    if (verb == "generateContent") return Rpc::GenerateContent;
    if (verb == "streamGenerateContent") return Rpc::StreamGenerateContent;
    if (verb == "countTokens") return Rpc::CountTokens;
    return std::nullopt;
}

// "gemini-3-pro-image-preview:generateContent" -> model + rpc (POST only).
bool split_model_call(std::string_view last, std::string_view method, Route& route) {
    auto colon = last.rfind(':');
    if (colon == std::string_view::npos || method != "POST") return false;
    auto rpc = rpc_from_verb(last.substr(colon + 1));
    if (!rpc || colon == 0) return false;
    route.rpc = *rpc;
    route.model = std::string(last.substr(0, colon));
    return true;
}

std::optional<Route> parse_control(std::string_view method, const std::vector<std::string_view>& p) {
    if (p.size() != 2) return std::nullopt;
    Route r;
    r.api = Api::Control;
    r.rpc = Rpc::Control;
    r.control = std::string(p[1]);
    bool post = r.control == "script" || r.control == "reset";
    bool get = r.control == "requests" || r.control == "health";
    if ((post && method == "POST") || (get && method == "GET")) return r;
    return std::nullopt;
}

// /v1beta/models[/{model}[:rpc]]  (a doubled "models/" in the id is tolerated)
std::optional<Route> parse_ai_studio(std::string_view method, std::vector<std::string_view> p) {
    Route r;
    r.api = Api::AiStudio;
    r.version = std::string(p[0]);
    if (p.size() >= 3 && p[2] == "models") p.erase(p.begin() + 2);
    if (p.size() == 2) {
        if (method != "GET") return std::nullopt;
        r.rpc = Rpc::ListModels;
        return r;
    }
    if (p.size() != 3) return std::nullopt;
    if (split_model_call(p[2], method, r)) return r;
    if (method != "GET" || p[2].find(':') != std::string_view::npos) return std::nullopt;
    r.rpc = Rpc::GetModel;
    r.model = std::string(p[2]);
    return r;
}

// /v1/projects/P/locations/L/publishers/google/models/M:rpc  and  /v1/publishers/google/models/M:rpc
std::optional<Route> parse_vertex(std::string_view method, const std::vector<std::string_view>& p) {
    Route r;
    r.version = std::string(p[0]);
    std::size_t i = 1;
    if (p.size() == 9 && p[1] == "projects" && p[3] == "locations") {
        r.api = Api::Vertex;
        r.project = std::string(p[2]);
        r.location = std::string(p[4]);
        i = 5;
    } else if (p.size() == 5) {
        r.api = Api::VertexExpress;
    } else {
        return std::nullopt;
    }
    if (p[i] != "publishers" || p[i + 1] != "google" || p[i + 2] != "models") return std::nullopt;
    if (!split_model_call(p[i + 3], method, r)) return std::nullopt;
    return r;
}

}  // namespace

std::optional<Route> parse_route(std::string_view method, std::string_view path, bool alt_sse) {
    auto parts = split_path(path);
    if (parts.empty()) return std::nullopt;
    std::optional<Route> route;
    if (parts[0] == "_emulator") {
        route = parse_control(method, parts);
    } else if (parts[0] == "v1beta" && parts.size() >= 2 && parts[1] == "models") {
        route = parse_ai_studio(method, parts);
    } else if ((parts[0] == "v1" || parts[0] == "v1beta1") && parts.size() >= 5) {
        route = parse_vertex(method, parts);
    }
    if (route) {
        if (route->model.rfind("models/", 0) == 0) route->model.erase(0, 7);
        route->sse = route->rpc == Rpc::StreamGenerateContent && alt_sse;
    }
    return route;
}

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string percent_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') {
            out += ' ';
        } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
            out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

}  // namespace

QueryParams parse_query(std::string_view target) {
    QueryParams params;
    auto q = target.find('?');
    if (q == std::string_view::npos) return params;
    std::string_view rest = target.substr(q + 1);
    while (!rest.empty()) {
        auto amp = rest.find('&');
        std::string_view pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
        if (pair.empty()) continue;
        auto eq = pair.find('=');
        params.emplace_back(percent_decode(pair.substr(0, eq)),
                            eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1)));
    }
    return params;
}

std::optional<std::string> query_value(const QueryParams& query, std::string_view name) {
    for (const auto& [k, v] : query)
        if (k == name) return v;
    return std::nullopt;
}

std::string_view rpc_name(Rpc rpc) {
    switch (rpc) {
        case Rpc::GenerateContent: return "GenerateContent";
        case Rpc::StreamGenerateContent: return "StreamGenerateContent";
        case Rpc::CountTokens: return "CountTokens";
        case Rpc::ListModels: return "ListModels";
        case Rpc::GetModel: return "GetModel";
        case Rpc::Control: return "Control";
    }
    return "";
}

std::string_view rpc_verb(Rpc rpc) {
    switch (rpc) {
        case Rpc::GenerateContent: return "generateContent";
        case Rpc::StreamGenerateContent: return "streamGenerateContent";
        case Rpc::CountTokens: return "countTokens";
        case Rpc::ListModels: return "listModels";
        case Rpc::GetModel: return "getModel";
        case Rpc::Control: return "control";
    }
    return "";
}

std::string rpc_full_name(const Route& route) {
    bool model_service = route.rpc == Rpc::ListModels || route.rpc == Rpc::GetModel;
    if (route.is_vertex())
        return "google.cloud.aiplatform." + (route.version.empty() ? "v1" : route.version) +
               ".PredictionService." + std::string(rpc_name(route.rpc));
    return std::string("google.ai.generativelanguage.v1beta.") +
           (model_service ? "ModelService." : "GenerativeService.") + std::string(rpc_name(route.rpc));
}

}  // namespace nbcore::emulator
