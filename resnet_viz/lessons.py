"""The guided exercises of the gradient-flow, live and degradation pages, graded from the
learner's own measurements (see resnet_viz.exercises for the predict-run-check model).

Each ``*_outcome`` function takes what the page just measured and returns an Outcome, or None
while the learner has not made the measurement the exercise asks for (the page then says what
to do). No Streamlit here: the pages pass plain values in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .exercises import Exercise, Outcome
from .quiz import DIRECTION, DIRECTION_OF
from .reading import final_train_acc
from .sweep import DepthPoint, SweepResult
from .text.numbers import first_last, fraction, num, pct, ratio, regime, times
from .theory import InitProfile
from .train import History


def _direction_outcome(name: str, row: Sequence[float]) -> Outcome | None:
    r = first_last(row)
    kind = regime(r, first=row[0] if row else None)
    if kind == "undefined":
        return None
    shown = "0" if r is None else (fraction(r) if r < 1 else num(r))
    return Outcome(DIRECTION_OF[kind], f"in {name}, dL/dx at the first block / at the last block = {shown}.")


# -- gradient-flow page --------------------------------------------------------------------------

THEORY_BN_OFF = Exercise(
    key="theory.bn_off",
    task="Turn BatchNorm off for the CIFAR-style net (keep the plain model).",
    question="Going back from the last block to the first, what will the plain net's gradient dL/dx do?",
    options=DIRECTION,
)
THEORY_ALPHA = Exercise(
    key="theory.alpha_above_1",
    task="Set the skip strength alpha above 1 (e.g. 1.5), with the residual model shown.",
    question="Compared with alpha = 1, will dL/dx at the residual net's first block be larger, about the same, "
    "or smaller (relative to its last block)?",
    options=(("larger", "larger"), ("same", "about the same (within 2x)"), ("smaller", "smaller")),
)
THEORY_BETA = Exercise(
    key="theory.beta_1",
    task="In the chain, set the branch scale β to 1 (unscaled branches).",
    question="Will the residual chain's gradient at the input stay within 10x of the output's?",
    options=(("yes", "yes, within 10x"), ("no", "no, it grows past 10x")),
)


def theory_bn_off_outcome(profiles: Sequence[InitProfile]) -> Outcome | None:
    plain = [
        p
        for p in profiles
        if p.config is not None and p.config.arch == "cifar" and not p.config.residual and not p.config.bn
    ]
    if not plain:
        return None
    p = max(plain, key=lambda q: len(q.grad_x_rms))
    return _direction_outcome(p.name, p.grad_x_rms)


def theory_alpha_outcome(profiles: Sequence[InitProfile], alpha_one: Sequence[InitProfile]) -> Outcome | None:
    """`alpha_one`: the same residual models measured at alpha = 1 (the page measures both)."""
    for p in profiles:
        c = p.config
        if c is None or not c.residual or c.alpha <= 1.0:
            continue
        base = next((q for q in alpha_one if q.config is not None and q.config.depth == c.depth), None)
        if base is None:
            continue
        now, before = p.flow_ratio(), base.flow_ratio()
        change = ratio(now, before)
        if change is None or change <= 0:
            continue
        answer = "larger" if change > 2 else "smaller" if change < 0.5 else "same"
        return Outcome(
            answer,
            f"in {p.name}, dL/dx first/last block is {num(now)} at alpha = {c.alpha:g} and "
            f"{num(before)} at alpha = 1 ({times(change) if change >= 1 else fraction(change)} "
            f"{'times' if change >= 1 else 'of'} it).",
        )
    return None


def theory_beta_outcome(residual_chain: np.ndarray, beta: float) -> Outcome | None:
    if beta != 1.0 or len(residual_chain) == 0:
        return None
    g = float(residual_chain[0])
    answer = "yes" if 0.1 <= g <= 10 else "no"
    return Outcome(answer, f"with β = 1 the residual chain keeps {num(g)} of the output's gradient at the input.")


# -- live page ------------------------------------------------------------------------------------

LIVE_CALMS = Exercise(
    key="live.calms",
    task="Train plain-56 with BatchNorm (the defaults) for 200 steps or more.",
    question="At initialisation its dL/dx is far larger at the first block than at the last (Gradient flow "
    "measures it). By the end of training, will that first/last ratio be lower, about the same, or higher?",
    options=(("lower", "lower: it calms down"), ("same", "about the same"), ("higher", "higher")),
)
LIVE_NO_BN = Exercise(
    key="live.no_bn",
    task="Turn BatchNorm off (More settings), set init to default, and train both twins.",
    question="Which twin will reach the higher training accuracy?",
    options=(("plain", "plain"), ("residual", "residual"), ("same", "about the same (within 5 points)")),
)


def _depth(name: str) -> int:
    tail = name.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def live_calms_outcome(histories: Sequence[History]) -> Outcome | None:
    """Graded on a finished deep plain run (depth 56 or more) from dL/dx at its first and last probe."""
    for h in histories:
        if (
            "plain" not in h.name
            or _depth(h.name) < 56
            or len(h.grad_x_rms) < 2
            or h.status not in ("finished", "stopped")
        ):
            continue
        first, last = first_last(h.grad_x_rms[0]), first_last(h.grad_x_rms[-1])
        change = ratio(last, first)
        if change is None or change <= 0:
            continue
        answer = "lower" if change < 0.5 else "higher" if change > 2 else "same"
        return Outcome(
            answer,
            f"in {h.name} the dL/dx first/last block ratio went from {num(first)} at step "
            f"{h.probe_step[0]} to {num(last)} at step {h.probe_step[-1]}.",
        )
    return None


def live_no_bn_outcome(histories: Sequence[History], bn: bool) -> Outcome | None:
    if bn:
        return None
    acc = {
        ("plain" if "plain" in h.name else "residual"): final_train_acc(h)
        for h in histories
        if h.status in ("finished", "diverged", "stopped")
    }
    if set(acc) != {"plain", "residual"} or any(v is None for v in acc.values()):
        return None
    p, r = acc["plain"], acc["residual"]
    answer = "same" if abs(p - r) < 0.05 else "plain" if p > r else "residual"  # type: ignore[operator]
    return Outcome(answer, f"training accuracy: plain {pct(p)}, residual {pct(r)}.")


# -- degradation page -----------------------------------------------------------------------------

SWEEP_DEEPER_PLAIN = Exercise(
    key="sweep.deeper_plain",
    task="Run a sweep with a shallow and a deep plain net (e.g. depths 20 and 56).",
    question="Will the deeper plain net end with a higher, similar or lower training error?",
    options=(("higher", "higher"), ("same", "within 5 points"), ("lower", "lower")),
)
SWEEP_LONGER = Exercise(
    key="sweep.longer",
    task="Run the same sweep again with a budget five times longer.",
    question="Will the deep plain net catch up with the shallow one (training error within 5 points)?",
    options=(("yes", "yes, it catches up"), ("no", "no, it stays behind")),
)


def _plain_gap(points: Sequence[DepthPoint]) -> tuple[DepthPoint, DepthPoint, float] | None:
    plain = sorted((p for p in points if p.kind == "plain" and p.train_error), key=lambda p: p.depth)
    if len(plain) < 2:
        return None
    return plain[0], plain[-1], plain[-1].train_mean - plain[0].train_mean


def sweep_deeper_outcome(points: Sequence[DepthPoint]) -> Outcome | None:
    found = _plain_gap(points)
    if found is None:
        return None
    lo, hi, gap = found
    answer = "higher" if gap >= 5 else "lower" if gap <= -5 else "same"
    return Outcome(
        answer, f"training error {lo.train_mean:.1f}% at depth {lo.depth}, {hi.train_mean:.1f}% at depth {hi.depth}."
    )


def sweep_longer_outcome(budgets: dict[int, Sequence[DepthPoint]]) -> Outcome | None:
    """`budgets`: steps per model -> that sweep's depth points; graded once two budgets 5x apart exist."""
    if len(budgets) < 2:
        return None
    short, long = min(budgets), max(budgets)
    found = _plain_gap(budgets[long])
    if long < 5 * short or found is None:
        return None
    lo, hi, gap = found
    return Outcome(
        "yes" if gap < 5 else "no",
        f"with {long} steps, plain-{hi.depth} ended at {hi.train_mean:.1f}% "
        f"training error, plain-{lo.depth} at {lo.train_mean:.1f}%.",
    )


