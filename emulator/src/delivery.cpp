#include "delivery.hpp"

#include <algorithm>
#include <numeric>
#include <set>

namespace nbcore::emulator {

std::vector<Step> plan_delivery(const std::vector<std::size_t>& segments, const Modifiers& mods) {
    const std::size_t total = std::accumulate(segments.begin(), segments.end(), std::size_t{0});

    // Where sending stops, and how.
    std::size_t limit = total;
    Step::Kind ending = Step::Kind::Write;   // Write = a normal, complete end
    if (mods.reset.value_or(false)) {
        BodyOffset at = mods.reset_at.value_or(BodyOffset::bytes(0));
        if (!at.before_headers()) {
            limit = at.resolve(total);
            ending = Step::Kind::Reset;
        }
    }
    if (mods.truncate_at) {
        std::size_t at = mods.truncate_at->resolve(total);
        if (at < limit || (ending == Step::Kind::Write && at <= limit)) {
            limit = at;
            ending = Step::Kind::Close;
        }
    }

    const bool stall = mods.stall_ms && *mods.stall_ms > 0;
    const std::size_t stall_at = stall ? mods.stall_at.value_or(BodyOffset::part(0.5)).resolve(total) : 0;
    const std::size_t piece = mods.trickle_bytes && *mods.trickle_bytes > 0 ? static_cast<std::size_t>(*mods.trickle_bytes) : 0;
    const int pause = mods.trickle_ms.value_or(0);

    std::set<std::size_t> cuts = {limit};
    std::size_t boundary = 0;
    for (std::size_t s : segments) {
        boundary += s;
        if (boundary < limit) cuts.insert(boundary);
    }
    if (stall && stall_at < limit) cuts.insert(stall_at);

    std::vector<Step> steps;
    std::size_t pos = 0;
    bool stalled = false;
    auto stall_here = [&] {
        if (stall && !stalled && stall_at == pos) {
            steps.push_back({Step::Kind::Sleep, 0, 0, *mods.stall_ms});
            stalled = true;
        }
    };
    for (std::size_t cut : cuts) {
        stall_here();
        while (pos < cut) {
            std::size_t n = piece ? std::min(piece, cut - pos) : cut - pos;
            steps.push_back({Step::Kind::Write, pos, pos + n, 0});
            pos += n;
            if (piece && pause > 0 && pos < limit) steps.push_back({Step::Kind::Sleep, 0, 0, pause});
        }
    }
    stall_here();
    if (ending != Step::Kind::Write) steps.push_back({ending, 0, 0, 0});
    return steps;
}

}  // namespace nbcore::emulator
