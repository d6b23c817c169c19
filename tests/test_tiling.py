"""Tiled coding (model/tiling.py): one bitstream, any machine, no cost."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY, photo_like

from tfgancomp import api
from tfgancomp.errors import BitstreamError, ImageError
from tfgancomp.formats import bitstream
from tfgancomp.model import tiling
from tfgancomp.model.codec import Codec
from tfgancomp.model.config import ModelConfig

IMAGE = photo_like(400, 300, seed=5)  # 25×19 latents: 2×2 tiles of 16


def _psnr(a, b) -> float:
    mse = np.mean((np.asarray(a, float) - np.asarray(b, float)) ** 2)
    return 10 * np.log10(255**2 / mse)


@pytest.fixture(scope="module")
def coded(model):
    untiled = api.compress(IMAGE, model)
    tiled = api.compress(IMAGE, model, tile=16)
    return untiled, tiled


def test_a_large_image_is_one_bitstream_that_costs_nothing(model, coded):
    untiled, tiled = coded
    assert bitstream.unpack(untiled).tile is None
    container = bitstream.unpack(tiled)
    assert container.tile == 16 and container.version == 2
    assert abs(len(tiled) - len(untiled)) <= 0.005 * len(untiled) + 8
    whole, tiles = (np.asarray(api.decompress(d, model)) for d in coded)
    assert tiles.shape == IMAGE.shape
    assert abs(_psnr(IMAGE, tiles) - _psnr(IMAGE, whole)) < 0.05
    np.testing.assert_array_equal(np.asarray(api.decompress(tiled, model)),
                                  tiles)


def test_a_latent_string_that_ends_early_is_refused(model, coded):
    container = bitstream.unpack(coded[1])
    for string in (container.string[:len(container.string) // 2], b""):
        broken = bitstream.pack(dataclasses.replace(container, string=string))
        with pytest.raises(BitstreamError):
            api.decompress(broken, model)


def test_files_from_before_tiling_are_synthesized_in_tiles(model,
                                                           monkeypatch):
    old = api.compress(IMAGE, model)  # one tile of 64: untiled
    whole = np.asarray(api.decompress(old, model))
    monkeypatch.setattr(tiling, "DEFAULT_TILE", 16)
    assert tiling.tile_for(model.config, 400, 300) == 16
    tiles = np.asarray(api.decompress(old, model))
    assert abs(_psnr(IMAGE, tiles) - _psnr(IMAGE, whole)) < 0.05


def test_tiles_refuse_refinement_and_bad_sizes(model):
    with pytest.raises(ImageError, match="coded in tiles"):
        api.compress(IMAGE, model, tile=16, effort=1)
    for tile in (15, 0, 65536, True):
        with pytest.raises(ImageError, match="tile must be"):
            api.compress(IMAGE, model, tile=tile)


def test_a_channelwise_model_codes_in_tiles():
    tf.keras.utils.set_random_seed(4)
    codec = Codec(ModelConfig(**TINY, entropy_model="channelwise",
                              num_slices=4, kernel_size=3))
    codec.fix_tables()
    untiled, tiled = (api.compress(IMAGE, codec, tile=t) for t in (None, 16))
    assert bitstream.unpack(tiled).tile == 16
    assert abs(len(tiled) - len(untiled)) <= 0.02 * len(untiled) + 16
    whole, tiles = (np.asarray(api.decompress(d, codec))
                    for d in (untiled, tiled))
    assert abs(_psnr(IMAGE, tiles) - _psnr(IMAGE, whole)) < 0.05


def test_the_halo_covers_stage_blocks_and_realism_adapters():
    tf.keras.utils.set_random_seed(6)
    config = ModelConfig(**TINY, qualities=2, realism=True,
                         stage_blocks=(8, 8, 8))
    assert tiling.synthesis_halo(config) > tiling.synthesis_halo(
        ModelConfig(**TINY))
    codec = Codec(config)
    codec(tf.zeros([1, 64, 64, 3]), quality=0.5, realism=0.)
    for variable in codec.synthesis.variables:  # blocks and adapters on
        if "kernel" in variable.name and not np.any(variable.numpy()):
            variable.assign(tf.random.normal(variable.shape, stddev=0.1))
    y_hat = np.round(np.random.default_rng(0).normal(
        0, 3, (40, 36, TINY["latent_channels"]))).astype(np.float32)
    whole, tiles = (tiling.synthesize(codec, y_hat, (640, 576), tile, 0.5, 1.)
                    for tile in (64, 8))
    assert np.abs(whole.astype(int) - tiles.astype(int)).max() <= 1
