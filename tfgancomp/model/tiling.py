"""Tiled coding: images of any size in memory bounded by one tile.

A file's T section holds the tile size t in latent positions, chosen by the
encoder (`DEFAULT_TILE`, 1024×1024 pixels at stride 16); images whose
latents fit one tile are coded whole, as before tiling existed. The latent
grid is cut into t×t tiles in raster order, the last row and column of
tiles smaller. What the format fixes, so that a file decodes to the same
pixels on any machine:

* the latent string is ONE range-coded string: the tiles in raster order,
  each coded as its entropy model codes a whole image, with the prior
  computed from the ẑ within `SIDE_HALO` side latents of the tile (encoder
  and decoder compute the same windows, so the priors match bit for bit);
* after the last tile, the same string codes `END_MARK` with the widest
  table: a string that ends early (tfc's range decoder reads zeros past
  its end and does not flag it) fails to decode the mark (5 bytes);
* the side latents ẑ are coded whole (1/4096 of the pixels);
* each tile is synthesized from the ŷ within `synthesis_halo` latents of
  it, enough for the synthesis's reach, and told where in the image it
  starts (the realism grain's noise is keyed to the image's pixels):
  tiling costs no measurable quality.

Files without a T section whose latents exceed `DEFAULT_TILE` (written
before tiling existed) decode their latents whole and synthesize in tiles
of `DEFAULT_TILE`. The encoder's analyses see a halo of `ANALYSIS_HALO`
latents (`HYPER_ANALYSIS_HALO` side latents for the hyper-analysis): an
encoder's choice, not the format's.

Memory beyond one tile's activations: the image, ŷ (C·4/s² bytes per
pixel, 2 for the default model) and the reconstruction.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf
import tensorflow_compression as tfc

from tfgancomp.errors import BitstreamError
from tfgancomp.model import grain
from tfgancomp.model.config import ModelConfig
from tfgancomp.model.geometry import ceil_div

DEFAULT_TILE = 64  # latent positions: 1024×1024 pixels at stride 16
ANALYSIS_HALO = 2  # latents; the analysis reaches 30 pixels
HYPER_ANALYSIS_HALO = 2  # side latents; the hyper-analysis reaches 1.75
SIDE_HALO = 3  # side latents; the hyper-synthesis reaches 1.75
END_MARK = (3., -5., 7., -1.)  # latent offsets from the mean


def synthesis_halo(config: ModelConfig) -> int:
    """Latents of ŷ around a tile its synthesis sees: a latent more than
    its reach. Each 5×5 transposed convolution of stride 2 reaches one
    position of its input (1 + 1/2 + 1/4 + … latents); each pair of 3×3
    convolutions (a residual block, a realism adapter) reaches two
    positions of its feature map, at 2**(i + 1) positions per latent after
    upsampling stage i, at one per latent before the first; residual
    blocks at latent resolution have one 3×3 convolution before them."""
    depth = config.num_downsamplings
    reach = sum(0.5 ** i for i in range(depth))
    adapters = config.realism_draws("adapters")
    if config.residual_blocks:
        reach += 1 + 2 * (config.residual_blocks + adapters)
    for stage in range(depth - 1):
        pairs = bool(config.stage_block(stage)) + adapters
        reach += pairs * 2 / 2 ** (stage + 1)
    if config.realism_draws("grain"):
        reach += grain.REACH / config.latent_stride
    return 1 + math.ceil(reach)


def tile_for(config: ModelConfig, height: int, width: int,
             tile: int | None = None) -> int | None:
    """The tile size to code an image with (`tile`, by default
    `DEFAULT_TILE`): None when one tile holds it."""
    tile = tile or DEFAULT_TILE
    stride = config.latent_stride
    fits = max(ceil_div(height, stride), ceil_div(width, stride)) <= tile
    return None if fits else tile


def _spans(size: int, tile: int) -> list[tuple[int, int]]:
    return [(start, min(start + tile, size))
            for start in range(0, size, tile)]


def _tiles(size, tile: int):
    """(rows, columns) spans of each tile of a grid, in raster order."""
    return [(rows, cols) for rows in _spans(size[0], tile)
            for cols in _spans(size[1], tile)]


def _around(span, halo: int, size: int) -> tuple[int, int]:
    return max(0, span[0] - halo), min(size, span[1] + halo)


def _window(array, rows, cols, factor: int):
    """array's rows and columns [a·factor, b·factor) for spans (a, b),
    repeating its last row and column beyond its end (pad_to_multiple)."""
    def indexes(span, size):
        return np.minimum(np.arange(span[0] * factor, span[1] * factor),
                          size - 1)
    return array[np.ix_(indexes(rows, array.shape[0]),
                        indexes(cols, array.shape[1]))]


def _crop(array, rows, cols, window_rows, window_cols):
    """The part of a window's output that belongs to the tile."""
    return array[rows[0] - window_rows[0]:rows[1] - window_rows[0],
                 cols[0] - window_cols[0]:cols[1] - window_cols[0]]


