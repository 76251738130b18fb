"""The offline datasets that always work, with no network and no files: scikit-learn's digits
and the generated shapes (plain and cluttered, with a ground-truth mask per image)."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import numpy as np
import torch

from resnet_viz.engine.config import DataConfig

from .dataset import SPLIT_SEED, TEST_FRACTION, Dataset, check_fits, finish, stratified_split
from .shapes import CLUTTER_SIZE, SHAPE_CLASSES, SHAPES_SIZE, make_cluttered_shapes, make_shapes

SHAPES_N_TRAIN = 3000
SHAPES_N_TEST = 1000
# 4,000 images at 64x64 are 197 MB of float32, held twice (the generator's cache and the Dataset):
# fine on a class server, and as many images as `shapes`, so the two compare at equal data.
CLUTTER_N_TRAIN = 3000
CLUTTER_N_TEST = 1000


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
    train, test = stratified_split(y, TEST_FRACTION, SPLIT_SEED)
    return finish(
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


def read_only(arrays: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    """Cached arrays are shared by every caller: make an accidental write fail instead of spreading."""
    for a in arrays:
        a.flags.writeable = False
    return arrays


@functools.lru_cache(maxsize=4)
def _shapes_cached(n: int, size: int, seed: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return read_only(make_shapes(n, size, seed))


def load_shapes(cfg: DataConfig) -> Dataset:
    return _load_generated("shapes", cfg, _shapes_cached, SHAPES_SIZE, SHAPES_N_TRAIN, SHAPES_N_TEST)


# clutter: the same classes, one target among smaller shapes of other classes and strokes


@functools.lru_cache(maxsize=2)  # one seed's two splits: 197 MB at 64x64, four times what shapes holds per entry
def _clutter_cached(n: int, size: int, seed: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return read_only(make_cluttered_shapes(n, size, seed))


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
    check_fits(name, n_train + n_test, 3, size)
    # Separate random streams for the two splits: a smaller `limit` changes the train set only.
    xs, ys, ms = cached(n_train, size, (cfg.seed, 0))
    xt, yt, mt = cached(n_test, size, (cfg.seed, 1))

    def nchw(a: np.ndarray) -> torch.Tensor:
        return torch.tensor(a).permute(0, 3, 1, 2)  # (n, H, W, 3) -> (n, 3, H, W), copied

    no_limit = dataclasses.replace(cfg, limit=None, image_size=None)  # both already applied above
    return finish(
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
