"""tfgancomp evaluate, compare-codecs and demo: our models against the
classical codecs."""

from __future__ import annotations

from pathlib import Path

from tfgancomp.cli.coding import add_effort
from tfgancomp.cli.common import (
    check_output,
    codecs_here,
    load_model,
    note,
    note_missing,
    quiet_tensorflow,
    say,
)
from tfgancomp.errors import ModelError, TfgancompError
from tfgancomp.evaluation.bjontegaard import BD_WINDOW
from tfgancomp.formats.files import check_writable, write_new_file
from tfgancomp.model import effort

ALL_CODECS = "jpeg,webp,jpeg2000,avif,jpegxl"


def add_parsers(commands):
    p = commands.add_parser(
        "evaluate", help="rate-distortion against classical codecs")
    p.add_argument("--images", required=True, metavar="DIR_OR_GLOB",
                   help="a directory of images, or a glob ('**' recurses)")
    p.add_argument("--models", action="append", metavar="MODELS",
                   help="models (shipped names, runs, model directories or "
                        "exports), comma-separated or repeated; each is one "
                        "rate-distortion point")
    p.add_argument("--codecs", default=ALL_CODECS,
                   help="comma-separated: jpeg (= jpeg-420,jpeg-444), "
                        "webp, jpeg2000, avif, jpegxl (default: all)")
    add_effort(p)
    p.add_argument("--qualities", type=_numbers, metavar="Q,Q,...",
                   help="the qualities a variable-rate model is swept over "
                        "(default: those it was trained at, k/(Q-1))")
    p.add_argument("--realism", type=_numbers, metavar="R,R,...",
                   default=(0., 1.),
                   help="for a model with the realism knob: a curve at "
                        "each of these realisms (default 0,1)")
    low, high = BD_WINDOW
    p.add_argument("--bd_window", type=_window, default=BD_WINDOW,
                   metavar="LOW,HIGH",
                   help="bpp: the windowed BD figures count only the rates "
                        f"inside it (default {low:g},{high:g})")
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
    p.set_defaults(run=evaluate)

    p = commands.add_parser(
        "compare-codecs",
        help="side-by-side crops of every codec at one rate")
    p.add_argument("image")
    p.add_argument("-o", "--output", required=True, metavar="OUT.png")
    p.add_argument("--bpp", type=float,
                   help="the rate (default: the first model's on this "
                        "image)")
    p.add_argument("--model", action="append",
                   help="a model (shipped name or directory) to show; "
                        "repeat for several (default without --bpp: the "
                        "default shipped model)")
    p.add_argument("--codecs", default=ALL_CODECS,
                   help="comma-separated codecs (default: all)")
    p.add_argument("--keep", metavar="DIR",
                   help="also write each coded file and its decoded PNG "
                        "into DIR")
    add_effort(p)
    _crop_and_force(p)
    p.set_defaults(run=compare_codecs)

    p = commands.add_parser(
        "demo", help="the shipped models on a photo, next to JPEG and "
                     "WebP at the same file size")
    p.add_argument("image", nargs="?",
                   help="a photo (default: the sample photo in the package)")
    p.add_argument("-o", "--output_dir", default="tfgancomp-demo",
                   metavar="DIR", help="where the files and the picture go "
                                       "(default tfgancomp-demo)")
    add_effort(p)
    _crop_and_force(p)
    p.set_defaults(run=demo)


def _window(text: str) -> tuple[float, float]:
    """'0.1,1' → (0.1, 1.0), two rates with 0 < low < high."""
    import argparse
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not two comma-separated rates: {text!r}") from None
    if not 0 < low < high < float("inf"):
        raise argparse.ArgumentTypeError(
            f"a window needs 0 < LOW < HIGH: {text}")
    return low, high


def _numbers(text: str) -> tuple[float, ...]:
    """'0,0.5,1' → (0.0, 0.5, 1.0), each in [0, 1]."""
    import argparse
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not comma-separated numbers: {text!r}") from None
    if not values or not all(0 <= v <= 1 for v in values):
        raise argparse.ArgumentTypeError(f"values must be in [0, 1]: {text}")
    return values


def _crop_and_force(parser):
    parser.add_argument("--crop", type=int, default=256, metavar="PX",
                        help="side of the centre crop shown (default 256)")
    parser.add_argument("--force", action="store_true",
                        help="overwrite existing output files")


def _models(values) -> dict:
    """--models, repeated or comma-separated, loaded and keyed by the name
    given."""
    names = dict.fromkeys(name.strip() for value in values or ()
                          for name in value.split(",") if name.strip())
    return {name: load_model(name) for name in names}


