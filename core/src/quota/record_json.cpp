// A key's learned state and configured limits as one JSON value: how the SQLite store keeps it in
// a row and the Redis backend in a string key.
#include <nlohmann/json.hpp>

#include "quota/ledger.hpp"

namespace nbcore::quota::detail {
namespace {

using json = nlohmann::json;

json opt_int(const std::optional<std::int64_t>& v) { return v ? json(*v) : json(nullptr); }

std::optional<std::int64_t> get_opt_int(const json& j, const char* k) {
    auto it = j.find(k);
    if (it == j.end() || it->is_null()) return std::nullopt;
    return it->get<std::int64_t>();
}

}  // namespace

std::string record_to_text(const KeyRecord& r) {
    json dims = json::array();
    for (const auto& d : r.state.dims) {
        dims.push_back({{"server", opt_int(d.server_limit)},
                        {"adaptive", d.adaptive ? json(*d.adaptive) : json(nullptr)},
                        {"drained_ms", epoch_ms(d.drained_until)},
                        {"warned_ms", epoch_ms(d.warned_at)}});
    }
    json configured = {{"rpm", opt_int(r.configured.rpm)},
                       {"tpm", opt_int(r.configured.tpm)},
                       {"ipm", opt_int(r.configured.ipm)},
                       {"rpd", opt_int(r.configured.rpd)}};
    return json{{"dims", dims}, {"zero_ms", epoch_ms(r.state.zero_until)}, {"configured", configured}}.dump();
}

KeyRecord record_from_text(const std::string& text) {
    KeyRecord r;
    json j = json::parse(text);
    const auto& dims = j.at("dims");
    for (std::size_t i = 0; i < r.state.dims.size() && i < dims.size(); ++i) {
        auto& d = r.state.dims[i];
        const auto& src = dims[i];
        d.server_limit = get_opt_int(src, "server");
        if (auto a = src.find("adaptive"); a != src.end() && !a->is_null()) d.adaptive = a->get<double>();
        d.drained_until = from_epoch_ms(src.value("drained_ms", std::int64_t{0}));
        d.warned_at = from_epoch_ms(src.value("warned_ms", std::int64_t{0}));
    }
    r.state.zero_until = from_epoch_ms(j.value("zero_ms", std::int64_t{0}));
    if (auto c = j.find("configured"); c != j.end()) {
        r.configured.rpm = get_opt_int(*c, "rpm");
        r.configured.tpm = get_opt_int(*c, "tpm");
        r.configured.ipm = get_opt_int(*c, "ipm");
        r.configured.rpd = get_opt_int(*c, "rpd");
    }
    return r;
}

}  // namespace nbcore::quota::detail
