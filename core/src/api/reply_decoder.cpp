// ReplyDecoder: reply bytes, in chunks of any size, -> Reply.
//
// Three layers:
//   framing   decides between one JSON value, a JSON array of values, and SSE events (including
//             bare JSON lines), and hands each top-level value to
//   scanner   a small JSON state machine that follows containers and keys only; it base64-decodes
//             every inlineData.data string straight into a Blob and copies everything else into
//             the skeleton, where the string becomes "#<n>";
//   merger    parses the (small) skeleton with nlohmann::json and merges it into the Reply.

#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "api/reply_merge.hpp"
#include "nbcore/codec.hpp"

namespace nbcore::api {
namespace {

constexpr std::size_t kNonJsonKeep = 64 * 1024;       // kept verbatim for classification
constexpr std::size_t kMaxDepth = 512;
constexpr std::size_t kMaxKeyBytes = 16;              // longer keys are never ones we look for
constexpr std::size_t kMaxFieldNameBytes = 32;        // SSE field names
constexpr std::size_t kDefaultImageReserve = 256 * 1024;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_eol(char c) { return c == '\n' || c == '\r'; }

// First '\n' or '\r' in [p, end), or end. memchr is vectorised; image lines are megabytes long.
const char* find_eol(const char* p, const char* end) {
    const void* lf = std::memchr(p, '\n', static_cast<std::size_t>(end - p));
    const char* stop = lf ? static_cast<const char*>(lf) : end;
    const void* cr = std::memchr(p, '\r', static_cast<std::size_t>(stop - p));
    return cr ? static_cast<const char*>(cr) : stop;
}

const char* find_char(const char* p, const char* end, char c) {
    const void* hit = std::memchr(p, c, static_cast<std::size_t>(end - p));
    return hit ? static_cast<const char*>(hit) : end;
}

// A short, printable excerpt of what was found, for error messages.
std::string excerpt(std::string_view s, std::size_t max = 60) {
    std::size_t start = 0;
    while (start < s.size() && is_space(s[start])) ++start;
    std::string out;
    for (std::size_t i = start; i < s.size() && out.size() < max && !is_eol(s[i]); ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        out += (c >= 0x20 && c != 0x7F) ? static_cast<char>(c) : '?';
    }
    return out;
}

// One byte, quoted for a message: 'x', or \xNN when it is not printable. (Errors found while
// feeding quote only the offending byte, so that they read the same whatever the chunking.)
std::string quote_char(char c) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7F) return std::string("'") + c + "'";
    static constexpr char kHex[] = "0123456789ABCDEF";
    return std::string("\\x") + kHex[u >> 4] + kHex[u & 15];
}

enum class KeyKind : std::uint8_t { Other, InlineData, Data };

KeyKind classify_key(std::string_view key) {
    if (key == "data") return KeyKind::Data;
    if (key == "inlineData" || key == "inline_data") return KeyKind::InlineData;
    return KeyKind::Other;
}

// Limits and hints shared by every top-level value of one body.
struct Budget {
    std::size_t max_skeleton = 0;
    std::size_t skeleton_total = 0;   // across all values of the body
    std::size_t expected_body = 0;    // Content-Length hint, 0 = unknown
    std::size_t max_body = 0;
};

// Follows one JSON object or array through arbitrary chunk boundaries. It checks bracket
// nesting (to find the value's end) and leaves every other syntax check to nlohmann::json.
class JsonScanner {
public:
    JsonScanner(std::string& skeleton, detail::BlobTable& blobs, Budget& budget)
        : skel_(skeleton), blobs_(blobs), budget_(budget) {}

    // Starts a new top-level value; the next byte scanned must be its '{' or '['.
    void begin() {
        skel_.clear();
        stack_.clear();
        lex_ = Lex::Structure;
        in_key_ = false;
        done_ = false;
    }

    // Consumes bytes of the value starting at absolute body offset `at`; stops right after the
    // closing bracket. Returns the number of bytes consumed.
    std::size_t scan(const char* p, std::size_t n, std::size_t at) {
        const char* cur = p;
        const char* end = p + n;
        base_ = at;
        start_ = p;
        while (cur < end && !done_ && error_.empty()) {
            switch (lex_) {
                case Lex::Structure: cur = scan_structure(cur, end); break;
                case Lex::String: cur = scan_string(cur, end); break;
                case Lex::StringEscape: cur = scan_string_escape(cur); break;
                case Lex::Data: cur = scan_data(cur, end); break;
                case Lex::DataEscape: cur = scan_data_escape(cur); break;
            }
        }
        return static_cast<std::size_t>(cur - p);
    }

