"""What the API, the command and evaluation code with: an in-memory `Codec`
or a loaded export (`deploy.exported.ExportedModel`) alike."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from tfgancomp.errors import ModelError


@runtime_checkable
class CodingModel(Protocol):
    """A model that turns uint8 images [H, W, 3] into two range-coded
    strings and back; its name and fingerprint go into .tfgc headers."""

    model_name: str
    variable_rate: bool  # the encoder takes a quality in [0, 1]
    qualities: int  # the qualities it was trained at, evenly spaced; or 0
    has_realism: bool  # the decoder takes a realism in [0, 1]
    # Fingerprints of earlier models whose files this one reads: they
    # differed from it in the decoder alone (`Codec.reads_files_of`).
    decodes: tuple[bytes, ...]

    def fingerprint(self) -> bytes:
        """8 bytes identifying the model (its config, weights and tables)."""

    def compress(self, image, quality=None) -> tuple:
        """uint8 image [H, W, 3] → (latent string, side-latent string)."""

    def decompress(self, string, side_string, image_size, quality=None,
                   realism=None):
        """(latent string, side-latent string, [H, W]) → uint8 [H, W, 3];
        a knob is given exactly when the model has it."""


def reads(model: CodingModel, fingerprint: bytes) -> bool:
    """Whether files whose header has `fingerprint` decode with `model`."""
    return fingerprint == model.fingerprint() or fingerprint in model.decodes


def listed_fingerprints(description: dict, path: Path) -> tuple[bytes, ...]:
    """The fingerprints a model description lists under "decodes"."""
    listed = description.get("decodes", [])
    try:
        found = tuple(bytes.fromhex(f) for f in listed)
        valid = isinstance(listed, list) and all(len(f) == 8 for f in found)
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise ModelError(f"{path}: invalid \"decodes\" fingerprints")
    return found
