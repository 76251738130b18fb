"""Streamlit views of depth sweeps: the degradation page and the home page's one-click demo.

A sweep is submitted as one job per (seed, training config) to the server's job queue, so it
waits its turn like any Train press. The job ids ride in the URL, so a refreshed tab reconnects.
Finished cells are read back from the run store by configuration, which is also how a sweep
run from the CLI shows up here.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence

import streamlit as st

from resnet_viz.degradation.sweep import PAPER_TABLE6, SweepConfig, SweepResult, collect, depth_points, plan
from resnet_viz.engine.config import ConfigError
from resnet_viz.engine.experiment import ModelResult
from resnet_viz.engine.runner import Snapshot, TrainingRun, job_queue
from resnet_viz.engine.runs import RunStore, damage_report
from resnet_viz.figures import sweep as sweep_figures
from resnet_viz.i18n import N_, _, ngettext
from resnet_viz.teaching import lessons
from resnet_viz.teaching.settings import SWEEP_LINK, SweepSettings
from resnet_viz.text.sweep import demo_reading, sweep_reading
from resnet_viz.theory import flow as theory
from resnet_viz.ui import exercises as ui_ex
from resnet_viz.ui import fragment, live_plot
from resnet_viz.ui import reference as ui_reference

# While a sweep trains, the progress bars redraw every SWEEP_REDRAW_SECONDS and the curves chart
# every SWEEP_CHART_REDRAW_SECONDS: on 2 cores the browser's re-rendering of the chart competes
# with the worker (bench/bench_demo.py --app, 2 cores: the demo took 40 s from click to result
# with everything redrawn every 1.5 s, 35 s with these defaults). Env overrides.
SWEEP_REDRAW_SECONDS = float(os.environ.get("RESNET_VIZ_SWEEP_REDRAW", "1.0"))
SWEEP_CHART_REDRAW_SECONDS = float(os.environ.get("RESNET_VIZ_SWEEP_CHART_REDRAW", "3.0"))

# A run's status as the progress bars and the runs table say it (the stored value stays English).
STATUS_LABEL = {
    "running": N_("running"),
    "finished": N_("finished"),
    "stopped": N_("stopped"),
    "diverged": N_("diverged"),
    "failed": N_("failed"),
}
# The columns of "Every run of this sweep": `resnet-viz train --json`'s fields, as a learner reads them.
RUN_COLUMNS = {
    "model": N_("model"),
    "name": N_("name"),
    "depth": N_("depth"),
    "params": N_("params"),
    "status": N_("status"),
    "steps": N_("steps"),
    "train_loss": N_("train_loss"),
    "train_acc": N_("train_acc"),
    "test_loss": N_("test_loss"),
    "test_acc": N_("test_acc"),
    "diverged_at": N_("diverged_at"),
    "seconds": N_("seconds"),
    "run_id": N_("run_id"),
    "seed": N_("seed"),
    "reused": N_("reused"),
    "source": N_("source"),
}


def _status(status: str) -> str:
    return _(STATUS_LABEL[status]) if status in STATUS_LABEL else status


def _run_row(summary: dict[str, object]) -> dict[str, object]:
    """One row of the runs table, its column names (and its status) in the learner's language."""
    row = {_(RUN_COLUMNS[k]) if k in RUN_COLUMNS else k: v for k, v in summary.items()}
    status = summary.get("status")
    if isinstance(status, str) and "status" in RUN_COLUMNS:
        row[_(RUN_COLUMNS["status"])] = _status(status)
    return row


def _ids(param: str) -> list[str]:
    """Job ids from the URL (a comma list), else from this session."""
    text = st.query_params.get(param) or ",".join(st.session_state.get(param, []))
    return [i for i in text.split(",") if i]


def submit(sweep: SweepConfig | None, owner: str, store: RunStore, param: str, *, force: bool = False) -> None:
    """on_click of Run / Re-run: queue a job per (seed, training config) for the missing cells."""
    if sweep is None:
        return
    jobs = plan(sweep, store, force=force)
    press = uuid.uuid4().hex[:8]  # the sweep's jobs are one press: they queue together
    st.session_state.pop(f"{param}_error", None)
    try:
        job_queue().check([(j.models, j.data, j.train) for j in jobs])
        ids = [
            job_queue().submit(j.models, j.data, j.train, owner=owner, store=store, press=press).job_id for j in jobs
        ]
    except ConfigError as exc:  # over the server's limits, or this browser already has a press queued
        st.session_state[f"{param}_error"] = str(exc)
        return
    st.session_state[param] = ids
    # Remembered with its sweep: the note only shows while the widgets still describe that sweep. The
    # count is kept, not the sentence, so the note is said in the language of the page that shows it.
    st.session_state[f"{param}_note"] = None if ids else (sweep, len(sweep.cells()))
    if ids:
        st.query_params[param] = ",".join(ids)
    else:
        st.query_params.pop(param, None)


