#!/usr/bin/env python3
"""Side by side: nbcore (C++ and Python) against Google's official SDKs (google-genai for Python,
@google/genai for JavaScript), with the SDKs' retry options switched on, running the same scripted
workloads against one nbcore-emulator on loopback. Prints one table with ratios to nbcore C++.

    bench/compare.sh [--quick]          installs what it needs, builds, then runs this
    .venv/bin/python bench/compare.py --emulator build/emulator/nbcore-emulator \\
        --cxx build/bench/bench_compare_nbcore [--quick] [--workloads a,c] [--clients cxx,genai-js]

Workloads (bench/README.md has the method and one run's figures):
  a  receive and decode --receive-n 4K answers one after the other: client CPU time, peak RSS
  b  a burst of 3N requests against RPM = N: makespan, and how many 429s the server sent
  c  a quota 429 carrying RetryInfo 5 s (early retries refused too): time to success
  d  a 30% mix of retryable faults, a 2-minute deadline: share of requests that succeed
  e  hundreds of requests in flight against 2 s of latency: in flight per CPU core, per MB RSS

Each client's run of each workload is a process of its own; its CPU time and peak RSS are read
with wait4() when it ends. The emulator's quota and script are set over its control routes
before each run, and its request log is read after it (the 429s, arrivals, faults counted there
are the server's view, the same for every client). Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
PRO = "gemini-3-pro-image-preview"
FLASH = "gemini-2.5-flash-image"
RECEIVE_PROMPT = "a harbour at dusk, oil painting"
PROMPT = "a lighthouse on a cliff"

CLIENTS = [
    ("cxx", "nbcore C++"),
    ("nbcore-py", "nbcore Python"),
    ("genai-py", "google-genai (Python)"),
    ("genai-js", "@google/genai (JS)"),
]
# Retryable faults for (d): what a client with retries switched on is meant to ride out.
MIX_FAULTS = ["500", "502_html", "503_overloaded", "504", "rpm_429:5", "empty_reply", "reset_connection"]


# ------------------------------------------------------------------------------------ emulator

class Emulator:
    """nbcore-emulator on loopback, any key valid (each key its own quota pool).

    --grain 2 makes the images photo-like in size (a 1K Flash PNG of about 2 MB; a 4K Pro JPEG of
    about 0.8 MB). --no-gzip: compressing a 2.7 MB answer costs the emulator about 0.25 s of CPU
    here, which on a 2-core machine would make the server, not the clients, what a run measures;
    base64 image data shrinks by only about a quarter anyway.
    """

    def __init__(self, path: str, log_path: str, threads: int) -> None:
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [path, "--host", "127.0.0.1", "--port", "0", "--key", "", "--threads", str(threads), "--grain", "2",
             "--no-gzip"],
            stdout=subprocess.PIPE, stderr=self.log, start_new_session=True)
        line = self.proc.stdout.readline().decode().strip()
        if not line.startswith("http://"):
            raise RuntimeError(f"nbcore-emulator did not start (printed {line!r}); see {log_path}")
        self.url = line

    def call(self, method: str, route: str, body=None):
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        req = urllib.request.Request(self.url + route, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"{method} {route}: {e.code} {e.read()[:300]!r}") from None

    def reset(self) -> None:
        self.call("POST", "/_emulator/reset", b"")

    def quota(self, **limits) -> None:
        self.call("POST", "/_emulator/quota", limits)

    def script(self, script) -> None:
        self.call("POST", "/_emulator/script", script)

    def requests(self) -> list:
        return self.call("GET", "/_emulator/requests")

    def generate(self, key: str, model: str, prompt: str, image_config=None) -> int:
        """One request of the driver's own (warm-up, quota priming): the HTTP status."""
        body = {"contents": [{"parts": [{"text": prompt}]}],
                "generationConfig": {"responseModalities": ["TEXT", "IMAGE"]}}
        if image_config:
            body["generationConfig"]["imageConfig"] = image_config
        req = urllib.request.Request(f"{self.url}/v1beta/models/{model}:generateContent",
                                     data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "x-goog-api-key": key})
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                r.read()
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def prompt_of(entry) -> str:
    try:
        return entry["body"]["contents"][0]["parts"][0]["text"]
    except (KeyError, IndexError, TypeError):
        return ""


# -------------------------------------------------------------------------------------- workers

