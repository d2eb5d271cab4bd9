// Jobs: requests in flight on the engine's I/O loop.
#include <cstring>
#include <memory>

#include "guard.hpp"
#include "layouts.hpp"
#include "handles.hpp"

using nbcapi::guard;
using nbcapi::invalid_arg;
using nbcapi::require;

namespace {

void copy_truncated(char* dst, std::size_t cap, const std::string& src) {
    std::size_t n = src.size() < cap - 1 ? src.size() : cap - 1;
    std::memcpy(dst, src.data(), n);
    dst[n] = '\0';
}

}  // namespace

extern "C" {

NBC_API(int) nbc_submit(nbc_job** out, nbc_client* client, const nbc_request* req, const nbc_submit_options* opts) {
    if (out) *out = nullptr;
    return guard([&] {
        require(out, "out");
        require(client, "client");
        require(req, "req");
        nbcore::CallOptions call;
        if (opts) {
            nbcapi::check_struct_size(opts, nbcapi::kSubmitOptionsV1, sizeof(nbc_submit_options),
                                      "nbc_submit_options");
            const nbc_submit_options o = nbcapi::read_in(opts, nbc_submit_options NBC_SUBMIT_OPTIONS_INIT);
            if (o.deadline_ms < 0) invalid_arg("nbc_submit_options.deadline_ms must be >= 0 (0 = the client's)");
            call.deadline = std::chrono::milliseconds(o.deadline_ms);
            call.priority = o.priority;
        }
        auto j = std::make_unique<nbc_job>();
        j->job = client->client->submit(req->req, call);
        *out = j.release();
    });
}

NBC_API(int) nbc_job_wait(int* done, nbc_job* job, int64_t timeout_ms) {
    if (done) *done = 0;
    return guard([&] {
        require(done, "done");
        require(job, "job");
        if (timeout_ms < -1) invalid_arg("timeout_ms must be -1 (until done), 0 or positive");
        bool finished = timeout_ms < 0 ? job->job->wait(std::nullopt)
                                       : job->job->wait(std::chrono::milliseconds(timeout_ms));
        *done = finished ? 1 : 0;
    });
}

NBC_API(int) nbc_job_result(nbc_result** out, nbc_job* job) {
    if (out) *out = nullptr;
    return guard([&] {
        require(out, "out");
        require(job, "job");
        if (!job->job->done()) invalid_arg("the job is still running; wait for it with nbc_job_wait first");
        auto r = std::make_unique<nbc_result>();
        r->res = job->job->get();   // throws the job's Error, which guard() reports
        *out = r.release();
    });
}

NBC_API(int) nbc_job_cancel(nbc_job* job) {
    return guard([&] { require(job, "job")->job->cancel(); });
}

NBC_API(int) nbc_job_progress(nbc_progress* out, const nbc_job* job) {
    return guard([&] {
        require(out, "out");
        require(job, "job");
        nbcapi::check_struct_size(out, nbcapi::kProgressV1, sizeof(nbc_progress), "nbc_progress");
        auto p = job->job->progress();
        nbc_progress v = NBC_PROGRESS_INIT;
        v.stage = static_cast<int32_t>(p.stage);
        v.attempt = p.attempt;
        v.last_outcome = static_cast<int32_t>(p.last_outcome);
        v.wait_left_ms = p.wait_left.count();
        v.elapsed_ms = p.elapsed.count();
        v.bytes_received = p.bytes_received;
        copy_truncated(v.route, sizeof v.route, p.route);
        copy_truncated(v.text, sizeof v.text, p.text);
        nbcapi::write_out(out, v);
    });
}

NBC_API(void) nbc_job_free(nbc_job* job) {
    if (!job) return;
    try {
        if (!job->job->done()) job->job->cancel();
    } catch (...) {
    }
    delete job;
}

}  // extern "C"
