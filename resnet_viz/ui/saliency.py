"""Streamlit pieces of the saliency page: cached models and data, and the choice of networks.

Models are cached with ``st.cache_resource`` (shared by every session), so they are treated as
read-only: every attribution runs on a frozen copy (resnet_viz.saliency.maps.attribute), never on a
cached model or on weights a training worker is writing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from resnet_viz.analysis.saved import run_data
from resnet_viz.engine.checkpoints import load_model
from resnet_viz.engine.config import DataConfig
from resnet_viz.engine.data import Dataset, load_dataset
from resnet_viz.engine.data.images import IMAGENET_MEAN, IMAGENET_STD
from resnet_viz.engine.devices import thread_count, threads
from resnet_viz.engine.limits import forward_macs
from resnet_viz.engine.runs import RunInfo, RunStore
from resnet_viz.i18n import N_, _
from resnet_viz.saliency.localisation import Track
from resnet_viz.saliency.maps import frozen_copy
from resnet_viz.teaching import atlas

# The pretrained nets by key, each with its name, marked: show it with `_()` (pretrained_title).
PRETRAINED_CHOICES = {
    "resnet18": N_("ImageNet ResNet-18 (torchvision, pretrained)"),
    "resnet50": N_("ImageNet ResNet-50 (torchvision, pretrained)"),
}
# The image sources by key (the segmented control's value), each with its name, marked.
SOURCES = {"sample": N_("sample"), "upload": N_("upload")}
TOP1 = "top-1 of each net"  # the Class select box's first option (a key, shown as TOP1_TITLE)
TOP1_TITLE = N_("top-1 of each net")


def pretrained_title(key: str) -> str:
    """The networks select box's name for option `key`: a pretrained net's, in the learner's
    language, or the key itself (a run group, named by what it was trained on)."""
    return _(PRETRAINED_CHOICES[key]) if key in PRETRAINED_CHOICES else key


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
    pretrained: str | None = None  # key of resnet_viz.saliency.pretrained.PRETRAINED: its weights' own preprocessing
    work_macs: float | None = None  # one image's forward pass, for the thread policy (None: unknown)


@st.cache_resource(show_spinner=False, max_entries=8)
def _dataset(cfg: DataConfig) -> Dataset:
    return load_dataset(cfg)


def dataset(cfg: DataConfig) -> Dataset:
    """The run's dataset, loaded once per server (the spinner, in the learner's language, shows
    only while it loads: st.spinner waits half a second before it draws)."""
    with st.spinner(_("Loading the dataset...")):
        return _dataset(cfg)


@st.cache_resource(show_spinner=False, max_entries=32)
def _run_model(root: str, run_id: str, step: int | None, mtime_ns: int) -> torch.nn.Module:
    # mtime in the key: a run written again (same id) is loaded again. Cached as a frozen copy, so
    # attribution runs on it directly (frozen=True) instead of copying the model on every rerun.
    return frozen_copy(load_model(RunStore(root), run_id, step=step))


@st.cache_resource(show_spinner=False, max_entries=2)
def _cached_pretrained(name: str) -> torch.nn.Module:
    from resnet_viz.saliency.pretrained import load_pretrained

    return frozen_copy(load_pretrained(name))


def _pretrained(name: str) -> torch.nn.Module:
    with st.spinner(_("Loading the pretrained network...")):
        return _cached_pretrained(name)


PAIR = atlas.PAIR  # the pair the page offers to train (the shapes recipe, plain and residual), as the atlas holds it


def pair_minutes() -> float:
    """The pair's training time on this server, from the same estimate the job queue bounds it by."""
    from resnet_viz.engine.limits import estimate

    gpu = torch.cuda.is_available()
    return estimate(PAIR.model_configs(), PAIR.data_config(), PAIR.train_config(), gpu=gpu).seconds / 60


def no_pair_sentence() -> str:
    """What the page says while no shapes pair is trained: what it needs, and for how long."""
    return _(
        "No pair trained on shapes yet. The lesson here needs one: plain-{depth} and residual-{depth} on the "
        "generated shapes ({steps} steps each), trained together on identical batches (the server estimates "
        "about {minutes} min). Or pick other networks on the left."
    ).format(depth=PAIR.depth, steps=PAIR.steps, minutes=f"{pair_minutes():.0f}")


