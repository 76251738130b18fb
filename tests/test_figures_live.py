"""The live page's figures and the shared helpers of resnet_viz.figures.common against hand-built
histories: no training, tiny inputs, hand-computed values."""

from __future__ import annotations

import json
import math

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest
from plotly.utils import PlotlyJSONEncoder

from resnet_viz.engine.history import History
from resnet_viz.figures import common, live_curves, live_gradients
from resnet_viz.figures.common import NO_RUN, WAITING, downsample_index, figure_layout, model_color, trailing_mean
from resnet_viz.figures.live_curves import accuracy_figure, loss_figure
from resnet_viz.figures.live_gradients import act_std_figure, grad_heatstrip, grad_profile, identity_share_figure

NAN = float("nan")


def plain() -> History:
    """3 layers, 2 blocks, no residual blocks; 4 steps, 2 probes, 1 eval."""
    return History(
        name="plain-8",
        layer_names=["stem", "b1.conv", "fc"],
        block_names=["b1", "b2"],
        residual_block_names=[],
        step=[1, 2, 3, 4],
        loss=[2.0, 1.5, 1.0, 0.5],
        acc=[0.1, 0.2, 0.4, 0.5],
        lr=[0.1] * 4,
        probe_step=[1, 4],
        grad_norm=[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]],
        grad_rms=[[0.01, 0.02, 0.03], [0.004, 0.05, 0.06]],
        grad_rel=[[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]],
        act_std=[[1.0, 2.0], [3.0, 4.0]],
        identity_grad=[[], []],
        branch_grad=[[], []],
        eval=[{"step": 4, "epoch": 1.0, "test_loss": 0.7, "test_acc": 0.45}],
        status="finished",
    )


def residual() -> History:
    """Same shapes as `plain`, two residual blocks with hand-picked gradient norms."""
    return History(
        name="residual-8",
        layer_names=["stem", "b1.conv", "fc"],
        block_names=["b1", "b2"],
        residual_block_names=["b1", "b2"],
        step=[1, 2, 3, 4],
        loss=[2.0, 1.2, 0.8, 0.3],
        acc=[0.1, 0.3, 0.6, 0.8],
        lr=[0.1] * 4,
        probe_step=[1, 4],
        grad_norm=[[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]],
        grad_rms=[[0.5, 0.2, 0.1], [0.3, 0.2, 1.5]],
        grad_rel=[[0.1, 0.1, 0.1], [0.2, 0.2, 0.2]],
        act_std=[[1.0, 1.0], [0.5, 0.25]],
        identity_grad=[[1.0, 1.0], [3.0, 1.0]],
        branch_grad=[[1.0, 1.0], [1.0, 4.0]],
        eval=[{"step": 4, "epoch": 1.0, "test_loss": 0.4, "test_acc": 0.75}],
        status="finished",
    )


def annotation_texts(fig: go.Figure) -> list[str]:
    return [a.text for a in fig.layout.annotations]


# --- colours, smoothing, downsampling ---------------------------------------------------------


def test_model_colors_are_fixed_per_kind() -> None:
    assert model_color("plain-56") == model_color("mlp-plain-10") == "#d62728"
    assert model_color("residual-20") == "#1f77b4"
    assert model_color("something-else") == model_color("something-else")  # stable across calls
    assert model_color("something-else") not in {"#d62728", "#1f77b4"}


def test_two_models_of_one_kind_get_different_shades() -> None:
    a, b = plain(), plain()
    b.name = "plain-20"
    fig = loss_figure([a, b])
    colors = [t.line.color for t in fig.data if t.mode == "lines"]
    assert colors[0] == "#d62728" and colors[1] != colors[0]


def test_trailing_mean_by_hand_and_skips_nan() -> None:
    np.testing.assert_allclose(trailing_mean([1.0, 2.0, 3.0, 4.0], 2), [1.0, 1.5, 2.5, 3.5])
    np.testing.assert_allclose(trailing_mean([1.0, None, 3.0, NAN, NAN], 2), [1.0, 1.0, 3.0, 3.0, NAN])
    np.testing.assert_allclose(trailing_mean([1.0, 2.0], 1), [1.0, 2.0])


def test_downsample_caps_size_and_keeps_first_and_last() -> None:
    for n in (2001, 2500, 10_000, 123_457):
        idx = downsample_index(n, 2000)
        assert len(idx) <= 2000
        assert idx[0] == 0 and idx[-1] == n - 1
        assert np.all(np.diff(idx) > 0)
    np.testing.assert_array_equal(downsample_index(5, 2000), np.arange(5))


