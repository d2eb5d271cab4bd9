"""Plain result types returned by nbcore.Client."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

__all__ = ["Attempt", "Image", "Result", "InpaintLayer", "ImageCheck", "Usage", "RetryPolicy", "Diagnosis", "Route",
           "JobProgress", "Element", "SceneStage", "SceneResult"]

_PRESETS = {"interactive": 0, "patient": 1, "none": 2}


@dataclass(frozen=True)
class RetryPolicy:
    """How the engine retries. Times are in seconds. Start from a preset and change fields:

        nbcore.RetryPolicy.preset("interactive").replace(max_attempts=3)
    """

    max_attempts: int = 5
    server_base: float = 1.0       # 500 / 503 / 504 / network: full-jitter exponential backoff
    server_cap: float = 60.0
    gateway_base: float = 2.0      # 502
    gateway_cap: float = 60.0
    rate_base: float = 1.0         # 429 per-minute without a server-given delay
    rate_cap: float = 60.0
    max_wait: float = 300.0        # one wait longer than this fails at once
    max_billed_retries: int = 1    # NO_IMAGE / BLANK_IMAGE
    max_bad_response_retries: int = 1
    jitter_ratio: float = 0.05     # positive jitter on server-given waits (at most 5%)

    @classmethod
    def preset(cls, name: str) -> "RetryPolicy":
        """"interactive", "patient" or "none", with the engine's own numbers."""
        from . import _nbcore
        from ._errors import InvalidArgumentError

        if name not in _PRESETS:
            raise InvalidArgumentError(f"retry={name!r} is not a preset",
                                       advice="Use 'interactive', 'patient', 'none' or a RetryPolicy.")
        d = _nbcore.retry_preset(_PRESETS[name])
        ms = lambda k: d[k] / 1000.0  # noqa: E731
        return cls(max_attempts=d["max_attempts"], server_base=ms("server_base_ms"),
                   server_cap=ms("server_cap_ms"), gateway_base=ms("gateway_base_ms"),
                   gateway_cap=ms("gateway_cap_ms"), rate_base=ms("rate_base_ms"),
                   rate_cap=ms("rate_cap_ms"), max_wait=ms("max_wait_ms"),
                   max_billed_retries=d["max_billed_retries"],
                   max_bad_response_retries=d["max_bad_response_retries"],
                   jitter_ratio=d["jitter_ratio"])

    def replace(self, **changes: Any) -> "RetryPolicy":
        import dataclasses
        return dataclasses.replace(self, **changes)

    def _to_c(self) -> Dict[str, Any]:
        ms = lambda v: int(round(v * 1000))  # noqa: E731
        return {"max_attempts": self.max_attempts,
                "server_base_ms": ms(self.server_base), "server_cap_ms": ms(self.server_cap),
                "gateway_base_ms": ms(self.gateway_base), "gateway_cap_ms": ms(self.gateway_cap),
                "rate_base_ms": ms(self.rate_base), "rate_cap_ms": ms(self.rate_cap),
                "max_wait_ms": ms(self.max_wait), "max_billed_retries": self.max_billed_retries,
                "max_bad_response_retries": self.max_bad_response_retries,
                "jitter_ratio": float(self.jitter_ratio)}


@dataclass(frozen=True)
class Attempt:
    """One attempt of a request: where it went, what came back, how long we waited after it."""

    number: int                     # 1-based
    route: str                      # the route it went to: "ai-studio", "vertex:global", "custom:<url>"
    outcome: str                    # status name: "OK", "RATE_LIMITED", ...
    http_status: int                # 0 when no reply arrived
    reason: str                     # quotaId, finishReason, blockReason, ... ("" when none)
    server_delay: Optional[float]   # seconds the server asked to wait, or None when it said nothing
    chosen_delay: float             # seconds waited before the next attempt (0.0 after the last)
    duration: float                 # seconds the attempt took
    image_size: str = ""            # the size this attempt asked for (changes after a downgrade)
    execution: str = "not_sent"     # "not_sent", "possibly_executed" (sent, no reply), "executed"

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "Attempt":
        sd = d.get("server_delay_ms")
        return cls(
            number=d["number"], route=d.get("route", ""), outcome=d["outcome"],
            http_status=d.get("http_status", 0), reason=d.get("reason", ""),
            server_delay=None if sd is None else sd / 1000.0,
            chosen_delay=d.get("chosen_delay_ms", 0) / 1000.0,
            duration=d.get("duration_ms", 0) / 1000.0,
            image_size=d.get("image_size", ""),
            execution=d.get("execution", "not_sent"),
        )