class Runner:
    def __init__(self, opts) -> None:
        self.opts = opts
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE_", "GEMINI_"))}
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        self.env = env

    def command(self, client: str, args: list) -> list:
        if client == "cxx":
            return [self.opts.cxx] + args
        if client in ("nbcore-py", "genai-py"):
            return [self.opts.python, os.path.join(BENCH, "compare_worker.py"), "--client", client] + args
        return [self.opts.node, os.path.join(BENCH, "compare_worker.mjs")] + args

    def run(self, client: str, args: list, timeout: float) -> dict:
        """Runs one worker; its JSON plus the CPU time and peak RSS wait4() reports, or an error."""
        cmd = self.command(client, args)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            try:
                p = subprocess.Popen(cmd, stdout=out, stderr=err, env=self.env, start_new_session=True)
            except OSError as e:
                return {"error": f"could not start: {e}"}
            expired = threading.Event()

            def kill() -> None:
                expired.set()
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

            timer = threading.Timer(timeout, kill)
            timer.start()
            try:
                _, status, ru = os.wait4(p.pid, 0)
            finally:
                timer.cancel()
            p.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0)
            err.seek(0)
            stdout = out.read().decode(errors="replace")
            stderr = err.read().decode(errors="replace")
        result = None
        for line in reversed(stdout.strip().splitlines()):
            if line.startswith("{"):
                try:
                    result = json.loads(line)
                except ValueError:
                    pass
                break
        last_err = (stderr.strip().splitlines() or [""])[-1][:200]
        if expired.is_set():
            return {"error": f"timed out after {timeout:.0f} s"}
        if result is None or p.returncode != 0:
            return {"error": f"exit {p.returncode}: {last_err or 'no result printed'}"}
        result["child_cpu_s"] = ru.ru_utime + ru.ru_stime
        result["peak_rss_mb"] = ru.ru_maxrss / 1024.0
        result["workload_cpu_s"] = result["child_cpu_s"] - result["cpu_before_s"]
        return result


def common_args(w: str, url: str, key: str, n: int, model: str = FLASH, prompt: str = PROMPT) -> list:
    return ["--workload", w, "--url", url, "--key", key, "--n", str(n), "--model", model, "--prompt", prompt,
            "--attempts", "10"]


def key_for(client: str, what: str) -> str:
    return f"bench-{what}-{client}-{os.getpid()}"


# ------------------------------------------------------------------------------------ workloads

def run_receive(emu: Emulator, runner: Runner, clients: list, p: dict) -> dict:
    out = {}
    for cid in clients:
        emu.reset()
        args = common_args("receive", emu.url, key_for(cid, "a"), p["receive_n"], PRO, RECEIVE_PROMPT) + [
            "--size", "4K", "--aspect", "16:9"]
        r = runner.run(cid, args, timeout=120 + p["receive_n"] * 12)
        if "error" not in r:
            log = emu.requests()
            r["server_requests"] = len(log)
        out[cid] = r
        progress("a", cid, r)
    return out


def run_burst(emu: Emulator, runner: Runner, clients: list, p: dict) -> dict:
    out = {}
    n, rpm = p["burst_n"], p["rpm"]
    for cid in clients:
        emu.reset()
        emu.quota(rpm=rpm)
        args = common_args("burst", emu.url, key_for(cid, "b"), n) + ["--rpm", str(rpm)]
        r = runner.run(cid, args, timeout=600)
        log = emu.requests()
        emu.quota(rpm=0)
        if "error" not in r:
            r["server_429s"] = sum(1 for e in log if e.get("status") == 429)
            r["server_requests"] = len(log)
        out[cid] = r
        progress("b", cid, r)
    return out


