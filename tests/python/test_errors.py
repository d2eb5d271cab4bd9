"""Every exception class of nbcore, raised by the emulator fault (or client-side condition) that
produces it: one data-driven table, one parametrized test."""

from __future__ import annotations

import time

import pytest

import nbcore
from conftest import KEY

# class, what the emulator is scripted to answer, Client keyword arguments, generate keyword
# arguments, and what else the error must say. Client-side classes (BUDGET, DEADLINE, CANCELLED,
# INVALID_ARG) are provoked by the client's own settings against the same emulator.
CASES = [
    (nbcore.RateLimitError, [{"fault": "rpm_429", "retry_delay": "7s"}], {"retry": "none"}, {},
     {"http_status": 429, "api_status": "RESOURCE_EXHAUSTED", "dimension": "RPM", "retryable": True}),
    (nbcore.QuotaExhaustedError, ["rpd_429"], {"retry": "none"}, {},
     {"http_status": 429, "dimension": "RPD", "retryable": False}),
    (nbcore.ServerError, ["500"], {"retry": "none"}, {}, {"http_status": 500, "api_status": "INTERNAL"}),
    (nbcore.BadGatewayError, ["502_html"], {"retry": "none"}, {}, {"http_status": 502}),
    (nbcore.UnavailableError, ["503_overloaded"], {"retry": "none"}, {},
     {"http_status": 503, "api_status": "UNAVAILABLE"}),
    (nbcore.TimeoutError, ["504"], {"retry": "none"}, {}, {"http_status": 504}),
    (nbcore.NetworkError, ["reset_connection"], {"retry": "none"}, {}, {"http_status": None}),
    (nbcore.AuthError, ["invalid_key"], {"retry": "none"}, {}, {"http_status": 400, "reason": "API_KEY_INVALID"}),
    (nbcore.LocationError, ["location"], {"retry": "none"}, {}, {"http_status": 400}),
    (nbcore.ModelNotFoundError, ["model_not_found"], {"retry": "none"}, {}, {"http_status": 404}),
    (nbcore.BadRequestError, ["bad_field"], {"retry": "none"}, {}, {"http_status": 400}),
    (nbcore.BlockedSafetyError, ["prompt_blocked_safety"], {"retry": "none"}, {}, {"safety_layer": 1}),
    (nbcore.BlockedPolicyError, ["image_safety"], {"retry": "none"}, {},
     {"safety_layer": 2, "reason": "IMAGE_SAFETY"}),
    (nbcore.NoImageError, ["no_image"], {"retry": "none"}, {}, {"reason": "NO_IMAGE"}),
    (nbcore.BlankImageError, ["blank_image"], {"retry": "none"}, {}, {}),
    (nbcore.BadResponseError, ["malformed_json"], {"retry": "none"}, {}, {}),
    (nbcore.BudgetError, [], {"budget": {"total": 0.01}}, {}, {}),
    (nbcore.DeadlineError, ["slow_first_byte:3000"], {}, {"deadline": 0.5}, {}),
    (nbcore.CancelledError, [{"pass": True, "delay_ms": 10000}], {}, {"cancel_after": 0.3}, {}),
    (nbcore.InvalidArgumentError, [], {}, {"aspect_ratio": "16:10"}, {}),
]

# The classes no test can provoke on purpose: the bases, and INTERNAL (a bug in nbcore).
NOT_PROVOKED = {nbcore.NbcoreError, nbcore.SafetyBlockedError, nbcore.InternalError}


def _provoke(client, kwargs):
    kwargs = dict(kwargs)
    cancel_after = kwargs.pop("cancel_after", None)
    if cancel_after is None:
        return client.generate("a lighthouse at dawn", **kwargs)
    job = client.submit("a lighthouse at dawn", **kwargs)
    time.sleep(cancel_after)
    job.cancel()
    return job.result(timeout=2.0)


@pytest.mark.parametrize("cls, script, client_kwargs, call_kwargs, expect", CASES,
                         ids=[c[0].__name__ for c in CASES])
def test_each_class_is_raised_by_its_fault(client_env, cls, script, client_kwargs, call_kwargs, expect):
    client_env.script(script)
    client = nbcore.Client(**client_kwargs)
    with pytest.raises(nbcore.NbcoreError) as info:
        _provoke(client, call_kwargs)
    err = info.value
    assert type(err) is cls, f"{type(err).__name__}: {err}"
    assert err.code == cls.code
    assert err.message and err.advice, "every error carries a message and advice"
    for name, want in expect.items():
        assert getattr(err, name) == want, f"{name}: {getattr(err, name)!r} != {want!r}"
    for name in ("code", "http_status", "api_status", "reason", "message", "advice", "retry_after",
                 "dimension", "safety_layer", "attempts"):
        assert hasattr(err, name)
    if script:   # the request reached the emulator: every attempt is recorded on the error
        assert err.attempts and err.attempts[-1].outcome in (cls.code, "CANCELLED", "DEADLINE")
    assert KEY not in str(err) + repr(err.__dict__)


def test_the_table_covers_every_exception_class():
    classes = {getattr(nbcore, n) for n in nbcore.__all__
               if isinstance(getattr(nbcore, n), type) and issubclass(getattr(nbcore, n), nbcore.NbcoreError)}
    covered = {c[0] for c in CASES}
    assert classes - NOT_PROVOKED == covered


def test_second_bases_of_the_issue():
    assert issubclass(nbcore.TimeoutError, TimeoutError)
    assert issubclass(nbcore.NetworkError, ConnectionError)
    assert issubclass(nbcore.AuthError, PermissionError)
    assert issubclass(nbcore.BadRequestError, ValueError)
    assert issubclass(nbcore.BadGatewayError, nbcore.ServerError)
    assert issubclass(nbcore.UnavailableError, nbcore.ServerError)
    assert issubclass(nbcore.BlockedSafetyError, nbcore.SafetyBlockedError)
    assert issubclass(nbcore.BlockedPolicyError, nbcore.SafetyBlockedError)
    assert nbcore.TimeoutError is not TimeoutError
