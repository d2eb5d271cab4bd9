// Soak: 10,000 requests kept 64 in flight at once (Client::submit, harvested from one thread)
// through ONE Client against ONE in-process emulator whose script answers 30% of requests with a
// random fault (retryable and final classes, short stalls only). Every request must end exactly
// once, in an image or a typed class (never INTERNAL), within its deadline, with exactly one Done
// event; the server must have seen exactly the attempts the engine recorded; resident memory must
// stay flat after warm-up; and in the ASan+UBSan build LeakSanitizer checks the exit for leaks.
//
// NBCORE_SOAK_REQUESTS overrides the count. The normal build runs the full 10,000 (about a minute
// on two cores). tests/CMakeLists.txt sets 2,000 for sanitizer builds: under ASan+UBSan a request
// costs about four times the CPU (decoding the images dominates), so 2,000 take about a minute
// there and 10,000 would take five, more than CI's time budget leaves.
#include <catch2/catch.hpp>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "nbcore/client.hpp"
#include "nbcore_emulator/emulator.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define NBCORE_SOAK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NBCORE_SOAK_ASAN 1
#endif
#endif
#ifdef NBCORE_SOAK_ASAN
constexpr bool kUnderAsan = true;
#else
constexpr bool kUnderAsan = false;
#endif

using namespace nbcore;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

constexpr const char* kKey = "soak-key-0001";
constexpr int kDefaultRequests = 10'000;
constexpr std::size_t kInFlight = 64;
constexpr auto kDeadline = 5000ms;
// How far past its deadline a request may end: the engine never starts a wait or an attempt it
// cannot finish, so only the last transfer's wind-down (curl noticing its timer) remains, and
// image validation: a reply that arrived in time is decoded and checked even when that ends past
// the deadline (it is billed). With 64 in flight, replies queue for the decoding workers; under
// ASan decoding is several times slower and, on two cores shared with other tests, that queue
// holds seconds.
constexpr auto kDeadlineMargin = kUnderAsan ? 5000ms : 500ms;
// Memory is compared between the end of warm-up (connections, caches, allocator arenas and the
// emulator's threads all in use) and the end of the run, with nothing in flight either time. The
// bound is generous (runs grow by well under 1 MB) yet catches a leak of 2 KB a request over the
// 8,000 after warm-up, let alone a leaked reply or image buffer.
constexpr int kWarmUpRequests = 2'000;
constexpr std::size_t kRssGrowthBound = 16u << 20;
// The emulator keeps only its newest 10,000 log entries; drained this often it never drops one.
constexpr int kDrainEvery = 500;
constexpr int kSampleEvery = 50;   // finished requests between two looks at the jobs' stages

int soak_requests() {
    const char* env = std::getenv("NBCORE_SOAK_REQUESTS");
    const int n = env ? std::atoi(env) : 0;
    return n > 0 ? n : kDefaultRequests;
}