@dataclass(frozen=True)
class Image:
    """A generated image: the encoded bytes exactly as the server sent them, plus its size.

    data is the encoded file (PNG or JPEG, see mime); width and height are in pixels; channels is
    what the file decodes to (3 RGB, 4 RGBA, 1 grey...). pixels(), to_numpy() and to_pil() give
    the decoded pixels; save() writes the file.
    """

    data: bytes
    mime: str
    width: int
    height: int
    channels: int = 0
    # The C result this image came from (kept alive by this reference), and its index there.
    _source: Any = field(default=None, repr=False, compare=False)
    _index: int = field(default=0, repr=False, compare=False)

    @property
    def extension(self) -> str:
        """The file extension of the encoded format: ".png", ".jpg", ".webp" (".bin" if unknown)."""
        return {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}.get(self.mime, ".bin")

    @property
    def has_alpha(self) -> bool:
        """True when the image carries an alpha channel (grey+alpha or RGBA)."""
        return self.channels in (2, 4)

    def pixels(self, channels: Optional[int] = None) -> Any:
        """The decoded pixels as an nbcore.Pixels object, which supports the buffer protocol:
        numpy.asarray() and memoryview() read it in place, shape (height, width, channels),
        8 bits per channel, rows top to bottom.

        channels: 4 for RGBA, 3 for RGB (alpha dropped), None for 4 when the image has alpha and
        3 when it has none (grey images become RGB). Each call converts once into a new buffer,
        from the pixels the engine decoded while validating the reply (batch results, which
        keep none, are decoded by that call).
        """
        want = channels if channels is not None else (4 if self.has_alpha else 3)
        if self._source is not None:
            return self._source.pixels(self._index, want)
        raise ValueError("this Image was not made by nbcore in this process (it was built by hand or "
                         "unpickled), so it has no decoded pixels; to_numpy() and to_pil() decode "
                         ".data with Pillow instead")

    def _pil_decode(self, channels: Optional[int]) -> Any:
        """For Images without the engine's pixels: decode .data with Pillow."""
        try:
            import io
            from PIL import Image as _PIL  # type: ignore
        except ImportError:
            raise ImportError("this Image has no decoded pixels (it was built by hand or unpickled); "
                              "decoding it needs Pillow: pip install pillow") from None
        want = channels if channels is not None else (4 if self.has_alpha else 3)
        return _PIL.open(io.BytesIO(self.data)).convert("RGBA" if want == 4 else "RGB")

    def to_numpy(self, channels: Optional[int] = None) -> Any:
        """The pixels as a numpy uint8 array of shape (height, width, channels), without a copy
        beyond the one conversion (the array reads pixels() through the buffer protocol and is
        writable). channels as in pixels(): by default (H, W, 4) RGBA when the image has alpha,
        (H, W, 3) RGB when it has none. Needs numpy."""
        try:
            import numpy
        except ImportError:
            raise ImportError("Image.to_numpy() needs numpy: pip install numpy") from None
        if self._source is None:
            return numpy.array(self._pil_decode(channels))
        return numpy.asarray(self.pixels(channels))

    def to_pil(self) -> Any:
        """The image as a PIL.Image.Image (mode "RGBA" when it has alpha, else "RGB"), made from
        the decoded pixels. Needs Pillow."""
        try:
            from PIL import Image as _PIL  # type: ignore
        except ImportError:
            raise ImportError("Image.to_pil() needs Pillow: pip install pillow") from None
        if self._source is None:
            return self._pil_decode(None)
        px = self.pixels()
        return _PIL.frombuffer(px.mode, (px.width, px.height), px, "raw", px.mode, 0, 1)

    def __getstate__(self) -> Dict[str, Any]:
        # The engine's result does not cross processes: an unpickled Image decodes with Pillow.
        state = dict(self.__dict__)
        state["_source"] = None
        return state

    def save(self, path: "os.PathLike[str] | str") -> str:
        """Write the image and return the path. The bytes are written exactly as received when the
        path's extension matches the format (or is not an image extension); a different image
        extension (demo.png for a JPEG answer) converts with Pillow."""
        path = os.fspath(path)
        want = os.path.splitext(path)[1].lower()
        same = {".jpg": ".jpg", ".jpeg": ".jpg", ".png": ".png", ".webp": ".webp"}.get(want)
        if same is not None and same != self.extension:
            try:
                import io
                from PIL import Image as _PIL  # type: ignore

                _PIL.open(io.BytesIO(self.data)).save(path)
                return path
            except ImportError:
                raise ValueError(
                    f"the image is {self.mime}; save it as *{self.extension}, or install Pillow "
                    f"(pip install pillow) to convert it to {want}") from None
        with open(path, "wb") as f:
            f.write(self.data)
        return path


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    candidates_tokens: int = 0
    thoughts_tokens: int = 0
    total_tokens: int = 0
    image_output_tokens: int = 0


