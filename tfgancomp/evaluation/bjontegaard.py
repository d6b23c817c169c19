"""Bjøntegaard deltas between rate-distortion curves, and bits saved at
equal PSNR.

The curves are interpolated piecewise-cubically (PCHIP: the monotone
Hermite interpolation of Fritsch and Carlson, with the three-point end
slopes of Moler's `pchip`), the variant of Bjøntegaard's VCEG-M33 that the
JCT-VC and JVET common-test-condition spreadsheets use. VCEG-M33 itself
fitted one cubic polynomial, which overshoots on some curves.

- BD-rate: log10(rate) as a function of PSNR, for each curve; the mean
  difference (test − anchor) over the PSNR range both curves cover, as the
  exact integral of the cubics divided by the range's width; reported as
  100 · (10^mean − 1) %. Negative: the test needs fewer bits.
- BD-PSNR: PSNR as a function of log10(rate), likewise over the rate range
  both cover; mean test − anchor in dB. Positive: the test is better.
- Either, given a rate `window` (low, high bpp), integrates the same
  interpolants over only the part of that range where both curves' rates
  lie inside the window: a bar stated "between 0.1 and 1 bpp" is measured
  there, not over whatever the sweeps happen to reach.

Points are sorted; points of equal abscissa are merged (mean ordinate). Any
number of points from 2 works: with 2 the interpolation is a straight line,
with 4 or more it is the standard one.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

BD_WINDOW = (0.1, 1.0)  # bpp: the default rate window (issue 13's bar)


class CurveError(ValueError):
    """A curve or pair of curves BD figures are not defined for."""


def _end_slope(h0, h1, delta0, delta1):
    slope = ((2 * h0 + h1) * delta0 - h0 * delta1) / (h0 + h1)
    if np.sign(slope) != np.sign(delta0):
        return 0.0
    if np.sign(delta0) != np.sign(delta1) and abs(slope) > 3 * abs(delta0):
        return 3 * delta0
    return slope


class Pchip:
    """Piecewise cubic Hermite interpolation on increasing `x`."""

    def __init__(self, x: Sequence[float], y: Sequence[float]):
        self.x = np.asarray(x, dtype=np.float64)
        self.y = np.asarray(y, dtype=np.float64)
        if len(self.x) < 2 or np.any(np.diff(self.x) <= 0):
            raise CurveError("PCHIP needs 2 or more increasing abscissae")
        self.h = np.diff(self.x)
        self.d = self._slopes(np.diff(self.y) / self.h)
        full = self.h * (self.y[:-1] + self.y[1:]) / 2 + (
            self.h**2 * (self.d[:-1] - self.d[1:]) / 12)
        self._before = np.concatenate([[0.0], np.cumsum(full)])

    def _slopes(self, delta):
        h = self.h
        if len(delta) == 1:
            return np.array([delta[0], delta[0]])
        d = np.zeros(len(delta) + 1)
        w1 = 2 * h[1:] + h[:-1]
        w2 = h[1:] + 2 * h[:-1]
        same_sign = delta[:-1] * delta[1:] > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            harmonic = (w1 + w2) / (w1 / delta[:-1] + w2 / delta[1:])
        d[1:-1] = np.where(same_sign, harmonic, 0.0)
        d[0] = _end_slope(h[0], h[1], delta[0], delta[1])
        d[-1] = _end_slope(h[-1], h[-2], delta[-1], delta[-2])
        return d

    def _segment(self, at):
        at = np.asarray(at, dtype=np.float64)
        if np.any(at < self.x[0]) or np.any(at > self.x[-1]):
            raise CurveError("PCHIP evaluated outside its points")
        k = np.clip(np.searchsorted(self.x, at, side="right") - 1,
                    0, len(self.h) - 1)
        return k, (at - self.x[k]) / self.h[k]

    def __call__(self, at):
        k, t = self._segment(at)
        h, y0, y1, d0, d1 = (self.h[k], self.y[k], self.y[k + 1],
                             self.d[k], self.d[k + 1])
        return ((2 * t**3 - 3 * t**2 + 1) * y0 + (t**3 - 2 * t**2 + t) * h * d0
                + (3 * t**2 - 2 * t**3) * y1 + (t**3 - t**2) * h * d1)

    def _antiderivative(self, at):
        k, t = self._segment(at)
        h, y0, y1, d0, d1 = (self.h[k], self.y[k], self.y[k + 1],
                             self.d[k], self.d[k + 1])
        return self._before[k] + h * (
            (t**4 / 2 - t**3 + t) * y0
            + (t**4 / 4 - 2 * t**3 / 3 + t**2 / 2) * h * d0
            + (t**3 - t**4 / 2) * y1 + (t**4 / 4 - t**3 / 3) * h * d1)

    def solve(self, value: float) -> float:
        """The abscissa where the interpolant reaches `value` (bisection;
        for increasing ordinates), clamped to the ends."""
        if value <= self.y[0]:
            return float(self.x[0])
        if value >= self.y[-1]:
            return float(self.x[-1])
        low, high = float(self.x[0]), float(self.x[-1])
        for _ in range(60):
            middle = (low + high) / 2
            low, high = ((middle, high) if self(middle) < value
                         else (low, middle))
        return (low + high) / 2

    def integrate(self, a: float, b: float) -> float:
        """The exact integral of the interpolant from a to b."""
        return float(self._antiderivative(b) - self._antiderivative(a))


def _curve(x, y) -> Pchip:
    """The interpolant of y(x): points sorted, equal x merged."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or not (np.all(np.isfinite(x))
                                  and np.all(np.isfinite(y))):
        raise CurveError("curve values must be finite and paired")
    unique, inverse = np.unique(x, return_inverse=True)
    if len(unique) < 2:
        raise CurveError(f"needs 2 or more distinct points, has {len(unique)}")
    merged = np.bincount(inverse, weights=y) / np.bincount(inverse)
    return Pchip(unique, merged)


