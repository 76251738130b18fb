"""What a depth sweep shows (He et al. 2016, Figs. 1 and 6), and the home page's demo: how training
error changed with depth for each kind, whether the gap is in training (optimisation) or only
test (overfitting) error, and how the deepest plain net's gradient was distributed at
initialisation. Every number is taken from the sweep's own results.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from . import N_, _, ngettext
from .live import CANDIDATE, join_sentences
from .numbers import (
    DEGRADED_POINTS,
    SAME_BAND,
    band,
    first_last,
    is_number,
    listing,
    num,
    percent_value,
    regime,
    regime_factor,
)

if TYPE_CHECKING:
    from ..degradation.sweep import DepthPoint, SweepResult

_NETS = {"plain": N_("Plain nets"), "residual": N_("Residual nets")}
_DEPTH = {
    "above": N_(
        "{nets}: training error {lo_error}% at depth {lo_depth} ({lo_seeds}) and {hi_error}% at depth {hi_depth} "
        "({hi_seeds}); the deeper net trained worse."
    ),
    "below": N_(
        "{nets}: training error {lo_error}% at depth {lo_depth} ({lo_seeds}) and {hi_error}% at depth {hi_depth} "
        "({hi_seeds}); the deeper net trained better."
    ),
    "within": N_(
        "{nets}: training error {lo_error}% at depth {lo_depth} ({lo_seeds}) and {hi_error}% at depth {hi_depth} "
        "({hi_seeds}); within {limit} points of each other: no difference this sweep can tell from noise."
    ),
}
# The deepest plain net at initialisation, per regime: dL/dx per block, or the per-weight gradient
# RMS of runs that measured no dL/dx.
_AT_INIT = {
    ("dL/dx", "vanishing"): N_(
        "At initialisation, plain-{depth}'s dL/dx at the first block was {factor} smaller than at the last block "
        "({seeds}): it vanished toward the input."
    ),
    ("dL/dx", "shrinking"): N_(
        "At initialisation, plain-{depth}'s dL/dx at the first block was {factor} smaller than at the last block "
        "({seeds}): it shrank toward the input."
    ),
    ("dL/dx", "flat"): N_(
        "At initialisation, plain-{depth}'s dL/dx at the first block was {factor} that at the last block "
        "({seeds}): it kept about the same size from output to input (within a factor of {band})."
    ),
    ("dL/dx", "growing"): N_(
        "At initialisation, plain-{depth}'s dL/dx at the first block was {factor} larger than at the last block "
        "({seeds}): it grew toward the input."
    ),
    ("dL/dx", "exploding"): N_(
        "At initialisation, plain-{depth}'s dL/dx at the first block was {factor} larger than at the last block "
        "({seeds}): it exploded toward the input."
    ),
    ("rms", "vanishing"): N_(
        "At initialisation, plain-{depth}'s gradient per weight at the first layer was {factor} smaller than at "
        "its last conv layer ({seeds}): it vanished toward the input."
    ),
    ("rms", "shrinking"): N_(
        "At initialisation, plain-{depth}'s gradient per weight at the first layer was {factor} smaller than at "
        "its last conv layer ({seeds}): it shrank toward the input."
    ),
    ("rms", "flat"): N_(
        "At initialisation, plain-{depth}'s gradient per weight at the first layer was {factor} that at its last "
        "conv layer ({seeds}): it kept about the same size from output to input (within a factor of {band})."
    ),
    ("rms", "growing"): N_(
        "At initialisation, plain-{depth}'s gradient per weight at the first layer was {factor} larger than at "
        "its last conv layer ({seeds}): it grew toward the input."
    ),
    ("rms", "exploding"): N_(
        "At initialisation, plain-{depth}'s gradient per weight at the first layer was {factor} larger than at "
        "its last conv layer ({seeds}): it exploded toward the input."
    ),
}
# The home page's demo: the plain pair, by which way the deeper net's accuracy went ...
_DEMO_PLAIN = {
    "below": N_(
        "plain-{deep} reached {deep_acc}% training accuracy, plain-{shallow} {shallow_acc}%: deeper was worse "
        "without shortcuts."
    ),
    "above": N_(
        "plain-{deep} reached {deep_acc}% training accuracy, plain-{shallow} {shallow_acc}%: in this run the "
        "deeper plain net did better."
    ),
    "within": N_(
        "plain-{deep} reached {deep_acc}% training accuracy, plain-{shallow} {shallow_acc}%: in this run depth "
        "made little difference without shortcuts."
    ),
}


def _seeds(n: int, *, geometric: bool = False) -> str:
    """What a number over `n` seeds is: one seed's own, or their (geometric) mean."""
    if n == 1:
        return _("1 seed")
    if geometric:
        return ngettext("geometric mean of {n} seed", "geometric mean of {n} seeds", n).format(n=n)
    return ngettext("mean of {n} seed", "mean of {n} seeds", n).format(n=n)


