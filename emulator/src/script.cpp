#include "script.hpp"

#include <cmath>
#include <stdexcept>

#include "faults.hpp"
#include "nbcore/models.hpp"
#include "util.hpp"

namespace nbcore::emulator {
namespace {

using json = nlohmann::ordered_json;   // keeps a custom body's key order

[[noreturn]] void fail(const std::string& where, const std::string& what) {
    throw std::invalid_argument("script: " + (where.empty() ? "" : where + ": ") + what);
}

std::string known_faults() {
    std::string s;
    for (const auto& f : fault_table()) s += (s.empty() ? "" : ", ") + std::string(f.name);
    return s;
}

int int_field(const json& v, const std::string& where, const char* key, int lo, int hi) {
    if (!v.is_number_integer() || v.get<long long>() < lo || v.get<long long>() > hi)
        fail(where, std::string("\"") + key + "\" must be an integer from " + std::to_string(lo) + " to " +
                        std::to_string(hi) + ", not " + v.dump());
    return v.get<int>();
}

// A body position: 1024 (bytes), 0.5 or "0.5" (a fraction), "1024".
BodyOffset offset_field(const json& v, const std::string& where, const char* key, bool allow_before_headers) {
    std::optional<BodyOffset> off;
    if (v.is_number_integer()) off = BodyOffset::bytes(v.get<long long>());
    else if (v.is_number_float() && v.get<double>() >= 0 && v.get<double>() <= 1) off = BodyOffset::part(v.get<double>());
    else if (v.is_string()) off = parse_offset(v.get<std::string>());
    if (!off || (off->before_headers() && !allow_before_headers))
        fail(where, std::string("\"") + key + "\" must be a byte count or a fraction of the body like \"0.5\"" +
                        (allow_before_headers ? " (or -1: before the status line)" : "") + ", not " + v.dump());
    return *off;
}

double retry_delay_field(const json& v, const std::string& where) {
    double seconds = -1;
    if (v.is_number()) {
        seconds = v.get<double>();
    } else if (v.is_string()) {
        std::string s = v.get<std::string>();
        if (!s.empty() && s.back() == 's') s.pop_back();
        char* end = nullptr;
        seconds = std::strtod(s.c_str(), &end);
        if (s.empty() || !end || *end != '\0') seconds = -1;
    }
    if (!(seconds >= 0) || seconds > 86400)
        fail(where, "\"retry_delay\" must be seconds, like 7, 2.5 or \"7s\", not " + v.dump());
    return seconds;
}

void parse_fault_name(const std::string& text, const std::string& where, ScriptEntry& e) {
    auto colon = text.find(':');
    e.kind = ScriptEntry::Kind::Fault;
    e.fault = text.substr(0, colon);
    e.arg = colon == std::string::npos ? "" : text.substr(colon + 1);
    const FaultSpec* spec = find_fault(e.fault);
    if (!spec) fail(where, "unknown fault \"" + e.fault + "\"; known faults: " + known_faults());
    if (colon != std::string::npos && e.arg.empty()) fail(where, "empty argument after \"" + e.fault + ":\"");
    if (auto problem = check_fault_arg(*spec, e.arg); !problem.empty()) fail(where, problem);
}

Headers headers_field(const json& v, const std::string& where) {
    if (!v.is_object()) fail(where, "\"headers\" must be an object of header names to values");
    Headers out;
    for (auto it = v.begin(); it != v.end(); ++it) {
        std::string value = it->is_string() ? it->get<std::string>() : it->dump();
        if (it->is_object() || it->is_array() || it->is_null())
            fail(where, "header \"" + it.key() + "\" must have a string or number value");
        if (it.key().empty() || it.key().find_first_of("\r\n:") != std::string::npos ||
            value.find_first_of("\r\n") != std::string::npos)
            fail(where, "header \"" + it.key() + "\" has a name or value that cannot be sent");
        out.emplace_back(it.key(), value);
    }
    return out;
}

void parse_modifier(const std::string& key, const json& v, const std::string& where, ScriptEntry& e) {
    Modifiers& m = e.mods;
    if (key == "delay_ms") m.delay_ms = int_field(v, where, "delay_ms", 0, 600000);
    else if (key == "stall_ms") m.stall_ms = int_field(v, where, "stall_ms", 0, 600000);
    else if (key == "stall_at") m.stall_at = offset_field(v, where, "stall_at", false);
    else if (key == "reset") {
        if (!v.is_boolean()) fail(where, "\"reset\" must be true or false");
        m.reset = v.get<bool>();
    } else if (key == "reset_at") m.reset_at = offset_field(v, where, "reset_at", true);
    else if (key == "truncate_at") m.truncate_at = offset_field(v, where, "truncate_at", false);
    else if (key == "trickle_bytes") m.trickle_bytes = int_field(v, where, "trickle_bytes", 1, 1 << 30);
    else if (key == "trickle_ms") m.trickle_ms = int_field(v, where, "trickle_ms", 0, 600000);
    else fail(where, "unknown field \"" + key + "\"");
}

// Fills in what a partly given modifier implies, and rejects combinations that make no sense.
void settle_modifiers(ScriptEntry& e, const std::string& where) {
    Modifiers& m = e.mods;
    if (m.stall_at && !m.stall_ms) fail(where, "\"stall_at\" needs \"stall_ms\"");
    if (m.stall_ms && !m.stall_at) m.stall_at = BodyOffset::part(0.5);
    if (m.reset_at && !m.reset) m.reset = true;
    if (m.reset && *m.reset && !m.reset_at) m.reset_at = BodyOffset::bytes(0);
    if (m.trickle_bytes && !m.trickle_ms) m.trickle_ms = 20;
    if (m.trickle_ms && !m.trickle_bytes) m.trickle_bytes = 16384;
}

ScriptEntry parse_entry(const json& v, const std::string& where) {
    ScriptEntry e;
    if (v.is_string()) {
        std::string s = v.get<std::string>();
        if (s != "pass") parse_fault_name(s, where, e);
        return e;
    }
    if (!v.is_object()) fail(where, "an entry is a fault name (\"rpm_429\") or an object, not " + v.dump());
    bool has_status = false;
    for (auto it = v.begin(); it != v.end(); ++it) {
        const std::string& key = it.key();
        const json& val = it.value();
        if (key == "fault") {
            if (!val.is_string()) fail(where, "\"fault\" must be a fault name");
            parse_fault_name(val.get<std::string>(), where, e);
        } else if (key == "pass") {
            if (val != json(true)) fail(where, "\"pass\" can only be true");
        } else if (key == "status") {
            e.status = int_field(val, where, "status", 100, 599);
            has_status = true;
        } else if (key == "headers") {
            e.headers = headers_field(val, where);
        } else if (key == "body") {
            e.body = val;
        } else if (key == "body_text") {
            if (!val.is_string()) fail(where, "\"body_text\" must be a string");
            e.body_text = val.get<std::string>();
        } else if (key == "retry_delay") {
            e.retry_delay = retry_delay_field(val, where);
        } else if (key == "times") {
            e.times = int_field(val, where, "times", 1, 1000000);
        } else if (key == "model") {
            if (!val.is_string() || val.get<std::string>().empty()) fail(where, "\"model\" must be a model id");
            e.model = canonical_model_id(val.get<std::string>());
        } else if (key == "comment") {
            // free text for the reader of the script
        } else {
            parse_modifier(key, val, where, e);
        }
    }
    bool has_fault = e.kind == ScriptEntry::Kind::Fault;
    bool has_pass = v.contains("pass");
    bool has_body = e.body || e.body_text;
    if (has_fault + has_pass + has_status > 1) fail(where, "use only one of \"fault\", \"pass\" and \"status\"");
    if (has_body && !has_status) fail(where, "\"body\" and \"body_text\" need a \"status\"");
    if (e.body && e.body_text) fail(where, "use \"body\" (JSON) or \"body_text\" (raw text), not both");
    if (has_status) e.kind = ScriptEntry::Kind::Custom;
    if (e.retry_delay && !(has_fault && is_quota_fault(e.fault)))
        fail(where, "\"retry_delay\" only applies to the 429 faults");
    settle_modifiers(e, where);
    return e;
}

Mix parse_mix(const json& v) {
    const std::string where = "mix";
    if (!v.is_object()) fail(where, "must be an object {\"probability\", \"faults\", \"seed\"}");
    Mix mix;
    bool has_faults = false;
    for (auto it = v.begin(); it != v.end(); ++it) {
        if (it.key() == "probability") {
            if (!it->is_number() || it->get<double>() < 0 || it->get<double>() > 1)
                fail(where, "\"probability\" must be a number from 0 to 1");
            mix.probability = it->get<double>();
        } else if (it.key() == "faults") {
            if (!it->is_array() || it->empty()) fail(where, "\"faults\" must be a non-empty list");
            for (std::size_t i = 0; i < it->size(); ++i)
                mix.faults.push_back(parse_entry((*it)[i], "mix.faults[" + std::to_string(i) + "]"));
            has_faults = true;
        } else if (it.key() == "seed") {
            if (!it->is_number_integer()) fail(where, "\"seed\" must be an integer");
            mix.seed = static_cast<std::uint64_t>(it->get<long long>());
        } else {
            fail(where, "unknown field \"" + it.key() + "\"");
        }
    }
    if (!has_faults) fail(where, "needs \"faults\"");
    return mix;
}

// ["failed", "BATCH_STATE_EXPIRED", ...]: how the next batch jobs end.
std::vector<BatchEnd> parse_batch_ends(const json& v) {
    if (!v.is_array()) fail("batches", "must be a list of end states (\"succeeded\", \"failed\", \"cancelled\", \"expired\")");
    std::vector<BatchEnd> out;
    for (std::size_t i = 0; i < v.size(); ++i) {
        const std::string where = "batches[" + std::to_string(i) + "]";
        std::string name = v[i].is_string() ? to_lower(v[i].get<std::string>()) : std::string();
        if (name.rfind("batch_state_", 0) == 0) name.erase(0, 12);
        if (name == "succeeded") out.push_back(BatchEnd::Succeeded);
        else if (name == "failed") out.push_back(BatchEnd::Failed);
        else if (name == "cancelled") out.push_back(BatchEnd::Cancelled);
        else if (name == "expired") out.push_back(BatchEnd::Expired);
        else fail(where, "must be \"succeeded\", \"failed\", \"cancelled\" or \"expired\", not " + v[i].dump());
    }
    return out;
}

}  // namespace

std::string ScriptEntry::label() const {
    switch (kind) {
        case Kind::Pass: return "pass";
        case Kind::Custom: return "custom";
        case Kind::Fault: return fault;
    }
    return "pass";
}

bool ScriptEntry::applies_to(std::string_view model_id) const {
    return model.empty() || model == canonical_model_id(model_id);
}

Script parse_script(std::string_view text) {
    json doc = json::parse(text, nullptr, false);
    if (doc.is_discarded()) fail("", "not valid JSON");
    Script script;
    const json* replies = nullptr;
    if (doc.is_array()) {
        replies = &doc;
    } else if (doc.is_object()) {
        for (auto it = doc.begin(); it != doc.end(); ++it) {
            if (it.key() == "replies") {
                if (!it->is_array()) fail("replies", "must be a list");
                replies = &*it;
            } else if (it.key() == "then") {
                if (*it != "pass" && *it != "repeat_last") fail("then", "must be \"pass\" or \"repeat_last\", not " + it->dump());
                script.repeat_last = *it == "repeat_last";
            } else if (it.key() == "mix") {
                script.mix = parse_mix(*it);
            } else if (it.key() == "batches") {
                script.batch_ends = parse_batch_ends(*it);
            } else if (it.key() != "comment") {
                fail("", "unknown field \"" + it.key() + "\" (expected \"replies\", \"then\", \"mix\", \"batches\")");
            }
        }
    } else {
        fail("", "must be an object {\"replies\": [...]} or a list of replies");
    }
    if (replies)
        for (std::size_t i = 0; i < replies->size(); ++i)
            script.replies.push_back(parse_entry((*replies)[i], "replies[" + std::to_string(i) + "]"));
    return script;
}

std::optional<std::size_t> mix_pick(const Mix& mix, std::uint64_t k) {
    if (mix.faults.empty()) return std::nullopt;
    std::uint64_t draw = splitmix64(mix.seed ^ splitmix64(2 * k + 1));
    double u = static_cast<double>(draw >> 11) * (1.0 / 9007199254740992.0);
    if (!(u < mix.probability)) return std::nullopt;
    return static_cast<std::size_t>(splitmix64(mix.seed ^ splitmix64(2 * k + 2)) % mix.faults.size());
}

void Scheduler::load(Script script) {
    clear();
    for (auto& e : script.replies) queue_.push_back({e, e.times});
    if (!script.replies.empty()) last_ = script.replies.back();
    repeat_last_ = script.repeat_last;
    mix_ = std::move(script.mix);
    batch_ends_.assign(script.batch_ends.begin(), script.batch_ends.end());
}

void Scheduler::clear() {
    queue_.clear();
    last_.reset();
    repeat_last_ = false;
    mix_.reset();
    after_queue_ = 0;
    batch_ends_.clear();
}

BatchEnd Scheduler::next_batch_end() {
    if (batch_ends_.empty()) return BatchEnd::Succeeded;
    BatchEnd e = batch_ends_.front();
    batch_ends_.pop_front();
    return e;
}

std::optional<ScriptEntry> Scheduler::next(std::string_view model) {
    if (!queue_.empty()) {
        for (auto it = queue_.begin(); it != queue_.end(); ++it) {
            if (!it->entry.applies_to(model)) continue;
            ScriptEntry e = it->entry;
            if (--it->left == 0) queue_.erase(it);
            return e;
        }
        return std::nullopt;   // entries wait for another model
    }
    if (repeat_last_ && last_) return last_->applies_to(model) ? std::optional(*last_) : std::nullopt;
    if (mix_) {
        auto pick = mix_pick(*mix_, after_queue_++);
        if (pick && mix_->faults[*pick].applies_to(model)) return mix_->faults[*pick];
    }
    return std::nullopt;
}

std::size_t Scheduler::queued() const {
    std::size_t n = 0;
    for (const auto& s : queue_) n += static_cast<std::size_t>(s.left);
    return n;
}

}  // namespace nbcore::emulator
