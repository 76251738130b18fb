"""torchvision's ImageNet ResNets, loaded from torch's own weights cache and never required.

The weights live where ``torchvision.models.resnet18(weights=...)`` would put them,
``torch.hub.get_dir()/checkpoints/<file name in the URL>`` (``$TORCH_HOME/hub/checkpoints``), so a
file fetched by any other torchvision code on this machine is found here too, and one copied
there by hand from an online machine works offline. Nothing else in the app depends on these
nets: when they are missing, :class:`PretrainedUnavailable` says which file to put where, and the
learner's own trained runs still work.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch
import torch.hub
from torch import nn
from torchvision.models import (
    ResNet,
    ResNet18_Weights,
    ResNet50_Weights,
    resnet18,
    resnet50,
)
from torchvision.models._api import WeightsEnum

from .data import _socket_timeout

DOWNLOAD_TIMEOUT_S = 20.0  # per socket operation: an offline machine fails in seconds, not minutes


class PretrainedUnavailable(RuntimeError):
    """Weights not cached and could not be downloaded (or the cached file is unreadable).

    The message names the file and the folder to put it in (or the file to delete).
    """


@dataclass(frozen=True)
class PretrainedSpec:
    """Registry entry: how to build the net and which published weights go into it."""

    builder: Callable[..., ResNet]  # torchvision factory, called with weights=None (we load the state dict)
    weights: WeightsEnum  # .url (file to fetch), .meta["categories"], .transforms() (the matching preprocessing)


# Members are named explicitly, never `.DEFAULT`: DEFAULT may point at newer weights in a later
# torchvision, which would change the file name and silently strand a copy placed by hand.
PRETRAINED: dict[str, PretrainedSpec] = {
    # The only ImageNet weights torchvision publishes for ResNet-18 (69.8% top-1, 45 MB).
    "resnet18": PretrainedSpec(resnet18, ResNet18_Weights.IMAGENET1K_V1),
    # V2 (torchvision's newer recipe, 80.9% top-1 against V1's 76.1%; also what DEFAULT is today):
    # the same architecture and file size, so the stronger classifier costs nothing. Note its
    # preprocessing resizes to 232, not 256, before the 224 crop: use weights.transforms().
    "resnet50": PretrainedSpec(resnet50, ResNet50_Weights.IMAGENET1K_V2),
}

_models: dict[tuple[str, str], nn.Module] = {}  # (name, weights file) -> loaded model, per process
_models_lock = threading.Lock()  # two sessions asking at once load (and download) once


def _spec(name: str) -> PretrainedSpec:
    try:
        return PRETRAINED[name]
    except KeyError:
        raise ValueError(f"unknown pretrained model {name!r}; choose one of: {', '.join(PRETRAINED)}") from None


def weights_path(name: str) -> Path:
    """Where torch's hub cache keeps this model's weights (respects $TORCH_HOME, torch.hub.set_dir).

    The same rule as ``torch.hub.load_state_dict_from_url``: the last part of the URL, hash
    prefix included (e.g. ``resnet18-f37072fd.pth``), in ``<hub dir>/checkpoints``.
    """
    url = _spec(name).weights.url
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(url).path).name


def is_cached(name: str) -> bool:
    """True when the weights file is on disk (it may still be unreadable; loading says so)."""
    return weights_path(name).exists()


def imagenet_classes(name: str) -> tuple[str, ...]:
    """The 1000 ImageNet class names, index = output unit. Shipped with torchvision: works offline."""
    return tuple(_spec(name).weights.meta["categories"])


def load_pretrained(name: str, *, download: bool = True, timeout: float = DOWNLOAD_TIMEOUT_S) -> nn.Module:
    """The torchvision ResNet `name` with its ImageNet weights, in eval mode, on the CPU.

    Fetches the weights into torch's cache on first use (unless ``download=False``), with a
    socket timeout of `timeout` seconds so an offline machine fails fast instead of hanging.

    The model is cached per process and shared by every caller (and every app session), so treat
    it as read-only: never train it, ``.to()`` it, ``.train()`` it or register hooks that outlive
    your call; ``copy.deepcopy`` it first if you need to. Its parameters have
    ``requires_grad=False`` so that a backward pass (saliency) writes no ``.grad`` into the shared
    weights; gradients with respect to the input still flow.

    Raises:
        ValueError: `name` is not in :data:`PRETRAINED`.
        PretrainedUnavailable: the weights are not cached and could not be downloaded (the message
            names the URL and the folder to put the file in), or the cached file is unreadable (the
            message names the file to delete).
    """
    spec = _spec(name)
    if timeout <= 0:
        raise ValueError(f"timeout must be positive seconds, got {timeout}")
    path = weights_path(name)
    key = (name, str(path))  # a different cache folder ($TORCH_HOME) is a different file
    with _models_lock:
        model = _models.get(key)
        if model is None:
            model = _load(name, spec, path, download=download, timeout=timeout)
            _models[key] = model  # only successes are kept: a failure is retried next call
    return model


def _load(name: str, spec: PretrainedSpec, path: Path, *, download: bool, timeout: float) -> nn.Module:
    url = spec.weights.url
    put_it_there = (
        f"download {url} (on any machine that is online) and put it in {path.parent} as {path.name}, "
        f"or set $TORCH_HOME to a folder whose hub/checkpoints already holds it. "
        f"Your own trained runs work without it."
    )
    cached = path.exists()
    if not cached and not download:
        raise PretrainedUnavailable(f"The ImageNet weights for {name} are not in {path.parent} and downloading is off: {put_it_there}")

    # When the file exists, torch.hub loads it as it is: check_hash only verifies a fresh download
    # (against the hash prefix in the file name), so a cached file is trusted by name.
    timeout_ctx = contextlib.nullcontext() if cached else _socket_timeout(timeout)
    try:
        with timeout_ctx:
            state = spec.weights.get_state_dict(progress=False, check_hash=True, map_location="cpu", weights_only=True)
    # Broad on purpose: a failed download raises OSError/URLError/timeouts/HTTPException (or
    # RuntimeError for a bad hash), and reading a damaged file raises whatever the unpickler trips
    # on (RuntimeError, EOFError, KeyError, UnpicklingError, ...). Either way the learner needs
    # the sentence below, not a traceback; the original error stays chained for debugging.
    except Exception as err:
        if path.exists():  # it was there, or the download finished: the file itself is bad
            raise _unreadable(name, path, url, err) from err
        # torch.hub downloads to a temporary name and renames only when complete, so a failed
        # download leaves nothing behind at `path`.
        raise PretrainedUnavailable(
            f"The ImageNet weights for {name} are not in {path.parent} and could not be downloaded "
            f"({_reason(err)}). If this machine is offline, {put_it_there}"
        ) from err

    model = spec.builder(weights=None, num_classes=len(spec.weights.meta["categories"]))
    try:
        model.load_state_dict(state)  # strict: a file for another architecture fails here
    except RuntimeError as err:
        raise _unreadable(name, path, url, err) from err
    model.eval().requires_grad_(False)
    return model


def _reason(err: BaseException) -> str:
    # First sentence only: torch's load errors go on to advise weights_only=False, which is the
    # wrong fix for a damaged file and unsafe for a downloaded one.
    first = (str(err).strip().splitlines() or [""])[0].split(". ")[0]
    return f"{type(err).__name__}: {first}" if first else type(err).__name__


def _unreadable(name: str, path: Path, url: str, err: BaseException) -> PretrainedUnavailable:
    return PretrainedUnavailable(
        f"{path} is not a readable {name} checkpoint ({_reason(err)}); it is probably a truncated "
        f"download. Delete it and try again to download it afresh (or replace it with a copy of {url})."
    )


__all__ = [
    "PRETRAINED",
    "PretrainedSpec",
    "PretrainedUnavailable",
    "imagenet_classes",
    "is_cached",
    "load_pretrained",
    "weights_path",
]
