"""Background training jobs for the app: warm worker processes, a FIFO queue, a process-wide registry.

Training runs in a child process, not in a thread of the Streamlit server: a small net on a CPU
is bound by Python overhead, and sharing the GIL with the page's redraws slowed it ~30x
(bench/bench_live.py). Each worker process is spawned once with torch imported, so a job starts
training within moments of the button press. In the server, one `TrainingRun` thread per job
pumps the worker's :class:`~resnet_viz.train.Update` messages into its own histories under a
lock; pages poll :meth:`TrainingRun.snapshot` from an ``st.fragment``. The registry outlives
browser sessions, so a refreshed page reconnects to a running job by its id, and at most
``max_jobs`` jobs train at once (the rest wait in order).
"""

from __future__ import annotations

import contextlib
import copy
import multiprocessing as mp
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .config import ConfigError, DataConfig, ModelConfig, TrainConfig
from .experiment import unique_names
from .limits import Limits, check_job, check_press, overdue
from .runs import RunStore
from .train import History, Update

JobState = Literal["queued", "running", "finished", "stopped", "failed"]


@dataclass(frozen=True)
class Snapshot:
    """A consistent copy of a job for one redraw; safe to read while the worker keeps going."""

    job_id: str
    state: JobState
    histories: tuple[History, ...]  # deep copies, one per model, in the order requested
    step: int  # the furthest step any model reached
    total_steps: int
    steps_per_epoch: int  # 0 until the worker has loaded the data
    elapsed: float  # seconds since training started (0 while queued)
    images_per_s: float  # images through all models per second of wall time
    eta: float | None  # seconds to go at the current rate; None before the first steps
    queue_position: int | None  # 1 = next to start; None when not queued
    error: str | None  # one line for the page; the traceback stays in the log
    run_ids: tuple[str, ...]  # run store ids, once written
    device: str

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def progress(self) -> float:
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0


ACTIVE: tuple[JobState, ...] = ("queued", "running")  # the states of a job that still holds a queue slot or place


WORKER_DIED = "the training process died (out of memory?); the next run starts a fresh one"


