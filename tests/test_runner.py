"""Background jobs: snapshots while training, stop within a step, FIFO queue, owners, failures."""

from __future__ import annotations

import os
import signal
import time

import pytest
import torch

from resnet_viz.engine.config import DataConfig, ModelConfig, TrainConfig
from resnet_viz.engine.devices import describe_device, select_device
from resnet_viz.engine.limits import JobTooLarge, Limits
from resnet_viz.engine.runner import JobQueue, JobRefused
from resnet_viz.engine.runs import RunStore

TWINS = (ModelConfig(depth=8, width=4, residual=False), ModelConfig(depth=8, width=4))


def wait_for(pred, timeout: float = 60.0) -> None:
    t0 = time.monotonic()
    while not pred():
        if time.monotonic() - t0 > timeout:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


@pytest.fixture
def queue(monkeypatch):
    # The long jobs below (100,000 steps, stopped early) would be over a class server's limit.
    monkeypatch.setenv("RESNET_VIZ_MAX_JOB_MINUTES", "10000")
    q = JobQueue(max_jobs=1)
    yield q
    q.close()


def test_job_trains_streams_and_stores(queue, tmp_path) -> None:
    store = RunStore(tmp_path)
    job = queue.submit(TWINS, DataConfig(), TrainConfig(steps=30, log_every=2), owner="a", store=store)
    wait_for(lambda: queue.snapshot(job.job_id).step >= 4)
    mid = queue.snapshot(job.job_id)
    assert mid.state in ("running", "finished") and mid.total_steps == 30
    assert [h.name for h in mid.histories] == ["plain-8", "residual-8"]
    assert job.wait(120)
    snap = queue.snapshot(job.job_id)
    assert snap.state == "finished" and snap.step == 30 and snap.progress == 1.0
    assert all(h.status == "finished" and len(h.step) == 30 for h in snap.histories)
    # the worker sized its threads by the thread policy, keeping a core back for the pages
    assert snap.images_per_s > 0
    if select_device("auto").type == "cpu":
        shown = [describe_device("cpu", threads=n) for n in range(1, max(2, os.cpu_count() or 1))]
        assert snap.device in shown, (snap.device, shown)
    else:
        assert snap.device == describe_device(select_device("auto"))
    assert sorted(snap.run_ids) == sorted(i.run_id for i in store.list())
    # the snapshot is a copy: mutating it does not touch the job
    snap.histories[0].loss.clear()
    assert len(queue.snapshot(job.job_id).histories[0].loss) == 30


def test_stop_lands_within_a_few_steps_and_keeps_metrics(queue, tmp_path) -> None:
    job = queue.submit(
        TWINS, DataConfig(), TrainConfig(steps=100_000, log_every=1), owner="a", store=RunStore(tmp_path)
    )
    wait_for(lambda: queue.snapshot(job.job_id).step >= 3)
    assert not queue.stop(job.job_id, owner="someone else")
    assert queue.snapshot(job.job_id).state == "running"
    asked_at = queue.snapshot(job.job_id).step
    assert queue.stop(job.job_id, owner="a")
    assert job.wait(10)
    snap = queue.snapshot(job.job_id)
    # Counted in steps, not seconds (the load test in bench/bench_class.py times it): every step is
    # streamed, so the worker can only be a step or two past what the snapshot showed.
    assert snap.state == "stopped" and 3 <= asked_at <= snap.step < asked_at + 10
    assert all(h.status == "stopped" and h.loss for h in snap.histories)
    assert {i.status for i in RunStore(tmp_path).list()} == {"stopped"}


def test_queue_is_fifo_with_positions_and_bounded(queue) -> None:
    cfg = TrainConfig(steps=100_000, log_every=1)
    first = queue.submit(TWINS[:1], DataConfig(), cfg, owner="a")
    wait_for(lambda: queue.snapshot(first.job_id).state == "running")
    second = queue.submit(TWINS[:1], DataConfig(), cfg, owner="b")
    third = queue.submit(TWINS[:1], DataConfig(), cfg, owner="c")
    wait_for(lambda: queue.queue_position(third.job_id) == 2)
    assert queue.snapshot(second.job_id).queue_position == 1
    assert queue.snapshot(second.job_id).state == "queued"
    # Stopping a queued job removes it from the line without training it.
    assert queue.stop(second.job_id, owner="b") and second.wait(5)
    assert second.state == "stopped" and queue.snapshot(second.job_id).step == 0
    assert queue.queue_position(third.job_id) == 1
    queue.stop(first.job_id, owner="a")
    wait_for(lambda: queue.snapshot(third.job_id).state == "running")
    assert len([j for j in queue.jobs() if j.state == "running"]) == 1
    queue.stop(third.job_id, owner="c")
    assert third.wait(10)


