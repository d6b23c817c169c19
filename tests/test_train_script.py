"""train/train.py itself: flags → data → Trainer → a model the CLI uses."""

import dataclasses
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tensorflow_datasets as tfds
from absl import flags
from conftest import TINY, photo_like
from PIL import Image

from tfgancomp.cli import main as cli
from tfgancomp.model.config import ModelConfig

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "train" / "train.py"

_spec = importlib.util.spec_from_file_location("train_script", SCRIPT)
train_script = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(train_script)

SMALL = [f"--{k}={v}" for k, v in TINY.items()] + [
    "--patch_size=64", "--batch_size=2", "--max_steps=3", "--log_every=1",
    "--validate_every=3", "--validation_images=2", "--disc_filters=8",
    "--disc_scales=2"]


def train(*argv):
    """Runs train.py's main in this process with these flags."""
    flags.FLAGS.unparse_flags()
    flags.FLAGS(["train.py", *SMALL, *argv])
    train_script.main(["train.py"])


def test_folder_then_the_cli_codes_a_file(tmp_path, image_folder, capsys):
    run = tmp_path / "run"
    train("--dataset=folder", f"--train_glob={image_folder}",
          f"--model_dir={run}", "--gan_weight=0")
    err = capsys.readouterr().err
    assert "step 3 [rate-distortion]" in err
    assert "[validation]" in err
    photo = tmp_path / "photo.png"
    Image.fromarray(photo_like(45, 67, seed=3)).save(photo)
    assert cli(["compress", str(photo), "--model", str(run)]) == 0
    assert cli(["decompress", str(photo.with_suffix(".tfgc")),
                "-o", str(tmp_path / "back.png"), "--model", str(run)]) == 0
    assert Image.open(tmp_path / "back.png").size == (67, 45)
    train("--dataset=folder", f"--train_glob={image_folder}",
          f"--model_dir={run}", "--gan_weight=0", "--max_steps=4",
          f"--init_from={run}")
    err = capsys.readouterr().err
    assert "resuming from" in err and "variables from" not in err
    assert "step 4 [rate-distortion]" in err


@pytest.mark.parametrize("dataset", ["stanford_dogs", "cifar10"])
def test_tfds_datasets(tmp_path, dataset, capsys):
    with tfds.testing.mock_data(num_examples=8):
        train(f"--dataset={dataset}", f"--model_dir={tmp_path}",
              "--gan_weight=0", "--download=false")
    assert "step 3 [rate-distortion]" in capsys.readouterr().err
    assert (tmp_path / "model" / "model.json").exists()


@pytest.mark.parametrize("argv, words", [
    (["--lmbda=-1"], "lmbda must be positive"),
    (["--distortion=psnr"], "unknown distortion"),
    (["--dataset=folder"], "train_glob"),
    (["--strategy=multi_worker", "--train_glob=x"], "TF_CONFIG"),
    (["--dataset=imagenet"], "--dataset"),
    (["--batch_size=many"], "--batch_size"),
])
def test_bad_flags_fail_at_start_with_one_line(tmp_path, argv, words):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), f"--model_dir={tmp_path / 'run'}",
         *argv], capture_output=True, text=True, timeout=120,
        env={k: v for k, v in os.environ.items() if k != "TF_CONFIG"})
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("train.py: error:") and words in (
        result.stderr)
    assert not (tmp_path / "run").exists()


def test_flags_reach_the_configs():
    flags.FLAGS.unparse_flags()
    flags.FLAGS(["train.py", "--model_dir=x", "--dataset=cifar10",
                 "--lmbda=0.02", "--distortion=mse:0.5,l1:0.5",
                 "--target_bpp=0.3", "--gan_loss=hinge", "--gan_weight=0.2",
                 "--disc_steps=2", "--warmup_steps=7",
                 "--precision=mixed_bfloat16", "--jit_compile",
                 "--norm=channel", "--residual_blocks=2",
                 "--stage_blocks=96", "--stage_blocks=32",
                 "--disc_scales=1", "--patch_size=32", "--batch_size=4"])
    model, disc, train, data = train_script.configs()
    assert (model.norm, model.residual_blocks) == ("channel", 2)
    assert model.stage_blocks == (96, 32)
    assert disc.num_scales == 1
    assert (train.lmbda, train.distortion, train.target_bpp) == (
        0.02, "mse:0.5,l1:0.5", 0.3)
    assert (train.gan_loss, train.gan_weight, train.disc_steps,
            train.warmup_steps) == ("hinge", 0.2, 2, 7)
    assert train.precision == "mixed_bfloat16" and train.jit_compile
    assert (data.dataset, data.patch_size, data.batch_size) == (
        "cifar10", 32, 4)


def test_every_config_field_has_a_flag():
    from tfgancomp.training import flags as training_flags
    flags.FLAGS.unparse_flags()
    flags.FLAGS(["train.py", "--model_dir=x", "--train_glob=x"])
    configs = dict(zip(training_flags.SECTIONS, train_script.configs()))
    for section, config in configs.items():
        for field in dataclasses.fields(config):
            name = training_flags.flag_name(section, field.name)
            assert name in flags.FLAGS, f"{section}.{field.name}: no --{name}"


def test_a_preset_sets_what_the_command_line_does_not():
    from tfgancomp import presets
    flags.FLAGS.unparse_flags()
    flags.FLAGS(["train.py", "--model_dir=x", "--train_glob=x",
                 "--preset=default-gan", "--max_steps=10"])
    model, disc, train, data = train_script.configs()
    preset = presets.load("default-gan")
    assert model.num_filters == preset["model"]["num_filters"] == 96
    assert disc.base_filters == 32
    assert (train.lmbda, train.gan_weight) == (0.003, 0.1)
    assert train.max_steps == 10  # the command line wins
    assert flags.FLAGS.init_from == "default-mse"
    assert data.patch_size == 128 and data.cache


@pytest.mark.parametrize("name", ["default", "default-gan", "default-mse",
                                  "default-realism"])
def test_every_preset_gives_valid_configs_and_a_shipped_warm_start(name):
    """A preset warm-starts from a model that ships, if from one."""
    from tfgancomp import presets
    from tfgancomp.deploy import shipped
    assert name in presets.names()
    flags.FLAGS.unparse_flags()
    flags.FLAGS(["train.py", "--model_dir=x", "--train_glob=x",
                 f"--preset={name}"])
    model, disc, train, data = train_script.configs()
    preset = presets.load(name)
    assert model == ModelConfig.from_dict(dict(model.to_dict(),
                                               **preset["model"]))
    assert train.lmbda == preset["train"]["lmbda"]
    if "init_from" in preset:  # else trained from scratch
        assert flags.FLAGS.init_from in shipped.shipped_models()


def test_an_unknown_preset_names_the_others(tmp_path):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), f"--model_dir={tmp_path / 'run'}",
         "--preset=nope", "--train_glob=x"], capture_output=True, text=True,
        timeout=120)
    assert result.returncode != 0
    assert ("no preset named 'nope' (presets: default, default-gan, "
            "default-mse") in result.stderr