def run_retryinfo(emu: Emulator, runner: Runner, clients: list, p: dict) -> dict:
    """A 429 whose RetryInfo says 5 s, from the emulator's enforced quota, so that a retry sent
    before those 5 s are over is refused again, as the real API refuses it.

    The emulator enforces RPM = 1. Each run has a key of its own; the driver spends that key's
    minute with one request, and 55 s later the client sends its request: the answer is the
    quota 429 with RetryInfo = the time left in that minute (5.0 s, give or take the few
    milliseconds a process takes to wake). Obeying RetryInfo gets through on the first retry;
    a retry on a schedule of its own costs more 429s (each a refused request) and whatever time
    the schedule wastes. Runs are 16 s apart, clients in turn, --retryinfo-runs rounds.
    """
    lead, spacing = 55.0, 16.0
    slots = [(rep, cid) for rep in range(p["retryinfo_runs"]) for cid in clients]
    emu.reset()
    emu.quota(rpm=1)
    start = time.time() + 1.0
    primes: dict = {}

    def primer() -> None:
        for k, (rep, cid) in enumerate(slots):
            delay = start + k * spacing - time.time()
            if delay > 0:
                time.sleep(delay)
            sent = time.time()
            primes[k] = (sent, emu.generate(key_for(cid, f"c{rep}"), FLASH, f"prime {cid} {rep}"))

    thread = threading.Thread(target=primer, daemon=True)
    thread.start()
    runs: dict = {cid: [] for cid in clients}
    for k, (rep, cid) in enumerate(slots):
        while k not in primes:
            time.sleep(0.02)
        sent, status = primes[k]
        go = sent + lead
        prompt = f"retryinfo {cid} {rep}"
        if status != 200:
            r = {"error": f"the quota could not be primed (status {status})"}
        elif time.time() > go - 1.0:
            r = {"error": "the previous run overran this run's start"}
        else:
            args = common_args("retryinfo", emu.url, key_for(cid, f"c{rep}"), 1, FLASH, prompt) + [
                "--go", f"{go:.3f}"]
            r = runner.run(cid, args, timeout=go - time.time() + 120)
        if "error" not in r:
            log = emu.requests()
            mine = sorted((e for e in log if prompt_of(e) == prompt), key=lambda e: e["arrival_ms"])
            prime = next((e for e in log if prompt_of(e) == f"prime {cid} {rep}"), None)
            if prime is None or not mine or mine[0].get("status") != 429:
                r["error"] = "the first request was not refused by the quota (it came too late)"
            else:
                first = mine[0]["arrival_ms"]
                ok = next((e for e in mine if e.get("status") == 200), None)
                r["retryinfo_s"] = round((prime["arrival_ms"] + 60000 - first) / 1000.0, 3)
                r["attempts"] = len(mine)
                r["extra_429s"] = sum(1 for e in mine[1:] if e.get("status") == 429)
                if ok is not None:
                    r["wait_s"] = round((ok["arrival_ms"] - first) / 1000.0, 3)
                else:
                    r["error"] = "no request succeeded" + (f": {first_error(r)}" if r.get("errors") else "")
        runs[cid].append(r)
        progress("c", cid, r)
    emu.quota(rpm=0)
    return {cid: summarize_runs(rs) for cid, rs in runs.items()}


def summarize_runs(rs: list) -> dict:
    """Several runs of (c) as one result: the median wait, every 429, every error."""
    good = [r for r in rs if "error" not in r]
    if not good:
        return {"error": "; ".join(sorted({r["error"] for r in rs})), "runs": rs}
    med = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    out = {
        "ok": len(good), "failed": len(rs) - len(good),
        "errors": {r["error"]: 1 for r in rs if "error" in r},
        "wait_s": med([r["wait_s"] for r in good]), "waits_s": [r["wait_s"] for r in good],
        "retryinfos_s": [r["retryinfo_s"] for r in good],
        "extra_429s": sum(r["extra_429s"] for r in good), "attempts": sum(r["attempts"] for r in good),
        "wall_s": med([r["wall_s"] for r in good]), "workload_cpu_s": med([r["workload_cpu_s"] for r in good]),
        "cpu_before_s": med([r["cpu_before_s"] for r in good]),
        "rss_start_mb": med([r["rss_start_mb"] for r in good]), "peak_rss_mb": max(r["peak_rss_mb"] for r in good),
        "settings": good[0].get("settings"), "runs": rs,
    }
    return out


def run_mix(emu: Emulator, runner: Runner, clients: list, p: dict) -> dict:
    out = {}
    for cid in clients:
        emu.reset()
        emu.script({"replies": [], "then": "pass",
                    "mix": {"probability": 0.3, "faults": MIX_FAULTS, "seed": 20240}})
        args = common_args("mix", emu.url, key_for(cid, "d"), p["mix_n"]) + ["--deadline-s", "120"]
        r = runner.run(cid, args, timeout=240)
        if "error" not in r:
            log = emu.requests()
            r["server_requests"] = len(log)
            r["faults_served"] = sum(1 for e in log if e.get("fault") not in ("pass", None))
        out[cid] = r
        progress("d", cid, r)
    emu.reset()
    return out


