// Package nbcore calls libnbcore.so.0 through its C ABI (nbcore.h) with cgo: image generation
// with Google's Gemini image models that retries, waits and validates on its own, and errors that
// say what to do.
//
//	client, err := nbcore.NewClient(nbcore.Options{Model: "gemini-2.5-flash-image"})
//	if err != nil { ... }
//	defer client.Close()
//	res, err := client.Generate(nbcore.Request{Prompt: "a lighthouse at dawn"})
//	var nerr *nbcore.Error
//	if errors.As(err, &nerr) { fmt.Println(nerr.Code, nerr.Advice) }
//	if errors.Is(err, nbcore.RateLimited) { ... }
//
// The library is found with pkg-config (nbcore.pc, installed by `cmake --install`).
package nbcore

/*
#cgo pkg-config: nbcore
#include <stdlib.h>
#include <nbcore/nbcore.h>

// events.c: forwards the library's callbacks to Go.
void nbcgo_set_event_handler(nbc_client_options *o, uintptr_t handle);
*/
import "C"

import (
	"fmt"
	"runtime"
	"runtime/cgo"
	"time"
	"unsafe"
)

// HeaderVersion is the NBC_VERSION_NUMBER of the nbcore.h this package was compiled against.
const HeaderVersion = int(C.NBC_VERSION_NUMBER)

// Version is the version of the libnbcore in use, e.g. "0.2.0".
func Version() string { return C.GoString(C.nbc_version_string()) }

// Code is an nbcore status: OK or one of the NBC_E_* classes. Like syscall.Errno it is also an
// error, so errors.Is(err, nbcore.RateLimited) asks whether err is an *Error of that class.
type Code int

// The status codes of nbcore.h (append-only; the values never change).
const (
	OK             Code = C.NBC_OK
	RateLimited    Code = C.NBC_E_RATE_LIMITED
	QuotaExhausted Code = C.NBC_E_QUOTA_EXHAUSTED
	ServerError    Code = C.NBC_E_SERVER_ERROR
	BadGateway     Code = C.NBC_E_BAD_GATEWAY
	Unavailable    Code = C.NBC_E_UNAVAILABLE
	Timeout        Code = C.NBC_E_TIMEOUT
	Network        Code = C.NBC_E_NETWORK
	Auth           Code = C.NBC_E_AUTH
	Location       Code = C.NBC_E_LOCATION
	ModelNotFound  Code = C.NBC_E_MODEL_NOT_FOUND
	BadRequest     Code = C.NBC_E_BAD_REQUEST
	BlockedSafety  Code = C.NBC_E_BLOCKED_SAFETY
	BlockedPolicy  Code = C.NBC_E_BLOCKED_POLICY
	NoImage        Code = C.NBC_E_NO_IMAGE
	BlankImage     Code = C.NBC_E_BLANK_IMAGE
	BadResponse    Code = C.NBC_E_BAD_RESPONSE
	Budget         Code = C.NBC_E_BUDGET
	Deadline       Code = C.NBC_E_DEADLINE
	Cancelled      Code = C.NBC_E_CANCELLED
	InvalidArg     Code = C.NBC_E_INVALID_ARG
	Internal       Code = C.NBC_E_INTERNAL
)

// String is the code's name as the library spells it: "RATE_LIMITED".
func (c Code) String() string { return C.GoString(C.nbc_status_name(C.int(c))) }

func (c Code) Error() string { return c.String() }

// Attempt is one attempt of a request: what came back and how long was waited.
type Attempt struct {
	Number      int
	Outcome     Code
	HTTPStatus  int           // 0 when no reply arrived
	ServerDelay time.Duration // what the server asked to wait; negative when it said nothing
	ChosenDelay time.Duration // what was waited before the next attempt
	Duration    time.Duration
	Route       string
	Reason      string
	ImageSize   string
}

// Error is a failed request or a diagnosed reply: the class, the server's message, and the
// advice a person can act on.
type Error struct {
	Code       Code
	Message    string
	Advice     string
	HTTPStatus int
	APIStatus  string        // "RESOURCE_EXHAUSTED" or ""
	Reason     string        // quotaId, finishReason, ErrorInfo.reason ...
	RetryAfter time.Duration // when retrying can work; negative when unknown
	Retryable  bool
	Route      string
	Attempts   []Attempt
}

func (e *Error) Error() string { return e.Code.String() + ": " + e.Message }

// Is reports whether target is e's Code, so that errors.Is(err, nbcore.Auth) works.
func (e *Error) Is(target error) bool {
	c, ok := target.(Code)
	return ok && c == e.Code
}

func millis(ms C.int64_t) time.Duration {
	if ms < 0 {
		return -1
	}
	return time.Duration(ms) * time.Millisecond
}

