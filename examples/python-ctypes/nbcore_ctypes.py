"""nbcore from Python through ctypes alone: libnbcore.so.0's C ABI, declared by hand.

This module depends on nothing but the standard library. It mirrors the parts of
capi/include/nbcore/nbcore.h that the examples use: the option and record structs, the prototype
of every function called, and the error model (nbc_error_last: code, name, message, advice,
retry_after, attempts). The pybind11 package `nbcore` is the full Python API; this file shows how
any FFI reaches the same library.

    lib = nbcore_ctypes.load()                  # $NBCORE_LIBRARY, or libnbcore.so.0 on the loader path
    with nbcore_ctypes.Client(lib, model="gemini-2.5-flash-image") as client:
        result = client.generate("a lighthouse at dawn", image_size="1K")
    open("out.png", "wb").write(result.images[0].data)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from ctypes import (CFUNCTYPE, POINTER, Structure, byref, c_char_p, c_double, c_int, c_int32, c_int64, c_size_t,
                    c_uint8, c_uint32, c_void_p, sizeof)
from dataclasses import dataclass, field
from typing import Callable, List, Optional

__all__ = [
    "HEADER_VERSION", "NBC_OK", "Attempt", "Client", "Diagnosis", "Event", "Image",
    "NbcoreError", "Result", "diagnose", "load",
]

# The nbcore.h this module was written against (NBC_VERSION_NUMBER: major*10000 + minor*100 + patch).
HEADER_VERSION = 100

# ---- status codes (nbcore.h: NBC_OK, NBC_E_*; append-only, values never change) -----------------

NBC_OK = 0                 # the other codes (NBC_E_*) are named by nbc_status_name()
RETRY_PRESETS = {"interactive": 0, "patient": 1, "none": 2}  # NBC_RETRY_*

NBC_EVENT_ATTEMPT_START = 1
NBC_EVENT_ATTEMPT_END = 2
NBC_EVENT_RETRY_SCHEDULED = 3
NBC_EVENT_DONE = 4
NBC_EVENT_QUOTA_WAIT = 8

# ---- structs: field for field as in nbcore.h ------------------------------------------------------
# ctypes lays fields out with the platform C ABI's alignment rules, exactly as the C compiler does
# (tests/examples/layout.c checks every offset below against the header).


class CClientOptions(Structure):
    """nbc_client_options, up to and including max_in_flight.

    Newer headers append fields after max_in_flight. This struct may stop here because the
    library reads struct_size first: it takes sizeof(CClientOptions) as this caller's version of
    the struct and uses its defaults for every field beyond it. That is what struct_size is for.
    Never declare a field here that the header does not have, and never reorder.
    """
    _fields_ = [
        ("struct_size", c_uint32),
        ("flags", c_uint32),
        ("api_key", c_char_p),
        ("base_url", c_char_p),
        ("model", c_char_p),
        ("retry_preset", c_int32),
        ("max_attempts", c_int32),
        ("retry", c_void_p),               # const nbc_retry_policy * (not used here: NULL)
        ("deadline_ms", c_int64),
        ("attempt_timeout_ms", c_int64),
        ("idle_timeout_ms", c_int64),
        ("on_event", c_void_p),            # nbc_event_fn; set from a CEventFn below
        ("event_payload", c_void_p),
        ("routes", c_void_p),              # const nbc_route * (not used here: NULL)
        ("route_count", c_size_t),
        ("tier", c_char_p),
        ("rpm_limit", c_int64),
        ("tpm_limit", c_int64),
        ("ipm_limit", c_int64),
        ("rpd_limit", c_int64),
        ("budget_daily_usd", c_double),
        ("budget_monthly_usd", c_double),
        ("budget_total_usd", c_double),
        ("state_path", c_char_p),
        ("prices_json", c_char_p),
        ("max_in_flight", c_int32),
    ]


class CAttempt(Structure):
    """nbc_attempt: one attempt of a request."""
    _fields_ = [
        ("struct_size", c_uint32),
        ("number", c_int32),
        ("outcome", c_int32),
        ("http_status", c_int32),
        ("server_delay_ms", c_int64),
        ("chosen_delay_ms", c_int64),
        ("duration_ms", c_int64),
        ("route", c_char_p),
        ("reason", c_char_p),
        ("image_size", c_char_p),
        ("execution", c_int32),
    ]


class CEvent(Structure):
    """nbc_event: what the on_event callback receives."""
    _fields_ = [
        ("struct_size", c_uint32),
        ("kind", c_int32),
        ("attempt", c_int32),
        ("outcome", c_int32),
        ("http_status", c_int32),
        ("server_delay_ms", c_int64),
        ("delay_ms", c_int64),
        ("elapsed_ms", c_int64),
        ("reason", c_char_p),
        ("message", c_char_p),
        ("route", c_char_p),
        ("image_size", c_char_p),
        ("dimension", c_int32),
        ("percent", c_int32),
    ]


class CImageInfo(Structure):
    """nbc_image_info: one image of a result (the bytes live as long as the result)."""
    _fields_ = [
        ("struct_size", c_uint32),
        ("width", c_int32),
        ("height", c_int32),
        ("channels", c_int32),
        ("mime", c_char_p),
        ("data", POINTER(c_uint8)),
        ("size", c_size_t),
    ]


class CUsage(Structure):
    """nbc_usage: token counts from the reply's usageMetadata."""
    _fields_ = [
        ("struct_size", c_uint32),
        ("prompt_tokens", c_int64),
        ("candidates_tokens", c_int64),
        ("thoughts_tokens", c_int64),
        ("total_tokens", c_int64),
        ("image_output_tokens", c_int64),
    ]