def peak_in_flight(arrivals_ms: list, hold_ms: float) -> int:
    """The most requests that arrived within any hold_ms: each is held at least that long by the
    server, so all of them were in flight at once (a lower bound of the true peak)."""
    arrivals = sorted(arrivals_ms)
    best, lo = 0, 0
    for hi, t in enumerate(arrivals):
        while arrivals[lo] <= t - hold_ms:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def run_inflight(emu: Emulator, runner: Runner, clients: list, p: dict) -> dict:
    out = {}
    n, latency = p["inflight_n"], 2000
    for cid in clients:
        emu.reset()
        emu.script({"replies": [{"delay_ms": latency}], "then": "repeat_last"})
        args = common_args("inflight", emu.url, key_for(cid, "e"), n)
        r = runner.run(cid, args, timeout=300)
        if "error" not in r:
            log = emu.requests()
            r["server_requests"] = len(log)
            r["peak_in_flight"] = peak_in_flight([e["arrival_ms"] for e in log], latency)
            cores = r["workload_cpu_s"] / max(r["wall_s"], 1e-9)
            r["cores"] = cores
            r["per_core"] = r["peak_in_flight"] / max(cores, 1e-9)
            r["per_mb"] = r["peak_in_flight"] / max(r["peak_rss_mb"], 1e-9)
        out[cid] = r
        progress("e", cid, r)
    emu.reset()
    return out


# ---------------------------------------------------------------------------------------- table

def first_error(r: dict) -> str:
    errs = r.get("errors") or {}
    if not errs:
        return ""
    k = max(errs, key=errs.get)
    return f"{errs[k]}x {k}"


def progress(w: str, cid: str, r: dict) -> None:
    name = dict(CLIENTS)[cid]
    if "error" in r:
        print(f"  ({w}) {name}: failed: {r['error']}", flush=True)
        return
    extra = ""
    if r.get("failed"):
        extra = f", {r['failed']} failed ({first_error(r)})"
    print(f"  ({w}) {name}: {r['ok']}/{r['ok'] + r['failed']} ok in {r['wall_s']:.1f} s, "
          f"CPU {r['workload_cpu_s']:.2f} s, peak RSS {r['peak_rss_mb']:.0f} MB{extra}", flush=True)


def fmt_ratio(value, base, higher_better=False) -> str:
    if value is None or base is None or base == 0:
        return ""
    return f" ({value / base:.2f}x)"


def build_rows(res: dict, clients: list, p: dict) -> list:
    """[(label, {cid: cell})] for every metric, each cell 'value (ratio to nbcore C++)'."""
    rows = []
    notes = []

    def note(text: str) -> str:
        if text not in notes:
            notes.append(text)
        return f"failed [{notes.index(text) + 1}]"

    def failed(r) -> str | None:
        if r is None:
            return "not run"
        if "error" in r:
            return note(r["error"])
        return None

    def metric(label, w, value, fmt, partial_ok=True, show_ratio=True):
        cells = {}
        base_r = res.get(w, {}).get("cxx")
        base = value(base_r) if base_r and "error" not in base_r else None
        for cid in clients:
            r = res.get(w, {}).get(cid)
            f = failed(r)
            if f:
                cells[cid] = f
                continue
            v = value(r)
            if v is None:
                cells[cid] = note(first_error(r) or "no figure")
                continue
            text = fmt(v)
            if show_ratio:
                text += fmt_ratio(v, base)
            total = r["ok"] + r["failed"]
            if partial_ok and r["failed"]:
                text += f", {r['ok']}/{total} ok"
            cells[cid] = text
        rows.append((label, cells))

    if "a" in res:
        metric(f"(a) {p['receive_n']} 4K answers: CPU s", "a", lambda r: r["workload_cpu_s"], lambda v: f"{v:.1f} s")
        metric("(a) ... of it decoding pixels", "a", lambda r: r["decode_cpu_s"], lambda v: f"{v:.1f} s",
               partial_ok=False)
        metric("(a) ... peak RSS", "a", lambda r: r["peak_rss_mb"], lambda v: f"{v:.0f} MB", partial_ok=False)
    if "b" in res:
        metric(f"(b) {p['burst_n']} at RPM {p['rpm']}: makespan", "b", lambda r: r["wall_s"], lambda v: f"{v:.1f} s")
        metric("(b) ... 429s the server sent", "b", lambda r: r["server_429s"], lambda v: f"{v}",
               partial_ok=False, show_ratio=False)
    if "c" in res:
        runs = p["retryinfo_runs"]
        metric(f"(c) RetryInfo 5 s: 429 -> success{' (median)' if runs > 1 else ''}", "c",
               lambda r: r.get("wait_s"), lambda v: f"{v:.2f} s")
        metric(f"(c) ... 429s after the first{f' ({runs} runs)' if runs > 1 else ''}", "c",
               lambda r: r.get("extra_429s"), lambda v: f"{v}", partial_ok=False, show_ratio=False)
    if "d" in res:
        metric("(d) 30% faults, 2 min: success", "d", lambda r: r["ok"] / max(r["ok"] + r["failed"], 1),
               lambda v: f"{v * 100:.0f}%", partial_ok=False)
    if "e" in res:
        metric(f"(e) {p['inflight_n']} at once: in flight", "e", lambda r: r["peak_in_flight"], lambda v: f"{v}",
               partial_ok=True)
        metric("(e) ... in flight per CPU core", "e", lambda r: r["per_core"], lambda v: f"{v:.0f}",
               partial_ok=False)
        metric("(e) ... in flight per MB RSS", "e", lambda r: r["per_mb"], lambda v: f"{v:.2f}", partial_ok=False)
    return rows, notes


