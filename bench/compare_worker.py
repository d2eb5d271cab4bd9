"""One client's side of one bench/compare.sh workload, in Python: nbcore's Python module
(--client nbcore-py) or Google's google-genai SDK (--client genai-py). bench/compare.py starts it
as a process of its own, so its CPU time and peak RSS are this client's alone, and reads the JSON
object it prints on its last line.

    python compare_worker.py --client genai-py --workload receive --url URL --key KEY --n 100 \\
        --model gemini-3-pro-image-preview --size 4K --aspect 16:9

Workloads (the same in bench_compare_nbcore.cpp and compare_worker.mjs):
  receive    --n answers one after the other; each image's bytes are taken out of the answer and
             its pixels decoded (nbcore: the engine's own decode while it validates; google-genai:
             Pillow, which is what a Python user of that SDK reaches for)
  retryinfo  one request (sent at --go), the retries as the client's policy decides
  burst, mix, inflight
             --n requests at once (asyncio.gather for google-genai, the job API for nbcore), each
             result dropped as soon as it is in; an image's bytes in hand counts as a success
Only the standard library, the client under test and Pillow are imported.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import resource
import sys
import time

def cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return -1.0


def threads_cpu(prefix: str) -> float:
    """CPU seconds of this process's threads whose name starts with prefix (nbcore's workers)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                if not f.read().startswith(prefix):
                    continue
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return total


class Tally:
    def __init__(self) -> None:
        self.ok = 0
        self.failed = 0
        self.errors: dict = {}
        self.image_bytes = 0
        self.client_429s = 0
        self.decode_cpu = 0.0

    def fail(self, what: str) -> None:
        self.failed += 1
        what = " ".join(what.split())[:160]
        self.errors[what] = self.errors.get(what, 0) + 1


def describe(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}".split("\nAdvice:")[0]


# ----------------------------------------------------------------------------------- nbcore

def run_nbcore(a, t: Tally) -> dict:
    import nbcore

    kw = dict(api_key=a.key, base_url=a.url, model=a.model, max_attempts=a.attempts)
    if a.workload in ("burst", "mix", "inflight"):
        kw["max_in_flight"] = max(a.n, 1)
    if a.workload == "burst" and a.rpm > 0:
        kw["tier"] = {"rpm": a.rpm}
    elif a.workload in ("mix", "inflight"):
        # Limits these workloads never reach (see bench_compare_nbcore.cpp): unconfigured, the
        # governor spaces first attempts 25 ms apart while it learns the per-minute limit.
        kw["tier"] = {"rpm": 10**6, "tpm": 10**9, "ipm": 10**6, "rpd": 10**8}
    if a.deadline_s > 0:
        kw["deadline"] = a.deadline_s
    client = nbcore.Client(**kw)
    settings = (f'nbcore.Client(retry="interactive", max_attempts={a.attempts}'
                + (f", tier={kw['tier']}" if "tier" in kw else "")
                + (f", deadline={a.deadline_s:g}" if a.deadline_s > 0 else "") + ")")
    args = dict(aspect_ratio=a.aspect or None, image_size=a.size or None)

    def count_429(attempts) -> None:
        t.client_429s += sum(1 for x in attempts if x.http_status == 429)

    begin = wait_for_go(a)
    if a.workload in ("receive", "retryinfo"):
        for _ in range(a.n):
            try:
                r = client.generate(a.prompt, **args)
                count_429(r.attempts)
                im = r.image
                t.image_bytes += len(im.data)
                if a.workload == "receive":
                    c0 = cpu_seconds()
                    px = im.pixels()        # the engine decoded them while validating; one conversion
                    memoryview(px)
                    t.decode_cpu += cpu_seconds() - c0
                    del px
                del r, im
                t.ok += 1
            except nbcore.NbcoreError as e:
                count_429(e.attempts)
                t.fail(describe(e))
    else:
        jobs = [client.submit(a.prompt, **args) for _ in range(a.n)]
        while jobs:
            # Block (GIL released) on the oldest job for up to 50 ms, then take every finished
            # one: results are dropped soon after they finish, without a busy poll.
            jobs[0].wait(0.05)
            left = []
            for j in jobs:
                if not j.done:
                    left.append(j)
                    continue
                try:
                    r = j.result()
                    count_429(r.attempts)
                    t.image_bytes += len(r.image.data)
                    t.ok += 1
                    del r
                except nbcore.NbcoreError as e:
                    count_429(e.attempts)
                    t.fail(describe(e))
            jobs = left
    return {"begin": begin, "settings": settings, "decode_threads": "nbcore-worker",
            "version": nbcore.__version__ if hasattr(nbcore, "__version__") else ""}


# ------------------------------------------------------------------------------ google-genai

def image_part(resp):
    for cand in resp.candidates or []:
        content = cand.content
        for part in (content.parts if content and content.parts else []):
            if part.inline_data is not None and part.inline_data.data:
                return part.inline_data
    return None


