"""The local executor: a warm training process per slot, spawned once with torch imported.

Training runs in a child process, not in a thread of the Streamlit server: a small net on a CPU
is bound by Python overhead, and sharing the GIL with the page's redraws slowed it ~30x
(bench/bench_live.py). Each worker is spawned once and warmed up, so a job starts training
within moments of the button press.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import sys
from collections.abc import Callable, Iterator
from typing import Any

from resnet_viz.engine.config import DataConfig, ModelConfig, TrainConfig
from resnet_viz.engine.runs import RunStore
from resnet_viz.i18n import N_

# Said by the job's pumping thread in English; a page's snapshot says it in the page's language.
WORKER_DIED = N_("the training process died (out of memory?); the next run starts a fresh one")


def _worker_main(conn: Any, stop: Any) -> None:
    """Child process: import torch once, then train one job per message until told to quit."""
    import torch

    from resnet_viz.engine.devices import lower_priority, thread_count, worker_niceness
    from resnet_viz.engine.experiment import run_twins
    from resnet_viz.engine.limits import forward_macs

    lower_priority(worker_niceness())  # pages before training steps when the CPU is short
    torch.set_num_threads(1)
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
            # The thread policy, per job: the job's size and the cores idle now, one kept back for
            # the server and the browsers that are about to draw this run.
            torch.set_num_threads(thread_count(forward_macs(model_cfgs, data_cfg, train_cfg.batch_size), reserve=1))
            run_job(
                model_cfgs,
                data_cfg,
                train_cfg,
                group,
                store=RunStore(store_root) if store_root is not None else None,
                send=conn.send,
                should_stop=stop.is_set,
            )
        except Exception as exc:  # noqa: BLE001 (the page shows the sentence; the server log keeps the traceback)
            import traceback

            traceback.print_exc()
            conn.send(("error", one_line(exc)))


def run_job(
    model_cfgs: Any,
    data_cfg: DataConfig,
    train_cfg: TrainConfig,
    group: str | None,
    *,
    store: Any,
    send: Callable[[Any], None],
    should_stop: Callable[[], bool],
    node: str = "",
) -> None:
    """One job as every executor trains it (a local worker, a Ray actor): "start" with the step
    counts and the device's facts (`node`: the cluster node, when not this server), an "update"
    per measurement from run_twins, then "done" with the run ids, all through `send`."""
    import dataclasses

    from resnet_viz.engine.data import load_dataset
    from resnet_viz.engine.devices import device_label, select_device
    from resnet_viz.engine.experiment import run_twins
    from resnet_viz.engine.train import steps_per_epoch, total_steps

    data = load_dataset(data_cfg)
    device = select_device(train_cfg.device)
    label = device_label(device)  # facts: the server says them in the page's language
    send(
        (
            "start",
            (
                total_steps(train_cfg, data.n_train),
                steps_per_epoch(train_cfg, data.n_train),
                dataclasses.replace(label, node=node) if node else label,
            ),
        )
    )
    results = run_twins(
        model_cfgs,
        data_cfg,
        train_cfg,
        dataset=data,
        group=group,
        store=store,
        on_update=lambda u: send(("update", u)),
        should_stop=should_stop,
    )
    send(("done", [r.run_id for r in results]))


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

    def __init__(self) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.stop_event = ctx.Event()
        self.process = ctx.Process(
            target=_worker_main,
            args=(child, self.stop_event),
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


def one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if type(exc).__name__ in ("ConfigError", "DatasetUnavailable") else f"{type(exc).__name__}: {text}"
