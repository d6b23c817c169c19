"""Round trips on real photos from ../shared/data (skipped without it)."""

import numpy as np
import pytest
from conftest import SHARED_DATA

import tfgancomp
from tfgancomp.formats import bitstream
from tfgancomp.formats.image_io import read_image

PHOTOS = sorted((SHARED_DATA / "bsds500" / "test").glob("*.jpg"))[:2]

pytestmark = pytest.mark.skipif(not PHOTOS, reason="../shared/data absent")


@pytest.mark.parametrize("path", PHOTOS, ids=lambda p: p.name)
def test_photo_round_trip(model, path):
    """Size, mode and deterministic decoding on a 481×321 JPEG photo.

    The test model learned on generated images, so there is no quality or
    rate bar here: real photos are far outside what it has seen.
    """
    picture = read_image(path)
    data = tfgancomp.compress(picture, model)
    container = bitstream.unpack(data)
    assert (container.width, container.height) == (481, 321) or (
        container.width, container.height) == (321, 481)
    decoded = tfgancomp.decompress(data, model)
    assert decoded.mode == "RGB"
    assert np.asarray(decoded).shape == picture.rgb.shape
    assert np.array_equal(np.asarray(tfgancomp.decompress(data, model)),
                          np.asarray(decoded))
