"""The nbcore command line: generate, edit, scene, diagnose, check, usage, batch, emulator.

Exit codes (docs/python.md has the table): 0 success; 1 any other failure (a file that cannot be
read or written, for instance); 2 bad command-line usage; 10 + the status code for an nbcore
failure (11 RATE_LIMITED, 12 QUOTA_EXHAUSTED, ... 30 INVALID_ARG, 31 INTERNAL; `nbcore --help`
lists them); 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import warnings
from typing import Any, Dict, List, Optional, Tuple

from . import (ASPECT_RATIOS, DEFAULT_MODEL, DEFAULT_STATE, IMAGE_SIZES, Client, InvalidArgumentError,
               NbcoreError, _nbcore, analyze_prompt, check_image, diagnose, state_usage)
from ._errors import STATUS_NAMES

EXIT_BASE = 10
EXIT_OTHER = 1
EXIT_USAGE = 2
EXIT_HIGH_RISK = 3   # lint --strict on a high-risk prompt
EXIT_NOT_FOUND = 4   # simplify ended (budget, another failure) before it found the failing set
EXIT_INTERRUPTED = 130


def exit_code_for(err: NbcoreError) -> int:
    try:
        return EXIT_BASE + STATUS_NAMES.index(err.code)
    except ValueError:
        return EXIT_BASE + STATUS_NAMES.index("INTERNAL")


def _seconds(ms: Optional[int]) -> str:
    return "-" if ms is None else f"{ms / 1000:.1f} s"


class LiveLine:
    """One status line rewritten in place on a terminal (stage, retry reason, countdown)."""

    def __init__(self, stream=sys.stderr):
        self.stream = stream
        self.enabled = stream.isatty()
        self.shown = False

    def show(self, text: str) -> None:
        if not self.enabled:
            return
        width = shutil.get_terminal_size((100, 20)).columns - 1
        self.stream.write("\r" + text[:width].ljust(width))
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            width = shutil.get_terminal_size((100, 20)).columns - 1
            self.stream.write("\r" + " " * width + "\r")
            self.stream.flush()
            self.shown = False


def progress_text(p: Any) -> str:
    text = f"[{p.elapsed:6.1f} s] attempt {p.attempt or 1}: {p.text}"
    if p.wait_left > 0:
        text += f" ({p.wait_left:.0f} s left)"
    if p.bytes_received and p.stage == "receiving":
        text += f", {p.bytes_received / 1e6:.1f} MB"
    return text


class EventPrinter:
    """Prints one plain line per attempt event (the live form of result.attempts)."""

    def __init__(self, stream=sys.stderr, live: Optional[LiveLine] = None):
        self.stream = stream
        self.live = live

    def __call__(self, ev: Dict[str, Any]) -> None:
        if self.live:
            self.live.clear()
        kind = ev["kind"]
        t = f"[{ev['elapsed_ms'] / 1000:6.1f} s]"
        if kind == "attempt_start":
            line = f"{t} attempt {ev['attempt']}: sending to {ev['route']}"
        elif kind == "attempt_end":
            status = f"HTTP {ev['http_status']}" if ev["http_status"] else "no HTTP reply"
            line = f"{t} attempt {ev['attempt']}: {ev['outcome']} ({status}"
            if ev["reason"]:
                line += f", {ev['reason']}"
            line += ")"
            if ev["server_delay_ms"] is not None:
                line += f"; server asked to wait {_seconds(ev['server_delay_ms'])}"
            if ev["outcome"] != "OK" and ev["message"]:
                line += f"\n{' ' * len(t)}   {ev['message']}"
        elif kind == "retry_scheduled":
            line = f"{t} waiting {_seconds(ev['delay_ms'])} before attempt {ev['attempt'] + 1}"
            if ev["message"]:
                line += f" ({ev['message']})"
        elif kind == "breaker":
            line = f"{t} circuit breaker for {ev['route']}: {ev['message']}"
        elif kind == "failover":
            line = f"{t} failing over to {ev['route']} ({ev['message']})"
        elif kind == "downgrade":
            line = f"{t} downgrading to {ev['image_size']} ({ev['message']})"
        elif kind == "quota_wait":
            line = f"{t} {ev['message']}"
        elif kind in ("quota_warning", "budget_alert"):
            line = f"{t} warning: {ev['message']}"
        elif kind == "state":
            line = f"{t} {ev['message']}"
        elif kind == "prompt_warning":
            line = f"{t} warning: {ev['reason']}-risk prompt: {ev['message']}"
        else:
            line = f"{t} done: {ev['outcome']}"
        print(line, file=self.stream, flush=True)


def _print_error(err: NbcoreError, as_json: bool) -> None:
    """The class, the message and the advice; one JSON object on stdout with --json."""
    if as_json:
        print(json.dumps(_error_json(err)), flush=True)
        return
    print(f"error: {err.code} ({type(err).__name__}): {err.message}", file=sys.stderr)
    if err.retry_after is not None:
        print(f"retry after: {err.retry_after:.1f} s", file=sys.stderr)
    if err.advice:
        print(f"advice: {err.advice}", file=sys.stderr)


def _error_json(err: NbcoreError) -> Dict[str, Any]:
    return {
        "ok": False, "code": err.code, "class": type(err).__name__, "exit_code": exit_code_for(err),
        "message": err.message, "advice": err.advice,
        "http_status": err.http_status, "api_status": err.api_status, "reason": err.reason,
        "retry_after": err.retry_after, "dimension": err.dimension,
        "safety_layer": err.safety_layer, "route": getattr(err, "route", ""),
        "attempts": [a.__dict__ for a in err.attempts],
    }


def _print_other_error(kind: str, message: str, advice: str, code: int, as_json: bool) -> None:
    """A failure that is not an NbcoreError (a file that cannot be read, say): same shape."""
    if as_json:
        print(json.dumps({"ok": False, "code": kind, "class": kind, "exit_code": code,
                          "message": message, "advice": advice}), flush=True)
        return
    print(f"error: {kind}: {message}", file=sys.stderr)
    if advice:
        print(f"advice: {advice}", file=sys.stderr)


def _output_paths(output: str, count: int) -> List[str]:
    """FILE for the first image, FILE-2.ext, FILE-3.ext ... for the others."""
    root, ext = os.path.splitext(output)
    return [output if i == 0 else f"{root}-{i + 1}{ext}" for i in range(count)]


def _result_json(result: Any, files: List[str]) -> Dict[str, Any]:
    return {
        "ok": True, "files": files, "text": result.text, "route": result.route,
        "model_version": result.model_version, "image_size": result.image_size,
        "usage": result.usage.__dict__, "cost_usd": result.cost_usd,
        "images": [{"file": f, "mime": im.mime, "width": im.width, "height": im.height, "bytes": len(im.data)}
                   for f, im in zip(files, result.images)],
        "attempts": [a.__dict__ for a in result.attempts]}


class _TaggedPrinter:
    """EventPrinter that prefixes each line with the request's number when there are several."""

    def __init__(self, inner: EventPrinter):
        self.inner = inner
        self.tag = ""

    def __call__(self, ev: Dict[str, Any]) -> None:
        if self.tag:
            print(self.tag, end=" ", file=self.inner.stream)
        self.inner(ev)


