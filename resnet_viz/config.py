"""Frozen configuration dataclasses: the only way settings travel between pages, CLI and library.

Each dataclass validates itself in ``__post_init__`` and raises :class:`ConfigError` with a
sentence a learner can act on, so the UI and CLI can show the message instead of a traceback.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

Arch = Literal["cifar", "mlp"]
Activation = Literal["relu", "tanh", "sigmoid"]
Init = Literal["kaiming", "xavier", "fixup", "default"]
Shortcut = Literal["A", "B"]
Optimizer = Literal["sgd", "adam"]
Schedule = Literal["cosine", "constant"]
DevicePref = Literal["auto", "cpu", "cuda", "mps"]

ACTIVATIONS: tuple[str, ...] = ("relu", "tanh", "sigmoid")
INITS: tuple[str, ...] = ("kaiming", "xavier", "fixup", "default")
SHORTCUTS: tuple[str, ...] = ("A", "B")
OPTIMIZERS: tuple[str, ...] = ("sgd", "adam")
SCHEDULES: tuple[str, ...] = ("cosine", "constant")
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda", "mps")


class ConfigError(ValueError):
    """A setting a user chose is not valid; the message says which and what is allowed."""


def valid_cifar_depths(max_depth: int = 1202) -> list[int]:
    """Depths 6n+2 (He et al. 2016 §4.2): 8, 14, 20, 26, 32, ..."""
    return [6 * n + 2 for n in range(1, (max_depth - 2) // 6 + 1)]


def check_cifar_depth(depth: int) -> None:
    if depth < 8 or (depth - 2) % 6 != 0:
        shown = ", ".join(str(d) for d in valid_cifar_depths(110))
        raise ConfigError(
            f"depth {depth} is not of the form 6n+2 (stem + 3 stages of n two-layer blocks + head); "
            f"valid depths are {shown}, ..."
        )


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")


def _positive(name: str, value: float, *, integer: bool = False) -> None:
    if integer and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{name} must be a whole number; got {value!r}")
    if not value > 0:
        raise ConfigError(f"{name} must be positive; got {value!r}")


@dataclass(frozen=True)
class ModelConfig:
    arch: Arch = "cifar"  # "cifar": conv net of depth 6n+2 (He et al. 2016 §4.2); "mlp": fully connected
    depth: int = 20  # cifar: weighted layers, 6n+2; mlp: hidden layers
    width: int = 8  # cifar: channels of stage 1 (stages use w, 2w, 4w; paper: 16); mlp: hidden units
    residual: bool = True  # add the identity shortcut y = F(x) + alpha * x
    alpha: float = 1.0  # skip strength when residual; 0 behaves exactly like a plain net
    shortcut: Shortcut = "A"  # "A": parameter-free zero-padded identity; "B": 1x1 projection when shapes change
    preact: bool = False  # pre-activation blocks (He et al. 2016b): BN-act-conv, no act after the add
    bn: bool = True  # BatchNorm after every conv (before it, for pre-activation)
    activation: Activation = "relu"  # nonlinearity at every activation site
    init: Init = "kaiming"  # weight init; "fixup" scales branches for BN-free residual nets (Zhang et al. 2019)
    zero_init_last_bn: bool = False  # start each block's last BN at gamma=0, so each block starts as identity
    in_channels: int = 1  # image channels (digits: 1, shapes/CIFAR: 3)
    image_size: int = 8  # input height = width in pixels (the MLP's input size depends on it)
    num_classes: int = 10  # classifier outputs

    def __post_init__(self) -> None:
        _choice("arch", self.arch, ("cifar", "mlp"))
        if self.arch == "cifar" and isinstance(self.depth, int):
            check_cifar_depth(self.depth)
        _positive("depth", self.depth, integer=True)
        _positive("width", self.width, integer=True)
        _choice("shortcut", self.shortcut, SHORTCUTS)
        _choice("activation", self.activation, ACTIVATIONS)
        _choice("init", self.init, INITS)
        _positive("in_channels", self.in_channels, integer=True)
        _positive("image_size", self.image_size, integer=True)
        _positive("num_classes", self.num_classes, integer=True)
        if self.num_classes < 2:
            raise ConfigError(f"num_classes must be at least 2; got {self.num_classes}")
        if not -10.0 <= float(self.alpha) <= 10.0:
            raise ConfigError(f"alpha (skip strength) must lie in [-10, 10]; got {self.alpha}")
        if self.init == "fixup" and not self.residual:
            # Fixup zeroes the last layer of every block: a plain net's output and every gradient
            # are then exactly 0, and its failure would be blamed on the missing shortcut.
            raise ConfigError(
                "init fixup needs residual blocks: it starts each block's last layer at zero, which leaves a "
                "plain net dead (output and every gradient exactly 0); choose kaiming or xavier for the plain "
                "twin, or train the residual model alone"
            )

    @property
    def kind(self) -> str:
        """"plain" or "residual": what the learner compares."""
        return "residual" if self.residual else "plain"

    @property
    def name(self) -> str:
        """Short label used in charts and run ids, e.g. "plain-56", "residual-20", "mlp-plain-10"."""
        prefix = "mlp-" if self.arch == "mlp" else ""
        return f"{prefix}{self.kind}-{self.depth}"


@dataclass(frozen=True)
class DataConfig:
    name: str = "digits"  # registry key: digits, shapes, cifar10, mnist, fashion_mnist, folder
    root: str | None = None  # downloads cache (default ~/.cache/resnet_viz/data) or the ImageFolder path
    image_size: int | None = None  # resize to this many pixels square; None keeps the dataset's own (shapes: 32)
    augment: bool = False  # random crop (padding size/8) + horizontal flip, batched on the device
    seed: int = 0  # seed of generated data (shapes) and of the `limit` subset; test splits never change
    limit: int | None = None  # keep at most this many training images (quick demos on big datasets)

    def __post_init__(self) -> None:
        if self.image_size is not None:
            _positive("image_size", self.image_size, integer=True)
            if self.image_size < 4:
                raise ConfigError(f"image_size must be at least 4 pixels; got {self.image_size}")
        if self.limit is not None:
            _positive("limit", self.limit, integer=True)


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 200  # optimiser steps per model (ignored when epochs is set)
    epochs: float | None = None  # train for this many passes over the training set instead of `steps`
    batch_size: int = 64  # images per step, identical for every twin
    optimizer: Optimizer = "sgd"  # "sgd" (with momentum) or "adam"
    lr: float = 0.1  # peak learning rate
    momentum: float = 0.9  # SGD momentum (Adam uses its own betas)
    weight_decay: float = 1e-4  # L2 penalty, the paper's 0.0001
    schedule: Schedule = "cosine"  # "cosine": decays to 0 over the run; "constant"
    warmup_steps: int = 0  # steps at lr/10 before the peak (the paper's ResNet-110 warm-up)
    seed: int = 0  # seeds model init and the batch order; twins share it
    probe_every: int = 10  # steps between gradient/activation probes (0: never)
    log_every: int = 10  # steps between device->host copies of the per-step loss/accuracy
    device: DevicePref = "auto"  # "auto": CUDA > MPS > CPU

    def __post_init__(self) -> None:
        _positive("steps", self.steps, integer=True)
        if self.epochs is not None:
            _positive("epochs", self.epochs)
        _positive("batch_size", self.batch_size, integer=True)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _positive("lr", self.lr)
        if not 0.0 <= self.momentum < 1.0:
            raise ConfigError(f"momentum must lie in [0, 1); got {self.momentum}")
        if self.weight_decay < 0:
            raise ConfigError(f"weight_decay must not be negative; got {self.weight_decay}")
        _choice("schedule", self.schedule, SCHEDULES)
        if self.warmup_steps < 0 or self.probe_every < 0:
            raise ConfigError("warmup_steps and probe_every must not be negative")
        _positive("log_every", self.log_every, integer=True)
        _choice("device", self.device, DEVICES)


C = TypeVar("C", ModelConfig, DataConfig, TrainConfig)


def to_dict(cfg: ModelConfig | DataConfig | TrainConfig) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def from_dict(cls: type[C], data: dict[str, Any]) -> C:
    """Build a config from a stored dict, ignoring keys this version does not know (older/newer runs)."""
    known = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in known})


__all__ = [
    "ConfigError",
    "DataConfig",
    "ModelConfig",
    "TrainConfig",
    "check_cifar_depth",
    "from_dict",
    "to_dict",
    "valid_cifar_depths",
]
