"""nbcore.Client's contract: the signature of the issue, the official SDKs' environment
conventions (keys, Vertex AI), argument checks, and documentation that reads well."""

from __future__ import annotations

import datetime
import inspect
import pydoc
import warnings

import pytest

import nbcore
from conftest import KEY

VERTEX_ENV = ("GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION",
              "GOOGLE_VERTEX_BASE_URL", "GOOGLE_CLOUD_ACCESS_TOKEN")


@pytest.fixture
def no_vertex_env(monkeypatch):
    for name in VERTEX_ENV:
        monkeypatch.delenv(name, raising=False)


def test_client_signature_is_the_issues():
    params = list(inspect.signature(nbcore.Client).parameters.values())
    leading = [(p.name, p.default) for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert leading == [("api_key", None), ("model", "gemini-3-pro-image-preview"), ("vertexai", None),
                       ("project", None), ("location", None), ("base_url", None), ("retry", "interactive"),
                       ("tier", None), ("budget", None), ("state_path", None), ("on_event", None)]
    assert all(p.kind is p.KEYWORD_ONLY for p in params[len(leading):])


@pytest.mark.parametrize("method", ["generate", "submit", "generate_async"])
def test_request_signature_is_the_issues(method):
    params = list(inspect.signature(getattr(nbcore.Client, method)).parameters.values())[1:]
    leading = [(p.name, p.default) for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert leading == [("prompt", inspect.Parameter.empty), ("images", None), ("aspect_ratio", None),
                       ("image_size", None), ("safety", None), ("seed", None), ("deadline", None)]


def test_retry_takes_presets_and_policies(client_env):
    for retry in ("interactive", "patient", "none", nbcore.RetryPolicy.preset("patient").replace(max_attempts=2)):
        nbcore.Client(retry=retry)
    with pytest.raises(nbcore.InvalidArgumentError, match="preset"):
        nbcore.Client(retry="eager")
    with pytest.raises(nbcore.InvalidArgumentError, match="callable"):
        nbcore.Client(on_event="print")


def test_google_api_key_wins_over_gemini_api_key(monkeypatch, emulator, no_vertex_env):
    monkeypatch.setenv("GOOGLE_API_KEY", KEY)
    monkeypatch.setenv("GEMINI_API_KEY", "a-wrong-key")
    with pytest.warns(UserWarning, match="GOOGLE_API_KEY and GEMINI_API_KEY are both set"):
        client = nbcore.Client(base_url=emulator.url)
    assert client.generate("a lighthouse").images
    monkeypatch.delenv("GOOGLE_API_KEY")
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # one key: no warning
        assert nbcore.Client(base_url=emulator.url).generate("a lighthouse").images


def test_explicit_key_beats_the_environment(monkeypatch, emulator, no_vertex_env):
    monkeypatch.setenv("GOOGLE_API_KEY", "a-wrong-key")
    monkeypatch.setenv("GEMINI_API_KEY", "another-wrong-key")
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # nothing read from the environment, nothing to warn about
        client = nbcore.Client(api_key=KEY, base_url=emulator.url)
    assert client.generate("a lighthouse").images


def test_vertex_with_a_project_uses_oauth_and_the_regional_path(client_env, monkeypatch, no_vertex_env):
    monkeypatch.setenv("GOOGLE_CLOUD_ACCESS_TOKEN", "ya29.test-token")
    client = nbcore.Client(vertexai=True, project="my-proj", location="us-central1", base_url=client_env.url)
    result = client.generate("a lighthouse")
    (req,) = client_env.requests()
    assert req["path"] == ("/v1/projects/my-proj/locations/us-central1/publishers/google/models/"
                           "gemini-3-pro-image-preview:generateContent")
    headers = {k.lower() for k in req["headers"]}
    assert "authorization" in headers and "x-goog-api-key" not in headers
    assert result.route.startswith("vertex")


def test_vertex_from_the_environment_as_the_sdks(client_env, monkeypatch, no_vertex_env):
    monkeypatch.setenv("GOOGLE_GENAI_USE_VERTEXAI", "true")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "env-proj")
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", "europe-west4")
    monkeypatch.setenv("GOOGLE_VERTEX_BASE_URL", client_env.url)
    monkeypatch.setenv("GOOGLE_CLOUD_ACCESS_TOKEN", "ya29.test-token")
    nbcore.Client().generate("a lighthouse")
    assert client_env.requests()[0]["path"].startswith("/v1/projects/env-proj/locations/europe-west4/")
    # vertexai=False overrides the environment: the Gemini Developer API (here: the emulator's URL).
    client_env.reset()
    nbcore.Client(vertexai=False, base_url=client_env.url).generate("a lighthouse")
    assert client_env.requests()[0]["path"].startswith("/v1beta/models/")


def test_vertex_express_mode_uses_the_api_key(client_env, no_vertex_env):
    nbcore.Client(vertexai=True, base_url=client_env.url).generate("a lighthouse")
    (req,) = client_env.requests()
    assert req["path"] == "/v1/publishers/google/models/gemini-3-pro-image-preview:generateContent"
    assert "x-goog-api-key" in {k.lower() for k in req["headers"]}


def test_a_project_alone_means_vertex(client_env, monkeypatch, no_vertex_env):
    monkeypatch.setenv("GOOGLE_CLOUD_ACCESS_TOKEN", "ya29.test-token")
    nbcore.Client(project="p1", base_url=client_env.url).generate("a lighthouse")
    assert client_env.requests()[0]["path"].startswith("/v1/projects/p1/locations/global/")


def test_contradictory_backend_arguments_are_refused(client_env):
    with pytest.raises(nbcore.InvalidArgumentError, match="vertexai=False"):
        nbcore.Client(vertexai=False, project="p1")
    with pytest.raises(nbcore.InvalidArgumentError, match="routes"):
        nbcore.Client(vertexai=True, routes=[nbcore.Route("custom", base_url=client_env.url)])


def test_deadline_takes_seconds_or_a_timedelta(client_env):
    client_env.script(["slow_first_byte:3000"])
    with pytest.raises(nbcore.DeadlineError):
        nbcore.Client().generate("x", deadline=datetime.timedelta(milliseconds=400))
    with pytest.raises(nbcore.InvalidArgumentError):
        nbcore.Client().generate("x", deadline="soon")
    with pytest.raises(nbcore.InvalidArgumentError):
        nbcore.Client(deadline=-1)


def test_generate_keyword_extras(client_env):
    client = nbcore.Client()
    res = client.generate("a lighthouse", None, "1:1", None, {"HARM_CATEGORY_HARASSMENT": "BLOCK_ONLY_HIGH"}, 42,
                          30.0, model="gemini-2.5-flash-image", temperature=0.5, system_instruction="be brief")
    assert res.image.width == 1024 and res.model_version == "gemini-2.5-flash-image"
    body = client_env.requests()[0]["body"]
    gc = body.get("generationConfig") or body.get("generation_config")
    assert gc["seed"] == 42 and gc["temperature"] == 0.5
    assert body["safetySettings"][0]["threshold"] == "BLOCK_ONLY_HIGH"
    assert client.model == "gemini-3-pro-image-preview" and "gemini-3-pro" in repr(client)


def test_result_attempt_fields(client_env):
    client_env.script([{"fault": "503_overloaded"}])
    res = nbcore.Client(retry=nbcore.RetryPolicy.preset("interactive").replace(server_base=0.05, server_cap=0.1)) \
        .generate("a lighthouse")
    first, second = res.attempts
    assert (first.number, first.outcome, first.http_status, second.outcome) == (1, "UNAVAILABLE", 503, "OK")
    assert first.route == res.route and first.server_delay is None
    assert isinstance(first.chosen_delay, float) and 0 < first.chosen_delay <= 0.2
    assert isinstance(first.duration, float) and first.duration >= 0
    assert second.chosen_delay == 0.0
    assert res.cost_usd > 0 and res.usage.total_tokens > 0 and isinstance(res.text, str)


def test_help_reads_well():
    text = pydoc.render_doc(nbcore.Client, renderer=pydoc.plaintext)
    for needle in ("GOOGLE_API_KEY", "GEMINI_API_KEY", "vertexai", "GOOGLE_GENAI_USE_VERTEXAI", "retry",
                   "interactive", "tier", "budget", "state_path", "on_event", "generate(", "submit(",
                   "generate_async(", "usage(", "KeyboardInterrupt", "aspect_ratio", "image_size"):
        assert needle in text, needle
    for name in ("generate", "submit", "generate_async", "usage", "usage_text"):
        assert getattr(nbcore.Client, name).__doc__
    for cls in (nbcore.Job, nbcore.Result, nbcore.Image, nbcore.Attempt, nbcore.Pixels, nbcore.NbcoreError):
        assert cls.__doc__ and len(cls.__doc__) > 40, cls


def test_constants_and_value_types(client_env, tmp_path, monkeypatch):
    assert nbcore.DEFAULT_MODEL == "gemini-3-pro-image-preview" == nbcore.Client().model
    assert nbcore.MODELS == ("gemini-3-pro-image-preview", "gemini-2.5-flash-image")
    assert nbcore.STATUS_NAMES[0] == "OK" and nbcore.STATUS_NAMES[8] == "AUTH"
    flash = nbcore.Client(model=nbcore.MODELS[1])
    for ratio in nbcore.ASPECT_RATIOS:
        im = flash.generate("a square", aspect_ratio=ratio).image
        w, h = (int(v) for v in ratio.split(":"))
        assert abs(im.width / im.height - w / h) < 0.05, ratio
    pro = nbcore.Client()
    for size, side in zip(nbcore.IMAGE_SIZES, (1024, 2048, 4096)):
        res = pro.generate("a square", aspect_ratio="1:1", image_size=size)
        assert (res.image.width, res.image_size) == (side, size)
    assert isinstance(res.usage, nbcore.Usage) and isinstance(res, nbcore.Result)
    assert isinstance(res.attempts[0], nbcore.Attempt) and isinstance(res.image, nbcore.Image)
    assert isinstance(nbcore.check_image(res.image.data), nbcore.ImageCheck)
    assert isinstance(nbcore.diagnose(200, "{}"), nbcore.Diagnosis)
    state = tmp_path / "default-state.db"
    monkeypatch.setenv("NBCORE_STATE_FILE", str(state))
    nbcore.Client(state_path=nbcore.DEFAULT_STATE).generate("a square")
    assert state.exists() and nbcore.state_usage(str(state))["keys"]