def stop(param: str, owner: str) -> None:
    """on_click of Stop: stops this browser's jobs of the sweep (queued ones never start)."""
    for job_id in _ids(param):
        job_queue().stop(job_id, owner)


def jobs(param: str) -> list[TrainingRun]:
    queue = job_queue()
    return [j for j in (queue.get(i) for i in _ids(param)) if j is not None]


def running(param: str, owner: str) -> bool:
    """Whether this browser has a job of the sweep queued or training."""
    return any(j.owner == owner and j.active for j in jobs(param))


def _live_results(snaps: list[tuple[TrainingRun, Snapshot]]) -> list[SweepResult]:
    """Cells still training, as results, so the curves grow while the sweep runs."""
    out = []
    for job, snap in snaps:
        for cfg, hist in zip(job.model_cfgs, snap.histories):
            if hist.step:
                out.append(
                    SweepResult(
                        cfg.depth,
                        cfg.kind,
                        job.train_cfg.seed,  # type: ignore[arg-type]
                        ModelResult(cfg, 0, hist, None),
                        reused=False,
                    )
                )
    return out


def refusal(param: str) -> None:
    """The sentence of the last press the queue did not take (limits, one press at a time)."""
    text = st.session_state.get(f"{param}_error")
    if text:
        st.error(text, icon=":material/block:")


def progress(param: str, sweep: SweepConfig | None, store: RunStore, *, chart_key: str) -> None:
    """Per-model progress bars and the growing training curves while a job of the sweep runs."""
    refusal(param)
    ids = _ids(param)
    note = st.session_state.get(f"{param}_note")
    if note and note[0] == sweep:
        text = ngettext(
            "The {count} run of this sweep was already in the run store; it is shown below. **Re-run** trains it again.",
            "All {count} runs of this sweep were already in the run store; they are shown below. "
            "**Re-run** trains them again.",
            note[1],
        ).format(count=note[1])
        st.info(text, icon=":material/inventory_2:")
    if not ids:
        return
    any_active = active(param)
    fragment(_progress_fragment, run_every=SWEEP_REDRAW_SECONDS if any_active else None)(param, any_active)
    fragment(_curves_fragment, run_every=SWEEP_CHART_REDRAW_SECONDS if any_active else None)(
        param, sweep, str(store.root), chart_key
    )


def _snapshots(param: str) -> list[tuple[TrainingRun, Snapshot]]:
    queue = job_queue()
    snaps = [(j, queue.snapshot(j.job_id)) for j in jobs(param)]
    return [(j, s) for j, s in snaps if s is not None]


def _progress_fragment(param: str, was_active: bool) -> None:
    snaps = _snapshots(param)
    active = [(j, s) for j, s in snaps if s.active]
    if active:
        for job, snap in active:
            if snap.state == "queued":
                st.caption(
                    _("Seed {seed}: {names}: queued, position {position}").format(
                        seed=job.train_cfg.seed, names=", ".join(job.names), position=snap.queue_position
                    )
                )
                continue
            for name, hist in zip(job.names, snap.histories):
                step = hist.step[-1] if hist.step else 0
                st.progress(
                    min(1.0, step / snap.total_steps) if snap.total_steps else 0.0,
                    text=progress_row(name, job.train_cfg.seed, step, snap.total_steps, hist.status),
                )
    for job, snap in snaps:
        if snap.error and snap.state == "stopped":  # halted by the server: over its time limit, or unwatched
            st.warning(
                _("Seed {seed}: {error}").format(seed=job.train_cfg.seed, error=snap.error),
                icon=":material/timer_off:",
            )
        elif snap.error:
            st.error(
                _("Seed {seed} failed: {error}").format(seed=job.train_cfg.seed, error=snap.error),
                icon=":material/error:",
            )
    if was_active and not active:
        st.rerun()  # full rerun: the finished cells now come from the store


def progress_row(name: str, seed: int, step: int, total: int, status: str) -> str:
    """One model's progress line; "starting" until the worker has said how many steps it trains
    and the model has reported its first (it read "step 0/0 · running" before)."""
    if not total or not step:
        return _("{name} · seed {seed} · starting").format(name=name, seed=seed)
    return _("{name} · seed {seed} · step {step}/{total} · {status}").format(
        name=name, seed=seed, step=step, total=total, status=_status(status)
    )


