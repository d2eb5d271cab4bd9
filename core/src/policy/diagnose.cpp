// diagnose(): classify a status and body that came from anywhere (a log, another SDK). Kept alone
// in this file because it is the only policy code that needs the wire codec.
#include <optional>

#include "nbcore/codec.hpp"
#include "nbcore/image.hpp"
#include "policy/internal.hpp"

namespace nbcore::policy {

Diagnosis diagnose(int http_status, std::string_view body, const net::Headers& headers,
                   SystemTime now) {
    auto content_type = detail::header_lookup(&headers, "content-type");
    auto framing = detail::contains_ci(content_type, "text/event-stream") ? api::Framing::Sse
                                                                         : api::Framing::Auto;
    Reply reply;
    std::string error;
    bool decoded = api::decode_reply(body, reply, error, framing);

    // Images in a 2xx reply are validated as the engine would (corrupt, truncated, blank).
    std::optional<image::Check> failed;
    if (decoded && http_status >= 200 && http_status < 300) {
        for (const ReplyImage* im : deliverable_images(reply)) {
            image::Check c = image::check(im->data->data(), im->data->size());
            if (!c.ok) {
                failed = std::move(c);
                break;
            }
        }
    }

    Observation obs;
    obs.http_status = http_status;
    obs.headers = &headers;
    obs.body = body;
    if (failed) obs.failed_image = &*failed;
    if (decoded) obs.reply = &reply;
    // A 4xx/5xx body that is not a reply (an HTML page, an envelope the decoder did not take) is
    // read from obs.body; only a 2xx that fails to decode is a malformed reply.
    else if (http_status >= 200 && http_status < 300) obs.decode_error = error;
    return classify(obs, now);
}

}  // namespace nbcore::policy
