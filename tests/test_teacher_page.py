"""The teacher's page and classroom mode on the students' pages, through AppTest: the key (right,
wrong, missing), nothing of the class without it, the class's jobs with anonymous labels and a
Stop, the predictions counted, the assignment filled into Train & compare, the shared chart."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import stored_run
from streamlit.testing.v1 import AppTest

from resnet_viz.engine import classroom
from resnet_viz.engine.runner import job_queue
from resnet_viz.engine.runs import RunStore

APP = str(Path(__file__).resolve().parents[1] / "app.py")
KEY = "a teacher key for the tests"


@pytest.fixture
def teacher_mode(tmp_runs, monkeypatch):
    monkeypatch.setenv(classroom.TEACHER_ENV, KEY)
    monkeypatch.setattr(classroom, "_FAILURES", [])
    monkeypatch.setattr(classroom, "failure_delay", lambda recent: 0.0)  # the delay itself: test_classroom
    classroom.forget()
    yield tmp_runs
    classroom.forget()


def open_page(path: str, state: dict | None = None, query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for k, v in (state or {}).items():
        at.session_state[k] = v
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.switch_page(path)
    at.run()
    assert not at.exception, at.exception
    return at


def text_of(at: AppTest) -> str:
    parts = [
        e.value for kind in ("markdown", "caption", "info", "warning", "error", "subheader") for e in getattr(at, kind)
    ]
    return " ".join(str(p) for p in parts)


def sign_in(at: AppTest, key: str) -> AppTest:
    at.text_input(key="teacher_key_given").input(key)
    next(b for b in at.button if b.label == "Sign in").click().run()
    assert not at.exception, at.exception
    return at


def test_without_teacher_mode_the_page_says_what_it_is_and_asks_nothing(tmp_runs, monkeypatch) -> None:
    monkeypatch.delenv(classroom.TEACHER_ENV, raising=False)
    at = open_page("pages/7_teacher.py")
    text = text_of(at)
    assert "Teacher mode is off on this server" in text and classroom.TEACHER_ENV in text
    assert not at.text_input and not at.dataframe
    assert [s.value for s in at.subheader] == []


def test_a_wrong_key_shows_nothing_and_the_right_one_shows_the_class(teacher_mode) -> None:
    room = classroom.at(teacher_mode)
    room.predict("live.calms", "yes", "someone", "before")
    at = open_page("pages/7_teacher.py")
    assert at.text_input(key="teacher_key_given").proto.type == at.text_input(key="teacher_key_given").proto.PASSWORD
    assert not at.dataframe and "Jobs on this server" not in text_of(at)
    sign_in(at, "a teacher key for the test")  # one character short
    assert "That is not this server's teacher key." in text_of(at)
    assert not at.dataframe and "Jobs on this server" not in text_of(at)
    sign_in(at, KEY)
    text = text_of(at)
    assert "Jobs on this server" in text and "That is not" not in text
    assert KEY not in text and all(KEY not in str(v) for v in at.query_params.values())
    assert at.dataframe  # the predictions table
    # signed out, the class goes away again
    next(b for b in at.button if b.label == "Sign out").click().run()
    assert "Jobs on this server" not in text_of(at) and at.text_input(key="teacher_key_given")


def test_the_teacher_sees_every_job_by_student_and_stops_anyones(teacher_mode) -> None:
    student = open_page("pages/3_live.py", query={"depth": "8", "width": "4", "steps": "5000"})
    next(b for b in student.button if b.label == "Train").click().run()
    assert not student.error, [e.value for e in student.error]
    job = job_queue().get(student.session_state["job"])
    assert job is not None
    at = sign_in(open_page("pages/7_teacher.py"), KEY)
    table = at.dataframe[0].value
    # The queue is the server's: jobs of earlier tests (pressed without teacher mode) show a dash.
    rows = [(r["student"], r["nets"], r["state"]) for _i, r in table.iterrows()]
    assert rows[0][:2] == ("student 1", "plain-8 + residual-8") and rows[0][2] in ("queued", "running")
    assert all(student == "–" for student, _nets, _state in rows[1:])
    assert at.selectbox(key="teacher_stop_pick").options == ["student 1 · plain-8 + residual-8"]
    at.selectbox(key="teacher_stop_pick").set_value(job.job_id).run()
    next(b for b in at.button if b.key == "teacher_stop").click().run()
    assert job.wait(60) and job.state == "stopped"
    # a page that is not signed in cannot reach the Stop's callback effect: the queue refuses a watcher
    assert not job_queue().stop(job.job_id, "not-the-owner")


def test_predictions_are_counted_before_and_after_the_answer(teacher_mode) -> None:
    at = open_page("pages/4_degradation.py")
    at.radio(key="ex_pick:sweep.deeper_plain").set_value("higher").run()
    next(b for b in at.button if b.key == "ex_commit:sweep.deeper_plain").click().run()
    other = open_page("pages/4_degradation.py", state={"class_seen_answers": {"sweep.deeper_plain"}})
    other.radio(key="ex_pick:sweep.deeper_plain").set_value("lower").run()
    next(b for b in other.button if b.key == "ex_commit:sweep.deeper_plain").click().run()
    counts = classroom.at(teacher_mode).prediction_counts()
    assert counts == {"sweep.deeper_plain": {"before": {"higher": 1}, "after": {"lower": 1}}}
    teacher = sign_in(open_page("pages/7_teacher.py"), KEY)
    table = teacher.dataframe[-1].value
    rows = {(r["answer"], r["before"], r["after"]) for _i, r in table.iterrows()}
    assert {("higher", 1, 0), ("lower", 0, 1), ("within 5 points", 0, 0)} <= rows


def test_predictions_are_not_recorded_without_teacher_mode(tmp_runs, monkeypatch) -> None:
    monkeypatch.delenv(classroom.TEACHER_ENV, raising=False)
    classroom.forget()
    at = open_page("pages/4_degradation.py")
    at.radio(key="ex_pick:sweep.deeper_plain").set_value("higher").run()
    next(b for b in at.button if b.key == "ex_commit:sweep.deeper_plain").click().run()
    assert not (tmp_runs / classroom.CLASS_DIR).exists()


def test_the_assignment_fills_each_joining_browsers_live_page_in_order(teacher_mode) -> None:
    teacher = sign_in(open_page("pages/7_teacher.py"), KEY)
    teacher.multiselect(key="assign_depths").set_value([20, 32])
    teacher.multiselect(key="assign_kinds").set_value(["plain", "residual"])
    next(b for b in teacher.button if b.label == "Give these parts to the browsers that join").click().run()
    assert not teacher.exception, teacher.exception
    assert "Assigned, in order: plain-20, residual-20, plain-32, residual-32" in text_of(teacher)
    seen = []
    for _i in range(3):
        at = open_page("pages/3_live.py")
        seen.append((at.select_slider(key="depth").value, at.segmented_control(key="models").value))
        assert at.selectbox(key="dataset").value == "shapes"
        assert any("Your part of the class experiment" in i.value for i in at.info)
    assert seen == [(20, "plain"), (20, "residual"), (32, "plain")]
    # the student moves away from the part: it says so, and Back to my part fills it in again
    at.select_slider(key="depth").set_value(44).run()
    assert any("no longer those of your part (plain-32)" in w.value for w in at.warning)
    next(b for b in at.button if b.label == "Back to my part").click().run()
    assert at.select_slider(key="depth").value == 32
    # a watcher of someone's run is not given a part
    watcher = open_page("pages/3_live.py", query={"job": "0123456789ab"})
    assert not any("Your part" in i.value for i in watcher.info)
    assert classroom.at(teacher_mode).assignment()[1] == 3


def test_an_assignment_this_server_cannot_train_is_refused(teacher_mode, monkeypatch) -> None:
    monkeypatch.setenv("RESNET_VIZ_MAX_JOB_MINUTES", "0.01")
    teacher = sign_in(open_page("pages/7_teacher.py"), KEY)
    teacher.multiselect(key="assign_depths").set_value([110])
    next(b for b in teacher.button if b.label == "Give these parts to the browsers that join").click().run()
    assert any(e.value.startswith("Not assigned:") for e in teacher.error)
    assert classroom.at(teacher_mode).assignment() is None


def test_the_shared_chart_waits_for_the_prediction_it_answers(teacher_mode) -> None:
    store = RunStore(teacher_mode)
    stored_run(store, 20, False, 0, 10.0)
    stored_run(store, 56, False, 0, 40.0)
    teacher = sign_in(open_page("pages/7_teacher.py"), KEY)
    assert teacher.get("plotly_chart")
    next(b for b in teacher.button if b.label == "Show this chart on every student's page").click().run()
    assert classroom.at(teacher_mode).shared is not None
    student = open_page("app.py")
    text = text_of(student)
    assert "The class's result" in text and "the deeper nets trained worse" not in text
    assert not student.get("plotly_chart") or "class_chart_shared" not in str(student.get("plotly_chart"))
    next(b for b in student.button if b.key == "class_chart_peek").click().run()
    assert "the deeper nets trained worse" in text_of(student)
    committed = open_page("app.py", state={"exercise_guesses": {"sweep.deeper_plain": "higher"}})
    assert "the deeper nets trained worse" in text_of(committed)
    next(b for b in teacher.button if b.label == "Stop showing it on the students' pages").click().run()
    assert "The class's result" not in text_of(open_page("app.py"))
