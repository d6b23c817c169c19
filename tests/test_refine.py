"""Encoder-side refinement: lower rate-distortion cost, same decoders."""

import numpy as np
import pytest
from conftest import photo_like

import tfgancomp
from tfgancomp.cli import main
from tfgancomp.errors import ConfigError, ModelError
from tfgancomp.evaluation import metrics


def rd_cost(image, data, model, lmbda):
    decoded = np.asarray(tfgancomp.decompress(data, model), np.float64)
    bpp = metrics.bits_per_pixel(len(data), *image.shape[:2])
    return bpp + lmbda * np.mean((image - decoded) ** 2), decoded


@pytest.mark.slow
def test_effort_lowers_the_cost_and_decodes_with_the_same_decoders(
        model, tmp_path):
    from tfgancomp.deploy import resolve, savedmodel
    assert model.lmbda == 0.01  # recorded by training
    image = photo_like(64, 96, seed=11)
    plain = tfgancomp.compress(image, model)
    refined = tfgancomp.compress(image, model, effort=1)
    assert refined != plain
    before, _ = rd_cost(image, plain, model, model.lmbda)
    after, decoded = rd_cost(image, refined, model, model.lmbda)
    assert after <= before
    savedmodel.export(model, tmp_path)
    exported = resolve.load(tmp_path)
    np.testing.assert_array_equal(
        np.asarray(tfgancomp.decompress(refined, exported)), decoded)
    # An export refines too, rebuilt as a Codec from its weights.
    assert exported.lmbda == 0.01
    assert tfgancomp.compress(image, exported, effort=1) == refined


def test_bad_effort_and_unknown_lambda_are_user_errors(model, capsys,
                                                       tmp_path):
    image = photo_like(16, 16)
    with pytest.raises(ConfigError, match="effort must be an integer"):
        tfgancomp.compress(image, model, effort=9)
    lmbda, model.lmbda = model.lmbda, None
    try:
        with pytest.raises(ModelError, match="rate-distortion weight"):
            tfgancomp.compress(image, model, effort=1)
    finally:
        model.lmbda = lmbda
    from PIL import Image
    Image.fromarray(image).save(tmp_path / "a.png")
    assert main(["compress", str(tmp_path / "a.png"), "--effort", "7"]) == 1
    assert "effort must be an integer from 0 to 3" in capsys.readouterr().err
