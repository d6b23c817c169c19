"""Encoder and decoder SavedModels in TF Serving's layout: export and load.

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
                                 -> latent_scale_indexes

`serving_default` does the whole job with tfc's range coder (a custom op).
The `stock` signatures use core TensorFlow ops only and leave entropy
coding to the client: a latent ŷ = latent_symbols + mean (the mean comes
from the side latents), a side latent ẑ = side_latent_symbols + offset;
the range coder codes `symbol - cdf_offset[table]` with table = the scale
index for latents and the channel for side latents, using the tables in
`assets/range_coding_tables.json`. `assets/tfgancomp.json` identifies the
model as .tfgc headers do; the decoders refuse another model's data.

TensorFlow is imported only to export, and when a loaded side is first used.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from tfgancomp import bitstream
from tfgancomp.errors import ModelError
from tfgancomp.files import read_description

FORMAT = "tfgancomp-export"
FORMAT_VERSION = 1
SIDES = ("encoder", "decoder")
IDENTITY = "tfgancomp.json"
TABLES = "range_coding_tables.json"
MODELS_CONFIG = "models.config"
SAVED_MODEL = "saved_model.pb"
FULL, STOCK, STOCK_SCALES = "serving_default", "stock", "stock_scale_indexes"
SIGNATURES = {"encoder": (FULL, STOCK), "decoder": (FULL, STOCK, STOCK_SCALES)}


# Exporting.

def _signatures(codec, side: str, fingerprint: str) -> dict:
    """The tf.functions of one side, by signature name.

    The full signatures call the codec's own `compress`/`decompress`; the
    stock ones stop at, or start from, the integer symbols around the
    range coder and reproduce exactly what it does with them.
    """
    import tensorflow as tf

    from tfgancomp.codec import _ceil_div
    c, dtype = codec.config, codec.compute_dtype

    def spec(shape, dtype, name):
        return tf.TensorSpec(shape, dtype, name=name)

    image_spec = spec([None, None, 3], tf.uint8, "image")
    size_spec = spec([2], tf.int32, "image_size")
    fingerprint_spec = spec([], tf.string, "model_fingerprint")
    latent_spec = spec([None, None, c.latent_channels], tf.int32,
                       "latent_symbols")
    side_spec = spec([None, None, c.hyper_channels], tf.int32,
                     "side_latent_symbols")

    def fingerprint_constant():
        return tf.constant(fingerprint, name="model_fingerprint")

    def check_model(model_fingerprint):
        return tf.debugging.Assert(
            tf.equal(model_fingerprint, fingerprint),
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

    def side_latents(side_latent_symbols):
        offset = codec.side_entropy_model.quantization_offset
        return tf.cast(side_latent_symbols, dtype)[None] + offset

    def scale_indexes(scale_index):
        return tf.cast(tf.clip_by_value(scale_index, 0, c.num_scales - 1),
                       tf.int32)[0]

    def sizes(image_size):
        return (_ceil_div(image_size, c.latent_stride),
                _ceil_div(image_size, c.hyper_stride))

    @tf.function(input_signature=[image_spec])
    def encode(image):
        string, side_string = codec.compress(image)
        return {"latent_bytes": string, "side_latent_bytes": side_string,
                "image_size": tf.shape(image)[:2],
                "model_fingerprint": fingerprint_constant()}

    @tf.function(input_signature=[image_spec])
    def encode_stock(image):
        y, z = codec._encode(tf.cast(image, dtype)[None] / 255.)
        offset = codec.side_entropy_model.quantization_offset
        side_symbols = tf.round(z - offset)
        mean, scale_index = codec._prior_parameters(
            side_symbols + offset, tf.shape(y)[1:3], discrete=True)
        return {"latent_symbols": tf.cast(tf.round(y - mean), tf.int32)[0],
                "latent_scale_indexes": scale_indexes(scale_index),
                "side_latent_symbols": tf.cast(side_symbols, tf.int32)[0],
                "image_size": tf.shape(image)[:2],
                "model_fingerprint": fingerprint_constant()}

    @tf.function(input_signature=[
        spec([], tf.string, "latent_bytes"),
        spec([], tf.string, "side_latent_bytes"), size_spec,
        fingerprint_spec])
    def decode(latent_bytes, side_latent_bytes, image_size,
               model_fingerprint):
        checks = [check_model(model_fingerprint), check_size(image_size)]
        with tf.control_dependencies(checks):
            image = codec.decompress(latent_bytes, side_latent_bytes,
                                     image_size)
        return {"image": image}

    @tf.function(input_signature=[latent_spec, side_spec, size_spec,
                                  fingerprint_spec])
    def decode_stock(latent_symbols, side_latent_symbols, image_size,
                     model_fingerprint):
        latent_size, side_size = sizes(image_size)
        checks = [check_model(model_fingerprint), check_size(image_size),
                  check_shape(side_latent_symbols, side_size,
                              c.hyper_channels, "side_latent_symbols"),
                  check_shape(latent_symbols, latent_size,
                              c.latent_channels, "latent_symbols")]
        with tf.control_dependencies(checks):
            mean, _ = codec._prior_parameters(
                side_latents(side_latent_symbols), latent_size,
                discrete=True)
            y_hat = tf.cast(latent_symbols, dtype)[None] + mean
            x_hat = codec.synthesis(y_hat)[
                0, :image_size[0], :image_size[1], :]
            image = tf.saturate_cast(tf.round(x_hat * 255.), tf.uint8)
        return {"image": image}

    @tf.function(input_signature=[side_spec, size_spec])
    def decode_stock_scale_indexes(side_latent_symbols, image_size):
        latent_size, side_size = sizes(image_size)
        checks = [check_size(image_size),
                  check_shape(side_latent_symbols, side_size,
                              c.hyper_channels, "side_latent_symbols")]
        with tf.control_dependencies(checks):
            _, scale_index = codec._prior_parameters(
                side_latents(side_latent_symbols), latent_size,
                discrete=True)
            return {"latent_scale_indexes": scale_indexes(scale_index)}

    if side == "encoder":
        return {FULL: encode, STOCK: encode_stock}
    return {FULL: decode, STOCK: decode_stock,
            STOCK_SCALES: decode_stock_scale_indexes}


def _weights(codec, side: str) -> list:
    """Every variable one side reads: transforms and range-coding tables."""
    transforms = ((codec.analysis, codec.hyper_analysis,
                   codec.hyper_synthesis) if side == "encoder" else
                  (codec.hyper_synthesis, codec.synthesis))
    return ([v for t in transforms for v in t.variables] +
            list(codec.entropy_model.variables) +
            list(codec.side_entropy_model.variables))


def _identity(codec, side: str, fingerprint: str) -> dict:
    """What `assets/tfgancomp.json` holds: the model's name and identity."""
    from tfgancomp import __version__
    return {"format": FORMAT, "version": FORMAT_VERSION, "side": side,
            "model_name": codec.model_name, "model_fingerprint": fingerprint,
            "config": codec.config.to_dict(),
            "signatures": list(SIGNATURES[side]),
            "tfgancomp_version": __version__}