def _geometric_mean(values: Sequence[float]) -> float:
    return math.exp(sum(math.log(x) for x in values) / len(values))


def _ratios(rows: Sequence[tuple[list[float], str]], kind: str) -> list[float]:
    """The positive first/last ratios of the flow rows of `kind` (a per-weight row ends with the head)."""
    return [
        x for row, k in rows for x in [first_last(row, skip_head=k == "rms")] if k == kind and x is not None and x > 0
    ]


def _at_init(results: Sequence[SweepResult]) -> list[str]:
    """The deepest plain net's gradient at initialisation (geometric mean over its seeds), and
    after an explosion, whether it calmed down by the last probe (fell by half or more)."""
    plain = [r for r in results if r.kind == "plain" and (r.history.grad_x_rms or r.history.grad_rms)]
    if not plain:
        return []
    deepest = max(r.depth for r in plain)
    rows = [r.history.flow_row(0) for r in plain if r.depth == deepest]
    kind = "dL/dx" if all(k == "dL/dx" for _row, k in rows) else "rms"
    ratios = _ratios(rows, kind)
    if not ratios:
        return []
    mean = _geometric_mean(ratios)
    reg = regime(mean)
    out = [
        _(_AT_INIT[(kind, reg)]).format(
            depth=deepest,
            factor=regime_factor(reg, mean),
            seeds=_seeds(len(ratios), geometric=True),
            band=f"{SAME_BAND:g}",
        )
    ]
    if reg == "exploding":
        out.append(
            _(
                "Yang et al. (2019) derive such an explosion at initialisation for deep fully connected BatchNorm "
                "nets without shortcuts; this net shows it too."
            )
        )
        ends = [r for r in plain if r.depth == deepest and len(r.history.probe_step) > 1]
        last = _ratios([r.history.flow_row(-1) for r in ends], kind)
        if last and len(last) == len(ends):
            later = _geometric_mean(last)
            values = {
                "step": max(r.history.probe_step[-1] for r in ends),
                "ratio": num(later),
                "seeds": _seeds(len(last), geometric=True),
            }
            if later < mean / 2:
                out.append(
                    _("At the last probe (step {step}) the ratio was {ratio} ({seeds}): it calmed down.").format(
                        **values
                    )
                )
            else:
                out.append(
                    _(
                        "At the last probe (step {step}) the ratio was {ratio} ({seeds}): it had not calmed down."
                    ).format(**values)
                )
        out.append(_(CANDIDATE))
    return [join_sentences(out)]


