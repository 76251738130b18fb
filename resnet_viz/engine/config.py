"""Frozen configuration dataclasses: the only way settings travel between pages, CLI and library.

Each dataclass validates itself in ``__post_init__`` and raises :class:`ConfigError` with a
sentence a learner can act on, so the UI and CLI can show the message instead of a traceback.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from resnet_viz.i18n import N_, _

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
            _(
                "depth {depth} is not of the form 6n+2 (stem + 3 stages of n two-layer blocks + head); "
                "valid depths are {depths}, ..."
            ).format(depth=depth, depths=shown)
        )


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(
            _("{name} must be one of {choices}; got {value}").format(
                name=name, choices=", ".join(allowed), value=repr(value)
            )
        )


# Seeds reach torch.manual_seed (any integer in [-2**63, 2**64 - 1]) and numpy (default_rng takes
# any non-negative integer, the legacy RandomState only those below 2**32). One bound that every
# one of them accepts, 0 to 2**32 - 1, lets a seed travel anywhere, including seed + 1 (the
# augmentation stream), and never surfaces as an overflow deep inside a library.
MAX_SEED = 2**32 - 1
# A bound on optimiser steps, so a typo cannot queue a run that never ends: 10 million steps take
# about 3 hours at 1 ms a step (a tiny net on a GPU) and 4 days at the CPU demo's ~36 ms, against
# the 64,000 iterations of the paper's CIFAR-10 runs (He et al. 2016 §4.2).
MAX_STEPS = 10**7
# Epochs are bounded for the same reason before the dataset's size is known (the step count of an
# epoch budget is checked against MAX_STEPS once it is): the paper's CIFAR-10 schedule is ~182
# epochs; 100,000 is the most the degradation page's budget field offers.
MAX_EPOCHS = 100_000
# Pixels per side: the nets here are CIFAR-style (32 px in the paper) and ImageNet models take
# 224; at 1024 px one CIFAR-10 training copy is already 630 GB of floats.
MAX_IMAGE_SIZE = 1024


def _number(name: str, value: Any) -> float:
    """A finite real number (bools are not numbers here), or a ConfigError that says so."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(_("{name} must be a number; got {value}").format(name=name, value=repr(value)))
    if not math.isfinite(value):
        raise ConfigError(_("{name} must be a finite number; got {value}").format(name=name, value=repr(value)))
    return float(value)


def _positive(name: str, value: float, *, integer: bool = False) -> None:
    if integer and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(_("{name} must be a whole number; got {value}").format(name=name, value=repr(value)))
    if not integer:
        _number(name, value)  # inf is positive too: without this, lr=inf would pass
    if not value > 0:
        raise ConfigError(_("{name} must be positive; got {value}").format(name=name, value=repr(value)))


def _at_most(name: str, value: float, bound: float, why: str) -> None:
    """`why` is a template marked with N_(), translated here."""
    if value > bound:
        raise ConfigError(
            _("{name} must be at most {bound}; got {value} ({why})").format(
                name=name, bound=f"{bound:,}", value=f"{value:,}", why=_(why)
            )
        )


