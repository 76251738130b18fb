"""Guided exercises: predict, run, check.

An exercise asks the learner to commit to a prediction, then to make a measurement on the page
(turn BatchNorm off, set alpha to 1.5, train longer, ...), and grades the prediction against
that measurement. The grading is by option *key*, never by the displayed text, so a second
language or a reworded option never breaks a graded answer.

This module is pure: an :class:`Exercise` says what to ask, and each page computes an
:class:`Outcome` from its own numbers (or None while the learner has not made the measurement
yet). `resnet_viz.ui.exercises` draws them and keeps the per-session score.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..i18n import _


@dataclass(frozen=True)
class Exercise:
    key: str  # stable id across reruns and languages, e.g. "theory.bn_off"
    # The texts are English templates marked with N_() where the exercise is defined; they are
    # translated where they are shown (`text` here, `task` and `question` in resnet_viz.ui.exercises).
    task: str  # what to do on the page, e.g. "Turn BatchNorm off for the CIFAR-style net."
    question: str  # the prediction committed before the measurement
    options: tuple[tuple[str, str], ...]  # (option key, text shown); grading compares keys

    def __post_init__(self) -> None:
        keys = [k for k, _ in self.options]
        if len(keys) < 2 or len(set(keys)) != len(keys):
            raise ValueError(f"exercise {self.key!r} needs at least two options with distinct keys; got {keys}")

    def text(self, option: str) -> str:
        """The option's text in the learner's language."""
        return _(dict(self.options)[option])


@dataclass(frozen=True)
class Outcome:
    """What the learner's own measurement says: the right option and the numbers behind it."""

    answer: str  # an option key of the exercise
    why: str  # a sentence with the measured numbers


def grade(exercise: Exercise, guess: str | None, outcome: Outcome | None) -> bool | None:
    """True/False once both a guess and a measurement exist, else None."""
    if guess is None or outcome is None:
        return None
    keys = {k for k, _ in exercise.options}
    if guess not in keys:
        raise ValueError(f"{guess!r} is not an option key of {exercise.key!r}")
    if outcome.answer not in keys:
        raise ValueError(f"the outcome {outcome.answer!r} is not an option key of {exercise.key!r}")
    return guess == outcome.answer


__all__ = ["Exercise", "Outcome", "grade"]
