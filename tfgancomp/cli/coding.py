"""tfgancomp compress, decompress and info."""

from __future__ import annotations

import time
from pathlib import Path

from tfgancomp.cli.common import (
    add_force,
    load_model,
    model_for,
    note,
    print_table,
    read_bytes,
    say,
)
from tfgancomp.evaluation import metrics
from tfgancomp.formats import bitstream
from tfgancomp.formats.files import check_writable, write_new_file
from tfgancomp.model import effort


def add_effort(parser):
    parser.add_argument(
        "--effort", type=int, default=0, metavar="N",
        help=f"0 (default): one pass of the encoder; 1 to "
             f"{len(effort.EFFORT_STEPS) - 1}: refine the latents of each "
             "image for its model's objective (" +
             ", ".join(map(str, effort.EFFORT_STEPS[1:])) + " steps): "
             "smaller files, seconds per image, the same decoder")


MODEL_HELP = ("model: a shipped model's name (see `tfgancomp models`), a "
              "training run, a model directory or an export")


def add_parsers(commands):
    p = commands.add_parser("compress", help="image -> .tfgc file")
    p.add_argument("image", help="input image (PNG, JPEG, WebP, TIFF, …)")
    p.add_argument("-o", "--output", help="output file (default IMAGE.tfgc)")
    p.add_argument("--model", help=MODEL_HELP + " (default: the default "
                                                "shipped model)")
    add_effort(p)
    add_force(p)
    p.set_defaults(run=compress)

    p = commands.add_parser("decompress", help=".tfgc file -> image")
    p.add_argument("file", help="input .tfgc file")
    p.add_argument("-o", "--output",
                   help="output image; format from its extension "
                        "(default FILE.png)")
    p.add_argument("--model", help=MODEL_HELP + " (default: the shipped "
                                                "model named in the file)")
    add_force(p)
    p.set_defaults(run=decompress)

    p = commands.add_parser("info", help="show a .tfgc file's header")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=info)


def compress(args):
    from tfgancomp.api import compress as compress_picture
    from tfgancomp.formats.image_io import read_image
    source = Path(args.image)
    output = Path(args.output) if args.output else source.with_suffix(".tfgc")
    picture = read_image(source)
    check_writable(output, args.force)  # fail before the slow part
    effort.steps_of(args.effort)
    model = load_model(args.model)
    start = time.perf_counter()
    data = compress_picture(picture, model, args.effort)
    seconds = time.perf_counter() - start
    write_new_file(output, data, force=args.force)
    note(picture.notes)
    bpp = metrics.bits_per_pixel(len(data), picture.height, picture.width)
    say(f"{source} -> {output}: {len(data)} bytes, {bpp:.4f} bpp "
        f"({picture.width}x{picture.height} {picture.mode}, "
        f"{seconds:.2f} s)")


def decompress(args):
    from tfgancomp.api import decompress_container
    from tfgancomp.formats.image_io import (
        output_format,
        picture_to_pil,
        write_image,
    )
    source = Path(args.file)
    output = Path(args.output) if args.output else source.with_suffix(".png")
    output_format(output)  # a bad extension fails before decoding
    container = bitstream.unpack(read_bytes(source))
    check_writable(output, args.force)
    model = model_for(container, args.model)
    start = time.perf_counter()
    picture = decompress_container(container, model)
    seconds = time.perf_counter() - start
    note(write_image(picture_to_pil(picture), output, force=args.force))
    say(f"{source} -> {output} ({container.width}x{container.height} "
        f"{container.mode}, {seconds:.2f} s)")


def info(args):
    data = read_bytes(args.file)
    c = bitstream.unpack(data)
    print_table({
        "file": str(args.file), "bytes": len(data),
        "format_version": bitstream.VERSION,
        "width": c.width, "height": c.height, "mode": c.mode,
        "model_name": c.model_name,
        "model_fingerprint": c.model_fingerprint.hex(),
        "bpp": metrics.bits_per_pixel(len(data), c.height, c.width),
        "latent_bytes": len(c.string), "side_latent_bytes": len(c.side_string),
        "alpha": c.alpha is not None,
        "icc_profile_bytes": len(c.icc_profile or b""),
        "exif_bytes": len(c.exif or b""),
    }, args.json)