def test_failure_is_reported_as_a_sentence(queue) -> None:
    job = queue.submit(TWINS, DataConfig(name="folder", root="/nonexistent/folder"), TrainConfig(steps=3), owner="a")
    assert job.wait(30)
    snap = queue.snapshot(job.job_id)
    assert snap.state == "failed"
    assert "/nonexistent/folder" in snap.error and "Traceback" not in snap.error


@pytest.mark.parametrize("env,expected", [("3", 3), ("x", None)])
def test_max_jobs_from_environment(monkeypatch, env, expected) -> None:
    monkeypatch.setenv("RESNET_VIZ_MAX_JOBS", env)
    default = 2 if torch.cuda.is_available() else 1  # an unusable value falls back to the default
    assert JobQueue(warm=False).max_jobs == (expected or default)


def test_a_dead_worker_fails_the_job_and_is_replaced(queue) -> None:
    job = queue.submit(TWINS, DataConfig(), TrainConfig(steps=100_000), owner="a")
    wait_for(lambda: queue.snapshot(job.job_id).step >= 1)
    os.kill(job.worker_pid, signal.SIGKILL)
    assert job.wait(10)
    snap = queue.snapshot(job.job_id)
    assert snap.state == "failed" and "training process died" in snap.error
    assert snap.histories[0].loss  # what was measured before the crash stays
    again = queue.submit(TWINS, DataConfig(), TrainConfig(steps=3), owner="a")
    assert again.wait(120) and again.state == "finished" and again.worker_pid != job.worker_pid


def test_a_job_over_the_limits_is_refused_before_it_is_queued(queue, monkeypatch) -> None:
    monkeypatch.setenv("RESNET_VIZ_MAX_JOB_MINUTES", "15")
    big = (ModelConfig(depth=110, width=64, residual=False), ModelConfig(depth=110, width=64))
    with pytest.raises(JobTooLarge, match="lower the steps"):
        queue.submit(big, DataConfig(), TrainConfig(steps=100_000, batch_size=512), owner="a")
    assert queue.jobs() == []  # nothing queued, nothing trains
    with pytest.raises(JobTooLarge):
        queue.check([(big, DataConfig(), TrainConfig(steps=100_000, batch_size=512))])


def test_one_press_per_browser_in_the_queue(queue) -> None:
    cfg = TrainConfig(steps=100_000, log_every=1)
    first = queue.submit(TWINS[:1], DataConfig(), cfg, owner="a", press="p1")
    seed1 = queue.submit(
        TWINS[:1], DataConfig(), TrainConfig(steps=100_000, seed=1), owner="a", press="p1"
    )  # same press
    with pytest.raises(JobRefused, match="already have a run"):
        queue.submit(TWINS[:1], DataConfig(), cfg, owner="a", press="p2")
    other = queue.submit(TWINS[:1], DataConfig(), cfg, owner="b")  # another browser may queue
    for job, owner in ((first, "a"), (seed1, "a"), (other, "b")):
        queue.stop(job.job_id, owner)
    assert all(j.wait(20) for j in (first, seed1, other))
    again = queue.submit(TWINS[:1], DataConfig(), TrainConfig(steps=2), owner="a")  # the first ended: allowed
    assert again.wait(60) and again.state == "finished"


def test_an_abandoned_job_is_stopped_and_the_next_one_starts(queue, monkeypatch) -> None:
    import threading

    monkeypatch.setenv("RESNET_VIZ_ABANDON_SECONDS", "1.5")
    cfg = TrainConfig(steps=100_000, log_every=1)
    left = queue.submit(TWINS[:1], DataConfig(), cfg, owner="gone")
    waiting = queue.submit(TWINS[:1], DataConfig(), TrainConfig(steps=5), owner="here")
    watching = threading.Event()

    def watch() -> None:  # the second owner's page keeps touching its job; the first owner has left
        while not watching.is_set():
            queue.touch("here")
            time.sleep(0.2)

    threading.Thread(target=watch, daemon=True).start()
    try:
        assert left.wait(30) and left.state == "stopped" and "no page of its owner showed this run" in left.error
        assert waiting.wait(60) and waiting.state == "finished"
    finally:
        watching.set()


