"""What the API, the command and evaluation code with: an in-memory `Codec`
or a loaded export (`deploy.exported.ExportedModel`) alike."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class CodingModel(Protocol):
    """A model that turns uint8 images [H, W, 3] into two range-coded
    strings and back; its name and fingerprint go into .tfgc headers."""

    model_name: str
    variable_rate: bool  # the encoder takes a quality in [0, 1]
    has_realism: bool  # the decoder takes a realism in [0, 1]

    def fingerprint(self) -> bytes:
        """8 bytes identifying the model (its config, weights and tables)."""

    def compress(self, image, quality=None) -> tuple:
        """uint8 image [H, W, 3] → (latent string, side-latent string)."""

    def decompress(self, string, side_string, image_size, quality=None,
                   realism=None):
        """(latent string, side-latent string, [H, W]) → uint8 [H, W, 3];
        a knob is given exactly when the model has it."""
