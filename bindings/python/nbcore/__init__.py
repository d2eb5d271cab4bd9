"""nbcore: dependable image generation with Google's Gemini image models.

    import nbcore
    client = nbcore.Client()                      # key from GOOGLE_API_KEY / GEMINI_API_KEY
    result = client.generate("a lighthouse at dawn, oil painting", aspect_ratio="16:9")
    result.images[0].save("lighthouse.png")

Failures raise a subclass of nbcore.NbcoreError whose .advice says what to do next. The engine
retries and waits as the server asks, validates every image (blank images are caught) and records
every attempt (result.attempts / error.attempts).
"""

from __future__ import annotations

import builtins
import json
import os
import warnings
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from . import _nbcore
from ._errors import *  # noqa: F401,F403  (the exception classes are part of the API)
from ._errors import __all__ as _error_names
from ._errors import DIMENSION_NAMES as _DIMENSIONS
from ._types import (Attempt, Diagnosis, Image, ImageCheck, JobProgress, Result, RetryPolicy, Route,
                     Usage)

__version__ = _nbcore.version()

DEFAULT_MODEL = "gemini-3-pro-image-preview"
MODELS = ("gemini-3-pro-image-preview", "gemini-2.5-flash-image")
ASPECT_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
IMAGE_SIZES = ("1K", "2K", "4K")

__all__ = ["Client", "Job", "JobProgress", "RetryPolicy", "Route", "Result", "Image", "Attempt", "Usage", "ImageCheck", "check_image",
           "Diagnosis", "diagnose",
           "state_usage", "DEFAULT_STATE",
           "DEFAULT_MODEL", "MODELS", "ASPECT_RATIOS", "IMAGE_SIZES", "__version__"] + list(_error_names)

ImageInput = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]", Any]
EventCallback = Callable[[Dict[str, Any]], None]


def _env_api_key() -> Optional[str]:
    google = (os.environ.get("GOOGLE_API_KEY") or "").strip()
    gemini = (os.environ.get("GEMINI_API_KEY") or "").strip()
    if google and gemini:
        warnings.warn("Both GOOGLE_API_KEY and GEMINI_API_KEY are set. Using GOOGLE_API_KEY.",
                      stacklevel=3)
    return google or gemini or None


def _seconds_to_ms(value: Optional[float], name: str) -> int:
    if value is None:
        return 0
    if value <= 0:
        raise InvalidArgumentError(f"{name} must be a positive number of seconds (got {value!r})",  # noqa: F405
                                   advice=f"Pass {name}=None for no limit, or a positive number of seconds.")
    return int(round(value * 1000))


def _image_bytes(item: ImageInput) -> Tuple[bytes, Optional[str]]:
    """Accepts encoded bytes, a file path, a PIL image or a numpy array (HxWxC uint8)."""
    if isinstance(item, (bytes, bytearray, memoryview)):
        return bytes(item), None
    if isinstance(item, (str, os.PathLike)):
        with open(item, "rb") as f:
            return f.read(), None
    mod = type(item).__module__
    if mod.startswith("PIL."):
        import io
        buf = io.BytesIO()
        item.save(buf, format="PNG")
        return buf.getvalue(), "image/png"
    if mod == "numpy":
        import io
        from PIL import Image as _PIL  # numpy input is converted through Pillow
        buf = io.BytesIO()
        _PIL.fromarray(item).save(buf, format="PNG")
        return buf.getvalue(), "image/png"
    raise InvalidArgumentError(  # noqa: F405
        f"unsupported image input of type {type(item).__name__}",
        advice="Pass encoded bytes, a file path, a PIL image or a numpy uint8 array.")


DEFAULT_STATE = ":default:"   # state_path: the default state file (NBCORE_STATE_FILE, XDG_STATE_HOME...)

_BUDGET_KEYS = ("daily", "monthly", "total")
_LIMIT_KEYS = ("rpm", "tpm", "ipm", "rpd")