def test_a_slow_first_step_alone_does_not_halt_a_fast_job(monkeypatch) -> None:
    """Seen in the browser: a 0.04 s/step run was halted as "1.2 s per step" because the rate
    counted the first step's warm-up; the rate now counts from the first step seen."""
    from resnet_viz.engine import runner
    from resnet_viz.engine.history import History

    clock = [0.0]
    monkeypatch.setattr(runner.job.time, "perf_counter", lambda: clock[0])
    job = runner.TrainingRun(
        TWINS, DataConfig(), TrainConfig(steps=20_000), owner="a", limits=Limits(seconds=900.0, memory_bytes=2**40)
    )
    job.total_steps, job._started = 20_000, 0.0
    hist = History(name="plain-8")
    job._histories = {"plain-8": hist}

    def at(t: float, step: int) -> str | None:
        clock[0] = t
        hist.step.append(step)
        job._check_bounds()
        return job.error

    assert at(2.4, 2) is None  # 1.2 s/step from the start: 6.6 h projected, but warm-up
    assert at(2.8, 12) is None  # 0.04 s/step since, but over 0.4 s: not yet the rate
    assert at(33.0, 767) is None  # 0.04 s/step over 30 s: 13 min, within the limit
    assert not job._stop.is_set()
    assert at(63.0, 810) is not None  # then 1 s/step for 30 s: over the limit
    assert job._stop.is_set() and "s per step this run would take" in job.error
    slow = runner.TrainingRun(
        TWINS, DataConfig(), TrainConfig(steps=20_000), owner="a", limits=Limits(seconds=900.0, memory_bytes=2**40)
    )
    slow.total_steps, slow._started = 20_000, 0.0
    slow._histories = {"plain-8": History(name="plain-8", step=[1])}
    clock[0] = 25.0
    slow._check_bounds()  # first step seen
    clock[0] = 61.0
    slow._histories["plain-8"].step.append(2)
    slow._check_bounds()  # fewer than 3 steps, but a minute gone: 30 s/step from the start
    assert slow._stop.is_set() and "30 s per step" in slow.error


def test_a_job_slower_than_estimated_is_halted_by_the_measured_rate(queue) -> None:
    job = queue.submit(TWINS, DataConfig(), TrainConfig(steps=100_000, log_every=1), owner="a")
    job.limits = Limits(seconds=2.0, memory_bytes=2**40)  # as if the server allowed only 2 s
    assert job.wait(30)
    snap = queue.snapshot(job.job_id)
    assert snap.state == "stopped" and "s per step this run would take" in snap.error
    assert snap.histories[0].loss  # what was measured stays


def test_stop_reaches_the_worker_without_the_pumping_thread() -> None:
    """The thread that pumps a job's messages can wait seconds for the GIL while pages redraw, so
    stop() sets the worker's event itself; once the job has left its worker it must not, since
    the event then belongs to the worker's next job."""
    import threading

    from resnet_viz.engine.runner import TrainingRun

    job = TrainingRun(TWINS, DataConfig(), TrainConfig(steps=5), owner="a")
    event = threading.Event()
    job._worker_stop = event  # as run_on sets it while the job is on a worker
    job.stop()
    assert event.is_set()
    later = TrainingRun(TWINS, DataConfig(), TrainConfig(steps=5), owner="a")
    event.clear()
    later.stop()  # never on a worker (or already off it): nothing else is touched
    assert not event.is_set()


