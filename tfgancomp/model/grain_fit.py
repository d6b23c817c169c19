"""The grain fitted to one image: the gain g an encoder at effort above 0
writes in a file's G section (format version 3), as AV1's encoder fits
its film grain.

The grain branch (grain.py) learned how much grain photos need on
average, place by place, from the decoder's features; one image may need
more or less (detail ratios from 0.23 to 5.9 at realism 1 on held-out
photos at 0.1 bpp, around a mean of 1.26). The grain is independent of the
reconstruction it is added to, so the detail energy it adds grows as the
square of its strength: decoding at realism 0 and 1 gives energies E₀ and
E₁, and the gain at which realism 1 has the original's energy E is

    g² = (E − E₀) / (E₁ − E₀),

which the decode at that gain meets within 4% on held-out photos (the
grain's cross term with the reconstruction averages out). A decoder
draws √r·g·A·n: the grain at realism r·g² (`realism_with`).
"""

from __future__ import annotations

import numpy as np

from tfgancomp.evaluation.metrics import detail_energy
from tfgancomp.formats.bitstream import MAX_GRAIN


def fit(original: np.ndarray, faithful: np.ndarray,
        grained: np.ndarray) -> float | None:
    """The gain for `original` [H, W, 3] given its decodes at realism 0
    (`faithful`) and 1 (`grained`): in [0, MAX_GRAIN], 0 when the faithful
    decode already has the original's detail; None when the grain adds no
    detail to fit, or the image is too small to measure (under 3 px a
    side). The format's MAX_GRAIN, four times the learned grain,
    is ample: 39 held-out photos asked for 0.40 to 2.64 below 0.4 bpp
    (BUILD_NOTES.md, "The grain fitted to each image")."""
    if min(original.shape[:2]) < 3:
        return None
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
