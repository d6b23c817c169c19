"""Input pipelines: image files or tfds datasets → crops in [0, 1], batched.

`train_dataset` gives endless shuffled batches of random crops,
`validation_dataset` a small fixed set of central crops; both follow a
`DataConfig`. Images are decoded, downscaled (antialiased) and rounded to
8 bits, as if the downscaled photo had been saved as PNG.
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import os
from pathlib import Path

import tensorflow as tf

from tfgancomp.configuration import Config
from tfgancomp.errors import ConfigError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
TFDS_DATASETS = ("stanford_dogs", "cifar10")
DATASETS = ("folder",) + TFDS_DATASETS
SMALL_IMAGES = ("upscale", "skip")
# What tfds looks for in a manual_dir instead of downloading.
MANUAL_FILES = {
    "stanford_dogs": ("images.tar", "lists.tar", "annotation.tar"),
    "cifar10": ("cifar-10-binary.tar.gz",),
}


@dataclasses.dataclass(frozen=True)
class DataConfig(Config):
    """Where training and validation images come from and how they are cut.

    `dataset` is "folder" (images in `train_glob`: directories or globs) or
    a tfds dataset, loaded from `data_dir` (tfds' default if None) and
    prepared there first if missing and `download` is on: from the archives
    in `manual_dir` if given (it must hold them, see MANUAL_FILES), else
    downloaded. `batch_size` is the global batch.

    `downscale` divides the size of folder and stanford_dogs images (it is
    ignored for cifar10: its 32×32 images are small enough). Images smaller
    than `patch_size` afterwards are upscaled (bicubic) or, with
    `small_images="skip"`, dropped; if nothing is left, building the
    dataset raises ConfigError.

    Validation uses at most `validation_images` images: the first ones of
    the tfds "test" split, the first (sorted) files of `validation_glob`
    (never trained on), or else that many train files held out by a stable
    hash of their names (`held_out`; a ConfigError if none would be left to
    train on). 0 holds out nothing and means no validation. `cache` keeps
    the decoded, downscaled training images in memory: only when they fit.
    """

    KIND = "data"

    dataset: str = "folder"
    train_glob: tuple[str, ...] = ()
    validation_glob: tuple[str, ...] = ()
    data_dir: str | None = None
    manual_dir: str | None = None
    download: bool = True
    patch_size: int = 256
    batch_size: int = 8
    downscale: int = 2
    small_images: str = "upscale"
    validation_images: int = 16
    shuffle_buffer: int = 256
    cache: bool = False

    def __post_init__(self):
        for name in ("train_glob", "validation_glob"):
            object.__setattr__(self, name, _patterns(getattr(self, name)))
        self.check_integers(("patch_size", "batch_size", "downscale",
                             "shuffle_buffer"))
        self.check_integers(("validation_images",), minimum=0)
        if self.dataset not in DATASETS:
            raise ConfigError(f"unknown dataset {self.dataset!r}; choose "
                              f"from {', '.join(DATASETS)}")
        self.check_choice("small_images", SMALL_IMAGES)
        if self.dataset == "folder":
            if not self.train_glob:
                raise ConfigError("the folder dataset needs train_glob")
            for name in ("data_dir", "manual_dir"):
                if getattr(self, name) is not None:
                    raise ConfigError(f"{name} is for tfds datasets, not "
                                      "for dataset='folder'")
        elif self.train_glob or self.validation_glob:
            raise ConfigError("train_glob and validation_glob are for "
                              "dataset='folder', not for " + self.dataset)
        elif self.manual_dir is not None and not self.download:
            raise ConfigError("manual_dir needs download on: tfds prepares "
                              "the dataset from it as it would download it")

    @property
    def downscale_factor(self) -> int:
        """The downscaling factor actually applied to this dataset."""
        return 1 if self.dataset == "cifar10" else self.downscale


def _patterns(value) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, os.PathLike)):
        value = [value]
    return tuple(str(v) for v in value)


def image_files(patterns) -> list[str]:
    """Image files in directories (not recursive) or matching globs.

    `patterns` is one directory or glob, or a list of them.
    """
    patterns = list(_patterns(patterns))
    candidates = set()
    for pattern in patterns:
        if os.path.isdir(pattern):
            candidates.update(str(p) for p in Path(pattern).iterdir())
        else:
            candidates.update(glob.glob(pattern, recursive=True))
    files = sorted(f for f in candidates
                   if f.lower().endswith(IMAGE_EXTENSIONS) and
                   os.path.isfile(f))
    if not files:
        raise ConfigError(f"no image files found at {', '.join(patterns)}")
    return files


def held_out(files, count: int) -> list[str]:
    """The `count` files whose names have the smallest SHA-1 hashes.

    The choice depends on file names only, not on their folder or order.
    """
    def key(path):
        name = os.path.basename(path).encode()
        return hashlib.sha1(name).hexdigest(), path
    return sorted(sorted(files, key=key)[:count])


def split_files(config: DataConfig) -> tuple[list[str], list[str]]:
    """(training files, validation files) of a folder dataset; disjoint.

    Without `validation_glob`, `validation_images` train files are held
    out; a ConfigError says so when that would leave none to train on.
    """
    files = image_files(config.train_glob)
    count = config.validation_images
    if config.validation_glob:
        validation = image_files(config.validation_glob)[:count]
    else:
        if count >= len(files):
            raise ConfigError(
                f"{len(files)} training images are too few to hold out "
                f"{count} for validation: lower validation_images or "
                "give validation_glob")
        validation = held_out(files, count)
    excluded = set(validation)
    train = [f for f in files if f not in excluded]
    if not train:
        raise ConfigError("every training image is also a validation image")
    return train, validation


def downscale(image, factor: int):
    """Antialiased downscaling by an integer factor (area averaging)."""
    if factor == 1:
        return image
    size = tf.shape(image)[:2] // factor
    size = tf.maximum(size, 1)
    return tf.image.resize(image, size, method="area")


def _upscale_to(image, patch_size: int):
    """`image` as float32, upscaled (bicubic) if a side is < patch_size."""
    image = tf.cast(image, tf.float32)
    size = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = tf.maximum(1.0, patch_size / tf.reduce_min(size))
    new_size = tf.cast(tf.math.ceil(size * scale), tf.int32)

    def upscale():
        resized = tf.image.resize(image, new_size, method="bicubic")
        return tf.clip_by_value(resized, 0.0, 255.0)
    return tf.cond(scale > 1.0, upscale, lambda: image)


def random_patch(image, patch_size: int, seed):
    """A random crop, flipped at random; images smaller than the patch are
    upscaled first. Values stay in [0, 255], as float32. Stateless: the
    int64 [2] `seed` alone decides, so parallel maps stay reproducible."""
    image = _upscale_to(image, patch_size)
    crop_seed, flip_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, 2))
    image = tf.image.stateless_random_crop(
        image, [patch_size, patch_size, 3], crop_seed)
    return tf.image.stateless_random_flip_left_right(image, flip_seed)


def central_patch(image, patch_size: int):
    """The central crop, upscaled first like `random_patch`."""
    image = _upscale_to(image, patch_size)
    offset = (tf.shape(image)[:2] - patch_size) // 2
    image = image[offset[0]:offset[0] + patch_size,
                  offset[1]:offset[1] + patch_size]
    return tf.ensure_shape(image, [patch_size, patch_size, 3])


def _decode_file(path):
    image = tf.io.decode_image(tf.io.read_file(path), channels=3,
                               expand_animations=False)
    return tf.ensure_shape(image, [None, None, 3])


def _shrink(image, factor: int):
    """Downscaled and rounded back to uint8."""
    if factor == 1:
        return image
    image = downscale(tf.cast(image, tf.float32), factor)
    return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)


def _file_images(files, shuffle: bool) -> tf.data.Dataset:
    """Decoded images; unreadable files are skipped (with a warning)."""
    dataset = tf.data.Dataset.from_tensor_slices(files)
    if shuffle:
        dataset = dataset.shuffle(len(files), reshuffle_each_iteration=True)
    dataset = dataset.map(_decode_file, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.ignore_errors(log_warning=True)


def _tfds_failure(config: DataConfig, error: Exception) -> str:
    """One line: what went wrong and how to fix it."""
    reason = str(error).strip().split("\n")[0].split(". ")[0]
    files = " and ".join(MANUAL_FILES[config.dataset])
    if config.download:
        fix = (f"set data_dir to a folder holding a prepared copy, or "
               f"manual_dir to a folder holding {files} (no network needed)")
    else:
        fix = ("set data_dir to a folder holding a prepared copy, or turn "
               f"download on (with manual_dir holding {files} to prepare "
               "it offline)")
    return (f"cannot load tfds dataset {config.dataset!r} "
            f"({reason or type(error).__name__}): {fix}")


def _check_manual_dir(config: DataConfig):
    """Fails fast: tfds would fall back to downloading for minutes."""
    missing = [name for name in MANUAL_FILES[config.dataset]
               if not os.path.isfile(os.path.join(config.manual_dir, name))]
    if missing:
        raise ConfigError(f"manual_dir {config.manual_dir} lacks "
                          f"{' and '.join(missing)} for {config.dataset}")


def _tfds_images(config: DataConfig, split: str,
                 shuffle: bool) -> tf.data.Dataset:
    import tensorflow_datasets as tfds  # slow to import: only when needed
    prepare = None
    if config.manual_dir is not None:
        _check_manual_dir(config)
        prepare = dict(download_config=tfds.download.DownloadConfig(
            manual_dir=config.manual_dir))
    try:
        dataset = tfds.load(config.dataset, split=split,
                            data_dir=config.data_dir,
                            download=config.download,
                            download_and_prepare_kwargs=prepare,
                            shuffle_files=shuffle)
    except Exception as error:  # tfds raises anything from AssertionError up
        raise ConfigError(_tfds_failure(config, error)) from error
    return dataset.map(lambda example: example["image"],
                       num_parallel_calls=tf.data.AUTOTUNE)


def _prepared(images: tf.data.Dataset, config: DataConfig) -> tf.data.Dataset:
    """Downscaled images, without those too small if they are skipped."""
    factor = config.downscale_factor
    images = images.map(lambda x: _shrink(x, factor),
                        num_parallel_calls=tf.data.AUTOTUNE)
    if config.small_images == "skip":
        patch = config.patch_size
        images = images.filter(
            lambda x: tf.reduce_min(tf.shape(x)[:2]) >= patch)
    return images


def _check_not_empty(dataset: tf.data.Dataset, config: DataConfig, what):
    """Raises ConfigError if `dataset` (finite) yields nothing."""
    for _ in dataset.take(1):
        return
    skipped = (f" or smaller than {config.patch_size} pixels after "
               f"downscaling by {config.downscale_factor}"
               if config.small_images == "skip" else "")
    raise ConfigError(f"no usable {what} images: all are unreadable"
                      f"{skipped}")


def _batches(patches: tf.data.Dataset, config: DataConfig):
    patches = patches.shuffle(config.shuffle_buffer)
    patches = patches.batch(config.batch_size, drop_remainder=True)
    return patches.prefetch(tf.data.AUTOTUNE)


def _random_patches(images: tf.data.Dataset, config: DataConfig):
    """Endless random crops in [0, 1] of the (finite) `images`."""
    if config.cache:
        images = images.cache().shuffle(config.shuffle_buffer)
    patch = config.patch_size
    # A seed per crop from one random stream (the global seed's, if set).
    seeds = tf.data.Dataset.random().batch(2)
    return tf.data.Dataset.zip((images.repeat(), seeds)).map(
        lambda x, seed: random_patch(x, patch, seed) / 255.,
        num_parallel_calls=tf.data.AUTOTUNE)


def train_dataset(config: DataConfig) -> tf.data.Dataset:
    """Endless shuffled batches [batch, patch, patch, 3] of random,
    randomly flipped crops in [0, 1]."""
    if config.dataset == "folder":
        images = _file_images(split_files(config)[0], shuffle=True)
    else:
        images = _tfds_images(config, "train", shuffle=True)
    images = _prepared(images, config)
    _check_not_empty(images, config, "training")
    return _batches(_random_patches(images, config), config)


def validation_dataset(config: DataConfig) -> tf.data.Dataset:
    """The same few central crops in [0, 1] every time, batched (the last
    batch may be smaller) and cached."""
    count = config.validation_images
    if count == 0:
        raise ConfigError("validation_images is 0: no validation set")
    if config.dataset == "folder":
        files = split_files(config)[1]
        count = len(files)
        images = _file_images(files, shuffle=False)
    else:
        images = _tfds_images(config, "test", shuffle=False).take(count)
    images = _prepared(images, config)
    _check_not_empty(images, config, "validation")
    patch = config.patch_size
    patches = images.map(lambda x: central_patch(x, patch) / 255.,
                         num_parallel_calls=tf.data.AUTOTUNE)
    patches = patches.batch(min(config.batch_size, count)).cache()
    return patches.prefetch(tf.data.AUTOTUNE)


def folder_dataset(patterns, patch_size: int, batch_size: int,
                   downscale_factor: int = 2,
                   shuffle_buffer: int = 256) -> tf.data.Dataset:
    """Endless batches of random crops from all image files in `patterns`.

    Images are decoded, downscaled by `downscale_factor` (photos saved as
    JPEG otherwise teach the model to reproduce JPEG blocks), cropped,
    flipped, and scaled to [0, 1].
    """
    return train_dataset(DataConfig(
        train_glob=patterns, patch_size=patch_size, batch_size=batch_size,
        downscale=downscale_factor, shuffle_buffer=shuffle_buffer,
        validation_images=0))