# The C name of each struct, for the layout check.
STRUCTS = {
    "nbc_client_options": CClientOptions,
    "nbc_attempt": CAttempt,
    "nbc_event": CEvent,
    "nbc_image_info": CImageInfo,
    "nbc_usage": CUsage,
}

# typedef void (*nbc_event_fn)(const nbc_event *event, void *payload);
CEventFn = CFUNCTYPE(None, POINTER(CEvent), c_void_p)

# Opaque handles: nbc_client *, nbc_request *, nbc_result *, nbc_error *.
_handle = c_void_p

# name: (restype, argtypes). Every function this module calls, and nothing else.
_PROTOTYPES = {
    "nbc_version_number": (c_int, []),
    "nbc_version_string": (c_char_p, []),
    "nbc_status_name": (c_char_p, [c_int]),
    "nbc_error_last": (_handle, []),
    "nbc_error_code": (c_int, [_handle]),
    "nbc_error_message": (c_char_p, [_handle]),
    "nbc_error_advice": (c_char_p, [_handle]),
    "nbc_error_http_status": (c_int, [_handle]),
    "nbc_error_api_status": (c_char_p, [_handle]),
    "nbc_error_reason": (c_char_p, [_handle]),
    "nbc_error_retry_after_ms": (c_int64, [_handle]),
    "nbc_error_dimension": (c_int, [_handle]),
    "nbc_error_retryable": (c_int, [_handle]),
    "nbc_error_route": (c_char_p, [_handle]),
    "nbc_error_attempt_count": (c_int, [_handle]),
    "nbc_error_attempt": (c_int, [POINTER(CAttempt), _handle, c_int]),
    "nbc_diagnose": (c_int, [POINTER(_handle), c_int, c_char_p, c_size_t, c_char_p]),
    "nbc_error_free": (None, [_handle]),
    "nbc_client_options_init": (c_int, [POINTER(CClientOptions), c_size_t]),
    "nbc_client_new": (c_int, [POINTER(_handle), POINTER(CClientOptions)]),
    "nbc_client_free": (None, [_handle]),
    "nbc_request_new": (c_int, [POINTER(_handle), c_char_p]),
    "nbc_request_free": (None, [_handle]),
    "nbc_request_set_model": (c_int, [_handle, c_char_p]),
    "nbc_request_set_aspect_ratio": (c_int, [_handle, c_char_p]),
    "nbc_request_set_image_size": (c_int, [_handle, c_char_p]),
    "nbc_generate": (c_int, [POINTER(_handle), _handle, _handle]),
    "nbc_result_free": (None, [_handle]),
    "nbc_result_image_count": (c_int, [_handle]),
    "nbc_result_image": (c_int, [POINTER(CImageInfo), _handle, c_int]),
    "nbc_result_text": (c_char_p, [_handle]),
    "nbc_result_model_version": (c_char_p, [_handle]),
    "nbc_result_route": (c_char_p, [_handle]),
    "nbc_result_attempt_count": (c_int, [_handle]),
    "nbc_result_attempt": (c_int, [POINTER(CAttempt), _handle, c_int]),
    "nbc_result_usage": (c_int, [POINTER(CUsage), _handle]),
    "nbc_result_cost_usd": (c_double, [_handle]),
}


