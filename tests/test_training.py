"""The trainer: the loss falls, and a run resumes where it stopped."""

import dataclasses
import io
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY, photo_like
from PIL import Image

from tfgancomp.errors import ConfigError, ModelError, TrainingError
from tfgancomp.model.codec import Codec
from tfgancomp.model.config import ModelConfig
from tfgancomp.training import losses
from tfgancomp.training.config import TrainConfig
from tfgancomp.training.data import folder_dataset
from tfgancomp.training.discriminator import DiscriminatorConfig
from tfgancomp.training.objective import Objective
from tfgancomp.training.strategy import make_strategy
from tfgancomp.training.trainer import Trainer

TRAIN = TrainConfig(lmbda=0.01, learning_rate=2e-3, max_steps=600)


def rd_loss(codec, images):
    forward = codec(images, training=False)
    bpp = losses.bits_per_pixel(forward.bits + forward.side_bits, images)
    mse = losses.mse_255(images, forward.reconstruction)
    return float(losses.rate_distortion(bpp, mse, TRAIN.lmbda))


def test_training_lowers_the_loss(trained_model_dir, image_folder):
    images = np.stack([np.asarray(Image.open(p))[:128, :128]
                       for p in sorted(image_folder.glob("*.png"))])
    images = tf.constant(images, tf.float32) / 255.
    trained = Trainer(trained_model_dir, ModelConfig(**TINY), TRAIN).codec
    untrained = Codec(ModelConfig(**TINY))
    assert rd_loss(trained, images) < 0.5 * rd_loss(untrained, images)


