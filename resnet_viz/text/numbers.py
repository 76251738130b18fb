"""How numbers read, in one place: ratios, fractions, percentages, and the words for the regime
or band a measurement names. The judgements themselves (is_number, ratio, first_last, regime,
band, within_band and their thresholds) live one floor down in resnet_viz.engine.numbers, where the
science grades with them; they are re-exported here for the sentence builders.

Every sentence builder in resnet_viz.text formats its numbers here, so a ratio reads "13,400x" on
every page (never 1.34e+04x) and a measured ratio always gets the same regime name from the same
thresholds. Nothing here raises on a zero, an inf or a NaN: those are regimes of their own ("no
gradient at all", "not finite"). The few words here go through `_()` like every sentence.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal

from ..engine.numbers import (
    DEGRADED_POINTS,
    REGIMES,
    SAME_BAND,
    VANISHED,
    Regime,
    band,
    first_last,
    is_number,
    ratio,
    regime,
    within_band,
)
from . import _


def times(factor: float | None, digits: int = 3) -> str:
    """1.04x, 37x, 13,400x, 2,300,000x: readable at any size, never 1.34e+04x (`digits`
    significant digits below 1000)."""
    if not is_number(factor):
        return _("an undefined factor")
    f = abs(float(factor))  # type: ignore[arg-type]
    if f < 1000:
        shown = f"{f:.{digits}g}"
    elif f < 1e15:
        shown = f"{float(f'{f:.3g}'):,.0f}"
    else:
        shown = f"{f:.2g}"  # astronomically large: digits would be noise
    return _("{value}x").format(value=shown)


def num(v: float | None) -> str:
    """A measured value: 0.597, 2.53, 3,640, 2,500,000, 4.6e-07 (thousands separators, no 3.64e+03)."""
    if not is_number(v):
        return _("not finite")
    v = float(v)  # type: ignore[arg-type]
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e15):
        return f"{v:.2g}"
    if abs(v) >= 1000:
        return f"{float(f'{v:.3g}'):,.0f}"
    return f"{v:.3g}"


def fraction(r: float | None) -> str:
    """0.31, 0.0032, 3.2e-05: a small ratio with two significant digits."""
    if not is_number(r):
        return _("undefined")
    return f"{float(r):.2g}"  # type: ignore[arg-type]


def amount(r: float | None) -> str:
    """How much of something is kept: a fraction below 1 (0.0032), a factor from 1 up (13,400x)."""
    return times(r) if is_number(r) and r >= 1 else fraction(r)  # type: ignore[operator]


def larger_smaller(r: float) -> tuple[Literal["larger", "smaller"], str]:
    """For a positive ratio: which way it goes and by what factor, so that a template can say
    "13,400x larger than" or "3.23x smaller than" (never "0.0001x"). The key picks the template."""
    if not is_number(r) or r <= 0:  # a ratio that under- or overflowed: no factor to show, no raise
        return ("larger" if r == math.inf else "smaller", times(None))
    return ("larger", times(r)) if r >= 1 else ("smaller", times(1 / r))


def regime_factor(reg: Regime, r: float) -> str:
    """The factor a sentence about regime `reg` shows for a positive ratio `r`: "1.4x" (that) when
    flat, else how many times smaller (vanishing, shrinking) or larger (growing, exploding)."""
    return times(r, digits=2) if reg == "flat" else larger_smaller(r)[1]


def pct(x: float | None) -> str:
    """A share as a percentage: 37.5%, 99.95%; "-" when missing."""
    if not is_number(x):
        return "-"
    x = float(x)  # type: ignore[arg-type]
    return f"{100 * x:.1f}%" if 0.001 < x < 0.999 else f"{100 * x:.2f}%"


def percent_value(x: float, digits: int = 1) -> str:
    """A value already in percent (a training error of 75.0): the number alone, `digits` decimals;
    the template writes the % sign (or "points" for a gap)."""
    return f"{x:.{digits}f}" if is_number(x) else _("not finite")


def listing(items: Iterable[str]) -> str:
    """Items of a list inside a sentence (names, seeds), with the language's separator."""
    return _(", ").join(items)


def not_finite(v: object) -> str:
    """The words for a value that is not a finite number: NaN, an infinity, or missing."""
    if isinstance(v, float) and math.isnan(v):
        return _("not a number")
    if isinstance(v, float) and math.isinf(v):
        return _("not finite")
    return _("undefined")


def percent(x: float | None) -> str:
    """A share of a whole (an accuracy, a fraction of paths) as `numbers.pct` writes it (37.5%,
    99.95%), or words when it is not a finite number: a sentence never shows pct's table dash."""
    return pct(x) if is_number(x) else not_finite(x)


def share(x: float | None) -> str:
    """A relative size that may pass 100% (||F(x)|| / ||x|| = 130%): a whole percent, one
    decimal below 10% (4.5%, 23%, 130%)."""
    if not is_number(x):
        return not_finite(x)
    v = 100 * float(x)  # type: ignore[arg-type]
    if abs(v) >= 1e6:
        return f"{num(v)}%"  # a share this size is an outlier: three digits, never a wall of them
    return f"{v:.1f}%" if abs(v) < 10 else f"{v:,.0f}%"


def change(x: float | None) -> str:
    """A signed relative change in percent, one decimal: -4.3%, +12.0%."""
    if not is_number(x):
        return not_finite(x)
    v = 100 * float(x)  # type: ignore[arg-type]
    return f"{v:+.1f}%" if abs(v) < 1e6 else f"{'+' if v > 0 else '-'}{num(abs(v))}%"


def points(x: float | None) -> str:
    """A difference of two accuracies in percentage points, one decimal: 0.1 -> 10.0."""
    if not is_number(x):
        return not_finite(x)
    v = 100 * float(x)  # type: ignore[arg-type]
    return f"{v:.1f}" if abs(v) < 1e6 else num(v)


def count(n: int) -> str:
    """An exact whole count with thousands separators (269,722 parameters): never rounded."""
    return f"{n:,}" if is_number(n) else not_finite(n)


__all__ = [
    "DEGRADED_POINTS",
    "REGIMES",
    "SAME_BAND",
    "VANISHED",
    "amount",
    "band",
    "change",
    "count",
    "first_last",
    "fraction",
    "is_number",
    "larger_smaller",
    "listing",
    "not_finite",
    "num",
    "pct",
    "percent",
    "percent_value",
    "points",
    "ratio",
    "regime",
    "regime_factor",
    "share",
    "times",
    "within_band",
]