def _text(b: Optional[bytes]) -> str:
    return b.decode("utf-8", "replace") if b else ""


def _arg(s: Optional[str]) -> Optional[bytes]:
    return None if s is None else s.encode("utf-8")


# ---- loading ---------------------------------------------------------------------------------------


def load(path: Optional[str] = None) -> ctypes.CDLL:
    """Opens libnbcore and declares its prototypes.

    Where from, first match wins: `path`; $NBCORE_LIBRARY; ctypes.util.find_library("nbcore")
    (the ldconfig cache, LD_LIBRARY_PATH); else "libnbcore.so.0" for the dynamic loader to find.
    Raises OSError when it cannot be opened or its major version is not the one this module
    was written for.
    """
    path = path or os.environ.get("NBCORE_LIBRARY") or ctypes.util.find_library("nbcore") or "libnbcore.so.0"
    lib = ctypes.CDLL(path)
    for name, (restype, argtypes) in _PROTOTYPES.items():
        fn = getattr(lib, name)  # AttributeError names a symbol this library lacks
        fn.restype = restype
        fn.argtypes = argtypes
    have = lib.nbc_version_number()
    if have // 10000 != HEADER_VERSION // 10000 or have < HEADER_VERSION:
        raise OSError(f"{path} is nbcore {_text(lib.nbc_version_string())}; this module needs "
                      f"{HEADER_VERSION // 10000}.x, at least {HEADER_VERSION // 10000}.{HEADER_VERSION // 100 % 100}")
    return lib


# ---- records ---------------------------------------------------------------------------------------


@dataclass
class Attempt:
    """One attempt of a request (nbc_attempt)."""
    number: int
    code: int                 # NBC_OK or an NBC_E_* value
    outcome: str              # its name: "OK", "RATE_LIMITED", ...
    http_status: int          # 0 when no reply arrived
    server_delay: Optional[float]   # seconds the server asked to wait; None when it said nothing
    chosen_delay: float       # seconds waited before the next attempt
    duration: float           # seconds
    route: str
    reason: str
    image_size: str

    @classmethod
    def _from_c(cls, a: CAttempt) -> "Attempt":
        """Copies every field (strings included); `outcome` is named afterwards."""
        return cls(number=a.number, code=a.outcome, outcome="", http_status=a.http_status,
                   server_delay=None if a.server_delay_ms < 0 else a.server_delay_ms / 1000.0,
                   chosen_delay=a.chosen_delay_ms / 1000.0, duration=a.duration_ms / 1000.0,
                   route=_text(a.route), reason=_text(a.reason), image_size=_text(a.image_size))


@dataclass
class Event:
    """A progress event (nbc_event), copied out of the callback."""
    kind: int
    attempt: int
    outcome: str
    http_status: int
    delay: float              # RETRY_SCHEDULED / QUOTA_WAIT: seconds to wait
    elapsed: float
    reason: str
    message: str


@dataclass
class Image:
    mime: str
    width: int
    height: int
    channels: int
    data: bytes               # encoded, exactly as the server sent it (after validation)


