// Prompt analysis: what a prompt asks for, and how risky that is for an image model.
//
// Blank outputs and timeouts come most often from prompts that ask for too much at once: several
// subjects, rendered text, precise spatial relations and detailed styling together. analyze()
// splits a prompt into its requirements with a deterministic, rule-based method (no model, no
// network), so the same prompt always gives the same report, and the report can explain itself.
//
// The method, in order (docs/prompt-analysis.md has the full word lists):
//   1. Quoted spans ("...", “...”, '...' between spaces) are text to render.
//   2. The rest is cut into clauses at sentence marks (. ! ? ; : newline) and commas, and before
//      "and" / "with" / "while" / "plus" / "beside" when a new noun phrase follows (a determiner
//      or a number: "a", "the", "two", "some", ...), so "black and white" stays whole.
//   3. A clause is camera, lighting or style when it contains one of their keywords; a clause
//      that asks for words on the image ("a sign that says", "the caption", "lettering") is text.
//   4. Every other clause yields its noun phrases (a determiner or number, up to five words, up to
//      a stop word such as a preposition or a verb). A phrase after "in" / "on" / "at" / "inside"
//      / "under" / "across" / "over" whose head names a place ("forest", "kitchen", "sky") is the
//      setting; the rest are subjects. Subjects are distinct by head noun ("two cats" and "a
//      cat" are one subject).
//   5. Relation phrases ("on the left", "behind", "next to", "in the foreground", ...) are spatial
//      relations, attached to the clause's subjects.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace nbcore::prompt {

enum class Kind { Subject, Setting, Text, Relation, Style, Camera, Lighting };

struct Requirement {
    Kind kind = Kind::Subject;
    std::string text;          // as written: "a red fox", "oil painting", "\"OPEN\""
    std::string head;          // Subject/Setting: head noun, singular ("fox"); Relation: the
                               // relation phrase ("on the left"); Text: the words to render
    int count = 1;             // Subject: how many ("three cats" -> 3)
    std::string relation;      // Subject: the relation phrase of its clause, "" when none
    std::size_t begin = 0;     // byte range in the prompt
    std::size_t end = 0;
};

enum class Risk { Low = 0, Medium = 1, High = 2 };

struct Analysis {
    std::vector<Requirement> requirements;   // in prompt order
    int distinct_subjects = 0;
    int text_spans = 0;
    int relations = 0;
    int styling = 0;                         // style + camera + lighting clauses
    Risk risk = Risk::Low;
    // Why, one line each, most serious first: "5 distinct subjects (more than 3 raises the risk
    // of a blank output)". Empty when the risk is low.
    std::vector<std::string> reasons;
};

// Deterministic. image_size "4K" raises the timeout risk of many subjects.
Analysis analyze(std::string_view prompt, std::string_view image_size = {});

std::string_view kind_name(Kind k) noexcept;    // "subject", "setting", ...
std::string_view risk_name(Risk r) noexcept;    // "low", "medium", "high"

// A report for people: the risk, its reasons, and the requirements found, one per line.
std::string format_analysis(const Analysis& a);
// The same as JSON: {"risk", "reasons", "distinct_subjects", "requirements": [{"kind", ...}]}.
std::string analysis_json(const Analysis& a);

// What to add to the advice of a NO_IMAGE or BLANK_IMAGE failure: the report's reasons and the
// two ways out (simplify, or stage). "" when the risk is low: then the prompt is not the suspect.
std::string blank_output_advice(const Analysis& a);

// ---- staging -------------------------------------------------------------------------------

// Where an element goes, as fractions of the canvas (x, y of the top-left corner).
struct PlanBox {
    double x = 0, y = 0, w = 1, h = 1;
};

struct PlannedElement {
    std::string prompt;      // what to draw: the subject's phrase, with its clause's details
    PlanBox box;
    int z = 0;               // drawing order: lower first
};

struct StagePlan {
    std::string background;  // the setting, plus the prompt's style, lighting and camera clauses
    std::string style;       // style, lighting and camera clauses, for every stage
    std::vector<PlannedElement> elements;
    std::vector<std::string> notes;   // how the plan was made, one line per decision
};

// When staging pays: more than three distinct subjects (the risk threshold above).
bool should_stage(const Analysis& a) noexcept;

// Plans a background and one element per distinct subject. Boxes follow the relation phrases
// ("on the left" -> the left third, "in the foreground" -> lower and larger, "in the sky" ->
// the top); subjects without one share the free width evenly. Text to render goes with the
// background. Deterministic.
StagePlan plan_stages(const Analysis& a);

}  // namespace nbcore::prompt
