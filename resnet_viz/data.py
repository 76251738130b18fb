"""Dataset registry: offline datasets that always work (digits, shapes, clutter) and downloadable ones.

Every loader returns a :class:`Dataset` of whole-split tensors, standardised per channel with the
*training* mean/std, because the datasets here are small enough to live on the training device
and be indexed by batch there (no DataLoader, no worker processes; DESIGN.md "Data").

Pixel scale before standardising is always [0, 1], so ``x * std + mean`` gives displayable images
and ``(img - mean) / std`` prepares an uploaded one.
"""

from __future__ import annotations

import dataclasses
import functools
import http.client
import os
import socket
import tarfile
import threading
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .config import ConfigError, DataConfig
from .shapes import (
    CLUTTER_SIZE,
    SHAPE_CLASSES,
    SHAPES_SIZE,
    make_cluttered_shapes,
    make_shapes,
)

DATA_ENV = "RESNET_VIZ_DATA"
SPLIT_SEED = 0  # drawn splits (digits, folder) never move, so every run is scored on the same test images
TEST_FRACTION = 0.2
DOWNLOAD_TIMEOUT_S = 30.0  # per socket operation: a dead network fails in seconds, not minutes

SHAPES_N_TRAIN = 3000
SHAPES_N_TEST = 1000
# 4,000 images at 64x64 are 197 MB of float32, held twice (the generator's cache and the Dataset):
# fine on a class server, and as many images as `shapes`, so the two compare at equal data.
CLUTTER_N_TRAIN = 3000
CLUTTER_N_TEST = 1000


class DatasetUnavailable(RuntimeError):
    """The data are not on this machine and could not be fetched; the message says what to do.

    ``str(exc)`` is shown to web visitors, so it names settings (``RESNET_VIZ_DATA``), never the
    server's folders; ``with_paths`` is the same advice with this machine's paths, for the CLI,
    whose user owns the machine.
    """

    def __init__(self, message: str, *, with_paths: str | None = None) -> None:
        super().__init__(message)
        self.with_paths = with_paths or message


def default_data_root() -> Path:
    """Where downloads are cached: $RESNET_VIZ_DATA, else ~/.cache/resnet_viz/data."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "resnet_viz" / "data"


@dataclass(frozen=True, eq=False)
class Dataset:
    """Whole train/test splits as tensors. Frozen: one instance is shared read-only (st.cache_resource)."""

    name: str  # registry key it came from
    x_train: torch.Tensor  # (N, C, H, W) float32, standardised with the train mean/std per channel
    y_train: torch.Tensor  # (N,) int64 class indices
    x_test: torch.Tensor  # (M, C, H, W) float32, standardised with the *train* statistics
    y_test: torch.Tensor  # (M,) int64
    classes: tuple[str, ...]  # human-readable class names, index = label
    mean: tuple[float, ...]  # per-channel mean of the [0, 1] train pixels that was subtracted
    std: tuple[float, ...]  # per-channel std that was divided by
    mask_train: torch.Tensor | None = None  # (N, H, W) bool ground-truth object pixels (shapes, clutter)
    mask_test: torch.Tensor | None = None  # (M, H, W) bool

    def __post_init__(self) -> None:
        # Catch loader bugs here, once, instead of as shape errors deep inside training.
        for split, x, y, m in (
            ("train", self.x_train, self.y_train, self.mask_train),
            ("test", self.x_test, self.y_test, self.mask_test),
        ):
            if x.ndim != 4 or y.ndim != 1 or x.shape[0] != y.shape[0]:
                raise ValueError(
                    f"{split}: expected x (N, C, H, W) and y (N,), got {tuple(x.shape)} and {tuple(y.shape)}"
                )
            if m is not None and tuple(m.shape) != (x.shape[0], *x.shape[2:]):
                raise ValueError(f"{split}: mask shape {tuple(m.shape)} does not match images {tuple(x.shape)}")
        if not len(self.mean) == len(self.std) == self.x_train.shape[1]:
            raise ValueError("mean/std need one value per channel")

    @property
    def in_channels(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def image_size(self) -> int:
        return int(self.x_train.shape[-1])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def n_train(self) -> int:
        return int(self.x_train.shape[0])

    @property
    def n_test(self) -> int:
        return int(self.x_test.shape[0])

    def to(self, device: torch.device | str) -> Dataset:
        """A copy with every tensor on `device` (this one is left as it is)."""

        def move(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device)

        return dataclasses.replace(
            self,
            x_train=move(self.x_train),
            y_train=move(self.y_train),
            x_test=move(self.x_test),
            y_test=move(self.y_test),
            mask_train=move(self.mask_train),
            mask_test=move(self.mask_test),
        )

    def _stats(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shape = (-1, 1, 1)  # broadcasts over (C, H, W) and (B, C, H, W)
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(shape)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).view(shape)
        return mean, std

    def standardise(self, x: torch.Tensor) -> torch.Tensor:
        """[0, 1] pixels (C, H, W) or (B, C, H, W) -> the network's input scale (e.g. an upload)."""
        mean, std = self._stats(x)
        return (x - mean) / std

    def unstandardise(self, x: torch.Tensor) -> torch.Tensor:
        """Network inputs -> [0, 1] pixels for display."""
        mean, std = self._stats(x)
        return (x * std + mean).clamp(0.0, 1.0)


