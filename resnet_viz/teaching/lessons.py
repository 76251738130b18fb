"""The guided exercises of the gradient-flow, live and degradation pages, graded from the
learner's own measurements (see resnet_viz.teaching.exercises for the predict-run-check model).

Each ``*_outcome`` function takes what the page just measured and returns an Outcome, or None
while the learner has not made the measurement the exercise asks for (the page then says what
to do). The answer is an option key, decided here; the sentence that quotes the numbers behind
it is built in resnet_viz.text.lessons. No Streamlit here: the pages pass plain values in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..degradation.sweep import DepthPoint, SweepResult, scored
from ..engine.history import History
from ..engine.numbers import band, first_last, ratio, regime
from ..i18n import N_, _
from ..text import lessons as words
from ..theory.flow import InitProfile
from .exercises import Exercise, Outcome
from .quiz import DIRECTION, DIRECTION_OF, direction_of


def _change(before: float | None, now: float | None) -> str | None:
    """Which way a first/last ratio moved from `before` to `now` (a DIRECTION key: "grows" past
    2x, "shrinks" below 1/2x, else "same"); None when the two do not allow a ratio."""
    change = ratio(now, before)
    if change is None or change <= 0:
        return None
    return DIRECTION_OF[regime(change)]


# The exercises' texts are marked with N_() here and translated where they are shown
# (resnet_viz.ui.exercises); the option keys are what gets graded.

# -- gradient-flow page --------------------------------------------------------------------------

THEORY_BN_OFF = Exercise(
    key="theory.bn_off",
    task=N_("Turn BatchNorm off for the CIFAR-style net (keep the plain model)."),
    question=N_("Going back from the last block to the first, what will the plain net's gradient dL/dx do?"),
    options=DIRECTION,
)
THEORY_ALPHA = Exercise(
    key="theory.alpha_above_1",
    task=N_("Set the skip strength alpha above 1 (e.g. 1.5), with the residual model shown."),
    question=N_(
        "Compared with alpha = 1, will dL/dx at the residual net's first block be larger, about the same, "
        "or smaller (relative to its last block)?"
    ),
    options=(("larger", N_("larger")), ("same", N_("about the same (within 2x)")), ("smaller", N_("smaller"))),
)
THEORY_BETA = Exercise(
    key="theory.beta_1",
    task=N_("In the chain, set the branch scale β to 1 (unscaled branches)."),
    question=N_("Will the residual chain's gradient at the input stay within 10x of the output's?"),
    options=(("yes", N_("yes, within 10x")), ("no", N_("no, it grows past 10x"))),
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
    found = direction_of(p.grad_x_rms)
    if found is None:
        return None
    answer, r = found
    return Outcome(answer, words.direction_outcome(p.name, r))


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
        way = _change(before, now)
        if way is None:
            continue
        answer = {"grows": "larger", "same": "same", "shrinks": "smaller"}[way]
        return Outcome(answer, words.alpha_outcome(p.name, c.alpha, now, before, ratio(now, before)))  # type: ignore[arg-type]
    return None


def theory_beta_outcome(residual_chain: np.ndarray, beta: float) -> Outcome | None:
    if beta != 1.0 or len(residual_chain) == 0:
        return None
    g = float(residual_chain[0])
    answer = "yes" if 0.1 <= g <= 10 else "no"
    return Outcome(answer, words.beta_outcome(g))


# -- live page ------------------------------------------------------------------------------------

LIVE_CALMS = Exercise(
    key="live.calms",
    task=N_("Train plain-56 with BatchNorm (the defaults) for 200 steps or more."),
    question=N_(
        "At initialisation its dL/dx is far larger at the first block than at the last (Gradient flow "
        "measures it). By the end of training, will that first/last ratio be lower, about the same, or higher?"
    ),
    options=(("lower", N_("lower: it calms down")), ("same", N_("about the same")), ("higher", N_("higher"))),
)
LIVE_NO_BN = Exercise(
    key="live.no_bn",
    task=N_("Turn BatchNorm off (More settings), set init to default, and train both twins."),
    question=N_("Which twin will reach the higher training accuracy?"),
    options=(("plain", N_("plain")), ("residual", N_("residual")), ("same", N_("about the same (within 5 points)"))),
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
        way = _change(first, last)
        if way is None:
            continue
        answer = {"grows": "higher", "same": "same", "shrinks": "lower"}[way]
        return Outcome(answer, words.calms_outcome(h.name, first, h.probe_step[0], last, h.probe_step[-1]))
    return None


def live_no_bn_outcome(histories: Sequence[History], bn: bool) -> Outcome | None:
    if bn:
        return None
    acc = {
        ("plain" if "plain" in h.name else "residual"): h.final_train_acc()
        for h in histories
        if h.status in ("finished", "diverged", "stopped")
    }
    if set(acc) != {"plain", "residual"} or any(v is None for v in acc.values()):
        return None
    p, r = acc["plain"], acc["residual"]
    answer = {"above": "plain", "within": "same", "below": "residual"}[band(100 * (p - r))]  # type: ignore[operator]
    return Outcome(answer, words.accuracy_outcome(p, r))


# -- degradation page -----------------------------------------------------------------------------

SWEEP_DEEPER_PLAIN = Exercise(
    key="sweep.deeper_plain",
    task=N_("Run a sweep with a shallow and a deep plain net (e.g. depths 20 and 56)."),
    question=N_("Will the deeper plain net end with a higher, similar or lower training error?"),
    options=(("higher", N_("higher")), ("same", N_("within 5 points")), ("lower", N_("lower"))),
)
SWEEP_LONGER = Exercise(
    key="sweep.longer",
    task=N_("Run the same sweep again with a budget five times longer."),
    question=N_("Will the deep plain net catch up with the shallow one (training error within 5 points)?"),
    options=(("yes", N_("yes, it catches up")), ("no", N_("no, it stays behind"))),
)


def _plain_depths(points: Sequence[DepthPoint]) -> tuple[DepthPoint, DepthPoint, str] | None:
    """The shallowest and deepest plain points, and how the deeper's training error compares
    (resnet_viz.text.numbers.band: 5 points or more higher is "above")."""
    plain = scored(points, "plain")
    if len(plain) < 2:
        return None
    return plain[0], plain[-1], band(plain[-1].train_mean - plain[0].train_mean)


def sweep_deeper_outcome(points: Sequence[DepthPoint]) -> Outcome | None:
    found = _plain_depths(points)
    if found is None:
        return None
    lo, hi, verdict = found
    answer = {"above": "higher", "within": "same", "below": "lower"}[verdict]
    return Outcome(answer, words.depth_outcome(lo.depth, lo.train_mean, hi.depth, hi.train_mean))


def sweep_longer_outcome(budgets: dict[int, Sequence[DepthPoint]]) -> Outcome | None:
    """`budgets`: steps per model -> that sweep's depth points; graded once two budgets 5x apart exist."""
    if len(budgets) < 2:
        return None
    short, long = min(budgets), max(budgets)
    found = _plain_depths(budgets[long])
    if long < 5 * short or found is None:
        return None
    lo, hi, verdict = found
    return Outcome(
        "no" if verdict == "above" else "yes",
        words.longer_outcome(long, lo.depth, lo.train_mean, hi.depth, hi.train_mean),
    )