def range_coding_tables(codec) -> dict:
    """The range coder's tables, for clients that code stock outputs."""
    main, side = codec.entropy_model, codec.side_entropy_model

    def ints(tensor):
        return [int(v) for v in tensor.numpy()]

    return {
        "range_coder": "tensorflow_compression 2.14 range coder",
        "precision": int(main.range_coder_precision),
        "latent": {"cdf": ints(main.cdf), "cdf_offset": ints(main.cdf_offset),
                   "table": "latent_scale_indexes"},
        "side_latent": {"cdf": ints(side.cdf),
                        "cdf_offset": ints(side.cdf_offset),
                        "table": "channel (last axis)"},
    }


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
    (assets / TABLES).write_text(json.dumps(range_coding_tables(codec)) + "\n")
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


# Loading.

def _is_version(name: str) -> bool:
    return name.isdigit()


def _latest_version(side_dir: Path) -> Path:
    versions = [p for p in side_dir.iterdir()
                if p.is_dir() and _is_version(p.name)]
    if not versions:
        raise ModelError(f"{side_dir} holds no version directory (such as "
                         f"{side_dir / '1'})")
    return max(versions, key=lambda p: int(p.name))


def find_export(path: str | os.PathLike) -> dict[str, Path] | None:
    """The SavedModel directories at `path` by side, or None if `path` is
    not an export: a version directory, an `encoder`/`decoder` directory
    (its highest version) or their parent."""
    path = Path(path)
    if (path / SAVED_MODEL).exists() or (path / "assets" / IDENTITY).exists():
        side = _read_identity(path)["side"]
        return {side: path}
    if _is_version(path.name) and path.parent.name in SIDES:
        return {path.parent.name: path}
    if path.name in SIDES:
        return {path.name: _latest_version(path)}
    found = {side: _latest_version(path / side) for side in SIDES
             if (path / side).is_dir()}
    return found or None


