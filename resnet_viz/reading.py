"""Plain-language readings of a run or a measurement, every number taken from it: the one home of
the sentences a learner reads about training runs, depth sweeps, initialisation profiles and the
gradient chain.

Nothing here is canned: each sentence is built from the histories it is given, and a sentence
whose numbers are missing (a run stopped before the first probe, say) is left out, not guessed.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .config import ModelConfig
from .sweep import KINDS, DepthPoint, SweepResult
from .text.numbers import (
    REGIME_WORDS,
    VANISHED,
    by_factor,
    first_last,
    fraction,
    is_number,
    num,
    pct,
    regime,
    skip_strength_sentence,
    times,
)
from .train import History

if TYPE_CHECKING:  # annotations only: reading a measurement needs no torch
    import numpy as np

    from .localisation import Track
    from .theory import InitProfile


def _finite(values: Sequence[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def final_train_loss(h: History) -> float | None:
    """Full training-set loss measured at the end, else the mean of the last 10 finite step losses
    (a final loss that is not finite is said by :func:`reading` on its own)."""
    if is_number(h.final.get("train_loss")):
        return float(h.final["train_loss"])
    tail = _finite(h.loss[-10:])
    return sum(tail) / len(tail) if tail else None


def final_train_acc(h: History) -> float | None:
    if is_number(h.final.get("train_acc")):
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


CANDIDATE = (
    "Explosion at initialisation is one of the candidate explanations of degradation, not evidence "
    "that the gradient is healthy."
)


def _flow_row(h: History, probe: int) -> tuple[list[float], str]:
    """dL/dx per block when the run measured it, else the per-weight gradient RMS (older runs)."""
    if h.grad_x_rms and len(h.grad_x_rms) > max(probe, -probe - 1) and h.grad_x_rms[probe]:
        return h.grad_x_rms[probe], "dL/dx"
    return (h.grad_rms[probe] if h.grad_rms else []), "rms"


def _ratio_of(row: list[float], kind: str) -> float | None:
    return first_last(row) if kind == "dL/dx" else input_output_ratio(row)


def flow_sentence(h: History) -> str | None:
    """The regime of the gradient at the first probe (vanishing, flat, exploding...), and what
    became of it by the last probe; dL/dx at the blocks' outputs when measured (He et al. 2016b,
    eq. 5), else the per-weight gradient RMS, named as such."""
    if not h.probe_step:
        return None
    row0, kind = _flow_row(h, 0)
    r0 = _ratio_of(row0, kind)
    what = "dL/dx at the first block" if kind == "dL/dx" else "the gradient per weight at the first layer"
    where = "at the last block" if kind == "dL/dx" else "at the last conv layer"
    step0 = h.probe_step[0]
    reg = regime(r0, first=row0[0] if row0 else None)
    if reg == "undefined":
        return f"In {h.name} at step {step0}, the gradient was not finite or not measured at both ends, so no ratio can be given."
    if reg == "zero":
        return f"In {h.name} at step {step0}, the first block received no gradient at all (exactly 0): it vanished completely."
    size = f"{r0:.2g}x that" if reg == "flat" else by_factor(r0)  # type: ignore[arg-type]
    text = f"In {h.name} at step {step0}, {what} was {size} {where}: {REGIME_WORDS[reg]}"
    if len(h.probe_step) > 1:
        row1, kind1 = _flow_row(h, -1)
        r1 = _ratio_of(row1, kind1) if kind1 == kind else None
        if r1 is not None:
            text += f"; at step {h.probe_step[-1]} the first/last ratio was {num(r1)}"
            if reg == "exploding":
                text += ": it calmed down" if r1 < r0 / 2 else ": it had not calmed down"  # type: ignore[operator]
    text += "."
    if reg == "exploding" and "plain" in h.name:
        text += " " + CANDIDATE
    return text


def reading(histories: Sequence[History], configs: Sequence[ModelConfig] = ()) -> list[str]:
    """Sentences describing what the learner's own run shows; `configs` (the run's models, when
    known) add what the skip strength alpha did to the gradient."""
    out: list[str] = []
    for h in histories:
        if h.status == "diverged":
            out.append(
                f"{h.name} diverged at step {h.diverged_at}: its loss became NaN or infinite, so it stopped "
                f"there; the curves show everything up to step {h.step[-1] if h.step else 0}."
            )
    for h in histories:
        if h.status != "diverged" and h.final.get("train_loss") is not None and not is_number(h.final["train_loss"]):
            out.append(
                f"{h.name}'s loss on the whole training set at the end was not a finite number: it blew up "
                "after its last logged step, so the numbers below use its last finite steps."
            )
    done = [h for h in histories if h.step and h.status != "diverged"]
    if len(done) >= 2:
        losses = {h.name: final_train_loss(h) for h in done}
        ranked = sorted((v, n) for n, v in losses.items() if v is not None)
        if len(ranked) >= 2:
            (best_v, best), (worst_v, worst) = ranked[0], ranked[-1]
            whole = all(is_number(h.final.get("train_loss")) for h in done)
            measured = "on the whole training set" if whole else "over the last steps"
            text = f"{best} reached the lowest training loss ({best_v:.3f} {measured}); {worst} the highest ({worst_v:.3f})"
            if best_v > 0 and worst_v / best_v >= 1.1:
                text += f", {times(worst_v / best_v)} higher"
            out.append(text + ".")
        accs = {h.name: final_train_acc(h) for h in done}
        if all(v is not None for v in accs.values()):
            out.append("Training accuracy: " + ", ".join(f"{n} {pct(v)}" for n, v in accs.items()) + ".")  # type: ignore[arg-type]
    elif len(done) == 1:
        h = done[0]
        loss, acc = final_train_loss(h), final_train_acc(h)
        if loss is not None and acc is not None:
            out.append(f"{h.name} reached a training loss of {loss:.3f} and training accuracy {pct(acc)}.")
    for h in histories:
        if not h.grad_rms and not h.grad_x_rms:
            continue
        flow = flow_sentence(h)
        if flow is not None:
            out.append(flow)
        cfg = next((c for c in configs if c.name == h.name), None)
        if cfg is not None and cfg.residual and cfg.alpha != 1.0 and h.grad_x_rms and len(h.grad_x_rms[0]) > 1:
            out.append(
                f"In {h.name} at step {h.probe_step[0]}: "
                + skip_strength_sentence(cfg.alpha, len(h.grad_x_rms[0]) - 1, first_last(h.grad_x_rms[0]))
            )
        share = identity_share(h)
        if share is not None:
            out.append(
                f"In {h.name} at step {h.probe_step[-1]}, the gradient arriving at a block's input through its "
                f"identity shortcut carried on average {pct(share)} of the two paths' summed norm; "
                f"the block's layers carried the rest."
            )
    return out


# -- depth sweeps (He et al. 2016, Figs. 1 and 6) -------------------------------------------------

DEGRADED_POINTS = 5.0  # training-error gap (percentage points) called "trained worse"; below: noise-sized


def _seeds(n: int) -> str:
    return f"mean of {n} seeds" if n > 1 else "1 seed"


def sweep_reading(points: Sequence[DepthPoint], results: Sequence[SweepResult] = ()) -> list[str]:
    """Sentences on a depth sweep, each computed from its numbers: how training error changed with
    depth for each kind, whether the gap is in training (optimisation) or only test (overfitting)
    error, and how the deepest plain net's gradient was distributed at initialisation."""
    out: list[str] = []
    # a point whose errors are not finite numbers (a damaged store) has nothing to compare
    by_kind = {
        k: sorted(
            (p for p in points if p.kind == k and p.train_error and is_number(p.train_mean)), key=lambda p: p.depth
        )
        for k in KINDS
    }
    worse: dict[str, bool] = {}
    for kind, pts in by_kind.items():
        if len(pts) < 2:
            continue
        lo, hi = pts[0], pts[-1]
        gap = hi.train_mean - lo.train_mean
        worse[kind] = gap >= DEGRADED_POINTS
        verdict = (
            "the deeper net trained worse"
            if worse[kind]
            else "the deeper net trained better"
            if gap <= -DEGRADED_POINTS
            else f"within {DEGRADED_POINTS:g} points: depth did not hurt"
        )
        out.append(
            f"{kind.capitalize()} nets: training error {lo.train_mean:.1f}% at depth {lo.depth} "
            f"({_seeds(len(lo.train_error))}) and {hi.train_mean:.1f}% at depth {hi.depth} "
            f"({_seeds(len(hi.train_error))}); {verdict}."
        )
    if worse.get("plain"):
        hi = by_kind["plain"][-1]
        if is_number(hi.test_mean) and hi.test_mean - hi.train_mean < DEGRADED_POINTS:
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
                "same depth, seed and batches: only the shortcut connections differ."
            )
    for p in points:
        if p.diverged:
            out.append(
                f"{p.kind}-{p.depth} diverged (loss NaN/inf) with seed(s) "
                f"{', '.join(map(str, p.diverged))}; those runs are left out of the errors above."
            )
    plain = [r for r in results if r.kind == "plain" and (r.history.grad_x_rms or r.history.grad_rms)]
    if plain:
        deepest = max(r.depth for r in plain)
        rows = [_flow_row(r.history, 0) for r in plain if r.depth == deepest]
        kind = "dL/dx" if all(k == "dL/dx" for _, k in rows) else "rms"
        ratios = [x for row, k in rows for x in [_ratio_of(row, k)] if k == kind and x is not None and x > 0]
        if ratios:
            ratio = math.exp(sum(math.log(x) for x in ratios) / len(ratios))
            reg = regime(ratio)
            what = "dL/dx at the first block" if kind == "dL/dx" else "gradient per weight at the first layer"
            where = "at the last block" if kind == "dL/dx" else "at its last conv layer"
            size = f"{ratio:.2g}x that" if reg == "flat" else by_factor(ratio)
            seeds = _seeds(len(ratios)).replace("mean", "geometric mean")
            text = f"At initialisation, plain-{deepest}'s {what} was {size} {where} ({seeds}): {REGIME_WORDS[reg]}."
            if reg == "exploding":
                text += (
                    " Yang et al. (2019) predict this explosion for deep BatchNorm nets without shortcuts; it "
                    "calms within the first steps (the gradient profile at the end shows it). " + CANDIDATE
                )
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
    gap = r_hi - r_lo  # what the numbers show, whichever way they go
    if gap >= 0.5:
        text += f": with shortcuts, the deeper net trained better, by {gap:.1f} points."
    elif gap > -0.5:
        text += ": with shortcuts, the deeper net trained as well."
    elif gap > -DEGRADED_POINTS:
        text += f": with shortcuts the deeper net trained {-gap:.1f} points worse"
        text += f", less than the {p_lo - p_hi:.0f} points the plain nets lost." if p_lo - p_hi > -gap else "."
    else:
        text += ": with shortcuts the deeper net also trained worse in this run."
    return text


