// Reading the google.rpc.Status error envelope, tolerantly: wrappers, missing fields, odd types
// and non-JSON pages never throw; whatever is readable is kept.
#include <cctype>
#include <cmath>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "policy/internal.hpp"

namespace nbcore::policy::detail {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxPageText = 300;

std::string string_of(const json& obj, std::string_view key) {
    if (!obj.is_object()) return {};
    auto it = obj.find(key);
    if (it == obj.end()) return {};
    if (it->is_string()) return it->get<std::string>();
    if (it->is_number() || it->is_boolean()) return it->dump();
    return {};
}

const json* member(const json& obj, std::string_view key) {
    if (!obj.is_object()) return nullptr;
    auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
}

// "type.googleapis.com/google.rpc.QuotaFailure" -> "QuotaFailure"
std::string_view detail_type(const json& detail) {
    const json* t = member(detail, "@type");
    if (!t || !t->is_string()) return {};
    std::string_view s = t->get_ref<const std::string&>();
    auto cut = s.find_last_of("./");
    return cut == std::string_view::npos ? s : s.substr(cut + 1);
}

void read_error_info(const json& d, ErrorBody& out) {
    if (out.info_reason.empty()) out.info_reason = string_of(d, "reason");
    if (const json* md = member(d, "metadata"); md && md->is_object())
        for (const auto& [key, value] : md->items())
            out.info_metadata.emplace_back(key, value.is_string() ? value.get<std::string>()
                                                                  : value.dump());
}

void read_quota_failure(const json& d, ErrorBody& out) {
    const json* list = member(d, "violations");
    if (!list || !list->is_array()) return;
    for (const auto& v : *list) {
        QuotaViolation q;
        q.metric = string_of(v, "quotaMetric");
        q.id = string_of(v, "quotaId");
        q.value = string_of(v, "quotaValue");
        if (const json* dims = member(v, "quotaDimensions")) q.model = string_of(*dims, "model");
        // The classic QuotaFailure shape carries only subject/description.
        if (q.id.empty()) q.id = string_of(v, "subject");
        if (q.metric.empty()) q.metric = string_of(v, "description");
        out.violations.push_back(std::move(q));
    }
}

void read_retry_info(const json& d, ErrorBody& out) {
    const json* delay = member(d, "retryDelay");
    if (!delay) return;
    if (delay->is_string()) {
        out.retry_delay = parse_proto_duration(delay->get_ref<const std::string&>());
    } else if (delay->is_object()) {   // {"seconds": 47, "nanos": 0} from proto-to-JSON bridges
        const json* s = member(*delay, "seconds");
        const json* n = member(*delay, "nanos");
        double secs = 0;
        if (s && s->is_number()) secs += s->get<double>();
        if (s && s->is_string()) secs += std::atof(s->get_ref<const std::string&>().c_str());
        if (n && n->is_number()) secs += n->get<double>() / 1e9;
        // Capped before the conversion: a double beyond the integer's range (1e999 is inf) is UB.
        const double max_ms = static_cast<double>(kMaxServerDelay.count());
        if (secs >= 0) out.retry_delay = Millis(static_cast<Millis::rep>(std::ceil(std::min(secs * 1000, max_ms))));
    }
}

void read_details(const json& details, ErrorBody& out) {
    if (!details.is_array()) return;
    for (const auto& d : details) {
        auto type = detail_type(d);
        if (type == "ErrorInfo") {
            read_error_info(d, out);
        } else if (type == "QuotaFailure") {
            read_quota_failure(d, out);
        } else if (type == "RetryInfo") {
            read_retry_info(d, out);
        } else if (type == "Help") {
            if (const json* links = member(d, "links"); links && links->is_array())
                for (const auto& l : *links)
                    if (auto url = string_of(l, "url"); !url.empty()) out.help_urls.push_back(url);
        } else if (type == "BadRequest") {
            if (const json* fv = member(d, "fieldViolations"); fv && fv->is_array())
                for (const auto& f : *fv)
                    out.field_violations.push_back({string_of(f, "field"), string_of(f, "description")});
        } else if (type == "LocalizedMessage") {
            if (out.message.empty()) out.message = string_of(d, "message");
        }
        // DebugInfo is skipped on purpose: its detail can echo the API key.
    }
}

void read_envelope(const json& err, ErrorBody& out) {
    out.present = true;
    if (err.is_string()) {   // some proxies answer {"error": "text"}
        out.message = err.get<std::string>();
        return;
    }
    if (const json* c = member(err, "code")) {
        if (c->is_number_integer()) out.code = c->get<int>();
        else if (c->is_string()) out.code = std::atoi(c->get_ref<const std::string&>().c_str());
    }
    out.status = string_of(err, "status");
    out.message = string_of(err, "message");
    if (const json* details = member(err, "details")) read_details(*details, out);
    if (const json* legacy = member(err, "errors"); legacy && legacy->is_array() && !legacy->empty())
        out.legacy_reason = string_of(legacy->front(), "reason");
}

// The envelope inside a parsed document: the object itself, or the first array element
// (streamed chunks) that carries one.
const json* find_envelope(const json& doc) {
    if (const json* err = member(doc, "error")) return err;
    if (doc.is_array())
        for (const auto& element : doc)
            if (const json* err = member(element, "error")) return err;
    return nullptr;
}

// The readable text of an HTML error page: tags, style and script dropped, entities decoded,
// whitespace collapsed.
std::string page_text(std::string_view page) {
    std::string out;
    std::size_t i = 0;
    auto skip_block = [&](std::string_view open, std::string_view close) {
        if (page.compare(i, open.size(), open) != 0) return false;
        auto end = page.find(close, i);
        i = end == std::string_view::npos ? page.size() : end + close.size();
        return true;
    };
    while (i < page.size() && out.size() < kMaxPageText * 2) {
        if (skip_block("<style", "</style>") || skip_block("<script", "</script>")) continue;
        char c = page[i];
        if (c == '<') {
            auto end = page.find('>', i);
            i = end == std::string_view::npos ? page.size() : end + 1;
            out += ' ';
            continue;
        }
        if (c == '&') {
            static constexpr std::pair<std::string_view, char> kEntities[] = {
                {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&#39;", '\''}};
            bool matched = false;
            for (const auto& [entity, ch] : kEntities)
                if (page.compare(i, entity.size(), entity) == 0) {
                    out += ch;
                    i += entity.size();
                    matched = true;
                    break;
                }
            if (matched) continue;
        }
        out += std::isspace(static_cast<unsigned char>(c)) ? ' ' : c;
        ++i;
    }
    std::string collapsed;
    for (char c : out) {
        if (c == ' ' && (collapsed.empty() || collapsed.back() == ' ')) continue;
        collapsed += c;
    }
    while (!collapsed.empty() && collapsed.back() == ' ') collapsed.pop_back();
    return clip(collapsed, kMaxPageText);
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

// An SSE stream: the first "data:" event that holds an error envelope.
bool parse_sse_error(std::string_view body, ErrorBody& out) {
    std::size_t pos = 0;
    while (pos < body.size()) {
        auto eol = body.find('\n', pos);
        auto line = trim(body.substr(pos, eol == std::string_view::npos ? eol : eol - pos));
        pos = eol == std::string_view::npos ? body.size() : eol + 1;
        if (line.substr(0, 5) != "data:") continue;
        json doc = json::parse(line.substr(5), nullptr, false);
        if (doc.is_discarded()) continue;
        if (const json* err = find_envelope(doc)) {
            read_envelope(*err, out);
            return true;
        }
    }
    return false;
}

}  // namespace

std::string_view ErrorBody::metadata(std::string_view key) const noexcept {
    for (const auto& [k, v] : info_metadata)
        if (k == key) return v;
    return {};
}

ErrorBody parse_error_body(std::string_view body) {
    ErrorBody out;
    auto text = trim(body);
    if (text.empty()) return out;
    if (text.substr(0, 5) == "data:") {
        parse_sse_error(text, out);
        return out;
    }
    json doc = json::parse(text, nullptr, false);
    if (doc.is_discarded()) {
        // An HTML page from a front end or proxy, plain text, or JSON cut short.
        out.present = true;
        out.html = true;
        out.message = text.front() == '<' ? page_text(text) : clip(text, kMaxPageText);
        return out;
    }
    if (const json* err = find_envelope(doc)) read_envelope(*err, out);
    else out.message = clip(text, kMaxPageText);   // JSON, but not an envelope: show it as is
    return out;
}

ErrorBody error_body_from(const ApiError& e) {
    ErrorBody out;
    out.present = true;
    out.code = e.code;
    out.status = e.status;
    out.message = e.message;
    if (!e.details_json.empty()) {
        json details = json::parse(e.details_json, nullptr, false);
        if (!details.is_discarded()) read_details(details, out);
    }
    return out;
}

ErrorBody envelope_of(const Observation& obs) {
    if (!obs.reply || !obs.reply->error) return parse_error_body(obs.body);
    auto e = error_body_from(*obs.reply->error);
    if (e.legacy_reason.empty() && !obs.body.empty()) {
        auto raw = parse_error_body(obs.body);
        if (raw.present && !raw.html && raw.code == e.code) e.legacy_reason = std::move(raw.legacy_reason);
    }
    return e;
}

}  // namespace nbcore::policy::detail
