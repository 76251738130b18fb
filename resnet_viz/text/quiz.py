"""The predict-then-reveal questions of the gradient-flow page (resnet_viz.teaching.quiz), in words: each
question names the model measured, and the reveal quotes the measured numbers behind the answer.

The answer itself is an option key, chosen in resnet_viz.teaching.quiz from the measurement and graded by
key, so nothing here decides what is right.
"""

from __future__ import annotations

from typing import Protocol

from . import _
from .numbers import SAME_BAND, fraction, num


class Question(Protocol):
    """What `feedback` reads of a question (resnet_viz.teaching.quiz.Question has it): said here as
    a protocol, so the words never import the lesson that asks them."""

    @property
    def text(self) -> str: ...
    @property
    def answer(self) -> str: ...
    @property
    def why(self) -> str: ...
    def label(self, key: str) -> str: ...


def ratio_shown(r: float | None) -> str:
    """A first/last ratio as a plain number: 0.0032 below 1, 1,380 from 1 up; None (no gradient
    at the first block at all) reads 0."""
    return "0" if r is None else fraction(r) if r < 1 else num(r)


def smallest_question(name: str) -> str:
    return _("In {name} at initialisation, at which blocks is the gradient dL/dx smallest?").format(name=name)


def smallest_why(value: float, block: int, blocks: int) -> str:
    return _("The smallest dL/dx RMS, {value}, is at block {block} of {blocks}.").format(
        value=num(value), block=block, blocks=blocks
    )


def direction_question(name: str) -> str:
    return _(
        "Going backwards through {name} at initialisation, from its last block to its first, what happens to the "
        "gradient dL/dx?"
    ).format(name=name)


def direction_why(r: float | None) -> str:
    return _(
        'dL/dx at the first block / at the last block = {ratio} ("about the same" means within {band}x either way).'
    ).format(ratio=ratio_shown(r), band=f"{SAME_BAND:g}")


def header(right: int, asked: int) -> str:
    """The box's title, with the score once a guess was graded."""
    if not asked:
        return _("**Predict, then reveal**")
    return _("**Predict, then reveal** · score {right}/{asked}").format(right=right, asked=asked)


def feedback(q: Question, guess: str | None, ok: bool | None) -> str:
    """After the reveal: the question, the learner's guess (`ok`: its grade, None when skipped),
    the measured answer and the numbers behind it."""
    values = {
        "question": q.text,
        "said": q.label(guess) if guess is not None else "-",
        "measured": q.label(q.answer),
        "why": q.why,
    }
    if ok is None:
        return _("{question} You said *{said}*: **skipped**. Measured: {measured}. {why}").format(**values)
    if ok:
        return _("{question} You said *{said}*: **right**. Measured: {measured}. {why}").format(**values)
    return _("{question} You said *{said}*: **not this time**. Measured: {measured}. {why}").format(**values)


__all__ = [
    "direction_question",
    "direction_why",
    "feedback",
    "header",
    "ratio_shown",
    "smallest_question",
    "smallest_why",
]
