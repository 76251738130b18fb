"""The live charts of a running job, built once per job version for every session watching it
(ui/shared_build.py, ui/live_charts.py): counted builds, a new update, two languages, overlays,
the bound, and the st.plotly_chart behaviour the frozen figures rely on."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest
from streamlit.testing.v1 import AppTest

from resnet_viz.engine.config import DataConfig, ModelConfig, TrainConfig
from resnet_viz.engine.history import History, Update
from resnet_viz.engine.runner import jobqueue
from resnet_viz.engine.runner.job import TrainingRun
from resnet_viz.figures import live_curves, live_gradients
from resnet_viz.ui import live_charts
from resnet_viz.ui.shared_build import FrozenFigure, SharedBuilds, freeze

LAYERS, BLOCKS = ["stem", "b1.conv1", "b1.conv2", "fc"], ["b1", "b2"]


class FakeClock:
    """The shared builds' clock: a redraw period passes only when a test says so."""

    now = 1000.0

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float = 5.0) -> None:
        self.now += seconds


CLOCK = FakeClock()


def _steps(job: TrainingRun, first: int, last: int) -> None:
    """Both twins report steps first..last and a probe at `last`, as the worker does."""
    for name in job.names:
        steps = list(range(first, last + 1))
        lr = [0.1] * len(steps)
        job.on_update(
            Update(
                name, "steps", {"step": steps, "loss": [2.0 / s for s in steps], "acc": [0.5] * len(steps), "lr": lr}
            )
        )
        row = {k: [0.1 * last] * len(LAYERS) for k in ("grad_norm", "grad_rms", "grad_rel")}
        row |= {k: [0.2] * len(BLOCKS) for k in ("act_std", "grad_x_rms", "identity_grad", "branch_grad")}
        job.on_update(Update(name, "probe", {"step": last, **row}))


@pytest.fixture
def job(monkeypatch: pytest.MonkeyPatch) -> Iterator[TrainingRun]:
    """A running twin job with 10 steps, in a queue without workers (the page's job_queue()), and a
    fresh shared build memo."""
    yield from _running_job(monkeypatch, steps=10)


@pytest.fixture
def starting_job(monkeypatch: pytest.MonkeyPatch) -> Iterator[TrainingRun]:
    """The same job just started: its models' names known, no step or probe yet."""
    yield from _running_job(monkeypatch, steps=0)


def _running_job(monkeypatch: pytest.MonkeyPatch, steps: int) -> Iterator[TrainingRun]:
    queue = jobqueue.JobQueue(max_jobs=1, warm=False)
    monkeypatch.setattr(jobqueue, "_QUEUE", queue)
    twins = tuple(ModelConfig(depth=8, width=4, residual=r) for r in (False, True))
    run = TrainingRun(twins, DataConfig(), TrainConfig(steps=100), owner="test")
    run.state, run.total_steps, run.device = "running", 100, "CPU"
    run._started = time.perf_counter()
    queue._jobs[run.job_id] = run
    for name in run.names:
        names = {"layer_names": LAYERS, "block_names": BLOCKS, "residual_block_names": BLOCKS if "res" in name else []}
        run.on_update(Update(name, "status", {"status": "running", **names}))
    if steps:
        _steps(run, 1, steps)
    builds = SharedBuilds(max_entries=32, keep=live_charts._job_known, clock=CLOCK)
    monkeypatch.setattr(live_charts, "_BUILDS", builds)
    yield run
    run._done.set()


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How many times the loss chart and the gradient heat strip were built."""
    calls = {"loss": 0, "heat": 0}

    def counting(name: str, fn):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(live_curves, "loss_figure", counting("loss", live_curves.loss_figure))
    monkeypatch.setattr(live_gradients, "grad_heatstrip", counting("heat", live_gradients.grad_heatstrip))
    return calls


def _page(job_id: str, lang: str, was_active: bool = True) -> None:
    """A session's timed redraw of both live fragments, in `lang` (AppTest runs this as the script)."""
    from resnet_viz.i18n import set_language
    from resnet_viz.ui import live

    set_language(lang)
    live._live_fragment(job_id, was_active)
    live._gradient_fragment(job_id)


def session(job: TrainingRun, lang: str = "en", overlay: list[str] | None = None, was_active: bool = True) -> AppTest:
    at = AppTest.from_function(_page, args=(job.job_id, lang, was_active), default_timeout=60)
    if overlay:
        at.session_state["overlay"] = overlay
    return at