def _quota_options(tier, budget, state_path, prices, max_in_flight) -> Dict[str, Any]:
    """Client(tier=..., budget=..., ...) as the fields of nbc_client_options."""
    q: Dict[str, Any] = {}
    if isinstance(tier, dict):
        unknown = set(tier) - set(_LIMIT_KEYS)
        if unknown:
            raise InvalidArgumentError(  # noqa: F405
                f"tier has unknown keys {sorted(unknown)}",
                advice='Use a tier name ("free", "tier1", "tier2", "tier3") or a dict with rpm, tpm, ipm, rpd.')
        for k in _LIMIT_KEYS:
            v = tier.get(k)
            if v is not None:
                if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                    raise InvalidArgumentError(  # noqa: F405
                        f"tier[{k!r}] is {v!r}", advice=f"Give {k} as a positive whole number, or leave it out to learn it.")
                q[k] = v
    elif tier is not None:
        if not isinstance(tier, str):
            raise InvalidArgumentError(  # noqa: F405
                f"tier is a {type(tier).__name__}", advice='Use "free", "tier1", "tier2", "tier3" or a dict of limits.')
        q["tier"] = tier
    if budget is not None:
        if not isinstance(budget, dict):
            raise InvalidArgumentError(  # noqa: F405
                f"budget is a {type(budget).__name__}", advice='Use a dict such as {"daily": 5.0, "monthly": 100.0}.')
        unknown = set(budget) - set(_BUDGET_KEYS)
        if unknown:
            raise InvalidArgumentError(  # noqa: F405
                f"budget has unknown keys {sorted(unknown)}", advice="Use daily, monthly and total (US dollars).")
        for k in _BUDGET_KEYS:
            v = budget.get(k)
            if v is not None:
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
                    raise InvalidArgumentError(  # noqa: F405
                        f"budget[{k!r}] is {v!r}", advice=f"Give the {k} cap as a positive amount in US dollars, or None for no cap.")
                q[k] = float(v)
    if state_path is not None:
        q["state_path"] = os.fspath(state_path)
    if prices is not None:
        q["prices_json"] = prices if isinstance(prices, str) else json.dumps(prices)
    if max_in_flight is not None:
        q["max_in_flight"] = int(max_in_flight)
    return q


def state_usage(state_path: Optional[str] = None) -> Dict[str, Any]:
    """Quota and spend from a state file (None: the default one), without a client."""
    return json.loads(_nbcore.state_usage(None if state_path is None else os.fspath(state_path), 1))