@dataclass
class Result:
    images: List[Image]
    text: str
    model_version: str
    route: str
    attempts: List[Attempt]
    cost_usd: float
    total_tokens: int


@dataclass
class Diagnosis:
    """What nbc_diagnose (or a failed call) says about a reply: the class and what to do."""
    code: int
    name: str                 # "RATE_LIMITED", ...; "OK" for a good reply
    message: str
    advice: str
    http_status: int
    api_status: str           # "RESOURCE_EXHAUSTED" or ""
    reason: str               # quotaId, finishReason, ErrorInfo.reason ...
    retry_after: Optional[float]    # seconds; None when unknown
    retryable: bool
    route: str = ""
    attempts: List[Attempt] = field(default_factory=list)


class NbcoreError(Exception):
    """A failed nbcore call: the nbc_error_last() of the calling thread, copied out at once."""

    def __init__(self, d: Diagnosis):
        super().__init__(f"{d.name}: {d.message}")
        self.diagnosis = d
        self.code, self.name, self.message, self.advice = d.code, d.name, d.message, d.advice
        self.http_status, self.retry_after, self.attempts = d.http_status, d.retry_after, d.attempts


def _read_error(lib: ctypes.CDLL, e: Optional[int]) -> Diagnosis:
    """Reads an nbc_error (None: this thread's nbc_error_last()). The last error stays valid
    until the next nbcore call other than an nbc_error_* accessor, so everything is copied out
    with those accessors first, and only then are codes named with nbc_status_name()."""
    attempts = []
    for i in range(lib.nbc_error_attempt_count(e)):
        a = CAttempt(struct_size=sizeof(CAttempt))
        if lib.nbc_error_attempt(byref(a), e, i) == NBC_OK:
            attempts.append(Attempt._from_c(a))
    retry_ms = lib.nbc_error_retry_after_ms(e)
    d = Diagnosis(code=lib.nbc_error_code(e), name="", message=_text(lib.nbc_error_message(e)),
                  advice=_text(lib.nbc_error_advice(e)), http_status=lib.nbc_error_http_status(e),
                  api_status=_text(lib.nbc_error_api_status(e)), reason=_text(lib.nbc_error_reason(e)),
                  retry_after=None if retry_ms < 0 else retry_ms / 1000.0,
                  retryable=bool(lib.nbc_error_retryable(e)), route=_text(lib.nbc_error_route(e)),
                  attempts=attempts)
    d.name = _text(lib.nbc_status_name(d.code))
    for a in attempts:
        a.outcome = _text(lib.nbc_status_name(a.code))
    return d


def _check(lib: ctypes.CDLL, rc: int) -> None:
    if rc != NBC_OK:
        raise NbcoreError(_read_error(lib, None))


# ---- diagnose --------------------------------------------------------------------------------------


def diagnose(lib: ctypes.CDLL, http_status: int, body: bytes, headers: Optional[str] = None) -> Diagnosis:
    """Classifies an HTTP status and body obtained anywhere, exactly as nbc_generate would.
    headers: optional "Name: value" lines joined by "\\n" (Retry-After, Content-Type)."""
    out = _handle()
    _check(lib, lib.nbc_diagnose(byref(out), http_status, body, len(body), _arg(headers)))
    try:
        return _read_error(lib, out.value)
    finally:
        lib.nbc_error_free(out)


# ---- client ----------------------------------------------------------------------------------------