    bool done() const noexcept { return done_; }
    const std::string& error() const noexcept { return error_; }
    bool over_limit() const noexcept { return over_limit_; }

    // For "truncated" messages: where the body stopped.
    std::string where() const {
        switch (lex_) {
            case Lex::String:
            case Lex::StringEscape: return "inside a string";
            case Lex::Data:
            case Lex::DataEscape:
                return "inside inlineData.data of image #" + std::to_string(blobs_.size() - 1) + " (" +
                       std::to_string(blob_ ? blob_->size() : 0) + " bytes decoded)";
            case Lex::Structure: break;
        }
        if (stack_.empty()) return "before the value began";
        return stack_.back().object ? "inside an object" : "inside an array";
    }

private:
    enum class Lex : std::uint8_t { Structure, String, StringEscape, Data, DataEscape };
    struct Frame {
        bool object;
        bool expect_key;    // object: the next string is a member name
        bool inline_data;   // object: it is the value of an inlineData member
        KeyKind key;        // object: the current member name
    };

    std::size_t offset_of(const char* p) const { return base_ + static_cast<std::size_t>(p - start_); }

    void fail(std::string msg) { error_ = std::move(msg); }

    void append(const char* p, std::size_t n) {
        if (n == 0) return;
        budget_.skeleton_total += n;
        if (budget_.skeleton_total > budget_.max_skeleton) {
            over_limit_ = true;
            fail("reply JSON outside image data is over the limit max_skeleton_bytes = " +
                 std::to_string(budget_.max_skeleton) + " bytes (" +
                 std::to_string(budget_.skeleton_total) + " bytes so far)");
            return;
        }
        skel_.append(p, n);
    }
    void append(std::string_view s) { append(s.data(), s.size()); }

    const char* scan_structure(const char* cur, const char* end) {
        const char* run = cur;  // bytes copied to the skeleton as one span
        for (; cur < end; ++cur) {
            char c = *cur;
            switch (c) {
                case '{':
                case '[': {
                    if (stack_.size() >= kMaxDepth) {
                        fail("JSON nested deeper than " + std::to_string(kMaxDepth) + " levels");
                        return cur;
                    }
                    bool inline_data = !stack_.empty() && stack_.back().object &&
                                       stack_.back().key == KeyKind::InlineData;
                    stack_.push_back({c == '{', c == '{', c == '{' && inline_data, KeyKind::Other});
                    break;
                }
                case '}':
                case ']':
                    if (stack_.empty() || stack_.back().object != (c == '}')) {
                        append(run, static_cast<std::size_t>(cur - run));
                        fail(std::string("malformed JSON: unexpected '") + c + "' at byte " +
                             std::to_string(offset_of(cur)));
                        return cur;
                    }
                    stack_.pop_back();
                    if (stack_.empty()) {
                        append(run, static_cast<std::size_t>(cur + 1 - run));
                        done_ = true;
                        return cur + 1;
                    }
                    break;
                case ',':
                    if (!stack_.empty() && stack_.back().object) {
                        stack_.back().expect_key = true;
                        stack_.back().key = KeyKind::Other;
                    }
                    break;
                case '"': {
                    append(run, static_cast<std::size_t>(cur - run));
                    return open_string(cur);
                }
                default: break;
            }
        }
        append(run, static_cast<std::size_t>(cur - run));
        return cur;
    }

    const char* open_string(const char* quote) {
        Frame* top = stack_.empty() ? nullptr : &stack_.back();
        if (top && top->object && top->expect_key) {
            in_key_ = true;
            key_.clear();
        } else if (top && top->object && top->inline_data && top->key == KeyKind::Data) {
            begin_data(quote);
            return quote + 1;
        }
        append("\"");
        lex_ = Lex::String;
        return quote + 1;
    }

