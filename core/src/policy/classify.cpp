// classify(): pick the one shape the attempt ended in and hand it to that shape's classifier.
#include "nbcore/redact.hpp"
#include "policy/internal.hpp"

namespace nbcore::policy {
namespace {

Diagnosis dispatch(const Observation& obs, SystemTime now) {
    if (obs.transport && obs.transport->error != net::TransportErrorKind::None)
        return detail::classify_transport(*obs.transport, obs);

    int status = obs.http_status;
    if (status == 0 && obs.transport) status = obs.transport->http_status;
    if (status == 0 && obs.reply) status = 200;   // a decoded reply without a recorded status

    if (status >= 200 && status < 300) {
        Observation with_status = obs;
        with_status.http_status = status;
        return detail::classify_reply(with_status, now);
    }
    if (status == 0) {
        Diagnosis d;
        d.code = Status::BAD_RESPONSE;
        d.reason = "NO_HTTP_STATUS";
        d.message = "no HTTP status was received";
        d.retryable = true;
        d.advice = detail::advice_for(d, {});
        return d;
    }
    return detail::classify_error(status, detail::envelope_of(obs), obs, now);
}

}  // namespace

Diagnosis classify(const Observation& obs, SystemTime now) {
    auto d = dispatch(obs, now);
    // One place where keys are scrubbed from everything a person or a log will see.
    d.message = redact(d.message);
    d.advice = redact(d.advice);
    d.reason = redact(d.reason);
    d.api_status = redact(d.api_status);
    return d;
}

}  // namespace nbcore::policy
