// Client: the facade over the engine. submit() validates on the caller's thread and hands a job
// to the I/O loop; generate() is submit() + get(). ClientCore holds what jobs share: routes,
// breakers, the retry budget and the transfer slots.
#include "nbcore/prompt.hpp"
#include "nbcore/client.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <utility>

#include "engine.hpp"
#include "nbcore/models.hpp"

namespace nbcore {
namespace {

std::string trim(std::string s) {
    auto not_space = [](unsigned char c) { return !std::isspace(c); };
    s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
    s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
    return s;
}

std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v ? trim(v) : std::string();
}

std::string join_reasons(const prompt::Analysis& a) {
    std::string out;
    for (const auto& r : a.reasons) out += (out.empty() ? "" : "; ") + r;
    return out;
}

}  // namespace

std::string api_key_from_env(bool* both_set) {
    std::string google = env("GOOGLE_API_KEY");
    std::string gemini = env("GEMINI_API_KEY");
    if (both_set) *both_set = !google.empty() && !gemini.empty();
    return !google.empty() ? google : gemini;
}

std::string_view job_stage_name(JobStage s) noexcept {
    switch (s) {
    case JobStage::Queued: return "queued";
    case JobStage::WaitingQuota: return "waiting for quota";
    case JobStage::Sending: return "sending";
    case JobStage::WaitingServer: return "waiting for the server";
    case JobStage::Receiving: return "receiving";
    case JobStage::Validating: return "validating";
    case JobStage::Retrying: return "waiting to retry";
    case JobStage::Done: return "done";
    }
    return "unknown";
}

namespace engine {
namespace {

// One thread for every client's governor calls: in order, off the I/O thread.
std::shared_ptr<net::WorkerPool> default_state_thread() {
    static auto thread = std::make_shared<net::WorkerPool>(1);
    return thread;
}

}  // namespace

ClientCore::ClientCore(ClientOptions o) : opt(std::move(o)), breakers(opt.breaker) {
    if (opt.api_key.empty()) opt.api_key = api_key_from_env();
    opt.api_key = trim(opt.api_key);
    if (opt.model.empty()) opt.model = std::string(kDefaultModel);
    if (!opt.clock) opt.clock = SystemClock::instance();
    if (!opt.rng) opt.rng = std::make_shared<DefaultRng>();
    if (opt.retry.max_attempts < 1) throw_invalid_arg("retry.max_attempts must be at least 1");
    if (opt.max_in_flight < 1) throw_invalid_arg("max_in_flight must be at least 1");
    if (opt.retry_budget) budget = std::make_unique<policy::RetryBudget>(*opt.retry_budget);
    loop = opt.io_loop ? opt.io_loop : net::default_io_loop();
    workers = opt.workers ? opt.workers : net::default_worker_pool();
    governor = opt.governor ? opt.governor : quota::Governor::create({});
    opt.governor = governor;
    state_thread = default_state_thread();

    auto configs = opt.routes.empty() ? default_routes(opt.base_url, opt.vertexai, opt.project, opt.location) : opt.routes;
    for (auto& c : configs) {
        RouteSlot slot;
        slot.config = resolve_route(std::move(c), opt.api_key);
        for (const auto& other : routes)
            if (other.config.name == slot.config.name)
                throw_invalid_arg("two routes are named \"" + slot.config.name + "\"; give each a distinct name");
        slot.planning = planning_route(slot.config);
        slot.auth = std::make_unique<RouteAuth>(slot.config, opt.clock);
        slot.credential = slot.oauth() ? "project:" + slot.config.project : slot.config.api_key;
        routes.push_back(std::move(slot));
    }
}

std::shared_ptr<policy::CircuitBreaker> ClientCore::breaker(std::size_t route, const std::string& model) {
    return breakers.get(routes[route].config.name, model, routes[route].credential);
}

std::vector<policy::RouteView> ClientCore::route_views(const std::string& model, SteadyTime now) {
    std::vector<policy::RouteView> views;
    views.reserve(routes.size());
    for (std::size_t i = 0; i < routes.size(); ++i) views.push_back({routes[i].planning, breaker(i, model)->peek(now)});
    return views;
}

bool ClientCore::QueueOrder::operator()(const std::shared_ptr<JobState>& a,
                                        const std::shared_ptr<JobState>& b) const {
    if (a->priority() != b->priority()) return a->priority() > b->priority();
    if (a->deadline_or_max() != b->deadline_or_max()) return a->deadline_or_max() < b->deadline_or_max();
    return a->seq() < b->seq();
}

void ClientCore::enqueue_on_loop(const std::shared_ptr<JobState>& job) {
    ready_.insert(job);
    pump_on_loop();
}

void ClientCore::remove_from_queue_on_loop(const JobState* job) {
    for (auto it = ready_.begin(); it != ready_.end(); ++it)
        if (it->get() == job) {
            ready_.erase(it);
            return;
        }
}

void ClientCore::release_slot_on_loop() {
    if (in_flight_ > 0) --in_flight_;
    pump_on_loop();
}

void ClientCore::pump_on_loop() {
    while (in_flight_ < opt.max_in_flight && !ready_.empty()) {
        auto job = *ready_.begin();
        ready_.erase(ready_.begin());
        ++in_flight_;
        job->send_on_loop();
    }
}

void ClientCore::track(const std::shared_ptr<JobState>& job) {
    std::lock_guard<std::mutex> lock(jobs_mu_);
    jobs_.erase(std::remove_if(jobs_.begin(), jobs_.end(), [](const auto& w) { return w.expired(); }), jobs_.end());
    jobs_.push_back(job);
    ++running_;
}

void ClientCore::untrack(const JobState* job) {
    (void)job;
    {
        std::lock_guard<std::mutex> lock(jobs_mu_);
        if (running_ > 0) --running_;
    }
    jobs_cv_.notify_all();
}

void ClientCore::cancel_all_and_wait() {
    std::vector<std::shared_ptr<JobState>> alive;
    {
        std::lock_guard<std::mutex> lock(jobs_mu_);
        for (const auto& w : jobs_)
            if (auto j = w.lock()) alive.push_back(std::move(j));
    }
    for (const auto& j : alive) j->cancel();
    std::unique_lock<std::mutex> lock(jobs_mu_);
    jobs_cv_.wait(lock, [&] { return running_ == 0; });
}

}  // namespace engine