    const char* scan_string(const char* cur, const char* end) {
        const char* quote = find_char(cur, end, '"');
        const char* stop = find_char(cur, quote, '\\');
        append(cur, static_cast<std::size_t>(stop - cur));
        if (in_key_) note_key(cur, stop);
        if (stop == end) return end;
        if (*stop == '\\') {
            append("\\");
            lex_ = Lex::StringEscape;
            return stop + 1;
        }
        append("\"");
        lex_ = Lex::Structure;
        if (in_key_) {
            in_key_ = false;
            Frame& top = stack_.back();
            top.expect_key = false;
            top.key = key_.size() > kMaxKeyBytes ? KeyKind::Other : classify_key(key_);
        }
        return stop + 1;
    }

    // The character after a backslash is copied as is; nlohmann checks escapes later.
    const char* scan_string_escape(const char* cur) {
        append(cur, 1);
        if (in_key_) note_key(cur, cur + 1);
        lex_ = Lex::String;
        return cur + 1;
    }

    void note_key(const char* p, const char* e) {
        std::size_t room = kMaxKeyBytes + 1 > key_.size() ? kMaxKeyBytes + 1 - key_.size() : 0;
        std::size_t n = static_cast<std::size_t>(e - p);
        key_.append(p, n < room ? n : room);
    }

    void begin_data(const char* quote) {
        blob_ = std::make_shared<Blob>();
        blob_->reserve(image_reserve(offset_of(quote)));
        blobs_.push_back(blob_);
        b64_ = Base64Decoder{};
        lex_ = Lex::Data;
    }

    // Capacity for the image about to be decoded: 3/4 of what is left of the body when its size
    // is known, so the Blob is mapped once and never grows.
    std::size_t image_reserve(std::size_t at) const {
        std::size_t cap = budget_.max_body / 4 * 3;
        if (budget_.expected_body > at) {
            std::size_t want = (budget_.expected_body - at) / 4 * 3 + 4;
            return want < cap ? want : cap;
        }
        return kDefaultImageReserve;
    }

    const char* scan_data(const char* cur, const char* end) {
        const char* quote = find_char(cur, end, '"');
        while (cur < quote) {
            const char* bs = find_char(cur, quote, '\\');
            if (bs > cur && !decode(cur, static_cast<std::size_t>(bs - cur))) return bs;
            if (bs == quote) break;
            if (bs + 1 == end) {
                lex_ = Lex::DataEscape;
                return end;
            }
            if (!decode_escape(bs + 1)) return bs;
            cur = bs + 2;
        }
        if (quote == end) return end;
        finish_data();
        return quote + 1;
    }

    const char* scan_data_escape(const char* cur) {
        if (!decode_escape(cur)) return cur;
        lex_ = Lex::Data;
        return cur + 1;
    }

    bool decode(const char* p, std::size_t n) {
        if (b64_.feed(p, n, *blob_)) return true;
        // The decoded size (whole quanta before the bad one) does not depend on chunking.
        fail("invalid base64 in inlineData.data of image #" + std::to_string(blobs_.size() - 1) + " after " +
             std::to_string(blob_->size()) + " decoded bytes");
        return false;
    }

    // JSON may escape '/' as "\/"; no other escape can appear in base64.
    bool decode_escape(const char* c) {
        if (*c == '/') return decode("/", 1);
        fail(std::string("invalid escape '\\") + (static_cast<unsigned char>(*c) >= 0x20 ? *c : '?') +
             "' in inlineData.data of image #" + std::to_string(blobs_.size() - 1) + " at byte " +
             std::to_string(offset_of(c) - 1));
        return false;
    }

    void finish_data() {
        std::size_t index = blobs_.size() - 1;
        if (!b64_.finish(*blob_)) {
            fail("invalid base64 in inlineData.data of image #" + std::to_string(index) +
                 ": the data ends in the middle of a quantum");
            return;
        }
        blob_->shrink_to_fit();
        blob_.reset();
        append("\"#" + std::to_string(index) + "\"");
        lex_ = Lex::Structure;
    }

    std::string& skel_;
    detail::BlobTable& blobs_;
    Budget& budget_;

    std::vector<Frame> stack_;
    Lex lex_ = Lex::Structure;
    bool in_key_ = false;
    bool done_ = false;
    bool over_limit_ = false;
    std::string key_;
    std::string error_;
    std::shared_ptr<Blob> blob_;   // the image being decoded
    Base64Decoder b64_;
    std::size_t base_ = 0;         // body offset of start_
    const char* start_ = nullptr;  // first byte of the current scan() call
};

}  // namespace

