"""Key safety (issue 9): an API key never appears in anything nbcore prints, raises, emits or writes.

Two keys, each assembled at run time so that no key-shaped literal sits in the repository: one
shaped like a real Google key ("AIza" + 35 characters), which redaction also recognises by its
shape, and a plain long one, which only redaction of the key nbcore was given can catch. With each
key the tests drive

  - the demo's commands (scripts/demo.sh without its install and build steps),
  - the command line: generate, edit, usage and diagnose, and every error path (the key refused,
    a 429, a safety block, a server that echoes the key back, a closed port, a key put into the
    base URL, bad arguments), in text and --json,
  - the Python API: generate, jobs and their progress, events, and exceptions (str, repr,
    every field, the attempts, pickling, the formatted traceback),
  - the C ABI through ctypes: nbc_error_message / advice / reason / api_status / route, each
    attempt's route and reason, and the events' texts,
  - the emulator's request log and its stderr,

and search every line of it, and every file written (images, JSON, the state database and its
-wal/-shm files), for the key and for any 12 characters in a row of it.

Also here: state files are created 0600 (directories 0700) whatever the umask.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import pickle
import socket
import stat
import subprocess
import sys
import traceback
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest

import nbcore
from conftest import REPO, Emulator, stop_emulator
from nbcore.batch import BatchClient, BatchRequest

WINDOW = 12   # this many characters of a key in a row count as a leak


def google_shaped_key() -> str:
    body = "SyNbcoreKeySafetyProbe0123456789abcdef"[:35]
    key = "AI" + "za" + body
    assert len(key) == 39
    return key


def plain_key() -> str:
    return "nbcore-plain-secret-" + "7f3a9c21e8b64d05"


KEYS = [pytest.param(google_shaped_key(), id="google-shaped-key"), pytest.param(plain_key(), id="plain-key")]


class Transcript:
    """Everything nbcore showed or wrote during a test, by where it came from."""

    def __init__(self, key: str):
        self.key = key
        self.windows = {key[i:i + WINDOW] for i in range(len(key) - WINDOW + 1)}
        self.texts: List[Tuple[str, str]] = []

    def add(self, where: str, text: Any) -> None:
        if isinstance(text, bytes):
            text = text.decode("latin-1")   # byte for byte: a key inside binary data still matches
        self.texts.append((where, text if isinstance(text, str) else repr(text)))

    def add_files(self, root: str) -> None:
        for folder, _, names in os.walk(root):
            for name in names:
                path = os.path.join(folder, name)
                with open(path, "rb") as f:
                    self.add(f"file {os.path.relpath(path, root)}", f.read())

    def leaks(self) -> List[str]:
        found = []
        for where, text in self.texts:
            hits = [w for w in self.windows if w in text]
            if hits:
                shown = text
                for w in hits:
                    shown = shown.replace(w, "<KEY PART>")   # the report itself stays clean
                found.append(f"{where}: {shown[:400]}")
        return found

    def assert_clean(self) -> None:
        assert len(self.texts) > 0
        leaks = self.leaks()
        assert not leaks, "the key leaked:\n" + "\n".join(leaks)


# ---- the emulator, holding the key only in its environment -----------------------------------

@contextlib.contextmanager
def emulator_for(key: str, workdir: str, transcript: Transcript, *args: str,
                 through_cli: bool = False) -> Iterator[Emulator]:
    """An emulator accepting `key`, given through NBCORE_EMULATOR_KEY (not its command line).
    On exit its request log and stderr go into the transcript."""
    from nbcore.cli import emulator_path

    command = ([sys.executable, "-m", "nbcore", "emulator"] if through_cli else [emulator_path()])
    stderr_path = os.path.join(workdir, "emulator.stderr")
    env = dict(os.environ, NBCORE_EMULATOR_KEY=key)
    with open(stderr_path, "w") as err:
        proc = subprocess.Popen([*command, "--port", "0", *args], stdout=subprocess.PIPE, stderr=err,
                                text=True, env=env, cwd=REPO)
    url = proc.stdout.readline().strip()
    if not url.startswith("http://"):
        proc.kill()
        raise RuntimeError(f"emulator did not start: {url!r}")
    emu = Emulator(proc, url)
    try:
        yield emu
        transcript.add("emulator request log", json.dumps(emu.requests()))
    finally:
        stop_emulator(emu)
        with open(stderr_path) as f:
            transcript.add("emulator stderr", f.read())


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    """Sets environment variables for a block (the C library reads them with getenv)."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# ---- the scenarios, shared by the command line, the Python API and the C ABI -----------------

