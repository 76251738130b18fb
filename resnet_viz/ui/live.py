"""The live page's Streamlit side: Train and Stop, the redrawn charts of a running job, the reading
when it ends, and the list of finished runs. pages/3_live.py draws the widgets and calls these."""

from __future__ import annotations

import os
from collections.abc import Sequence

import streamlit as st

from resnet_viz.engine.config import ModelConfig
from resnet_viz.engine.history import History
from resnet_viz.engine.runner import job_queue
from resnet_viz.engine.runner.job import Snapshot
from resnet_viz.engine.runs import RunStore, RunStoreError, damage_report
from resnet_viz.i18n import N_, _, ngettext
from resnet_viz.teaching import lessons
from resnet_viz.teaching.settings import TwinSettings
from resnet_viz.text.live import reading
from resnet_viz.ui import exercises as ui_ex
from resnet_viz.ui import fragment, live_charts, placeholder, submit_twins
from resnet_viz.ui import reference as ui_reference

# While a job runs the status and loss/accuracy charts redraw every REDRAW_SECONDS and the
# gradient charts every GRADIENT_REDRAW_SECONDS: on a 2-core machine the browser re-rendering the
# charts competes with training for the CPU. bench/bench_live.py, ResNet-20 twins, 300 steps: at
# 0.5 s / 2 s the page ran at 57% of the CLI's throughput with Chromium at 91% of a core; at
# 1 s / 4 s, 86% with Chromium at 54%. Still a redraw a second. Env overrides.
REDRAW_SECONDS = float(os.environ.get("RESNET_VIZ_REDRAW", "1.0"))
GRADIENT_REDRAW_SECONDS = float(os.environ.get("RESNET_VIZ_GRADIENT_REDRAW", "4.0"))
# A running job's charts are built at most once per this share of a redraw period, for all its
# watchers together (ui.live_charts): a lone watcher still gets new points at every redraw, and
# thirty share one build per redraw instead of one per update (a twin run sends ~6 a second).
SHARED_BUILD_SHARE = 0.8

# The progress line, one whole template per (state, epoch known, time left known). The English
# ("Running · step 3/300 ...") is what the browser tests and bench scripts wait for.
_PROGRESS: dict[tuple[str, bool, bool], str] = {
    ("running", True, True): N_(
        "Running · step {step}/{total} (epoch {epoch}) · {speed} images/s · about {eta} s to go · {device}"
    ),
    ("running", True, False): N_("Running · step {step}/{total} (epoch {epoch}) · {speed} images/s · {device}"),
    ("running", False, True): N_("Running · step {step}/{total} · {speed} images/s · about {eta} s to go · {device}"),
    ("running", False, False): N_("Running · step {step}/{total} · {speed} images/s · {device}"),
    ("finished", True, False): N_("Finished · step {step}/{total} (epoch {epoch}) · {speed} images/s · {device}"),
    ("finished", False, False): N_("Finished · step {step}/{total} · {speed} images/s · {device}"),
    ("stopped", True, False): N_("Stopped · step {step}/{total} (epoch {epoch}) · {speed} images/s · {device}"),
    ("stopped", False, False): N_("Stopped · step {step}/{total} · {speed} images/s · {device}"),
    ("failed", True, False): N_("Failed · step {step}/{total} (epoch {epoch}) · {speed} images/s · {device}"),
    ("failed", False, False): N_("Failed · step {step}/{total} · {speed} images/s · {device}"),
}
# A run's status as the run list shows it (the stored value stays the key).
_STATUS: dict[str, str] = {
    "running": N_("running"),
    "finished": N_("finished"),
    "stopped": N_("stopped"),
    "diverged": N_("diverged"),
    "failed": N_("failed"),
    "interrupted": N_("interrupted"),
}


def start_job(settings: TwinSettings | None, owner: str, store: RunStore) -> None:
    """Train's on_click: queue the twins and remember the job in the session and the URL."""
    if settings is None:
        st.session_state.pop("job_refused", None)
        return
    job_id = submit_twins(settings, owner, store, refused_key="job_refused")
    if job_id is not None:
        st.session_state.job = job_id
        st.query_params["job"] = job_id


def stop_job(job_id: str | None, owner: str) -> None:
    """Stop's on_click: only the browser that started a job may stop it."""
    if job_id:
        job_queue().stop(job_id, owner)


def _stored_histories(store: RunStore, group: str) -> list[History]:
    """A finished job's histories from the run store (after a server restart, or for overlays).

    Damaged folders are left out (run_list names them on the same page); a run without metrics
    (it failed before its first) is left out silently.
    """
    hists = []
    for info in reversed(store.scan(group=group)[0]):
        try:
            hist = store.load_history(info.run_id)
        except RunStoreError as exc:  # changed on disk since it was listed
            st.warning(str(exc), icon=":material/warning:")
            continue
        if hist is not None:
            hists.append(hist)
    return hists


