"""tf.distribute strategies by name."""

from __future__ import annotations

import json
import os

import tensorflow as tf

from tfgancomp.errors import ConfigError

STRATEGIES = ("default", "mirrored", "multi_worker")


def make_strategy(name: str) -> tf.distribute.Strategy:
    """'default' (one device), 'mirrored' (all local GPUs) or
    'multi_worker' (the cluster described by the TF_CONFIG variable)."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise ConfigError(
                "the multi_worker strategy needs the TF_CONFIG variable")
        try:
            json.loads(os.environ["TF_CONFIG"])
        except json.JSONDecodeError as e:
            raise ConfigError(f"TF_CONFIG is not valid JSON: {e}") from None
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ConfigError(
        f"unknown strategy {name!r}; choose from {', '.join(STRATEGIES)}")
