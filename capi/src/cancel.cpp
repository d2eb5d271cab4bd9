// Cancellation tokens: nbc_cancel_* over nbcore::CancelToken, for the blocking calls that take one
// (nbc_scene_run, nbc_inpaint).
#include <memory>

#include "guard.hpp"
#include "handles.hpp"

using nbcapi::guard;
using nbcapi::require;

extern "C" {

NBC_API(int) nbc_cancel_new(nbc_cancel** out) {
    if (out) *out = nullptr;
    return guard([&] {
        require(out, "out");
        *out = std::make_unique<nbc_cancel>().release();
    });
}

// Runs the token's registered stops (each call using it cancels its request) on this thread.
NBC_API(int) nbc_cancel_trigger(nbc_cancel* cancel) {
    return guard([&] { require(cancel, "cancel")->token.cancel(); });
}

NBC_API(int) nbc_cancel_is_triggered(const nbc_cancel* cancel) {
    return cancel && cancel->token.cancelled() ? 1 : 0;
}

NBC_API(void) nbc_cancel_free(nbc_cancel* cancel) { delete cancel; }

}  // extern "C"