def _read_identity(version_dir: Path) -> dict:
    if not (version_dir / SAVED_MODEL).is_file():
        raise ModelError(f"{version_dir} holds no SavedModel (no "
                         f"{SAVED_MODEL}): an unfinished or foreign export?")
    path = version_dir / "assets" / IDENTITY
    identity = read_description(
        path, FORMAT, FORMAT_VERSION,
        f"{version_dir} is not a tfgancomp export: no assets/{IDENTITY}")
    try:
        fingerprint = bytes.fromhex(identity["model_fingerprint"])
        ok = (identity["side"] in SIDES and len(fingerprint) == 8 and
              isinstance(identity["model_name"], str))
    except (KeyError, TypeError, ValueError):
        ok = False
    if not ok:
        raise ModelError(f"{path}: invalid side, model name or fingerprint")
    return identity


def load_export(path: str | os.PathLike) -> ExportedModel:
    """Loads the encoder, the decoder or both from an export directory."""
    found = find_export(path)
    if found is None:
        raise ModelError(f"{path} is not an export directory (no encoder/ "
                         "or decoder/ SavedModels)")
    identities = {}
    for side, directory in found.items():
        identities[side] = _read_identity(directory)
        if identities[side]["side"] != side:
            raise ModelError(f"{directory} holds a {identities[side]['side']}"
                             f", not a {side}")
    models = {(i["model_name"], i["model_fingerprint"])
              for i in identities.values()}
    if len(models) > 1:
        described = ", ".join(
            f"{side} {found[side]}: '{i['model_name']}' "
            f"({i['model_fingerprint']})" for side, i in identities.items())
        raise ModelError(f"encoder and decoder are different models: "
                         f"{described}")
    (name, fingerprint), = models
    return ExportedModel(name, bytes.fromhex(fingerprint), found)


def _load_saved_model(directory: Path):
    import tensorflow as tf
    import tensorflow_compression  # noqa: F401  registers the range coder
    try:
        return tf.saved_model.load(str(directory))
    except (tf.errors.OpError, ValueError, KeyError, OSError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else e
        raise ModelError(f"cannot load {directory}: {first}") from None


class ExportedModel:
    """Exported encoder and/or decoder, used like a `Codec` by the Python API
    and the command. Each SavedModel loads on first use: compressing needs
    only the encoder."""

    def __init__(self, model_name: str, fingerprint: bytes,
                 directories: dict[str, Path]):
        self.model_name = model_name
        self.directories = directories
        self._fingerprint = fingerprint
        self._loaded = {}

    def fingerprint(self) -> bytes:
        return self._fingerprint

    def signature(self, side: str, name: str = FULL):
        """A signature function of one side; ModelError if it is absent."""
        if side not in self.directories:
            (other, directory), = self.directories.items()
            task = "compressing" if side == "encoder" else "decompressing"
            raise ModelError(
                f"{directory} holds only the {other} of model "
                f"'{self.model_name}': {task} needs its {side} (pass the "
                f"export directory that holds both)")
        if side not in self._loaded:
            self._loaded[side] = _load_saved_model(self.directories[side])
        signatures = self._loaded[side].signatures
        if name not in signatures:
            raise ModelError(f"{self.directories[side]} has no signature "
                             f"'{name}'")
        return signatures[name]

    def compress(self, image):
        """uint8 image [H, W, 3] -> (latent string, side-latent string)."""
        import tensorflow as tf
        outputs = self.signature("encoder")(
            image=tf.convert_to_tensor(image, tf.uint8))
        return outputs["latent_bytes"], outputs["side_latent_bytes"]

    def decompress(self, string, side_string, image_size):
        """(latent string, side-latent string, [H, W]) -> uint8 [H, W, 3]."""
        import tensorflow as tf
        outputs = self.signature("decoder")(
            latent_bytes=tf.convert_to_tensor(string, tf.string),
            side_latent_bytes=tf.convert_to_tensor(side_string, tf.string),
            image_size=tf.convert_to_tensor(image_size, tf.int32),
            model_fingerprint=tf.constant(self._fingerprint.hex()))
        return outputs["image"]