def test_long_loss_line_is_downsampled_to_its_last_point() -> None:
    h = History(name="residual-20", step=list(range(1, 10_001)), loss=list(np.linspace(3, 0.1, 10_000)))
    h.acc = [0.5] * 10_000
    line = loss_figure([h]).data[0]
    assert len(line.x) <= common.MAX_POINTS
    assert line.x[-1] == 10_000 and line.y[-1] == pytest.approx(0.1)


# --- loss and accuracy --------------------------------------------------------------------------


def test_loss_figure_has_train_line_and_test_markers_per_model() -> None:
    fig = loss_figure([plain(), residual()])
    assert [t.name for t in fig.data] == ["plain-8 train", "plain-8 test", "residual-8 train", "residual-8 test"]
    assert fig.data[0].line.color == model_color("plain-8")
    assert fig.data[2].line.color == model_color("residual-8")
    np.testing.assert_allclose(fig.data[2].y, [2.0, 1.2, 0.8, 0.3])
    assert list(fig.data[1].x) == [4] and list(fig.data[1].y) == [0.7]
    assert fig.layout.yaxis.type == "linear"
    assert loss_figure([plain()], log_y=True).layout.yaxis.type == "log"


def test_smoothed_loss_is_a_trailing_mean_and_says_so() -> None:
    fig = loss_figure([plain()], smooth=2)
    np.testing.assert_allclose(fig.data[0].y, [2.0, 1.75, 1.25, 0.75])
    assert "trailing mean of 2 steps" in fig.layout.title.text


def test_overlay_traces_are_dashed_dimmed_and_named() -> None:
    earlier = residual()
    fig = loss_figure([plain()], overlays=[earlier])
    live = [t for t in fig.data if "earlier run" not in t.name]
    over = [t for t in fig.data if "earlier run" in t.name]
    assert [t.name for t in over] == ["residual-8 (earlier run) train", "residual-8 (earlier run) test"]
    assert over[0].line.dash == "dash" and over[0].opacity < 1
    assert live[0].line.dash == "solid"


def test_accuracy_is_in_percent() -> None:
    fig = accuracy_figure([residual()])
    np.testing.assert_allclose(fig.data[0].y, [10.0, 30.0, 60.0, 80.0])
    np.testing.assert_allclose(fig.data[1].y, [75.0])
    assert tuple(fig.layout.yaxis.range) == (0, 100)
    assert "%" in fig.layout.yaxis.title.text


def test_diverged_model_is_marked_with_its_step() -> None:
    h = plain()
    h.status, h.diverged_at = "diverged", 5
    fig = loss_figure([h, residual()])
    marks = [t for t in fig.data if t.name == "plain-8 diverged"]
    assert len(marks) == 1
    assert marks[0].marker.symbol == "x" and list(marks[0].x) == [5]
    assert marks[0].y[0] == pytest.approx(0.5)  # at the end of the line: the loss at step 5 was NaN
    assert marks[0].text[0] == "diverged at step 5"
    assert not any("residual-8 diverged" == t.name for t in fig.data)


# --- gradient heat-strip --------------------------------------------------------------------------


def test_heatstrip_has_one_log_color_scale_from_global_min_and_max() -> None:
    fig = grad_heatstrip([plain(), residual()], kind="rms")
    # global min over both models' grad_rms is 0.004 (plain, 2nd probe), max 1.5 (residual).
    zmin, zmax = math.log10(0.004), math.log10(1.5)
    assert len(fig.data) == 2
    for t in fig.data:
        assert t.type == "heatmap"
        assert t.coloraxis == "coloraxis"
        assert t.zmin == pytest.approx(zmin) and t.zmax == pytest.approx(zmax)
    assert fig.layout.coloraxis.cmin == pytest.approx(zmin)
    assert fig.layout.coloraxis.cmax == pytest.approx(zmax)
    assert "RMS of dL/dW" in fig.layout.coloraxis.colorbar.title.text  # short: the bar sits in a narrow margin


