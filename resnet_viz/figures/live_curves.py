"""Loss and accuracy curves of the live twin-training page: `History` objects in, ``go.Figure`` out.

Every builder takes `History` objects (or anything with the same attributes, e.g. a snapshot
copy or a metrics.json loaded back) and must survive the states a live run passes through: no
points yet, a model that diverged (NaN/None values, a shorter history than its twin). The page
redraws these about twice a second, so arrays go through numpy and long lines are downsampled
(keeping the last point: the newest value is the one a learner is watching).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from ..i18n import N_, _, ngettext
from ..text.numbers import num
from .common import (
    MAX_POINTS,
    HistoryLike,
    annotate_center,
    as_vector,
    divergence_mark,
    downsample_index,
    figure_layout,
    model_color,
    model_colors,
    no_data_text,
    trailing_mean,
)

OVERLAY_OPACITY = 0.45  # earlier runs: visible for comparison, clearly not the live run
OVERLAY_SUFFIX = N_("{name} (earlier run)")  # an earlier run's legend name: its label, then these words


def _eval_points(h: Any, key: str) -> tuple[np.ndarray, np.ndarray]:
    evals = getattr(h, "eval", None) or []
    steps = as_vector([e.get("step") for e in evals])
    vals = as_vector([e.get(key) for e in evals])
    return steps, vals


# ---------------------------------------------------------------------------------------------
# Loss and accuracy


def _curve_traces(
    fig: go.Figure,
    h: Any,
    color: str,
    *,
    field: str,
    test_key: str,
    scale: float,
    smooth: int,
    overlay: bool,
    max_points: int,
) -> bool:
    """Add a model's training line, its test markers and a divergence mark; False if no points."""
    # Long because one figure's traces and layout read top to bottom here; split, the layout would drift from
    # its traces.
    n = min(len(h.step), len(getattr(h, field)))
    steps = as_vector(h.step[:n])
    y = trailing_mean(getattr(h, field)[:n], smooth) * scale
    name = _(OVERLAY_SUFFIX).format(name=h.name) if overlay else h.name
    unit = "%" if scale == 100 else ""
    step_word, train_word, test_word = _("step"), _("train"), _("test")
    line = {"color": color, "width": 1.5, "dash": "dash" if overlay else "solid"}
    opacity = OVERLAY_OPACITY if overlay else 1.0
    if n:
        idx = downsample_index(n, max_points)
        fig.add_trace(
            go.Scatter(
                x=steps[idx],
                y=y[idx],
                mode="lines",
                name=_("{name} train").format(name=name),
                legendgroup=name,
                line=line,
                opacity=opacity,
                hovertemplate=f"{name}<br>{step_word} %{{x}}<br>{train_word} %{{y:.4g}}{unit}<extra></extra>",
            )
        )
    ts, tv = _eval_points(h, test_key)
    if ts.size:
        fig.add_trace(
            go.Scatter(
                x=ts,
                y=tv * scale,
                mode="markers",
                name=_("{name} test").format(name=name),
                legendgroup=name,
                opacity=opacity,
                marker={
                    "color": color,
                    "size": 8,
                    "symbol": "circle-open" if overlay else "circle",
                    "line": {"width": 2, "color": color},
                },
                hovertemplate=f"{name}<br>{step_word} %{{x}}<br>{test_word} %{{y:.4g}}{unit}<extra></extra>",
            )
        )
    div = divergence_mark(h)
    if div is not None:
        at, words = div
        finite = np.flatnonzero(np.isfinite(y))
        text = _("{name} {diverged}").format(name=name, diverged=words)
        if finite.size:  # sits at the end of the line: the value at `at` itself is NaN/inf
            fig.add_trace(
                go.Scatter(
                    x=[at],
                    y=[y[finite[-1]]],
                    mode="markers+text",
                    name=f"{name} diverged",  # never shown (showlegend=False): a stable trace name
                    legendgroup=name,
                    showlegend=False,
                    opacity=opacity,
                    marker={"symbol": "x", "size": 13, "color": color, "line": {"width": 1}},
                    text=[words],
                    textposition="top center",
                    textfont={"color": color},
                    hovertemplate=_("{what}: loss became NaN/inf").format(what=text) + "<extra></extra>",
                )
            )
        else:  # diverged before a single good step: nothing to hang a marker on
            fig.add_annotation(
                text=text,
                x=0.02,
                y=0.95,
                xref="paper",
                yref="paper",
                xanchor="left",
                showarrow=False,
                font={"color": color},
            )
    return n > 0


def _curves_figure(
    histories: Sequence[Any],
    overlays: Sequence[Any],
    *,
    field: str,
    test_key: str,
    scale: float,
    smooth: int,
    max_points: int,
    title: str,
) -> go.Figure:
    fig = go.Figure()
    live_colors = model_colors([h.name for h in histories])
    any_live = False
    for h, color in zip(histories, live_colors):
        any_live |= _curve_traces(
            fig,
            h,
            color,
            field=field,
            test_key=test_key,
            scale=scale,
            smooth=smooth,
            overlay=False,
            max_points=max_points,
        )
    for h in overlays:
        _curve_traces(
            fig,
            h,
            model_color(h.name),
            field=field,
            test_key=test_key,
            scale=scale,
            smooth=smooth,
            overlay=True,
            max_points=max_points,
        )
    if not any_live:
        annotate_center(fig, no_data_text(histories, "training steps"))
    subtitle = _("training: trailing mean of {n} steps; test: markers").format(n=smooth) if smooth > 1 else None
    fig.update_xaxes(title_text=_("training step"), rangemode="nonnegative")
    return figure_layout(fig, title, subtitle=subtitle)


