"""The README's first command: train a small codec briefly, then compress,
decompress and compare a photo with the `tfgancomp` command.

Uses ../shared/data when it is there (BSDS500 photos); otherwise generated
images. The model lands in demo_out/model and is reused on the next run.
"""

import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "demo_out"
SHARED = ROOT.parent / "shared" / "data" / "bsds500"
STEPS = 400


def generated_photos(folder: Path, count: int = 16) -> Path:
    """Smooth, textured stand-ins for photos when none are available."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:256, 0:384] / 64.0
    for i in range(count):
        image = sum(rng.uniform(20, 80) * np.sin(rng.uniform(0.2, 2) * xx +
                                                 rng.uniform(0.2, 2) * yy +
                                                 rng.uniform(0, 6, 3)[:, None,
                                                                      None])
                    for _ in range(4))
        noise = rng.normal(0, 1, (256, 384, 3))
        image = np.moveaxis(image, 0, -1) + 128 + noise
        Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(
            folder / f"{i}.png")
    return folder


def train(train_glob) -> Path:
    from tfgancomp.config import ModelConfig
    from tfgancomp.data import folder_dataset
    from tfgancomp.training import TrainConfig, Trainer
    config = ModelConfig(num_filters=64, latent_channels=96, hyper_filters=64,
                         hyper_channels=64)
    train_config = TrainConfig(lmbda=0.01, learning_rate=1e-3, batch_size=8,
                               patch_size=96, max_steps=STEPS, log_every=50,
                               checkpoint_every=STEPS)
    trainer = Trainer(OUT / "run", config, train_config, name="demo-small")
    if int(trainer.step) < STEPS:
        print(f"training a small codec for {STEPS} steps (about a minute or "
              "two on 2 CPU cores; a trained default model ships later)")
        trainer.fit(folder_dataset(train_glob, 96, 8))
    return OUT / "run"


def tfgancomp(*args):
    command = [sys.executable, "-m", "tfgancomp", *map(str, args)]
    print("$ tfgancomp " + " ".join(map(str, args)), flush=True)
    subprocess.run(command, check=True)


def main():
    OUT.mkdir(exist_ok=True)
    if SHARED.is_dir():
        train_glob = SHARED / "train"
        photo = sorted((SHARED / "test").glob("*.jpg"))[0]
    else:
        print("../shared/data not found: training on generated images")
        train_glob = generated_photos(OUT / "generated")
        photo = train_glob / "0.png"
    model = train(train_glob)
    packed, decoded = OUT / "photo.tfgc", OUT / "photo.png"
    tfgancomp("compress", photo, "-o", packed, "--model", model, "--force")
    tfgancomp("decompress", packed, "-o", decoded, "--model", model, "--force")
    tfgancomp("info", packed)
    tfgancomp("compare", photo, packed, "--model", model)


if __name__ == "__main__":
    main()
