"""Quota tiers, budgets and the state file from Python and the command line."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time

import pytest

import nbcore
from conftest import KEY, start_emulator, stop_emulator


@pytest.fixture
def rpm_emulator(monkeypatch):
    """An emulator of its own that enforces 2 requests per minute."""
    emu = start_emulator("--rpm", "2")
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", emu.url)
    yield emu
    stop_emulator(emu)


def test_a_configured_limit_refuses_at_once_what_cannot_fit_the_deadline(rpm_emulator):
    client = nbcore.Client(tier={"rpm": 2})
    client.generate("one")
    client.generate("two")
    t0 = time.monotonic()
    with pytest.raises(nbcore.RateLimitError) as info:
        client.generate("three", deadline=3.0)
    assert time.monotonic() - t0 < 1.0
    e = info.value
    assert e.reason == "QUOTA_LOCAL" and e.dimension == "RPM"
    assert 50 < e.retry_after <= 61
    assert e.attempts == [] and e.advice
    assert len(rpm_emulator.requests()) == 2


def test_tier_presets_and_bad_tiers():
    nbcore.Client(api_key="k", tier="free")
    nbcore.Client(api_key="k", tier="tier3")
    with pytest.raises(nbcore.InvalidArgumentError) as info:
        nbcore.Client(api_key="k", tier="gold")
    assert "tier1" in info.value.advice
    with pytest.raises(nbcore.InvalidArgumentError):
        nbcore.Client(api_key="k", tier={"rpm": -1})
    with pytest.raises(nbcore.InvalidArgumentError):
        nbcore.Client(api_key="k", tier={"rps": 3})
    with pytest.raises(nbcore.InvalidArgumentError):
        nbcore.Client(api_key="k", budget={"daily": -5})
    with pytest.raises(nbcore.InvalidArgumentError):
        nbcore.Client(api_key="k", budget={"weekly": 5})


def test_budget_refuses_before_sending_and_alerts(client_env):
    events = []
    client = nbcore.Client(budget={"daily": 0.25, "monthly": 100.0, "total": None}, on_event=events.append)
    first = client.generate("one", image_size="1K")
    assert 0.134 < first.cost_usd < 0.14
    with pytest.raises(nbcore.BudgetError) as info:
        client.generate("two", image_size="1K")
    assert "daily cap" in info.value.message and info.value.retry_after is not None
    assert len(client_env.requests()) == 1
    alerts = [e for e in events if e["kind"] == "budget_alert"]
    assert alerts and alerts[0]["percent"] == 50


def test_usage_reports_spend_and_limits(client_env):
    client = nbcore.Client(tier="tier1")
    res = client.generate("a harbour", image_size="1K")
    u = client.usage()
    daily = next(c for c in u["caps"] if c["period"] == "daily")
    assert daily["spent_usd"] == pytest.approx(res.cost_usd, abs=1e-6)
    (key,) = u["keys"]
    rpm = next(d for d in key["dimensions"] if d["dimension"] == "RPM")
    assert rpm["used"] == 1 and rpm["limit"] == 300 and rpm["source"] == "configured"
    assert KEY not in json.dumps(u), "the key itself is never kept, only its fingerprint"
    assert "RPM" in client.usage_text()


def test_state_file_is_shared_and_kept(client_env, tmp_path):
    path = tmp_path / "state" / "nbcore.db"
    a = nbcore.Client(state_path=path)
    spent = a.generate("one", image_size="1K").cost_usd
    b = nbcore.Client(state_path=str(path))
    spent += b.generate("two", image_size="1K").cost_usd
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    u = nbcore.state_usage(str(path))
    daily = next(c for c in u["caps"] if c["period"] == "daily")
    assert daily["spent_usd"] == pytest.approx(spent, abs=1e-6)


def test_cli_usage_reads_the_state_file(client_env, tmp_path):
    path = tmp_path / "state.db"
    env = dict(os.environ)
    out = subprocess.run([sys.executable, "-m", "nbcore", "generate", "a lighthouse", "-o", str(tmp_path / "a.png"),
                          "--size", "1K", "--state", str(path), "--tier", "tier1", "--budget-daily", "5", "-q"],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert "$0.13" in out.stdout
    text = subprocess.run([sys.executable, "-m", "nbcore", "usage", "--state", str(path)],
                          capture_output=True, text=True, env=env)
    assert text.returncode == 0, text.stderr
    assert "RPM" in text.stdout and "daily" in text.stdout and "$5.00" in text.stdout
    assert KEY not in text.stdout
    js = subprocess.run([sys.executable, "-m", "nbcore", "usage", "--state", str(path), "--json"],
                        capture_output=True, text=True, env=env)
    data = json.loads(js.stdout)
    assert data["keys"][0]["model"] == "gemini-3-pro-image-preview"


def test_cli_usage_without_a_state_file_says_what_to_do(tmp_path):
    out = subprocess.run([sys.executable, "-m", "nbcore", "usage", "--state", str(tmp_path / "none.db")],
                         capture_output=True, text=True)
    assert out.returncode != 0
    assert "advice" in out.stderr
