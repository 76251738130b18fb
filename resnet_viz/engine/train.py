"""The training loop: a plain function, twin models in lockstep on identical batches.

``train`` knows nothing of Streamlit, threads or disk. Two extension points make it live:
``on_update`` receives every new measurement (the UI's TrainingRun applies them to its own copy
under a lock; the CLI draws a progress bar) and ``should_stop`` is polled between forward,
backward and update, and in a long step at every weighted layer too (`stop_points`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig, TrainConfig
from .data import Dataset, augment_batch
from .history import History, Update
from .limits import model_cost
from .probes import Probe, probe_weights


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


# Forward multiply-accumulates per batch above which a step is long enough (~50 ms on one quiet
# core, several times that on a loaded one) to check Stop at every weighted layer. Below it the
# checks between forward, backward and update bound the wait, and the hooks would cost a small
# net's step a few percent, which the live page's throughput against the CLI would show
# (python bench/bench_stop_checks.py).
LAYER_CHECK_MACS = 2.5e8


def needs_layer_checks(model: nn.Module, data: Dataset, batch: int) -> bool:
    """Whether a step of `model` on `batch` images of `data` is long enough for per-layer Stop
    checks; a model this module cannot size (no ModelConfig) is treated as long."""
    cfg = getattr(model, "cfg", None)
    if not isinstance(cfg, ModelConfig):
        return True
    return model_cost(cfg, data.in_channels, data.image_size, data.num_classes).macs * batch >= LAYER_CHECK_MACS


@contextlib.contextmanager
def stop_points(model: nn.Module, should_stop: Callable[[], bool] | None) -> Iterator[None]:
    """Check `should_stop` after every weighted layer's forward and before its backward while in
    the context.

    Checks between forward, backward and the update are not enough for a step that takes seconds
    (depth 110 at width 16, batch 256 on 32-pixel images: ~4 s forward, ~3 s backward on a CPU);
    one check per conv or linear layer bounds the wait for Stop by one layer's share of the step
    (a median ~20 ms there, half of what one check per block left). train() enters it only for
    steps that long (`needs_layer_checks`).
    """
    if should_stop is None:
        yield
        return
    layers = model.probe_layers() if hasattr(model, "probe_layers") else _leaf_layers(model)

    def on_grad(_grad: torch.Tensor) -> None:
        _check(should_stop)

    def after_forward(_module: nn.Module, _inputs: Any, output: Any) -> None:
        _check(should_stop)
        if isinstance(output, torch.Tensor) and output.requires_grad:
            output.register_hook(on_grad)  # runs when backward reaches this layer

    handles = [layer.register_forward_hook(after_forward) for _, layer in layers]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def _leaf_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(n, m) for n, m in model.named_modules() if not list(m.children()) and any(True for _ in m.parameters())]


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


class _Emitter:
    """Sends each model's new measurements to its History and to `on_update`."""

    def __init__(self, on_update: Callable[[Update], None] | None) -> None:
        self.on_update = on_update
        self.t0 = time.perf_counter()

    def emit(self, m: _Member, kind: str, payload: dict[str, Any]) -> None:
        upd = Update(m.name, kind, payload)  # type: ignore[arg-type]
        m.history.apply(upd)
        if self.on_update is not None:
            self.on_update(upd)

    def flush(self, m: _Member) -> None:
        """Copy the pending per-step loss/accuracy to the host in one transfer; detect divergence."""
        if not m.pending_steps:
            return
        losses, accs = torch.stack([torch.stack(m.pending_loss), torch.stack(m.pending_acc)]).tolist()
        steps, lrs = m.pending_steps, m.pending_lr
        m.pending_loss, m.pending_acc, m.pending_steps, m.pending_lr = [], [], [], []
        bad = next((i for i, v in enumerate(losses) if not math.isfinite(v)), None)
        keep = len(steps) if bad is None else bad  # metrics before the first NaN/inf stay
        if keep:
            self.emit(
                m,
                "steps",
                {
                    "step": steps[:keep],
                    "loss": losses[:keep],
                    "acc": accs[:keep],
                    "lr": lrs[:keep],
                    "elapsed": time.perf_counter() - self.t0,
                },
            )
        if bad is not None:
            m.active = False
            self.emit(
                m,
                "status",
                {
                    "status": "diverged",
                    "step": steps[bad],
                    "diverged_at": steps[bad],
                    "elapsed": time.perf_counter() - self.t0,
                    "seconds": m.busy,
                },
            )