struct ReplyDecoder::Impl {
    enum class Stage : std::uint8_t {
        Sniff,          // blank so far: the first other byte decides the framing
        JsonValue,      // the one top-level value
        JsonTrailer,    // after it: whitespace only
        ArrayOpen,      // after '[' or ',': an element (or, right after '[', the closing ']')
        ArrayElement,
        ArrayNext,      // after an element: ',' or ']'
        ArrayTrailer,
        SseLineStart,
        SseFieldName,
        SseValueStart,  // after "data:": one optional space
        SseData,        // the rest of a data line, fed to the event's JSON value
        SseSkipLine,    // comments, event:, id:, retry:, unknown fields
        SseBareJson,    // a JSON value written without "data:" (mid-stream errors)
        SseLineRest,    // after a bare value: only blanks up to the end of the line
        NotJson,
        Failed,
        Finished,
    };
    // The JSON value of the current SSE event (its data lines joined with '\n').
    enum class EventValue : std::uint8_t { None, Open, Complete };

    Impl(Framing f, DecodeLimits l) : framing(f), limits(l), scanner(skeleton, blobs, budget) {
        budget.max_skeleton = limits.max_skeleton_bytes;
        budget.max_body = limits.max_body_bytes;
    }

    Framing framing;
    DecodeLimits limits;
    Budget budget;
    std::string skeleton;
    detail::BlobTable blobs;
    JsonScanner scanner;
    detail::ReplyMerger merger;

    Stage stage = Stage::Sniff;
    std::string error;
    bool over_limit = false;
    std::size_t fed = 0;             // bytes fed so far
    std::size_t base = 0;            // body offset of the chunk being processed
    const char* chunk = nullptr;

    // Until the framing is certain, the first bytes are kept: they become the skeleton of a
    // non-JSON body (an HTML error page).
    bool confirmed = false;
    std::string head;

    bool skip_lf = false;            // a '\r' ended the last line; a following '\n' belongs to it
    bool array_first = true;
    std::string field;
    int data_lines = 0;              // data lines in the current SSE event
    EventValue event_value = EventValue::None;

    std::size_t offset_of(const char* p) const { return base + static_cast<std::size_t>(p - chunk); }

    void fail(std::string msg, bool limit = false) {
        if (stage == Stage::Failed) return;
        if (!confirmed && stage != Stage::NotJson) skeleton = std::move(head);  // show what came
        error = std::move(msg);
        over_limit = limit;
        stage = Stage::Failed;
    }

    // ---- feeding -----------------------------------------------------------------------------

    bool feed(const char* p, std::size_t n) {
        if (stage == Stage::Failed) return false;
        if (stage == Stage::Finished) {
            if (n) fail("data fed after finish()");
            return n == 0;
        }
        if (n > limits.max_body_bytes - fed) {
            fed += n;
            fail("reply body is over the limit max_body_bytes = " + std::to_string(limits.max_body_bytes) +
                     " bytes (" + std::to_string(fed) + " bytes received)",
                 true);
            return false;
        }
        if (stage == Stage::NotJson) {
            fed += n;
            return keep_non_json(p, n);
        }
        if (!confirmed) keep_head(p, n);
        base = fed;
        fed += n;
        chunk = p;
        try {
            run(p, p + n);
        } catch (const std::bad_alloc&) {
            fail("out of memory while decoding the reply (" + std::to_string(fed) + " bytes received)");
        }
        if (stage == Stage::NotJson) return skeleton.size() < kNonJsonKeep;
        return stage != Stage::Failed;
    }

    void keep_head(const char* p, std::size_t n) {
        std::size_t room = kNonJsonKeep - head.size();
        head.append(p, n < room ? n : room);
    }

    // Returns false once the first 64 KiB are kept: nothing more is needed from this body.
    bool keep_non_json(const char* p, std::size_t n) {
        std::size_t room = kNonJsonKeep - skeleton.size();
        skeleton.append(p, n < room ? n : room);
        describe_non_json();
        return skeleton.size() < kNonJsonKeep;
    }

    // The first line may still be arriving; the message quotes as much of it as it can.
    void describe_non_json() {
        error = "not JSON: starts with '" + excerpt(skeleton) + "'";
    }