# ---------------------------------------------------------------------------------------------
# Initialisation profiles and the chain (the gradient-flow page, resnet-viz probe)


def _describe(cfg: ModelConfig | None) -> str:
    if cfg is None:
        return ""
    parts = [cfg.activation, "BatchNorm" if cfg.bn else "no BatchNorm"]
    if cfg.residual and cfg.alpha != 1.0:
        parts.append(f"skip strength alpha = {cfg.alpha:g}")
    return f" ({', '.join(parts)})"


def _flow_sentence(p: InitProfile) -> str | None:
    """The first block's dL/dx against the last block's: the regime of the gradient that flows."""
    if len(p.grad_x_rms) < 2:
        return None
    r = p.flow_ratio()
    kind = regime(r, first=p.grad_x_rms[0])
    if kind == "undefined":
        return f"In {p.name} the gradient dL/dx was not finite at the first or last block, so no ratio can be given."
    head = f"In {p.name}{_describe(p.config)}, the gradient dL/dx at the first block's output"
    if kind == "zero":
        return f"In {p.name}{_describe(p.config)} the first block received no gradient dL/dx at all (exactly 0): it vanished completely."
    if kind == "flat":
        size = f"{r:.2g}x that at the last block"
    else:
        size = f"{by_factor(r)} at the last block"  # type: ignore[arg-type]
    text = f"{head} is {size}: {REGIME_WORDS[kind]}."
    cfg = p.config
    if kind == "exploding" and cfg is not None and cfg.bn and not cfg.residual:
        text += (
            " This is explosion at initialisation, which Yang et al. (2019) predict for deep BatchNorm nets "
            "without shortcuts; it is no sign of a healthy gradient (train the net to watch it calm down)."
        )
    return text