def _run_requests(args: argparse.Namespace, prompt: str, images: List[bytes]) -> int:
    """generate and edit: -n requests at once, one live line (terminal) or plain event lines,
    images written to -o (numbered after the first), a summary or one JSON object."""
    count = args.n
    if count < 1 or count > 64:
        raise InvalidArgumentError(f"-n {count} is out of range", advice="Ask for 1 to 64 images per run.")
    quiet = args.quiet or args.json
    live = None if quiet else LiveLine()
    printer = None if quiet else _TaggedPrinter(EventPrinter(live=live))
    client = Client(model=args.model, retry=args.retry, max_attempts=args.max_attempts,
                    deadline=args.deadline, on_event=printer, **_quota_args(args))
    jobs = []
    try:
        for i in range(count):
            seed = None if args.seed is None else args.seed + i
            jobs.append(client.submit(prompt, images=images, aspect_ratio=args.aspect,
                                      image_size=args.size, seed=seed))
        pending = list(range(count))
        while pending:
            for i in list(pending):
                if printer is not None:
                    printer.tag = f"#{i + 1}" if count > 1 else ""
                if jobs[i].wait(0.25 / len(pending)):
                    pending.remove(i)
            if live and pending:
                p = jobs[pending[0]].progress
                head = f"{count - len(pending)}/{count} done; #{pending[0] + 1} " if count > 1 else ""
                live.show(head + progress_text(p))
    except BaseException:
        for job in jobs:
            job.cancel()
        raise
    finally:
        if live:
            live.clear()

    outcomes: List[Tuple[Any, Optional[NbcoreError]]] = []
    for job in jobs:
        try:
            outcomes.append((job.result(), None))
        except NbcoreError as err:
            outcomes.append((None, err))
    total_images = sum(len(r.images) for r, _ in outcomes if r is not None)
    paths = iter(_output_paths(args.output, total_images))
    docs: List[Dict[str, Any]] = []
    written: List[str] = []
    first_error: Optional[NbcoreError] = None
    for i, (result, err) in enumerate(outcomes):
        if err is not None:
            first_error = first_error or err
            docs.append(_error_json(err))
            if not args.json:
                if count > 1:
                    print(f"request #{i + 1} failed:", file=sys.stderr)
                _print_error(err, False)
            continue
        files = []
        for im in result.images:
            path = next(paths)
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            files.append(im.save(path))
        written += files
        docs.append(_result_json(result, files))
        if not args.json:
            for path, im in zip(files, result.images):
                size = os.path.getsize(path)
                how = "" if size == len(im.data) else f", converted from the {im.mime} the server sent"
                print(f"wrote {path} ({im.width}x{im.height}, {size} bytes{how}) "
                      f"after {len(result.attempts)} attempt(s), ${result.cost_usd:.3f}")
            if result.text:
                print(f"model says: {result.text}")
    code = 0 if first_error is None else exit_code_for(first_error)
    if args.json:
        doc: Dict[str, Any] = {
            "ok": first_error is None, "exit_code": code, "files": written,
            "images": [im for d in docs if d["ok"] for im in d["images"]],
            "cost_usd": sum(d["cost_usd"] for d in docs if d["ok"]), "results": docs}
        if first_error is not None:
            doc.update({k: v for k, v in _error_json(first_error).items() if k not in ("ok", "exit_code")})
        print(json.dumps(doc), flush=True)
    return code