class Client:
    """An nbc_client: retries, waits and validation inside generate(). Close it (or use `with`).

    api_key None: GOOGLE_API_KEY, then GEMINI_API_KEY. base_url None: GOOGLE_GEMINI_BASE_URL,
    then the Gemini API. on_event, if given, is called with an Event on the thread that runs
    generate(), while it runs.
    """

    def __init__(self, lib: ctypes.CDLL, *, api_key: Optional[str] = None, base_url: Optional[str] = None,
                 model: Optional[str] = None, retry: str = "interactive", deadline: float = 0.0,
                 budget_daily_usd: float = 0.0, on_event: Optional[Callable[[Event], None]] = None):
        self._lib = lib
        self._handle = _handle()
        o = CClientOptions()
        _check(lib, lib.nbc_client_options_init(byref(o), sizeof(o)))
        # The struct holds pointers into these bytes objects: keep them alive until nbc_client_new
        # has copied what it needs.
        keep = [_arg(api_key), _arg(base_url), _arg(model)]
        o.api_key, o.base_url, o.model = keep
        o.retry_preset = RETRY_PRESETS[retry]
        o.deadline_ms = int(deadline * 1000)
        o.budget_daily_usd = budget_daily_usd
        self._callback = None
        if on_event is not None:
            self._callback = CEventFn(self._make_trampoline(lib, on_event))  # must outlive the client
            o.on_event = ctypes.cast(self._callback, c_void_p)
        _check(lib, lib.nbc_client_new(byref(self._handle), byref(o)))

    @staticmethod
    def _make_trampoline(lib: ctypes.CDLL, on_event: Callable[[Event], None]):
        def trampoline(ev_ptr, _payload):
            ev = ev_ptr.contents  # valid during the callback only: copy what is needed
            try:
                on_event(Event(kind=ev.kind, attempt=ev.attempt, outcome=_text(lib.nbc_status_name(ev.outcome)),
                               http_status=ev.http_status, delay=ev.delay_ms / 1000.0,
                               elapsed=ev.elapsed_ms / 1000.0, reason=_text(ev.reason), message=_text(ev.message)))
            except Exception:  # an exception cannot cross into C; report it and carry on
                import traceback
                traceback.print_exc()
        return trampoline

    def close(self) -> None:
        if self._handle:
            self._lib.nbc_client_free(self._handle)
            self._handle = _handle()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def generate(self, prompt: str, *, model: Optional[str] = None, image_size: Optional[str] = None,
                 aspect_ratio: Optional[str] = None) -> Result:
        """Blocks until an image is validated or the request fails for good (NbcoreError)."""
        lib = self._lib
        if not self._handle:
            raise ValueError("the client is closed")
        req, res = _handle(), _handle()
        _check(lib, lib.nbc_request_new(byref(req), prompt.encode("utf-8")))
        try:
            if model is not None:
                _check(lib, lib.nbc_request_set_model(req, _arg(model)))
            if image_size is not None:
                _check(lib, lib.nbc_request_set_image_size(req, _arg(image_size)))
            if aspect_ratio is not None:
                _check(lib, lib.nbc_request_set_aspect_ratio(req, _arg(aspect_ratio)))
            _check(lib, lib.nbc_generate(byref(res), self._handle, req))
            return self._read_result(res)
        finally:
            lib.nbc_result_free(res)
            lib.nbc_request_free(req)

    def _read_result(self, res: c_void_p) -> Result:
        lib = self._lib
        images = []
        for i in range(lib.nbc_result_image_count(res)):
            info = CImageInfo(struct_size=sizeof(CImageInfo))
            _check(lib, lib.nbc_result_image(byref(info), res, i))
            images.append(Image(mime=_text(info.mime), width=info.width, height=info.height,
                                channels=info.channels, data=ctypes.string_at(info.data, info.size)))
        attempts = []
        for i in range(lib.nbc_result_attempt_count(res)):
            a = CAttempt(struct_size=sizeof(CAttempt))
            _check(lib, lib.nbc_result_attempt(byref(a), res, i))
            attempts.append(Attempt._from_c(a))
            attempts[-1].outcome = _text(lib.nbc_status_name(a.outcome))
        usage = CUsage(struct_size=sizeof(CUsage))
        _check(lib, lib.nbc_result_usage(byref(usage), res))
        return Result(images=images, text=_text(lib.nbc_result_text(res)),
                      model_version=_text(lib.nbc_result_model_version(res)), route=_text(lib.nbc_result_route(res)),
                      attempts=attempts, cost_usd=lib.nbc_result_cost_usd(res), total_tokens=usage.total_tokens)
