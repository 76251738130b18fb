"""The Ray executor: the same job as the local executor, trained by a Ray actor on a cluster.

:class:`RayWorker` offers the surface `TrainingRun.run_on` uses on a local
:class:`~resnet_viz.engine.runner.worker.Worker` (``conn``, ``stop_event``, ``process.pid``, ``alive()``,
``dead``, ``close()``), so a job runs unchanged on either. The actor runs
:func:`resnet_viz.engine.experiment.run_twins`, the code path of every other executor; the server stays
the only writer of its run store: the actor gets no store path, only a store that records its calls,
and they are replayed here on the real one (machines of a cluster share no filesystem).

Ray is imported inside the functions only: the app without RESNET_VIZ_RAY_ADDRESS never loads it.
"""

from __future__ import annotations

import collections
import copy
import logging
import os
import threading
import time
import uuid
from typing import Any

from resnet_viz.engine.config import DataConfig, ModelConfig, TrainConfig
from resnet_viz.engine.runs import RunStore
from resnet_viz.i18n import _

from .ray_connect import RayUnavailable, precheck
from .worker import one_line

log = logging.getLogger(__name__)

# How long the actor holds a drain call open when it has nothing to send: a killed actor is seen
# within this (its pending call fails at once), and an idle job costs two calls a second.
DRAIN_WAIT_S = 0.5


class RecordingStore:
    """Stands in for the run store on the remote side: every call `run_twins` makes becomes a
    message for the server, which replays it on the real store. Run ids are made up here and
    mapped by the server to the ones its store hands out."""

    def __init__(self, send: Any) -> None:
        self._send = send
        self._n = 0

    def create(self, model: ModelConfig, data: DataConfig, train: TrainConfig, **kw: Any) -> str:
        self._n += 1
        rid = f"remote-{self._n}"
        self._send(("store", ("create", rid, (model, data, train), kw)))
        return rid

    def save_weights(self, run_id: str, state_dict: dict[str, Any], *, step: int | None = None) -> None:
        # cloned now: the message leaves later, and the optimiser keeps changing these tensors
        state = {k: v.detach().cpu().clone() for k, v in state_dict.items()}
        self._send(("store", ("save_weights", run_id, (state,), {"step": step})))

    def save_metrics(self, run_id: str, metrics: dict[str, Any]) -> None:
        self._send(("store", ("save_metrics", run_id, (copy.deepcopy(metrics),), {})))

    def set_status(self, run_id: str, status: str, **kw: Any) -> None:
        self._send(("store", ("set_status", run_id, (status,), copy.deepcopy(kw))))


class _Trainer:
    """The actor's body (made remote by `_actor_class`): one job at a time; `drain` and `stop`
    are answered from other threads while `run` trains."""

    def __init__(self) -> None:
        import ray
        import torch

        from resnet_viz.engine.experiment import run_twins

        # The cores Ray granted this actor, not the machine's: other actors train beside it.
        cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1)
        torch.set_num_threads(max(1, int(cpus)))
        # Warm up as the local worker does: the first step's one-off costs are paid before a job.
        run_twins([ModelConfig(depth=8, width=4)], DataConfig(), TrainConfig(steps=2, probe_every=1))
        self._cond = threading.Condition()
        self._out: list[Any] = []
        self._stopped: set[str] = set()

    def pid(self) -> int:

        return os.getpid()

    def _send(self, msg: Any) -> None:
        with self._cond:
            self._out.append(msg)
            self._cond.notify_all()

    def drain(self, wait: float) -> list[Any]:
        with self._cond:
            if not self._out:
                self._cond.wait(wait)
            out, self._out = self._out, []
        return out

    def stop(self, token: str) -> None:
        self._stopped.add(token)

    def run(self, token: str, job: tuple[Any, ...], recording: bool) -> None:
        import ray

        from .worker import run_job

        model_cfgs, data_cfg, train_cfg, group = job

        def send(msg: Any) -> None:
            self._send((token, msg))

        try:
            run_job(
                model_cfgs,
                data_cfg,
                train_cfg,
                group,
                store=RecordingStore(send) if recording else None,
                send=send,
                should_stop=lambda: token in self._stopped,
                node=ray.util.get_node_ip_address(),  # where it runs: the page names the node
            )
        except Exception as exc:  # noqa: BLE001 (the page shows the sentence; the actor's log keeps the traceback)
            import traceback

            traceback.print_exc()
            send(("error", one_line(exc)))
        finally:
            self._stopped.discard(token)


