"""One press of Train as the server sees it: a job's state, its growing histories, and the
consistent snapshot a page redraws from."""

from __future__ import annotations

import functools
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from resnet_viz.engine.config import DataConfig, ModelConfig, TrainConfig
from resnet_viz.engine.devices import DeviceLabel
from resnet_viz.engine.experiment import unique_names
from resnet_viz.engine.history import History, StepClock, Update
from resnet_viz.engine.limits import Limits, overdue_numbers, overdue_sentence
from resnet_viz.engine.runs import RunStore
from resnet_viz.i18n import _

from .worker import WORKER_DIED, Worker

JobState = Literal["queued", "running", "finished", "stopped", "failed"]


@dataclass(frozen=True)
class Snapshot:
    """A consistent copy of a job for one redraw; safe to read while the worker keeps going."""

    job_id: str
    state: JobState
    histories: tuple[History, ...]  # History.view() copies, one per model, in the order requested
    step: int  # the furthest step any model reached
    total_steps: int
    steps_per_epoch: int  # 0 until the worker has loaded the data
    elapsed: float  # seconds since training started (0 while queued)
    images_per_s: float  # images through all models per second of wall time
    eta: float | None  # seconds to go at the rate of the steps after the first; None until a few were timed
    queue_position: int | None  # 1 = next to start; None when not queued
    error: str | None  # one line for the page; the traceback stays in the log
    run_ids: tuple[str, ...]  # run store ids, once written
    device: str
    # Updates applied to the histories so far: two snapshots of a job with the same version hold
    # the same histories, so what is drawn from them can be built once and shared (ui.live_charts).
    version: int = 0
    # Of those, the steps, eval and status updates: equal, the same losses, accuracies, test
    # points, statuses and divergence steps, all that the loss and accuracy charts read.
    curve_version: int = 0
    # And the probe and status updates: equal, the same probe rows, layer and block names,
    # statuses and divergence steps, all that the gradient charts read.
    probe_version: int = 0

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def progress(self) -> float:
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0


ACTIVE: tuple[JobState, ...] = ("queued", "running")  # the states of a job that still holds a queue slot or place


