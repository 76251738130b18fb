"""Background jobs: snapshots while training, stop within a step, FIFO queue, owners, failures."""

from __future__ import annotations

import os
import signal
import time

import pytest

import torch

from resnet_viz.config import DataConfig, ModelConfig, TrainConfig
from resnet_viz.devices import describe_device, select_device
from resnet_viz.runner import JobQueue, train_threads
from resnet_viz.runs import RunStore

TWINS = (ModelConfig(depth=8, width=4, residual=False), ModelConfig(depth=8, width=4))


def wait_for(pred, timeout: float = 60.0) -> None:
    t0 = time.monotonic()
    while not pred():
        if time.monotonic() - t0 > timeout:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


@pytest.fixture
def queue():
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
    assert snap.images_per_s > 0 and snap.device == describe_device(select_device("auto"), threads=train_threads())
    assert sorted(snap.run_ids) == sorted(i.run_id for i in store.list())
    # the snapshot is a copy: mutating it does not touch the job
    snap.histories[0].loss.clear()
    assert len(queue.snapshot(job.job_id).histories[0].loss) == 30


def test_stop_lands_within_a_second_and_keeps_metrics(queue, tmp_path) -> None:
    job = queue.submit(TWINS, DataConfig(), TrainConfig(steps=100_000, log_every=1), owner="a",
                       store=RunStore(tmp_path))  # fmt: skip
    wait_for(lambda: queue.snapshot(job.job_id).step >= 3)
    assert not queue.stop(job.job_id, owner="someone else")
    assert queue.snapshot(job.job_id).state == "running"
    t0 = time.monotonic()
    assert queue.stop(job.job_id, owner="a")
    assert job.wait(10)
    assert time.monotonic() - t0 < 1.0
    snap = queue.snapshot(job.job_id)
    assert snap.state == "stopped" and snap.step >= 3
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