# -- "so what is the difficulty?" (degradation page) ----------------------------------------------


@dataclass(frozen=True)
class Explanation:
    text: str  # the candidate explanation and what this lab measured of it
    page: str  # the page script that measures it
    link: str  # the link's label


def difficulty_items(results: Sequence[SweepResult], shattered_lag1: tuple[float, float] | None) -> list[Explanation]:
    """The candidate explanations of degradation, each with the lab's own measurement when there
    is one (the sweep's deepest plain net at initialisation; the scalar nets' lag-1 correlation)."""
    plain = [r for r in results if r.kind == "plain" and r.history.grad_x_rms]
    if plain:
        deepest = max(plain, key=lambda r: r.depth)
        at_init = first_last(deepest.history.grad_x_rms[0])
        at_end = first_last(deepest.history.grad_x_rms[-1])
        measured = (
            f" In this sweep plain-{deepest.depth}'s dL/dx first/last block ratio was {num(at_init)} at step "
            f"{deepest.history.probe_step[0]} and {num(at_end)} at step {deepest.history.probe_step[-1]}."
        )
    else:
        measured = " Run a sweep with a deep plain net to measure it here."
    items = [
        Explanation(
            "Explosion at initialisation: with BatchNorm and no shortcuts, the gradient grows toward the input at "
            "initialisation (Yang et al. 2019), so the first updates of the early layers are far larger than those "
            "of the late ones; it calms within the first steps." + measured,
            "pages/1_theory.py",
            "Measure dL/dx at initialisation on Gradient flow",
        )
    ]
    if shattered_lag1 is not None:
        p, r = shattered_lag1
        shattered = (
            f" Measured here (depth 50, seed 0): lag-1 autocorrelation of df/dx {p:.2f} for the plain net, "
            f"{r:.2f} for the residual one."
        )
    else:
        shattered = ""
    items.append(
        Explanation(
            "Shattered gradients: in a deep plain net the gradient with respect to the input looks like white noise "
            "(Balduzzi et al. 2017): the gradients at two nearby inputs are almost unrelated." + shattered,
            "pages/1_theory.py",
            "See shattered gradients on Gradient flow",
        )
    )
    items.append(
        Explanation(
            "A rougher loss surface: around trained weights, deep plain nets show a sharper, more chaotic loss "
            "landscape than their residual twins (Li et al. 2018); measure the loss rise at the same distance for "
            "your own pair.",
            "pages/5_analysis.py",
            "Slice the loss landscape on Beyond the textbook",
        )
    )
    items.append(
        Explanation(
            "The ensemble view: a residual net behaves like a collection of many short paths (Veit et al. 2016), so "
            "it never has to train one very deep path; deleting a block at test time shows it.",
            "pages/5_analysis.py",
            "Delete blocks in the lesion study on Beyond the textbook",
        )
    )
    return items
