"""Images in and out: decoded pixels through the buffer protocol, numpy and PIL round trips, and the
input forms generate() takes (bytes, paths, PIL images, numpy arrays, nbcore.Pixels)."""

from __future__ import annotations

import base64
import gc
import io

import pytest

import nbcore

np = pytest.importorskip("numpy")
PIL = pytest.importorskip("PIL.Image")

FLASH = "gemini-2.5-flash-image"


def _decode(data: bytes, mode: str):
    return np.asarray(PIL.open(io.BytesIO(data)).convert(mode))


def test_to_numpy_is_the_png_exactly(client_env):
    im = nbcore.Client(model=FLASH).generate("a bicycle", aspect_ratio="3:2").image
    assert im.mime == "image/png" and not im.has_alpha
    a = im.to_numpy()
    assert a.shape == (im.height, im.width, 3) and a.dtype == np.uint8
    assert np.array_equal(a, _decode(im.data, "RGB")), "the PNG decodes to the same pixels with Pillow"
    rgba = im.to_numpy(channels=4)
    assert rgba.shape == (im.height, im.width, 4)
    assert np.array_equal(rgba[..., :3], a) and (rgba[..., 3] == 255).all()


def test_to_numpy_of_a_jpeg_matches_pillow_closely(client_env):
    im = nbcore.Client().generate("a lighthouse", aspect_ratio="16:9", image_size="1K").image
    assert im.mime == "image/jpeg"
    a = im.to_numpy()
    assert a.shape == (768, 1376, 3)
    diff = np.abs(a.astype(np.int16) - _decode(im.data, "RGB").astype(np.int16))
    assert diff.mean() < 2.0   # two JPEG decoders: rounding differs, the picture does not


def test_pixels_export_the_buffer_protocol_without_copies(client_env):
    im = nbcore.Client(model=FLASH).generate("a kite").image
    px = im.pixels()
    assert isinstance(px, nbcore.Pixels)
    assert (px.width, px.height, px.channels, px.mode) == (im.width, im.height, 3, "RGB")
    mv = memoryview(px)
    assert mv.shape == (im.height, im.width, 3) and mv.format == "B" and mv.itemsize == 1
    assert mv.nbytes == px.nbytes == im.width * im.height * 3
    assert mv.c_contiguous and not mv.readonly
    a, b = np.asarray(px), np.asarray(px)
    assert np.shares_memory(a, b), "numpy reads the pixels in place"
    a[0, 0] = (1, 2, 3)
    assert tuple(b[0, 0]) == (1, 2, 3) and px.tobytes()[:3] == b"\x01\x02\x03"
    assert not np.shares_memory(im.to_numpy(), a), "each pixels() call converts afresh"
    with pytest.raises(ValueError):
        im.pixels(channels=2)
    assert "RGB" in repr(px)


def test_to_pil_round_trip(client_env):
    im = nbcore.Client(model=FLASH).generate("a boat", aspect_ratio="16:9").image
    pil = im.to_pil()
    assert pil.mode == "RGB" and pil.size == (im.width, im.height)
    assert np.array_equal(np.asarray(pil), im.to_numpy())


def test_pixels_outlive_the_result(client_env):
    result = nbcore.Client(model=FLASH).generate("a tree")
    im = result.images[0]
    want = _decode(im.data, "RGB")
    del result
    gc.collect()
    a = im.to_numpy()           # the Image keeps the engine's result alive
    del im
    gc.collect()
    assert np.array_equal(a, want)   # the array keeps its pixels alive


def test_numpy_and_pil_inputs_round_trip(client_env):
    client = nbcore.Client(model=FLASH)
    first = client.generate("a red apple").image
    arr = first.to_numpy()
    # numpy in: sent as a PNG made here; that PNG decodes to the same array.
    data, mime = nbcore._image_bytes(arr)
    assert mime == "image/png" and np.array_equal(_decode(data, "RGB"), arr)
    second = client.generate("make it green", images=arr).image        # one image, not a list
    third = client.generate("make it blue", images=[first.to_pil()]).image
    fourth = client.generate("make it gold", images=[first.pixels(channels=4)]).image
    for out in (second, third, fourth):
        assert out.to_numpy().shape == (out.height, out.width, 3)
    sent = [r["body"]["contents"][-1]["parts"] for r in client_env.requests()[1:]]
    assert all(parts[1]["inlineData"]["mimeType"] == "image/png" for parts in sent)


@pytest.mark.parametrize("shape", [(16, 24), (16, 24, 1), (16, 24, 2), (16, 24, 3), (16, 24, 4)])
def test_numpy_input_shapes_encode_losslessly(shape):
    rng = np.random.default_rng(7)
    arr = rng.integers(0, 256, size=shape, dtype=np.uint8)
    data, mime = nbcore._image_bytes(arr)
    got = np.asarray(PIL.open(io.BytesIO(data)))
    assert np.array_equal(got.reshape(arr.shape), arr)
    check = nbcore.check_image(data)
    assert check.ok and (check.width, check.height) == (24, 16)


def test_bad_numpy_inputs_are_refused_before_sending(client_env):
    client = nbcore.Client(model=FLASH)
    with pytest.raises(nbcore.InvalidArgumentError, match="dtype"):
        client.generate("x", images=[np.zeros((8, 8, 3), dtype=np.float32)])
    with pytest.raises(nbcore.InvalidArgumentError, match="shape"):
        client.generate("x", images=[np.zeros((8, 8, 5), dtype=np.uint8)])
    with pytest.raises(nbcore.InvalidArgumentError, match="unsupported"):
        client.generate("x", images=[object()])
    assert client_env.requests() == []


def test_path_and_bytes_inputs(client_env, tmp_path):
    client = nbcore.Client(model=FLASH)
    png = client.generate("a cat").image.data
    path = tmp_path / "in.png"
    path.write_bytes(png)
    client.generate("a hat on it", images=[str(path)])
    client.generate("a hat on it", images=path)
    client.generate("a hat on it", images=[bytearray(png), memoryview(png)])
    bodies = [r["body"] for r in client_env.requests()[1:]]
    assert [len(b["contents"][-1]["parts"]) for b in bodies] == [2, 2, 3]
    sent = bodies[0]["contents"][-1]["parts"][1]["inlineData"]["data"]
    if not sent.startswith("<"):   # the request log may abbreviate long data
        assert base64.b64decode(sent) == png


def test_results_pickle_and_decode_with_pillow_afterwards(client_env):
    import pickle
    result = nbcore.Client(model=FLASH).generate("a lamp")
    copy = pickle.loads(pickle.dumps(result))
    assert copy == result and copy.image.data == result.image.data
    assert np.array_equal(copy.image.to_numpy(), result.image.to_numpy())   # PNG: exact
    assert copy.image.to_pil().size == (result.image.width, result.image.height)
    with pytest.raises(ValueError, match="no decoded pixels"):
        copy.image.pixels()
