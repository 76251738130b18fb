"""Predict, then reveal: questions whose answers come from a measurement the learner has not seen yet.

A guess committed before the chart appears turns a picture into a test of the learner's model of
what happens (and the answer is always the live measurement, so it stays right when settings change).
The questions are about dL/dx at each block's output, the gradient that flows back (He et al.
2016b, eq. 5): the per-weight gradient can stay flat while dL/dx vanishes (a ReLU net without BN).
Options are graded by key, never by their displayed text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .text.numbers import first_last, fraction, num, regime

WHERE: tuple[tuple[str, str], ...] = (
    ("first", "the first blocks (next to the input)"),
    ("middle", "the middle blocks"),
    ("last", "the last blocks (next to the output)"),
)
DIRECTION: tuple[tuple[str, str], ...] = (
    ("shrinks", "it shrinks toward the input"),
    ("same", "it stays about the same"),
    ("grows", "it grows toward the input"),
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
    options: tuple[tuple[str, str], ...]  # (key, text)
    answer: str  # an option key, from the measurement
    why: str  # the measured numbers behind the answer, shown after the guess

    def label(self, option: str) -> str:
        return dict(self.options)[option]


def _finite(values: Sequence[float]) -> list[tuple[int, float]]:
    return [(i, float(v)) for i, v in enumerate(values) if v is not None and math.isfinite(float(v)) and v >= 0]


def smallest_gradient(name: str, grad_x_rms: Sequence[float], key: str) -> Question | None:
    """Where in the network dL/dx is smallest (thirds of the blocks, input side first)."""
    vals = _finite(list(grad_x_rms))
    if len(vals) < 3 or len(vals) != len(grad_x_rms):
        return None
    i, v = min(vals, key=lambda t: t[1])
    third = min(2, 3 * i // len(grad_x_rms))
    return Question(
        key=f"smallest:{key}",
        options=WHERE,
        answer=WHERE[third][0],
        text=f"In {name} at initialisation, at which blocks is the gradient dL/dx smallest?",
        why=f"The smallest dL/dx RMS, {num(v)}, is at block {i + 1} of {len(grad_x_rms)}.",
    )


def direction(name: str, grad_x_rms: Sequence[float], key: str) -> Question | None:
    """Whether dL/dx shrinks or grows from the last block back to the first."""
    ratio = first_last(list(grad_x_rms))
    kind = regime(ratio, first=grad_x_rms[0] if grad_x_rms else None)
    if kind == "undefined":
        return None
    shown = "0" if ratio is None else (fraction(ratio) if ratio < 1 else num(ratio))
    return Question(
        key=f"direction:{key}",
        options=DIRECTION,
        answer=DIRECTION_OF[kind],
        text=f"Going backwards through {name} at initialisation, from its last block to its first, what happens "
        "to the gradient dL/dx?",
        why=f'dL/dx at the first block / at the last block = {shown} ("about the same" means within 2x either way).',
    )


def grade(question: Question, guess: str | None) -> bool | None:
    """True/False for a committed guess (an option key), None when there is none yet."""
    if guess is None:
        return None
    if guess not in dict(question.options):
        raise ValueError(f"{guess!r} is not one of the options of {question.key!r}")
    return guess == question.answer
