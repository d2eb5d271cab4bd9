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
import datetime
import json
import os
import struct
import warnings
import zlib
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from . import _nbcore
from ._errors import *  # noqa: F401,F403  (the exception classes are part of the API)
from ._errors import __all__ as _error_names
from ._errors import DIMENSION_NAMES as _DIMENSIONS
from ._types import (ELEMENT_MODES, Attempt, Diagnosis, Element, Image, ImageCheck, InpaintLayer, JobProgress,
                     PromptReport, Result, RetryPolicy, Route, SceneResult, SceneStage, SimplifyReport,
                     SimplifyStep, Usage, _Composite)

Pixels = _nbcore.Pixels

__version__ = _nbcore.version()

DEFAULT_MODEL = "gemini-3-pro-image-preview"
MODELS = ("gemini-3-pro-image-preview", "gemini-2.5-flash-image")
ASPECT_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
IMAGE_SIZES = ("1K", "2K", "4K")
PREFLIGHT_MODES = ("off", "warn", "strict")

__all__ = ["Client", "Job", "JobProgress", "RetryPolicy", "Route", "Result", "Image", "Pixels", "Attempt", "Usage", "ImageCheck", "check_image",
           "InpaintLayer",
           "Diagnosis", "diagnose", "PromptReport", "analyze_prompt", "SimplifyReport", "SimplifyStep",
           "PREFLIGHT_MODES",
           "Element", "SceneStage", "SceneResult",
           "state_usage", "DEFAULT_STATE",
           "DEFAULT_MODEL", "MODELS", "ASPECT_RATIOS", "IMAGE_SIZES", "__version__"] + [
               n for n in _error_names if n not in ("DIMENSION_NAMES", "error_from_info")]

ImageInput = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]", Any]
"""An input image: encoded bytes, a file path, a PIL image, a numpy uint8 array or nbcore.Pixels."""
Images = Union[ImageInput, Sequence[ImageInput]]
Seconds = Union[float, int, datetime.timedelta]
Safety = Union[Dict[str, str], Iterable[Tuple[str, str]]]
EventCallback = Callable[[Dict[str, Any]], None]


def _env_api_key() -> Optional[str]:
    google = (os.environ.get("GOOGLE_API_KEY") or "").strip()
    gemini = (os.environ.get("GEMINI_API_KEY") or "").strip()
    if google and gemini:
        warnings.warn("GOOGLE_API_KEY and GEMINI_API_KEY are both set; nbcore uses GOOGLE_API_KEY "
                      "(as the official Gemini SDKs do). Unset one of them to silence this warning.",
                      UserWarning, stacklevel=3)
    return google or gemini or None


def _seconds_to_ms(value: Optional[Seconds], name: str) -> int:
    if value is None:
        return 0
    if isinstance(value, datetime.timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArgumentError(f"{name} must be a number of seconds or a timedelta (got {value!r})",  # noqa: F405
                                   advice=f"Pass {name} as seconds, e.g. {name}=120, or None for no limit.")
    if value <= 0:
        raise InvalidArgumentError(f"{name} must be a positive number of seconds (got {value!r})",  # noqa: F405
                                   advice=f"Pass {name}=None for no limit, or a positive number of seconds.")
    return int(round(value * 1000))


def _png(raw: bytes, width: int, height: int, channels: int) -> bytes:
    """Encodes 8-bit pixels (rows top to bottom, `channels` 1, 2, 3 or 4) as a PNG."""
    colour = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    stride = width * channels
    rows = b"".join(b"\x00" + raw[y * stride:(y + 1) * stride] for y in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 6)) + chunk(b"IEND", b""))


def _array_png(arr: Any) -> bytes:
    """A numpy uint8 array (H, W), (H, W, 1), (H, W, 2), (H, W, 3) or (H, W, 4) as a PNG."""
    import numpy

    a = numpy.asarray(arr)
    if a.dtype != numpy.uint8:
        raise InvalidArgumentError(  # noqa: F405
            f"image array has dtype {a.dtype}, not uint8",
            advice="Convert it first, e.g. (arr * 255).clip(0, 255).astype(numpy.uint8) for floats in 0..1.")
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 2, 3, 4) or a.shape[0] < 1 or a.shape[1] < 1:
        raise InvalidArgumentError(  # noqa: F405
            f"image array has shape {a.shape}",
            advice="Pass (height, width) grey, or (height, width, 3) RGB, or (height, width, 4) RGBA.")
    a = numpy.ascontiguousarray(a)
    return _png(a.tobytes(), a.shape[1], a.shape[0], a.shape[2])


