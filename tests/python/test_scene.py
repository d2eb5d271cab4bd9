"""Client.scene() and Client.inpaint() against the emulator, on Flash (PNG answers)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy
import pytest

import nbcore
from conftest import KEY, start_emulator, stop_emulator

FLASH = "gemini-2.5-flash-image"

ELEMENTS = [
    {"prompt": "a red barn", "box": (0.1, 0.4, 0.35, 0.4)},
    nbcore.Element("a white horse", (0.55, 0.5, 0.3, 0.35), z=1, mode="cutout"),
]


def _client():
    return nbcore.Client(model=FLASH)


def test_a_two_element_scene_completes(client_env, tmp_path):
    r = _client().scene("a quiet meadow", ELEMENTS, style="watercolour", aspect_ratio="4:3")
    assert isinstance(r, nbcore.SceneResult)
    assert r.complete and r.failed_stage is None and r.error is None and r.total_stages == 3
    assert [s.kind for s in r.stages] == ["background", "edit", "cutout"]
    for s in r.stages:
        assert isinstance(s, nbcore.SceneStage)
        assert s.status == "OK" and s.error is None and len(s.attempts) == 1
        assert s.answer[:4] == b"\x89PNG" and s.answer_mime == "image/png"
        assert s.prompt.endswith("watercolour") or "watercolour" in s.prompt
        assert s.placed[2] > 0 and s.placed[3] > 0
    final = r.image.to_numpy()
    assert final.shape[2] == 4 and final.shape[:2] == (r.image.height, r.image.width)
    assert numpy.array_equal(final, r.stages[-1].to_numpy())
    assert not numpy.array_equal(final, r.stages[0].to_numpy())
    assert r.image.to_pil().size == (r.image.width, r.image.height)
    assert r.cost_usd == pytest.approx(sum(s.cost_usd for s in r.stages)) and r.cost_usd > 0
    path = r.image.save(tmp_path / "scene.png")
    assert open(path, "rb").read(4) == b"\x89PNG"
    assert len(client_env.requests()) == 3


def test_a_failed_stage_does_not_raise_and_resume_sends_only_the_rest(client_env):
    client = _client()
    client_env.script(["pass", "pass", "image_safety"])
    r = client.scene("a quiet meadow", ELEMENTS)
    assert not r.complete and r.failed_stage == 2 and len(r.stages) == 3
    failed = r.stages[-1]
    assert failed.kind == "cutout" and failed.status == "BLOCKED_POLICY" and failed.composite is None
    assert isinstance(failed.error, nbcore.BlockedPolicyError) and failed.error.reason == "IMAGE_SAFETY"
    assert failed.error.advice and r.error is failed.error
    with pytest.raises(ValueError):
        failed.to_numpy()
    assert numpy.array_equal(r.image.to_numpy(), r.stages[1].to_numpy())
    client_env.reset()
    again = client.scene("a quiet meadow", ELEMENTS, resume=r)
    assert again.complete and len(client_env.requests()) == 1
    assert numpy.array_equal(again.stages[1].to_numpy(), r.stages[1].to_numpy())
    with pytest.raises(nbcore.InvalidArgumentError):
        client.scene("another place", ELEMENTS, resume=r)


def test_scene_plan_and_argument_errors(client_env):
    client = _client()
    r = client.scene(plan="a cat, a dog, a parrot and a goldfish in a sunny kitchen", grow=2, feather=0,
                     colour_match=False, seed=3)
    assert r.complete and r.total_stages >= 3 and r.stages[0].kind == "background"
    for bad in ([{"prompt": "x", "box": (0.8, 0, 0.5, 0.5)}], [{"prompt": "x", "box": (0, 0, 1)}],
                [{"prompt": "x", "box": (0, 0, 1, 1), "mode": "paste"}], [{"promt": "x", "box": (0, 0, 1, 1)}]):
        with pytest.raises(nbcore.InvalidArgumentError):
            client.scene("a meadow", bad)
    with pytest.raises(nbcore.InvalidArgumentError):
        client.scene()
    with pytest.raises(nbcore.InvalidArgumentError):
        client.scene("a meadow", aspect_ratio="16:10")


def _picture(w=200, h=150):
    y, x = numpy.mgrid[0:h, 0:w]
    img = numpy.stack([x * 255 // w, y * 255 // h, (x + y) & 0xFF, numpy.full_like(x, 255)], axis=2)
    return img.astype(numpy.uint8)


@pytest.mark.parametrize("kind", ["numpy", "pil", "pixels", "bytes", "path"])
def test_inpaint_keeps_far_pixels_bit_identical(client_env, tmp_path, kind):
    from PIL import Image as PILImage
    img = _picture()
    mask = numpy.zeros(img.shape[:2], dtype=numpy.uint8)
    mask[60:100, 80:130] = 255
    if kind == "numpy":
        image_in, mask_in = img, mask
    elif kind == "pil":
        image_in, mask_in = PILImage.fromarray(img, "RGBA"), PILImage.fromarray(mask, "L")
    else:
        pi, pm = tmp_path / "i.png", tmp_path / "m.png"
        PILImage.fromarray(img, "RGBA").save(pi)
        PILImage.fromarray(mask, "L").save(pm)
        if kind == "path":
            image_in, mask_in = str(pi), pm
        elif kind == "bytes":
            image_in, mask_in = pi.read_bytes(), pm.read_bytes()
        else:   # nbcore.Pixels from a previous result: the emulator's answer as the image
            image_in = nbcore.Client(model=FLASH).generate("a wall").image.pixels(4)
            img = numpy.asarray(image_in).copy()
            mask = numpy.zeros(img.shape[:2], dtype=numpy.uint8)
            mask[60:100, 80:130] = 255
            mask_in = mask
    r = _client().inpaint(image_in, mask_in, "a yellow flower", context=None)
    assert isinstance(r, nbcore.Result) and len(r.images) == 1 and r.image.mime == "image/png"
    out = r.image.to_numpy(4)
    assert out.shape == img.shape
    far = numpy.ones(mask.shape, dtype=bool)
    far[60 - 24:100 + 24, 80 - 24:130 + 24] = False
    assert numpy.array_equal(out[far], img[far])
    inside = (out[60:100, 80:130] != img[60:100, 80:130]).any(axis=2)
    assert inside.mean() > 0.5
    assert len(r.attempts) == 1 and r.cost_usd > 0


def test_the_inpaint_layer_over_the_input_gives_the_result(client_env):
    img = _picture()
    mask = numpy.zeros(img.shape[:2], dtype=numpy.uint8)
    mask[60:100, 80:130] = 255
    r = _client().inpaint(img, mask, "a yellow flower", grow=4, feather=6)
    layer = r.inpaint_layer
    assert isinstance(layer, nbcore.InpaintLayer)
    px = layer.to_numpy()
    assert px.shape == (layer.height, layer.width, 4) and len(layer.rgba) == layer.width * layer.height * 4
    # The rectangle covers the mask; its alpha is full inside the mask and soft at the feather.
    assert layer.x <= 80 and layer.y <= 60 and layer.x + layer.width >= 130 and layer.y + layer.height >= 100
    alpha = px[..., 3]
    assert (alpha[60 - layer.y:100 - layer.y, 80 - layer.x:130 - layer.x] == 255).all()
    assert ((alpha > 0) & (alpha < 255)).any()
    # Straight-alpha "over" in sRGB on the input reproduces the result's pixels.
    a = alpha[..., None].astype(numpy.float64) / 255.0
    under = img[layer.y:layer.y + layer.height, layer.x:layer.x + layer.width, :3].astype(numpy.float64)
    over = px[..., :3] * a + under * (1.0 - a)
    got = r.image.to_numpy(4)[layer.y:layer.y + layer.height, layer.x:layer.x + layer.width, :3]
    assert numpy.abs(over - got).max() <= 1.0
    # Results of other calls carry none; the layer survives pickling with its Result.
    assert nbcore.Client(model=FLASH).generate("a wall").inpaint_layer is None
    import pickle
    assert pickle.loads(pickle.dumps(r)).inpaint_layer == layer


def test_inpaint_argument_errors(client_env):
    client = _client()
    img = _picture()
    with pytest.raises(nbcore.InvalidArgumentError):
        client.inpaint(img, numpy.zeros((150, 200), dtype=numpy.uint8), "x")      # empty mask
    with pytest.raises(nbcore.InvalidArgumentError):
        client.inpaint(img, numpy.zeros((10, 10), dtype=numpy.uint8), "x")        # wrong size
    m = numpy.zeros((150, 200), dtype=bool)
    m[10:20, 10:20] = True
    with pytest.raises(nbcore.InvalidArgumentError):
        client.inpaint(img, m, "x", context="some")
    with pytest.raises(nbcore.InvalidArgumentError):
        client.inpaint(img, m, "")
    assert client_env.requests() == []
    r = client.inpaint(img, m, "a dot", context="whole", grow=0, feather=0, colour_match=False, seed=1)
    out = r.image.to_numpy(4)
    changed = (out != img).any(axis=2)
    assert not changed[~m].any()   # grow 0, feather 0: exactly the selection


def test_an_inpaint_failure_raises_with_the_attempts_and_advice(client_env):
    # The call runs on a helper thread; its error (kept per thread in C) must arrive whole.
    client_env.script(["image_safety"])
    img = _picture()
    m = numpy.zeros(img.shape[:2], dtype=numpy.uint8)
    m[10:40, 10:40] = 255
    with pytest.raises(nbcore.BlockedPolicyError) as info:
        _client().inpaint(img, m, "a dot")
    e = info.value
    assert e.reason == "IMAGE_SAFETY" and e.advice and len(e.attempts) == 1
    assert e.attempts[0].http_status == 200


@pytest.mark.parametrize("call", ["scene", "inpaint"])
def test_an_exception_from_on_event_cancels_the_call_midway(client_env, call):
    client_env.script([{"pass": True, "delay_ms": 5000}])

    def on_event(ev):
        if ev["kind"] == "attempt_start":
            raise LookupError("stop here")

    client = nbcore.Client(model=FLASH, on_event=on_event)
    img = _picture()
    m = numpy.zeros(img.shape[:2], dtype=numpy.uint8)
    m[10:40, 10:40] = 255
    t0 = time.monotonic()
    with pytest.raises(LookupError, match="stop here"):
        if call == "scene":
            client.scene("a quiet meadow", ELEMENTS)
        else:
            client.inpaint(img, m, "a dot")
    assert time.monotonic() - t0 < 2.0, "the held-back reply (5 s) was waited for"


# The child installs Python's own SIGINT handler first: a process started in the background of a
# non-interactive shell inherits SIGINT ignored, and Python then leaves it ignored.
CTRL_C_SCENE_SCRIPT = textwrap.dedent("""
    import signal, sys, numpy, nbcore
    signal.signal(signal.SIGINT, signal.default_int_handler)
    client = nbcore.Client(model="gemini-2.5-flash-image")
    img = numpy.zeros((96, 128, 4), numpy.uint8)
    img[..., 3] = 255
    mask = numpy.zeros((96, 128), numpy.uint8)
    mask[20:60, 30:90] = 255
    print("ready", flush=True)
    try:
        if sys.argv[1] == "scene":
            client.scene("a quiet meadow", [{"prompt": "a red barn", "box": (0.1, 0.4, 0.35, 0.4)}])
        else:
            client.inpaint(img, mask, "a yellow flower")
        print("finished", flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
""")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("call", ["scene", "inpaint"])
def test_ctrl_c_during_scene_or_inpaint_cancels_within_half_a_second(call):
    # An emulator of its own whose every answer takes 20 s.
    slow = start_emulator("--latency-ms", "20000")
    env = dict(os.environ)
    env.pop("GOOGLE_API_KEY", None)
    env.update(GEMINI_API_KEY=KEY, GOOGLE_GEMINI_BASE_URL=slow.url)
    proc = subprocess.Popen([sys.executable, "-c", CTRL_C_SCENE_SCRIPT, call], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(1.0)  # the (first) request is now waiting on the server
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out = proc.stdout.readline().strip()
        elapsed = time.monotonic() - t0
        assert out == "interrupted", proc.stderr.read()
        assert elapsed < 0.5   # the C call has ended too: it is joined before the exception is raised
        assert proc.wait(timeout=5) == 0
        assert len(slow.requests()) == 1
    finally:
        proc.kill()
        stop_emulator(slow)
