#include "request_log.hpp"

#include "auth.hpp"
#include "nbcore/redact.hpp"
#include "routes.hpp"
#include "util.hpp"

namespace nbcore::emulator {
namespace {

using json = nlohmann::json;

constexpr std::size_t kMaxLoggedRawBody = 4096;

// Headers httplib adds to every request for its own use.
bool is_httplib_internal_header(const std::string& name) {
    return name == "REMOTE_ADDR" || name == "REMOTE_PORT" || name == "LOCAL_ADDR" || name == "LOCAL_PORT";
}

// inlineData.data becomes "<N base64 chars>" (without reading the data); every other string,
// and every name, loses any secret it holds.
json scrub_json(const json& v, const std::vector<std::string>& secrets, bool in_blob = false) {
    if (v.is_object()) {
        json out = json::object();
        for (auto it = v.begin(); it != v.end(); ++it) {
            if (in_blob && it.key() == "data" && it->is_string()) {
                out["data"] = "<" + std::to_string(it->get_ref<const std::string&>().size()) + " base64 chars>";
                continue;
            }
            const bool blob = it.key() == "inlineData" || it.key() == "inline_data";
            out[scrub_text(it.key(), secrets)] = scrub_json(*it, secrets, blob);
        }
        return out;
    }
    if (v.is_array()) {
        json out = json::array();
        for (const auto& e : v) out.push_back(scrub_json(e, secrets));
        return out;
    }
    if (v.is_string()) return scrub_text(v.get_ref<const std::string&>(), secrets);
    return v;
}

json logged_body(const std::string& body, const std::vector<std::string>& secrets) {
    if (body.empty()) return nullptr;
    auto doc = json::parse(body, nullptr, false);
    if (doc.is_discarded()) {
        // Scrub first, then cut: a cut must not leave half a key behind.
        std::string text = scrub_text(body, secrets);
        return text.size() > kMaxLoggedRawBody ? valid_utf8(text.substr(0, kMaxLoggedRawBody)) + "..." : text;
    }
    return scrub_json(doc, secrets);
}

}  // namespace

std::vector<std::string> secrets_of(const Headers& headers, std::string_view target, const std::string& configured_key) {
    std::vector<std::string> secrets;
    if (!configured_key.empty()) secrets.push_back(configured_key);
    for (const auto& [name, value] : headers) {
        std::string lower = to_lower(name);
        if (lower == "x-goog-api-key" && !value.empty()) secrets.push_back(value);
        if (lower == "authorization" && !bearer_token_of(value).empty()) secrets.push_back(bearer_token_of(value));
    }
    if (auto key = query_value(parse_query(target), "key"); key && !key->empty()) secrets.push_back(*key);
    return secrets;
}

std::string scrub_text(std::string_view text, const std::vector<std::string>& secrets) {
    std::string out = nbcore::redact(valid_utf8(text));
    for (const auto& secret : secrets) out = nbcore::redact(out, secret);
    return out;
}

json log_entry(const LoggedRequest& r, const std::string& configured_key) {
    const auto secrets = secrets_of(r.headers, r.target, configured_key);
    json query = json::object();
    for (const auto& [name, value] : parse_query(r.target))
        query[scrub_text(name, secrets)] = name == "key" ? "[REDACTED]" : scrub_text(value, secrets);
    json headers = json::object();
    for (const auto& [name, value] : r.headers) {
        if (is_httplib_internal_header(name)) continue;
        std::string lower = to_lower(name);
        bool secret = lower == "x-goog-api-key" || lower == "authorization";
        headers[scrub_text(lower, secrets)] = secret ? "[REDACTED]" : scrub_text(value, secrets);
    }
    json entry = {{"n", r.n},
                  {"method", scrub_text(r.method, secrets)},
                  {"path", scrub_text(r.path, secrets)},
                  {"query", query},
                  {"headers", headers},
                  {"body", logged_body(r.body, secrets)},
                  {"model", scrub_text(r.model, secrets)},
                  {"arrival_ms", r.arrival_ms},
                  {"status", r.status},
                  {"fault", r.fault}};
    if (!r.render.is_null()) entry["render"] = r.render;
    return entry;
}

}  // namespace nbcore::emulator
