"""The classical codecs: round trips, real sizes, target-bpp search."""

import numpy as np
import pytest
from conftest import SHARED_DATA, photo_like
from PIL import Image, features

from tfgancomp import baselines, metrics
from tfgancomp.errors import TfgancompError

PHOTO = photo_like(160, 192, seed=3)
PIXELS = 160 * 192
REAL_PHOTOS = sorted((SHARED_DATA / "bsds500" / "test").glob("*.jpg"))[:1]


def _available(name):
    reason = baselines.unavailable_reason(name)
    if reason:
        pytest.skip(f"{name}: {reason}")
    return baselines.CODECS[name]


@pytest.mark.parametrize("name", list(baselines.CODECS))
def test_round_trip_and_real_file_size(name):
    codec = _available(name)
    value = codec.sweep[len(codec.sweep) // 2]
    data = baselines.encode(codec, PHOTO, value)
    decoded = baselines.decode(codec, data)
    assert decoded.shape == PHOTO.shape and decoded.dtype == np.uint8
    assert metrics.psnr(PHOTO, decoded) > 28
    assert baselines.bpp(data, PHOTO) == 8 * len(data) / PIXELS
    # The sweep raises the rate at every step.
    rates = [baselines.bpp(baselines.encode(codec, PHOTO, v), PHOTO)
             for v in codec.sweep]
    assert rates == sorted(rates) and len(set(rates)) == len(rates)


@pytest.mark.parametrize("name", list(baselines.CODECS))
def test_hits_a_target_bpp(name):
    codec = _available(name)
    value, data = baselines.encode_at_bpp(codec, PHOTO, 0.8)
    assert baselines.bpp(data, PHOTO) == pytest.approx(0.8, rel=0.05)
    assert data == baselines.encode(codec, PHOTO, value)
    assert codec.low <= value <= codec.high


@pytest.mark.skipif(not REAL_PHOTOS, reason="../shared/data absent")
@pytest.mark.parametrize("path", REAL_PHOTOS, ids=lambda p: p.name)
def test_hits_a_target_bpp_on_real_photos(path):
    rgb = np.asarray(Image.open(path).convert("RGB"))
    for name in baselines.CODECS:
        if baselines.unavailable_reason(name) is None:
            _, data = baselines.encode_at_bpp(baselines.CODECS[name], rgb,
                                              0.5)
            assert baselines.bpp(data, rgb) == pytest.approx(0.5, rel=0.05)


def test_targets_out_of_reach_give_the_knob_ends():
    codec = baselines.CODECS["jpeg-420"]
    assert baselines.encode_at_bpp(codec, PHOTO, 0.001)[0] == codec.low
    assert baselines.encode_at_bpp(codec, PHOTO, 20.0)[0] == codec.high


def test_files_are_complete_files_of_their_format():
    signatures = {"jpeg-420": b"\xff\xd8", "webp": b"RIFF",
                  "jpeg2000": b"\x00\x00\x00\x0cjP  "}
    for name, signature in signatures.items():
        codec = _available(name)
        assert baselines.encode(codec, PHOTO, codec.sweep[0]).startswith(
            signature)


def test_jpeg_subsampling_and_jpeg2000_colour_transform():
    """4:4:4 keeps chroma that 4:2:0 halves; OpenJPEG's colour transform
    (off by default in Pillow) is on."""
    jpeg = {n: baselines.decode(baselines.CODECS[n], baselines.encode(
        baselines.CODECS[n], PHOTO, 90)) for n in ("jpeg-420", "jpeg-444")}
    assert metrics.psnr(PHOTO, jpeg["jpeg-444"]) > metrics.psnr(
        PHOTO, jpeg["jpeg-420"])
    assert baselines.CODECS["jpeg2000"].save(0.5)["mct"] == 1


def test_resolve_names():
    names = [c.name for c in baselines.resolve("jpeg, WebP,jpeg-420,avif")]
    assert names == ["jpeg-420", "jpeg-444", "webp", "avif"]
    with pytest.raises(TfgancompError, match="unknown codec 'png'"):
        baselines.resolve("jpeg,png")
    with pytest.raises(TfgancompError, match="no codec"):
        baselines.resolve(" , ")


def test_missing_codecs_are_reported(monkeypatch):
    def no_plugin():
        raise ImportError("No module named 'pillow_jxl'")
    monkeypatch.setattr(baselines, "_import_jxl", no_plugin)
    assert "pip install 'tfgancomp[jxl]'" in baselines.unavailable_reason(
        "jpegxl")
    monkeypatch.setattr(features, "check", lambda name: name != "avif")
    assert "without avif" in baselines.unavailable_reason("avif")
    assert baselines.unavailable_reason("webp") is None
