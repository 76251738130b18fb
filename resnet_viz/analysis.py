"""Analyses of a stored run's weights, computed once and kept in the run's folder.

The CLI (`resnet-viz lesion|landscape`) and the app's analysis page both go through here, so a
result computed by one is reused by the other. The saved file's name carries every setting that
changes the result; `force` recomputes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch

from .data import Dataset, load_dataset
from .landscape import Slice, loss_slice
from .lesion import LesionResult, layer_responses, lesion_study
from .runs import RunStore

Progress = Callable[[int, int], None]


@contextlib.contextmanager
def _threads() -> Iterator[None]:
    """Run with the training worker's thread count (all cores but one). On a 2-core machine with the
    server and a browser busy, torch's default of 2 threads made an 11x11 slice take 86 s instead
    of 2 s: the two OpenMP threads spin waiting for each other (bench/bench_landscape.py --threads)."""
    from .runner import train_threads

    before = torch.get_num_threads()
    torch.set_num_threads(min(before, train_threads()))
    try:
        yield
    finally:
        torch.set_num_threads(before)
SPLITS = ("test", "train")


def _model_and_data(store: RunStore, run_id: str, data: Dataset | None) -> tuple[torch.nn.Module, Dataset]:
    info = store.get(run_id)
    return store.load_model(run_id), data if data is not None else load_dataset(info.data)


def lesion_name(draws: int, seed: int) -> str:
    return f"lesion-d{draws}-s{seed}"


def landscape_name(dims: int, grid: int, span: float, seed: int, split: str) -> str:
    return f"landscape-{dims}d-g{grid}-r{span:g}-s{seed}-{split}"


def run_lesion(
    store: RunStore, run_id: str, *, draws: int = 10, seed: int = 0, force: bool = False,
    data: Dataset | None = None, on_progress: Progress | None = None,
) -> LesionResult:  # fmt: skip
    """Veit et al. 2016 on the run's test split: each block deleted in turn, then k random blocks."""
    name = lesion_name(draws, seed)
    saved = None if force else store.load_analysis(run_id, name)
    if saved is not None:
        return LesionResult.from_dict(saved)
    model, ds = _model_and_data(store, run_id, data)
    with _threads():
        result = lesion_study(model, ds.x_test, ds.y_test, draws=draws, seed=seed, on_progress=on_progress)
    store.save_analysis(run_id, name, result.to_dict())
    return result


def run_landscape(
    store: RunStore, run_id: str, *, grid: int = 11, span: float = 1.0, dims: int = 2, seed: int = 0,
    split: str = "test", force: bool = False, data: Dataset | None = None, on_progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Slice:  # fmt: skip
    """Li et al. 2018: the loss around the run's weights along filter-normalised random directions.
    The same `seed` gives twins the same directions, so their pictures compare."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    name = landscape_name(dims, grid, span, seed, split)
    saved = None if force else store.load_analysis(run_id, name)
    if saved is not None:
        return Slice.from_dict(saved)
    model, ds = _model_and_data(store, run_id, data)
    x, y = (ds.x_test, ds.y_test) if split == "test" else (ds.x_train, ds.y_train)
    with _threads():
        result = loss_slice(model, x, y, grid=grid, span=span, dims=dims, seed=seed, on_progress=on_progress,
                            should_stop=should_stop)  # fmt: skip
    store.save_analysis(run_id, name, result.to_dict())
    return result


def run_responses(store: RunStore, run_id: str, *, data: Dataset | None = None) -> list[tuple[str, float]]:
    """He et al. 2016 Fig. 7: std of every 3x3 layer's response on the test split (cheap: not saved)."""
    model, ds = _model_and_data(store, run_id, data)
    with _threads():
        return layer_responses(model, ds.x_test)
