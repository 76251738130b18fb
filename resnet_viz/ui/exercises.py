"""Streamlit box for guided exercises (resnet_viz.teaching.exercises): predict, do it, see it graded.

The prediction is stored before the measurement exists; the grade is recorded once per
exercise in the session score, which every page shares (``exercise_score`` in session state).
A page's reading of the measurement on screen goes through `reading`, which holds it back while
it answers an exercise whose prediction is not committed yet: a prediction is asked before its
answer is on screen.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from resnet_viz.i18n import N_, _
from resnet_viz.teaching.exercises import Exercise, Outcome, grade
from resnet_viz.text import lessons as lessons_text

from . import predictions

_GUESSES = "exercise_guesses"  # exercise key -> committed option key
_SCORE = "exercise_score"  # exercise key -> True/False, graded once per prediction


def score() -> tuple[int, int]:
    """(right, graded) over every exercise of this session."""
    graded = st.session_state.get(_SCORE, {})
    return sum(bool(v) for v in graded.values()), len(graded)


Items = Sequence[tuple[Exercise, Outcome | None, str]]  # (exercise, outcome or None, what is left to do)


def committed(key: str) -> bool:
    """Whether the exercise `key`'s prediction is committed in this session."""
    return key in st.session_state.get(_GUESSES, {})


def unasked(items: Items) -> bool:
    """Whether the measurement on screen answers an exercise of `items` (its outcome exists)
    whose prediction is not committed yet."""
    guesses: dict[str, str] = st.session_state.get(_GUESSES, {})
    return any(outcome is not None and ex.key not in guesses for ex, outcome, _todo in items)


def reading(title: str, lines: Sequence[str], items: Items) -> None:
    """The page's sentences on the measurement on screen, under `title` (in the learner's
    language), as a list; while they answer an exercise of `items` that waits for its
    prediction, one sentence says so in their place and they are not sent to the page."""
    if not lines:
        return
    st.subheader(title)
    if unasked(items):
        st.info(lessons_text.held_back(), icon=":material/visibility_off:")
        return
    st.markdown("\n".join(f"- {line}" for line in lines))


def show(items: Items, *, title: str = N_("Exercises")) -> None:
    """One bordered box with each exercise: (exercise, outcome from the page's measurement or
    None while it is missing, what the learner still has to do when it is missing). The
    exercise's texts and `title` are English templates, translated here; `todo` and the
    outcome's sentence come in the learner's language already."""
    guesses: dict[str, str] = st.session_state.setdefault(_GUESSES, {})
    graded: dict[str, bool] = st.session_state.setdefault(_SCORE, {})
    for ex, outcome, _todo in items:  # grade first, so the header's score is already up to date
        ok = grade(ex, guesses.get(ex.key), outcome)
        if ok is not None and ex.key not in graded:
            graded[ex.key] = ok
        if ok is not None:  # its answer is on screen now: a second try counts as after the reveal
            predictions.saw(ex.key)
    right, total = score()
    with st.container(border=True):
        st.markdown(lessons_text.box_header(_(title), right, total))
        for i, (ex, outcome, todo) in enumerate(items, 1):
            st.markdown(_("**{number}. {task}** {question}").format(number=i, task=_(ex.task), question=_(ex.question)))
            guess = guesses.get(ex.key)
            if guess is None:
                st.radio(
                    _("Your prediction"),
                    [k for k, _text in ex.options],
                    index=None,
                    format_func=ex.text,
                    key=f"ex_pick:{ex.key}",
                    label_visibility="collapsed",
                )
                st.button(_("Commit prediction"), key=f"ex_commit:{ex.key}", on_click=_commit, args=(ex.key,))
                continue
            ok = grade(ex, guess, outcome)
            if ok is None:
                st.caption(lessons_text.waiting(ex.text(guess), todo))
            else:
                st.markdown(lessons_text.graded(ex.text(guess), ok, outcome.why))  # type: ignore[union-attr]
            st.button(_("Try again"), key=f"ex_reset:{ex.key}", on_click=_reset, args=(ex.key,))


def _commit(key: str) -> None:
    pick = st.session_state.get(f"ex_pick:{key}")
    if pick is not None:
        st.session_state.setdefault(_GUESSES, {})[key] = pick
        predictions.record(key, pick)


def _reset(key: str) -> None:
    st.session_state.setdefault(_GUESSES, {}).pop(key, None)
    st.session_state.setdefault(_SCORE, {}).pop(key, None)
    st.session_state.pop(f"ex_pick:{key}", None)