def _image_bytes(item: ImageInput) -> Tuple[bytes, Optional[str]]:
    """Accepts encoded bytes, a file path, a PIL image, a numpy uint8 array (H x W, or H x W x 3/4)
    or nbcore.Pixels; arrays and pixels are sent as PNG (encoded here, Pillow not needed)."""
    if isinstance(item, (bytes, bytearray, memoryview)):
        return bytes(item), None
    if isinstance(item, (str, os.PathLike)):
        with open(item, "rb") as f:
            return f.read(), None
    if isinstance(item, _nbcore.Pixels):
        return _png(item.tobytes(), item.width, item.height, item.channels), "image/png"
    mod = type(item).__module__
    if mod.startswith("PIL."):
        import io
        buf = io.BytesIO()
        item.save(buf, format="PNG")
        return buf.getvalue(), "image/png"
    if mod == "numpy" or hasattr(item, "__array_interface__"):
        return _array_png(item), "image/png"
    raise InvalidArgumentError(  # noqa: F405
        f"unsupported image input of type {type(item).__name__}",
        advice="Pass encoded bytes, a file path, a PIL image or a numpy uint8 array.")


def _image_list(images: Optional[Images]) -> List[Tuple[bytes, Optional[str]]]:
    """images= may be one image or a sequence of them."""
    if images is None:
        return []
    single = (isinstance(images, (bytes, bytearray, memoryview, str, os.PathLike, _nbcore.Pixels))
              or type(images).__module__.startswith("PIL.")
              or type(images).__module__ == "numpy" or hasattr(images, "__array_interface__"))
    return [_image_bytes(images)] if single else [_image_bytes(i) for i in images]


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


_RETRY_NAMES = ("interactive", "patient", "none")


