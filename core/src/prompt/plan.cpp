// Staging plans: a background stage and one element per distinct subject, laid out from the
// relation phrases the analysis found. Pure and deterministic.
#include <algorithm>
#include <map>
#include <string>

#include "nbcore/prompt.hpp"

namespace nbcore::prompt {
namespace {

enum class Column { Left, Free, Centre, Right };
enum class Row { Sky, Middle, Foreground, Distance };

bool any_of_words(const std::string& rel, std::initializer_list<std::string_view> words) {
    return std::any_of(words.begin(), words.end(), [&](std::string_view w) { return rel.find(w) != std::string::npos; });
}

Column column_of(const std::string& rel) {
    if (any_of_words(rel, {"left"})) return Column::Left;
    if (any_of_words(rel, {"right"})) return Column::Right;
    if (any_of_words(rel, {"center", "centre", "middle"})) return Column::Centre;
    return Column::Free;
}

Row row_of(const std::string& rel) {
    if (any_of_words(rel, {"in the sky", "at the top", "above", "overhead", "top left", "top right"})) return Row::Sky;
    if (any_of_words(rel, {"foreground", "at the bottom", "bottom left", "bottom right"})) return Row::Foreground;
    if (any_of_words(rel, {"background", "distance", "behind"})) return Row::Distance;
    return Row::Middle;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
    std::string out;
    for (const auto& p : parts) {
        if (p.empty()) continue;
        if (!out.empty()) out += sep;
        out += p;
    }
    return out;
}

}  // namespace

bool should_stage(const Analysis& a) noexcept { return a.distinct_subjects > 3; }

StagePlan plan_stages(const Analysis& a) {
    StagePlan plan;
    std::vector<std::string> settings, styling, texts;
    struct Subject {
        const Requirement* first;
        std::string relation;
    };
    std::vector<Subject> subjects;
    std::map<std::string, std::size_t> by_head;
    for (const auto& r : a.requirements) {
        switch (r.kind) {
        case Kind::Setting: settings.push_back(r.text); break;
        case Kind::Style: case Kind::Camera: case Kind::Lighting: styling.push_back(r.text); break;
        case Kind::Text: texts.push_back(r.text); break;
        case Kind::Subject: {
            auto it = by_head.find(r.head);
            if (it == by_head.end()) {
                by_head[r.head] = subjects.size();
                subjects.push_back({&r, r.relation});
            } else if (subjects[it->second].relation.empty()) {
                subjects[it->second].relation = r.relation;
            }
            break;
        }
        case Kind::Relation: break;
        }
    }
    plan.style = join(styling, ", ");
    std::string setting = settings.empty() ? std::string("an empty scene that suits the subjects") : join(settings, ", ");
    plan.background = setting + ", with no people, animals or objects in the foreground";
    if (!texts.empty()) {
        plan.background += ", with the text " + join(texts, " and ");
        plan.notes.push_back("text to render goes with the background: " + join(texts, ", "));
    }
    if (!plan.style.empty()) plan.background += ", " + plan.style;
    plan.notes.push_back(settings.empty() ? "no setting named: the background is an empty scene"
                                          : "background from the setting: " + join(settings, ", "));

    // Columns: left-bound subjects first, then free and centred ones in prompt order, then right.
    std::vector<std::size_t> order(subjects.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    auto rank = [&](std::size_t i) {
        switch (column_of(subjects[i].relation)) {
        case Column::Left: return 0;
        case Column::Free: case Column::Centre: return 1;
        case Column::Right: return 2;
        }
        return 1;
    };
    std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return rank(x) < rank(y); });

    const double n = static_cast<double>(std::max<std::size_t>(subjects.size(), 1));
    const double base_w = std::min(0.45, 0.92 / n);
    for (std::size_t slot = 0; slot < order.size(); ++slot) {
        const Subject& s = subjects[order[slot]];
        double cx = (static_cast<double>(slot) + 0.5) / n;
        if (subjects.size() == 1) {
            Column c = column_of(s.relation);
            cx = c == Column::Left ? 0.28 : c == Column::Right ? 0.72 : 0.5;
        }
        double scale = 1.0, cy = 0.62;
        int z = 1;
        switch (row_of(s.relation)) {
        case Row::Sky: cy = 0.22; scale = 0.8; break;
        case Row::Foreground: cy = 0.7; scale = 1.2; z = 2; break;
        case Row::Distance: cy = 0.5; scale = 0.65; z = 0; break;
        case Row::Middle: break;
        }
        double w = std::min(base_w * scale, 0.95);
        double h = std::min(0.55 * scale, 0.9);
        PlannedElement e;
        e.prompt = s.first->text;
        e.box.w = w;
        e.box.h = h;
        e.box.x = std::clamp(cx - w / 2, 0.0, 1.0 - w);
        e.box.y = std::clamp(cy - h / 2, 0.0, 1.0 - h);
        e.z = z;
        plan.notes.push_back(s.first->head + ": " + (s.relation.empty() ? std::string("no relation, slot ") + std::to_string(slot + 1)
                                                                        : "\"" + s.relation + "\"") +
                             " -> box at x " + std::to_string(static_cast<int>(e.box.x * 100 + 0.5)) + "%, y " +
                             std::to_string(static_cast<int>(e.box.y * 100 + 0.5)) + "%");
        plan.elements.push_back(std::move(e));
    }
    std::stable_sort(plan.elements.begin(), plan.elements.end(),
                     [](const PlannedElement& x, const PlannedElement& y) { return x.z < y.z; });
    return plan;
}

}  // namespace nbcore::prompt