def _curves_fragment(param: str, sweep: SweepConfig | None, root: str, chart_key: str) -> None:
    snaps = _snapshots(param)
    active = [(j, s) for j, s in snaps if s.active]
    if active:
        stored = _stored_cells(sweep, root, tuple(j.job_id for j, s in snaps if not s.active))
        live = _live_results(active)
        live_keys = {(r.depth, r.kind, r.seed) for r in live}
        results = [r for r in stored if (r.depth, r.kind, r.seed) not in live_keys] + live
        live_plot.chart(sweep_figures.depth_curves(results), key=chart_key)  # redrawn in place while it trains


def _stored_cells(sweep: SweepConfig | None, root: str, ended: tuple[str, ...]) -> list[SweepResult]:
    """The sweep's stored cells, read again only when another of its jobs has ended: reading the
    whole store on every redraw would take CPU from the training it shows."""
    if sweep is None:
        return []
    key = (sweep, root, ended)
    memo = st.session_state.get("_sweep_cells")
    if memo is None or memo[0] != key:
        memo = (key, collect(sweep, RunStore(root)))
        st.session_state["_sweep_cells"] = memo
    return memo[1]


def _collect_warned(sweep: SweepConfig, store: RunStore) -> list[SweepResult]:
    """The sweep's stored cells; damaged run folders are named in one warning (by folder name:
    a page never shows the server's paths), as on every page that reads the store."""
    infos, damaged = store.scan()
    report = damage_report(damaged)
    if report:
        st.warning(report, icon=":material/warning:")
    return collect(sweep, store, runs=infos)


def results_view(sweep: SweepConfig, store: RunStore, *, live: bool) -> list[SweepResult]:
    """The sweep's figures and the sentences they support, from the learner's stored cells and,
    for the cells they lack, the reference atlas's once exercise 1 is predicted (returned)."""
    own = _collect_warned(sweep, store)
    reference, manifest = ui_reference.for_sweep(sweep, own)
    if reference and not ui_reference.released(lessons.SWEEP_DEEPER_PLAIN):
        ui_reference.gate(lessons.SWEEP_DEEPER_PLAIN, len(reference), number=1)
        reference = []
    order = {cell: i for i, cell in enumerate(sweep.cells())}
    results = sorted(own + reference, key=lambda c: order.get((c.depth, c.kind, c.seed), len(order)))
    if not results:
        if not live and manifest is None:  # while a sweep trains, its progress rows stand above instead
            st.info(
                _(
                    "No results for these settings yet. Press **Run sweep**: cells already in the run store "
                    "are reused, the rest are trained."
                ),
                icon=":material/science:",
            )
        return results
    missing = len(sweep.cells()) - len(results)
    if reference and manifest is not None:
        ui_reference.label(manifest, len(reference), len(sweep.cells()), action=_("press **Run sweep**"))
    if missing and reference:
        st.caption(
            ngettext(
                "{missing} run of these settings is neither in the run store nor in the reference atlas.",
                "{missing} runs of these settings are neither in the run store nor in the reference atlas.",
                missing,
            ).format(missing=missing)
        )
    elif missing:
        st.caption(
            _("{found} of {total} runs found in the run store; {missing} still to train.").format(
                found=len(own), total=len(sweep.cells()), missing=missing
            )
        )
    points = depth_points(results)
    st.plotly_chart(sweep_figures.error_vs_depth(points), key="sweep_error")
    if not live:  # while training, the progress fragment above draws the growing curves
        st.plotly_chart(sweep_figures.depth_curves(results), key="sweep_curves")
    st.plotly_chart(sweep_figures.depth_grad_profiles(results), key="sweep_grads")
    if not missing:  # a complete sweep: the exercises may compare budgets
        budgets = st.session_state.setdefault("sweep_budgets", {})
        budgets[max((r.history.step[-1] for r in results if r.history.step), default=0)] = points
    ui_ex.reading(_("What this sweep shows"), sweep_reading(points, results), _exercise_items(gradable(results)))
    with st.expander(_("Every run of this sweep")):
        st.dataframe([_run_row(_summary(r)) for r in results], hide_index=True)
    return results


def _summary(cell: SweepResult) -> dict[str, object]:
    """A row of the runs table: the run's fields, and where it comes from (a reference is never
    listed among the learner's runs without saying so)."""
    return {**cell.summary(), "source": _("reference atlas") if cell.reference else _("your run store")}


def gradable(results: Sequence[SweepResult]) -> list[SweepResult]:
    """The cells exercise 1 may be graded from: all on screen, unless the learner looked at the
    reference before predicting; then only their own."""
    if ui_reference.peeked(lessons.SWEEP_DEEPER_PLAIN):
        return [r for r in results if not r.reference]
    return list(results)


