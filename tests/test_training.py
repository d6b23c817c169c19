"""The trainer: the loss falls, and a run resumes where it stopped."""

import dataclasses
import shutil

import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY
from PIL import Image

from tfgancomp import losses
from tfgancomp.codec import Codec
from tfgancomp.config import ModelConfig
from tfgancomp.data import folder_dataset
from tfgancomp.errors import ConfigError, TrainingError
from tfgancomp.training import TrainConfig, Trainer

TRAIN = TrainConfig(lmbda=0.01, learning_rate=2e-3, batch_size=4,
                    patch_size=128, max_steps=600)


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