class Client:
    """A client for the Gemini image models: sends, waits, retries, validates and keeps quota.

        client = nbcore.Client()                     # key from GOOGLE_API_KEY / GEMINI_API_KEY
        result = client.generate("a lighthouse at dawn", aspect_ratio="16:9", image_size="2K")
        result.images[0].save("lighthouse.png")

    Every failure raises a subclass of nbcore.NbcoreError with .advice. A Client is thread-safe:
    share one per process; its requests run on nbcore's one I/O thread.

    Args:
        api_key: the Gemini API key. Default: GOOGLE_API_KEY, then GEMINI_API_KEY, as the
            official SDKs read them (a UserWarning says so when both are set).
        model: the default model: "gemini-3-pro-image-preview" (Nano Banana Pro) or
            "gemini-2.5-flash-image" (Nano Banana).
        vertexai: True for Vertex AI, False for the Gemini Developer API. None: as the official
            SDKs, Vertex AI when GOOGLE_GENAI_USE_VERTEXAI is "true" or "1" -- or when you pass
            a project or location here.
        project, location: the Vertex AI project and location (default GOOGLE_CLOUD_PROJECT,
            GOOGLE_CLOUD_LOCATION, then "global"). With a project the OAuth token comes from
            GOOGLE_CLOUD_ACCESS_TOKEN, else `gcloud auth print-access-token`; without one,
            Vertex AI express mode uses the API key.
        base_url: another endpoint, such as the bundled emulator (`nbcore emulator`). Default:
            GOOGLE_GEMINI_BASE_URL (GOOGLE_VERTEX_BASE_URL on Vertex AI), then Google's.
        retry: "interactive" (1 s base, 60 s cap, 5 attempts), "patient" (30 s base doubling to
            5 min, 5 attempts), "none" (one attempt), or a RetryPolicy.
        tier: the project's quota tier, so requests wait for quota instead of provoking 429s:
            "free", "tier1", "tier2", "tier3", or your own limits {"rpm": N, "tpm": N,
            "ipm": N, "rpd": N} (missing keys are learned). None: limits are learned from 429s.
        budget: spending caps in US dollars, {"daily": 5.0, "monthly": 100.0, "total": None};
            a request whose worst-case cost would cross one fails with BudgetError before it is
            sent. Alerts at 50/80/100% arrive as "budget_alert" events.
        state_path: where quota use, learned limits and spend are kept. None: in memory, this
            client only. A path: shared by every process naming it and kept across runs;
            nbcore.DEFAULT_STATE is the default file (the one `nbcore usage` reads), or
            $NBCORE_STATE when set. A "redis://[user:password@]host:port/db" URL: shared by
            every worker on every machine naming it (docs/scaling.md); "rediss://" for TLS,
            with ?cacert=/path/ca.pem and &cert=...&key=... as needed (always verified).
        on_event: called with a dict per event ("kind": attempt_start, attempt_end,
            retry_scheduled, breaker, failover, downgrade, quota_wait, quota_warning,
            budget_alert, prompt_warning, state, done). It runs on the thread waiting for the request, with the GIL
            held; an exception it raises cancels the request and is raised by that wait.

    Keyword-only extras:
        state: the same as state_path, by its shorter name: Client(state="redis://host:6379/0").
        state_fallback_share: with a redis:// state, the share of each limit and cap this worker
            may use from local buckets while Redis cannot be reached, in (0, 1]: 1/N for N workers
            keeps them within the whole (docs/scaling.md). None: NBCORE_STATE_FALLBACK_SHARE when
            set, else 0.25; a value here wins over that variable. Outside (0, 1]:
            InvalidArgumentError (a ValueError). Ignored for a state file.
        max_attempts: override the retry policy's number of attempts (including the first).
        deadline: default total seconds per request, across waits and attempts (None: none).
        attempt_timeout: seconds one attempt may take (None: chosen by image size).
        idle_timeout: longest silence inside a reply body, in seconds (None: 60 s).
        stream: use streamGenerateContent (server-sent events).
        routes: several endpoints in preference order (see Route); replaces vertexai, project,
            location and base_url.
        downgrade_on_timeout: a timeout at 4K retries at 2K, then 1K (recorded in attempts).
        retry_budget: bound retries to a share of requests (20% plus 1 per second), so a retry
            storm cannot burn the quota (default True).
        prices: price overrides as a dict or JSON text (docs/quota-and-budget.md).
        max_in_flight: transfers at once for this client (more requests wait their turn).
        preflight: read each prompt before sending it (docs/prompt-analysis.md): "off" (default),
            "warn" (a "prompt_warning" event for a medium- or high-risk prompt, sent anyway) or
            "strict" (also refuses a high-risk prompt unsent: InvalidArgumentError, reason
            PROMPT_TOO_COMPLEX).
    """

    def __init__(self, api_key: Optional[str] = None, model: str = DEFAULT_MODEL,
                 vertexai: Optional[bool] = None, project: Optional[str] = None,
                 location: Optional[str] = None, base_url: Optional[str] = None,
                 retry: Union[str, RetryPolicy] = "interactive",
                 tier: Optional[Union[str, Dict[str, int]]] = None,
                 budget: Optional[Dict[str, Optional[float]]] = None,
                 state_path: Optional[Union[str, "os.PathLike[str]"]] = None,
                 on_event: Optional[EventCallback] = None, *,
                 max_attempts: Optional[int] = None, deadline: Optional[Seconds] = None,
                 attempt_timeout: Optional[Seconds] = None, idle_timeout: Optional[Seconds] = None,
                 stream: bool = False, routes: Optional[Sequence[Route]] = None,
                 downgrade_on_timeout: bool = False, retry_budget: bool = True,
                 prices: Optional[Union[str, Dict[str, Any]]] = None,
                 max_in_flight: Optional[int] = None, preflight: str = "off",
                 state: Optional[Union[str, "os.PathLike[str]"]] = None,
                 state_fallback_share: Optional[float] = None) -> None:
        if state is not None:
            if state_path is not None:
                raise InvalidArgumentError("both state and state_path were given",  # noqa: F405
                                           advice="Give one of them: state is another name for state_path.")
            state_path = state
        if isinstance(retry, RetryPolicy):
            policy = retry
        elif isinstance(retry, str) and retry in _RETRY_NAMES:
            policy = RetryPolicy.preset(retry)
        else:
            raise InvalidArgumentError(  # noqa: F405
                f"retry={retry!r} is neither a preset nor a RetryPolicy",
                advice='Use retry="interactive", "patient", "none" or nbcore.RetryPolicy(...).')
        if max_attempts is not None:
            policy = policy.replace(max_attempts=int(max_attempts))
        if on_event is not None and not callable(on_event):
            raise InvalidArgumentError(  # noqa: F405
                f"on_event is a {type(on_event).__name__}, not a callable",
                advice="Pass a function taking one dict, e.g. on_event=print.")
        if routes is not None and (vertexai is not None or project or location):
            raise InvalidArgumentError(  # noqa: F405
                "routes= was given together with vertexai/project/location",
                advice="Describe each endpoint in its Route (Route('vertex', project=..., location=...)), "
                       "or leave routes out.")
        if vertexai is False and (project or location):
            raise InvalidArgumentError(  # noqa: F405
                "project and location are Vertex AI settings, but vertexai=False",
                advice="Pass vertexai=True (or leave it None) to use Vertex AI, or drop project and location.")
        if vertexai is None:
            backend = _nbcore.BACKEND_VERTEX if (project or location) else _nbcore.BACKEND_ENV
        else:
            backend = _nbcore.BACKEND_VERTEX if vertexai else _nbcore.BACKEND_AI_STUDIO
        if preflight not in PREFLIGHT_MODES:
            raise InvalidArgumentError(  # noqa: F405
                f"preflight={preflight!r} is not a pre-flight mode",
                advice='Use preflight="off", "warn" (a prompt_warning event for risky prompts) or "strict" '
                       "(also refuses high-risk prompts unsent).")
        if api_key is None:
            api_key = _env_api_key()
        self._model = model
        quota = _quota_options(tier, budget, state_path, prices, max_in_flight)
        quota["preflight"] = PREFLIGHT_MODES.index(preflight)
        if state_fallback_share is not None:
            # The range is checked once, by the C layer; only the type here.
            if isinstance(state_fallback_share, bool) or not isinstance(state_fallback_share, (int, float)):
                raise InvalidArgumentError(  # noqa: F405
                    f"state_fallback_share is a {type(state_fallback_share).__name__}",
                    advice="Give a number in (0, 1], e.g. 0.25 for four workers, or None for the default.")
            if state_fallback_share == 0:
                raise InvalidArgumentError(  # noqa: F405
                    "state_fallback_share is 0",
                    advice="Give a share in (0, 1], e.g. 0.25 for four workers, or None for "
                           "NBCORE_STATE_FALLBACK_SHARE (else 0.25).")
            quota["state_fallback_share"] = float(state_fallback_share)
        self._client = _nbcore._Client(
            api_key=api_key, base_url=base_url, model=model, retry=policy._to_c(),
            deadline_ms=_seconds_to_ms(deadline, "deadline"),
            attempt_timeout_ms=_seconds_to_ms(attempt_timeout, "attempt_timeout"),
            idle_timeout_ms=_seconds_to_ms(idle_timeout, "idle_timeout"),
            stream=bool(stream), on_event=on_event,
            routes=[r._to_c() for r in (routes or [])],
            downgrade_on_timeout=bool(downgrade_on_timeout), retry_budget=bool(retry_budget),
            quota=quota, backend=backend, project=project, location=location)

    def usage(self) -> Dict[str, Any]:
        """Quota used against its limits (per key fingerprint and model, each of RPM, TPM, IPM,
        RPD) and spend against each cap, from this client's state, as a dict (the layout is in
        docs/quota-and-budget.md)."""
        return json.loads(self._client.usage(1))

    def simplify(self, prompt: str, max_requests: int = 8, max_cost: float = 1.0, *,
                 model: Optional[str] = None, aspect_ratio: Optional[str] = None,
                 image_size: Optional[str] = None, deadline: Optional[Seconds] = None) -> SimplifyReport:
        """After a prompt came back blank or without an image: find which of its requirements make
        it fail. The core subject is kept, the rest are added back in prompt order, and a binary
        search finds the minimal failing set, one generation per step, within max_requests steps
        and max_cost US dollars of worst-case spend. Returns a SimplifyReport with every step; the
        search's own end (a spent budget, another failure) is in .stopped, not raised.
        deadline applies to each step."""
        d = json.loads(self._client.simplify(
            prompt, int(max_requests), float(max_cost), model, aspect_ratio, image_size,
            _seconds_to_ms(deadline, "deadline")))
        reqs = d["analysis"]["requirements"]
        steps = [SimplifyStep(number=s["number"], purpose=s["purpose"], prompt=s["prompt"], works=s["works"],
                              outcome=s["outcome"], reason=s["reason"], cost_usd=s["cost_usd"],
                              requirements=list(s["requirements"])) for s in d["steps"]]
        return SimplifyReport(found=d["found"], minimal_failing=[reqs[i]["text"] for i in d["minimal_failing"]],
                              minimal_failing_prompt=d["minimal_failing_prompt"],
                              largest_working_prompt=d["largest_working_prompt"],
                              rounds_to_find=d["rounds_to_find"], stopped=d["stopped"], cost_usd=d["cost_usd"],
                              steps=steps, plan=d["plan"], analysis=d["analysis"])

    def usage_text(self) -> str:
        """usage() as a table for people (what `nbcore usage` prints)."""
        return self._client.usage(0)

    @property
    def model(self) -> str:
        """The default model of this client."""
        return self._model

    def __repr__(self) -> str:
        return f"<nbcore.Client model={self._model!r}>"

    def submit(self, prompt: str, images: Optional[Images] = None, aspect_ratio: Optional[str] = None,
               image_size: Optional[str] = None, safety: Optional[Safety] = None,
               seed: Optional[int] = None, deadline: Optional[Seconds] = None, *,
               model: Optional[str] = None, temperature: Optional[float] = None,
               system_instruction: Optional[str] = None, priority: int = 0) -> "Job":
        """Start a request and return a Job at once; the request runs on nbcore's I/O thread.
        Takes the arguments of generate() plus priority (higher goes first when requests queue).
        Argument errors (InvalidArgumentError) are raised here, before anything is sent."""
        inputs = _image_list(images)
        if isinstance(safety, dict):
            safety = list(safety.items())
        handle = self._client.submit(
            prompt=prompt, model=model, aspect_ratio=aspect_ratio, image_size=image_size,
            seed=seed, temperature=temperature, system_instruction=system_instruction,
            images=inputs, safety=list(safety or []),
            deadline_ms=_seconds_to_ms(deadline, "deadline"), priority=int(priority))
        return Job(handle)

    def generate(self, prompt: str, images: Optional[Images] = None, aspect_ratio: Optional[str] = None,
                 image_size: Optional[str] = None, safety: Optional[Safety] = None,
                 seed: Optional[int] = None, deadline: Optional[Seconds] = None, *,
                 model: Optional[str] = None, temperature: Optional[float] = None,
                 system_instruction: Optional[str] = None) -> Result:
        """Generate an image (or edit the input images) and return a Result.

        Args:
            prompt: what to draw, or how to change the input images.
            images: input images to edit or draw from: one or a list of encoded bytes, file
                paths, PIL images or numpy uint8 arrays (H x W x 3 or 4).
            aspect_ratio: "1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9".
            image_size: "1K", "2K" or "4K" (Nano Banana Pro only).
            safety: safety thresholds, {"HARM_CATEGORY_DANGEROUS_CONTENT": "BLOCK_ONLY_HIGH", ...}.
            seed: a seed for more repeatable answers.
            deadline: total seconds (or a timedelta) for this request, waits included.
            model, temperature, system_instruction: keyword-only overrides.

        Blocks while waiting and retrying, with the GIL released; Ctrl-C cancels the request and
        raises KeyboardInterrupt. Raises a subclass of NbcoreError on failure.
        """
        job = self.submit(prompt, images, aspect_ratio, image_size, safety, seed, deadline,
                          model=model, temperature=temperature, system_instruction=system_instruction)
        try:
            job.wait()
        except BaseException:
            job.cancel()
            raise
        return job.result()

    def scene(self, background: Optional[str] = None,
              elements: Optional[Sequence[Union[Element, Dict[str, Any]]]] = None, *,
              style: Optional[str] = None, aspect_ratio: Optional[str] = None,
              image_size: Optional[str] = None, model: Optional[str] = None,
              plan: Optional[str] = None, plan_mode: str = "edit",
              resume: Optional[SceneResult] = None, grow: Optional[int] = None,
              feather: Optional[int] = None, colour_match: bool = True, seed: Optional[int] = None,
              stage_deadline: Optional[Seconds] = None) -> SceneResult:
        """Build a picture in stages: the background, then one request per element, each checked
        and retried on its own (docs/scenes-and-inpainting.md).

            r = client.scene("a quiet beach at sunset", [
                {"prompt": "a red umbrella", "box": (0.1, 0.5, 0.3, 0.4)},
                nbcore.Element("a seagull", (0.6, 0.1, 0.2, 0.2), z=1, mode="cutout")])
            if r.complete:
                r.image.save("beach.png")
            else:
                print(r.failed_stage, r.error)       # later: client.scene(..., resume=r)

        Args:
            background: what the background stage draws (not with plan=).
            elements: Elements, or dicts {"prompt", "box": (x, y, w, h) normalized 0..1, "z",
                "mode": "edit" | "cutout"}.
            style: appended to every stage's prompt.
            aspect_ratio, image_size, model: of the background (the canvas); model for every stage.
            plan: instead of background and elements, one prompt planned automatically into a
                background, a style and one element (of plan_mode) per distinct subject.
            resume: a previous SceneResult of the same scene: its good stages are reused and only
                the remaining ones are sent.
            grow, feather: edit stages' box mask, in px (None: 4 px; auto).
            colour_match: match each edit's colours to its surroundings.
            seed: sent with every stage. stage_deadline: seconds per stage (None: the client's).

        A failed stage does NOT raise: the result's failed_stage names it, stages[-1].error (an
        NbcoreError) says why, and the earlier stages are kept. Argument errors raise
        InvalidArgumentError before anything is sent. Blocks with the GIL released; Ctrl-C
        cancels the stage under way (its request is aborted) and raises KeyboardInterrupt within a
        fraction of a second.
        """
        if (plan is None) == (background is None):
            raise InvalidArgumentError(  # noqa: F405
                "scene() needs either a background or plan=, not both and not neither",
                advice="Pass background= with elements=, or plan='one prompt' for automatic staging.")
        if plan is not None and elements:
            raise InvalidArgumentError(  # noqa: F405
                "plan= makes its own elements; do not pass elements= with it",
                advice="Drop elements=, or pass background= and elements= instead of plan=.")
        if plan_mode not in ELEMENT_MODES:
            raise InvalidArgumentError(f"plan_mode={plan_mode!r}", advice='Use "edit" or "cutout".')  # noqa: F405
        if resume is not None and not isinstance(resume, SceneResult):
            raise InvalidArgumentError(  # noqa: F405
                f"resume is a {type(resume).__name__}, not a SceneResult",
                advice="Pass the SceneResult a previous scene() call returned.")
        items = []
        for i, raw in enumerate(elements or []):
            try:
                el = Element.from_any(raw)
                x, y, w, h = (float(v) for v in el.box)
            except (TypeError, ValueError, KeyError) as e:
                raise InvalidArgumentError(  # noqa: F405
                    f"elements[{i}]: {e}",
                    advice='Give each element as {"prompt": ..., "box": (x, y, w, h)} or nbcore.Element(...).') from None
            if el.mode not in ELEMENT_MODES:
                raise InvalidArgumentError(f"elements[{i}].mode is {el.mode!r}",  # noqa: F405
                                           advice='Use "edit" or "cutout".')
            items.append((el.prompt, x, y, w, h, int(el.z), ELEMENT_MODES.index(el.mode)))
        raw = self._client.scene(
            background=background, plan=plan, plan_mode=ELEMENT_MODES.index(plan_mode), style=style,
            aspect_ratio=aspect_ratio, image_size=image_size, model=model, elements=items,
            grow=-1 if grow is None else int(grow), feather=-1 if feather is None else int(feather),
            colour_match=1 if colour_match else 0, seed=seed,
            stage_deadline_ms=_seconds_to_ms(stage_deadline, "stage_deadline"),
            resume=resume._handle if resume is not None else None)
        return _scene_result_from(raw)

    def inpaint(self, image: ImageInput, mask: ImageInput, prompt: str, *, model: Optional[str] = None,
                image_size: Optional[str] = None, grow: Optional[int] = None,
                feather: Optional[int] = None, colour_match: bool = True,
                context: Optional[Union[int, str]] = None, seed: Optional[int] = None,
                deadline: Optional[Seconds] = None) -> Result:
        """Change only the masked part of an image, as prompt says, in one request.

            r = client.inpaint("room.png", "mask.png", "a green armchair")
            r.image.save("room-edited.png")

        Args:
            image: a PIL image, a numpy uint8 array (H x W x 3 or 4), nbcore.Pixels, encoded bytes
                or a path (bytes and paths are decoded with Pillow).
            mask: the same size: 0 keeps a pixel, 255 changes it, values between are soft. A PIL
                image (any mode; converted to "L"), a numpy array (H x W, or H x W x C: the first
                channel), nbcore.Pixels (first channel), bytes or a path.
            prompt: what to put in the masked region.
            grow, feather: px of the mask's growth and feather (None: 4; auto).
            colour_match: match the patch's colours to its surroundings.
            context: the crop the model sees: None automatic, a number of px of padding, or
                "whole" for the whole image.
            model, image_size, seed, deadline: as for generate().

        Returns a Result whose one image is the whole edited picture (PNG): every pixel the
        grown, feathered mask does not reach is bit-identical to the input; its inpaint_layer is
        the change alone (an InpaintLayer), for editors that keep edits on layers. Raises as
        generate() does; an empty mask raises InvalidArgumentError. Blocks with the GIL released;
        Ctrl-C cancels the request and raises KeyboardInterrupt within a fraction of a second.
        """
        rgba, width, height = _rgba_of(image, "image")
        grey, mw, mh = _mask_of(mask)
        if (mw, mh) != (width, height):
            raise InvalidArgumentError(  # noqa: F405
                f"the mask is {mw}x{mh} but the image is {width}x{height}",
                advice="Make the mask exactly the image's size (0 keep, 255 change).")
        if context is None:
            context_px = 0
        elif context == "whole":
            context_px = -1
        elif isinstance(context, int) and not isinstance(context, bool) and context > 0:
            context_px = context
        else:
            raise InvalidArgumentError(f"context={context!r}",  # noqa: F405
                                       advice='Use None (automatic), a positive number of px, or "whole".')
        raw = self._client.inpaint(
            rgba=rgba, width=width, height=height, mask=grey, prompt=prompt, model=model,
            image_size=image_size, grow=-1 if grow is None else int(grow),
            feather=-1 if feather is None else int(feather), colour_match=1 if colour_match else 0,
            context_px=context_px, seed=seed, deadline_ms=_seconds_to_ms(deadline, "deadline"))
        return _result_from(raw)

    async def generate_async(self, prompt: str, images: Optional[Images] = None,
                             aspect_ratio: Optional[str] = None, image_size: Optional[str] = None,
                             safety: Optional[Safety] = None, seed: Optional[int] = None,
                             deadline: Optional[Seconds] = None, *, model: Optional[str] = None,
                             temperature: Optional[float] = None,
                             system_instruction: Optional[str] = None) -> Result:
        """generate() for asyncio: `result = await client.generate_async(...)`. The request runs
        on nbcore's I/O thread while the event loop goes on; cancelling the awaiting task
        cancels the request."""
        import asyncio

        job = self.submit(prompt, images, aspect_ratio, image_size, safety, seed, deadline,
                          model=model, temperature=temperature, system_instruction=system_instruction)
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(None, job.result)
        except BaseException:
            job.cancel()
            raise


