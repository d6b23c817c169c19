"""The `tfgancomp` command: compress, decompress, info, compare, evaluate,
compare-codecs, demo, models.

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


def _load_model(model):
    """A model directory or shipped model's name; None: the default."""
    from tfgancomp import zoo
    if model is None and zoo.DEFAULT_MODEL not in zoo.shipped_models():
        raise ModelError(
            f"no model given, and the default model '{zoo.DEFAULT_MODEL}' "
            "is not installed: pass --model DIR, a directory written by "
            "train/train.py or export/export.py")
    _quiet_tensorflow()
    from tfgancomp.api import load_model
    return load_model(model)


def _model_for(container, model):
    """--model if given, else the shipped model a file's header names."""
    if model is not None:
        return _load_model(model)
    _quiet_tensorflow()
    from tfgancomp.api import model_for
    return model_for(container)


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
    model = _model_for(container, args.model)
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
        return decompress_container(
            container, _model_for(container, model_path)).rgb
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


def _check_bpp(bpp):
    if bpp is not None and not 0 < bpp <= 24:
        raise TfgancompError("--bpp must be above 0 and at most 24")


def _show_at_one_rate(image, model_names, codec_names: str, bpp, picture,
                      crop: int, force: bool, files_dir=None):
    """Every model, then every codec at the first model's rate (or `bpp`),
    on one image: prints a table and writes the side-by-side `picture`,
    and into `files_dir` each coded file and its decoded PNG."""
    from tfgancomp import evaluation, reports
    from tfgancomp.image_io import read_image
    if crop < 1:
        raise TfgancompError("--crop must be a positive number of px")
    original = read_image(image).rgb
    picture = _check_output(picture)
    codecs, missing = _codecs_here(codec_names)
    outputs = [picture]
    stem = Path(image).stem
    if files_dir is not None:
        names = [Path(m).name for m in model_names] + [c.name for c in codecs]
        extensions = [".tfgc"] * len(model_names) + [c.extension
                                                      for c in codecs]
        outputs += [Path(files_dir) / f"{stem}.{name}{suffix}"
                    for name, extension in zip(names, extensions)
                    for suffix in (extension, ".png")]
    for path in outputs:  # before the slow part
        check_writable(path, force)
    _note_missing(missing)
    models = {name: _load_model(name) for name in model_names}
    shown = evaluation.at_one_rate(original, Path(image).stat().st_size,
                                   models, codecs, bpp)
    target = bpp if bpp is not None else shown[0].coded.record["bpp"]
    _say(reports.shown_table(shown))
    for entry in shown[len(models):]:
        if not math.isclose(entry.coded.record["bpp"], target, rel_tol=0.05):
            _note([f"{entry.name} comes no closer to {target:.4f} bpp"])
    height, width = original.shape[:2]
    tiles = [(["original", f"{width}x{height}"], original)] + [
        ([e.name, f"{e.coded.record['bpp']:.3f} bpp, "
                  f"{e.coded.record['psnr']:.2f} dB"], e.coded.decoded)
        for e in shown]
    written = [write_new_file(picture, reports.side_by_side(tiles, crop),
                              force=force)]
    if files_dir is not None:
        from PIL import Image
        files = iter(outputs[1:])
        for entry in shown:
            written.append(write_new_file(next(files), entry.coded.data,
                                          force=force))
            written.append(write_new_file(
                next(files), _png(Image.fromarray(entry.coded.decoded)),
                force=force))
    _say(f"wrote {', '.join(map(str, written))}\n(crops of "
         f"{min(crop, width)}x{min(crop, height)} px; measures of the "
         "whole image)")


def _png(image) -> bytes:
    import io
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def cmd_compare_codecs(args):
    _check_bpp(args.bpp)
    if not args.model and args.bpp is None:
        raise TfgancompError("compare-codecs needs --bpp B, or --model to "
                             "compare at the model's rate")
    models = list(dict.fromkeys(args.model or ()))
    _show_at_one_rate(args.image, models, args.codecs, args.bpp,
                      args.output, args.crop, args.force, args.keep)


