"""The nbcore command line (installed console script), against the bundled emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import KEY


def run_cli(args, env_extra, **kw):
    env = dict(os.environ)
    env.pop("GOOGLE_API_KEY", None)
    env.update(env_extra)
    return subprocess.run([sys.executable, "-m", "nbcore", *args], capture_output=True, text=True,
                          env=env, timeout=60, **kw)


def env_for(emu):
    return {"GEMINI_API_KEY": KEY, "GOOGLE_GEMINI_BASE_URL": emu.url}


def test_generate_writes_the_file_and_reports_attempts(emulator, tmp_path):
    emulator.script([{"fault": "rpm_429", "retry_delay": "0.2s"}])
    out = tmp_path / "a.jpg"
    p = run_cli(["generate", "a lighthouse", "-o", str(out)], env_for(emulator))
    assert p.returncode == 0, p.stderr
    assert out.read_bytes()[:2] == b"\xff\xd8"
    assert "RATE_LIMITED" in p.stderr and "server asked to wait 0.2 s" in p.stderr
    assert "wrote" in p.stdout


def test_generate_json_output(emulator, tmp_path):
    out = tmp_path / "b.png"
    p = run_cli(["generate", "a bicycle", "--model", "gemini-2.5-flash-image", "-o", str(out), "--json"],
                env_for(emulator))
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["ok"] and doc["files"] == [str(out)] and doc["images"][0]["width"] == 1024


def test_failure_prints_class_and_advice_without_traceback(emulator, tmp_path):
    emulator.script(["invalid_key"])
    p = run_cli(["generate", "x", "-o", str(tmp_path / "c.png"), "--retry", "none"], env_for(emulator))
    assert p.returncode == 10 + 8   # AUTH
    assert "error: AUTH" in p.stderr and "advice:" in p.stderr
    assert "Traceback" not in p.stderr
    assert KEY not in p.stderr + p.stdout


def test_failure_json(emulator, tmp_path):
    emulator.script(["image_safety"])
    p = run_cli(["generate", "x", "-o", str(tmp_path / "d.png"), "--json"], env_for(emulator))
    assert p.returncode == 10 + 13   # BLOCKED_POLICY
    doc = json.loads(p.stdout)
    assert doc["code"] == "BLOCKED_POLICY" and doc["safety_layer"] == 2 and doc["advice"]


def test_check_command(tmp_path):
    from test_api import _png
    good = tmp_path / "good.png"
    good.write_bytes(_png(16, 16, lambda x, y: (x * 16, y * 16, 0)))
    blank = tmp_path / "blank.png"
    blank.write_bytes(_png(16, 16, lambda x, y: (0, 0, 0)))
    p = run_cli(["check", str(good)], {})
    assert p.returncode == 0 and "ok" in p.stdout
    p = run_cli(["check", str(good), str(blank)], {})
    assert p.returncode == 10 + 15 and "BLANK" in p.stdout


def test_bad_usage_exits_2():
    p = run_cli(["generate"], {})
    assert p.returncode == 2
    p = run_cli(["generate", "x", "--aspect", "7:5"], {})
    assert p.returncode == 2


def test_emulator_subcommand_runs_the_bundled_binary():
    p = run_cli(["emulator", "--help"], {})
    assert p.returncode == 0
    assert "--port" in p.stdout + p.stderr