def redraw(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, at.exception
    return at


def chart(at: AppTest, key: str) -> dict:
    """The chart drawn with `key`: a running job's is a live chart (ui/live_plot.py)."""
    [c] = [c for c in at.get("bidi_component") if c.proto.id.endswith(f"-live-{key}")] or [
        c for c in at.get("plotly_chart") if c.proto.id.endswith(f"-{key}")
    ]
    return json.loads(json.loads(c.proto.json)["spec"] if hasattr(c.proto, "json") else c.proto.spec)


def values(v: object) -> list[float]:
    """A JSON array of a plotly spec: a list, or the base64 typed array plotly writes for numpy."""
    if isinstance(v, dict):
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]).tolist()
    return list(v)  # type: ignore[call-overload]


def last_step(at: AppTest) -> float:
    """The newest step on a session's loss chart."""
    return max(x for t in chart(at, "loss")["data"] for x in values(t["x"]))


def test_two_sessions_of_one_version_share_one_build(job, counted) -> None:
    a, b = session(job), session(job)
    redraw(a)
    redraw(b)
    assert counted == {"loss": 1, "heat": 1}
    assert chart(a, "loss") == chart(b, "loss") and chart(a, "heat") == chart(b, "heat")
    assert len(live_charts._BUILDS) == 2  # curves and gradients of this job in English


def test_a_new_update_is_drawn_at_the_next_redraw(job, counted) -> None:
    a, b = session(job), session(job)
    redraw(a)
    redraw(b)
    assert last_step(b) == 10
    _steps(job, 11, 20)
    CLOCK.tick()  # the next redraw comes a redraw period later
    redraw(b)
    assert last_step(b) == 20 and counted == {"loss": 2, "heat": 2}
    redraw(a)
    assert last_step(a) == 20 and counted == {"loss": 2, "heat": 2}  # the other session shares it


def test_steps_without_a_probe_redraw_the_curves_not_the_gradients(job, counted) -> None:
    a = redraw(session(job))
    for name in job.names:
        job.on_update(Update(name, "steps", {"step": [11], "loss": [0.1], "acc": [0.5], "lr": [0.1]}))
    CLOCK.tick()
    redraw(a)
    assert last_step(a) == 11 and counted == {"loss": 2, "heat": 1}


def test_a_probe_without_steps_redraws_the_gradients_not_the_curves(job, counted) -> None:
    a = redraw(session(job))
    row = {k: [9.0] * len(LAYERS) for k in ("grad_norm", "grad_rms", "grad_rel")}
    row |= {k: [0.2] * len(BLOCKS) for k in ("act_std", "grad_x_rms", "identity_grad", "branch_grad")}
    job.on_update(Update(job.names[0], "probe", {"step": 12, **row}))
    CLOCK.tick()
    redraw(a)
    assert counted == {"loss": 1, "heat": 2}
    assert 12 in values(chart(a, "heat")["data"][0]["x"])


def test_each_language_gets_its_own_figures(job, counted) -> None:
    en, zh = session(job, "en"), session(job, "zh")
    redraw(en)
    redraw(zh)
    assert counted == {"loss": 2, "heat": 2}
    assert chart(en, "loss")["layout"]["title"]["text"].startswith("Loss")
    assert chart(zh, "loss")["layout"]["title"]["text"].startswith("损失")
    redraw(session(job, "zh"))
    assert counted == {"loss": 2, "heat": 2}  # a second Chinese session shares the Chinese build


def test_a_session_with_overlays_builds_its_own_and_shares_none(job, counted, monkeypatch) -> None:
    earlier = History("earlier-8", step=[1, 2, 3], loss=[3.0, 2.0, 1.0], acc=[0.1, 0.2, 0.3], status="finished")
    monkeypatch.setattr(live_charts, "_overlay", lambda run_id: [earlier] if run_id == "old" else [])

    def overlaid(at: AppTest) -> bool:
        return any("earlier-8" in t["name"] for t in chart(at, "loss")["data"])

    with_overlay, plain = session(job, overlay=["old"]), session(job)
    redraw(with_overlay)  # first: had its build been kept, the next session would draw its overlay
    redraw(plain)
    assert overlaid(with_overlay) and not overlaid(plain) and counted["loss"] == 2
    assert not overlaid(redraw(session(job))) and counted["loss"] == 2  # shares the plain session's
    assert overlaid(redraw(with_overlay)) and counted["loss"] == 3  # its own again
    assert counted["heat"] == 1  # the gradient charts draw no overlays: shared by all of them


def built(value: object, version: int = 1) -> Callable[[], tuple[int, object]]:
    return lambda: (version, value)


