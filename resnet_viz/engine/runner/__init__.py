"""Background training jobs for the app: warm worker processes, a FIFO queue, a process-wide registry.

In the server, one :class:`TrainingRun` thread per job pumps its worker's
:class:`~resnet_viz.engine.train.Update` messages into the job's own histories under a lock; pages poll
:meth:`TrainingRun.snapshot` from an ``st.fragment``. `worker` is the local executor (training
processes), `job` a job and its snapshot, `jobqueue` the queue and its registry (`job_queue()`).
"""

from .job import ACTIVE, JobState, Snapshot, TrainingRun
from .jobqueue import JobQueue, JobRefused, abandon_seconds, current_queue, default_max_jobs, job_queue
from .worker import WORKER_DIED, Worker

__all__ = [
    "ACTIVE",
    "WORKER_DIED",
    "JobQueue",
    "JobRefused",
    "JobState",
    "Snapshot",
    "TrainingRun",
    "Worker",
    "abandon_seconds",
    "current_queue",
    "default_max_jobs",
    "job_queue",
]
