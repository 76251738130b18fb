"""Bounds on a training job, checked before anything is built or queued.

A shared server must not let one visitor queue a job that takes hours or more memory than the
machine has (issue: depth 110, width 64, batch 512, 100,000 steps was accepted and estimated
17-20 GB on 32x32 shapes). :func:`estimate` predicts a job's memory and wall time from its
configs alone, analytically (no model is built: building a 20,000-layer net alone takes seconds);
:func:`check_job` compares that with :class:`Limits` and raises :class:`JobTooLarge` with a
sentence naming the setting to lower. The runner re-checks the time once the first steps have
been measured. The CLI runs on the user's own machine: it prints the estimate and is not bound.

Limits come from the environment, so a teacher can size them for a class server:
``RESNET_VIZ_MAX_JOB_MINUTES`` (default 15 on a CPU, 60 on a GPU) and
``RESNET_VIZ_MAX_JOB_MEMORY_MB`` (default half of the memory available when the job is checked).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

from ..i18n import _, ngettext
from .config import ConfigError, DataConfig, ModelConfig, TrainConfig

MAX_LAYERS = 2000  # weighted layers of one model: ResNet-1202 fits; beyond, building alone takes seconds
MAX_PARAMS = 200_000_000  # parameters of one model (ResNet-152 has 60M)

# Inputs of the registered datasets: (channels, pixels per side, training images). A DataConfig
# with image_size overrides the size. An image folder is unknown until read (and is offered by the
# CLI only): assume a small one; the runner's measured-rate check still bounds its time.
DATA_SHAPES: dict[str, tuple[int, int, int]] = {
    "digits": (1, 8, 1437),
    "shapes": (3, 32, 3000),  # resnet_viz.engine.data.SHAPES_N_TRAIN
    "clutter": (3, 64, 3000),  # resnet_viz.engine.data.CLUTTER_N_TRAIN
    "cifar10": (3, 32, 50_000),
    "mnist": (1, 28, 60_000),
    "fashion_mnist": (1, 28, 60_000),
    "folder": (3, 64, 1_000),
}

# Wall-time model: a step costs a fixed overhead per weighted layer (small nets on a CPU are bound
# by it: ResNet-20 twins at width 8 on the digits run ~36 ms a step, ~1 ms per layer) plus the
# arithmetic at a sustained rate. Measured on the 2-core CI machine (torch 2.14.1, one thread):
# a depth-110 width-64 twin step at batch 512 took 25 s for ~1.6e12 FLOPs, ~60 GFLOP/s; the
# defaults below are lower, so the estimate errs long. The runner replaces it with the measured
# rate after the first steps.
CPU_FLOPS = 30e9
CPU_LAYER_OVERHEAD_S = 1e-3
GPU_FLOPS = 20e12
GPU_LAYER_OVERHEAD_S = 1e-4
BYTES = 4  # float32 activations and parameters
# Tensors of each conv's output size alive at the peak of one model's backward (conv, BN input and
# output, activation, addition, gradients): the depth-110 width-64 twins at batch 512 on
# the digits reached 3.7 GB, ~7 such tensors of 528 MB. Lockstep models take their steps one after
# the other, so only one model's activations are alive at a time.
SAVED_PER_CONV = 7


class JobTooLarge(ConfigError):
    """A job over this server's limits; the message says which setting to lower."""


@dataclass(frozen=True)
class Limits:
    seconds: float  # wall time one job may take
    memory_bytes: int  # memory one job may use (model, optimiser state, activations, data)

    @classmethod
    def from_env(cls, *, gpu: bool = False, available_bytes: int | None = None) -> Limits:
        minutes = _env_float("RESNET_VIZ_MAX_JOB_MINUTES", 60.0 if gpu else 15.0)
        mb = _env_float("RESNET_VIZ_MAX_JOB_MEMORY_MB", None)
        if mb is None:
            avail = available_bytes if available_bytes is not None else available_memory()
            memory = avail // 2
        else:
            memory = int(mb * 2**20)
        return cls(seconds=60.0 * minutes, memory_bytes=memory)


def _env_float(name: str, default: float | None) -> float | None:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        return default
    return value if math.isfinite(value) and value > 0 else default