    void confirm() {
        confirmed = true;
        std::string().swap(head);
    }

    // The body is not JSON (nor SSE): keep its first bytes verbatim and say how it starts. `head`
    // already holds the current chunk, so the caller stops reading it.
    void become_non_json() {
        skeleton = std::move(head);
        head.clear();
        error.clear();
        describe_non_json();
        stage = Stage::NotJson;
    }

    void run(const char* cur, const char* end) {
        while (cur < end) {
            if (skip_lf) {
                skip_lf = false;
                if (*cur == '\n') {
                    ++cur;
                    continue;
                }
            }
            switch (stage) {
                case Stage::Sniff: cur = sniff(cur, end); break;
                case Stage::JsonValue: cur = json_value(cur, end); break;
                case Stage::JsonTrailer:
                case Stage::ArrayTrailer: cur = trailer(cur, end); break;
                case Stage::ArrayOpen: cur = array_open(cur); break;
                case Stage::ArrayElement: cur = array_element(cur, end); break;
                case Stage::ArrayNext: cur = array_next(cur); break;
                case Stage::SseLineStart: cur = sse_line_start(cur); break;
                case Stage::SseFieldName: cur = sse_field_name(cur, end); break;
                case Stage::SseValueStart:
                    if (*cur == ' ') ++cur;
                    stage = Stage::SseData;
                    break;
                case Stage::SseData: cur = sse_data(cur, end); break;
                case Stage::SseSkipLine: cur = sse_skip_line(cur, end); break;
                case Stage::SseBareJson: cur = sse_bare_json(cur, end); break;
                case Stage::SseLineRest: cur = sse_line_rest(cur); break;
                case Stage::NotJson:
                case Stage::Failed:
                case Stage::Finished: return;
            }
        }
    }

    const char* sniff(const char* cur, const char* end) {
        // A UTF-8 byte order mark may precede the body.
        while (cur < end && (is_space(*cur) || is_bom_byte(cur))) ++cur;
        if (cur == end) return cur;
        char c = *cur;
        if (c == '{' || c == '[') {
            if (framing == Framing::Sse) {
                stage = Stage::SseLineStart;
                return cur;
            }
            confirm();
            if (c == '{') {
                start_value();
                stage = Stage::JsonValue;
                return cur;
            }
            stage = Stage::ArrayOpen;
            return cur + 1;
        }
        if (framing == Framing::Json) {
            become_non_json();
            return end;
        }
        stage = Stage::SseLineStart;   // tentatively; the first line must be SSE
        return cur;
    }

    // Only the three bytes EF BB BF at offset 0..2.
    bool is_bom_byte(const char* p) const {
        static constexpr unsigned char kBom[3] = {0xEF, 0xBB, 0xBF};
        std::size_t at = offset_of(p);
        return at < 3 && static_cast<unsigned char>(*p) == kBom[at];
    }

    void start_value() { scanner.begin(); }

    // Scans value bytes; when the value completes, merges it. Returns the next unread byte.
    const char* scan_value(const char* cur, const char* end, bool& complete) {
        std::size_t used = scanner.scan(cur, static_cast<std::size_t>(end - cur), offset_of(cur));
        complete = false;
        if (!scanner.error().empty()) {
            fail(scanner.error(), scanner.over_limit());
            return end;
        }
        if (scanner.done()) {
            complete = true;
            merge_value();
        }
        return cur + used;
    }

    void merge_value() {
        nlohmann::json value;
        try {
            value = nlohmann::json::parse(skeleton);
        } catch (const nlohmann::json::exception& e) {
            fail(std::string("malformed JSON: ") + e.what());
            return;
        }
        std::string err;
        if (!merger.merge(value, blobs, err)) fail(err);
        // Images now belong to the Reply; any left (other candidates) are dropped.
        for (auto& b : blobs) b.reset();
    }

    const char* json_value(const char* cur, const char* end) {
        bool complete;
        cur = scan_value(cur, end, complete);
        if (complete && stage != Stage::Failed) stage = Stage::JsonTrailer;
        return cur;
    }

    const char* trailer(const char* cur, const char* end) {
        while (cur < end && is_space(*cur)) ++cur;
        if (cur < end)
            fail("trailing data after the JSON value at byte " + std::to_string(offset_of(cur)) + ": " +
                 quote_char(*cur));
        return end;
    }

