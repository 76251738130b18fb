"""The judgements a measurement gets before any word is said about it: whether a value is a finite
number, the ratio of two, the first/last ratio of a per-layer row, the gradient regime that ratio
names (vanishing, shrinking, flat, growing, exploding, zero) and the band a gap in points falls in.

The science grades with these and resnet_viz.text words the same verdicts, so a page and its
exercise can never disagree on where "vanishing" starts. Nothing here raises on a zero, an inf or
a NaN, and nothing here has words: resnet_viz.text.numbers says how the numbers read.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

VANISHED = 1e-2  # first/last below this (100x smaller): vanishing; above 1/VANISHED: exploding
SAME_BAND = 2.0  # within this factor either way the two ends count as "about the same size"
DEGRADED_POINTS = 5.0  # a training-error (or accuracy) gap this many points wide is "trained worse"
Regime = Literal["vanishing", "shrinking", "flat", "growing", "exploding", "zero", "undefined"]
REGIMES: tuple[Regime, ...] = ("vanishing", "shrinking", "flat", "growing", "exploding", "zero", "undefined")
Band = Literal["above", "within", "below"]


def is_number(v: object) -> bool:
    """A finite real number (bools, None, NaN and inf are not)."""
    # every int is finite (and math.isfinite cannot convert one beyond 1e308)
    return isinstance(v, (int, float)) and not isinstance(v, bool) and (isinstance(v, int) or math.isfinite(v))


def ratio(num: float | None, den: float | None) -> float | None:
    """num / den, or None when either is missing or not finite, or den is 0 (0 / x is 0)."""
    if not (is_number(num) and is_number(den)) or den == 0:
        return None
    return float(num) / float(den)  # type: ignore[arg-type]


def first_last(row: Sequence[float | None] | None, *, skip_head: bool = False) -> float | None:
    """row[0] / row[-1], the input side over the output side; with `skip_head`, row[0] / row[-2]:
    a per-layer row whose last entry is the classifier head, left out because it sees the loss
    directly whatever the depth. None when the numbers do not allow a ratio."""
    vals = list(row or [])
    need = 3 if skip_head else 2
    if len(vals) < need:
        return None
    return ratio(vals[0], vals[-2] if skip_head else vals[-1])


def regime(r: float | None, *, first: float | None = None) -> Regime:
    """The name of what a first/last ratio shows; `first` (the input-side value) tells an exact
    zero apart from "no ratio" when the ratio itself is None. Vanishing and shrinking ratios are
    below 1 and growing and exploding ones above, so a sentence's "smaller"/"larger" follows."""
    if r is None:
        return "zero" if first == 0 else "undefined"
    if r == 0:
        return "zero"
    if r < 0:
        return "undefined"
    if r < VANISHED:
        return "vanishing"
    if r < 1 / SAME_BAND:
        return "shrinking"
    if r <= SAME_BAND:
        return "flat"
    if r <= 1 / VANISHED:
        return "growing"
    return "exploding"


def band(gap: float | None) -> Band:
    """Which side of +-DEGRADED_POINTS a gap in percentage points falls: "above" (at least that
    much higher), "below" (at least that much lower), "within" (noise-sized, or not a number)."""
    if not is_number(gap):
        return "within"
    if gap >= DEGRADED_POINTS:  # type: ignore[operator]
        return "above"
    if gap <= -DEGRADED_POINTS:  # type: ignore[operator]
        return "below"
    return "within"


def within_band(a: float | None, b: float | None, band: float = SAME_BAND) -> bool:
    """Two measurements of the same size within a factor of `band` either way: equal, or both
    positive and finite with the larger at most `band` times the smaller. A zero beside a nonzero
    value, a negative value, a NaN or an inf is never within a factor of another. The one test of
    "about the same" for every pair of positive measurements (rises, curvatures, distances from
    the identity in resnet_viz.analysis.construction)."""
    if not (is_number(a) and is_number(b)):
        return False
    if a == b:
        return True
    lo, hi = sorted((float(a), float(b)))  # type: ignore[arg-type]
    return lo > 0 and hi / lo <= band