func attemptFromC(a *C.nbc_attempt) Attempt {
	return Attempt{
		Number:      int(a.number),
		Outcome:     Code(a.outcome),
		HTTPStatus:  int(a.http_status),
		ServerDelay: millis(a.server_delay_ms),
		ChosenDelay: millis(a.chosen_delay_ms),
		Duration:    millis(a.duration_ms),
		Route:       C.GoString(a.route),
		Reason:      C.GoString(a.reason),
		ImageSize:   C.GoString(a.image_size),
	}
}

// readError copies an nbc_error out (nil: the calling thread's nbc_error_last()). The last error
// is thread-local: call it on the OS thread that made the failing call (see locked).
func readError(e *C.nbc_error) *Error {
	err := &Error{
		Code:       Code(C.nbc_error_code(e)),
		Message:    C.GoString(C.nbc_error_message(e)),
		Advice:     C.GoString(C.nbc_error_advice(e)),
		HTTPStatus: int(C.nbc_error_http_status(e)),
		APIStatus:  C.GoString(C.nbc_error_api_status(e)),
		Reason:     C.GoString(C.nbc_error_reason(e)),
		RetryAfter: millis(C.nbc_error_retry_after_ms(e)),
		Retryable:  C.nbc_error_retryable(e) != 0,
		Route:      C.GoString(C.nbc_error_route(e)),
	}
	n := int(C.nbc_error_attempt_count(e))
	for i := 0; i < n; i++ {
		a := C.nbc_attempt{struct_size: C.sizeof_nbc_attempt}
		if C.nbc_error_attempt(&a, e, C.int(i)) == C.NBC_OK {
			err.Attempts = append(err.Attempts, attemptFromC(&a))
		}
	}
	return err
}

// locked runs call on one OS thread and, when it fails, reads nbc_error_last() on that same
// thread: a goroutine may otherwise move between threads from one cgo call to the next.
func locked(call func() C.int) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if call() != C.NBC_OK {
		return readError(nil)
	}
	return nil
}

// Diagnose classifies an HTTP status and body obtained anywhere (a log, another SDK) exactly as
// Generate would. headers is optional: "Name: value" lines joined by "\n" (Retry-After and
// Content-Type are read). The returned Error's Code is OK when the body is a good reply.
func Diagnose(httpStatus int, body []byte, headers string) (*Error, error) {
	var cheaders *C.char
	if headers != "" {
		cheaders = C.CString(headers)
		defer C.free(unsafe.Pointer(cheaders))
	}
	var cbody *C.char
	if len(body) > 0 {
		cbody = (*C.char)(unsafe.Pointer(&body[0])) // read during the call only
	}
	var d *C.nbc_error
	if err := locked(func() C.int {
		return C.nbc_diagnose(&d, C.int(httpStatus), cbody, C.size_t(len(body)), cheaders)
	}); err != nil {
		return nil, err
	}
	defer C.nbc_error_free(d)
	return readError(d), nil
}

// RetryPreset chooses how patiently a client retries (NBC_RETRY_*).
type RetryPreset int

const (
	RetryInteractive RetryPreset = C.NBC_RETRY_INTERACTIVE // 1 s base, 60 s cap, 5 attempts
	RetryPatient     RetryPreset = C.NBC_RETRY_PATIENT     // 30 s base doubling to 5 min
	RetryNone        RetryPreset = C.NBC_RETRY_NONE        // one attempt
)

// Event reports progress while Generate runs.
type Event struct {
	Kind        int // C.NBC_EVENT_*: EventAttemptStart ...
	Attempt     int
	Outcome     Code
	HTTPStatus  int
	ServerDelay time.Duration // negative when the server gave none
	Delay       time.Duration // EventRetryScheduled, EventQuotaWait: the wait chosen
	Elapsed     time.Duration
	Reason      string
	Message     string
}

// The kinds of Event used here (nbcore.h lists all of them).
const (
	EventAttemptStart   = int(C.NBC_EVENT_ATTEMPT_START)
	EventAttemptEnd     = int(C.NBC_EVENT_ATTEMPT_END)
	EventRetryScheduled = int(C.NBC_EVENT_RETRY_SCHEDULED)
	EventDone           = int(C.NBC_EVENT_DONE)
	EventQuotaWait      = int(C.NBC_EVENT_QUOTA_WAIT)
)

// Options configure a Client. Zero values mean the library's defaults.
type Options struct {
	APIKey         string // "": GOOGLE_API_KEY, then GEMINI_API_KEY
	BaseURL        string // "": GOOGLE_GEMINI_BASE_URL, then the Gemini API
	Model          string // "": gemini-3-pro-image-preview
	Retry          RetryPreset
	Deadline       time.Duration // per request; 0: none
	BudgetDailyUSD float64       // 0: no cap
	OnEvent        func(Event)   // called on the goroutine running Generate
}

// Client holds one nbc_client: its routes, breakers, quota and budget state. It is safe for
// concurrent use; Close it when done.
type Client struct {
	c       *C.nbc_client
	onEvent cgo.Handle // 0 when there is no OnEvent
}

