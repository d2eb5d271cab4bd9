#include "engine/checked_reply.hpp"

#include <memory>
#include <utility>

namespace nbcore::engine {

CheckedImages check_images(const Reply& reply, const image::Limits& limits, const image::BlankRules& rules,
                           bool keep_pixels) {
    CheckedImages out;
    auto deliver = deliverable_images(reply);
    out.checks.reserve(deliver.size());
    out.pixels.resize(deliver.size());
    for (std::size_t i = 0; i < deliver.size(); ++i) {
        const Blob& b = *deliver[i]->data;
        out.checks.push_back(image::check(b.data(), b.size(), limits, rules, keep_pixels ? &out.pixels[i] : nullptr));
        if (!out.checks.back().ok && out.failed < 0) out.failed = static_cast<int>(i);
    }
    return out;
}

void fill_result(Result& res, Reply& reply, CheckedImages& checked, bool keep_pixels) {
    auto deliver = deliverable_images(reply);
    for (std::size_t i = 0; i < deliver.size() && i < checked.checks.size(); ++i) {
        const image::Check& c = checked.checks[i];
        ResultImage ri;
        ri.mime = deliver[i]->mime.empty() ? c.mime : deliver[i]->mime;
        ri.data = deliver[i]->data;
        ri.width = c.width;
        ri.height = c.height;
        ri.channels = c.channels;
        ri.stats = c.stats;
        ri.thought_signature = deliver[i]->thought_signature;
        if (keep_pixels) ri.pixels = std::make_shared<const image::Pixels>(std::move(checked.pixels[i]));
        res.images.push_back(std::move(ri));
    }
    res.text = std::move(reply.text);
    res.usage = std::move(reply.usage);
    res.model_version = std::move(reply.model_version);
    res.response_id = std::move(reply.response_id);
    res.finish_reason = std::move(reply.finish_reason);
}

}  // namespace nbcore::engine
