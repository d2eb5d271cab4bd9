"""The scenario files of tests/cases, run through the Python package against the bundled emulator.
The same files run from C++ (nbcore_cases); both must agree with each file's expectations, and
both accept exactly the same fields (KNOWN_FIELDS here, known_fields() in case_runner.cpp)."""

from __future__ import annotations

import glob
import json
import os
import time

import pytest

import nbcore
from conftest import FAULT_MATRIX, KEY, start_emulator, stop_emulator

CASES_DIR = os.path.join(os.path.dirname(__file__), "..", "cases")
CASE_FILES = sorted(glob.glob(os.path.join(CASES_DIR, "*.json")))

# Every field a scenario file may use, per section ("" is the top level). Keep in step with
# known_fields() in tests/cases_runner/case_runner.cpp: a field only one driver knows is an error.
KNOWN_FIELDS = {
    "": {"name", "comment", "request", "client", "emulator", "script", "expect", "sent"},
    "request": {"model", "prompt", "aspect_ratio", "image_size", "seed", "repeat"},
    "client": {"retry", "max_attempts", "max_billed_retries", "backoff_base_ms", "backoff_cap_ms",
               "deadline_ms", "attempt_timeout_ms", "idle_timeout_ms", "stream", "routes",
               "downgrade_on_timeout", "retry_budget"},
    "emulator": {"latency_ms", "rpm_limit", "tpm_limit", "ipm_limit", "rpd_limit", "quota_tier"},
    "expect": {"status", "attempts", "outcomes", "reasons", "http_statuses", "routes", "image_sizes",
               "executions", "waits_ms", "durations_ms", "images", "image", "dimension", "safety_layer",
               "retryable", "reason", "http_status", "api_status", "advice_contains", "message_contains",
               "retry_after_ms", "min_elapsed_ms", "max_elapsed_ms"},
    "sent": {"requests", "path", "headers_present", "header_values", "body", "bodies", "body_absent",
             "faults"},
}
ROUTE_FIELDS = {"name", "quota_pool", "failover_on_capacity", "failover_on_quota", "failover_on_location",
                "failover_on_safety"}
ERROR_FIELDS = ("dimension", "safety_layer", "retryable", "reason", "http_status", "api_status",
                "advice_contains", "message_contains", "retry_after_ms")


def _check_fields(spec):
    for section, keys in KNOWN_FIELDS.items():
        obj = spec if section == "" else spec.get(section)
        if obj is None:
            continue
        assert isinstance(obj, dict), f"{section!r} must be an object"
        unknown = sorted(set(obj) - keys)
        prefix = f"{section}." if section else ""
        assert not unknown, f"unknown field(s): {', '.join(prefix + k for k in unknown)}"
    for route in spec.get("client", {}).get("routes", []):
        unknown = sorted(set(route) - ROUTE_FIELDS)
        assert not unknown, f"unknown field(s): {', '.join('client.routes[].' + k for k in unknown)}"


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
    # Named routes, all to the one emulator: what differs is the name, the quota pool and which
    # failures each may fail over for.
    routes = [nbcore.Route("custom", name=r.get("name"), base_url=url, quota_pool=r.get("quota_pool"),
                           failover_on_capacity=r.get("failover_on_capacity", True),
                           failover_on_quota=r.get("failover_on_quota", True),
                           failover_on_location=r.get("failover_on_location", True),
                           failover_on_safety=r.get("failover_on_safety", False))
              for r in c.get("routes", [])]
    return nbcore.Client(
        api_key=KEY, base_url=url, retry=policy,
        deadline=c.get("deadline_ms", 30000) / 1000.0,
        attempt_timeout=c.get("attempt_timeout_ms", 10000) / 1000.0,
        idle_timeout=(c["idle_timeout_ms"] / 1000.0) if "idle_timeout_ms" in c else None,
        stream=c.get("stream", False), routes=routes or None,
        downgrade_on_timeout=c.get("downgrade_on_timeout", False),
        retry_budget=c.get("retry_budget", True))


def _contains(have, want, path=""):
    if isinstance(want, dict):
        assert isinstance(have, dict), f"{path}: expected an object"
        for k, v in want.items():
            assert k in have, f"{path}.{k} missing"
            _contains(have[k], v, f"{path}.{k}")
    else:
        assert have == want, f"{path}: {have!r} != {want!r}"


def _has_path(have, path):
    for key in path.split("."):
        if not isinstance(have, dict) or key not in have:
            return False
        have = have[key]
    return True


def _ms(seconds):
    """Seconds (float) as whole milliseconds, the way the C ABI reported them."""
    return int(round(seconds * 1000))


def _within(value, bounds, what):
    lo, hi = bounds
    assert lo <= value <= hi, f"{what}: {value} ms not within {bounds}"


