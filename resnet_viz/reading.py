"""Plain-language readings of a run, every number taken from that run.

Nothing here is canned: each sentence is built from the histories it is given, and a sentence
whose numbers are missing (a run stopped before the first probe, say) is left out, not guessed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .sweep import KINDS, DepthPoint, SweepResult
from .train import History


def _finite(values: Sequence[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def final_train_loss(h: History) -> float | None:
    """Full training-set loss measured at the end, else the mean of the last 10 step losses."""
    if "train_loss" in h.final and h.final["train_loss"] is not None:
        return float(h.final["train_loss"])
    tail = _finite(h.loss[-10:])
    return sum(tail) / len(tail) if tail else None


def final_train_acc(h: History) -> float | None:
    if "train_acc" in h.final and h.final["train_acc"] is not None:
        return float(h.final["train_acc"])
    tail = _finite(h.acc[-10:])
    return sum(tail) / len(tail) if tail else None


def input_output_ratio(row: Sequence[float]) -> float | None:
    """Gradient RMS of the first layer over that of the last conv (the head excluded: it sees
    the loss directly). > 1: the gradient grew toward the input; < 1: it shrank."""
    vals = list(row)
    if len(vals) < 3 or not all(v is not None and math.isfinite(v) for v in (vals[0], vals[-2])) or vals[-2] == 0:
        return None
    return vals[0] / vals[-2]


def identity_share(h: History, probe: int = -1) -> float | None:
    """Mean over residual blocks of ||identity term|| / (||identity term|| + ||branch term||)."""
    if not h.identity_grad or not h.identity_grad[probe]:
        return None
    shares = [
        i / (i + b)
        for i, b in zip(h.identity_grad[probe], h.branch_grad[probe])
        if i is not None and b is not None and math.isfinite(i + b) and i + b > 0
    ]
    return sum(shares) / len(shares) if shares else None


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%" if 0.001 < x < 0.999 else f"{100 * x:.2f}%"


def reading(histories: Sequence[History]) -> list[str]:
    """Sentences describing what the learner's own run shows."""
    out: list[str] = []
    for h in histories:
        if h.status == "diverged":
            out.append(
                f"{h.name} diverged at step {h.diverged_at}: its loss became NaN or infinite, so it stopped "
                f"there; the curves show everything up to step {h.step[-1] if h.step else 0}."
            )
    done = [h for h in histories if h.step and h.status != "diverged"]
    if len(done) >= 2:
        losses = {h.name: final_train_loss(h) for h in done}
        ranked = sorted((v, n) for n, v in losses.items() if v is not None)
        if len(ranked) >= 2:
            (best_v, best), (worst_v, worst) = ranked[0], ranked[-1]
            measured = "on the whole training set" if all("train_loss" in h.final for h in done) else "over the last steps"
            text = f"{best} reached the lowest training loss ({best_v:.3f} {measured}); {worst} the highest ({worst_v:.3f})"
            if best_v > 0 and worst_v / best_v >= 1.1:
                text += f", {worst_v / best_v:.3g}x higher"
            out.append(text + ".")
        accs = {h.name: final_train_acc(h) for h in done}
        if all(v is not None for v in accs.values()):
            out.append("Training accuracy: " + ", ".join(f"{n} {_pct(v)}" for n, v in accs.items()) + ".")  # type: ignore[arg-type]
    elif len(done) == 1:
        h = done[0]
        loss, acc = final_train_loss(h), final_train_acc(h)
        if loss is not None and acc is not None:
            out.append(f"{h.name} reached a training loss of {loss:.3f} and training accuracy {_pct(acc)}.")
    for h in histories:
        if not h.grad_rms:
            continue
        first = input_output_ratio(h.grad_rms[0])
        last = input_output_ratio(h.grad_rms[-1])
        if first is not None:
            factor = first if first >= 1 else 1 / first
            text = (
                f"In {h.name} at step {h.probe_step[0]}, the gradient per weight at the first layer was "
                f"{factor:.3g}x {'larger' if first >= 1 else 'smaller'} than at the last conv layer "
                f"(it {'grew' if first >= 1 else 'shrank'} toward the input)"
            )
            if last is not None and len(h.grad_rms) > 1:
                text += f"; at step {h.probe_step[-1]} the first/last ratio was {last:.3g}"
            out.append(text + ".")
        share = identity_share(h)
        if share is not None:
            out.append(
                f"In {h.name} at step {h.probe_step[-1]}, the gradient arriving at a block's input through its "
                f"identity shortcut carried on average {_pct(share)} of the two paths' summed norm; "
                f"the block's layers carried the rest."
            )
    return out


# -- depth sweeps (He et al. 2016, Figs. 1 and 6) -------------------------------------------------

DEGRADED_POINTS = 5.0  # training-error gap (percentage points) called "trained worse"; below: noise-sized


