// Which API method a request addresses, from its HTTP method and path alone.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reply.hpp"

namespace nbcore::emulator {

enum class Api {
    AiStudio,        // /v1beta/models/...                        (x-goog-api-key)
    Vertex,          // /v1[beta1]/projects/P/locations/L/publishers/google/models/...  (Bearer)
    VertexExpress,   // /v1[beta1]/publishers/google/models/...   (x-goog-api-key)
    Control,         // /_emulator/...
};

enum class Rpc {
    GenerateContent, StreamGenerateContent, CountTokens, ListModels, GetModel, Control,
    // The Batch API (AI Studio only) and the part of the Files API it needs.
    BatchGenerateContent, ListBatches, GetBatch, CancelBatch, DeleteBatch,
    UploadFile, GetFile, DeleteFile, DownloadFile, ListFiles,
};

struct Route {
    Api api = Api::AiStudio;
    Rpc rpc = Rpc::GenerateContent;
    std::string version;     // "v1beta", "v1", "v1beta1"
    std::string model;       // as written in the path, "models/" prefix removed
    std::string project;     // Vertex
    std::string location;    // Vertex
    std::string control;     // "script", "reset", "requests", "health"
    std::string resource;    // batch and file routes: "batches/<id>", "files/<id>"
    bool sse = false;        // streamGenerateContent?alt=sse

    bool is_vertex() const { return api == Api::Vertex || api == Api::VertexExpress; }
    bool is_generation() const {
        return rpc == Rpc::GenerateContent || rpc == Rpc::StreamGenerateContent;
    }
    bool is_batch_or_file() const { return rpc >= Rpc::BatchGenerateContent; }
    Framing framing() const {
        if (rpc != Rpc::StreamGenerateContent) return Framing::Unary;
        return sse ? Framing::Sse : Framing::JsonArray;
    }
};

// nullopt: no such route (the server answers the front end's HTML 404).
std::optional<Route> parse_route(std::string_view method, std::string_view path, bool alt_sse);

// The query of a request target ("/path?a=1&b=x%20y"), percent-decoded, in order. Only the URL
// counts: a form-encoded body is not a query.
using QueryParams = std::vector<std::pair<std::string, std::string>>;
QueryParams parse_query(std::string_view target);
std::optional<std::string> query_value(const QueryParams& query, std::string_view name);

// "GenerateContent", "StreamGenerateContent", ... as the API names its methods.
std::string_view rpc_name(Rpc rpc);
// "generateContent", ... as error messages and supportedGenerationMethods spell them.
std::string_view rpc_verb(Rpc rpc);
// "google.ai.generativelanguage.v1beta.GenerativeService.GenerateContent" (ErrorInfo metadata).
std::string rpc_full_name(const Route& route);

}  // namespace nbcore::emulator