class Job:
    """A request in flight, from Client.submit(). Thread-safe.

        job = client.submit("a harbour at dusk", image_size="4K")
        while not job.wait(timeout=1.0):
            print(job.progress.text)           # "retrying in 3.0 s after RATE_LIMITED (RPM)"
        result = job.result()
    """

    def __init__(self, handle: Any) -> None:
        self._h = handle

    @property
    def progress(self) -> JobProgress:
        """Where the request stands now: stage, attempt, wait left, a line of text for people."""
        return JobProgress(**self._h.progress())

    @property
    def done(self) -> bool:
        """True once the request has finished (succeeded, failed or was cancelled)."""
        return self._h.done()

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Wait up to `timeout` seconds (None: until done) with the GIL released; True when the
        request has finished. Events go to on_event meanwhile, on this thread. Ctrl-C cancels
        the request and raises KeyboardInterrupt."""
        return self._h.wait(timeout)

    def result(self, timeout: Optional[float] = None) -> Result:
        """Wait, then return the Result or raise the request's NbcoreError. Raises
        builtins.TimeoutError if it is not done within `timeout` seconds (the request goes on)."""
        if not self._h.wait(timeout):
            raise builtins.TimeoutError(f"the request is still running after {timeout} s")
        return _result_from(self._h.result())

    def cancel(self) -> None:
        """Stop the request at once; it ends with CancelledError unless it had already finished.
        Idempotent."""
        self._h.cancel()

    def __repr__(self) -> str:
        p = self.progress
        return f"<nbcore.Job {p.stage} attempt {p.attempt}: {p.text}>"


def _result_from(raw: Dict[str, Any]) -> Result:
    handle = raw.get("handle")
    return Result(
        images=[Image(_source=handle, _index=i, **im) for i, im in enumerate(raw["images"])],
        text=raw["text"],
        usage=Usage(**raw["usage"]),
        attempts=[Attempt.from_dict(a) for a in raw["attempts"]],
        route=raw["route"],
        model_version=raw["model_version"],
        image_size=raw["image_size"],
        cost_usd=raw["cost_usd"],
        batch=raw["batch"],
        inpaint_layer=InpaintLayer(**raw["inpaint_layer"]) if "inpaint_layer" in raw else None,
    )



def _pil_open(item: Any, what: str) -> Any:
    try:
        import io
        from PIL import Image as _PIL  # type: ignore
    except ImportError:
        raise InvalidArgumentError(  # noqa: F405
            f"{what} is encoded (bytes or a path): decoding it needs Pillow",
            advice="pip install pillow, or pass a numpy array or a PIL image.") from None
    if isinstance(item, (bytes, bytearray, memoryview)):
        return _PIL.open(io.BytesIO(bytes(item)))
    return _PIL.open(item)


def _rgba_of(item: ImageInput, what: str) -> Tuple[bytes, int, int]:
    """Any image input as RGBA8 bytes, width, height."""
    if isinstance(item, (bytes, bytearray, memoryview, str, os.PathLike)):
        item = _pil_open(item, what)
    if isinstance(item, _nbcore.Pixels):
        if item.channels == 4:
            return item.tobytes(), item.width, item.height
        import numpy
        item = numpy.asarray(item)
    if type(item).__module__.startswith("PIL."):
        img = item.convert("RGBA")
        return img.tobytes(), img.width, img.height
    if type(item).__module__ == "numpy" or hasattr(item, "__array_interface__"):
        import numpy
        a = numpy.asarray(item)
        if a.dtype != numpy.uint8:
            raise InvalidArgumentError(f"{what} array has dtype {a.dtype}, not uint8",  # noqa: F405
                                       advice="Convert it to uint8 first.")
        if a.ndim == 2:
            a = a[:, :, None]
        if a.ndim != 3 or a.shape[2] not in (1, 3, 4):
            raise InvalidArgumentError(f"{what} array has shape {a.shape}",  # noqa: F405
                                       advice="Pass (H, W), (H, W, 3) or (H, W, 4) uint8.")
        h, w = a.shape[0], a.shape[1]
        out = numpy.empty((h, w, 4), dtype=numpy.uint8)
        if a.shape[2] == 1:
            out[:, :, :3] = a
            out[:, :, 3] = 255
        elif a.shape[2] == 3:
            out[:, :, :3] = a
            out[:, :, 3] = 255
        else:
            out[:] = a
        return out.tobytes(), w, h
    raise InvalidArgumentError(  # noqa: F405
        f"unsupported {what} of type {type(item).__name__}",
        advice="Pass a PIL image, a numpy uint8 array, nbcore.Pixels, encoded bytes or a path.")


def _mask_of(item: ImageInput) -> Tuple[bytes, int, int]:
    """A mask input as one byte a pixel (0 keep .. 255 change), width, height."""
    if isinstance(item, (bytes, bytearray, memoryview, str, os.PathLike)):
        item = _pil_open(item, "mask")
    if type(item).__module__.startswith("PIL."):
        img = item.convert("L")
        return img.tobytes(), img.width, img.height
    if isinstance(item, _nbcore.Pixels) or type(item).__module__ == "numpy" or hasattr(item, "__array_interface__"):
        import numpy
        a = numpy.asarray(item)
        if a.dtype == numpy.bool_:
            a = a.astype(numpy.uint8) * 255
        if a.dtype != numpy.uint8:
            raise InvalidArgumentError(f"mask array has dtype {a.dtype}, not uint8 or bool",  # noqa: F405
                                       advice="Pass 0..255 uint8 (or bool) values.")
        if a.ndim == 3:
            a = a[:, :, 0]
        if a.ndim != 2:
            raise InvalidArgumentError(f"mask array has shape {a.shape}",  # noqa: F405
                                       advice="Pass (H, W) uint8, or (H, W, C) whose first channel is the mask.")
        return numpy.ascontiguousarray(a).tobytes(), a.shape[1], a.shape[0]
    raise InvalidArgumentError(  # noqa: F405
        f"unsupported mask of type {type(item).__name__}",
        advice="Pass a PIL image, a numpy uint8 array, nbcore.Pixels, encoded bytes or a path.")


def _scene_result_from(raw: Dict[str, Any]) -> SceneResult:
    from ._errors import error_from_info
    handle = raw["handle"]
    stages = []
    for s in raw["stages"]:
        stages.append(SceneStage(
            index=s["index"], kind=s["kind"], prompt=s["prompt"], status=s["status"],
            image_size=s["image_size"], placed=tuple(s["placed"]), cost_usd=s["cost_usd"],
            attempts=[Attempt.from_dict(a) for a in s["attempts"]],
            error=error_from_info(s["error"]) if s["error"] is not None else None,
            answer=s["answer"], answer_mime=s["answer_mime"],
            composite=_Composite(handle, s["index"], s["width"], s["height"]) if s["width"] else None))
    failed = raw["failed_stage"]
    good = [s for s in stages if s.composite is not None]
    image = _Composite(handle, -1, good[-1].composite.width, good[-1].composite.height) if good else None
    return SceneResult(stages=stages, image=image, failed_stage=failed if failed >= 0 else None,
                       total_stages=raw["total_stages"], cost_usd=raw["cost_usd"], _handle=handle)


def check_image(data: Union[bytes, bytearray, memoryview, str, "os.PathLike[str]"]) -> ImageCheck:
    """Decode and validate an encoded image (bytes, or a file path): is it a valid image within
    the engine's limits, and is it blank (one flat colour, fully transparent...)? The verdict
    says why not in .reason; nothing raises for a bad image."""
    if isinstance(data, (str, os.PathLike)):
        with open(data, "rb") as f:
            data = f.read()
    d = _nbcore.check_image(bytes(data))
    return ImageCheck(ok=d["ok"], blank=d["blank"], width=d["width"], height=d["height"],
                      reason=d["reason"], code=d["code"], mime=d["mime"], channels=d["channels"])


def analyze_prompt(prompt: str, image_size: Optional[str] = None) -> PromptReport:
    """Read a prompt before sending it: its subjects, setting, text to render, spatial relations and
    style, camera and lighting clauses, and the risk that it ends blank or times out, with the
    reasons. Deterministic and offline (docs/prompt-analysis.md). image_size "4K" adds the timeout
    risk of many subjects."""
    d = json.loads(_nbcore.analyze_prompt(prompt, image_size, 1))
    return PromptReport(risk=d["risk"], reasons=list(d["reasons"]), distinct_subjects=d["distinct_subjects"],
                        text_spans=d["text_spans"], relations=d["relations"], styling=d["styling"],
                        requirements=list(d["requirements"]),
                        text=_nbcore.analyze_prompt(prompt, image_size, 0))


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