def _times(factor: float) -> str:
    """4.2x, 37x, 13,400x: readable at any size (no 1.34e+04)."""
    return f"{factor:.2g}x" if factor < 10 else f"{float(f'{factor:.3g}'):,.0f}x"


def _seeds(n: int) -> str:
    return f"mean of {n} seeds" if n > 1 else "1 seed"


def sweep_reading(points: Sequence[DepthPoint], results: Sequence[SweepResult] = ()) -> list[str]:
    """Sentences on a depth sweep, each computed from its numbers: how training error changed with
    depth for each kind, whether the gap is in training (optimisation) or only test (overfitting)
    error, and how the deepest plain net's gradient was distributed at initialisation."""
    out: list[str] = []
    by_kind = {k: sorted((p for p in points if p.kind == k and p.train_error), key=lambda p: p.depth) for k in KINDS}
    worse: dict[str, bool] = {}
    for kind, pts in by_kind.items():
        if len(pts) < 2:
            continue
        lo, hi = pts[0], pts[-1]
        gap = hi.train_mean - lo.train_mean
        worse[kind] = gap >= DEGRADED_POINTS
        verdict = (
            "the deeper net trained worse" if worse[kind]
            else "the deeper net trained better" if gap <= -DEGRADED_POINTS
            else f"within {DEGRADED_POINTS:g} points: depth did not hurt"
        )  # fmt: skip
        out.append(
            f"{kind.capitalize()} nets: training error {lo.train_mean:.1f}% at depth {lo.depth} "
            f"({_seeds(len(lo.train_error))}) and {hi.train_mean:.1f}% at depth {hi.depth} "
            f"({_seeds(len(hi.train_error))}); {verdict}."
        )
    if worse.get("plain"):
        hi = by_kind["plain"][-1]
        if hi.test_mean - hi.train_mean < DEGRADED_POINTS:
            out.append(
                f"plain-{hi.depth}'s test error ({hi.test_mean:.1f}%) is close to its training error "
                f"({hi.train_mean:.1f}%): it does not fit the training set itself, so this is an optimisation "
                "difficulty, not overfitting."
            )
        res = {p.depth: p for p in by_kind["residual"]}
        if hi.depth in res:
            r = res[hi.depth]
            out.append(
                f"Its residual twin, residual-{hi.depth}, reached {r.train_mean:.1f}% training error with the "
                "same depth, parameters, seed and batches: only the identity shortcut differs."
            )
    for p in points:
        if p.diverged:
            out.append(f"{p.kind}-{p.depth} diverged (loss NaN/inf) with seed(s) "
                       f"{', '.join(map(str, p.diverged))}; those runs are left out of the errors above.")  # fmt: skip
    plain = [r for r in results if r.kind == "plain" and r.history.grad_rms]
    if plain:
        deepest = max(r.depth for r in plain)
        ratios = [x for r in plain if r.depth == deepest for x in [input_output_ratio(r.history.grad_rms[0])] if x]
        if ratios:
            ratio = math.exp(sum(math.log(x) for x in ratios) / len(ratios))
            factor = ratio if ratio >= 1 else 1 / ratio
            text = (
                f"At initialisation, plain-{deepest}'s gradient per weight at the first layer was "
                f"{_times(factor)} {'larger' if ratio >= 1 else 'smaller'} than at its last "
                f"conv layer ({_seeds(len(ratios)).replace('mean', 'geometric mean')}): "
            )
            if ratio >= 1:
                text += "it did not vanish toward the input"
                text += ", and still the net trained worse." if worse.get("plain") else "."
            else:
                text += "it shrank toward the input."
            out.append(text)
    return out


def demo_reading(results: Sequence[SweepResult]) -> str | None:
    """One sentence on the home page's demo (a shallow and a deep net of each kind), from its
    final training accuracies; None until all four have one."""
    acc = {(r.kind, r.depth): r.history.final.get("train_acc") for r in results}
    depths = sorted({d for _, d in acc})
    if len(depths) < 2 or any(acc.get((k, d)) is None for k in KINDS for d in (depths[0], depths[-1])):
        return None
    lo, hi = depths[0], depths[-1]
    p_lo, p_hi, r_lo, r_hi = (100 * acc[(k, d)] for k in KINDS for d in (lo, hi))  # type: ignore[operator]
    text = f"plain-{hi} reached {p_hi:.0f}% training accuracy, plain-{lo} {p_lo:.0f}%: "
    if p_lo - p_hi >= DEGRADED_POINTS:
        text += "deeper was worse without shortcuts"
    elif p_hi - p_lo >= DEGRADED_POINTS:
        text += "in this run the deeper plain net did better"
    else:
        text += "in this run depth made little difference without shortcuts"
    text += f"; residual-{hi} reached {r_hi:.0f}% (residual-{lo} {r_lo:.0f}%)"
    if r_hi >= r_lo - 2:
        text += ": with shortcuts, the deeper net trained as well or better."
    else:
        text += ": with shortcuts the deeper net also trained worse in this run."
    return text
