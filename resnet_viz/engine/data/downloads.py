"""Datasets that need files: torchvision's CIFAR-10, MNIST and Fashion-MNIST (downloaded once
and cached; offline and not cached gives a sentence naming the folder to put the files in), and
an image folder (one sub-folder per class)."""

from __future__ import annotations

import dataclasses
import http.client
import socket
import tarfile
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from resnet_viz.engine.config import ConfigError, DataConfig
from resnet_viz.i18n import _

from .dataset import (
    DATA_ENV,
    SPLIT_SEED,
    TEST_FRACTION,
    Dataset,
    DatasetUnavailable,
    balanced_subset,
    check_fits,
    default_data_root,
    finish,
    stratified_split,
)
from .shapes import SHAPES_SIZE

DOWNLOAD_TIMEOUT_S = 30.0  # per socket operation: a dead network fails in seconds, not minutes


# --------------------------------------------------------------------------------------------
# Downloadable datasets through torchvision

# What a failed download can raise: URLError/HTTPError/timeouts/permissions are OSError,
# torchvision wraps mirror failures and md5 mismatches in RuntimeError, truncated archives
# surface as tar/zlib/EOF errors, a dropped connection mid-body as IncompleteRead.
_DOWNLOAD_ERRORS = (OSError, RuntimeError, http.client.HTTPException, tarfile.TarError, EOFError, zlib.error)
_timeout_lock = threading.Lock()


@contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    """torchvision's urlopen has no timeout; the process-wide default is the only handle on it."""
    with _timeout_lock:
        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(seconds)
        try:
            yield
        finally:
            socket.setdefaulttimeout(previous)


def _data_root(cfg: DataConfig) -> Path:
    return Path(cfg.root).expanduser() if cfg.root else default_data_root()


def _files_hint(cls: type, root: Path | None) -> str:
    """Which files to put where, read from torchvision's own class attributes (never hard-coded).
    With root None the folder is named by its setting. English: the CLI's message
    (:func:`_web_unavailable` says it whole for a web visitor, in the page's language)."""
    where = str(root) if root is not None else f"the data folder (${DATA_ENV})"
    if hasattr(cls, "resources"):  # MNIST family: raw .gz files under <root>/<ClassName>/raw
        folder = root / cls.__name__ / "raw" if root is not None else f"{cls.__name__}/raw under {where}"
        files = ", ".join(name for name, _md5 in cls.resources)
        mirrors = " or ".join(cls.mirrors)
        return f"place these files in {folder}: {files} (download them from {mirrors})"
    # CIFAR family: the single archive in <root>, extracted there on first use
    return f"place {cls.filename} in {where} (download it from {cls.url})"


def _torchvision_splits(cls: type, title: str, root: Path) -> tuple[object, object]:
    """(train, test) torchvision dataset objects, downloading into `root` when they are missing."""
    try:
        return cls(str(root), train=True, download=False), cls(str(root), train=False, download=False)
    except _DOWNLOAD_ERRORS:
        pass  # not there yet (or corrupted): download, which also picks up archives placed by hand
    try:
        with _socket_timeout(DOWNLOAD_TIMEOUT_S):
            return cls(str(root), train=True, download=True), cls(str(root), train=False, download=True)
    except _DOWNLOAD_ERRORS as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        offline = "The offline datasets 'digits', 'shapes' and 'clutter' always work."
        # The reason (an OSError's text, say) can quote server paths: only the CLI's version shows it.
        raise DatasetUnavailable(
            _web_unavailable(cls, title, type(err).__name__),
            with_paths=f"{title} is not in {root} and could not be downloaded ({type(err).__name__}: {reason}). "
            f"If this machine is offline, {_files_hint(cls, root)}; or point DataConfig.root / ${DATA_ENV} at a "
            f"folder that already holds them. {offline}",
        ) from err


def _web_unavailable(cls: type, title: str, error: str) -> str:
    """What a web visitor reads when a download failed: the files and the folder's setting, never
    the server's folders, as one sentence in the language of the context it is built in."""
    if hasattr(cls, "resources"):  # MNIST family: raw .gz files under <root>/<ClassName>/raw
        return _(
            "{title} is not on this server and could not be downloaded ({error}). Whoever runs the server can "
            "place these files in {folder} under the data folder (${setting}): {files} (download them from "
            "{mirrors}). The offline datasets 'digits', 'shapes' and 'clutter' always work."
        ).format(
            title=title,
            error=error,
            folder=f"{cls.__name__}/raw",
            setting=DATA_ENV,
            files=", ".join(name for name, _md5 in cls.resources),
            mirrors=" or ".join(cls.mirrors),
        )
    return _(
        "{title} is not on this server and could not be downloaded ({error}). Whoever runs the server can "
        "place {file} in the data folder (${setting}) (download it from {url}). The offline datasets "
        "'digits', 'shapes' and 'clutter' always work."
    ).format(title=title, error=error, file=cls.filename, setting=DATA_ENV, url=cls.url)


