"""Shared fixtures: generated photo-like images and a tiny trained model."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

TINY = dict(num_filters=16, latent_channels=16, hyper_filters=16,
            hyper_channels=16)


def plain_twin(conditioned):
    """A TINY codec without knobs whose synthesis has the weights of
    `conditioned`'s (a TINY codec with realism) but its realism branch."""
    from tfgancomp.model.codec import Codec
    from tfgancomp.model.config import ModelConfig
    plain = Codec(ModelConfig(**TINY))
    for variable in plain.synthesis.variables:
        variable.assign(next(v for v in conditioned.synthesis.variables
                             if v.name == variable.name))
    return plain


def photo_like(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth, textured RGB image: blobs of colour, edges and mild noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    image = np.zeros((height, width, 3))
    for _ in range(6):
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        radius = rng.uniform(0.2, 0.6) * max(height, width)
        weight = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / radius**2)
        image += weight[..., None] * rng.uniform(0, 255, 3)
    image /= max(image.max(), 1e-6) / 230.0
    angle = rng.uniform(0, np.pi)
    stripes = np.sin((np.cos(angle) * xx + np.sin(angle) * yy) / 3.0)
    image += 12 * stripes[..., None]
    image += rng.normal(0, 3, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("images")
    for i in range(8):
        Image.fromarray(photo_like(160, 192, seed=i)).save(folder / f"{i}.png")
    return folder


@pytest.fixture(scope="session")
def trained_model_dir(tmp_path_factory, image_folder) -> Path:
    """A tiny codec trained for 600 steps through the real Trainer."""
    import tensorflow as tf

    from tfgancomp.model.config import ModelConfig
    from tfgancomp.training.config import TrainConfig
    from tfgancomp.training.data import folder_dataset
    from tfgancomp.training.trainer import Trainer
    tf.keras.utils.set_random_seed(0)
    model_dir = tmp_path_factory.mktemp("run")
    # 128-pixel crops give 2×2 side latents: with 64, the side latents are
    # 1×1 and the hyper-synthesis never learns its spatial context.
    train = TrainConfig(lmbda=0.01, learning_rate=2e-3, max_steps=600,
                        log_every=1000)
    trainer = Trainer(model_dir, ModelConfig(**TINY), train, name="tiny")
    trainer.fit(folder_dataset(image_folder, 128, 4, downscale_factor=1),
                log=open(os.devnull, "w"))
    return model_dir


@pytest.fixture(scope="session")
def model(trained_model_dir):
    import tfgancomp
    return tfgancomp.load_model(trained_model_dir)
