// The prompt simplifier (simplify.hpp): a search over which requirements make a prompt fail, each
// step one generation judged only by whether an image came back.
#include "nbcore/simplify.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include <nlohmann/json.hpp>

#include "nbcore/cost.hpp"
#include "nbcore/governor.hpp"
#include "nbcore/models.hpp"
#include "nbcore/status.hpp"

namespace nbcore {
namespace {

bool is_blank_verdict(Status s) { return s == Status::NO_IMAGE || s == Status::BLANK_IMAGE; }

std::string index_list(const std::vector<int>& v) {
    std::string out;
    for (int i : v) out += (out.empty() ? "" : ", ") + std::to_string(i + 1);
    return out;
}

class Search {
public:
    Search(Client& client, std::string_view prompt, const SimplifyOptions& o)
        : client_(client), prompt_(prompt), opt_(o) {
        model_ = o.model.empty() ? client.options().model : o.model;
        if (model_.empty()) model_ = std::string(kDefaultModel);
    }

    SimplifyReport run() {
        r_.analysis = prompt::analyze(prompt_, opt_.image_size);
        r_.plan = prompt::plan_stages(r_.analysis);
        const auto& reqs = r_.analysis.requirements;
        if (reqs.empty()) throw_invalid_arg("the prompt has no requirements to simplify; give it a subject");
        int core = 0;
        for (std::size_t i = 0; i < reqs.size(); ++i)
            if (reqs[i].kind == prompt::Kind::Subject) { core = static_cast<int>(i); break; }
        r_.core = {core};
        std::vector<int> rest;
        for (int i = 0; i < static_cast<int>(reqs.size()); ++i)
            if (i != core) rest.push_back(i);

        if (opt_.verify_original) {
            auto v = step("the whole prompt, to confirm it fails", rest);
            if (!v) return finish();
            if (*v) {
                r_.stopped = "the whole prompt worked this time: nothing to simplify (models fail at random too)";
                return finish();
            }
        }
        search(rest);
        return finish();
    }

private:
    // One generation of the core plus `subset`: true when it works, false when it came back blank
    // or without an image, nullopt when the search must stop (budget, or another failure).
    std::optional<bool> step(std::string purpose, std::vector<int> subset) {
        std::sort(subset.begin(), subset.end());
        std::vector<int> with_core = subset;
        with_core.insert(with_core.end(), r_.core.begin(), r_.core.end());
        std::sort(with_core.begin(), with_core.end());
        Request req;
        req.model = model_;
        req.prompt = compose_prompt(prompt_, r_.analysis, subset);
        req.aspect_ratio = opt_.aspect_ratio;
        req.image_size = opt_.image_size;

        if (static_cast<int>(r_.steps.size()) >= opt_.max_requests) {
            r_.stopped = "the request budget (" + std::to_string(opt_.max_requests) + " steps) is spent";
            return std::nullopt;
        }
        const double worst = worst_case(req);
        if (r_.cost_usd + worst > opt_.max_cost_usd + 1e-12) {
            char buf[160];
            std::snprintf(buf, sizeof buf, "the cost budget ($%.4f) would be crossed: $%.4f spent, the next step may cost $%.4f",
                          opt_.max_cost_usd, r_.cost_usd, worst);
            r_.stopped = buf;
            return std::nullopt;
        }

        SimplifyStep s;
        s.number = static_cast<int>(r_.steps.size()) + 1;
        s.purpose = std::move(purpose);
        s.requirements = with_core;
        s.prompt = req.prompt;
        CallOptions call = opt_.call;
        call.max_billed_retries = 0;   // a blank answer is the verdict, not something to retry
        call.preflight = Preflight::Off;   // the steps are risky on purpose: never refuse them
        std::optional<bool> verdict;
        try {
            Result res = client_.generate(req, call);
            s.outcome = Status::OK;
            s.works = true;
            s.cost_usd = res.cost_usd;
            s.attempts = res.attempts;
            verdict = true;
        } catch (const Error& e) {
            s.outcome = e.code();
            s.reason = e.diagnosis().reason;
            s.attempts = e.attempts;
            // A failed answer's usage is not reported back; count each attempt the server
            // answered at the worst case, so the budget is never under-counted.
            for (const auto& a : e.attempts)
                if (a.execution != Execution::NotSent && a.outcome != Status::RATE_LIMITED &&
                    a.outcome != Status::QUOTA_EXHAUSTED && a.http_status == 200)
                    s.cost_usd += worst;
            if (is_blank_verdict(e.code())) {
                verdict = false;
            } else {
                r_.stopped = "step " + std::to_string(s.number) + " failed with " +
                             std::string(status_name(e.code())) + ": " + e.diagnosis().message + ". " + e.diagnosis().advice;
            }
        }
        r_.cost_usd += s.cost_usd;
        if (s.works && (r_.largest_working_prompt.empty() || s.requirements.size() > r_.largest_working.size())) {
            r_.largest_working = s.requirements;
            r_.largest_working_prompt = s.prompt;
        }
        r_.steps.push_back(std::move(s));
        return verdict;
    }

