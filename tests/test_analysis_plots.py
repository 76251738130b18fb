"""Analysis figures from hand-made results."""

from __future__ import annotations

import numpy as np
import pytest

from resnet_viz import analysis_plots as ap
from resnet_viz.landscape import Slice
from resnet_viz.lesion import BlockLesion, LesionResult, RandomLesion


def _slice(scale: float, dims: int = 2) -> Slice:
    a = (-1.0, 0.0, 1.0)
    loss = scale * (np.add.outer(np.square(a), np.square(a)) + 1) if dims == 2 else scale * (np.square(a) + 1)
    return Slice(a, a if dims == 2 else None, loss, np.zeros_like(loss), 0, 10)


def test_landscape_panels_share_one_colour_range() -> None:
    fig = ap.landscape_figure({"plain-8": _slice(1.0), "residual-8": _slice(4.0)})
    contours = [t for t in fig.data if t.type == "contour"]
    assert [(c.zmin, c.zmax) for c in contours] == [(1.0, 12.0), (1.0, 12.0)]  # min of one, max of the other
    log = ap.landscape_figure({"a": _slice(1.0)}, log=True)
    assert log.data[0].z[1][1] == pytest.approx(0.0)  # log10(1) at the centre
    surf = ap.landscape_figure({"a": _slice(1.0)}, surface=True)
    assert surf.data[0].type == "surface" and surf.data[0].cmax == 3.0
    line = ap.landscape_figure({"a": _slice(1.0, dims=1)})
    assert line.data[0].type == "scatter" and list(line.data[0].y) == [2.0, 1.0, 2.0]


def test_lesion_bars_and_random_curve() -> None:
    r = LesionResult(0.9, (BlockLesion("blocks.0", 0.5, False), BlockLesion("blocks.1", 0.25, True)),
                     (RandomLesion(1, 0.4, 0.1, 2),))  # fmt: skip
    fig = ap.lesion_figure({"residual-8": r})
    assert list(fig.data[0].x) == ["blocks.0", "blocks.1 ↓"] and list(fig.data[0].y) == [50.0, 25.0]
    assert fig.layout.shapes[0].y0 == 90.0  # the intact accuracy line
    rnd = ap.random_lesion_figure({"residual-8": r})
    assert list(rnd.data[0].x) == [0, 1] and list(rnd.data[0].y) == pytest.approx([90.0, 40.0])
    assert list(rnd.data[0].error_y.array) == pytest.approx([0.0, 10.0])


def test_responses_in_order_and_sorted() -> None:
    fig = ap.responses_figure({"plain-8": [("a", 1.0), ("b", 3.0), ("c", 2.0)]})
    assert list(fig.data[0].y) == [1.0, 3.0, 2.0] and list(fig.data[1].y) == [3.0, 2.0, 1.0]


def test_empty_inputs_say_so() -> None:
    for fig in (ap.landscape_figure({}), ap.lesion_figure({}), ap.random_lesion_figure({}), ap.responses_figure({})):
        assert fig.layout.annotations[0].text.startswith("no ")