struct Client::Impl {
    std::shared_ptr<engine::ClientCore> core;
    std::atomic<std::uint64_t> next_seq{1};
};

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>()) {
    impl_->core = std::make_shared<engine::ClientCore>(std::move(options));
}

Client::~Client() {
    if (impl_ && impl_->core) impl_->core->cancel_all_and_wait();
}

JobPtr Client::submit(const Request& req, const CallOptions& call) {
    const auto& opt = impl_->core->opt;
    std::string model = canonical_model_id(req.model.empty() ? opt.model : req.model);
    validate_request(req, model);
    if (call.deadline.count() < 0) throw_invalid_arg("deadline must be >= 0 (0 = the client's default)");
    const Preflight preflight = call.preflight.value_or(opt.preflight);
    std::optional<prompt::Analysis> risky;
    if (preflight != Preflight::Off) {
        auto a = prompt::analyze(req.prompt, req.image_size);
        if (preflight == Preflight::Strict && a.risk == prompt::Risk::High) {
            Diagnosis d;
            d.code = Status::INVALID_ARG;
            d.reason = "PROMPT_TOO_COMPLEX";
            d.message = "the pre-flight check refused a high-risk prompt: " + join_reasons(a);
            d.advice = prompt::blank_output_advice(a) +
                       " To send it anyway, turn the strict pre-flight check off for this request.";
            throw Error(std::move(d));
        }
        if (a.risk != prompt::Risk::Low) risky = std::move(a);
    }
    auto job = std::make_shared<engine::JobState>(impl_->core, req, std::move(model), call, impl_->next_seq++);
    if (risky) job->warn_prompt(std::string(prompt::risk_name(risky->risk)), join_reasons(*risky));
    job->start();
    return job;
}

Result Client::generate(const Request& req, const CallOptions& call) {
    JobPtr job = submit(req, call);
    int hook = 0;
    if (call.cancel) hook = call.cancel->on_cancel([job] { job->cancel(); });
    try {
        Result r = job->get();
        if (call.cancel) call.cancel->remove(hook);
        return r;
    } catch (const Error&) {
        if (call.cancel) call.cancel->remove(hook);
        throw;
    } catch (...) {
        // An event callback threw: the request stops, the callback's exception surfaces.
        if (call.cancel) call.cancel->remove(hook);
        job->cancel();
        try {
            job->wait(std::chrono::milliseconds(2000));
        } catch (...) {   // the callback again: the first exception is the one to report
        }
        throw;
    }
}

const ClientOptions& Client::options() const noexcept { return impl_->core->opt; }

std::vector<std::string> Client::route_names() const {
    std::vector<std::string> names;
    for (const auto& r : impl_->core->routes) names.push_back(r.config.name);
    return names;
}

quota::UsageSnapshot Client::usage() const {
    return impl_->core->governor->usage(impl_->core->opt.clock->wall());
}

const std::shared_ptr<quota::Governor>& Client::governor() const noexcept { return impl_->core->governor; }

std::vector<policy::BreakerSnapshot> Client::breakers() const {
    return impl_->core->breakers.snapshot(std::chrono::steady_clock::now());
}

}  // namespace nbcore