def test_a_running_jobs_charts_are_built_at_most_once_a_redraw(job, counted) -> None:
    """Thirty watchers of a job that sends six updates a second share one build per redraw period
    (ui.live: 0.8 of it), not one per update; a finished job's newest is drawn at once."""
    a, b = session(job), session(job)
    redraw(a)
    _steps(job, 11, 20)
    CLOCK.tick(0.3)  # another session's redraw, within the period: the build of 0.3 s ago serves it
    redraw(b)
    assert last_step(b) == 10 and counted == {"loss": 1, "heat": 1}
    CLOCK.tick(0.6)  # 0.9 s after the build: the next redraw builds the newest
    redraw(b)
    assert last_step(b) == 20 and counted == {"loss": 2, "heat": 1}  # the gradients: once per 3.2 s
    CLOCK.tick(2.5)
    redraw(a)
    assert counted == {"loss": 2, "heat": 2}  # the curves had no update since: no build
    _steps(job, 21, 30)
    job.state = "finished"  # ended: its last points show at once, whatever the period
    ended = redraw(session(job, was_active=False))  # (a page that saw it run would rerun whole)
    assert last_step(ended) == 30 and counted == {"loss": 3, "heat": 3}


def points(at: AppTest, key: str) -> int:
    return sum(len(values(t.get("x", []))) for t in chart(at, key)["data"])


def test_a_jobs_first_points_are_drawn_at_the_next_redraw_not_a_period_later(starting_job, counted) -> None:
    """Charts built before the first step (empty) stand in for no newer version: the redraw after
    the first points draws them, however recent the empty build; then the period holds again."""
    a, b = session(starting_job), session(starting_job)
    redraw(a)
    assert points(a, "loss") == 0 and points(a, "heat") == 0
    _steps(starting_job, 1, 10)
    CLOCK.tick(0.3)  # within the period of the empty build
    redraw(b)
    assert last_step(b) == 10 and points(b, "heat") > 0 and counted == {"loss": 2, "heat": 2}
    _steps(starting_job, 11, 20)
    CLOCK.tick(0.3)  # within the period of a build with points: it serves
    redraw(a)
    assert last_step(a) == 10 and counted == {"loss": 2, "heat": 2}


def test_stands_in_decides_whether_a_recent_build_serves_a_newer_version() -> None:
    clock = FakeClock()
    memo: SharedBuilds[str] = SharedBuilds(clock=clock)
    assert memo.get("k", 1, built("", 1), fresh_for=1.0, stands_in=bool) == ""
    clock.tick(0.1)
    assert memo.get("k", 2, built("v2", 2), fresh_for=1.0, stands_in=bool) == "v2"  # the empty one did not serve
    clock.tick(0.1)
    assert memo.get("k", 3, built("v3", 3), fresh_for=1.0, stands_in=bool) == "v2" and memo.builds == 2


def test_fresh_for_serves_a_recent_build_of_an_older_version() -> None:
    clock = FakeClock()
    memo: SharedBuilds[str] = SharedBuilds(clock=clock)
    assert memo.get("k", 1, built("v1", 1), fresh_for=1.0) == "v1"
    clock.tick(0.5)
    assert memo.get("k", 2, built("v2", 2), fresh_for=1.0) == "v1"  # built half a second ago
    assert memo.get("k", 2, built("v2", 2)) == "v2"  # without fresh_for: the version decides
    clock.tick(0.5)
    assert memo.get("k", 3, built("v3", 3), fresh_for=1.0) == "v2"
    clock.tick(1.5)
    assert memo.get("k", 3, built("v3", 3), fresh_for=1.0) == "v3" and memo.builds == 3


def test_the_memo_is_bounded_least_recently_used_first() -> None:
    memo: SharedBuilds[str] = SharedBuilds(max_entries=3)
    for k in "abc":
        memo.get(k, 1, built(k))
    memo.get("a", 1, built("rebuilt"))  # a hit: "a" is now the most recent
    memo.get("d", 1, built("d"))
    assert len(memo) == 3 and memo.builds == 4
    assert memo.get("a", 1, built("rebuilt")) == "a"  # kept
    assert memo.get("b", 1, built("b again")) == "b again"  # the least recent was dropped


def test_a_newer_version_is_built_and_an_older_reader_gets_it() -> None:
    memo: SharedBuilds[str] = SharedBuilds()
    assert memo.get("k", 1, built("v1", 1)) == "v1"
    assert memo.get("k", 2, built("v2", 2)) == "v2"
    # A reader whose snapshot came just before the newest update gets the newest build, not its
    # own (under load every reader lags, and each built again).
    assert memo.get("k", 1, built("old reader", 1)) == "v2"
    assert len(memo) == 1 and memo.builds == 2


