"""Analyses of a stored run's weights, computed once and kept in the run's folder, and the
analysis page's exercises, graded from those analyses.

The CLI (`resnet-viz lesion|landscape`) and the app's analysis page both go through here, so a
result computed by one is reused by the other. The saved file's name carries every setting that
changes the result; `force` recomputes.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import torch

from ..engine import checks
from ..engine.checkpoints import load_model
from ..engine.config import DataConfig
from ..engine.data import Dataset, load_dataset
from ..engine.devices import thread_count, threads
from ..engine.limits import forward_macs
from ..engine.runs import DamagedAnalysis, RunInfo, RunStore, RunStoreError, RunStoreWarning
from ..i18n import N_, _
from .construction import NearIdentity, near_identity
from .landscape import Slice, loss_slice
from .lesion import LesionResult, layer_responses, lesion_study

Progress = Callable[[int, int], None]


# Images per forward pass of each analysis (the defaults of lesion_study, loss_slice, layer_responses).
LESION_BATCH, LANDSCAPE_BATCH, RESPONSES_BATCH = 1000, 1000, 500


@contextlib.contextmanager
def _threads(store: RunStore, run_id: str, batch: int) -> Iterator[None]:
    """Run with the thread policy's count for the run's model at `batch` images a pass
    (resnet_viz.engine.devices.thread_count). On a 2-core machine with the server and a browser busy,
    torch's default of 2 threads made an 11x11 slice take 86 s instead of 2 s: the two OpenMP
    threads spin waiting for each other (bench/bench_landscape.py --threads)."""
    info = store.get(run_id)
    with threads(thread_count(forward_macs([info.model], info.data, batch))):
        yield


SPLITS = ("test", "train")
# The analysis page's defaults, which the reference atlas computes ahead for its pair.
DEFAULT_DRAWS, DEFAULT_GRID, DEFAULT_SPAN, DEFAULT_DIMS = 10, 11, 1.0, 2
NEAR_IDENTITY_IMAGES = 1000  # test images per near-identity measurement: the ratios settle long before 10,000
KINDS = ("lesion", "landscape", "near-identity")  # the saved analyses, by the prefix of their names


def run_data(info: RunInfo, load: Callable[[DataConfig], Dataset] = load_dataset) -> Dataset:
    """The dataset `info` was trained on (read through `load`, e.g. a page's cache), refused with a
    RunStoreError sentence when a stored config would not fit: too large to hold (an edited
    image_size of 100000 resizes every image to 10^10 pixels), unknown, or not the input the run's
    model takes (a forward pass would fail deep in torch)."""
    from ..engine.limits import BYTES, Limits, data_shape

    size = info.data.image_size
    if size is not None:  # the datasets' own sizes are small; only a resize can ask for the impossible
        channels, _size, n = data_shape(info.data)
        need = 2 * n * channels * size * size * BYTES  # train and test as float32, as limits.estimate counts them
        room = Limits.from_env().memory_bytes
        if need > room:
            raise RunStoreError(
                _(
                    "run {run}: its data resized to {size}x{size} pixels would need about "
                    "{need} GB, more than the {room} GB this server allows"
                ).format(run=repr(info.run_id), size=size, need=f"{need / 2**30:.1f}", room=f"{room / 2**30:.1f}")
            )
    try:
        ds = load(info.data)
    except ValueError as e:  # ConfigError (an unknown dataset), or a size the dataset cannot take
        raise RunStoreError(
            _("run {run}: its data config cannot be loaded ({problem})").format(run=repr(info.run_id), problem=e)
        ) from e
    check_fits(info, ds)
    return ds


def check_fits(info: RunInfo, ds: Dataset) -> None:
    """RunStoreError when the run's model does not take `ds`'s images or labels (an edited config)."""
    m = info.model
    _n, c, h, w = ds.x_test.shape  # (N, C, H, W)
    if (m.in_channels, m.image_size, m.image_size) != (c, h, w) or m.num_classes != len(ds.classes):
        raise RunStoreError(
            _(
                "run {run}: its model takes {channels}-channel {size}x{size} images in "
                "{classes} classes, but its data {data} has {data_channels}-channel {height}x{width} images in "
                "{data_classes} classes"
            ).format(
                run=repr(info.run_id),
                channels=m.in_channels,
                size=m.image_size,
                classes=m.num_classes,
                data=repr(info.data.name),
                data_channels=c,
                height=h,
                width=w,
                data_classes=len(ds.classes),
            )
        )


def _model_and_data(store: RunStore, run_id: str, data: Dataset | None) -> tuple[torch.nn.Module, Dataset]:
    info = store.get(run_id)
    model = load_model(store, run_id)  # first: refuses a model too large to build before any data is read
    if data is None:
        return model, run_data(info)
    check_fits(info, data)
    return model, data


# --------------------------------------------------------------------------------------------
# Saved analyses: checked against their schema on the way in


BLOCKS_NAMED = N_("blocks must name each block and say whether it downsamples")


def _items(where: str, v: Any, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    if not isinstance(v, list) or not all(isinstance(e, dict) and all(k in e for k in keys) for e in v):
        raise ValueError(_("{where} must be a list of objects with {keys}").format(where=where, keys=", ".join(keys)))
    return v


def _check_lesion(doc: dict[str, Any]) -> None:
    checks.number("baseline_acc", doc.get("baseline_acc"), hi=1.0)
    for b in _items("blocks", doc.get("blocks"), ("name", "acc", "downsampling")):
        if not isinstance(b["name"], str) or not isinstance(b["downsampling"], bool):
            raise ValueError(_(BLOCKS_NAMED))
        checks.number(_("a block's acc"), b["acc"], hi=1.0)
    ks = []
    for r in _items("random", doc.get("random", []), ("k", "mean_acc", "std_acc")):
        checks.whole(_("a random lesion's k"), r["k"], lo=1)
        checks.number(_("a random lesion's mean_acc"), r["mean_acc"], hi=1.0)
        checks.number(_("a random lesion's std_acc"), r["std_acc"], hi=1.0)
        if "draws" in r:
            checks.whole(_("a random lesion's draws"), r["draws"])
        ks.append(r["k"])
    if ks != sorted(set(ks)):
        raise ValueError(_("random must list each k once, in increasing order"))


def _check_axis(where: str, v: Any) -> int:
    # As landscape._grid_values makes them: an odd count of increasing steps with 0 in the middle,
    # which sharpness() reads the trained weights' loss from.
    if not isinstance(v, list) or len(v) < 3 or len(v) % 2 == 0:
        raise ValueError(_("{where} must list an odd number (3 or more) of steps").format(where=where))
    for x in v:
        checks.number(where, x, lo=-math.inf)
    if v[len(v) // 2] != 0 or any(a >= b for a, b in itertools.pairwise(v)):
        raise ValueError(_("{where} must increase through 0 in the middle").format(where=where))
    return len(v)


def _check_landscape(doc: dict[str, Any]) -> None:
    na = _check_axis("alphas", doc.get("alphas"))
    nb = None if doc.get("betas") is None else _check_axis("betas", doc.get("betas"))
    for key, hi in (("loss", math.inf), ("acc", 1.0)):
        grid = doc.get(key)
        rows = [grid] if nb is None else grid
        if not isinstance(rows, list) or len(rows) != (1 if nb is None else nb):
            raise ValueError(_("{key} does not have a row per beta").format(key=key))
        for row in rows:
            if not isinstance(row, list) or len(row) != na:
                raise ValueError(_("{key} does not have a value per alpha").format(key=key))
            for x in row:
                checks.number(key, x, hi=hi, null=True)  # null: a diverged point
    checks.whole("seed", doc.get("seed"))
    checks.whole("n_eval", doc.get("n_eval"))


def _check_near_identity(doc: dict[str, Any]) -> None:
    if not isinstance(doc.get("residual"), bool):
        raise ValueError(_("residual must be true or false"))
    checks.whole("images", doc.get("images"), lo=1)
    for b in _items("blocks", doc.get("blocks"), ("name", "branch", "off_identity", "downsampling")):
        if not isinstance(b["name"], str) or not isinstance(b["downsampling"], bool):
            raise ValueError(_(BLOCKS_NAMED))
        checks.number(_("a block's branch"), b["branch"], null=True)
        checks.number(_("a block's off_identity"), b["off_identity"], null=True)


_SCHEMAS: dict[str, tuple[Callable[[dict[str, Any]], None], Callable[[dict[str, Any]], Any]]] = {
    "lesion": (_check_lesion, LesionResult.from_dict),
    "landscape": (_check_landscape, Slice.from_dict),
    "near-identity": (_check_near_identity, NearIdentity.from_dict),
}


def load_saved(store: RunStore, run_id: str, name: str, kind: str) -> LesionResult | Slice | NearIdentity | None:
    """The saved analysis `name` of `kind` (one of KINDS); None when it has not been computed.
    A damaged file raises DamagedAnalysis naming it (recomputing replaces it); a run that is
    missing or damaged itself raises RunStoreError."""
    check, parse = _SCHEMAS[kind]
    doc = store.load_analysis(run_id, name)
    if doc is None:
        return None
    try:
        check(doc)
        return parse(doc)
    except (ValueError, TypeError, KeyError) as e:
        raise DamagedAnalysis(
            _("run {run}: {file} does not hold a {kind} result ({problem})").format(
                run=repr(run_id), file=f"analysis/{name}.json", kind=kind, problem=e
            )
        ) from e


def _reuse(store: RunStore, run_id: str, name: str, kind: str, force: bool) -> Any:
    """The saved result to reuse, or None to compute it (asked to, absent, or damaged: said once)."""
    if force:
        return None
    try:
        return load_saved(store, run_id, name, kind)
    except DamagedAnalysis as e:  # only the file: a missing run is the caller's error to see
        warnings.warn(f"{e}; computing it again", RunStoreWarning, stacklevel=3)
        return None


def lesion_name(draws: int, seed: int) -> str:
    return f"lesion-d{draws}-s{seed}"


def landscape_name(dims: int, grid: int, span: float, seed: int, split: str) -> str:
    return f"landscape-{dims}d-g{grid}-r{span:g}-s{seed}-{split}"


def near_identity_name(images: int) -> str:
    return f"near-identity-n{images}"


def run_lesion(
    store: RunStore,
    run_id: str,
    *,
    draws: int = DEFAULT_DRAWS,
    seed: int = 0,
    force: bool = False,
    keep: bool = True,
    data: Dataset | None = None,
    on_progress: Progress | None = None,
) -> LesionResult:
    """Veit et al. 2016 on the run's test split: each block deleted in turn, then k random blocks.
    Kept in the run's folder unless `keep` is False (a read-only store: the reference atlas)."""
    name = lesion_name(draws, seed)
    saved = _reuse(store, run_id, name, "lesion", force)
    if saved is not None:
        return saved
    model, ds = _model_and_data(store, run_id, data)
    with _threads(store, run_id, LESION_BATCH):
        result = lesion_study(model, ds.x_test, ds.y_test, draws=draws, seed=seed, on_progress=on_progress)
    if keep:
        store.save_analysis(run_id, name, result.to_dict())
    return result


def run_landscape(
    store: RunStore,
    run_id: str,
    *,
    grid: int = DEFAULT_GRID,
    span: float = DEFAULT_SPAN,
    dims: int = DEFAULT_DIMS,
    seed: int = 0,
    split: str = "test",
    force: bool = False,
    keep: bool = True,
    data: Dataset | None = None,
    on_progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Slice:
    """Li et al. 2018: the loss around the run's weights along filter-normalised random directions.
    The same `seed` gives twins the same directions, so their pictures compare. Kept unless `keep` is False."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    name = landscape_name(dims, grid, span, seed, split)
    saved = _reuse(store, run_id, name, "landscape", force)
    if saved is not None:
        return saved
    model, ds = _model_and_data(store, run_id, data)
    x, y = (ds.x_test, ds.y_test) if split == "test" else (ds.x_train, ds.y_train)
    with _threads(store, run_id, LANDSCAPE_BATCH):
        result = loss_slice(
            model, x, y, grid=grid, span=span, dims=dims, seed=seed, on_progress=on_progress, should_stop=should_stop
        )
    if keep:
        store.save_analysis(run_id, name, result.to_dict())
    return result


def run_responses(store: RunStore, run_id: str, *, data: Dataset | None = None) -> list[tuple[str, float]]:
    """He et al. 2016 Fig. 7: std of every 3x3 layer's response on the test split (cheap: not saved)."""
    model, ds = _model_and_data(store, run_id, data)
    with _threads(store, run_id, RESPONSES_BATCH):
        return layer_responses(model, ds.x_test)


def run_near_identity(
    store: RunStore,
    run_id: str,
    *,
    images: int = NEAR_IDENTITY_IMAGES,
    force: bool = False,
    keep: bool = True,
    data: Dataset | None = None,
) -> NearIdentity:
    """He et al. 2016 §3.1, measured: ||F(x)|| / ||x|| and ||y - x|| / ||x|| per block, averaged over the
    first `images` test images. Kept unless `keep` is False."""
    name = near_identity_name(images)
    saved = _reuse(store, run_id, name, "near-identity", force)
    if saved is not None:
        return saved
    model, ds = _model_and_data(store, run_id, data)
    with _threads(store, run_id, min(images, RESPONSES_BATCH)):
        result = near_identity(model, ds.x_test[:images])
    if keep:
        store.save_analysis(run_id, name, result.to_dict())
    return result