def cmd_demo(args):
    from tfgancomp import zoo
    shipped = list(zoo.shipped_models())
    if zoo.DEFAULT_MODEL not in shipped:
        raise ModelError(f"the default model '{zoo.DEFAULT_MODEL}' is not "
                         f"installed (shipped: {', '.join(shipped) or '-'})")
    # The default model first: the codecs match its rate.
    models = [zoo.DEFAULT_MODEL] + [m for m in shipped
                                    if m != zoo.DEFAULT_MODEL]
    out = Path(args.output_dir)
    if out.exists() and not out.is_dir():
        raise TfgancompError(f"{out} exists and is not a directory")
    if not out.parent.is_dir():
        raise TfgancompError(f"directory {out.parent} does not exist")
    out.mkdir(exist_ok=True)
    image = args.image or zoo.SAMPLE_PHOTO
    _say(f"{image}: {len(models)} shipped models, then JPEG and WebP at the "
         f"file size of {zoo.DEFAULT_MODEL}")
    _show_at_one_rate(image, models, "jpeg-420,webp", None,
                      out / "side_by_side.png", args.crop, args.force, out)


def cmd_models(args):
    from tfgancomp import zoo
    rows = []
    for name, directory in zoo.shipped_models().items():
        card = zoo.card(name)
        rows.append({"name": name, "default": name == zoo.DEFAULT_MODEL,
                     "megabytes": zoo.size_bytes(directory) / 1e6,
                     "description": card.get("description", ""),
                     "results": card.get("results", {}),
                     "path": str(directory)})
    if args.json:
        _say(json.dumps(rows, indent=2))
        return
    if not rows:
        _say("no shipped models")
        return
    for row in rows:
        results = row["results"]
        measured = ", ".join(
            f"{key} {results[key]:.4g}" for key in
            ("bpp", "psnr", "ms_ssim", "detail_ratio") if key in results)
        _say(f"{row['name']}{' (default)' if row['default'] else ''}: "
             f"{row['description']} [{row['megabytes']:.1f} MB]")
        if measured:
            _say(f"    on {results.get('images', 'test images')}: "
                 f"{measured}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tfgancomp", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version",
                        version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True,
                                     parser_class=_Parser)

    p = commands.add_parser("compress", help="image -> .tfgc file")
    p.add_argument("image", help="input image (PNG, JPEG, WebP, TIFF, …)")
    p.add_argument("-o", "--output", help="output file (default IMAGE.tfgc)")
    p.add_argument("--model",
                   help="model directory or shipped model's name (default "
                        "default-gan; see `tfgancomp models`)")
    p.add_argument("--force", action="store_true",
                   help="overwrite an existing output file")
    p.set_defaults(run=cmd_compress)

    p = commands.add_parser("decompress", help=".tfgc file -> image")
    p.add_argument("file", help="input .tfgc file")
    p.add_argument("-o", "--output",
                   help="output image; format from its extension "
                        "(default FILE.png)")
    p.add_argument("--model",
                   help="model directory or shipped model's name (default: "
                        "the shipped model named in the file)")
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
    p.add_argument("--model",
                   help="model to decode a .tfgc OTHER (default: the "
                        "shipped model named in the file)")
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
    p.add_argument("--model", action="append",
                   help="a model (directory or shipped name) to show; "
                        "repeat for several")
    p.add_argument("--codecs", default="jpeg,webp,jpeg2000,avif,jpegxl",
                   help="comma-separated codecs (default: all)")
    p.add_argument("--keep", metavar="DIR",
                   help="also write each coded file and its decoded PNG "
                        "into DIR")
    _crop_and_force(p)
    p.set_defaults(run=cmd_compare_codecs)

    p = commands.add_parser(
        "demo", help="the shipped models on a photo, next to JPEG and "
                     "WebP at the same file size")
    p.add_argument("image", nargs="?",
                   help="a photo (default: the sample photo in the package)")
    p.add_argument("-o", "--output_dir", default="tfgancomp-demo",
                   metavar="DIR", help="where the files and the picture go "
                                       "(default tfgancomp-demo)")
    _crop_and_force(p)
    p.set_defaults(run=cmd_demo)

    p = commands.add_parser("models", help="list the shipped models")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=cmd_models)
    return parser


def _crop_and_force(parser):
    parser.add_argument("--crop", type=int, default=256, metavar="PX",
                        help="side of the centre crop shown (default 256)")
    parser.add_argument("--force", action="store_true",
                        help="overwrite existing output files")


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