@dataclass(frozen=True)
class DatasetInfo:
    """Registry entry: what the app lists and how to load it."""

    name: str  # registry key, DataConfig.name
    title: str  # shown in the UI
    description: str  # one or two sentences for the learner
    offline: bool  # True: works with no network and no files
    loader: Callable[[DataConfig], Dataset]
    web: bool = True  # offered on the web pages; False: the CLI only (the image folder needs a path on the server)


# --------------------------------------------------------------------------------------------
# Shared finishing steps: limit -> resize -> standardise -> Dataset


def _balanced_subset(y: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """Indices of `limit` items drawn at random but class-balanced (counts differ by at most 1).

    A plain random prefix of 100 CIFAR images can leave a class with 4 examples; taking items in
    order of their rank within their class keeps a small demo set fair to every class.
    """
    perm = np.random.default_rng(seed).permutation(len(y))
    rank = np.empty(len(y), dtype=np.int64)
    for c in np.unique(y):
        members = perm[y[perm] == c]
        rank[members] = np.arange(len(members))
    order = np.lexsort((y, rank))  # by rank within class, then class: round-robin over classes
    return np.sort(order[:limit])


def _stratified_split(y: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train/test index arrays, disjoint, with every class in both splits when it has >= 2 items."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        n_test = round(len(members) * test_fraction)
        if len(members) >= 2:
            n_test = min(max(n_test, 1), len(members) - 1)
        test.append(members[:n_test])
        train.append(members[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):  # not a POSIX system: no check
        return None


def _check_fits(title: str, n_images: int, channels: int, size: int) -> None:
    """Refuse, with a sentence, a resize the machine could not hold, before allocating anything.

    Otherwise `image_size=100000` surfaces as the allocator's "DefaultCPUAllocator: can't allocate
    memory: you tried to allocate 57520000000000 bytes". The resized split and its standardised
    copy are alive together: two float32 tensors of (N, C, size, size).
    """
    need = 2 * 4 * n_images * channels * size * size
    have = _physical_memory()
    if have is not None and need > have:
        raise ConfigError(
            f"{title} at {size}x{size} pixels needs about {need / 2**30:,.0f} GB of memory for its "
            f"{n_images:,} images, more than this machine's {have / 2**30:,.0f} GB; choose a smaller image_size "
            "or a limit on the number of training images"
        )


def _resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, size, size); antialiased so shrinking does not alias fine strokes."""
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True).clamp_(0.0, 1.0)


def _finish(
    name: str,
    cfg: DataConfig,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_test: torch.Tensor,
    y_test: torch.Tensor,
    classes: Sequence[str],
    mask_train: torch.Tensor | None = None,
    mask_test: torch.Tensor | None = None,
) -> Dataset:
    """x_*: (N, C, H, W) float32 in [0, 1]; applies cfg.limit and cfg.image_size, then standardises."""
    if cfg.limit is not None and cfg.limit < len(y_train):
        keep = torch.from_numpy(_balanced_subset(y_train.numpy(), cfg.limit, cfg.seed))
        x_train, y_train = x_train[keep], y_train[keep]
        mask_train = None if mask_train is None else mask_train[keep]
    if cfg.image_size is not None:
        if mask_train is not None and x_train.shape[-1] != cfg.image_size:
            raise ValueError("datasets with masks must be generated at the requested size")
        _check_fits(name, len(x_train) + len(x_test), x_train.shape[1], cfg.image_size)
        x_train, x_test = _resize(x_train, cfg.image_size), _resize(x_test, cfg.image_size)
    # Per-channel statistics of the training images only: the test set must not leak into them.
    per_channel = x_train.transpose(0, 1).reshape(x_train.shape[1], -1)  # (C, N*H*W)
    std, mean = torch.std_mean(per_channel, dim=1, correction=0)
    std = std.clamp_min(1e-6)  # a constant channel would divide by zero
    view = (1, -1, 1, 1)
    return Dataset(
        name=name,
        x_train=((x_train - mean.view(view)) / std.view(view)).float().contiguous(),
        y_train=y_train.long(),
        x_test=((x_test - mean.view(view)) / std.view(view)).float().contiguous(),
        y_test=y_test.long(),
        classes=tuple(classes),
        mean=tuple(float(v) for v in mean),
        std=tuple(float(v) for v in std),
        mask_train=mask_train,
        mask_test=mask_test,
    )


# --------------------------------------------------------------------------------------------
# digits: scikit-learn's bundled 8x8 handwritten digits


@functools.lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.data.reshape(-1, 1, 8, 8) / 16.0).astype(np.float32)  # (1797, 1, 8, 8), 16 = max ink
    y = bunch.target.astype(np.int64)
    for a in (x, y):
        a.flags.writeable = False  # cached and shared: nobody may edit it in place
    return x, y


def load_digits(cfg: DataConfig) -> Dataset:
    x, y = _digits_arrays()
    train, test = _stratified_split(y, TEST_FRACTION, SPLIT_SEED)
    return _finish(
        "digits",
        cfg,
        torch.tensor(x[train]),
        torch.tensor(y[train]),
        torch.tensor(x[test]),
        torch.tensor(y[test]),
        tuple(str(d) for d in range(10)),
    )


# --------------------------------------------------------------------------------------------
# shapes: generated geometric shapes with ground-truth masks


def _read_only(arrays: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    """Cached arrays are shared by every caller: make an accidental write fail instead of spreading."""
    for a in arrays:
        a.flags.writeable = False
    return arrays


@functools.lru_cache(maxsize=4)
def _shapes_cached(n: int, size: int, seed: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return _read_only(make_shapes(n, size, seed))


def load_shapes(cfg: DataConfig) -> Dataset:
    return _load_generated("shapes", cfg, _shapes_cached, SHAPES_SIZE, SHAPES_N_TRAIN, SHAPES_N_TEST)


# clutter: the same classes, one target among smaller shapes of other classes and strokes


@functools.lru_cache(maxsize=2)  # one seed's two splits: 197 MB at 64x64, four times what shapes holds per entry
def _clutter_cached(n: int, size: int, seed: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return _read_only(make_cluttered_shapes(n, size, seed))


def load_clutter(cfg: DataConfig) -> Dataset:
    return _load_generated("clutter", cfg, _clutter_cached, CLUTTER_SIZE, CLUTTER_N_TRAIN, CLUTTER_N_TEST)


def _load_generated(
    name: str,
    cfg: DataConfig,
    cached: Callable[[int, int, tuple[int, ...]], tuple[np.ndarray, np.ndarray, np.ndarray]],
    default_size: int,
    n_train_max: int,
    n_test: int,
) -> Dataset:
    """A generated dataset with masks, drawn at cfg.image_size (masks cannot be resized exactly)."""
    size = cfg.image_size or default_size
    n_train = min(cfg.limit, n_train_max) if cfg.limit else n_train_max
    _check_fits(name, n_train + n_test, 3, size)
    # Separate random streams for the two splits: a smaller `limit` changes the train set only.
    xs, ys, ms = cached(n_train, size, (cfg.seed, 0))
    xt, yt, mt = cached(n_test, size, (cfg.seed, 1))

    def nchw(a: np.ndarray) -> torch.Tensor:
        return torch.tensor(a).permute(0, 3, 1, 2)  # (n, H, W, 3) -> (n, 3, H, W), copied

    no_limit = dataclasses.replace(cfg, limit=None, image_size=None)  # both already applied above
    return _finish(
        name,
        no_limit,
        nchw(xs),
        torch.tensor(ys),
        nchw(xt),
        torch.tensor(yt),
        SHAPE_CLASSES,
        torch.tensor(ms),
        torch.tensor(mt),
    )


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
    With root None the folder is named by its setting, for messages a web visitor reads."""
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
            f"{title} is not on this server and could not be downloaded ({type(err).__name__}). Whoever runs the "
            f"server can {_files_hint(cls, None)}. {offline}",
            with_paths=f"{title} is not in {root} and could not be downloaded ({type(err).__name__}: {reason}). "
            f"If this machine is offline, {_files_hint(cls, root)}; or point DataConfig.root / ${DATA_ENV} at a "
            f"folder that already holds them. {offline}",
        ) from err


def _to_nchw01(data: object) -> torch.Tensor:
    """torchvision's uint8 `data`, (N, H, W) tensor or (N, H, W, 3) array -> (N, C, H, W) float in [0, 1]."""
    t = torch.as_tensor(np.asarray(data))
    t = t.unsqueeze(1) if t.ndim == 3 else t.permute(0, 3, 1, 2)
    return t.float().div_(255.0)


def _torchvision_loader(registry_name: str, class_name: str, title: str) -> Callable[[DataConfig], Dataset]:
    def load(cfg: DataConfig) -> Dataset:
        import torchvision.datasets as tvd

        cls = getattr(tvd, class_name)
        train, test = _torchvision_splits(cls, title, _data_root(cfg))
        return _finish(
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
        raise ConfigError("the 'folder' dataset needs root: a folder with one sub-folder of images per class")
    root = Path(cfg.root).expanduser()
    if not root.is_dir():
        raise ConfigError(f"image folder {root} does not exist (or is not a folder)")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    per_class = {d.name: _image_files(d) for d in class_dirs}
    empty = [name for name, files in per_class.items() if not files]
    if empty or len(per_class) < 2:
        found = f"found {len(per_class)} sub-folder(s){', empty: ' + ', '.join(empty) if empty else ''}"
        raise DatasetUnavailable(
            f"the image folder must hold at least 2 class sub-folders, each with images; {found}",
            with_paths=f"{root} must hold at least 2 class sub-folders, each with images; {found}",
        )
    few = [name for name, files in per_class.items() if len(files) < 2]
    if few:
        raise DatasetUnavailable(
            f"each class needs at least 2 images (one for the test split); too few in: {', '.join(few)}"
        )

    classes = tuple(per_class)
    files = [f for name in classes for f in per_class[name]]
    labels = np.array([i for i, name in enumerate(classes) for _ in per_class[name]], dtype=np.int64)
    train, test = _stratified_split(labels, TEST_FRACTION, SPLIT_SEED)
    if cfg.limit is not None and cfg.limit < len(train):
        train = train[_balanced_subset(labels[train], cfg.limit, cfg.seed)]  # before decoding: saves time

    size = cfg.image_size or SHAPES_SIZE
    _check_fits("the image folder", len(train) + len(test), 3, size)

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
                    f"cannot read image {files[i].relative_to(root)} in the image folder",
                    with_paths=f"cannot read image {files[i]}: {err}",
                ) from err
        return torch.from_numpy(out).permute(0, 3, 1, 2).float().div_(255.0)  # (n, 3, size, size)

    no_limit = dataclasses.replace(cfg, limit=None)  # applied above, before decoding
    return _finish(
        "folder",
        no_limit,
        decode(train),
        torch.from_numpy(labels[train]),
        decode(test),
        torch.from_numpy(labels[test]),
        classes,
    )


# --------------------------------------------------------------------------------------------
# Registry

DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            "digits",
            "Digits (8x8, scikit-learn)",
            "1,797 real handwritten digits at 8x8 pixels, bundled with scikit-learn: trains in seconds.",
            True,
            load_digits,
        ),
        DatasetInfo(
            "shapes",
            "Shapes (generated, with masks)",
            "Circles, squares, triangles, crosses and rings of random size, position, rotation and colour "
            "on textured noise. Each image has a ground-truth mask, so Grad-CAM maps can be scored.",
            True,
            load_shapes,
        ),
        DatasetInfo(
            "clutter",
            "Shapes in clutter (64x64, generated)",
            "The same five shapes, one large target per image among smaller shapes of other classes, strokes "
            "and blobs on striped backgrounds. The mask covers the target only, so Grad-CAM shows whether a "
            "net looks at the target or at the clutter.",
            True,
            load_clutter,
        ),
        DatasetInfo(
            "cifar10",
            "CIFAR-10",
            "60,000 colour photos at 32x32 in 10 classes, the dataset of He et al. 2016 section 4.2 (download, 170 MB).",
            False,
            _torchvision_loader("cifar10", "CIFAR10", "CIFAR-10"),
        ),
        DatasetInfo(
            "mnist",
            "MNIST",
            "70,000 handwritten digits at 28x28 (download, 12 MB).",
            False,
            _torchvision_loader("mnist", "MNIST", "MNIST"),
        ),
        DatasetInfo(
            "fashion_mnist",
            "Fashion-MNIST",
            "70,000 clothing images at 28x28 in 10 classes (download, 30 MB).",
            False,
            _torchvision_loader("fashion_mnist", "FashionMNIST", "Fashion-MNIST"),
        ),
        DatasetInfo(
            "folder",
            "Image folder",
            "Your own images: a folder with one sub-folder per class (torchvision ImageFolder layout).",
            True,
            load_folder,
            web=False,  # a visitor cannot give a folder on the server: `resnet-viz train --dataset folder --data-root DIR`
        ),
    )
}


