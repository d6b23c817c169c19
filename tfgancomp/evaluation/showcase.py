"""One image, every model and classical codec at one rate: the files to
write, the measures and the side-by-side picture (`compare-codecs`,
`demo`)."""

from __future__ import annotations

import dataclasses
import io
import math
from pathlib import Path

import numpy as np
from PIL import Image

from tfgancomp.evaluation import reports, runs


@dataclasses.dataclass
class Showcase:
    """What `show` measured and drew; `files` are (path, bytes) pairs."""
    shown: list  # runs.Shown, models first
    target_bpp: float
    picture: bytes
    files: list[tuple[Path, bytes]]

    def off_target(self, tolerance: float = 0.05) -> list[str]:
        """The codecs whose nearest setting misses the target rate."""
        return [entry.name for entry in self.shown
                if not entry.setting.startswith("model=")
                and not math.isclose(entry.coded.record["bpp"],
                                     self.target_bpp, rel_tol=tolerance)]


def planned_files(image, model_names, codecs, directory) -> list[Path]:
    """The coded file and decoded PNG of each model and codec, in order:
    known before the slow part, so that they can be checked first."""
    stem = Path(image).stem
    entries = ([(Path(m).name, ".tfgc") for m in model_names] +
               [(c.name, c.extension) for c in codecs])
    return [Path(directory) / f"{stem}.{name}{suffix}"
            for name, extension in entries for suffix in (extension, ".png")]


def show(original: np.ndarray, input_bytes: int, models: dict, codecs,
         bpp: float | None, crop: int, files: list[Path]) -> Showcase:
    """Every model, then every codec at the first model's rate (or `bpp`),
    on one image; `files` as `planned_files` gave them (or empty)."""
    shown = runs.at_one_rate(original, input_bytes, models, codecs, bpp)
    target = bpp if bpp is not None else shown[0].coded.record["bpp"]
    height, width = original.shape[:2]
    tiles = [(["original", f"{width}x{height}"], original)] + [
        ([e.name, f"{e.coded.record['bpp']:.3f} bpp, "
                  f"{e.coded.record['psnr']:.2f} dB"], e.coded.decoded)
        for e in shown]
    contents = [content for entry in shown for content in
                (entry.coded.data, _png(entry.coded.decoded))]
    return Showcase(shown, target, reports.side_by_side(tiles, crop),
                    list(zip(files, contents)))


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()