@pytest.mark.parametrize("path", CASE_FILES, ids=[os.path.basename(p)[:-5] for p in CASE_FILES])
def test_case(path):
    with open(path) as f:
        spec = json.load(f)
    _check_fields(spec)
    expect = spec.get("expect", {})
    req = spec.get("request", {})
    emu_opts = spec.get("emulator", {})
    args = ["--latency-ms", str(emu_opts.get("latency_ms", 0))]
    for field, flag in (("rpm_limit", "--rpm"), ("tpm_limit", "--tpm"), ("ipm_limit", "--ipm"),
                        ("rpd_limit", "--rpd"), ("quota_tier", "--quota-tier")):
        if emu_opts.get(field):
            args += [flag, str(emu_opts[field])]
    emu = start_emulator(*args)
    got = "?"
    try:
        emu.script(spec.get("script", {}))
        client = _client_for(spec, emu.url)
        # `repeat` runs the same request that many times through the one client (breakers, holds
        # and budgets carry over); every expectation is about the last run, `sent` about all.
        for _ in range(req.get("repeat", 1)):
            err = None
            result = None
            t0 = time.monotonic()
            try:
                result = client.generate(req.get("prompt", "a red apple on a table"),
                                         model=req.get("model") or None,
                                         aspect_ratio=req.get("aspect_ratio"),
                                         image_size=req.get("image_size"), seed=req.get("seed"))
                attempts, got = result.attempts, "OK"
            except nbcore.NbcoreError as e:
                err, attempts, got = e, e.attempts, e.code
            elapsed_ms = (time.monotonic() - t0) * 1000.0
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
    if "reasons" in expect:
        assert [a.reason for a in attempts] == expect["reasons"]
    if "http_statuses" in expect:
        assert [a.http_status for a in attempts] == expect["http_statuses"]
    if "routes" in expect:
        assert [a.route for a in attempts] == expect["routes"]
    if "image_sizes" in expect:
        assert [a.image_size for a in attempts] == expect["image_sizes"]
    if "executions" in expect:
        assert [a.execution for a in attempts] == expect["executions"]
    for i, bounds in enumerate(expect.get("waits_ms", [])):
        assert i < len(attempts), f"waits_ms: no attempt {i + 1}"
        _within(_ms(attempts[i].chosen_delay), bounds, f"wait after attempt {i + 1}")
    for i, bounds in enumerate(expect.get("durations_ms", [])):
        assert i < len(attempts), f"durations_ms: no attempt {i + 1}"
        _within(_ms(attempts[i].duration), bounds, f"duration of attempt {i + 1}")
    if "min_elapsed_ms" in expect:
        assert elapsed_ms >= expect["min_elapsed_ms"], f"elapsed {elapsed_ms:.0f} ms"
    if "max_elapsed_ms" in expect:
        assert elapsed_ms <= expect["max_elapsed_ms"], f"elapsed {elapsed_ms:.0f} ms"
    if "images" in expect:
        assert len(result.images if result else []) == expect["images"]
    if "image" in expect:
        assert result is not None and result.images, "image: expected an image, got none"
        im = result.images[0]
        _contains({"mime": im.mime, "width": im.width, "height": im.height}, expect["image"], "image")
    if err is None:
        asked = [k for k in ERROR_FIELDS if k in expect]
        assert not asked, f"{', '.join(asked)}: expected an error, the request succeeded"
    else:
        assert isinstance(err, nbcore.NbcoreError)
        assert err.advice, "every error carries advice"
        if "dimension" in expect:
            assert err.dimension == expect["dimension"]
        if "safety_layer" in expect:
            assert (err.safety_layer or 0) == expect["safety_layer"]
        if "retryable" in expect:
            assert err.retryable == expect["retryable"]
        if "reason" in expect:
            assert err.reason == expect["reason"]
        if "http_status" in expect:
            assert (err.http_status or 0) == expect["http_status"]
        if "api_status" in expect:
            assert err.api_status == expect["api_status"]
        for needle in expect.get("advice_contains", []):
            assert needle in err.advice
        for needle in expect.get("message_contains", []):
            assert needle in err.message
        if "retry_after_ms" in expect:
            if expect["retry_after_ms"] is None:
                assert err.retry_after is None, f"retry_after {err.retry_after} s, expected none"
            else:
                assert err.retry_after is not None, "retry_after: expected a value, got none"
                _within(_ms(err.retry_after), expect["retry_after_ms"], "retry_after")
    sent = spec.get("sent", {})
    if "requests" in sent:
        assert len(log) == sent["requests"]
    if "faults" in sent:
        assert [entry.get("fault", "") for entry in log] == sent["faults"]
    if "bodies" in sent:
        assert len(log) == len(sent["bodies"]), "bodies: one per request"
        for i, (entry, want) in enumerate(zip(log, sent["bodies"])):
            _contains(entry["body"], want, f"request {i + 1} body")
    for entry in log:
        if "path" in sent:
            assert entry["path"] == sent["path"]
        headers = {k.lower(): v for k, v in entry["headers"].items()}
        for h in sent.get("headers_present", []):
            assert h in headers
        for h, v in sent.get("header_values", {}).items():
            assert headers.get(h) == v, f"header {h}: {headers.get(h)!r} != {v!r}"
        if "body" in sent:
            _contains(entry["body"], sent["body"])
        for p in sent.get("body_absent", []):
            assert not _has_path(entry["body"], p), f"request body has {p}, which must be absent"
        assert KEY not in json.dumps(entry), "the API key must never appear in the request log"