def difficulty_panel(results: Sequence[SweepResult]) -> None:
    """So what is the difficulty, if BatchNorm fixes the gradient norms? The candidate
    explanations, each with what this lab measures of it and the page that measures it."""
    with st.container(border=True):
        st.markdown(
            _(
                "**Why degradation is surprising.** A deeper net could copy a shallower one and make its "
                "extra layers identities, so its training error should be no higher (He et al. 2016, §3.1); "
                "yet the solvers the paper used found no solution as good (§1). The paper's hypothesis: a "
                "residual block only has to push F toward 0, which may be easier than fitting an identity with "
                "nonlinear layers (§3.1)."
            )
        )
        st.markdown(
            _(
                "**So what is the difficulty, if BatchNorm keeps the gradient from vanishing?** He et al. "
                "(2016, §4.1) checked that with BatchNorm the gradients of their plain nets had healthy norms. "
                "Four candidate explanations, and where this lab measures each:"
            )
        )
        for item in lessons.difficulty_items(results, shattered_lag1()):
            st.markdown(f"- {item.text}")
            st.page_link(item.page, label=item.link, icon=":material/arrow_forward:")


@st.cache_data(show_spinner=False)
def shattered_lag1() -> tuple[float, float]:
    """Lag-1 autocorrelation of df/dx for the depth-50 scalar nets (plain, residual), seed 0."""
    return tuple(float(theory.autocorrelation(theory.shattered(50, residual=r)[1], 1)[1]) for r in (False, True))  # type: ignore[return-value]


def _exercise_items(results: Sequence[SweepResult]) -> ui_ex.Items:
    """The degradation page's predict-run-check tasks: the first graded from the sweep on screen
    (`results`), the second from the complete sweeps this session showed, by budget."""
    budgets = st.session_state.get("sweep_budgets", {})
    return [
        (
            lessons.SWEEP_DEEPER_PLAIN,
            lessons.sweep_deeper_outcome(depth_points(results)),
            _("pick plain, a shallow and a deep depth, and press Run sweep."),
        ),
        (
            lessons.SWEEP_LONGER,
            lessons.sweep_longer_outcome(budgets),
            _("after one sweep, multiply the steps by five and run it again."),
        ),
    ]


def exercises(results: Sequence[SweepResult]) -> None:
    """The exercise box, under the sweep on screen (`results`) whose reading it holds back until predicted."""
    ui_ex.show(_exercise_items(gradable(results)))


def paper_reference() -> None:
    """He et al. 2016, Table 6, for learners who run CIFAR-10 at the paper's scale."""
    with st.expander(
        _("Reference: the paper's CIFAR-10 numbers (He et al. 2016, Table 6)"), icon=":material/menu_book:"
    ):
        rows = [
            {
                _("network"): f"ResNet-{r['depth']}",
                _("layers"): r["depth"],
                _("params"): r["params"],
                _("test error %"): r["test_error"],
            }
            for r in PAPER_TABLE6
        ]
        st.dataframe(rows, hide_index=True)
        st.caption(
            _(
                "Trained on CIFAR-10 with width 16, batch 128, crop + flip, 64k iterations (ResNet-110: 6.43% is "
                "the best of 5 runs, mean 6.61 ± 0.16). The plain nets of Fig. 6 reached higher training and test "
                "error the deeper they were. A short run here will not match these numbers; the ordering is "
                "what to compare."
            )
        )


def demo_view(sweep: SweepConfig, store: RunStore, param: str) -> None:
    """The home page demo's result: the curves and one sentence, once all four cells are stored;
    until then the reference atlas's, labelled (Home asks no prediction that it would answer)."""
    progress(param, sweep, store, chart_key="demo_live")
    if active(param):
        return
    results = _collect_warned(sweep, store)
    if len(results) < len(sweep.cells()):  # not all four of the learner's own: the atlas's, labelled
        reference, manifest = ui_reference.for_sweep(sweep, [])
        if manifest is None or len(reference) < len(sweep.cells()):
            return
        results = reference
        ui_reference.label(manifest, len(results), len(results), action=_("press **Run the demo**"))
    st.plotly_chart(sweep_figures.depth_curves(results), key="demo_curves")
    text = demo_reading(results)
    if text:
        st.success(text, icon=":material/insights:")


def active(param: str) -> bool:
    """Whether any job of the sweep (anyone's) is queued or training."""
    return any(j.active for j in jobs(param))


def load_preset(sweep: SweepConfig) -> None:
    """on_click: set the degradation page's widgets to a preset (before they are drawn)."""
    st.session_state.update(SWEEP_LINK.widget_values(SweepSettings.from_sweep(sweep)))
