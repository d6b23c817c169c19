"""A training run's checkpoints: restoring them strictly, and the codec of
the latest one (what the run would export if it ended now)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import tensorflow as tf

from tfgancomp.deploy.layout import RUN_CHECKPOINTS, RUN_CONFIG
from tfgancomp.errors import ConfigError, ModelError
from tfgancomp.model.codec import Codec
from tfgancomp.model.config import ModelConfig


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


def latest_codec(model_dir: str | os.PathLike) -> tuple[Codec, int]:
    """The codec of a run's latest checkpoint with its tables fixed, and
    its step."""
    model_dir = Path(model_dir)
    try:
        stored = json.loads((model_dir / RUN_CONFIG).read_text())
        config = ModelConfig.from_dict(stored["model"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ModelError(f"{model_dir} is not a training run: cannot read "
                         f"{RUN_CONFIG} ({e})") from None
    latest = tf.train.latest_checkpoint(model_dir / RUN_CHECKPOINTS)
    if latest is None:
        raise ModelError(f"{model_dir / RUN_CHECKPOINTS} holds no checkpoint")
    codec = Codec(config)
    step = tf.Variable(0, dtype=tf.int64)
    restore(tf.train.Checkpoint(codec=codec, step=step), latest, model_dir,
            partial=True)
    codec.fix_tables()
    codec.model_name = stored.get("name", model_dir.resolve().name)
    codec.lmbda = stored.get("train", {}).get("lmbda")
    return codec, int(step.numpy())
