"""nbcore.diagnose() and `nbcore diagnose`: classify bodies obtained anywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import nbcore

RPD_BODY = json.dumps({"error": {
    "code": 429, "message": "You exceeded your current quota.", "status": "RESOURCE_EXHAUSTED",
    "details": [{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
        {"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
         "quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier"}]}]}})

HTML_502 = "<!DOCTYPE html>\n<html lang=en><title>Error 502 (Server Error)!!1</title><p><b>502.</b></html>"


@pytest.mark.parametrize("status, body, headers, code, check", [
    (429, RPD_BODY, None, "QUOTA_EXHAUSTED",
     lambda d: d.dimension == "RPD" and d.retry_after > 0 and "midnight Pacific" in d.advice and not d.retryable),
    (429, '{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}',
     {"Retry-After": "4"}, "RATE_LIMITED", lambda d: d.retry_after == 4.0 and d.retryable),
    (502, HTML_502, {"Content-Type": "text/html"}, "BAD_GATEWAY", lambda d: d.retryable),
    (404, '{"error":{"code":404,"message":"models/gemini-2.0-flash-preview-image-generation is not found for API version v1beta","status":"NOT_FOUND"}}',
     None, "MODEL_NOT_FOUND", lambda d: "gemini-3-pro-image-preview" in d.advice),
    (200, '{"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"},"usageMetadata":{"promptTokenCount":9}}',
     None, "BLOCKED_POLICY", lambda d: d.safety_layer == 2),
    (200, '{"candidates":[{"content":{"parts":[{"text":"I cannot draw that."}]},"finishReason":"STOP"}]}',
     None, "NO_IMAGE", lambda d: d.reason == "TEXT_ONLY" and "I cannot draw that." in d.message),
    (200, '{"candidates":[{"content":{"parts":[{"text":"cut', None, "BAD_RESPONSE", lambda d: d.retryable),
])
def test_diagnose_bodies(status, body, headers, code, check):
    d = nbcore.diagnose(status, body, headers)
    assert d.code == code, d
    assert check(d), d
    assert d.advice


def test_diagnose_accepts_bytes_and_pairs():
    d = nbcore.diagnose(503, b'{"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}',
                        [("Retry-After", "2")])
    assert d.code == "UNAVAILABLE" and d.retry_after == 2.0 and not d.ok


def test_diagnose_rejects_a_non_status():
    with pytest.raises(nbcore.InvalidArgumentError):
        nbcore.diagnose(42, "x")


def test_cli_diagnose_from_stdin_and_file(tmp_path):
    p = subprocess.run([sys.executable, "-m", "nbcore", "diagnose", "--status", "429", "-", "--json"],
                       input=RPD_BODY, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["code"] == "QUOTA_EXHAUSTED" and doc["dimension"] == "RPD"
    f = tmp_path / "502.html"
    f.write_text(HTML_502)
    p = subprocess.run([sys.executable, "-m", "nbcore", "diagnose", "--status", "502", str(f),
                        "--header", "Content-Type: text/html"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and "BAD_GATEWAY" in p.stdout and "advice:" in p.stdout