// NewClient creates a client.
func NewClient(o Options) (*Client, error) {
	var opts C.nbc_client_options
	if err := locked(func() C.int { return C.nbc_client_options_init(&opts, C.sizeof_nbc_client_options) }); err != nil {
		return nil, err
	}
	for _, s := range []struct {
		dst **C.char
		val string
	}{{&opts.api_key, o.APIKey}, {&opts.base_url, o.BaseURL}, {&opts.model, o.Model}} {
		if s.val != "" {
			*s.dst = C.CString(s.val) // copied by nbc_client_new
			defer C.free(unsafe.Pointer(*s.dst))
		}
	}
	opts.retry_preset = C.int32_t(o.Retry)
	opts.deadline_ms = C.int64_t(o.Deadline / time.Millisecond)
	opts.budget_daily_usd = C.double(o.BudgetDailyUSD)
	client := &Client{}
	if o.OnEvent != nil {
		client.onEvent = cgo.NewHandle(o.OnEvent)
		C.nbcgo_set_event_handler(&opts, C.uintptr_t(client.onEvent))
	}
	if err := locked(func() C.int { return C.nbc_client_new(&client.c, &opts) }); err != nil {
		client.Close()
		return nil, err
	}
	return client, nil
}

// Close releases the client. It is safe to call more than once.
func (c *Client) Close() {
	C.nbc_client_free(c.c)
	c.c = nil
	if c.onEvent != 0 {
		c.onEvent.Delete()
		c.onEvent = 0
	}
}

// Request is one generation request. Empty fields mean the client's or the model's defaults.
type Request struct {
	Prompt      string
	Model       string
	ImageSize   string // "1K", "2K", "4K"
	AspectRatio string // "16:9", ...
}

// Image is one validated image, encoded as the server sent it.
type Image struct {
	MIME                    string
	Width, Height, Channels int
	Data                    []byte
}

// Result is what a successful Generate returns.
type Result struct {
	Images       []Image
	Text         string
	ModelVersion string
	Route        string
	Attempts     []Attempt
	CostUSD      float64
}

// Generate blocks until an image is validated or the request fails for good; the error is then
// an *Error.
func (c *Client) Generate(r Request) (*Result, error) {
	if c.c == nil {
		return nil, fmt.Errorf("nbcore: Generate on a closed Client")
	}
	cprompt := C.CString(r.Prompt)
	defer C.free(unsafe.Pointer(cprompt))
	var req *C.nbc_request
	if err := locked(func() C.int { return C.nbc_request_new(&req, cprompt) }); err != nil {
		return nil, err
	}
	defer C.nbc_request_free(req)
	setters := []struct {
		val string
		set func(*C.nbc_request, *C.char) C.int
	}{
		{r.Model, func(q *C.nbc_request, s *C.char) C.int { return C.nbc_request_set_model(q, s) }},
		{r.ImageSize, func(q *C.nbc_request, s *C.char) C.int { return C.nbc_request_set_image_size(q, s) }},
		{r.AspectRatio, func(q *C.nbc_request, s *C.char) C.int { return C.nbc_request_set_aspect_ratio(q, s) }},
	}
	for _, s := range setters {
		if s.val == "" {
			continue
		}
		cs := C.CString(s.val)
		err := locked(func() C.int { return s.set(req, cs) })
		C.free(unsafe.Pointer(cs))
		if err != nil {
			return nil, err
		}
	}
	var res *C.nbc_result
	if err := locked(func() C.int { return C.nbc_generate(&res, c.c, req) }); err != nil {
		return nil, err
	}
	defer C.nbc_result_free(res)
	return readResult(res)
}

func readResult(res *C.nbc_result) (*Result, error) {
	out := &Result{
		Text:         C.GoString(C.nbc_result_text(res)),
		ModelVersion: C.GoString(C.nbc_result_model_version(res)),
		Route:        C.GoString(C.nbc_result_route(res)),
		CostUSD:      float64(C.nbc_result_cost_usd(res)),
	}
	for i := 0; i < int(C.nbc_result_image_count(res)); i++ {
		info := C.nbc_image_info{struct_size: C.sizeof_nbc_image_info}
		if err := locked(func() C.int { return C.nbc_result_image(&info, res, C.int(i)) }); err != nil {
			return nil, err
		}
		out.Images = append(out.Images, Image{
			MIME:     C.GoString(info.mime),
			Width:    int(info.width),
			Height:   int(info.height),
			Channels: int(info.channels),
			Data:     C.GoBytes(unsafe.Pointer(info.data), C.int(info.size)),
		})
	}
	for i := 0; i < int(C.nbc_result_attempt_count(res)); i++ {
		a := C.nbc_attempt{struct_size: C.sizeof_nbc_attempt}
		if err := locked(func() C.int { return C.nbc_result_attempt(&a, res, C.int(i)) }); err != nil {
			return nil, err
		}
		out.Attempts = append(out.Attempts, attemptFromC(&a))
	}
	return out, nil
}
