"""What the API, the command and evaluation code with: an in-memory `Codec`
or a loaded export (`deploy.exported.ExportedModel`) alike."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class CodingModel(Protocol):
    """A model that turns uint8 images [H, W, 3] into two range-coded
    strings and back; its name and fingerprint go into .tfgc headers."""

    model_name: str

    def fingerprint(self) -> bytes:
        """8 bytes identifying the model (its config, weights and tables)."""

    def compress(self, image) -> tuple:
        """uint8 image [H, W, 3] → (latent string, side-latent string)."""

    def decompress(self, string, side_string, image_size):
        """(latent string, side-latent string, [H, W]) → uint8 [H, W, 3]."""
