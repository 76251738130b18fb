"""torchvision's ImageNet ResNets, loaded from torch's own weights cache and never required.

The weights live where ``torchvision.models.resnet18(weights=...)`` would put them,
``torch.hub.get_dir()/checkpoints/<file name in the URL>`` (``$TORCH_HOME/hub/checkpoints``), so a
file fetched by any other torchvision code on this machine is found here too, and one copied
there by hand from an online machine works offline. Nothing else in the app depends on these
nets: when they are missing, :class:`PretrainedUnavailable` says which file to put where, and the
learner's own trained runs still work.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import Request, urlopen

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

from resnet_viz.i18n import _

DOWNLOAD_TIMEOUT_S = 20.0  # per socket operation: an offline machine fails in seconds, not minutes
CHUNK_BYTES = 1 << 20  # bytes per read, so per progress report: ~45 reports for ResNet-18, ~100 for ResNet-50

# torch.hub's own rule for the sha256 prefix in a checkpoint's file name ("resnet18-f37072fd.pth"),
# reused so a file we fetch passes exactly the check torch.hub's download would have made.
_HASH_REGEX: re.Pattern[str] = getattr(torch.hub, "HASH_REGEX", None) or re.compile(r"-([a-f0-9]*)\.")

# What a failed fetch raises: URLError/HTTPError/timeouts/refusals and disk errors are OSError,
# a malformed URL is ValueError, a connection cut mid-body is http.client.IncompleteRead.
_DOWNLOAD_ERRORS = (OSError, ValueError, http.client.HTTPException)

ProgressCallback = Callable[[int, int | None], None]  # (bytes done, total bytes or None when unknown)


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
        raise ValueError(
            _("unknown pretrained model {name}; choose one of: {choices}").format(
                name=repr(name), choices=", ".join(PRETRAINED)
            )
        ) from None


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


def download(
    url: str,
    path: Path,
    *,
    timeout: float,
    on_progress: ProgressCallback | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> None:
    """Fetch `url` into `path` (its folder is created), all or nothing.

    The bytes go to a temporary file beside `path` that is renamed onto it only once complete and,
    when the file name carries torch.hub's hash prefix (``resnet18-f37072fd.pth``), only if the
    file's sha256 starts with it; on any failure the temporary file is removed, so nothing is ever
    left at `path` that a later call would trust as cached. `timeout` is seconds per socket
    operation (connect, each read), not for the whole transfer.

    ``on_progress(done, total)`` is called once with 0 before the first read and after every chunk
    of `chunk_bytes`, from the calling thread; `total` is the Content-Length, or None when the
    server sends none. Whatever it raises propagates and aborts the download (the temporary file
    is still removed), which is how a Streamlit rerun, raised from inside ``st.progress``, stops it.

    Raises:
        PretrainedUnavailable: the URL could not be opened or read, the body was short, the hash
            did not match, or the file could not be written; the original error is chained.
    """
    path = Path(path)
    match = _HASH_REGEX.search(path.name)
    hash_prefix = match.group(1) if match else None
    # Same folder, so the final os.replace is an atomic rename on the same filesystem; a unique name
    # (as torch.hub does) so two processes sharing the cache never write into one temporary file.
    tmp = path.parent / f"{path.name}.{uuid.uuid4().hex}.partial"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # torch.hub's User-Agent: the same request torchvision itself makes to download.pytorch.org.
        request = Request(url, headers={"User-Agent": "torch.hub"})
        with open(tmp, "xb") as out, urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length is not None and length.isdigit() else None
            sha256 = hashlib.sha256()
            done = 0
            if on_progress is not None:
                on_progress(0, total)
            while chunk := response.read(chunk_bytes):
                out.write(chunk)
                sha256.update(chunk)
                done += len(chunk)
                if on_progress is not None:
                    on_progress(done, total)
        if total is not None and done != total:
            # A file without a hash in its name would otherwise be kept truncated.
            raise OSError(_("the connection closed after {done} of {total} bytes").format(done=done, total=total))
        digest = sha256.hexdigest()
        if hash_prefix is not None and not digest.startswith(hash_prefix):
            raise ValueError(
                _("sha256 {digest} does not start with {prefix}, the prefix in the file name").format(
                    digest=digest, prefix=hash_prefix
                )
            )
        os.replace(tmp, path)
    except _DOWNLOAD_ERRORS as err:
        raise PretrainedUnavailable(
            _("{url} could not be downloaded to {path} ({reason})").format(url=url, path=path, reason=_reason(err))
        ) from err
    finally:
        # `finally`, not `except`: Streamlit's rerun/stop exceptions are BaseException and must
        # also leave no partial file behind.
        tmp.unlink(missing_ok=True)


def load_pretrained(
    name: str,
    *,
    download: bool = True,
    timeout: float = DOWNLOAD_TIMEOUT_S,
    on_progress: ProgressCallback | None = None,
) -> nn.Module:
    """The torchvision ResNet `name` with its ImageNet weights, in eval mode, on the CPU.

    Fetches the weights into torch's cache on first use (unless ``download=False``), with a
    socket timeout of `timeout` seconds so an offline machine fails fast instead of hanging.
    ``on_progress(done, total)`` reports that fetch, as in :func:`download`; it is never called
    when the file is already cached, nor for a caller that waited while another one fetched it.

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
        raise ValueError(_("timeout must be positive seconds, got {timeout}").format(timeout=timeout))
    path = weights_path(name)
    key = (name, str(path))  # a different cache folder ($TORCH_HOME) is a different file
    with _models_lock:
        model = _models.get(key)
        if model is None:
            model = _load(name, spec, path, may_download=download, timeout=timeout, on_progress=on_progress)
            _models[key] = model  # only successes are kept: a failure is retried next call
    return model


