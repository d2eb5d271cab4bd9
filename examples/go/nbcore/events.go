package nbcore

/*
#include <stdint.h>
#include <nbcore/nbcore.h>
*/
import "C"

import "runtime/cgo"

// nbcgoEvent receives every nbc_event of a client with an OnEvent (through nbcgo_on_event in
// events.c, on the thread running the request) and hands a copy to the Go function.
//
//export nbcgoEvent
func nbcgoEvent(ev *C.nbc_event, handle C.uintptr_t) {
	fn := cgo.Handle(handle).Value().(func(Event))
	fn(Event{ // the strings are valid during the callback only: copy them
		Kind:        int(ev.kind),
		Attempt:     int(ev.attempt),
		Outcome:     Code(ev.outcome),
		HTTPStatus:  int(ev.http_status),
		ServerDelay: millis(ev.server_delay_ms),
		Delay:       millis(ev.delay_ms),
		Elapsed:     millis(ev.elapsed_ms),
		Reason:      C.GoString(ev.reason),
		Message:     C.GoString(ev.message),
	})
}
