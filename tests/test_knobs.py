"""The quality and realism knobs: gain units, the realism-conditioned
synthesis, version-2 files, exports with knob inputs, rate targeting and
training with random knobs."""

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY, photo_like, plain_twin
from PIL import Image

import tfgancomp
from tfgancomp.api import quality_for_bpp
from tfgancomp.deploy import resolve, savedmodel, store
from tfgancomp.deploy.exported import load_export
from tfgancomp.errors import BitstreamError, ConfigError, ModelError
from tfgancomp.formats import bitstream
from tfgancomp.model.codec import Codec
from tfgancomp.model.conditioning import GainUnits, lmbda_at
from tfgancomp.model.config import ModelConfig

CONFIG = ModelConfig(**TINY, qualities=4, realism=True)


def knob_codec():
    """A random codec whose knobs do something: gains spread over a
    factor of e², realism adapters no longer zero."""
    tf.keras.utils.set_random_seed(7)
    codec = Codec(CONFIG)
    codec.gain.initialize([-1.0, -0.3, 0.3, 1.0])
    for _, out in codec.synthesis.realism.branches.values():
        out.kernel.assign(tf.random.normal(out.kernel.shape, stddev=0.3))
    codec.fix_tables()
    codec.lmbda = (0.001, 0.05)
    return codec


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return store.save_codec(knob_codec(),
                            tmp_path_factory.mktemp("knobs") / "model",
                            "tiny-knobs")


@pytest.fixture(scope="module")
def model(model_dir):
    return resolve.load(model_dir)


def test_knobs_stay_out_of_old_configs_and_are_checked():
    assert "qualities" not in ModelConfig(**TINY).to_dict()
    assert ModelConfig.from_dict(CONFIG.to_dict()) == CONFIG
    with pytest.raises(ConfigError, match="qualities"):
        ModelConfig(**TINY, qualities=1)
    with pytest.raises(ConfigError, match="realism"):
        ModelConfig(**TINY, realism="yes")


def test_realism_stages_adapt_the_coarsest_nonlinearities_only():
    assert "realism_stages" not in CONFIG.to_dict()
    coarse = Codec(ModelConfig(**TINY, realism=True, realism_stages=2))
    assert list(coarse.synthesis.realism.branches) == ["act_0", "act_1"]
    assert list(Codec(CONFIG).synthesis.realism.branches) == [
        "act_0", "act_1", "act_2"]
    y = tf.random.normal([2, 3, 4, 16])
    assert coarse.synthesis(y, realism=tf.ones([2])).shape == (2, 48, 64, 3)
    with pytest.raises(ConfigError, match="realism_stages must be at most 3"):
        ModelConfig(**TINY, realism=True, realism_stages=4)


def test_gains_interpolate_geometrically_between_trained_qualities():
    gains = GainUnits(3, 2)
    gains.log_gain.assign(np.array([[0., 1.], [1., 2.], [3., 2.]])
                          / GainUnits.SPEED)
    got = gains.gain(tf.constant([0., .25, .5, 1., 1.5]))[:, 0, 0, :]
    np.testing.assert_allclose(np.log(got.numpy()), [
        [0., 1.], [.5, 1.5], [1., 2.], [3., 2.], [3., 2.]], atol=1e-6)
    assert lmbda_at((0.001, 0.1), 0.5) == pytest.approx(0.01)
    assert lmbda_at(0.003) == 0.003


def test_realism_0_is_the_synthesis_without_adapters():
    conditioned = knob_codec()
    plain = plain_twin(conditioned)
    y = tf.random.normal([1, 3, 4, 16])
    unadapted = plain.synthesis(y)
    np.testing.assert_array_equal(
        unadapted, conditioned.synthesis(y, realism=tf.zeros([1])))
    adapted = conditioned.synthesis(y, realism=tf.ones([1]))
    assert np.abs(np.asarray(adapted - unadapted)).max() > 1e-3
    fresh = Codec(ModelConfig(**TINY, realism=True))
    assert all("realism" in v.name for v in fresh.variables_of("realism"))
    for _, out in fresh.synthesis.realism.branches.values():
        assert not np.any(out.kernel.numpy())


def test_quality_sets_the_rate_and_travels_in_a_version_2_file(model):
    image = photo_like(48, 80, seed=2)
    low = tfgancomp.compress(image, model, quality=0.1)
    high = tfgancomp.compress(image, model, quality=0.9)
    assert len(low) < len(high)
    container = bitstream.unpack(high)
    assert container.quality == bitstream.quantize_quality(0.9)
    assert high[4] == 2
    default = bitstream.unpack(tfgancomp.compress(image, model))
    assert default.quality == bitstream.quantize_quality(
        tfgancomp.api.DEFAULT_QUALITY)
    errors = [np.abs(np.asarray(tfgancomp.decompress(data, model,
                                                     realism=0.))
                     .astype(float) - image).mean() for data in (low, high)]
    assert errors[1] < errors[0]