def available_memory() -> int:
    """Bytes of memory available now (Linux MemAvailable; elsewhere a conservative 4 GiB)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4 * 2**30


@dataclass(frozen=True)
class ModelCost:
    layers: int  # weighted layers
    params: int
    macs: float  # multiply-accumulates of one forward pass of one image
    activations: float  # floats of the layer outputs of one image (forward)


def model_cost(cfg: ModelConfig, channels: int, size: int, classes: int = 10) -> ModelCost:
    """Parameters, MACs and activation floats of `cfg` on (channels, size, size) inputs, by formula.

    CIFAR-style: 3x3 stem, three stages of n two-conv blocks at widths w, 2w, 4w on maps of size
    s, s/2, s/4 (He et al. 2016 §4.2); option B adds a 1x1 projection where the shape changes.
    Tests compare it with the built models.
    """
    if cfg.arch == "mlp":
        inp, w, d = channels * size * size, cfg.width, cfg.depth
        params = inp * w + w + (d - 1) * (w * w + w) + w * classes + classes + (2 * w * d if cfg.bn else 0)
        macs = inp * w + (d - 1) * w * w + w * classes
        return ModelCost(d + 1, params, float(macs), float(d * w))
    n, w = (cfg.depth - 2) // 6, cfg.width
    bn = 2 if cfg.bn else 0  # BN's scale and shift per channel (a conv without BN has a bias instead)
    params = 9 * channels * w + (bn or 1) * w
    macs = 9.0 * channels * w * size * size
    acts = float(w * size * size)
    cin, s = w, size
    for stage, cout in enumerate((w, 2 * w, 4 * w)):
        for i in range(n):
            if stage > 0 and i == 0:
                s = math.ceil(s / 2)
            area = s * s
            params += 9 * cin * cout + 9 * cout * cout + 2 * (bn or 1) * cout
            macs += 9.0 * cin * cout * area + 9.0 * cout * cout * area
            acts += 2.0 * cout * area
            if cfg.residual and cfg.shortcut == "B" and cin != cout:
                params += cin * cout + (bn or 1) * cout
                macs += float(cin * cout * area)
            cin = cout
    params += cin * classes + classes
    macs += cin * classes
    return ModelCost(cfg.depth, params, macs, acts)


@dataclass(frozen=True)
class Estimate:
    steps: int
    params: int  # all models together
    memory_bytes: int
    seconds: float

    def describe(self) -> str:
        return _("about {duration} and {memory} of memory ({params} parameters)").format(
            duration=_duration(self.seconds), memory=_bytes(self.memory_bytes), params=f"{self.params:,}"
        )


def _duration(seconds: float) -> str:
    if seconds < 90:
        return _("{n} s").format(n=f"{seconds:.0f}")
    if seconds < 2 * 3600:
        return _("{n} min").format(n=f"{seconds / 60:.0f}")
    if seconds < 2 * 86400:
        return _("{n} h").format(n=f"{seconds / 3600:.1f}")
    return _("{n} days").format(n=f"{seconds / 86400:,.0f}")


def _bytes(n: float) -> str:
    return f"{n / 2**30:.1f} GB" if n >= 2**30 else f"{n / 2**20:.0f} MB"


def data_shape(data: DataConfig) -> tuple[int, int, int]:
    channels, size, n = DATA_SHAPES.get(data.name, DATA_SHAPES["folder"])
    if data.image_size is not None:
        size = data.image_size
    if data.limit is not None:
        n = min(n, data.limit)
    return channels, size, n


def estimate(models: Sequence[ModelConfig], data: DataConfig, train: TrainConfig, *, gpu: bool = False) -> Estimate:
    """Memory and wall time of training `models` in lockstep on `data` for `train`'s steps."""
    channels, size, n_train = data_shape(data)
    batch = min(train.batch_size, n_train)
    per_epoch = max(1, n_train // batch)
    steps = train.steps if train.epochs is None else max(1, math.ceil(train.epochs * per_epoch))
    flops_rate, overhead = (GPU_FLOPS, GPU_LAYER_OVERHEAD_S) if gpu else (CPU_FLOPS, CPU_LAYER_OVERHEAD_S)
    params, memory, peak, step_s = 0, float(n_train * channels * size * size * BYTES * 2), 0.0, 0.0  # data: train+test
    for cfg in models:
        c = model_cost(cfg, channels, size)
        params += c.params
        memory += c.params * BYTES * 4  # weights, gradients, momentum or Adam's two moments
        peak = max(peak, batch * c.activations * SAVED_PER_CONV * BYTES)
        step_s += c.layers * overhead + 3 * 2 * c.macs * batch / flops_rate  # forward + 2x backward
    return Estimate(steps=steps, params=params, memory_bytes=int(memory + peak), seconds=steps * step_s)


def forward_macs(models: Sequence[ModelConfig], data: DataConfig, batch: int) -> float:
    """Multiply-accumulates of one forward pass of one batch through every model: the work the
    thread policy (resnet_viz.engine.devices.thread_count) sizes threads by."""
    channels, size, n_train = data_shape(data)
    return sum(model_cost(cfg, channels, size).macs for cfg in models) * min(batch, max(1, n_train))


def check_model(cfg: ModelConfig) -> None:
    """Refuse a model too large to build on this server (before anything is allocated)."""
    layers = cfg.depth if cfg.arch == "cifar" else cfg.depth + 1
    if layers > MAX_LAYERS:
        raise JobTooLarge(
            _("depth {depth} is beyond the {most} layers this app builds; choose a smaller depth").format(
                depth=cfg.depth, most=f"{MAX_LAYERS:,}"
            )
        )
    cost = model_cost(cfg, cfg.in_channels, cfg.image_size, cfg.num_classes)
    if cost.params > MAX_PARAMS:
        raise JobTooLarge(
            _(
                "{name} at width {width} would have {params} parameters, more than the "
                "{most} this app builds; lower the width or the depth"
            ).format(name=cfg.name, width=cfg.width, params=f"{cost.params:,}", most=f"{MAX_PARAMS:,}")
        )


def check_job(
    models: Sequence[ModelConfig], data: DataConfig, train: TrainConfig, *, limits: Limits, gpu: bool = False
) -> Estimate:
    """The job's estimate, or JobTooLarge with a sentence naming what to lower."""
    for cfg in models:
        check_model(cfg)
    est = estimate(models, data, train, gpu=gpu)
    if est.memory_bytes > limits.memory_bytes:
        raise JobTooLarge(
            _(
                "This run would need {memory} of memory, more than the {limit} "
                "one job may use on this server; lower the batch size, the width or the depth "
                "(the server's limit is RESNET_VIZ_MAX_JOB_MEMORY_MB)."
            ).format(memory=_bytes(est.memory_bytes), limit=_bytes(limits.memory_bytes))
        )
    if est.seconds > limits.seconds:
        raise JobTooLarge(
            _(
                "This run would take {duration}, longer than the {limit} one job may "
                "take on this server; lower the steps (or epochs), the batch size, the width or the depth "
                "(the server's limit is RESNET_VIZ_MAX_JOB_MINUTES)."
            ).format(duration=_duration(est.seconds), limit=_duration(limits.seconds))
        )
    return est


def check_press(
    jobs: Sequence[tuple[Sequence[ModelConfig], DataConfig, TrainConfig]], *, limits: Limits, gpu: bool = False
) -> list[Estimate]:
    """Every job of one press (a sweep's seeds) within the limits, and their total time too: one
    press must not hold the queue for longer than one job may."""
    ests = [check_job(m, d, t, limits=limits, gpu=gpu) for m, d, t in jobs]
    total = sum(e.seconds for e in ests)
    if total > limits.seconds:
        raise JobTooLarge(
            ngettext(
                "This {n} run would take {duration} together, longer than the "
                "{limit} one press may take on this server; use fewer seeds or depths, or fewer "
                "steps (the server's limit is RESNET_VIZ_MAX_JOB_MINUTES).",
                "These {n} runs would take {duration} together, longer than the "
                "{limit} one press may take on this server; use fewer seeds or depths, or fewer "
                "steps (the server's limit is RESNET_VIZ_MAX_JOB_MINUTES).",
                len(ests),
            ).format(n=len(ests), duration=_duration(total), limit=_duration(limits.seconds))
        )
    return ests


def overdue_numbers(
    elapsed: float, step: int, total: int, limits: Limits, *, grace: float = 1.5
) -> tuple[float, float, float] | None:
    """After `step` of `total` steps in `elapsed` seconds: (seconds per step, projected seconds,
    the limit's seconds) when the measured rate puts the whole run beyond `grace` times the time
    limit, else None. :func:`overdue_sentence` says them."""
    if step < 1 or elapsed <= 0 or total <= step:
        return None
    projected = elapsed / step * total
    if projected <= grace * limits.seconds:
        return None
    return elapsed / step, projected, limits.seconds


def overdue_sentence(per_step: float, projected: float, limit: float) -> str:
    """The sentence a page shows for a run halted by :func:`overdue_numbers`, in the language of
    the context it is called in (a job keeps the numbers and the page says them)."""
    return _(
        "Stopped: at the measured {rate} s per step this run would take {duration}, "
        "longer than the {limit} one job may take on this server; lower the steps, the batch "
        "size, the width or the depth."
    ).format(rate=f"{per_step:.2g}", duration=_duration(projected), limit=_duration(limit))


def overdue(elapsed: float, step: int, total: int, limits: Limits, *, grace: float = 1.5) -> str | None:
    """After `step` of `total` steps in `elapsed` seconds: a sentence when the measured rate puts
    the whole run beyond `grace` times the time limit, else None (re-checked while it trains)."""
    found = overdue_numbers(elapsed, step, total, limits, grace=grace)
    return None if found is None else overdue_sentence(*found)


__all__ = [
    "Estimate",
    "JobTooLarge",
    "Limits",
    "available_memory",
    "check_job",
    "check_model",
    "check_press",
    "estimate",
    "model_cost",
    "overdue",
    "overdue_numbers",
    "overdue_sentence",
]
