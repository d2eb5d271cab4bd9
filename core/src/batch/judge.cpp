// judge_entry(): one batch entry through the same codec, image checks and classifier as an online
// reply, so a blocked or empty entry gets exactly the Diagnosis the online request would get.
#include <nlohmann/json.hpp>

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

    std::vector<image::Check> checks;
    std::vector<image::Pixels> pixels;
    const image::Check* failed_image = nullptr;
    auto deliver = decoded ? deliverable_images(reply) : std::vector<const ReplyImage*>{};
    checks.reserve(deliver.size());
    pixels.resize(deliver.size());
    for (std::size_t i = 0; i < deliver.size(); ++i) {
        const Blob& b = *deliver[i]->data;
        checks.push_back(image::check(b.data(), b.size(), o.image_limits, o.blank_rules,
                                      o.keep_pixels ? &pixels[i] : nullptr));
        if (!checks.back().ok && !failed_image) failed_image = &checks.back();
    }

    policy::Observation obs;
    obs.http_status = 200;
    obs.body = decoder.skeleton();
    obs.reply = decoded ? &reply : nullptr;
    obs.decode_error = decoder.error();
    obs.decode_over_limit = decoder.over_limit();
    obs.failed_image = failed_image;
    obs.model = o.model;
    obs.image_size = o.image_size;
    out.diagnosis = policy::classify(obs, now);
    if (out.diagnosis.http_status == 0) out.diagnosis.http_status = 200;
    if (out.diagnosis.code != Status::OK) return out;

    Result res;
    for (std::size_t i = 0; i < deliver.size(); ++i) {
        ResultImage ri;
        ri.mime = deliver[i]->mime.empty() ? checks[i].mime : deliver[i]->mime;
        ri.data = deliver[i]->data;
        ri.width = checks[i].width;
        ri.height = checks[i].height;
        ri.channels = checks[i].channels;
        ri.stats = checks[i].stats;
        ri.thought_signature = deliver[i]->thought_signature;
        if (o.keep_pixels) ri.pixels = std::make_shared<const image::Pixels>(std::move(pixels[i]));
        res.images.push_back(std::move(ri));
    }
    res.text = std::move(reply.text);
    res.usage = std::move(reply.usage);
    res.model = o.model;
    res.model_version = std::move(reply.model_version);
    res.response_id = std::move(reply.response_id);
    res.finish_reason = std::move(reply.finish_reason);
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
