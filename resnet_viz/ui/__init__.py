"""Streamlit helpers shared by the pages: the page registry, the sidebar, cached read-only lookups.

The ui subpackage is the only part of the library that imports streamlit (tests/test_imports.py
checks the rest); this module holds the shared pieces (the page list, page_setup, the sidebar,
device lookups; a session's language, owner key and fragments are `ui.session`, beneath every
other ui module), and each page's own Streamlit side has a module beside it: `ui.teacher` (and
`ui.classroom`, classroom mode on the students' pages),
`ui.live`, `ui.degradation` (the depth sweep of the degradation page and the home demo), `ui.saliency`, ....
``st.cache_resource`` is shared by every session, so only read-only values are cached here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# plotly imports pandas lazily, on the first figure it validates; two sessions drawing their first
# figures at once then race on a half-imported pandas ("partially initialized module 'pandas' has
# no attribute 'Series'", seen with three browsers on one server). Importing it here, once, when
# the server loads the pages, closes that window.
import pandas  # noqa: F401
import streamlit as st
import torch

from resnet_viz import __version__
from resnet_viz.engine import devices
from resnet_viz.engine.config import ConfigError
from resnet_viz.engine.devices import select_device, thread_count
from resnet_viz.engine.limits import forward_macs
from resnet_viz.engine.runner import current_queue, job_queue
from resnet_viz.engine.runs import RunInfo, RunStore, damage_report, twin_groups
from resnet_viz.i18n import N_, _, ngettext
from resnet_viz.teaching.settings import TwinSettings

from . import classroom as ui_classroom

# The session's language and owner key live in ui.session (beneath every ui module); the pages
# call them as ui.owner_key(), ui.fragment(...), as before.
from .session import OWNER_COOKIE as OWNER_COOKIE
from .session import _remember_owner, fragment, language_switch, owner_key, use_language

PAPER_URL = "https://arxiv.org/abs/1512.03385"  # He et al. 2016, Deep Residual Learning
PREACT_PAPER_URL = "https://arxiv.org/abs/1603.05027"  # He et al. 2016b, Identity Mappings


@dataclass(frozen=True)
class PageInfo:
    key: str  # the page's URL path, e.g. "live" for /live (Streamlit's multipage layout: pages/3_live.py)
    path: str  # page script, relative to the repository root
    title: str  # shown in the navigation menu and on the home page (an English msgid: show `_(title)`)
    icon: str  # Streamlit icon: an emoji or ":material/name:"
    summary: str  # one sentence for the home page: what a learner does there (a msgid too)


# The app's pages in menu order. Streamlit's classic multipage layout: app.py is the home page,
# pages/<n>_<key>.py the others (the number orders them, the URL is /<key>). Not st.navigation:
# with a pages/ folder next to it, the pinned Streamlit runs its legacy router until the first
# visit to /, so a deep link ran a page without app.py. Each page starts with page_setup(key),
# which draws the menu from this list; the home page lists the others, so a new page is one
# entry here and one file in pages/.
PAGES: tuple[PageInfo, ...] = (
    PageInfo(
        "home",
        "app.py",
        N_("Home"),
        ":material/home:",
        N_("What the lab is for and how it measures."),
    ),
    PageInfo(
        "theory",
        "pages/1_theory.py",
        N_("Gradient flow"),
        ":material/function:",
        N_(
            "Why the identity path keeps the gradient alive: the algebra, a chain you can tune, and real networks "
            "measured at initialisation (no training needed)."
        ),
    ),
    PageInfo(
        "anatomy",
        "pages/2_anatomy.py",
        N_("Anatomy of a ResNet"),
        ":material/account_tree:",
        N_(
            "Take CIFAR and ImageNet ResNets apart: stages, parameters, the block and its code, and three common "
            "mistakes, all measured on the real models."
        ),
    ),
    PageInfo(
        "live",
        "pages/3_live.py",
        N_("Train & compare"),
        ":material/monitoring:",
        N_(
            "Train a plain net and its residual twin on identical batches and watch loss, gradient flow "
            "and activations change as they learn."
        ),
    ),
    PageInfo(
        "degradation",
        "pages/4_degradation.py",
        N_("Degradation explorer"),
        ":material/stacked_line_chart:",
        N_(
            "Train plain and residual nets at several depths and seeds and see training error rise with depth "
            "for plain nets only (He et al. 2016, Figs. 1 and 6)."
        ),
    ),
    PageInfo(
        "analysis",
        "pages/5_analysis.py",
        N_("Beyond the textbook"),
        ":material/landscape:",
        N_("Loss-landscape slices, a lesion study and layer responses of trained twins, side by side on one scale."),
    ),
    PageInfo(
        "saliency",
        "pages/6_saliency.py",
        N_("Saliency"),
        ":material/center_focus_strong:",
        N_(
            "Upload a photo or pick a sample and see where each network looks (Grad-CAM and friends), plain vs "
            "residual side by side, or a pretrained ImageNet ResNet."
        ),
    ),
    PageInfo(
        "teacher",
        "pages/7_teacher.py",
        N_("Teacher"),
        ":material/school:",
        N_(
            "For a teacher running the lab for a class: every job on the server, the class's runs pooled into one "
            "degradation chart, the class's predictions, and a part of the experiment for each student."
        ),
    ),
)


@st.cache_resource(show_spinner=False)
def _device_facts() -> devices.DeviceLabel:
    """What names the device ``auto`` training uses, cached as facts (no words: every language
    says them its own way)."""
    return devices.device_label(select_device("auto"), threads=default_job_threads())


def device_label() -> str:
    """Description of the device ``auto`` training uses, e.g. "CPU, 1 thread (torch 2.14.1)", with
    the threads the policy gives the live page's default twins (resnet_viz.engine.devices.thread_count),
    in the learner's language."""
    return _device_facts().text()