def test_heatstrip_cells_are_log10_of_layer_by_step() -> None:
    fig = grad_heatstrip([plain()], kind="norm")
    z = np.asarray(fig.data[0].z, dtype=float)
    assert z.shape == (3, 2)  # (layers, probes): rows are layers, input first
    np.testing.assert_allclose(z, np.log10([[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]]), rtol=1e-6)
    assert list(fig.data[0].x) == [1, 4]
    assert fig.data[0].y[0].endswith("stem") and fig.data[0].y[-1].endswith("fc")
    ticks = list(fig.layout.yaxis.ticktext)
    assert "input" in ticks[0] and "output" in ticks[-1]
    hover = fig.data[0].hovertemplate
    assert "%{y}" in hover and "%{x}" in hover and "%{customdata" in hover


@pytest.mark.parametrize(
    ("kind", "attr", "words"), [("norm", "grad_norm", "||dL/dW||"), ("rel", "grad_rel", "/ ||W||")]
)
def test_heatstrip_kind_picks_the_field(kind: str, attr: str, words: str) -> None:
    h = plain()
    fig = grad_heatstrip([h], kind=kind)  # type: ignore[arg-type]
    np.testing.assert_allclose(np.asarray(fig.data[0].customdata, dtype=float).T, getattr(h, attr), rtol=1e-6)
    assert words in fig.layout.coloraxis.colorbar.title.text


def test_bad_kind_is_rejected() -> None:
    with pytest.raises(ValueError, match="kind"):
        grad_heatstrip([plain()], kind="mean")  # type: ignore[arg-type]


# --- profiles ------------------------------------------------------------------------------------


def test_grad_profile_is_the_last_probe_row_on_log_y() -> None:
    fig = grad_profile([plain(), residual()])
    assert len(fig.data) == 2
    np.testing.assert_allclose(fig.data[0].y, [0.004, 0.05, 0.06])
    np.testing.assert_allclose(fig.data[1].y, [0.3, 0.2, 1.5])
    assert list(fig.data[0].x) == [1, 2, 3]
    assert fig.layout.yaxis.type == "log"
    assert fig.data[0].name == "plain-8 (step 4)"
    assert fig.data[1].line.color == model_color("residual-8")


def test_grad_profile_at_a_probe_index_clamps_for_a_shorter_history() -> None:
    short = residual()
    short.probe_step, short.grad_rms = [1], [[0.5, 0.2, 0.1]]
    fig = grad_profile([plain(), short], kind="rms", at=1)
    np.testing.assert_allclose(fig.data[0].y, [0.004, 0.05, 0.06])
    np.testing.assert_allclose(fig.data[1].y, [0.5, 0.2, 0.1])
    np.testing.assert_allclose(grad_profile([plain()], at=0).data[0].y, [0.01, 0.02, 0.03])


def test_act_std_is_the_last_probe_row() -> None:
    fig = act_std_figure([plain(), residual()])
    np.testing.assert_allclose(fig.data[0].y, [3.0, 4.0])
    np.testing.assert_allclose(fig.data[1].y, [0.5, 0.25])
    assert fig.layout.yaxis.type == "log"


# --- identity share ------------------------------------------------------------------------------


def test_identity_share_equals_hand_ratios() -> None:
    fig = identity_share_figure(residual())
    ident, branch = fig.data
    # latest probe: identity [3, 1], branch [1, 4] -> 3/4 and 1/5
    np.testing.assert_allclose(ident.y, [0.75, 0.2])
    np.testing.assert_allclose(branch.y, [0.25, 0.8])
    assert fig.layout.barmode == "stack"
    assert "identity" in ident.name and "branch" in branch.name
    assert "||" in fig.layout.title.text  # it says it is a ratio of norms


def test_plain_model_explains_it_has_no_identity_path() -> None:
    fig = identity_share_figure(plain())
    assert len(fig.data) == 0
    assert any("no identity path" in t for t in annotation_texts(fig))


# --- robustness ----------------------------------------------------------------------------------


def all_figures(hs: list[History]) -> list[go.Figure]:
    return [
        loss_figure(hs, smooth=3, log_y=True),
        accuracy_figure(hs, smooth=3),
        grad_heatstrip(hs),
        grad_profile(hs),
        act_std_figure(hs),
        *[identity_share_figure(h) for h in hs],
    ]


