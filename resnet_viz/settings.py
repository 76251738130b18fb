"""The live page's settings as one frozen dataclass, and their round trip through a URL query.

A teacher shares a link; the page opens with the same configuration. Anything in the URL that is
not valid is dropped with a sentence saying why, so a mistyped link never becomes a traceback.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .config import ConfigError, DataConfig, ModelConfig, TrainConfig

Which = Literal["both", "plain", "residual"]


@dataclass(frozen=True)
class TwinSettings:
    dataset: str = "digits"  # registry key (resnet_viz.data.DATASETS)
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

    def model_configs(self) -> list[ModelConfig]:
        kinds = {"both": (False, True), "plain": (False,), "residual": (True,)}[self.models]
        return [
            ModelConfig(depth=self.depth, width=self.width, residual=r, alpha=self.alpha, shortcut=self.shortcut,  # type: ignore[arg-type]
                        preact=self.preact, bn=self.bn, activation=self.activation, init=self.init)  # type: ignore[arg-type]
            for r in kinds
        ]  # fmt: skip

    def data_config(self) -> DataConfig:
        return DataConfig(name=self.dataset, augment=self.augment, seed=self.seed)

    def train_config(self, **overrides: Any) -> TrainConfig:
        return TrainConfig(
            steps=self.steps, epochs=self.epochs or None, batch_size=self.batch_size,
            optimizer=self.optimizer, lr=self.lr, seed=self.seed, **overrides,  # type: ignore[arg-type]
        )  # fmt: skip

    def validate(self) -> None:
        """Raise ConfigError for a combination no model/data/train config accepts."""
        from .data import DATASETS

        if self.dataset not in DATASETS:
            raise ConfigError(f"dataset must be one of {', '.join(DATASETS)}; got {self.dataset!r}")
        if self.models not in ("both", "plain", "residual"):
            raise ConfigError(f"models must be both, plain or residual; got {self.models!r}")
        self.model_configs()
        self.data_config()
        self.train_config()


_FIELDS = {f.name: f for f in dataclasses.fields(TwinSettings)}
_DEFAULT = TwinSettings()


def _parse(name: str, text: str) -> Any:
    kind = type(getattr(_DEFAULT, name))
    if kind is bool:
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name} must be true or false; got {text!r}")
    try:
        return kind(text)
    except ValueError:
        raise ConfigError(f"{name} must be a {'whole number' if kind is int else 'number'}; got {text!r}") from None


def from_query(query: Mapping[str, str | list[str]]) -> tuple[TwinSettings, list[str]]:
    """Settings from URL query parameters; unknown keys are ignored, invalid values are dropped
    (keeping the default) and reported one sentence each."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name in _FIELDS:
        if name not in query:
            continue
        raw = query[name]
        text = raw[-1] if isinstance(raw, list) else raw
        try:
            candidate = dataclasses.replace(_DEFAULT, **values, **{name: _parse(name, str(text))})
            candidate.validate()
        except (ConfigError, TypeError) as exc:
            problems.append(f"Ignored {name}={text} from the link: {exc}.")
            continue
        values[name] = getattr(candidate, name)
    return TwinSettings(**values), problems


def to_query(settings: TwinSettings) -> dict[str, str]:
    """Only what differs from the defaults, so shared links stay short and readable."""
    out = {}
    for name in _FIELDS:
        value = getattr(settings, name)
        if value != getattr(_DEFAULT, name):
            out[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return out