class Client:
    """A client for the Gemini image models.

    Args:
        api_key: the Gemini API key; default GOOGLE_API_KEY, then GEMINI_API_KEY (a warning is
            issued when both are set, as the official SDKs do).
        model: the default model for generate().
        base_url: another endpoint, e.g. the bundled emulator; default GOOGLE_GEMINI_BASE_URL,
            then https://generativelanguage.googleapis.com.
        retry: "interactive" (1 s base, 60 s cap, 5 attempts), "patient" (30 s base doubling to
            5 min, 5 attempts), "none", or a RetryPolicy.
        max_attempts: override the policy's number of attempts (including the first).
        deadline: default total seconds per request, across waits and attempts (None = none).
        attempt_timeout: seconds one attempt may take (None = chosen by image size).
        idle_timeout: longest silence in the middle of a reply body, seconds (None = 60 s).
        stream: use streamGenerateContent (server-sent events).
        on_event: called with a dict for each event: attempt_start, attempt_end,
            retry_scheduled, breaker, failover, downgrade, done.
        vertexai, project, location: use Vertex AI (as the official SDK: default from
            GOOGLE_GENAI_USE_VERTEXAI, GOOGLE_CLOUD_PROJECT, GOOGLE_CLOUD_LOCATION); the OAuth token
            comes from GOOGLE_CLOUD_ACCESS_TOKEN or `gcloud auth print-access-token`.
        routes: several endpoints in preference order (see Route); overrides base_url/vertexai.
        downgrade_on_timeout: a timeout at 4K retries at 2K, then 1K (recorded in attempts).
        retry_budget: bound retries to a share of requests (20% plus 1 per second) so a retry
            storm cannot burn the quota.
        tier: the project's quota tier, so requests wait for quota instead of provoking 429s:
            "free", "tier1", "tier2", "tier3", or your own numbers {"rpm": N, "tpm": N,
            "ipm": N, "rpd": N} (missing keys are learned). None: limits are learned from 429s.
        budget: spending caps in US dollars, {"daily": 5.0, "monthly": 100.0, "total": None};
            a request whose worst-case cost would cross one fails with BudgetError before it
            is sent. Alerts at 50/80/100% arrive as budget_alert events.
        state_path: where quota use, learned limits and spend are kept. None: in memory, this
            client only. A file path: shared by every process naming it and kept across runs;
            nbcore.DEFAULT_STATE for the default file (the one `nbcore usage` reads).
        prices: price overrides as a dict or JSON text (docs/quota-and-budget.md).
        max_in_flight: transfers at once for this client (more requests wait their turn).
    """

    def __init__(self, api_key: Optional[str] = None, model: str = DEFAULT_MODEL,
                 base_url: Optional[str] = None,
                 retry: Union[str, RetryPolicy] = "interactive",
                 max_attempts: Optional[int] = None, deadline: Optional[float] = None,
                 attempt_timeout: Optional[float] = None, idle_timeout: Optional[float] = None,
                 stream: bool = False, on_event: Optional[EventCallback] = None,
                 vertexai: Optional[bool] = None, project: Optional[str] = None,
                 location: Optional[str] = None, routes: Optional[Sequence[Route]] = None,
                 downgrade_on_timeout: bool = False, retry_budget: bool = True,
                 tier: Optional[Union[str, Dict[str, int]]] = None,
                 budget: Optional[Dict[str, Optional[float]]] = None,
                 state_path: Optional[Union[str, "os.PathLike[str]"]] = None,
                 prices: Optional[Union[str, Dict[str, Any]]] = None,
                 max_in_flight: Optional[int] = None):
        policy = retry if isinstance(retry, RetryPolicy) else RetryPolicy.preset(retry)
        if max_attempts is not None:
            policy = policy.replace(max_attempts=int(max_attempts))
        if api_key is None:
            api_key = _env_api_key()
        if routes is None and (vertexai or (vertexai is None and project)):
            project = project or os.environ.get("GOOGLE_CLOUD_PROJECT") or None
            routes = [Route("vertex", base_url=base_url, project=project,
                            location=location or os.environ.get("GOOGLE_CLOUD_LOCATION") or None,
                            token_env="GOOGLE_CLOUD_ACCESS_TOKEN" if project else None,
                            token_command="gcloud auth print-access-token" if project else None)]
        self._model = model
        self._client = _nbcore._Client(
            api_key=api_key, base_url=base_url, model=model, retry=policy._to_c(),
            deadline_ms=_seconds_to_ms(deadline, "deadline"),
            attempt_timeout_ms=_seconds_to_ms(attempt_timeout, "attempt_timeout"),
            idle_timeout_ms=_seconds_to_ms(idle_timeout, "idle_timeout"),
            stream=bool(stream), on_event=on_event,
            routes=[r._to_c() for r in (routes or [])],
            downgrade_on_timeout=bool(downgrade_on_timeout), retry_budget=bool(retry_budget),
            quota=_quota_options(tier, budget, state_path, prices, max_in_flight))

    def usage(self) -> Dict[str, Any]:
        """Quota used against limits (per key fingerprint and model, each dimension) and spend
        against caps, from this client's state: a dict (see docs/quota-and-budget.md)."""
        return json.loads(self._client.usage(1))

    def usage_text(self) -> str:
        """The same as a table for people (what `nbcore usage` prints)."""
        return self._client.usage(0)

    @property
    def model(self) -> str:
        return self._model

    def submit(self, prompt: str, images: Optional[Sequence[ImageInput]] = None, *,
               model: Optional[str] = None, aspect_ratio: Optional[str] = None,
               image_size: Optional[str] = None,
               safety: Optional[Union[Dict[str, str], Iterable[Tuple[str, str]]]] = None,
               seed: Optional[int] = None, temperature: Optional[float] = None,
               system_instruction: Optional[str] = None, deadline: Optional[float] = None,
               priority: int = 0) -> "Job":
        """Start a request and return a Job at once. Every request runs on nbcore's one I/O
        thread; argument errors are raised here."""
        inputs = [_image_bytes(i) for i in (images or [])]
        if isinstance(safety, dict):
            safety = list(safety.items())
        handle = self._client.submit(
            prompt=prompt, model=model, aspect_ratio=aspect_ratio, image_size=image_size,
            seed=seed, temperature=temperature, system_instruction=system_instruction,
            images=inputs, safety=list(safety or []),
            deadline_ms=_seconds_to_ms(deadline, "deadline"), priority=int(priority))
        return Job(handle)

    def generate(self, prompt: str, images: Optional[Sequence[ImageInput]] = None, **kwargs: Any) -> Result:
        """Generate (or edit, with input images) and return a Result; raises an NbcoreError
        subclass on failure. Blocks while waiting and retrying, with the GIL released; Ctrl-C
        cancels the request and raises KeyboardInterrupt. Takes the arguments of submit()."""
        job = self.submit(prompt, images, **kwargs)
        try:
            job.wait()
        except BaseException:
            job.cancel()
            raise
        return job.result()

    async def generate_async(self, prompt: str, images: Optional[Sequence[ImageInput]] = None,
                             **kwargs: Any) -> Result:
        """generate() for asyncio: the request runs on nbcore's I/O thread while the event loop
        goes on; cancelling the awaiting task cancels the request."""
        import asyncio

        job = self.submit(prompt, images, **kwargs)
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(None, job.result)
        except asyncio.CancelledError:
            job.cancel()
            raise