def train_pair(owner: str, store: RunStore) -> None:
    """The page's Train button (on_click): queue the shapes pair through the server's job queue."""
    from resnet_viz.ui import submit_twins

    job_id = submit_twins(PAIR, owner, store, refused_key="sal_refused")
    if job_id is not None:
        st.session_state.sal_job = job_id


def pair_progress(job_id: str) -> None:
    """While the pair trains: its progress, redrawn every second; the whole page reruns at the end."""
    from resnet_viz.engine.runner import job_queue

    snap = job_queue().snapshot(job_id)
    if snap is None:
        return
    if snap.state == "queued":
        st.info(
            _("Queued: position {position}; it starts when a training slot frees up.").format(
                position=snap.queue_position
            ),
            icon=":material/hourglass_top:",
        )
    elif snap.active:
        values = {"depth": PAIR.depth, "steps": PAIR.steps, "step": snap.step, "total": snap.total_steps}
        if snap.eta is not None:
            text = _(
                "Training plain-{depth} and residual-{depth} on the generated shapes ({steps} steps each) · "
                "step {step}/{total} · about {eta} s to go"
            ).format(eta=f"{snap.eta:.0f}", **values)
        else:
            text = _(
                "Training plain-{depth} and residual-{depth} on the generated shapes ({steps} steps each) · "
                "step {step}/{total}"
            ).format(**values)
        st.progress(snap.progress, text=text)
    elif snap.error:
        st.error(_("Training stopped: {error}").format(error=snap.error), icon=":material/error:")
    if not snap.active:
        st.session_state.pop("sal_job", None)
        st.rerun(scope="app")  # the pair is in the store now: draw its maps


def run_net(store: RunStore, info: RunInfo, step: int | None) -> Net:
    """The run's network and data; RunStoreError (or DatasetUnavailable, OSError) with a sentence
    when either cannot be loaded or they do not fit each other."""
    data = run_data(info, load=dataset)  # through the page's cache: a rerun does not load it again
    path = info.path / ("weights.pt" if step is None else f"snapshots/step-{step:07d}.pt")
    model = _run_model(str(store.root), info.run_id, step, path.stat().st_mtime_ns)
    label = info.label if step is None else _("{label} (step {step})").format(label=info.label, step=step)
    work = forward_macs([info.model], info.data, 1)
    return Net(
        label,
        model,
        data.classes,
        info.model.image_size,
        info.model.in_channels,
        data.mean,
        data.std,
        info.data,
        work_macs=work,
    )


def pretrained_net(name: str, progress_in=None) -> Net:
    """A pretrained ImageNet net. Its weights are fetched once, with a progress bar drawn in
    `progress_in`; offline, PretrainedUnavailable names the file and the folder to put it in."""
    from resnet_viz.saliency.pretrained import imagenet_classes, is_cached, load_pretrained, pretrained_macs

    if not is_cached(name) and progress_in is not None:
        bar = progress_in.progress(0.0, text=_("Fetching the ImageNet weights (once)..."))

        def on_progress(done: int, total: int | None) -> None:
            if total:
                text = _("Fetching the ImageNet weights (once): {done} of {total} MB").format(
                    done=f"{done / 2**20:.0f}", total=f"{total / 2**20:.0f}"
                )
            else:
                text = _("Fetching the ImageNet weights (once): {done} MB").format(done=f"{done / 2**20:.0f}")
            bar.progress(min(1.0, done / total) if total else 0.0, text=text)

        try:
            load_pretrained(name, on_progress=on_progress)  # fills the cache the call below reads
        finally:
            bar.empty()
    return Net(
        pretrained_title(name),
        _pretrained(name),
        imagenet_classes(name),
        None,
        3,
        IMAGENET_MEAN,
        IMAGENET_STD,
        None,
        pretrained=name,
        work_macs=pretrained_macs(name),
    )


