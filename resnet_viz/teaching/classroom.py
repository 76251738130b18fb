"""What the class is asked and given: every prediction a page asks, under one key the class's
counts use, and a part of the class experiment as the live page's settings.

The predictions are the exercises (resnet_viz.teaching.exercises) and the gradient-flow page's
predict-then-reveal questions (resnet_viz.teaching.quiz). A quiz question's own key names the
measurement behind it (a new measurement, a new question); the class counts them by kind.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..engine.classroom import Part
from ..i18n import N_
from . import analysis, anatomy, lessons, quiz
from .exercises import Exercise
from .settings import TwinSettings, twin_defaults


@dataclass(frozen=True)
class ClassQuestion:
    key: str  # the exercise's key, or "quiz.smallest" / "quiz.direction"
    page: str  # the key of the page that asks it (resnet_viz.ui.PAGES)
    question: str  # English template, marked with N_ (translated where shown)
    options: tuple[tuple[str, str], ...]  # (option key, English text)


def _exercise(page: str, ex: Exercise) -> ClassQuestion:
    return ClassQuestion(ex.key, page, ex.question, ex.options)


QUESTIONS: tuple[ClassQuestion, ...] = (
    ClassQuestion(
        "quiz.smallest",
        "theory",
        N_("At initialisation, at which blocks of the deepest plain net is the gradient dL/dx smallest?"),
        quiz.WHERE,
    ),
    ClassQuestion(
        "quiz.direction",
        "theory",
        N_("Going backwards through the deepest plain net at initialisation, what happens to dL/dx?"),
        quiz.DIRECTION,
    ),
    *(_exercise("theory", ex) for ex in (lessons.THEORY_BN_OFF, lessons.THEORY_ALPHA, lessons.THEORY_BETA)),
    *(_exercise("anatomy", ex) for ex in (anatomy.EX_OPTION_B, anatomy.EX_BIGGEST, anatomy.EX_POOL)),
    *(_exercise("live", ex) for ex in (lessons.LIVE_CALMS, lessons.LIVE_NO_BN)),
    *(_exercise("degradation", ex) for ex in (lessons.SWEEP_DEEPER_PLAIN, lessons.SWEEP_LONGER)),
    *(
        _exercise("analysis", ex)
        for ex in (analysis.LESION_EXERCISE, analysis.LANDSCAPE_EXERCISE, analysis.IDENTITY_EXERCISE)
    ),
)
BY_KEY: dict[str, ClassQuestion] = {q.key: q for q in QUESTIONS}


def class_key(question_key: str) -> str | None:
    """The key the class counts `question_key` under (a quiz question's kind), None if unknown."""
    if question_key in BY_KEY:
        return question_key
    kind = question_key.split(":", 1)[0]
    return f"quiz.{kind}" if f"quiz.{kind}" in BY_KEY else None


def part_settings(part: Part, seed: int = 0) -> TwinSettings:
    """The live page's settings for `part`: its dataset's recipe, at the part's depth, one net,
    on `seed` (the assignment's round: a part given twice trains on two seeds)."""
    return dataclasses.replace(twin_defaults(part.dataset), depth=part.depth, models=part.kind, seed=seed)


def is_part(settings: TwinSettings, part: Part, seed: int = 0) -> bool:
    """Whether `settings` still train `part` as the class experiment gave it."""
    return settings == part_settings(part, seed)
