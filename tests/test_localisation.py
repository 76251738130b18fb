"""Where the twins look: localisation tracks over snapshots, the pair the saliency page picks, and
the sentences, each checked against hand-made numbers and with the numbers swapped."""

from __future__ import annotations

import dataclasses
import math
import statistics
from pathlib import Path

import pytest
import torch

from resnet_viz.engine.checkpoints import load_model
from resnet_viz.engine.config import DataConfig, ModelConfig, TrainConfig
from resnet_viz.engine.data import load_dataset
from resnet_viz.engine.experiment import run_twins
from resnet_viz.engine.runs import RunInfo, RunStore
from resnet_viz.saliency import localisation
from resnet_viz.saliency.localisation import (
    Track,
    chance_share,
    is_masked_pair,
    localisation_score,
    mean_localisation,
    newest_pair,
    shallower_plain,
    track,
    twin_groups,
)
from resnet_viz.saliency.maps import attribute
from resnet_viz.text.saliency import localisation_reading


def _track(label: str, residual: bool, energy, peak=None, acc=0.9, steps=None, se=None) -> Track:
    energy = tuple(energy)
    return Track(
        label,
        residual,
        tuple(steps or range(0, 100 * len(energy), 100)),
        energy,
        tuple(peak or [0.5] * len(energy)),
        acc,
        tuple(se or [math.nan] * len(energy)),
    )


def test_chance_is_the_mask_share_of_the_image() -> None:
    masks = torch.zeros(2, 4, 4, dtype=torch.bool)
    masks[0, :2, :2] = True  # 4 of 16
    masks[1, :, :2] = True  # 8 of 16
    assert chance_share(masks) == pytest.approx(12 / 32)
    assert math.isnan(chance_share(torch.zeros(0, 4, 4, dtype=torch.bool)))


def test_reading_names_who_looks_at_the_shape_and_changes_when_the_numbers_swap() -> None:
    plain = _track("plain-32", False, [0.30, 0.28], acc=0.25, se=[0.02, 0.02])
    res = _track("residual-32", True, [0.30, 0.62], acc=0.99, se=[0.02, 0.02])
    text = " ".join(localisation_reading([plain, res], 0.25, 100, 5))
    assert "the plain net ended 74.0 points below its residual twin" in text
    assert "residual-32's Grad-CAM maps put on average 62.0% of their energy inside the shape, 37.0 points more" in text
    assert "plain-32's Grad-CAM maps put on average 28.0% of their energy inside the shape, about as much as" in text
    assert "put 34.0 points more of their energy inside the shape than the plain net's" in text
    assert "guessing at random scores 20.0% with 5 classes" in text
    assert "residual-32's share of map energy inside the shape went from 30.0% (step 0) to 62.0% (step 100)" in text
    # The same numbers, the other way round: the words follow them.
    swapped = " ".join(
        localisation_reading(
            [
                _track("plain-32", False, [0.30, 0.62], acc=0.99, se=[0.02, 0.02]),
                _track("residual-32", True, [0.30, 0.28], acc=0.25, se=[0.02, 0.02]),
            ],
            0.25,
            100,
            5,
        )
    )
    assert "here the residual net ended 74.0 points below the plain net" in swapped
    assert "Here the plain net's maps put 34.0 points more of their energy inside the shape" in swapped
    assert "degrad" not in swapped.lower()


SHALLOW_CLAIM = "trained worse than the shallower one, which is degradation"


def test_degradation_is_said_only_when_a_shallower_plain_net_trained_better() -> None:
    # Issue 26: trailing the same-depth residual twin is not degradation (He et al. 2016, §1 and Fig. 1:
    # a deeper plain net with a higher training error than a shallower plain net).
    plain = _track("plain-32", False, [0.3], acc=0.25)
    res = _track("residual-32", True, [0.6], acc=0.99)
    alone = " ".join(localisation_reading([plain, res], 0.25, 100, 5))
    assert "74.0 points below its residual twin" in alone
    assert SHALLOW_CLAIM not in alone and "it degraded" not in alone
    assert "not by itself degradation" in alone and "Degradation explorer" in alone  # where to check it
    better = " ".join(localisation_reading([plain, res], 0.25, 100, 5, shallower=("plain-8", 0.90)))
    assert "plain-8, a shallower plain net trained the same way on the same data, reached 90.0%" in better
    assert "65.0 points above plain-32" in better and SHALLOW_CLAIM in better
    assert "Degradation explorer" not in better
    # The shallow net's number swapped below the deep one's: no degradation, and the sentence says so.
    worse = " ".join(localisation_reading([plain, res], 0.25, 100, 5, shallower=("plain-8", 0.10)))
    assert SHALLOW_CLAIM not in worse and "15.0 points below plain-32" in worse
    assert "the deeper plain net trained better: no degradation here" in worse
    level = " ".join(localisation_reading([plain, res], 0.25, 100, 5, shallower=("plain-8", 0.27)))
    assert SHALLOW_CLAIM not in level and "within 5 points of plain-32: no degradation here" in level
    # A plain net level with its twin points nowhere: nothing to tell apart from degradation.
    level_twin = _track("r", True, [0.6], acc=0.92)
    even = " ".join(localisation_reading([_track("p", False, [0.3], acc=0.9), level_twin], 0.25, 100, 5))
    assert "degradation" not in even.lower()
    # ...unless a shallower plain net did train better: that is degradation whatever the twin did.
    both = " ".join(
        localisation_reading([_track("p", False, [0.3], acc=0.9), level_twin], 0.25, 100, 5, shallower=("q", 1.0))
    )
    assert SHALLOW_CLAIM in both


