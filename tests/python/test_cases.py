"""The scenario files of tests/cases, run through the Python package against the bundled emulator.
The same files run from C++ (nbcore_cases); both must agree with each file's expectations."""

from __future__ import annotations

import glob
import json
import os

import pytest

import nbcore
from conftest import FAULT_MATRIX, KEY, start_emulator, stop_emulator

CASES_DIR = os.path.join(os.path.dirname(__file__), "..", "cases")
CASE_FILES = sorted(glob.glob(os.path.join(CASES_DIR, "*.json")))


def _client_for(spec, url):
    c = spec.get("client", {})
    policy = nbcore.RetryPolicy.preset(c.get("retry", "interactive"))
    base = c.get("backoff_base_ms", 50) / 1000.0
    cap = c.get("backoff_cap_ms", 400) / 1000.0
    policy = policy.replace(server_base=base, server_cap=cap, gateway_base=base, gateway_cap=cap,
                            rate_base=base, rate_cap=cap)
    if "max_attempts" in c:
        policy = policy.replace(max_attempts=c["max_attempts"])
    if "max_billed_retries" in c:
        policy = policy.replace(max_billed_retries=c["max_billed_retries"])
    return nbcore.Client(
        api_key=KEY, base_url=url, retry=policy,
        deadline=c.get("deadline_ms", 30000) / 1000.0,
        attempt_timeout=c.get("attempt_timeout_ms", 10000) / 1000.0,
        idle_timeout=(c["idle_timeout_ms"] / 1000.0) if "idle_timeout_ms" in c else None,
        stream=c.get("stream", False))


def _contains(have, want, path=""):
    if isinstance(want, dict):
        assert isinstance(have, dict), f"{path}: expected an object"
        for k, v in want.items():
            assert k in have, f"{path}.{k} missing"
            _contains(have[k], v, f"{path}.{k}")
    else:
        assert have == want, f"{path}: {have!r} != {want!r}"


@pytest.mark.parametrize("path", CASE_FILES, ids=[os.path.basename(p)[:-5] for p in CASE_FILES])
def test_case(path):
    with open(path) as f:
        spec = json.load(f)
    expect = spec.get("expect", {})
    req = spec.get("request", {})
    emu_opts = spec.get("emulator", {})
    args = ["--latency-ms", str(emu_opts.get("latency_ms", 0))]
    emu = start_emulator(*args)
    got = "?"
    try:
        emu.script(spec.get("script", {}))
        client = _client_for(spec, emu.url)
        err = None
        try:
            result = client.generate(req.get("prompt", "a red apple on a table"),
                                     model=req.get("model") or None,
                                     aspect_ratio=req.get("aspect_ratio"),
                                     image_size=req.get("image_size"), seed=req.get("seed"))
            attempts, got = result.attempts, "OK"
        except nbcore.NbcoreError as e:
            err, attempts, got = e, e.attempts, e.code
        log = emu.requests()
    finally:
        stop_emulator(emu)
        FAULT_MATRIX.append((spec.get("name", os.path.basename(path)), expect.get("status", "OK"), got,
                             got == expect.get("status", "OK")))

    assert got == expect.get("status", "OK"), f"{err}"
    if "attempts" in expect:
        assert len(attempts) == expect["attempts"]
    if "outcomes" in expect:
        assert [a.outcome for a in attempts] == expect["outcomes"]
    for i, (lo, hi) in enumerate(expect.get("waits_ms", [])):
        assert lo <= attempts[i].chosen_delay * 1000 <= hi, f"wait after attempt {i + 1}"
    if "images" in expect and err is None:
        assert len(result.images) == expect["images"]
    if err is not None:
        assert isinstance(err, nbcore.NbcoreError)
        assert err.advice, "every error carries advice"
        if "dimension" in expect:
            assert err.dimension == expect["dimension"]
        if "safety_layer" in expect:
            assert err.safety_layer == expect["safety_layer"]
        if "retryable" in expect:
            assert err.retryable == expect["retryable"]
        if "reason" in expect:
            assert err.reason == expect["reason"]
        if "http_status" in expect:
            assert err.http_status == expect["http_status"]
        for needle in expect.get("advice_contains", []):
            assert needle in err.advice
        if "retry_after_ms" in expect:
            lo, hi = expect["retry_after_ms"]
            assert err.retry_after is not None and lo <= err.retry_after * 1000 <= hi
    sent = spec.get("sent", {})
    if "requests" in sent:
        assert len(log) == sent["requests"]
    for entry in log:
        if "path" in sent:
            assert entry["path"] == sent["path"]
        headers = {k.lower() for k in entry["headers"]}
        for h in sent.get("headers_present", []):
            assert h in headers
        if "body" in sent:
            _contains(entry["body"], sent["body"])
        assert KEY not in json.dumps(entry), "the API key must never appear in the request log"
