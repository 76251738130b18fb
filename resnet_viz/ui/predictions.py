"""The class's predictions, as each page's prediction boxes report them (classroom mode only).

A prediction counts "before" when this session had not seen its answer when it committed it, and
"after" when it had: the exercise was already graded here (a second try), or the learner looked at
a reference or the class's chart first. The class record keeps counts per answer, never who.
"""

from __future__ import annotations

import logging

import streamlit as st

from resnet_viz.engine import classroom
from resnet_viz.engine.runs import RunStore
from resnet_viz.teaching.classroom import class_key

from .session import owner_key

log = logging.getLogger(__name__)
_SEEN = "class_seen_answers"  # class question keys whose answer this session has seen


def saw(question_key: str) -> None:
    """This session has seen the answer to `question_key` (graded, or shown before predicting)."""
    key = class_key(question_key) or question_key
    st.session_state.setdefault(_SEEN, set()).add(key)


def seen(question_key: str) -> bool:
    return (class_key(question_key) or question_key) in st.session_state.get(_SEEN, set())


def record(question_key: str, option: str) -> None:
    """Tell the class record this session's prediction (nothing when teacher mode is off)."""
    key = class_key(question_key)
    if key is None or not classroom.enabled():
        return
    try:
        classroom.at(RunStore().root).predict(key, option, owner_key(), "after" if seen(key) else "before")
    except OSError as exc:  # a full or read-only disk costs the count, never the learner's page
        log.warning("the class record could not be written: %s", exc.strerror or exc)
