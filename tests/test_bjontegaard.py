"""BD-rate, BD-PSNR, the PCHIP under them, and bits saved at equal PSNR."""

import numpy as np
import pytest
from scipy.interpolate import PchipInterpolator

from tfgancomp.evaluation.bjontegaard import (
    CurveError,
    Pchip,
    bd_psnr,
    bd_rate,
    bits_saved_at_equal_psnr,
    rate_at_psnr,
)

# "Test 1" of the FAU-LMS `bjontegaard` package's README (libx265 presets,
# measured with ffmpeg). Its bd_rate/bd_psnr(..., method="pchip") (version
# 1.3.0), which its authors report to match the JVET CTC spreadsheet to 10
# decimals, give -4.417485350589045 % and 0.11969278542479489 dB.
ANCHOR = ([9487.76, 4593.60, 2486.44, 1358.24], [40.037, 38.615, 36.845,
                                                 34.851])
TEST = ([9787.80, 4469.00, 2451.52, 1356.24], [40.121, 38.651, 36.970,
                                               34.987])


def test_published_worked_example():
    assert bd_rate(*ANCHOR, *TEST) == pytest.approx(-4.417485350589045,
                                                    abs=1e-9)
    assert bd_psnr(*ANCHOR, *TEST) == pytest.approx(0.11969278542479489,
                                                    abs=1e-9)


def test_identical_curves_give_zero():
    assert bd_rate(*ANCHOR, *ANCHOR) == pytest.approx(0, abs=1e-12)
    assert bd_psnr(*ANCHOR, *ANCHOR) == pytest.approx(0, abs=1e-12)


def test_rates_scaled_by_0_9_give_minus_ten_percent():
    rates, psnrs = ANCHOR
    scaled = [0.9 * r for r in rates]
    assert bd_rate(rates, psnrs, scaled, psnrs) == pytest.approx(-10,
                                                                 abs=0.1)
    # Swapping anchor and test: 1/0.9 - 1 = +11.1%.
    assert bd_rate(scaled, psnrs, rates, psnrs) == pytest.approx(
        100 / 9, abs=1e-6)


def test_hand_computation_on_straight_lines():
    """PSNR = 10·log10(rate) + c is a straight line in the log domain, which
    PCHIP reproduces exactly. Anchor: c = 30 on rates 1..8; test: c = 31.
    Over the PSNRs both cover, the test needs 10^(-1/10) of the anchor's
    rate everywhere: BD-rate = 100·(10^-0.1 − 1) = −20.567%, and at every
    rate it is 1 dB better: BD-PSNR = +1 dB."""
    rates = [1, 2, 4, 8]
    anchor = [10 * np.log10(r) + 30 for r in rates]
    test = [10 * np.log10(r) + 31 for r in rates]
    assert bd_rate(rates, anchor, rates, test) == pytest.approx(
        100 * (10**-0.1 - 1), abs=1e-9)
    assert bd_psnr(rates, anchor, rates, test) == pytest.approx(1, abs=1e-9)


def test_a_rate_window_counts_only_the_rates_inside_it():
    """Anchor: PSNR = 10·log10(r) + 30 on rates 1..16. Test: the same line
    1 dB higher up to rate 4, then half as steep. PCHIP reproduces the
    lines exactly away from the bend, so within 1–2 bpp the test is the
    +1 dB line: −20.567% and +1 dB, as on straight lines."""
    rates = [1, 2, 4, 8, 16]
    anchor = [10 * np.log10(r) + 30 for r in rates]
    test = [10 * np.log10(r) + 31 for r in rates[:3]] + [
        5 * np.log10(r / 4) + 10 * np.log10(4) + 31 for r in rates[3:]]
    inside = bd_rate(rates, anchor, rates, test, window=(1, 2))
    assert inside == pytest.approx(100 * (10**-0.1 - 1), abs=1e-9)
    assert bd_psnr(rates, anchor, rates, test, window=(1, 2)) == (
        pytest.approx(1, abs=1e-9))
    whole = bd_rate(rates, anchor, rates, test)
    assert whole > inside + 1  # the flatter top costs bits outside
    # A window wider than both sweeps changes nothing.
    assert bd_rate(*ANCHOR, *TEST, window=(1, 1e5)) == pytest.approx(
        bd_rate(*ANCHOR, *TEST), abs=1e-9)
    # Each curve is cut where its own rate crosses the window's edge.
    halved = [r / 2 for r in rates]
    assert bd_rate(rates, anchor, halved, anchor, window=(2, 8)) == (
        pytest.approx(-50, abs=1e-6))
    with pytest.raises(CurveError, match="0 < low < high"):
        bd_rate(*ANCHOR, *TEST, window=(1.0, 0.1))
    with pytest.raises(CurveError, match="inside the rate window"):
        bd_rate(rates, anchor, rates, test, window=(20, 30))


