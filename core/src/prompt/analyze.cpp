// Rule-based prompt analysis (see prompt.hpp for the method). Everything here is a pure function
// of the prompt: word lists, a clause splitter, a noun-phrase reader and a risk rule.
#include "nbcore/prompt.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

namespace nbcore::prompt {
namespace {

constexpr char kQuoteFill = '\x01';   // quoted spans are blanked with this in the working copy

bool is_word_char(char c) {
    unsigned char u = static_cast<unsigned char>(c);
    return std::isalnum(u) || c == '-' || c == '\'' || u >= 0x80 || c == '/';
}

std::string lower_ascii(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (static_cast<unsigned char>(c) < 0x80) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

struct Word {
    std::string text;   // lower case
    std::size_t begin = 0, end = 0;
};

std::vector<Word> words_in(const std::string& low, std::size_t begin, std::size_t end) {
    std::vector<Word> out;
    std::size_t i = begin;
    while (i < end) {
        while (i < end && !is_word_char(low[i])) ++i;
        std::size_t b = i;
        while (i < end && is_word_char(low[i])) ++i;
        if (i > b) {
            std::size_t e = i;
            while (e > b && (low[e - 1] == '\'' || low[e - 1] == '-')) --e;   // "cats'" -> "cats"
            if (e > b) out.push_back({low.substr(b, e - b), b, e});
        }
    }
    return out;
}

bool in_list(std::string_view w, std::initializer_list<std::string_view> list) {
    return std::find(list.begin(), list.end(), w) != list.end();
}

// ---- word lists ----------------------------------------------------------------------------

int number_word(std::string_view w) {
    static constexpr std::array<std::string_view, 13> kNumbers = {
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"};
    for (std::size_t i = 1; i < kNumbers.size(); ++i)
        if (w == kNumbers[i]) return static_cast<int>(i);
    if (!w.empty() && w.size() <= 3 && std::all_of(w.begin(), w.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
        return std::stoi(std::string(w));
    return 0;
}

bool is_determiner(std::string_view w) {
    return number_word(w) > 0 ||
           in_list(w, {"a", "an", "the", "some", "several", "many", "few", "his", "her", "their", "its", "my",
                       "our", "your", "this", "these", "those", "another", "multiple", "various", "dozens"});
}

bool is_stop_word(std::string_view w) {
    return in_list(w, {"in", "on", "at", "of", "with", "without", "by", "near", "behind", "beside", "besides", "next",
                       "under", "over", "above", "below", "between", "into", "onto", "from", "for", "to", "and",
                       "or", "but", "while", "as", "like", "that", "which", "who", "whose", "where", "is", "are",
                       "was", "were", "be", "has", "have", "had", "against", "across", "around", "through",
                       "inside", "outside", "beneath", "underneath", "towards", "toward", "facing", "plus",
                       "during", "among", "amid", "along", "atop", "via", "than", "so", "very"});
}

bool is_locative(std::string_view w) {
    return in_list(w, {"in", "on", "at", "inside", "under", "across", "over", "within", "through", "into"});
}

bool is_place(std::string_view head) {
    return in_list(head, {"forest", "wood", "woods", "jungle", "beach", "shore", "coast", "ocean", "sea", "lake",
                          "river", "mountain", "hill", "valley", "desert", "field", "meadow", "garden", "park",
                          "city", "town", "village", "street", "alley", "road", "room", "kitchen", "bedroom",
                          "office", "studio", "library", "cafe", "café", "restaurant", "bar", "shop", "market",
                          "space", "sky", "cave", "background", "landscape", "countryside", "harbor", "harbour",
                          "port", "station", "classroom", "hallway", "corridor", "stadium", "arena", "island",
                          "swamp", "tundra", "canyon", "interior", "courtyard", "rooftop", "balcony", "bathroom",
                          "laboratory", "lab", "factory", "warehouse", "garage", "farm", "vineyard", "orchard",
                          "galaxy", "void", "snow", "rain", "fog", "mist", "underwater", "seabed", "clearing",
                          "plain", "prairie", "savanna", "savannah", "glacier", "cityscape", "skyline", "plaza",
                          "square", "setting", "scene", "backdrop", "nature", "wilderness", "hall", "cathedral", "pier",
                          "dock", "boardwalk", "porch", "deck", "nook", "attic", "cellar", "basement", "terrace", "moon",
                          "planet", "mars", "orbit", "surface"});
}

bool is_style_head(std::string_view head) {
    return in_list(head, {"painting", "illustration", "drawing", "sketch", "render", "rendering", "photo",
                          "photograph", "photography", "artwork", "art", "style", "watercolor", "watercolour",
                          "anime", "cartoon", "comic", "portrait", "mosaic", "collage", "engraving", "etching",
                          "lithograph", "aesthetic", "look", "palette", "finish", "texture"});
}

bool is_lighting_head(std::string_view head) {
    return in_list(head, {"lighting", "light", "glow", "sunlight", "moonlight", "candlelight", "lamplight",
                          "shadows", "sunset", "sunrise", "dawn", "dusk", "twilight", "haze", "backlight",
                          "rays", "hour"});
}

bool is_camera_head(std::string_view head) {
    return in_list(head, {"shot", "close-up", "closeup", "view", "angle", "lens", "perspective", "headshot",
                          "composition", "framing", "exposure", "bokeh", "focus"});
}

// Clause-level keywords, for clauses without a noun phrase ("cinematic", "shot on 35mm").
constexpr std::string_view kCameraWords[] = {
    "close-up", "closeup", "close up", "wide shot", "wide-angle", "wide angle", "medium shot", "long shot",
    "full body", "full-body", "headshot", "telephoto", "macro", "lens", "bokeh", "depth of field",
    "shallow focus", "aerial", "bird's-eye", "birds-eye", "bird's eye", "drone shot", "overhead shot", "overhead view", "low angle",
    "high angle", "eye level", "dutch angle", "shot on", "shot with", "camera", "dslr", "fisheye", "tilt-shift",
    "long exposure", "35mm", "50mm", "85mm", "top-down", "top down", "side view", "front view", "from above",
    "from below"};
constexpr std::string_view kLightingWords[] = {
    "lighting", "lit", "backlit", "backlight", "golden hour", "blue hour", "sunset", "sunrise", "dawn", "dusk",
    "twilight", "moonlight", "moonlit", "sunlight", "sunlit", "candlelight", "candlelit", "neon", "glow",
    "glowing", "rim light", "soft light", "hard light", "volumetric", "god rays", "overcast", "shadows",
    "chiaroscuro", "at night", "nighttime", "night time", "light"};
constexpr std::string_view kStyleWords[] = {
    "style", "photorealistic", "photo-realistic", "realistic", "hyperrealistic", "hyper-realistic", "cinematic",
    "anime", "watercolor", "watercolour", "oil painting", "digital art", "concept art", "illustration",
    "illustrated", "minimalist", "minimal", "vintage", "retro", "surreal", "impressionist", "cubist", "art deco",
    "art nouveau", "baroque", "pixel art", "low poly", "low-poly", "3d render", "isometric", "cel-shaded", "noir",
    "pastel", "monochrome", "black and white", "sepia", "highly detailed", "detailed", "intricate", "8k", "4k",
    "hdr", "masterpiece", "vibrant", "colorful", "colourful", "muted", "matte", "glossy", "painterly",
    "photographic", "editorial", "studio quality", "ultra", "sharp", "dreamy", "moody", "whimsical", "gothic",
    "cyberpunk", "steampunk", "futuristic", "fantasy"};
constexpr std::string_view kTextWords[] = {
    "that says", "which says", "saying", "that reads", "which reads", "the words", "the word",
    "caption", "captioned", "lettering", "headline", "title text", "text", "typography", "written", "inscribed",
    "inscription", "slogan", "label that", "logo that"};

constexpr std::string_view kRelationPhrases[] = {
    // Longest first, so "to the left of" wins over "left".
    "in the top left corner", "in the top right corner", "in the bottom left corner", "in the bottom right corner",
    "on the left side", "on the right side", "to the left of", "to the right of", "in the foreground",
    "in the background", "in the distance", "in the middle", "in the center", "in the centre", "in the corner",
    "in front of", "on top of", "at the bottom", "at the top", "on the left", "on the right", "far left",
    "far right", "in the sky", "surrounded by", "next to", "beside", "between", "behind", "above", "below",
    "underneath", "beneath", "under", "facing", "overhead", "left side", "right side"};

// Whole-word occurrence of `phrase` in low[begin, end); npos when absent.
std::size_t find_phrase(const std::string& low, std::size_t begin, std::size_t end, std::string_view phrase) {
    std::size_t pos = begin;
    while (true) {
        pos = low.find(phrase, pos);
        if (pos == std::string::npos || pos + phrase.size() > end) return std::string::npos;
        bool left_ok = pos == 0 || !is_word_char(low[pos - 1]);
        std::size_t after = pos + phrase.size();
        bool right_ok = after >= low.size() || !is_word_char(low[after]) || phrase.back() == '/';
        if (left_ok && right_ok) return pos;
        ++pos;
    }
}

template <std::size_t N>
std::string_view first_keyword(const std::string& low, std::size_t b, std::size_t e, const std::string_view (&list)[N],
                               std::size_t* at = nullptr) {
    for (std::string_view k : list) {
        std::size_t p = find_phrase(low, b, e, k);
        if (p != std::string::npos) {
            if (at) *at = p;
            return k;
        }
    }
    return {};
}

std::string singular(std::string w) {
    static const std::pair<std::string_view, std::string_view> kIrregular[] = {
        {"people", "person"}, {"men", "man"},     {"women", "woman"}, {"children", "child"},
        {"mice", "mouse"},    {"geese", "goose"}, {"teeth", "tooth"}, {"feet", "foot"},
        {"wolves", "wolf"},   {"leaves", "leaf"}, {"knives", "knife"}, {"shelves", "shelf"}};
    for (auto [plural, one] : kIrregular)
        if (w == plural) return std::string(one);
    auto ends = [&](std::string_view s) { return w.size() > s.size() && w.compare(w.size() - s.size(), s.size(), s) == 0; };
    if (w.size() > 4 && ends("ies")) return w.substr(0, w.size() - 3) + "y";
    if (w.size() > 4 && (ends("ches") || ends("shes") || ends("xes") || ends("sses"))) return w.substr(0, w.size() - 2);
    if (w.size() > 3 && ends("s") && !ends("ss") && !ends("us") && !ends("is")) return w.substr(0, w.size() - 1);
    return w;
}

// ---- clauses -------------------------------------------------------------------------------

struct Span {
    std::size_t begin, end;
};

std::vector<Span> split_clauses(const std::string& low) {
    std::vector<Span> coarse;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= low.size(); ++i) {
        bool cut = i == low.size();
        if (!cut) {
            char c = low[i];
            bool next_blank = i + 1 >= low.size() || std::isspace(static_cast<unsigned char>(low[i + 1]));
            cut = c == '\n' || c == ';' || c == ',' || ((c == '.' || c == '!' || c == '?' || c == ':') && next_blank);
        }
        if (cut) {
            if (i > start) coarse.push_back({start, i});
            start = i + 1;
        }
    }
    // Then before a joining word when a new noun phrase follows it.
    std::vector<Span> out;
    for (Span s : coarse) {
        auto words = words_in(low, s.begin, s.end);
        std::size_t clause_begin = s.begin;
        for (std::size_t i = 1; i + 1 < words.size(); ++i) {
            bool joiner = in_list(words[i].text, {"and", "with", "while", "plus", "beside", "alongside"});
            if (joiner && is_determiner(words[i + 1].text)) {
                out.push_back({clause_begin, words[i].begin});
                clause_begin = words[i].text == "beside" || words[i].text == "alongside" ? words[i].begin : words[i + 1].begin;
            }
        }
        out.push_back({clause_begin, s.end});
    }
    // Trim blanks; drop empty clauses.
    std::vector<Span> trimmed;
    for (Span s : out) {
        while (s.begin < s.end && std::isspace(static_cast<unsigned char>(low[s.begin]))) ++s.begin;
        while (s.end > s.begin && std::isspace(static_cast<unsigned char>(low[s.end - 1]))) --s.end;
        if (s.end > s.begin) trimmed.push_back(s);
    }
    return trimmed;
}

struct Quote {
    std::size_t begin, end;          // including the quote marks
    std::size_t inner_b, inner_e;
};

// Quoted spans: "..." and “...” always; '...' only when it opens after a blank and closes
// before a blank or punctuation, so apostrophes ("it's") are not quotes.
std::vector<Quote> find_quotes(const std::string& s) {
    std::vector<Quote> out;
    static const std::string kOpenCurly = "\xE2\x80\x9C", kCloseCurly = "\xE2\x80\x9D";
    std::size_t i = 0;
    while (i < s.size()) {
        if (s[i] == '"') {
            std::size_t j = s.find('"', i + 1);
            if (j == std::string::npos) break;
            out.push_back({i, j + 1, i + 1, j});
            i = j + 1;
        } else if (s.compare(i, kOpenCurly.size(), kOpenCurly) == 0) {
            std::size_t j = s.find(kCloseCurly, i + kOpenCurly.size());
            if (j == std::string::npos) break;
            out.push_back({i, j + kCloseCurly.size(), i + kOpenCurly.size(), j});
            i = j + kCloseCurly.size();
        } else if (s[i] == '\'' && (i == 0 || std::isspace(static_cast<unsigned char>(s[i - 1])))) {
            std::size_t j = i + 1;
            std::size_t close = std::string::npos;
            for (; j < s.size(); ++j) {
                if (s[j] == '\'' && (j + 1 == s.size() || !std::isalnum(static_cast<unsigned char>(s[j + 1])))) {
                    close = j;
                    break;
                }
            }
            if (close == std::string::npos || close == i + 1) { ++i; continue; }
            out.push_back({i, close + 1, i + 1, close});
            i = close + 1;
        } else {
            ++i;
        }
    }
    return out;
}

struct Phrase {
    std::size_t begin, end;
    std::string head;
    int count = 1;
    bool after_locative = false;
};

bool is_collective(std::string_view head) {
    return in_list(head, {"stack", "pile", "group", "bunch", "herd", "flock", "crowd", "bowl", "cup", "mug", "glass",
                          "plate", "basket", "box", "bag", "jar", "bottle", "bouquet", "set", "row", "line",
                          "cluster", "swarm", "school", "pack", "team", "family", "couple", "handful", "slice",
                          "piece", "cloud", "field", "sea", "wall", "vase", "pot", "tray", "cart", "heap"});
}

// Nouns that end like participles; they never end a phrase.
bool is_ing_noun(std::string_view w) {
    return in_list(w, {"painting", "paintings", "drawing", "drawings", "rendering", "building", "buildings",
                       "lighting", "ring", "rings", "king", "wing", "wings", "string", "strings", "ceiling",
                       "clothing", "evening", "morning", "wedding", "pudding", "sibling", "siblings", "earring",
                       "earrings", "spring", "swing", "thing", "things", "railing", "stocking", "stockings",
                       "dumpling", "dumplings", "icing", "frosting", "clearing", "landing", "opening", "carving",
                       "etching", "engraving", "sapling", "duckling", "ducklings", "seedling", "darling",
                       "pudding", "stuffing", "awning", "bedding", "netting", "sling", "ping"});
}

bool ends_with(std::string_view w, std::string_view tail) {
    return w.size() > tail.size() + 1 && w.substr(w.size() - tail.size()) == tail;
}

// Noun phrases led by a determiner or a number: up to five words, to a stop word. A participle
// ("sitting", "covered in") ends a phrase once it has a word, so "a sleeping cat" stays whole
// but "a cat sitting on a mat" gives "a cat" and "a mat".
std::vector<Phrase> noun_phrases(const std::vector<Word>& words) {
    std::vector<Phrase> out;
    for (std::size_t i = 0; i < words.size(); ++i) {
        if (!is_determiner(words[i].text)) continue;
        if (words[i].text == "a" && i + 2 < words.size() && words[i + 1].text == "pair" && words[i + 2].text == "of") {
            // "a pair of boots": the phrase is the boots, counted two.
            i += 2;
            if (i + 1 < words.size()) {
                std::size_t j = i + 1;
                while (j < words.size() && !is_stop_word(words[j].text) && j - i <= 4) ++j;
                if (j > i + 1)
                    out.push_back({words[i - 2].begin, words[j - 1].end, singular(words[j - 1].text), 2,
                                   i >= 3 && is_locative(words[i - 3].text)});
                i = j - 1;
            }
            continue;
        }
        int count = number_word(words[i].text);
        std::size_t j = i + 1;
        while (j < words.size() && j - i <= 5) {
            const std::string& w = words[j].text;
            if (is_stop_word(w) || is_determiner(w)) break;
            bool has_word = j > i + 1;
            // A participle is followed by its object or a preposition ("sitting on", "holding a");
            // an -ing word followed by a plain word modifies it ("a reading nook").
            bool next_plain = j + 1 < words.size() && !is_stop_word(words[j + 1].text) && !is_determiner(words[j + 1].text);
            if (has_word && ends_with(w, "ing") && !is_ing_noun(w) && !next_plain) break;
            if (has_word && ends_with(w, "ed") && j + 1 < words.size() && is_stop_word(words[j + 1].text)) break;
            ++j;
        }
        if (j == i + 1) continue;   // a determiner alone
        // "a stack of old books", "a mug of tea": the container or group is the subject, and the
        // phrase carries what it holds.
        std::string container = singular(words[j - 1].text);
        if (j + 1 < words.size() && words[j].text == "of" && is_collective(container)) {
            std::size_t k = j + 1;
            if (k < words.size() && is_determiner(words[k].text)) ++k;
            std::size_t start = k;
            while (k < words.size() && k - start < 4 && !is_stop_word(words[k].text) && !is_determiner(words[k].text)) ++k;
            if (k > start) {
                Phrase p{words[i].begin, words[k - 1].end, container, 1, i > 0 && is_locative(words[i - 1].text)};
                out.push_back(p);
                i = k - 1;
                continue;
            }
        }
        Phrase p;
        p.begin = words[i].begin;
        p.end = words[j - 1].end;
        p.head = singular(words[j - 1].text);
        p.count = count > 0 ? count : (in_list(words[i].text, {"some", "several", "many", "multiple", "various", "dozens", "these", "those"}) ? 3 : 1);
        p.after_locative = i > 0 && is_locative(words[i - 1].text);
        out.push_back(p);
        i = j - 1;
    }
    return out;
}

// A clause without a determiner ("rain", "red fox in snow"): its leading words up to a stop word.
std::optional<Phrase> bare_phrase(const std::vector<Word>& words) {
    std::size_t j = 0;
    while (j < words.size() && j < 5 && !is_stop_word(words[j].text)) ++j;
    if (j == 0) return std::nullopt;
    Phrase p{words[0].begin, words[j - 1].end, singular(words[j - 1].text), 1, false};
    return p;
}

void add(Analysis& a, Kind kind, std::string_view prompt, std::size_t b, std::size_t e, std::string head,
         int count = 1) {
    Requirement r;
    r.kind = kind;
    r.text = std::string(prompt.substr(b, e - b));
    r.head = std::move(head);
    r.count = count;
    r.begin = b;
    r.end = e;
    a.requirements.push_back(std::move(r));
}

void analyse_clause(Analysis& a, std::string_view prompt, const std::string& low, Span c) {
    bool has_quote = std::find(low.begin() + static_cast<std::ptrdiff_t>(c.begin),
                               low.begin() + static_cast<std::ptrdiff_t>(c.end), kQuoteFill) != low.begin() + static_cast<std::ptrdiff_t>(c.end);
    // Text asked for without quoting the words.
    std::size_t at = 0;
    if (!has_quote) {
        std::string_view t = first_keyword(low, c.begin, c.end, kTextWords, &at);
        if (!t.empty()) add(a, Kind::Text, prompt, c.begin, c.end, "");
    }
    // Relations, each once per clause.
    std::string relation;
    std::vector<Span> relation_spans;
    for (std::string_view r : kRelationPhrases) {
        std::size_t p = find_phrase(low, c.begin, c.end, r);
        if (p == std::string::npos) continue;
        bool inside_other = std::any_of(relation_spans.begin(), relation_spans.end(),
                                        [&](Span s) { return p >= s.begin && p < s.end; });
        if (inside_other) continue;
        relation_spans.push_back({p, p + r.size()});
        add(a, Kind::Relation, prompt, p, p + r.size(), std::string(r));
        if (relation.empty()) relation = std::string(r);
    }

    auto words = words_in(low, c.begin, c.end);
    // Words of a relation phrase are not noun phrases ("on the left" names no subject): they
    // become stop words, which also ends any phrase before them.
    for (Word& w : words)
        if (std::any_of(relation_spans.begin(), relation_spans.end(), [&](Span s) { return w.begin >= s.begin && w.end <= s.end; }))
            w.text = "in";
    words.erase(std::remove_if(words.begin(), words.end(), [&](const Word& w) { return w.text.find(kQuoteFill) != std::string::npos; }),
                words.end());
    auto phrases = noun_phrases(words);
    bool styled = false, camera = false, lighting = false;
    if (phrases.empty()) {
        // No noun phrase: camera, lighting or style words decide; else a bare subject.
        if (!first_keyword(low, c.begin, c.end, kCameraWords).empty()) {
            add(a, Kind::Camera, prompt, c.begin, c.end, "");
            return;
        }
        if (!first_keyword(low, c.begin, c.end, kLightingWords).empty()) {
            add(a, Kind::Lighting, prompt, c.begin, c.end, "");
            return;
        }
        if (!first_keyword(low, c.begin, c.end, kStyleWords).empty()) {
            add(a, Kind::Style, prompt, c.begin, c.end, "");
            return;
        }
        // A clause made only of relation words adds nothing more.
        std::vector<Word> rest;
        for (const Word& w : words)
            if (w.text != "in" || low.compare(w.begin, 2, "in") == 0) rest.push_back(w);
        while (!rest.empty() && is_stop_word(rest.front().text)) rest.erase(rest.begin());
        if (auto p = bare_phrase(rest)) phrases.push_back(*p);
        else return;
    }
    for (const Phrase& p : phrases) {
        // "the end of the street", "the left side": positions, not things to draw.
        if (in_list(p.head, {"end", "side", "edge", "top", "bottom", "middle", "center", "centre", "corner", "front",
                             "back", "left", "right", "rest", "part", "half", "distance", "foreground"}))
            continue;
        // "the words", "a caption": the text itself is recorded as text.
        if (in_list(p.head, {"word", "text", "caption", "title", "lettering", "slogan", "inscription", "letter", "headline"}))
            continue;
        if (is_style_head(p.head)) { add(a, Kind::Style, prompt, p.begin, p.end, p.head); styled = true; continue; }
        if (is_camera_head(p.head)) { add(a, Kind::Camera, prompt, p.begin, p.end, p.head); camera = true; continue; }
        if (is_lighting_head(p.head)) { add(a, Kind::Lighting, prompt, p.begin, p.end, p.head); lighting = true; continue; }
        if (is_place(p.head)) { add(a, Kind::Setting, prompt, p.begin, p.end, p.head); continue; }
        add(a, Kind::Subject, prompt, p.begin, p.end, p.head, p.count);
        a.requirements.back().relation = relation;
    }
    // Keywords in the rest of a clause that had noun phrases ("a fox in golden hour light").
    auto outside_phrases = [&](std::size_t pos) {
        return std::none_of(phrases.begin(), phrases.end(), [&](const Phrase& p) { return pos >= p.begin && pos < p.end; });
    };
    std::size_t k = 0;
    if (!camera && !first_keyword(low, c.begin, c.end, kCameraWords, &k).empty() && outside_phrases(k))
        add(a, Kind::Camera, prompt, k, c.end, "");
    if (!lighting && !first_keyword(low, c.begin, c.end, kLightingWords, &k).empty() && outside_phrases(k))
        add(a, Kind::Lighting, prompt, k, c.end, "");
    if (!styled && !first_keyword(low, c.begin, c.end, kStyleWords, &k).empty() && outside_phrases(k))
        add(a, Kind::Style, prompt, k, c.end, "");
}

void judge(Analysis& a, std::string_view image_size) {
    std::set<std::string> heads;
    for (const auto& r : a.requirements) {
        switch (r.kind) {
        case Kind::Subject: heads.insert(r.head); break;
        case Kind::Text: ++a.text_spans; break;
        case Kind::Relation: ++a.relations; break;
        case Kind::Style: case Kind::Camera: case Kind::Lighting: ++a.styling; break;
        case Kind::Setting: break;
        }
    }
    a.distinct_subjects = static_cast<int>(heads.size());

    std::vector<std::string> high, medium;
    if (a.distinct_subjects > 3)
        high.push_back(std::to_string(a.distinct_subjects) +
                       " distinct subjects (more than 3 raises the risk of a blank output)");
    else if (a.distinct_subjects == 3)
        medium.push_back("3 distinct subjects (at the limit: one more raises the risk of a blank output)");
    if (image_size == "4K" && a.distinct_subjects >= 3)
        high.push_back("4K with " + std::to_string(a.distinct_subjects) +
                       " subjects raises the risk of a timeout (try 2K, or stage the scene)");
    if (a.text_spans > 0) {
        std::string words;
        for (const auto& r : a.requirements)
            if (r.kind == Kind::Text && !r.head.empty()) words += (words.empty() ? "\"" : ", \"") + r.head + "\"";
        medium.push_back("asks for rendered text" + (words.empty() ? std::string() : " (" + words + ")") +
                         ", which models often garble or leave out");
    }
    if (a.relations >= 2)
        medium.push_back(std::to_string(a.relations) + " precise spatial relations (each one is a constraint the model can miss)");
    if (a.styling >= 3)
        medium.push_back("detailed styling: " + std::to_string(a.styling) + " style, camera and lighting clauses");
    if (high.empty() && medium.size() >= 3)
        high.push_back("asks for several hard things at once (" + std::to_string(medium.size()) + " of the factors below)");

    a.risk = !high.empty() ? Risk::High : !medium.empty() ? Risk::Medium : Risk::Low;
    a.reasons = high;
    a.reasons.insert(a.reasons.end(), medium.begin(), medium.end());
}

}  // namespace

Analysis analyze(std::string_view prompt, std::string_view image_size) {
    Analysis a;
    std::string low = lower_ascii(prompt);
    for (const Quote& q : find_quotes(low)) {
        add(a, Kind::Text, prompt, q.begin, q.end, std::string(prompt.substr(q.inner_b, q.inner_e - q.inner_b)));
        std::fill(low.begin() + static_cast<std::ptrdiff_t>(q.begin), low.begin() + static_cast<std::ptrdiff_t>(q.end), kQuoteFill);
    }
    for (Span c : split_clauses(low)) analyse_clause(a, prompt, low, c);
    std::stable_sort(a.requirements.begin(), a.requirements.end(),
                     [](const Requirement& x, const Requirement& y) { return x.begin < y.begin; });
    judge(a, image_size);
    return a;
}

std::string blank_output_advice(const Analysis& a) {
    if (a.risk == Risk::Low || a.reasons.empty()) return {};
    std::string why;
    for (std::size_t i = 0; i < a.reasons.size() && i < 3; ++i) why += (i ? "; " : "") + a.reasons[i];
    return "The prompt may ask for too much at once: " + why +
           ". Reduce it to its core subject and add the rest back one at a time, or generate it in "
           "stages (a background, then each subject); `nbcore lint` shows the full report.";
}

std::string_view kind_name(Kind k) noexcept {
    switch (k) {
    case Kind::Subject: return "subject";
    case Kind::Setting: return "setting";
    case Kind::Text: return "text";
    case Kind::Relation: return "relation";
    case Kind::Style: return "style";
    case Kind::Camera: return "camera";
    case Kind::Lighting: return "lighting";
    }
    return "unknown";
}

std::string_view risk_name(Risk r) noexcept {
    switch (r) {
    case Risk::Low: return "low";
    case Risk::Medium: return "medium";
    case Risk::High: return "high";
    }
    return "unknown";
}

std::string format_analysis(const Analysis& a) {
    std::string out = "risk: " + std::string(risk_name(a.risk)) + "\n";
    for (const auto& r : a.reasons) out += "  - " + r + "\n";
    out += "requirements:\n";
    for (const auto& r : a.requirements) {
        char kind[16];
        std::snprintf(kind, sizeof kind, "%-9s", std::string(kind_name(r.kind)).c_str());
        out += "  " + std::string(kind) + " " + r.text;
        if (r.kind == Kind::Subject && r.count > 1) out += "  (x" + std::to_string(r.count) + ")";
        if (r.kind == Kind::Subject && !r.relation.empty()) out += "  [" + r.relation + "]";
        out += "\n";
    }
    return out;
}

std::string analysis_json(const Analysis& a) {
    nlohmann::json reqs = nlohmann::json::array();
    for (const auto& r : a.requirements) {
        nlohmann::json j = {{"kind", kind_name(r.kind)}, {"text", r.text}, {"begin", r.begin}, {"end", r.end}};
        if (!r.head.empty()) j["head"] = r.head;
        if (r.kind == Kind::Subject) {
            j["count"] = r.count;
            if (!r.relation.empty()) j["relation"] = r.relation;
        }
        reqs.push_back(std::move(j));
    }
    nlohmann::json j = {{"risk", risk_name(a.risk)},     {"reasons", a.reasons},
                        {"distinct_subjects", a.distinct_subjects}, {"text_spans", a.text_spans},
                        {"relations", a.relations},      {"styling", a.styling},
                        {"requirements", std::move(reqs)}};
    return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace nbcore::prompt
