"""Streamlit helpers shared by the pages: the page registry, the sidebar, cached read-only lookups.

The ui subpackage is the only part of the library that imports streamlit (tests/test_imports.py
checks the rest); this module holds the shared pieces, `ui.sweep` the depth-sweep views.
``st.cache_resource`` is shared by every session, so only read-only values are cached here.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

# plotly imports pandas lazily, on the first figure it validates; two sessions drawing their first
# figures at once then race on a half-imported pandas ("partially initialized module 'pandas' has
# no attribute 'Series'", seen with three browsers on one server). Importing it here, once, when
# the server loads the pages, closes that window.
import pandas  # noqa: F401
import streamlit as st

from resnet_viz import __version__, lessons, plots
from resnet_viz.config import ConfigError, ModelConfig
from resnet_viz.devices import describe_device, select_device
from resnet_viz.reading import reading
from resnet_viz.runner import job_queue, train_threads
from resnet_viz.runs import RunStore, RunStoreError, damage_report
from resnet_viz.settings import TwinSettings
from resnet_viz.train import History
from resnet_viz.ui import exercises as ui_ex

PAPER_URL = "https://arxiv.org/abs/1512.03385"  # He et al. 2016, Deep Residual Learning
PREACT_PAPER_URL = "https://arxiv.org/abs/1603.05027"  # He et al. 2016b, Identity Mappings


@dataclass(frozen=True)
class PageInfo:
    key: str  # the page's URL path, e.g. "live" for /live (Streamlit's multipage layout: pages/3_live.py)
    path: str  # page script, relative to the repository root
    title: str  # shown in the navigation menu and on the home page
    icon: str  # Streamlit icon: an emoji or ":material/name:"
    summary: str  # one sentence for the home page: what a learner does there


# The app's pages in menu order. Streamlit's classic multipage layout: app.py is the home page,
# pages/<n>_<key>.py the others (the number orders them, the URL is /<key>). Not st.navigation:
# with a pages/ folder next to it, the pinned Streamlit runs its legacy router until the first
# visit to /, so a deep link ran a page without app.py. Each page starts with page_setup(key),
# which draws the menu from this list; the home page lists the others, so a new page is one
# entry here and one file in pages/.
PAGES: tuple[PageInfo, ...] = (
    PageInfo("home", "app.py", "Home", ":material/home:", "What the lab is for and how it measures."),
    PageInfo(
        "theory",
        "pages/1_theory.py",
        "Gradient flow",
        ":material/function:",
        "Why the identity path keeps the gradient alive: the algebra, a chain you can tune, and real networks "
        "measured at initialisation (no training needed).",
    ),
    PageInfo(
        "anatomy",
        "pages/2_anatomy.py",
        "Anatomy of a ResNet",
        ":material/account_tree:",
        "Take CIFAR and ImageNet ResNets apart: stages, parameters, the block and its code, and three common "
        "mistakes, all measured on the real models.",
    ),
    PageInfo(
        "live",
        "pages/3_live.py",
        "Train & compare",
        ":material/monitoring:",
        "Train a plain net and its residual twin on identical batches and watch loss, gradient flow "
        "and activations change as they learn.",
    ),
    PageInfo(
        "degradation",
        "pages/4_degradation.py",
        "Degradation explorer",
        ":material/stacked_line_chart:",
        "Train plain and residual nets at several depths and seeds and see training error rise with depth "
        "for plain nets only (He et al. 2016, Figs. 1 and 6).",
    ),
    PageInfo(
        "analysis",
        "pages/5_analysis.py",
        "Beyond the textbook",
        ":material/landscape:",
        "Loss-landscape slices, a lesion study and layer responses of trained twins, side by side on one scale.",
    ),
    PageInfo(
        "saliency",
        "pages/6_saliency.py",
        "Saliency",
        ":material/center_focus_strong:",
        "Upload a photo or pick a sample and see where each network looks (Grad-CAM and friends), plain vs "
        "residual side by side, or a pretrained ImageNet ResNet.",
    ),
)


@st.cache_resource(show_spinner=False)
def device_label() -> str:
    """Description of the device ``auto`` training uses, e.g. "CPU, 2 threads (torch 2.14.1)"."""
    return describe_device(select_device("auto"), threads=train_threads())


@st.cache_resource(show_spinner=False)
def cuda_available() -> bool:
    """Whether training here can use a CUDA GPU (offers the paper-scale presets)."""
    return select_device("auto").type == "cuda"


HEARTBEAT_SECONDS = 15.0  # a page touches its owner's jobs this often; runner.abandon_seconds() is 120


PAGE_BY_KEY: dict[str, PageInfo] = {p.key: p for p in PAGES}


def page_setup(key: str) -> None:
    """The first call of every page, however it was opened (the menu, a deep link, a refresh):
    the page config, the menu and the shared sidebar, and the training worker's start-up."""
    page = PAGE_BY_KEY[key]
    title = "ResNet Lab" if key == "home" else f"{page.title} · ResNet Lab"
    st.set_page_config(page_title=title, page_icon=page.icon, layout="wide")
    with st.sidebar:
        for p in PAGES:  # Streamlit's own menu is off (client.showSidebarNavigation): it would show file names
            st.page_link(p.path, label=p.title, icon=p.icon)
        st.divider()
    sidebar()
    start_workers()