def evaluate(args):
    from tfgancomp.cli.progress import Progress
    from tfgancomp.evaluation import reports, runs
    images = runs.find_images(args.images)
    codecs, missing = codecs_here(args.codecs)
    outputs = {kind: check_output(path) for kind, path in
               (("json", args.json), ("csv", args.csv), ("plot", args.plot))
               if path}
    for path in outputs.values():
        check_writable(path, args.force)
    if "plot" in outputs:
        reports.require_matplotlib()
    if args.fid_patch < 1:
        raise TfgancompError("--fid_patch must be a positive number of px")
    effort.steps_of(args.effort)
    if not codecs and not args.models:
        reasons = "; ".join(f"{n}: {r}" for n, r in missing.items())
        raise TfgancompError(f"nothing to evaluate: no --models, and no "
                             f"codec runs here ({reasons})")
    curves = [runs.codec_curve(c) for c in codecs]
    models = _models(args.models)
    curves += runs.model_curves(models, args.effort, args.qualities,
                                args.realism)
    inception = None
    if args.fid_weights:
        quiet_tensorflow()
        from tfgancomp.evaluation.metrics import InceptionFeatures
        inception = InceptionFeatures(args.fid_weights)
    note_missing(missing)
    results = runs.run(images, curves, Progress("evaluate"), inception,
                       args.fid_patch)
    document = runs.summarize(results, missing, args.bd_window)
    writers = {"json": reports.to_json, "csv": reports.to_csv,
               "plot": reports.rd_plot}
    for kind, path in outputs.items():
        write_new_file(path, writers[kind](document), force=args.force)
    say(reports.table(document))
    for path in outputs.values():
        say(f"wrote {path}")


def _show(image, model_names, codec_names: str, bpp, picture, crop: int,
          force: bool, effort: int, files_dir=None):
    """The showcase of one image: checks every output first, then
    measures, prints the table and writes the picture (and files)."""
    from tfgancomp.evaluation import reports, showcase
    from tfgancomp.formats.image_io import read_image
    if crop < 1:
        raise TfgancompError("--crop must be a positive number of px")
    original = read_image(image).rgb
    picture = check_output(picture)
    codecs, missing = codecs_here(codec_names)
    files = ([] if files_dir is None else
             showcase.planned_files(image, model_names, codecs, files_dir))
    for path in [picture, *files]:  # before the slow part
        check_writable(path, force)
    note_missing(missing)
    models = {name: load_model(name) for name in model_names}
    shown = showcase.show(original, Path(image).stat().st_size, models,
                          codecs, bpp, crop, files, effort)
    say(reports.shown_table(shown.shown))
    _write_showcase(shown, original, picture, crop, force)


def _write_showcase(shown, original, picture, crop: int, force: bool):
    """Notes the codecs off their row's rate, writes the picture and
    files, and says what was written."""
    note(f"{name} comes no closer to {target:.4f} bpp"
         for name, target in shown.off_target())
    written = [write_new_file(picture, shown.picture, force=force)]
    written += [write_new_file(path, data, force=force)
                for path, data in shown.files]
    height, width = original.shape[:2]
    say(f"wrote {', '.join(map(str, written))}\n(crops of "
        f"{min(crop, width)}x{min(crop, height)} px; measures of the "
        "whole image)")


def _show_rates(image, name: str, model, codec_names: str, picture,
                crop: int, force: bool, effort: int, files_dir):
    """`demo` of a variable-rate model: three rates, each at realism 0
    and 1 where the model has that knob, next to the codecs."""
    from tfgancomp.evaluation import reports, showcase
    from tfgancomp.formats.image_io import read_image
    original = read_image(image).rgb
    codecs, missing = codecs_here(codec_names)
    files = showcase.planned_rate_files(image, name, model, codecs,
                                        files_dir)
    for path in [picture, *files]:  # before the slow part
        check_writable(path, force)
    note_missing(missing)
    shown = showcase.show_rates(original, Path(image).stat().st_size, name,
                                model, codecs, crop, files, effort)
    say(reports.shown_table(shown.shown))
    _write_showcase(shown, original, picture, crop, force)


def compare_codecs(args):
    effort.steps_of(args.effort)
    if args.bpp is not None and not 0 < args.bpp <= 24:
        raise TfgancompError("--bpp must be above 0 and at most 24")
    models = list(dict.fromkeys(args.model or ()))
    if not models and args.bpp is None:  # the default model, as compress
        from tfgancomp.deploy import resolve, shipped
        resolve.resolve(None)  # names what is missing if it is
        models = [shipped.DEFAULT_MODEL]
    _show(args.image, models, args.codecs, args.bpp, args.output, args.crop,
          args.force, args.effort, args.keep)


def demo(args):
    from tfgancomp.deploy import shipped
    effort.steps_of(args.effort)
    installed = list(shipped.current_models())
    if shipped.DEFAULT_MODEL not in installed:
        raise ModelError(
            f"the default model '{shipped.DEFAULT_MODEL}' is not installed "
            f"(shipped: {', '.join(installed) or '-'})")
    # The default model first: the codecs match its rate.
    models = [shipped.DEFAULT_MODEL] + [m for m in installed
                                        if m != shipped.DEFAULT_MODEL]
    out = Path(args.output_dir)
    if out.exists() and not out.is_dir():
        raise TfgancompError(f"{out} exists and is not a directory")
    if not out.parent.is_dir():
        raise TfgancompError(f"directory {out.parent} does not exist")
    out.mkdir(exist_ok=True)
    image = args.image or shipped.SAMPLE_PHOTO
    default = load_model(shipped.DEFAULT_MODEL)
    if default.variable_rate:
        say(f"{image}: {shipped.DEFAULT_MODEL} at three qualities, then "
            "JPEG, WebP and AVIF at each of its file sizes")
        _show_rates(image, shipped.DEFAULT_MODEL, default,
                    "jpeg-420,webp,avif", out / "side_by_side.png",
                    args.crop, args.force, args.effort, out)
        return
    say(f"{image}: {len(models)} shipped models, then JPEG and WebP at the "
        f"file size of {shipped.DEFAULT_MODEL}")
    _show(image, models, "jpeg-420,webp", None, out / "side_by_side.png",
          args.crop, args.force, args.effort, out)