def test_point_order_and_two_point_curves():
    rates, psnrs = ANCHOR
    assert bd_rate(rates[::-1], psnrs[::-1], *TEST) == pytest.approx(
        bd_rate(*ANCHOR, *TEST))
    # Two points: a straight line in (PSNR, log rate).
    value = bd_rate(rates[1:3], psnrs[1:3], [r / 2 for r in rates[1:3]],
                    psnrs[1:3])
    assert value == pytest.approx(-50)


def test_undefined_cases_raise_curve_errors():
    rates, psnrs = ANCHOR
    with pytest.raises(CurveError, match="overlap"):
        bd_rate(rates, psnrs, rates, [p + 20 for p in psnrs])
    with pytest.raises(CurveError, match="2 or more"):
        bd_rate(rates, psnrs, [1000], [37.0])
    with pytest.raises(CurveError, match="positive"):
        bd_rate(rates, psnrs, [0, 10, 20, 30], psnrs)


@pytest.mark.parametrize("n", [2, 3, 4, 9])
def test_pchip_matches_scipy(n):
    rng = np.random.default_rng(n)
    for _ in range(20):
        x = np.sort(rng.choice(np.linspace(0, 10, 101), n, replace=False))
        y = rng.normal(size=n)
        ours, scipy = Pchip(x, y), PchipInterpolator(x, y)
        at = np.linspace(x[0], x[-1], 37)
        np.testing.assert_allclose(ours(at), scipy(at), atol=1e-12)
        a, b = np.sort(rng.uniform(x[0], x[-1], 2))
        assert ours.integrate(a, b) == pytest.approx(scipy.integrate(a, b),
                                                     abs=1e-12)


def test_rate_at_psnr_interpolates_inside_the_sweep_only():
    rates, psnrs = ANCHOR
    assert rate_at_psnr(rates, psnrs, psnrs[1]) == pytest.approx(rates[1])
    assert rates[2] < rate_at_psnr(rates, psnrs, 37.5) < rates[1]
    assert rate_at_psnr(rates, psnrs, 41.0) is None
    assert rate_at_psnr([1.0], [30.0], 30.0) is None


def test_bits_saved_at_equal_psnr():
    sweep = list(zip(*ANCHOR))
    # Image 1 at 80% of the anchor's rate for the same PSNR, image 2 at 60%,
    # image 3 at a PSNR outside the anchor's sweep: left out.
    test = [(0.8 * ANCHOR[0][1], ANCHOR[1][1]),
            (0.6 * ANCHOR[0][2], ANCHOR[1][2]), (100.0, 50.0)]
    saved = bits_saved_at_equal_psnr(test, [sweep, sweep, sweep])
    assert saved.mean_rate_ratio == pytest.approx(0.7)
    assert saved.percent == pytest.approx(30)
    assert (saved.images_used, saved.images_total) == (2, 3)
    nothing = bits_saved_at_equal_psnr([(100.0, 50.0)], [sweep])
    assert nothing.percent is None and nothing.images_used == 0
