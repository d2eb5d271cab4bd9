// Named faults: each one reproduces a failure the real API (or the network in front of it) is
// known to produce, with the real body. One table row per fault; adding one is one line.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "answer.hpp"
#include "reply.hpp"
#include "request.hpp"
#include "routes.hpp"

namespace nbcore::emulator {

// What a fault may need from the request: its parameters (or a stand-in when it did not parse)
// and the images a normal answer would carry.
class AnswerSource {
public:
    virtual ~AnswerSource() = default;
    virtual const GenerateParams& params() = 0;
    // The answer's image(s); force_mime "" = the usual format for the model.
    virtual AnswerImages images(std::string_view force_mime) = 0;
    // A PNG of one flat colour at the answer's real size.
    virtual std::shared_ptr<const EncodedImage> blank_png() = 0;
};

struct FaultInput {
    const Route& route;
    AnswerContext ctx;
    std::string arg;                         // "3000" in "slow_first_byte:3000"
    std::optional<double> retry_seconds;     // the entry's retry_delay
    AnswerSource& source;
};

// What a fault's argument means.
enum class FaultArg { None, Seconds, Millis, Offset };

struct FaultSpec {
    std::string_view name;
    int status;                  // what the client sees; 0 = the normal answer, delivered oddly
    FaultArg arg;
    std::string_view summary;    // one line: the behaviour it reproduces
    // Builds the reply. Null for transport faults: those answer normally with `transport`'s
    // delivery modifiers.
    Reply (*build)(const FaultInput&);
    Modifiers (*transport)(std::string_view arg);
};

std::span<const FaultSpec> fault_table();
const FaultSpec* find_fault(std::string_view name);
bool is_quota_fault(std::string_view name);

// "" when `arg` suits the fault, else why not.
std::string check_fault_arg(const FaultSpec& spec, std::string_view arg);
// "0.5" -> fraction, "1024" -> bytes; nullopt when neither.
std::optional<BodyOffset> parse_offset(std::string_view text);

// The corruptions, exposed for tests.
std::string corrupt_base64_text(std::string base64);
std::string truncate_png_bytes(const std::string& png);   // cut inside the image data, before IEND
std::string corrupt_png_bytes(std::string png);           // overwrite IDAT bytes, CRC left stale

}  // namespace nbcore::emulator
