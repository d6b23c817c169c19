"""Checkpoint averaging: a run's last checkpoints' codec weights, averaged
into a run of their own.

Training wanders about its optimum: the realism adapters' detail at one
rate swings by ±0.3 between checkpoints 250 steps apart. The mean of the
weights along the end of the trajectory (as with a generator's moving
average, Yazıcı et al. 2019, "The unusual effectiveness of averaging in
GAN training") is steadier than any one point of it, though for the
adapters it also draws less texture (BUILD_NOTES.md, run 12). Everything
that reads a run (`evaluate --models`, `ship_model.py`, `--init_from`)
reads the averaged one.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfgancomp.deploy.layout import RUN_CHECKPOINTS, RUN_CONFIG, RUN_SUMMARIES
from tfgancomp.errors import ModelError
from tfgancomp.training.checkpoints import read_run, restore, run_codec


def average_checkpoints(model_dir: str | os.PathLike, count: int,
                        out_dir: str | os.PathLike) -> tuple[list[str], int]:
    """Writes to `out_dir` a run whose one checkpoint holds the mean codec
    weights of the last `count` checkpoints of `model_dir`, at the step of
    the last one, with the run's configs and training summaries (its
    steps and hours); returns the checkpoints averaged and that step.
    Integer variables (none are trained) keep the last one's values."""
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    if count < 1:
        raise ModelError("average at least 1 checkpoint")
    stored = read_run(model_dir)
    state = tf.train.get_checkpoint_state(model_dir / RUN_CHECKPOINTS)
    paths = list(state.all_model_checkpoint_paths)[-count:] if state else []
    if len(paths) < count:
        raise ModelError(f"{model_dir / RUN_CHECKPOINTS} keeps {len(paths)} "
                         f"checkpoints, not {count} (train with "
                         f"--keep_checkpoints={count} or more)")
    if out_dir.exists():
        raise ModelError(f"{out_dir} exists; averaging writes a new run")
    codec, step, checkpoint = run_codec(stored)
    sums = None
    for path in paths:
        restore(checkpoint, path, model_dir, partial=True)
        values = [v.numpy().astype(np.float64) if v.dtype.is_floating
                  else v.numpy() for v in codec.variables]
        sums = values if sums is None else [
            total + value if value.dtype == np.float64 else value
            for total, value in zip(sums, values)]
    for variable, total in zip(codec.variables, sums):
        if variable.dtype.is_floating:
            total = total / len(paths)
        variable.assign(total.astype(variable.dtype.as_numpy_dtype))
    out_dir.mkdir(parents=True)
    shutil.copyfile(model_dir / RUN_CONFIG, out_dir / RUN_CONFIG)
    if (model_dir / RUN_SUMMARIES).is_dir():
        shutil.copytree(model_dir / RUN_SUMMARIES, out_dir / RUN_SUMMARIES)
    tf.train.CheckpointManager(checkpoint, out_dir / RUN_CHECKPOINTS,
                               max_to_keep=1).save(int(step))
    return paths, int(step)
