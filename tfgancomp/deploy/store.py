"""Saving and loading codecs ready to code: config, weights and tables.

A model directory holds `model.json` (format tag, name, config) and a
`weights` checkpoint of exactly what coding reads: the four transforms and
the fixed range-coding tables, plus the small side prior so that the model
can still estimate its own rate. No optimizer state: it stays small and
loads quickly.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import tensorflow as tf

from tfgancomp.deploy.layout import MODEL_METADATA as METADATA
from tfgancomp.errors import ConfigError, ModelError
from tfgancomp.formats.files import read_description
from tfgancomp.model.codec import Codec
from tfgancomp.model.config import ModelConfig
from tfgancomp.model.protocol import listed_fingerprints

FORMAT = "tfgancomp-model"
FORMAT_VERSION = 1
WEIGHTS = "weights"


def _coding_checkpoint(codec: Codec) -> tf.train.Checkpoint:
    entropy = codec.entropy
    knobs = {} if codec.gain is None else {"gain": codec.gain}
    if codec.config.entropy_model != "hyperprior":
        return tf.train.Checkpoint(analysis=codec.analysis,
                                   synthesis=codec.synthesis, entropy=entropy,
                                   **knobs)
    # The keys of the first release, so that its model directories load.
    return tf.train.Checkpoint(
        analysis=codec.analysis, synthesis=codec.synthesis,
        hyper_analysis=entropy.hyper_analysis,
        hyper_synthesis=entropy.hyper_synthesis,
        hyperprior=entropy.side_prior, entropy_model=entropy.latent_model,
        side_entropy_model=entropy.side_model, **knobs)


def save_codec(codec: Codec, directory: str | os.PathLike, name: str) -> Path:
    """Writes a codec whose tables are fixed to a new model directory."""
    if not codec.can_code:
        raise ValueError("fix the range-coding tables before saving")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    _coding_checkpoint(codec).write(str(directory / WEIGHTS))
    metadata = {"format": FORMAT, "version": FORMAT_VERSION, "name": name,
                "config": codec.config.to_dict()}
    if codec.lmbda is not None:
        metadata["lmbda"] = codec.lmbda
    if codec.decodes:
        metadata["decodes"] = [f.hex() for f in codec.decodes]
    (directory / METADATA).write_text(json.dumps(metadata, indent=2) + "\n")
    return directory


def _read_metadata(directory: Path) -> dict:
    return read_description(
        directory / METADATA, FORMAT, FORMAT_VERSION,
        f"{directory} is not a tfgancomp model: no {METADATA}")


def load_codec(directory: str | os.PathLike) -> Codec:
    """Loads a model directory written by `save_codec`, ready to code."""
    directory = Path(directory)
    metadata = _read_metadata(directory)
    try:
        config = ModelConfig.from_dict(metadata.get("config"))
    except ConfigError as e:
        raise ModelError(f"{directory / METADATA}: {e}") from None
    name = metadata.get("name")
    if not isinstance(name, str):
        raise ModelError(f"{directory / METADATA}: missing model name")
    codec = Codec(config)
    codec.fix_tables(placeholders=True)
    try:
        _coding_checkpoint(codec).read(
            str(directory / WEIGHTS)).assert_consumed()
    except (tf.errors.OpError, AssertionError, ValueError) as e:
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else e
        raise ModelError(
            f"cannot load weights from {directory}: {first_line}") from None
    codec.model_name = name
    codec.lmbda = metadata.get("lmbda")
    codec.decodes = listed_fingerprints(metadata, directory / METADATA)
    return codec