    // ---- JSON array of responses (streamGenerateContent without alt=sse) --------------------

    const char* array_open(const char* cur) {
        if (is_space(*cur)) return cur + 1;
        if (*cur == '{') {
            start_value();
            stage = Stage::ArrayElement;
            return cur;
        }
        if (*cur == ']' && array_first) {
            stage = Stage::ArrayTrailer;
            return cur + 1;
        }
        fail("malformed JSON array: expected an object at byte " + std::to_string(offset_of(cur)) +
             ", found " + quote_char(*cur));
        return cur;
    }

    const char* array_element(const char* cur, const char* end) {
        bool complete;
        cur = scan_value(cur, end, complete);
        if (complete && stage != Stage::Failed) stage = Stage::ArrayNext;
        return cur;
    }

    const char* array_next(const char* cur) {
        if (is_space(*cur)) return cur + 1;
        if (*cur == ',') {
            array_first = false;
            stage = Stage::ArrayOpen;
            return cur + 1;
        }
        if (*cur == ']') {
            stage = Stage::ArrayTrailer;
            return cur + 1;
        }
        fail("malformed JSON array: expected ',' or ']' at byte " + std::to_string(offset_of(cur)));
        return cur;
    }

    // ---- SSE ---------------------------------------------------------------------------------

    // Consumes a line terminator at cur.
    const char* end_line(const char* cur) {
        if (*cur == '\r') skip_lf = true;
        if (stage != Stage::Failed) stage = Stage::SseLineStart;
        return cur + 1;
    }

    const char* sse_line_start(const char* cur) {
        char c = *cur;
        if (is_eol(c)) {
            end_event();
            return end_line(cur);
        }
        if (c == '{' || c == '[') {
            if (event_value == EventValue::Open) {
                fail("SSE: a bare JSON line at byte " + std::to_string(offset_of(cur)) +
                     " interrupts an unfinished data event");
                return cur;
            }
            end_event();
            confirm();
            start_value();
            stage = Stage::SseBareJson;
            return cur;
        }
        if (c == ':') {
            confirm();
            stage = Stage::SseSkipLine;
            return cur + 1;
        }
        field.clear();
        stage = Stage::SseFieldName;
        return cur;
    }

