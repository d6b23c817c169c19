"""Round trips on real photos from ../shared/data (skipped without it)."""

import numpy as np
import pytest
import tensorflow as tf

import tfgancomp
from tfgancomp.image_io import read_image

from conftest import SHARED_DATA

PHOTOS = sorted((SHARED_DATA / "bsds500" / "test").glob("*.jpg"))[:2]

pytestmark = pytest.mark.skipif(not PHOTOS, reason="../shared/data absent")


@pytest.mark.parametrize("path", PHOTOS, ids=lambda p: p.name)
def test_photo_round_trip(model, path):
    picture = read_image(path)
    data = tfgancomp.compress(picture, model)
    decoded = np.asarray(tfgancomp.decompress(data, model))
    assert decoded.shape == picture.rgb.shape
    # The test model learned on generated images: no quality bar on photos.
    assert np.array_equal(np.asarray(tfgancomp.decompress(data, model)),
                          decoded)
    string, side_string = model.compress(picture.rgb)
    forward = model(tf.constant(picture.rgb[None], tf.float32) / 255.)
    estimate = float(forward.bits[0] + forward.side_bits[0]) / 8
    payload = len(string.numpy()) + len(side_string.numpy())
    assert payload == pytest.approx(estimate, rel=0.05)