def _step(
    m: _Member,
    xb: torch.Tensor,
    yb: torch.Tensor,
    lr: float,
    step: int,
    *,
    probing: bool,
    device: torch.device,
    should_stop: Callable[[], bool] | None,
    emit: Callable[[_Member, str, dict[str, Any]], None],
) -> None:
    """One optimiser step of one model on the batch (B, C, H, W), (B,); the loss and accuracy stay
    on the device until the next flush. Raises Stopped between forward and backward, or before
    the update, so a stopped model keeps its last completed step."""
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
    _check(should_stop)
    if probing:
        res = probe.collect(m.weights)
        emit(m, "probe", {"step": step, **dataclasses.asdict(res)})
    m.opt.step()
    m.pending_loss.append(loss.detach())
    m.pending_acc.append((logits.detach().argmax(1) == yb).float().mean())
    m.pending_steps.append(step)
    m.pending_lr.append(lr)
    m.busy += time.perf_counter() - t_model  # on CUDA this is launch time until the next sync


def _epoch_end(
    m: _Member, data: Dataset, step: int, per_epoch: int, *, should_stop: Callable[[], bool] | None, out: _Emitter
) -> None:
    """At each epoch's end: the steps so far go out, then the test-set loss and accuracy."""
    if m.active:
        out.flush(m)
    if m.active:  # the flush may have found the model diverged
        test_loss, test_acc = evaluate(m.model, data.x_test, data.y_test, should_stop=should_stop)
        out.emit(m, "eval", {"step": step, "epoch": step / per_epoch, "test_loss": test_loss, "test_acc": test_acc})


def _end(m: _Member, data: Dataset, step: int, per_epoch: int, *, stopped: bool, out: _Emitter) -> None:
    """A model's last status: stopped, or finished (or diverged) with its full-set train/test metrics."""
    if stopped:
        out.emit(
            m, "status", {"status": "stopped", "step": step, "elapsed": time.perf_counter() - out.t0, "seconds": m.busy}
        )
        return
    train_loss, train_acc = evaluate(m.model, data.x_train, data.y_train)
    test_loss, test_acc = evaluate(m.model, data.x_test, data.y_test)
    out.emit(m, "eval", {"step": step, "epoch": step / per_epoch, "test_loss": test_loss, "test_acc": test_acc})
    final = {"train_loss": train_loss, "train_acc": train_acc, "test_loss": test_loss, "test_acc": test_acc}
    # Every step's loss was finite, yet the weights can end NaN/inf (lr 1e9: the last update
    # overflows): the full training-set loss then says the run diverged, not finished.
    diverged = not math.isfinite(train_loss)
    out.emit(
        m,
        "status",
        {
            "status": "diverged" if diverged else "finished",
            "step": step,
            "final": final,
            **({"diverged_at": step} if diverged else {}),
            "elapsed": time.perf_counter() - out.t0,
            "seconds": m.busy,
        },
    )


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
    # The step loop stays in one function: the order of stop checks, probes, snapshots and flushes is the
    # contract tests pin.
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

    out = _Emitter(on_update)
    emit, flush = out.emit, out.flush

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
            if needs_layer_checks(m.model, data, batch):
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
                    _step(m, xb, yb, lr, step, probing=probing, device=device, should_stop=should_stop, emit=emit)
                    if step in snap_at:
                        on_snapshot(m.name, step, m.model.state_dict())  # type: ignore[misc]
                    if len(m.pending_steps) >= cfg.log_every or step in (1, total):  # step 1: a first point at once
                        flush(m)
                if step % per_epoch == 0 and step != total:
                    for m in members:
                        _epoch_end(m, data, step, per_epoch, should_stop=should_stop, out=out)
            except Stopped:
                stopped = True
                step -= 1  # the step in progress did not complete for every model
                break

    for m in members:
        flush(m)
        if m.active:  # a diverged model's status is already set
            _end(m, data, step, per_epoch, stopped=stopped, out=out)
    return [m.history for m in members]
