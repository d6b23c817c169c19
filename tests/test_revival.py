"""Warm starts that change the gains: the latent channels gain units
switched off revived, and another λ range."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY

from tfgancomp.deploy import store
from tfgancomp.errors import ConfigError
from tfgancomp.model.codec import Codec
from tfgancomp.model.config import ModelConfig
from tfgancomp.training.checkpoints import latest_codec
from tfgancomp.training.config import TrainConfig
from tfgancomp.training.revival import revive_latents
from tfgancomp.training.trainer import Trainer

CONFIG = ModelConfig(**TINY, qualities=3)
OFF = 2  # the channel switched off


def switched_off_codec(config=CONFIG):
    """A random variable-rate codec whose gains keep channel OFF at a
    hundredth of the others' at every quality."""
    tf.keras.utils.set_random_seed(3)
    codec = Codec(config)
    codec.gain.initialize([-1., 0., 1.])
    log_gain = codec.gain.log_gain.numpy()
    log_gain[:, OFF] -= np.log(100.) / codec.gain.SPEED
    codec.gain.log_gain.assign(log_gain)
    return codec


def test_gains_find_and_revive_the_channels_they_switched_off():
    gain = switched_off_codec().gain
    assert np.flatnonzero(gain.switched_off()).tolist() == [OFF]
    gain.revive(gain.switched_off())
    assert not gain.switched_off().any()
    for table in (gain.log_gain, gain.log_inverse_gain):
        values = table.numpy()
        others = np.delete(values, OFF, axis=1)
        np.testing.assert_allclose(values[:, OFF], np.median(others, axis=1))


def test_a_revived_channel_starts_unread_under_a_fresh_prior():
    codec = switched_off_codec()
    assert revive_latents(codec) == [OFF]
    assert revive_latents(codec) == []  # nothing left to revive
    y = tf.random.normal([1, 8, 8, CONFIG.latent_channels])
    moved = y + 5. * tf.one_hot(OFF, CONFIG.latent_channels)
    # Neither the synthesis nor the hyper-analysis reads the channel yet,
    for transform in (codec.synthesis, codec.entropy.side_latents):
        np.testing.assert_array_equal(transform(y).numpy(),
                                      transform(moved).numpy())
    # and its prior is a fresh model's whatever the side latents say.
    z = tf.random.normal([1, 2, 2, CONFIG.hyper_channels])
    mean, scale_index = codec.entropy.prior(z, [8, 8], discrete=False)
    np.testing.assert_array_equal(mean[..., OFF].numpy(), 0.)
    np.testing.assert_allclose(scale_index[..., OFF].numpy(),
                               CONFIG.initial_scale_index, rtol=1e-6)
    assert np.ptp(scale_index[..., OFF + 1].numpy()) > 0


def test_only_a_variable_rate_hyperprior_model_revives():
    with pytest.raises(ConfigError, match="variable-rate"):
        revive_latents(Codec(ModelConfig(**TINY)))
    channelwise = ModelConfig(**TINY, qualities=3,
                              entropy_model="channelwise", num_slices=2)
    with pytest.raises(ConfigError, match="hyperprior"):
        revive_latents(switched_off_codec(channelwise))


def test_a_warm_started_run_revives_on_request(tmp_path):
    codec = switched_off_codec()
    codec.fix_tables()
    source = store.save_codec(codec, tmp_path / "source", "off")
    train = TrainConfig(lmbda=0.001, lmbda_max=0.05, max_steps=1)
    kept = Trainer(tmp_path / "kept", CONFIG, train, init_from=source)
    assert kept.revived == [] and kept.codec.gain.switched_off()[OFF]
    revived = Trainer(tmp_path / "revived", CONFIG, dataclasses.replace(
        train, revive_latents=True), init_from=source)
    assert revived.revived == [OFF]
    assert not revived.codec.gain.switched_off().any()
    assert "revive_latents" not in train.to_dict()


def test_a_warm_start_onto_a_wider_rate_range_keeps_each_lambdas_gains(
        tmp_path):
    """Qualities 3 on λ 1e-3..1e-2 → 5 on 1e-3..1e-1: the same geometric
    step, two more qualities at the top. The old trained qualities keep
    their gains (so they code as before), the new ones continue the top
    segment's trend. With max_steps 0 the run is the warm start as it
    is: a checkpoint at step 0 and its model."""
    codec = switched_off_codec()
    codec.fix_tables()
    codec.lmbda = (1e-3, 1e-2)
    source = store.save_codec(codec, tmp_path / "source", "narrow")
    wider = dataclasses.replace(CONFIG, qualities=5)
    trainer = Trainer(tmp_path / "wider", wider, TrainConfig(
        lmbda=1e-3, lmbda_max=1e-1, max_steps=0), init_from=source)
    speed = codec.gain.SPEED
    for name in ("log_gain", "log_inverse_gain"):
        old = getattr(codec.gain, name).numpy() * speed
        new = getattr(trainer.codec.gain, name).numpy() * speed
        np.testing.assert_allclose(new[:3], old, atol=1e-5)
        for k in (3, 4):
            np.testing.assert_allclose(new[k] - new[k - 1], old[2] - old[1],
                                       atol=1e-5)
    assert set(trainer.warm_started) >= {
        v.name for v in trainer.codec.gain.variables}
    image = tf.random.uniform([1, 32, 32, 3], seed=5)
    assert trainer.fit(tf.data.Dataset.from_tensors(image).repeat()) == {}
    run, step = latest_codec(tmp_path / "wider")
    assert step == 0 and (tmp_path / "wider" / "model").is_dir()
    for k in range(3):
        np.testing.assert_allclose(
            run(image, quality=[k / 4]).reconstruction,
            codec(image, quality=[k / 2]).reconstruction, atol=1e-4)
