"""Saliency figures and PNGs, from hand-made maps with hand-computed expectations."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from PIL import Image

from resnet_viz.figures import saliency as sp
from resnet_viz.figures.common import model_color


def _rgba(color: str) -> tuple[float, ...]:
    """'rgba(1,2,3,0.5)' or 'rgb(1,2,3)' -> (1, 2, 3, 0.5) / (1, 2, 3, 1)."""
    parts = tuple(float(c) for c in color[color.index("(") + 1 : -1].split(","))
    return parts if len(parts) == 4 else (*parts, 1.0)


def _png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def _bars(fig) -> list[int]:
    """Indices of the traces that draw a colour bar."""
    return [i for i, t in enumerate(fig.data) if t.type == "heatmap" and t.showscale]


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


@pytest.mark.parametrize("opacity", [0.3, 0.5, 1.0])
def test_colour_scale_is_transparent_at_zero_and_opacity_at_top(opacity: float) -> None:
    scale = sp.alpha_colorscale(opacity)
    stops = [p for p, _ in scale]
    alphas = [_rgba(c)[3] for _, c in scale]
    assert stops[0] == 0.0 and stops[-1] == 1.0
    assert alphas[0] == 0.0 and alphas[-1] == pytest.approx(opacity)
    assert alphas == pytest.approx([opacity * p for p in stops], abs=1e-4)  # alpha = opacity * value
    assert sp.map_alpha(np.array([0.0, 0.5, 1.0, 2.0, np.nan]), opacity) == pytest.approx(
        [0, opacity / 2, opacity, opacity, 0]
    )


def test_chart_colours_match_the_png_colours() -> None:
    """Plotly interpolates linearly between the scale's stops; colorize must give the same rgb."""
    scale = sp.alpha_colorscale(1.0)
    stops = np.array([p for p, _ in scale])
    rgb = np.array([_rgba(c)[:3] for _, c in scale])
    v = np.linspace(0, 1, 256)
    chart = np.stack([np.interp(v, stops, rgb[:, k]) for k in range(3)], axis=1)
    assert np.abs(chart - sp.colorize(v).astype(float)).max() <= 1.0


def test_overlay_figure_draws_image_and_map_per_panel() -> None:
    img = np.zeros((4, 4, 3))
    m1, m2 = np.ones((4, 4)), np.full((4, 4), 3.0)
    fig = sp.overlay_figure(img, [m1, m2], ["plain-20", "residual-20"], opacity=0.3)
    kinds = [t.type for t in fig.data]
    assert kinds == ["image", "heatmap", "image", "heatmap"]
    # Opacity lives in the colour scale's alpha, not as a uniform wash over the whole trace.
    assert fig.data[1].opacity in (None, 1.0)
    assert [list(s) for s in fig.data[1].colorscale] == sp.alpha_colorscale(0.3)
    assert np.asarray(fig.data[1].z).max() == pytest.approx(1 / 3)
    assert np.asarray(fig.data[3].z).max() == 1.0 and fig.data[3].showscale and not fig.data[1].showscale
    assert [a.text for a in fig.layout.annotations] == ["plain-20", "residual-20"]
    fig.to_json()  # plotly accepts the transparent rgba stops
    raw = sp.overlay_figure(img, [m1], ["x"], raw=True, shared=False)
    assert [t.type for t in raw.data] == ["heatmap"]
    assert all(_rgba(c)[3] == 1.0 for _, c in raw.data[0].colorscale)  # the map alone stays opaque
    assert "own maximum" in raw.layout.title.text


@pytest.mark.parametrize("shared, words", [(True, "shared scale"), (False, "each panel to its own max")])
def test_overlay_figure_has_one_colour_bar_titled_by_scale(shared: bool, words: str) -> None:
    img = np.zeros((4, 4, 3))
    fig = sp.overlay_figure(img, [np.ones((4, 4))] * 3, ["a", "b", "c"], shared=shared)
    bars = _bars(fig)
    assert len(bars) == 1
    bar = fig.data[bars[0]].colorbar
    assert bar.title.text == words
    assert bar.tickvals[0] == 0 and bar.tickvals[-1] == 1
    assert "none" in bar.ticktext[0] and "strongest" in bar.ticktext[-1]


