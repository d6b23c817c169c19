"""tfgancomp compare: PSNR, SSIM, MS-SSIM (and bpp) of one image against
another."""

from __future__ import annotations

from pathlib import Path

from tfgancomp.cli.common import (
    model_for,
    print_table,
    read_bytes,
)
from tfgancomp.errors import TfgancompError
from tfgancomp.evaluation import metrics
from tfgancomp.formats import bitstream

LOSSY_EXTENSIONS = (".tfgc", ".jpg", ".jpeg", ".webp", ".jp2", ".j2k",
                    ".jpx", ".avif", ".jxl", ".heic")


def add_parsers(commands):
    p = commands.add_parser(
        "compare", help="PSNR, SSIM, MS-SSIM (and bpp) of OTHER vs ORIGINAL")
    p.add_argument("original")
    p.add_argument("other", help="an image file, or a .tfgc file to decode")
    p.add_argument("--model",
                   help="model to decode a .tfgc OTHER (default: the "
                        "shipped model named in the file)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=compare)


def _pixels(path, model):
    """RGB pixels of an image file, decoding .tfgc files with the model."""
    from tfgancomp.formats.image_io import read_image
    if Path(path).suffix.lower() == ".tfgc":
        from tfgancomp.api import decompress_container
        container = bitstream.unpack(read_bytes(path))
        return decompress_container(container,
                                    model_for(container, model)).rgb
    return read_image(path).rgb


def compare(args):
    original = _pixels(args.original, None)
    other = _pixels(args.other, args.model)
    if original.shape != other.shape:
        raise TfgancompError(
            f"images differ in size: {original.shape[1]}x{original.shape[0]} "
            f"vs {other.shape[1]}x{other.shape[0]}")
    height, width = original.shape[:2]
    values = {"psnr": metrics.psnr(original, other),
              "ssim": metrics.ssim(original, other),
              "ms_ssim": metrics.ms_ssim(original, other)}
    if Path(args.other).suffix.lower() in LOSSY_EXTENSIONS:
        size = Path(args.other).stat().st_size
        values["bytes"] = size
        values["bpp"] = metrics.bits_per_pixel(size, height, width)
        values["ratio_vs_raw"] = metrics.compression_ratio(size, height, width)
        values["ratio_vs_original_file"] = (
            Path(args.original).stat().st_size / size)
    if not args.json and values["ms_ssim"] is None:
        values["ms_ssim"] = (f"n/a (needs at least "
                             f"{metrics.ms_ssim_min_side()} px per side)")
    print_table(values, args.json)