// Resident memory of this process (client and in-process emulator together), after handing the
// allocator's free pages back: glibc keeps freed blocks of earlier peaks (64 replies and decoded
// images at once) resident, which says how busy the run was, not what it kept.
// Under ASan its allocator keeps freed memory in quarantine (256 MB by default), so resident
// memory grows by design; there LeakSanitizer is the memory check, and RSS is only printed.
std::size_t settled_resident_bytes() {
    if (!kUnderAsan) ::malloc_trim(0);
    std::ifstream statm("/proc/self/statm");
    std::size_t size_pages = 0, resident_pages = 0;
    statm >> size_pages >> resident_pages;
    return resident_pages * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

double mib(std::size_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

// The random part of the script: every class the engine retries and every class it surfaces at
// once, except those that hold the only route for longer than a request's deadline (rpd_429,
// zero_quota_429, a 429 asking for more than 5 s): after one of those every later request fails
// at once without being sent, which the cases test (014, 015, 057, 067, 080-082).
// Stalls stay short: 600 ms against a 300 ms first-byte timeout, 500 ms against a 250 ms idle one.
json fault_mix(bool with_reused_connection_faults) {
    json faults = json::array({
        // retried
        {{"fault", "rpm_429"}, {"retry_delay", 0.1}},   // RATE_LIMITED (server-given wait; holds the route 0.1 s)
        "legacy_429", "vertex_429",                     // RATE_LIMITED (backoff)
        "500", "array_error", "504",                    // TIMEOUT (the server deadline we send is short)
        "502_html",                                     // BAD_GATEWAY
        "503_overloaded", "503_deadline",               // UNAVAILABLE
        "no_image", "empty_candidates", "text_only",    // NO_IMAGE (billed retry)
        "blank_image",                                  // BLANK_IMAGE (billed retry)
        "malformed_json", "corrupt_base64", "truncated_png", "corrupt_png",   // BAD_RESPONSE
        "slow_first_byte:600",                          // TIMEOUT (first byte)
        "stall_mid_body:500",                           // TIMEOUT (idle)
        "reset_connection:0.5", "truncate_body",        // NETWORK after the reply started
        "thought_only_image", "trickle:5",              // still OK
        // surfaced at once
        "invalid_key", "suspended_key",                 // AUTH
        "location",                                     // LOCATION
        "model_not_found",                              // MODEL_NOT_FOUND
        "bad_field",                                    // BAD_REQUEST
        "prompt_blocked_safety", "finish_safety",       // BLOCKED_SAFETY
        "image_safety", "prohibited_content",           // BLOCKED_POLICY
    });
    if (with_reused_connection_faults) {
        // A connection that dies before any reply byte: on a reused keep-alive connection libcurl
        // would re-send the request by itself; the transport refuses, so it is one attempt.
        faults.push_back("reset_connection");
        faults.push_back("empty_reply");
    }
    return {{"replies", json::array()}, {"then", "pass"},
            {"mix", {{"probability", 0.3}, {"faults", faults}, {"seed", 20240611}}}};
}

struct Outcome {
    std::optional<Status> status;     // OK or the error's class
    std::size_t attempts = 0;
    std::size_t unsent = 0;           // of those, attempts never sent
    std::size_t images = 0;
    std::chrono::milliseconds elapsed{0};
    std::string reason;               // the error's reason (CIRCUIT_OPEN: refused before sending)
    std::string detail;               // the error's message, for failures worth printing
    int ends = 0;                     // how many times the job was found finished and read
    int done_events = 0;              // events delivered while this request was being waited for
    int start_events = 0;
    int end_events = 0;
};

// What the emulator logged, drained as the run goes. Request numbers start at 1 after a reset.
struct ServerTally {
    std::vector<int> times_logged;            // by request number
    std::map<std::string, int> served;        // fault label -> requests answered with it
    std::size_t entries = 0;

    void add(const json& log) {
        for (const auto& entry : log) {
            const auto n = entry.at("n").get<std::size_t>();
            if (n >= times_logged.size()) times_logged.resize(n + 1, 0);
            ++times_logged[n];
            ++served[entry.value("fault", "")];
            ++entries;
        }
    }
    // Every number from 1 to the highest was logged exactly once: no request lost, none twice.
    bool numbered_without_gaps() const {
        return std::all_of(times_logged.begin() + (times_logged.empty() ? 0 : 1), times_logged.end(),
                           [](int t) { return t == 1; });
    }
};

struct SoakReport {
    int requests = 0;
    std::vector<Outcome> outcomes;
    std::size_t total_attempts = 0;
    std::size_t unsent_attempts = 0;  // attempts that never left this machine (Execution::NotSent)
    ServerTally server;
    std::vector<std::string> mix_faults;   // the fault names the mix could choose
    int breaker_events = 0;           // circuit breaker transitions
    std::vector<std::string> trips;   // transitions other than a 429's hold and its end, with why
    int budget_refusals = 0;          // requests that ended because the retry budget was spent
    std::size_t most_in_flight = 0;   // jobs submitted and not yet finished
    std::size_t most_on_wire = 0;     // of those, sampled: sending, waiting for or receiving a reply
    std::size_t rss_start = 0, rss_warm = 0, rss_end = 0;
    std::chrono::milliseconds wall{0};
};

std::size_t unsent_in(const std::vector<Attempt>& attempts) {
    return static_cast<std::size_t>(std::count_if(attempts.begin(), attempts.end(), [](const Attempt& a) {
        return a.execution == Execution::NotSent;
    }));
}

Request soak_request(int i) {
    Request r;
    r.prompt = "soak scene " + std::to_string(i % 4);   // four scenes: the emulator caches renders
    r.image_size = "1K";
    return r;
}

// Reads a finished job's Result or Error into `out` (the events it delivers are counted by the
// client's callback).
void read_outcome(Job& job, Outcome& out) {
    try {
        Result res = job.get();
        out.status = Status::OK;
        out.attempts = res.attempts.size();
        out.unsent = unsent_in(res.attempts);
        out.images = res.images.size();
    } catch (const Error& e) {
        out.status = e.code();
        out.attempts = e.attempts.size();
        out.unsent = unsent_in(e.attempts);
        out.reason = e.diagnosis().reason;
        out.detail = e.diagnosis().message;
    } catch (const std::exception& e) {
        out.detail = std::string("untyped exception: ") + e.what();
    }
}

bool on_the_wire(JobStage stage) {
    return stage == JobStage::Sending || stage == JobStage::WaitingServer || stage == JobStage::Receiving;
}

// One of the kInFlight places a request occupies from submit() until its outcome is read.
struct Slot {
    JobPtr job;   // null: free
    int index = -1;
    std::chrono::steady_clock::time_point started;
};

std::size_t on_wire(const std::vector<Slot>& slots) {
    return static_cast<std::size_t>(std::count_if(slots.begin(), slots.end(), [](const Slot& s) {
        return s.job && on_the_wire(s.job->progress().stage);
    }));
}

ClientOptions soak_client_options(const std::string& url) {
    ClientOptions o;
    o.api_key = kKey;
    o.base_url = url;
    o.retry.server = {10ms, 80ms};
    o.retry.gateway = o.retry.server;
    o.retry.rate = o.retry.server;
    o.deadline = kDeadline;
    // The mix answers 429s at random, whatever the rate; a project this busy knows its tier, so
    // the governor is told limits the soak never reaches instead of guessing lower ones (AIMD).
    quota::GovernorOptions g;
    g.custom = {1'000'000, 1'000'000'000, 1'000'000, 100'000'000};
    o.governor = quota::Governor::create(g);
    // The default breaker (8 in a row, or 60% of the last 40): about 10% of the mix's attempts
    // fail with a class the breaker counts, a noisy route, not a dead one, and it must not trip.
    o.timeouts.first_byte = 300ms;
    o.timeouts.idle = 250ms;
    o.timeouts.total = 3000ms;
    o.max_in_flight = kInFlight;
    return o;
}

SoakReport run_soak(bool with_reused_connection_faults) {
    emulator::Options eo;
    eo.api_key = kKey;
    eo.threads = static_cast<int>(kInFlight) + 8;   // every transfer in flight gets a server thread
    emulator::Server server(eo);
    server.start();
    {
        // Render the four scenes once before the clock starts: under ASan a first render takes
        // longer than the first-byte timeout, and those timeouts would count against the route.
        ClientOptions w;
        w.api_key = kKey;
        w.base_url = server.url();
        Client warm(w);
        for (int scene = 0; scene < 4; ++scene) warm.generate(soak_request(scene));
    }
    server.reset();   // an empty request log numbered from 1, then the fault mix
    server.set_script(fault_mix(with_reused_connection_faults).dump());

    SoakReport rep;
    rep.requests = soak_requests();
    rep.outcomes.resize(static_cast<std::size_t>(rep.requests));

    // Events reach on_event on the thread that waits for their job, and one thread waits for
    // every job here, so each event is counted against the request being waited for.
    Outcome* waiting_for = nullptr;
    ClientOptions o = soak_client_options(server.url());
    o.on_event = [&](const Event& ev) {
        switch (ev.kind) {
        case EventKind::AttemptStart: ++waiting_for->start_events; break;
        case EventKind::AttemptEnd: ++waiting_for->end_events; break;
        case EventKind::Done: ++waiting_for->done_events; break;
        case EventKind::BreakerTransition:
            ++rep.breaker_events;
            if (ev.outcome != Status::RATE_LIMITED && ev.outcome != Status::OK)
                rep.trips.push_back(std::to_string(ev.elapsed.count()) + " ms: " + ev.message);
            break;
        default: break;
        }
    };
    Client client(o);

    std::vector<Slot> slots(kInFlight);
    int submitted = 0, finished = 0;
    std::size_t in_flight = 0;
    auto submit_into = [&](Slot& s) {
        s.index = submitted++;
        s.started = std::chrono::steady_clock::now();
        s.job = client.submit(soak_request(s.index));
        rep.most_in_flight = std::max(rep.most_in_flight, ++in_flight);
    };
    auto harvest = [&](Slot& s) {
        Outcome& out = rep.outcomes[static_cast<std::size_t>(s.index)];
        waiting_for = &out;
        read_outcome(*s.job, out);
        out.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - s.started);
        ++out.ends;
        s.job.reset();
        --in_flight;
        ++finished;
        if (finished % kDrainEvery == 0) rep.server.add(server.take_requests());
        if (finished % kSampleEvery == 0) rep.most_on_wire = std::max(rep.most_on_wire, on_wire(slots));
    };

    // Two phases, warm-up and the rest, each keeping every slot busy until its last submissions
    // end; memory is measured between them and at the end, with nothing in flight both times.
    const int warm_up = std::min(kWarmUpRequests, rep.requests);
    int phase_end = warm_up;
    rep.rss_start = settled_resident_bytes();
    const auto t0 = std::chrono::steady_clock::now();
    while (finished < rep.requests) {
        if (finished == warm_up && in_flight == 0 && phase_end == warm_up) {
            rep.rss_warm = settled_resident_bytes();
            phase_end = rep.requests;
        }
        for (auto& s : slots)
            if (!s.job && submitted < phase_end) submit_into(s);
        Slot* pending = nullptr;
        bool any_finished = false;
        for (auto& s : slots) {
            if (!s.job) continue;
            if (!s.job->done()) {
                if (!pending) pending = &s;
                continue;
            }
            harvest(s);
            any_finished = true;
        }
        if (!any_finished && pending) {   // nothing new: sleep on one job (delivering its events)
            waiting_for = &rep.outcomes[static_cast<std::size_t>(pending->index)];
            pending->job->wait(2ms);
        }
    }
    rep.wall = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    rep.rss_end = settled_resident_bytes();

    for (const auto& out : rep.outcomes) {
        rep.total_attempts += out.attempts;
        rep.unsent_attempts += out.unsent;
        if (out.detail.find("retry budget is spent") != std::string::npos) ++rep.budget_refusals;
    }
    // The emulator logs a request once its answer is built; an attempt the client gave up on may
    // still be building. Give the log a moment to catch up with the attempts that were sent.
    rep.server.add(server.take_requests());
    for (int wait = 0; wait < 60 && rep.server.entries < rep.total_attempts - rep.unsent_attempts; ++wait) {
        std::this_thread::sleep_for(50ms);
        rep.server.add(server.take_requests());
    }
    const json mix = fault_mix(with_reused_connection_faults);
    for (const auto& f : mix["mix"]["faults"]) {
        std::string name = f.is_string() ? f.get<std::string>() : f["fault"].get<std::string>();
        rep.mix_faults.push_back(name.substr(0, name.find(':')));
    }
    server.stop();
    return rep;
}

void print_summary(const char* label, const SoakReport& rep) {
    std::map<std::string, int> per_class;
    long worst = 0;
    for (const auto& out : rep.outcomes) {
        ++per_class[out.status ? std::string(status_name(*out.status)) : std::string("(none)")];
        worst = std::max<long>(worst, static_cast<long>(out.elapsed.count()));
    }
    std::string classes;
    for (const auto& [name, n] : per_class) classes += (classes.empty() ? "" : " ") + name + "=" + std::to_string(n);
    int faults = 0;
    for (const auto& [name, n] : rep.server.served) faults += name == "pass" ? 0 : n;
    int never_sent = 0;
    for (const auto& out : rep.outcomes) never_sent += out.attempts == 0 ? 1 : 0;
    std::printf("%s: %d requests, %zu in flight (%zu on the wire at most, sampled): %s | attempts %zu (%zu unsent), server saw %zu (%d faults "
                "of %zu kinds) | requests never sent %d, retry budget spent %d, breaker transitions %d | slowest "
                "%ld ms | wall %.2f s\n",
                label, rep.requests, rep.most_in_flight, rep.most_on_wire, classes.c_str(), rep.total_attempts, rep.unsent_attempts,
                rep.server.entries, faults, rep.server.served.size() - (rep.server.served.count("pass") ? 1 : 0),
                never_sent, rep.budget_refusals, rep.breaker_events, worst,
                static_cast<double>(rep.wall.count()) / 1000.0);
    std::printf("%s: RSS %.1f MiB at start", label, mib(rep.rss_start));
    if (rep.rss_warm) std::printf(", %.1f MiB after the %d warm-up requests", mib(rep.rss_warm), kWarmUpRequests);
    std::printf(", %.1f MiB at the end%s\n", mib(rep.rss_end), kUnderAsan ? " (not bounded under ASan: its quarantine keeps freed memory)" : "");
    for (const auto& t : rep.trips) std::printf("  breaker: %s\n", t.c_str());
    std::fflush(stdout);
}

void check_soak(const SoakReport& rep) {
    // Every request ended exactly once, with exactly one Done event and one start and one end
    // event per attempt ...
    REQUIRE(rep.outcomes.size() == static_cast<std::size_t>(rep.requests));
    CHECK(rep.most_in_flight == std::min<std::size_t>(kInFlight, static_cast<std::size_t>(rep.requests)));

    // ... in an image or a typed class other than INTERNAL, within its deadline.
    std::map<Status, int> per_class;
    int bad = 0;
    for (std::size_t i = 0; i < rep.outcomes.size(); ++i) {
        const Outcome& out = rep.outcomes[i];
        // No attempt at all only when the route's breaker refused the request, or the deadline ran
        // out while it waited for the route to reopen.
        bool sent_or_refused = out.attempts >= 1 ||
                               (out.status == Status::UNAVAILABLE && out.reason == "CIRCUIT_OPEN") ||
                               out.status == Status::DEADLINE;
        bool events_agree = out.done_events == 1 && out.start_events == static_cast<int>(out.attempts) &&
                            out.end_events == static_cast<int>(out.attempts);
        bool ok = out.ends == 1 && events_agree && out.status.has_value() && *out.status != Status::INTERNAL &&
                  sent_or_refused && out.attempts <= 5 && (*out.status != Status::OK || out.images == 1) &&
                  out.elapsed <= kDeadline + kDeadlineMargin;
        if (out.status) ++per_class[*out.status];
        if (!ok && ++bad <= 5) {   // show the first few offenders in full
            INFO("request " << i << ": "
                            << (out.status ? std::string(status_name(*out.status)) : std::string("no status"))
                            << ", ended " << out.ends << "x, " << out.attempts << " attempts, events (start/end/done) "
                            << out.start_events << "/" << out.end_events << "/" << out.done_events << ", "
                            << out.images << " images, " << out.elapsed.count() << " ms: " << out.detail);
            CHECK(ok);
        }
    }
    CHECK(bad == 0);

    // The server saw exactly the attempts the engine recorded as sent: request numbers 1..N each
    // logged once, and N is the number of attempts that left this machine.
    CHECK(rep.server.numbered_without_gaps());
    CHECK(rep.server.entries == rep.total_attempts - rep.unsent_attempts);
    CHECK(rep.unsent_attempts <= static_cast<std::size_t>(5 + rep.requests / 1000));

    // The mix really ran: every fault in it was served (the k-th choice is a function of the seed
    // and k alone, so this does not depend on thread timing), retries happened, most requests
    // still got their image, and several final classes besides OK were reached.
    for (const auto& name : rep.mix_faults) {
        INFO("fault " << name);
        CHECK(rep.server.served.count(name) == 1);
    }
    CHECK(rep.total_attempts > static_cast<std::size_t>(rep.requests + rep.requests / 10));
    CHECK(per_class[Status::OK] >= rep.requests * 6 / 10);
    CHECK(per_class.size() >= 6);

    // Flat memory after warm-up.
    if (!kUnderAsan && rep.requests >= 2 * kWarmUpRequests) {
        INFO("RSS " << mib(rep.rss_warm) << " MiB after warm-up, " << mib(rep.rss_end) << " MiB at the end");
        CHECK(rep.rss_end <= rep.rss_warm + kRssGrowthBound);
    }
}

}  // namespace

// Hidden from ctest's discovery: tests/CMakeLists.txt registers it as "integration: soak" with a
// longer TIMEOUT (and fewer requests in sanitizer builds).
TEST_CASE("soak: 10,000 requests, 64 in flight, through one client with 30% random faults", "[.][soak]") {
    // Connections that die before any reply byte are in the mix: every request that leaves this
    // machine must be an attempt the engine counted, reused keep-alive connection or not.
    auto rep = run_soak(true);
    print_summary("soak", rep);
    check_soak(rep);
}
