"""The unraveled view of a residual net, and what a lesion study says about it.

Veit et al. 2016, "Residual Networks Behave Like Ensembles of Relatively Shallow Networks":
expanding y_i = y_{i-1} + F_i(y_{i-1}) over n blocks gives a sum over 2^n paths, each taking
at every block either the branch F_i or the shortcut (§3, the unraveled view). A path's length
is the number of branches it passes through; C(n, k) paths have length k, so the lengths follow
Binomial(n, 1/2) and most lie near n/2 (§5). A plain net has one path, through all n blocks.
Deleting one block removes the 2^(n-1) paths through its branch and leaves the other half (§4):
if the net behaves like an ensemble of those paths, its accuracy falls a little per deletion,
and smoothly as more blocks go.

Here the numbers and the verdicts drawn from them; resnet_viz.text.lesion says them in words
(a zero, NaN or inf accuracy or an empty study becomes words there, never an exception).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Literal

from torch import nn

from ..engine.numbers import is_number
from .lesion import SAME_SHARE, LesionResult

Verdict = Literal["plain", "residual", "same"]
ENSEMBLE_KEEPS = 0.9  # one deletion keeps >= 90% of the intact accuracy: "a little" (Veit §4 saw ~no drop)
SMOOTH_FACTOR = 2.0  # no step per deleted block steeper than this multiple of the average fall: "smooth"
FLAT = 0.01  # a fall of less than 1 percentage point from intact to the most deletions: "barely changes"
COVER = 0.95  # the share of paths the stated central range of lengths holds at least


@dataclass(frozen=True)
class PathLengths:
    """How many of a residual net's 2^n paths pass through k residual branches (Veit §5)."""

    n: int  # blocks unraveled, each with a branch F and a shortcut path
    counts: tuple[int, ...]  # counts[k] = C(n, k), k = 0..n; exact integers, 2^n in all

    @property
    def total(self) -> int:
        return 2**self.n

    @property
    def fractions(self) -> tuple[float, ...]:
        # int / int rounds correctly even where C(n, k) is far beyond 2^53 (n of several hundred).
        return tuple(c / self.total for c in self.counts)

    @property
    def mean(self) -> float:
        return self.n / 2

    def central(self, cover: float = COVER) -> tuple[int, int, float]:
        """(lo, hi, share): the narrowest range of lengths around n/2 holding >= `cover` of the paths."""
        lo, hi = self.n // 2, (self.n + 1) // 2
        held = sum(self.counts[lo : hi + 1])
        while held < cover * self.total and (lo > 0 or hi < self.n):
            lo, hi = max(lo - 1, 0), min(hi + 1, self.n)
            held = sum(self.counts[lo : hi + 1])
        return lo, hi, held / self.total


def path_lengths(n: int) -> PathLengths:
    """The path-length distribution of a residual net with n blocks: counts C(n, k), k = 0..n."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a whole number of blocks >= 0; got {n!r}")
    return PathLengths(n, tuple(math.comb(n, k) for k in range(n + 1)))


def unravelled(model: nn.Module) -> tuple[PathLengths, int]:
    """The path lengths over all of a net's blocks (downsampling ones too: each has a shortcut
    path, option A or B), and how many of them change resolution."""
    blocks = [b for _, b in model.probe_blocks()]  # type: ignore[operator]
    return path_lengths(len(blocks)), sum(bool(getattr(b, "downsamples", False)) for b in blocks)


# --------------------------------------------------------------------------------------------
# Reading a pair of lesion studies


@dataclass(frozen=True)
class OneDeletion:
    """What deleting one block (of those that keep the resolution) did to one net."""

    baseline: float  # intact test accuracy (fraction)
    mean: float | None  # mean accuracy over single deletions; None when none is finite
    count: int  # single deletions averaged
    kept: float | None  # mean / baseline; None when either is not a positive finite number


def one_deletion(r: LesionResult) -> OneDeletion:
    singles = [b.acc for b in r.blocks if not b.downsampling and is_number(b.acc)]
    mean = statistics.fmean(singles) if singles else None
    kept = mean / r.baseline_acc if mean is not None and is_number(r.baseline_acc) and r.baseline_acc > 0 else None
    return OneDeletion(r.baseline_acc, mean, len(singles), kept)


def one_block_verdict(plain: LesionResult, residual: LesionResult) -> Verdict | None:
    """Which net keeps the larger share of its intact accuracy when one block is deleted; "same"
    within SAME_SHARE (the band of the lesion sentences); None when a share is undefined."""
    kp, kr = one_deletion(plain).kept, one_deletion(residual).kept
    if kp is None or kr is None:
        return None
    if abs(kr - kp) < SAME_SHARE:
        return "same"
    return "residual" if kr > kp else "plain"


@dataclass(frozen=True)
class Decline:
    """How accuracy falls as k random blocks are deleted at once (k = 0: intact)."""

    shape: Literal["smooth", "cliff", "flat", "rises", "few", "nonfinite", "none"]
    ks: tuple[int, ...]  # 0 and every k measured
    accs: tuple[float, ...]  # accuracy at each k (mean over the draws)
    steepest: float | None  # largest fall per deleted block between neighbouring ks (fraction)
    between: tuple[int, int] | None  # the ks of that step
    average: float | None  # total fall / largest k, per deleted block (fraction)


def decline(r: LesionResult) -> Decline:
    ks = (0,) + tuple(x.k for x in r.random)
    accs = (r.baseline_acc,) + tuple(x.mean_acc for x in r.random)
    if not r.random:
        return Decline("none", ks, accs, None, None, None)
    if not all(is_number(a) for a in accs):
        return Decline("nonfinite", ks, accs, None, None, None)
    if len(ks) < 4:  # with two steps the steeper is never more than 2x their average: nothing to judge
        return Decline("few", ks, accs, None, None, None)
    fall = accs[0] - accs[-1]
    steps = [((accs[i] - accs[i + 1]) / (ks[i + 1] - ks[i]), (ks[i], ks[i + 1])) for i in range(len(ks) - 1)]
    steepest, between = max(steps, key=lambda s: s[0])
    average = fall / ks[-1]
    if abs(fall) < FLAT:
        shape = "flat"
    elif fall < 0:
        shape = "rises"
    else:
        shape = "smooth" if steepest <= SMOOTH_FACTOR * average else "cliff"
    return Decline(shape, ks, accs, steepest, between, average)  # type: ignore[arg-type]


__all__ = [
    "Decline",
    "OneDeletion",
    "PathLengths",
    "decline",
    "one_block_verdict",
    "one_deletion",
    "path_lengths",
    "unravelled",
]
