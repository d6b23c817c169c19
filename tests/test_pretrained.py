"""The models shipped in the package: they load, code a real photo well,
and decode their files bit-exactly in a fresh process."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import tfgancomp
from tfgancomp.deploy import shipped
from tfgancomp.evaluation import metrics
from tfgancomp.formats import bitstream

SHIPPED = ("default", "default-mse", "default-gan")


@pytest.fixture(scope="module")
def photo():
    return np.asarray(Image.open(shipped.SAMPLE_PHOTO).convert("RGB"))


def test_the_default_models_ship_with_their_cards():
    assert shipped.DEFAULT_MODEL in SHIPPED
    assert set(SHIPPED) <= set(shipped.shipped_models())
    for name in SHIPPED:
        card = shipped.card(name)
        assert card["name"] == name
        training = card["training"]  # its own steps, or its warm start's
        assert training.get("cumulative_steps", training["steps"]) > 0
        assert shipped.size_bytes(shipped.shipped_path(name)) < 25e6
        identity = tfgancomp.load_model(name)
        assert identity.fingerprint().hex() == card["fingerprint"]
        if identity.variable_rate:  # its curve's BD-rates
            assert any(key.startswith(f"BD-rate of {name}") and
                       " vs webp " in key for key in card["results"])
        else:
            assert 0 < card["results"]["bpp"] < 1


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_codes_the_sample_photo(name, photo, tmp_path):
    model = tfgancomp.load_model(name)
    data = tfgancomp.compress(photo, model)
    container = bitstream.unpack(data)
    assert container.model_name == name
    decoded = np.asarray(tfgancomp.decompress(data, model))
    assert decoded.shape == photo.shape
    bpp = metrics.bits_per_pixel(len(data), *photo.shape[:2])
    # The operating point of the shipped models, with a margin.
    assert 0.05 < bpp < 0.6
    assert metrics.psnr(photo, decoded) > 24

    # A fresh process finds the model by the file's header and decodes
    # the same pixels.
    (tmp_path / "photo.tfgc").write_bytes(data)
    result = subprocess.run(
        [sys.executable, "-m", "tfgancomp", "decompress",
         str(tmp_path / "photo.tfgc"), "-o", str(tmp_path / "back.png")],
        capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    np.testing.assert_array_equal(
        np.asarray(Image.open(tmp_path / "back.png")), decoded)


@pytest.mark.slow
def test_the_gan_keeps_more_texture_than_the_mse_model(photo):
    details = {}
    for name in SHIPPED:
        model = tfgancomp.load_model(name)
        decoded = np.asarray(tfgancomp.decompress(
            tfgancomp.compress(photo, model), model))
        details[name] = metrics.detail_ratio(photo, decoded)
    assert details["default-mse"] < details["default-gan"]