def test_realism_is_chosen_when_decoding(model):
    data = tfgancomp.compress(photo_like(40, 40, seed=3), model)
    faithful, realistic, again = (
        np.asarray(tfgancomp.decompress(data, model, realism=r))
        for r in (0., 1., 0.))
    assert not np.array_equal(faithful, realistic)
    np.testing.assert_array_equal(faithful, again)


def test_knobs_a_model_lacks_are_refused(model, tmp_path):
    from tfgancomp.api import knobs
    assert knobs(model) == {"quality": True, "realism": True}
    with pytest.raises(ModelError, match="quality must be"):
        tfgancomp.compress(photo_like(32, 32), model, quality=1.5)
    with pytest.raises(ModelError, match="not both"):
        tfgancomp.compress(photo_like(32, 32), model, quality=.5, bpp=1.)
    fixed = Codec(ModelConfig(**TINY))
    fixed.fix_tables()
    with pytest.raises(ModelError, match="no quality knob"):
        tfgancomp.compress(photo_like(32, 32), fixed, quality=0.5)
    data = tfgancomp.compress(photo_like(32, 32), fixed)
    with pytest.raises(ModelError, match="no realism knob"):
        tfgancomp.decompress(data, fixed, realism=1.)
    # A file without its quality cannot be decoded by a variable-rate model.
    container = bitstream.unpack(tfgancomp.compress(photo_like(32, 32),
                                                    model))
    stripped = bitstream.pack(bitstream.Container(**{
        **container.__dict__, "quality": None}))
    with pytest.raises(BitstreamError, match="lacks the quality"):
        tfgancomp.decompress(stripped, model)


def test_bpp_finds_the_highest_quality_within_the_budget(model):
    image = photo_like(64, 64, seed=4)
    target = len(tfgancomp.compress(image, model, quality=0.5)) * 8 / 64**2
    quality = quality_for_bpp(image, model, target)
    size = len(tfgancomp.compress(image, model, quality=quality))
    assert size * 8 / 64**2 <= target and quality >= 0.5
    step = 1 / bitstream.QUALITY_STEPS
    if quality < 1:
        above = len(tfgancomp.compress(image, model, quality=quality + step))
        assert above * 8 / 64**2 > target
    data = tfgancomp.compress(image, model, bpp=target)
    assert len(data) == size
    assert len(tfgancomp.compress(image, model, bpp=1e-4)) == len(
        tfgancomp.compress(image, model, quality=0.))


def test_refinement_at_a_quality_decodes_with_the_same_decoder(model):
    from tfgancomp.model import refine
    image = photo_like(48, 48, seed=5)
    x = tf.cast(image, tf.float32)[None] / 255.
    plain = refine.refine(model, image, 0, quality=0.3)
    refined = refine.refine(model, image, 1, quality=0.3)
    assert (refine.cost(model, x, *refined, quality=0.3)
            <= refine.cost(model, x, *plain, quality=0.3))
    data = tfgancomp.compress(image, model, effort=1, quality=0.3)
    assert np.asarray(tfgancomp.decompress(data, model)).shape == image.shape


@pytest.mark.slow
def test_exports_take_the_knobs_and_match_the_codec(model, tmp_path):
    savedmodel.export(model, tmp_path / "export")
    exported = load_export(tmp_path / "export")
    assert exported.variable_rate and exported.has_realism
    inputs = exported.signature("decoder").structured_input_signature[1]
    assert {"quality", "realism"} <= set(inputs)
    image = photo_like(40, 56, seed=6)
    data = tfgancomp.compress(image, model, quality=0.7)
    assert tfgancomp.compress(image, exported, quality=0.7) == data
    np.testing.assert_array_equal(
        np.asarray(tfgancomp.decompress(data, exported, realism=0.25)),
        np.asarray(tfgancomp.decompress(data, model, realism=0.25)))
    stock = exported.signature("decoder", "stock").structured_input_signature
    assert {"quality", "realism"} <= set(stock[1])
    # A fresh process decodes the file from the export alone.
    (tmp_path / "a.tfgc").write_bytes(data)
    code = ("import sys, json, numpy as np, tfgancomp\n"
            "m = tfgancomp.load_model(sys.argv[1])\n"
            "d = open(sys.argv[2], 'rb').read()\n"
            "print(json.dumps(np.asarray(tfgancomp.decompress(d, m, "
            "realism=0.25)).astype(int).sum().item()))")
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "export"),
         str(tmp_path / "a.tfgc")], capture_output=True, text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), timeout=300)
    assert result.returncode == 0, result.stderr
    expected = np.asarray(tfgancomp.decompress(data, model, realism=0.25))
    assert json.loads(result.stdout) == expected.astype(int).sum()


