"""Input pipelines: folders and (mocked) tfds datasets, train and
validation."""

import numpy as np
import pytest
import tensorflow_datasets as tfds
from conftest import photo_like
from PIL import Image

from tfgancomp.errors import ConfigError
from tfgancomp.training.data import (
    DataConfig,
    folder_dataset,
    held_out,
    split_files,
    train_dataset,
    validation_dataset,
)


def batches(dataset, count):
    return [b.numpy() for b in dataset.take(count)]


def check_batches(dataset, batch_size, patch_size, count=2):
    found = batches(dataset, count)
    assert len(found) == count
    for batch in found:
        assert batch.shape == (batch_size, patch_size, patch_size, 3)
        assert batch.dtype == np.float32
        assert 0.0 <= batch.min() and batch.max() <= 1.0
    return found


def save(folder, name, array):
    folder.mkdir(exist_ok=True)
    Image.fromarray(array).save(folder / name)


def flat(value, height, width):
    return np.full((height, width, 3), value, np.uint8)


def folder_config(folder, **kwargs):
    kwargs = dict(train_glob=str(folder), patch_size=32, batch_size=4,
                  downscale=1, validation_images=0, shuffle_buffer=8) | kwargs
    return DataConfig(**kwargs)


def test_folder_train_batches(image_folder):
    config = folder_config(image_folder, downscale=2, validation_images=2)
    check_batches(train_dataset(config), 4, 32)


def test_crops_follow_the_global_seed(image_folder):
    """The same seed gives the same crops, however the parallel map's
    threads are scheduled (the tiny test model trains on them)."""
    import tensorflow as tf

    def first(seed):
        tf.keras.utils.set_random_seed(seed)
        return batches(folder_dataset(image_folder, 32, 4,
                                      downscale_factor=1), 6)
    once, again, other = first(0), first(0), first(1)
    for a, b in zip(once, again):
        np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(a, b) for a, b in zip(once, other))


def test_folder_dataset_keeps_working(image_folder):
    check_batches(folder_dataset(image_folder, 32, 3), 3, 32)
    check_batches(folder_dataset([str(image_folder / "*.png")], 24, 2,
                                 downscale_factor=1), 2, 24)


def test_cache(image_folder):
    config = folder_config(image_folder, cache=True)
    check_batches(train_dataset(config), 4, 32, count=4)


def test_small_images_are_upscaled_or_skipped(tmp_path):
    folder = tmp_path / "mixed"
    save(folder, "big.png", flat(200, 48, 40))
    save(folder, "small.png", flat(50, 12, 20))
    upscaled = np.concatenate(
        batches(train_dataset(folder_config(folder)), 4))
    assert {50, 200} <= set(np.unique(np.round(upscaled * 255)))
    skipped = np.concatenate(batches(
        train_dataset(folder_config(folder, small_images="skip")), 4))
    assert set(np.unique(np.round(skipped * 255))) == {200}


def test_nothing_left_after_skipping_is_an_error(tmp_path):
    folder = tmp_path / "small"
    save(folder, "a.png", flat(10, 40, 40))
    config = folder_config(folder, downscale=2, small_images="skip")
    with pytest.raises(ConfigError, match="smaller than 32"):
        train_dataset(config)


def test_unusual_and_corrupt_files(tmp_path):
    folder = tmp_path / "odd"
    image = photo_like(40, 36, seed=1)
    save(folder, "gray.png", image[..., 0])
    Image.fromarray(image).convert("RGBA").save(folder / "rgba.png")
    Image.fromarray(image).convert("P").save(folder / "palette.png")
    (folder / "x.png").write_bytes(b"not an image at all" * 10)
    check_batches(train_dataset(folder_config(folder)), 4, 32, count=3)
    check_batches(folder_dataset(folder, 32, 4), 4, 32)


