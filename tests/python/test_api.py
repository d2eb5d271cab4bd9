"""The nbcore Python package, installed in .venv, against the bundled emulator."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import threading
import time
import zlib

import pytest

import nbcore
from conftest import KEY


def _png(width, height, pixel_fn):
    """A small RGB PNG made with the standard library only."""
    rows = b"".join(b"\x00" + bytes(c for x in range(width) for c in pixel_fn(x, y)) for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def test_version_matches_the_header_and_the_package():
    import importlib.metadata
    import pathlib
    import re
    header = pathlib.Path(__file__).resolve().parents[2] / "capi" / "include" / "nbcore" / "nbcore.h"
    written = re.search(r'#define NBC_VERSION_STRING "([0-9.]+)"', header.read_text()).group(1)
    assert nbcore.__version__ == written == importlib.metadata.version("nbcore")


def test_generate_pro_returns_a_validated_image(client_env, tmp_path):
    client = nbcore.Client()
    result = client.generate("a lighthouse at dawn", aspect_ratio="16:9", image_size="1K")
    assert len(result.images) == 1
    im = result.images[0]
    assert (im.width, im.height) == (1376, 768)   # the reference table for Pro 16:9 1K
    assert im.mime == "image/jpeg"
    assert im.data[:2] == b"\xff\xd8"
    assert result.attempts[0].outcome == "OK"
    assert result.usage.image_output_tokens == 1120
    path = im.save(tmp_path / "out.jpg")
    assert os.path.getsize(path) == len(im.data)


def test_generate_flash_png_and_save_converts(client_env, tmp_path):
    result = nbcore.Client(model="gemini-2.5-flash-image").generate("a bicycle", aspect_ratio="3:2")
    im = result.image
    assert (im.width, im.height, im.mime) == (1248, 832, "image/png")
    assert im.data.startswith(b"\x89PNG")
    pil = pytest.importorskip("PIL.Image")
    out = im.save(tmp_path / "bike.jpg")   # different extension: converted through Pillow
    assert pil.open(out).format == "JPEG"


def test_rate_limit_is_waited_out_and_recorded(client_env):
    client_env.script([{"fault": "rpm_429", "retry_delay": "0.4s"}])
    events = []
    result = nbcore.Client(on_event=events.append).generate("a lighthouse")
    assert [a.outcome for a in result.attempts] == ["RATE_LIMITED", "OK"]
    first = result.attempts[0]
    assert first.server_delay == pytest.approx(0.4, abs=0.01)
    assert 0.4 <= first.chosen_delay <= 0.8
    kinds = [e["kind"] for e in events]
    # The 429 holds the route's breaker open until the server's time, then the retry goes through.
    assert kinds == ["attempt_start", "attempt_end", "breaker", "retry_scheduled", "attempt_start",
                     "attempt_end", "done"]
    assert events[1]["outcome"] == "RATE_LIMITED"
    assert "open" in events[2]["message"]


@pytest.mark.parametrize("fault, cls, bases", [
    ("invalid_key", nbcore.AuthError, (PermissionError,)),
    ("rpd_429", nbcore.QuotaExhaustedError, ()),
    ("image_safety", nbcore.BlockedPolicyError, (nbcore.SafetyBlockedError,)),
    ("prompt_blocked_safety", nbcore.BlockedSafetyError, (nbcore.SafetyBlockedError,)),
    ("model_not_found", nbcore.ModelNotFoundError, ()),
    ("location", nbcore.LocationError, ()),
])
def test_faults_raise_their_exception_class(client_env, fault, cls, bases):
    client_env.script([fault])
    with pytest.raises(cls) as info:
        nbcore.Client(retry="none").generate("a lighthouse")
    err = info.value
    assert isinstance(err, nbcore.NbcoreError)
    for b in bases:
        assert isinstance(err, b)
    assert err.advice
    assert len(err.attempts) == 1
    assert KEY not in str(err)


def test_no_retry_preset_surfaces_rate_limit_with_retry_after(client_env):
    client_env.script([{"fault": "rpm_429", "retry_delay": "7s"}])
    with pytest.raises(nbcore.RateLimitError) as info:
        nbcore.Client(retry="none").generate("a lighthouse")
    assert info.value.retry_after == pytest.approx(7.0, abs=0.01)
    assert info.value.dimension == "RPM"
    assert info.value.retryable


def test_missing_key_is_an_auth_error_before_sending(monkeypatch, emulator):
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    with pytest.raises(nbcore.AuthError) as info:
        nbcore.Client(base_url=emulator.url).generate("a lighthouse")
    assert "GEMINI_API_KEY" in info.value.advice
    assert emulator.requests() == []


def test_both_env_keys_warn_like_the_official_sdk(monkeypatch, emulator):
    monkeypatch.setenv("GOOGLE_API_KEY", KEY)
    monkeypatch.setenv("GEMINI_API_KEY", "another-key")
    with pytest.warns(UserWarning, match="both set; nbcore uses GOOGLE_API_KEY"):
        client = nbcore.Client(base_url=emulator.url)
    client.generate("a lighthouse")   # GOOGLE_API_KEY (the valid one) was used


@pytest.mark.parametrize("kwargs, needle", [
    ({"aspect_ratio": "16:10"}, "aspect ratio"),
    ({"image_size": "4k"}, "uppercase"),
])
def test_bad_arguments_raise_invalid_argument(client_env, kwargs, needle):
    with pytest.raises(nbcore.InvalidArgumentError) as info:
        nbcore.Client().generate("a lighthouse", **kwargs)
    assert isinstance(info.value, ValueError)
    assert needle in str(info.value)
    assert client_env.requests() == []


def test_image_size_on_flash_is_refused_before_sending(client_env):
    with pytest.raises(nbcore.InvalidArgumentError):
        nbcore.Client(model="gemini-2.5-flash-image").generate("x", image_size="2K")
    assert client_env.requests() == []


def test_edit_with_an_input_image_changes_the_answer(client_env):
    red = _png(64, 64, lambda x, y: (220, 30, 30))
    blue = _png(64, 64, lambda x, y: (30, 30, 220))
    client = nbcore.Client(model="gemini-2.5-flash-image")
    a = client.generate("make it night", images=[red]).image.data
    b = client.generate("make it night", images=[blue]).image.data
    assert a != b
    body = client_env.requests()[0]["body"]
    part = body["contents"][-1]["parts"][1]["inlineData"]
    assert part["mimeType"] == "image/png"


@pytest.mark.parametrize("how", ["generate", "job.wait", "job.done"])
def test_gil_is_released_while_waiting(client_env, how):
    """Another Python thread keeps running while a request waits 2 s for the emulator."""
    client_env.script([{"pass": True, "delay_ms": 2000}])
    client = nbcore.Client()
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.01)

    t = threading.Thread(target=ticker)
    t0 = time.monotonic()
    t.start()
    try:
        if how == "generate":
            client.generate("a lighthouse")
        elif how == "job.wait":
            assert client.submit("a lighthouse").wait()
        else:
            job = client.submit("a lighthouse")
            while not job.done:
                pass   # busy, but every call releases the GIL
    finally:
        stop.set()
        t.join()
    elapsed = time.monotonic() - t0
    assert elapsed >= 1.9
    assert len(ticks) > 100, "another Python thread must keep running during the request"
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert max(gaps) < 0.5, f"the other thread stalled for {max(gaps):.2f} s"


def test_events_run_with_the_gil_on_the_waiting_thread(client_env):
    seen = []

    def on_event(ev):
        seen.append((threading.get_ident(), ev["kind"]))

    nbcore.Client(on_event=on_event).generate("a lighthouse")
    assert {tid for tid, _ in seen} == {threading.get_ident()}
    assert seen[0][1] == "attempt_start" and seen[-1][1] == "done"


def test_exception_in_event_callback_surfaces(client_env):
    def boom(ev):
        raise RuntimeError("callback failed")

    with pytest.raises(RuntimeError, match="callback failed"):
        nbcore.Client(on_event=boom).generate("a lighthouse")


def test_analyze_prompt():
    r = nbcore.analyze_prompt("a dog on the left and a cat on the right")
    assert isinstance(r, nbcore.PromptReport)
    assert r.risk == "medium" and r.distinct_subjects == 2 and r.relations == 2
    assert str(r).startswith("risk: medium")
    t = nbcore.analyze_prompt('a sign that says "OPEN"')
    assert t.text_spans == 1 and any(x["kind"] == "text" and x["head"] == "OPEN" for x in t.requirements)
    assert nbcore.analyze_prompt("a cat", "4K").risk == "low"
    with pytest.raises(nbcore.InvalidArgumentError) as e:
        nbcore.analyze_prompt("a cat", "8K")
    assert "image_size" in str(e.value) and e.value.advice


def test_check_image_verdicts():
    flat = _png(32, 32, lambda x, y: (128, 128, 128))
    busy = _png(32, 32, lambda x, y: ((x * 8) % 256, (y * 8) % 256, (x * y) % 256))
    c = nbcore.check_image(busy)
    assert c.ok and not c.blank and (c.width, c.height) == (32, 32) and c.mime == "image/png"
    c = nbcore.check_image(flat)
    assert not c.ok and c.blank and c.code == "BLANK_IMAGE" and "uniform" in c.reason
    c = nbcore.check_image(busy[: len(busy) // 2])
    assert not c.ok and not c.blank and c.code == "BAD_RESPONSE" and c.reason
    c = nbcore.check_image(b"")
    assert not c.ok
    c = nbcore.check_image(b"definitely not an image")
    assert not c.ok and c.code == "BAD_RESPONSE"


def test_exceptions_pickle_with_their_attributes():
    import pickle
    e = nbcore.RateLimitError("slow down", advice="wait", retry_after=3.0, dimension="RPM")
    e2 = pickle.loads(pickle.dumps(e))
    assert type(e2) is nbcore.RateLimitError and e2.retry_after == 3.0 and e2.advice == "wait"


def test_exception_hierarchy():
    assert issubclass(nbcore.TimeoutError, TimeoutError)
    assert issubclass(nbcore.NetworkError, ConnectionError)
    assert issubclass(nbcore.AuthError, PermissionError)
    assert issubclass(nbcore.BadRequestError, ValueError)
    assert issubclass(nbcore.BadGatewayError, nbcore.ServerError)
    assert issubclass(nbcore.UnavailableError, nbcore.ServerError)
    assert issubclass(nbcore.BlockedSafetyError, nbcore.SafetyBlockedError)
    assert issubclass(nbcore.BlockedPolicyError, nbcore.SafetyBlockedError)
