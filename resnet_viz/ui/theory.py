"""Streamlit pieces of the theory page: cached measurements and the predict-then-reveal widgets."""

from __future__ import annotations

import numpy as np
import streamlit as st

from resnet_viz import quiz, theory
from resnet_viz.config import ModelConfig
from resnet_viz.theory import InitProfile


@st.cache_data(max_entries=256, show_spinner=False)
def chain(depth: int, gain: float, slope: float) -> tuple[np.ndarray, np.ndarray]:
    return (theory.chain_gradients(depth, gain, slope, residual=False),
            theory.chain_gradients(depth, gain, slope, residual=True))  # fmt: skip


@st.cache_data(max_entries=64, show_spinner="Measuring one batch forward and backward...")
def profiles(cfgs: tuple[ModelConfig, ...]) -> list[InitProfile]:
    # Same seed for every model: with shortcut A, plain and residual twins start identical.
    return [theory.init_profile(c, seed=0) for c in cfgs]


@st.cache_data(max_entries=16, show_spinner="Differentiating the scalar nets at 256 inputs...")
def shattered(depth: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {f"{kind}, depth {depth}": theory.shattered(depth, residual=kind == "residual")
            for kind in ("plain", "residual")}  # fmt: skip


def sentences(profs: list[InitProfile]) -> list[str]:
    return theory.profile_sentences(profs)


def _questions(profs: list[InitProfile]) -> list[quiz.Question]:
    # The deepest plain model when there is one (its answer is the surprising one), else the last.
    plain = [p for p in profs if p.config is not None and not p.config.residual]
    first = max(plain, key=lambda p: len(p.grad_rms)) if plain else profs[-1]
    key = f"{first.name}:{len(first.grad_rms)}:{first.grad_rms[0]:.6g}"
    qs = [quiz.smallest_gradient(first.name, first.grad_rms, key), quiz.direction(first.name, first.grad_rms, key)]
    return [q for q in qs if q is not None]


def revealed(profs: list[InitProfile]) -> bool:
    """Whether the charts may show: every question answered (or skipped) for these measurements."""
    answered = st.session_state.setdefault("th_answered", {})
    return all(q.key in answered for q in _questions(profs))


def predict_then_reveal(profs: list[InitProfile]) -> None:
    """Ask before showing; then say whether the guess matched the measurement, and keep a score."""
    answered: dict[str, str | None] = st.session_state.setdefault("th_answered", {})
    score = st.session_state.setdefault("th_score", [0, 0])  # right, asked
    questions = _questions(profs)
    pending = [q for q in questions if q.key not in answered]
    with st.container(border=True):
        st.markdown("**Predict, then reveal**" + (f" · score {score[0]}/{score[1]}" if score[1] else ""))
        for q in questions:
            if q.key in answered:
                guess = answered[q.key]
                ok = quiz.grade(q, guess)
                verdict = "skipped" if ok is None else ("right" if ok else "not this time")
                st.markdown(f"{q.text} You said *{guess or '-'}*: **{verdict}**. Measured: {q.answer}. {q.why}")
            else:
                st.radio(q.text, q.options, index=None, key=f"guess:{q.key}")
        if pending:
            a, b = st.columns(2)
            a.button("Check my guesses", type="primary", on_click=_commit, args=(pending,), key="th_check")
            b.button("Just show me", on_click=_commit, args=(pending, True), key="th_skip")


def _commit(questions: list[quiz.Question], skip: bool = False) -> None:
    answered = st.session_state.setdefault("th_answered", {})
    score = st.session_state.setdefault("th_score", [0, 0])
    for q in questions:
        guess = None if skip else st.session_state.get(f"guess:{q.key}")
        answered[q.key] = guess
        if guess is not None:
            score[0] += int(quiz.grade(q, guess) is True)
            score[1] += 1
