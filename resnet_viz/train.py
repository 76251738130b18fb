"""The training loop: a plain function, twin models in lockstep on identical batches.

``train`` knows nothing of Streamlit, threads or disk. Two extension points make it live:
``on_update`` receives every new measurement (the UI's TrainingRun applies them to its own copy
under a lock; the CLI draws a progress bar) and ``should_stop`` is polled once per step.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from . import checks
from .config import TrainConfig
from .data import Dataset, augment_batch
from .probes import Probe, probe_weights

Status = Literal["running", "finished", "stopped", "diverged", "failed"]


@dataclass(frozen=True)
class Update:
    """One batch of new measurements for one model, as sent to ``on_update``.

    kind "steps":  data = {"step": [...], "loss": [...], "acc": [...], "lr": [...], "elapsed": s}
    kind "probe":  data = {"step": s, **ProbeResult fields}
    kind "eval":   data = {"step": s, "epoch": e, "test_loss": l, "test_acc": a}
    kind "status": data = {"status": ..., "step": s, ...}
    """

    model: str
    kind: Literal["steps", "probe", "eval", "status"]
    data: dict[str, Any]


@dataclass
class History:
    """Everything measured for one model; also the metrics.json the run store keeps."""

    name: str
    layer_names: list[str] = field(default_factory=list)
    block_names: list[str] = field(default_factory=list)
    residual_block_names: list[str] = field(default_factory=list)
    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    acc: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    probe_step: list[int] = field(default_factory=list)
    grad_norm: list[list[float]] = field(default_factory=list)
    grad_rms: list[list[float]] = field(default_factory=list)
    grad_rel: list[list[float]] = field(default_factory=list)
    act_std: list[list[float]] = field(default_factory=list)
    identity_grad: list[list[float]] = field(default_factory=list)
    branch_grad: list[list[float]] = field(default_factory=list)
    grad_x_rms: list[list[float]] = field(default_factory=list)  # RMS of dL/dx per block, per probe
    eval: list[dict[str, float]] = field(default_factory=list)
    status: Status = "running"
    diverged_at: int | None = None
    elapsed: float = 0.0  # wall seconds since the run started, at the last update
    seconds: float = 0.0  # time spent on this model's own steps (its share of a lockstep run)
    final: dict[str, float] = field(default_factory=dict)  # train/test loss and accuracy at the end

    def apply(self, update: Update) -> None:
        d = update.data
        if update.kind == "steps":
            for key in ("step", "loss", "acc", "lr"):
                getattr(self, key).extend(d[key])
            self.elapsed = d.get("elapsed", self.elapsed)
        elif update.kind == "probe":
            self.probe_step.append(d["step"])
            for key in ("grad_norm", "grad_rms", "grad_rel", "act_std", "identity_grad", "branch_grad", "grad_x_rms"):
                getattr(self, key).append(d.get(key, []))
        elif update.kind == "eval":
            self.eval.append(dict(d))
        elif update.kind == "status":
            self.status = d["status"]
            for key in ("layer_names", "block_names", "residual_block_names"):  # sent once, at the start
                if key in d:
                    setattr(self, key, list(d[key]))
            self.diverged_at = d.get("diverged_at", self.diverged_at)
            self.final = d.get("final", self.final)
            self.elapsed = d.get("elapsed", self.elapsed)
            self.seconds = d.get("seconds", self.seconds)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """A History from a stored metrics dict, every field checked; ValueError naming the field.

        metrics.json is outside input: a hand-edited or half-copied file must fail here with a
        sentence, not later in a chart (float("abc")) or in summary() (None in a sum). NaN/inf were
        stored as null and come back as NaN; keys this version does not know are ignored (older and
        newer runs), and a key it knows but the file lacks keeps its default.
        """
        import typing  # here, not at the top: this module's imports belong to the training loop

        if not isinstance(data, dict):
            raise ValueError(f"metrics must be a JSON object; got {type(data).__name__}")

        def number(key: str, v: Any, lo: float = 0.0, hi: float = math.inf) -> float:
            # null was stored for NaN/inf (strict JSON has neither); every quantity here is a loss,
            # rate, norm or fraction
            got = checks.number(key, v, lo=lo, hi=hi, null=True)
            return math.nan if got is None else got

        def whole(key: str, v: Any) -> int:
            return checks.whole(key, v, what="a step number")

        def listed(key: str) -> list[Any]:
            v = data.get(key, [])
            if not isinstance(v, list):
                raise ValueError(f"{key} must be a list; got {checks.shown(v)}")
            return v

        name = data.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be the model's name; got {checks.shown(name)}")
        out = cls(name)
        for key in ("layer_names", "block_names", "residual_block_names"):
            names = listed(key)
            if not all(isinstance(n, str) for n in names):
                raise ValueError(f"{key} must hold names")
            setattr(out, key, list(names))
        out.step = [whole("step", v) for v in listed("step")]
        out.probe_step = [whole("probe_step", v) for v in listed("probe_step")]
        # Sent together in every "steps" update, so they grow together; lr was added later.
        for key, hi in (("loss", math.inf), ("acc", 1.0), ("lr", math.inf)):
            values = listed(key)
            if len(values) != len(out.step) and not (key == "lr" and not values):
                raise ValueError(f"{key} has {len(values)} entries for {len(out.step)} steps")
            setattr(out, key, [number(key, v, hi=hi) for v in values])
        # One row per probe (or none, for a key older runs did not record); a row is a value per
        # layer, block or residual block, or empty where that probe had nothing to measure.
        widths = {
            "layer_names": ("grad_norm", "grad_rms", "grad_rel"),
            "block_names": ("act_std", "grad_x_rms"),
            "residual_block_names": ("identity_grad", "branch_grad"),
        }
        for names_key, keys in widths.items():
            width = len(getattr(out, names_key))
            for key in keys:
                rows = listed(key)
                if rows and len(rows) != len(out.probe_step):
                    raise ValueError(f"{key} has {len(rows)} rows for {len(out.probe_step)} probes")
                for row in rows:
                    if not isinstance(row, list) or len(row) not in (0, width):
                        raise ValueError(f"{key} has a row that is not a list of {width} values (one per {names_key})")
                setattr(out, key, [[number(key, v) for v in row] for row in rows])
        for entry in listed("eval"):
            if not isinstance(entry, dict) or "step" not in entry:
                raise ValueError(f"eval holds {checks.shown(entry)}, not an evaluation with its step")
            ev: dict[str, Any] = {"step": whole("eval step", entry["step"])}
            for key, hi in (("epoch", math.inf), ("test_loss", math.inf), ("test_acc", 1.0)):
                if key in entry:
                    ev[key] = number(f"eval {key}", entry[key], hi=hi)
            out.eval.append(ev)
        status = data.get("status", out.status)
        if status not in typing.get_args(Status):
            raise ValueError(f"status must be one of {', '.join(typing.get_args(Status))}; got {checks.shown(status)}")
        out.status = status
        diverged_at = data.get("diverged_at")
        out.diverged_at = None if diverged_at is None else whole("diverged_at", diverged_at)
        out.elapsed = number("elapsed", data.get("elapsed", 0.0))
        out.seconds = number("seconds", data.get("seconds", 0.0))
        final = data.get("final", {})
        if not isinstance(final, dict):
            raise ValueError(f"final must map names to numbers; got {checks.shown(final)}")
        out.final = {str(k): number(f"final {k}", v, lo=-math.inf) for k, v in final.items()}
        return out

    def summary(self) -> dict[str, Any]:
        """The numbers a results table shows (final full-set train/test metrics when measured)."""
        last = self.loss[-10:]
        return {
            "model": self.name,
            "status": self.status,
            "steps": self.step[-1] if self.step else 0,
            "train_loss": self.final.get("train_loss", sum(last) / len(last) if last else float("nan")),
            "train_acc": self.final.get("train_acc", float("nan")),
            "test_loss": self.final.get("test_loss", float("nan")),
            "test_acc": self.final.get("test_acc", float("nan")),
            "diverged_at": self.diverged_at,
            "seconds": round(self.seconds, 3),
        }


def total_steps(cfg: TrainConfig, n_train: int) -> int:
    """Steps the run will take: cfg.steps, or ceil(epochs * batches per epoch)."""
    if cfg.epochs is None:
        return cfg.steps
    return max(1, math.ceil(cfg.epochs * steps_per_epoch(cfg, n_train)))


def steps_per_epoch(cfg: TrainConfig, n_train: int) -> int:
    return max(1, n_train // min(cfg.batch_size, n_train))  # last partial batch dropped: BN sees full batches


def snapshot_steps(total: int, k: int) -> list[int]:
    """k steps evenly spread over 0..total (0: before the first update), e.g. 0, 50, 100, 150, 200."""
    if k <= 0 or total <= 0:
        return []
    if k == 1:
        return [total]
    return sorted({round(i * total / (k - 1)) for i in range(k)})


def lr_at(step: int, cfg: TrainConfig, total: int) -> float:
    """Learning rate for 1-based `step`: lr/10 during warm-up (He et al. 2016 §4.2, ResNet-110),
    then constant or a cosine decay to zero over the remaining steps."""
    if step <= cfg.warmup_steps:
        return cfg.lr / 10
    if cfg.schedule == "constant":
        return cfg.lr
    span = max(1, total - cfg.warmup_steps)
    t = (step - 1 - cfg.warmup_steps) / span
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * t))


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def batch_order(n: int, batch: int, steps: int, seed: int) -> torch.Tensor:
    """(steps, batch) indices: a fresh permutation every epoch, drawn from its own generator so
    every twin (and every rerun with the same seed) sees the identical sequence."""
    g = torch.Generator().manual_seed(seed)
    per_epoch = n // batch
    epochs = math.ceil(steps / per_epoch)
    perms = [torch.randperm(n, generator=g)[: per_epoch * batch].view(per_epoch, batch) for _ in range(epochs)]
    return torch.cat(perms)[:steps]


@functools.cache
def _bf16(device: torch.device) -> bool:
    # bf16 needs no loss scaling; only GPUs from sm_80 on run it natively. On a CPU autocast would
    # slow these small convs down, so it stays off. Cached: the step loop asks every step.
    return device.type == "cuda" and torch.cuda.get_device_capability(device) >= (8, 0)


def _autocast(device: torch.device) -> contextlib.AbstractContextManager[Any]:
    return torch.autocast("cuda", dtype=torch.bfloat16) if _bf16(device) else contextlib.nullcontext()


class Stopped(Exception):
    """Raised inside a step or an evaluation when `should_stop` says so, so Stop lands within a
    fraction of a step instead of after it (a depth-110 step can take seconds on a CPU)."""


def _check(should_stop: Callable[[], bool] | None) -> None:
    if should_stop is not None and should_stop():
        raise Stopped


@contextlib.contextmanager
def stop_points(model: nn.Module, should_stop: Callable[[], bool] | None) -> Iterator[None]:
    """Check `should_stop` inside every block's forward and backward while in the context.

    Checks between forward, backward and the update are not enough for a step that takes seconds
    (a depth-110 width-64 model at batch 512: ~4 s forward, ~8 s backward on a CPU); one check per
    block bounds the wait for Stop by one block's share of the step. Costs one Python call per
    block and direction (~1% of a ResNet-20 step on the digits).
    """
    if should_stop is None:
        yield
        return
    blocks = model.probe_blocks() if hasattr(model, "probe_blocks") else list(model.named_children())

    def on_grad(_grad: torch.Tensor) -> None:
        _check(should_stop)

    def after_forward(_module: nn.Module, _inputs: Any, output: Any) -> None:
        _check(should_stop)
        if isinstance(output, torch.Tensor) and output.requires_grad:
            output.register_hook(on_grad)  # runs when backward reaches this block

    handles = [block.register_forward_hook(after_forward) for _, block in blocks]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


@torch.no_grad()
def evaluate(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    batch: int = 1000,
    *,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over (x, y) in eval mode (BN running stats); `should_stop`
    is polled between batches (raises Stopped)."""
    was_training = model.training
    model.eval()
    device = x.device
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device)
    try:
        for i in range(0, len(x), batch):
            _check(should_stop)
            xb, yb = x[i : i + batch], y[i : i + batch]
            with _autocast(device):
                logits = model(_to_memory_format(xb, device))
            loss_sum += F.cross_entropy(logits.float(), yb, reduction="sum")
            correct += (logits.argmax(1) == yb).sum()
    finally:
        model.train(was_training)
    n = max(1, len(x))
    loss, acc = torch.stack([loss_sum / n, correct / n]).tolist()  # one device->host copy
    return loss, acc