def cmd_generate(args: argparse.Namespace) -> int:
    if args.stage != "never":
        subjects = analyze_prompt(args.prompt, args.size).distinct_subjects
        if args.stage == "always" or subjects > 3:
            if args.image or args.n != 1:
                raise InvalidArgumentError(
                    "--stage plans one picture from the prompt alone: --image and -n do not apply",
                    advice="Drop --image and -n, or use --stage never.")
            if not (args.quiet or args.json):
                why = (f"{subjects} distinct subjects (more than 3)" if args.stage == "auto"
                       else "--stage always")
                print(f"staging the prompt ({why}): a background first, then one request per subject",
                      file=sys.stderr)
            scene_args = argparse.Namespace(**vars(args))
            scene_args.background, scene_args.plan, scene_args.element = None, args.prompt, None
            scene_args.cutout, scene_args.style, scene_args.grow, scene_args.feather = False, None, None, None
            scene_args.stages = None
            return cmd_scene(scene_args)
    images: List[bytes] = []
    for path in args.image or []:
        with open(path, "rb") as f:
            images.append(f.read())
    return _run_requests(args, args.prompt, images)


def cmd_edit(args: argparse.Namespace) -> int:
    if args.mask is not None:
        return _inpaint(args)
    images: List[bytes] = []
    for path in [args.input] + (args.image or []):
        with open(path, "rb") as f:
            images.append(f.read())
    return _run_requests(args, args.prompt, images)


def _inpaint(args: argparse.Namespace) -> int:
    """edit --mask: one inpaint request; the whole edited picture goes to -o."""
    if args.n != 1 or args.image or args.aspect:
        raise InvalidArgumentError(
            "--mask edits one image in one request: -n, --image and --aspect do not apply",
            advice="Drop -n, --image and --aspect; the crop's aspect ratio is chosen from the mask.")
    quiet = args.quiet or args.json
    printer = None if quiet else EventPrinter()
    client = Client(model=args.model, retry=args.retry, max_attempts=args.max_attempts,
                    deadline=args.deadline, on_event=printer, **_quota_args(args))
    with open(args.input, "rb") as f:
        image = f.read()
    with open(args.mask, "rb") as f:
        mask = f.read()
    result = client.inpaint(image, mask, args.prompt, image_size=args.size, seed=args.seed,
                            grow=args.grow, feather=args.feather)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    path = result.image.save(args.output)
    if args.json:
        print(json.dumps(_result_json(result, [path])), flush=True)
    else:
        im = result.image
        print(f"wrote {path} ({im.width}x{im.height}, {os.path.getsize(path)} bytes) "
              f"after {len(result.attempts)} attempt(s), ${result.cost_usd:.3f}")
    return 0


def _parse_element(spec: str, index: int) -> Dict[str, Any]:
    """"PROMPT@x,y,w,h[:cutout|:edit]" as an element dict (z: the order given)."""
    prompt, at, rest = spec.rpartition("@")
    mode = "edit"
    if ":" in rest:
        rest, _, mode = rest.partition(":")
    try:
        box = tuple(float(v) for v in rest.split(","))
    except ValueError:
        box = ()
    if not at or not prompt or len(box) != 4 or mode not in ("edit", "cutout"):
        raise InvalidArgumentError(
            f"--element {spec!r} is not PROMPT@x,y,w,h[:cutout]",
            advice='Give each element as "a red barn@0.1,0.4,0.35,0.4" (a box normalized 0..1), '
                   'with ":cutout" at the end to generate it alone and paste it in.')
    return {"prompt": prompt, "box": box, "z": 0, "mode": mode}


def _stage_json(st: Any, file: Optional[str]) -> Dict[str, Any]:
    d = {"index": st.index, "kind": st.kind, "prompt": st.prompt, "status": st.status, "file": file,
         "image_size": st.image_size, "placed": list(st.placed), "cost_usd": st.cost_usd,
         "attempts": [a.__dict__ for a in st.attempts]}
    if st.error is not None:
        d["error"] = _error_json(st.error)
    return d


def cmd_scene(args: argparse.Namespace) -> int:
    """A staged scene: background, then one request per element; writes what was done."""
    if (args.plan is None) == (args.background is None):
        raise InvalidArgumentError("give either BACKGROUND (with --element ...) or --plan PROMPT",
                                   advice='nbcore scene "a beach at dusk" --element "a red kite@0.6,0.1,0.2,0.2" '
                                          '-o beach.png, or nbcore scene --plan "a long prompt" -o out.png')
    if args.plan is not None and args.element:
        raise InvalidArgumentError("--plan makes its own elements; --element does not go with it",
                                   advice="Drop --element, or give BACKGROUND instead of --plan.")
    elements = [_parse_element(s, i) for i, s in enumerate(args.element or [])]
    quiet = args.quiet or args.json
    printer = None if quiet else EventPrinter()
    client = Client(model=args.model, retry=args.retry, max_attempts=args.max_attempts,
                    on_event=printer, **_quota_args(args))
    res = client.scene(args.background, elements, style=args.style, aspect_ratio=args.aspect,
                       image_size=args.size, model=args.model, plan=args.plan,
                       plan_mode="cutout" if args.cutout else "edit", grow=args.grow,
                       feather=args.feather, seed=args.seed, stage_deadline=args.deadline)
    stage_files: List[Optional[str]] = []
    if args.stages:
        os.makedirs(args.stages, exist_ok=True)
    for st in res.stages:
        path = None
        if args.stages and st.composite is not None:
            path = st.composite.save(os.path.join(args.stages, f"stage-{st.index:02d}-{st.kind}.png"))
        stage_files.append(path)
    out = None
    if res.image is not None:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        out = res.image.save(args.output)
    err = res.error
    code = 0 if err is None else exit_code_for(err)
    if args.json:
        doc: Dict[str, Any] = {
            "ok": err is None, "exit_code": code, "file": out, "complete": res.complete,
            "failed_stage": res.failed_stage, "total_stages": res.total_stages, "cost_usd": res.cost_usd,
            "stages": [_stage_json(st, f) for st, f in zip(res.stages, stage_files)]}
        if err is not None:
            doc.update({k: v for k, v in _error_json(err).items() if k not in ("ok", "exit_code")})
        print(json.dumps(doc), flush=True)
        return code
    for st, f in zip(res.stages, stage_files):
        where = f" -> {f}" if f else ""
        print(f"stage {st.index} {st.kind}: {st.status}, {len(st.attempts)} attempt(s), ${st.cost_usd:.3f}{where}")
    if out:
        w, h = res.image.width, res.image.height
        print(f"wrote {out} ({w}x{h}, {len(res.stages) - (err is not None)} of {res.total_stages} stages), "
              f"${res.cost_usd:.3f}")
    if err is not None:
        st = res.stages[res.failed_stage]
        kept = f"; stages 0-{st.index - 1} were kept" if st.index > 0 else ""
        print(f"stage {st.index} ({st.kind}) of {res.total_stages} failed{kept}", file=sys.stderr)
        _print_error(err, False)
    return code


