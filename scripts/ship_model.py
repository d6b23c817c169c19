"""Ships a training run as a model inside the package, with its model card.

    python scripts/ship_model.py --run runs/default-mse \\
        --preset default-mse [--description "..."] [--note "..."] \\
        [--earlier_run runs/a] [--results eval.json --plot eval.png] \\
        [--force] [--retire_as NAME]

Exports the run's latest checkpoint to tfgancomp/pretrained/NAME/ (NAME:
the run's model name, which its files carry) and writes the model card:
training preset (tfgancomp/presets/), data, steps and wall time (from
the run's TensorBoard events; with the preset's warm start, also counted
from the first run on), and with --results the model's means on
the evaluated images and the bits it saves against each classical codec,
from `tfgancomp evaluate --models NAME --json` (run after a first
shipping, then ship again), with --plot the plot of that evaluation.
"""

import argparse
import glob
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

GAP = 600  # seconds between summaries that count as a stopped run


def wall_time_hours(run: Path) -> float:
    """Training time in the run's summaries, without the pauses between
    resumptions."""
    import tensorflow as tf

    from tfgancomp.deploy.layout import RUN_SUMMARIES
    times = sorted(
        event.wall_time for path in glob.glob(str(run / RUN_SUMMARIES /
                                                  "events*"))
        for event in tf.compat.v1.train.summary_iterator(path))
    return sum(b - a for a, b in zip(times, times[1:]) if b - a < GAP) / 3600


def results(document: dict, name: str) -> dict:
    """The model's means and bits saved in a `tfgancomp evaluate` JSON:
    of its one setting, or for a variable-rate model the BD-rates of its
    curves and the means at each quality."""
    folder = os.path.relpath(Path(document["images"][0]).parent)
    out = {"images": f"{len(document['images'])} images of {folder}"}
    setting = f"model={name}"
    fixed = [m for m in document["means"] if m["setting"] == setting]
    if not fixed:
        return dict(out, **curve_results(document, name))
    means, = fixed
    out.update({k: means[k] for k in ("bpp", "psnr", "ms_ssim",
                                      "detail_ratio", "encode_ms",
                                      "decode_ms")})
    for saved in document["bits_saved"]:
        if saved["model"] == name and saved["percent"] is not None:
            out[f"bits_saved_vs_{saved['codec']}_percent"] = saved["percent"]
            out[f"images_in_range_of_{saved['codec']}"] = (
                f"{saved['images_used']}/{saved['images_total']}")
    return out


def curve_results(document: dict, name: str) -> dict:
    """BD-rate of each curve of model `name` (one per realism) against
    each classical codec (over all rates both cover, and within the
    evaluation's rate window), and its means (bpp, PSNR, MS-SSIM, detail,
    milliseconds) per setting."""
    curves = [c["name"] for c in document["codecs"]
              if c["name"] == name or c["name"].startswith(f"{name} r=")]
    out = {}
    low, high = document["bd_window_bpp"]
    for entry in (e for e in document["bd"] if e["test"] in curves):
        label = f"BD-rate of {entry['test']} vs {entry['anchor']}"
        for field, suffix in (("bd_rate_percent", ""),
                              ("bd_rate_window_percent",
                               f", {low:g} to {high:g} bpp")):
            if entry[field] is not None:
                out[f"{label}{suffix} percent"] = entry[field]
    for means in document["means"]:
        if means["codec"] in curves:
            out[means["setting"].split("=", 1)[1]] = {
                "bpp": means["bpp"], "PSNR": means["psnr"],
                "MS-SSIM": means["ms_ssim"], "detail": means["detail_ratio"],
                "enc ms": means["encode_ms"], "dec ms": means["decode_ms"]}
    return out


def cumulative(preset: dict, training: dict, fingerprint: str) -> dict:
    """Steps and hours including those of the shipped model the preset
    warm-starts from (and its own warm start, as its card says) and of
    the `earlier_runs` between that model and this run. Shipped again
    (say with its results), the model is its own warm start's name: its
    card's totals less its own runs are then the warm start's."""
    from tfgancomp.deploy import shipped
    if "init_from" not in preset:
        return {}
    card = shipped.card(preset["init_from"])
    base = card["training"]
    runs = [training, *training.get("earlier_runs", [])]

    def total(key):
        start = base.get(f"cumulative_{key}", base[key])
        if card["fingerprint"] == fingerprint:  # its own card: less its runs
            start -= sum(r[key] for r in [base, *base.get("earlier_runs", [])])
        return sum(r[key] for r in runs) + start
    return {"warm_start": preset["init_from"],
            "cumulative_steps": total("steps"),
            "cumulative_wall_time_hours": round(total("wall_time_hours"), 2)}


def run_facts(run: Path) -> dict:
    """Steps (of its latest checkpoint) and wall time of a run."""
    from tfgancomp.training.checkpoints import latest_codec
    return {"run": run.name, "steps": latest_codec(run)[1],
            "wall_time_hours": round(wall_time_hours(run), 2)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, type=Path)
    parser.add_argument("--preset", required=True,
                        help="the preset the run trained with")
    parser.add_argument("--description",
                        help="default: the preset's description")
    parser.add_argument("--note", help="how the run departed from the "
                                       "preset, if it did")
    parser.add_argument("--data", default="bsds500/train, bsds500/val and "
                        "sun_hays80, downscaled by 2")
    parser.add_argument("--earlier_run", type=Path, action="append",
                        default=[], help="a run between the preset's warm "
                        "start and --run (repeatable, oldest first): its "
                        "steps and hours count in the cumulative ones")
    parser.add_argument("--results", type=Path,
                        help="JSON of `tfgancomp evaluate` with this model")
    parser.add_argument("--plot", type=Path,
                        help="the rate-distortion plot of that evaluation")
    parser.add_argument("--force", action="store_true",
                        help="replace the shipped model of that name")
    parser.add_argument("--retire_as", metavar="NAME",
                        help="keep the replaced model as NAME, so that its "
                        "files go on decoding (needed when the encoder "
                        "changed)")
    args = parser.parse_args()

    from tfgancomp import presets
    from tfgancomp.deploy import shipped
    from tfgancomp.errors import TfgancompError
    from tfgancomp.training.checkpoints import latest_codec
    try:
        preset = presets.load(args.preset)
        codec, step = latest_codec(args.run)
        training = {"preset": args.preset}
        if args.note:
            training["note"] = args.note
        if args.earlier_run:
            training["earlier_runs"] = [run_facts(r)
                                        for r in args.earlier_run]
        facts = {"description": args.description or preset["description"],
                 "training": dict(training, data=args.data, steps=step,
                                  wall_time_hours=round(
                                      wall_time_hours(args.run), 2),
                                  machine=f"{os.cpu_count()} CPU cores, "
                                          "no GPU")}
        facts["training"].update(cumulative(
            preset, facts["training"], codec.fingerprint().hex()))
        if args.results:
            document = json.loads(args.results.read_text())
            facts["results"] = results(document, codec.model_name)
        plot = args.plot.read_bytes() if args.plot else None
        directory = shipped.ship(codec, codec.model_name, facts, args.force,
                                 plot, args.retire_as)
    except (TfgancompError, OSError) as e:
        sys.exit(f"ship_model.py: error: {e}")
    print(f"{directory}: {shipped.size_bytes(directory) / 1e6:.1f} MB, "
          f"step {step}")


if __name__ == "__main__":
    main()
