"""Streamlit pieces of the theory page: cached measurements and the predict-then-reveal widgets."""

from __future__ import annotations

import dataclasses

import numpy as np
import streamlit as st

from resnet_viz.engine.config import DataConfig, ModelConfig
from resnet_viz.engine.data import Dataset, load_dataset
from resnet_viz.engine.devices import thread_count, threads
from resnet_viz.engine.limits import forward_macs
from resnet_viz.i18n import N_, _
from resnet_viz.teaching import lessons, quiz
from resnet_viz.text import quiz as quiz_text
from resnet_viz.text.theory import profile_sentences
from resnet_viz.theory import flow as theory
from resnet_viz.theory.flow import InitProfile
from resnet_viz.ui import exercises as ui_ex
from resnet_viz.ui import predictions


@st.cache_data(max_entries=256, show_spinner=False)
def chain(depth: int, gain: float, beta: float, activation: str) -> tuple[np.ndarray, np.ndarray]:
    return tuple(
        theory.chain_gradients(depth, gain, beta=beta, activation=activation, residual=r)  # type: ignore[return-value]
        for r in (False, True)
    )


@st.cache_resource(show_spinner=False)
def dataset(name: str) -> Dataset:
    """Read-only and shared by every session: the offline datasets the probe measures on."""
    return load_dataset(DataConfig(name=name))


PROBE_BATCH = 128  # images in the one batch the probes at initialisation measure


def profiles(cfgs: tuple[ModelConfig, ...], data_name: str = "digits") -> list[InitProfile]:
    """The models' profiles at initialisation (cached; the spinner speaks the learner's language)."""
    with st.spinner(_("Measuring one batch forward and backward...")):
        return _profiles(cfgs, data_name)


@st.cache_data(max_entries=64, show_spinner=False)
def _profiles(cfgs: tuple[ModelConfig, ...], data_name: str = "digits") -> list[InitProfile]:
    # Same seed for every model: with shortcut A, plain and residual twins start identical.
    data = dataset(data_name)
    with threads(thread_count(forward_macs(cfgs, DataConfig(name=data_name), PROBE_BATCH))):
        return theory.init_profiles(list(cfgs), data, seed=0, batch=PROBE_BATCH)


# Legend labels of the shattered nets; "plain"/"residual" stay in them (they pick the colour).
_SHATTERED_LABELS = {"plain": N_("plain, depth {depth}"), "residual": N_("residual, depth {depth}")}


def shattered(depth: int, scale_branches: bool = True) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """df/dx of the plain and the residual scalar net, keyed by their legend labels (in the learner's
    language; the measurement itself is cached by kind)."""
    with st.spinner(_("Differentiating the scalar nets at 256 inputs...")):
        results = _shattered(depth, scale_branches)
    return {_(_SHATTERED_LABELS[kind]).format(depth=depth): xy for kind, xy in results.items()}


@st.cache_data(max_entries=16, show_spinner=False)
def _shattered(depth: int, scale_branches: bool = True) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {
        kind: theory.shattered(depth, residual=kind == "residual", scale_branches=scale_branches)
        for kind in ("plain", "residual")
    }


def sentences(profs: list[InitProfile]) -> list[str]:
    return profile_sentences(profs)


def _questions(profs: list[InitProfile]) -> list[quiz.Question]:
    # The deepest plain model when there is one (its answer is the surprising one), else the last.
    plain = [p for p in profs if p.config is not None and not p.config.residual]
    first = max(plain, key=lambda p: len(p.grad_x_rms)) if plain else profs[-1]
    head = f"{first.grad_x_rms[0]:.6g}" if first.grad_x_rms else "-"
    key = f"{first.name}:{len(first.grad_x_rms)}:{head}"
    qs = [quiz.smallest_gradient(first.name, first.grad_x_rms, key), quiz.direction(first.name, first.grad_x_rms, key)]
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
        st.markdown(quiz_text.header(score[0], score[1]))
        for q in questions:
            if q.key in answered:
                guess = answered[q.key]
                st.markdown(quiz_text.feedback(q, guess, quiz.grade(q, guess)))
            else:
                st.radio(q.text, [k for k, _ in q.options], index=None, format_func=q.label, key=f"guess:{q.key}")
        if pending:
            a, b = st.columns(2)
            a.button(_("Check my guesses"), type="primary", on_click=_commit, args=(pending,), key="th_check")
            b.button(_("Just show me"), on_click=_commit, args=(pending, True), key="th_skip")


def _commit(questions: list[quiz.Question], skip: bool = False) -> None:
    answered = st.session_state.setdefault("th_answered", {})
    score = st.session_state.setdefault("th_score", [0, 0])
    for q in questions:
        guess = None if skip else st.session_state.get(f"guess:{q.key}")
        answered[q.key] = guess
        if guess is not None:
            predictions.record(q.key, guess)
        predictions.saw(q.key)  # the charts answer it from now on
        if guess is not None:
            score[0] += int(quiz.grade(q, guess) is True)
            score[1] += 1


# Shown with _() where they are used (pages/1_theory.py), so each reads in the learner's language.
EXACT_ONLY_FOR_PREACT = N_(
    "Eqs. 4-5 hold exactly only between identity shortcuts with nothing after the addition: within a stage of "
    "**pre-activation** blocks (He et al. 2016b). At a stage boundary, option A's zero-padding or option B's "
    "projection takes the place of x_l. The original (post-activation) block, this lab's default, applies a ReLU "
    "after the addition, y = ReLU(x + F(x)), so its identity path passes through that ReLU; pick "
    "*Pre-activation blocks* on Train & compare to get the clean identity path."
)
CHAIN_WHY = N_(
    "Random branches add variance rather than multiply it: each branch's contribution is random and mostly "
    "orthogonal to the identity's, so with β = 1 the residual gradient grows, but far more slowly than the "
    "scalar chain's; branch scaling (β = 1/√L here; Fixup and zero-init of the last BN's γ do the same in "
    "real nets) keeps it near 1."
)
DIGITS_CAVEAT = N_(
    "On the 8x8 digits the last stage works on a 2x2 map, where zero padding fills most of every 3x3 "
    "kernel's window; pick the 32x32 shapes to see the same net on a map of a sensible size."
)


def exercises(profs: list[InitProfile], residual_chain: np.ndarray, beta: float) -> None:
    """The page's predict-run-check tasks, graded from what the page just measured."""
    above = [p.config for p in profs if p.config is not None and p.config.residual and p.config.alpha > 1.0]
    data_name = st.session_state.get("th_data") or "digits"
    alpha_one = profiles(tuple(dataclasses.replace(c, alpha=1.0) for c in above), data_name) if above else []
    ui_ex.show(
        [
            (
                lessons.THEORY_BN_OFF,
                lessons.theory_bn_off_outcome(profs),
                _("switch BatchNorm off in section 3 with the CIFAR-style net and the plain model selected."),
            ),
            (
                lessons.THEORY_ALPHA,
                lessons.theory_alpha_outcome(profs, alpha_one),
                _("move the skip strength alpha in section 3 above 1, with the residual model selected."),
            ),
            (
                lessons.THEORY_BETA,
                lessons.theory_beta_outcome(residual_chain, beta),
                _("set the branch scale β to 1 in section 2."),
            ),
        ]
    )