def test_nan_and_none_values_do_not_raise() -> None:
    h = residual()
    h.loss = [2.0, None, NAN, 0.5]  # type: ignore[list-item]
    h.acc = [0.1, None, 0.3, NAN]  # type: ignore[list-item]
    h.grad_rms = [[NAN, 0.0, None], [float("inf"), 0.2, 0.3]]  # type: ignore[list-item]
    h.act_std = [[None, 1.0], [NAN, 0.5]]  # type: ignore[list-item]
    h.identity_grad = [[None, 1.0], [NAN, 0.0]]  # type: ignore[list-item]
    h.branch_grad = [[1.0, 1.0], [1.0, 0.0]]
    h.eval = [{"step": 4, "test_loss": None, "test_acc": None}]  # type: ignore[dict-item]
    h.status, h.diverged_at = "diverged", 5
    for fig in all_figures([h, plain()]):
        json.dumps(fig.to_plotly_json(), cls=PlotlyJSONEncoder)  # serialisable, as Streamlit needs
    heat = grad_heatstrip([h])
    # NaN, 0, None and inf are left out of the colour range: only 0.2 and 0.3 are real values.
    assert heat.layout.coloraxis.cmin == pytest.approx(math.log10(0.2))
    assert heat.layout.coloraxis.cmax == pytest.approx(math.log10(0.3))
    profile = grad_profile([h])
    assert "1 non-finite" in profile.data[0].name
    share = identity_share_figure(h).data[0].y
    assert math.isnan(share[0]) and math.isnan(share[1])  # NaN norm; 0/(0+0) is undefined, not 0


def test_metrics_json_with_none_round_trips_into_figures() -> None:
    h = plain()
    h.loss[2] = NAN
    data = json.loads(json.dumps(h.to_dict()).replace("NaN", "null"))
    back = History.from_dict(data)
    fig = loss_figure([back])
    assert math.isnan(fig.data[0].y[2])


def test_empty_history_gives_the_waiting_annotation() -> None:
    for fig in all_figures([History(name="residual-56")]):
        assert WAITING in annotation_texts(fig)
    assert NO_RUN in annotation_texts(loss_figure([])) and WAITING not in annotation_texts(loss_figure([]))


def test_started_model_without_probes_yet_is_still_waiting() -> None:
    h = residual()
    h.probe_step, h.grad_rms, h.act_std, h.identity_grad, h.branch_grad = [], [], [], [], []
    h.status = "running"
    for fig in (grad_heatstrip([h]), grad_profile([h]), act_std_figure([h]), identity_share_figure(h)):
        assert WAITING in annotation_texts(fig)
    h.status = "finished"  # a finished run without probes must not promise more data
    assert WAITING not in annotation_texts(grad_heatstrip([h]))


def test_live_loss_waiting_while_an_overlay_is_already_drawn() -> None:
    fig = loss_figure([History(name="plain-56")], overlays=[plain()])
    assert WAITING in annotation_texts(fig)
    assert [t.name for t in fig.data][:1] == ["plain-8 (earlier run) train"]


def test_figure_layout_style() -> None:
    fig = figure_layout(go.Figure(), "Title")
    assert fig.layout.template == pio.templates["plotly_white"]
    assert fig.layout.legend.orientation == "h"
    assert fig.layout.title.text == "Title"
    assert fig.layout.margin.t <= 80


# -- dL/dx views and readable loss charts (teaching-accuracy pass) --------------------------------


def test_one_huge_test_loss_is_named_off_the_chart_not_squashing_the_curves() -> None:
    # plain-56's first test point on the digits can be 2.5e6 while every training loss is below 3.
    h = plain()
    h.eval = [{"step": 2, "epoch": 0.5, "test_loss": 2.5e6, "test_acc": 0.1}, {"step": 4, "epoch": 1, "test_loss": 0.7}]
    fig = loss_figure([h, residual()])
    lo, hi = fig.layout.yaxis.range
    assert lo == 0 and hi == pytest.approx(1.05 * 2.0)  # just above the largest training loss
    assert any("test loss off the chart (▲):<br>plain-8: 2,500,000 at step 2" in t for t in annotation_texts(fig))
    [mark] = [t for t in fig.data if t.marker.symbol == "triangle-up"]  # the point, at the top edge
    assert list(mark.x) == [2] and list(mark.y) == [pytest.approx(hi)] and mark.cliponaxis is False
    assert mark.hovertext == ("plain-8 test loss 2,500,000 at step 2",)
    assert mark.marker.color == next(t.line.color for t in fig.data if t.name == "plain-8 train")
    assert loss_figure([plain(), residual()]).layout.yaxis.range is None  # nothing to clip: plotly decides