def _weight_view_sentence(p: InitProfile) -> str | None:
    """The per-weight gradient RMS, as a second view, and why it can disagree with dL/dx."""
    r = p.first_last_ratio("rms")
    if r is None or r <= 0:
        return None
    text = f"Per weight, the first layer's gradient RMS is {by_factor(r)} the last conv layer's"
    flow = p.flow_ratio()
    w_kind, f_kind = regime(r), regime(flow, first=p.grad_x_rms[0] if p.grad_x_rms else None)
    if f_kind in ("vanishing", "zero", "shrinking") and w_kind in ("flat", "growing", "exploding"):
        text += (
            ", so this view hides what dL/dx shows: a weight's gradient is the gradient arriving at its layer "
            "times that layer's input, and here the arriving gradient shrinks toward the input while the "
            "activations shrink toward the output, so the two trends cancel"
        )
    return text + "."


def _alpha_sentence(p: InitProfile) -> str | None:
    """Skip strength lambda = alpha != 1 (He et al. 2016b §3.1): along the shortcut alone the gradient
    is multiplied by alpha once per block, so alpha^n for n blocks (above 1 explodes, below vanishes)."""
    cfg = p.config
    if cfg is None or not cfg.residual or cfg.alpha == 1.0 or len(p.grad_x_rms) < 2:
        return None
    n = len(p.grad_x_rms) - 1  # blocks between the last block's output and the first's
    return skip_strength_sentence(cfg.alpha, n, p.flow_ratio())