def _quota_args(args: argparse.Namespace) -> Dict[str, Any]:
    """--tier / --rpm... / --budget-* / --state as Client keyword arguments."""
    limits = {k: getattr(args, k) for k in ("rpm", "tpm", "ipm", "rpd") if getattr(args, k) is not None}
    if limits and args.tier:
        raise InvalidArgumentError("--tier and --rpm/--tpm/--ipm/--rpd were both given",
                                   advice="Give a tier name, or your own limits, not both.")
    budget = {k: getattr(args, f"budget_{k}") for k in ("daily", "monthly", "total")
              if getattr(args, f"budget_{k}") is not None}
    return {"tier": limits or args.tier, "budget": budget or None,
            "state_path": None if args.state == "memory" else args.state,
            "state_fallback_share": args.state_fallback_share}


def fallback_share(text: str) -> float:
    """--state-fallback-share as NBCORE_STATE_FALLBACK_SHARE takes it: "0.25" or "1/4". The range
    is checked by the library, which names it."""
    num, slash, den = text.partition("/")
    try:
        return float(num) / float(den) if slash else float(num)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a share such as 0.25 or 1/4") from None


def add_quota_arguments(p: argparse.ArgumentParser) -> None:
    q = p.add_argument_group("quota and budget")
    q.add_argument("--tier", choices=["free", "tier1", "tier2", "tier3"],
                   help="the project's quota tier (default: limits learned from 429s)")
    for k, what in (("rpm", "requests per minute"), ("tpm", "input tokens per minute"),
                    ("ipm", "images per minute"), ("rpd", "requests per day")):
        q.add_argument(f"--{k}", type=int, metavar="N", help=f"your own limit: {what}")
    for k in ("daily", "monthly", "total"):
        q.add_argument(f"--budget-{k}", type=float, metavar="USD", help=f"{k} spending cap in US dollars")
    q.add_argument("--state", default=DEFAULT_STATE, metavar="PATH|URL",
                   help="state file shared with other runs and processes, or redis://host:port/db "
                        "(rediss://host:port/db?cacert=CA.pem for TLS) "
                        "shared with workers on other machines (default: $NBCORE_STATE, else the "
                        "file `nbcore usage` reads); 'memory' keeps nothing")
    q.add_argument("--state-fallback-share", type=fallback_share, metavar="SHARE",
                   help="with a redis:// --state: the share of each limit this worker uses while Redis "
                        "is unreachable, in (0, 1], e.g. 1/4 for four workers (default: "
                        "$NBCORE_STATE_FALLBACK_SHARE, else 1/4)")


def default_state_file() -> str:
    """Where nbcore.DEFAULT_STATE lives (the rule of nbcore.h's NBC_STATE_DEFAULT)."""
    env = os.environ.get("NBCORE_STATE_FILE")
    if env:
        return env
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "nbcore", "state.db")


def cmd_usage(args: argparse.Namespace) -> int:
    path = None if args.state == DEFAULT_STATE else args.state
    if path is None and os.environ.get("NBCORE_STATE"):
        path = os.environ["NBCORE_STATE"]
    if path is not None and path.startswith(("redis://", "rediss://")):
        if args.json:
            print(json.dumps(state_usage(path)))
        else:
            print(_nbcore.state_usage(path, 0), end="")
        return 0
    if path is not None and not os.path.exists(path):
        raise InvalidArgumentError(
            f"no state file at {path}",
            advice="Check the path given to --state; a state file is created by the first "
                   "`nbcore generate --state PATH` (or Client(state_path=PATH)) that uses it.")
    if path is None and not os.path.exists(default_state_file()):
        # Nothing has run with the default state file yet: an empty report, not an error.
        shown = default_state_file()
        if args.json:
            print(json.dumps({"state_path": shown, "exists": False, "keys": [], "caps": []}))
        else:
            print(f"no quota or spend recorded yet: {shown} does not exist (the first "
                  f"`nbcore generate` creates it)")
        return 0
    if args.json:
        print(json.dumps(state_usage(path)))
    else:
        print(_nbcore.state_usage(path, 0), end="")
    return 0