def test_even_spread_is_named_only_within_the_noise_of_the_images() -> None:
    # Issue 26: 31.2% inside against an even 22.8% read "no more than a map spread evenly would".
    def looks(se: float, energy: float = 0.312) -> str:
        return " ".join(localisation_reading([_track("residual-32", True, [energy], se=[se])], 0.228, 100, 5))

    wide = looks(0.05)  # two standard errors: 10 points, more than the 8.4-point gap
    assert "about as much as a map spread evenly would (22.8%)" in wide
    assert "within the noise of these images (±10.0 points, 2 standard errors)" in wide
    narrow = looks(0.02)  # the same gap, two standard errors of 4 points
    assert "8.4 points more than a map spread evenly would (22.8%)" in narrow and "about as much" not in narrow
    assert "beyond the noise of these images (±4.0 points, 2 standard errors)" in narrow
    below = looks(0.02, energy=0.144)
    assert "8.4 points less than a map spread evenly would (22.8%)" in below and "background" in below
    assert "about as much as" in looks(0.05, energy=0.144)
    unknown = looks(math.nan)  # no spread measured: no verdict either way
    assert "31.2% of their energy inside the shape; their maximum" in unknown
    assert not any(w in unknown for w in ("about as much", "more than a map", "less than a map"))


def test_reading_within_noise_below_chance_and_all_zero_maps() -> None:
    same = " ".join(
        localisation_reading(
            [_track("p", False, [0.50], acc=0.9, se=[0.01]), _track("r", True, [0.52], acc=0.92, se=[0.01])],
            0.2,
            100,
            5,
        )
    )
    assert (
        "both trained about as well (within 5 points)" in same
        and "about the same share of their energy inside the shape (within 5 points)" in same
    )
    # Two wide spreads: the twins' 8-point difference is inside their noise (2 * sqrt(0.05² + 0.05²) = 14.1).
    noisy = " ".join(
        localisation_reading([_track("p", False, [0.50], se=[0.05]), _track("r", True, [0.58], se=[0.05])], 0.2, 100, 5)
    )
    assert "about the same share of their energy inside the shape (within 14.1 points)" in noisy
    sure = " ".join(
        localisation_reading([_track("p", False, [0.50], se=[0.01]), _track("r", True, [0.58], se=[0.01])], 0.2, 100, 5)
    )
    assert "The residual net's maps put 8.0 points more of their energy inside the shape" in sure
    away = " ".join(localisation_reading([_track("p", False, [0.05], se=[0.01])], 0.25, 100, 5))
    assert "20.0 points less than a map spread evenly would (25.0%)" in away and "background" in away
    dead = localisation_reading([_track("p", False, [math.nan]), _track("r", True, [0.6])], 0.25, 100, 5)
    assert any("p's Grad-CAM maps point nowhere: every map was zero." in s for s in dead)
    assert not any("about the same share" in s or "more of their energy" in s for s in dead)  # no comparison with a NaN
    nothing = localisation_reading([_track("p", False, [0.4], acc=math.nan)], math.nan, 100, 5)
    assert nothing == [
        (
            "On 100 test images, p's Grad-CAM maps put on average 40.0% of their energy inside the shape; "
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
    # The noise of each point: the standard error of (share inside - the mask's share of the image)
    # over the images whose map counted, from the per-image scores.
    model = load_model(shapes_pair, runs[1].run_id)
    cams = attribute(model, images, "gradcam")
    gaps = [
        share - float(mask.float().mean())
        for cam, mask in zip(cams, masks)
        for share, _hit in [localisation_score(cam, mask)]
        if not math.isnan(share)
    ]
    assert len(t.gap_se) == len(t.steps)
    assert t.gap_se[-1] == pytest.approx(statistics.stdev(gaps) / math.sqrt(len(gaps)), rel=1e-6)


def _info(label: str, depth: int, residual: bool = False, acc: float | None = 0.5, **changes) -> RunInfo:
    model = ModelConfig(depth=depth, width=4, residual=residual, in_channels=3, image_size=32, num_classes=4)
    data = changes.pop("data", DataConfig(name="shapes"))
    train = dataclasses.replace(TrainConfig(steps=300), **changes)
    summary = {} if acc is None else {"summary": {"train_acc": acc}}
    return RunInfo(
        f"run-{label}", Path("/nowhere"), model, data, train, None, label, "", "finished", train.steps, None, summary
    )


def test_the_shallower_plain_net_counts_only_when_trained_the_same_way() -> None:
    deep = _info("plain-32", 32, acc=0.3)
    assert shallower_plain(deep, [deep]) is None
    same = _info("plain-8", 8, acc=0.8, seed=3)  # another seed is another draw of the same recipe
    assert shallower_plain(deep, [deep, same]) == ("plain-8", 0.8)
    others = [
        _info("residual-8", 8, residual=True, acc=0.99),  # not a plain net
        _info("plain-56", 56, acc=0.95),  # deeper
        _info("plain-14", 14, acc=0.9, steps=3000),  # trained ten times longer
        _info("plain-20", 20, acc=0.9, lr=0.01),
        _info("plain-8b", 8, acc=0.9, data=DataConfig(name="clutter")),  # other data
        _info("plain-8c", 8, acc=None),  # no training accuracy recorded
    ]
    assert shallower_plain(deep, [deep, *others]) is None
    assert shallower_plain(deep, [deep, *others, same]) == ("plain-8", 0.8)
    best = _info("plain-20", 20, acc=0.85)
    assert shallower_plain(deep, [same, best, deep]) == ("plain-20", 0.85)  # the strongest evidence
    assert shallower_plain(_info("residual-32", 32, residual=True), [same]) is None  # a residual net: no question


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