def _act_sentence(p: InitProfile) -> str | None:
    vals = [v for v in p.act_std if v is not None and math.isfinite(v)]
    if len(p.act_std) < 2 or len(vals) != len(p.act_std):
        return None
    first, last = p.act_std[0], p.act_std[-1]
    text = f"In {p.name} the block outputs' std is {num(first)} at the first block and {num(last)} at the last"
    growth = last / first if first > 0 else None
    if growth is not None and growth > 1 / VANISHED:
        text += f": the activations exploded forward, {times(growth)} over the net"
    elif growth is not None and 0 < growth < VANISHED:
        text += f": the activations died out forward, to {fraction(growth)} of the first block's"
    return text + "."


def _twin_sentences(profiles: Sequence[InitProfile]) -> list[str]:
    """Plain vs residual twins (configs equal but for the shortcut): whose first block gets more dL/dx."""
    out = []
    for p in profiles:
        if p.config is None or p.config.residual:
            continue
        for r in profiles:
            c = r.config
            if c is None or not c.residual or dataclasses.replace(c, residual=False, alpha=p.config.alpha) != p.config:
                continue
            a, b = (q.grad_x_rms[0] if q.grad_x_rms else None for q in (r, p))
            if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)) or a <= 0 or b <= 0:
                continue
            same = " (both built from the same seed)" if p.seed is not None and p.seed == r.seed else ""
            text = f"equal to {p.name}'s" if a == b else f"{by_factor(a / b)} {p.name}'s"
            out.append(f"At the first block, {r.name}'s gradient dL/dx is {text}{same}.")
    return out


def profile_sentences(profiles: Sequence[InitProfile]) -> list[str]:
    """Sentences on what the measured profiles show, every number taken from them.

    Per model: the regime of dL/dx from the last block back to the first (vanishing, shrinking,
    flat, growing, exploding; thresholds in resnet_viz.text.numbers), the per-weight gradient as a
    second view (and why it can miss vanishing), and the activations' std at both ends; then
    plain vs residual twins at the first block. A sentence whose numbers are missing or not
    finite says so or is left out; it is never guessed.
    """
    out: list[str] = []
    for p in profiles:
        for s in (_flow_sentence(p), _alpha_sentence(p), _weight_view_sentence(p), _act_sentence(p)):
            if s is not None:
                out.append(s)
    out.extend(_twin_sentences(profiles))
    return out


