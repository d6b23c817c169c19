"""One image, every model and classical codec at one rate (or a
variable-rate model at several): the files to write, the measures and the
side-by-side picture (`compare-codecs`, `demo`)."""

from __future__ import annotations

import dataclasses
import io
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image

from tfgancomp.evaluation import classical, reports, runs

# The qualities `demo` shows a variable-rate model at: low, default, high.
DEMO_QUALITIES = (0.1, 0.3, 0.6)


class Shown(NamedTuple):
    """A model's or a codec's take on one image, for a side-by-side view."""
    name: str  # the model's name as given, or the codec's
    setting: str
    coded: runs.Coded


def at_one_rate(original: np.ndarray, input_bytes: int,
                models: dict[str, runs.Setting],
                codecs: list[classical.ClassicalCodec],
                bpp: float | None = None) -> list[Shown]:
    """Every model setting (a dict: name shown -> `runs.model_setting`) on
    `original`, then every codec at the knob value closest to `bpp`, by
    default to the first model's rate. Each is run untimed once first, and
    settings share files, as in `runs.run`."""
    shown, files = [], {}
    for name, setting in models.items():
        shown.append(Shown(name, setting.label, runs.measured(
            original, setting, input_bytes, files, True)))
    if bpp is None:
        bpp = shown[0].coded.record["bpp"]
    for codec in codecs:
        value, _ = classical.encode_at_bpp(codec, original, bpp)
        setting = runs.codec_curve(codec, [value]).settings[0]
        shown.append(Shown(codec.name, setting.label, runs.measured(
            original, setting, input_bytes, files, True)))
    return shown


@dataclasses.dataclass
class Showcase:
    """What `show` or `show_rates` measured and drew, as rows of one rate:
    (target bpp, [Shown], models first); `files` are (path, bytes)
    pairs."""
    rows: list[tuple[float, list]]
    picture: bytes
    files: list[tuple[Path, bytes]]

    @property
    def shown(self) -> list:
        return [entry for _, row in self.rows for entry in row]

    def off_target(self, tolerance: float = 0.05) -> list[tuple[str, float]]:
        """(codec, target bpp) of each codec whose nearest setting misses
        its row's rate."""
        return [(entry.name, target) for target, row in self.rows
                for entry in row
                if not entry.setting.startswith("model=")
                and not math.isclose(entry.coded.record["bpp"], target,
                                     rel_tol=tolerance)]


def planned_files(image, model_names, codecs, directory) -> list[Path]:
    """The coded file and decoded PNG of each model and codec, in order:
    known before the slow part, so that they can be checked first."""
    stem = Path(image).stem
    entries = ([(Path(m).name, ".tfgc") for m in model_names] +
               [(c.name, c.extension) for c in codecs])
    return [Path(directory) / f"{stem}.{name}{suffix}"
            for name, extension in entries for suffix in (extension, ".png")]


def show(original: np.ndarray, input_bytes: int, models: dict, codecs,
         bpp: float | None, crop: int, files: list[Path],
         effort: int = 0) -> Showcase:
    """Every model (encoding at `effort`), then every codec at the first
    model's rate (or `bpp`), on one image; `files` as `planned_files` gave
    them (or empty)."""
    settings = {name: runs.model_setting(name, model, effort)
                for name, model in models.items()}
    shown = at_one_rate(original, input_bytes, settings, codecs, bpp)
    target = bpp if bpp is not None else shown[0].coded.record["bpp"]
    contents = [content for entry in shown for content in
                (entry.coded.data, _png(entry.coded.decoded))]
    return Showcase([(target, shown)], reports.side_by_side(
        _tiles(original, shown), crop), list(zip(files, contents)))


def _tiles(original, shown) -> list:
    height, width = original.shape[:2]
    return [(["original", f"{width}x{height}"], original)] + [
        ([e.name, f"{e.coded.record['bpp']:.3f} bpp, "
                  f"{e.coded.record['psnr']:.2f} dB"], e.coded.decoded)
        for e in shown]


def planned_rate_files(image, name: str, model, codecs, directory,
                       qualities=DEMO_QUALITIES) -> list[Path]:
    """The files of `show_rates`, in order: per quality the model's file
    and its PNG at each realism, then each codec's file and PNG."""
    stem, name = Path(image).stem, Path(name).name
    paths = []
    for quality in qualities:
        tag = f"q{quality:g}"
        paths.append(f"{stem}.{name}.{tag}.tfgc")
        paths += [f"{stem}.{name}.{tag}" +
                  ("" if r is None else f".r{r:g}") + ".png"
                  for r in runs.realism_values(model)]
        paths += [f"{stem}.{c.name}.{tag}{suffix}" for c in codecs
                  for suffix in (c.extension, ".png")]
    return [Path(directory) / path for path in paths]


def show_rates(original: np.ndarray, input_bytes: int, name: str, model,
               codecs, crop: int, files: list[Path], effort: int = 0,
               qualities=DEMO_QUALITIES) -> Showcase:
    """A variable-rate model at each of `qualities` (encoding at
    `effort`), each file decoded at realism 0 and 1 where the model has
    that knob, and every codec at that file's rate: one row of the picture
    per quality. `files` as `planned_rate_files` gave them (or empty)."""
    rows, tiles, contents = [], [], []
    for quality in qualities:
        settings = {
            name if r is None else f"{name} r={r:g}":
                runs.model_setting(name, model, effort, quality, r)
            for r in runs.realism_values(model)}
        row = at_one_rate(original, input_bytes, settings, codecs)
        models = row[:len(settings)]
        contents += [models[0].coded.data] + [
            _png(e.coded.decoded) for e in models]
        contents += [content for entry in row[len(settings):]
                     for content in (entry.coded.data,
                                     _png(entry.coded.decoded))]
        rows.append((models[0].coded.record["bpp"], row))
        tiles += _tiles(original, row)
    picture = reports.side_by_side(tiles, crop, columns=len(tiles)
                                   // len(qualities))
    return Showcase(rows, picture, list(zip(files, contents)))


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()
