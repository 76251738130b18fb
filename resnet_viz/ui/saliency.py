"""Streamlit pieces of the saliency page: cached models and data, and the choice of networks.

Models are cached with ``st.cache_resource`` (shared by every session), so they are treated as
read-only: every attribution runs on a frozen copy (resnet_viz.saliency.attribute), never on a
cached model or on weights a training worker is writing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from resnet_viz.analysis import run_data
from resnet_viz.config import DataConfig
from resnet_viz.data import Dataset, load_dataset
from resnet_viz.runs import RunInfo, RunStore, damage_report
from resnet_viz.saliency import frozen_copy

PRETRAINED_CHOICES = {"resnet18": "ImageNet ResNet-18 (torchvision, pretrained)",
                      "resnet50": "ImageNet ResNet-50 (torchvision, pretrained)"}  # fmt: skip


@dataclass(frozen=True)
class Net:
    """One network on the page: what it is called, how its input is prepared, its class names."""

    label: str
    model: torch.nn.Module  # a frozen copy, cached and shared by all sessions: pass frozen=True, never modify
    classes: tuple[str, ...]
    size: int | None  # input side in pixels; None: ImageNet preprocessing (resize 256, crop 224)
    channels: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    data: DataConfig | None  # the run's dataset (None for pretrained nets)
    pretrained: str | None = None  # key of resnet_viz.pretrained.PRETRAINED: its weights' own preprocessing


@st.cache_resource(show_spinner="Loading the dataset...", max_entries=8)
def dataset(cfg: DataConfig) -> Dataset:
    return load_dataset(cfg)


@st.cache_resource(show_spinner=False, max_entries=32)
def _run_model(root: str, run_id: str, step: int | None, mtime_ns: int) -> torch.nn.Module:
    # mtime in the key: a run written again (same id) is loaded again. Cached as a frozen copy, so
    # attribution runs on it directly (frozen=True) instead of copying the model on every rerun.
    return frozen_copy(RunStore(root).load_model(run_id, step=step))


@st.cache_resource(show_spinner="Loading the pretrained network...", max_entries=2)
def _pretrained(name: str) -> torch.nn.Module:
    from resnet_viz.pretrained import load_pretrained

    return frozen_copy(load_pretrained(name))


def run_groups(store: RunStore) -> dict[str, list[RunInfo]]:
    """Finished runs with weights, grouped by the Train press that made them (twins together),
    newest first; the key is a label for a select box. Damaged folders are named in one warning."""
    infos, damaged = store.scan()
    report = damage_report(damaged)  # folder names only, never the server's path
    if report:
        st.warning(report, icon=":material/warning:")
    groups: dict[str | None, list[RunInfo]] = {}
    for info in infos:
        if info.status == "finished" and info.has_weights:
            groups.setdefault(info.group or info.run_id, []).append(info)
    out = {}
    for runs in groups.values():
        runs.sort(key=lambda r: (r.model.residual, r.model.depth))  # plain before residual
        first = runs[0]
        names = " + ".join(r.label for r in runs)
        out[f"{names} · {first.data.name} · seed {first.train.seed} · {first.created[:16].replace('T', ' ')}"] = runs
    return out


def run_net(store: RunStore, info: RunInfo, step: int | None) -> Net:
    """The run's network and data; RunStoreError (or DatasetUnavailable, OSError) with a sentence
    when either cannot be loaded or they do not fit each other."""
    data = run_data(info, load=dataset)  # through the page's cache: a rerun does not load it again
    path = info.path / ("weights.pt" if step is None else f"snapshots/step-{step:07d}.pt")
    model = _run_model(str(store.root), info.run_id, step, path.stat().st_mtime_ns)
    label = info.label if step is None else f"{info.label} (step {step})"
    return Net(label, model, data.classes, info.model.image_size, info.model.in_channels, data.mean, data.std,
               info.data)  # fmt: skip


def pretrained_net(name: str) -> Net:
    from resnet_viz.pretrained import imagenet_classes

    return Net(PRETRAINED_CHOICES[name], _pretrained(name), imagenet_classes(name), None, 3,
               (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), None, pretrained=name)  # fmt: skip


def model_input(net: Net, image) -> tuple[torch.Tensor, np.ndarray]:
    """The tensor the network gets, and the (H, W, 3) picture of it to draw the map over."""
    from resnet_viz.images import to_model_input
    from resnet_viz.pretrained import PRETRAINED

    if net.pretrained is not None:  # ResNet-50 V2 resizes to 232, ResNet-18 to 256: ask the weights
        x = PRETRAINED[net.pretrained].weights.transforms()(image).unsqueeze(0)
    else:
        x = to_model_input(image, size=net.size, channels=net.channels, mean=net.mean, std=net.std)
    mean = torch.tensor(net.mean).view(1, -1, 1, 1)
    std = torch.tensor(net.std).view(1, -1, 1, 1)
    shown = (x * std + mean).clamp(0, 1)[0].permute(1, 2, 0).numpy()  # (H, W, C) in [0, 1]
    return x, shown
