"""Realism drawn as grain: position-keyed noise, the grain branch on the
synthesis, its tiles and exports, its fit to one image, the
discriminator's stride-1 layers, the lattice measure that tells grain from
a grid and the detail loss terms."""

import dataclasses
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY, photo_like, plain_twin
from PIL import Image

import tfgancomp
from tfgancomp.cli import main
from tfgancomp.deploy import resolve, savedmodel, store
from tfgancomp.deploy.exported import load_export
from tfgancomp.deploy.warm_start import copy_weights
from tfgancomp.errors import ConfigError
from tfgancomp.evaluation import metrics
from tfgancomp.formats import bitstream
from tfgancomp.model import grain, grain_fit, tiling
from tfgancomp.model.codec import Codec
from tfgancomp.model.config import ModelConfig
from tfgancomp.training import detail
from tfgancomp.training.config import TrainConfig
from tfgancomp.training.data import folder_dataset
from tfgancomp.training.discriminator import (
    DiscriminatorConfig,
    MultiScaleDiscriminator,
)
from tfgancomp.training.objective import Objective
from tfgancomp.training.trainer import Trainer

CONFIG = ModelConfig(**TINY, qualities=2, realism=True,
                     realism_branch="grain")


def grain_codec(seed=3, config=CONFIG):
    """A random codec whose grain (and stage blocks) do something."""
    tf.keras.utils.set_random_seed(seed)
    codec = Codec(config)
    for variable in codec.synthesis.variables:
        if "kernel" in variable.name and not np.any(variable.numpy()):
            variable.assign(tf.random.normal(variable.shape, stddev=0.1))
    last = codec.synthesis.stack[-1]  # mid-grey, so that grain shows
    last.bias.assign(tf.fill(last.bias.shape, 0.5))
    codec.fix_tables()
    codec.lmbda = (0.001, 0.05)
    return codec


def test_position_noise_is_white_unit_and_keyed_to_the_image():
    noise = grain.position_noise(64, 96, 2).numpy()
    assert noise.shape == (64, 96, 2)
    np.testing.assert_array_equal(noise,
                                  grain.position_noise(64, 96, 2).numpy())
    assert abs(noise.mean()) < 0.05 and abs(noise.var() - 1) < 0.05
    assert np.abs(noise).max() <= 3 ** 0.5
    # No period: no frequency holds much more than its share.
    power = np.abs(np.fft.fft2(noise[..., 0] - noise[..., 0].mean())) ** 2
    assert power.max() / power.sum() < 10 / noise[..., 0].size
    assert abs(np.corrcoef(noise[..., 0].ravel(),
                           noise[..., 1].ravel())[0, 1]) < 0.05
    window = grain.position_noise(16, 24, 2, origin=(32, 48)).numpy()
    np.testing.assert_array_equal(window, noise[32:48, 48:72])


def test_the_branch_is_chosen_checked_and_trained_alone():
    assert "realism_branch" not in ModelConfig(**TINY, realism=True).to_dict()
    assert ModelConfig.from_dict(CONFIG.to_dict()) == CONFIG
    with pytest.raises(ConfigError, match="realism_branch"):
        ModelConfig(**TINY, realism=True, realism_branch="noise")
    fresh = Codec(CONFIG)
    names = [v.name for v in fresh.variables_of("realism")]
    assert names and all("realism/grain_" in n for n in names)
    assert not np.any(fresh.synthesis.realism.amplitude.kernel)
    assert tiling.synthesis_halo(CONFIG) > tiling.synthesis_halo(
        ModelConfig(**TINY))


def test_realism_0_is_the_synthesis_without_grain_and_1_is_fixed():
    grained = grain_codec()
    plain = plain_twin(grained)
    # Drawn by adapters instead, with the same encoder and tables: each
    # reads the other's files.
    adapted = Codec(dataclasses.replace(CONFIG, realism_branch="adapters"))
    adapted.fix_tables(placeholders=True)
    copy_weights({v.name: v for v in grained.coding_variables()},
                 adapted.coding_variables())
    assert adapted.reads_files_of(grained) and grained.reads_files_of(adapted)
    y = tf.random.normal([2, 3, 4, 16])
    np.testing.assert_array_equal(
        plain.synthesis(y), grained.synthesis(y, realism=tf.zeros([2])))
    ones = tf.ones([2])
    drawn = grained.synthesis(y, realism=ones)
    assert np.abs(np.asarray(drawn - plain.synthesis(y))).max() > 1e-2
    np.testing.assert_array_equal(drawn, grained.synthesis(y, realism=ones))
    # Training draws fresh noise: two passes differ.
    first, second = (grained.synthesis(y, realism=ones, training=True)
                     for _ in range(2))
    assert np.abs(np.asarray(first - second)).max() > 1e-3


