"""The teacher's page (pages/7_teacher.py): the key, once per browser; then the class, live: every
job with its student and a Stop, the class's runs pooled into one degradation chart (shared with
every student's page on request), the class's predictions, and the assignment.

Every check is made here, on the server, at every redraw and in every callback: a page that is not
signed in gets none of the class's data, whatever its browser sends. The key itself is only ever
in the password box's one submission: never in the URL, the session, a log line or the page.
"""

from __future__ import annotations

import streamlit as st

from resnet_viz.engine import classroom
from resnet_viz.engine.config import ConfigError
from resnet_viz.engine.data import WEB_DATASETS
from resnet_viz.engine.runner import job_queue
from resnet_viz.engine.runner.roster import class_jobs
from resnet_viz.engine.runs import RunStore
from resnet_viz.i18n import N_, _
from resnet_viz.teaching.classroom import BY_KEY, QUESTIONS, part_settings
from resnet_viz.teaching.settings import LIVE_BOUNDS
from resnet_viz.text import classroom as words
from resnet_viz.ui import classroom as ui_class
from resnet_viz.ui import fragment, placeholder

_ISSUED = "_teacher_cookie"  # the signed cookie this session issued (never the key), until it comes back
_SIGNED_OUT = "_teacher_signed_out"  # this session signed out: the cookie its browser sent no longer counts
JOBS_REDRAW_SECONDS = 2.0
CLASS_REDRAW_SECONDS = 5.0
KIND_TITLES = {"plain": N_("plain"), "residual": N_("residual")}
# A job's state as the list shows it (the stored value stays the key; an unknown one is shown as stored).
STATE_TITLES = {
    "queued": N_("queued"),
    "running": N_("running"),
    "finished": N_("finished"),
    "stopped": N_("stopped"),
    "failed": N_("failed"),
    "diverged": N_("diverged"),
    "interrupted": N_("interrupted"),
}


def enabled() -> bool:
    """Whether this server runs in teacher mode (a key of sufficient length is set)."""
    return classroom.enabled()


def room() -> classroom.Classroom:
    return classroom.at(RunStore().root)


def signed_in() -> bool:
    """Whether this session is the teacher's: a cookie signed with this server's key, sent by the
    browser or issued to this session."""
    if not classroom.enabled() or st.session_state.get(_SIGNED_OUT):
        return False
    cookie = st.context.cookies.get(classroom.TEACHER_COOKIE) if st.context.cookies else None
    return classroom.teacher_cookie_ok(cookie) or classroom.teacher_cookie_ok(st.session_state.get(_ISSUED))


def about(*, folded: bool = False) -> None:
    """What teacher mode is, for everyone (`folded` into an expander for the signed-in teacher);
    how to turn it on when it is off."""
    (st.expander(_("What teacher mode is"), icon=":material/info:") if folded else st.container()).markdown(
        _(
            "Teacher mode is for a teacher who runs the lab on one server for a class. The teacher sees every job "
            'on the server with an anonymous label per browser ("student 7") and can stop any of them; pools '
            "every finished run into one chart of final training error against depth, so a class that trains one "
            "depth each measures together the comparison of He et al.'s Figure 6 (plain nets ending worse as they "
            "get deeper, residual nets not); sees how many chose each answer of every prediction "
            "(counts only, never who); and can give each joining browser one part of the experiment."
        )
    )
    if not classroom.enabled():
        problem = classroom.key_problem()
        if problem:
            st.warning(problem, icon=":material/key_off:")
        st.info(
            _(
                "Teacher mode is off on this server. To turn it on, start the server with a key of at least {n} "
                "characters in the environment variable {env}, e.g. `{env}=$(openssl rand -hex 16) streamlit run "
                "app.py`, and give the key to the teacher only."
            ).format(n=classroom.MIN_KEY_LENGTH, env=classroom.TEACHER_ENV),
            icon=":material/school:",
        )


def sign_in() -> None:
    """The key, asked once per browser: a right one signs this browser in for TEACHER_HOURS."""
    with st.form("teacher_sign_in", clear_on_submit=True):
        st.text_input(_("Teacher key"), type="password", key="teacher_key_given", autocomplete="off")
        st.form_submit_button(_("Sign in"), type="primary", on_click=_check_key)
    if st.session_state.get("_teacher_refused"):
        st.error(_("That is not this server's teacher key."), icon=":material/key_off:")