def check_seed(name: str, value: Any) -> None:
    """A seed every random generator here accepts: a whole number from 0 to MAX_SEED (2**32 - 1)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        raise ConfigError(
            _(
                "{name} must be a whole number from 0 to {most} (2**32 - 1, the range numpy and "
                "torch both accept); got {value}"
            ).format(name=name, most=f"{MAX_SEED:,}", value=repr(value))
        )


def check_total_steps(total: int, *, what: str | None = None) -> None:
    """Refuse a step count (e.g. epochs x batches per epoch, known once the data are) over MAX_STEPS.
    `what` names the run in the sentence (the CLI's "3 epochs"); None: "this run"."""
    if total > MAX_STEPS:
        template = (
            _(
                "this run would take {total} optimiser steps, more than the {most} allowed (that many take "
                "hours on a GPU, days on a CPU); lower the steps or epochs, or raise the batch size"
            )
            if what is None
            else _(
                "{what} would take {total} optimiser steps, more than the {most} allowed (that many take "
                "hours on a GPU, days on a CPU); lower the steps or epochs, or raise the batch size"
            )
        )
        raise ConfigError(template.format(what=what, total=f"{total:,}", most=f"{MAX_STEPS:,}"))


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
            raise ConfigError(_("num_classes must be at least 2; got {value}").format(value=self.num_classes))
        if not -10.0 <= _number("alpha", self.alpha) <= 10.0:
            raise ConfigError(_("alpha (skip strength) must lie in [-10, 10]; got {value}").format(value=self.alpha))
        if self.init == "fixup" and not self.residual:
            # Fixup zeroes the last layer of every block: a plain net's output and every gradient
            # are then exactly 0, and its failure would be blamed on the missing shortcut.
            raise ConfigError(
                _(
                    "init fixup needs residual blocks: it starts each block's last layer at zero, which leaves a "
                    "plain net dead (output and every gradient exactly 0); choose kaiming or xavier for the plain "
                    "twin, or train the residual model alone"
                )
            )

    @property
    def kind(self) -> str:
        """ "plain" or "residual": what the learner compares."""
        return "residual" if self.residual else "plain"

    @property
    def name(self) -> str:
        """Short label used in charts and run ids, e.g. "plain-56", "residual-20", "mlp-plain-10"."""
        prefix = "mlp-" if self.arch == "mlp" else ""
        return f"{prefix}{self.kind}-{self.depth}"


@dataclass(frozen=True)
class DataConfig:
    name: str = "digits"  # registry key: digits, shapes, clutter, cifar10, mnist, fashion_mnist, folder
    root: str | None = None  # downloads cache (default ~/.cache/resnet_viz/data) or the ImageFolder path
    image_size: int | None = (
        None  # resize to this many pixels square; None keeps the dataset's own (shapes: 32, clutter: 64)
    )
    augment: bool = False  # random crop (padding size/8) + horizontal flip, batched on the device
    seed: int = 0  # seed of generated data (shapes, clutter) and of the `limit` subset; test splits never change
    limit: int | None = None  # keep at most this many training images (quick demos on big datasets)

    def __post_init__(self) -> None:
        if self.image_size is not None:
            _positive("image_size", self.image_size, integer=True)
            if self.image_size < 4:
                raise ConfigError(_("image_size must be at least 4 pixels; got {value}").format(value=self.image_size))
            _at_most(
                "image_size",
                self.image_size,
                MAX_IMAGE_SIZE,
                N_("the nets here are built for 8 to 32 pixels, ImageNet models for 224"),
            )
        check_seed("seed", self.seed)
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
        # Non-finite numbers are refused outright: lr=inf or weight_decay=nan would not fail here
        # but turn the first step's weights into NaN, and the run would read as a diverged net.
        _positive("steps", self.steps, integer=True)
        _at_most("steps", self.steps, MAX_STEPS, N_("10 million steps already take hours on a GPU, days on a CPU"))
        if self.epochs is not None:
            _positive("epochs", self.epochs)
            _at_most("epochs", self.epochs, MAX_EPOCHS, N_("the paper trains CIFAR-10 for about 182"))
        _positive("batch_size", self.batch_size, integer=True)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _positive("lr", self.lr)
        if not 0.0 <= _number("momentum", self.momentum) < 1.0:
            raise ConfigError(_("momentum must lie in [0, 1); got {value}").format(value=self.momentum))
        if _number("weight_decay", self.weight_decay) < 0:
            raise ConfigError(_("weight_decay must not be negative; got {value}").format(value=self.weight_decay))
        _choice("schedule", self.schedule, SCHEDULES)
        for name in ("warmup_steps", "probe_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(
                    _("{name} must be a whole number, 0 or more; got {value}").format(name=name, value=repr(value))
                )
        _at_most("warmup_steps", self.warmup_steps, MAX_STEPS, N_("no run takes more steps than that"))
        check_seed("seed", self.seed)
        _positive("log_every", self.log_every, integer=True)
        _choice("device", self.device, DEVICES)


C = TypeVar("C", ModelConfig, DataConfig, TrainConfig)


def to_dict(cfg: ModelConfig | DataConfig | TrainConfig) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def from_dict(cls: type[C], data: dict[str, Any]) -> C:
    """Build a config from a stored dict, ignoring keys this version does not know (older/newer runs).

    A stored dict is outside input (a hand-edited config.json, a folder copied from elsewhere), so
    every known value is checked against its field's type first and any failure is a ConfigError
    naming the field: "alpha": "x" would otherwise escape as float()'s ValueError, and "alpha": "1.5"
    would pass __post_init__ only to be multiplied into a tensor later.
    """
    import math
    import types
    import typing

    if not isinstance(data, dict):
        raise ConfigError(
            _("a {config} must be a JSON object; got {kind}").format(config=cls.__name__, kind=type(data).__name__)
        )

    def shown(value: Any) -> str:
        text = repr(value)  # a damaged file may hold megabytes in one value: quote only its start
        return text if len(text) <= 40 else text[:37] + "..."

    def checked(name: str, hint: Any, value: Any) -> Any:
        args = typing.get_args(hint)
        if typing.get_origin(hint) is Literal:
            if not isinstance(value, str) or value not in args:
                raise ConfigError(
                    _("{name} must be one of {choices}; got {value}").format(
                        name=name, choices=", ".join(map(str, args)), value=shown(value)
                    )
                )
            return value
        if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:  # X | None
            if value is None and type(None) in args:
                return None
            hint = next(a for a in args if a is not type(None))
        if hint is bool and not isinstance(value, bool):
            raise ConfigError(_("{name} must be true or false; got {value}").format(name=name, value=shown(value)))
        if hint is int and (isinstance(value, bool) or not isinstance(value, int) or abs(value) >= 2**63):
            # 2**63: JSON integers are unbounded, numpy/torch seeds and tensor sizes are not
            raise ConfigError(_("{name} must be a whole number; got {value}").format(name=name, value=shown(value)))
        if hint is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or abs(value) >= 2**63:
                raise ConfigError(_("{name} must be a number; got {value}").format(name=name, value=shown(value)))
            value = float(value)
            if not math.isfinite(value):  # json.loads accepts NaN and Infinity; the writer never stores them
                raise ConfigError(_("{name} must be a finite number; got {value}").format(name=name, value=value))
        if hint is str and not isinstance(value, str):
            raise ConfigError(_("{name} must be text; got {value}").format(name=name, value=shown(value)))
        return value

    hints = typing.get_type_hints(cls)
    values = {f.name: checked(f.name, hints[f.name], data[f.name]) for f in dataclasses.fields(cls) if f.name in data}
    try:
        return cls(**values)
    except ConfigError:
        raise
    except (TypeError, ValueError, OverflowError) as e:  # a check in __post_init__ that met a value it did not expect
        raise ConfigError(_("invalid {config}: {problem}").format(config=cls.__name__, problem=e)) from e


__all__ = [
    "MAX_EPOCHS",
    "MAX_IMAGE_SIZE",
    "MAX_SEED",
    "MAX_STEPS",
    "ConfigError",
    "DataConfig",
    "ModelConfig",
    "TrainConfig",
    "check_cifar_depth",
    "check_seed",
    "check_total_steps",
    "from_dict",
    "to_dict",
    "valid_cifar_depths",
]