def run_genai(a, t: Tally) -> dict:
    import google.genai as genai
    from google.genai import types

    retry = types.HttpRetryOptions(attempts=a.attempts)
    # The SDK's default for the Developer API is now v1; nbcore and the emulator speak v1beta.
    http = dict(base_url=a.url, api_version="v1beta", retry_options=retry)
    concurrent = a.workload in ("burst", "mix", "inflight")
    pool_note = ""
    if concurrent:
        # httpx's pool holds 100 connections by default; more requests than that would queue in
        # the client, not be in flight. Give it room for all of them.
        import httpx2
        http["async_client_args"] = {"limits": httpx2.Limits(max_connections=max(a.n, 1),
                                                              max_keepalive_connections=max(a.n, 1))}
        pool_note = f", async_client_args={{'limits': httpx2.Limits(max_connections={a.n})}}"
    client = genai.Client(api_key=a.key, vertexai=False, http_options=types.HttpOptions(**http))
    image_config = {}
    if a.size:
        image_config["image_size"] = a.size
    if a.aspect:
        image_config["aspect_ratio"] = a.aspect
    config = types.GenerateContentConfig(
        response_modalities=["TEXT", "IMAGE"],
        image_config=types.ImageConfig(**image_config) if image_config else None)
    settings = (f"HttpOptions(base_url=..., api_version='v1beta', retry_options=HttpRetryOptions(attempts={a.attempts}){pool_note}); "
                "other retry fields at the SDK's defaults")

    def count_429(e: BaseException) -> None:
        if getattr(e, "code", None) == 429:
            t.client_429s += 1

    if a.workload in ("receive", "retryinfo"):
        from PIL import Image

        begin = wait_for_go(a)
        for _ in range(a.n):
            try:
                resp = client.models.generate_content(model=a.model, contents=a.prompt, config=config)
                blob = image_part(resp)
                if blob is None:
                    t.fail("no image in the answer")
                    continue
                data = blob.data
                t.image_bytes += len(data)
                if a.workload == "receive":
                    c0 = cpu_seconds()
                    with Image.open(io.BytesIO(data)) as im:
                        im.load()           # decode the pixels
                    t.decode_cpu += cpu_seconds() - c0
                del resp, blob, data
                t.ok += 1
            except Exception as e:  # noqa: BLE001 - every failure is a figure here
                count_429(e)
                t.fail(describe(e))
        return {"begin": begin, "settings": settings, "version": genai.__version__}

    async def one(deadline_at):
        try:
            call = client.aio.models.generate_content(model=a.model, contents=a.prompt, config=config)
            if deadline_at is not None:
                resp = await asyncio.wait_for(call, timeout=max(deadline_at - time.monotonic(), 0.001))
            else:
                resp = await call
            blob = image_part(resp)
            if blob is None:
                t.fail("no image in the answer")
                return
            t.image_bytes += len(blob.data)
            t.ok += 1
        except asyncio.TimeoutError:
            t.fail(f"deadline of {a.deadline_s:g} s passed")
        except Exception as e:  # noqa: BLE001
            count_429(e)
            t.fail(describe(e))

    async def main():
        begin = wait_for_go(a)
        deadline_at = time.monotonic() + a.deadline_s if a.deadline_s > 0 else None
        await asyncio.gather(*(one(deadline_at) for _ in range(a.n)))
        return begin

    begin = asyncio.run(main())
    if a.deadline_s > 0:
        settings += f"; each call under asyncio.wait_for({a.deadline_s:g} s) (the SDK has no total deadline)"
    return {"begin": begin, "settings": settings, "version": genai.__version__}


# ------------------------------------------------------------------------------------ common

def wait_for_go(a) -> dict:
    """Sleeps until --go (wall-clock seconds), then marks the start of the measured part."""
    if a.go > 0:
        delay = a.go - time.time()
        if delay > 0:
            time.sleep(delay)
    return {"cpu": cpu_seconds(), "mono": time.monotonic(), "epoch": time.time(), "rss": rss_mb(),
            "workers": threads_cpu("nbcore-worker")}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--client", required=True, choices=["nbcore-py", "genai-py"])
    p.add_argument("--workload", required=True, choices=["receive", "burst", "retryinfo", "mix", "inflight"])
    p.add_argument("--url", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--n", type=int, default=1)
    p.add_argument("--model", default="gemini-2.5-flash-image")
    p.add_argument("--size", default="")
    p.add_argument("--aspect", default="")
    p.add_argument("--prompt", default="a lighthouse on a cliff")
    p.add_argument("--attempts", type=int, default=10)
    p.add_argument("--rpm", type=int, default=0)
    p.add_argument("--deadline-s", type=float, default=0.0)
    p.add_argument("--go", type=float, default=0.0)
    a = p.parse_args()

    t = Tally()
    info = run_nbcore(a, t) if a.client == "nbcore-py" else run_genai(a, t)
    begin = info["begin"]
    wall = time.monotonic() - begin["mono"]
    cpu = cpu_seconds() - begin["cpu"]
    decode = t.decode_cpu
    if a.client == "nbcore-py":
        decode += threads_cpu("nbcore-worker") - begin["workers"]
    out = {
        "client": "nbcore Python" if a.client == "nbcore-py" else "google-genai (Python)",
        "workload": a.workload, "ok": t.ok, "failed": t.failed, "errors": t.errors,
        "wall_s": round(wall, 4), "start_epoch": round(begin["epoch"], 4),
        "cpu_before_s": round(begin["cpu"], 4), "cpu_s": round(cpu, 4), "decode_cpu_s": round(decode, 4),
        "rss_start_mb": round(begin["rss"], 1), "image_bytes": t.image_bytes, "client_429s": t.client_429s,
        "settings": info["settings"], "version": info.get("version", ""),
    }
    sys.stdout.flush()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