def echoing_error(key: str) -> Dict[str, Any]:
    """A 400 from a server (a proxy, say) that quotes the key back in every field it has."""
    return {"status": 400, "body": {"error": {
        "code": 400, "message": f"API key {key} is not valid for this project", "status": "INVALID_ARGUMENT",
        "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": f"KEY_{key}",
                     "domain": "googleapis.com", "metadata": {"key": key, "service": f"x?key={key}"}},
                    {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US",
                     "message": f"Key {key} rejected"}]}}}


def echoing_gateway(key: str) -> Dict[str, Any]:
    return {"status": 502, "headers": {"Content-Type": "text/html"},
            "body_text": f"<html><body>502 Bad Gateway: upstream refused x-goog-api-key: {key}</body></html>"}


def echoing_quota(key: str) -> Dict[str, Any]:
    """A 429 whose quota failure names the key as its subject."""
    return {"status": 429, "body": {"error": {
        "code": 429, "message": f"Quota exceeded for key {key}", "status": "RESOURCE_EXHAUSTED",
        "details": [{"@type": "type.googleapis.com/google.rpc.QuotaFailure",
                     "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_requests",
                                     "quotaId": f"PerMinute-{key}", "subject": key}]},
                    {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0.1s"}]}}}


@dataclass(frozen=True)
class Scenario:
    replies: Callable[[str], List[Any]]   # the emulator's script, given the key
    expected: str                          # how the request ends: "OK" or the error's class
    base: Optional[str] = None             # None: the emulator's URL; else see base_url_for()
    attempts: int = 1


SCENARIOS: Dict[str, Scenario] = {
    "success": Scenario(lambda key: [], "OK"),
    "success after 503 and 429": Scenario(
        lambda key: ["503_overloaded", {"fault": "rpm_429", "retry_delay": "0.1s"}], "OK", attempts=3),
    "key refused (400 API_KEY_INVALID)": Scenario(lambda key: ["invalid_key"], "AUTH"),
    "key suspended (403)": Scenario(lambda key: ["suspended_key"], "AUTH"),
    "429 with RetryInfo": Scenario(lambda key: [{"fault": "rpm_429", "retry_delay": "0.1s"}], "RATE_LIMITED"),
    "prompt blocked": Scenario(lambda key: ["prompt_blocked_safety"], "BLOCKED_SAFETY"),
    "output blocked": Scenario(lambda key: ["image_safety"], "BLOCKED_POLICY"),
    "server echoes the key (JSON 400)": Scenario(lambda key: [echoing_error(key)], "BAD_REQUEST"),
    "server echoes the key (HTML 502)": Scenario(lambda key: [echoing_gateway(key)], "BAD_GATEWAY"),
    "server echoes the key (429)": Scenario(lambda key: [echoing_quota(key)], "RATE_LIMITED"),
    "network error (closed port)": Scenario(lambda key: [], "NETWORK", base="closed"),
    "key put into the base URL's query": Scenario(lambda key: [], "INVALID_ARG", base="key-in-query"),
    "key put into the base URL's user info": Scenario(lambda key: [], "INVALID_ARG", base="key-in-userinfo"),
}


def base_url_for(kind: Optional[str], emu: Emulator, key: str) -> str:
    """The emulator's URL (None), a closed port, or the emulator's URL carrying the key."""
    if kind is None:
        return emu.url
    if kind == "closed":
        return closed_port_url()
    if kind == "key-in-query":
        return f"{emu.url}/?key={key}"
    if kind == "key-in-userinfo":
        return emu.url.replace("http://", f"http://user:{key}@")
    raise ValueError(kind)


# ---- the demo --------------------------------------------------------------------------------

@pytest.mark.parametrize("key", KEYS)
def test_demo_never_shows_the_key(key, tmp_path):
    """scripts/demo.sh's own commands (it also installs and builds, which tests must not do): the
    bundled emulator through `nbcore emulator` with the demo's fault script, `nbcore generate`
    with a budget, then `nbcore usage` on the same state file."""
    seen = Transcript(key)
    work = str(tmp_path)
    env = dict(os.environ, GEMINI_API_KEY=key, NBCORE_STATE_FILE=os.path.join(work, "state.db"))
    env.pop("GOOGLE_API_KEY", None)
    with emulator_for(key, work, seen, "--latency-ms", "400", "--script", "scripts/demo-faults.json",
                      through_cli=True) as emu:
        env["GOOGLE_GEMINI_BASE_URL"] = emu.url
        for argv in (["generate", "a lighthouse on a cliff at dawn, oil painting", "-o",
                      os.path.join(work, "out", "demo.png"), "--budget-daily", "5"], ["usage"]):
            p = subprocess.run([sys.executable, "-m", "nbcore", *argv], capture_output=True, text=True,
                               env=env, timeout=120)
            assert p.returncode == 0, p.stderr
            seen.add(f"nbcore {argv[0]} stdout", p.stdout)
            seen.add(f"nbcore {argv[0]} stderr", p.stderr)
        assert "UNAVAILABLE" in seen.texts[1][1] and "RATE_LIMITED" in seen.texts[1][1]   # the demo's faults ran
    seen.add_files(work)
    seen.assert_clean()


# ---- the command line ------------------------------------------------------------------------

def exit_for(code: str) -> int:
    return 0 if code == "OK" else 10 + nbcore.STATUS_NAMES.index(code)


def run_cli(argv: List[str], env: Dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nbcore", *argv], capture_output=True, text=True, env=env,
                          timeout=60)


@pytest.mark.parametrize("key", KEYS)
def test_command_line_never_shows_the_key(key, tmp_path):
    seen = Transcript(key)
    work = str(tmp_path)
    env = dict(os.environ, GEMINI_API_KEY=key, NBCORE_STATE_FILE=os.path.join(work, "state.db"))
    env.pop("GOOGLE_API_KEY", None)

    def record(name: str, p: subprocess.CompletedProcess) -> None:
        seen.add(f"{name}: stdout", p.stdout)
        seen.add(f"{name}: stderr", p.stderr)

    with emulator_for(key, work, seen) as emu:
        for name, sc in SCENARIOS.items():
            for output in ("text", "json"):
                emu.script(sc.replies(key))
                run_env = dict(env, GOOGLE_GEMINI_BASE_URL=base_url_for(sc.base, emu, key))
                argv = ["generate", "a lighthouse", "-o", os.path.join(work, f"gen-{output}.png"), "--retry",
                        "none", "--max-attempts", str(sc.attempts)] + (["--json"] if output == "json" else [])
                p = run_cli(argv, run_env)
                record(f"generate, {name}, {output}", p)
                assert p.returncode == exit_for(sc.expected), (name, p.stdout, p.stderr)

        emu.script(["503_overloaded"])   # edit, with one retry on the way
        run_env = dict(env, GOOGLE_GEMINI_BASE_URL=emu.url)
        p = run_cli(["edit", os.path.join(work, "gen-text.png"), "make it night", "-o",
                     os.path.join(work, "edited.png")], run_env)
        record("edit", p)
        assert p.returncode == 0, p.stderr
        emu.script(["invalid_key"])
        p = run_cli(["edit", os.path.join(work, "gen-text.png"), "make it night", "-o",
                     os.path.join(work, "edited-2.png"), "--json"], run_env)
        record("edit, key refused", p)
        assert p.returncode == exit_for("AUTH")

        bad_arguments = [["generate", "x", "--size", "9K"], ["generate", "x", "-n", "0"],
                         ["edit", os.path.join(work, "missing.png"), "x"], ["generate"]]
        for argv in bad_arguments:
            p = run_cli(argv, run_env)
            record("bad arguments " + " ".join(argv), p)
            assert p.returncode != 0

        for argv in (["usage"], ["usage", "--json"]):
            p = run_cli(argv, run_env)
            record(" ".join(argv), p)
            assert p.returncode == 0, p.stderr

    # A reply body someone saved from another client, quoting the key: diagnose must not echo it.
    body = os.path.join(work, "reply-body.json")
    with open(body, "w") as f:
        json.dump(echoing_error(key)["body"], f)
    for extra in ([], ["--json"]):
        p = run_cli(["diagnose", "--status", "400", body, *extra], env)
        record("diagnose " + " ".join(extra), p)
        assert p.returncode == 0, p.stderr

    os.remove(body)   # the one file that holds the key on purpose
    seen.add_files(work)
    seen.assert_clean()


# ---- the Python API --------------------------------------------------------------------------

def exception_texts(err: BaseException) -> Dict[str, Any]:
    texts: Dict[str, Any] = {"str": str(err), "repr": repr(err), "args": err.args,
                             "traceback": "".join(traceback.format_exception(type(err), err, err.__traceback__)),
                             "pickled": pickle.dumps(err)}
    if isinstance(err, nbcore.NbcoreError):
        texts.update(message=err.message, advice=err.advice, reason=err.reason, api_status=err.api_status,
                     route=err.route, attempts=repr(err.attempts), fields=repr(vars(err)))
    return texts


@pytest.mark.parametrize("key", KEYS)
def test_python_api_never_shows_the_key(key, tmp_path):
    seen = Transcript(key)
    work = str(tmp_path)
    events: List[Dict[str, Any]] = []
    with emulator_for(key, work, seen, "--batch-ms", "200") as emu:
        def client(base: Optional[str] = None, **kw: Any) -> nbcore.Client:
            return nbcore.Client(api_key=key, base_url=base_url_for(base, emu, key), retry="none",
                                 on_event=events.append, deadline=30,
                                 state_path=os.path.join(work, "state.db"), **kw)

        for name, sc in SCENARIOS.items():
            emu.script(sc.replies(key))
            outcome = "OK"
            try:
                c = client(sc.base, max_attempts=sc.attempts)
                seen.add(f"{name}: repr(client)", repr(c))
                result = c.generate("a lighthouse", image_size="1K")
                seen.add(f"{name}: result", repr(result))
                seen.add(f"{name}: attempts", repr(result.attempts))
                result.images[0].save(os.path.join(work, "api.png"))
            except nbcore.NbcoreError as err:
                outcome = err.code
                for field, text in exception_texts(err).items():
                    seen.add(f"{name}: exception {field}", text)
            assert outcome == sc.expected, name

        # A job, watched while it runs, then read; usage from the same client.
        emu.script([{"fault": "rpm_429", "retry_delay": "0.2s"}])
        c = client(max_attempts=2)
        job = c.submit("a harbour at dusk", image_size="1K")
        while not job.wait(timeout=0.05):
            seen.add("job progress", repr(job.progress))
        seen.add("job", repr(job))
        seen.add("job result", repr(job.result()))
        seen.add("client usage", json.dumps(c.usage()))
        seen.add("client usage text", c.usage_text())
        seen.add("state usage", json.dumps(nbcore.state_usage(os.path.join(work, "state.db"))))

        # Routes: the key given per route, and the route objects themselves.
        route = nbcore.Route("custom", base_url=emu.url, api_key=key)
        seen.add("repr(Route)", repr(route))
        seen.add("str(Route)", str(route))
        emu.script(["invalid_key"])
        with pytest.raises(nbcore.AuthError) as info:
            nbcore.Client(routes=[route], retry="none", on_event=events.append).generate("a lighthouse")
        for field, text in exception_texts(info.value).items():
            seen.add(f"per-route key refused: exception {field}", text)

        # The Batch API: a finished batch with a blocked entry, a failed batch, an unknown one.
        bc = BatchClient(api_key=key, base_url=emu.url, model="gemini-2.5-flash-image", poll_initial=0.05,
                         poll_max=0.1, state_path=os.path.join(work, "state.db"))
        emu.script(["pass", "image_safety"])
        job = bc.wait(bc.submit([BatchRequest("kite", "a kite"), BatchRequest("boat", "a boat")]).name, deadline=30)
        seen.add("batch job", repr(job))
        for entry in bc.results(job.name):
            seen.add(f"batch entry {entry.key}", repr(entry))
            if entry.error is not None:
                for field, text in exception_texts(entry.error).items():
                    seen.add(f"batch entry {entry.key}: exception {field}", text)
        emu.script({"batches": ["failed"]})
        failed = bc.wait(bc.submit([BatchRequest("x", "y")]).name, deadline=30)
        seen.add("failed batch job", repr(failed))
        for what, call in (("results of a failed batch", lambda: bc.results(failed.name)),
                           ("an unknown batch", lambda: bc.get("batches/nothing"))):
            with pytest.raises(nbcore.NbcoreError) as info:
                call()
            for field, text in exception_texts(info.value).items():
                seen.add(f"{what}: exception {field}", text)

        # Both environment variables set: the warning names them, not their values.
        with warnings.catch_warnings(record=True) as caught, \
                environment(GOOGLE_API_KEY=key, GEMINI_API_KEY=key + "-other", GOOGLE_GEMINI_BASE_URL=emu.url):
            warnings.simplefilter("always")
            emu.script([])
            nbcore.Client(retry="none", on_event=events.append).generate("a lighthouse")
        assert caught
        for w in caught:
            seen.add("warning", str(w.message))

    assert len(events) > 20
    for ev in events:
        seen.add("event", repr(ev))
    seen.add_files(work)
    seen.assert_clean()


# ---- the C ABI, through ctypes ---------------------------------------------------------------

class NbcEvent(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("kind", ctypes.c_int32), ("attempt", ctypes.c_int32),
                ("outcome", ctypes.c_int32), ("http_status", ctypes.c_int32), ("server_delay_ms", ctypes.c_int64),
                ("delay_ms", ctypes.c_int64), ("elapsed_ms", ctypes.c_int64), ("reason", ctypes.c_char_p),
                ("message", ctypes.c_char_p), ("route", ctypes.c_char_p), ("image_size", ctypes.c_char_p),
                ("dimension", ctypes.c_int32), ("percent", ctypes.c_int32)]


EVENT_FN = ctypes.CFUNCTYPE(None, ctypes.POINTER(NbcEvent), ctypes.c_void_p)


class NbcClientOptionsV1(ctypes.Structure):
    """The first published layout of nbc_client_options (it ended at route_count); the ABI keeps
    serving it, so ctypes need not mirror the newer fields."""
    _fields_ = [("struct_size", ctypes.c_uint32), ("flags", ctypes.c_uint32), ("api_key", ctypes.c_char_p),
                ("base_url", ctypes.c_char_p), ("model", ctypes.c_char_p), ("retry_preset", ctypes.c_int32),
                ("max_attempts", ctypes.c_int32), ("retry", ctypes.c_void_p), ("deadline_ms", ctypes.c_int64),
                ("attempt_timeout_ms", ctypes.c_int64), ("idle_timeout_ms", ctypes.c_int64),
                ("on_event", EVENT_FN), ("event_payload", ctypes.c_void_p), ("routes", ctypes.c_void_p),
                ("route_count", ctypes.c_size_t)]


class NbcAttempt(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("number", ctypes.c_int32), ("outcome", ctypes.c_int32),
                ("http_status", ctypes.c_int32), ("server_delay_ms", ctypes.c_int64),
                ("chosen_delay_ms", ctypes.c_int64), ("duration_ms", ctypes.c_int64), ("route", ctypes.c_char_p),
                ("reason", ctypes.c_char_p), ("image_size", ctypes.c_char_p), ("execution", ctypes.c_int32)]


NBC_RETRY_NONE = 2
NBC_ERROR_TEXTS = ("message", "advice", "reason", "api_status", "route")


def load_libnbcore() -> ctypes.CDLL:
    lib = ctypes.CDLL(os.path.join(os.path.dirname(nbcore.__file__), "libnbcore.so.0"))
    vp = ctypes.c_void_p
    lib.nbc_client_new.argtypes = [ctypes.POINTER(vp), ctypes.POINTER(NbcClientOptionsV1)]
    lib.nbc_client_free.argtypes = [vp]
    lib.nbc_request_new.argtypes = [ctypes.POINTER(vp), ctypes.c_char_p]
    lib.nbc_request_free.argtypes = [vp]
    lib.nbc_request_set_aspect_ratio.argtypes = [vp, ctypes.c_char_p]
    lib.nbc_generate.argtypes = [ctypes.POINTER(vp), vp, vp]
    lib.nbc_result_free.argtypes = [vp]
    for text in NBC_ERROR_TEXTS:
        fn = getattr(lib, f"nbc_error_{text}")
        fn.argtypes, fn.restype = [vp], ctypes.c_char_p
    lib.nbc_error_attempt_count.argtypes = [vp]
    lib.nbc_error_attempt.argtypes = [ctypes.POINTER(NbcAttempt), vp, ctypes.c_int]
    lib.nbc_diagnose.argtypes = [ctypes.POINTER(vp), ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p]
    lib.nbc_error_free.argtypes = [vp]
    lib.nbc_status_name.argtypes, lib.nbc_status_name.restype = [ctypes.c_int], ctypes.c_char_p
    return lib


def c_error_texts(lib: ctypes.CDLL, err: Optional[int]) -> Dict[str, str]:
    """Every text of an error object (None: the thread's last error), attempts included."""
    texts = {name: (getattr(lib, f"nbc_error_{name}")(err) or b"").decode() for name in NBC_ERROR_TEXTS}
    for i in range(lib.nbc_error_attempt_count(err)):
        a = NbcAttempt(struct_size=ctypes.sizeof(NbcAttempt))
        assert lib.nbc_error_attempt(ctypes.byref(a), err, i) == 0
        texts[f"attempt {i + 1}"] = f"{(a.route or b'').decode()} {(a.reason or b'').decode()}"
    return texts


@pytest.mark.parametrize("key", KEYS)
def test_c_abi_never_shows_the_key(key, tmp_path):
    seen = Transcript(key)
    lib = load_libnbcore()
    event_texts: List[str] = []

    @EVENT_FN
    def on_event(ev, _payload):
        e = ev.contents
        event_texts.append(" | ".join((getattr(e, f) or b"").decode() for f in ("reason", "message", "route")))

    with emulator_for(key, str(tmp_path), seen) as emu:
        for name, sc in SCENARIOS.items():
            emu.script(sc.replies(key))
            opts = NbcClientOptionsV1(struct_size=ctypes.sizeof(NbcClientOptionsV1), api_key=key.encode(),
                                      base_url=base_url_for(sc.base, emu, key).encode(),
                                      retry_preset=NBC_RETRY_NONE, max_attempts=sc.attempts,
                                      deadline_ms=30000, on_event=on_event)
            client, request, result = ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_void_p()
            rc = lib.nbc_client_new(ctypes.byref(client), ctypes.byref(opts))
            if rc == 0:
                assert lib.nbc_request_new(ctypes.byref(request), b"a lighthouse") == 0
                rc = lib.nbc_generate(ctypes.byref(result), client, request)
                lib.nbc_result_free(result)
                if rc != 0:
                    for field, text in c_error_texts(lib, None).items():
                        seen.add(f"{name}: nbc_error_{field}", text)
                # A bad argument on a live client: its error names the argument, never the key.
                assert lib.nbc_request_set_aspect_ratio(request, b"16:10") != 0
                for field, text in c_error_texts(lib, None).items():
                    seen.add(f"{name}: bad argument: nbc_error_{field}", text)
                lib.nbc_request_free(request)
                lib.nbc_client_free(client)
            else:
                for field, text in c_error_texts(lib, None).items():
                    seen.add(f"{name}: nbc_client_new: nbc_error_{field}", text)
            assert lib.nbc_status_name(rc).decode() == sc.expected, name

    # nbc_diagnose is given no key: it redacts the environment's keys (and what looks like a key).
    body = json.dumps(echoing_error(key)["body"]).encode()
    with environment(GEMINI_API_KEY=key):
        err = ctypes.c_void_p()
        assert lib.nbc_diagnose(ctypes.byref(err), 400, body, len(body), None) == 0
        for field, text in c_error_texts(lib, err).items():
            seen.add(f"nbc_diagnose: nbc_error_{field}", text)
        lib.nbc_error_free(err)

    assert len(event_texts) > 20
    for text in event_texts:
        seen.add("event", text)
    seen.assert_clean()


# ---- state files -----------------------------------------------------------------------------

@contextlib.contextmanager
def process_umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077], ids=["umask-000", "umask-022", "umask-077"])
def test_state_files_are_private_whatever_the_umask(umask, tmp_path):
    """The SQLite state store and every file SQLite adds beside it (-wal, -shm, a -journal) are
    0600, the directories it creates 0700, and none of them holds the key. Checked while the
    client is open: SQLite removes its -wal and -shm files when the last connection closes."""
    key = google_shaped_key()
    seen = Transcript(key)
    state = tmp_path / "new" / "nested" / "state.db"
    with emulator_for(key, str(tmp_path), seen) as emu:
        with process_umask(umask):
            client = nbcore.Client(api_key=key, base_url=emu.url, retry="none", state_path=str(state),
                                   budget={"daily": 5.0})
            client.generate("a lighthouse", image_size="1K")
        files = sorted(f for f in os.listdir(state.parent) if f.startswith("state.db"))
        assert "state.db" in files and "state.db-wal" in files and "state.db-shm" in files
        for name in files:
            assert stat.S_IMODE(os.stat(state.parent / name).st_mode) == 0o600, name
        for folder in (state.parent, state.parent.parent):
            assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700, folder
        seen.add_files(str(state.parent))
        del client
    seen.assert_clean()
