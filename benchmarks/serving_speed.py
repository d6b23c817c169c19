"""Load + first compress: the store format against the exported SavedModels.

    python benchmarks/serving_speed.py --model runs/a [--export serving/]

Each measurement runs in a fresh process, as one `tfgancomp` command
would; the two formats alternate so that both see the same machine load.
Without --export, the model is exported to a temporary directory first.
Prints one table; compare ratios within a run, not across runs.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

_CHILD = """
import json, sys, time
start = time.perf_counter()
import numpy as np
import tensorflow as tf
import tfgancomp
times = {"import": time.perf_counter() - start}
rng = np.random.default_rng(0)
yy, xx = np.mgrid[0:512, 0:768]
image = np.clip(127 + 60 * np.sin(xx / 17.0)[..., None]
                * np.cos(yy / 23.0)[..., None]
                + rng.normal(0, 8, (512, 768, 3)), 0, 255).astype(np.uint8)
start = time.perf_counter()
model = tfgancomp.load_model(sys.argv[1])
times["load"] = time.perf_counter() - start
for name in ("first compress", "second compress"):
    start = time.perf_counter()
    data = tfgancomp.compress(image, model)
    times[name] = time.perf_counter() - start
for name in ("first decompress", "second decompress"):
    start = time.perf_counter()
    tfgancomp.decompress(data, model)
    times[name] = time.perf_counter() - start
print(json.dumps(times))
"""


def measure(path: str) -> dict:
    result = subprocess.run([sys.executable, "-c", _CHILD, path],
                            check=True, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True,
                        help="model directory (store format)")
    parser.add_argument("--export", help="export directory of that model")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as temp:
        export = args.export
        if export is None:
            export = os.path.join(temp, "serving")
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, os.path.join(os.path.dirname(__file__), "..",
                                              "export", "export.py"),
                 f"--model_dir={args.model}", f"--export_dir={export}"],
                check=True, capture_output=True)
            print(f"export (one process): {time.perf_counter() - start:.1f} s")
        runs = {"store": [], "export": []}
        for _ in range(args.repeats):
            runs["store"].append(measure(args.model))
            runs["export"].append(measure(export))

    keys = list(runs["store"][0])
    print(f"768x512 image, median of {args.repeats} fresh processes each")
    print(f"{'seconds':<24}{'store':>8}{'export':>8}")
    for key in keys + ["load + first compress"]:
        row = []
        for name in ("store", "export"):
            values = [r["load"] + r["first compress"]
                      if key == "load + first compress" else r[key]
                      for r in runs[name]]
            row.append(statistics.median(values))
        print(f"{key:<24}{row[0]:>8.2f}{row[1]:>8.2f}")


if __name__ == "__main__":
    main()
