"""The `tfgancomp` command: compress, decompress, info, compare, evaluate,
compare-codecs.

Every user mistake ends in one line on stderr and a non-zero exit status;
TensorFlow is imported only by the subcommands that run a model.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

from tfgancomp import bitstream, metrics
from tfgancomp.errors import ModelError, TfgancompError
from tfgancomp.files import check_writable, write_new_file

LOSSY_EXTENSIONS = (".tfgc", ".jpg", ".jpeg", ".webp", ".jp2", ".j2k",
                    ".jpx", ".avif", ".jxl", ".heic")


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _quiet_tensorflow():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import absl.logging
    absl.logging.set_verbosity(absl.logging.ERROR)
    import tensorflow as tf
    tf.get_logger().setLevel("ERROR")


def _load_model(path):
    if path is None:
        raise ModelError(
            "no model given: pass --model DIR, a directory written by "
            "train/train.py or export/export.py")
    _quiet_tensorflow()
    from tfgancomp.api import load_model
    return load_model(path)


def _say(*parts):
    print(*parts, flush=True)


def _note(notes):
    for note in notes:
        print(f"note: {note}", file=sys.stderr)


def cmd_compress(args):
    from tfgancomp.api import compress
    from tfgancomp.image_io import read_image
    source = Path(args.image)
    output = Path(args.output) if args.output else source.with_suffix(".tfgc")
    picture = read_image(source)
    check_writable(output, args.force)  # fail before the slow part
    model = _load_model(args.model)
    start = time.perf_counter()
    data = compress(picture, model)
    seconds = time.perf_counter() - start
    write_new_file(output, data, force=args.force)
    _note(picture.notes)
    bpp = metrics.bits_per_pixel(len(data), picture.height, picture.width)
    _say(f"{source} -> {output}: {len(data)} bytes, {bpp:.4f} bpp "
         f"({picture.width}x{picture.height} {picture.mode}, "
         f"{seconds:.2f} s)")


def cmd_decompress(args):
    from tfgancomp.api import decompress_container
    from tfgancomp.image_io import output_format, picture_to_pil, write_image
    source = Path(args.file)
    output = Path(args.output) if args.output else source.with_suffix(".png")
    output_format(output)  # a bad extension fails before decoding
    container = bitstream.unpack(_read_bytes(source))
    check_writable(output, args.force)
    model = _load_model(args.model)
    start = time.perf_counter()
    picture = decompress_container(container, model)
    seconds = time.perf_counter() - start
    _note(write_image(picture_to_pil(picture), output, force=args.force))
    _say(f"{source} -> {output} ({container.width}x{container.height} "
         f"{container.mode}, {seconds:.2f} s)")


def _read_bytes(path) -> bytes:
    path = Path(path)
    if not path.is_file():
        raise TfgancompError(f"no such file: {path}")
    return path.read_bytes()


def cmd_info(args):
    data = _read_bytes(args.file)
    c = bitstream.unpack(data)
    info = {
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
    }
    _print_table(info, args.json)


def _print_table(values: dict, as_json: bool):
    if as_json:
        _say(json.dumps(values, indent=2))
        return
    width = max(map(len, values))
    for key, value in values.items():
        if isinstance(value, float):
            value = f"{value:.4f}"
        _say(f"{key.replace('_', ' '):<{width}}  {value}")


def _comparable_pixels(path, model_path):
    """RGB pixels of an image file, decoding .tfgc files with the model."""
    from tfgancomp.image_io import read_image
    if Path(path).suffix.lower() == ".tfgc":
        from tfgancomp.api import decompress_container
        container = bitstream.unpack(_read_bytes(path))
        return decompress_container(container, _load_model(model_path)).rgb
    return read_image(path).rgb


def cmd_compare(args):
    original = _comparable_pixels(args.original, None)
    other = _comparable_pixels(args.other, args.model)
    if original.shape != other.shape:
        raise TfgancompError(
            f"images differ in size: {original.shape[1]}x{original.shape[0]} "
            f"vs {other.shape[1]}x{other.shape[0]}")
    _quiet_tensorflow()
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
    _print_table(values, args.json)


def _models(values) -> dict:
    """--models: model directories, repeated or comma-separated, loaded and
    keyed by the name given."""
    names = dict.fromkeys(name.strip() for value in values or ()
                          for name in value.split(",") if name.strip())
    return {name: _load_model(name) for name in names}


def _check_output(path) -> Path:
    path = Path(path)
    if path.parent.is_dir() and not os.access(path.parent, os.W_OK):
        raise TfgancompError(f"cannot write to directory {path.parent}")
    return path


def _codecs_here(names: str) -> tuple[list, dict]:
    """The codecs named that run here, and why the others do not."""
    from tfgancomp import baselines
    codecs, missing = [], {}
    for codec in baselines.resolve(names):
        reason = baselines.unavailable_reason(codec.name)
        if reason:
            missing[codec.name] = reason
        else:
            codecs.append(codec)
    return codecs, missing


def _note_missing(missing: dict):
    _note(f"{name} skipped: {reason}" for name, reason in missing.items())


def cmd_evaluate(args):
    from tfgancomp import evaluation, reports
    from tfgancomp.progress import Progress
    images = evaluation.find_images(args.images)
    codecs, missing = _codecs_here(args.codecs)
    outputs = {kind: _check_output(path) for kind, path in
               (("json", args.json), ("csv", args.csv), ("plot", args.plot))
               if path}
    for path in outputs.values():
        check_writable(path, args.force)
    if "plot" in outputs:
        reports.require_matplotlib()
    if args.fid_patch < 1:
        raise TfgancompError("--fid_patch must be a positive number of px")
    if not codecs and not args.models:
        reasons = "; ".join(f"{n}: {r}" for n, r in missing.items())
        raise TfgancompError(f"nothing to evaluate: no --models, and no "
                             f"codec runs here ({reasons})")
    curves = [evaluation.codec_curve(c) for c in codecs]
    models = _models(args.models)
    if models:
        curves.append(evaluation.model_curve(models))
    _quiet_tensorflow()  # MS-SSIM
    inception = None
    if args.fid_weights:
        from tfgancomp.metrics import InceptionFeatures
        inception = InceptionFeatures(args.fid_weights)
    _note_missing(missing)
    results = evaluation.run(images, curves, Progress("evaluate"), inception,
                             args.fid_patch)
    document = evaluation.summarize(results, missing)
    writers = {"json": reports.to_json, "csv": reports.to_csv,
               "plot": reports.rd_plot}
    for kind, path in outputs.items():
        write_new_file(path, writers[kind](document), force=args.force)
    _say(reports.table(document))
    for path in outputs.values():
        _say(f"wrote {path}")


def cmd_compare_codecs(args):
    from tfgancomp import evaluation, reports
    from tfgancomp.image_io import read_image
    original = read_image(args.image).rgb
    output = _check_output(args.output)
    check_writable(output, args.force)
    if args.bpp is not None and not 0 < args.bpp <= 24:
        raise TfgancompError("--bpp must be above 0 and at most 24")
    if args.model is None and args.bpp is None:
        raise TfgancompError("compare-codecs needs --bpp B, or --model to "
                             "compare at the model's rate")
    if args.crop < 1:
        raise TfgancompError("--crop must be a positive number of px")
    codecs, missing = _codecs_here(args.codecs)
    _note_missing(missing)
    entries = []
    if args.model:
        setting = evaluation.model_setting(args.model, _load_model(args.model))
        record, decoded = evaluation.measure(
            original, setting, Path(args.image).stat().st_size)
        entries.append({"codec": evaluation.MODEL_CURVE,
                        "setting": setting.label, "bpp": record["bpp"],
                        "psnr": record["psnr"], "pixels": decoded})
    target = args.bpp if args.bpp is not None else entries[0]["bpp"]
    entries += evaluation.at_bpp(original, codecs, target)
    height, width = original.shape[:2]
    tiles = [(["original", f"{width}x{height}"], original)]
    for e in entries:
        tiles.append(([e["codec"], f"{e['bpp']:.3f} bpp, "
                       f"{e['psnr']:.2f} dB"], e["pixels"]))
        _say(f"{e['codec']:<10} {e['setting']:<16} {e['bpp']:.4f} bpp  "
             f"PSNR {e['psnr']:.2f} dB")
        if not math.isclose(e["bpp"], target, rel_tol=0.05):
            _note([f"{e['codec']} comes no closer to {target:.4f} bpp"])
    write_new_file(output, reports.side_by_side(tiles, args.crop),
                   force=args.force)
    _say(f"wrote {output} (crops of {min(args.crop, width)}x"
         f"{min(args.crop, height)} px; PSNR of the whole image)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tfgancomp", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version",
                        version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True,
                                     parser_class=_Parser)

    p = commands.add_parser("compress", help="image -> .tfgc file")
    p.add_argument("image", help="input image (PNG, JPEG, WebP, TIFF, …)")
    p.add_argument("-o", "--output", help="output file (default IMAGE.tfgc)")
    p.add_argument("--model", help="model directory")
    p.add_argument("--force", action="store_true",
                   help="overwrite an existing output file")
    p.set_defaults(run=cmd_compress)

    p = commands.add_parser("decompress", help=".tfgc file -> image")
    p.add_argument("file", help="input .tfgc file")
    p.add_argument("-o", "--output",
                   help="output image; format from its extension "
                        "(default FILE.png)")
    p.add_argument("--model", help="model directory")
    p.add_argument("--force", action="store_true",
                   help="overwrite an existing output file")
    p.set_defaults(run=cmd_decompress)

    p = commands.add_parser("info", help="show a .tfgc file's header")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=cmd_info)

    p = commands.add_parser(
        "compare", help="PSNR, SSIM, MS-SSIM (and bpp) of OTHER vs ORIGINAL")
    p.add_argument("original")
    p.add_argument("other", help="an image file, or a .tfgc file to decode")
    p.add_argument("--model", help="model directory to decode a .tfgc OTHER")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=cmd_compare)

    p = commands.add_parser(
        "evaluate", help="rate-distortion against classical codecs")
    p.add_argument("--images", required=True, metavar="DIR_OR_GLOB",
                   help="a directory of images, or a glob ('**' recurses)")
    p.add_argument("--models", action="append", metavar="DIRS",
                   help="model directories, comma-separated or repeated; "
                        "each is one rate-distortion point")
    p.add_argument("--codecs", default="jpeg,webp,jpeg2000,avif,jpegxl",
                   help="comma-separated: jpeg (= jpeg-420,jpeg-444), "
                        "webp, jpeg2000, avif, jpegxl (default: all)")
    p.add_argument("--json", metavar="OUT", help="write all results as JSON")
    p.add_argument("--csv", metavar="OUT",
                   help="write one row per image, codec and setting")
    p.add_argument("--plot", metavar="OUT.png",
                   help="write the RD curves (needs matplotlib)")
    p.add_argument("--fid_weights", metavar="PATH",
                   help="InceptionV3 weights (Keras .h5, no top) to add FID "
                        "and KID per setting")
    p.add_argument("--fid_patch", type=int, default=128, metavar="PX",
                   help="patch size for FID and KID (default 128)")
    p.add_argument("--force", action="store_true",
                   help="overwrite existing output files")
    p.set_defaults(run=cmd_evaluate)

    p = commands.add_parser(
        "compare-codecs",
        help="side-by-side crops of every codec at one rate")
    p.add_argument("image")
    p.add_argument("-o", "--output", required=True, metavar="OUT.png")
    p.add_argument("--bpp", type=float,
                   help="the rate (default: the model's on this image)")
    p.add_argument("--model", help="model directory: adds its picture")
    p.add_argument("--codecs", default="jpeg,webp,jpeg2000,avif,jpegxl",
                   help="comma-separated codecs (default: all)")
    p.add_argument("--crop", type=int, default=256, metavar="PX",
                   help="side of the centre crop shown (default 256)")
    p.add_argument("--force", action="store_true",
                   help="overwrite an existing output file")
    p.set_defaults(run=cmd_compare_codecs)
    return parser


def _version() -> str:
    from tfgancomp import __version__
    return __version__


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except TfgancompError as e:
        print(f"tfgancomp: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"tfgancomp: error: {e.strerror or e}"
              + (f": {e.filename}" if e.filename else ""), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("tfgancomp: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
