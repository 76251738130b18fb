"""Predict, then reveal: questions whose answers come from a measurement the learner has not seen yet.

A guess committed before the chart appears turns a picture into a test of the learner's model of
what happens (and the answer is always the live measurement, so it stays right when settings change).
The questions are about dL/dx at each block's output, the gradient that flows back (He et al.
2016b, eq. 5): the per-weight gradient can stay flat while dL/dx vanishes (a ReLU net without BN).
Options are graded by key, never by their displayed text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..engine.numbers import first_last, is_number, regime
from ..i18n import N_, _
from ..text import quiz as words

# Option texts are marked here and translated where they are shown (Question.label).
WHERE: tuple[tuple[str, str], ...] = (
    ("first", N_("the first blocks (next to the input)")),
    ("middle", N_("the middle blocks")),
    ("last", N_("the last blocks (next to the output)")),
)
DIRECTION: tuple[tuple[str, str], ...] = (
    ("shrinks", N_("it shrinks toward the input")),
    ("same", N_("it stays about the same")),
    ("grows", N_("it grows toward the input")),
)
# regime (resnet_viz.text.numbers) -> DIRECTION key: vanishing is strong shrinking, exploding strong growth
DIRECTION_OF = {
    "zero": "shrinks",
    "vanishing": "shrinks",
    "shrinking": "shrinks",
    "flat": "same",
    "growing": "grows",
    "exploding": "grows",
}


@dataclass(frozen=True)
class Question:
    key: str  # identifies the question and the measurement behind it (a new measurement: a new question)
    text: str
    options: tuple[tuple[str, str], ...]  # (key, English text marked with N_); grading compares keys
    answer: str  # an option key, from the measurement
    why: str  # the measured numbers behind the answer, shown after the guess

    def label(self, option: str) -> str:
        """The option's text in the learner's language."""
        return _(dict(self.options)[option])


def direction_of(row: Sequence[float]) -> tuple[str, float | None] | None:
    """The DIRECTION key that dL/dx's first/last-block ratio names, and the ratio (None when the
    first block got no gradient at all); None when the numbers allow no answer."""
    r = first_last(list(row))
    kind = regime(r, first=row[0] if row else None)
    if kind == "undefined":
        return None
    return DIRECTION_OF[kind], r


def smallest_gradient(name: str, grad_x_rms: Sequence[float], key: str) -> Question | None:
    """Where in the network dL/dx is smallest (thirds of the blocks, input side first)."""
    vals = [(i, float(v)) for i, v in enumerate(grad_x_rms) if is_number(v) and v >= 0]
    if len(vals) < 3 or len(vals) != len(grad_x_rms):
        return None
    i, v = min(vals, key=lambda t: t[1])
    third = min(2, 3 * i // len(grad_x_rms))
    return Question(
        key=f"smallest:{key}",
        options=WHERE,
        answer=WHERE[third][0],
        text=words.smallest_question(name),
        why=words.smallest_why(v, i + 1, len(grad_x_rms)),
    )


def direction(name: str, grad_x_rms: Sequence[float], key: str) -> Question | None:
    """Whether dL/dx shrinks or grows from the last block back to the first."""
    found = direction_of(grad_x_rms)
    if found is None:
        return None
    answer, r = found
    return Question(
        key=f"direction:{key}",
        options=DIRECTION,
        answer=answer,
        text=words.direction_question(name),
        why=words.direction_why(r),
    )


def grade(question: Question, guess: str | None) -> bool | None:
    """True/False for a committed guess (an option key), None when there is none yet."""
    if guess is None:
        return None
    if guess not in dict(question.options):
        raise ValueError(f"{guess!r} is not one of the options of {question.key!r}")
    return guess == question.answer