def test_time_left_ignores_the_slow_first_step() -> None:
    """Issue 26: at step 1 the page said "about 194 s to go" for a run that took 43 s: the first
    step's start-up was projected onto every step to come. The clock counts from the first step on."""
    from resnet_viz.engine.history import STEADY_STEPS, StepClock

    clock = StepClock()
    assert clock.time_left(300) is None
    clock.mark(5.0, 1)  # step 1 took 5 s: worker warm-up, data, the first probe
    assert clock.time_left(300) is None  # nothing timed past it yet
    clock.mark(5.3, 4)  # 0.1 s a step since, but only 3 steps: not yet a rate
    assert clock.time_left(300) is None
    clock.mark(5.9, 10)  # 9 steady steps at 0.1 s
    assert clock.time_left(300) == pytest.approx(29.0)  # 290 steps to go; from the start: 171 s
    clock.mark(6.9, 20)
    assert clock.time_left(300) == pytest.approx(28.0)
    assert clock.time_left(20) == 0.0 and clock.time_left(10) == 0.0  # at or past the end: nothing to go
    assert STEADY_STEPS >= 3
    twins = StepClock()  # two models report each step one after the other: the later report counts
    for seconds, step in ((5.0, 1), (5.2, 1), (5.8, 10), (6.1, 10)):
        twins.mark(seconds, step)
    assert twins.time_left(100) == pytest.approx(0.9 / 9 * 90)
    backwards = StepClock(first=(5.0, 1), last=(4.0, 10))
    assert backwards.time_left(100) is None


def test_a_running_job_says_no_time_left_until_steady_steps_are_timed(monkeypatch) -> None:
    from resnet_viz.engine import runner
    from resnet_viz.engine.history import Update

    clock = [0.0]
    monkeypatch.setattr(runner.job.time, "perf_counter", lambda: clock[0])
    job = runner.TrainingRun(TWINS, DataConfig(), TrainConfig(steps=300), owner="a")
    job.total_steps, job._started, job.state = 300, 0.0, "running"

    def report(t: float, steps: list[int]) -> float | None:
        clock[0] = t
        for name in job.names:
            n = len(steps)
            job.on_update(
                Update(
                    name, "steps", {"step": steps, "loss": [1.0] * n, "acc": [0.1] * n, "lr": [0.1] * n, "elapsed": t}
                )
            )
        return job.snapshot().eta

    assert report(5.0, [1]) is None  # the old estimate: 5 s x 299 steps = 1495 s to go
    assert report(5.9, list(range(2, 11))) == pytest.approx(29.0)
    job.state = "finished"
    assert job.snapshot().eta is None


def test_every_slot_gets_a_warm_worker_at_start() -> None:
    """bench/bench_class.py: with two slots and one warm worker, a class's second job waited 6-14 s
    for a fresh one to import torch while the first trained."""
    queue = JobQueue(max_jobs=2)
    try:
        assert len(queue._idle) == 2 and all(w.alive() for w in queue._idle)
        assert len({w.process.pid for w in queue._idle}) == 2
    finally:
        queue.close()


def _niceness(pid: int) -> int:
    return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[16])


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads a process's niceness from /proc")
def test_a_training_worker_runs_below_the_server_in_cpu_priority() -> None:
    # bench/bench_class.py: watchers opening while two workers trained waited 2-3 s for a chart.
    from resnet_viz.engine.devices import DEFAULT_WORKER_NICE

    queue = JobQueue(max_jobs=1)
    try:
        [worker] = queue._idle
        expected = min(19, _niceness(os.getpid()) + DEFAULT_WORKER_NICE)
        t0 = time.monotonic()
        while _niceness(worker.process.pid) != expected and time.monotonic() - t0 < 60:
            time.sleep(0.05)
        assert _niceness(worker.process.pid) == expected
        assert _niceness(os.getpid()) == expected - DEFAULT_WORKER_NICE or expected == 19  # the server's stays
    finally:
        queue.close()


@pytest.mark.parametrize(
    ("value", "nice"), [("", 10), ("5", 5), ("0", 0), ("19", 19), ("20", 10), ("-3", 10), ("ten", 10)]
)
def test_the_workers_niceness_comes_from_the_environment(monkeypatch, value, nice) -> None:
    from resnet_viz.engine.devices import NICE_ENV, worker_niceness

    monkeypatch.setenv(NICE_ENV, value)
    assert worker_niceness() == nice


def test_no_niceness_where_the_os_has_none(monkeypatch) -> None:
    from resnet_viz.engine.devices import lower_priority

    monkeypatch.delattr(os, "nice")
    assert lower_priority(10) == 0