def cmd_simplify(args: argparse.Namespace) -> int:
    quiet = args.quiet or args.json
    client = Client(model=args.model, retry=args.retry, on_event=None if quiet else EventPrinter(),
                    **_quota_args(args))
    report = client.simplify(args.prompt, max_requests=args.max_requests, max_cost=args.max_cost,
                             aspect_ratio=args.aspect, image_size=args.size, deadline=args.deadline)
    if args.json:
        print(json.dumps({"found": report.found, "minimal_failing": report.minimal_failing,
                          "minimal_failing_prompt": report.minimal_failing_prompt,
                          "largest_working_prompt": report.largest_working_prompt,
                          "rounds_to_find": report.rounds_to_find, "stopped": report.stopped,
                          "cost_usd": report.cost_usd, "plan": report.plan,
                          "steps": [s.__dict__ for s in report.steps]}))
    else:
        print(str(report), end="")
    return 0 if report.found else EXIT_NOT_FOUND


def cmd_lint(args: argparse.Namespace) -> int:
    report = analyze_prompt(args.prompt, args.size)
    if args.json:
        print(json.dumps({"risk": report.risk, "reasons": report.reasons,
                          "distinct_subjects": report.distinct_subjects, "text_spans": report.text_spans,
                          "relations": report.relations, "styling": report.styling,
                          "requirements": report.requirements}))
    else:
        print(report.text, end="")
        if report.risk == "high":
            print("advice: reduce the prompt to its core subject and add the rest back one at a time, "
                  "or generate it in stages (a background, then each subject).")
    return EXIT_HIGH_RISK if args.strict and report.risk == "high" else 0


def cmd_check(args: argparse.Namespace) -> int:
    worst = 0
    rows = []
    for path in args.files:
        with open(path, "rb") as f:
            c = check_image(f.read())
        rows.append({"file": path, **c.__dict__})
        if not c.ok:
            worst = max(worst, EXIT_BASE + STATUS_NAMES.index(c.code))
        if not args.json:
            verdict = "ok" if c.ok else ("BLANK" if c.blank else "INVALID")
            detail = f"{c.width}x{c.height} {c.mime}" if c.width else c.mime or "unknown format"
            print(f"{path}: {verdict} ({detail}){': ' + c.reason if c.reason else ''}")
    if args.json:
        print(json.dumps(rows))
    return worst


def cmd_diagnose(args: argparse.Namespace) -> int:
    if args.file == "-":
        body = sys.stdin.buffer.read()
    else:
        with open(args.file, "rb") as f:
            body = f.read()
    headers = []
    for h in args.header or []:
        name, sep, value = h.partition(":")
        if not sep:
            _print_other_error("USAGE", f"--header {h!r} is not 'Name: value'",
                               "Write each header as --header 'Retry-After: 30'.", EXIT_USAGE, args.json)
            return EXIT_USAGE
        headers.append((name.strip(), value.strip()))
    d = diagnose(args.status, body, headers)
    if args.json:
        print(json.dumps(d.__dict__))
    else:
        print(f"class:      {d.code}" + (f" ({d.dimension})" if d.dimension else ""))
        if d.reason:
            print(f"reason:     {d.reason}")
        if d.message:
            print(f"message:    {d.message}")
        if d.retry_after is not None:
            print(f"retry in:   {d.retry_after:.1f} s")
        if d.safety_layer:
            print(f"safety:     layer {d.safety_layer} ({'configurable' if d.safety_layer == 1 else 'not configurable'})")
        print(f"retryable:  {'yes' if d.retryable else 'no'}")
        if d.advice:
            print(f"advice:     {d.advice}")
    return 0


class _BatchInputError(Exception):
    """A line of the batch file that cannot be submitted (reported with its line number)."""


def _read_batch_file(path: str, default_model: str) -> List[Dict[str, Any]]:
    """One {"key", "prompt", "aspect_ratio"?, "image_size"?, "model"?} object per line."""
    known = {"key", "prompt", "aspect_ratio", "image_size", "model"}
    entries: List[Dict[str, Any]] = []
    seen: Dict[str, int] = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path} line {n}"
            try:
                obj = json.loads(line)
            except ValueError as e:
                raise _BatchInputError(f"{where} is not JSON ({e}); write one JSON object per line") from None
            if not isinstance(obj, dict):
                raise _BatchInputError(f"{where} is not a JSON object; write {{\"key\": ..., \"prompt\": ...}}")
            extra = sorted(set(obj) - known)
            if extra:
                raise _BatchInputError(f"{where}: unknown field(s) {', '.join(extra)}; "
                                       f"use only {', '.join(sorted(known))}")
            key, prompt = obj.get("key"), obj.get("prompt")
            if not isinstance(key, str) or not key or key in (".", "..") or any(c in key for c in "/\\\0"):
                raise _BatchInputError(f"{where}: \"key\" must be a non-empty string usable as a directory "
                                       f"name (no '/', not '.' or '..'), got {key!r}")
            if key in seen:
                raise _BatchInputError(f"{where}: key {key!r} was already used on line {seen[key]}; "
                                       f"give every line its own key")
            if not isinstance(prompt, str) or not prompt.strip():
                raise _BatchInputError(f"{where}: \"prompt\" must be a non-empty string")
            for field in ("aspect_ratio", "image_size", "model"):
                if field in obj and obj[field] is not None and not isinstance(obj[field], str):
                    raise _BatchInputError(f"{where}: \"{field}\" must be a string")
            if obj.get("aspect_ratio") not in (None,) + ASPECT_RATIOS:
                raise _BatchInputError(f"{where}: aspect_ratio {obj['aspect_ratio']!r} is not one of "
                                       f"{', '.join(ASPECT_RATIOS)}")
            if obj.get("image_size") not in (None,) + IMAGE_SIZES:
                raise _BatchInputError(f"{where}: image_size {obj['image_size']!r} is not one of "
                                       f"{', '.join(IMAGE_SIZES)} (uppercase K)")
            seen[key] = n
            entries.append({"key": key, "prompt": prompt, "aspect_ratio": obj.get("aspect_ratio"),
                            "image_size": obj.get("image_size"), "model": obj.get("model") or default_model})
    if not entries:
        raise _BatchInputError(f"{path} holds no requests; write one JSON object per line")
    return entries


