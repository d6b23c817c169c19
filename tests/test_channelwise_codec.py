"""A codec with the channel-wise prior through the whole stack: the model
directory, a fresh process, the exported SavedModels with both signature
families, and a client that decodes the stock outputs slice by slice."""

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_compression as tfc
from conftest import TINY, photo_like

import tfgancomp
from tfgancomp.deploy import resolve, savedmodel, store
from tfgancomp.formats import bitstream
from tfgancomp.model.codec import Codec
from tfgancomp.model.config import ModelConfig

CONFIG = ModelConfig(**TINY, entropy_model="channelwise", num_slices=4,
                     max_support_slices=2, kernel_size=3, slice_kernel_size=3)


@pytest.fixture(scope="module")
def codec_dir(tmp_path_factory):
    tf.keras.utils.set_random_seed(3)
    codec = Codec(CONFIG)
    codec.fix_tables()
    return store.save_codec(codec, tmp_path_factory.mktemp("cw") / "model",
                            "tiny-channelwise")


def test_the_config_names_the_prior_and_old_configs_keep_their_json():
    assert CONFIG.to_dict()["entropy_model"] == "channelwise"
    assert CONFIG.to_dict()["slice_kernel_size"] == 3
    assert not {"entropy_model", "slice_kernel_size"} & set(
        ModelConfig(**TINY).to_dict())
    assert ModelConfig.from_dict(CONFIG.to_dict()) == CONFIG


@pytest.mark.slow
def test_round_trip_in_a_fresh_process_and_through_exports(codec_dir,
                                                           tmp_path):
    model = resolve.load(codec_dir)
    assert model.entropy.autoregressive
    image = photo_like(45, 77, seed=5)
    data = tfgancomp.compress(image, model)
    decoded = np.asarray(tfgancomp.decompress(data, model))
    assert decoded.shape == image.shape
    (tmp_path / "a.tfgc").write_bytes(data)
    result = subprocess.run(
        [sys.executable, "-m", "tfgancomp", "decompress",
         str(tmp_path / "a.tfgc"), "-o", str(tmp_path / "a.png"),
         "--model", str(codec_dir)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    from PIL import Image
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "a.png")),
                                  decoded)

    export = tmp_path / "export"
    savedmodel.export(model, export)
    exported = resolve.load(export)
    assert tfgancomp.compress(image, exported) == data
    np.testing.assert_array_equal(
        np.asarray(tfgancomp.decompress(data, exported)), decoded)
    _client_decodes_stock_outputs(exported, export, image, decoded)

    # Tiled coding runs the codec rebuilt from the export's weights.
    large = photo_like(260, 300, seed=6)
    tiled = tfgancomp.compress(large, model, tile=16)
    assert bitstream.unpack(tiled).tile == 16
    assert tfgancomp.compress(large, exported, tile=16) == tiled
    np.testing.assert_array_equal(
        np.asarray(tfgancomp.decompress(tiled, exported)),
        np.asarray(tfgancomp.decompress(tiled, model)))


def _client_decodes_stock_outputs(exported, export, image, decoded):
    """Range coding by the client, slice by slice, around stock ops only."""
    tables = json.loads(
        (export / "encoder/1/assets/range_coding_tables.json").read_text())
    latent, side = tables["latent"], tables["side_latent"]
    coded = exported.signature("encoder")(image=tf.constant(image))
    stock = exported.signature("encoder", "stock")(image=tf.constant(image))
    symbols = stock["latent_symbols"]
    handle = tfc.create_range_decoder(coded["side_latent_bytes"],
                                      side["cdf"])
    side_symbols = stock["side_latent_symbols"]
    _, got = tfc.entropy_decode_channel(handle, tf.shape(side_symbols),
                                        tf.int32)
    np.testing.assert_array_equal(got + side["cdf_offset"], side_symbols)

    slices = CONFIG.num_slices
    depth = CONFIG.latent_channels // slices
    known = np.zeros(symbols.shape, np.int32)
    handle = tfc.create_range_decoder(coded["latent_bytes"], latent["cdf"])
    scale_indexes = exported.signature("decoder", "stock_scale_indexes")
    for k in range(slices):
        indexes = scale_indexes(side_latent_symbols=side_symbols,
                                latent_symbols=tf.constant(known),
                                image_size=stock["image_size"])[
            "latent_scale_indexes"][..., k * depth:(k + 1) * depth]
        handle, got = tfc.entropy_decode_index(handle, indexes,
                                               tf.shape(indexes), tf.int32)
        known[..., k * depth:(k + 1) * depth] = (
            got + tf.gather(latent["cdf_offset"], indexes)).numpy()
    np.testing.assert_array_equal(known, symbols)
    image_out = exported.signature("decoder", "stock")(
        latent_symbols=tf.constant(known), side_latent_symbols=side_symbols,
        image_size=stock["image_size"],
        model_fingerprint=stock["model_fingerprint"])["image"]
    np.testing.assert_array_equal(image_out, decoded)
