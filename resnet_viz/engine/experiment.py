"""From configs to stored results: the one code path the CLI and the app's runner share.

``run_twins`` loads the data, builds every model from the same seed, trains them in lockstep with
:func:`resnet_viz.engine.train.train` and writes each model as a run in the run store.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from .config import DataConfig, ModelConfig, TrainConfig
from .data import Dataset, load_dataset
from .devices import select_device
from .history import History, Update
from .models import build_model, count_params
from .runs import RunStore
from .train import train

SNAPSHOTS = 5  # weight snapshots kept per stored run (init, three between, end): Grad-CAM over training


@dataclass(frozen=True)
class ModelResult:
    config: ModelConfig  # as trained: channels, size and classes taken from the dataset
    params: int
    history: History
    run_id: str | None  # None when no store was given

    def summary(self) -> dict[str, object]:
        """The fields of `resnet-viz train --json`, one entry per model."""
        s = self.history.summary()
        return {
            "model": self.config.kind,
            "name": self.config.name,
            "depth": self.config.depth,
            "params": self.params,
            "status": s["status"],
            "steps": s["steps"],
            "train_loss": s["train_loss"],
            "train_acc": s["train_acc"],
            "test_loss": s["test_loss"],
            "test_acc": s["test_acc"],
            "diverged_at": s["diverged_at"],
            "seconds": s["seconds"],
            "run_id": self.run_id,
        }


def fit_to_data(cfg: ModelConfig, data: Dataset) -> ModelConfig:
    """The model's input and output follow the dataset, whatever the config said."""
    return dataclasses.replace(
        cfg, in_channels=data.in_channels, image_size=data.image_size, num_classes=data.num_classes
    )


def build_twins(cfgs: Sequence[ModelConfig], seed: int) -> list[nn.Module]:
    """Each model starts from the same seed: with shortcut A plain and residual twins get
    bit-identical weights, so any difference later comes from the architecture alone."""
    models = []
    for cfg in cfgs:
        torch.manual_seed(seed)
        models.append(build_model(cfg))
    return models


def unique_names(cfgs: Sequence[ModelConfig]) -> list[str]:
    names: list[str] = []
    for cfg in cfgs:
        name, k = cfg.name, 2
        while name in names:
            name, k = f"{cfg.name}#{k}", k + 1
        names.append(name)
    return names


def run_twins(
    model_cfgs: Sequence[ModelConfig],
    data_cfg: DataConfig,
    train_cfg: TrainConfig,
    *,
    store: RunStore | None = None,
    on_update: Callable[[Update], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    dataset: Dataset | None = None,
    group: str | None = None,
) -> list[ModelResult]:
    """Train `model_cfgs` side by side on identical batches; store each as a run when `store` is given.

    Raises ConfigError / DatasetUnavailable for bad settings before anything is written.
    """
    data = dataset if dataset is not None else load_dataset(data_cfg)
    device = select_device(train_cfg.device)
    cfgs = [fit_to_data(c, data) for c in model_cfgs]
    models = build_twins(cfgs, train_cfg.seed)
    names = unique_names(cfgs)
    run_ids: list[str | None] = [None] * len(cfgs)
    if store is not None:
        group = group or uuid.uuid4().hex[:8]
        run_ids = [store.create(c, data_cfg, train_cfg, group=group, label=n) for c, n in zip(cfgs, names)]
    by_name = dict(zip(names, run_ids))

    def keep_snapshot(name: str, step: int, state: dict[str, torch.Tensor]) -> None:
        store.save_weights(by_name[name], state, step=step)  # type: ignore[union-attr,arg-type]

    try:
        histories = train(
            list(zip(names, models)),
            data,
            train_cfg,
            device=device,
            on_update=on_update,
            should_stop=should_stop,
            augment=data_cfg.augment,
            snapshots=SNAPSHOTS,
            on_snapshot=keep_snapshot if store is not None else None,
        )
    except BaseException as exc:
        if store is not None:
            for rid in run_ids:
                store.set_status(rid, "failed", message=f"{type(exc).__name__}: {exc}")  # type: ignore[arg-type]
        raise
    results = []
    for cfg, model, hist, rid in zip(cfgs, models, histories, run_ids):
        if store is not None and rid is not None:
            store.save_metrics(rid, hist.to_dict())
            store.save_weights(rid, model.state_dict())
            store.set_status(
                rid,
                hist.status,
                step=hist.step[-1] if hist.step else 0,
                message=f"diverged (loss NaN/inf) at step {hist.diverged_at}" if hist.status == "diverged" else None,
                summary=hist.summary(),
                seconds=hist.elapsed,
            )
        results.append(ModelResult(cfg, count_params(model), hist, rid))
    return results
