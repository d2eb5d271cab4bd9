"""The prompt doctor from Python and the command line, against an emulator with flaky-prompt rules:
analyze_prompt, the pre-flight check (warn and strict), Client.simplify and `nbcore simplify`."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

import nbcore
from conftest import KEY, start_emulator, stop_emulator

FLASH = "gemini-2.5-flash-image"
CROWDED = "a red fox, a wooden cabin, a pine tree, a snowman, an owl, a lantern, a sled, a woodpile"


@pytest.fixture
def flaky():
    emu = start_emulator("--blank-when", "owl", "--blank-when", "snowman+sled", "--mime", "png")
    yield emu
    stop_emulator(emu)


def client_for(emu, **kw):
    return nbcore.Client(api_key=KEY, base_url=emu.url, model=FLASH, **kw)


def test_preflight_warns_then_sends(flaky):
    events = []
    client = client_for(flaky, preflight="warn", on_event=events.append)
    with pytest.raises(nbcore.BlankImageError) as e:
        client.generate(CROWDED)
    warnings = [ev for ev in events if ev["kind"] == "prompt_warning"]
    assert len(warnings) == 1 and warnings[0]["reason"] == "high"
    assert "8 distinct subjects" in warnings[0]["message"]
    # The failure's advice cites the analysis.
    assert "too much at once" in e.value.advice and "stages" in e.value.advice
    client.generate("a lighthouse at dawn")
    assert len([ev for ev in events if ev["kind"] == "prompt_warning"]) == 1


def test_preflight_strict_refuses_unsent(flaky):
    client = client_for(flaky, preflight="strict")
    with pytest.raises(nbcore.InvalidArgumentError) as e:
        client.generate(CROWDED)
    assert e.value.reason == "PROMPT_TOO_COMPLEX" and "8 distinct subjects" in str(e.value)
    assert flaky.requests() == []
    assert nbcore.PREFLIGHT_MODES == ("off", "warn", "strict")
    with pytest.raises(nbcore.InvalidArgumentError):
        nbcore.Client(api_key=KEY, preflight="loud")


def test_simplify_finds_the_culprit_within_the_bound(flaky):
    client = client_for(flaky)
    report = client.simplify(CROWDED, max_requests=10, max_cost=5)
    assert isinstance(report, nbcore.SimplifyReport)
    assert report.found and report.minimal_failing == ["an owl"]
    assert report.minimal_failing_prompt == "a red fox, an owl"
    n = len(report.analysis["requirements"]) - 1
    assert report.rounds_to_find <= math.ceil(math.log2(n)) + 2
    assert "owl" not in report.largest_working_prompt and "snowman" in report.largest_working_prompt
    assert all(isinstance(s, nbcore.SimplifyStep) for s in report.steps)
    assert [s.number for s in report.steps] == list(range(1, len(report.steps) + 1))
    assert len(flaky.requests()) == len(report.steps)
    assert "Minimal failing set: \"an owl\"" in str(report)
    assert report.plan["elements"]


def test_simplify_finds_a_pair_and_keeps_to_its_budgets(flaky):
    client = client_for(flaky)
    pair = client.simplify("a red fox, a wooden cabin, a snowman, a lantern, a sled, a woodpile",
                           max_requests=12, max_cost=5)
    assert pair.found and sorted(pair.minimal_failing) == ["a sled", "a snowman"]
    small = client.simplify(CROWDED, max_requests=2, max_cost=5)
    assert not small.found and len(small.steps) == 2 and "request budget" in small.stopped
    cheap = client.simplify(CROWDED, max_requests=10, max_cost=0.1)
    assert cheap.cost_usd <= 0.1 and "cost budget" in cheap.stopped
    with pytest.raises(nbcore.InvalidArgumentError):
        client.simplify("   ")


def run_cli(args, emu):
    env = dict(os.environ)
    env.pop("GOOGLE_API_KEY", None)
    env.update({"GEMINI_API_KEY": KEY, "GOOGLE_GEMINI_BASE_URL": emu.url})
    return subprocess.run([sys.executable, "-m", "nbcore", *args], capture_output=True, text=True,
                          env=env, timeout=120)


def test_simplify_command(flaky):
    p = run_cli(["simplify", CROWDED, "--model", FLASH, "--max-cost", "5", "-q"], flaky)
    assert p.returncode == 0, p.stderr
    assert "Minimal failing set: \"an owl\"" in p.stdout and "Largest prompt that works" in p.stdout
    p = run_cli(["simplify", CROWDED, "--model", FLASH, "--max-requests", "1", "--json"], flaky)
    assert p.returncode == 4
    doc = json.loads(p.stdout)
    assert doc["found"] is False and "request budget" in doc["stopped"] and len(doc["steps"]) == 1


def test_generate_stages_a_crowded_prompt_on_request(flaky, tmp_path):
    out = tmp_path / "scene.png"
    # Five subjects, none of them blanked by the rules: auto staging runs a background and five elements.
    p = run_cli(["generate", "a red fox, a wooden cabin, a pine tree, a lantern, a woodpile", "--model", FLASH,
                 "--stage", "auto", "-o", str(out), "--json"], flaky)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["complete"] and doc["total_stages"] == 6 and out.exists()
    assert len(flaky.requests()) == 6
    # A plain prompt is not staged under auto.
    p = run_cli(["generate", "a lighthouse at dawn", "--model", FLASH, "--stage", "auto",
                 "-o", str(tmp_path / "plain.png"), "-q"], flaky)
    assert p.returncode == 0, p.stderr
    assert len(flaky.requests()) == 7
