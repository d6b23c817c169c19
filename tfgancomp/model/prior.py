"""What the latents' entropy models share: the scale table, the side prior
of z, bit-estimating models and the range-coding tables fixed once.

`Hyperprior` and `ChannelwisePrior` derive from `LatentPrior` and add their
transforms, `call`, `compress`/`decompress` and the stock steps. Everything
here computes in float32, whatever precision the transforms train in.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf
import tensorflow_compression as tfc

from tfgancomp.model.config import ModelConfig

_LATENTS = tf.TensorSpec([1, None, None, None], tf.float32)
# The input signatures of a prior's encode_tile(handle, y, ẑ, offset) and
# decode_tile(handle, ẑ, offset, size), one tile into a shared range coder.
ENCODE_TILE = [tf.TensorSpec([], tf.variant), _LATENTS, _LATENTS,
               tf.TensorSpec([2], tf.int32)]
DECODE_TILE = [tf.TensorSpec([], tf.variant), _LATENTS,
               tf.TensorSpec([2], tf.int32), tf.TensorSpec([2], tf.int32)]


def scale_function(config: ModelConfig):
    """Scale index → scale: `num_scales` log-spaced values."""
    log_min, log_max = math.log(config.scale_min), math.log(config.scale_max)
    step = (log_max - log_min) / (config.num_scales - 1)

    def scale(index):
        return tf.math.exp(log_min + step * index)
    return scale


class LatentPrior(tf.keras.layers.Layer):
    """The side prior and the tables of an entropy model of the latents."""

    def __init__(self, config: ModelConfig, name: str, **kwargs):
        super().__init__(name=name, dtype="float32", **kwargs)
        self.config = config
        self.side_prior = tfc.NoisyDeepFactorized(
            batch_shape=[config.hyper_channels])
        self._scale = scale_function(config)
        self.latent_model = None
        self.side_model = None

    def _latent_model(self, compression: bool):
        return tfc.LocationScaleIndexedEntropyModel(
            tfc.NoisyNormal, self.config.num_scales, self._scale,
            coding_rank=3, compression=compression,
            bottleneck_dtype=tf.float32)

    def _estimating_models(self, training: bool):
        """Entropy models without tables, for bit estimates.

        Outside training, z is rounded as `compress` will round it: around
        the fixed tables' offsets once they exist, else the prior's.
        """
        if training:
            offset = None  # noise instead of rounding: offsets unused
        elif self.can_code:
            offset = self.side_model.quantization_offset
        else:
            offset = tfc.quantization_offset(self.side_prior)
        side = tfc.ContinuousBatchedEntropyModel(
            self.side_prior, coding_rank=3, compression=False,
            offset_heuristic=False, quantization_offset=offset,
            bottleneck_dtype=tf.float32)
        return self._latent_model(compression=False), side

    @property
    def can_code(self) -> bool:
        return self.latent_model is not None

    @tf.function
    def _side_tables(self):
        """Range-coding tables of the side prior: much faster traced."""
        side = tfc.ContinuousBatchedEntropyModel(
            self.side_prior, coding_rank=3, compression=True, stateless=True,
            bottleneck_dtype=tf.float32)
        return side.cdf, side.cdf_offset, side.quantization_offset

    def fix_tables(self, placeholders: bool = False):
        """Builds the range-coding tables from the trained priors, once.

        With `placeholders=True`, creates empty tables to be overwritten by
        restoring a saved model (the table variables take any length).
        """
        self.latent_model = self._latent_model(compression=True)
        if placeholders:
            tables = dict(cdf_shapes=(1, 1), quantization_offset=True)
        else:
            cdf, cdf_offset, offset = self._side_tables()
            tables = dict(cdf=cdf, cdf_offset=cdf_offset,
                          quantization_offset=offset)
        self.side_model = tfc.ContinuousBatchedEntropyModel(
            prior_shape=self.side_prior.batch_shape, coding_rank=3,
            compression=True, bottleneck_dtype=tf.float32, **tables)

    def side_table_pmfs(self):
        """The side tables as (values [K, C], pmf [K, C]): each channel's
        probability of the quantized side latents (zero-padded to the
        longest channel), as the range coder sees them."""
        side = self.side_model
        precision = 2. ** int(side.range_coder_precision)
        flat = side.cdf.numpy()
        starts = np.flatnonzero(flat < 0)  # each channel: -precision, cdf
        ends = list(starts[1:]) + [len(flat)]
        pmfs = [np.diff(flat[a + 1:b])[:-1] / precision  # no overflow bin
                for a, b in zip(starts, ends)]
        length = max(len(p) for p in pmfs)
        pmf = np.stack([np.pad(p, (0, length - len(p))) for p in pmfs], 1)
        values = (np.arange(length)[:, None] + side.cdf_offset.numpy()
                  + side.quantization_offset.numpy())
        return values.astype(np.float32), pmf.astype(np.float32)

    def fit_side_prior(self, steps: int = 1000):
        """Fits the side prior's density to the fixed side tables, for
        models whose tables were kept but not the density they came from
        (the exports shipped with 0.1.0): bit estimates, refinement and
        warm starts then see the prior that coding uses. Returns the mean
        cross-entropy in bits per side latent before and after."""
        values, pmf = (tf.constant(x) for x in self.side_table_pmfs())
        variables = self.side_prior.trainable_variables
        optimizer = tf.keras.optimizers.Adam(1e-2)

        def cross_entropy():
            bits = -tf.math.log(self.side_prior.prob(values) + 1e-9)
            return tf.reduce_sum(pmf * bits) / tf.math.log(2.) / len(
                pmf[0])

        @tf.function
        def step():
            with tf.GradientTape() as tape:
                loss = cross_entropy()
            optimizer.apply_gradients(
                zip(tape.gradient(loss, variables), variables))
            return loss

        before = float(cross_entropy())
        for _ in range(steps):
            step()
        return before, float(cross_entropy())

    def encode_offsets(self, handle, offsets, scale_index):
        """Codes round(`offsets`) from the mean into a range-coder handle
        with the table of each (integer-valued) scale index, as tfc's
        `LocationScaleIndexedEntropyModel.compress` does; returns the
        handle."""
        indexes = self._table_indexes(scale_index)
        symbols = tf.cast(tf.round(offsets), tf.int32)
        return tfc.entropy_encode_index(
            handle, indexes,
            symbols - tf.gather(self.latent_model.cdf_offset, indexes))

    def decode_offsets(self, handle, scale_index):
        """(handle, decoded offsets from the mean as float32): the inverse
        of `encode_offsets`."""
        indexes = self._table_indexes(scale_index)
        handle, symbols = tfc.entropy_decode_index(
            handle, indexes, tf.shape(indexes), tf.int32)
        symbols += tf.gather(self.latent_model.cdf_offset, indexes)
        return handle, tf.cast(symbols, tf.float32)

    @tf.function(input_signature=[_LATENTS])
    def side_window(self, y):
        """`side_latents` of a window of latents, traced once for any
        size (model/tiling.py)."""
        return tf.cast(self.side_latents(y), tf.float32)

    def _table_indexes(self, scale_index):
        """Integer-valued scale indexes → int32 table indexes, clipped."""
        return tf.cast(tf.clip_by_value(
            scale_index, 0.0, self.config.num_scales - 1.0), tf.int32)

    def table_tensors(self) -> list[tf.Tensor]:
        """The range-coding tables, in a fixed order."""
        main, side = self.latent_model, self.side_model
        return [main.cdf, main.cdf_offset, side.cdf, side.cdf_offset,
                side.quantization_offset]

    def table_variables(self) -> list[tf.Variable]:
        """The range-coding tables, as variables (for exports)."""
        return (list(self.latent_model.variables) +
                list(self.side_model.variables))

    def transform_variables(self) -> list[tf.Variable]:
        """The weights of the transforms that coding reads."""
        return [v for t in self.encoder_transforms() for v in t.variables]

    def encoder_transforms(self) -> tuple:
        """What an encoder reads besides the tables."""
        raise NotImplementedError

    def _latent_table_facts(self) -> dict:
        """What a client must know besides the tables to code latents."""
        return {}

    def range_coding_tables(self) -> dict:
        """The range coder's tables, for clients that code the symbols."""
        main, side = self.latent_model, self.side_model

        def ints(tensor):
            return [int(v) for v in tensor.numpy()]

        return {
            "range_coder": "tensorflow_compression 2.14 range coder",
            "precision": int(main.range_coder_precision),
            "latent": {"cdf": ints(main.cdf),
                       "cdf_offset": ints(main.cdf_offset),
                       "table": "latent_scale_indexes",
                       **self._latent_table_facts()},
            "side_latent": {"cdf": ints(side.cdf),
                            "cdf_offset": ints(side.cdf_offset),
                            "table": "channel (last axis)"},
        }
