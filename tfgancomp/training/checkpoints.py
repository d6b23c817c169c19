"""A training run's directory: its stored configs, its checkpoints
restored strictly, and the codec of the latest one (what the run would
export if it ended now)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import tensorflow as tf

from tfgancomp.deploy.layout import RUN_CHECKPOINTS, RUN_CONFIG
from tfgancomp.errors import ConfigError, ModelError
from tfgancomp.model.codec import Codec
from tfgancomp.model.config import ModelConfig
from tfgancomp.training.config import TrainConfig
from tfgancomp.training.discriminator import DiscriminatorConfig


def check_or_write_config(model_dir: Path, is_chief: bool, name: str,
                          model: ModelConfig,
                          discriminator: DiscriminatorConfig,
                          train: TrainConfig):
    """ConfigError if the run in `model_dir` has other model configs (a
    resumed run must keep them); else the chief writes them all."""
    path = model_dir / RUN_CONFIG
    if path.exists():
        stored = json.loads(path.read_text())
        stored_disc = stored.get("discriminator")
        if ModelConfig.from_dict(stored["model"]) != model or (
                stored_disc is not None and
                DiscriminatorConfig.from_dict(stored_disc) != discriminator):
            raise ConfigError(f"{model_dir} holds a run with a different "
                              "model config; use a new --model_dir")
    if not is_chief:
        return
    model_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(
        {"name": name, "model": model.to_dict(),
         "discriminator": discriminator.to_dict(),
         "train": train.to_dict()}, indent=2) + "\n")


def restore(checkpoint: tf.train.Checkpoint, path: str, run,
            partial: bool = False):
    """Restores `path`, failing loudly if it does not fit the code, rather
    than training on from freshly initialised weights."""
    status = checkpoint.restore(path)
    try:
        status.assert_existing_objects_matched()
    except AssertionError:
        raise ConfigError(
            f"the checkpoint in {run} does not fit this model (another "
            "model config, or written by another version of tfgancomp?); "
            "use a new --model_dir") from None
    if partial:
        status.expect_partial()


def read_run(model_dir: str | os.PathLike) -> dict:
    """The configs a training run stored (ModelError if it is no run)."""
    model_dir = Path(model_dir)
    try:
        stored = json.loads((model_dir / RUN_CONFIG).read_text())
        ModelConfig.from_dict(stored["model"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ModelError(f"{model_dir} is not a training run: cannot read "
                         f"{RUN_CONFIG} ({e})") from None
    return stored


def run_codec(stored: dict) -> tuple[Codec, tf.Variable, tf.train.Checkpoint]:
    """A fresh codec of a run's model config (`read_run`), a step
    variable, and the checkpoint object of both that the run's
    checkpoints restore into."""
    codec = Codec(ModelConfig.from_dict(stored["model"]))
    step = tf.Variable(0, dtype=tf.int64)
    return codec, step, tf.train.Checkpoint(codec=codec, step=step)


def latest_codec(model_dir: str | os.PathLike) -> tuple[Codec, int]:
    """The codec of a run's latest checkpoint with its tables fixed, and
    its step."""
    model_dir = Path(model_dir)
    stored = read_run(model_dir)
    codec, step, checkpoint = run_codec(stored)
    latest = tf.train.latest_checkpoint(model_dir / RUN_CHECKPOINTS)
    if latest is None:
        raise ModelError(f"{model_dir / RUN_CHECKPOINTS} holds no checkpoint")
    restore(checkpoint, latest, model_dir, partial=True)
    codec.fix_tables()
    codec.model_name = stored.get("name", model_dir.resolve().name)
    if "train" in stored:
        codec.lmbda = TrainConfig.from_dict(stored["train"]).lmbdas
    return codec, int(step.numpy())
