"""Exporting encoder and decoder SavedModels in TF Serving's layout.

    EXPORT_DIR/models.config      TF Serving config for the pair
    EXPORT_DIR/encoder/VERSION/   saved_model.pb, variables/, assets/
    EXPORT_DIR/decoder/VERSION/

Each SavedModel holds only the weights and tables its side reads. Its
signatures take one unbatched image or bitstream:

    encoder serving_default      image -> latent_bytes, side_latent_bytes,
                                 image_size, model_fingerprint
    encoder stock                image -> latent_symbols,
                                 latent_scale_indexes, side_latent_symbols,
                                 image_size, model_fingerprint
    decoder serving_default      latent_bytes, side_latent_bytes,
                                 image_size, model_fingerprint -> image
    decoder stock                latent_symbols, side_latent_symbols,
                                 image_size, model_fingerprint -> image
    decoder stock_scale_indexes  side_latent_symbols, image_size
                                 (+ latent_symbols for a channel-wise
                                 model) -> latent_scale_indexes

A variable-rate model's encoder signatures and its decoder's
`serving_default` and `stock` also take `quality` (float32 scalar in
[0, 1], the .tfgc header's); a decoder with the realism knob takes
`realism` (float32 scalar in [0, 1]) in the same two. For a file whose
header holds a grain gain g (section G), a decoder whose realism is
grain takes realism·g², which may exceed 1 (model/grain_fit.py).

`serving_default` does the whole job with tfc's range coder (a custom op).
The `stock` signatures use core TensorFlow ops only and leave entropy
coding to the client: a latent ŷ = latent_symbols + mean (the mean comes
from the side latents), a side latent ẑ = side_latent_symbols + offset;
the range coder codes `symbol - cdf_offset[table]` with table = the scale
index for latents and the channel for side latents, using the tables in
`assets/range_coding_tables.json`. A channel-wise model codes its slices
one after the other into the one latent string; the tables of slice k
depend on the symbols of the slices before it, so a client decodes slice by
slice, asking `stock_scale_indexes` for the next slice's tables each time
(the later slices' symbols may be anything meanwhile): stock ops still
suffice, at one call per slice. `assets/tfgancomp.json` identifies the
model as .tfgc headers do; the decoders refuse another model's data.

Loading them: exported.py.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from tfgancomp.deploy.exported import (
    FORMAT,
    FORMAT_VERSION,
    FULL,
    STOCK,
    STOCK_SCALES,
)
from tfgancomp.deploy.layout import IDENTITY, SIDES
from tfgancomp.errors import ModelError
from tfgancomp.formats import bitstream

TABLES = "range_coding_tables.json"
MODELS_CONFIG = "models.config"
SIGNATURES = {"encoder": (FULL, STOCK), "decoder": (FULL, STOCK, STOCK_SCALES)}


def _signatures(codec, side: str, fingerprint: str) -> dict:
    """The tf.functions of one side, by signature name.

    The full signatures are the codec's own `compress`/`decompress`; the
    stock ones compose the same public steps up to, or from, the integer
    symbols around the range coder.
    """
    import tensorflow as tf
    c, entropy = codec.config, codec.entropy

    def spec(shape, dtype, name):
        return tf.TensorSpec(shape, dtype, name=name)

    image_spec = spec([None, None, 3], tf.uint8, "image")
    size_spec = spec([2], tf.int32, "image_size")
    fingerprint_spec = spec([], tf.string, "model_fingerprint")
    # The knobs the model has, by input name; traced functions take them
    # as trailing `knob_*` arguments in this order.
    decoder_knobs = [name for name, present in (("quality", c.variable_rate),
                                                ("realism", c.realism))
                     if present]
    encoder_knobs = [k for k in decoder_knobs if k == "quality"]

    def knob_specs(names):
        return [spec([], tf.float32, name) for name in names]

    def named(names, *values):
        return dict(zip(names, values))
    latent_spec = spec([None, None, c.latent_channels], tf.int32,
                       "latent_symbols")
    side_spec = spec([None, None, c.hyper_channels], tf.int32,
                     "side_latent_symbols")

    def fingerprint_constant():
        return tf.constant(fingerprint, name="model_fingerprint")

    readable = [fingerprint] + [f.hex() for f in codec.decodes]

    def check_model(model_fingerprint):
        return tf.debugging.Assert(
            tf.reduce_any(tf.equal(model_fingerprint, readable)),
            [f"wrong model: this decoder is model {codec.model_name} "
             f"({fingerprint}), the data comes from model",
             model_fingerprint])

    def check_size(image_size):
        pixels = tf.reduce_prod(tf.cast(image_size, tf.int64))
        valid = (tf.reduce_all((image_size >= 1) &
                               (image_size <= bitstream.MAX_SIDE)) &
                 (pixels <= bitstream.MAX_PIXELS))
        return tf.debugging.Assert(valid, [
            f"image_size must be in 1..{bitstream.MAX_SIDE} with at most "
            f"{bitstream.MAX_PIXELS} pixels, got", image_size])

    def check_shape(symbols, size, channels, name):
        expected = tf.concat([size, [channels]], 0)
        return tf.debugging.Assert(
            tf.reduce_all(tf.equal(tf.shape(symbols), expected)),
            [f"{name} must have shape", expected, "for this image_size, got",
             tf.shape(symbols)])

    def check_symbols(image_size, side_latent_symbols, latent_symbols=None):
        checks = [check_size(image_size),
                  check_shape(side_latent_symbols, codec.side_size(image_size),
                              c.hyper_channels, "side_latent_symbols")]
        if latent_symbols is not None:
            checks.append(check_shape(
                latent_symbols, codec.latent_size(image_size),
                c.latent_channels, "latent_symbols"))
        return checks

    @tf.function(input_signature=[image_spec] + knob_specs(encoder_knobs))
    def encode(image, knob_0=None):
        string, side_string = codec.compress(
            image, **named(encoder_knobs, knob_0))
        return {"latent_bytes": string, "side_latent_bytes": side_string,
                "image_size": tf.shape(image)[:2],
                "model_fingerprint": fingerprint_constant()}

    @tf.function(input_signature=[image_spec] + knob_specs(encoder_knobs))
    def encode_stock(image, knob_0=None):
        y = codec.analyze(tf.cast(image, tf.float32)[None] / 255.,
                          **named(encoder_knobs, knob_0))
        outputs = {k: v[0] for k, v in entropy.symbols(y).items()}
        return dict(outputs, image_size=tf.shape(image)[:2],
                    model_fingerprint=fingerprint_constant())

    @tf.function(input_signature=[
        spec([], tf.string, "latent_bytes"),
        spec([], tf.string, "side_latent_bytes"), size_spec,
        fingerprint_spec] + knob_specs(decoder_knobs))
    def decode(latent_bytes, side_latent_bytes, image_size,
               model_fingerprint, knob_0=None, knob_1=None):
        knobs = named(decoder_knobs, knob_0, knob_1)
        checks = [check_model(model_fingerprint), check_size(image_size)]
        with tf.control_dependencies(checks):
            # Decoding reads the size only once the checks have passed
            # (a control edge on the inlined call alone does not order it
            # before the entropy model's own assertions).
            image_size = tf.identity(image_size)
        image = codec.decompress(latent_bytes, side_latent_bytes,
                                 image_size, **knobs)
        return {"image": image}

    @tf.function(input_signature=[latent_spec, side_spec, size_spec,
                                  fingerprint_spec] +
                                 knob_specs(decoder_knobs))
    def decode_stock(latent_symbols, side_latent_symbols, image_size,
                     model_fingerprint, knob_0=None, knob_1=None):
        knobs = named(decoder_knobs, knob_0, knob_1)
        checks = [check_model(model_fingerprint)] + check_symbols(
            image_size, side_latent_symbols, latent_symbols)
        with tf.control_dependencies(checks):
            y_hat = entropy.latents(side_latent_symbols[None],
                                    latent_symbols[None],
                                    codec.latent_size(image_size))
            return {"image": codec.synthesize(y_hat, image_size, **knobs)}

    if entropy.autoregressive:
        # Slice k's tables depend on the symbols of the slices before it:
        # the client decodes slice by slice, calling this once per slice.
        @tf.function(input_signature=[side_spec, latent_spec, size_spec])
        def decode_stock_scale_indexes(side_latent_symbols, latent_symbols,
                                       image_size):
            with tf.control_dependencies(check_symbols(
                    image_size, side_latent_symbols, latent_symbols)):
                indexes = entropy.scale_indexes(
                    side_latent_symbols[None], latent_symbols[None],
                    codec.latent_size(image_size))
                return {"latent_scale_indexes": indexes[0]}
    else:
        @tf.function(input_signature=[side_spec, size_spec])
        def decode_stock_scale_indexes(side_latent_symbols, image_size):
            with tf.control_dependencies(
                    check_symbols(image_size, side_latent_symbols)):
                indexes = entropy.scale_indexes(
                    side_latent_symbols[None], codec.latent_size(image_size))
                return {"latent_scale_indexes": indexes[0]}

    if side == "encoder":
        return {FULL: encode, STOCK: encode_stock}
    return {FULL: decode, STOCK: decode_stock,
            STOCK_SCALES: decode_stock_scale_indexes}


def _weights(codec, side: str) -> list:
    """Every variable one side reads: transforms and range-coding tables."""
    entropy = codec.entropy
    knobs = () if codec.gain is None else (codec.gain,)
    transforms = ((codec.analysis,) + entropy.encoder_transforms() + knobs
                  if side == "encoder" else
                  entropy.decoder_transforms() + (codec.synthesis,) + knobs)
    # The encoder also keeps the side prior's density: not for coding,
    # but so that a Codec rebuilt from an export estimates its rate.
    prior = list(entropy.side_prior.variables) if side == "encoder" else []
    return ([v for t in transforms for v in t.variables] +
            entropy.table_variables() + prior)


def _identity(codec, side: str, fingerprint: str) -> dict:
    """What `assets/tfgancomp.json` holds: the model's name and identity."""
    from tfgancomp import __version__
    return {"format": FORMAT, "version": FORMAT_VERSION, "side": side,
            "model_name": codec.model_name, "model_fingerprint": fingerprint,
            "config": codec.config.to_dict(), "lmbda": codec.lmbda,
            "decodes": [f.hex() for f in codec.decodes],
            "signatures": list(SIGNATURES[side]),
            "tfgancomp_version": __version__}