    double worst_case(const Request& req) const {
        const auto& g = client_.governor();
        if (!g) return 0;
        return quota::usd(g->estimate(req, model_, req.image_size, quota::Mode::Online));
    }

    void search(std::vector<int> candidates) {
        std::vector<int> found;
        for (;;) {
            auto base = step(found.empty() ? "the core subject alone" : "the core with requirements " + index_list(found), found);
            if (!base) return;
            if (!*base) {
                r_.found = true;
                r_.minimal_failing = found;
                r_.rounds_to_find = static_cast<int>(r_.steps.size());
                r_.minimal_failing_prompt = compose_prompt(prompt_, r_.analysis, found);
                largest_working_guess(found);
                return;
            }
            if (candidates.empty()) {
                r_.stopped = "the failure did not come back with every requirement added (it may be random): no "
                             "requirement can be blamed";
                return;
            }
            // Smallest prefix of candidates that fails with `found`: hi fails (known), lo works.
            std::size_t lo = 0, hi = candidates.size();
            while (hi - lo > 1) {
                std::size_t mid = (lo + hi) / 2;
                std::vector<int> subset = found;
                subset.insert(subset.end(), candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(mid));
                auto v = step("adding back requirements " + index_list(std::vector<int>(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(mid))) +
                                  (found.empty() ? "" : " to " + index_list(found)),
                              subset);
                if (!v) return;
                (*v ? lo : hi) = mid;
            }
            found.push_back(candidates[hi - 1]);
            candidates.resize(hi - 1);
        }
    }

    // One more step, when the budget allows: everything but the minimal failing set.
    void largest_working_guess(const std::vector<int>& minimal) {
        if (minimal.empty()) return;
        std::vector<int> others;
        for (int i = 0; i < static_cast<int>(r_.analysis.requirements.size()); ++i)
            if (std::find(r_.core.begin(), r_.core.end(), i) == r_.core.end() &&
                std::find(minimal.begin(), minimal.end(), i) == minimal.end())
                others.push_back(i);
        if (others.size() + r_.core.size() <= r_.largest_working.size()) return;
        std::string before = r_.stopped;
        step("everything but the failing set", others);
        r_.stopped = before;   // running out here does not spoil a finished search
    }

    SimplifyReport finish() { return std::move(r_); }

