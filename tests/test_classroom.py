"""Classroom mode's engine and science: the teacher key and its cookie, the class record (labels,
predictions, assignment) across a restart, the class's jobs, and the pooled degradation chart."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from helpers import stored_run

from resnet_viz.degradation import pool as class_pool
from resnet_viz.degradation.sweep import depth_points
from resnet_viz.engine import classroom
from resnet_viz.engine.classroom import Part
from resnet_viz.engine.config import ConfigError
from resnet_viz.engine.runner.roster import class_jobs
from resnet_viz.engine.runs import RunStore
from resnet_viz.figures.sweep import error_vs_depth
from resnet_viz.teaching.classroom import QUESTIONS, class_key, is_part, part_settings
from resnet_viz.text import classroom as words

KEY = "correct horse battery staple"


@pytest.fixture
def teacher(monkeypatch):
    monkeypatch.setenv(classroom.TEACHER_ENV, KEY)
    monkeypatch.setattr(classroom, "_FAILURES", [])
    classroom.forget()
    yield
    classroom.forget()


# -- the key ---------------------------------------------------------------------------------------


def test_the_right_key_passes_without_a_delay(teacher) -> None:
    slept: list[float] = []
    assert classroom.check_key(KEY, sleep=slept.append)
    assert slept == []


def test_a_wrong_key_fails_and_each_failure_waits_longer(teacher) -> None:
    slept: list[float] = []
    for guess in ("", "correct horse battery stapl", KEY + " ", "x" * 200, "correct horse battery staplf"):
        assert not classroom.check_key(guess, sleep=slept.append)
    assert slept == [1.0, 2.0, 4.0, 8.0, 8.0]  # doubling, capped
    assert classroom.check_key(KEY, sleep=slept.append) and len(slept) == 5


def test_teacher_mode_is_off_without_a_key_or_with_a_short_one(monkeypatch) -> None:
    monkeypatch.delenv(classroom.TEACHER_ENV, raising=False)
    assert not classroom.enabled() and classroom.key_problem() is None
    assert not classroom.check_key("", sleep=lambda s: None)
    monkeypatch.setenv(classroom.TEACHER_ENV, "  q7z9x ")
    assert not classroom.enabled()
    problem = classroom.key_problem()
    assert problem is not None and "8 characters" in problem and "q7z9x" not in problem  # why, never the key
    assert not classroom.check_key("q7z9x", sleep=lambda s: None)


def test_the_cookie_is_signed_with_the_key_and_expires(teacher, monkeypatch) -> None:
    now = 1_800_000_000
    cookie = classroom.sign_teacher(KEY, now)
    assert KEY not in cookie
    assert classroom.teacher_cookie_ok(cookie, now=now + 60)
    assert not classroom.teacher_cookie_ok(cookie, now=now + classroom.TEACHER_HOURS * 3600 + 1)
    assert not classroom.teacher_cookie_ok(cookie[:-1] + ("0" if cookie[-1] != "0" else "1"), now=now)
    assert not classroom.teacher_cookie_ok(f"{now + 5}.{cookie.split('.')[1]}", now=now + 10)  # time changed
    assert not classroom.teacher_cookie_ok(classroom.sign_teacher("another key of a server", now), now=now)
    for junk in (None, "", "abc", f"{now}.", "1.2.3", f"{now}.{'g' * 64}"):
        assert not classroom.teacher_cookie_ok(junk, now=now)
    monkeypatch.setenv(classroom.TEACHER_ENV, "a different key now")  # a new key signs every browser out
    assert not classroom.teacher_cookie_ok(cookie, now=now + 60)


# -- the class record ------------------------------------------------------------------------------


def test_students_keep_their_numbers_across_a_restart(teacher, tmp_path) -> None:
    room = classroom.at(tmp_path)
    assert [room.student(o) for o in ("aa", "bb", "aa", "cc", "bb")] == [1, 2, 1, 3, 2]
    classroom.forget()  # a restart: the record is read back from the disk
    again = classroom.at(tmp_path)
    assert again is not room
    assert again.student("cc") == 3 and again.student("dd") == 4
    assert again.known_student("zz") is None


def test_prediction_counts_before_and_after_replace_a_browsers_earlier_one(teacher, tmp_path) -> None:
    room = classroom.at(tmp_path)
    room.predict("sweep.deeper_plain", "higher", "owner-a", "before")
    room.predict("sweep.deeper_plain", "lower", "owner-b", "before")
    room.predict("sweep.deeper_plain", "same", "owner-b", "before")  # b changed its mind: counted once
    room.predict("sweep.deeper_plain", "higher", "owner-b", "after")
    room.predict("live.calms", "yes", "owner-c", "before")
    want = {
        "sweep.deeper_plain": {"before": {"higher": 1, "same": 1}, "after": {"higher": 1}},
        "live.calms": {"before": {"yes": 1}},
    }
    assert room.prediction_counts() == want
    text = room.path.read_text()
    assert "owner-a" not in text and "owner-b" not in text  # salted: the record does not name the browser
    classroom.forget()
    assert classroom.at(tmp_path).prediction_counts() == want
    with pytest.raises(ValueError):
        room.predict("live.calms", "yes", "owner-c", "during")


def test_the_assignment_gives_parts_in_order_and_keeps_each_browsers(teacher, tmp_path) -> None:
    room = classroom.at(tmp_path)
    assert room.part_for("a") is None
    ps = classroom.parts("shapes", [44, 20], ["residual", "plain"])
    assert [p.name for p in ps] == ["plain-20", "residual-20", "plain-44", "residual-44"]
    room.set_assignment(ps)
    got = [room.part_for(o) for o in ("a", "b", "a", "c", "d", "e", "b")]
    assert [(i, p.name, seed) for i, p, seed in got] == [
        (0, "plain-20", 0),
        (1, "residual-20", 0),
        (0, "plain-20", 0),  # the same browser keeps its part
        (2, "plain-44", 0),
        (3, "residual-44", 0),
        (0, "plain-20", 1),  # past the end: again, on the next seed
        (1, "residual-20", 0),
    ]
    assert room.assignment() == (ps, 5, 1)
    classroom.forget()
    again = classroom.at(tmp_path)
    assert again.part_for("c")[1].name == "plain-44" and again.part_for("f")[1].name == "residual-20"
    again.set_assignment([])
    assert again.assignment() is None and again.part_for("a") is None


@pytest.mark.parametrize(
    "bad",
    [
        {"dataset": "imagenet", "depth": 20, "kind": "plain"},
        {"dataset": "shapes", "depth": 21, "kind": "plain"},
        {"dataset": "shapes", "depth": True, "kind": "plain"},
        {"dataset": "shapes", "depth": 20, "kind": "both"},
    ],
)
def test_a_part_is_checked_where_it_is_made(bad) -> None:
    with pytest.raises(ConfigError):
        Part(**bad)


def test_a_damaged_record_is_set_aside_not_lost(teacher, tmp_path) -> None:
    room = classroom.at(tmp_path)
    room.student("a")
    room.path.write_text("{not json")
    classroom.forget()
    again = classroom.at(tmp_path)
    assert again.problem is not None and "set aside" in again.problem
    kept = list(room.path.parent.glob("class.json.damaged-*"))
    assert len(kept) == 1 and kept[0].read_text() == "{not json"
    assert again.student("b") == 1  # a fresh record, written beside the damaged one
    # a record with one field of the wrong type keeps the others
    state = json.loads(again.path.read_text())
    state["predictions"] = [1, 2]
    state["assignment"] = {"parts": [{"dataset": "shapes", "depth": 7, "kind": "plain"}], "next": 0, "given": {}}
    again.path.write_text(json.dumps(state))
    classroom.forget()
    third = classroom.at(tmp_path)
    assert third.problem is None and third.known_student("b") == 1
    assert third.prediction_counts() == {} and third.assignment() is None


def test_the_record_is_hidden_from_the_run_store(teacher, tmp_path) -> None:
    classroom.at(tmp_path).student("a")
    infos, damaged = RunStore(tmp_path).scan()
    assert infos == [] and damaged == []


# -- questions and parts ------------------------------------------------------------------------


def test_every_prediction_a_page_asks_has_one_class_key() -> None:
    keys = [q.key for q in QUESTIONS]
    assert len(keys) == len(set(keys))
    assert class_key("smallest:plain-56:28:0.0012") == "quiz.smallest"
    assert class_key("direction:plain-20:10:3") == "quiz.direction"
    assert class_key("sweep.deeper_plain") == "sweep.deeper_plain"
    assert class_key("made.up") is None


def test_a_part_is_the_live_pages_recipe_at_its_depth() -> None:
    part = Part("shapes", 44, "plain")
    s = part_settings(part, seed=2)
    assert (s.dataset, s.depth, s.models, s.seed, s.lr, s.steps) == ("shapes", 44, "plain", 2, 0.05, 200)
    assert [m.name for m in s.model_configs()] == ["plain-44"]
    assert is_part(s, part, 2) and not is_part(s, part, 0)
    assert not is_part(part_settings(Part("shapes", 44, "residual"), 2), part, 2)


# -- the pooled chart ------------------------------------------------------------------------------


def test_the_pool_is_built_from_the_store_and_tells_the_truth(tmp_path) -> None:
    store = RunStore(tmp_path)
    stored_run(store, 20, False, 0, 10.0)
    stored_run(store, 20, False, 1, 14.0)
    stored_run(store, 56, False, 0, 40.0)
    stored_run(store, 20, True, 0, 9.0)
    stored_run(store, 56, True, 0, 7.0)
    stored_run(store, 56, True, 0, 7.0)  # a second student on the same part and seed: the same run
    stored_run(store, 20, True, 0, 50.0, alpha=0.5)  # a weaker skip: not the paper's residual net
    stored_run(store, 20, True, 0, 50.0, bn=False)  # another recipe
    found = class_pool.pools(store)
    assert [len(p.results) for p in found] == [5, 1]
    points = {(p.kind, p.depth): p for p in depth_points(found[0].results)}
    assert points["plain", 20].train_error == pytest.approx((10.0, 14.0))
    assert points["residual", 56].train_error == pytest.approx((7.0,))
    lines = words.pool_reading(list(points.values()))
    assert "12.0% at depth 20 (2 runs) and 40.0% at depth 56 (1 run); the deeper nets trained worse" in lines[0]
    assert "9.0% at depth 20 (1 run) and 7.0% at depth 56 (1 run); within 5 points" in lines[1]
    fig = error_vs_depth(list(points.values()), pooled=True)
    assert "mean over the class's runs" in fig.layout.title.text
    assert "run(s)" in fig.data[0].hovertemplate and "seed(s)" not in fig.data[0].hovertemplate
    assert "mean over seeds" in error_vs_depth(list(points.values())).layout.title.text
    assert words.pool_summary(found[0]) == (
        "The class's runs of this recipe: 3 plain runs (depths 20, 56), 2 residual runs (depths 20, 56)."
    )


def test_the_pool_reading_follows_the_numbers() -> None:
    """Swap the measurements and the sentence changes with them."""
    from resnet_viz.degradation.sweep import DepthPoint

    def reading(shallow: float, deep: float) -> str:
        pts = [
            DepthPoint("plain", 20, (shallow,), (shallow,), (0,), ()),
            DepthPoint("plain", 56, (deep,), (deep,), (0,), ()),
        ]
        return words.pool_reading(pts)[0]

    assert "trained worse" in reading(10.0, 40.0)
    assert "trained better" in reading(40.0, 10.0)
    assert "within 5 points" in reading(10.0, 12.0)
    assert "once the class has finished runs" in words.pool_reading([])[0]


def test_the_class_jobs_survive_a_restart_with_their_students(teacher, tmp_path) -> None:
    store = RunStore(tmp_path)
    room = classroom.at(tmp_path)
    old = stored_run(store, 20, False, 0, 10.0)
    group = store.get(old).group
    room.job(group, "owner-x")
    room.job("elsewhere", "owner-y")
    rows = class_jobs(None, store, room)
    assert [(r.job_id, r.student, r.names, r.state, r.step, r.total) for r in rows] == [
        (group, 1, ("plain-20",), "finished", 2, 2)
    ]
    later = datetime.now(timezone.utc) + timedelta(hours=2)
    assert class_jobs(None, store, room, now=later) == []  # ended more than an hour ago