_ACTOR: Any = None


def _actor_class() -> Any:
    global _ACTOR
    if _ACTOR is None:
        import ray

        _ACTOR = ray.remote(_Trainer)
    return _ACTOR


class _StopEvent:
    """The job's stop flag; setting it reaches the actor with one call, not at the next poll."""

    def __init__(self, worker: RayWorker) -> None:
        self._worker = worker
        self._flag = threading.Event()
        self._sent: str | None = None  # the job token a stop was sent for

    def set(self) -> None:
        self._flag.set()
        token = self._worker._token
        if token is not None and self._sent != token:
            self._sent = token
            try:
                self._worker.actor.stop.remote(token)
            except Exception:  # a dead actor: the pump sees it and fails the job
                log.debug("stop not delivered", exc_info=True)

    def clear(self) -> None:
        self._flag.clear()

    def is_set(self) -> bool:
        return self._flag.is_set()


class _Process:
    def __init__(self, actor: Any) -> None:
        self._actor = actor
        self._pid: int | None = None
        self._asked = False

    @property
    def pid(self) -> int | None:
        """The actor's process id (on its node); None when it did not answer within a minute."""
        if not self._asked:
            import ray

            self._asked = True
            try:
                self._pid = ray.get(self._actor.pid.remote(), timeout=60)
            except Exception:  # noqa: BLE001 (dead or not placed yet: the pump finds out)
                self._pid = None
        return self._pid


class _Conn:
    """The pipe's end as `run_on` uses it: send a job, poll and receive its messages."""

    def __init__(self, worker: RayWorker) -> None:
        self._w = worker
        self._inbox: collections.deque[Any] = collections.deque()
        self._pending: Any = None  # the drain call in flight

    def send(self, job: Any) -> None:
        if job is None:
            self._w.close()
            return
        if self._w.dead:
            raise OSError("the Ray actor is gone")
        model_cfgs, data_cfg, train_cfg, store_root, group = job
        w = self._w
        w._store = RunStore(store_root) if store_root is not None else None
        w._ids = {}
        w._token = uuid.uuid4().hex
        self._inbox.clear()
        if w.stop_event.is_set():  # stopped before it was sent: stop it at its first step
            w.stop_event._sent = None
            w.stop_event.set()
        w.actor.run.remote(w._token, (model_cfgs, data_cfg, train_cfg, group), store_root is not None)

    def poll(self, timeout: float = 0.0) -> bool:
        if self._inbox:
            return True
        if self._w.dead:
            return False
        import ray

        if self._pending is None:
            self._pending = self._w.actor.drain.remote(DRAIN_WAIT_S)
        ready, _rest = ray.wait([self._pending], timeout=timeout)
        if not ready:
            return False
        ref, self._pending = self._pending, None
        try:
            messages = ray.get(ref)
        except Exception:  # actor, node or head gone: alive() turns False and the job fails with its sentence
            log.info("Ray actor lost", exc_info=True)  # the server's log; never a traceback on a terminal or page
            self._w.lose()
            return False
        for token, msg in messages:
            if token == self._w._token:  # a message of an earlier job on this actor is stale
                self._inbox.extend(self._w._replay(msg))
        return bool(self._inbox)

    def recv(self) -> Any:
        while not self._inbox:
            if self._w.dead:
                raise EOFError("the Ray actor is gone")
            self.poll(DRAIN_WAIT_S)
        return self._inbox.popleft()


def cluster_lost_sentence(address: str, step: int) -> str:
    return _("the Ray cluster at {address} went away at step {step}").format(address=address, step=step)