def live_view(job_id: str | None, store: RunStore, settings: TwinSettings | None = None) -> None:
    """Status, progress and charts of one job, redrawn every REDRAW_SECONDS while it runs; with
    no job, the reference atlas's twins for `settings` where it holds them."""
    refused = st.session_state.get("job_refused")
    if refused:
        st.error(refused, icon=":material/block:")
    snap = job_queue().snapshot(job_id) if job_id else None
    if snap is None:
        hists = _stored_histories(store, job_id) if job_id else []
        if not hists and settings is not None:  # the learner's own twins of these settings, else the atlas's
            hists = _own_twins(store, settings)
            if not hists and _reference_view(settings):
                return
        if not hists:
            st.info(_("Set up the twins on the left and press **Train**. Charts appear here within a second or two."))
            live_charts.curves([], live=True)  # drawn empty now, so the first points only update them
            ui_ex.show(_live_exercises([]))  # asked before the run that answers them
            return
        st.caption(_("This run finished earlier; its stored metrics are shown."))
        _charts(hists)
        return
    fragment(_live_fragment, run_every=REDRAW_SECONDS if snap.active else None)(job_id, snap.active)
    fragment(_gradient_fragment, run_every=GRADIENT_REDRAW_SECONDS if snap.active else None)(job_id)


def _own_twins(store: RunStore, settings: TwinSettings) -> list[History]:
    """The newest finished twins in the learner's store trained with `settings` (they replace the
    reference), else []."""
    groups: dict[str, list] = {}
    for info in store.scan()[0]:  # newest first
        if info.status == "finished":
            groups.setdefault(info.group or info.run_id, []).append(info)
    for group, infos in groups.items():
        if ui_reference.trained_with(sorted(infos, key=lambda i: i.model.residual), settings):
            return _stored_histories(store, group)
    return []


def _reference_view(settings: TwinSettings | None) -> bool:
    """The atlas's twins for `settings`, labelled: their loss and accuracy at once (no exercise asks
    about them), their gradients behind exercise 1, which they answer. False when there are none."""
    hists, manifest = ui_reference.live(settings)
    if not hists or manifest is None:
        return False
    ui_reference.label(manifest, len(hists), len(hists), action=_("press **Train**"))
    live_charts.curves(hists)
    if ui_reference.released(lessons.LIVE_CALMS):
        live_charts.gradients(hists)
        items = ui_reference.ungraded_if_peeked(_live_exercises(hists))
        ui_ex.reading(_("What this run shows"), reading(hists, ()), items)
        ui_ex.show(items)
    else:
        ui_reference.gate(lessons.LIVE_CALMS, len(hists), number=1)
        ui_ex.show(_live_exercises([]))
    return True


def _live_fragment(job_id: str, was_active: bool) -> None:
    snap = job_queue().snapshot(job_id)
    if snap is None:
        return
    if snap.state == "queued":
        max_jobs = job_queue().max_jobs
        st.info(
            ngettext(
                "Queued: position {position}. At most {max_jobs} job trains at once on this server; yours starts "
                "when a slot frees up.",
                "Queued: position {position}. At most {max_jobs} jobs train at once on this server; yours starts "
                "when a slot frees up.",
                max_jobs,
            ).format(position=snap.queue_position, max_jobs=max_jobs),
            icon=":material/hourglass_top:",
        )
    else:
        st.progress(snap.progress, text=_progress_text(snap))
    if snap.error and snap.state == "stopped":  # halted by the server: over its time limit, or unwatched
        st.warning(snap.error, icon=":material/timer_off:")
    elif snap.error:
        st.error(_("Training failed: {error}").format(error=snap.error), icon=":material/error:")
    for h in snap.histories:
        if h.status == "diverged":
            st.warning(
                _(
                    "**{name}** diverged at step {step}: its loss became NaN or infinite, so it stopped training and "
                    "its curves stop there."
                ).format(name=h.name, step=h.diverged_at),
                icon=":material/warning:",
            )
    live_charts.curves(list(snap.histories), snap, every=SHARED_BUILD_SHARE * REDRAW_SECONDS)
    if was_active and not snap.active:
        st.rerun()  # full rerun: stop the timers, refresh buttons, the reading and the run list


def _progress_text(snap: Snapshot) -> str:
    """The progress line under a job that is not queued: state, step, speed, time left, device."""
    if snap.state == "running" and not snap.total_steps:  # its worker has not said "start" yet
        # Not "Running · step 0/0 · 0 images/s ·" (seen for 11 s while a fresh worker imported
        # torch, bench/bench_class.py): say what it is waiting for.
        return _("Starting · the training process is loading torch and the data")
    epoch = snap.step / snap.steps_per_epoch if snap.steps_per_epoch else None
    key = (snap.state, epoch is not None, snap.eta is not None)
    if key not in _PROGRESS:  # time left is only known while running
        key = (snap.state, epoch is not None, False)
    template = _PROGRESS.get(key)
    values = {
        "step": snap.step,
        "total": snap.total_steps,
        "epoch": f"{epoch:.1f}" if epoch is not None else "",
        "speed": f"{snap.images_per_s:,.0f}",
        "eta": f"{snap.eta:.0f}" if snap.eta is not None else "",
        "device": snap.device,
    }
    if template is None:  # a state without its own line: its name, then the same numbers
        template = _("{state} · step {step}/{total} · {speed} images/s · {device}")
        values["state"] = snap.state.capitalize()
        return template.format(**values)
    return _(template).format(**values)


