"""Saliency figures and PNGs, from hand-made maps with hand-computed expectations."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from resnet_viz import saliency_plots as sp


def test_shared_scale_keeps_relative_strength_own_scale_does_not() -> None:
    weak, strong = np.full((2, 2), 1.0), np.array([[0.0, 2.0], [4.0, 4.0]])
    shared = sp.scale_maps([weak, strong], shared=True)
    assert shared[0] == pytest.approx(np.full((2, 2), 0.25)) and shared[1].max() == 1.0
    own = sp.scale_maps([weak, strong], shared=False)
    assert own[0] == pytest.approx(np.ones((2, 2))) and own[1] == pytest.approx(np.array([[0, 0.5], [1, 1]]))


def test_scaling_survives_zero_negative_and_nan_maps() -> None:
    zero, bad = np.zeros((2, 2)), np.array([[np.nan, -1.0], [2.0, 0.0]])
    a, b = sp.scale_maps([zero, bad], shared=False)
    assert not a.any() and b == pytest.approx(np.array([[0, 0], [1, 0]]))


def test_overlay_figure_draws_image_and_map_per_panel() -> None:
    img = np.zeros((4, 4, 3))
    m1, m2 = np.ones((4, 4)), np.full((4, 4), 3.0)
    fig = sp.overlay_figure(img, [m1, m2], ["plain-20", "residual-20"], opacity=0.3)
    kinds = [t.type for t in fig.data]
    assert kinds == ["image", "heatmap", "image", "heatmap"]
    assert fig.data[1].opacity == 0.3 and np.asarray(fig.data[1].z).max() == pytest.approx(1 / 3)
    assert np.asarray(fig.data[3].z).max() == 1.0 and fig.data[3].showscale and not fig.data[1].showscale
    assert [a.text for a in fig.layout.annotations] == ["plain-20", "residual-20"]
    raw = sp.overlay_figure(img, [m1], ["x"], raw=True, shared=False)
    assert [t.type for t in raw.data] == ["heatmap"] and raw.data[0].opacity == 1.0
    assert "own maximum" in raw.layout.title.text


def test_colorize_and_png_blend() -> None:
    lut_ends = sp.colorize(np.array([[0.0, 1.0]]))
    assert lut_ends[0, 0].tolist() == [0, 0, 4] and lut_ends[0, 1].tolist() == [252, 255, 164]  # Inferno's ends
    img = np.full((2, 3, 3), 200, dtype=np.uint8)
    png = sp.overlay_png(img, np.zeros((2, 3)), opacity=0.5)
    out = np.asarray(Image.open(io.BytesIO(png)))
    assert out.shape == (2, 3, 3)
    assert out[0, 0].tolist() == [100, 100, 102]  # half of 200 + half of Inferno's (0, 0, 4)
