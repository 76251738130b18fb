"""The Ray executor (resnet_viz/engine/runner/ray_executor.py) on a local Ray instance of two CPUs."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[cluster]')")

from resnet_viz.engine.config import DataConfig, ModelConfig, TrainConfig
from resnet_viz.engine.runner import JobQueue
from resnet_viz.engine.runs import RunStore

TWINS = [ModelConfig(depth=8, width=4, residual=False), ModelConfig(depth=8, width=4, residual=True)]
TINY = TrainConfig(steps=20, probe_every=5, seed=0)


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A local Ray instance; yields its address as the CLI and the queue take it."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def _record_workers(queue: JobQueue, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    taken: list[object] = []
    take = queue._take_worker

    def recording() -> object:
        worker = take()
        taken.append(worker)
        return worker

    monkeypatch.setattr(queue, "_take_worker", recording)
    return taken


def _wait_for_step(job, step: int, timeout: float = 120) -> int:
    """The furthest step the server has seen once it reaches `step` (a generous guard, not a timing)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snap = job.snapshot()
        if snap.step >= step or not snap.active:
            return snap.step
        time.sleep(0.02)
    raise AssertionError(f"job never reached step {step}")


@pytest.mark.slow
def test_twins_on_ray_match_local_and_fill_the_store(cluster: str, tmp_path: Path) -> None:
    from resnet_viz.engine.checkpoints import load_model
    from resnet_viz.engine.experiment import run_twins
    from resnet_viz.engine.runner.ray_executor import RayWorker

    queue = JobQueue(ray_address=cluster, warm=False)
    try:
        assert queue.ray_address == cluster and queue.executor_note is None
        assert queue.max_jobs == 2  # the cluster's CPUs
        worker = queue._take_worker()
        assert isinstance(worker, RayWorker)
        worker.close()  # it holds one of the two CPUs
        job = queue.submit(TWINS, DataConfig(), TINY, owner="t", store=RunStore(tmp_path), bounded=False)
        assert job.wait(300)
        snap = job.snapshot()
    finally:
        queue.close()
    assert snap.state == "finished", snap.error
    local = run_twins(TWINS, DataConfig(), TINY)
    store = RunStore(tmp_path)
    assert len(snap.run_ids) == 2
    assert {i.run_id for i in store.list()} == set(snap.run_ids)
    for hist, ref, rid in zip(snap.histories, local, snap.run_ids):
        assert hist.step == list(range(1, 21))
        assert hist.loss == pytest.approx(ref.history.loss, rel=1e-4, abs=1e-5)
        stored = store.load_history(rid)
        assert stored is not None and stored.status == "finished"
        assert stored.loss == pytest.approx(ref.history.loss, rel=1e-4, abs=1e-5)
        assert store.get(rid).status == "finished"
        assert store.snapshot_steps(rid) == [0, 5, 10, 15, 20]
        model = load_model(store, rid)
        assert sum(p.numel() for p in model.parameters()) == ref.params


@pytest.mark.slow
def test_stop_lands_within_a_few_steps(cluster: str, tmp_path: Path) -> None:
    queue = JobQueue(ray_address=cluster, warm=False)
    try:
        long = TrainConfig(steps=100_000, probe_every=0, seed=0)
        wide = [ModelConfig(depth=20, width=16, residual=True)]
        job = queue.submit(wide, DataConfig(), long, owner="t", store=RunStore(tmp_path), bounded=False)
        seen = _wait_for_step(job, 10)
        job.stop()
        assert job.wait(120)
        snap = job.snapshot()
    finally:
        queue.close()
    assert snap.state == "stopped"
    # What the server had seen when it asked, against where training ended: the gap is the steps
    # in flight on the stream plus the one the actor was in, not the 100 000 asked for.
    print(f"stop asked at step {seen}, landed at {snap.step}")
    assert snap.step - seen <= 10, (seen, snap.step)
    info = RunStore(tmp_path).get(snap.run_ids[0])
    assert info.status == "stopped" and info.step == snap.step