def _check_key() -> None:
    given = str(st.session_state.get("teacher_key_given") or "")
    if classroom.check_key(given):  # a wrong key waits here, on the server (classroom.failure_delay)
        st.session_state[_ISSUED] = classroom.sign_teacher(classroom.teacher_key() or "")
        st.session_state["_teacher_write_cookie"] = True
        st.session_state.pop("_teacher_refused", None)
        st.session_state.pop(_SIGNED_OUT, None)
    else:
        st.session_state["_teacher_refused"] = True


def keep_cookie() -> None:
    """Once after signing in (or out): the browser keeps (or drops) the signed cookie."""
    if st.session_state.pop("_teacher_write_cookie", False):
        value, age = st.session_state.get(_ISSUED, ""), classroom.TEACHER_HOURS * 3600
        st.html(
            f"<script>document.cookie = '{classroom.TEACHER_COOKIE}={value}; path=/; max-age={age}; "
            "SameSite=Strict';</script>",
            unsafe_allow_javascript=True,
        )
    if st.session_state.pop("_teacher_drop_cookie", False):
        st.html(
            f"<script>document.cookie = '{classroom.TEACHER_COOKIE}=; path=/; max-age=0; SameSite=Strict';</script>",
            unsafe_allow_javascript=True,
        )


def sign_out_button() -> None:
    st.button(_("Sign out"), key="teacher_sign_out", icon=":material/logout:", on_click=_sign_out)


def _sign_out() -> None:
    st.session_state.pop(_ISSUED, None)
    st.session_state[_SIGNED_OUT] = True
    st.session_state["_teacher_drop_cookie"] = True


# -- the jobs ----------------------------------------------------------------------------------


def jobs_view() -> None:
    fragment(_jobs, run_every=JOBS_REDRAW_SECONDS)()


def _state_title(state: str) -> str:
    return _(STATE_TITLES[state]) if state in STATE_TITLES else state


def _jobs() -> None:
    if not signed_in():
        return
    rows = class_jobs(job_queue(), RunStore(), room())
    if not rows:
        st.caption(_("No job is queued or training, and none ended in the last hour."))
        return
    col = {
        "student": _("student"),
        "nets": _("nets"),
        "dataset": _("dataset"),
        "state": _("state"),
        "progress": _("progress"),
        "pressed": _("pressed (UTC)"),
    }
    st.dataframe(
        [
            {
                col["student"]: words.student(r.student),
                col["nets"]: " + ".join(r.names),
                col["dataset"]: ui_class.dataset_title(r.dataset),
                col["state"]: _state_title(r.state)
                if r.queue_position is None
                else _("queued ({n})").format(n=r.queue_position),
                col["progress"]: min(1.0, r.step / r.total) if r.total else None,
                col["pressed"]: r.created.strftime("%H:%M:%S"),
            }
            for r in rows
        ],
        column_config={col["progress"]: st.column_config.ProgressColumn(col["progress"], min_value=0.0, max_value=1.0)},
        hide_index=True,
    )
    active = {r.job_id: r for r in rows if r.active}
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    pick = left.selectbox(
        _("Stop a job"),
        list(active),
        format_func=lambda j: f"{words.student(active[j].student)} · {' + '.join(active[j].names)}",
        key="teacher_stop_pick",
        placeholder=placeholder(active),
        disabled=not active,
        index=None,
    )
    right.button(
        _("Stop"), key="teacher_stop", icon=":material/stop:", disabled=pick is None, on_click=_stop, args=(pick,)
    )


def _stop(job_id: str | None) -> None:
    if job_id and signed_in():  # checked again here: a callback is a request of its own
        job_queue().stop(job_id, None, teacher=True)


# -- the class's chart ---------------------------------------------------------------------------


def chart_view() -> None:
    fragment(_chart, run_every=CLASS_REDRAW_SECONDS)()


