"""tfgancomp compress, decompress and info: one file or many, `-` for
standard input and output."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from tfgancomp import api
from tfgancomp.cli.common import (
    FILE_ERRORS,
    Models,
    add_force,
    add_max_pixels,
    check_stdout,
    note,
    print_rows,
    print_table,
    read_bytes,
    run_each,
    say,
    with_name,
    write_output,
)
from tfgancomp.errors import TfgancompError
from tfgancomp.evaluation import metrics
from tfgancomp.formats import bitstream
from tfgancomp.formats.files import STDIO, check_writable, plan_outputs
from tfgancomp.model import effort


def add_effort(parser):
    parser.add_argument(
        "--effort", type=int, default=0, metavar="N",
        help=f"0 (default): one pass of the encoder; 1 to "
             f"{len(effort.EFFORT_STEPS) - 1}: refine the latents of each "
             "image for its model's objective (" +
             ", ".join(map(str, effort.EFFORT_STEPS[1:])) + " steps): "
             "smaller files, seconds per image, the same decoder; "
             "with a model whose realism is grain, the grain's strength "
             "fitted to each image (format version 3)")


MODEL_HELP = ("model: a shipped model's name (see `tfgancomp models`), a "
              "training run, a model directory or an export")
OUTPUT_HELP = ("output file, - for standard output, or a directory (needed "
               "for several inputs; default: beside each input, {}; "
               "standard input goes to standard output)")


def _number(what: str, low: float, high: float, low_allowed: bool = True):
    """An argparse type: a number from `low` to `high`."""
    def parse(text: str) -> float:
        import argparse
        try:
            value = float(text)
        except ValueError:
            value = None
        if value is None or not (low <= value <= high) or (
                value == low and not low_allowed):
            raise argparse.ArgumentTypeError(f"not {what}: {text!r}")
        return value
    return parse


_unit = _number("a number in [0, 1]", 0., 1.)
_bpp = _number("a bpp in (0, 24]", 0., 24., low_allowed=False)


def add_parsers(commands):
    p = commands.add_parser("compress", help="images -> .tfgc files")
    p.add_argument("image", nargs="+",
                   help="input images (PNG, JPEG, WebP, TIFF, …); - reads "
                        "standard input")
    p.add_argument("-o", "--output", help=OUTPUT_HELP.format("IMAGE.tfgc"))
    p.add_argument("--model", help=MODEL_HELP + " (default: the default "
                                                "shipped model)")
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--quality", type=_unit, metavar="Q",
                      help="variable-rate models: the quality, 0 (smallest "
                           f"files) to 1 (default {api.DEFAULT_QUALITY:g}); "
                           "stored in the file")
    rate.add_argument("--bpp", type=_bpp, metavar="B",
                      help="variable-rate models: the highest quality whose "
                           "file takes at most B bits per pixel, found by "
                           "bisection on real coding")
    add_effort(p)
    add_max_pixels(p)
    add_force(p)
    p.set_defaults(run=compress)

    p = commands.add_parser("decompress", help=".tfgc files -> images")
    p.add_argument("file", nargs="+",
                   help="input .tfgc files; - reads standard input")
    p.add_argument("-o", "--output",
                   help=OUTPUT_HELP.format("FILE.png") + "; the format "
                        "comes from the extension")
    p.add_argument("--format", metavar="EXT",
                   help="image format written to standard output: png "
                        "(default), webp, jpg, tif, …")
    p.add_argument("--realism", type=_unit, metavar="R",
                   help="models with the realism knob: 0 (faithful, the "
                        "highest PSNR) to 1 (realistic texture); default "
                        "0, faithful")
    p.add_argument("--model", help=MODEL_HELP + " (default: the shipped "
                                                "model named in the file)")
    add_max_pixels(p)
    add_force(p)
    p.set_defaults(run=decompress)

    p = commands.add_parser("info", help="show .tfgc files' headers")
    p.add_argument("file", nargs="+", help=".tfgc files; - reads standard "
                                           "input")
    p.add_argument("--json", action="store_true",
                   help="print JSON (a list for several files)")
    p.set_defaults(run=info)


def compress(args):
    from tfgancomp.formats.image_io import (
        open_image_data,
        picture_from_pil,
        read_image,
    )
    plan = plan_outputs(args.image, args.output, ".tfgc")
    check_stdout(plan)
    effort.steps_of(args.effort)
    models = Models(args.model)

    def one(source: str, output: str) -> str:
        if source == STDIO:
            picture = picture_from_pil(open_image_data(
                read_bytes(STDIO), max_pixels=args.max_pixels))
        else:
            picture = read_image(source, args.max_pixels)
        if output != STDIO:
            check_writable(Path(output), args.force)  # before the slow part
        model = models.get()
        start = time.perf_counter()
        data = api.compress(picture, model, args.effort,
                            quality=args.quality, bpp=args.bpp)
        seconds = time.perf_counter() - start
        write_output(output, data, args.force)
        note(f"{source}: {text}" if len(plan) > 1 else text
             for text in picture.notes)
        bpp = metrics.bits_per_pixel(len(data), picture.height,
                                     picture.width)
        return (f"{_name(source)} -> {_name(output, '(stdout)')}: "
                f"{len(data)} bytes, {bpp:.4f} bpp ({picture.width}x"
                f"{picture.height} {picture.mode}, {seconds:.2f} s)")

    run_each(plan, one, "compress")


def _name(path: str, stdio: str = "(stdin)") -> str:
    return stdio if path == STDIO else path


def _image_format(output: str, requested: str | None) -> str:
    from tfgancomp.formats.image_io import output_format
    if requested is not None and output != STDIO:
        raise TfgancompError("--format applies to standard output (-o -) "
                             "only: elsewhere the extension says it")
    if output == STDIO:
        return output_format(f"x.{(requested or 'png').lstrip('.')}")
    return output_format(output)


def decompress(args):
    from tfgancomp.formats.image_io import encode_image, picture_to_pil
    plan = plan_outputs(args.file, args.output, ".png")
    check_stdout(plan)
    if args.format is not None and all(t != STDIO for _, t in plan):
        _image_format(plan[0][1], args.format)  # the error, at once
    models = Models(args.model)

    def one(source: str, output: str) -> str:
        fmt = _image_format(output, args.format)  # before decoding
        container = bitstream.unpack(read_bytes(source), args.max_pixels)
        if output != STDIO:
            check_writable(Path(output), args.force)
        model = models.get(container)
        start = time.perf_counter()
        picture = api.decompress_container(container, model,
                                           realism=args.realism)
        seconds = time.perf_counter() - start
        data, notes = encode_image(picture_to_pil(picture), fmt)
        write_output(output, data, args.force)
        note(notes)
        return (f"{_name(source)} -> {_name(output, '(stdout)')} "
                f"({container.width}x{container.height} {container.mode}, "
                f"{seconds:.2f} s)")

    run_each(plan, one, "decompress")


def _header(path: str) -> dict:
    data = read_bytes(path)
    c = bitstream.unpack(data)
    return {
        "file": _name(path), "bytes": len(data),
        "format_version": c.version,
        "width": c.width, "height": c.height, "mode": c.mode,
        "model_name": c.model_name,
        "model_fingerprint": c.model_fingerprint.hex(),
        "bpp": metrics.bits_per_pixel(len(data), c.height, c.width),
        "quality": c.quality, "tile": c.tile, "grain": c.grain,
        "latent_bytes": len(c.string), "side_latent_bytes": len(c.side_string),
        "alpha": c.alpha is not None,
        "icc_profile_bytes": len(c.icc_profile or b""),
        "exif_bytes": len(c.exif or b""),
    }


INFO_COLUMNS = ["file", "bytes", "bpp", "width", "height", "mode",
                "model_name", "format_version", "quality", "tile", "grain"]


def info(args):
    if len(args.file) == 1:
        print_table(_header(args.file[0]), args.json)
        return
    if args.file.count(STDIO):
        raise TfgancompError("standard input (-) can only be the only input")
    rows, failed = [], 0
    for path in args.file:
        try:
            rows.append(_header(path))
        except FILE_ERRORS as e:
            failed += 1
            note_error(path, e)
    if args.json:
        say(json.dumps(rows, indent=2))
    elif rows:
        print_rows(rows, INFO_COLUMNS)
    if failed:
        raise TfgancompError(f"{failed} of {len(args.file)} files failed")


def note_error(path, error):
    print(f"tfgancomp: error: {with_name(path, error)}", file=sys.stderr)