def _log_rates(rates):
    rates = np.asarray(rates, dtype=np.float64)
    if np.any(~(rates > 0)):
        raise CurveError("rates must be positive")
    return np.log10(rates)


def _mean_difference(anchor: Pchip, test: Pchip, what: str,
                     bounds=None) -> float:
    """Mean test − anchor over the abscissae both cover, within `bounds`
    (low, high) if given."""
    low = max(anchor.x[0], test.x[0])
    high = min(anchor.x[-1], test.x[-1])
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    if not high > low:
        raise CurveError(f"the curves' {what} ranges do not overlap" + (
            " inside the rate window" if bounds is not None else ""))
    return (test.integrate(low, high) - anchor.integrate(low, high)) / (
        high - low)


def _log_window(window):
    """(low, high) bpp → their log10; CurveError unless 0 < low < high."""
    if not 0 < window[0] < window[1]:
        raise CurveError(f"a rate window needs 0 < low < high, got {window}")
    return tuple(np.log10(window))


def bd_rate(anchor_rates, anchor_psnrs, test_rates, test_psnrs,
            window=None) -> float:
    """Bjøntegaard delta rate of test vs anchor, in percent; with a rate
    `window` (low, high), over the PSNRs at which both curves' rates are
    inside it."""
    anchor = _curve(anchor_psnrs, _log_rates(anchor_rates))
    test = _curve(test_psnrs, _log_rates(test_rates))
    bounds = None
    if window is not None:
        low, high = _log_window(window)
        bounds = (max(c.solve(low) for c in (anchor, test)),
                  min(c.solve(high) for c in (anchor, test)))
    mean = _mean_difference(anchor, test, "PSNR", bounds)
    return float(100 * (10**mean - 1))


def bd_psnr(anchor_rates, anchor_psnrs, test_rates, test_psnrs,
            window=None) -> float:
    """Bjøntegaard delta PSNR of test vs anchor, in dB; with a rate
    `window` (low, high), over the rates both cover inside it."""
    return float(_mean_difference(
        _curve(_log_rates(anchor_rates), anchor_psnrs),
        _curve(_log_rates(test_rates), test_psnrs), "rate",
        None if window is None else _log_window(window)))


def rate_at_psnr(rates, psnrs, psnr: float) -> float | None:
    """A sweep's rate at `psnr`: log10(rate) interpolated (PCHIP) as a
    function of PSNR; None outside the sweep's PSNR range (no
    extrapolation) or for a sweep of fewer than 2 distinct PSNRs."""
    try:
        curve = _curve(psnrs, _log_rates(rates))
    except CurveError:
        return None
    if not curve.x[0] <= psnr <= curve.x[-1]:
        return None
    return float(10 ** curve(psnr))


@dataclasses.dataclass
class BitsSaved:
    percent: float | None  # 100 · (1 − mean rate ratio); None: no image
    mean_rate_ratio: float | None  # mean of our rate / anchor's rate
    images_used: int  # images whose PSNR lies within the anchor's sweep
    images_total: int


def bits_saved_at_equal_psnr(
        test: Sequence[tuple[float, float]],
        anchors: Sequence[Sequence[tuple[float, float]]]) -> BitsSaved:
    """Bits a codec saves against an anchor codec at the same PSNR.

    `test[i]` is our (bpp, PSNR) on image i, `anchors[i]` the anchor's
    quality sweep on the same image as (bpp, PSNR) pairs. Per image, the
    anchor's rate at our PSNR comes from `rate_at_psnr`; the ratios our
    rate / anchor's rate are averaged over the images whose PSNR lies
    within the anchor's sweep (the others are left out and not counted in
    `images_used`), and the result is 100 · (1 − mean ratio) %: 20 means
    20% fewer bits than the anchor for the same PSNR.
    """
    if len(test) != len(anchors):
        raise ValueError("one anchor sweep per test point is needed")
    ratios = []
    for (bpp, psnr), sweep in zip(test, anchors):
        rates, psnrs = zip(*sweep) if sweep else ((), ())
        anchor_bpp = rate_at_psnr(rates, psnrs, psnr)
        if anchor_bpp is not None:
            ratios.append(bpp / anchor_bpp)
    if not ratios:
        return BitsSaved(None, None, 0, len(test))
    mean = float(np.mean(ratios))
    return BitsSaved(100 * (1 - mean), mean, len(ratios), len(test))
