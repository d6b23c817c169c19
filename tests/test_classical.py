"""The classical codecs: round trips, real sizes, target-bpp search."""

import numpy as np
import pytest
from conftest import SHARED_DATA, photo_like
from PIL import Image, features

from tfgancomp.errors import TfgancompError
from tfgancomp.evaluation import classical, metrics

PHOTO = photo_like(160, 192, seed=3)
PIXELS = 160 * 192
REAL_PHOTOS = sorted((SHARED_DATA / "bsds500" / "test").glob("*.jpg"))[:1]


def _available(name):
    reason = classical.unavailable_reason(name)
    if reason:
        pytest.skip(f"{name}: {reason}")
    return classical.CODECS[name]


@pytest.mark.parametrize("name", list(classical.CODECS))
def test_round_trip_and_real_file_size(name):
    codec = _available(name)
    value = codec.sweep[len(codec.sweep) // 2]
    data = classical.encode(codec, PHOTO, value)
    decoded = classical.decode(codec, data)
    assert decoded.shape == PHOTO.shape and decoded.dtype == np.uint8
    assert metrics.psnr(PHOTO, decoded) > 28
    assert metrics.bits_per_pixel(len(data), *PHOTO.shape[:2]) == (
        8 * len(data) / PIXELS)
    # The sweep raises the rate at every step.
    rates = [metrics.bits_per_pixel(
        len(classical.encode(codec, PHOTO, v)), *PHOTO.shape[:2])
        for v in codec.sweep]
    assert rates == sorted(rates) and len(set(rates)) == len(rates)


@pytest.mark.parametrize("name", list(classical.CODECS))
def test_hits_a_target_bpp(name):
    codec = _available(name)
    value, data = classical.encode_at_bpp(codec, PHOTO, 0.8)
    assert metrics.bits_per_pixel(len(data), *PHOTO.shape[:2]) == (
        pytest.approx(0.8, rel=0.05))
    assert data == classical.encode(codec, PHOTO, value)
    assert codec.low <= value <= codec.high


@pytest.mark.skipif(not REAL_PHOTOS, reason="../shared/data absent")
@pytest.mark.parametrize("path", REAL_PHOTOS, ids=lambda p: p.name)
def test_hits_a_target_bpp_on_real_photos(path):
    rgb = np.asarray(Image.open(path).convert("RGB"))
    for name in classical.CODECS:
        if classical.unavailable_reason(name) is None:
            _, data = classical.encode_at_bpp(classical.CODECS[name], rgb,
                                              0.5)
            assert metrics.bits_per_pixel(len(data), *rgb.shape[:2]) == (
                pytest.approx(0.5, rel=0.05))


def test_targets_out_of_reach_give_the_knob_ends():
    codec = classical.CODECS["jpeg-420"]
    assert classical.encode_at_bpp(codec, PHOTO, 0.001)[0] == codec.low
    assert classical.encode_at_bpp(codec, PHOTO, 20.0)[0] == codec.high


def test_files_are_complete_files_of_their_format():
    signatures = {"jpeg-420": b"\xff\xd8", "webp": b"RIFF",
                  "jpeg2000": b"\x00\x00\x00\x0cjP  "}
    for name, signature in signatures.items():
        codec = _available(name)
        assert classical.encode(codec, PHOTO, codec.sweep[0]).startswith(
            signature)


def test_jpeg_subsampling_and_jpeg2000_colour_transform():
    """4:4:4 keeps chroma that 4:2:0 halves; OpenJPEG's colour transform
    (off by default in Pillow) is on."""
    jpeg = {n: classical.decode(classical.CODECS[n], classical.encode(
        classical.CODECS[n], PHOTO, 90)) for n in ("jpeg-420", "jpeg-444")}
    assert metrics.psnr(PHOTO, jpeg["jpeg-444"]) > metrics.psnr(
        PHOTO, jpeg["jpeg-420"])
    assert classical.CODECS["jpeg2000"].save(0.5)["mct"] == 1


def test_resolve_names():
    names = [c.name for c in classical.resolve("jpeg, WebP,jpeg-420,avif")]
    assert names == ["jpeg-420", "jpeg-444", "webp", "avif"]
    with pytest.raises(TfgancompError, match="unknown codec 'png'"):
        classical.resolve("jpeg,png")
    with pytest.raises(TfgancompError, match="no codec"):
        classical.resolve(" , ")


def test_missing_codecs_are_reported(monkeypatch):
    def no_plugin():
        raise ImportError("No module named 'pillow_jxl'")
    monkeypatch.setattr(classical, "_import_jxl", no_plugin)
    assert "pip install 'tfgancomp[jxl]'" in classical.unavailable_reason(
        "jpegxl")
    monkeypatch.setattr(features, "check", lambda name: name != "avif")
    assert "without avif" in classical.unavailable_reason("avif")
    assert classical.unavailable_reason("webp") is None