def models_config(export_dir: str | os.PathLike) -> str:
    """TF Serving's model config for the pair. Every decoder version stays
    served, so that files from older models still decode."""
    base = Path(os.path.abspath(export_dir))
    lines = ["# TF Serving model config written by export/export.py.",
             "model_config_list {"]
    for side in SIDES:
        path = json.dumps(str(base / side), ensure_ascii=False)
        lines += ["  config {", f'    name: "{side}"',
                  f"    base_path: {path}", '    model_platform: "tensorflow"']
        if side == "decoder":
            lines.append("    model_version_policy { all {} }")
        lines.append("  }")
    return "\n".join(lines + ["}", ""])


def export(codec, export_dir: str | os.PathLike, version: int = 1,
           force: bool = False) -> dict[str, Path]:
    """Writes the encoder and decoder SavedModels of a codec that can code.

    Refuses to replace an existing version or a different models.config
    unless `force`. Both sides are written to hidden staging directories
    first, so that version directories appear complete or not at all (TF
    Serving polls for them). Returns the version directories by side.
    """
    if isinstance(version, bool) or not isinstance(version, int) or (
            version < 1):
        raise ModelError(f"version must be a positive integer, "
                         f"got {version!r}")
    if not codec.can_code:
        raise ModelError("fix the range-coding tables before exporting")
    export_dir = Path(export_dir)
    targets = {side: export_dir / side / str(version) for side in SIDES}
    for target in targets.values():
        if (target.exists() or target.is_symlink()) and not force:
            raise ModelError(
                f"{target} already exists (use --force to replace it, or "
                "another --version)")
    config = export_dir / MODELS_CONFIG
    config_text = models_config(export_dir)
    if config.exists() and not force and config.read_text() != config_text:
        raise ModelError(
            f"{config} exists and differs from the config for this export "
            "(use --force to replace it)")
    stages = []
    try:
        staged = {}
        for side, target in targets.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            stages.append(Path(tempfile.mkdtemp(prefix=f".{version}-",
                                                dir=target.parent)))
            staged[side] = _save(codec, side, stages[-1])
        for side, target in targets.items():
            if target.exists() or target.is_symlink():
                _remove(target)
            os.replace(staged[side], target)
    finally:
        for stage in stages:
            shutil.rmtree(stage, ignore_errors=True)
    config.write_text(config_text)
    return targets


def _save(codec, side: str, stage: Path) -> Path:
    """Writes one side's SavedModel into `stage`; returns its directory."""
    import tensorflow as tf
    fingerprint = codec.fingerprint().hex()
    assets = stage / "assets"
    assets.mkdir()
    (assets / IDENTITY).write_text(
        json.dumps(_identity(codec, side, fingerprint), indent=2) + "\n")
    (assets / TABLES).write_text(
        json.dumps(codec.entropy.range_coding_tables()) + "\n")
    module = tf.Module()
    module.weights = _weights(codec, side)
    module.assets = [tf.saved_model.Asset(str(assets / name))
                     for name in (IDENTITY, TABLES)]
    signatures = _signatures(codec, side, fingerprint)
    for name, function in signatures.items():
        setattr(module, name, function)
    tf.saved_model.save(module, str(stage / "saved"), signatures=signatures)
    return stage / "saved"


def _remove(path: Path):
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