def _to_memory_format(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    # channels_last lets cuDNN pick NHWC tensor-core kernels; on CPU it measured no gain (issue 2).
    return x.contiguous(memory_format=torch.channels_last) if device.type == "cuda" and x.dim() == 4 else x


@dataclass
class _Member:
    """Per-model training state inside `train`."""

    name: str
    model: nn.Module
    opt: torch.optim.Optimizer
    weights: list[torch.Tensor]
    history: History
    layer_names: list[str]
    active: bool = True
    busy: float = 0.0  # seconds spent in this model's forward/backward/step
    pending_loss: list[torch.Tensor] = field(default_factory=list)
    pending_acc: list[torch.Tensor] = field(default_factory=list)
    pending_steps: list[int] = field(default_factory=list)
    pending_lr: list[float] = field(default_factory=list)


def train(
    models: Sequence[tuple[str, nn.Module]],
    data: Dataset,
    cfg: TrainConfig,
    *,
    device: torch.device | None = None,
    on_update: Callable[[Update], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    augment: bool = False,
    snapshots: int = 0,
    on_snapshot: Callable[[str, int, dict[str, torch.Tensor]], None] | None = None,
) -> list[History]:
    """Train each (name, model) on the identical batch sequence, one step of each per iteration.

    Models must already be built (the caller seeds their init). `data` is moved to `device`;
    with `augment` every batch gets random crop+flip, drawn once and shared by all models.
    A model whose loss becomes NaN/inf stops as "diverged" at that step; the others carry on.
    With `on_snapshot`, each model's state dict is handed over at `snapshots` evenly spaced steps
    (step 0 = the initialisation, the last = the end), e.g. for Grad-CAM over training.
    Returns one History per model; the same numbers were streamed through `on_update`.
    """
    device = device or torch.device("cpu")
    data = data.to(device)
    n_train = data.n_train
    batch = min(cfg.batch_size, n_train)
    total = total_steps(cfg, n_train)
    per_epoch = steps_per_epoch(cfg, n_train)
    order = batch_order(n_train, batch, total, cfg.seed).to(device)
    aug_gen = torch.Generator(device=device).manual_seed(cfg.seed + 1) if augment else None

    members: list[_Member] = []
    for name, model in models:
        model.to(device)
        if device.type == "cuda":
            model.to(memory_format=torch.channels_last)
        model.train()
        layer_names, weights = probe_weights(model)
        members.append(_Member(name, model, make_optimizer(model, cfg), weights, History(name), layer_names))

    t0 = time.perf_counter()

    def emit(m: _Member, kind: str, payload: dict[str, Any]) -> None:
        upd = Update(m.name, kind, payload)  # type: ignore[arg-type]
        m.history.apply(upd)
        if on_update is not None:
            on_update(upd)

    def flush(m: _Member) -> None:
        """Copy the pending per-step loss/accuracy to the host in one transfer; detect divergence."""
        if not m.pending_steps:
            return
        losses, accs = torch.stack([torch.stack(m.pending_loss), torch.stack(m.pending_acc)]).tolist()
        steps, lrs = m.pending_steps, m.pending_lr
        m.pending_loss, m.pending_acc, m.pending_steps, m.pending_lr = [], [], [], []
        bad = next((i for i, v in enumerate(losses) if not math.isfinite(v)), None)
        keep = len(steps) if bad is None else bad  # metrics before the first NaN/inf stay
        if keep:
            emit(
                m,
                "steps",
                {
                    "step": steps[:keep],
                    "loss": losses[:keep],
                    "acc": accs[:keep],
                    "lr": lrs[:keep],
                    "elapsed": time.perf_counter() - t0,
                },
            )
        if bad is not None:
            m.active = False
            emit(
                m,
                "status",
                {
                    "status": "diverged",
                    "step": steps[bad],
                    "diverged_at": steps[bad],
                    "elapsed": time.perf_counter() - t0,
                    "seconds": m.busy,
                },
            )

    for m in members:  # tell listeners (and the history) what the probe rows will mean
        blocks = m.model.probe_blocks()  # type: ignore[operator]
        emit(
            m,
            "status",
            {
                "status": "running",
                "step": 0,
                "layer_names": m.layer_names,
                "block_names": [n for n, _ in blocks],
                "residual_block_names": [n for n, b in blocks if b.residual],
            },
        )

    snap_at = set(snapshot_steps(total, snapshots)) if on_snapshot is not None else set()
    if 0 in snap_at:
        for m in members:
            on_snapshot(m.name, 0, m.model.state_dict())  # type: ignore[misc]

    with contextlib.ExitStack() as hooks:
        for m in members:
            hooks.enter_context(stop_points(m.model, should_stop))
        stopped = False
        step = 0
        for step in range(1, total + 1):
            if should_stop is not None and should_stop():
                stopped = True
                step -= 1
                break
            if not any(m.active for m in members):
                break
            idx = order[step - 1]
            xb, yb = data.x_train[idx], data.y_train[idx]  # (B, C, H, W), (B,)
            if aug_gen is not None:
                xb = augment_batch(xb, aug_gen)
            xb = _to_memory_format(xb, device)
            lr = lr_at(step, cfg, total)
            probing = cfg.probe_every > 0 and (step == 1 or step % cfg.probe_every == 0)
            try:
                for m in members:
                    if not m.active:
                        continue
                    t_model = time.perf_counter()
                    for group in m.opt.param_groups:
                        group["lr"] = lr
                    probe_ctx = Probe(m.model) if probing else contextlib.nullcontext()
                    with probe_ctx as probe:
                        with _autocast(device):
                            logits = m.model(xb)
                        loss = F.cross_entropy(logits.float(), yb)
                        _check(should_stop)  # between forward and backward: Stop need not wait for the step
                        m.opt.zero_grad(set_to_none=True)
                        loss.backward()
                    _check(should_stop)  # before the update: a stopped model keeps its last completed step
                    if probing:
                        res = probe.collect(m.weights)
                        emit(m, "probe", {"step": step, **dataclasses.asdict(res)})
                    m.opt.step()
                    m.pending_loss.append(loss.detach())
                    m.pending_acc.append((logits.detach().argmax(1) == yb).float().mean())
                    m.pending_steps.append(step)
                    m.pending_lr.append(lr)
                    m.busy += time.perf_counter() - t_model  # on CUDA this is launch time until the next sync
                    if step in snap_at:
                        on_snapshot(m.name, step, m.model.state_dict())  # type: ignore[misc]
                    if len(m.pending_steps) >= cfg.log_every or step in (1, total):  # step 1: a first point at once
                        flush(m)
                if step % per_epoch == 0 and step != total:
                    for m in members:
                        if m.active:
                            flush(m)
                            if m.active:
                                test_loss, test_acc = evaluate(
                                    m.model, data.x_test, data.y_test, should_stop=should_stop
                                )
                                emit(
                                    m,
                                    "eval",
                                    {
                                        "step": step,
                                        "epoch": step / per_epoch,
                                        "test_loss": test_loss,
                                        "test_acc": test_acc,
                                    },
                                )
            except Stopped:
                stopped = True
                step -= 1  # the step in progress did not complete for every model
                break

    for m in members:
        flush(m)
        if not m.active:
            continue  # diverged: its status is already set
        if stopped:
            emit(
                m, "status", {"status": "stopped", "step": step, "elapsed": time.perf_counter() - t0, "seconds": m.busy}
            )
            continue
        train_loss, train_acc = evaluate(m.model, data.x_train, data.y_train)
        test_loss, test_acc = evaluate(m.model, data.x_test, data.y_test)
        emit(m, "eval", {"step": step, "epoch": step / per_epoch, "test_loss": test_loss, "test_acc": test_acc})
        final = {"train_loss": train_loss, "train_acc": train_acc, "test_loss": test_loss, "test_acc": test_acc}
        # Every step's loss was finite, yet the weights can end NaN/inf (lr 1e9: the last update
        # overflows): the full training-set loss then says the run diverged, not finished.
        diverged = not math.isfinite(train_loss)
        emit(
            m,
            "status",
            {
                "status": "diverged" if diverged else "finished",
                "step": step,
                "final": final,
                **({"diverged_at": step} if diverged else {}),
                "elapsed": time.perf_counter() - t0,
                "seconds": m.busy,
            },
        )
    return [m.history for m in members]