def loss_figure(
    histories: Sequence[HistoryLike],
    *,
    smooth: int = 1,
    overlays: Sequence[HistoryLike] = (),
    log_y: bool = False,
    max_points: int = MAX_POINTS,
) -> go.Figure:
    """Training loss per step (one line per model) with test loss as markers at eval steps.

    `smooth` > 1 draws a trailing mean over that many steps (said in the subtitle). `overlays`
    are earlier runs, drawn dashed and dimmed. A diverged model ends in an "x" at its last good
    point, labelled with the step where the loss became NaN/inf.
    """
    fig = _curves_figure(
        histories,
        overlays,
        field="loss",
        test_key="test_loss",
        scale=1.0,
        smooth=smooth,
        max_points=max_points,
        title=_("Loss"),
    )
    yaxis = {
        "title": {"text": _("cross-entropy loss")},
        "type": "log" if log_y else "linear",
        "exponentformat": "power",
    }
    if not log_y:
        yaxis["rangemode"] = "nonnegative"  # a loss is never below 0 (the empty chart showed -1)
    fig.update_layout(yaxis=yaxis)  # one update: each update_* call validates on its own
    if not log_y:
        names = [h.name for h in histories]  # coloured as _curves_figure colours them
        colors = {**{h.name: model_color(h.name) for h in overlays}, **dict(zip(names, model_colors(names)))}
        _clip_outliers(fig, [*histories, *overlays], colors)
    return fig


# Test losses up to this many times the largest training loss stay in view (the axis reaches them,
# so the training curves still fill at least two thirds of its height); higher ones are marked at
# the top edge. A fresh deep plain net's first test points are far above its training loss (on the
# digits, plain-56: 120 at step 1, residual-56: 2,230 at step 22, while every training loss was
# below 5): with the axis reaching them the training curves were pressed into its bottom fifth.
KEEP_FACTOR = 1.5


def _clip_outliers(fig: go.Figure, histories: Sequence[Any], colors: dict[str, str]) -> None:
    """Keep the training curves readable from the first steps: the y axis spans the training losses
    and the test losses within KEEP_FACTOR of them; each test loss above that is a triangle at the
    chart's top edge in its model's colour (its value in the hover), named in a note inside the plot."""
    train = [v for h in histories for v in as_vector(h.loss) if np.isfinite(v)]
    if not train:
        return
    ceiling = KEEP_FACTOR * max(train)
    off = [
        (h.name, int(s), float(v))
        for h in histories
        for s, v in zip(*_eval_points(h, "test_loss"))
        if np.isfinite(v) and v > ceiling
    ]
    if not off:
        return
    kept = [v for h in histories for v in _eval_points(h, "test_loss")[1] if np.isfinite(v) and v <= ceiling]
    top = 1.05 * max([*train, *kept])
    fig.update_yaxes(range=[0, top])
    for name in dict.fromkeys(n for n, _s, _v in off):
        points = [(s, v) for n, s, v in off if n == name]
        fig.add_trace(
            go.Scatter(
                x=[s for s, _v in points],
                y=[top] * len(points),
                mode="markers",
                marker={"symbol": "triangle-up", "size": 10, "color": colors.get(name, "#a33")},
                cliponaxis=False,
                showlegend=False,
                name=_("{name} test (off the chart)").format(name=name),
                hovertext=[
                    _("{name} test loss {loss} at step {step}").format(name=name, loss=num(v), step=s)
                    for s, v in points
                ],
                hoverinfo="text",
            )
        )
    # One point a line, at the plot's top right: on a 300-pixel chart one long line ran off its
    # left edge ("...步的测试损失为 120；..." in Chinese).
    lines = [_("test loss off the chart (▲):")]
    lines += [_("{name}: {loss} at step {step}").format(name=n, loss=num(v), step=s) for n, s, v in off[:3]]
    if len(off) > 3:
        lines.append(ngettext("and {n} more", "and {n} more", len(off) - 3).format(n=len(off) - 3))
    fig.add_annotation(
        text="<br>".join(lines),
        x=1,
        y=1,
        xref="paper",
        yref="paper",
        xanchor="right",
        yanchor="top",
        align="right",
        showarrow=False,
        font={"size": 11, "color": "#a33"},
        bgcolor="rgba(255, 255, 255, 0.85)",
    )


def accuracy_figure(
    histories: Sequence[HistoryLike],
    *,
    smooth: int = 1,
    overlays: Sequence[HistoryLike] = (),
    max_points: int = MAX_POINTS,
) -> go.Figure:
    """Training accuracy per step (per batch, so noisy: see `smooth`) and test accuracy markers, in %."""
    fig = _curves_figure(
        histories,
        overlays,
        field="acc",
        test_key="test_acc",
        scale=100.0,
        smooth=smooth,
        max_points=max_points,
        title=_("Accuracy"),
    )
    fig.update_yaxes(title_text=_("accuracy (%)"), range=[0, 100])
    return fig