def _to_nchw01(data: object) -> torch.Tensor:
    """torchvision's uint8 `data`, (N, H, W) tensor or (N, H, W, 3) array -> (N, C, H, W) float in [0, 1]."""
    t = torch.as_tensor(np.asarray(data))
    t = t.unsqueeze(1) if t.ndim == 3 else t.permute(0, 3, 1, 2)
    return t.float().div_(255.0)


def torchvision_loader(registry_name: str, class_name: str, title: str) -> Callable[[DataConfig], Dataset]:
    def load(cfg: DataConfig) -> Dataset:
        import torchvision.datasets as tvd

        cls = getattr(tvd, class_name)
        train, test = _torchvision_splits(cls, title, _data_root(cfg))
        return finish(
            registry_name,
            cfg,
            _to_nchw01(train.data),
            torch.as_tensor(np.asarray(train.targets), dtype=torch.int64),
            _to_nchw01(test.data),
            torch.as_tensor(np.asarray(test.targets), dtype=torch.int64),
            tuple(train.classes),
        )

    load.__name__ = f"load_{registry_name}"
    load.__doc__ = f"{title} through torchvision, official train/test split, cached under the data root."
    return load


# --------------------------------------------------------------------------------------------
# folder: an ImageFolder tree (one sub-folder per class)


def _image_files(folder: Path) -> list[Path]:
    from torchvision.datasets.folder import IMG_EXTENSIONS

    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMG_EXTENSIONS)


def load_folder(cfg: DataConfig) -> Dataset:
    """Images under cfg.root/<class>/..., resized to cfg.image_size (32), RGB, fixed 80/20 split."""
    from PIL import Image

    if not cfg.root:
        raise ConfigError(_("the 'folder' dataset needs root: a folder with one sub-folder of images per class"))
    root = Path(cfg.root).expanduser()
    if not root.is_dir():
        raise ConfigError(_("image folder {folder} does not exist (or is not a folder)").format(folder=root))
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    per_class = {d.name: _image_files(d) for d in class_dirs}
    empty = [name for name, files in per_class.items() if not files]
    if empty or len(per_class) < 2:
        found = f"found {len(per_class)} sub-folder(s){', empty: ' + ', '.join(empty) if empty else ''}"
        web = (
            _(
                "the image folder must hold at least 2 class sub-folders, each with images; "
                "found {n} sub-folder(s), empty: {empty}"
            )
            if empty
            else _("the image folder must hold at least 2 class sub-folders, each with images; found {n} sub-folder(s)")
        )
        raise DatasetUnavailable(
            web.format(n=len(per_class), empty=", ".join(empty)),
            with_paths=f"{root} must hold at least 2 class sub-folders, each with images; {found}",
        )
    few = [name for name, files in per_class.items() if len(files) < 2]
    if few:
        raise DatasetUnavailable(
            _("each class needs at least 2 images (one for the test split); too few in: {classes}").format(
                classes=", ".join(few)
            )
        )

    classes = tuple(per_class)
    files = [f for name in classes for f in per_class[name]]
    labels = np.array([i for i, name in enumerate(classes) for _image in per_class[name]], dtype=np.int64)
    train, test = stratified_split(labels, TEST_FRACTION, SPLIT_SEED)
    if cfg.limit is not None and cfg.limit < len(train):
        train = train[balanced_subset(labels[train], cfg.limit, cfg.seed)]  # before decoding: saves time

    size = cfg.image_size or SHAPES_SIZE
    check_fits(_("the image folder"), len(train) + len(test), 3, size)

    def decode(indices: np.ndarray) -> torch.Tensor:
        out = np.empty((len(indices), size, size, 3), dtype=np.uint8)
        for row, i in enumerate(indices):
            try:
                with Image.open(files[i]) as img:
                    # PIL's bilinear filter widens its kernel when shrinking, i.e. it antialiases.
                    out[row] = np.asarray(img.convert("RGB").resize((size, size), Image.Resampling.BILINEAR))
            except (OSError, ValueError, Image.DecompressionBombError) as err:
                # PIL's own text quotes the full path; the short message names the file inside the folder.
                raise DatasetUnavailable(
                    _("cannot read image {file} in the image folder").format(file=files[i].relative_to(root)),
                    with_paths=f"cannot read image {files[i]}: {err}",
                ) from err
        return torch.from_numpy(out).permute(0, 3, 1, 2).float().div_(255.0)  # (n, 3, size, size)

    no_limit = dataclasses.replace(cfg, limit=None)  # applied above, before decoding
    return finish(
        "folder",
        no_limit,
        decode(train),
        torch.from_numpy(labels[train]),
        decode(test),
        torch.from_numpy(labels[test]),
        classes,
    )