def _poll_until_done(bc: Any, name: str, first: float, quiet: bool) -> Any:
    """Polls in Python (so Ctrl-C works between polls): first, then 1.5x per poll up to 60 s."""
    import time

    delay, state = first, None
    while True:
        job = bc.get(name)
        if job.state != state and not quiet:
            counts = f" ({job.succeeded_count} answered, {job.failed_count} refused)" if job.done else ""
            print(f"{name}: {job.state}{counts}", file=sys.stderr, flush=True)
        state = job.state
        if job.done:
            return job
        time.sleep(delay)
        delay = min(max(60.0, first), delay * 1.5)


def cmd_batch(args: argparse.Namespace) -> int:
    from .batch import BatchClient, BatchRequest

    budget = {k: getattr(args, f"budget_{k}") for k in ("daily", "monthly", "total")
              if getattr(args, f"budget_{k}") is not None}
    bc = BatchClient(model=args.model, poll_initial=args.poll, budget=budget or None,
                     state_path=None if args.state == "memory" else args.state)
    names: List[str] = list(args.resume or [])
    if args.file:
        try:
            entries = _read_batch_file(args.file, args.model)
        except _BatchInputError as e:
            _print_other_error("USAGE", str(e), "", EXIT_USAGE, args.json)
            return EXIT_USAGE
        by_model: Dict[str, List[Dict[str, Any]]] = {}
        for e in entries:
            by_model.setdefault(e["model"], []).append(e)
        for model, group in by_model.items():   # a batch runs one model
            job = bc.submit([BatchRequest(**e) for e in group], display_name=args.name)
            names.append(job.name)
            if not args.quiet:
                how = "as a JSONL file" if job.file_input else "inline"
                print(f"submitted {job.name}: {len(group)} request(s) for {model}, {how}", file=sys.stderr, flush=True)
    if not names:
        _print_other_error("USAGE", "no requests: give a JSONL file of requests, or --resume BATCH_NAME",
                           "`nbcore batch requests.jsonl -o out/` submits; --resume collects a submitted batch.",
                           EXIT_USAGE, args.json)
        return EXIT_USAGE

    rows: List[Dict[str, Any]] = []
    worst = 0
    for name in names:
        try:
            job = _poll_until_done(bc, name, args.poll or 5.0, args.quiet)
        except KeyboardInterrupt:
            print(f"interrupted; {name} keeps running on the server. Collect it later with "
                  f"`nbcore batch --resume {name} -o {args.output}`.", file=sys.stderr)
            return EXIT_INTERRUPTED
        if job.error is not None:
            raise job.error
        for entry in bc.results(name):
            row: Dict[str, Any] = {"key": entry.key, "batch": name, "ok": entry.ok, "files": []}
            if entry.ok:
                folder = os.path.join(args.output, entry.key)
                os.makedirs(folder, exist_ok=True)
                for i, im in enumerate(entry.result.images):
                    path = os.path.join(folder, f"image{'' if i == 0 else '-' + str(i + 1)}{im.extension}")
                    row["files"].append(im.save(path))
                im = entry.result.images[0]
                row["detail"] = f"{im.width}x{im.height} {im.mime}"
            else:
                err = entry.error
                row.update(code=err.code, message=err.message, advice=err.advice, reason=err.reason)
                row["detail"] = err.code + (f" ({err.reason})" if err.reason else "")
                if not worst:
                    worst = exit_code_for(err)
            rows.append(row)

    if args.json:
        print(json.dumps(rows), flush=True)
        return worst
    width = max([len("key")] + [len(r["key"]) for r in rows])
    detail_width = max([len("result")] + [len(r["detail"]) for r in rows])
    print(f"{'key':<{width}}  {'result':<{detail_width}}  file / advice")
    for r in rows:
        where = r["files"][0] if r["ok"] else r.get("advice", "")
        print(f"{r['key']:<{width}}  {r['detail']:<{detail_width}}  {where}")
    ok = sum(1 for r in rows if r["ok"])
    print(f"{ok} of {len(rows)} request(s) produced images in {args.output}"
          + ("" if ok == len(rows) else "; failed ones list their advice above"))
    return worst


def emulator_path() -> str:
    """The bundled nbcore-emulator binary (installed inside the package), or one on PATH."""
    env = os.environ.get("NBCORE_EMULATOR")
    if env:
        return env
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bin", "nbcore-emulator")
    if os.path.exists(here):
        return here
    found = shutil.which("nbcore-emulator")
    if found:
        return found
    raise FileNotFoundError(
        "nbcore-emulator was not found inside the nbcore package or on PATH; reinstall nbcore "
        "(pip install .) or set NBCORE_EMULATOR to the binary's path")


def cmd_emulator(args: argparse.Namespace, rest: List[str]) -> int:
    path = emulator_path()
    os.execv(path, [path] + rest)
    return 1  # not reached


