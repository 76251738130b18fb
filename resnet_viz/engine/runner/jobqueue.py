"""The job queue: at most `max_jobs` jobs train at once, the rest wait in order; one
process-wide registry that outlives browser sessions, so a refreshed page reconnects by job id."""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Sequence

from resnet_viz.engine import classroom
from resnet_viz.engine.config import ConfigError, DataConfig, ModelConfig, TrainConfig
from resnet_viz.engine.limits import Limits, check_job, check_press
from resnet_viz.engine.runs import RunStore
from resnet_viz.i18n import _

from .job import Snapshot, TrainingRun, unwatched_queued_sentence
from .worker import Worker, one_line

log = logging.getLogger(__name__)


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


def default_max_jobs(*, ray: bool = False) -> int:
    """Concurrent training jobs per server: env RESNET_VIZ_MAX_JOBS, else on a Ray cluster its GPUs
    or CPUs, else 1 on a CPU (two jobs on two cores only halve each other's speed) and 2 with a GPU."""
    env = os.environ.get("RESNET_VIZ_MAX_JOBS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    if ray:
        from .ray_connect import cluster_slots

        return cluster_slots()
    import torch

    return 2 if torch.cuda.is_available() else 1


class JobQueue:
    """Process-wide registry of jobs with a FIFO queue in front of `max_jobs` warm workers."""

    def __init__(
        self, max_jobs: int | None = None, keep_finished: int = 50, *, warm: bool = True, ray_address: str | None = None
    ) -> None:
        # The executor: Ray actors on the cluster at `ray_address` (else env RESNET_VIZ_RAY_ADDRESS),
        # or local worker processes; an unreachable cluster falls back to local, saying why.
        self.ray_address = ray_address or os.environ.get("RESNET_VIZ_RAY_ADDRESS") or None
        self.executor_note: str | None = None
        self._lost = False  # a job lost the Ray cluster: the next worker reconnects or trains here
        if self.ray_address is not None:
            from .ray_connect import RayUnavailable, connect

            try:
                connect(self.ray_address)
            except RayUnavailable as exc:
                self.executor_note = _("{reason}; training runs on this machine instead").format(reason=exc)
                log.info("%s", self.executor_note)  # said by the caller (the CLI's stderr, the sidebar)
                self.ray_address = None
        self.max_jobs = max_jobs or default_max_jobs(ray=self.ray_address is not None)
        self.keep_finished = keep_finished
        self._cond = threading.Condition()
        self._jobs: dict[str, TrainingRun] = {}
        self._waiting: list[str] = []  # job ids in arrival order
        self._running: set[str] = set()
        self._idle: list[Worker] = []
        if warm:
            # One warm worker per slot now, so the first presses find torch imported: with one,
            # a class's second job waited 6-14 s for a fresh worker while the first trained
            # (bench/bench_class.py, RESNET_VIZ_MAX_JOBS=2). A Ray cluster's actors start on demand.
            slots = self.max_jobs if self.ray_address is None else 1
            self._idle.extend(self._new_worker() for _ in range(slots))

    def _new_worker(self) -> Worker:
        if self.ray_address is not None:
            from .ray_connect import RayUnavailable, connect, disconnect
            from .ray_executor import RayWorker

            address = self.ray_address
            try:
                if self._lost:  # the last actor lost its cluster: leave it, and join again if it is back
                    disconnect()
                    connect(address)
                    self._lost, self.executor_note = False, None
                return RayWorker(address)  # type: ignore[return-value]  # the surface run_on uses
            except (RayUnavailable, Exception) as exc:  # noqa: BLE001 (Ray's many kinds: the next job trains here)
                self._lost = False
                reason = exc if isinstance(exc, RayUnavailable) else one_line(exc)
                self.executor_note = _("{reason}; training runs on this machine instead").format(reason=reason)
                log.info("%s", self.executor_note)
                self.ray_address = None
        return Worker()

    @property
    def cluster_lost(self) -> bool:
        """A job lost the Ray cluster and no job has joined it again since."""
        return self._lost

    def _take_worker(self) -> Worker:
        with self._cond:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
        return self._new_worker()

    def _give_back(self, worker: Worker) -> None:
        if worker.alive():
            with self._cond:
                self._idle.append(worker)
        elif getattr(worker, "lost_cluster", False):
            self._lost = True
            with self._cond:  # the idle actors went with their cluster
                idle, self._idle = self._idle, []
            for other in idle:
                other.dead = True

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
                        _(
                            "You already have a run queued or training on this server; stop it or wait for it to "
                            "end before starting another (one at a time per browser keeps the queue fair)."
                        )
                    )
            self._forget_old()
            self._jobs[job.job_id] = job
            self._waiting.append(job.job_id)
        if bounded and store is not None and classroom.enabled():  # the teacher's page lists it by student
            classroom.at(store.root).job(job.job_id, owner)
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
                    job._halt(functools.partial(unwatched_queued_sentence, job.abandon_after))
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

    def stop(self, job_id: str, owner: str | None, *, teacher: bool = False) -> bool:
        """Stop a job if `owner` started it, or for the teacher (`teacher`: the caller checked the
        teacher's key or cookie on the server); returns whether it was allowed."""
        job = self.get(job_id)
        if job is None or not (teacher or job.owner == owner):
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


def current_queue() -> JobQueue | None:
    """The server's queue if a page has created it, without creating it."""
    with _QUEUE_LOCK:
        return _QUEUE
