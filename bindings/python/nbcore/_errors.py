"""The nbcore exception hierarchy: one class per status code, shared with the C ABI (NBC_E_*).

Every exception carries what the engine knew when it gave up: the HTTP status, the API's status
string, the reason (quotaId, finishReason, blockReason...), the server's message, **advice** on
what to do next, how long the server asked us to wait, the quota dimension, the safety layer and
every attempt made.
"""

from __future__ import annotations

import builtins
from typing import Any, Dict, List, Optional

__all__ = [
    "NbcoreError", "RateLimitError", "QuotaExhaustedError", "ServerError", "BadGatewayError",
    "UnavailableError", "TimeoutError", "NetworkError", "AuthError", "LocationError",
    "ModelNotFoundError", "BadRequestError", "SafetyBlockedError", "BlockedSafetyError",
    "BlockedPolicyError", "NoImageError", "BlankImageError", "BadResponseError", "BudgetError",
    "DeadlineError", "CancelledError", "InvalidArgumentError", "InternalError",
    "STATUS_NAMES", "DIMENSION_NAMES", "error_from_info",
]

# Append only; the numbers are the C ABI's NBC_E_* values.
STATUS_NAMES = [
    "OK", "RATE_LIMITED", "QUOTA_EXHAUSTED", "SERVER_ERROR", "BAD_GATEWAY", "UNAVAILABLE",
    "TIMEOUT", "NETWORK", "AUTH", "LOCATION", "MODEL_NOT_FOUND", "BAD_REQUEST", "BLOCKED_SAFETY",
    "BLOCKED_POLICY", "NO_IMAGE", "BLANK_IMAGE", "BAD_RESPONSE", "BUDGET", "DEADLINE", "CANCELLED",
    "INVALID_ARG", "INTERNAL",
]
DIMENSION_NAMES = [None, "RPM", "TPM", "IPM", "RPD", "ZERO", "UNKNOWN"]


class NbcoreError(Exception):
    """Base class of every nbcore failure.

    Attributes: code (status name, e.g. "RATE_LIMITED"), http_status, api_status, reason,
    message, advice, retry_after (seconds or None), dimension ("RPM", "TPM", "IPM", "RPD",
    "ZERO", "UNKNOWN" or None), safety_layer (1, 2 or None), retryable, attempts (list of
    Attempt), route.
    """

    code = "INTERNAL"

    def __init__(self, message: str = "", *, advice: str = "", http_status: Optional[int] = None,
                 api_status: str = "", reason: str = "", retry_after: Optional[float] = None,
                 dimension: Optional[str] = None, safety_layer: Optional[int] = None,
                 retryable: bool = False, attempts: Optional[List[Any]] = None, route: str = ""):
        super().__init__(message)
        self.message = message
        self.advice = advice
        self.http_status = http_status
        self.api_status = api_status
        self.reason = reason
        self.retry_after = retry_after
        self.dimension = dimension
        self.safety_layer = safety_layer
        self.retryable = retryable
        self.attempts = list(attempts or [])
        self.route = route

    def __str__(self) -> str:
        text = f"{self.code}: {self.message}" if self.message else self.code
        if self.advice:
            text += f"\nAdvice: {self.advice}"
        return text

    def __reduce__(self):
        return (_rebuild, (type(self), self.message, self.__dict__))


def _rebuild(cls, message, state):
    obj = cls.__new__(cls)
    Exception.__init__(obj, message)
    obj.__dict__.update(state)
    return obj


class RateLimitError(NbcoreError):
    """429 per-minute quota (RPM, TPM or IPM). Waiting retry_after seconds and retrying works."""
    code = "RATE_LIMITED"


class QuotaExhaustedError(NbcoreError):
    """429 per-day quota, zero quota for this model and tier, or billing. It will not clear soon."""
    code = "QUOTA_EXHAUSTED"


class ServerError(NbcoreError):
    """500: the server failed. Base class of the other server-side failures."""
    code = "SERVER_ERROR"


class BadGatewayError(ServerError):
    """502 from a gateway in front of the model."""
    code = "BAD_GATEWAY"


class UnavailableError(ServerError):
    """503: the model is overloaded."""
    code = "UNAVAILABLE"


class TimeoutError(NbcoreError, builtins.TimeoutError):
    """504 DEADLINE_EXCEEDED or a client-side phase timeout."""
    code = "TIMEOUT"


class NetworkError(NbcoreError, ConnectionError):
    """DNS, connect, reset or TLS failure."""
    code = "NETWORK"


