"""Where the twins look: localisation tracks over snapshots, the pair the saliency page picks, and
the sentences, each checked against hand-made numbers and with the numbers swapped."""

from __future__ import annotations

import math

import pytest
import torch

from resnet_viz import localisation
from resnet_viz.checkpoints import load_model
from resnet_viz.config import DataConfig, ModelConfig, TrainConfig
from resnet_viz.data import load_dataset
from resnet_viz.experiment import run_twins
from resnet_viz.localisation import (
    Track,
    chance_share,
    is_masked_pair,
    mean_localisation,
    newest_pair,
    track,
    twin_groups,
)
from resnet_viz.runs import RunStore
from resnet_viz.text.saliency import localisation_reading


def _track(label: str, residual: bool, energy, peak=None, acc=0.9, steps=None) -> Track:
    energy = tuple(energy)
    return Track(
        label,
        residual,
        tuple(steps or range(0, 100 * len(energy), 100)),
        energy,
        tuple(peak or [0.5] * len(energy)),
        acc,
    )


def test_chance_is_the_mask_share_of_the_image() -> None:
    masks = torch.zeros(2, 4, 4, dtype=torch.bool)
    masks[0, :2, :2] = True  # 4 of 16
    masks[1, :, :2] = True  # 8 of 16
    assert chance_share(masks) == pytest.approx(12 / 32)
    assert math.isnan(chance_share(torch.zeros(0, 4, 4, dtype=torch.bool)))


def test_reading_names_who_looks_at_the_shape_and_changes_when_the_numbers_swap() -> None:
    plain = _track("plain-32", False, [0.30, 0.28], acc=0.25)
    res = _track("residual-32", True, [0.30, 0.62], acc=0.99)
    text = " ".join(localisation_reading([plain, res], 0.25, 100, 5))
    assert "plain net trained worse by 74 points: it degraded" in text
    assert "residual-32's Grad-CAM maps look at the shape (62.0%" in text
    assert "plain-32's Grad-CAM maps look no more at the shape than a map spread evenly would (28.0%" in text
    assert "sit on the shape more than the plain net's, by 34 points" in text
    assert "guessing scores 20.0% with 5 classes" in text
    assert "from 30.0% (step 0) to 62.0% (step 100)" in text
    # The same numbers, the other way round: the words follow them.
    swapped = " ".join(
        localisation_reading(
            [
                _track("plain-32", False, [0.30, 0.62], acc=0.99),
                _track("residual-32", True, [0.30, 0.28], acc=0.25),
            ],
            0.25,
            100,
            5,
        )
    )
    assert "residual net trained worse, by 74 points" in swapped
    assert "Here the plain net's maps sit on the shape more than the residual net's, by 34 points" in swapped
    assert "degraded" not in swapped


def test_reading_within_noise_below_chance_and_all_zero_maps() -> None:
    same = " ".join(
        localisation_reading([_track("p", False, [0.50], acc=0.9), _track("r", True, [0.52], acc=0.92)], 0.2, 100, 5)
    )
    assert "both trained about as well" in same and "about equally (within 5 points)" in same
    away = " ".join(localisation_reading([_track("p", False, [0.05])], 0.25, 100, 5))
    assert "look away from the shape, at the background (5.0% inside it)" in away
    dead = localisation_reading([_track("p", False, [math.nan]), _track("r", True, [0.6])], 0.25, 100, 5)
    assert any("p's Grad-CAM maps point nowhere: every map was zero." in s for s in dead)
    assert not any("about equally" in s or "more than" in s for s in dead)  # no comparison with a NaN
    nothing = localisation_reading([_track("p", False, [0.4], acc=math.nan)], math.nan, 100, 5)
    assert nothing == [
        (
            "On 100 test images, p's Grad-CAM maps put 40.0% of their energy inside the shape; "
            "their maximum fell inside it on 50.0% of the images."
        )
    ]


@pytest.fixture
def shapes_pair(tmp_runs) -> RunStore:
    store = RunStore(tmp_runs)
    twins = [ModelConfig(depth=8, width=4, residual=r) for r in (False, True)]
    run_twins(twins, DataConfig(name="shapes"), TrainConfig(steps=4, probe_every=0), store=store)
    run_twins(twins, DataConfig(), TrainConfig(steps=2, probe_every=0), store=store)  # newer, on digits
    return store


def test_the_newest_masked_pair_is_found_and_scored_at_every_snapshot(shapes_pair) -> None:
    infos, _ = shapes_pair.scan()
    groups = twin_groups(infos)
    assert len(groups) == 2
    key = newest_pair(groups)
    runs = groups[key]
    assert is_masked_pair(runs) and [r.model.residual for r in runs] == [False, True]
    assert not is_masked_pair(next(g for k, g in groups.items() if k != key))  # the digits pair has no masks
    data = load_dataset(runs[0].data)
    images, masks = data.x_test[:10], data.mask_test[:10]
    t = track(shapes_pair, runs[1], images, masks)
    assert t.label == "residual-8" and t.residual
    assert t.steps == tuple(shapes_pair.snapshot_steps(runs[1].run_id)) and t.steps[0] == 0 and t.steps[-1] == 4
    # Each point is the score of that snapshot's weights, as mean_localisation gives it.
    first = mean_localisation(load_model(shapes_pair, runs[1].run_id, step=0), images, masks)
    assert (t.energy[0], t.peak[0]) == pytest.approx(first, nan_ok=True)
    assert 0.0 <= t.train_acc <= 1.0


def test_no_pair_when_the_store_has_only_digits(tmp_runs) -> None:
    store = RunStore(tmp_runs)
    run_twins(
        [ModelConfig(depth=8, width=4, residual=r) for r in (False, True)],
        DataConfig(),
        TrainConfig(steps=2, probe_every=0),
        store=store,
    )
    assert newest_pair(twin_groups(store.scan()[0])) is None
    assert localisation.MASKED_DATASETS == ("shapes", "clutter")