def train_threads() -> int:
    """Torch threads of a worker: env RESNET_VIZ_TRAIN_THREADS, else all cores but one, which is
    left to the server and the browser (with both busy, two OpenMP threads on two cores measured
    slower than one: they spin waiting for each other)."""
    env = os.environ.get("RESNET_VIZ_TRAIN_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, (os.cpu_count() or 1) - 1)


def _worker_main(conn: Any, stop: Any, threads: int) -> None:
    """Child process: import torch once, then train one job per message until told to quit."""
    import torch

    from .data import load_dataset
    from .devices import describe_device, select_device
    from .experiment import run_twins
    from .train import steps_per_epoch, total_steps

    torch.set_num_threads(threads)
    # Warm up before the first press: the default dataset's cache, and torch's one-off kernel and
    # autograd set-up (a first step costs ~1 s more than the next ones).
    run_twins([ModelConfig(depth=8, width=4)], DataConfig(), TrainConfig(steps=2, probe_every=1))
    conn.send(("ready", None))
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        model_cfgs, data_cfg, train_cfg, store_root, group = job
        try:
            data = load_dataset(data_cfg)
            device = select_device(train_cfg.device)
            conn.send(
                (
                    "start",
                    (
                        total_steps(train_cfg, data.n_train),
                        steps_per_epoch(train_cfg, data.n_train),
                        describe_device(device),
                    ),
                )
            )
            results = run_twins(
                model_cfgs,
                data_cfg,
                train_cfg,
                dataset=data,
                group=group,
                store=RunStore(store_root) if store_root is not None else None,
                on_update=lambda u: conn.send(("update", u)),
                should_stop=stop.is_set,
            )
            conn.send(("done", [r.run_id for r in results]))
        except Exception as exc:  # noqa: BLE001 (the page shows the sentence; the server log keeps the traceback)
            import traceback

            traceback.print_exc()
            conn.send(("error", _one_line(exc)))


@contextlib.contextmanager
def _main_not_reimported() -> Iterator[None]:
    """Spawn re-runs the parent's __main__ file in the child; under `streamlit run` that file is
    app.py, which must not run (nor start workers) in a training process. The worker's target
    lives in this importable module, so the child needs nothing from __main__: hide its path
    while the child is prepared."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    spec = getattr(main, "__spec__", None)
    if main is None or path is None or spec is not None:
        yield
        return
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = path


class Worker:
    """A warm training process and the pipe to it. Spawned (not forked): the server has threads."""

    def __init__(self, threads: int | None = None) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.stop_event = ctx.Event()
        self.process = ctx.Process(
            target=_worker_main,
            args=(child, self.stop_event, threads or train_threads()),
            name="resnet-viz-worker",
            daemon=True,
        )
        with _main_not_reimported():
            self.process.start()
        child.close()
        self.ready = False
        # Set once its pipe broke: a killed process can still look alive (is_alive) while it tears
        # down (seconds, with a CUDA context), and must not be handed the next job.
        self.dead = False

    def alive(self) -> bool:
        return not self.dead and self.process.is_alive()

    def close(self) -> None:
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.terminate()


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
    _names: list[str] = field(default_factory=list)
    _started: float | None = None
    _rate_from: tuple[float, int] | None = None  # (time, step) the measured rate counts from
    _worker_stop: Any = None  # the training worker's stop event, while this job is on one
    _ended: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _done: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._names = unique_names(self.model_cfgs)
        self._histories = {n: History(n) for n in self._names}

    def on_update(self, update: Update) -> None:
        with self._lock:
            self._histories[update.model].apply(update)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    def touch(self) -> None:
        """A page of the owner is watching: the job is not abandoned."""
        self.seen = time.monotonic()

    def abandoned(self) -> bool:
        return self.abandon_after is not None and time.monotonic() - self.seen > self.abandon_after

    def _halt(self, reason: str) -> None:
        """Stop with a sentence the page shows (over the time limit, nobody watching)."""
        with self._lock:
            self.error = reason
        self._stop.set()

    def _check_bounds(self) -> None:
        """Stop a job whose owner left, or whose measured rate puts it past the time limit."""
        if self._stop.is_set():
            return
        if self.abandoned():
            self._halt(
                f"Stopped: no page of its owner showed this run for {self.abandon_after:.0f} s, so it no longer "
                "holds a place others are waiting for."
            )
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
            reason = overdue(now - t0, step - s0, total, self.limits)
        elif now - started >= 60:
            reason = overdue(now - started, step, total, self.limits)
        else:
            return
        if reason is not None:
            self._halt(reason)

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
                        error = WORKER_DIED
                        break
                    continue
                kind, payload = worker.conn.recv()
                if kind == "update":
                    self.on_update(payload)
                elif kind == "start":
                    with self._lock:
                        self.total_steps, self.steps_per_epoch, self.device = payload
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
            error = WORKER_DIED
        finally:
            if error == WORKER_DIED:
                worker.dead = True
            with self._lock:
                self._worker_stop = None
                self.state, self.error = state, error or self.error  # type: ignore[assignment]
                self._ended = time.perf_counter()
                if self._started is None:
                    self._started = self._ended
            self._done.set()

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
        with self._lock:
            hists = tuple(copy.deepcopy(self._histories[n]) for n in self._names)
            state, error, total, device = self.state, self.error, self.total_steps, self.device
            per_epoch = self.steps_per_epoch
            started, ended, run_ids = self._started, self._ended, self.run_ids
        step = max((h.step[-1] for h in hists if h.step), default=0)
        now = ended if ended is not None else time.perf_counter()
        elapsed = (now - started) if started is not None else 0.0
        images = sum(len(h.step) for h in hists) * self.train_cfg.batch_size
        rate = images / elapsed if elapsed > 0 else 0.0
        eta = elapsed / step * (total - step) if step and state == "running" else None
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
        )


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if type(exc).__name__ in ("ConfigError", "DatasetUnavailable") else f"{type(exc).__name__}: {text}"


class JobRefused(ConfigError):
    """A job the queue does not take now (the owner already has one); the message says why."""


def abandon_seconds() -> float:
    """How long a job may go unwatched before it is stopped: env RESNET_VIZ_ABANDON_SECONDS, else
    120 s (a page that shows a job touches it at least every 15 s)."""
    raw = os.environ.get("RESNET_VIZ_ABANDON_SECONDS", "")
    try:
        value = float(raw)
    except ValueError:
        return 120.0
    return value if value > 0 else 120.0


def default_max_jobs() -> int:
    """Concurrent training jobs per server: env RESNET_VIZ_MAX_JOBS, else 1 on a CPU (two jobs on
    two cores only halve each other's speed) and 2 with a GPU."""
    env = os.environ.get("RESNET_VIZ_MAX_JOBS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    import torch

    return 2 if torch.cuda.is_available() else 1


class JobQueue:
    """Process-wide registry of jobs with a FIFO queue in front of `max_jobs` warm workers."""

    def __init__(self, max_jobs: int | None = None, keep_finished: int = 50, *, warm: bool = True) -> None:
        self.max_jobs = max_jobs or default_max_jobs()
        self.keep_finished = keep_finished
        self._cond = threading.Condition()
        self._jobs: dict[str, TrainingRun] = {}
        self._waiting: list[str] = []  # job ids in arrival order
        self._running: set[str] = set()
        self._idle: list[Worker] = []
        if warm:  # spawn the first worker now, so the first Train press finds torch imported
            self._idle.append(Worker())

    def _take_worker(self) -> Worker:
        with self._cond:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
        return Worker()

    def _give_back(self, worker: Worker) -> None:
        if worker.alive():
            with self._cond:
                self._idle.append(worker)

    def close(self) -> None:
        """Stop every job and end the worker processes (tests; the server just exits)."""
        for job in self.jobs():
            job.stop()
        for job in self.jobs():
            job.wait(10)
        with self._cond:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.close()

    def submit(
        self,
        model_cfgs: Sequence[ModelConfig],
        data_cfg: DataConfig,
        train_cfg: TrainConfig,
        *,
        owner: str,
        store: RunStore | None = None,
        press: str | None = None,
        bounded: bool = True,
    ) -> TrainingRun:
        """Register a job and start its thread; it trains as soon as a slot is free.

        With `bounded` (every job a page queues) the job is checked against the server's limits
        first, JobTooLarge says what to lower, and an owner with an earlier press still queued or
        training gets JobRefused: one press per browser in the queue at a time (the jobs of one
        press, e.g. a sweep's seeds, share `press`).
        """
        limits = None
        if bounded:
            limits = Limits.from_env(gpu=self._gpu())
            check_job(model_cfgs, data_cfg, train_cfg, limits=limits, gpu=self._gpu())
        job = TrainingRun(
            tuple(model_cfgs),
            data_cfg,
            train_cfg,
            owner=owner,
            store=store,
            press=press,
            limits=limits,
            abandon_after=abandon_seconds() if bounded else None,
        )
        with self._cond:
            if bounded:
                busy = [
                    j
                    for j in self._jobs.values()
                    if j.owner == owner and not j._done.is_set() and (press is None or j.press != press)
                ]
                if busy:
                    raise JobRefused(
                        "You already have a run queued or training on this server; stop it or wait for it to end "
                        "before starting another (one at a time per browser keeps the queue fair)."
                    )
            self._forget_old()
            self._jobs[job.job_id] = job
            self._waiting.append(job.job_id)
        threading.Thread(target=self._work, args=(job,), name=f"train-{job.job_id}", daemon=True).start()
        return job

    def check(self, jobs: Sequence[tuple[Sequence[ModelConfig], DataConfig, TrainConfig]]) -> None:
        """JobTooLarge for a press whose jobs exceed this server's limits, before any is queued."""
        check_press(jobs, limits=Limits.from_env(gpu=self._gpu()), gpu=self._gpu())

    @staticmethod
    def _gpu() -> bool:
        import torch

        return torch.cuda.is_available()

    def touch(self, owner: str) -> int:
        """A page of `owner` is open: keep its jobs alive. Returns how many are queued or training."""
        active = [j for j in self.jobs(owner) if not j._done.is_set()]
        for job in active:
            job.touch()
        return len(active)

    def _work(self, job: TrainingRun) -> None:
        with self._cond:
            # Wait for our turn: head of the line and a free slot (or a stop while waiting).
            while not job._stop.is_set() and (self._waiting[0] != job.job_id or len(self._running) >= self.max_jobs):
                self._cond.wait(timeout=0.5)
                if job.abandoned():  # its owner left while it waited: free the place in line
                    job._halt(
                        f"Stopped before it started: no page of its owner showed it for {job.abandon_after:.0f} s."
                    )
            self._waiting.remove(job.job_id)
            if job._stop.is_set():
                job.state = "stopped"
                job._done.set()
                self._cond.notify_all()
                return
            self._running.add(job.job_id)
            job.state = "running"
        worker = None
        try:
            worker = self._take_worker()
            job.run_on(worker)
        finally:
            if worker is not None:
                self._give_back(worker)
            with self._cond:
                self._running.discard(job.job_id)
                self._cond.notify_all()

    def get(self, job_id: str) -> TrainingRun | None:
        with self._cond:
            return self._jobs.get(job_id)

    def queue_position(self, job_id: str) -> int | None:
        with self._cond:
            return self._waiting.index(job_id) + 1 if job_id in self._waiting else None

    def snapshot(self, job_id: str) -> Snapshot | None:
        job = self.get(job_id)
        return None if job is None else job.snapshot(self.queue_position(job_id))

    def stop(self, job_id: str, owner: str) -> bool:
        """Stop a job if `owner` started it; returns whether it was allowed."""
        job = self.get(job_id)
        if job is None or job.owner != owner:
            return False
        job.stop()
        with self._cond:
            self._cond.notify_all()
        return True

    def jobs(self, owner: str | None = None) -> list[TrainingRun]:
        with self._cond:
            jobs = list(self._jobs.values())
        return [j for j in jobs if owner is None or j.owner == owner]

    def _forget_old(self) -> None:
        done = [j for j in self._jobs.values() if j._done.is_set()]
        for job in sorted(done, key=lambda j: j.created)[: max(0, len(done) - self.keep_finished)]:
            del self._jobs[job.job_id]


_QUEUE: JobQueue | None = None
_QUEUE_LOCK = threading.Lock()


def job_queue() -> JobQueue:
    """The one queue of this server process (shared by every browser session)."""
    global _QUEUE
    with _QUEUE_LOCK:
        if _QUEUE is None:
            _QUEUE = JobQueue()
        return _QUEUE
