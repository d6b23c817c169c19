"""The grain fitted to one image: the gain g an encoder at effort above 0
writes in a file's G section (format version 3), as AV1's encoder fits
its film grain.

The grain branch (grain.py) learned how much grain photos need on
average, place by place, from the decoder's features; one image may need
more or less (BUILD_NOTES.md, "Realism as learned grain": detail ratios
from 0.5 to 1.6 around a mean of 1). The grain is independent of the
reconstruction it is added to, so the detail energy it adds grows as the
square of its strength: decoding at realism 0 and 1 gives energies E₀ and
E₁, and the gain at which realism 1 has the original's energy E is

    g² = (E − E₀) / (E₁ − E₀),

within half a percent on held-out photos. A decoder draws √r·g·A·n: the
grain at realism r·g² (`realism_with`).
"""

from __future__ import annotations

import numpy as np

from tfgancomp.evaluation.metrics import detail_energy

# The largest gain written: four times the learned grain, sixteen times
# its energy. Held-out photos asked for at most 1.9 (BUILD_NOTES.md).
MAX_GRAIN = 4.0


def fit(original: np.ndarray, faithful: np.ndarray,
        grained: np.ndarray) -> float | None:
    """The gain for `original` [H, W, 3] given its decodes at realism 0
    (`faithful`) and 1 (`grained`): in [0, MAX_GRAIN], 0 when the faithful
    decode already has the original's detail; None when the grain adds no
    detail to fit."""
    energy, faithful, grained = (detail_energy(image) for image in
                                 (original, faithful, grained))
    if grained <= faithful:
        return None
    squared = (energy - faithful) / (grained - faithful)
    return float(np.sqrt(np.clip(squared, 0., MAX_GRAIN**2)))


def realism_with(realism: float | None, grain: float | None,
                 draws_grain: bool) -> float | None:
    """The realism a model decodes at to draw a file's grain gain at
    `realism`: r·g² for a model whose realism is grain, r otherwise (no
    knob, or a file without G)."""
    if realism is None or grain is None or not draws_grain:
        return realism
    return realism * grain**2
