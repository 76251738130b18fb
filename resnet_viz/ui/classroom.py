"""Classroom mode on a student's pages (only with RESNET_VIZ_TEACHER_KEY set): the part of the
class experiment the teacher assigned, filled into Train & compare, and the class's chart on every
page while the teacher shares it. The teacher's own page is resnet_viz.ui.teacher.

Imports ui.session and ui.exercises, never resnet_viz.ui itself: page_setup calls `shared_chart`.
"""

from __future__ import annotations

import streamlit as st

from resnet_viz.degradation.pool import Pool, pools
from resnet_viz.degradation.sweep import depth_points
from resnet_viz.engine import classroom
from resnet_viz.engine.classroom import Part
from resnet_viz.engine.data import DATASETS
from resnet_viz.engine.runner import job_queue
from resnet_viz.engine.runs import RunStore
from resnet_viz.figures.sweep import error_vs_depth
from resnet_viz.i18n import _
from resnet_viz.teaching import lessons
from resnet_viz.teaching.classroom import is_part, part_settings
from resnet_viz.teaching.settings import LIVE_LINK, TwinSettings
from resnet_viz.text import classroom as words

from . import exercises as ui_ex
from . import predictions
from .session import fragment, owner_key

SHARED_REDRAW_SECONDS = 5.0  # how soon a student's page shows (or drops) the chart the teacher shares
POOL_SECONDS = 5.0  # the class's pools are recomputed from the store at most this often, for everyone
_APPLIED = "_class_part_applied"  # the (part, seed) this session's live widgets were filled with


@st.cache_resource(ttl=POOL_SECONDS, max_entries=4, show_spinner=False)
def class_pools(root: str) -> list[Pool]:
    """The store's runs pooled by recipe, shared read-only by every session (teacher and students)
    for POOL_SECONDS: thirty pages polling the class chart read the store once, not thirty times."""
    return pools(RunStore(root))


def pool_of(key: str | None) -> Pool | None:
    return next((p for p in class_pools(str(RunStore().root)) if p.key == key), None) if key else None


def dataset_title(name: str) -> str:
    return _(DATASETS[name].title) if name in DATASETS else name


def pool_figure(pool: Pool):
    points = depth_points(pool.results)
    return error_vs_depth(points, pooled=True), words.pool_reading(points)


# -- the assignment, on Train & compare -----------------------------------------------------------


def assigned_part() -> tuple[Part, int] | None:
    """Before the live page's widgets: this browser's part of the class experiment and its seed,
    given now if it has none; the first time in a session it fills the widgets in. None without an
    assignment, and for a page opened on someone else's run (a watcher is not a participant)."""
    if not classroom.enabled():
        return None
    job_id = st.query_params.get("job")
    if job_id:
        job = job_queue().get(job_id)
        if job is None or job.owner != owner_key():
            return None
    found = classroom.at(RunStore().root).part_for(owner_key())
    if found is None:
        return None
    _index, part, seed = found
    if st.session_state.get(_APPLIED) != (part, seed):
        fill_part(part, seed)
    return part, seed


def fill_part(part: Part, seed: int) -> None:
    """Put `part`'s settings into the live page's widgets (also the on_click of Back to my part)."""
    for key, value in LIVE_LINK.widget_values(part_settings(part, seed)).items():
        st.session_state[key] = value
    st.session_state[_APPLIED] = (part, seed)


def part_box(found: tuple[Part, int] | None, settings: TwinSettings | None) -> None:
    """What the part is, or that the settings left it (with the button that fills it in again)."""
    if found is None:
        return
    part, seed = found
    if settings is not None and is_part(settings, part, seed):
        st.info(words.part_intro(part, seed, dataset_title(part.dataset)), icon=":material/groups:")
        return
    st.warning(words.part_changed(part), icon=":material/groups:")
    st.button(_("Back to my part"), key="class_part_back", on_click=fill_part, args=(part, seed))


# -- the chart the teacher shares, on every page -------------------------------------------------


def shared_chart() -> None:
    """page_setup's hook: while the teacher shares the class chart, every student's page shows it
    at the top (checked every SHARED_REDRAW_SECONDS), behind the degradation exercise it answers."""
    if classroom.enabled():
        fragment(_shared, run_every=SHARED_REDRAW_SECONDS)()


def _shared() -> None:
    pool = pool_of(classroom.at(RunStore().root).shared)
    if pool is None:
        return
    exercise = lessons.SWEEP_DEEPER_PLAIN
    with st.container(border=True):
        st.markdown(_("**The class's result**, shared by your teacher."))
        st.caption(words.pool_summary(pool))
        if not (ui_ex.committed(exercise.key) or predictions.seen(exercise.key)):
            st.markdown(
                _(
                    "It answers exercise 1 of the **Degradation explorer** (will a deeper plain net end with a higher "
                    "training error?). Commit your prediction there first, or look now: a prediction made after "
                    "it counts as made after the answer."
                )
            )
            st.button(
                _("Show the class's chart now"), key="class_chart_peek", on_click=predictions.saw, args=(exercise.key,)
            )
            return
        fig, lines = pool_figure(pool)
        st.plotly_chart(fig, key="class_chart_shared")
        st.markdown("\n".join(f"- {line}" for line in lines))
