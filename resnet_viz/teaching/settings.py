"""The pages' settings as frozen dataclasses: their defaults, the recipe each dataset trains
with, and the range each widget offers. How they travel in a URL is :mod:`resnet_viz.teaching.links`;
`LIVE_LINK` and `SWEEP_LINK` below name the URL key of each setting.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..degradation.sweep import DEMO, KINDS, SweepConfig
from ..engine.config import ConfigError, DataConfig, ModelConfig, TrainConfig, valid_cifar_depths
from ..i18n import N_, _
from .links import Link, LinkSpec

Which = Literal["both", "plain", "residual"]


def _shown(v: float) -> str:
    """1e-05, 0.1, 10, 100,000: a bound or a value as a learner reads it."""
    return f"{v:,}" if isinstance(v, int) else f"{v:g}"


@dataclass(frozen=True)
class Span:
    """The range a number widget offers; the widget is built from it, so the two cannot differ."""

    lo: float  # smallest value the widget takes
    hi: float  # largest

    def check(self, name: str, value: float) -> None:
        if not self.lo <= value <= self.hi:  # NaN fails both comparisons
            raise ConfigError(
                _("{name} must be from {lo} to {hi} on this page; got {value}").format(
                    name=name, lo=_shown(self.lo), hi=_shown(self.hi), value=_shown(value)
                )
            )


@dataclass(frozen=True)
class Options:
    """The choices a select widget offers (values, not labels)."""

    values: tuple[Any, ...]
    note: str = ""  # what the values are, e.g. "6n+2 layers" (marked with N_(), translated where shown)

    def check(self, name: str, value: Any) -> None:
        if value not in self.values:
            template = (
                _("{name} must be one of {choices} ({note}) on this page; got {value}")
                if self.note
                else _("{name} must be one of {choices} on this page; got {value}")
            )
            raise ConfigError(
                template.format(
                    name=name,
                    choices=", ".join(map(str, self.values)),
                    note=_(self.note) if self.note else "",
                    value=value,
                )
            )


Bound = Span | Options


def _check_bounds(settings: Any, bounds: Mapping[str, Bound]) -> None:
    for name, bound in bounds.items():
        value = getattr(settings, name)
        for item in value if isinstance(value, tuple) else (value,):
            bound.check(name, item)


def _check_dataset(name: str) -> None:
    from ..engine.data import DATASETS, WEB_DATASETS

    if name not in WEB_DATASETS:
        template = (
            _(
                "dataset must be one of {choices}; got {value} (the image folder needs a folder on the server: "
                "use `resnet-viz train --dataset folder --data-root DIR`)"
            )
            if name in DATASETS
            else _("dataset must be one of {choices}; got {value}")
        )
        raise ConfigError(template.format(choices=", ".join(WEB_DATASETS), value=repr(name)))


# -- the live page ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TwinSettings:
    dataset: str = "digits"  # registry key (resnet_viz.engine.data.WEB_DATASETS)
    depth: int = 56  # 6n+2; 56 shows degradation on digits in well under a minute on a CPU
    width: int = 8  # stage-1 channels (paper 16; 8 keeps the CPU demo fast)
    models: Which = "both"  # which of the twins to train
    bn: bool = True  # BatchNorm
    activation: str = "relu"  # relu / tanh / sigmoid
    init: str = "kaiming"  # kaiming / xavier / fixup / default
    optimizer: str = "sgd"  # sgd (momentum 0.9) / adam
    lr: float = 0.1  # peak learning rate (cosine decay)
    batch_size: int = 64  # images per step
    steps: int = 200  # optimiser steps (ignored when epochs > 0)
    epochs: float = 0.0  # 0: use steps
    seed: int = 0  # init and batch order, shared by the twins
    shortcut: str = "A"  # A: zero-padded identity, B: 1x1 projection
    preact: bool = False  # pre-activation blocks
    alpha: float = 1.0  # skip strength of the residual twin
    augment: bool = False  # random crop + flip
    warmup: int = 0  # steps at lr/10 before the peak (a gentle start for deep nets)

    def model_configs(self) -> list[ModelConfig]:
        kinds = {"both": (False, True), "plain": (False,), "residual": (True,)}[self.models]
        return [
            ModelConfig(
                depth=self.depth,
                width=self.width,
                residual=r,
                alpha=self.alpha,
                shortcut=self.shortcut,  # type: ignore[arg-type]
                preact=self.preact,
                bn=self.bn,
                activation=self.activation,
                init=self.init,
            )  # type: ignore[arg-type]
            for r in kinds
        ]

    def data_config(self) -> DataConfig:
        return DataConfig(name=self.dataset, augment=self.augment, seed=self.seed)

    def train_config(self, **overrides: Any) -> TrainConfig:
        return TrainConfig(
            steps=self.steps,
            epochs=self.epochs or None,
            batch_size=self.batch_size,
            optimizer=self.optimizer,
            lr=self.lr,
            warmup_steps=self.warmup,
            seed=self.seed,
            **overrides,  # type: ignore[arg-type]
        )

    def validate(self) -> None:
        """Raise ConfigError for a value the page's widgets do not offer, or a combination no
        model/data/train config accepts."""
        _check_dataset(self.dataset)
        if self.models not in ("both", "plain", "residual"):
            raise ConfigError(_("models must be both, plain or residual; got {value}").format(value=repr(self.models)))
        _check_bounds(self, LIVE_BOUNDS)
        self.model_configs()
        self.data_config()
        self.train_config()


# The recipe each offline dataset opens with: what a learner who picks it and presses Train
# without touching anything else needs, for the twins to show the lesson in a few CPU minutes.
# Shapes, measured with bench/bench_shapes_recipe.py (figures in the README): at lr 0.1 a deep
# residual net stalls near chance on some seeds (the paper warms ResNet-110 up at lr/10 for the
# same reason); at lr 0.05, depth 32, 200 steps, residual-32 ends at 95-99% on seeds 0-2 and
# plain-32 at 31-48%, the pair in about 3 min on one thread. 300 steps let plain-32 catch up to
# 57-82%; depth 44 takes 5 min a pair.
@dataclass(frozen=True)
class Recipe:
    depth: int
    width: int
    steps: int
    lr: float
    warmup: int  # steps at lr/10 before the peak


RECIPES: dict[str, Recipe] = {
    "digits": Recipe(depth=56, width=8, steps=200, lr=0.1, warmup=0),
    "shapes": Recipe(depth=32, width=8, steps=200, lr=0.05, warmup=0),
    # 64x64 is 4x the pixels of shapes: at depth 20, 300 steps, lr 0.05 both twins reach ~89%
    # (train and test, seed 0) in about 6 min a pair on one thread; the digits recipe (depth 56)
    # would be refused by the server's 15-minute limit.
    "clutter": Recipe(depth=20, width=8, steps=300, lr=0.05, warmup=0),
}


RECIPE_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Recipe))


def twin_defaults(dataset: str) -> TwinSettings:
    """The live page's defaults for `dataset`: its recipe where it has one, else the digits one."""
    recipe = RECIPES.get(dataset, RECIPES["digits"])
    return dataclasses.replace(TwinSettings(dataset=dataset), **dataclasses.asdict(recipe))


