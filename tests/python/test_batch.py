"""The Batch API from Python (nbcore.batch) and `nbcore batch FILE.jsonl`, against an emulator whose
batches finish in 200 ms."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import nbcore
from nbcore.batch import BatchClient, BatchRequest
from conftest import KEY, start_emulator, stop_emulator


@pytest.fixture(scope="module")
def batch_emulator():
    emu = start_emulator("--batch-ms", "200")
    yield emu
    stop_emulator(emu)


@pytest.fixture
def emu(batch_emulator):
    batch_emulator.reset()
    yield batch_emulator


def client(emu, **kw):
    return BatchClient(api_key=KEY, base_url=emu.url, model="gemini-2.5-flash-image", poll_initial=0.05,
                       poll_max=0.1, **kw)


def test_submit_wait_results_with_a_blocked_entry(emu):
    emu.script(["pass", "image_safety"])
    bc = client(emu)
    job = bc.submit([BatchRequest("kite", "a kite", aspect_ratio="16:9"), BatchRequest("boat", "a boat")],
                    display_name="py")
    assert job.state == "PENDING" and job.name.startswith("batches/") and not job.file_input
    done = bc.wait(job.name, deadline=30)
    assert done.state == "SUCCEEDED" and done.done and done.error is None
    assert done.succeeded_count == 2
    entries = bc.results(job.name)
    assert [e.key for e in entries] == ["kite", "boat"]
    assert entries[0].ok and entries[0].result.batch
    assert (entries[0].result.image.width, entries[0].result.image.height) == (1344, 768)
    assert not entries[1].ok
    # The same exception class, reason and advice as the online client raises for that reply.
    assert isinstance(entries[1].error, nbcore.BlockedPolicyError)
    emu.script(["image_safety"])
    with pytest.raises(nbcore.BlockedPolicyError) as online:
        nbcore.Client(api_key=KEY, base_url=emu.url, model="gemini-2.5-flash-image", retry="none").generate("a boat")
    assert entries[1].error.reason == online.value.reason
    assert entries[1].error.advice == online.value.advice


def test_file_input_cancel_and_failed_jobs(emu):
    bc = client(emu, inline_limit=100)
    job = bc.submit([BatchRequest("a", "one"), BatchRequest("b", "two")])
    assert job.file_input
    assert [e.ok for e in bc.results(bc.wait(job.name).name)] == [True, True]

    emu.script({"batches": ["failed"]})
    failed = bc.wait(bc.submit([BatchRequest("x", "y")]).name)
    assert failed.state == "FAILED" and isinstance(failed.error, nbcore.ServerError)
    with pytest.raises(nbcore.ServerError) as e:
        bc.results(failed.name)
    assert e.value.advice

    with pytest.raises(nbcore.InvalidArgumentError) as e:
        bc.submit([BatchRequest("same", "a"), BatchRequest("same", "b")])
    assert "used twice" in str(e.value)
    with pytest.raises(nbcore.InvalidArgumentError) as e:
        bc.get("batches/nothing")
    assert "listing this key's batches" in e.value.advice


def run_cli(args, emu, cwd):
    env = dict(os.environ)
    env.pop("GOOGLE_API_KEY", None)
    env.update({"GEMINI_API_KEY": KEY, "GOOGLE_GEMINI_BASE_URL": emu.url})
    return subprocess.run([sys.executable, "-m", "nbcore", "batch", *args], capture_output=True, text=True,
                          env=env, timeout=60, cwd=cwd)


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_cli_batch_writes_a_directory_per_key_and_a_table(emu, tmp_path):
    emu.script(["pass", "no_image", "pass"])   # the Flash batch (lighthouse, empty) goes first
    src = write_jsonl(tmp_path / "reqs.jsonl", [
        {"key": "lighthouse", "prompt": "a lighthouse", "aspect_ratio": "9:16"},
        {"key": "castle", "prompt": "a castle", "model": "gemini-3-pro-image-preview", "image_size": "2K"},
        {"key": "empty", "prompt": "nothing"},
    ])
    out = tmp_path / "out"
    p = run_cli([src, "-o", str(out), "--model", "gemini-2.5-flash-image", "--poll", "0.05"], emu, tmp_path)
    assert p.returncode == 10 + 14, p.stderr   # NO_IMAGE: the first failure's exit code
    assert (out / "lighthouse" / "image.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "castle" / "image.jpg").read_bytes()[:2] == b"\xff\xd8"   # Pro answers JPEG
    assert not (out / "empty").exists()
    assert p.stderr.count("submitted batches/") == 2   # one batch per model
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["key", "result", "file", "/", "advice"]
    table = {line.split()[0]: line for line in lines[1:4]}
    assert "768x1344 image/png" in table["lighthouse"]
    assert "2048x2048 image/jpeg" in table["castle"]
    assert "NO_IMAGE" in table["empty"]
    assert "2 of 3 request(s) produced images" in lines[-1]
    assert KEY not in p.stdout + p.stderr

    js = run_cli([src, "-o", str(tmp_path / "again"), "--model", "gemini-2.5-flash-image", "--poll", "0.05",
                  "--json", "-q"], emu, tmp_path)
    rows = json.loads(js.stdout)
    assert [r["ok"] for r in rows] == [True, True, True]
    assert js.stderr == ""


def test_cli_batch_bad_lines_name_the_line(emu, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"key": "a", "prompt": "x"}\n{"key": "a/b", "prompt": "y"}\n')
    p = run_cli([str(bad)], emu, tmp_path)
    assert p.returncode == 2
    assert "bad.jsonl line 2" in p.stderr and "directory" in p.stderr
    bad.write_text('{"key": "a", "prompt": "x", "size": "2K"}\n')
    p = run_cli([str(bad)], emu, tmp_path)
    assert p.returncode == 2 and "unknown field(s) size" in p.stderr
    p = run_cli([], emu, tmp_path)
    assert p.returncode == 2 and "--resume" in p.stderr
    assert emu.requests() == []


def test_cli_batch_resume_collects_a_submitted_job(emu, tmp_path):
    job = client(emu).submit([BatchRequest("late", "a late kite")])
    p = run_cli(["--resume", job.name, "-o", str(tmp_path / "o"), "--poll", "0.05"], emu, tmp_path)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "o" / "late" / "image.png").exists()


def test_budget_refuses_a_batch_before_creating_it(emu):
    bc = client(emu, budget={"daily": 0.05})
    reqs = [BatchRequest(key=k, prompt=f"a {k}") for k in ("a", "b", "c")]
    with pytest.raises(nbcore.BudgetError) as info:
        bc.submit(reqs)
    assert "batch of 3 requests" in info.value.message and info.value.advice
    assert emu.requests() == []


def test_batch_results_cost_batch_prices_and_are_booked(emu, tmp_path):
    path = tmp_path / "state.db"
    bc = client(emu, budget={"daily": 1.0}, state_path=path)
    job = bc.submit([BatchRequest(key="a", prompt="a cat"), BatchRequest(key="b", prompt="a dog")])
    job = bc.wait(job.name)
    entries = bc.results(job.name)
    costs = [e.result.cost_usd for e in entries]
    assert all(0.0195 <= c < 0.0197 for c in costs), costs   # half of Flash's $0.039
    daily = next(c for c in nbcore.state_usage(str(path))["caps"] if c["period"] == "daily")
    assert daily["spent_usd"] == pytest.approx(sum(costs), abs=1e-5)