class _Grid:
    """The latent and side-latent grids of one image and their tiles."""

    def __init__(self, config: ModelConfig, image_size, tile: int):
        self.config, self.tile = config, tile
        self.factor = config.hyper_stride // config.latent_stride
        self.latent = tuple(ceil_div(int(n), config.latent_stride)
                            for n in image_size)
        self.side = tuple(ceil_div(n, self.factor) for n in self.latent)

    def tiles(self):
        return _tiles(self.latent, self.tile)

    def side_window(self, rows, cols):
        """ẑ's spans for a tile's prior, and the tile's offset into the
        latents they synthesize."""
        def span(latents, size):
            return (max(0, latents[0] // self.factor - SIDE_HALO),
                    min(size, ceil_div(latents[1], self.factor) + SIDE_HALO))
        side_rows, side_cols = span(rows, self.side[0]), span(cols,
                                                              self.side[1])
        offset = [rows[0] - side_rows[0] * self.factor,
                  cols[0] - side_cols[0] * self.factor]
        return side_rows, side_cols, tf.constant(offset, tf.int32)


def _end_mark_scales(entropy) -> tf.Tensor:
    """The scale index of the end mark's symbols: the widest table."""
    return tf.fill([len(END_MARK)], entropy.config.num_scales - 1.)


def _knob(value) -> tf.Tensor:
    return tf.constant(0. if value is None else value, tf.float32)


def compress(codec, rgb: np.ndarray, quality, tile: int) -> tuple:
    """uint8 image [H, W, 3] → (latent string, side-latent string) of its
    tiles: what `Codec.compress` returns for an image of one tile."""
    config, entropy = codec.config, codec.entropy
    grid = _Grid(config, rgb.shape[:2], tile)
    q = _knob(quality)
    y = np.empty(grid.latent + (config.latent_channels,), np.float32)
    for rows, cols in grid.tiles():
        around = (_around(rows, ANALYSIS_HALO, grid.latent[0]),
                  _around(cols, ANALYSIS_HALO, grid.latent[1]))
        window = codec.analyze_window(
            _window(rgb, *around, config.latent_stride), q)
        y[rows[0]:rows[1], cols[0]:cols[1]] = _crop(
            window[0].numpy(), rows, cols, *around)
    z = np.empty(grid.side + (config.hyper_channels,), np.float32)
    for rows, cols in _tiles(grid.side, max(1, tile // grid.factor)):
        around = (_around(rows, HYPER_ANALYSIS_HALO, grid.side[0]),
                  _around(cols, HYPER_ANALYSIS_HALO, grid.side[1]))
        window = entropy.side_window(_window(y, *around, grid.factor)[None])
        z[rows[0]:rows[1], cols[0]:cols[1]] = _crop(
            window[0].numpy(), rows, cols, *around)
    z = tf.constant(z[None])
    z_hat = entropy.side_model.quantize(z)
    handle = tfc.create_range_encoder([], entropy.latent_model.cdf)
    for rows, cols in grid.tiles():
        side_rows, side_cols, offset = grid.side_window(rows, cols)
        handle = entropy.encode_tile(
            handle, y[None, rows[0]:rows[1], cols[0]:cols[1]],
            z_hat[:, side_rows[0]:side_rows[1], side_cols[0]:side_cols[1]],
            offset)
    handle = entropy.encode_offsets(handle, tf.constant(END_MARK),
                             _end_mark_scales(entropy))
    return (tfc.entropy_encode_finalize(handle),
            entropy.side_model.compress(z)[0])


def decompress(codec, string, side_string, image_size, tile: int, quality,
               realism) -> np.ndarray:
    """The uint8 image [H, W, 3] of a tiled file's strings."""
    entropy = codec.entropy
    grid = _Grid(codec.config, image_size, tile)
    z_hat = entropy.side_model.decompress(
        tf.constant(side_string)[None], tf.constant(grid.side, tf.int32))
    y_hat = np.empty(grid.latent + (codec.config.latent_channels,),
                     np.float32)
    handle = tfc.create_range_decoder(string, entropy.latent_model.cdf)
    for rows, cols in grid.tiles():
        side_rows, side_cols, offset = grid.side_window(rows, cols)
        handle, latents = entropy.decode_tile(
            handle,
            z_hat[:, side_rows[0]:side_rows[1], side_cols[0]:side_cols[1]],
            offset, tf.constant([rows[1] - rows[0], cols[1] - cols[0]]))
        y_hat[rows[0]:rows[1], cols[0]:cols[1]] = latents[0].numpy()
    handle, mark = entropy.decode_offsets(handle, _end_mark_scales(entropy))
    if (not bool(tfc.entropy_decode_finalize(handle))
            or tuple(mark.numpy()) != END_MARK):
        raise BitstreamError("the latent string does not decode: it ends "
                             "early or holds other data")
    return synthesize(codec, y_hat, image_size, tile, quality, realism)


def synthesize(codec, y_hat: np.ndarray, image_size, tile: int, quality,
               realism) -> np.ndarray:
    """The uint8 image [H, W, 3] of ŷ [h, w, C], synthesized in tiles."""
    stride = codec.config.latent_stride
    halo = synthesis_halo(codec.config)
    height, width = (int(n) for n in image_size)
    image = np.empty((height, width, 3), np.uint8)
    q, r = _knob(quality), _knob(realism)
    for rows, cols in _tiles(y_hat.shape[:2], tile):
        around = (_around(rows, halo, y_hat.shape[0]),
                  _around(cols, halo, y_hat.shape[1]))
        pixels = codec.synthesize_window(
            y_hat[None, around[0][0]:around[0][1],
                  around[1][0]:around[1][1]], q, r,
            [around[0][0] * stride, around[1][0] * stride]).numpy()
        top, left = rows[0] * stride, cols[0] * stride
        bottom, right = min(height, rows[1] * stride), min(width,
                                                           cols[1] * stride)
        row0 = top - around[0][0] * stride
        col0 = left - around[1][0] * stride
        image[top:bottom, left:right] = pixels[
            row0:row0 + bottom - top, col0:col0 + right - left]
    return image