def actor_lost_sentence(node: str, step: int) -> str:
    return _("the Ray process training this job on {node} died at step {step}").format(
        node=node or _("a cluster node"), step=step
    )


class RayWorker:
    """A training actor on the Ray cluster this process is connected to (see `connect`)."""

    def __init__(self, address: str = "") -> None:
        import ray

        self.address = address  # as the user named it: the sentences say it back
        self.lost_cluster = False  # the head stopped answering (not only this actor died)
        try:  # the head's own host:port, knocked at when the actor is lost ("auto" names none)
            self._head = str(ray.get_runtime_context().gcs_address or address)
        except Exception:  # noqa: BLE001 (an older Ray, or a client connection: the address given)
            self._head = address

        gpu = ray.cluster_resources().get("GPU", 0) > 0
        self.actor = (
            _actor_class()
            .options(
                num_cpus=1,
                num_gpus=1 if gpu else 0,
                # A failure fails the job with a sentence; a silent rerun would train it twice.
                max_restarts=0,
                max_task_retries=0,
                max_concurrency=4,  # run, drain, stop, pid
            )
            .remote()
        )
        self.conn = _Conn(self)
        self.stop_event = _StopEvent(self)
        self.process = _Process(self.actor)
        self.dead = False
        self._token: str | None = None
        self._store: RunStore | None = None
        self._ids: dict[str, str] = {}
        self._node = ""

    def alive(self) -> bool:
        return not self.dead

    def lose(self) -> None:
        """The actor stopped answering: dead, and whether the whole cluster went with it (its head's
        port no longer answers a TCP knock), so that the job names the right cause."""
        self.dead = True
        deadline = time.monotonic() + 3.0  # `ray stop` ends the workers before the head: knock a while
        while not self.lost_cluster and time.monotonic() < deadline:
            try:
                precheck(self._head if ":" in self._head else self.address)
            except RayUnavailable:
                self.lost_cluster = True
            else:
                time.sleep(0.25)

    def death_words(self, step: int) -> Any:
        """The job's sentence for this worker's death after `step`, said in the reader's language."""
        import functools

        if self.lost_cluster:
            return functools.partial(cluster_lost_sentence, self.address, step)
        return functools.partial(actor_lost_sentence, self._node, step)

    def fail_runs(self, message: str) -> None:
        """Mark the runs this job created and left "running" as failed, with `message`: the actor's own
        last status calls never arrive when it dies."""
        if self._store is None:
            return
        for rid in self._ids.values():
            try:
                info = self._store.get(rid)
                if info.status in ("running", "interrupted"):
                    self._store.set_status(rid, "failed", step=info.step, message=message, node=self._node)
            except Exception:  # a run folder gone or damaged: nothing to mark
                log.debug("could not mark %s failed", rid, exc_info=True)

    def close(self) -> None:
        import ray

        self.dead = True
        try:
            ray.kill(self.actor, no_restart=True)
        except Exception:  # already gone
            log.debug("actor already gone", exc_info=True)

    def _replay(self, msg: tuple[str, Any]) -> list[tuple[str, Any]]:
        """Turn one message of the actor into what `run_on` reads; store calls are made here."""
        kind, payload = msg
        if kind == "start":  # (steps, steps per epoch, DeviceLabel): the node that trains it
            self._node = str(getattr(payload[2], "node", "") or "")
        if kind == "store":
            method, rid, args, kw = payload
            if self._store is None:
                return []
            if method == "set_status" and self._node:
                kw = {**kw, "node": self._node}  # status.json's host is this server's; the run names its node
            try:
                if method == "create":
                    self._ids[rid] = self._store.create(*args, **kw)
                else:
                    getattr(self._store, method)(self._ids[rid], *args, **kw)
            except Exception as exc:  # a full disk here fails the job, as it would locally
                log.exception("replaying %s on the run store failed", method)
                self.close()  # its job may train on: the actor is not handed another one
                return [("error", one_line(exc))]
            return []
        if kind == "done":
            return [("done", [self._ids.get(r, r) if r else r for r in payload])]
        return [(kind, payload)]
