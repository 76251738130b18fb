"""The unraveled view of a residual net, and what a lesion study says about it.

Veit et al. 2016, "Residual Networks Behave Like Ensembles of Relatively Shallow Networks":
expanding y_i = y_{i-1} + F_i(y_{i-1}) over n blocks gives a sum over 2^n paths, each taking
at every block either the branch F_i or the shortcut (§3, the unraveled view). A path's length
is the number of branches it passes through; C(n, k) paths have length k, so the lengths follow
Binomial(n, 1/2) and most lie near n/2 (§5). A plain net has one path, through all n blocks.
Deleting one block removes the 2^(n-1) paths through its branch and leaves the other half (§4):
if the net behaves like an ensemble of those paths, its accuracy falls a little per deletion,
and smoothly as more blocks go.

Every sentence here is computed from the numbers it is given; a zero, NaN or inf accuracy or
an empty study becomes words, never an exception.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Literal

from torch import nn

from .lesion import SAME_SHARE, LesionResult
from .text.numbers import is_number, times

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


def _power(n: int) -> str:
    total = 2**n
    if total < 10**15:
        return f"2^{n} = {total:,}"
    exp = int(n * math.log10(2))
    return f"2^{n} ≈ {total / 10**exp:.1f} × 10^{exp}"


def path_sentences(
    dist: PathLengths, name: str, *, downsampling: int, shortcut: str, plain_name: str | None = None
) -> list[str]:
    """What the distribution shows for the net `name`, which has `downsampling` of its n blocks
    changing resolution through shortcut option `shortcut` ("A" or "B")."""
    lo, hi, share = dist.central()
    blocks = f"{dist.n} block{'s' if dist.n != 1 else ''}"
    lines = [
        (
            f"{name} unravels into {_power(dist.n)} paths: C({dist.n}, k) of them pass through k residual branches, so "
            f"their lengths follow Binomial({dist.n}, 1/2) with mean {dist.mean:g}, and {share:.1%} of them pass through "
            f"{lo} to {hi} branches (Veit et al. 2016, §3 and §5)."
        )
    ]
    if downsampling:
        how = (
            "option A: a strided identity with zero-padded channels, no parameters"
            if shortcut == "A"
            else "option B: a 1x1 projection"
        )
        lines.append(
            f"All {blocks} count: the {downsampling} that change resolution still have a shortcut path ({how}), "
            "so each doubles the number of paths like any other block."
        )
    if plain_name is not None:
        lines.append(f"{plain_name} has no shortcuts: one path, through all {blocks}.")
    return lines


# --------------------------------------------------------------------------------------------
# Reading a pair of lesion studies


def _pct(v: float) -> str:
    if is_number(v):
        return f"{100 * v:.1f}%"
    return "not a number" if isinstance(v, float) and math.isnan(v) else "not finite"


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
    within SAME_SHARE (the band lesion_sentences uses); None when a share is undefined."""
    kp, kr = one_deletion(plain).kept, one_deletion(residual).kept
    if kp is None or kr is None:
        return None
    if abs(kr - kp) < SAME_SHARE:
        return "same"
    return "residual" if kr > kp else "plain"


def _why_undefined(name: str, r: LesionResult, d: OneDeletion) -> str:
    if not any(not b.downsampling for b in r.blocks):
        return f"{name} has no block that keeps the resolution to delete"
    if d.count == 0:
        return f"no single deletion in {name} gave a finite accuracy"
    if not is_number(d.baseline):
        return f"{name}'s intact accuracy is {_pct(d.baseline)}"
    return f"{name}'s intact accuracy is {_pct(d.baseline)}: there is no accuracy to lose"