def sidebar() -> None:
    """Shared sidebar, drawn by page_setup under the menu on every page."""
    with st.sidebar:
        _remember_owner()
        st.fragment(run_every=HEARTBEAT_SECONDS)(_heartbeat)()
        st.caption(f"Device: **{device_label()}**")
        with st.expander("About ResNet Lab", icon=":material/info:"):
            st.markdown(
                f"Version {__version__}. Plain and residual networks trained side by side on "
                "identical batches, measured while they learn.\n\n"
                f"Papers: [Deep Residual Learning]({PAPER_URL}) (He et al. 2016), "
                f"[Identity Mappings in Deep Residual Networks]({PREACT_PAPER_URL}) (He et al. 2016b).\n\n"
                "Command line: `resnet-viz train --help`."
            )


def start_workers() -> None:
    """Create the server's job queue on the first visit to any page: its worker process imports
    torch and warms up while the learner is still reading, so Train answers at once."""
    job_queue()


OWNER_COOKIE = "resnet_lab_owner"  # a random token per browser, set once; the server keeps only its hash
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


def owner_key() -> str:
    """Who may stop a training job: one key per browser, stable across a refresh and a new tab.

    The key hashes a random token kept in a cookie of this site (set by :func:`sidebar` on the
    first visit), so a refreshed tab or a second tab of the same browser keeps the right to stop
    its own run, while another browser, which cannot guess the token, can only watch. Until the
    cookie comes back with the next page load, this session uses the token it just wrote.
    (Streamlit's XSRF cookie is re-masked on every load, so it cannot serve as the key.)
    """
    cookie = st.context.cookies.get(OWNER_COOKIE) if st.context.cookies else None
    token = (
        cookie
        if cookie and _TOKEN.match(cookie)
        else st.session_state.setdefault("_owner_token", secrets.token_urlsafe(24))
    )
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def _remember_owner() -> None:
    """Write the session's token into the browser's cookie once, so the next load sends it back."""
    cookie = st.context.cookies.get(OWNER_COOKIE) if st.context.cookies else None
    if (cookie and _TOKEN.match(cookie)) or st.session_state.get("_owner_cookie_written"):
        return
    owner_key()  # makes the session's token
    token = st.session_state["_owner_token"]
    st.html(
        f"<script>document.cookie = '{OWNER_COOKIE}={token}; path=/; max-age=31536000; SameSite=Strict';</script>",
        unsafe_allow_javascript=True,
    )
    st.session_state["_owner_cookie_written"] = True


def _heartbeat() -> None:
    """Every page keeps its owner's jobs alive (a job nobody watches is stopped) and says where they are."""
    active = job_queue().touch(owner_key())
    if active:
        st.caption(f"You have {active} run{'s' if active > 1 else ''} queued or training on this server.")


# -- live training view ------------------------------------------------------------------------

