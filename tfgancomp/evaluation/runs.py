"""Rate-distortion evaluation of our models against classical codecs.

Every image is encoded and decoded for real at every setting of every
codec, and by every model; `run` measures each (image, codec, setting),
`summarize` averages them per setting and compares the curves: BD-rate and
BD-PSNR (tfgancomp.bjontegaard) on the mean curves, and the bits our models
save per image at equal PSNR.
"""

from __future__ import annotations

import dataclasses
import glob
import time
from pathlib import Path
from typing import Callable, Hashable, NamedTuple

import numpy as np
from PIL import Image

from tfgancomp.errors import TfgancompError
from tfgancomp.evaluation import bjontegaard, classical, metrics
from tfgancomp.formats.image_io import read_image

MODEL_CURVE = "tfgancomp"


@dataclasses.dataclass
class Setting:
    label: str  # "quality=50", "model=runs/a"
    encode: Callable[[np.ndarray], bytes]
    decode: Callable[[bytes], np.ndarray]
    # Settings with the same key write the same files (a model at one
    # quality and effort, decoded at several realisms): `run` encodes
    # each image once per key, and each setting reports that encoding.
    encode_key: Hashable | None = None


class Coded(NamedTuple):
    """One real encoding and decoding: its measures, file and pixels."""
    record: dict
    data: bytes
    decoded: np.ndarray


@dataclasses.dataclass
class Curve:
    name: str
    description: str
    classical: bool
    settings: list[Setting]


def codec_curve(codec: classical.ClassicalCodec, sweep=None) -> Curve:
    """A classical codec over its default sweep or `sweep`."""
    return Curve(codec.name, codec.description, True, [
        Setting(codec.setting(value),
                lambda rgb, v=value: classical.encode(codec, rgb, v),
                lambda data: classical.decode(codec, data))
        for value in (sweep or codec.sweep)])


def model_setting(label: str, model, effort: int = 0,
                  quality: float | None = None,
                  realism: float | None = None) -> Setting:
    """A model at one encoder effort (`effort` above 0 refines the latents
    of each image) and at the knobs given (the model's defaults for the
    others); its label says which, as in "model=NAME@q0.3,r1+effort1"."""
    from tfgancomp.api import compress, decompress
    knobs = ",".join(f"{key}{value:g}" for key, value in
                     (("q", quality), ("r", realism)) if value is not None)
    label += f"@{knobs}" if knobs else ""
    label += f"+effort{effort}" if effort else ""
    return Setting(f"model={label}",
                   lambda rgb: compress(rgb, model, effort, quality=quality),
                   lambda data: np.asarray(decompress(
                       data, model, realism=realism).convert("RGB")),
                   ("model", id(model), effort, quality))


def realism_values(model, realisms=(0., 1.)) -> tuple:
    """The realisms to show `model` at: None for a model without that
    knob."""
    return realisms if model.has_realism else (None,)


def trained_qualities(model) -> tuple[float, ...]:
    """The qualities a variable-rate model was trained at, k/(Q − 1): its
    own operating points (between them its gains are interpolated), so
    two versions trained on the same λs are compared at the same λs."""
    return tuple(k / (model.qualities - 1) for k in range(model.qualities))


def model_curves(models: dict, effort: int = 0, qualities=None,
                 realisms=(0., 1.)) -> list[Curve]:
    """Our models as curves: the fixed-rate ones one point each on one
    curve (named after the model when there is one); each variable-rate
    model swept over `qualities` (default: its trained ones), a curve of
    its own per value of `realisms` where it has that knob."""
    fixed_rate = [label for label, m in models.items() if not m.variable_rate]
    fixed = [model_setting(label, models[label], effort, realism=r)
             for label in fixed_rate
             for r in realism_values(models[label], realisms)]
    name = fixed_rate[0] if len(fixed_rate) == 1 else MODEL_CURVE
    curves = [Curve(name, "tfgancomp models, one point each", False,
                    fixed)] if fixed else []
    for label, model in models.items():
        if not model.variable_rate:
            continue
        sweep = qualities or trained_qualities(model)
        for realism in realism_values(model, realisms):
            name = label if realism is None else f"{label} r={realism:g}"
            curves.append(Curve(
                name, f"{label} at {len(sweep)} qualities", False,
                [model_setting(label, model, effort, q, realism)
                 for q in sweep]))
    return curves