@dataclass(frozen=True)
class Result:
    """What generate() returns: the images, any text, token usage, cost, and every attempt.

    The Result (and each of its Images) keeps the engine's result alive, decoded pixels included,
    so Image.to_numpy() and to_pil() work for as long as you hold either.
    """

    images: List[Image]
    text: str
    usage: Usage
    attempts: List[Attempt]
    route: str                      # the route that answered
    model_version: str
    image_size: str = ""            # the size asked for (smaller than requested after a downgrade)
    cost_usd: float = 0.0           # what every attempt was billed, from usage and the price table
    batch: bool = False             # served by the Batch API (priced at the batch rate)
    inpaint_layer: Optional["InpaintLayer"] = None   # from Client.inpaint(): the change as a layer

    @property
    def image(self) -> Image:
        """The first image (there is always at least one in a Result)."""
        return self.images[0]


@dataclass(frozen=True)
class InpaintLayer:
    """What Client.inpaint() changed, as a layer of its own, for editors that keep edits on layers.

        layer = client.inpaint("room.png", "mask.png", "a green armchair").inpaint_layer
        canvas.alpha_composite(layer.to_pil(), (layer.x, layer.y))   # gives the result's image

    RGBA over the rectangle that changed (x, y its top-left corner in the image): RGB the model's
    answer as it was composited, A the blend alpha (the mask grown and feathered). Laid over the
    input with straight-alpha "over" in sRGB it gives the Result's image.
    """

    x: int
    y: int
    width: int
    height: int
    rgba: bytes = field(repr=False)   # 4 * width bytes a row, rows top to bottom

    def to_numpy(self) -> Any:
        """The layer as a numpy uint8 array of shape (height, width, 4). Needs numpy."""
        try:
            import numpy
        except ImportError:
            raise ImportError("InpaintLayer.to_numpy() needs numpy: pip install numpy") from None
        return numpy.frombuffer(self.rgba, dtype=numpy.uint8).reshape(self.height, self.width, 4).copy()

    def to_pil(self) -> Any:
        """The layer as an RGBA PIL.Image.Image. Needs Pillow."""
        try:
            from PIL import Image as _PIL  # type: ignore
        except ImportError:
            raise ImportError("InpaintLayer.to_pil() needs Pillow: pip install pillow") from None
        return _PIL.frombytes("RGBA", (self.width, self.height), self.rgba)


