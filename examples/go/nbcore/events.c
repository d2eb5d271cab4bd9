/* The C side of Options.OnEvent. A Go function cannot be an nbc_event_fn itself: this one is, and
 * it passes each event to the exported nbcgoEvent with the cgo.Handle of the Go callback, which
 * travels through event_payload as an integer (a Go pointer may not be kept by C). */
#include <stdint.h>

#include <nbcore/nbcore.h>

#include "_cgo_export.h"

static void nbcgo_on_event(const nbc_event *ev, void *payload) {
    nbcgoEvent((nbc_event *)ev, (uintptr_t)payload);
}

void nbcgo_set_event_handler(nbc_client_options *o, uintptr_t handle) {
    o->on_event = nbcgo_on_event;
    o->event_payload = (void *)handle;
}