def find_images(spec: str) -> list[Path]:
    """The image files of a directory (not recursive), or of a glob."""
    if Path(spec).is_dir():
        extensions = {e for e, f in Image.registered_extensions().items()
                      if f in Image.OPEN}
        paths = [p for p in sorted(Path(spec).iterdir())
                 if p.is_file() and p.suffix.lower() in extensions]
        if not paths:
            raise TfgancompError(f"no image files in directory {spec}")
        return paths
    paths = [Path(p) for p in sorted(glob.glob(spec, recursive=True))
             if Path(p).is_file()]
    if not paths:
        raise TfgancompError(
            f"no such directory, and no files match: {spec}")
    return paths


def measure(original: np.ndarray, setting: Setting, input_bytes: int,
            encoded: tuple[bytes, float] | None = None) -> Coded:
    """One real encoding and decoding, or the decoding of `encoded` (the
    file and its encode milliseconds, from a setting of the same key).
    Milliseconds are wall-clock around the in-memory encode and decode."""
    if encoded is None:
        start = time.perf_counter()
        data = setting.encode(original)
        encoded = data, 1000 * (time.perf_counter() - start)
    data, encode_ms = encoded
    start = time.perf_counter()
    decoded = setting.decode(data)
    decode_ms = 1000 * (time.perf_counter() - start)
    height, width = original.shape[:2]
    size = len(data)
    return Coded({
        "bytes": size,
        "bpp": metrics.bits_per_pixel(size, height, width),
        "psnr": metrics.psnr(original, decoded),
        "ms_ssim": metrics.ms_ssim(original, decoded),
        "detail_ratio": metrics.detail_ratio(original, decoded),
        "lattice_share": metrics.lattice_share(decoded),
        "ratio_vs_raw": metrics.compression_ratio(size, height, width),
        "ratio_vs_input_file": input_bytes / size,
        "encode_ms": encode_ms,
        "decode_ms": decode_ms,
    }, data, decoded)


def measured(original: np.ndarray, setting: Setting, input_bytes: int,
             files: dict, warm: bool) -> Coded:
    """`measure`, with the file of an earlier setting of the same
    `encode_key` if `files` (key -> (file, encode ms), for this image)
    has it; `warm`: run once untimed first."""
    shared = files.get(setting.encode_key)
    if warm:
        setting.decode(shared[0] if shared else setting.encode(original))
    coded = measure(original, setting, input_bytes, shared)
    if setting.encode_key is not None:
        files[setting.encode_key] = coded.data, coded.record["encode_ms"]
    return coded


@dataclasses.dataclass
class Results:
    images: list[str]
    curves: list[Curve]
    records: list[dict]
    set_metrics: dict  # (codec, setting) -> {"fid": .., "kid": ..}
    seconds: float


class _PatchFeatures:
    """Inception features of original and reconstructed patches, per
    setting, for FID and KID at the end."""

    def __init__(self, inception: metrics.InceptionFeatures, size: int):
        self.inception, self.size = inception, size
        self.originals, self.reconstructions = [], {}

    def _features(self, rgb):
        return self.inception(metrics.image_patches(rgb, self.size))

    def add_original(self, rgb):
        self.originals.append(self._features(rgb))

    def add_reconstruction(self, key, rgb):
        self.reconstructions.setdefault(key, []).append(self._features(rgb))

    def results(self) -> dict:
        originals = np.concatenate(self.originals)
        out = {}
        for key, parts in self.reconstructions.items():
            others = np.concatenate(parts)
            enough = len(originals) >= 2 and len(others) >= 2
            out[key] = {"fid": metrics.fid(originals, others) if enough
                        else None,
                        "kid": metrics.kid(originals, others) if enough
                        else None}
        return out


def run(images: list[Path], curves: list[Curve],
        progress: Callable[[int, int], None] | None = None,
        inception: metrics.InceptionFeatures | None = None,
        fid_patch: int = 128) -> Results:
    """Measures every setting of every curve on every image.

    On the first image each setting runs once untimed first, so that
    one-off costs (a model's tracing) stay out of the milliseconds.
    Settings that share an `encode_key` share each image's file.
    """
    start = time.perf_counter()
    total = len(images) * sum(len(c.settings) for c in curves)
    patches = None if inception is None else _PatchFeatures(inception,
                                                            fid_patch)
    records, done = [], 0
    for index, path in enumerate(images):
        original = read_image(path).rgb
        input_bytes = path.stat().st_size
        if patches:
            patches.add_original(original)
        files = {}
        for curve in curves:
            for setting in curve.settings:
                record, _, decoded = measured(original, setting,
                                              input_bytes, files, index == 0)
                records.append({
                    "image": str(path), "width": original.shape[1],
                    "height": original.shape[0], "codec": curve.name,
                    "setting": setting.label, **record})
                if patches:
                    patches.add_reconstruction((curve.name, setting.label),
                                               decoded)
                done += 1
                if progress:
                    progress(done, total)
    return Results([str(p) for p in images], curves, records,
                   patches.results() if patches else {},
                   time.perf_counter() - start)


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


