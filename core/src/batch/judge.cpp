// judge_entry(): one batch entry through the same codec, image checks and classifier as an online
// reply, so a blocked or empty entry gets exactly the Diagnosis the online request would get.
#include <nlohmann/json.hpp>

#include "engine/checked_reply.hpp"
#include "nbcore/batch.hpp"
#include "nbcore/policy.hpp"

namespace nbcore::batch {
namespace {

using json = nlohmann::json;

// The error body the API would have answered online for an entry's google.rpc.Status.
std::string online_error_body(const RawEntry& raw, int http) {
    json err = {{"code", http}, {"message", raw.error_message}};
    std::string_view name = grpc_status_name(raw.error_code);
    err["status"] = name.empty() ? "UNKNOWN" : std::string(name);
    if (!raw.error_details_json.empty()) {
        json details = json::parse(raw.error_details_json, nullptr, false);
        if (details.is_array()) err["details"] = std::move(details);
    }
    return json{{"error", err}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

EntryResult judge_entry(const RawEntry& raw, const JudgeOptions& o, SystemTime now) {
    EntryResult out;
    out.key = raw.key;
    if (!raw.has_response) {
        const int http = http_status_for_grpc(raw.error_code);
        out.diagnosis = policy::diagnose(http, online_error_body(raw, http), {}, now);
        return out;
    }

    api::ReplyDecoder decoder(api::Framing::Json, o.decode_limits);
    decoder.expect_body_size(raw.response_json.size());
    Reply reply;
    bool decoded = decoder.feed(raw.response_json) && decoder.finish();
    if (decoded) reply = decoder.take();

    engine::CheckedImages checked;
    if (decoded) checked = engine::check_images(reply, o.image_limits, o.blank_rules, o.keep_pixels);

    policy::Observation obs;
    obs.http_status = 200;
    obs.body = decoder.skeleton();
    obs.reply = decoded ? &reply : nullptr;
    obs.decode_error = decoder.error();
    obs.decode_over_limit = decoder.over_limit();
    obs.failed_image = checked.failed_check();
    obs.model = o.model;
    obs.image_size = o.image_size;
    out.diagnosis = policy::classify(obs, now);
    if (out.diagnosis.http_status == 0) out.diagnosis.http_status = 200;
    if (out.diagnosis.code != Status::OK) return out;

    Result res;
    engine::fill_result(res, reply, checked, o.keep_pixels);
    res.model = o.model;
    Attempt a;
    a.number = 1;
    a.image_size = o.image_size;
    a.outcome = Status::OK;
    a.http_status = 200;
    a.execution = Execution::Executed;
    res.attempts.push_back(std::move(a));
    res.image_size = o.image_size;
    res.batch = true;
    out.result = std::move(res);
    return out;
}

}  // namespace nbcore::batch