@dataclass(frozen=True)
class ImageCheck:
    """Verdict of nbcore.check_image(): whether the bytes are a valid, non-blank image."""

    ok: bool
    blank: bool
    width: int
    height: int
    reason: str
    code: str = "OK"
    mime: str = ""
    channels: int = 0


@dataclass(frozen=True)
class SimplifyStep:
    """One step of Client.simplify(): the prompt sent, whether it worked, and what it cost."""

    number: int
    purpose: str
    prompt: str
    works: bool
    outcome: str               # "OK", "NO_IMAGE", "BLANK_IMAGE", or the failure that stopped the search
    reason: str
    cost_usd: float
    requirements: List[int]    # indices into .analysis.requirements


@dataclass(frozen=True)
class SimplifyReport:
    """What Client.simplify() found (docs/prompt-analysis.md, "Simplifying a prompt that fails"):
    every step, the minimal failing set of requirements (with the core subject), the largest prompt
    seen to work, why it stopped early if it did, and the staged-scene plan as the alternative.
    str() gives the report for people."""

    found: bool
    minimal_failing: List[str]         # the requirements' text; [] with found=True: the core alone fails
    minimal_failing_prompt: str
    largest_working_prompt: str
    rounds_to_find: int
    stopped: str
    cost_usd: float
    steps: List[SimplifyStep]
    plan: Dict[str, Any]               # {"background", "style", "elements": [{"prompt", "box", "z"}]}
    analysis: Dict[str, Any]

    def __str__(self) -> str:
        lines = []
        for s in self.steps:
            verdict = "works" if s.works else s.outcome
            lines.append(f"step {s.number} ({s.purpose}): {verdict}, ${s.cost_usd:.4f}\n    {s.prompt}")
        if self.found:
            if self.minimal_failing:
                lines.append("Minimal failing set: " + ", ".join(f'"{t}"' for t in self.minimal_failing) +
                             f" (found in {self.rounds_to_find} steps)")
            else:
                lines.append(f'The core subject alone fails: "{self.minimal_failing_prompt}".')
        if self.largest_working_prompt:
            lines.append(f"Largest prompt that works: {self.largest_working_prompt}")
        if self.stopped:
            lines.append(f"Stopped: {self.stopped}")
        lines.append(f"Spent ${self.cost_usd:.4f} in {len(self.steps)} steps.")
        if self.plan.get("elements"):
            lines.append(f'Or generate it in stages: background "{self.plan["background"]}", then ' +
                         ", ".join(f'"{e["prompt"]}"' for e in self.plan["elements"]) + ".")
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class PromptReport:
    """What nbcore.analyze_prompt() read in a prompt (docs/prompt-analysis.md): the risk of a blank
    output or a timeout ("low", "medium", "high"), one reason per finding, and the requirements
    found (dicts with kind, text, head, count, relation, begin, end). str() gives the report for
    people."""

    risk: str
    reasons: List[str]
    distinct_subjects: int
    text_spans: int
    relations: int
    styling: int
    requirements: List[Dict[str, Any]]
    text: str = ""

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Diagnosis:
    """What nbcore.diagnose() makes of a status and body: the same verdict the engine reaches.

    code is the class name ("OK", "RATE_LIMITED", ...); dimension "RPM", "TPM", "IPM", "RPD",
    "ZERO", "UNKNOWN" or None; retry_after in seconds or None; safety_layer 1, 2 or None.
    """

    code: str
    message: str
    advice: str
    retryable: bool
    reason: str
    http_status: Optional[int]
    api_status: str
    dimension: Optional[str]
    retry_after: Optional[float]
    safety_layer: Optional[int]

    @property
    def ok(self) -> bool:
        return self.code == "OK"


_ROUTE_KINDS = {"ai-studio": 0, "vertex": 1, "custom": 2}