def default_job_threads() -> int:
    """Torch threads a press of Train with the live page's defaults gets."""
    twins = TwinSettings()
    work = forward_macs(twins.model_configs(), twins.data_config(), twins.train_config().batch_size)
    return thread_count(work, reserve=1)  # as the worker counts them (resnet_viz.engine.runner.worker)


@st.cache_resource(show_spinner=False)
def cuda_available() -> bool:
    """Whether training here can use a CUDA GPU (offers the paper-scale presets)."""
    return select_device("auto").type == "cuda"


HEARTBEAT_SECONDS = 15.0  # a page touches its owner's jobs this often; runner.abandon_seconds() is 120


PAGE_BY_KEY: dict[str, PageInfo] = {p.key: p for p in PAGES}


def page_setup(key: str) -> None:
    """The first call of every page, however it was opened (the menu, a deep link, a refresh):
    the language, the page config, the menu and the shared sidebar, and the worker's start-up."""
    use_language()
    page = PAGE_BY_KEY[key]
    title = "ResNet Lab" if key == "home" else f"{_(page.title)} · ResNet Lab"
    st.set_page_config(page_title=title, page_icon=page.icon, layout="wide")
    with st.sidebar:
        language_switch()
        for p in PAGES:  # Streamlit's own menu is off (client.showSidebarNavigation): it would show file names
            st.page_link(p.path, label=_(p.title), icon=p.icon)
        st.divider()
    sidebar()
    start_workers()
    executor_status()
    ui_classroom.shared_chart()  # classroom mode: the class's chart, while the teacher shares it


def executor_status() -> None:
    """Where Train's jobs run, under the device line: a Ray cluster and how many jobs it takes at
    once, or why the cluster asked for is not used."""
    queue = current_queue()  # start_workers made it (tests that stub that out get no line)
    if queue is None:
        return
    with st.sidebar:
        if queue.ray_address is not None and queue.cluster_lost:
            st.warning(
                _(
                    "The Ray cluster at **{address}** went away during a job. The next Train joins it again if it "
                    "is back, else trains on this machine."
                ).format(address=queue.ray_address),
                icon=":material/cloud_off:",
            )
        elif queue.ray_address is not None:
            st.caption(
                ngettext(
                    "Training runs on the Ray cluster at **{address}**: {n} job at once.",
                    "Training runs on the Ray cluster at **{address}**: {n} jobs at once.",
                    queue.max_jobs,
                ).format(address=queue.ray_address, n=queue.max_jobs)
            )
        if queue.executor_note:
            st.warning(queue.executor_note, icon=":material/cloud_off:")


def sidebar() -> None:
    """Shared sidebar, drawn by page_setup under the menu on every page."""
    with st.sidebar:
        _remember_owner()
        fragment(_heartbeat, run_every=HEARTBEAT_SECONDS)()
        st.caption(_("Device: **{device}**").format(device=device_label()))
        with st.expander(_("About ResNet Lab"), icon=":material/info:"):
            st.markdown(
                _(
                    "Version {version}. Plain and residual networks trained side by side on "
                    "identical batches, measured while they learn.\n\n"
                    "Papers: [Deep Residual Learning]({paper_url}) (He et al. 2016), "
                    "[Identity Mappings in Deep Residual Networks]({preact_url}) (He et al. 2016b).\n\n"
                    "Command line: `resnet-viz train --help`."
                ).format(version=__version__, paper_url=PAPER_URL, preact_url=PREACT_PAPER_URL)
            )


