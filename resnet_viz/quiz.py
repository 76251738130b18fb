"""Predict, then reveal: questions whose answers come from a measurement the learner has not seen yet.

A guess committed before the chart appears turns a picture into a test of the learner's model of
what happens (and the answer is always the live measurement, so it stays right when settings change).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .reading import input_output_ratio

WHERE = ("the first layers (next to the input)", "the middle layers", "the last layers (next to the output)")
DIRECTION = ("it shrinks toward the input", "it stays about the same", "it grows toward the input")
SAME_BAND = 2.0  # within this factor either way, first and last layers count as "about the same"


@dataclass(frozen=True)
class Question:
    key: str  # identifies the question and the measurement behind it (a new measurement: a new question)
    text: str
    options: tuple[str, ...]
    answer: str  # one of options, from the measurement
    why: str  # the measured numbers behind the answer, shown after the guess


def _finite(values: Sequence[float]) -> list[tuple[int, float]]:
    return [(i, float(v)) for i, v in enumerate(values) if v is not None and math.isfinite(float(v)) and v > 0]


def smallest_gradient(name: str, grad_rms: Sequence[float], key: str) -> Question | None:
    """Where in the network the gradient per weight is smallest (thirds of the layers, the head
    excluded: it sees the loss directly)."""
    vals = _finite(list(grad_rms)[:-1])
    if len(vals) < 3:
        return None
    i, v = min(vals, key=lambda t: t[1])
    third = min(2, 3 * i // (len(grad_rms) - 1))
    return Question(
        key=f"smallest:{key}", options=WHERE, answer=WHERE[third],
        text=f"In {name} at initialisation, which layers receive the smallest gradient per weight?",
        why=f"The smallest gradient RMS, {v:.3g}, is at layer {i + 1} of {len(grad_rms)}.",
    )  # fmt: skip


def direction(name: str, grad_rms: Sequence[float], key: str) -> Question | None:
    """Whether the gradient per weight shrinks or grows from the last conv layer to the first."""
    ratio = input_output_ratio(list(grad_rms))
    if ratio is None or not ratio > 0:
        return None
    answer = DIRECTION[0] if ratio < 1 / SAME_BAND else DIRECTION[2] if ratio > SAME_BAND else DIRECTION[1]
    return Question(
        key=f"direction:{key}", options=DIRECTION, answer=answer,
        text=f"Going backwards through {name} at initialisation, from its last layer to its first, what happens "
             "to the gradient per weight?",
        why=f"First layer / last conv layer = {ratio:.3g} (\"about the same\" means within {SAME_BAND:g}x either way).",
    )  # fmt: skip


def grade(question: Question, guess: str | None) -> bool | None:
    """True/False for a committed guess, None when there is none yet."""
    if guess is None:
        return None
    if guess not in question.options:
        raise ValueError(f"{guess!r} is not one of the options of {question.key!r}")
    return guess == question.answer
