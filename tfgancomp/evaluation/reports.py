"""Evaluation results as JSON, CSV, a text table, an RD plot, and
side-by-side pictures."""

from __future__ import annotations

import csv
import io
import itertools
import json
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from tfgancomp.errors import TfgancompError

RECORD_FIELDS = ("image", "width", "height", "codec", "setting", "bytes",
                 "bpp", "psnr", "ms_ssim", "detail_ratio", "lattice_share",
                 "ratio_vs_raw", "ratio_vs_input_file", "encode_ms",
                 "decode_ms")


def _jsonable(value):
    """Non-finite floats (PSNR of identical images) become None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def to_json(document: dict) -> bytes:
    return (json.dumps(_jsonable(document), indent=1, allow_nan=False)
            + "\n").encode()


def csv_fields(document: dict) -> list[str]:
    """RECORD_FIELDS, then with models a bits_saved_vs_CODEC column per
    classical codec (empty in the codecs' own rows)."""
    extra = []
    if any(not c["classical"] for c in document["codecs"]):
        extra = [f"bits_saved_vs_{c['name']}" for c in document["codecs"]
                 if c["classical"]]
    return list(RECORD_FIELDS) + extra


def to_csv(document: dict) -> bytes:
    """One row per (image, codec, setting)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, csv_fields(document), restval="",
                            extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for record in document["records"]:
        writer.writerow({k: "" if v is None else v
                         for k, v in record.items()})
    return out.getvalue().encode()


def _number(value, digits: int, suffix: str = "") -> str:
    if value is None:
        return "n/a"
    return f"{value:.{digits}f}{suffix}"


def _grid(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in column)
              for column in zip(header, *rows)]
    return "\n".join("  ".join(str(x).ljust(w) for x, w in zip(line, widths))
                     .rstrip() for line in [header, *rows])


def _means_table(rows: list[dict]) -> str:
    set_metrics = any("fid" in r for r in rows)
    header = ["codec", "setting", "images", "bpp", "PSNR", "MS-SSIM",
              "detail", "lattice", "enc ms", "dec ms"] + (
                  ["FID", "KID"] if set_metrics else [])
    lines = []
    for r in rows:
        line = [r["codec"], r["setting"], r["images"], _number(r["bpp"], 4),
                _number(r["psnr"], 2), _number(r["ms_ssim"], 4),
                _number(r["detail_ratio"], 3),
                _number(r["lattice_share"], 2, "%"),
                _number(r["encode_ms"], 1), _number(r["decode_ms"], 1)]
        if set_metrics:
            line += [_number(r.get("fid"), 2), _number(r.get("kid"), 4)]
        lines.append(line)
    return _grid(header, lines)


def shown_table(shown) -> str:
    """One line per model or codec of `showcase.at_one_rate`."""
    header = ["", "setting", "bytes", "bpp", "PSNR", "MS-SSIM", "detail",
              "lattice", "enc ms", "dec ms"]
    rows = []
    for entry in shown:
        r = entry.coded.record
        rows.append([entry.name, entry.setting, r["bytes"],
                     _number(r["bpp"], 4), _number(r["psnr"], 2),
                     _number(r["ms_ssim"], 4), _number(r["detail_ratio"], 3),
                     _number(r["lattice_share"], 2, "%"),
                     _number(r["encode_ms"], 1), _number(r["decode_ms"], 1)])
    return _grid(header, rows)


def _bd_matrix(bd: list[dict], field: str, digits: int, suffix: str) -> str:
    anchors = list(dict.fromkeys(e["anchor"] for e in bd))
    tests = [n for n in dict.fromkeys(anchors + [e["test"] for e in bd])
             if any(e["test"] == n for e in bd)]
    cells = {(e["test"], e["anchor"]): e for e in bd}
    rows = [[test] + [_number(cells[test, a][field], digits, suffix)
                      if (test, a) in cells else "-" for a in anchors]
            for test in tests]
    return _grid(["test \\ anchor"] + anchors, rows)


def _window(document: dict) -> str:
    low, high = document["bd_window_bpp"]
    return f"{low:g}–{high:g} bpp"


def table(document: dict) -> str:
    """The means per codec and setting, the BD matrices, bits saved."""
    parts = [f"{len(document['images'])} images, "
             f"{len(document['records'])} encodings in "
             f"{document['seconds']:.0f} s; means per setting:",
             _means_table(document["means"])]
    bd = document["bd"]
    if bd:
        parts += ["", "BD-rate vs anchor (%; negative = fewer bits at equal "
                  "PSNR), on the mean curves:",
                  _bd_matrix(bd, "bd_rate_percent", 1, "%"), "",
                  f"BD-rate vs anchor (%) within {_window(document)}:",
                  _bd_matrix(bd, "bd_rate_window_percent", 1, "%"), "",
                  "BD-PSNR vs anchor (dB; positive = better):",
                  _bd_matrix(bd, "bd_psnr_db", 2, "")]
        notes = dict.fromkeys(f"{e['test']} vs {e['anchor']}: {e['note']}"
                              for e in bd if e["note"])
        parts += [f"n/a: {note}" for note in notes]
    saved = document["bits_saved"]
    if saved:
        codecs = list(dict.fromkeys(e["codec"] for e in saved))
        models = list(dict.fromkeys(e["model"] for e in saved))
        cells = {(e["model"], e["codec"]): e for e in saved}
        rows = [[m] + [f"{_number(cells[m, c]['percent'], 1, '%')} "
                       f"({cells[m, c]['images_used']}/"
                       f"{cells[m, c]['images_total']})" for c in codecs]
                for m in models]
        parts += ["", "bits saved at equal PSNR (per image: the codec's "
                  "sweep interpolated at our PSNR; averaged over the images "
                  "inside its range):",
                  _grid(["model"] + [f"vs {c}" for c in codecs], rows)]
    elif not any(not c["classical"] for c in document["codecs"]):
        parts += ["", "no models given (--models): classical codecs only"]
    return "\n".join(parts)


def require_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise TfgancompError(
            "--plot needs matplotlib: pip install 'tfgancomp[plot]'") from None


# The learned curves: dark, thick, each its own colour and marker.
LEARNED_STYLES = [dict(color=c, marker=m) for c, m in (
    ("black", "*"), ("tab:purple", "P"), ("tab:brown", "X"),
    ("tab:gray", "D"), ("tab:olive", "^"))]


def rd_plot(document: dict) -> bytes:
    """PNG: mean bpp vs PSNR and vs MS-SSIM, one curve per codec."""
    require_matplotlib()
    from matplotlib.figure import Figure
    figure = Figure(figsize=(12, 5), dpi=110, layout="constrained")
    axes = figure.subplots(1, 2)
    learned = itertools.cycle(LEARNED_STYLES)
    for codec in document["codecs"]:
        rows = sorted((r for r in document["means"]
                       if r["codec"] == codec["name"]), key=lambda r: r["bpp"])
        style = (dict(marker="o", linewidth=1.2) if codec["classical"]
                 else dict(next(learned), markersize=11, linewidth=2.5))
        for ax, field in zip(axes, ("psnr", "ms_ssim")):
            points = [(r["bpp"], r[field]) for r in rows
                      if r[field] is not None and math.isfinite(r[field])]
            if points:
                ax.plot(*zip(*points), label=codec["name"], **style)
    for ax, name in zip(axes, ("PSNR (dB, RGB)", "MS-SSIM")):
        ax.set_xlabel("bits per pixel (file size)")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend()
    figure.suptitle(f"rate-distortion, mean over "
                    f"{len(document['images'])} images")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _centre(pixels: np.ndarray, size: int) -> np.ndarray:
    top = max(0, (pixels.shape[0] - size) // 2)
    left = max(0, (pixels.shape[1] - size) // 2)
    return pixels[top:top + size, left:left + size]


def side_by_side(tiles: list[tuple[list[str], np.ndarray]], crop: int,
                 columns: int = 4) -> bytes:
    """PNG of the centre crops (crop×crop at most) of same-sized images in
    a grid, each with lines of text under it."""
    font = ImageFont.load_default(size=14)
    tiles = [(lines, _centre(pixels, crop)) for lines, pixels in tiles]
    height, width = tiles[0][1].shape[:2]
    text_height = 18 * max(len(lines) for lines, _ in tiles) + 6
    columns = min(columns, len(tiles))
    rows = -(-len(tiles) // columns)
    gap = 6
    canvas = Image.new("RGB", (columns * (width + gap) + gap,
                               rows * (height + text_height + gap) + gap),
                       "white")
    draw = ImageDraw.Draw(canvas)
    for i, (lines, pixels) in enumerate(tiles):
        x = gap + (i % columns) * (width + gap)
        y = gap + (i // columns) * (height + text_height + gap)
        canvas.paste(Image.fromarray(pixels), (x, y))
        for j, line in enumerate(lines):
            draw.text((x + 2, y + height + 3 + 18 * j), line, fill="black",
                      font=font)
    buffer = io.BytesIO()
    canvas.save(buffer, "PNG")
    return buffer.getvalue()
