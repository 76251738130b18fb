"""Analysis figures from hand-made results."""

from __future__ import annotations

import math

import numpy as np
import pytest

from resnet_viz.analysis.construction import BlockChange, NearIdentity
from resnet_viz.analysis.ensemble import path_lengths
from resnet_viz.analysis.landscape import Slice
from resnet_viz.analysis.lesion import BlockLesion, LesionResult, RandomLesion
from resnet_viz.figures import analysis as ap


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
    r = LesionResult(
        0.9, (BlockLesion("blocks.0", 0.5, False), BlockLesion("blocks.1", 0.25, True)), (RandomLesion(1, 0.4, 0.1, 2),)
    )
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


def test_path_lengths_bars_and_the_plain_path() -> None:
    fig = ap.path_length_figure(path_lengths(3), "residual-20", plain_name="plain-20")
    bars = fig.data[0]
    assert list(bars.x) == [0, 1, 2, 3] and list(bars.y) == pytest.approx([12.5, 37.5, 37.5, 12.5])
    assert list(bars.text) == ["1", "3", "3", "1"]  # the counts, in the hover
    assert fig.layout.shapes[0].x0 == 3 and "plain-20" in fig.layout.annotations[0].text
    big = ap.path_length_figure(path_lengths(60), "residual")
    assert big.data[0].text[30] == f"{math.comb(60, 30):.3e}" and big.data[0].text[3] == f"{math.comb(60, 3):,}"
    assert not big.layout.shapes  # no plain twin named: no line
    assert sum(big.data[0].y) == pytest.approx(100.0)


def test_near_identity_panels_with_gaps() -> None:
    r = NearIdentity(True, (BlockChange("blocks.0", 0.25, 0.2, False), BlockChange("blocks.1", 0.5, 0.4, True)), 8)
    p = NearIdentity(False, (BlockChange("blocks.0", 1.5, 1.0, False), BlockChange("blocks.1", None, None, True)), 8)
    fig = ap.near_identity_figure({"plain-8": p, "residual-8": r})
    branch = [t for t in fig.data if t.xaxis == "x"]
    whole = [t for t in fig.data if t.xaxis == "x2"]
    assert [list(t.y) for t in branch] == [[150.0, None], [25.0, 50.0]]
    assert [list(t.y) for t in whole] == [[100.0, None], [20.0, 40.0]]
    assert list(branch[1].text) == ["blocks.0", "blocks.1 ↓"]
    assert ap.near_identity_figure({}).layout.annotations[0].text.startswith("no ")