# What each widget of the live page offers. Every range lies inside what the configs accept
# (TrainConfig takes any finite lr > 0, seeds up to 2**32 - 1, up to 10 million steps); the
# page's widgets are built from these, and a link outside them is reported, not dropped silently.
LIVE_BOUNDS: dict[str, Bound] = {
    "depth": Options(tuple(valid_cifar_depths(110)), N_("6n+2 layers")),
    "width": Options((4, 8, 16, 32, 64)),
    "activation": Options(("relu", "tanh", "sigmoid")),
    "init": Options(("kaiming", "xavier", "fixup", "default")),
    "optimizer": Options(("sgd", "adam")),
    "batch_size": Options((16, 32, 64, 128, 256, 512)),
    "steps": Span(1, 100_000),
    "lr": Span(1e-5, 10.0),
    "seed": Span(0, 10_000),
    "epochs": Span(0.0, 1000.0),
    "shortcut": Options(("A", "B")),
    "alpha": Span(0.0, 2.0),
    "warmup": Span(0, 10_000),
}


# -- the degradation page -----------------------------------------------------------------------


@dataclass(frozen=True)
class SweepSettings:
    """The degradation page's widgets; ``sweep_config()`` is the sweep they describe."""

    dataset: str = DEMO.data.name  # registry key (resnet_viz.engine.data.WEB_DATASETS)
    depths: tuple[int, ...] = DEMO.depths  # 6n+2 layers, one run per depth and kind
    kinds: tuple[str, ...] = DEMO.kinds  # plain and/or residual
    budget: str = "steps"  # what `amount` counts: "steps" or "epochs"
    amount: int = DEMO.train.steps  # steps or epochs per model
    seeds: int = len(DEMO.seeds)  # how many seeds: 0, 1, ... (init and batch order)
    width: int = DEMO.model.width  # stage-1 channels
    lr: float = DEMO.train.lr  # peak learning rate
    batch_size: int = DEMO.train.batch_size  # images per step
    augment: bool = DEMO.data.augment  # random crop + flip
    warmup: int = DEMO.deep_warmup_steps  # steps at lr/10 for depth 110 (paper: 400)

    @classmethod
    def from_sweep(cls, sweep: SweepConfig) -> SweepSettings:
        """The widgets' values that describe `sweep` (a preset loaded into the page)."""
        return cls(
            dataset=sweep.data.name,
            depths=tuple(sweep.depths),
            kinds=tuple(sweep.kinds),
            budget="epochs" if sweep.train.epochs else "steps",
            amount=int(sweep.train.epochs or sweep.train.steps),
            seeds=len(sweep.seeds),
            width=sweep.model.width,
            lr=sweep.train.lr,
            batch_size=sweep.train.batch_size,
            augment=sweep.data.augment,
            warmup=sweep.deep_warmup_steps,
        )

    def sweep_config(self) -> SweepConfig:
        epochs = float(self.amount) if self.budget == "epochs" else None
        return SweepConfig(
            depths=self.depths,
            kinds=self.kinds,
            seeds=tuple(range(self.seeds)),  # type: ignore[arg-type]
            model=ModelConfig(width=self.width),
            data=DataConfig(name=self.dataset, augment=self.augment),
            train=TrainConfig(
                steps=int(self.amount) if epochs is None else DEMO.train.steps,
                epochs=epochs,
                batch_size=self.batch_size,
                lr=self.lr,
                probe_every=DEMO.train.probe_every,
            ),
            deep_warmup_steps=int(self.warmup),
        )

    def validate(self) -> None:
        _check_dataset(self.dataset)
        _check_bounds(self, SWEEP_BOUNDS)
        self.sweep_config()