def _chart() -> None:
    if not signed_in():
        return
    pools = ui_class.class_pools(str(RunStore().root))
    if not pools:
        st.info(_("No finished run on this server yet: the chart fills in as the class's runs finish."))
        return
    labels = {p.key: words.pool_label(p, ui_class.dataset_title(p.data.name)) for p in pools}
    pick = st.selectbox(
        _("Runs trained with"),
        list(labels),
        format_func=labels.get,
        key="teacher_pool",
        placeholder=placeholder(labels),
    )
    pool = ui_class.pool_of(pick)
    if pool is None:
        return
    fig, lines = ui_class.pool_figure(pool)
    st.caption(words.pool_summary(pool))
    st.plotly_chart(fig, key="teacher_pool_chart")
    st.markdown("\n".join(f"- {line}" for line in lines))
    if room().shared == pool.key:
        st.button(_("Stop showing it on the students' pages"), key="teacher_share", on_click=_share, args=(None,))
        st.caption(_("Every student's page shows this chart at its top (behind the exercise it answers)."))
    else:
        st.button(_("Show this chart on every student's page"), key="teacher_share", on_click=_share, args=(pool.key,))


def _share(key: str | None) -> None:
    if signed_in():
        room().share(key is not None, key)


# -- the class's predictions ---------------------------------------------------------------------


def predictions_view() -> None:
    fragment(_predictions, run_every=CLASS_REDRAW_SECONDS)()


def _predictions() -> None:
    if not signed_in():
        return
    counts = room().prediction_counts()
    if not counts:
        st.caption(_("No prediction committed yet."))
        return
    col = {"question": _("question"), "answer": _("answer"), "before": _("before"), "after": _("after")}
    rows = []
    for q in QUESTIONS:
        if q.key not in counts:
            continue
        for option, text in q.options:
            rows.append(
                {
                    col["question"]: _(q.question),
                    col["answer"]: _(text),
                    col["before"]: counts[q.key].get("before", {}).get(option, 0),
                    col["after"]: counts[q.key].get("after", {}).get(option, 0),
                }
            )
    st.dataframe(rows, hide_index=True)
    st.caption(
        _(
            "How many browsers chose each answer: before the answer was on their screen, and after it (a second "
            "try, or a reference or the class's chart looked at first). Counts only: the record never says who."
        )
    )
    unknown = sorted(set(counts) - set(BY_KEY))
    if unknown:  # kept in the record by an older version of the lab
        st.caption(_("Not shown, from questions this version does not ask: {keys}").format(keys=", ".join(unknown)))


# -- the assignment ------------------------------------------------------------------------------


def assignment_view() -> None:
    current = room().assignment()
    if current is not None:
        parts, given, next_index = current
        st.markdown(words.assignment_state(parts, given, next_index))
        st.button(_("End the assignment"), key="teacher_unassign", on_click=_assign, args=(False,))
    depths = [d for d in LIVE_BOUNDS["depth"].values if d <= 110]
    with st.form("teacher_assignment"):
        st.selectbox(
            _("Dataset"),
            WEB_DATASETS,
            index=WEB_DATASETS.index("shapes") if "shapes" in WEB_DATASETS else 0,
            format_func=ui_class.dataset_title,
            key="assign_dataset",
        )
        st.multiselect(
            _("Depths"),
            depths,
            default=[d for d in (20, 32, 44, 56, 110) if d in depths],
            key="assign_depths",
            placeholder=placeholder(depths, many=True),
        )
        st.multiselect(
            _("Nets"),
            list(KIND_TITLES),
            default=list(KIND_TITLES),
            format_func=lambda k: _(KIND_TITLES[k]),
            key="assign_kinds",
            placeholder=placeholder(KIND_TITLES, many=True),
        )
        st.form_submit_button(_("Give these parts to the browsers that join"), on_click=_assign, args=(True,))
    refused = st.session_state.pop("_assign_refused", None)
    if refused:
        st.error(refused, icon=":material/block:")


def _assign(on: bool) -> None:
    if not signed_in():
        return
    if not on:
        room().set_assignment([])
        return
    depths, kinds = st.session_state.get("assign_depths") or [], st.session_state.get("assign_kinds") or []
    if not depths or not kinds:
        st.session_state["_assign_refused"] = _("Pick at least one depth and one net.")
        return
    try:
        parts = classroom.parts(st.session_state.get("assign_dataset"), depths, kinds)
        for part in parts:  # every part must be trainable on this server, before a student presses Train
            s = part_settings(part)
            job_queue().check([(s.model_configs(), s.data_config(), s.train_config())])
    except ConfigError as exc:
        st.session_state["_assign_refused"] = _("Not assigned: {reason}").format(reason=exc)
        return
    room().set_assignment(parts)
