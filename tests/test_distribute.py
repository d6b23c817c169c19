"""tf.distribute: two replicas train like one device on the same global
batch; two workers on localhost train together from TF_CONFIG."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY, photo_like

ROOT = Path(__file__).resolve().parents[1]

MIRRORED = """
import json, sys
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from tfgancomp.model.config import ModelConfig
from tfgancomp.training.config import TrainConfig
from tfgancomp.training.trainer import Trainer

# Each device draws its own noise: seeded, the comparison does not depend
# on the draw (unseeded, the weight difference varied around the bound).
tf.keras.utils.set_random_seed(0)
images, runs = np.load(sys.argv[1]), sys.argv[2]
model = ModelConfig(**json.loads(sys.argv[3]))
config = TrainConfig(lmbda=0.01, learning_rate=1e-3, max_steps=1,
                     log_every=1000)
batches = tf.data.Dataset.from_tensors(tf.constant(images)).repeat()
def weights(trainer):
    return np.concatenate([v.numpy().ravel()
                           for v in trainer.codec.trainable_variables])

start = Trainer(runs + "/start", model, config)
start.manager.save(checkpoint_number=0)
np.save(runs + "/start.npy", weights(start))
results = {}
for name, strategy in [
        ("one", tf.distribute.get_strategy()),
        ("two", tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))]:
    trainer = Trainer(f"{runs}/{name}", model, config, strategy=strategy,
                      init_from=runs + "/start")
    metrics = trainer.fit(batches, log=sys.stderr)
    np.save(f"{runs}/{name}.npy", weights(trainer))
    results[name] = dict(metrics, replicas=trainer.replicas)
print(json.dumps(results))
"""


def test_two_replicas_match_one_device(tmp_path):
    images = np.stack([photo_like(64, 64, seed=s) for s in range(4)])
    np.save(tmp_path / "images.npy", images.astype(np.float32) / 255.)
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED, str(tmp_path / "images.npy"),
         str(tmp_path), json.dumps(TINY)],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    runs = json.loads(result.stdout.splitlines()[-1])
    one, two = runs["one"], runs["two"]
    assert (one["replicas"], two["replicas"]) == (1, 2)
    # Each device draws its own uniform noise for the side latents, which
    # moves the means the latents are rounded around: the distortion
    # differs by about 1e-4, the rate estimate by more.
    assert two["mse"] == pytest.approx(one["mse"], rel=1e-3)
    assert two["bpp"] == pytest.approx(one["bpp"], rel=0.05)
    assert two["loss"] == pytest.approx(one["loss"], rel=0.01)
    # The weight updates agree up to what the noise changes.
    start = np.load(tmp_path / "start.npy")
    one = np.load(tmp_path / "one.npy") - start
    two = np.load(tmp_path / "two.npy") - start
    assert np.mean(np.abs(one)) > 1e-5
    assert np.mean(np.abs(two - one)) < 0.05 * np.mean(np.abs(one))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_workers_from_tf_config(tmp_path, image_folder):
    workers = [f"localhost:{free_port()}" for _ in range(2)]
    run = tmp_path / "run"
    argv = [sys.executable, str(ROOT / "train" / "train.py"),
            "--strategy=multi_worker", "--dataset=folder",
            f"--train_glob={image_folder}", f"--model_dir={run}",
            "--gan_weight=0", "--patch_size=64", "--batch_size=4",
            "--max_steps=3", "--log_every=1", "--validation_images=2",
            "--checkpoint_every=2"] + [f"--{k}={v}" for k, v in TINY.items()]
    processes = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps(
            {"cluster": {"worker": workers},
             "task": {"type": "worker", "index": index}}))
        processes.append(subprocess.Popen(
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True))
    outputs = [p.communicate(timeout=600) for p in processes]
    for process, (out, err) in zip(processes, outputs):
        assert process.returncode == 0, err
    chief_err = outputs[0][1]
    assert "step 3 [rate-distortion]" in chief_err
    assert (run / "model" / "model.json").exists()
    assert sorted(p.name for p in (run / "checkpoints").glob("*.index")) == [
        "ckpt-2.index", "ckpt-3.index"]
    # The other worker's scratch checkpoints are gone.
    assert not list(run.glob(".worker-*"))