def test_resume_restores_weights_step_and_optimizer(trained_model_dir,
                                                    tmp_path, model):
    run = shutil.copytree(trained_model_dir, tmp_path / "run")
    trainer = Trainer(run, ModelConfig(**TINY), TRAIN)
    assert int(trainer.step) == 600
    assert int(trainer.optimizer.iterations) == 600
    slots = [v for v in trainer.optimizer.variables if v.name.startswith("m/")]
    assert slots and any(np.abs(v.numpy()).sum() > 0 for v in slots)
    for a, b in zip(trainer.codec.analysis.weights, model.analysis.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_resume_refuses_another_model_config(trained_model_dir, tmp_path):
    run = shutil.copytree(trained_model_dir, tmp_path / "run")
    with pytest.raises(ConfigError, match="different model config"):
        Trainer(run, ModelConfig(**dict(TINY, num_filters=8)), TRAIN)


def test_divergence_stops_with_the_last_good_checkpoint(trained_model_dir,
                                                        tmp_path,
                                                        image_folder):
    run = shutil.copytree(trained_model_dir, tmp_path / "run")
    config = dataclasses.replace(TRAIN, max_steps=610, checkpoint_every=1)
    trainer = Trainer(run, ModelConfig(**TINY), config)
    trainer.train_step = lambda images: {"loss": tf.constant(np.nan)}
    with pytest.raises(TrainingError, match="ckpt-600"):
        trainer.fit(folder_dataset(image_folder, 128, 4))
    assert int(Trainer(run, ModelConfig(**TINY), TRAIN).step) == 600


# Short runs on one fixed batch of 64-px crops, with a tiny discriminator.

DISC = DiscriminatorConfig(base_filters=8, num_scales=2)
SHORT = TrainConfig(lmbda=0.01, learning_rate=1e-3, max_steps=4,
                    log_every=1, summary_every=1, validate_every=4,
                    checkpoint_every=100)


@pytest.fixture(scope="module")
def batch():
    images = np.stack([photo_like(64, 64, seed=s) for s in range(4)])
    return tf.constant(images, tf.float32) / 255.


def fixed(batch):
    return tf.data.Dataset.from_tensors(batch).repeat()


def event_tags(directory) -> dict[str, list[int]]:
    """TensorBoard tag → the steps it was written at."""
    tags = {}
    for path in sorted(Path(directory).glob("events.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                tags.setdefault(value.tag, []).append(event.step)
    return tags


def test_warmup_then_adversarial_phase(tmp_path, batch):
    config = dataclasses.replace(SHORT, gan_weight=0.1, warmup_steps=2)
    trainer = Trainer(tmp_path, ModelConfig(**TINY), config,
                      disc_config=DISC)
    disc_before = [v.numpy() for v in trainer.discriminator.variables]
    log = io.StringIO()
    trainer.fit(fixed(batch), tf.data.Dataset.from_tensors(batch), log=log)
    lines = log.getvalue().splitlines()
    phases = [line.split()[2] for line in lines if "[validation]" not in line]
    assert phases == ["[rate-distortion]"] * 2 + ["[adversarial]"] * 2
    assert "d_loss" not in lines[1] and "d_loss" in lines[2]
    assert int(trainer.disc_optimizer.iterations) == 2
    assert any(np.any(a != b.numpy()) for a, b in
               zip(disc_before, trainer.discriminator.variables))
    train = event_tags(tmp_path / "train")
    assert train["bpp"] == [1, 2, 3, 4] and train["d_loss"] == [3, 4]
    validation = event_tags(tmp_path / "validation")
    assert {"bpp", "psnr", "ms_ssim", "detail",
            "original | reconstruction"} <= set(validation)
    assert (tmp_path / "model" / "model.json").exists()
    # The discriminator and its optimizer are checkpointed too.
    resumed = Trainer(tmp_path, ModelConfig(**TINY), config, disc_config=DISC)
    assert int(resumed.step) == 4
    assert int(resumed.disc_optimizer.iterations) == 2
    for a, b in zip(trainer.discriminator.variables,
                    resumed.discriminator.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def weights(trainer):
    return np.concatenate([v.numpy().ravel()
                           for v in trainer.codec.trainable_variables])


def new_trainer(run, config):
    tf.keras.utils.set_random_seed(1)  # the same initial weights each time
    return Trainer(run, ModelConfig(**TINY), config)


def test_resume_continues_like_an_uninterrupted_run(tmp_path, batch):
    """A run stopped at step 2 and resumed to 4 restores step, weights and
    optimizer state, and ends close to one run straight to 4 (not equal:
    the uniform noise of the rate estimate differs)."""
    whole = new_trainer(tmp_path / "whole", SHORT)
    start = weights(whole)
    whole.fit(fixed(batch), log=io.StringIO())
    first = new_trainer(tmp_path / "resumed",
                        dataclasses.replace(SHORT, max_steps=2))
    first.fit(fixed(batch), log=io.StringIO())
    resumed = new_trainer(tmp_path / "resumed", SHORT)
    assert int(resumed.step) == 2 and int(resumed.optimizer.iterations) == 2
    for a, b in zip(first.optimizer.variables, resumed.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    resumed.fit(fixed(batch), log=io.StringIO())
    assert int(resumed.step) == 4
    change = np.abs(weights(whole) - start).mean()
    assert np.abs(weights(resumed) - weights(whole)).mean() < 0.1 * change


def test_init_from_an_unknown_model_fails(tmp_path):
    with pytest.raises(ModelError, match="model not found"):
        Trainer(tmp_path / "new", ModelConfig(**TINY), SHORT,
                init_from=tmp_path / "nothing")


def test_init_from_copies_a_models_weights_by_name(tmp_path,
                                                   trained_model_dir):
    from tfgancomp.deploy import resolve
    source = resolve.load_codec(trained_model_dir)
    trainer = Trainer(tmp_path / "new", ModelConfig(**TINY), SHORT,
                      init_from=trained_model_dir)
    trained = trainer.codec.trainable_variables
    assert set(trainer.warm_started) >= {v.name for v in trained}
    assert trainer.fresh_after_warm_start() == []
    for mine, theirs in zip(trained, source.trainable_variables):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    assert int(trainer.step) == 0


@pytest.mark.parametrize("changes", [
    dict(lmbda=0), dict(learning_rate=-1.), dict(gan_weight=-0.1),
    dict(warmup_steps=-1), dict(max_steps=-1), dict(disc_steps=0),
    dict(distortion="psnr"), dict(gan_loss="relativistic"),
    dict(target_bpp=0.), dict(target_bpp=0.2, rate_penalty=0.5),
])
def test_bad_training_configs(changes):
    with pytest.raises(ConfigError):
        dataclasses.replace(SHORT, **changes)


def test_unknown_strategy_and_missing_tf_config(monkeypatch):
    with pytest.raises(ConfigError, match="unknown strategy"):
        make_strategy("tpu")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="TF_CONFIG"):
        make_strategy("multi_worker")


def test_the_learning_rate_schedule():
    config = dataclasses.replace(
        SHORT, learning_rate=3e-4, learning_rate_schedule="10:1e-4,20:5e-5")
    assert [config.learning_rate_at(s) for s in (0, 9, 10, 19, 20, 99)] == (
        [3e-4, 3e-4, 1e-4, 1e-4, 5e-5, 5e-5])
    for bad in ("10", "20:1e-4,10:1e-5", "0:1e-4", "5:-1", "x:y"):
        with pytest.raises(ConfigError, match="learning_rate_schedule"):
            dataclasses.replace(SHORT, learning_rate_schedule=bad)


def _trains_only(tmp_path, batch, model_config, trainable, expected):
    config = dataclasses.replace(SHORT, trainable=trainable, max_steps=2)
    trainer = Trainer(tmp_path, model_config, config)
    codec = trainer.codec
    assert {v.ref() for v in trainer.codec_variables} == {
        v.ref() for v in expected(codec)}
    before = {v.name: v.numpy() for v in codec.trainable_variables}
    trainer.fit(fixed(batch), log=io.StringIO())
    changed = {v.name for v in codec.trainable_variables
               if np.any(v.numpy() != before[v.name])}
    assert changed == {v.name for v in expected(codec)}


def test_trainable_decoder_trains_the_synthesis_alone(tmp_path, batch):
    _trains_only(tmp_path, batch, ModelConfig(**TINY), "decoder",
                 lambda codec: codec.synthesis.trainable_variables)
    variable_rate = Codec(ModelConfig(**TINY, qualities=3))
    decoder = {v.ref() for v in variable_rate.variables_of("decoder")}
    assert variable_rate.gain.log_inverse_gain.ref() in decoder
    assert variable_rate.gain.log_gain.ref() not in decoder


def test_trainable_realism_trains_the_adapters_alone(tmp_path, batch):
    config = ModelConfig(**TINY, realism=True)
    _trains_only(tmp_path, batch, config, "realism",
                 lambda codec: codec.synthesis.realism.trainable_variables)
    with pytest.raises(ConfigError, match="realism"):
        Trainer(tmp_path / "plain", ModelConfig(**TINY),
                dataclasses.replace(SHORT, trainable="realism"))
    with pytest.raises(ConfigError, match="trainable"):
        dataclasses.replace(SHORT, trainable="encoder")


def test_trainable_codec_holds_the_realism_adapters(tmp_path, batch):
    config = ModelConfig(**TINY, realism=True)

    def codec_weights(codec):
        adapters = {v.ref() for v in codec.synthesis.realism.variables}
        return [v for v in codec.trainable_variables
                if v.ref() not in adapters]
    _trains_only(tmp_path, batch, config, "codec", codec_weights)
    objective = Objective(config, dataclasses.replace(SHORT,
                                                      trainable="codec"))
    _, realism = objective.knobs(tf.zeros([4, 8, 8, 3]))
    assert realism.numpy().tolist() == [0.] * 4
    plain = Codec(ModelConfig(**TINY))
    assert plain.variables_of("codec") == plain.trainable_variables


def test_trainable_entropy_trains_the_entropy_models_alone(tmp_path, batch):
    config = ModelConfig(**TINY, realism=True, entropy_model="channelwise",
                         num_slices=2)
    _trains_only(tmp_path, batch, config, "entropy",
                 lambda codec: codec.entropy.trainable_variables)
    objective = Objective(config, dataclasses.replace(SHORT,
                                                      trainable="entropy"))
    _, realism = objective.knobs(tf.zeros([2, 8, 8, 3]))
    assert realism.numpy().tolist() == [0.] * 2


def test_the_adversarial_lmbda_exponent_leans_towards_low_rates():
    config = dataclasses.replace(SHORT, lmbda=0.001, lmbda_max=0.1)
    model = ModelConfig(**TINY, qualities=3, realism=True)
    lmbdas = Objective(model, config).lmbda(tf.constant([0., .5, 1.]))
    np.testing.assert_allclose(
        Objective(model, config).adversarial_lmbda(lmbdas), lmbdas)
    leaning = Objective(model, dataclasses.replace(
        config, adversarial_lmbda_exponent=0.5))
    np.testing.assert_allclose(leaning.adversarial_lmbda(lmbdas),
                               [0.01 * 0.1**0.5, 0.01, 0.01 * 10**0.5],
                               rtol=1e-5)
    for bad in (1.5, -0.1, "x"):
        with pytest.raises(ConfigError, match="adversarial_lmbda_exponent"):
            dataclasses.replace(config, adversarial_lmbda_exponent=bad)
