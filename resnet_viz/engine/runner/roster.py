"""The class's jobs as the teacher's page lists them: every job the queue holds (queued, running,
ended) and every press whose runs the store holds from the last hour, each with its student.

The queue knows only this server process's jobs; after a restart the store's runs (their
``group`` is the job id) and the class record (job id -> student) say the rest, so the list
survives a restart, minus what a killed server could not finish (those runs read "interrupted").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from resnet_viz.engine.classroom import Classroom
from resnet_viz.engine.runs import RunInfo, RunStore

from .jobqueue import JobQueue


@dataclass(frozen=True)
class JobRow:
    job_id: str
    student: int | None  # None: pressed before teacher mode was on, or from the command line
    names: tuple[str, ...]  # the models, e.g. ("plain-44",)
    dataset: str
    state: str  # queued / running / finished / stopped / failed / diverged / interrupted
    step: int
    total: int  # 0 while unknown
    created: datetime  # UTC
    queue_position: int | None
    error: str | None  # the job's sentence, in the reader's language

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


def class_jobs(
    queue: JobQueue | None, store: RunStore, room: Classroom, *, hours: float = 1.0, now: datetime | None = None
) -> list[JobRow]:
    """Active jobs, then those ended within `hours`, newest first."""
    now = now or datetime.now(timezone.utc)
    since = now - timedelta(hours=hours)
    rows: dict[str, JobRow] = {}
    for job in queue.jobs() if queue is not None else []:
        snap = job.snapshot(queue.queue_position(job.job_id))
        rows[job.job_id] = JobRow(
            job.job_id,
            room.student_of_job(job.job_id),
            tuple(job.names),
            job.data_cfg.name,
            snap.state,
            snap.step,
            snap.total_steps,
            _utc(job.created),
            snap.queue_position,
            snap.error,
        )
    groups: dict[str, list[RunInfo]] = {}
    for info in store.scan()[0]:
        if info.group and info.group not in rows:
            groups.setdefault(info.group, []).append(info)
    for group, infos in groups.items():
        times = [t for t in (_parse(i.created) for i in infos) if t is not None]
        created = min(times) if times else None
        if created is None or created < since:
            continue
        states = {i.status for i in infos}
        state = next(
            (s for s in ("running", "failed", "interrupted", "stopped", "diverged") if s in states), "finished"
        )
        rows[group] = JobRow(
            group,
            room.student_of_job(group),
            tuple(i.label for i in sorted(infos, key=lambda i: i.model.residual)),
            infos[0].data.name,
            state,
            max(i.step for i in infos),
            infos[0].train.steps if not infos[0].train.epochs else 0,  # epochs: the steps depend on the data
            created,
            None,
            next((i.message for i in infos if i.status in ("failed", "interrupted") and i.message), None),
        )
    keep = [r for r in rows.values() if r.active or r.created >= since]
    return sorted(keep, key=lambda r: (not r.active, -r.created.timestamp()))


def _parse(created: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(created)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
