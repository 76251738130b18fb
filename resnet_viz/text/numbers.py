"""How numbers read, in one place: ratios, fractions, percentages and gradient regimes.

Every sentence builder (theory, readings, quizzes, lessons) formats its numbers here, so a ratio
reads "13,400x" on every page (never 1.34e+04x) and a measured ratio always gets the same regime
name from the same thresholds. Nothing here raises on a zero, an inf or a NaN: those are regimes
of their own ("no gradient at all", "not finite").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

VANISHED = 1e-2  # first/last below this (100x smaller): vanishing; above 1/VANISHED: exploding
SAME_BAND = 2.0  # within this factor either way the two ends count as "about the same size"

Regime = Literal["vanishing", "shrinking", "flat", "growing", "exploding", "zero", "undefined"]

# What each regime says about a gradient followed from the output back to the input.
REGIME_WORDS: dict[str, str] = {
    "vanishing": "it vanished toward the input",
    "shrinking": "it shrank toward the input",
    "flat": f"it kept about the same size from output to input (within a factor of {SAME_BAND:g})",
    "growing": "it grew toward the input",
    "exploding": "it exploded toward the input",
    "zero": "no gradient reached the input side at all (exactly 0): it vanished completely",
    "undefined": "the numbers do not allow a ratio",
}


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
    """row[0] / row[-1] (or row[-2] with `skip_head`: a classifier head sees the loss directly)."""
    vals = list(row or [])
    need = 3 if skip_head else 2
    if len(vals) < need:
        return None
    return ratio(vals[0], vals[-2] if skip_head else vals[-1])


def regime(r: float | None, *, first: float | None = None) -> Regime:
    """The name of what a first/last ratio shows; `first` (the input-side value) tells an exact
    zero apart from "no ratio" when the ratio itself is None."""
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


def times(factor: float | None) -> str:
    """1.04x, 37x, 13,400x, 2,300,000x: readable at any size, never 1.34e+04x."""
    if not is_number(factor):
        return "an undefined factor"
    f = abs(float(factor))  # type: ignore[arg-type]
    if f < 1000:
        return f"{f:.3g}x"
    if f < 1e15:
        return f"{float(f'{f:.3g}'):,.0f}x"
    return f"{f:.2g}x"  # astronomically large: digits would be noise


def num(v: float | None) -> str:
    """A measured value: 0.597, 2.53, 3,640, 2,500,000, 4.6e-07 (thousands separators, no 3.64e+03)."""
    if not is_number(v):
        return "not finite"
    v = float(v)  # type: ignore[arg-type]
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e15):
        return f"{v:.2g}"
    if abs(v) >= 1000:
        return f"{float(f'{v:.3g}'):,.0f}"
    return f"{v:.3g}"


def fraction(r: float | None) -> str:
    """0.31, 0.0032, 3.2e-05: a small ratio with two significant digits."""
    if not is_number(r):
        return "undefined"
    return f"{float(r):.2g}"  # type: ignore[arg-type]


def by_factor(r: float) -> str:
    """ "13,400x larger" / "0.0032 of" phrasing for a positive finite ratio: a factor above 1 reads
    as times larger, below 1 as times smaller, so a learner never reads 1e-4x."""
    if r >= 1:
        return f"{times(r)} larger than"
    return f"{times(1 / r)} smaller than"


def pct(x: float | None) -> str:
    """A share as a percentage: 37.5%, 99.95%; "-" when missing."""
    if not is_number(x):
        return "-"
    x = float(x)  # type: ignore[arg-type]
    return f"{100 * x:.1f}%" if 0.001 < x < 0.999 else f"{100 * x:.2f}%"


def skip_strength_sentence(alpha: float, blocks: int, measured: float | None) -> str:
    """He et al. 2016b §3.1, y = alpha*x + F(x): along the shortcut alone the gradient is scaled by
    alpha once per block, alpha^blocks in all; `measured` is the dL/dx first/last ratio, if any."""
    path = abs(alpha) ** blocks
    shown = times(path) if path >= 1 else fraction(path)
    seen = (
        f"; measured, dL/dx at the first block is {by_factor(measured)} at the last"
        if is_number(measured) and measured > 0
        else ""
    )  # type: ignore[operator]
    return (
        f"With skip strength alpha = {alpha:g}, the shortcut path alone scales the gradient by {alpha:g} per block: "
        f"{alpha:g}^{blocks} = {shown} over {blocks} blocks (He et al. 2016b §3.1: above 1 it explodes, below 1 it "
        f"vanishes along the shortcut){seen}."
    )


__all__ = [
    "REGIME_WORDS",
    "SAME_BAND",
    "VANISHED",
    "by_factor",
    "first_last",
    "fraction",
    "is_number",
    "num",
    "pct",
    "ratio",
    "regime",
    "skip_strength_sentence",
    "times",
]
