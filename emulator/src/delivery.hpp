// How a body goes out: which byte ranges are written, where the pauses fall, how it ends.
// plan_delivery() is pure; the server only executes the steps.
#pragma once

#include <cstddef>
#include <vector>

#include "reply.hpp"

namespace nbcore::emulator {

struct Step {
    enum class Kind {
        Write,   // bytes [begin, end) of the body
        Sleep,   // ms of silence
        Reset,   // abort the connection with a TCP RST
        Close,   // close the connection (FIN) without sending the rest
    };
    Kind kind = Kind::Write;
    std::size_t begin = 0;
    std::size_t end = 0;
    int ms = 0;

    bool operator==(const Step&) const = default;
};

// `segments` are the sizes of the body's pieces (each piece gets its own write, so SSE events
// arrive one by one). A reset "before headers" is the caller's business and is not planned here.
std::vector<Step> plan_delivery(const std::vector<std::size_t>& segments, const Modifiers& mods);

}  // namespace nbcore::emulator
