"""The measured half of the guided exercises (resnet_viz.teaching.lessons): the sentence each outcome shows
after a prediction, and the lab's own numbers beside the candidate explanations of degradation.

The outcome's answer (an option key) is chosen in resnet_viz.teaching.lessons; these sentences only quote
the numbers it was chosen from. They read after "Measured:", so they start in lower case. The exercise box's own lines (its
header, a prediction waiting for its run, a graded one) are here too.
"""

from __future__ import annotations

from . import _
from .numbers import num, pct, percent_value
from .quiz import ratio_shown


def direction_outcome(name: str, r: float | None) -> str:
    return _("in {name}, dL/dx at the first block / at the last block = {ratio}.").format(
        name=name, ratio=ratio_shown(r)
    )


def alpha_outcome(name: str, alpha: float, now: float | None, before: float | None, change: float) -> str:
    """dL/dx first/last block at `alpha` (`now`) and at alpha = 1 (`before`); `change` = now / before."""
    values = {
        "name": name,
        "alpha": f"{alpha:g}",
        "now": num(now),
        "before": num(before),
        "change": ratio_shown(change),
    }
    if change >= 1:
        return _(
            "in {name}, dL/dx first/last block is {now} at alpha = {alpha} and {before} at alpha = 1 ({change} times it)."
        ).format(**values)
    return _(
        "in {name}, dL/dx first/last block is {now} at alpha = {alpha} and {before} at alpha = 1 ({change} of it)."
    ).format(**values)


def beta_outcome(kept: float) -> str:
    return _("with β = 1 the residual chain keeps {kept} of the output's gradient at the input.").format(kept=num(kept))


def calms_outcome(name: str, first: float | None, first_step: int, last: float | None, last_step: int) -> str:
    return _(
        "in {name} the dL/dx first/last block ratio went from {first} at step {first_step} to {last} at step "
        "{last_step}."
    ).format(name=name, first=num(first), first_step=first_step, last=num(last), last_step=last_step)


def accuracy_outcome(plain: float | None, residual: float | None) -> str:
    return _("training accuracy: plain {plain}, residual {residual}.").format(plain=pct(plain), residual=pct(residual))


def depth_outcome(shallow_depth: int, shallow_error: float, deep_depth: int, deep_error: float) -> str:
    return _("training error {shallow_error}% at depth {shallow_depth}, {deep_error}% at depth {deep_depth}.").format(
        shallow_error=percent_value(shallow_error),
        shallow_depth=shallow_depth,
        deep_error=percent_value(deep_error),
        deep_depth=deep_depth,
    )


def longer_outcome(steps: int, shallow_depth: int, shallow_error: float, deep_depth: int, deep_error: float) -> str:
    return _(
        "with {steps} steps, plain-{deep_depth} ended at {deep_error}% training error, plain-{shallow_depth} at "
        "{shallow_error}%."
    ).format(
        steps=steps,
        shallow_depth=shallow_depth,
        shallow_error=percent_value(shallow_error),
        deep_depth=deep_depth,
        deep_error=percent_value(deep_error),
    )


def explosion_measured(depth: int, at_init: float | None, init_step: int, at_end: float | None, end_step: int) -> str:
    """The sweep's deepest plain net, beside the explosion-at-initialisation explanation."""
    return _(
        "In this sweep plain-{depth}'s dL/dx first/last block ratio was {at_init} at step {init_step} and {at_end} "
        "at step {end_step}."
    ).format(depth=depth, at_init=num(at_init), init_step=init_step, at_end=num(at_end), end_step=end_step)


def explosion_unmeasured() -> str:
    return _("Run a sweep with a deep plain net to measure it here.")


def shattered_measured(plain: float, residual: float) -> str:
    """The scalar nets' lag-1 autocorrelation (depth 50, seed 0: the gradient-flow page's figure)."""
    return _(
        "Measured here (depth 50, seed 0): lag-1 autocorrelation of df/dx {plain} for the plain net, {residual} for "
        "the residual one."
    ).format(plain=f"{plain:.2f}", residual=f"{residual:.2f}")


def box_header(title: str, right: int, graded: int) -> str:
    """The exercise box's title, with the session's score once an exercise was graded."""
    if not graded:
        return _("**{title}**: predict, run, check").format(title=title)
    return _("**{title}**: predict, run, check · score {right}/{graded} this session").format(
        title=title, right=right, graded=graded
    )


def waiting(guess: str, todo: str) -> str:
    """A committed prediction whose measurement does not exist yet; `todo` says how to make it."""
    return _("You predicted *{guess}*. Now run it: {todo}").format(guess=guess, todo=todo)


def held_back() -> str:
    """In place of a page's reading while it answers an exercise that waits for its prediction."""
    return _("This reading answers an exercise below, so it is held back: commit your prediction there to see it.")


def graded(guess: str, ok: bool, why: str) -> str:
    """A committed prediction next to the measurement that graded it (`why` reads after "Measured:")."""
    if ok:
        return _("You predicted *{guess}*: **right**. Measured: {why}").format(guess=guess, why=why)
    return _("You predicted *{guess}*: **not this time**. Measured: {why}").format(guess=guess, why=why)


__all__ = [
    "accuracy_outcome",
    "alpha_outcome",
    "beta_outcome",
    "box_header",
    "calms_outcome",
    "depth_outcome",
    "direction_outcome",
    "explosion_measured",
    "explosion_unmeasured",
    "graded",
    "held_back",
    "longer_outcome",
    "shattered_measured",
    "waiting",
]
