"""Training: a custom loop of tf.function steps, checkpoints, resume.

A model directory written by training holds:

    config.json    model and training configuration (checked on resume)
    checkpoints/   tf.train.CheckpointManager: weights, optimizer, step
    model/         the codec ready to code (see store.py), written at the end
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from pathlib import Path

import tensorflow as tf

from tfgancomp import losses, store
from tfgancomp.codec import Codec
from tfgancomp.config import ModelConfig
from tfgancomp.errors import ConfigError, TrainingError

CONFIG = "config.json"
CHECKPOINTS = "checkpoints"
MODEL = "model"


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    lmbda: float = 0.01
    learning_rate: float = 1e-4
    batch_size: int = 8
    patch_size: int = 256
    max_steps: int = 100_000
    checkpoint_every: int = 1000
    log_every: int = 100

    def __post_init__(self):
        if not self.lmbda > 0:
            raise ConfigError(f"lmbda must be positive, got {self.lmbda}")
        if not self.learning_rate > 0:
            raise ConfigError("learning_rate must be positive")
        for name in ("batch_size", "patch_size", "max_steps",
                     "checkpoint_every", "log_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1")


class Trainer:
    """Trains a codec on rate + λ·MSE and keeps `model_dir` resumable."""

    def __init__(self, model_dir, model_config: ModelConfig,
                 train_config: TrainConfig, name: str | None = None):
        self.model_dir = Path(model_dir)
        self.name = name or self.model_dir.resolve().name
        self.model_config = model_config
        self.train_config = train_config
        self._check_or_write_config()
        self.codec = Codec(model_config)
        self.optimizer = tf.keras.optimizers.Adam(train_config.learning_rate)
        # Slots made now, not in the first step: else tf.function traces the
        # step twice (once to create variables), which costs seconds.
        self.optimizer.build(self.codec.trainable_variables)
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False)
        checkpoint = tf.train.Checkpoint(
            codec=self.codec, optimizer=self.optimizer, step=self.step)
        self.manager = tf.train.CheckpointManager(
            checkpoint, self.model_dir / CHECKPOINTS, max_to_keep=3)
        if self.manager.latest_checkpoint:
            # Fail loudly if the checkpoint no longer fits the code, rather
            # than resume from freshly initialised weights.
            status = checkpoint.restore(self.manager.latest_checkpoint)
            try:
                status.assert_existing_objects_matched()
            except AssertionError:
                raise ConfigError(
                    f"the checkpoint in {self.model_dir / CHECKPOINTS} does "
                    "not fit this model (written by another version of "
                    "tfgancomp?); use a new --model_dir") from None

    def _check_or_write_config(self):
        """The model config of a resumed run must match the stored one."""
        path = self.model_dir / CONFIG
        if path.exists():
            stored = json.loads(path.read_text())
            stored_model = ModelConfig.from_dict(stored["model"])
            if stored_model != self.model_config:
                raise ConfigError(
                    f"{self.model_dir} holds a run with a different model "
                    f"config; use a new --model_dir")
        self.model_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(
            {"model": self.model_config.to_dict(),
             "train": dataclasses.asdict(self.train_config)}, indent=2) + "\n")

    @tf.function
    def train_step(self, images):
        with tf.GradientTape() as tape:
            forward = self.codec(images, training=True)
            bpp = losses.bits_per_pixel(forward.bits + forward.side_bits,
                                        images)
            mse = losses.mse_255(images, forward.reconstruction)
            loss = losses.rate_distortion(bpp, mse, self.train_config.lmbda)
        variables = self.codec.trainable_variables
        self.optimizer.apply_gradients(
            zip(tape.gradient(loss, variables), variables))
        self.step.assign_add(1)
        return {"loss": loss, "bpp": bpp, "mse": mse}

    def fit(self, dataset: tf.data.Dataset, log=sys.stderr) -> dict:
        """Trains to `max_steps`, then writes the coding model; returns the
        metrics of the last step."""
        config = self.train_config
        metrics = {}
        start_step, start_time = int(self.step), time.perf_counter()
        for images in dataset:
            if int(self.step) >= config.max_steps:
                break
            metrics = {k: float(v) for k, v in self.train_step(images).items()}
            if not all(math.isfinite(v) for v in metrics.values()):
                raise TrainingError(
                    f"training diverged at step {int(self.step)} ({metrics});"
                    f" the last good checkpoint is "
                    f"{self.manager.latest_checkpoint}: resume from it with a "
                    "lower learning rate")
            step = int(self.step)
            if step % config.log_every == 0 or step == config.max_steps:
                rate = (step - start_step) / (time.perf_counter() - start_time)
                print(f"step {step}: loss {metrics['loss']:.4f} "
                      f"bpp {metrics['bpp']:.4f} mse {metrics['mse']:.2f} "
                      f"({rate:.2f} steps/s)", file=log, flush=True)
            if step % config.checkpoint_every == 0:
                self.manager.save(checkpoint_number=step)
        self.manager.save(checkpoint_number=int(self.step))
        self.export()
        return metrics

    def export(self) -> Path:
        """Fixes the range-coding tables and writes `model_dir/model`."""
        self.codec.fix_tables()
        return store.save_codec(self.codec, self.model_dir / MODEL, self.name)