def test_overlay_masks_draw_an_outline_only_where_given() -> None:
    img = np.zeros((6, 6, 3))
    mask = np.zeros((6, 6), dtype=bool)
    mask[2:4, 1:5] = True
    fig = sp.overlay_figure(img, [np.ones((6, 6))] * 2, ["a", "b"], masks=[mask, None])
    assert [t.type for t in fig.data] == ["image", "heatmap", "contour", "image", "heatmap"]
    c = fig.data[2]
    assert c.contours.start == c.contours.end == 0.5 and c.contours.coloring == "none"
    assert np.asarray(c.z).shape == (8, 8) and np.asarray(c.z)[3:5, 2:6].all()  # padded by one pixel
    assert "outline" in fig.layout.title.text
    one_for_all = sp.overlay_figure(img, [np.ones((6, 6))] * 2, ["a", "b"], masks=mask)
    assert [t.type for t in one_for_all.data].count("contour") == 2
    assert "contour" not in [t.type for t in sp.overlay_figure(img, [np.ones((6, 6))], ["a"]).data]


def test_outline_of_a_small_mask_spans_the_whole_image() -> None:
    """An 8x8 mask over a 32x32 image: its padded edges sit one mask-cell beyond the image's."""
    img = np.zeros((32, 32, 3))
    fig = sp.overlay_figure(img, [np.ones((32, 32))], ["a"], masks=[np.ones((8, 8), dtype=bool)])
    c = fig.data[2]
    assert c.x[1] == pytest.approx(1.5) and c.x[-2] == pytest.approx(29.5)  # cell centres, 4 px apart
    assert c.x[0] == pytest.approx(-2.5) and c.y[-1] == pytest.approx(33.5)


def test_detail_figure_shows_image_map_and_overlay() -> None:
    img = np.full((4, 4, 3), 0.5)
    cam = np.array([[0.0, 1.0, 2.0, 4.0]] * 4)
    fig = sp.detail_figure(img, cam, "residual-20", opacity=0.4)
    assert [a.text for a in fig.layout.annotations] == ["image", "map", "overlay"]
    assert [t.type for t in fig.data] == ["image", "heatmap", "image", "heatmap"]
    assert [t.xaxis for t in fig.data] == ["x", "x2", "x3", "x3"]
    assert _bars(fig) == [1]  # one bar, beside the opaque map panel
    assert all(_rgba(c)[3] == 1.0 for _, c in fig.data[1].colorscale)
    assert [list(s) for s in fig.data[3].colorscale] == sp.alpha_colorscale(0.4)
    assert np.asarray(fig.data[1].z)[0] == pytest.approx([0, 0.25, 0.5, 1])  # own max
    for k in ("", "2", "3"):
        assert fig.layout[f"yaxis{k}"].scaleanchor == f"x{k}" and fig.layout[f"xaxis{k}"].showticklabels is False
    assert fig.layout.height == 480
    shared = sp.detail_figure(img, cam, "r", top=2.0)
    assert np.asarray(shared.data[1].z)[0] == pytest.approx([0, 0.5, 1, 1])  # clipped at the shared top
    assert shared.data[1].colorbar.title.text == "shared scale"
    assert "contour" not in [t.type for t in fig.data]


def test_detail_figure_outlines_the_mask_on_every_panel() -> None:
    mask = np.eye(4, dtype=bool)
    fig = sp.detail_figure(np.zeros((4, 4, 3)), np.ones((4, 4)), "x", mask=mask)
    outlines = [t for t in fig.data if t.type == "contour"]
    assert sorted(t.xaxis for t in outlines) == ["x", "x2", "x3"]
    assert all(t.line.color == sp.OUTLINE_COLOR for t in outlines)
    fig.to_json()


