"""Config validation at the edges: non-finite numbers, seeds every generator accepts, runs that end.

The configs are the one gate every setting passes (pages, CLI, stored runs); what they accept must
be something training can use, and what they refuse gets a sentence naming the setting.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from resnet_viz.engine.config import (
    MAX_EPOCHS,
    MAX_IMAGE_SIZE,
    MAX_SEED,
    MAX_STEPS,
    ConfigError,
    DataConfig,
    ModelConfig,
    TrainConfig,
    check_total_steps,
)

INF, NAN = math.inf, math.nan


@pytest.mark.parametrize(
    ("cls", "field", "value"),
    [
        (TrainConfig, "lr", INF),
        (TrainConfig, "lr", NAN),
        (TrainConfig, "weight_decay", NAN),
        (TrainConfig, "weight_decay", INF),
        (TrainConfig, "momentum", NAN),
        (TrainConfig, "epochs", INF),
        (TrainConfig, "epochs", NAN),
        (ModelConfig, "alpha", NAN),
        (ModelConfig, "alpha", INF),
    ],
)
def test_non_finite_settings_are_refused_with_their_name(cls, field, value) -> None:
    with pytest.raises(ConfigError, match=rf"{field} must be a finite number"):
        cls(**{field: value})


def test_seed_bound_is_the_one_numpy_and_torch_both_accept() -> None:
    # The oracle for the bound: numpy's legacy RandomState takes MAX_SEED and refuses one more;
    # torch takes MAX_SEED + 1 too (the augmentation stream uses seed + 1).
    np.random.RandomState(MAX_SEED)
    with pytest.raises(ValueError):
        np.random.RandomState(MAX_SEED + 1)
    torch.Generator().manual_seed(MAX_SEED + 1)
    assert TrainConfig(seed=MAX_SEED).seed == DataConfig(seed=MAX_SEED).seed == MAX_SEED
    for cls in (TrainConfig, DataConfig):
        for bad in (MAX_SEED + 1, 10**20, -1):
            with pytest.raises(ConfigError, match="seed must be a whole number from 0 to 4,294,967,295"):
                cls(seed=bad)


def test_runs_that_could_never_end_are_refused() -> None:
    assert TrainConfig(steps=MAX_STEPS).steps == MAX_STEPS
    with pytest.raises(ConfigError, match="steps must be at most 10,000,000"):
        TrainConfig(steps=MAX_STEPS + 1)
    assert TrainConfig(epochs=MAX_EPOCHS).epochs == MAX_EPOCHS
    with pytest.raises(ConfigError, match="epochs must be at most 100,000"):
        TrainConfig(epochs=MAX_EPOCHS * 10)
    with pytest.raises(ConfigError, match="warmup_steps"):
        TrainConfig(warmup_steps=MAX_STEPS + 1)
    check_total_steps(MAX_STEPS)
    with pytest.raises(ConfigError, match="10,000,001 optimiser steps"):
        check_total_steps(MAX_STEPS + 1)


def test_image_size_is_bounded_and_whole_numbers_stay_whole() -> None:
    assert DataConfig(image_size=MAX_IMAGE_SIZE).image_size == MAX_IMAGE_SIZE
    with pytest.raises(ConfigError, match="image_size must be at most 1,024; got 100,000"):
        DataConfig(image_size=100_000)
    with pytest.raises(ConfigError, match="probe_every must be a whole number"):
        TrainConfig(probe_every=2.5)  # type: ignore[arg-type]


def test_plain_fixup_is_still_refused() -> None:
    with pytest.raises(ConfigError, match="fixup needs residual blocks"):
        ModelConfig(residual=False, init="fixup")
    assert ModelConfig(residual=True, init="fixup").init == "fixup"