def model_input(net: Net, image) -> tuple[torch.Tensor, np.ndarray]:
    """The tensor the network gets, and the (H, W, 3) picture of it to draw the map over."""
    from resnet_viz.engine.data.images import to_model_input
    from resnet_viz.saliency.pretrained import PRETRAINED

    if net.pretrained is not None:  # ResNet-50 V2 resizes to 232, ResNet-18 to 256: ask the weights
        x = PRETRAINED[net.pretrained].weights.transforms()(image).unsqueeze(0)
    else:
        x = to_model_input(image, size=net.size, channels=net.channels, mean=net.mean, std=net.std)
    mean = torch.tensor(net.mean).view(1, -1, 1, 1)
    std = torch.tensor(net.std).view(1, -1, 1, 1)
    shown = (x * std + mean).clamp(0, 1)[0].permute(1, 2, 0).numpy()  # (H, W, C) in [0, 1]
    return x, shown


def tracks(root: str, run_ids: tuple[str, ...], stamp: tuple[int, ...], layer: str | None) -> list[Track]:
    """Grad-CAM localisation of each run at each kept snapshot (cached: `stamp`, the weights' mtimes,
    makes a run written again count as new). Numbers and run labels only, so one cache serves
    every language; the spinner speaks the learner's."""
    from resnet_viz.saliency.localisation import N_SCORED

    with st.spinner(_("Scoring every snapshot of both nets on {n} test images...").format(n=N_SCORED)):
        return _tracks(root, run_ids, stamp, layer)


@st.cache_data(show_spinner=False, max_entries=16)
def _tracks(root: str, run_ids: tuple[str, ...], stamp: tuple[int, ...], layer: str | None) -> list[Track]:
    from resnet_viz.saliency.localisation import N_SCORED, track

    store = RunStore(root)
    infos = [store.get(r) for r in run_ids]
    data = run_data(infos[0], load=_dataset)  # no spinner inside a cached function: its tracks already have one
    images, masks = data.x_test[:N_SCORED], data.mask_test[:N_SCORED]
    with threads(thread_count(forward_macs([i.model for i in infos], infos[0].data, N_SCORED))):
        return [track(store, info, images, masks, layer=layer) for info in infos]


def explain(net: Net, x: torch.Tensor, **kwargs) -> tuple[torch.Tensor, list[tuple[int, float]]]:
    """saliency.explain on the net's frozen copy, with the thread policy's count for its size."""
    from resnet_viz.saliency.maps import explain as explain_map

    with threads(thread_count(net.work_macs)):
        return explain_map(net.model, x, frozen=True, **kwargs)


def stamps(runs: list[RunInfo]) -> tuple[int, ...]:
    """The weights' modification times: part of the tracks' cache key."""
    return tuple((r.path / "weights.pt").stat().st_mtime_ns for r in runs)


def test_picture(data: Dataset, i: int):
    """Test image `i` as the pixels the dataset holds: RGB for colour data, grey for one channel."""
    from PIL import Image

    pixels = data.unstandardise(data.x_test[i : i + 1])[0].permute(1, 2, 0).numpy()  # (H, W, C) in [0, 1]
    pixels = (pixels.clip(0, 1) * 255).round().astype(np.uint8)
    return Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)


def upload_sentence(net: Net) -> str:
    """What a photo becomes for nets trained on a small dataset, said before their maps are read
    (the sentence: resnet_viz.text.saliency.upload_sentence)."""
    from resnet_viz.engine.data import DATASETS
    from resnet_viz.text.saliency import upload_sentence as sentence

    # A dataset's title is marked where it is registered (resnet_viz.engine.data.registry) and said here in the
    # learner's language.
    title = _(DATASETS[net.data.name].title) if net.data is not None and net.data.name in DATASETS else None
    return sentence(net.size, net.channels, title, [_(c) for c in net.classes])


def score_on_mask(cam: np.ndarray, mask: np.ndarray) -> tuple[float, bool]:
    """One map's localisation on its image's mask (the map resized to the mask first): the share
    of its energy inside, and whether its maximum is inside; (nan, False) for an all-zero map."""
    from resnet_viz.saliency.localisation import localisation_score
    from resnet_viz.saliency.maps import resize_map

    return localisation_score(resize_map(torch.as_tensor(cam), mask.shape), torch.as_tensor(mask))


def strongest(maps: list[np.ndarray]) -> float:
    """The largest value over all maps (NaN counted as 0): the top of a shared colour scale."""
    return max((float(np.nan_to_num(m).max(initial=0.0)) for m in maps), default=0.0)