class AuthError(NbcoreError, PermissionError):
    """The API key or credentials were rejected (or missing)."""
    code = "AUTH"


class LocationError(NbcoreError):
    """The API is not available for this location or billing setup."""
    code = "LOCATION"


class ModelNotFoundError(NbcoreError):
    """The model id is unknown or retired."""
    code = "MODEL_NOT_FOUND"


class BadRequestError(NbcoreError, ValueError):
    """The server rejected the request as invalid (the message names the field)."""
    code = "BAD_REQUEST"


class SafetyBlockedError(NbcoreError):
    """Blocked by a safety filter. See BlockedSafetyError (layer 1) and BlockedPolicyError (layer 2)."""
    code = "BLOCKED_SAFETY"


class BlockedSafetyError(SafetyBlockedError):
    """Layer 1: a configurable safety category blocked the prompt or the answer."""
    code = "BLOCKED_SAFETY"


class BlockedPolicyError(SafetyBlockedError):
    """Layer 2: an output/policy filter that cannot be configured blocked the image."""
    code = "BLOCKED_POLICY"


class NoImageError(NbcoreError):
    """The reply contained no image (text-only answer, NO_IMAGE, IMAGE_OTHER, empty candidates)."""
    code = "NO_IMAGE"


class BlankImageError(NbcoreError):
    """The image decoded but is blank (uniform colour or fully transparent)."""
    code = "BLANK_IMAGE"


class BadResponseError(NbcoreError):
    """The reply was malformed, truncated, or carried a corrupt image."""
    code = "BAD_RESPONSE"


class BudgetError(NbcoreError):
    """A spending cap would be crossed; nothing was sent."""
    code = "BUDGET"


class DeadlineError(NbcoreError):
    """The request's total deadline ran out."""
    code = "DEADLINE"


class CancelledError(NbcoreError):
    """The request was cancelled."""
    code = "CANCELLED"


class InvalidArgumentError(NbcoreError, ValueError):
    """A wrong argument or an impossible combination of options."""
    code = "INVALID_ARG"


class InternalError(NbcoreError):
    """A bug in nbcore."""
    code = "INTERNAL"


_BY_NAME: Dict[str, type] = {
    "RATE_LIMITED": RateLimitError,
    "QUOTA_EXHAUSTED": QuotaExhaustedError,
    "SERVER_ERROR": ServerError,
    "BAD_GATEWAY": BadGatewayError,
    "UNAVAILABLE": UnavailableError,
    "TIMEOUT": TimeoutError,
    "NETWORK": NetworkError,
    "AUTH": AuthError,
    "LOCATION": LocationError,
    "MODEL_NOT_FOUND": ModelNotFoundError,
    "BAD_REQUEST": BadRequestError,
    "BLOCKED_SAFETY": BlockedSafetyError,
    "BLOCKED_POLICY": BlockedPolicyError,
    "NO_IMAGE": NoImageError,
    "BLANK_IMAGE": BlankImageError,
    "BAD_RESPONSE": BadResponseError,
    "BUDGET": BudgetError,
    "DEADLINE": DeadlineError,
    "CANCELLED": CancelledError,
    "INVALID_ARG": InvalidArgumentError,
    "INTERNAL": InternalError,
}


def error_class(name: str) -> type:
    """The exception class for a status name; unknown names map to NbcoreError."""
    return _BY_NAME.get(name, NbcoreError)


def error_from_info(info: Dict[str, Any]) -> NbcoreError:
    """Build the exception for one failure as reported by the C ABI (used by _nbcore)."""
    from ._types import Attempt  # local import: _types imports nothing from here

    name = info.get("name") or (STATUS_NAMES[info["code"]] if 0 <= info.get("code", -1) < len(STATUS_NAMES) else "INTERNAL")
    cls = error_class(name)
    retry_ms = info.get("retry_after_ms")
    dim = info.get("dimension") or 0
    layer = info.get("safety_layer") or 0
    err = cls(
        info.get("message", ""),
        advice=info.get("advice", ""),
        http_status=info.get("http_status") or None,
        api_status=info.get("api_status", ""),
        reason=info.get("reason", ""),
        retry_after=(retry_ms / 1000.0) if retry_ms is not None else None,
        dimension=DIMENSION_NAMES[dim] if 0 <= dim < len(DIMENSION_NAMES) else "UNKNOWN",
        safety_layer=layer or None,
        retryable=bool(info.get("retryable")),
        attempts=[Attempt.from_dict(a) for a in info.get("attempts", [])],
        route=info.get("route", ""),
    )
    if cls is NbcoreError:
        err.code = name
    return err
