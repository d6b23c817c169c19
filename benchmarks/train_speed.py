"""Training steps per second: our codec in float32 and mixed_bfloat16, with
and without the discriminator, next to tensorflow-compression's own
`models/bmshj2018.py` at the same width, batch and patch.

    python benchmarks/train_speed.py --tfc_models /work/scratch/tfc \\
        [--preset default-mse] [--batch_size 8] [--patch_size 128] \\
        [--repeats 3] [--steps 2] [--onednn default,on] \\
        [--train_glob 'photos/*.jpg']
    python benchmarks/train_speed.py --quality_steps 300 \\
        --train_glob 'train/*.jpg' --validation_glob 'test/*.jpg' \\
        [--num_filters 32 ...]

Every configuration lives in a worker process per oneDNN setting
(`TF_ENABLE_ONEDNN_OPTS` is read once, at TensorFlow's import), built and
traced once; the workers then take turns, one configuration at a time, for
`--repeats` rounds, so that the load of this shared machine hits all of them
alike. The table gives the median steps/s and its ratio to our float32 step
(without the discriminator) under TensorFlow's default oneDNN setting.

`--tfc_models` is a directory holding tfc's `bmshj2018.py` (fetched outside
this repository, never committed; v2.14.1 matches our pins). That model is a
scale-only hyperprior of one width; it is built here with our widths
(filters, latents, hyper filters, hyper channels) by swapping the last layer
of its analysis, hyper-analysis and hyper-synthesis, and trained by its own
Keras train function (what `fit()` runs per step).

`--train_glob` also times the input pipeline alone (batches/s), to check
that the step, not the data, is the bottleneck. `--quality_steps N` instead
trains our codec N steps in each precision from the same initial weights on
the same batches and reports PSNR and bpp (estimate and real range-coded
size) on central crops of `--validation_glob`.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from tfgancomp.training.precision import BFLOAT16_CPU_FLAGS, cpu_flags

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

PREFIX = "@@"  # marks protocol lines on a worker's stdout
CONFIGS = ("ours/float32/rd", "ours/float32/gan", "ours/mixed_bfloat16/rd",
           "ours/mixed_bfloat16/gan", "tfc/float32", "tfc/mixed_bfloat16")


# The worker: builds configurations, then times them on request.

def _widths(args):
    from tfgancomp import presets
    model = dict(presets.load(args.preset)["model"])
    for key in ("num_filters", "latent_channels", "hyper_filters",
                "hyper_channels"):
        if getattr(args, key) is not None:
            model[key] = getattr(args, key)
    return model


def _ours(args, precision, adversarial):
    import tensorflow as tf

    from tfgancomp.model.config import ModelConfig
    from tfgancomp.training.config import TrainConfig
    from tfgancomp.training.trainer import Trainer
    tf.keras.utils.set_random_seed(0)
    config = TrainConfig(gan_weight=0.1 if adversarial else 0.0,
                         precision=precision, learning_rate=1e-4)
    trainer = Trainer(tempfile.mkdtemp(), ModelConfig(**_widths(args)),
                      config)
    return trainer


def _tfc_model(args, precision):
    import tensorflow as tf
    import tensorflow_compression as tfc
    sys.path.insert(0, args.tfc_models)
    import bmshj2018

    w = _widths(args)

    class Model(bmshj2018.BMSHJ2018Model):
        """bmshj2018 at our widths: only the layers whose width differs."""

        def __init__(self, lmbda, num_scales=64, scale_min=.11,
                     scale_max=256.):
            tf.keras.Model.__init__(self)
            self.lmbda, self.num_scales = lmbda, num_scales
            offset = tf.math.log(scale_min)
            factor = (tf.math.log(scale_max) - offset) / (num_scales - 1.)
            self.scale_fn = lambda i: tf.math.exp(offset + factor * i)
            conv = tfc.SignalConv2D
            self.analysis_transform = bmshj2018.AnalysisTransform(
                w["num_filters"])
            self.analysis_transform.pop()
            self.analysis_transform.add(conv(
                w["latent_channels"], (5, 5), name="layer_3", corr=True,
                strides_down=2, padding="same_zeros", use_bias=True))
            self.synthesis_transform = bmshj2018.SynthesisTransform(
                w["num_filters"])
            self.hyper_analysis_transform = bmshj2018.HyperAnalysisTransform(
                w["hyper_filters"])
            self.hyper_analysis_transform.pop()
            self.hyper_analysis_transform.add(conv(
                w["hyper_channels"], (5, 5), name="layer_2", corr=True,
                strides_down=2, padding="same_zeros", use_bias=False))
            self.hyper_synthesis_transform = (
                bmshj2018.HyperSynthesisTransform(w["hyper_filters"]))
            self.hyper_synthesis_transform.pop()
            self.hyper_synthesis_transform.add(conv(
                w["latent_channels"], (3, 3), name="layer_2", corr=False,
                strides_up=1, padding="same_zeros", use_bias=True,
                kernel_parameter="variable"))
            self.hyperprior = tfc.NoisyDeepFactorized(
                batch_shape=(w["hyper_channels"],))
            self.build((None, None, None, 3))

    tf.keras.mixed_precision.set_global_policy(precision)
    try:
        model = Model(lmbda=0.01)
        # As bmshj2018.train compiles it.
        model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=1e-4))
    finally:
        tf.keras.mixed_precision.set_global_policy("float32")
    return model


def _step_function(args, name, images):
    """A callable running one training step of configuration `name`."""
    import tensorflow as tf
    kind, precision, *phase = name.split("/")
    if kind == "ours":
        adversarial = phase == ["gan"]
        trainer = _ours(args, precision, adversarial)
        return lambda: float(trainer.train_step(images, adversarial)["loss"])
    model = _tfc_model(args, precision)
    train = model.make_train_function()
    batches = iter(tf.data.Dataset.from_tensors(images * 255.).repeat())
    return lambda: float(train(batches)["loss"])


def _pipeline_rate(args, seconds=20.0):
    from tfgancomp.training.data import folder_dataset
    batches = iter(folder_dataset(args.train_glob, args.patch_size,
                                  args.batch_size))
    for _ in range(20):  # fill the cache, shuffle buffer and prefetch
        next(batches)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        next(batches)
        count += 1
    return count / (time.perf_counter() - start)


def _quality(args, precision):
    """Trains `quality_steps` steps, then PSNR / bpp on held-out crops."""
    import numpy as np
    import tensorflow as tf

    from tfgancomp.model.config import ModelConfig
    from tfgancomp.training import losses, validation
    from tfgancomp.training.config import TrainConfig
    from tfgancomp.training.data import (
        central_patch,
        folder_dataset,
        image_files,
    )
    from tfgancomp.training.trainer import Trainer
    tf.keras.utils.set_random_seed(0)
    dataset = folder_dataset(args.train_glob, args.patch_size,
                             args.batch_size)
    tf.keras.utils.set_random_seed(0)  # the same initial weights
    config = TrainConfig(lmbda=0.003, learning_rate=3e-4,
                         precision=precision,
                         max_steps=args.quality_steps, log_every=10**9,
                         summary_every=10**9, validate_every=10**9,
                         checkpoint_every=10**9)
    trainer = Trainer(tempfile.mkdtemp(), ModelConfig(**_widths(args)),
                      config)
    start = time.perf_counter()
    trainer.fit(dataset, log=open(os.devnull, "w"))
    seconds = time.perf_counter() - start
    codec = trainer.codec  # fit has fixed its range-coding tables
    psnrs, bpps, real = [], [], []
    for path in image_files(args.validation_glob)[:args.validation_images]:
        image = tf.image.decode_image(tf.io.read_file(path), channels=3,
                                      expand_animations=False)
        crop = tf.cast(central_patch(image, 256), tf.uint8)
        x = tf.cast(crop, tf.float32)[None] / 255.
        forward = codec(x, training=False)
        pixels = 256 * 256
        bpps.append(float(forward.bits[0] + forward.side_bits[0]) / pixels)
        psnrs.append(float(validation.psnr(losses.mse_255(
            x, tf.clip_by_value(forward.reconstruction, 0., 1.)))))
        string, side = codec.compress(crop)
        real.append(8 * (len(string.numpy()) + len(side.numpy())) / pixels)
    return {"psnr": float(np.mean(psnrs)), "bpp": float(np.mean(bpps)),
            "file_bpp": float(np.mean(real)), "seconds": seconds,
            "images": len(psnrs)}


def worker(args):
    import numpy as np
    import tensorflow as tf
    if args.threads:
        intra, inter = (int(n) for n in args.threads.split(","))
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)

    def reply(value):
        print(PREFIX, json.dumps(value), flush=True)

    rng = np.random.default_rng(0)
    images = tf.constant(rng.uniform(size=(
        args.batch_size, args.patch_size, args.patch_size, 3)), tf.float32)
    steps = {}
    for line in sys.stdin:
        command = json.loads(line)
        try:
            result = _serve(args, command, steps, images)
        except Exception as error:  # reported, and the others go on
            result = {"error": f"{type(error).__name__}: "
                      f"{str(error).strip().splitlines()[0][:160]}"}
        if result is None:
            return
        reply(result)


def _serve(args, command, steps, images):
    """One command of the parent; None to exit."""
    what = command["do"]
    if what == "build":
        name = command["config"]
        start = time.perf_counter()
        steps[name] = _step_function(args, name, images)
        steps[name]()  # traces
        trace = time.perf_counter() - start
        steps[name]()
        return {"trace": trace}
    if what == "time":
        step = steps[command["config"]]
        start = time.perf_counter()
        for _ in range(command["steps"]):
            step()
        return {"seconds": time.perf_counter() - start}
    if what == "pipeline":
        return {"rate": _pipeline_rate(args)}
    if what == "quality":
        return _quality(args, command["precision"])
    return None  # exit


# The parent: starts workers, interleaves them, prints the table.

class Worker:
    def __init__(self, onednn: str, argv: list[str]):
        env = dict(os.environ)
        if onednn != "default":
            env["TF_ENABLE_ONEDNN_OPTS"] = "1" if onednn == "on" else "0"
        self.onednn = onednn
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--worker", *argv], env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def send(self, **command):
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()

    def receive(self) -> dict:
        for line in self.process.stdout:
            if line.startswith(PREFIX):
                return json.loads(line[len(PREFIX):])
        raise RuntimeError(f"worker (oneDNN {self.onednn}) died")

    def ask(self, **command) -> dict:
        self.send(**command)
        return self.receive()

    def close(self):
        try:
            self.send(do="exit")
        except OSError:  # it died
            pass
        self.process.wait()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="default-mse",
                        help="whose model widths to train")
    for key in ("num_filters", "latent_channels", "hyper_filters",
                "hyper_channels"):
        parser.add_argument(f"--{key}", type=int,
                            help="overrides the preset's")
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--patch_size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3,
                        help="interleaved rounds over all configurations")
    parser.add_argument("--steps", type=int, default=2,
                        help="timed steps per configuration and round")
    parser.add_argument("--configs", default=",".join(CONFIGS),
                        help=f"comma-separated subset of {', '.join(CONFIGS)}")
    parser.add_argument("--onednn", default="default",
                        help="comma-separated TF_ENABLE_ONEDNN_OPTS settings "
                        "to compare: default (unset), on, off")
    parser.add_argument("--threads", default="",
                        help="intra,inter op threads (default: TF's)")
    parser.add_argument("--tfc_models",
                        help="directory holding tfc's models/bmshj2018.py")
    parser.add_argument("--train_glob", help="photos for the pipeline check "
                        "and --quality_steps")
    parser.add_argument("--validation_glob", help="held-out photos")
    parser.add_argument("--validation_images", type=int, default=24)
    parser.add_argument("--quality_steps", type=int, default=0)
    parser.add_argument("--worker", action="store_true",
                        help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def speed(args, argv):
    configs = [c for c in args.configs.split(",") if c]
    unknown = set(configs) - set(CONFIGS)
    if unknown:
        sys.exit(f"unknown configurations: {', '.join(sorted(unknown))}")
    if any(c.startswith("tfc/") for c in configs) and not args.tfc_models:
        sys.exit("tfc configurations need --tfc_models")
    workers = [Worker(o, argv) for o in args.onednn.split(",")]
    try:
        # Workers build (and trace) in parallel: a command to each, then
        # the replies.
        cases = [(w, c) for w in workers for c in configs]
        traces, errors = {}, {}
        native = bool(set(BFLOAT16_CPU_FLAGS) & (cpu_flags() or set()))
        for c in configs:
            building = []
            for w in workers:
                if "bfloat16" in c and w.onednn == "on" and not native:
                    errors[w, c] = ("not run: without AVX512_BF16/AMX, "
                                    "grappler makes a bfloat16 _FusedConv2D "
                                    "that has no kernel")
                    continue
                w.send(do="build", config=c)
                building.append(w)
            for w in building:
                reply = w.receive()
                print(f"built {c} (oneDNN {w.onednn}): {reply}",
                      file=sys.stderr, flush=True)
                if "error" in reply:
                    errors[w, c] = reply["error"]
                else:
                    traces[w, c] = reply["trace"]
        pipeline = (workers[0].ask(do="pipeline").get("rate")
                    if args.train_glob else None)
        rates = {case: [] for case in cases if case not in errors}
        for _ in range(args.repeats):
            for case in rates:
                w, c = case
                reply = w.ask(do="time", config=c, steps=args.steps)
                rates[case].append(args.steps / reply["seconds"])
                print(f"{c} (oneDNN {w.onednn}): {rates[case][-1]:.3f} "
                      f"steps/s", file=sys.stderr, flush=True)
    finally:
        for w in workers:
            w.close()
    flags = cpu_flags() or set()
    bf16 = sorted(f for f in flags if "bf16" in f) or ["none"]
    widths = _widths(args)
    print(f"model {widths['num_filters']}/{widths['latent_channels']} "
          f"(hyper {widths['hyper_filters']}/{widths['hyper_channels']}), "
          f"batch {args.batch_size}, patch {args.patch_size}; "
          f"{args.repeats} rounds of {args.steps} steps; "
          f"CPU bf16 flags: {', '.join(bf16)}; "
          f"avx512f: {'avx512f' in flags}")
    base_key = (workers[0], "ours/float32/rd")
    base = (statistics.median(rates[base_key]) if base_key in rates
            else None)
    print(f"{'configuration':26s} {'oneDNN':8s} {'steps/s':>8s} "
          f"{'min-max':>13s} {'ratio':>7s} {'trace s':>8s}")
    for w, c in cases:
        if (w, c) in errors:
            print(f"{c:26s} {w.onednn:8s} fails: {errors[w, c]}")
            continue
        r = rates[w, c]
        median = statistics.median(r)
        ratio = f"{median / base:6.3f}x" if base else "-"
        print(f"{c:26s} {w.onednn:8s} {median:8.3f} "
              f"{min(r):6.3f}-{max(r):6.3f} {ratio:>7s} "
              f"{traces[w, c]:8.1f}")
    if pipeline is not None:
        print(f"input pipeline alone: {pipeline:.1f} batches/s "
              f"({args.train_glob})")


def quality(args, argv):
    if not (args.train_glob and args.validation_glob):
        sys.exit("--quality_steps needs --train_glob and --validation_glob")
    workers = {p: Worker("default", argv)
               for p in ("float32", "mixed_bfloat16")}
    try:
        for p, w in workers.items():
            w.send(do="quality", precision=p)
        results = {p: w.receive() for p, w in workers.items()}
    finally:
        for w in workers.values():
            w.close()
    widths = _widths(args)
    print(f"model {widths['num_filters']}/{widths['latent_channels']}, "
          f"batch {args.batch_size}, patch {args.patch_size}, "
          f"{args.quality_steps} steps; central 256-px crops of "
          f"{results['float32']['images']} held-out images")
    print(f"{'precision':16s} {'PSNR dB':>8s} {'bpp est':>8s} "
          f"{'bpp file':>9s} {'train s':>8s}")
    for p, r in results.items():
        print(f"{p:16s} {r['psnr']:8.2f} {r['bpp']:8.4f} "
              f"{r['file_bpp']:9.4f} {r['seconds']:8.0f}")


def main():
    argv = sys.argv[1:]
    args = parse_args(argv)
    if args.worker:
        return worker(args)
    argv = [a for a in argv if a != "--worker"]
    if args.quality_steps:
        return quality(args, argv)
    return speed(args, argv)


if __name__ == "__main__":
    main()