    Client& client_;
    std::string prompt_;
    SimplifyOptions opt_;
    std::string model_;
    SimplifyReport r_;
};

}  // namespace

std::string compose_prompt(std::string_view prompt, const prompt::Analysis& a, const std::vector<int>& requirements) {
    // The core subject is always part of the prompt: the first subject, else the first requirement.
    std::set<int> chosen(requirements.begin(), requirements.end());
    int core = 0;
    for (std::size_t i = 0; i < a.requirements.size(); ++i)
        if (a.requirements[i].kind == prompt::Kind::Subject) { core = static_cast<int>(i); break; }
    if (!a.requirements.empty()) chosen.insert(core);
    std::string out;
    std::size_t prev_end = 0;
    int prev = -2;
    for (int i : chosen) {
        if (i < 0 || static_cast<std::size_t>(i) >= a.requirements.size()) continue;
        const auto& r = a.requirements[static_cast<std::size_t>(i)];
        std::size_t begin = std::max(r.begin, prev == -2 ? std::size_t{0} : prev_end);
        if (begin >= r.end) continue;   // inside a requirement already written
        if (!out.empty()) {
            // Neighbours keep the words between them ("a cat on the left"); others get a comma.
            bool neighbours = i == prev + 1 && begin >= prev_end;
            out += neighbours ? std::string(prompt.substr(prev_end, begin - prev_end)) : ", ";
        }
        out += std::string(prompt.substr(begin, r.end - begin));
        prev_end = r.end;
        prev = i;
    }
    return out;
}

SimplifyReport simplify(Client& client, std::string_view prompt, const SimplifyOptions& options) {
    if (prompt.find_first_not_of(" \t\r\n") == std::string_view::npos)
        throw_invalid_arg("prompt is empty; pass the prompt that came back blank or without an image");
    if (options.max_requests < 1 || options.max_requests > 1000)
        throw_invalid_arg("max_requests is " + std::to_string(options.max_requests) + "; use 1..1000 steps");
    if (!(options.max_cost_usd > 0) || !std::isfinite(options.max_cost_usd))
        throw_invalid_arg("max_cost_usd must be a positive amount in US dollars");
    return Search(client, prompt, options).run();
}

std::string format_simplify_report(const SimplifyReport& r) {
    char buf[64];
    std::string out;
    for (const auto& s : r.steps) {
        std::snprintf(buf, sizeof buf, "$%.4f", s.cost_usd);
        out += "step " + std::to_string(s.number) + " (" + s.purpose + "): " +
               (s.works ? std::string("works") : std::string(status_name(s.outcome))) + ", " + buf + "\n    " + s.prompt + "\n";
    }
    if (r.found) {
        if (r.minimal_failing.empty()) {
            out += "The core subject alone fails: \"" + r.minimal_failing_prompt + "\".\n";
        } else {
            out += "Minimal failing set: ";
            for (std::size_t i = 0; i < r.minimal_failing.size(); ++i)
                out += (i ? ", \"" : "\"") + r.analysis.requirements[static_cast<std::size_t>(r.minimal_failing[i])].text + "\"";
            out += " (found in " + std::to_string(r.rounds_to_find) + " steps)\n";
        }
    }
    if (!r.largest_working_prompt.empty()) out += "Largest prompt that works: " + r.largest_working_prompt + "\n";
    if (!r.stopped.empty()) out += "Stopped: " + r.stopped + "\n";
    std::snprintf(buf, sizeof buf, "$%.4f", r.cost_usd);
    out += "Spent " + std::string(buf) + " in " + std::to_string(r.steps.size()) + " steps.\n";
    if (!r.plan.elements.empty()) {
        out += "Or generate it in stages: background \"" + r.plan.background + "\", then";
        for (std::size_t i = 0; i < r.plan.elements.size(); ++i) out += (i ? ", \"" : " \"") + r.plan.elements[i].prompt + "\"";
        out += ".\n";
    }
    return out;
}

std::string simplify_report_json(const SimplifyReport& r) {
    using nlohmann::json;
    json steps = json::array();
    for (const auto& s : r.steps) {
        json attempts = json::array();
        for (const auto& a : s.attempts)
            attempts.push_back({{"number", a.number}, {"outcome", status_name(a.outcome)}, {"http_status", a.http_status}});
        steps.push_back({{"number", s.number}, {"purpose", s.purpose}, {"requirements", s.requirements},
                         {"prompt", s.prompt}, {"outcome", status_name(s.outcome)}, {"works", s.works},
                         {"reason", s.reason}, {"cost_usd", s.cost_usd}, {"attempts", std::move(attempts)}});
    }
    json elements = json::array();
    for (const auto& e : r.plan.elements)
        elements.push_back({{"prompt", e.prompt}, {"box", {e.box.x, e.box.y, e.box.w, e.box.h}}, {"z", e.z}});
    json j = {{"analysis", json::parse(prompt::analysis_json(r.analysis))},
              {"core", r.core},
              {"steps", std::move(steps)},
              {"found", r.found},
              {"minimal_failing", r.minimal_failing},
              {"minimal_failing_prompt", r.minimal_failing_prompt},
              {"largest_working", r.largest_working},
              {"largest_working_prompt", r.largest_working_prompt},
              {"rounds_to_find", r.rounds_to_find},
              {"stopped", r.stopped},
              {"cost_usd", r.cost_usd},
              {"plan", {{"background", r.plan.background}, {"style", r.plan.style}, {"elements", std::move(elements)}}}};
    return j.dump(2, ' ', false, json::error_handler_t::replace);
}

}  // namespace nbcore
