"""Input pipelines: image files → random crops in [0, 1], batched."""

from __future__ import annotations

import glob
import os
from pathlib import Path

import tensorflow as tf

from tfgancomp.errors import ConfigError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


def image_files(pattern: str | os.PathLike) -> list[str]:
    """Image files in a directory (not recursive) or matching a glob."""
    pattern = str(pattern)
    if os.path.isdir(pattern):
        candidates = [str(p) for p in Path(pattern).iterdir()]
    else:
        candidates = glob.glob(pattern, recursive=True)
    files = sorted(f for f in candidates
                   if f.lower().endswith(IMAGE_EXTENSIONS) and
                   os.path.isfile(f))
    if not files:
        raise ConfigError(f"no image files found at {pattern!r}")
    return files


def downscale(image, factor: int):
    """Antialiased downscaling by an integer factor (area averaging)."""
    if factor == 1:
        return image
    size = tf.shape(image)[:2] // factor
    size = tf.maximum(size, 1)
    return tf.image.resize(image, size, method="area")


def random_patch(image, patch_size: int):
    """A random crop; images smaller than the patch are upscaled first."""
    size = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = tf.maximum(1.0, patch_size / tf.reduce_min(size))
    new_size = tf.cast(tf.math.ceil(size * scale), tf.int32)
    image = tf.cond(scale > 1.0,
                    lambda: tf.image.resize(image, new_size, method="bicubic"),
                    lambda: image)
    image = tf.image.random_crop(image, [patch_size, patch_size, 3])
    return tf.image.random_flip_left_right(image)


def folder_dataset(pattern, patch_size: int, batch_size: int,
                   downscale_factor: int = 2,
                   shuffle_buffer: int = 256) -> tf.data.Dataset:
    """Endless batches of random crops from image files.

    Images are decoded, downscaled by `downscale_factor` (photos saved as
    JPEG otherwise teach the model to reproduce JPEG blocks), cropped,
    flipped, and scaled to [0, 1].
    """
    files = image_files(pattern)

    def load(path):
        image = tf.io.decode_image(tf.io.read_file(path), channels=3,
                                   expand_animations=False)
        image = tf.cast(image, tf.float32)
        return downscale(image, downscale_factor)

    dataset = tf.data.Dataset.from_tensor_slices(files)
    dataset = dataset.shuffle(len(files), reshuffle_each_iteration=True)
    dataset = dataset.repeat()
    dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.map(lambda x: random_patch(x, patch_size) / 255.,
                          num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.shuffle(shuffle_buffer)
    return dataset.batch(batch_size, drop_remainder=True).prefetch(
        tf.data.AUTOTUNE)