def test_the_grain_is_luma_noise_whose_energy_grows_with_r():
    grained = grain_codec()
    y = tf.random.normal([1, 8, 8, 16])
    base = grained.synthesis(y, realism=tf.zeros([1]))
    added = {}
    for r in (0.25, 1.):
        delta = (grained.synthesis(y, realism=tf.constant([r])) - base)[0]
        # Luma only: the same in every channel.
        np.testing.assert_allclose(delta[..., 0], delta[..., 2], atol=1e-6)
        added[r] = float(tf.reduce_mean(delta[..., 0] ** 2))
    assert added[0.25] == pytest.approx(added[1.] / 4, rel=1e-4)
    # White at the finest scales: no frequency holds much.
    delta = (grained.synthesis(y, realism=tf.ones([1])) - base)[0, ..., 0]
    power = np.abs(np.fft.fft2(delta.numpy())) ** 2
    assert power.max() / power.sum() < 20 / power.size
    low = power[:32, :32].sum() + power[-32:, -32:].sum()
    assert low < 0.1 * power.sum()


def test_tiles_draw_the_grain_of_the_whole_image():
    codec = grain_codec(6, ModelConfig(**TINY, qualities=2, realism=True,
                                       realism_branch="grain",
                                       stage_blocks=(8, 8, 8)))
    y_hat = np.round(np.random.default_rng(0).normal(
        0, 3, (40, 36, TINY["latent_channels"]))).astype(np.float32)
    whole, tiles = (tiling.synthesize(codec, y_hat, (640, 576), tile, 0.5, 1.)
                    for tile in (64, 8))
    assert np.abs(whole.astype(int) - tiles.astype(int)).max() <= 1


def test_an_export_draws_the_same_grain(tmp_path):
    model = resolve.load(store.save_codec(grain_codec(), tmp_path / "model",
                                          "tiny-grain"))
    savedmodel.export(model, tmp_path / "export")
    exported = load_export(tmp_path / "export")
    image = photo_like(40, 56, seed=6)
    data = tfgancomp.compress(image, model, quality=0.5)
    decoded = np.asarray(tfgancomp.decompress(data, exported, realism=1.))
    np.testing.assert_array_equal(
        decoded, np.asarray(tfgancomp.decompress(data, model, realism=1.)))
    assert not np.array_equal(decoded, np.asarray(
        tfgancomp.decompress(data, model, realism=0.)))


def test_the_fit_solves_for_the_original_s_detail_energy():
    rng = np.random.default_rng(0)
    original = photo_like(128, 160, seed=2).astype(np.float64)
    faithful = sum(np.roll(original, shift, axis) for shift in (-1, 1)
                   for axis in (0, 1)) / 4  # detail blurred away
    noise = rng.normal(0, 6, original.shape[:2])[..., None]
    gain = grain_fit.fit(original, faithful, faithful + noise)
    assert 0 < gain < bitstream.MAX_GRAIN
    assert metrics.detail_ratio(original, faithful + gain * noise) == (
        pytest.approx(1, abs=0.01))
    assert grain_fit.fit(faithful, original, original + noise) == 0
    assert grain_fit.fit(original, faithful, faithful + noise / 100) == (
        bitstream.MAX_GRAIN)
    assert grain_fit.fit(original, faithful, faithful) is None
    tiny = original[:2, :40]
    assert grain_fit.fit(tiny, tiny / 2, tiny + noise[:2, :40]) is None
    assert grain_fit.realism_with(0.5, 2., True) == 2.
    for realism, gain, draws in ((0.5, None, True), (0.5, 2., False),
                                 (None, 2., False)):
        assert grain_fit.realism_with(realism, gain, draws) == realism