def print_table(rows, notes, clients) -> None:
    names = dict(CLIENTS)
    label_w = max(len(r[0]) for r in rows) if rows else 10
    col_w = {cid: max([len(names[cid])] + [len(cells.get(cid, "")) for _, cells in rows]) for cid in clients}
    header = "metric".ljust(label_w) + "  " + "  ".join(names[c].ljust(col_w[c]) for c in clients)
    print(header)
    print("-" * len(header))
    for label, cells in rows:
        print(label.ljust(label_w) + "  " + "  ".join(cells.get(c, "").ljust(col_w[c]) for c in clients))
    if notes:
        print()
        for i, n in enumerate(notes, 1):
            print(f"[{i}] {n}")


def print_details(res: dict, clients: list) -> None:
    names = dict(CLIENTS)
    print("\ndetails")
    for w in sorted(res):
        for cid in clients:
            r = res[w].get(cid)
            if not r or "error" in r:
                continue
            bits = [f"ok {r['ok']}/{r['ok'] + r['failed']}", f"wall {r['wall_s']:.2f} s",
                    f"CPU {r['workload_cpu_s']:.2f} s (startup {r['cpu_before_s']:.2f} s)",
                    f"RSS {r['rss_start_mb']:.0f} MB at start, {r['peak_rss_mb']:.0f} MB peak"]
            if w == "a":
                bits.append(f"image bytes {r['image_bytes'] / max(r['ok'], 1) / 1e6:.2f} MB each")
            if "server_requests" in r:
                bits.append(f"{r['server_requests']} requests reached the server")
            if w == "c":
                bits.append(f"{r['attempts']} attempts; waits {', '.join(f'{x:.2f}' for x in r['waits_s'])} s "
                            f"after RetryInfo {', '.join(f'{x:.2f}' for x in r['retryinfos_s'])} s")
            if w == "d":
                bits.append(f"{r['faults_served']} faults served")
            if w == "e":
                bits.append(f"peak in flight {r['peak_in_flight']}, {r['cores']:.2f} cores")
            if r.get("failed"):
                bits.append("errors: " + "; ".join(f"{v}x {k}" for k, v in r["errors"].items()))
            print(f"  ({w}) {names[cid]}: " + ", ".join(bits))


# ----------------------------------------------------------------------------------------- main