@dataclass(frozen=True)
class Route:
    """An endpoint for requests. Give Client(routes=[...]) several, in preference order, and it
    fails over between them on capacity errors (never on auth or safety, unless asked).

        Route("vertex", project="my-proj", location="us-central1",
              token_command="gcloud auth print-access-token")
        Route("custom", base_url="http://127.0.0.1:8080")
    """

    kind: str = "ai-studio"              # "ai-studio", "vertex" or "custom"
    name: Optional[str] = None           # default: "ai-studio", "vertex:<location>", "custom:<url>"
    base_url: Optional[str] = None
    # default: the client's key. Left out of repr(): a route printed or logged must not show it.
    api_key: Optional[str] = field(default=None, repr=False)
    project: Optional[str] = None        # Vertex; without it, express mode with an API key
    location: Optional[str] = None       # Vertex; default "global"
    token_env: Optional[str] = None      # Vertex: environment variable holding an OAuth token
    token_command: Optional[str] = None  # Vertex: command printing one
    quota_pool: Optional[str] = None     # routes sharing a pool do not fail over for quota errors
    failover_on_capacity: bool = True
    failover_on_quota: bool = True
    failover_on_location: bool = True
    failover_on_safety: bool = False

    def _to_c(self) -> Dict[str, Any]:
        from ._errors import InvalidArgumentError

        if self.kind not in _ROUTE_KINDS:
            raise InvalidArgumentError(f"Route kind {self.kind!r} is unknown",
                                       advice="Use 'ai-studio', 'vertex' or 'custom'.")
        flags = ((0 if self.failover_on_capacity else 1) | (0 if self.failover_on_quota else 2)
                 | (0 if self.failover_on_location else 4) | (8 if self.failover_on_safety else 0))
        return {"kind": _ROUTE_KINDS[self.kind], "name": self.name, "base_url": self.base_url,
                "api_key": self.api_key, "project": self.project, "location": self.location,
                "token_env": self.token_env, "token_command": self.token_command,
                "quota_pool": self.quota_pool, "flags": flags}


@dataclass(frozen=True)
class JobProgress:
    """Where a request stands (Job.progress)."""

    stage: str            # queued, waiting_quota, sending, waiting_server, receiving, validating, retrying, done
    attempt: int          # the current or last attempt, 0 before the first
    last_outcome: str     # status name of the last finished attempt
    wait_left: float      # seconds until the next step while waiting for quota or a retry
    elapsed: float
    bytes_received: int
    route: str
    text: str             # one line for people: "retrying in 3.0 s after RATE_LIMITED (RPM)"


# ---- staged scenes -------------------------------------------------------------------------------

ELEMENT_MODES = ("edit", "cutout")


@dataclass(frozen=True)
class Element:
    """One element of a staged scene (Client.scene): what to draw and where.

    box is (x, y, w, h) normalized to the canvas: x, y the top-left corner, w, h the size, all
    0..1. z orders the stages (lower first; equal z keep their order). mode "edit" asks the model
    to draw the element into the running picture inside its box (a masked edit); "cutout" draws
    it alone on a key colour, cuts it out locally and places it into the box, aspect kept.
    A plain dict {"prompt", "box", "z", "mode"} is accepted wherever an Element is.
    """

    prompt: str
    box: Tuple[float, float, float, float]
    z: int = 0
    mode: str = "edit"

    @classmethod
    def from_any(cls, item: Any) -> "Element":
        if isinstance(item, Element):
            return item
        if isinstance(item, dict):
            unknown = set(item) - {"prompt", "box", "z", "mode"}
            if unknown:
                raise ValueError(f"unknown element keys {sorted(unknown)}; use prompt, box, z, mode")
            return cls(prompt=item["prompt"], box=tuple(item["box"]), z=int(item.get("z", 0)),
                       mode=item.get("mode", "edit"))
        raise TypeError(f"an element is an nbcore.Element or a dict, not {type(item).__name__}")