SWEEP_BOUNDS: dict[str, Bound] = {
    "depths": Options(tuple(valid_cifar_depths(110)), N_("6n+2 layers")),
    "kinds": Options(KINDS),
    "budget": Options(("steps", "epochs")),
    "amount": Span(1, 100_000),  # within TrainConfig's 10 million steps and 100,000 epochs
    "seeds": Span(1, 5),
    "width": Options((4, 8, 16, 32)),
    "lr": Span(1e-4, 10.0),
    "batch_size": Options((16, 32, 64, 128, 256)),
    "warmup": Span(0, 10_000),
}


def sweep_defaults(dataset: str) -> SweepSettings:
    """The degradation page's defaults for `dataset`: the home demo on digits; elsewhere the
    dataset's recipe (its steps, width and learning rate), at depth 20 and the recipe's depth."""
    if dataset == "digits" or dataset not in RECIPES:
        return dataclasses.replace(SweepSettings(), dataset=dataset)
    r = RECIPES[dataset]
    return dataclasses.replace(
        SweepSettings(), dataset=dataset, depths=tuple(sorted({20, r.depth})), amount=r.steps, width=r.width, lr=r.lr
    )


LIVE_LINK: LinkSpec[TwinSettings] = LinkSpec(
    TwinSettings(), {f.name: f.name for f in dataclasses.fields(TwinSettings)}, for_dataset=twin_defaults
)
SWEEP_RECIPE_FIELDS: tuple[str, ...] = ("depths", "amount", "width", "lr")


SWEEP_LINK: LinkSpec[SweepSettings] = LinkSpec(
    SweepSettings(),
    {
        "sw_dataset": "dataset",
        "sw_depths": "depths",
        "sw_kinds": "kinds",
        "sw_budget": "budget",
        "sw_amount": "amount",
        "sw_seeds": "seeds",
        "sw_width": "width",
        "sw_lr": "lr",
        "sw_batch": "batch_size",
        "sw_augment": "augment",
        "sw_warmup": "warmup",
    },
    for_dataset=sweep_defaults,
)


__all__ = [
    "LIVE_BOUNDS",
    "LIVE_LINK",
    "RECIPES",
    "RECIPE_FIELDS",
    "SWEEP_BOUNDS",
    "SWEEP_LINK",
    "SWEEP_RECIPE_FIELDS",
    "Link",
    "LinkSpec",
    "Options",
    "Recipe",
    "Span",
    "SweepSettings",
    "TwinSettings",
    "sweep_defaults",
    "twin_defaults",
]