def versions(opts) -> dict:
    def out(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout.strip()
        except OSError:
            return ""
    v = {"python": platform.python_version(), "node": out([opts.node, "--version"])}
    v["google-genai"] = out([opts.python, "-c", "import google.genai as g; print(g.__version__)"])
    v["Pillow"] = out([opts.python, "-c", "import PIL; print(PIL.__version__)"])
    try:
        with open(os.path.join(BENCH, "node_modules", "@google", "genai", "package.json")) as f:
            v["@google/genai"] = json.load(f)["version"]
        with open(os.path.join(BENCH, "node_modules", "jpeg-js", "package.json")) as f:
            v["jpeg-js"] = json.load(f)["version"]
    except (OSError, ValueError, KeyError):
        pass
    v["nbcore"] = out(["git", "-C", ROOT, "describe", "--always", "--dirty"])
    return v


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--emulator", required=True, help="path to nbcore-emulator")
    ap.add_argument("--cxx", required=True, help="path to bench_compare_nbcore")
    ap.add_argument("--python", default=os.path.join(ROOT, ".venv", "bin", "python"))
    ap.add_argument("--node", default="/usr/bin/node")
    ap.add_argument("--quick", action="store_true", help="fewer requests (noisier; (b) is 2N, not 3N)")
    ap.add_argument("--workloads", default="a,b,c,d,e")
    ap.add_argument("--clients", default=",".join(c for c, _ in CLIENTS))
    ap.add_argument("--results", default=os.path.join(BENCH, "results"))
    opts = ap.parse_args()

    workloads = [w for w in opts.workloads.split(",") if w]
    clients = [c for c, _ in CLIENTS if c in opts.clients.split(",")]
    if not clients or any(w not in "abcde" for w in workloads):
        ap.error("--workloads takes letters a-e, --clients some of " + ",".join(c for c, _ in CLIENTS))
    rpm = 5
    p = {"receive_n": 20 if opts.quick else 100, "rpm": rpm, "burst_n": (2 if opts.quick else 3) * rpm,
         "retryinfo_runs": 1 if opts.quick else 3,
         "mix_n": 20 if opts.quick else 50, "inflight_n": 200 if opts.quick else 500}

    os.makedirs(opts.results, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    vers = versions(opts)
    try:
        emu = Emulator(opts.emulator, os.path.join(opts.results, f"compare-{stamp}-emulator.log"),
                       threads=p["inflight_n"] + 128)
    except (OSError, RuntimeError) as e:
        print(f"compare.py: {e}", file=sys.stderr)
        return 1
    results: dict = {}
    load_before = os.getloadavg()
    started = time.monotonic()
    try:
        runner = Runner(opts)
        # The emulator renders each distinct image once and caches it: warm both, off the record.
        emu.generate("bench-warm", PRO, RECEIVE_PROMPT, {"imageSize": "4K", "aspectRatio": "16:9"})
        emu.generate("bench-warm", FLASH, PROMPT)
        plan = {"a": run_receive, "b": run_burst, "c": run_retryinfo, "d": run_mix, "e": run_inflight}
        titles = {"a": f"(a) receive and decode {p['receive_n']} 4K answers, one at a time",
                  "b": f"(b) burst of {p['burst_n']} requests against RPM = {rpm} (takes 2+ minutes per client)",
                  "c": f"(c) 429 with RetryInfo 5 s, {p['retryinfo_runs']} run(s) per client "
                       f"(about {(55 + 16 * len(clients) * p['retryinfo_runs']) / 60:.0f} minutes: the quota window is real time)",
                  "d": f"(d) {p['mix_n']} requests at once, 30% retryable faults, 2-minute deadline",
                  "e": f"(e) {p['inflight_n']} requests at once against 2 s of latency"}
        for w in workloads:
            print(titles[w], flush=True)
            try:
                results[w] = plan[w](emu, runner, clients, p)
            except Exception as e:  # noqa: BLE001 - one workload's trouble must not lose the others
                results[w] = {cid: {"error": f"driver: {type(e).__name__}: {e}"} for cid in clients}
                print(f"  failed: {e}", flush=True)
    finally:
        emu.stop()
    elapsed = time.monotonic() - started
    load_after = os.getloadavg()

    print()
    print(f"nbcore {vers.get('nbcore')} | google-genai {vers.get('google-genai')} (Python {vers.get('python')}) | "
          f"@google/genai {vers.get('@google/genai')} (node {vers.get('node')}) | Pillow {vers.get('Pillow')} | "
          f"jpeg-js {vers.get('jpeg-js')}")
    print(f"{os.cpu_count()} cores, load average {load_before[0]:.2f} before, {load_after[0]:.2f} after; "
          f"{elapsed / 60:.1f} minutes{'; --quick' if opts.quick else ''}")
    print("ratios in parentheses: the client's figure / nbcore C++'s. Lower is better for CPU, RSS, "
          "makespan and time; higher for success and in flight per core / per MB.")
    print()
    rows, notes = build_rows(results, clients, p)
    print_table(rows, notes, clients)
    print_details(results, clients)
    settings = {}
    for w in results.values():
        for cid, r in w.items():
            if isinstance(r, dict) and r.get("settings"):
                settings.setdefault(cid, set()).add(r["settings"])
    print("\nclient settings")
    for cid in clients:
        for s in sorted(settings.get(cid, [])):
            print(f"  {dict(CLIENTS)[cid]}: {s}")
    path = os.path.join(opts.results, f"compare-{stamp}.json")
    with open(path, "w") as f:
        json.dump({"versions": vers, "params": p, "quick": opts.quick, "results": results,
                   "load": [load_before, load_after]}, f, indent=1, default=str)
    print(f"\nraw figures: {os.path.relpath(path, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