def start_workers() -> None:
    """Create the server's job queue on the first visit to any page: its worker process imports
    torch and warms up while the learner is still reading, so Train answers at once. The server's
    own torch work runs on the thread policy's count for small work (one thread) unless a call
    asks for more (the saliency page's pretrained nets, resnet_viz.engine.devices.threads)."""
    global _SERVER_THREADS_SET
    if not _SERVER_THREADS_SET:
        _SERVER_THREADS_SET = True
        torch.set_num_threads(thread_count())
    job_queue()


_SERVER_THREADS_SET = False


def _heartbeat() -> None:
    """Every page keeps its owner's jobs alive (a job nobody watches is stopped) and says where they are."""
    active = job_queue().touch(owner_key())
    if active:
        st.caption(
            ngettext(
                "You have {n} run queued or training on this server.",
                "You have {n} runs queued or training on this server.",
                active,
            ).format(n=active)
        )


def domain(info: RunInfo) -> str:
    """What a run's nets were trained on, as a learner needs it to judge a map: dataset, input,
    classes, in the learner's language."""
    from resnet_viz.engine.data import DATASETS

    m = info.model
    title = _(DATASETS[info.data.name].title) if info.data.name in DATASETS else info.data.name
    if m.in_channels == 1:
        template = ngettext(
            "{title}: {size}x{size} grey, {n} class", "{title}: {size}x{size} grey, {n} classes", m.num_classes
        )
    else:
        template = ngettext(
            "{title}: {size}x{size} colour, {n} class", "{title}: {size}x{size} colour, {n} classes", m.num_classes
        )
    return template.format(title=title, size=m.image_size, n=m.num_classes)


def run_groups(store: RunStore) -> dict[str, list[RunInfo]]:
    """Finished runs with weights, grouped by the Train press that made them (twins together),
    newest first. The key names the twins and their press in every language alike (a select box's
    value survives a language switch); `group_label` says what they were trained on. Damaged
    folders are named in one warning."""
    infos, damaged = store.scan()
    report = damage_report(damaged)  # folder names only, never the server's path
    if report:
        st.warning(report, icon=":material/warning:")
    return {f"{' + '.join(r.label for r in runs)} · {group}": runs for group, runs in twin_groups(infos).items()}


# The widths of a page's controls column and its view, as st.columns takes them: [1, 3] cut the
# dataset titles, the run labels and the three model choices in Chinese (issue 26, 28).
CONTROLS_VIEW = (1.35, 3)


# What a selectbox or multiselect shows while nothing is picked. Left unset, Streamlit's frontend
# shows its own English words ("Choose an option", "Choose options", "No options to select") on
# every page, Chinese included; every select of the app passes `placeholder=ui.placeholder(...)`.
CHOOSE_ONE = N_("Choose an option")
CHOOSE_MANY = N_("Choose options")
NOTHING_TO_CHOOSE = N_("No options to select")


def placeholder(options: Sequence[object] | object, *, many: bool = False) -> str:
    """The placeholder of a selectbox (`many=False`) or multiselect over `options`, in the
    learner's language; with no options, the words that say so (a page should then also pass
    disabled=True, which Streamlit does by itself only for its own English placeholder)."""
    try:
        empty = len(options) == 0  # type: ignore[arg-type]
    except TypeError:  # a generator or a range-like without len: there is something to choose
        empty = False
    if empty:
        return _(NOTHING_TO_CHOOSE)
    return _(CHOOSE_MANY if many else CHOOSE_ONE)


# Config values a select shows or a sentence names: the value stays the key (URLs, configs and
# the CLI read it), the screen shows these words. kaiming, xavier and fixup are names, shown as
# they are.
INIT_TITLES = {"default": N_("default")}


def init_title(init: str) -> str:
    """An initialisation as a learner reads it: "default" in their language, a name as it is."""
    return _(INIT_TITLES[init]) if init in INIT_TITLES else init


def group_label(runs: Sequence[RunInfo]) -> str:
    """A run group as a select box lists it, in the learner's language."""
    first = runs[0]
    return _("{names} · {domain} · seed {seed} · {when}").format(
        names=" + ".join(r.label for r in runs), domain=domain(first), seed=first.train.seed, when=first.when
    )


def submit_twins(settings: TwinSettings, owner: str, store: RunStore, *, refused_key: str) -> str | None:
    """Queue the twins `settings` describe; the job id, or None with the refusal's sentence (over
    this server's limits, or this browser already has a run queued) in st.session_state[refused_key]."""
    st.session_state.pop(refused_key, None)
    try:
        job = job_queue().submit(
            settings.model_configs(), settings.data_config(), settings.train_config(), owner=owner, store=store
        )
    except ConfigError as exc:
        st.session_state[refused_key] = str(exc)
        return None
    return job.job_id