def _add_request_arguments(g: argparse.ArgumentParser, image_help: str) -> None:
    """The options generate and edit share."""
    g.add_argument("-o", "--output", default="out.png", help="output file (default out.png)")
    g.add_argument("--model", default=os.environ.get("NBCORE_MODEL", DEFAULT_MODEL),
                   help=f"model (default $NBCORE_MODEL, then {DEFAULT_MODEL})")
    g.add_argument("--aspect", choices=ASPECT_RATIOS, help="aspect ratio")
    g.add_argument("--size", choices=IMAGE_SIZES, help="image size (Pro only)")
    g.add_argument("--seed", type=int, help="seed (with -n, request i gets SEED + i)")
    g.add_argument("-n", type=int, default=1, metavar="N",
                   help="make N requests at once (default 1); images are numbered after the first")
    g.add_argument("--image", action="append", metavar="FILE", help=image_help)
    g.add_argument("--retry", default="interactive", choices=["interactive", "patient", "none"])
    g.add_argument("--max-attempts", type=int, metavar="N")
    g.add_argument("--deadline", type=float, metavar="SECONDS", help="total seconds per request")
    g.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    add_quota_arguments(g)


def build_parser() -> argparse.ArgumentParser:
    codes = ", ".join(f"{EXIT_BASE + i} {n}" for i, n in enumerate(STATUS_NAMES) if i)
    p = argparse.ArgumentParser(
        prog="nbcore", description="Dependable image generation with Gemini image models.",
        epilog=f"Exit codes: 0 ok, 1 other failure, 2 usage, 130 interrupted; {codes}. "
               "Every command but emulator takes --json.")
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="generate images from a prompt",
                       description="Generate images from PROMPT and write them to -o FILE (FILE-2.png, "
                                   "FILE-3.png ... for more than one).")
    g.add_argument("prompt")
    _add_request_arguments(g, "input image to draw from or edit (repeatable)")
    g.add_argument("--stage", choices=("never", "auto", "always"), default="never",
                   help="generate in stages (a background, then one request per subject, composited): "
                        "auto does so when the prompt has more than 3 distinct subjects")

    e = sub.add_parser("edit", help="edit an image as a prompt says",
                       description="Send IMAGE with PROMPT as an edit request and write the answer to -o FILE. "
                                   "With --mask, only where MASK is white changes (inpainting: a crop and a "
                                   "mask image are sent, the answer is composited back through the grown, "
                                   "feathered mask, and every pixel the mask does not reach is kept exactly).")
    e.add_argument("input", metavar="IMAGE", help="the image to edit")
    e.add_argument("prompt", help='how to change it, e.g. "make it night"')
    e.add_argument("--mask", metavar="MASK",
                   help="change only where MASK (an image of IMAGE's size; white change, black keep) is white")
    e.add_argument("--grow", type=int, metavar="PX", help="with --mask: grow the mask by PX (default 4)")
    e.add_argument("--feather", type=int, metavar="PX", help="with --mask: feather PX (default: auto)")
    _add_request_arguments(e, "another input image, e.g. a reference (repeatable)")

    sc = sub.add_parser(
        "scene", help="build a picture in stages: a background, then one request per element",
        description="Generate BACKGROUND, then each --element into its box, one request each "
                    "(docs/scenes-and-inpainting.md), or plan the stages from one prompt with --plan. "
                    "Writes the final image to -o FILE and, with --stages DIR, each stage's picture. When a "
                    "stage fails, what was done is written, the failed stage is named, and the exit code is "
                    "that stage's.")
    sc.add_argument("background", nargs="?", help="what the background stage draws")
    sc.add_argument("--element", action="append", metavar="PROMPT@x,y,w,h[:cutout]",
                    help="an element and its box, normalized 0..1 (repeatable; drawn in the order given); "
                         "':cutout' generates it alone and pastes it in")
    sc.add_argument("--plan", metavar="PROMPT", help="plan background and elements from one prompt instead")
    sc.add_argument("--cutout", action="store_true", help="with --plan: every element as a cutout")
    sc.add_argument("--style", help="style text added to every stage")
    sc.add_argument("--stages", metavar="DIR", help="also write each stage's picture to DIR")
    sc.add_argument("-o", "--output", default="out.png", help="output file (default out.png)")
    sc.add_argument("--model", default=os.environ.get("NBCORE_MODEL", DEFAULT_MODEL),
                    help=f"model (default $NBCORE_MODEL, then {DEFAULT_MODEL})")
    sc.add_argument("--aspect", choices=ASPECT_RATIOS, help="aspect ratio of the canvas")
    sc.add_argument("--size", choices=IMAGE_SIZES, help="image size of the background (Pro only)")
    sc.add_argument("--seed", type=int, help="seed sent with every stage")
    sc.add_argument("--grow", type=int, metavar="PX", help="edit stages: grow the box mask by PX (default 4)")
    sc.add_argument("--feather", type=int, metavar="PX", help="edit stages: feather PX (default: auto)")
    sc.add_argument("--retry", default="interactive", choices=["interactive", "patient", "none"])
    sc.add_argument("--max-attempts", type=int, metavar="N")
    sc.add_argument("--deadline", type=float, metavar="SECONDS", help="seconds per stage")
    sc.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    sc.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    add_quota_arguments(sc)

    u = sub.add_parser("usage", help="quota used against limits and spend against caps, from the state file")
    u.add_argument("--state", default=DEFAULT_STATE, metavar="PATH", help="state file (default: the default one)")
    u.add_argument("--json", action="store_true")

    sp = sub.add_parser("simplify", help="find which part of a prompt makes it come back blank",
                        description="After PROMPT came back blank or without an image: keep its core subject, "
                                    "add the other requirements back and binary-search for the minimal set "
                                    "that makes it fail, one generation per step, within --max-requests steps "
                                    "and --max-cost dollars (docs/prompt-analysis.md). Exit 4 when the search "
                                    "ended before finding it.")
    sp.add_argument("prompt")
    sp.add_argument("--max-requests", type=int, default=8, metavar="N", help="steps at most (default 8)")
    sp.add_argument("--max-cost", type=float, default=1.0, metavar="USD", help="worst-case spend at most (default 1.0)")
    sp.add_argument("--model", default=os.environ.get("NBCORE_MODEL", DEFAULT_MODEL))
    sp.add_argument("--aspect", choices=ASPECT_RATIOS)
    sp.add_argument("--size", choices=IMAGE_SIZES)
    sp.add_argument("--retry", default="interactive", choices=["interactive", "patient", "none"])
    sp.add_argument("--deadline", type=float, metavar="SECONDS", help="seconds per step")
    sp.add_argument("--json", action="store_true")
    sp.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    add_quota_arguments(sp)

    lp = sub.add_parser("lint", help="read a prompt before sending it: its subjects and the risk of a blank output",
                        description="Split PROMPT into its requirements (subjects, setting, text, relations, "
                                    "style, camera, lighting) and judge the risk of a blank output or a "
                                    "timeout, with the reasons (docs/prompt-analysis.md). Offline.")
    lp.add_argument("prompt")
    lp.add_argument("--size", choices=("1K", "2K", "4K"), help="the image size you will ask for (4K adds timeout risk)")
    lp.add_argument("--strict", action="store_true", help=f"exit {EXIT_HIGH_RISK} when the risk is high")
    lp.add_argument("--json", action="store_true")

    c = sub.add_parser("check", help="check image files: valid, corrupt or blank")
    c.add_argument("files", nargs="+")
    c.add_argument("--json", action="store_true")

    d = sub.add_parser("diagnose", help="classify an HTTP status and body (from a log, another SDK)")
    d.add_argument("--status", type=int, required=True, help="the HTTP status, e.g. 429")
    d.add_argument("file", help="file holding the response body, or - for standard input")
    d.add_argument("--header", action="append", help="a response header 'Name: value' (repeatable)")
    d.add_argument("--json", action="store_true")

    b = sub.add_parser(
        "batch", help="run a JSONL file of requests through the Batch API (half price, slower)",
        description="Submit one batch per model from FILE (one {\"key\", \"prompt\", \"aspect_ratio\"?, "
                    "\"image_size\"?, \"model\"?} object per line), wait for it, and write each key's images "
                    "to OUTPUT/KEY/. Exit code: 0 when every request produced images, else the code of "
                    "the first failure.")
    b.add_argument("file", nargs="?", help="JSONL file of requests")
    b.add_argument("-o", "--output", default="batch-out", help="output directory (default batch-out)")
    b.add_argument("--model", default=os.environ.get("NBCORE_MODEL", DEFAULT_MODEL),
                   help="model for lines that name none")
    b.add_argument("--name", help="the batch's display name")
    b.add_argument("--resume", action="append", metavar="BATCH_NAME",
                   help="collect an already submitted batch (batches/...) instead of, or as well as, FILE")
    b.add_argument("--poll", type=float, help="seconds before the first poll (default 5, growing to 60)")
    b.add_argument("--json", action="store_true", help="print one JSON list instead of the table")
    b.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    bq = b.add_argument_group("budget")
    for k in ("daily", "monthly", "total"):
        bq.add_argument(f"--budget-{k}", type=float, metavar="USD", help=f"{k} spending cap in US dollars")
    bq.add_argument("--state", default=DEFAULT_STATE, metavar="PATH",
                    help="state file holding the spend (default: the one `nbcore usage` reads); 'memory' keeps nothing")

    sub.add_parser("emulator", help="run the bundled Gemini-compatible emulator (see --help)",
                   add_help=False)
    return p


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {message}", file=sys.stderr)


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "emulator":
        try:
            return cmd_emulator(argparse.Namespace(), argv[1:])
        except FileNotFoundError as e:
            print(f"error: {e}", file=sys.stderr)
            return EXIT_OTHER
    args = build_parser().parse_args(argv)
    as_json = getattr(args, "json", False)
    warnings.showwarning = _show_warning   # "warning: ...", not a source line
    commands = {"generate": cmd_generate, "edit": cmd_edit, "scene": cmd_scene, "check": cmd_check, "usage": cmd_usage, "lint": cmd_lint,
                "simplify": cmd_simplify,
                "diagnose": cmd_diagnose, "batch": cmd_batch}
    try:
        return commands[args.command](args)
    except NbcoreError as err:
        _print_error(err, as_json)
        return exit_code_for(err)
    except OSError as err:
        where = f" ({err.filename})" if getattr(err, "filename", None) else ""
        _print_other_error("OS_ERROR", f"{err.strerror or err}{where}",
                           "Check the path and its permissions.", EXIT_OTHER, as_json)
        return EXIT_OTHER
    except KeyboardInterrupt:
        _print_other_error("INTERRUPTED", "interrupted; the request was cancelled", "", EXIT_INTERRUPTED,
                           as_json)
        return EXIT_INTERRUPTED
    except Exception as err:   # never a traceback: a bug is reported as one
        _print_other_error(type(err).__name__, str(err),
                           "This is a bug in nbcore; please report it with the command line you ran.",
                           EXIT_OTHER, as_json)
        return EXIT_OTHER
