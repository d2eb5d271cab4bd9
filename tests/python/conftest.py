"""Fixtures: the bundled emulator (the binary installed inside the nbcore package), run on a free
loopback port, plus helpers to script it. Also collects the fault matrix printed at the end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from typing import Any, Dict, List, Optional

import pytest

KEY = "pytest-key-0001"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def pytest_configure(config):
    """These tests are for the installed package (scripts/build-python), never the source tree."""
    import nbcore

    where = os.path.dirname(os.path.abspath(nbcore.__file__))
    if where.startswith(os.path.join(REPO, "bindings")):
        raise pytest.UsageError(f"nbcore is imported from the source tree ({where}); install it with "
                                "scripts/build-python and run .venv/bin/python -m pytest")


class Emulator:
    def __init__(self, proc: subprocess.Popen, url: str):
        self.proc = proc
        self.url = url

    def _post(self, path: str, payload: Optional[Any] = None) -> Any:
        data = json.dumps(payload if payload is not None else {}).encode()
        req = urllib.request.Request(self.url + path, data=data, method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read()
        return json.loads(body) if body else None

    def script(self, script: Any) -> None:
        """Replace the reply queue (see docs/emulator.md for the format)."""
        if isinstance(script, list):
            script = {"replies": script}
        self._post("/_emulator/script", script)

    def reset(self) -> None:
        self._post("/_emulator/reset")

    def requests(self) -> List[Dict[str, Any]]:
        with urllib.request.urlopen(self.url + "/_emulator/requests", timeout=10) as r:
            return json.loads(r.read())


def start_emulator(*args: str) -> Emulator:
    from nbcore.cli import emulator_path

    proc = subprocess.Popen([emulator_path(), "--port", "0", "--key", KEY, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = proc.stdout.readline().strip()
    if not url.startswith("http://"):
        proc.kill()
        raise RuntimeError(f"emulator did not start: {url!r} {proc.stderr.read()}")
    return Emulator(proc, url)


def stop_emulator(emu: Emulator) -> None:
    emu.proc.terminate()
    try:
        emu.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        emu.proc.kill()


@pytest.fixture(autouse=True)
def private_state_file(monkeypatch, tmp_path):
    """The command line keeps quota and spend in the default state file; every test gets its own,
    so nothing one test learns (a scripted 429's limit) reaches another, or the user's own file."""
    monkeypatch.setenv("NBCORE_STATE_FILE", str(tmp_path / "nbcore-state.db"))


@pytest.fixture(scope="session")
def emulator_session():
    emu = start_emulator()
    yield emu
    stop_emulator(emu)


@pytest.fixture
def emulator(emulator_session):
    """A running emulator with an empty script and an empty request log."""
    emulator_session.reset()
    yield emulator_session


@pytest.fixture
def client_env(monkeypatch, emulator):
    """Environment as a user would set it up to point nbcore at the emulator."""
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", emulator.url)
    return emulator


FAULT_MATRIX: List[tuple] = []


def pytest_terminal_summary(terminalreporter):
    if not FAULT_MATRIX:
        return
    tr = terminalreporter
    failed = sum(1 for row in FAULT_MATRIX if not row[3])
    tr.section(f"fault matrix: {len(FAULT_MATRIX)} scenarios, {failed} failed")
    tr.write_line(f"{'scenario':<56} {'expected':<16} {'got':<16}")
    for name, expected, got, ok in sorted(FAULT_MATRIX):
        tr.write_line(f"{name[:56]:<56} {expected:<16} {got:<16}{'' if ok else '  FAIL'}")