def _gradient_fragment(job_id: str) -> None:
    snap = job_queue().snapshot(job_id)
    if snap is not None:
        live_charts.gradients(list(snap.histories), snap, every=SHARED_BUILD_SHARE * GRADIENT_REDRAW_SECONDS)
        if not snap.active:
            job = job_queue().get(job_id)
            _reading(list(snap.histories), job.model_cfgs if job is not None else ())
        else:  # the predictions can still be made while it trains: the grade waits for the end
            ui_ex.show(_live_exercises(list(snap.histories)))


def _charts(hists: list[History]) -> None:
    live_charts.curves(hists)
    live_charts.gradients(hists)
    _reading(hists)


def _reading(hists: list[History], configs: Sequence[ModelConfig] = ()) -> None:
    """What the run shows, held back while it answers an exercise not yet predicted, then the exercises."""
    items = _live_exercises(hists)
    ui_ex.reading(_("What this run shows"), reading(hists, configs), items)
    ui_ex.show(items)


def _live_exercises(hists: list[History]) -> ui_ex.Items:
    """The live page's predict-run-check tasks, graded from the run on screen."""
    bn = bool(st.session_state.get("bn", True))
    return [
        (
            lessons.LIVE_CALMS,
            lessons.live_calms_outcome(hists),
            _("press Train with BatchNorm on and let the run finish; the grade appears here."),
        ),
        (
            lessons.LIVE_NO_BN,
            lessons.live_no_bn_outcome(hists, bn),
            _("turn BatchNorm off under More settings, set Init to default, train both twins to the end."),
        ),
    ]


def run_list(store: RunStore, current: tuple[str, ...] = ()) -> None:
    """Finished runs: a table, overlay picker, metrics CSV and weights downloads."""
    st.divider()
    st.subheader(_("Runs on this server"))
    infos, damaged = store.scan()
    report = damage_report(damaged)  # folder names only: the page must not show the server's paths
    if report:
        st.warning(report, icon=":material/warning:")
    runs = [r for r in infos if r.status != "running"]
    if not runs:
        st.caption(_("Finished runs are kept in the server's run store and listed here."))
        return
    col = {
        "run": _("run"),
        "status": _("status"),
        "steps": _("steps"),
        "train acc %": _("train acc %"),
        "test acc %": _("test acc %"),
        "dataset": _("dataset"),
        "seed": _("seed"),
        "created (UTC)": _("created (UTC)"),
        "id": _("id"),
    }
    st.dataframe(
        [
            {
                col["run"]: r.label,
                col["status"]: _status(r.status),
                col["steps"]: r.step,
                col["train acc %"]: _pct((r.extra.get("summary") or {}).get("train_acc")),
                col["test acc %"]: _pct((r.extra.get("summary") or {}).get("test_acc")),
                col["dataset"]: r.data.name,
                col["seed"]: r.train.seed,
                col["created (UTC)"]: r.created[:19].replace("T", " "),
                col["id"]: r.run_id,
            }
            for r in runs
        ],
        hide_index=True,
    )
    labels = {r.run_id: f"{r.label} · {r.when} · {_status(r.status)}" for r in runs}
    earlier = [r for r in labels if r not in current]
    st.multiselect(
        _("Overlay earlier runs on the loss chart"),
        earlier,
        format_func=labels.get,
        key="overlay",
        placeholder=placeholder(earlier, many=True),
        disabled=not earlier,
    )
    # Newest first, and back on the newest whenever a run is added: the widget would otherwise keep
    # the earlier pick, and offer the previous run right after Train.
    newest = runs[0].run_id
    if st.session_state.get("_download_newest") != newest:
        st.session_state["_download_newest"] = newest
        st.session_state["download_pick"] = newest
    pick = st.selectbox(
        _("Download a run"), list(labels), format_func=labels.get, key="download_pick", placeholder=placeholder(labels)
    )
    if pick:
        a, b = st.columns(2)

        def metrics_csv() -> str:
            try:
                return store.metrics_csv(pick)
            except RunStoreError as exc:  # deleted or damaged since listed: the file says so
                return f"# {exc}\n"

        # Callables: the files are read when clicked, not on every rerun of the page.
        a.download_button(
            _("Metrics (CSV)"),
            metrics_csv,
            file_name=f"{pick}.csv",
            mime="text/csv",
            icon=":material/download:",
            key="download_metrics",
        )
        weights = store.root / pick / "weights.pt"
        if weights.exists():
            b.download_button(
                _("Weights (state dict)"),
                weights.read_bytes,
                file_name=f"{pick}.pt",
                icon=":material/download:",
                key="download_weights",
            )


def _status(status: str) -> str:
    """A run's status in the learner's language (an unknown one as stored)."""
    return _(_STATUS[status]) if status in _STATUS else status


def _pct(v: object) -> float | None:
    return round(100 * float(v), 1) if isinstance(v, (int, float)) else None