# While a job runs the status and loss/accuracy charts redraw every REDRAW_SECONDS and the
# gradient charts every GRADIENT_REDRAW_SECONDS: on a 2-core machine the browser's re-rendering
# competes with training for the CPU (bench/bench_live.py measures the cost). Env overrides.
REDRAW_SECONDS = float(os.environ.get("RESNET_VIZ_REDRAW", "0.5"))
GRADIENT_REDRAW_SECONDS = float(os.environ.get("RESNET_VIZ_GRADIENT_REDRAW", "2.0"))


def start_job(settings: TwinSettings | None, owner: str, store: RunStore) -> None:
    """Train's on_click: queue the twins and remember the job in the session and the URL."""
    st.session_state.pop("job_refused", None)
    if settings is None:
        return
    try:
        job = job_queue().submit(
            settings.model_configs(), settings.data_config(), settings.train_config(), owner=owner, store=store
        )
    except ConfigError as exc:  # over the server's limits, or this browser already has a run queued
        st.session_state.job_refused = str(exc)
        return
    st.session_state.job = job.job_id
    st.query_params["job"] = job.job_id


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


def live_view(job_id: str | None, store: RunStore) -> None:
    """Status, progress and charts of one job, redrawn every REDRAW_SECONDS while it runs."""
    refused = st.session_state.get("job_refused")
    if refused:
        st.error(refused, icon=":material/block:")
    snap = job_queue().snapshot(job_id) if job_id else None
    if snap is None:
        hists = _stored_histories(store, job_id) if job_id else []
        if not hists:
            st.info("Set up the twins on the left and press **Train**. Charts appear here within a second or two.")
            _curve_charts([])  # drawn empty now, so the first points only update them
            return
        st.caption("This run finished earlier; its stored metrics are shown.")
        _charts(hists)
        return
    st.fragment(run_every=REDRAW_SECONDS if snap.active else None)(_live_fragment)(job_id, snap.active)
    st.fragment(run_every=GRADIENT_REDRAW_SECONDS if snap.active else None)(_gradient_fragment)(job_id)


def _live_fragment(job_id: str, was_active: bool) -> None:
    snap = job_queue().snapshot(job_id)
    if snap is None:
        return
    if snap.state == "queued":
        st.info(
            f"Queued: position {snap.queue_position}. At most {job_queue().max_jobs} job(s) train at once "
            "on this server; yours starts when a slot frees up.",
            icon=":material/hourglass_top:",
        )
    else:
        eta = f" · about {snap.eta:.0f} s to go" if snap.eta is not None else ""
        epoch = f" (epoch {snap.step / snap.steps_per_epoch:.1f})" if snap.steps_per_epoch else ""
        st.progress(
            snap.progress,
            text=(
                f"{snap.state.capitalize()} · step {snap.step}/{snap.total_steps}{epoch} · "
                f"{snap.images_per_s:,.0f} images/s{eta} · {snap.device}"
            ),
        )
    if snap.error and snap.state == "stopped":  # halted by the server: over its time limit, or unwatched
        st.warning(snap.error, icon=":material/timer_off:")
    elif snap.error:
        st.error(f"Training failed: {snap.error}", icon=":material/error:")
    for h in snap.histories:
        if h.status == "diverged":
            st.warning(
                f"**{h.name}** diverged at step {h.diverged_at}: its loss became NaN or infinite. "
                "Its curves stop there; the other model kept training.",
                icon=":material/warning:",
            )
    _curve_charts(list(snap.histories))
    if was_active and not snap.active:
        st.rerun()  # full rerun: stop the timers, refresh buttons, the reading and the run list


def _gradient_fragment(job_id: str) -> None:
    snap = job_queue().snapshot(job_id)
    if snap is not None:
        _gradient_charts(list(snap.histories))
        if not snap.active:
            job = job_queue().get(job_id)
            _reading(list(snap.histories), job.model_cfgs if job is not None else ())


def _charts(hists: list[History]) -> None:
    _curve_charts(hists)
    _gradient_charts(hists)
    _reading(hists)


def _curve_charts(hists: list[History]) -> None:
    overlays = [h for rid in st.session_state.get("overlay", []) for h in _overlay(rid)]
    left, right = st.columns(2)
    left.plotly_chart(plots.loss_figure(hists, overlays=overlays), key="loss")
    right.plotly_chart(plots.accuracy_figure(hists, overlays=overlays), key="acc")