MEAN_FIELDS = ("bpp", "psnr", "ms_ssim", "detail_ratio", "lattice_share",
               "encode_ms", "decode_ms")


def means(results: Results) -> list[dict]:
    """Per (codec, setting): arithmetic means over the images (MS-SSIM over
    those large enough for it), plus FID and KID when measured."""
    rows = []
    for curve in results.curves:
        for setting in curve.settings:
            chosen = [r for r in results.records if r["codec"] == curve.name
                      and r["setting"] == setting.label]
            row = {"codec": curve.name, "setting": setting.label,
                   "images": len(chosen)}
            row.update({f: _mean(r[f] for r in chosen) for f in MEAN_FIELDS})
            row.update(results.set_metrics.get(
                (curve.name, setting.label), {}))
            rows.append(row)
    return rows


def _points(rows, codec):
    return [(r["bpp"], r["psnr"]) for r in rows if r["codec"] == codec]


def bd_table(mean_rows: list[dict], curves: list[Curve],
             window=bjontegaard.BD_WINDOW) -> list[dict]:
    """BD-rate and BD-PSNR of every curve against every classical one, on
    the curves of mean bpp and mean PSNR per setting: over all the rates
    both cover, and (`..._window_...`) over those inside `window` (bpp)."""
    table = []
    for anchor in (c for c in curves if c.classical):
        for test in (c for c in curves if c.name != anchor.name):
            entry = {"test": test.name, "anchor": anchor.name,
                     "bd_rate_percent": None, "bd_psnr_db": None,
                     "bd_rate_window_percent": None,
                     "bd_psnr_window_db": None, "note": None}
            points = (*zip(*_points(mean_rows, anchor.name)),
                      *zip(*_points(mean_rows, test.name)))
            for suffix, cut in (("", None), ("_window", window)):
                try:
                    entry[f"bd_rate{suffix}_percent"] = bjontegaard.bd_rate(
                        *points, window=cut)
                    entry[f"bd_psnr{suffix}_db"] = bjontegaard.bd_psnr(
                        *points, window=cut)
                except bjontegaard.CurveError as e:
                    entry["note"] = entry["note"] or str(e)
            if entry["note"] and len(test.settings) < 2:
                entry["note"] = ("needs 2 or more points (one per "
                                 "model): see bits_saved")
            table.append(entry)
    return table


def _per_image(records, codec):
    """{image: [(bpp, psnr) per setting]} of one codec."""
    sweeps = {}
    for r in records:
        if r["codec"] == codec:
            sweeps.setdefault(r["image"], []).append((r["bpp"], r["psnr"]))
    return sweeps


def bits_saved(results: Results) -> list[dict]:
    """Per model and classical codec, `bits_saved_at_equal_psnr` over the
    images; also sets `bits_saved_vs_CODEC` (percent, per image) in each
    model record."""
    classical = [c.name for c in results.curves if c.classical]
    sweeps = {name: _per_image(results.records, name) for name in classical}
    table = []
    for curve in (c for c in results.curves if not c.classical):
        for setting in curve.settings:
            mine = [r for r in results.records if r["codec"] == curve.name
                    and r["setting"] == setting.label]
            for name in classical:
                anchors = [sweeps[name].get(r["image"], []) for r in mine]
                for record, sweep in zip(mine, anchors):
                    rates, psnrs = zip(*sweep) if sweep else ((), ())
                    rate = bjontegaard.rate_at_psnr(rates, psnrs,
                                                    record["psnr"])
                    record[f"bits_saved_vs_{name}"] = (
                        None if rate is None
                        else 100 * (1 - record["bpp"] / rate))
                saved = bjontegaard.bits_saved_at_equal_psnr(
                    [(r["bpp"], r["psnr"]) for r in mine], anchors)
                table.append({"model": setting.label.split("=", 1)[1],
                              "codec": name,
                              **dataclasses.asdict(saved)})
    return table


def summarize(results: Results, unavailable: dict[str, str],
              window=bjontegaard.BD_WINDOW) -> dict:
    """The whole evaluation as one JSON-ready document; `window` (bpp) is
    the rate window of the windowed BD figures."""
    rows = means(results)
    saved = bits_saved(results)
    return {
        "images": results.images,
        "codecs": [{"name": c.name, "description": c.description,
                    "classical": c.classical,
                    "settings": [s.label for s in c.settings]}
                   for c in results.curves],
        "unavailable": unavailable,
        "records": results.records,
        "means": rows,
        "bd_window_bpp": list(window),
        "bd": bd_table(rows, results.curves, window),
        "bits_saved": saved,
        "seconds": results.seconds,
    }

