"""Streamlit pieces of the analysis page: cached analyses of stored runs, computing the missing
ones under one progress bar, and the pair a group's sentences compare.

Saved analyses are read through ``st.cache_data`` keyed by run id, the analysis name (which
carries every setting) and the file's mtime, so a rerun neither recomputes nor re-reads them,
and a result recomputed by the CLI (``--force``) is read again. Nothing the run store raises
reaches the page: a damaged file or run becomes one sentence on it. On a read-only store (the
reference atlas's pair) what the learner computes is kept in their session instead (``keep=False``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import streamlit as st

from resnet_viz.analysis import ensemble
from resnet_viz.analysis import saved as analysis
from resnet_viz.analysis.ensemble import PathLengths
from resnet_viz.analysis.landscape import SliceCancelled
from resnet_viz.engine.config import ModelConfig
from resnet_viz.engine.data import DatasetUnavailable
from resnet_viz.engine.models import build_model
from resnet_viz.engine.runs import DamagedAnalysis, RunInfo, RunStore, RunStoreError
from resnet_viz.engine.runs.files import ANALYSIS_DIR, WEIGHTS_FILE
from resnet_viz.i18n import N_, _

Runs = Mapping[str, RunInfo]  # chart label -> run
_UNKEPT = "an_unkept"  # session: (store root, run id, analysis name) -> a result computed on a read-only store
Progress = Callable[[int, int], None]
# The progress text of `compute`, by what it counts; translated where shown.
_UNITS: dict[str, str] = {
    "points": N_("{label}: {done}/{total} points"),
    "evaluations": N_("{label}: {done}/{total} evaluations"),
    "networks": N_("{label}: {done}/{total} networks"),
}


def pair(runs: Runs) -> tuple[str | None, str | None]:
    """Labels of the group's plain and residual run, told apart by their configs (not their labels)."""
    plain = next((label for label, info in runs.items() if not info.model.residual), None)
    residual = next((label for label, info in runs.items() if info.model.residual), None)
    return plain, residual


def ordered(values: Mapping[str, Any], runs: Runs) -> tuple[Any, Any]:
    """(plain's value, residual's value), None where the pair or the value is missing."""
    p, r = pair(runs)
    return (None if p is None else values.get(p)), (None if r is None else values.get(r))


@st.cache_data(max_entries=256, show_spinner=False)
def _saved(root: str, run_id: str, name: str, kind: str, mtime_ns: int) -> Any:
    # A damaged file raises, and st.cache_data keeps no exception: it is read again until replaced.
    return analysis.load_saved(RunStore(root), run_id, name, kind)


def saved(store: RunStore, runs: Runs, name: str, kind: str) -> dict[str, Any]:
    """label -> the run's saved analysis `name` (e.g. "lesion-d10-s0") of `kind`, or None while it
    is not computed. A damaged file counts as not computed, with a warning naming it: computing
    it again replaces it."""
    out: dict[str, Any] = {}
    unkept = st.session_state.get(_UNKEPT, {})
    for label, info in runs.items():
        out[label] = unkept.get((str(store.root), info.run_id, name))
        if out[label] is not None:
            continue
        try:
            mtime = (info.path / ANALYSIS_DIR / f"{name}.json").stat().st_mtime_ns
        except OSError:
            continue
        try:
            out[label] = _saved(str(store.root), info.run_id, name, kind, mtime)
        except DamagedAnalysis as exc:
            st.warning(_("{error}. Computing it again replaces it.").format(error=exc), icon=":material/warning:")
        except RunStoreError as exc:  # the run itself went missing or was damaged since it was listed
            st.warning(str(exc), icon=":material/warning:")
    return out


