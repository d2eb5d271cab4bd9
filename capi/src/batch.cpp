// The Batch section of the C ABI: shells around nbcore::batch::BatchClient, its jobs and results.
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "guard.hpp"
#include "layouts.hpp"
#include "handles.hpp"
#include "nbcore/batch.hpp"
#include "nbcore/governor.hpp"
#include "nbcore/state.hpp"

struct nbc_batch_client {
    std::unique_ptr<nbcore::batch::BatchClient> bc;
};

struct nbc_batch_job {
    nbcore::batch::Job job;
    std::string model;   // job.model, or the client's when the Operation did not say
};

struct nbc_batch_results {
    std::vector<nbcore::batch::EntryResult> entries;
};

using nbcapi::guard;
using nbcapi::invalid_arg;
using nbcapi::require;

namespace {

// The first published layout of nbc_batch_options ended before the budget fields.
constexpr std::size_t kBatchOptionsV1 = offsetof(nbc_batch_options, budget_daily_usd);

std::string opt_str(const char* s) { return s ? std::string(s) : std::string(); }

std::string name_arg(const char* name) {
    if (!name || !*name) invalid_arg("name must be a batch name (\"batches/<id>\", as nbc_batch_job_describe gives it)");
    return name;
}

nbc_batch_job* new_job(nbcore::batch::Job job, const nbc_batch_client* bc) {
    auto j = std::make_unique<nbc_batch_job>();
    j->model = job.model.empty() ? bc->bc->options().model : job.model;
    j->job = std::move(job);
    return j.release();
}

}  // namespace

