"""Analyses of a stored run's weights, computed once and kept in the run's folder, and the
analysis page's exercises, graded from those analyses.

The CLI (`resnet-viz lesion|landscape`) and the app's analysis page both go through here, so a
result computed by one is reused by the other. The saved file's name carries every setting that
changes the result; `force` recomputes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch

from .construction import (
    NearIdentity,
    closer_to_identity,
    identity_sentences,
    near_identity,
)
from .data import Dataset, load_dataset
from .ensemble import one_block_sentence, one_block_verdict
from .exercises import Exercise, Outcome
from .landscape import Slice, landscape_sentences, loss_slice, sharper, sharpness
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
NEAR_IDENTITY_IMAGES = 1000  # test images per near-identity measurement: the ratios settle long before 10,000


def _model_and_data(store: RunStore, run_id: str, data: Dataset | None) -> tuple[torch.nn.Module, Dataset]:
    info = store.get(run_id)
    return store.load_model(run_id), data if data is not None else load_dataset(info.data)


def lesion_name(draws: int, seed: int) -> str:
    return f"lesion-d{draws}-s{seed}"


def landscape_name(dims: int, grid: int, span: float, seed: int, split: str) -> str:
    return f"landscape-{dims}d-g{grid}-r{span:g}-s{seed}-{split}"


def near_identity_name(images: int) -> str:
    return f"near-identity-n{images}"


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


def run_near_identity(
    store: RunStore, run_id: str, *, images: int = NEAR_IDENTITY_IMAGES, force: bool = False,
    data: Dataset | None = None,
) -> NearIdentity:  # fmt: skip
    """He et al. 2016 §3.1, measured: ||F(x)|| / ||x|| and ||y - x|| / ||x|| per block, averaged over the
    first `images` test images."""
    name = near_identity_name(images)
    saved = None if force else store.load_analysis(run_id, name)
    if saved is not None:
        return NearIdentity.from_dict(saved)
    model, ds = _model_and_data(store, run_id, data)
    with _threads():
        result = near_identity(model, ds.x_test[:images])
    store.save_analysis(run_id, name, result.to_dict())
    return result


# --------------------------------------------------------------------------------------------
# Exercises: predict, run, check; each graded from the measurement the learner just made

_WHO = (("plain", "The plain net"), ("residual", "The residual net"))
LESION_EXERCISE = Exercise(
    "analysis.lesion_one_block",
    "Run the lesion study on the Lesion study tab.",
    "When one block is deleted at test time, which net keeps more of its intact accuracy?",
    _WHO + (("same", "About the same (within 2 points of share)"),),
)
LANDSCAPE_EXERCISE = Exercise(
    "analysis.landscape_rise",
    "Compute the slices on the Loss landscape tab.",
    "At the same distance from the trained weights, whose loss rises more?",
    _WHO + (("same", "About the same (within 2x)"),),
)
IDENTITY_EXERCISE = Exercise(
    "analysis.near_identity",
    "Measure the blocks on the Near-identity blocks tab.",
    "Whose blocks stay nearer the identity, passing their input on almost unchanged?",
    _WHO + (("same", "About the same (within 2x)"),),
)


def lesion_outcome(plain: LesionResult, residual: LesionResult, names: tuple[str, str]) -> Outcome | None:
    verdict = one_block_verdict(plain, residual)
    return None if verdict is None else Outcome(verdict, one_block_sentence(plain, residual, names))


def landscape_outcome(plain: Slice, residual: Slice, names: tuple[str, str]) -> Outcome | None:
    verdict = sharper(sharpness(plain), sharpness(residual))
    # Every sentence but the last, the curvature: the rise at one distance is what the question asks about.
    return None if verdict is None else Outcome(verdict, " ".join(landscape_sentences(plain, residual, names)[:-1]))


def identity_outcome(plain: NearIdentity, residual: NearIdentity, names: tuple[str, str]) -> Outcome | None:
    verdict = closer_to_identity(plain, residual)
    return None if verdict is None else Outcome(verdict, identity_sentences(plain, residual, names)[-1])


def exercise_items(
    names: tuple[str | None, str | None],
    lesion: tuple[LesionResult | None, LesionResult | None],
    landscape: tuple[Slice | None, Slice | None],
    identity: tuple[NearIdentity | None, NearIdentity | None],
) -> list[tuple[Exercise, Outcome | None, str]]:
    """The page's exercises with their outcomes, each pair ordered (plain, residual); an outcome is
    None until both measurements exist, and the third entry says what the learner still has to do."""
    if names[0] is None or names[1] is None:
        todo = "these runs are not a plain/residual pair: pick twins from the list above."
        return [(ex, None, todo) for ex in (LESION_EXERCISE, LANDSCAPE_EXERCISE, IDENTITY_EXERCISE)]
    pair = (names[0], names[1])
    items = []
    for ex, (p, r), grade, press, which in (
        (LESION_EXERCISE, lesion, lesion_outcome, "Run the lesion study", "Lesion study"),
        (LANDSCAPE_EXERCISE, landscape, landscape_outcome, "Compute the slices", "Loss landscape"),
        (IDENTITY_EXERCISE, identity, identity_outcome, "Measure the blocks", "Near-identity blocks"),
    ):
        outcome = None if p is None or r is None else grade(p, r, pair)  # type: ignore[arg-type]
        if p is None or r is None:
            todo = f"press **{press}** on the {which} tab."
        else:  # measured, but the numbers do not rank the nets (the tab's sentences say why)
            todo = f"these numbers cannot rank the two nets; the {which} tab says why. Try other settings."
        items.append((ex, outcome, todo))
    return items