def test_only_corrupt_files_is_an_error(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "x.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(ConfigError, match="unreadable"):
        train_dataset(folder_config(folder))


def test_held_out_files_are_never_trained_on(image_folder):
    config = folder_config(image_folder, validation_images=3)
    train, validation = split_files(config)
    assert len(validation) == 3
    assert not set(train) & set(validation)
    assert sorted(train + validation) == sorted(
        str(p) for p in image_folder.iterdir())
    # The choice depends on the names only.
    names = [p.name for p in image_folder.iterdir()]
    moved = [f"/elsewhere/{n}" for n in reversed(names)]
    assert ([p.rsplit("/", 1)[1] for p in held_out(moved, 3)] ==
            [p.rsplit("/", 1)[1] for p in validation])
    assert held_out(moved, 0) == []


def test_too_few_files_to_hold_out(image_folder):
    config = folder_config(image_folder, validation_images=8)
    with pytest.raises(ConfigError, match="too few"):
        split_files(config)


def test_validation_glob_is_removed_from_training(image_folder):
    config = folder_config(image_folder, validation_images=2,
                           validation_glob=str(image_folder / "[0-3].png"))
    train, validation = split_files(config)
    assert [p.rsplit("/", 1)[1] for p in validation] == ["0.png", "1.png"]
    assert len(train) == 6 and not set(train) & set(validation)


def test_folder_validation_is_finite_and_deterministic(image_folder):
    config = folder_config(image_folder, downscale=2, batch_size=2,
                           validation_images=3)
    dataset = validation_dataset(config)
    first, second = list(dataset), list(dataset)
    assert [b.shape[0] for b in first] == [2, 1]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert first[0].shape[1:] == (32, 32, 3)
    # The same crops again from a new pipeline.
    again = np.concatenate(list(validation_dataset(config)))
    np.testing.assert_array_equal(np.concatenate(first), again)


def test_validation_upscales_small_images(tmp_path):
    folder = tmp_path / "tiny"
    for i in range(3):
        save(folder, f"{i}.png", photo_like(10, 14, seed=i))
    config = folder_config(folder, patch_size=24, validation_images=1)
    patches = np.concatenate(list(validation_dataset(config)))
    assert patches.shape == (1, 24, 24, 3)
    assert 0.0 <= patches.min() and patches.max() <= 1.0


@pytest.mark.parametrize("name, downscale", [("stanford_dogs", 2),
                                             ("cifar10", 1)])
def test_tfds(tmp_path, name, downscale):
    config = DataConfig(dataset=name, data_dir=str(tmp_path), download=False,
                        patch_size=32, batch_size=3, validation_images=4)
    assert config.downscale_factor == downscale
    with tfds.testing.mock_data(num_examples=5):
        check_batches(train_dataset(config), 3, 32)
        dataset = validation_dataset(config)
        first = np.concatenate(list(dataset))
        if name == "cifar10":  # Not downscaled: the crop is all the image.
            test = tfds.load(name, split="test").take(4)
            images = np.stack([x["image"].numpy() for x in test])
            np.testing.assert_allclose(first * 255, images, atol=1e-3)
    assert first.shape == (4, 32, 32, 3)
    np.testing.assert_array_equal(first, np.concatenate(list(dataset)))


def test_missing_tfds_dataset(tmp_path):
    config = DataConfig(dataset="cifar10", data_dir=str(tmp_path),
                        download=False)
    with pytest.raises(ConfigError, match="data_dir.*manual_dir") as error:
        train_dataset(config)
    assert "\n" not in str(error.value)
    assert "cifar-10-binary.tar.gz" in str(error.value)


def test_manual_dir_without_archives(tmp_path):
    (tmp_path / "lists.tar").write_bytes(b"")
    config = DataConfig(dataset="stanford_dogs", data_dir=str(tmp_path),
                        manual_dir=str(tmp_path))
    with pytest.raises(ConfigError,
                       match="lacks images.tar and annotation.tar"):
        train_dataset(config)


@pytest.mark.parametrize("kwargs, message", [
    (dict(dataset="imagenet", train_glob="x"), "unknown dataset"),
    (dict(), "needs train_glob"),
    (dict(train_glob="x", patch_size=0), "patch_size"),
    (dict(train_glob="x", batch_size=2.0), "batch_size"),
    (dict(train_glob="x", downscale=True), "downscale"),
    (dict(train_glob="x", validation_images=-1), "validation_images"),
    (dict(train_glob="x", small_images="crop"), "small_images"),
    (dict(train_glob="x", data_dir="/tmp"), "data_dir"),
    (dict(dataset="cifar10", train_glob="x"), "train_glob"),
    (dict(dataset="cifar10", manual_dir="m", download=False), "download"),
    (dict(dataset="cifar10", validation_images=0), None),
])
def test_bad_configs(kwargs, message):
    if message is None:  # Fine to build, but there is nothing to validate.
        with pytest.raises(ConfigError, match="no validation set"):
            validation_dataset(DataConfig(**kwargs))
        return
    with pytest.raises(ConfigError, match=message):
        DataConfig(**kwargs)


def test_missing_folder(tmp_path):
    with pytest.raises(ConfigError, match="no image files"):
        train_dataset(folder_config(tmp_path / "nowhere"))
