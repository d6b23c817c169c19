"""Whether mixed_bfloat16 can be fast on this machine.

TensorFlow 2.14's CPU kernels compute bfloat16 fast only through oneDNN on
CPUs with AVX512_BF16 or AMX (where TensorFlow also turns oneDNN on by
default). Elsewhere bfloat16 is emulated by Eigen: convolution gradients
(Conv2DBackpropFilter and Conv2DBackpropInput, which is also the forward
pass of every transposed convolution) run 10–40× slower than in float32 and
a whole training step about 15× slower; with `TF_ENABLE_ONEDNN_OPTS=1` on
such a CPU, grappler even fuses Conv2D + BiasAdd into a `_FusedConv2D` that
has no bfloat16 kernel, and the step fails. See BUILD_NOTES.md.
"""

from __future__ import annotations

import os

BFLOAT16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags() -> set[str] | None:
    """The CPU's feature flags (Linux), or None if they cannot be read."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return None


def bfloat16_problem() -> str | None:
    """Why mixed_bfloat16 training would be slow here, or None (also when
    it cannot tell, and when there is a GPU)."""
    import tensorflow as tf
    if tf.config.list_physical_devices("GPU"):
        return None
    flags = cpu_flags()
    if flags is None:
        return None
    if not flags & set(BFLOAT16_CPU_FLAGS):
        return ("mixed_bfloat16 needs a CPU with AVX512_BF16 or AMX; on "
                "this one TensorFlow emulates bfloat16 and trains about 15x "
                "slower than float32: use --precision=float32")
    if os.environ.get("TF_ENABLE_ONEDNN_OPTS", "").strip().lower() in (
            "0", "false", "off"):
        return ("mixed_bfloat16 needs oneDNN, which TF_ENABLE_ONEDNN_OPTS "
                "turns off: unset it")
    return None