extern "C" {

NBC_API(int) nbc_batch_options_init(nbc_batch_options* opts, size_t struct_size) {
    return guard([&] {
        require(opts, "opts");
        if (struct_size < kBatchOptionsV1 || struct_size > sizeof(nbc_batch_options))
            invalid_arg("struct_size " + std::to_string(struct_size) +
                        " does not match any version of nbc_batch_options; pass sizeof(nbc_batch_options)");
        nbc_batch_options defaults = NBC_BATCH_OPTIONS_INIT;
        std::memcpy(opts, &defaults, struct_size);
        opts->struct_size = static_cast<uint32_t>(struct_size);
    });
}

NBC_API(int) nbc_batch_client_new(nbc_batch_client** out, const nbc_batch_options* opts) {
    if (out) *out = nullptr;
    return guard([&] {
        require(out, "out");
        nbc_batch_options o = NBC_BATCH_OPTIONS_INIT;
        if (opts) {
            nbcapi::check_struct_size(opts, kBatchOptionsV1, sizeof(nbc_batch_options),
                                      "nbc_batch_options");
            std::memcpy(&o, opts, std::min<std::size_t>(opts->struct_size, sizeof o));
        }
        if (o.poll_initial_ms < 0 || o.poll_max_ms < 0 || o.inline_limit_bytes < 0)
            invalid_arg("nbc_batch_options.poll_initial_ms, poll_max_ms and inline_limit_bytes must be >= 0 "
                        "(0 = the default)");
        nbcore::batch::Options c;
        c.api_key = opt_str(o.api_key);
        c.base_url = opt_str(o.base_url);
        c.model = opt_str(o.model);
        if (o.poll_initial_ms > 0) c.poll.initial = std::chrono::milliseconds(o.poll_initial_ms);
        if (o.poll_max_ms > 0) c.poll.cap = std::chrono::milliseconds(o.poll_max_ms);
        if (c.poll.cap < c.poll.initial)
            invalid_arg("nbc_batch_options.poll_max_ms is below poll_initial_ms; raise it or leave it 0");
        if (o.inline_limit_bytes > 0) c.inline_limit = static_cast<std::size_t>(o.inline_limit_bytes);
        if (o.budget_daily_usd != 0 || o.budget_monthly_usd != 0 || o.budget_total_usd != 0 || o.state_path ||
            o.prices_json) {
            namespace q = nbcore::quota;
            q::GovernorOptions g;
            auto cap = [](double v, const char* name) -> std::optional<double> {
                if (!(v >= 0) || v > 1e9)
                    invalid_arg(std::string("nbc_batch_options.") + name +
                                " must be 0 (no cap) or a positive amount in US dollars");
                return v > 0 ? std::optional<double>(v) : std::nullopt;
            };
            g.caps.daily_usd = cap(o.budget_daily_usd, "budget_daily_usd");
            g.caps.monthly_usd = cap(o.budget_monthly_usd, "budget_monthly_usd");
            g.caps.total_usd = cap(o.budget_total_usd, "budget_total_usd");
            if (o.prices_json) g.prices = q::PriceTable::from_json(o.prices_json);
            if (o.state_path) {
                std::string p = o.state_path;
                g.state = q::open_state(p.empty() || p == NBC_STATE_DEFAULT ? q::default_state_location() : p);
            }
            c.governor = q::Governor::create(std::move(g));
        }
        auto bc = std::make_unique<nbc_batch_client>();
        bc->bc = std::make_unique<nbcore::batch::BatchClient>(std::move(c));
        *out = bc.release();
    });
}

NBC_API(void) nbc_batch_client_free(nbc_batch_client* bc) { delete bc; }

NBC_API(int) nbc_batch_submit(nbc_batch_job** out, nbc_batch_client* bc, const char* const* keys,
                              const nbc_request* const* requests, size_t count, const char* display_name) {
    if (out) *out = nullptr;
    return guard([&] {
        require(out, "out");
        require(bc, "bc");
        if (count == 0) invalid_arg("count is 0; a batch needs at least one request");
        require(keys, "keys");
        require(requests, "requests");
        std::vector<nbcore::batch::Entry> entries;
        entries.reserve(count);
        for (size_t i = 0; i < count; ++i) {
            if (!keys[i]) invalid_arg("keys[" + std::to_string(i) + "] is NULL; every request needs a key");
            if (!requests[i]) invalid_arg("requests[" + std::to_string(i) + "] is NULL");
            entries.push_back({keys[i], requests[i]->req});
        }
        auto job = bc->bc->submit(entries, opt_str(display_name));
        *out = new_job(std::move(job), bc);
    });
}

NBC_API(int) nbc_batch_get(nbc_batch_job** out, nbc_batch_client* bc, const char* name) {
    if (out) *out = nullptr;
    return guard([&] {
        require(out, "out");
        require(bc, "bc");
        *out = new_job(bc->bc->get(name_arg(name)), bc);
    });
}

NBC_API(int) nbc_batch_wait(nbc_batch_job** out, nbc_batch_client* bc, const char* name, int64_t deadline_ms) {
    if (out) *out = nullptr;
    return guard([&] {
        require(out, "out");
        require(bc, "bc");
        if (deadline_ms < 0) invalid_arg("deadline_ms must be >= 0 (0 = wait as long as it takes)");
        nbcore::batch::WaitOptions w;
        w.deadline = std::chrono::milliseconds(deadline_ms);
        *out = new_job(bc->bc->wait(name_arg(name), w), bc);
    });
}

NBC_API(int) nbc_batch_cancel(nbc_batch_client* bc, const char* name) {
    return guard([&] { require(bc, "bc")->bc->cancel(name_arg(name)); });
}

NBC_API(int) nbc_batch_delete(nbc_batch_client* bc, const char* name) {
    return guard([&] { require(bc, "bc")->bc->remove(name_arg(name)); });
}

NBC_API(int) nbc_batch_job_describe(nbc_batch_job_info* out, const nbc_batch_job* job) {
    return guard([&] {
        require(out, "out");
        require(job, "job");
        nbcapi::check_struct_size(out, nbcapi::kBatchJobInfoV1, sizeof(nbc_batch_job_info), "nbc_batch_job_info");
        const nbcore::batch::Job& j = job->job;
        nbc_batch_job_info v = NBC_BATCH_JOB_INFO_INIT;
        v.state = static_cast<int32_t>(j.state);
        v.done = nbcore::batch::is_terminal(j.state) ? 1 : 0;
        v.file_input = j.input == nbcore::batch::InputMode::File ? 1 : 0;
        v.request_count = j.request_count;
        v.succeeded_count = j.succeeded_count;
        v.failed_count = j.failed_count;
        v.pending_count = j.pending_count;
        v.name = j.name.c_str();
        v.display_name = j.display_name.c_str();
        v.model = job->model.c_str();
        v.responses_file = j.responses_file.c_str();
        v.create_time = j.create_time.c_str();
        v.end_time = j.end_time.c_str();
        nbcapi::write_out(out, v);   // never past the caller's struct
    });
}

NBC_API(int) nbc_batch_job_status(const nbc_batch_job* job) {
    return guard([&] {
        require(job, "job");
        if (job->job.error && job->job.state != nbcore::batch::State::Succeeded) throw nbcore::Error(*job->job.error);
    });
}

NBC_API(void) nbc_batch_job_free(nbc_batch_job* job) { delete job; }

NBC_API(int) nbc_batch_results_get(nbc_batch_results** out, nbc_batch_client* bc, const nbc_batch_job* job) {
    if (out) *out = nullptr;
    return guard([&] {
        require(out, "out");
        require(bc, "bc");
        require(job, "job");
        auto rs = std::make_unique<nbc_batch_results>();
        rs->entries = bc->bc->results(job->job);
        *out = rs.release();
    });
}

NBC_API(int) nbc_batch_results_count(const nbc_batch_results* rs) {
    return rs ? static_cast<int>(rs->entries.size()) : 0;
}

NBC_API(const char*) nbc_batch_results_key(const nbc_batch_results* rs, int index) {
    if (!rs || index < 0 || static_cast<std::size_t>(index) >= rs->entries.size()) return nullptr;
    return rs->entries[static_cast<std::size_t>(index)].key.c_str();
}

NBC_API(int) nbc_batch_results_entry(nbc_result** out, const nbc_batch_results* rs, int index) {
    if (out) *out = nullptr;
    return guard([&] {
        require(out, "out");
        require(rs, "rs");
        if (index < 0 || static_cast<std::size_t>(index) >= rs->entries.size())
            invalid_arg("index " + std::to_string(index) + " is out of range (the batch has " +
                        std::to_string(rs->entries.size()) + " entries)");
        const nbcore::batch::EntryResult& e = rs->entries[static_cast<std::size_t>(index)];
        if (!e.result) {
            nbcore::Error err(e.diagnosis);
            err.route = "batch";
            throw err;
        }
        auto r = std::make_unique<nbc_result>();
        r->res = *e.result;
        *out = r.release();
    });
}

NBC_API(void) nbc_batch_results_free(nbc_batch_results* rs) { delete rs; }

NBC_API(int) nbc_result_is_batch(const nbc_result* res) { return res && res->res.batch ? 1 : 0; }

}  // extern "C"