def compute(
    store: RunStore,
    runs: Runs,
    labels: Sequence[str],
    run: Callable[[RunInfo, Progress], object],
    unit: str,
    *,
    name: str,
    keep: bool = True,
) -> bool:
    """``run(info, progress)`` for each label under one progress bar. True when every one finished
    (the caller reruns the page); False after an error, which stays on the page. `unit`: a key of
    `_UNITS`, how the progress text counts ("points", "evaluations", "networks"). Unless `keep`,
    each result (the analysis `name`) is kept in the session, where `saved` finds it."""
    bar = st.progress(0.0)
    try:
        for i, label in enumerate(labels):

            def progress(done: int, total: int, i: int = i, label: str = label) -> None:
                text = _(_UNITS[unit]).format(label=label, done=done, total=total)
                bar.progress((i + done / total) / len(labels), text=text)

            result = run(runs[label], progress)
            if not keep:
                st.session_state.setdefault(_UNKEPT, {})[(str(store.root), runs[label].run_id, name)] = result
            bar.progress((i + 1) / len(labels), text=_("{label}: done").format(label=label))
    except SliceCancelled as exc:
        bar.empty()
        st.error(
            _("Not computed: cancelled after {done} of {total} grid points.").format(done=exc.done, total=exc.total),
            icon=":material/error:",
        )
        return False
    except (RunStoreError, DatasetUnavailable, ValueError) as exc:
        bar.empty()
        st.error(_("Not computed: {error}").format(error=exc), icon=":material/error:")
        return False
    return True


def compute_slices(
    store: RunStore,
    runs: Runs,
    labels: Sequence[str],
    *,
    grid: int,
    span: float,
    dims: int,
    seed: int,
    keep: bool = True,
) -> bool:
    """Li et al. 2018 slices of the labelled runs, kept with each run (or, unless `keep`, in the session)."""
    return compute(
        store,
        runs,
        labels,
        lambda info, progress: analysis.run_landscape(
            store, info.run_id, grid=grid, span=span, dims=dims, seed=seed, on_progress=progress, keep=keep
        ),
        "points",
        name=analysis.landscape_name(dims, grid, span, seed, "test"),
        keep=keep,
    )


def compute_lesions(store: RunStore, runs: Runs, labels: Sequence[str], *, draws: int, keep: bool = True) -> bool:
    """Veit et al. 2016 lesion studies of the labelled runs, kept with each run (or in the session)."""
    return compute(
        store,
        runs,
        labels,
        lambda info, progress: analysis.run_lesion(store, info.run_id, draws=draws, on_progress=progress, keep=keep),
        "evaluations",
        name=analysis.lesion_name(draws, 0),
        keep=keep,
    )


def compute_near_identity(store: RunStore, runs: Runs, labels: Sequence[str], *, keep: bool = True) -> bool:
    """He et al. 2016 §3.1 measured on the labelled runs (one pass each: no progress within a run)."""
    return compute(
        store,
        runs,
        labels,
        lambda info, _progress: analysis.run_near_identity(store, info.run_id, keep=keep),
        "networks",
        name=analysis.near_identity_name(analysis.NEAR_IDENTITY_IMAGES),
        keep=keep,
    )


@st.cache_data(max_entries=64, show_spinner=False)
def _responses(root: str, run_id: str, mtime_ns: int) -> list[tuple[str, float]]:
    return analysis.run_responses(RunStore(root), run_id)


def responses(store: RunStore, runs: Runs) -> dict[str, list[tuple[str, float]]]:
    """He et al. 2016 Fig. 7 per run, cached by run id and the weights' mtime; a run whose weights
    or data cannot be loaded is left out, with the reason on the page."""
    out = {}
    for label, info in runs.items():
        try:
            mtime = (info.path / WEIGHTS_FILE).stat().st_mtime_ns
            with st.spinner(_("Measuring every 3x3 layer's response on the test split...")):
                out[label] = _responses(str(store.root), info.run_id, mtime)
        except FileNotFoundError:  # deleted since the run list was read
            st.error(
                _("{label}: its weights are gone from the run store.").format(label=label), icon=":material/error:"
            )
        except (RunStoreError, DatasetUnavailable) as exc:
            st.error(_("{label} cannot be measured: {error}").format(label=label, error=exc), icon=":material/error:")
    return out


def bullets(lines: Sequence[str]) -> None:
    if lines:
        st.markdown("\n".join(f"- {line}" for line in lines))


@st.cache_data(max_entries=32, show_spinner=False)
def unravelled(cfg: ModelConfig) -> tuple[PathLengths, int]:
    """Path lengths of the net `cfg` builds and its number of downsampling blocks (by config)."""
    return ensemble.unravelled(build_model(cfg))
