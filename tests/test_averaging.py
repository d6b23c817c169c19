"""Checkpoint averaging: a new run holding the mean of the last
checkpoints' codec weights, read like any other run."""

import io
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY, photo_like

from tfgancomp.errors import ModelError
from tfgancomp.model.config import ModelConfig
from tfgancomp.training import checkpoints
from tfgancomp.training.averaging import average_checkpoints
from tfgancomp.training.config import TrainConfig
from tfgancomp.training.trainer import Trainer

CONFIG = TrainConfig(lmbda=0.01, learning_rate=1e-2, max_steps=4,
                     checkpoint_every=1, keep_checkpoints=3, log_every=1,
                     summary_every=1, validate_every=100)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    directory = tmp_path_factory.mktemp("run")
    images = np.stack([photo_like(64, 64, seed=s) for s in range(2)])
    batch = tf.constant(images, tf.float32) / 255.
    Trainer(directory, ModelConfig(**TINY), CONFIG).fit(
        tf.data.Dataset.from_tensors(batch).repeat(), log=io.StringIO())
    return directory


def codec_weights(run, path):
    codec, _, checkpoint = checkpoints.run_codec(checkpoints.read_run(run))
    checkpoints.restore(checkpoint, path, run, partial=True)
    return {v.name: v.numpy() for v in codec.trainable_variables}


def test_the_average_run_holds_the_mean_of_the_last_checkpoints(run,
                                                                 tmp_path):
    paths, step = average_checkpoints(run, 3, tmp_path / "avg")
    assert [p.rsplit("-", 1)[1] for p in paths] == ["2", "3", "4"]
    assert step == 4
    kept = [codec_weights(run, p) for p in paths]
    codec, averaged_step = checkpoints.latest_codec(tmp_path / "avg")
    assert averaged_step == 4
    changed = 0
    for variable in codec.trainable_variables:
        values = [k[variable.name] for k in kept]
        np.testing.assert_allclose(variable.numpy(), np.mean(values, 0),
                                   rtol=1e-6, atol=1e-7)
        changed += not np.array_equal(values[0], values[-1])
    assert changed > 10  # the checkpoints differ: the mean is no copy
    # Its steps and hours are the run's.
    assert sorted(p.name for p in (tmp_path / "avg" / "train").iterdir()) == \
        sorted(p.name for p in (run / "train").iterdir())


def test_averaging_refuses_missing_checkpoints_and_an_existing_run(run,
                                                                   tmp_path):
    with pytest.raises(ModelError, match="keeps 3 checkpoints, not 4"):
        average_checkpoints(run, 4, tmp_path / "avg")
    with pytest.raises(ModelError, match="exists"):
        average_checkpoints(run, 2, run)
    with pytest.raises(ModelError, match="not a training run"):
        average_checkpoints(tmp_path, 2, tmp_path / "avg")


def test_the_script_says_what_it_averaged_or_why_not(run, tmp_path):
    script = ["train/average_checkpoints.py", "--run", str(run)]
    done = subprocess.run([sys.executable, *script, "--last", "2", "--out",
                           str(tmp_path / "avg")], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    assert "the mean of ckpt-3, ckpt-4 (step 4)" in done.stdout
    refused = subprocess.run([sys.executable, *script, "--last", "5",
                              "--out", str(tmp_path / "b")],
                             capture_output=True, text=True)
    assert refused.returncode == 1
    assert refused.stderr.startswith("average_checkpoints.py: error: ")
    assert "Traceback" not in refused.stderr