def test_a_forgotten_job_is_dropped_at_the_next_new_key(job) -> None:
    memo: SharedBuilds[str] = SharedBuilds(keep=live_charts._job_known)
    memo.get((job.job_id, "curves"), 1, built("x"))
    memo.get(("gone", "curves"), 1, built("y"))  # a job the queue does not know
    assert len(memo) == 1
    jobqueue._QUEUE._jobs.pop(job.job_id)
    memo.get((job.job_id, "gradients"), 1, built("z"))
    assert len(memo) == 0


def test_readers_arriving_together_wait_for_one_build() -> None:
    memo: SharedBuilds[object] = SharedBuilds()

    def slow() -> tuple[int, object]:
        time.sleep(0.3)
        return 1, object()

    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(memo.get("k", 1, slow))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert memo.builds == 1 and len(got) == 8 and all(g is got[0] for g in got)


def test_one_build_of_a_key_at_a_time_and_it_builds_the_newest() -> None:
    # Readers of ever newer versions while a build runs: they wait for it, then one build of the
    # newest serves them all (a build reads the newest version, as ui.live_charts' does).
    memo: SharedBuilds[int] = SharedBuilds()
    newest, running, most = [1], [0], [0]
    lock = threading.Lock()

    def build() -> tuple[int, int]:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
            v = newest[0]
        time.sleep(0.2)
        with lock:
            running[0] -= 1
        return v, v

    got: list[int] = []

    def reader(v: int) -> None:
        got.append(memo.get("k", v, build))

    first = threading.Thread(target=reader, args=(1,))
    first.start()
    time.sleep(0.05)  # the first build runs; five updates arrive and their readers ask
    newest[0] = 6
    threads = [threading.Thread(target=reader, args=(v,)) for v in range(2, 7)]
    for t in threads:
        t.start()
    for t in [first, *threads]:
        t.join(10)
    assert most[0] == 1 and memo.builds == 2
    assert sorted(got) == [1, 6, 6, 6, 6, 6]


def test_a_failed_build_is_not_kept() -> None:
    memo: SharedBuilds[str] = SharedBuilds()

    def broken() -> tuple[int, str]:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        memo.get("k", 1, broken)
    assert memo.get("k", 1, built("ok")) == "ok" and memo.builds == 2


def _chart_page(which: str) -> None:
    import plotly.graph_objects as go
    import streamlit as st

    from resnet_viz.ui.shared_build import freeze

    fig = go.Figure(go.Scatter(x=[1, 2, 3], y=[3.0, 1.0, 2.0], name="a"))
    fig.update_layout(title="t", height=321)
    st.plotly_chart(freeze(fig) if which == "frozen" else fig, key="c")


def test_st_plotly_chart_reads_a_frozen_figure_through_to_dict(monkeypatch) -> None:
    # What FrozenFigure relies on (streamlit 1.67's plotly_chart: return_figure_from_figure_or_data
    # calls fig.to_dict()). If Streamlit stops going through to_dict, the count is 0 here; if it
    # draws a frozen figure differently from the figure it was, the specs differ.
    calls = []
    original = FrozenFigure.to_dict
    monkeypatch.setattr(FrozenFigure, "to_dict", lambda self: calls.append(1) or original(self))
    frozen = AppTest.from_function(_chart_page, args=("frozen",))
    plain = AppTest.from_function(_chart_page, args=("plain",))
    redraw(frozen)
    redraw(plain)
    assert calls, "st.plotly_chart no longer calls to_dict(): frozen figures are copied per session again"
    [f], [p] = frozen.get("plotly_chart"), plain.get("plotly_chart")
    assert f.proto.spec == p.proto.spec and f.proto.id == p.proto.id
    assert json.loads(f.proto.spec)["layout"]["height"] == 321


def test_a_frozen_figure_is_the_figure_it_was() -> None:
    fig = go.Figure(go.Scatter(x=np.arange(5), y=np.linspace(0, 1, 5), name="a", uid="u1"))
    fig.update_layout(title="t")
    before = pio.to_json(fig, validate=False)
    spec = fig.to_dict()
    frozen = freeze(fig)
    assert frozen is fig and isinstance(frozen, go.Figure)
    assert frozen.to_dict() == spec and pio.to_json(frozen, validate=False) == before
    # plotly.io.to_json pops each trace's uid from the dict it gets: the memo keeps its own
    pio.to_json(frozen, validate=False)
    assert frozen.to_dict()["data"][0]["uid"] == "u1"
    assert frozen.data[0].name == "a" and frozen.layout.title.text == "t"