# -- "so what is the difficulty?" (degradation page) ----------------------------------------------


@dataclass(frozen=True)
class Explanation:
    text: str  # the candidate explanation and what this lab measured of it (in the learner's language)
    page: str  # the page script that measures it
    link: str  # the link's label (in the learner's language)


def difficulty_items(results: Sequence[SweepResult], shattered_lag1: tuple[float, float] | None) -> list[Explanation]:
    """The candidate explanations of degradation, each with the lab's own measurement when there
    is one (the sweep's deepest plain net at initialisation; the scalar nets' lag-1 correlation)."""
    plain = [r for r in results if r.kind == "plain" and r.history.grad_x_rms]
    if plain:
        deepest = max(plain, key=lambda r: r.depth)
        h = deepest.history
        at_init, at_end = first_last(h.grad_x_rms[0]), first_last(h.grad_x_rms[-1])
        measured = words.explosion_measured(deepest.depth, at_init, h.probe_step[0], at_end, h.probe_step[-1])
    else:
        measured = words.explosion_unmeasured()
    items = [
        Explanation(
            _(
                "Explosion at initialisation: with BatchNorm and no shortcuts, the gradient grows toward the input at "
                "initialisation (Yang et al. 2019 derive it for deep fully connected nets), so the first updates of "
                "the early layers are far larger than those of the late ones. {measured}"
            ).format(measured=measured),
            "pages/1_theory.py",
            _("Measure dL/dx at initialisation on Gradient flow"),
        )
    ]
    if shattered_lag1 is None:
        shattered = _(
            "Shattered gradients: in a deep fully connected plain ReLU net from one number to one number, the "
            "gradient with respect to the input looks like white noise (Balduzzi et al. 2017): the gradients at "
            "two nearby inputs are almost unrelated."
        )
    else:
        shattered = _(
            "Shattered gradients: in a deep fully connected plain ReLU net from one number to one number, the "
            "gradient with respect to the input looks like white noise (Balduzzi et al. 2017): the gradients at "
            "two nearby inputs are almost unrelated. {measured}"
        ).format(measured=words.shattered_measured(*shattered_lag1))
    items.append(Explanation(shattered, "pages/1_theory.py", _("See shattered gradients on Gradient flow")))
    items.append(
        Explanation(
            _(
                "A rougher loss surface: in Li et al. (2018) the loss surface of nets without shortcuts turned "
                "chaotic as depth grew (at 56 and 110 layers; at 20 layers shortcuts made little difference). For "
                "your own pair, measure how far the loss rises at the same distance from the trained weights: a "
                "larger rise shows a sharper surface, not by itself a chaotic one."
            ),
            "pages/5_analysis.py",
            _("Slice the loss landscape on Beyond the textbook"),
        )
    )
    items.append(
        Explanation(
            _(
                "The ensemble view: Veit et al. (2016) read a residual net as a collection of many paths of "
                "different lengths that behaves like an ensemble of relatively shallow nets (its paths share weights "
                "and train together, so they are not independent members), with most of the gradient in training coming from the short ones. A residual net "
                "that survives deleting a block at test time is consistent with that reading, not proof of it."
            ),
            "pages/5_analysis.py",
            _("Delete blocks in the lesion study on Beyond the textbook"),
        )
    )
    return items