def test_a_fresh_deep_nets_test_losses_leave_the_training_curves_readable() -> None:
    # Issue 31: ResNet-56 twins on the digits, 25 s in: test losses 120 (plain, step 1), 9 (plain,
    # step 10) and 2,230 (residual, step 22) beside training losses below 2.4. The axis reached 25
    # and pressed both training curves into its bottom fifth.
    p, r = plain(), residual()
    p.loss, r.loss = [2.4, 2.3, 2.2, 2.1], [2.35, 2.0, 1.5, 1.0]
    p.eval = [{"step": 1, "test_loss": 120.0}, {"step": 10, "test_loss": 9.0}, {"step": 30, "test_loss": 2.6}]
    r.eval = [{"step": 22, "test_loss": 2230.0}]
    fig = loss_figure([p, r])
    lo, hi = fig.layout.yaxis.range
    assert lo == 0 and max(p.loss) / hi >= 0.6  # the training curves fill most of the height
    assert hi == pytest.approx(1.05 * 2.6)  # the test loss near the training losses stays in view
    [note] = [t for t in annotation_texts(fig) if "off the chart" in t]
    assert note.split("<br>") == [
        "test loss off the chart (▲):",
        "plain-8: 120 at step 1",
        "plain-8: 9 at step 10",
        "residual-8: 2,230 at step 22",
    ]
    marks = {t.name: list(t.x) for t in fig.data if t.marker.symbol == "triangle-up"}
    assert marks == {"plain-8 test (off the chart)": [1, 10], "residual-8 test (off the chart)": [22]}
    # Swap the numbers: with every test loss near the training losses nothing is clipped or said.
    p.eval, r.eval = [{"step": 1, "test_loss": 2.5}], [{"step": 22, "test_loss": 2.2}]
    calm = loss_figure([p, r])
    assert calm.layout.yaxis.range is None and not [t for t in annotation_texts(calm) if "off the chart" in t]


def test_flow_profile_and_ratio_read_grad_x_rms() -> None:
    h = plain()
    h.grad_x_rms = [[1400.0, 1.0], [3.0, 1.0]]
    fig = live_gradients.flow_profile([h])
    np.testing.assert_allclose(fig.data[0].y, [3.0, 1.0])  # the latest probe
    assert fig.layout.yaxis.type == "log" and "block" in fig.layout.xaxis.title.text
    ratio = live_gradients.flow_ratio_figure([h])
    assert list(ratio.data[0].x) == [1, 4]
    np.testing.assert_allclose(ratio.data[0].y, [1400.0, 3.0])  # explosion at init that calms
    # the regime bands, in data units (a shape's y on a log axis means log10 units to plotly.js 3
    # and data units to plotly.js 4: traces mean the same to both)
    bands = {t.name: set(t.y) for t in ratio.data if t.hoverinfo == "skip"}
    assert bands == {"exploding above": {100.0}, "vanishing below": {0.01}} and not ratio.layout.shapes
    h.grad_x_rms = [[0.0, 1.0], [NAN, 1.0]]  # no usable ratio: words, not an exception
    empty = live_gradients.flow_ratio_figure([h])
    assert not empty.data and "0 or not finite" in " ".join(annotation_texts(empty))


def test_empty_curves_have_no_negative_loss_or_step() -> None:
    # Before the first press the loss chart showed an axis from -1 (plotly's default range).
    fig = live_curves.loss_figure([])
    assert fig.layout.yaxis.rangemode == "nonnegative" and fig.layout.xaxis.rangemode == "nonnegative"
    assert live_curves.loss_figure([], log_y=True).layout.yaxis.rangemode is None  # a log axis has no 0


def test_profiles_of_short_nets_tick_whole_blocks_only() -> None:
    # A depth-8 net has 3 blocks: the axis showed ticks at 1.5 and 2.5 (seen in the browser).
    h = plain()
    h.grad_x_rms = [[3.0, 2.0, 1.0]]
    assert live_gradients.flow_profile([h]).layout.xaxis.dtick == 1
    h.grad_x_rms = [[1.0] * 54]  # a deep net: plotly's own ticks (10, 20, ...) are whole already
    assert live_gradients.flow_profile([h]).layout.xaxis.dtick is None


def test_axis_titles_fit_their_charts() -> None:
    # A title longer than ~60 characters is cut off by plotly at the default chart width.
    h = plain()
    h.grad_x_rms = [[1.0, 2.0], [3.0, 4.0]]
    for fig in (
        live_gradients.grad_profile([h]),
        live_gradients.flow_profile([h]),
        live_gradients.act_std_figure([h]),
        live_gradients.flow_ratio_figure([h]),
    ):
        assert len(fig.layout.xaxis.title.text) <= 60, fig.layout.xaxis.title.text