def sweep_reading(points: Sequence[DepthPoint], results: Sequence[SweepResult] = ()) -> list[str]:
    """Sentences on a depth sweep, each computed from its numbers: how training error changed with
    depth for each kind, whether the gap is in training (optimisation) or only test (overfitting)
    error, and how the deepest plain net's gradient was distributed at initialisation."""
    from ..degradation.sweep import KINDS, scored

    out: list[str] = []
    by_kind = {k: scored(points, k) for k in KINDS}
    worse: dict[str, bool] = {}
    for kind, pts in by_kind.items():
        if len(pts) < 2:
            continue
        lo, hi = pts[0], pts[-1]
        verdict = band(hi.train_mean - lo.train_mean)
        worse[kind] = verdict == "above"
        out.append(
            _(_DEPTH[verdict]).format(
                nets=_(_NETS[kind]),
                lo_error=percent_value(lo.train_mean),
                lo_depth=lo.depth,
                lo_seeds=_seeds(len(lo.train_error)),
                hi_error=percent_value(hi.train_mean),
                hi_depth=hi.depth,
                hi_seeds=_seeds(len(hi.train_error)),
                limit=f"{DEGRADED_POINTS:g}",
            )
        )
    if worse.get("plain"):
        hi = by_kind["plain"][-1]
        if is_number(hi.test_mean) and hi.test_mean - hi.train_mean < DEGRADED_POINTS:
            out.append(
                _(
                    "plain-{depth}'s test error ({test}%) is close to its training error ({train}%): it does not "
                    "fit the training set itself, so this is an optimisation difficulty, not overfitting."
                ).format(depth=hi.depth, test=percent_value(hi.test_mean), train=percent_value(hi.train_mean))
            )
        twin = next((p for p in by_kind["residual"] if p.depth == hi.depth), None)
        if twin is not None:
            out.append(
                _(
                    "Its residual twin, residual-{depth}, reached {train}% training error with the same depth, "
                    "seed and batches: only the shortcut connections differ."
                ).format(depth=hi.depth, train=percent_value(twin.train_mean))
            )
    for p in points:
        if p.diverged:
            out.append(
                ngettext(
                    "{name} diverged (loss NaN/inf) with seed {seeds}; that run is left out of the errors above.",
                    "{name} diverged (loss NaN/inf) with seeds {seeds}; those runs are left out of the errors above.",
                    len(p.diverged),
                ).format(name=f"{p.kind}-{p.depth}", seeds=listing(map(str, p.diverged)))
            )
    out.extend(_at_init(results))
    return out


def demo_reading(results: Sequence[SweepResult]) -> str | None:
    """Two sentences on the home page's demo (a shallow and a deep net of each kind), from their
    final training accuracies; None until all four have one."""
    from ..degradation.sweep import KINDS

    acc = {(r.kind, r.depth): r.history.final.get("train_acc") for r in results}
    depths = sorted({d for _kind, d in acc})
    if len(depths) < 2 or any(acc.get((k, d)) is None for k in KINDS for d in (depths[0], depths[-1])):
        return None
    lo, hi = depths[0], depths[-1]
    p_lo, p_hi, r_lo, r_hi = (100 * acc[(k, d)] for k in KINDS for d in (lo, hi))  # type: ignore[operator]
    plain = _(_DEMO_PLAIN[band(p_hi - p_lo)]).format(
        deep=hi, shallow=lo, deep_acc=percent_value(p_hi, 0), shallow_acc=percent_value(p_lo, 0)
    )
    values = {"deep": hi, "shallow": lo, "deep_acc": percent_value(r_hi, 0), "shallow_acc": percent_value(r_lo, 0)}
    gap = r_hi - r_lo  # what the numbers show, whichever way they go
    if gap >= 0.5:
        residual = _(
            "residual-{deep} reached {deep_acc}% (residual-{shallow} {shallow_acc}%): with shortcuts, the deeper "
            "net trained better, by {gap} points."
        ).format(gap=percent_value(gap), **values)
    elif gap > -0.5:
        residual = _(
            "residual-{deep} reached {deep_acc}% (residual-{shallow} {shallow_acc}%): with shortcuts, the deeper "
            "net trained as well."
        ).format(**values)
    elif gap > -DEGRADED_POINTS and p_lo - p_hi > -gap:
        lost = round(p_lo - p_hi)
        residual = ngettext(
            "residual-{deep} reached {deep_acc}% (residual-{shallow} {shallow_acc}%): with shortcuts the deeper "
            "net trained {gap} points worse, less than the {lost} point the plain nets lost.",
            "residual-{deep} reached {deep_acc}% (residual-{shallow} {shallow_acc}%): with shortcuts the deeper "
            "net trained {gap} points worse, less than the {lost} points the plain nets lost.",
            lost,
        ).format(gap=percent_value(-gap), lost=lost, **values)
    elif gap > -DEGRADED_POINTS:
        residual = _(
            "residual-{deep} reached {deep_acc}% (residual-{shallow} {shallow_acc}%): with shortcuts the deeper "
            "net trained {gap} points worse."
        ).format(gap=percent_value(-gap), **values)
    else:
        residual = _(
            "residual-{deep} reached {deep_acc}% (residual-{shallow} {shallow_acc}%): with shortcuts the deeper "
            "net also trained worse in this run."
        ).format(**values)
    return join_sentences([plain, residual])


__all__ = ["demo_reading", "sweep_reading"]