class Job:
    """A request in flight (from Client.submit). Thread-safe."""

    def __init__(self, handle: Any):
        self._h = handle

    @property
    def progress(self) -> JobProgress:
        """Where the request stands now: stage, attempt, wait left, text for people."""
        return JobProgress(**self._h.progress())

    @property
    def done(self) -> bool:
        return self._h.done()

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Wait up to `timeout` seconds (None: until done); events go to on_event meanwhile, on
        this thread. True when the request has finished."""
        return self._h.wait(timeout)

    def result(self, timeout: Optional[float] = None) -> Result:
        """Wait, then return the Result or raise the request's NbcoreError. Raises
        builtins.TimeoutError if it is not done within `timeout` seconds."""
        if not self._h.wait(timeout):
            raise builtins.TimeoutError(f"the request is still running after {timeout} s")
        return _result_from(self._h.result())

    def cancel(self) -> None:
        """Stop the request at once; it ends with CancelledError unless already finished."""
        self._h.cancel()

    def __repr__(self) -> str:
        p = self.progress
        return f"<nbcore.Job {p.stage} attempt {p.attempt}: {p.text}>"


def _result_from(raw: Dict[str, Any]) -> Result:
    return Result(
        images=[Image(**im) for im in raw["images"]],
        text=raw["text"],
        usage=Usage(**raw["usage"]),
        attempts=[Attempt.from_dict(a) for a in raw["attempts"]],
        route=raw["route"],
        model_version=raw["model_version"],
        image_size=raw["image_size"],
        cost_usd=raw["cost_usd"],
        batch=raw["batch"],
    )


def check_image(data: Union[bytes, bytearray, memoryview]) -> ImageCheck:
    """Decode and validate encoded image bytes: is it a valid image, and is it blank?"""
    d = _nbcore.check_image(bytes(data))
    return ImageCheck(ok=d["ok"], blank=d["blank"], width=d["width"], height=d["height"],
                      reason=d["reason"], code=d["code"], mime=d["mime"], channels=d["channels"])


def diagnose(status: int, body: Union[bytes, str], headers: Optional[Union[Dict[str, str], Iterable[Tuple[str, str]]]] = None) -> Diagnosis:
    """Classify an HTTP status and body obtained anywhere (a log, another SDK) the way the engine
    would, with advice. headers: a dict or (name, value) pairs; Retry-After and Content-Type are
    read."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    header_text = None
    if headers:
        items = headers.items() if isinstance(headers, dict) else headers
        header_text = "".join(f"{k}: {v}\n" for k, v in items)
    d = _nbcore.diagnose(int(status), bytes(body), header_text)
    ra = d["retry_after_ms"]
    dim = d["dimension"]
    return Diagnosis(code=d["name"], message=d["message"], advice=d["advice"], retryable=d["retryable"],
                     reason=d["reason"], http_status=d["http_status"] or None, api_status=d["api_status"],
                     dimension=_DIMENSIONS[dim] if 0 <= dim < len(_DIMENSIONS) else "UNKNOWN",
                     retry_after=None if ra is None else ra / 1000.0,
                     safety_layer=d["safety_layer"] or None)
