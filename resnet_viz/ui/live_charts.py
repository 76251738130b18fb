"""The live page's charts: loss and accuracy (redrawn every second while a job runs), the gradient
charts (every four), and the earlier runs a learner overlays. Those of a running job are built
once per job version and language for every session watching it (ui/shared_build.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import plotly.graph_objects as go
import streamlit as st

from resnet_viz.engine.history import History
from resnet_viz.engine.runner import job_queue
from resnet_viz.engine.runner.job import Snapshot
from resnet_viz.engine.runs import RunStore, RunStoreError
from resnet_viz.figures import live_curves, live_gradients
from resnet_viz.i18n import _, language
from resnet_viz.ui import live_plot
from resnet_viz.ui.shared_build import FrozenFigure, SharedBuilds, freeze

T = TypeVar("T")


def curves(hists: list[History], snap: Snapshot | None = None, *, every: float = 0.0, live: bool | None = None) -> None:
    """Loss and accuracy of `hists`; with `snap`, the snapshot of a job they come from, the build
    of the job's newest curve_version that every session drawing it in this language shares,
    rebuilt at most once per `every` seconds while it runs (a session with overlays builds its own).
    `live`: drawn by ui/live_plot.py, redrawn in place (default: a job's charts, running or just
    ended, so its end is a redraw too, not a new chart)."""
    overlays = [h for rid in st.session_state.get("overlay", []) for h in _overlay(rid)]

    def draw(hists: list[History]) -> tuple[FrozenFigure, FrozenFigure]:
        return (
            freeze(live_curves.loss_figure(hists, overlays=overlays)),
            freeze(live_curves.accuracy_figure(hists, overlays=overlays)),
        )

    if overlays or snap is None:
        loss, acc = draw(hists)
    else:
        loss, acc = _shared(snap, "curves", lambda s: s.curve_version, draw, every=every, filled=lambda h: bool(h.step))
    live = snap is not None if live is None else live
    left, right = st.columns(2)
    with left:
        live_plot.chart(loss, key="loss", live=live)
    with right:
        live_plot.chart(acc, key="acc", live=live)


@dataclass(frozen=True)
class _GradientFigures:
    """The gradient charts of one set of histories, in the order the page draws them."""

    flow: go.Figure
    flow_ratio: go.Figure
    heat: go.Figure
    profile: go.Figure
    act: go.Figure
    shares: tuple[tuple[str, go.Figure], ...]  # (model name, its identity-share chart), residual models only


def _gradient_figures(hists: list[History]) -> _GradientFigures:
    return _GradientFigures(
        freeze(live_gradients.flow_profile(hists)),
        freeze(live_gradients.flow_ratio_figure(hists)),
        freeze(live_gradients.grad_heatstrip(hists, kind="rms")),
        freeze(live_gradients.grad_profile(hists, kind="rms")),
        freeze(live_gradients.act_std_figure(hists)),
        tuple((h.name, freeze(live_gradients.identity_share_figure(h))) for h in hists if h.residual_block_names),
    )


def gradients(hists: list[History], snap: Snapshot | None = None, *, every: float = 0.0) -> None:
    """The gradient charts; `snap` as for curves, with the job's probe_version: they read only
    probe rows, names, statuses and divergence steps (common.divergence_mark falls back on the
    last step only for a stored run that lacks diverged_at; a live job always sends it)."""
    if snap is None:
        figs = _gradient_figures(hists)
    else:
        figs = _shared(
            snap,
            "gradients",
            lambda s: s.probe_version,
            _gradient_figures,
            every=every,
            filled=lambda h: bool(h.probe_step),
        )
    live = snap is not None
    left, right = st.columns(2)
    with left:
        live_plot.chart(figs.flow, key="flow", live=live)
    with right:
        live_plot.chart(figs.flow_ratio, key="flow_ratio", live=live)
    st.caption(
        _(
            "dL/dx is the gradient that flows from block to block (He et al. 2016b, eq. 5). The per-weight "
            "gradient below is a second view: a layer's dL/dW is the gradient at that layer's output times the "
            "layer's input, so in a ReLU net without BatchNorm it can stay flat while dL/dx vanishes."
        )
    )
    live_plot.chart(figs.heat, key="heat", live=live)
    left, right = st.columns(2)
    with left:
        live_plot.chart(figs.profile, key="profile", live=live)
    with right:
        live_plot.chart(figs.act, key="act", live=live)
    for name, fig in figs.shares:
        live_plot.chart(fig, key=f"share-{name}", live=live)


def _job_known(key: object) -> bool:
    """A shared build's job is still in the queue (one it forgot is dropped from the builds)."""
    return isinstance(key, tuple) and job_queue().get(key[0]) is not None


# The charts of running jobs: the newest build per (job, part, words), for every session of this
# server; with 30 sessions watching, each redraw had built them 30 times (ui/shared_build.py). Two
# parts per job and language, so 32 entries hold eight jobs watched in both languages; a finished
# job's stay while sessions still open it, until newer jobs push them out.
_BUILDS: SharedBuilds[Any] = SharedBuilds(max_entries=32, keep=_job_known)


def _shared(
    snap: Snapshot,
    part: str,
    version: Callable[[Snapshot], int],
    draw: Callable[[list[History]], T],
    *,
    every: float,
    filled: Callable[[History], bool],
) -> T:
    """`draw` of the job's histories at `version(snap)` or newer, shared by every session, built at
    most once per `every` seconds while the job runs (an ended job's last build is always its
    newest), except that a build of histories none of which is `filled` (no points yet) is
    rebuilt at the next new version: a job's first points are drawn at the next redraw. The
    build draws a fresh snapshot, the newest there is: one build then serves every reader
    waiting for it, whatever update each had seen."""

    def build() -> tuple[int, tuple[T, bool]]:
        fresh = job_queue().snapshot(snap.job_id)
        newest = fresh if fresh is not None and version(fresh) >= version(snap) else snap
        hists = list(newest.histories)
        return version(newest), (draw(hists), any(filled(h) for h in hists))

    # The words are part of the key: the language, and one translated title, so a stand-in
    # catalogue (tests/conftest.py's `marking`) never gets figures built in another's words.
    fresh_for = every if snap.active else 0.0
    key = (snap.job_id, part, language(), _("Loss"))
    value, _filled = _BUILDS.get(key, version(snap), build, fresh_for=fresh_for, stands_in=lambda v: v[1])
    return value


def _overlay(run_id: str) -> list[History]:
    """An earlier run drawn beside the live one; its file is read once per change, not per redraw."""
    store = RunStore()
    metrics = store.root / run_id / "metrics.json"
    try:
        hist = _stored_overlay(str(store.root), run_id, metrics.stat().st_mtime_ns)
    except (OSError, RunStoreError):  # gone or damaged since the run list offered it: not drawn
        return []
    return [] if hist is None else [hist]


@st.cache_data(max_entries=64, show_spinner=False)
def _stored_overlay(root: str, run_id: str, mtime_ns: int) -> History | None:
    # Keyed on the file's mtime as well, so a re-written run is read again; cache_data hands
    # every caller its own copy, so no session can alter another's.
    store = RunStore(root)
    info = store.get(run_id)
    hist = store.load_history(run_id)
    if hist is not None:
        hist.name = f"{info.label} · {info.when}"
    return hist
