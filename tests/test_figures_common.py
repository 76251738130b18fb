"""The common figure layout: room above every title for glyphs taller than a capital (Chinese)."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest

from resnet_viz.figures.common import CAP_SHIFT, figure_layout

CJK_ASCENT = 0.9  # em above the baseline that a Chinese glyph (Noto Sans CJK, bold) reaches
ROOM = 4  # px at least between the top of the tallest glyph and the figure's top edge


def glyph_top(layout: go.Layout) -> float:
    """Where the top of a Chinese glyph of the title's first line lands, in px below the figure's
    top, by plotly.js's rule: a one-line title anchored at its top is lowered by its cap height
    (dy = 0.7em) below the pad; the first line of a title of several lines has its baseline at
    the pad itself (seen in Chromium: a `<tspan class="line" y=pad dy=0>`)."""
    title = layout.title
    size = title.font.size
    baseline = title.pad.t + (0 if "<br>" in title.text else CAP_SHIFT * size)
    return baseline - CJK_ASCENT * size


@pytest.mark.parametrize("subtitle", [None, "普通链：x ← φ(Wx)；残差链：x ← x + β·φ(Wx)"])
def test_a_chinese_title_is_not_cut_at_the_top(subtitle) -> None:
    fig = figure_layout(go.Figure(), "沿随机层链传播的梯度", subtitle=subtitle)
    assert fig.layout.title.yref == "container" and fig.layout.title.yanchor == "top" and fig.layout.title.y == 1
    assert glyph_top(fig.layout) >= ROOM, fig.layout.title


def test_the_check_fails_on_the_old_pad() -> None:
    # Before issue 26 a subtitled title had pad 10: its first line's glyphs rose 3.5 px past the top.
    fig = figure_layout(go.Figure(), "沿随机层链传播的梯度", subtitle="sub")
    fig.layout.title.pad.t = 10
    assert glyph_top(fig.layout) < 0


def test_a_lowered_title_keeps_its_distance_from_the_plot() -> None:
    one = figure_layout(go.Figure(), "Title")
    two = figure_layout(go.Figure(), "Title", subtitle="sub")
    # the subtitle's extra line and the extra pad both come out of the top margin, not the plot
    assert two.layout.margin.t - two.layout.title.pad.t >= 80 - 10
    assert one.layout.margin.t == 64 and one.layout.title.pad.t == 10
    own_break = figure_layout(go.Figure(), "first line<br>second line")  # a <br> of the title's own
    assert own_break.layout.title.pad.t == two.layout.title.pad.t