    static bool is_field_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
               c == '_';
    }

    const char* sse_field_name(const char* cur, const char* end) {
        for (; cur < end; ++cur) {
            char c = *cur;
            if (c == ':' || is_eol(c)) {
                if (!field_name_done(c == ':')) return end;
                return is_eol(c) ? end_line(cur) : cur + 1;
            }
            if (!is_field_char(c) || field.size() >= kMaxFieldNameBytes) {
                if (!confirmed) {
                    become_non_json();
                    return end;
                }
                fail("SSE: unexpected line at byte " + std::to_string(offset_of(cur) - field.size()) +
                     ": starts with '" + excerpt(field) + "' then " + quote_char(c));
                return end;
            }
            field += c;
        }
        return cur;
    }

    // A field name ended, at a ':' or (value-less field) at the end of the line. Unknown fields are
    // ignored once the body is known to be SSE; on the first line they mean it is not SSE.
    bool field_name_done(bool colon) {
        bool known = field == "data" || field == "event" || field == "id" || field == "retry";
        if (!known && !confirmed) {
            become_non_json();
            return false;
        }
        confirm();
        if (field == "data") start_data_line();
        if (stage == Stage::Failed) return false;
        stage = !colon ? Stage::SseLineStart : field == "data" ? Stage::SseValueStart : Stage::SseSkipLine;
        return true;
    }

    // Data lines of one event are joined with '\n' into one JSON text.
    void start_data_line() {
        if (data_lines++ > 0) event_bytes("\n", 1);
    }

    const char* sse_data(const char* cur, const char* end) {
        const char* eol = find_eol(cur, end);
        if (eol > cur) event_bytes(cur, static_cast<std::size_t>(eol - cur));
        if (stage == Stage::Failed || eol == end) return end;
        return end_line(eol);
    }

    // Bytes of the current event's JSON value (after "data:").
    void event_bytes(const char* p, std::size_t n) {
        const char* end = p + n;
        while (p < end && stage != Stage::Failed) {
            if (event_value != EventValue::Open) {
                while (p < end && is_space(*p)) ++p;
                if (p == end) return;
                if (event_value == EventValue::Complete) {
                    fail("SSE: an event carries more than one JSON value (byte " +
                         std::to_string(offset_of(p)) + ")");
                    return;
                }
                if (*p != '{' && *p != '[') {
                    fail("SSE data is not JSON at byte " + std::to_string(offset_of(p)) + ": " +
                         quote_char(*p));
                    return;
                }
                start_value();
                event_value = EventValue::Open;
            }
            bool complete;
            p = scan_value(p, end, complete);
            if (complete) event_value = EventValue::Complete;
        }
    }

    // A blank line (or the end of the body) ends the event.
    void end_event() {
        if (event_value == EventValue::Open)
            fail("truncated JSON: an SSE event ended " + scanner.where());
        event_value = EventValue::None;
        data_lines = 0;
    }

    const char* sse_skip_line(const char* cur, const char* end) {
        const char* eol = find_eol(cur, end);
        return eol == end ? end : end_line(eol);
    }

    const char* sse_bare_json(const char* cur, const char* end) {
        bool complete;
        cur = scan_value(cur, end, complete);
        if (complete && stage != Stage::Failed) stage = Stage::SseLineRest;
        return cur;
    }

    const char* sse_line_rest(const char* cur) {
        if (is_eol(*cur)) return end_line(cur);
        if (*cur == ' ' || *cur == '\t') return cur + 1;
        fail("SSE: unexpected data after a JSON line at byte " + std::to_string(offset_of(cur)));
        return cur;
    }

    // ---- the end -----------------------------------------------------------------------------

    bool finish() {
        switch (stage) {
            case Stage::Finished: return true;
            case Stage::Failed: return false;
            case Stage::NotJson: stage = Stage::Failed; return false;
            case Stage::Sniff:
                fail(fed == 0 ? "empty body" : "empty body (only whitespace)");
                return false;
            case Stage::JsonValue:
                fail("truncated JSON: the body ended " + scanner.where());
                return false;
            case Stage::ArrayOpen:
            case Stage::ArrayElement:
            case Stage::ArrayNext:
                fail("truncated JSON array: the body ended " +
                     (stage == Stage::ArrayElement ? scanner.where() : std::string("between elements")));
                return false;
            case Stage::JsonTrailer:
            case Stage::ArrayTrailer: break;
            default: finish_sse(); break;
        }
        if (stage == Stage::Failed) return false;
        stage = Stage::Finished;
        return true;
    }

    void finish_sse() {
        // The body may end without a final newline or blank line.
        if (stage == Stage::SseFieldName && !field_name_done(false)) {
            stage = Stage::Failed;
            return;
        }
        if (stage == Stage::SseBareJson) {
            fail("truncated JSON: the body ended " + scanner.where());
            return;
        }
        if (stage == Stage::Failed) return;
        end_event();
        if (stage == Stage::Failed) return;
        if (merger.chunks() == 0) fail("SSE stream carried no JSON events");
    }
};

ReplyDecoder::ReplyDecoder(Framing framing, DecodeLimits limits)
    : impl_(std::make_unique<Impl>(framing, limits)) {}

ReplyDecoder::~ReplyDecoder() = default;

void ReplyDecoder::expect_body_size(std::size_t n) { impl_->budget.expected_body = n; }

bool ReplyDecoder::feed(const char* data, std::size_t n) { return impl_->feed(data, n); }

bool ReplyDecoder::finish() { return impl_->finish(); }

const std::string& ReplyDecoder::error() const noexcept { return impl_->error; }

bool ReplyDecoder::over_limit() const noexcept { return impl_->over_limit; }

std::size_t ReplyDecoder::bytes_fed() const noexcept { return impl_->fed; }

const std::string& ReplyDecoder::skeleton() const noexcept { return impl_->skeleton; }

Reply ReplyDecoder::take() { return impl_->merger.take(); }

bool decode_reply(std::string_view body, Reply& out, std::string& err, Framing framing) {
    ReplyDecoder dec(framing);
    dec.expect_body_size(body.size());
    bool ok = dec.feed(body) && dec.finish();
    err = dec.error();
    out = dec.take();
    return ok;
}

}  // namespace nbcore::api
