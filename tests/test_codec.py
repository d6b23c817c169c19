"""The codec through the Python API: shapes, determinism, rate, identity."""

import dataclasses
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY, photo_like

import tfgancomp
from tfgancomp.deploy.warm_start import copy_weights
from tfgancomp.evaluation import metrics
from tfgancomp.formats import bitstream
from tfgancomp.model.codec import Codec
from tfgancomp.model.config import ModelConfig


def test_forward_shapes_and_gradients():
    codec = Codec(ModelConfig(**TINY, norm="channel", residual_blocks=2))
    images = tf.random.uniform([2, 40, 72, 3])
    with tf.GradientTape() as tape:
        forward = codec(images, training=True)
        loss = tf.reduce_sum(forward.bits + forward.side_bits) + tf.reduce_sum(
            forward.reconstruction)
    assert forward.reconstruction.shape == images.shape
    assert forward.latents.shape == (2, 3, 5, TINY["latent_channels"])
    assert forward.bits.shape == forward.side_bits.shape == (2,)
    gradients = tape.gradient(loss, codec.trainable_variables)
    assert all(g is not None for g in gradients)


@pytest.mark.parametrize("height, width", [
    (1, 1), (17, 33), (1000, 3), (3, 1000), (64, 64), (121, 187)])
def test_round_trip_sizes(model, height, width):
    image = photo_like(height, width, seed=height)
    data = tfgancomp.compress(image, model)
    decoded = tfgancomp.decompress(data, model)
    assert decoded.size == (width, height)
    assert decoded.mode == "RGB"
    assert np.array_equal(np.asarray(tfgancomp.decompress(data, model)),
                          np.asarray(decoded))


def test_round_trip_quality(model):
    image = photo_like(192, 256, seed=5)
    decoded = np.asarray(tfgancomp.decompress(
        tfgancomp.compress(image, model), model))
    # The tiny model trained for 600 steps: far from good, far from noise.
    flat = np.full_like(image, image.mean())
    assert metrics.psnr(image, decoded) > metrics.psnr(image, flat) + 2


def test_odd_sizes_code_as_well_as_even_ones(model):
    """Odd sizes must not shift the sampling grid (14 dB lost once)."""
    image = photo_like(193, 257, seed=6)
    psnrs = []
    for crop in (image, image[:192, :256]):
        decoded = tfgancomp.decompress(tfgancomp.compress(crop, model), model)
        psnrs.append(metrics.psnr(crop, np.asarray(decoded)))
    assert psnrs[0] == pytest.approx(psnrs[1], abs=1.0)


def test_payload_matches_bit_estimate(model):
    image = photo_like(256, 256, seed=11)
    string, side_string = model.compress(image)
    forward = model(tf.cast(image[None], tf.float32) / 255., training=False)
    estimate = float(forward.bits[0] + forward.side_bits[0]) / 8
    actual = len(string.numpy()) + len(side_string.numpy())
    assert actual == pytest.approx(estimate, rel=0.05)


def test_decoding_in_a_second_process_is_identical(model, trained_model_dir,
                                                   tmp_path):
    image = photo_like(130, 70, seed=3)
    data = tfgancomp.compress(image, model)
    (tmp_path / "a.tfgc").write_bytes(data)
    here = np.asarray(tfgancomp.decompress(data, model))
    script = (
        "import sys, numpy as np, tfgancomp\n"
        "m = tfgancomp.load_model(sys.argv[1])\n"
        "data = open(sys.argv[2], 'rb').read()\n"
        "np.save(sys.argv[3], np.asarray(tfgancomp.decompress(data, m)))\n")
    subprocess.run([sys.executable, "-c", script, str(trained_model_dir),
                    str(tmp_path / "a.tfgc"), str(tmp_path / "out.npy")],
                   check=True, capture_output=True)
    assert np.array_equal(np.load(tmp_path / "out.npy"), here)


def test_saved_model_codes_like_the_trained_one(model, trained_model_dir):
    image = photo_like(50, 60, seed=8)
    again = tfgancomp.load_model(trained_model_dir)
    assert again.fingerprint() == model.fingerprint()
    assert tfgancomp.compress(image, again) == tfgancomp.compress(image, model)


def test_wrong_model_is_refused(model, tmp_path):
    from tfgancomp.deploy.store import save_codec
    other = Codec(ModelConfig(**TINY))
    other.fix_tables()
    save_codec(other, tmp_path / "other", "other")
    other = tfgancomp.load_model(tmp_path / "other")
    data = tfgancomp.compress(photo_like(20, 20), model)
    with pytest.raises(tfgancomp.ModelMismatchError, match="tiny"):
        tfgancomp.decompress(data, other)


def test_header_records_model_and_size(model):
    data = tfgancomp.compress(photo_like(21, 34), model)
    container = bitstream.unpack(data)
    assert (container.height, container.width) == (21, 34)
    assert container.model_name == "tiny"
    assert container.model_fingerprint == model.fingerprint()


def test_a_side_prior_lost_with_its_tables_kept_is_fitted_back():
    """The exports shipped with 0.1.0 kept the side tables, not the
    density: fitted to the tables, it estimates what coding writes."""
    tf.keras.utils.set_random_seed(4)
    codec = Codec(ModelConfig(**TINY))
    for v in codec.entropy.side_prior.trainable_variables:
        v.assign(v + tf.random.normal(v.shape, stddev=0.5))
    codec.fix_tables()
    image = photo_like(64, 96, seed=1)
    _, side_string = codec.compress(image)
    fresh = Codec(ModelConfig(**TINY)).entropy.side_prior.variables
    for mine, initial in zip(codec.entropy.side_prior.variables, fresh):
        mine.assign(initial)
    before, after = codec.entropy.fit_side_prior(steps=300)
    assert after < before
    x = tf.cast(image, tf.float32)[None] / 255.
    estimate = float(codec(x).side_bits[0]) / 8
    assert abs(estimate - len(side_string.numpy())) <= max(
        4, 0.1 * len(side_string.numpy()))


def test_stage_blocks_added_to_a_trained_synthesis_start_as_it_was():
    tf.keras.utils.set_random_seed(3)
    config = ModelConfig(**TINY, qualities=2, realism=True)
    base = Codec(config)
    grown = Codec(dataclasses.replace(config, stage_blocks=(16, 8, 4)))
    images = tf.random.uniform([1, 48, 64, 3])
    for codec in (base, grown):
        codec(images, quality=0.5, realism=0.)
    copied, kept = copy_weights({v.name: v for v in base.variables},
                                grown.variables)
    assert kept and all("stage_block" in name for name in kept)
    y_hat = tf.round(base.analyze(images, 0.5))
    for realism in (0., 1.):
        np.testing.assert_array_equal(
            grown.reconstruct(y_hat, (48, 64), 0.5, realism),
            base.reconstruct(y_hat, (48, 64), 0.5, realism))