def chain_sentence(plain: np.ndarray, residual: np.ndarray, *, beta: float, depth: int, gain: float) -> str:
    """What the two chains show at the input, in words computed from their values, against what a
    scalar chain x <- x + beta*g*x with the same settings would give: (1 + beta*g)^L."""
    p, r = float(plain[0]), float(residual[0])
    scale = "1/√L" if math.isclose(beta, 1 / math.sqrt(depth)) else f"{beta:.3g}"
    scalar = abs(1 + beta * gain) ** depth
    return (
        f"At the input, the plain chain keeps {fraction(p) if p < 1 else times(p)} of the output's gradient: "
        f"{REGIME_WORDS[regime(p)]}. The residual chain with branch scale β = {scale} keeps "
        f"{fraction(r) if r < 1 else times(r)}: {REGIME_WORDS[regime(r)]}. A scalar chain x ← x + βgx would "
        f"multiply by (1 + βg) per layer, {times(scalar) if scalar >= 1 else fraction(scalar)} over {depth} layers."
    )


# --- where the twins look (the saliency page) ------------------------------------------------------

ON_OBJECT_POINTS = 10.0  # share inside the mask this many points above an even spread: "looks at the shape"
LOOK_GAP_POINTS = 5.0  # a gap in share inside smaller than this between the twins is "about the same"


def _looks(energy: float, chance: float) -> str:
    """Where a map with `energy` inside the mask looks, against a map spread evenly (`chance`)."""
    if not is_number(energy):
        return "point nowhere: every map was zero"
    gap = 100 * (energy - chance) if is_number(chance) else math.nan
    if not is_number(gap):
        return f"put {pct(energy)} of their energy inside the shape"
    if gap >= ON_OBJECT_POINTS:
        return f"look at the shape ({pct(energy)} of their energy inside it)"
    if gap <= -ON_OBJECT_POINTS:
        return f"look away from the shape, at the background ({pct(energy)} inside it)"
    return f"look no more at the shape than a map spread evenly would ({pct(energy)} inside it)"


def localisation_reading(tracks: Sequence[Track], chance: float, n_images: int, n_classes: int) -> list[str]:
    """Sentences on where a plain net and its residual twin look, each from the scores it is given
    (:class:`resnet_viz.localisation.Track`): how well each trained, where its final maps sit
    against an even spread, which looks at the object more, and how that moved over training."""
    plain = next((t for t in tracks if not t.residual), None)
    res = next((t for t in tracks if t.residual), None)
    out: list[str] = []
    if plain is not None and res is not None and is_number(plain.train_acc) and is_number(res.train_acc):
        gap = 100 * (res.train_acc - plain.train_acc)
        if gap >= DEGRADED_POINTS:
            verdict = f"the plain net trained worse by {gap:.0f} points: it degraded"
        elif gap <= -DEGRADED_POINTS:
            verdict = f"here the residual net trained worse, by {-gap:.0f} points"
        else:
            verdict = "both trained about as well"
        out.append(
            f"{plain.label} ended at {pct(plain.train_acc)} training accuracy and {res.label} at "
            f"{pct(res.train_acc)} (guessing scores {pct(1 / n_classes)} with {n_classes} classes): {verdict}."
        )
    for t in (res, plain):
        if t is None:
            continue
        peak = (
            f"; their maximum fell inside it on {pct(t.final_peak)} of the images" if is_number(t.final_energy) else ""
        )
        out.append(f"On {n_images} test images, {t.label}'s Grad-CAM maps {_looks(t.final_energy, chance)}{peak}.")
    if is_number(chance):
        out.append(f"A map spread evenly over the image would put {pct(chance)} inside the shape: the line to beat.")
    if plain is not None and res is not None and is_number(plain.final_energy) and is_number(res.final_energy):
        diff = 100 * (res.final_energy - plain.final_energy)
        if diff >= LOOK_GAP_POINTS:
            out.append(f"The residual net's maps sit on the shape more than the plain net's, by {diff:.0f} points.")
        elif diff <= -LOOK_GAP_POINTS:
            out.append(
                f"Here the plain net's maps sit on the shape more than the residual net's, by {-diff:.0f} points: "
                "a map can point at the object while the net still gets it wrong, so read it beside the accuracy."
            )
        else:
            out.append(f"Both nets' maps sit on the shape about equally (within {LOOK_GAP_POINTS:.0f} points).")
    moves = [
        f"{t.label}'s from {pct(t.energy[0])} (step {t.steps[0]}) to {pct(t.energy[-1])} (step {t.steps[-1]})"
        for t in (res, plain)
        if t is not None and len(t.energy) > 1 and is_number(t.energy[0]) and is_number(t.energy[-1])
    ]
    if moves:
        out.append("Over training, the share inside the shape went " + "; ".join(moves) + ".")
    return out