def _load(
    name: str,
    spec: PretrainedSpec,
    path: Path,
    *,
    may_download: bool,  # not `download`, which would hide the function of that name
    timeout: float,
    on_progress: ProgressCallback | None,
) -> nn.Module:
    url = spec.weights.url
    where = {"name": name, "url": url, "folder": path.parent, "file": path.name}
    if not path.exists():
        if not may_download:
            raise PretrainedUnavailable(
                _(
                    "The ImageNet weights for {name} are not in {folder} and downloading is off: download {url} "
                    "(on any machine that is online) and put it in {folder} as {file}, or set $TORCH_HOME to a "
                    "folder whose hub/checkpoints already holds it. Your own trained runs work without it."
                ).format(**where)
            )
        try:
            download(url, path, timeout=timeout, on_progress=on_progress)
        except PretrainedUnavailable as err:
            # download() leaves nothing at `path` when it fails, so the next call tries afresh.
            cause = err.__cause__ or err
            raise PretrainedUnavailable(
                _(
                    "The ImageNet weights for {name} are not in {folder} and could not be downloaded ({reason}). "
                    "If this machine is offline, download {url} (on any machine that is online) and put it in "
                    "{folder} as {file}, or set $TORCH_HOME to a folder whose hub/checkpoints already holds it. "
                    "Your own trained runs work without it."
                ).format(reason=_reason(cause), **where)
            ) from err

    # torch.load, not spec.weights.get_state_dict: the file is on disk by now, and torch.hub would
    # fetch a missing one itself, with no timeout and no progress. A cached file is trusted by name,
    # as torch.hub does: the hash is checked only when we download it.
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    # Broad on purpose: reading a damaged file raises whatever the unpickler trips on
    # (RuntimeError, EOFError, KeyError, UnpicklingError, ...). The learner needs the sentence
    # below, not a traceback; the original error stays chained for debugging.
    except Exception as err:
        raise _unreadable(name, path, url, err) from err

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
        _(
            "{path} is not a readable {name} checkpoint ({reason}); it is probably a truncated download. Delete "
            "it and try again to download it afresh (or replace it with a copy of {url})."
        ).format(path=path, name=name, reason=_reason(err), url=url)
    )


def pretrained_macs(name: str) -> float | None:
    """Multiply-accumulates of one image's forward pass, from the weights' metadata (torchvision's
    "_ops", in billions); None when the metadata does not say."""
    ops = _spec(name).weights.meta.get("_ops")
    return float(ops) * 1e9 if isinstance(ops, (int, float)) else None


__all__ = [
    "PRETRAINED",
    "PretrainedSpec",
    "PretrainedUnavailable",
    "download",
    "imagenet_classes",
    "is_cached",
    "load_pretrained",
    "pretrained_macs",
    "weights_path",
]