def test_effort_fits_the_grain_to_the_image(tmp_path, capsys):
    """At effort 1 the file holds the gain that brings realism 1 to the
    original's detail; realism 0 ignores it; `info` shows it."""
    codec = grain_codec()
    image = photo_like(48, 64, seed=4)
    plain = tfgancomp.compress(image, codec, quality=0.5)
    fitted = tfgancomp.compress(image, codec, quality=0.5, effort=1)
    container = bitstream.unpack(fitted)
    assert bitstream.unpack(plain).version == 2
    assert container.version == 3 and 0 < container.grain != 1

    def decoded(data, realism):
        return np.asarray(tfgancomp.decompress(data, codec, realism=realism))
    detail = {name: metrics.detail_ratio(image, decoded(data, 1.))
              for name, data in (("plain", plain), ("fitted", fitted))}
    assert detail["fitted"] == pytest.approx(1, abs=0.03)
    assert abs(detail["fitted"] - 1) < abs(detail["plain"] - 1)
    without = bitstream.pack(dataclasses.replace(container, grain=None))
    for realism in (0., 0.5):
        want = codec.decompress(
            container.string, container.side_string, image.shape[:2],
            container.quality, realism * container.grain**2).numpy()
        np.testing.assert_array_equal(decoded(fitted, realism), want)
    np.testing.assert_array_equal(decoded(fitted, 0.), decoded(without, 0.))
    (tmp_path / "a.tfgc").write_bytes(fitted)
    capsys.readouterr()
    assert main(["info", str(tmp_path / "a.tfgc"), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["grain"], shown["format_version"]) == (container.grain, 3)


def test_compare_codecs_shows_the_fitted_grain(tmp_path, capsys):
    model_dir = store.save_codec(grain_codec(), tmp_path / "model",
                                 "tiny-grain")
    image, keep = tmp_path / "a.png", tmp_path / "files"
    Image.fromarray(photo_like(48, 64, seed=4)).save(image)
    keep.mkdir()
    assert main(["compare-codecs", str(image), "--model", str(model_dir),
                 "--codecs", "webp", "--effort", "1", "-o",
                 str(tmp_path / "side.png"), "--keep", str(keep)]) == 0
    (coded,) = keep.glob("*.tfgc")
    assert bitstream.unpack(coded.read_bytes()).grain is not None
    assert main(["demo", "--effort", "9", "-o", str(tmp_path / "d")]) == 1
    assert "effort must be an integer" in capsys.readouterr().err


def test_stride_1_layers_come_first_in_the_discriminator():
    config = DiscriminatorConfig(base_filters=8, num_scales=2, input_layers=2)
    assert DiscriminatorConfig.from_dict(config.to_dict()) == config
    assert "input_layers" not in DiscriminatorConfig().to_dict()
    with pytest.raises(ConfigError, match="input_layers"):
        DiscriminatorConfig(input_layers=-1)
    discriminator = MultiScaleDiscriminator(config, latent_channels=4)
    images, latents = tf.zeros([2, 32, 48, 3]), tf.zeros([2, 2, 3, 4])
    logits, features = discriminator(images, latents, features=True)
    assert [tuple(x.shape) for x in logits] == [(2, 4, 6, 1), (2, 2, 3, 1)]
    assert len(features) == 2 * (2 + 4)
    assert tuple(features[0].shape) == (2, 32, 48, 8)


def _gradient_lattice(config, images):
    """The share of the discriminator's gradient on the images (the
    generator's non-saturating loss) at the period-8 lattice frequencies."""
    tf.keras.utils.set_random_seed(1)
    discriminator = MultiScaleDiscriminator(config, latent_channels=4)
    images = tf.Variable(images)
    with tf.GradientTape() as tape:
        logits = discriminator(images, tf.zeros([2, 4, 4, 4]), True)
        loss = tf.add_n([tf.reduce_sum(tf.nn.softplus(-x)) for x in logits])
    gradient = tape.gradient(loss, images).numpy().mean(-1)
    power = (np.abs(np.fft.fft2(gradient)) ** 2).sum(0)
    power[0, 0] = 0.
    return power[::8, ::8].sum() / power.sum()


def test_a_blurred_discriminator_sends_no_lattice_to_the_generator():
    config = DiscriminatorConfig(base_filters=8, num_scales=2, blur=True)
    assert "blur" not in DiscriminatorConfig().to_dict()
    assert DiscriminatorConfig.from_dict(config.to_dict()) == config
    images = tf.random.stateless_uniform([2, 64, 64, 3], (3, 4))
    share = 63 / 64 ** 2  # of the frequencies
    assert _gradient_lattice(dataclasses.replace(config, blur=False),
                             images) > 5 * share
    assert _gradient_lattice(config, images) < share


def test_the_lattice_share_tells_a_grid_from_grain():
    # 255 of the 192×256 frequencies are the lattice's: 0.5%.
    image = photo_like(192, 256, seed=4).astype(np.float64)
    assert metrics.lattice_share(image) < 2.
    rng = np.random.default_rng(0)
    grained = image + rng.normal(0, 8, image.shape)
    assert metrics.lattice_share(grained) < 1.
    rows, cols = np.mgrid[0:192, 0:256]
    grid = 8 * np.cos(np.pi * rows / 2) * np.cos(np.pi * cols / 2)
    assert metrics.lattice_share(image + grid[..., None]) > 50.
    # The same grid at another phase or on an odd crop is found too.
    shifted = image[1:190, 3:250] + grid[:189, :247, None]
    assert metrics.lattice_share(shifted) > 30.
    assert metrics.lattice_share(image[:15, :40]) is None


def test_the_spectral_term_charges_patterns_not_texture_within_bounds():
    images = np.stack([photo_like(64, 96, seed=s) for s in (1, 2)]) / 255.
    rows, cols = np.mgrid[0:64, 0:96]
    stripes = 0.03 * np.cos(2 * np.pi * (rows / 5 + cols / 7))
    originals = tf.constant(images, tf.float32)
    patterned = tf.Variable(tf.constant(images + stripes[None, ..., None],
                                        tf.float32))
    # The spectral term sees the detail the lattice measure does.
    power = detail.detail_spectrum(originals[:1])[0].numpy()
    lattice = power[::4, ::6].sum() / power.sum()
    assert 100 * lattice == pytest.approx(
        metrics.lattice_share(images[0]), rel=1e-3)
    assert np.all(detail.spectral_excess(originals, originals) == 0)
    blurred = tf.nn.avg_pool2d(originals, 3, 1, "SAME")
    assert np.all(detail.spectral_excess(originals, blurred) < 0.1)
    with tf.GradientTape() as tape:
        excess = detail.spectral_excess(originals, patterned)
        total = tf.reduce_sum(excess)
    assert np.all(excess.numpy() > 0.5)
    # Its gradient takes the pattern away.
    step = tape.gradient(total, patterned)
    lighter = patterned - 1e-2 * step / tf.reduce_max(tf.abs(step))
    assert np.all(detail.spectral_excess(originals, lighter).numpy()
                  < excess.numpy())
    # Phase is free: the same texture elsewhere costs nothing.
    moved = tf.roll(originals, [5, -9], [1, 2])
    assert np.all(detail.spectral_excess(originals, moved).numpy() < 1e-4)


def test_the_texture_term_asks_for_each_block_s_detail_energy():
    images = np.stack([photo_like(64, 96, seed=s) for s in (1, 2)]) / 255.
    originals = tf.constant(images, tf.float32)
    assert np.all(detail.texture_mismatch(originals, originals) == 0)
    blurred = tf.nn.avg_pool2d(originals, 5, 1, "SAME")
    flat = detail.texture_mismatch(originals, blurred).numpy()
    assert np.all((flat > 0.5) & (flat <= 1.))
    # Grain of the missing energy, block by block, mostly makes up for it.
    missing = tf.nn.relu(detail.block_energy(originals) -
                         detail.block_energy(blurred))
    noise = grain.high_pass(tf.random.stateless_normal(
        [2, 64, 96, 1], (1, 2))) / grain.HIGH_PASS_VARIANCE ** 0.5
    amplitude = tf.repeat(tf.repeat(tf.sqrt(missing / 20.), 16, 1), 16, 2)
    grained = blurred + amplitude[..., None] * noise
    assert np.all(detail.texture_mismatch(originals, grained).numpy()
                  < 0.3 * flat)
    # Counted by whole blocks: a crop's partial block is left out.
    assert detail.block_energy(originals[:, :40]).shape == (2, 2, 6)
    # Only a model with the knob has an r to weight it by.
    with pytest.raises(ConfigError, match="texture_weight"):
        Objective(ModelConfig(**TINY), TrainConfig(texture_weight=1.))


@pytest.mark.slow
def test_the_realism_phase_trains_the_grain_alone(image_folder, tmp_path):
    tf.keras.utils.set_random_seed(0)
    train = TrainConfig(lmbda=0.001, lmbda_max=0.05, gan_weight=50.,
                        fm_weight=100., spectral_weight=100.,
                        texture_weight=100., max_steps=2,
                        trainable="realism", log_every=1000)
    assert TrainConfig.from_dict(train.to_dict()) == train
    assert not {"spectral_weight", "texture_weight"} & set(
        TrainConfig().to_dict())
    trainer = Trainer(tmp_path / "run", CONFIG, train,
                      disc_config=DiscriminatorConfig(
                          base_filters=8, num_scales=1, input_layers=1))
    before = {v.name: v.numpy() for v in trainer.codec.variables}
    images = folder_dataset(image_folder, 64, 2, downscale_factor=1)
    result = trainer.fit(images, log=open(os.devnull, "w"))
    assert np.isfinite(result["loss"]) and result["spectral_excess"] >= 0
    assert result["texture_mismatch"] >= 0
    moved = {v.name for v in trainer.codec.variables if v.name in before
             and not np.array_equal(v.numpy(), before[v.name])}
    assert moved and all("realism/grain_" in name for name in moved)