def _gradient_charts(hists: list[History]) -> None:
    left, right = st.columns(2)
    left.plotly_chart(plots.flow_profile(hists), key="flow")
    right.plotly_chart(plots.flow_ratio_figure(hists), key="flow_ratio")
    st.caption(
        "dL/dx is the gradient that flows from block to block (He et al. 2016b, eq. 5). The per-weight "
        "gradient below is a second view: it multiplies dL/dx by each layer's input, so in a ReLU net "
        "without BatchNorm it can stay flat while dL/dx vanishes."
    )
    st.plotly_chart(plots.grad_heatstrip(hists, kind="rms"), key="heat")
    left, right = st.columns(2)
    left.plotly_chart(plots.grad_profile(hists, kind="rms"), key="profile")
    right.plotly_chart(plots.act_std_figure(hists), key="act")
    for h in hists:
        if h.residual_block_names:
            st.plotly_chart(plots.identity_share_figure(h), key=f"share-{h.name}")


def _reading(hists: list[History], configs: Sequence[ModelConfig] = ()) -> None:
    lines = reading(hists, configs)
    if lines:
        st.subheader("What this run shows")
        st.markdown("\n".join(f"- {line}" for line in lines))
    _live_exercises(hists)


def _live_exercises(hists: list[History]) -> None:
    """The live page's predict-run-check tasks, graded from the run on screen."""
    bn = bool(st.session_state.get("bn", True))
    ui_ex.show(
        [
            (
                lessons.LIVE_CALMS,
                lessons.live_calms_outcome(hists),
                "press Train with BatchNorm on and let the run finish; the reading appears below the charts.",
            ),
            (
                lessons.LIVE_NO_BN,
                lessons.live_no_bn_outcome(hists, bn),
                "turn BatchNorm off under More settings, set Init to default, train both twins to the end.",
            ),
        ]
    )


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
        hist.name = f"{info.label} · {info.created[:16].replace('T', ' ')}"
    return hist


def run_list(store: RunStore, current: tuple[str, ...] = ()) -> None:
    """Finished runs: a table, overlay picker, metrics CSV and weights downloads."""
    st.divider()
    st.subheader("Runs on this server")
    infos, damaged = store.scan()
    report = damage_report(damaged)  # folder names only: the page must not show the server's paths
    if report:
        st.warning(report, icon=":material/warning:")
    runs = [r for r in infos if r.status != "running"]
    if not runs:
        st.caption("Finished runs are kept in the server's run store and listed here.")
        return
    st.dataframe(
        [
            {
                "run": r.label,
                "status": r.status,
                "steps": r.step,
                "train acc %": _pct((r.extra.get("summary") or {}).get("train_acc")),
                "test acc %": _pct((r.extra.get("summary") or {}).get("test_acc")),
                "dataset": r.data.name,
                "seed": r.train.seed,
                "created (UTC)": r.created[:19].replace("T", " "),
                "id": r.run_id,
            }
            for r in runs
        ],
        hide_index=True,
    )
    labels = {r.run_id: f"{r.label} · {r.created[:16].replace('T', ' ')} · {r.status}" for r in runs}
    st.multiselect(
        "Overlay earlier runs on the loss chart",
        [r for r in labels if r not in current],
        format_func=labels.get,
        key="overlay",
    )
    pick = st.selectbox("Download a run", list(labels), format_func=labels.get, key="download_pick")
    if pick:
        a, b = st.columns(2)

        def metrics_csv() -> str:
            try:
                return store.metrics_csv(pick)
            except RunStoreError as exc:  # deleted or damaged since listed: the file says so
                return f"# {exc}\n"

        # Callables: the files are read when clicked, not on every rerun of the page.
        a.download_button(
            "Metrics (CSV)", metrics_csv, file_name=f"{pick}.csv", mime="text/csv", icon=":material/download:"
        )
        weights = store.root / pick / "weights.pt"
        if weights.exists():
            b.download_button(
                "Weights (state dict)", weights.read_bytes, file_name=f"{pick}.pt", icon=":material/download:"
            )


def _pct(v: object) -> float | None:
    return round(100 * float(v), 1) if isinstance(v, (int, float)) else None
