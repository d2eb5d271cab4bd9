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
    if (verb == "batchGenerateContent") return Rpc::BatchGenerateContent;
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
    bool post = r.control == "script" || r.control == "reset" || r.control == "quota";
    bool get = r.control == "requests" || r.control == "health" || r.control == "quota";
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
    if (r.rpc == Rpc::BatchGenerateContent) return std::nullopt;   // Vertex batches are another API
    return r;
}

// Resource ids are lowercase letters, digits and dashes (batches, files, "batch-<id>").
bool is_resource_id(std::string_view id) {
    if (id.empty()) return false;
    for (char c : id)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    return true;
}

// "abc:verb" -> ("abc", "verb"); "abc" -> ("abc", "").
std::pair<std::string_view, std::string_view> split_verb(std::string_view last) {
    auto colon = last.find(':');
    if (colon == std::string_view::npos) return {last, {}};
    return {last.substr(0, colon), last.substr(colon + 1)};
}

// /v1beta/batches[/{id}[:cancel]]
std::optional<Route> parse_batches(std::string_view method, const std::vector<std::string_view>& p) {
    Route r;
    r.api = Api::AiStudio;
    r.version = std::string(p[0]);
    if (p.size() == 2) {
        if (method != "GET") return std::nullopt;
        r.rpc = Rpc::ListBatches;
        return r;
    }
    if (p.size() != 3) return std::nullopt;
    auto [id, verb] = split_verb(p[2]);
    if (!is_resource_id(id)) return std::nullopt;
    r.resource = "batches/" + std::string(id);
    if (verb.empty() && method == "GET") r.rpc = Rpc::GetBatch;
    else if (verb.empty() && method == "DELETE") r.rpc = Rpc::DeleteBatch;
    else if (verb == "cancel" && method == "POST") r.rpc = Rpc::CancelBatch;
    else return std::nullopt;
    return r;
}

// /v1beta/files[/{id}[:download]], /download/v1beta/files/{id}:download, /upload/v1beta/files
std::optional<Route> parse_files(std::string_view method, std::vector<std::string_view> p) {
    Route r;
    r.api = Api::AiStudio;
    std::string_view prefix;
    if (p[0] == "upload" || p[0] == "download") {
        prefix = p[0];
        p.erase(p.begin());
    }
    if (p.size() < 2 || p[0] != "v1beta" || p[1] != "files") return std::nullopt;
    r.version = std::string(p[0]);
    if (prefix == "upload") {
        if (p.size() != 2 || method != "POST") return std::nullopt;
        r.rpc = Rpc::UploadFile;
        return r;
    }
    if (p.size() == 2 && prefix.empty() && method == "GET") {
        r.rpc = Rpc::ListFiles;
        return r;
    }
    if (p.size() != 3) return std::nullopt;
    auto [id, verb] = split_verb(p[2]);
    if (!is_resource_id(id)) return std::nullopt;
    r.resource = "files/" + std::string(id);
    if (verb == "download" && method == "GET") r.rpc = Rpc::DownloadFile;
    else if (prefix == "download") return std::nullopt;
    else if (verb.empty() && method == "GET") r.rpc = Rpc::GetFile;
    else if (verb.empty() && method == "DELETE") r.rpc = Rpc::DeleteFile;
    else return std::nullopt;
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
    } else if (parts[0] == "v1beta" && parts.size() >= 2 && parts[1] == "batches") {
        route = parse_batches(method, parts);
    } else if ((parts[0] == "v1beta" && parts.size() >= 2 && parts[1] == "files") ||
               (parts.size() >= 3 && (parts[0] == "upload" || parts[0] == "download"))) {
        route = parse_files(method, parts);
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
        case Rpc::BatchGenerateContent: return "BatchGenerateContent";
        case Rpc::ListBatches: return "ListOperations";
        case Rpc::GetBatch: return "GetOperation";
        case Rpc::CancelBatch: return "CancelOperation";
        case Rpc::DeleteBatch: return "DeleteOperation";
        case Rpc::UploadFile: return "CreateFile";
        case Rpc::GetFile: return "GetFile";
        case Rpc::DeleteFile: return "DeleteFile";
        case Rpc::DownloadFile: return "DownloadFile";
        case Rpc::ListFiles: return "ListFiles";
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
        case Rpc::BatchGenerateContent: return "batchGenerateContent";
        case Rpc::ListBatches: return "list";
        case Rpc::GetBatch: return "get";
        case Rpc::CancelBatch: return "cancel";
        case Rpc::DeleteBatch: return "delete";
        case Rpc::UploadFile: return "upload";
        case Rpc::GetFile: return "get";
        case Rpc::DeleteFile: return "delete";
        case Rpc::DownloadFile: return "download";
        case Rpc::ListFiles: return "list";
    }
    return "";
}

std::string rpc_full_name(const Route& route) {
    bool model_service = route.rpc == Rpc::ListModels || route.rpc == Rpc::GetModel;
    bool operations = route.rpc >= Rpc::ListBatches && route.rpc <= Rpc::DeleteBatch;
    bool files = route.rpc >= Rpc::UploadFile;
    if (operations) return "google.longrunning.Operations." + std::string(rpc_name(route.rpc));
    if (files) return "google.ai.generativelanguage.v1beta.FileService." + std::string(rpc_name(route.rpc));
    if (route.is_vertex())
        return "google.cloud.aiplatform." + (route.version.empty() ? "v1" : route.version) +
               ".PredictionService." + std::string(rpc_name(route.rpc));
    return std::string("google.ai.generativelanguage.v1beta.") +
           (model_service ? "ModelService." : "GenerativeService.") + std::string(rpc_name(route.rpc));
}

}  // namespace nbcore::emulator