def test_colorize_and_png_blend() -> None:
    lut_ends = sp.colorize(np.array([[0.0, 1.0]]))
    assert lut_ends[0, 0].tolist() == [13, 8, 135] and lut_ends[0, 1].tolist() == [240, 249, 33]  # Plasma's ends
    img = np.full((2, 3, 3), 200, dtype=np.uint8)
    full = _png(sp.overlay_png(img, np.ones((2, 3)), opacity=0.25))
    assert full.shape == (2, 3, 3)
    assert full[0, 0].tolist() == [210, 212, 158]  # 0.75 * 200 + 0.25 * Plasma's top (240, 249, 33)


def test_png_leaves_zero_attribution_pixels_untouched() -> None:
    img = np.random.default_rng(0).integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    zero = _png(sp.overlay_png(img, np.zeros((5, 7)), opacity=0.8))
    assert np.array_equal(zero, img)
    m = np.zeros((5, 7))
    m[2, 3] = 1.0
    one = _png(sp.overlay_png(img, m, opacity=0.8))
    changed = np.argwhere((one != img).any(axis=2))
    assert changed.tolist() == [[2, 3]]  # only the attributed pixel moves
    assert not np.array_equal(_png(sp.overlay_png(img, np.ones((5, 7)), opacity=0.8)), img)


def test_png_resizes_a_small_map_onto_the_image() -> None:
    img = np.zeros((8, 8, 3), dtype=np.uint8)
    out = _png(sp.overlay_png(img, np.ones((2, 2)), opacity=1.0))
    assert out.shape == (8, 8, 3) and out[0, 0].tolist() == [240, 249, 33]


def test_localisation_figure_one_solid_line_per_net_in_its_colour() -> None:
    steps = {"plain-20": [0, 10, 20], "residual-20": [0, 10, 20]}
    energy = {"plain-20": [0.1, 0.2, 0.3], "residual-20": [0.3, 0.6, 0.9]}
    peak = {"plain-20": [0.0, 0.5, 0.5], "residual-20": [0.5, 1.0, 1.0]}
    fig = sp.localisation_figure(steps, energy, peak, chance=0.25)
    solid = [t for t in fig.data if t.mode and "lines" in t.mode and t.line.dash == "solid"]
    dashed = [t for t in fig.data if t.mode and "lines" in t.mode and t.line.dash == "dash"]
    assert [t.name for t in solid] == ["plain-20", "residual-20"]
    assert [t.line.color for t in solid] == [model_color("plain-20"), model_color("residual-20")]
    assert [t.line.color for t in dashed] == [t.line.color for t in solid]
    assert list(solid[1].y) == pytest.approx([30, 60, 90]) and list(dashed[0].y) == pytest.approx([0, 50, 50])
    assert tuple(fig.layout.yaxis.range) == (0, 100)
    chance = [s for s in fig.layout.shapes if s.y0 == s.y1]
    assert len(chance) == 1 and chance[0].y0 == pytest.approx(25)
    assert any("chance" in a.text for a in fig.layout.annotations)
    assert len([t for t in sp.localisation_figure(steps, energy).data if t.mode == "lines+markers"]) == 2


def test_localisation_figure_survives_nan_and_says_so_on_hover() -> None:
    steps = {"plain-56": [0, 10, 20]}
    fig = sp.localisation_figure(steps, {"plain-56": [0.2, float("nan"), None]}, {"plain-56": [0.1, math.nan, 0.3]})
    fig.to_json()
    line = fig.data[0]
    assert line.y[0] == pytest.approx(20) and math.isnan(line.y[1]) and math.isnan(line.y[2])
    missing = [t for t in fig.data if t.mode == "markers"]
    assert missing and list(missing[0].x) == [10, 20]
    assert "all zero" in missing[0].hovertemplate
    assert tuple(fig.layout.yaxis.range) == (0, 100)
    assert not fig.layout.shapes  # no chance given, no reference line


def test_localisation_figure_rejects_mismatched_lengths_and_handles_no_nets() -> None:
    with pytest.raises(ValueError, match="2 steps but 3"):
        sp.localisation_figure({"a": [0, 1]}, {"a": [0.1, 0.2, 0.3]})
    assert not sp.localisation_figure({}, {}).data