# The datasets the web pages offer, in menu order (registry keys).
WEB_DATASETS: tuple[str, ...] = tuple(name for name, info in DATASETS.items() if info.web)


def load_dataset(cfg: DataConfig) -> Dataset:
    """The dataset `cfg` names, limited/resized/standardised as it asks (DataConfig has checked
    the seed: numpy takes no negative one)."""
    info = DATASETS.get(cfg.name)
    if info is None:
        raise ConfigError(f"unknown dataset {cfg.name!r}; choose one of {', '.join(DATASETS)}")
    return info.loader(cfg)


# --------------------------------------------------------------------------------------------
# Augmentation


def augment_batch(
    x: torch.Tensor,
    generator: torch.Generator | None = None,
    *,
    pad: int | None = None,
    flip: bool = True,
) -> torch.Tensor:
    """Random crop from a zero-padded image plus random horizontal flip, independently per image.

    x: (B, C, H, W) on any device; returns a new tensor of the same shape on that device. The
    padding defaults to max(1, W // 8) (4 px at 32x32, as in He et al. 2016 section 4.2); zero is the
    channel mean of standardised data. One gather, no loop over images, so it runs where the
    batch lives. Draws, in order: row offsets, column offsets, flips, each (B,) from `generator`
    (on the generator's device), so a given generator state gives a given batch.
    """
    b, _c, h, w = x.shape
    p = max(1, w // 8) if pad is None else pad
    gen_device = generator.device if generator is not None else torch.device("cpu")
    dy = torch.randint(0, 2 * p + 1, (b,), generator=generator, device=gen_device).to(x.device)  # (B,)
    dx = torch.randint(0, 2 * p + 1, (b,), generator=generator, device=gen_device).to(x.device)
    flips = torch.rand((b,), generator=generator, device=gen_device).to(x.device) < 0.5
    if not flip:
        flips = torch.zeros_like(flips)

    padded = F.pad(x, (p, p, p, p))  # (B, C, H+2p, W+2p), zeros
    cols = torch.arange(w, device=x.device)  # (W,)
    cols = torch.where(flips[:, None], w - 1 - cols, cols) + dx[:, None]  # (B, W): a flip reads columns backwards
    rows = torch.arange(h, device=x.device)[None, :] + dy[:, None]  # (B, H)
    batch = torch.arange(b, device=x.device)[:, None, None]  # (B, 1, 1)
    # Advanced indices around a slice put their broadcast dims first: (B, H, W, C).
    out = padded[batch, :, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2).contiguous()


__all__ = [
    "DATASETS",
    "SHAPE_CLASSES",
    "WEB_DATASETS",
    "Dataset",
    "DatasetInfo",
    "DatasetUnavailable",
    "augment_batch",
    "default_data_root",
    "load_dataset",
    "make_cluttered_shapes",
    "make_shapes",
]