@pytest.mark.slow
def test_a_killed_actor_fails_its_job_and_the_next_job_runs(
    cluster: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = JobQueue(ray_address=cluster, max_jobs=1, warm=False)
    taken = _record_workers(queue, monkeypatch)
    try:
        long = TrainConfig(steps=100_000, probe_every=0, seed=0)
        job = queue.submit(TWINS, DataConfig(), long, owner="t", store=RunStore(tmp_path), bounded=False)
        _wait_for_step(job, 3)
        ray.kill(taken[0].actor, no_restart=True)  # type: ignore[attr-defined]
        assert job.wait(120)
        snap = job.snapshot()
        assert snap.state == "failed"
        # the local instance is still up: the actor died, not the cluster, and the sentence says so
        assert re.fullmatch(r"the Ray process training this job on \S+ died at step \d+", snap.error), snap.error
        assert not taken[0].alive()  # type: ignore[attr-defined]
        runs = RunStore(tmp_path).list()
        assert runs and all(r.status == "failed" for r in runs)  # not left "running" by the dead actor
        nxt = queue.submit(TWINS, DataConfig(), TINY, owner="t", store=RunStore(tmp_path), bounded=False)
        assert nxt.wait(300)
        assert nxt.snapshot().state == "finished", nxt.snapshot().error
        assert taken[1] is not taken[0]
    finally:
        queue.close()


def test_an_unreachable_cluster_falls_back_to_local(
    cluster: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from resnet_viz.engine.runner.ray_connect import RayUnavailable, connect
    from resnet_viz.engine.runner.worker import Worker

    with pytest.raises(RayUnavailable, match=r"cannot reach the Ray cluster at ray://127\.0\.0\.1:1"):
        connect("ray://127.0.0.1:1")
    with caplog.at_level("INFO", logger="resnet_viz.engine.runner.jobqueue"):
        queue = JobQueue(ray_address="ray://127.0.0.1:1", max_jobs=1, warm=False)
    try:
        assert queue.ray_address is None
        assert queue.executor_note is not None
        assert "ray://127.0.0.1:1" in queue.executor_note and "on this machine instead" in queue.executor_note
        assert queue.executor_note in caplog.text
        worker = queue._take_worker()
        assert isinstance(worker, Worker)
        worker.close()
    finally:
        queue.close()
    # the app's way: the address comes from the environment
    monkeypatch.setenv("RESNET_VIZ_RAY_ADDRESS", "ray://127.0.0.1:1")
    queue = JobQueue(max_jobs=1, warm=False)
    assert queue.ray_address is None and "ray://127.0.0.1:1" in (queue.executor_note or "")
    queue.close()


def test_no_address_means_no_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    monkeypatch.delenv("RESNET_VIZ_RAY_ADDRESS", raising=False)
    code = (
        "import sys; from resnet_viz.engine.runner import JobQueue; q = JobQueue(max_jobs=1, warm=False); "
        "q._take_worker().close(); print('ray' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.slow
def test_cli_train_with_ray_fills_the_store_like_a_local_run(cluster: str, tmp_path: Path, capsys) -> None:
    from resnet_viz.cli import main

    argv = ["train", "--depth", "8", "--width", "4", "--steps", "20", "--probe-every", "5", "--seed", "0"]
    assert main([*argv, "--runs-dir", str(tmp_path / "local")]) == 0
    local_out = capsys.readouterr().out
    assert main([*argv, "--runs-dir", str(tmp_path / "ray"), "--ray", cluster]) == 0
    ray_out = capsys.readouterr().out
    stores = {k: RunStore(tmp_path / k) for k in ("local", "ray")}
    runs = {k: sorted(s.list(), key=lambda i: i.label) for k, s in stores.items()}
    assert [i.label for i in runs["ray"]] == [i.label for i in runs["local"]] == ["plain-8", "residual-8"]
    for a, b in zip(runs["local"], runs["ray"]):
        assert (a.status, a.step, a.group is None) == (b.status, b.step, b.group is None) == ("finished", 20, False)
        ha, hb = stores["local"].load_history(a.run_id), stores["ray"].load_history(b.run_id)
        assert hb.loss == pytest.approx(ha.loss, rel=1e-4, abs=1e-5)
        assert stores["ray"].snapshot_steps(b.run_id) == stores["local"].snapshot_steps(a.run_id)
    # The same table: the model rows agree up to the seconds column
    for line_a, line_b in zip(local_out.splitlines(), ray_out.splitlines()):
        if line_a.startswith(("plain", "residual")):
            assert line_a.split()[:4] == line_b.split()[:4]
    assert "runs written to" in ray_out
    assert not math.isnan(runs["ray"][0].extra["summary"]["test_acc"])


@pytest.mark.slow
def test_cli_sweep_with_ray_fills_the_store_like_a_local_sweep(cluster: str, tmp_path: Path, capsys) -> None:
    from resnet_viz.cli import main

    argv = ["sweep", "--depths", "8,14", "--width", "4", "--steps", "10", "--seeds", "1"]
    assert main([*argv, "--runs-dir", str(tmp_path / "local")]) == 0
    capsys.readouterr()
    assert main([*argv, "--runs-dir", str(tmp_path / "ray"), "--ray", cluster]) == 0
    stores = {k: RunStore(tmp_path / k) for k in ("local", "ray")}
    runs = {k: sorted(s.list(), key=lambda i: (i.label, i.train.seed)) for k, s in stores.items()}
    assert [i.label for i in runs["ray"]] == [i.label for i in runs["local"]]
    assert {i.label for i in runs["ray"]} == {"plain-8", "residual-8", "plain-14", "residual-14"}
    for a, b in zip(runs["local"], runs["ray"]):
        assert (a.status, a.step) == (b.status, b.step) == ("finished", 10)
        ha, hb = stores["local"].load_history(a.run_id), stores["ray"].load_history(b.run_id)
        assert hb.loss == pytest.approx(ha.loss, rel=1e-4, abs=1e-5)


@pytest.mark.slow
def test_a_job_on_ray_names_its_node(cluster: str, tmp_path: Path) -> None:
    queue = JobQueue(max_jobs=1, warm=False, ray_address=cluster)
    try:
        job = queue.submit(TWINS, DataConfig(), TINY, owner="a", store=RunStore(tmp_path), bounded=False)
        assert job.wait(240)
        snap = queue.snapshot(job.job_id)
        assert snap.state == "finished"
        assert f"on cluster node {ray.util.get_node_ip_address()}" in snap.device
    finally:
        queue.close()


@pytest.mark.slow
def test_the_teachers_view_of_a_class_on_ray(cluster: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 30: jobs trained on the cluster are listed with their students, stopped by the teacher,
    and pooled into the class chart from the store, like local ones."""
    from resnet_viz.degradation.pool import pools
    from resnet_viz.engine import classroom
    from resnet_viz.engine.runner.roster import class_jobs

    monkeypatch.setenv(classroom.TEACHER_ENV, "a key for the ray test")
    classroom.forget()
    store, queue = RunStore(tmp_path), JobQueue(ray_address=cluster, warm=False)
    try:
        done = queue.submit(TWINS, DataConfig(), TINY, owner="browser-a", store=store)
        assert done.wait(180) and done.state == "finished"
        long = queue.submit(TWINS, DataConfig(), TrainConfig(steps=5000, seed=1), owner="browser-b", store=store)
        _wait_for_step(long, 2)
        rows = {r.job_id: r for r in class_jobs(queue, store, classroom.at(tmp_path))}
        assert (rows[done.job_id].student, rows[long.job_id].student) == (1, 2)
        assert rows[long.job_id].state == "running"
        assert not queue.stop(long.job_id, "browser-a")  # another student may not
        assert queue.stop(long.job_id, None, teacher=True) and long.wait(120)
        assert long.state == "stopped"
    finally:
        queue.close()
        classroom.forget()
    found = pools(store)
    assert [len(p.results) for p in found] == [2]  # the finished twins; the stopped job's runs do not pool