class _Composite:
    """Reads a scene composite from the engine's result on request (shared by stages and the
    final image)."""

    def __init__(self, handle: Any, stage: int, width: int, height: int) -> None:
        self._h = handle
        self._stage = stage
        self.width = width
        self.height = height

    def pixels(self, channels: int = 4) -> Any:
        """The composite as nbcore.Pixels (RGBA, or RGB with channels=3); buffer protocol."""
        return self._h.pixels(self._stage, channels)

    def to_numpy(self, channels: int = 4) -> Any:
        """The composite as a numpy uint8 array (height, width, channels). Needs numpy."""
        import numpy
        return numpy.asarray(self.pixels(channels))

    def to_pil(self) -> Any:
        """The composite as an RGBA PIL.Image.Image. Needs Pillow."""
        from PIL import Image as _PIL  # type: ignore
        px = self.pixels(4)
        return _PIL.frombuffer("RGBA", (px.width, px.height), px, "raw", "RGBA", 0, 1)

    def save(self, path: "os.PathLike[str] | str") -> str:
        """Writes the composite as PNG (any other extension Pillow knows converts) and returns
        the path. PNG needs nothing; other formats need Pillow."""
        path = os.fspath(path)
        if os.path.splitext(path)[1].lower() in ("", ".png"):
            from . import _png
            px = self.pixels(4)
            with open(path, "wb") as f:
                f.write(_png(px.tobytes(), px.width, px.height, 4))
        else:
            img = self.to_pil()
            if os.path.splitext(path)[1].lower() in (".jpg", ".jpeg"):
                img = img.convert("RGB")
            img.save(path)
        return path

    def __repr__(self) -> str:
        return f"<nbcore scene image {self.width}x{self.height}>"


@dataclass(frozen=True)
class SceneStage:
    """One stage of a staged scene: 0 is the background, then one per element in z order.

    status is "OK" or the failure's status name; error is the NbcoreError describing a failed
    stage (None for a good one). placed is (x, y, w, h) in pixels: the canvas, an edit's box, or
    the rect a cutout went into. answer is the model's image as it came (encoded; None when none
    came). composite is the picture after this stage (None when the stage failed): pixels(),
    to_numpy(), to_pil(), save().
    """

    index: int
    kind: str
    prompt: str
    status: str
    image_size: str
    placed: Tuple[int, int, int, int]
    cost_usd: float
    attempts: List[Attempt]
    error: Optional[BaseException]
    answer: Optional[bytes]
    answer_mime: str
    composite: Optional[_Composite] = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_numpy(self, channels: int = 4) -> Any:
        """The composite after this stage as a numpy array (ValueError for a failed stage)."""
        return self._need().to_numpy(channels)

    def to_pil(self) -> Any:
        """The composite after this stage as a PIL image (ValueError for a failed stage)."""
        return self._need().to_pil()

    def _need(self) -> _Composite:
        if self.composite is None:
            raise ValueError(f"stage {self.index} failed and has no image")
        return self.composite


@dataclass(frozen=True)
class SceneResult:
    """What Client.scene() returns. A failed stage does not raise: failed_stage names it (None
    when none failed), stages[-1].error says why, and image is the last good composite (None only
    when the background failed). Pass the result as resume= to a later scene() call with the same
    scene to send only the remaining stages.
    """

    stages: List[SceneStage]
    image: Optional[_Composite]
    failed_stage: Optional[int]
    total_stages: int
    cost_usd: float
    _handle: Any = field(default=None, repr=False, compare=False)

    @property
    def complete(self) -> bool:
        """True when every stage ran and none failed."""
        return self.failed_stage is None and len(self.stages) == self.total_stages

    @property
    def error(self) -> Optional[BaseException]:
        """The failed stage's error, or None."""
        return self.stages[self.failed_stage].error if self.failed_stage is not None else None
