// Scripted replies, in the spirit of curl's test server: a queue of what to answer to the next
// generation requests, then "pass" or "repeat_last", optionally with random faults mixed in.
//
//   {"replies": ["rpm_429", {"fault": "500", "times": 2}, {"pass": true, "delay_ms": 200}],
//    "then": "pass", "mix": {"probability": 0.3, "faults": ["500", "rpm_429"], "seed": 1},
//    "batches": ["failed", "expired"]}
//
// Batch jobs draw one reply per entry, in entry order, when they are created; "batches" lists
// how the next batch jobs end (after that they succeed).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "reply.hpp"

namespace nbcore::emulator {

struct ScriptEntry {
    enum class Kind { Pass, Fault, Custom };
    Kind kind = Kind::Pass;
    std::string fault;                       // Fault: the name
    std::string arg;                         // Fault: "3000" in "slow_first_byte:3000"
    int status = 200;                        // Custom
    std::optional<nlohmann::ordered_json> body;   // Custom: a JSON value, key order kept
    std::optional<std::string> body_text;    // Custom: raw text
    Headers headers;                         // extra headers, any kind
    Modifiers mods;
    std::optional<double> retry_delay;       // seconds, quota faults only
    int times = 1;
    std::string model;                       // canonical id; "" = any model

    // "pass", "custom" or the fault name, for the request log.
    std::string label() const;
    bool applies_to(std::string_view model_id) const;
};

struct Mix {
    double probability = 0;
    std::vector<ScriptEntry> faults;
    std::uint64_t seed = 0;
};

// How a batch job ends once its time has run.
enum class BatchEnd { Succeeded, Failed, Cancelled, Expired };

struct Script {
    std::vector<ScriptEntry> replies;
    bool repeat_last = false;                // "then": "repeat_last" (default "pass")
    std::optional<Mix> mix;
    std::vector<BatchEnd> batch_ends;        // "batches": the ends of the next batch jobs
};

// Throws std::invalid_argument("script: replies[2]: unknown fault \"rpm429\" ...").
Script parse_script(std::string_view text);

// The mix's choice for the k-th request after the queue (0-based): a pure function of the seed
// and k, so the sequence is the same however requests interleave. nullopt = no fault.
std::optional<std::size_t> mix_pick(const Mix& mix, std::uint64_t k);

// Hands out script entries to generation requests in arrival order. Not thread-safe.
class Scheduler {
public:
    void load(Script script);
    void clear();
    // The entry for the next request to `model`; nullopt = answer normally.
    std::optional<ScriptEntry> next(std::string_view model);
    std::size_t queued() const;              // entries left, counting `times`
    // How the next batch job ends: the next "batches" entry, else Succeeded.
    BatchEnd next_batch_end();

private:
    struct Slot {
        ScriptEntry entry;
        int left;
    };
    std::deque<Slot> queue_;
    std::optional<ScriptEntry> last_;
    bool repeat_last_ = false;
    std::optional<Mix> mix_;
    std::uint64_t after_queue_ = 0;
    std::deque<BatchEnd> batch_ends_;
};

}  // namespace nbcore::emulator
