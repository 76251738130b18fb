"""What the Ray executor costs against the local one, on this machine.

The same job list, four plain/residual twin jobs on the digits (depth 8 and 20, seeds 0 and 1,
~10 s each on one core), goes through a JobQueue three times:

- local: today's warm worker processes, one job at a time (the CPU default);
- ray x1: a local Ray instance of 2 CPUs, one job at a time: the executor's own overhead
  (actor start, the stream of updates, the store calls replayed by the server);
- ray x2: the same instance, two jobs at once (the cluster's default, one job per CPU).

It prints the wall time of each, the ratio to local, and the time from submit to the first update
the server sees: for the first job (the executor starts cold: a process or an actor, torch, the
warm-up) and for one more job once it is warm.

    python bench/bench_ray.py
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from resnet_viz.engine.config import DataConfig, ModelConfig, TrainConfig
from resnet_viz.engine.runner import JobQueue
from resnet_viz.engine.runs import RunStore

SEED = 0
STEPS = {8: 600, 20: 270}  # ~10 s of twins each on one core (16 and 37 ms a step here)


def jobs() -> list[tuple[list[ModelConfig], DataConfig, TrainConfig]]:
    return [
        (
            [ModelConfig(depth=d, width=8, residual=False), ModelConfig(depth=d, width=8, residual=True)],
            DataConfig(),
            TrainConfig(steps=STEPS[d], probe_every=10, seed=SEED + s),
        )
        for d in (8, 20)
        for s in (0, 1)
    ]


def first_update(run, t0: float) -> float:
    while not run.snapshot().step:
        if run.wait(0.005):
            break
    return time.perf_counter() - t0


def measure(label: str, queue: JobQueue) -> tuple[float, float, float]:
    store = RunStore(tempfile.mkdtemp(prefix="bench-ray-"))
    try:
        t0 = time.perf_counter()
        runs = [queue.submit(m, d, t, owner="bench", store=store, bounded=False) for m, d, t in jobs()]
        cold = first_update(runs[0], t0)
        for run in runs:
            run.wait()
        wall = time.perf_counter() - t0
        states = {r.snapshot().state for r in runs}
        assert states == {"finished"}, [r.snapshot().error for r in runs]
        assert len(store.list()) == 8
        m, d, _t = jobs()[0]
        t1 = time.perf_counter()
        extra = queue.submit(m, d, TrainConfig(steps=20, seed=SEED), owner="bench", store=store, bounded=False)
        warm = first_update(extra, t1)
        extra.wait()
    finally:
        queue.close()
    print(f"{label:8} {wall:7.1f} s for 4 jobs; first update {cold:5.2f} s cold, {warm:5.3f} s warm", flush=True)
    return wall, cold, warm


def main() -> None:
    import argparse

    # --help answers before anything starts: no Ray instance, no training
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    import ray

    print(f"machine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores, {platform.platform()}")
    print(f"python {platform.python_version()}, torch {torch.__version__}, ray {ray.__version__}")
    print(f"threads: torch {torch.get_num_threads()} in this process, 1 per job in workers and actors; seed {SEED}")
    print(f"jobs: twins of depth 8 ({STEPS[8]} steps) and 20 ({STEPS[20]} steps), seeds {SEED} and {SEED + 1}, digits")
    local = measure("local", JobQueue(max_jobs=1, warm=False))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        address = ray.get_runtime_context().gcs_address
        one = measure("ray x1", JobQueue(max_jobs=1, warm=False, ray_address=address))
        two = measure("ray x2", JobQueue(max_jobs=2, warm=False, ray_address=address))
    finally:
        ray.shutdown()
    print(f"overhead ray/local, one job at a time: {one[0] / local[0]:.2f}x wall")
    print(f"two jobs at once on 2 CPUs: {two[0] / local[0]:.2f}x the local wall")


if __name__ == "__main__":
    main()