@pytest.mark.slow
def test_training_samples_the_knobs(image_folder, tmp_path):
    from tfgancomp.training.config import TrainConfig
    from tfgancomp.training.data import folder_dataset
    from tfgancomp.training.discriminator import DiscriminatorConfig
    from tfgancomp.training.trainer import Trainer
    tf.keras.utils.set_random_seed(0)
    train = TrainConfig(lmbda=0.001, lmbda_max=0.05, gan_weight=50.,
                        fm_weight=100., max_steps=2, log_every=1000)
    with pytest.raises(ConfigError, match="lmbda_max"):
        Trainer(tmp_path / "bad", ModelConfig(**TINY), train)
    trainer = Trainer(tmp_path / "run", CONFIG, train,
                      disc_config=DiscriminatorConfig(base_filters=8,
                                                      num_scales=1))
    log = np.exp(GainUnits.SPEED *
                 trainer.codec.gain.log_gain.numpy()[:, 0])
    # Gains ∝ √λ, 1 at the middle quality's λ.
    np.testing.assert_allclose(log / log[0], np.sqrt(
        [lmbda_at((0.001, 0.05), k / 3) / 0.001 for k in range(4)]),
        rtol=1e-5)
    images = folder_dataset(image_folder, 64, 2, downscale_factor=1)
    held_out = images.take(1)
    metrics = trainer.fit(images, log=open(os.devnull, "w"))
    assert np.isfinite(metrics["loss"]) and metrics["fm_loss"] > 0
    validated = trainer.validate(held_out, log=open(os.devnull, "w"))
    assert {"quality_0/psnr", "quality_1/bpp", "realism_1/psnr"} <= set(
        validated)
    assert 0 < validated["realism_1/detail"] < 10
    saved = json.loads((tmp_path / "run" / "model" / "model.json")
                       .read_text())
    assert saved["lmbda"] == [0.001, 0.05]
    # A resumed run keeps the gains it learned, not the initial ones.
    trainer.codec.gain.log_gain.assign_add(
        tf.ones_like(trainer.codec.gain.log_gain))
    trainer.manager.save(checkpoint_number=trainer.global_step)
    resumed = Trainer(tmp_path / "run", CONFIG, train,
                      disc_config=DiscriminatorConfig(base_filters=8,
                                                      num_scales=1))
    np.testing.assert_array_equal(resumed.codec.gain.log_gain.numpy(),
                                  trainer.codec.gain.log_gain.numpy())


def test_evaluation_sweeps_the_trained_qualities_unless_told(model):
    from tfgancomp.evaluation import runs
    for sweep, labels in ((None, ["0", "0.333333", "0.666667", "1"]),
                          ((0.5, 1.), ["0.5", "1"])):
        curves = runs.model_curves({"tiny": model}, qualities=sweep,
                                   realisms=(1.,))
        assert [c.name for c in curves] == ["tiny r=1"]
        assert [s.label for s in curves[0].settings] == [
            f"model=tiny@q{q:g},r1" for q in map(float, labels)]


def test_the_demo_shows_three_rates_at_both_realisms(model, tmp_path):
    from tfgancomp.evaluation import classical, showcase
    webp = classical.CODECS["webp"]
    image = tmp_path / "photo.png"
    Image.fromarray(photo_like(64, 96, seed=8)).save(image)
    files = showcase.planned_rate_files(image, "tiny", model, [webp],
                                        tmp_path)
    shown = showcase.show_rates(np.asarray(Image.open(image)), 1000, "tiny",
                                model, [webp], 32, files)
    assert len(shown.rows) == len(showcase.DEMO_QUALITIES)
    assert [e.name for e in shown.rows[0][1]] == [
        "tiny r=0", "tiny r=1", "webp"]
    rates = [target for target, _ in shown.rows]
    assert rates == sorted(rates)
    assert [path for path, _ in shown.files] == files
    assert files[0].name == "photo.tiny.q0.1.tfgc"
    assert Image.open(io.BytesIO(shown.picture)).size[0] > 4 * 32


def test_the_command_takes_the_knobs(model_dir, tmp_path, capsys):
    from tfgancomp.cli import main
    image = tmp_path / "photo.png"
    Image.fromarray(photo_like(48, 64, seed=9)).save(image)
    out = tmp_path / "photo.tfgc"
    assert main(["compress", str(image), "--model", str(model_dir),
                 "--quality", "0.8", "-o", str(out)]) == 0
    assert bitstream.unpack(out.read_bytes()).quality == pytest.approx(
        0.8, abs=1e-4)
    for realism in ("0", "1"):
        assert main(["decompress", str(out), "--model", str(model_dir),
                     "--realism", realism, "-o",
                     str(tmp_path / f"r{realism}.png")]) == 0
    assert not np.array_equal(np.asarray(Image.open(tmp_path / "r0.png")),
                              np.asarray(Image.open(tmp_path / "r1.png")))
    target = out.stat().st_size * 8 / (48 * 64)
    assert main(["compress", str(image), "--model", str(model_dir),
                 "--bpp", str(target), "-o", str(tmp_path / "b.tfgc")]) == 0
    assert (tmp_path / "b.tfgc").stat().st_size <= out.stat().st_size
    capsys.readouterr()
    assert main(["info", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["format_version"] == 2
    with pytest.raises(SystemExit):
        main(["compress", str(image), "--quality", "2"])
