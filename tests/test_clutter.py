"""The `clutter` generator and dataset: one target shape per image, and a mask that covers it alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import resnet_viz.engine.data as D
from resnet_viz.engine.config import ConfigError, DataConfig
from resnet_viz.engine.data.shapes import (
    CLUTTER_MIN_SIZE,
    MAX_DISTRACTORS,
    SHAPE_CLASSES,
    _cluttered_parts,
    make_cluttered_shapes,
)

NOISE = 0.03 * np.sqrt(3.0)  # half-width of the generator's uniform pixel noise


@pytest.fixture(scope="module")
def parts():
    return _cluttered_parts(200, 64, seed=5)


@pytest.fixture(scope="module")
def plain():
    """The same draws with distractors and clutter left unpainted."""
    return _cluttered_parts(200, 64, seed=5, draw_clutter=False)


def test_deterministic_by_seed():
    a, b = make_cluttered_shapes(40, 64, seed=3), make_cluttered_shapes(40, 64, seed=3)
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x, y)
    c = make_cluttered_shapes(40, 64, seed=4)
    assert not np.array_equal(a[0], c[0]) and not np.array_equal(a[2], c[2])
    assert not np.array_equal(a[0], make_cluttered_shapes(40, 64, seed=(3, 1))[0])  # tuple seeds, as the loader uses


def test_arrays_labels_and_sizes():
    n, size = 53, 48
    images, labels, masks = make_cluttered_shapes(n, size, seed=0)
    assert images.shape == (n, size, size, 3) and images.dtype == np.float32
    assert labels.shape == (n,) and labels.dtype == np.int64
    assert masks.shape == (n, size, size) and masks.dtype == bool
    assert 0.0 <= images.min() and images.max() <= 1.0
    counts = np.bincount(labels, minlength=len(SHAPE_CLASSES))
    assert counts.max() - counts.min() <= 1 and counts.sum() == n
    # The target's radius is 0.16-0.26 of the side: its area can neither vanish nor fill the image.
    frac = masks.mean(axis=(1, 2))
    assert frac.min() > 0.02 and frac.max() < 0.25
    assert make_cluttered_shapes(10)[0].shape == (10, 64, 64, 3)  # the default size


def test_rejects_sizes_without_room():
    with pytest.raises(ConfigError, match="size >= 32"):
        make_cluttered_shapes(5, CLUTTER_MIN_SIZE - 1)
    with pytest.raises(ConfigError, match="n >= 1"):
        make_cluttered_shapes(0)


def test_switching_clutter_off_changes_only_clutter_pixels(parts, plain):
    assert np.array_equal(parts.masks, plain.masks) and np.array_equal(parts.labels, plain.labels)
    drawn = parts.distractor_masks.any(axis=1) | parts.clutter_masks  # (n, H, W)
    changed = (parts.images != plain.images).any(axis=-1)
    assert not (changed & parts.masks).any()  # the target's pixels are the same with or without clutter
    assert not (changed & ~drawn).any()  # and outside it only distractors and clutter differ
    assert changed.sum() > 0.5 * drawn.sum()  # they were painted (a few may match the colour beneath)


def test_mask_is_exactly_the_painted_target(plain):
    # With the clutter off, an image is background plus the target: the target's colour inside the
    # mask (up to noise), and >= 0.35 away from it in every channel outside (the contrast guarantee).
    for img, mask in zip(plain.images, plain.masks, strict=True):
        inside = img[mask]  # (k, 3)
        colour = inside.mean(axis=0)
        assert np.abs(inside - colour).max() <= 2 * NOISE + 1e-6
        assert np.abs(img[~mask] - colour).min(axis=-1).min() >= 0.35 - 2 * NOISE - 0.03  # 0.03: mean of clipped noise


def test_distractors_are_other_smaller_shapes_off_the_target(parts):
    kinds, dm = parts.distractor_kinds, parts.distractor_masks
    active = kinds >= 0
    assert set(active.sum(axis=1)) <= {1, 2, 3} and active.sum(axis=1).min() >= 1
    assert {1, 3} <= set(active.sum(axis=1))  # the count varies
    assert not (kinds == parts.labels[:, None]).any()  # never the target's class
    assert set(kinds[active]) == set(range(len(SHAPE_CLASSES)))  # every class occurs as a distractor
    assert not dm[~active].any()
    assert not (dm & parts.masks[:, None]).any()  # no distractor pixel inside the target's mask
    assert not (parts.clutter_masks & parts.masks).any()  # nor a stroke or blob pixel
    area, d_area = parts.masks.sum(axis=(1, 2)), dm.sum(axis=(2, 3))  # (n,), (n, D)
    assert (d_area[active] > 0).all()
    assert (area[:, None] > d_area).all()  # the target is the largest shape
    assert dm.shape[1] == MAX_DISTRACTORS


def test_distractors_are_painted_in_other_colours(parts):
    for img, mask, dms, active in zip(
        parts.images, parts.masks, parts.distractor_masks, parts.distractor_kinds >= 0, strict=True
    ):
        target = img[mask].mean(axis=0)
        for dm in dms[active]:
            colour = np.median(img[dm], axis=0)  # placement keeps distractors apart: all its pixels are its own
            assert np.abs(img[dm] - colour).max() <= 2 * NOISE + 1e-6
            assert np.abs(colour - target).max() >= 0.25 - 2 * NOISE


def test_clutter_dataset_loads_with_masks():
    ds = D.load_dataset(DataConfig(name="clutter"))
    assert ds.name == "clutter" and ds.classes == SHAPE_CLASSES and ds.image_size == 64 and ds.in_channels == 3
    assert ds.n_train == D.CLUTTER_N_TRAIN and ds.n_test == D.CLUTTER_N_TEST
    assert ds.mask_train.shape == (ds.n_train, 64, 64) and ds.mask_test.shape == (ds.n_test, 64, 64)
    assert ds.mask_train.dtype == torch.bool
    assert torch.allclose(ds.x_train.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-3)  # train statistics
    assert (ds.mask_train.sum(dim=(1, 2)) > 0).all() and (ds.mask_test.sum(dim=(1, 2)) > 0).all()


def test_clutter_dataset_limit_size_and_registry():
    ds = D.load_dataset(DataConfig(name="clutter", image_size=48, limit=60, seed=2))
    assert ds.image_size == 48 and ds.n_train == 60 and ds.mask_train.shape == (60, 48, 48)  # drawn at 48, not resized
    # The documented stream, (seed, 0) for train, and pixels that unstandardise to the generator's.
    x, y, m = make_cluttered_shapes(60, 48, seed=(2, 0))
    assert torch.equal(ds.y_train, torch.from_numpy(y)) and torch.equal(ds.mask_train, torch.from_numpy(m))
    assert torch.allclose(ds.unstandardise(ds.x_train), torch.from_numpy(x).permute(0, 3, 1, 2), atol=1e-5)
    with pytest.raises(ConfigError, match="size >= 32"):
        D.load_dataset(DataConfig(name="clutter", image_size=16))
    info = D.DATASETS["clutter"]
    assert info.offline and info.web and "clutter" in D.WEB_DATASETS and info.loader is D.load_clutter