def one_block_sentence(
    plain: LesionResult, residual: LesionResult, names: tuple[str, str] = ("plain", "residual")
) -> str:
    """Whether one deletion cost the residual net a little (ensemble-like) and the plain net a lot."""
    dp, dr = one_deletion(plain), one_deletion(residual)
    missing = [_why_undefined(n, r, d) for n, r, d in zip(names, (plain, residual), (dp, dr)) if d.kept is None]
    if missing:
        return f"The two nets cannot be compared on one deletion: {'; '.join(missing)}."

    def took(name: str, d: OneDeletion) -> str:
        return f"{name} from {_pct(d.baseline)} to {_pct(d.mean)} ({100 * (d.kept - 1):+.1f}% of its intact accuracy)"  # type: ignore[operator]

    head = (
        f"Deleting one block (mean over those that keep the resolution) took {took(names[1], dr)} and "
        f"{took(names[0], dp)}"
    )
    verdict = one_block_verdict(plain, residual)
    n = len(residual.blocks)
    if verdict == "same":
        return (
            f"{head}: both keep about the same share (within {100 * SAME_SHARE:.0f} points), so this pair "
            "does not show the residual net's ensemble-like robustness."
        )
    if verdict == "plain":
        return f"{head}: here the plain net keeps more of its accuracy, the opposite of Veit et al. (2016, §4)."
    if dr.kept >= ENSEMBLE_KEEPS:  # type: ignore[operator]
        return (
            f"{head}: the residual net behaves like an ensemble (Veit et al. 2016, §4). Deleting a block removes "
            f"the paths through its branch, half of its {_power(n)}, and the other half still carry the signal; "
            "the plain net has one path, and every deletion cuts it."
        )
    return (
        f"{head}: the residual net keeps more, but losing {100 * (1 - dr.kept):.1f}% to one deletion is far from "  # type: ignore[operator]
        "the barely noticeable drop Veit et al. (2016, §4) measured for a 110-layer residual net."
    )


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


def decline_sentence(r: LesionResult, name: str) -> str:
    """Whether the accuracy with k random deletions falls smoothly with k (Veit et al. 2016, §4)."""
    d = decline(r)
    ends = f"{_pct(d.accs[0])} intact, {_pct(d.accs[-1])} with {d.ks[-1]} deleted"
    if d.shape == "none":
        return f"{name}: no random deletions were measured."
    if d.shape == "nonfinite":
        bad = [k for k, a in zip(d.ks, d.accs) if not is_number(a)]
        where = " and ".join(
            (["intact"] if bad[0] == 0 else [])
            + ([f"with k = {', '.join(str(k) for k in bad if k)} deleted"] if any(bad) else [])
        )
        return f"{name}: the accuracy {where} is not a finite number, so the curve's shape cannot be judged."
    if d.shape == "few":
        return (
            f"{name}: only k = {', '.join(map(str, d.ks[1:]))} could be measured ({ends}): too few values of k "
            "to judge the curve's shape."
        )
    if d.shape == "flat":
        return f"{name}: accuracy barely changes as random blocks are deleted ({ends})."
    if d.shape == "rises":
        return f"{name}: accuracy does not fall as random blocks are deleted ({ends})."
    step = f"{100 * d.steepest:.1f} points per block from k = {d.between[0]} to {d.between[1]}"  # type: ignore[index,operator]
    avg = f"{100 * d.average:.1f} points per block"  # type: ignore[operator]
    if d.shape == "smooth":
        return (
            f"{name}: accuracy falls smoothly with the number of random deletions ({ends}); its steepest step, "
            f"{step}, is within {SMOOTH_FACTOR:g}x the average fall of {avg}."
        )
    return (
        f"{name}: accuracy does not fall smoothly: it loses {step}, {times(d.steepest / d.average)} "  # type: ignore[operator]
        f"its average fall of {avg} ({ends})."
    )


def ensemble_sentences(
    plain: LesionResult, residual: LesionResult, names: tuple[str, str] = ("plain", "residual")
) -> list[str]:
    """The ensemble reading of a lesion pair: one deletion, then the curve over k, per net."""
    return [
        one_block_sentence(plain, residual, names),
        decline_sentence(residual, names[1]),
        decline_sentence(plain, names[0]),
    ]


__all__ = [
    "Decline",
    "OneDeletion",
    "PathLengths",
    "decline",
    "decline_sentence",
    "ensemble_sentences",
    "one_block_sentence",
    "one_block_verdict",
    "one_deletion",
    "path_lengths",
    "path_sentences",
    "unravelled",
]
