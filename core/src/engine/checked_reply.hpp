// A reply's deliverable images, each checked once, and the Result built from them: shared by
// online jobs (job.cpp) and Batch API entries (batch/judge.cpp), so both judge images and fill
// results the same way.
#pragma once

#include <vector>

#include "nbcore/client.hpp"
#include "nbcore/image.hpp"
#include "nbcore/reply.hpp"

namespace nbcore::engine {

struct CheckedImages {
    std::vector<image::Check> checks;   // one per deliverable image, in order
    std::vector<image::Pixels> pixels;  // decoded pixels, when kept
    int failed = -1;                    // index of the first image that failed its check

    const image::Check* failed_check() const {
        return failed >= 0 ? &checks[static_cast<std::size_t>(failed)] : nullptr;
    }
};

// Decodes and checks every deliverable image of `reply` (CPU heavy: not on the I/O thread).
CheckedImages check_images(const Reply& reply, const image::Limits& limits, const image::BlankRules& rules,
                           bool keep_pixels);

// Moves the reply's images (with their checks and pixels), text, usage and ids into `res`.
void fill_result(Result& res, Reply& reply, CheckedImages& checked, bool keep_pixels);

}  // namespace nbcore::engine
