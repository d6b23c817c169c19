"""Averages the codec weights of a run's last checkpoints into a new run.

    python train/average_checkpoints.py --run runs/real --last 4 \\
        --out runs/real-avg

The new run (the mean weights at the last checkpoint's step, the run's
configs and training summaries) evaluates, ships and warm-starts like any
other; see tfgancomp/training/averaging.py. Train with
--keep_checkpoints=N (N at least --last) so that the checkpoints stay.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True)
    parser.add_argument("--last", required=True, type=int,
                        help="how many of its latest checkpoints")
    parser.add_argument("--out", required=True, help="the new run's directory")
    args = parser.parse_args()

    from tfgancomp.errors import TfgancompError
    from tfgancomp.training.averaging import average_checkpoints
    try:
        paths, step = average_checkpoints(args.run, args.last, args.out)
    except (TfgancompError, OSError) as e:
        sys.exit(f"average_checkpoints.py: error: {e}")
    names = ", ".join(os.path.basename(p) for p in paths)
    print(f"{args.out}: the mean of {names} (step {step})")


if __name__ == "__main__":
    main()
