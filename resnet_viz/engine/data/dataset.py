"""The dataset container every loader returns, and the finishing steps they share:
limit -> resize -> standardise -> Dataset.

Every loader returns a :class:`Dataset` of whole-split tensors, standardised per channel with the
*training* mean/std, because the datasets here are small enough to live on the training device
and be indexed by batch there (no DataLoader, no worker processes; DESIGN.md "Data").

Pixel scale before standardising is always [0, 1], so ``x * std + mean`` gives displayable images
and ``(img - mean) / std`` prepares an uploaded one."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from resnet_viz.engine.config import ConfigError, DataConfig
from resnet_viz.i18n import _

DATA_ENV = "RESNET_VIZ_DATA"
SPLIT_SEED = 0  # drawn splits (digits, folder) never move, so every run is scored on the same test images
TEST_FRACTION = 0.2


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
    title: str  # shown in the UI (marked with N_(): translate it with _() where it is shown)
    description: str  # one or two sentences for the learner (N_() too)
    offline: bool  # True: works with no network and no files
    loader: Callable[[DataConfig], Dataset]
    web: bool = True  # offered on the web pages; False: the CLI only (the image folder needs a path on the server)


# --------------------------------------------------------------------------------------------
# Shared finishing steps: limit -> resize -> standardise -> Dataset


def balanced_subset(y: np.ndarray, limit: int, seed: int) -> np.ndarray:
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


def stratified_split(y: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
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


def physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):  # not a POSIX system: no check
        return None


def check_fits(title: str, n_images: int, channels: int, size: int) -> None:
    """Refuse, with a sentence, a resize the machine could not hold, before allocating anything.

    Otherwise `image_size=100000` surfaces as the allocator's "DefaultCPUAllocator: can't allocate
    memory: you tried to allocate 57520000000000 bytes". The resized split and its standardised
    copy are alive together: two float32 tensors of (N, C, size, size).
    """
    need = 2 * 4 * n_images * channels * size * size
    have = physical_memory()
    if have is not None and need > have:
        raise ConfigError(
            _(
                "{title} at {size}x{size} pixels needs about {need} GB of memory for its "
                "{n} images, more than this machine's {have} GB; choose a smaller image_size "
                "or a limit on the number of training images"
            ).format(
                title=title, size=size, need=f"{need / 2**30:,.0f}", n=f"{n_images:,}", have=f"{have / 2**30:,.0f}"
            )
        )


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, size, size); antialiased so shrinking does not alias fine strokes."""
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True).clamp_(0.0, 1.0)


def finish(
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
        keep = torch.from_numpy(balanced_subset(y_train.numpy(), cfg.limit, cfg.seed))
        x_train, y_train = x_train[keep], y_train[keep]
        mask_train = None if mask_train is None else mask_train[keep]
    if cfg.image_size is not None:
        if mask_train is not None and x_train.shape[-1] != cfg.image_size:
            raise ValueError("datasets with masks must be generated at the requested size")
        check_fits(name, len(x_train) + len(x_test), x_train.shape[1], cfg.image_size)
        x_train, x_test = resize(x_train, cfg.image_size), resize(x_test, cfg.image_size)
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