@dataclass
class TrainingRun:
    """One press of Train: several models trained in lockstep by a worker process."""

    model_cfgs: tuple[ModelConfig, ...]
    data_cfg: DataConfig
    train_cfg: TrainConfig
    owner: str  # who may stop it (the page passes a per-browser key)
    store: RunStore | None = None
    job_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    state: JobState = "queued"
    error: str | None = None
    run_ids: tuple[str, ...] = ()
    created: float = field(default_factory=time.time)
    total_steps: int = 0
    steps_per_epoch: int = 0
    device: str = ""
    worker_pid: int | None = None  # the process training this job, once it runs
    press: str | None = None  # jobs queued by one press (a sweep's seeds) share it
    limits: Limits | None = None  # re-checked against the measured rate while it trains; None: unbounded
    abandon_after: float | None = None  # stop when no page has shown it for this long (s); None: never
    seen: float = field(default_factory=time.monotonic)  # when a page of its owner last showed it
    _histories: dict[str, History] = field(default_factory=dict)
    _version: int = 0  # updates applied to _histories (Snapshot.version)
    _curve_version: int = 0  # the steps, eval and status updates among them (Snapshot.curve_version)
    _probe_version: int = 0  # the probe and status updates among them (Snapshot.probe_version)
    _names: list[str] = field(default_factory=list)
    _started: float | None = None
    _rate_from: tuple[float, int] | None = None  # (time, step) the measured rate counts from
    _clock: StepClock = field(default_factory=StepClock)  # when the steps were reported, for the time left
    _worker_stop: Any = None  # the training worker's stop event, while this job is on one
    _ended: float | None = None
    # How to say `error` again in the language of the page that shows it (the server's own reasons:
    # halted, worker died); None: `error` is shown as it is (a message from the worker process).
    _error_words: Callable[[], str] | None = None
    _device_label: DeviceLabel | None = None  # what `device` says, to say it in a page's language
    _death_words: Any = None  # set when the worker died under this job: its sentence, in the reader's language
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _done: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._names = unique_names(self.model_cfgs)
        self._histories = {n: History(n) for n in self._names}

    def on_update(self, update: Update) -> None:
        with self._lock:
            self._histories[update.model].apply(update)
            self._clock.apply(update)
            self._version += 1
            if update.kind != "probe":
                self._curve_version += 1
            if update.kind in ("probe", "status"):
                self._probe_version += 1

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    def touch(self) -> None:
        """A page of the owner is watching: the job is not abandoned."""
        self.seen = time.monotonic()

    def abandoned(self) -> bool:
        return self.abandon_after is not None and time.monotonic() - self.seen > self.abandon_after

    def _halt(self, words: Callable[[], str]) -> None:
        """Stop with a sentence the page shows (over the time limit, nobody watching). `words`
        builds it: here in English (this thread's language), in a page's language at snapshot()."""
        with self._lock:
            self.error, self._error_words = words(), words
        self._stop.set()

    def _check_bounds(self) -> None:
        """Stop a job whose owner left, or whose measured rate puts it past the time limit."""
        if self._stop.is_set():
            return
        if self.abandoned():
            self._halt(functools.partial(unwatched_sentence, self.abandon_after))
            return
        if self.limits is None:
            return
        with self._lock:
            started, total = self._started, self.total_steps
            step = max((h.step[-1] for h in self._histories.values() if h.step), default=0)
        if started is None or step < 1:
            return
        now = time.perf_counter()
        # The rate is measured from the first step seen on, not from the start: the first step
        # carries one-time costs (worker warm-up, the first probe and evaluation) that made a
        # 0.04 s/step run look like 1.2 s/step and halted it. And over a window of at least 30 s
        # (5% of a short limit): a few steps that include an evaluation are not the rate. A first
        # step slower than a minute speaks for itself.
        if self._rate_from is None:
            self._rate_from = (now, step)
        t0, s0 = self._rate_from
        if step - s0 >= 3 and now - t0 >= min(30.0, 0.05 * self.limits.seconds):
            found = overdue_numbers(now - t0, step - s0, total, self.limits)
        elif now - started >= 60:
            found = overdue_numbers(now - started, step, total, self.limits)
        else:
            return
        if found is not None:
            self._halt(functools.partial(overdue_sentence, *found))

    def run_on(self, worker: Worker) -> None:
        """Send this job to `worker` and pump its messages until it ends (called in a thread)."""
        worker.stop_event.clear()
        self.worker_pid = worker.process.pid
        with self._lock:
            self._worker_stop = worker.stop_event
            if self._stop.is_set():
                worker.stop_event.set()
        root = str(self.store.root) if self.store is not None else None
        state, error = "failed", None
        try:
            # Inside the try: a worker that died before reading its job (broken pipe) fails the
            # job with a sentence instead of leaving it "running" forever.
            worker.conn.send((self.model_cfgs, self.data_cfg, self.train_cfg, root, self.job_id))
            checked = time.monotonic()
            while True:
                if time.monotonic() - checked > 0.5:
                    checked = time.monotonic()
                    self._check_bounds()
                if self._stop.is_set():
                    worker.stop_event.set()  # the worker checks it once per step
                if not worker.conn.poll(0.05):
                    if not worker.alive():
                        error = self._death(worker)
                        break
                    continue
                kind, payload = worker.conn.recv()
                if kind == "update":
                    self.on_update(payload)
                elif kind == "start":
                    with self._lock:
                        self.total_steps, self.steps_per_epoch, label = payload
                        self._device_label = label if isinstance(label, DeviceLabel) else None
                        self.device = label.text() if isinstance(label, DeviceLabel) else str(label)
                        self._started = time.perf_counter()
                elif kind == "done":
                    state = "stopped" if self._stop.is_set() else "finished"
                    with self._lock:
                        self.run_ids = tuple(r for r in payload if r)
                    break
                elif kind == "error":
                    error = payload
                    break
        except (EOFError, OSError):
            error = self._death(worker)
        finally:
            died = self._death_words is not None
            if died:
                worker.dead = True
                fail_runs = getattr(worker, "fail_runs", None)  # a Ray actor's runs: their last status never came
                if fail_runs is not None:
                    fail_runs(str(error))
            with self._lock:
                self._worker_stop = None
                if error is not None:  # the worker's own sentence replaces a halt's
                    self._error_words = self._death_words if died else None
                self.state, self.error = state, error or self.error  # type: ignore[assignment]
                self._ended = time.perf_counter()
                if self._started is None:
                    self._started = self._ended
            self._done.set()

    def _death(self, worker: Worker) -> str:
        """The sentence for `worker` dying under this job (in English here; `_death_words` says it
        in a page's language): a Ray worker names the cluster or node it lost and the step."""
        words = getattr(worker, "death_words", None)
        if words is None:
            self._death_words = lambda: _(WORKER_DIED)
        else:
            with self._lock:
                step = max((h.step[-1] for h in self._histories.values() if h.step), default=0)
            self._death_words = words(step)
        return self._death_words()

    def stop(self) -> None:
        """Ask for a stop. It reaches a training worker at once (its event is set here, not by
        the pumping thread, which can wait long for the GIL while pages redraw: 2.2 s on a loaded
        2-core server) and lands at the worker's next block."""
        self._stop.set()
        with self._lock:  # never after the job left its worker: the event then belongs to the next job
            if self._worker_stop is not None:
                self._worker_stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    @property
    def names(self) -> list[str]:
        return list(self._names)

    def snapshot(self, queue_position: int | None = None) -> Snapshot:
        # Every call copies the histories, even for readers of the same version: a copy costs
        # 0.06 ms for two depth-56 twins at 3000 steps (bench/bench_history_view.py), and a copy
        # shared between sessions would let one reader's change reach the others. What costs is
        # drawing them; ui.live builds that once per version.
        with self._lock:
            hists = tuple(self._histories[n].view() for n in self._names)
            versions = (self._version, self._curve_version, self._probe_version)
            state, error, total, device = self.state, self.error, self.total_steps, self.device
            words, label, per_epoch = self._error_words, self._device_label, self.steps_per_epoch
            started, ended, run_ids = self._started, self._ended, self.run_ids
            left = self._clock.time_left(total)
        step = max((h.step[-1] for h in hists if h.step), default=0)
        now = ended if ended is not None else time.perf_counter()
        elapsed = (now - started) if started is not None else 0.0
        images = sum(len(h.step) for h in hists) * self.train_cfg.batch_size
        rate = images / elapsed if elapsed > 0 else 0.0
        eta = left if state == "running" else None
        # snapshot() runs in the page's thread: the server's own sentences are said in its language
        if words is not None:
            error = words()
        if label is not None:
            device = label.text()
        return Snapshot(
            self.job_id,
            state,
            hists,
            step,
            total,
            per_epoch,
            elapsed,
            rate,
            eta,
            queue_position if state == "queued" else None,
            error,
            run_ids,
            device,
            *versions,
        )


def unwatched_sentence(seconds: float | None) -> str:
    """Why a job whose owner left was stopped, in the language of the context it is called in."""
    return _(
        "Stopped: no page of its owner showed this run for {seconds} s, so it no longer "
        "holds a place others are waiting for."
    ).format(seconds=f"{seconds or 0:.0f}")


def unwatched_queued_sentence(seconds: float | None) -> str:
    """Why a job whose owner left before it started was stopped."""
    return _("Stopped before it started: no page of its owner showed it for {seconds} s.").format(
        seconds=f"{seconds or 0:.0f}"
    )
