"""Jobs from Python: submit/progress/wait/result/cancel, generate_async, and Ctrl-C during a wait."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import nbcore
from conftest import KEY, start_emulator, stop_emulator


def test_submit_returns_at_once_and_reports_progress(client_env):
    client_env.script([{"pass": True, "delay_ms": 800}])
    client = nbcore.Client()
    t0 = time.monotonic()
    job = client.submit("a lighthouse", image_size="1K")
    assert time.monotonic() - t0 < 0.3
    stages = set()
    while not job.wait(0.02):
        p = job.progress
        stages.add(p.stage)
        assert isinstance(p, nbcore.JobProgress) and p.text
    assert "waiting_server" in stages
    assert job.done
    p = job.progress
    assert p.stage == "done" and p.attempt == 1 and p.elapsed >= 0.8
    res = job.result()
    assert len(res.images) == 1 and res.attempts[0].outcome == "OK"
    assert "done" in repr(job)


def test_wait_with_a_timeout_returns_false_while_running(client_env):
    client_env.script([{"pass": True, "delay_ms": 1500}])
    job = nbcore.Client().submit("a harbour")
    t0 = time.monotonic()
    assert job.wait(0.2) is False
    assert 0.15 < time.monotonic() - t0 < 1.0
    with pytest.raises(TimeoutError):
        job.result(timeout=0.1)
    assert job.result().images


def test_cancel_ends_the_job_with_cancelled_error(client_env):
    client_env.script([{"pass": True, "delay_ms": 10000}])
    job = nbcore.Client().submit("a slow one")
    while job.progress.stage != "waiting_server":
        time.sleep(0.01)
    t0 = time.monotonic()
    job.cancel()
    assert job.wait(2.0)
    assert time.monotonic() - t0 < 0.5
    with pytest.raises(nbcore.CancelledError) as info:
        job.result()
    assert info.value.advice
    job.cancel()  # idempotent


def test_progress_names_the_retry_and_its_cause(client_env):
    client_env.script([{"fault": "rpm_429", "retry_delay": 1.0}])
    job = nbcore.Client().submit("x")
    seen = None
    while not job.wait(0.02):
        p = job.progress
        if p.stage == "retrying" and seen is None:   # the first look, early in the wait
            seen = p
    assert seen is not None, "the retry wait was never visible"
    assert seen.last_outcome == "RATE_LIMITED" and 0 < seen.wait_left <= 1.1
    assert "RATE_LIMITED" in seen.text
    assert len(job.result().attempts) == 2


def test_generate_async_runs_requests_together(client_env):
    client_env.script({"replies": [{"pass": True, "delay_ms": 700}], "then": "repeat_last"})
    client = nbcore.Client()

    async def main():
        t0 = time.monotonic()
        results = await asyncio.gather(*(client.generate_async(f"scene {i}") for i in range(6)))
        return results, time.monotonic() - t0

    results, elapsed = asyncio.run(main())
    assert len(results) == 6 and all(len(r.images) == 1 for r in results)
    assert elapsed < 6 * 0.7, "the six requests must overlap"


def test_cancelling_the_awaiting_task_cancels_the_request(client_env):
    client_env.script([{"pass": True, "delay_ms": 10000}])
    client = nbcore.Client()

    async def main():
        task = asyncio.ensure_future(client.generate_async("a slow one"))
        await asyncio.sleep(0.3)
        task.cancel()
        t0 = time.monotonic()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.monotonic() - t0

    assert asyncio.run(main()) < 1.0


# Both scripts install Python's own SIGINT handler first: a process started in the background of
# a non-interactive shell inherits SIGINT ignored, and Python then leaves it ignored.
CTRL_C_SCRIPT = textwrap.dedent("""
    import signal, sys, time, nbcore
    signal.signal(signal.SIGINT, signal.default_int_handler)
    client = nbcore.Client()
    print("ready", flush=True)
    try:
        client.generate("a slow one")
        print("finished", flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
""")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_during_generate_cancels_within_half_a_second(monkeypatch):
    # An emulator of its own whose every answer takes 20 s: no request of another test can take
    # the slow answer this one needs.
    slow = start_emulator("--latency-ms", "20000")
    env = dict(os.environ)
    env.pop("GOOGLE_API_KEY", None)
    env.update(GEMINI_API_KEY=KEY, GOOGLE_GEMINI_BASE_URL=slow.url)
    proc = subprocess.Popen([sys.executable, "-c", CTRL_C_SCRIPT], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(1.0)  # the request is now waiting on the server
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out = proc.stdout.readline().strip()
        elapsed = time.monotonic() - t0
        assert out == "interrupted", proc.stderr.read()
        assert elapsed < 0.5
        assert proc.wait(timeout=5) == 0
    finally:
        proc.kill()
        stop_emulator(slow)


CTRL_C_JOB_SCRIPT = textwrap.dedent("""
    import signal, time, nbcore
    signal.signal(signal.SIGINT, signal.default_int_handler)
    job = nbcore.Client().submit("a slow one")
    print("ready", flush=True)
    try:
        job.wait()
        print("finished", flush=True)
    except KeyboardInterrupt:
        t0 = time.monotonic()
        try:
            job.result(timeout=1.0)
        except nbcore.CancelledError:
            print(f"cancelled {job.progress.stage} {time.monotonic() - t0:.3f}", flush=True)
""")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_during_job_wait_cancels_the_job():
    slow = start_emulator("--latency-ms", "20000")
    env = dict(os.environ)
    env.pop("GOOGLE_API_KEY", None)
    env.update(GEMINI_API_KEY=KEY, GOOGLE_GEMINI_BASE_URL=slow.url)
    proc = subprocess.Popen([sys.executable, "-c", CTRL_C_JOB_SCRIPT], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(1.0)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out = proc.stdout.readline().split()
        assert time.monotonic() - t0 < 0.5, "KeyboardInterrupt and the cancelled job within 0.5 s"
        assert out[:2] == ["cancelled", "done"], proc.stderr.read()
        assert proc.wait(timeout=5) == 0
    finally:
        proc.kill()
        stop_emulator(slow)
