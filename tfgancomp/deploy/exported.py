"""Loading exported encoder and decoder SavedModels (see savedmodel.py).

TensorFlow is imported only when a loaded side is first used.
"""

from __future__ import annotations

import os
from pathlib import Path

from tfgancomp.deploy.layout import IDENTITY, SAVED_MODEL, SIDES
from tfgancomp.errors import ModelError
from tfgancomp.formats.files import read_description
from tfgancomp.model.protocol import listed_fingerprints

FORMAT = "tfgancomp-export"
FORMAT_VERSION = 1
FULL, STOCK, STOCK_SCALES = "serving_default", "stock", "stock_scale_indexes"

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
    identity = next(iter(identities.values()))
    return ExportedModel(name, bytes.fromhex(fingerprint), found,
                         identity.get("config"), identity.get("lmbda"),
                         listed_fingerprints(identity,
                                             found[identity["side"]]))


def _load_saved_model(directory: Path):
    import tensorflow as tf
    import tensorflow_compression  # noqa: F401  registers the range coder
    try:
        return tf.saved_model.load(str(directory))
    except (tf.errors.OpError, ValueError, KeyError, OSError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else e
        raise ModelError(f"cannot load {directory}: {first}") from None


class ExportedModel:
    """Exported encoder and/or decoder: a `CodingModel` like the in-memory
    `Codec`. Each SavedModel loads on first use: compressing needs only the
    encoder."""

    def __init__(self, model_name: str, fingerprint: bytes,
                 directories: dict[str, Path], config: dict,
                 lmbda: float | None = None,
                 decodes: tuple[bytes, ...] = ()):
        self.model_name = model_name
        self.directories = directories
        self.config = config  # the ModelConfig's values
        # The rate-distortion weight it was trained at (for a variable-rate
        # model, the weights at qualities 0 and 1).
        self.lmbda = lmbda
        self.decodes = decodes  # see protocol.CodingModel
        self._fingerprint = fingerprint
        self._loaded = {}
        self._codec = self._decoding_codec = None
        self._estimates = False

    def codec(self, estimates: bool = True, decoding: bool = False):
        """The in-memory `Codec` of these weights, built once: what tiled
        coding runs, and what encoder-side refinement differentiates (with
        bit `estimates`, which need the side prior's density). For
        `decoding` alone only the decoder is read (an export may hold
        just that side); otherwise both sides are needed."""
        from tfgancomp.deploy.warm_start import (
            codec_of_export,
            restore_side_prior,
        )
        if decoding:
            if self._codec is None and self._decoding_codec is None:
                self._decoding_codec = codec_of_export(
                    self, estimates=False, sides=("decoder",))
            return self._codec or self._decoding_codec
        if self._codec is None:
            self._codec = codec_of_export(self, estimates=False)
            self._decoding_codec = None
        if estimates and not self._estimates:
            restore_side_prior(self._codec, self)
            self._estimates = True
        return self._codec

    def variables(self, sides=None) -> dict:
        """The variables of the given sides (default: every side
        present), by name."""
        return {v.name: v for side in sides or self.directories
                for v in self._saved_model(side).weights}

    def _saved_model(self, side: str):
        if side not in self._loaded:
            self._loaded[side] = _load_saved_model(self.directories[side])
        return self._loaded[side]

    def fingerprint(self) -> bytes:
        return self._fingerprint

    @property
    def qualities(self) -> int:
        return self.config.get("qualities", 0)

    @property
    def variable_rate(self) -> bool:
        return self.qualities > 0

    @property
    def has_realism(self) -> bool:
        return bool(self.config.get("realism", False))

    def _knobs(self, **knobs) -> dict:
        """The signature inputs of the knobs this model has; ValueError
        for a missing knob or one it lacks, as `Codec` raises."""
        import tensorflow as tf

        from tfgancomp.model.conditioning import check_knob
        present = {"quality": self.variable_rate,
                   "realism": self.has_realism}
        inputs = {}
        for name, value in knobs.items():
            check_knob(name, value, present[name])
            if value is not None:
                inputs[name] = tf.convert_to_tensor(value, tf.float32)
        return inputs

    def signature(self, side: str, name: str = FULL):
        """A signature function of one side; ModelError if it is absent."""
        if side not in self.directories:
            (other, directory), = self.directories.items()
            task = "compressing" if side == "encoder" else "decompressing"
            raise ModelError(
                f"{directory} holds only the {other} of model "
                f"'{self.model_name}': {task} needs its {side} (pass the "
                f"export directory that holds both)")
        signatures = self._saved_model(side).signatures
        if name not in signatures:
            raise ModelError(f"{self.directories[side]} has no signature "
                             f"'{name}'")
        return signatures[name]

    def compress(self, image, quality=None):
        """uint8 image [H, W, 3] -> (latent string, side-latent string)."""
        import tensorflow as tf
        outputs = self.signature("encoder")(
            image=tf.convert_to_tensor(image, tf.uint8),
            **self._knobs(quality=quality))
        return outputs["latent_bytes"], outputs["side_latent_bytes"]

    def decompress(self, string, side_string, image_size, quality=None,
                   realism=None):
        """(latent string, side-latent string, [H, W]) -> uint8 [H, W, 3]."""
        import tensorflow as tf
        outputs = self.signature("decoder")(
            **self._knobs(quality=quality, realism=realism),
            latent_bytes=tf.convert_to_tensor(string, tf.string),
            side_latent_bytes=tf.convert_to_tensor(side_string, tf.string),
            image_size=tf.convert_to_tensor(image_size, tf.int32),
            model_fingerprint=tf.constant(self._fingerprint.hex()))
        return outputs["image"]
