"""Plotly figures of the theory page: data in (arrays, InitProfiles), ``go.Figure`` out.

Same conventions as :mod:`resnet_viz.figures.common`: plain red, residual blue (by the name),
gradients on log y axes with powers of ten, values a log axis cannot show (zero, NaN) left as
gaps. Profiles are read through their attributes only, so anything shaped like an InitProfile
can be drawn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..i18n import N_, _
from ..theory.flow import autocorrelation
from .common import (
    GradKind,
    as_vector,
    empty_figure,
    figure_layout,
    grad_field,
    model_color,
    model_colors,
    pad_names,
    positive_or_nan,
)

NO_MODEL = N_("choose at least one model")  # shown with _()
MAX_LAG = 40  # lags shown by shattered_figure; r(k) for white noise is already ~0 at k = 1


def _log_y(fig: go.Figure, title: str, **kw: Any) -> None:
    fig.update_yaxes(title_text=title, type="log", exponentformat="power", **kw)  # 10^-4, not SI "100µ"


# Legend names of the two chains (the English word also picks the colour).
_CHAIN_NAMES = {"plain": N_("plain"), "residual": N_("residual")}


def chain_figure(plain: np.ndarray, residual: np.ndarray, *, beta_label: str = "1") -> go.Figure:
    """RMS of dL/dx_i against layer i (0 = input) for the plain and the residual chain, log y.

    The arrays are :func:`resnet_viz.theory.flow.chain_gradients` results, index 0 at the input and
    the last entry (1) at the output.
    """
    fig = go.Figure()
    layer = _("layer {layer}").format(layer="%{x}")
    for name, values in (("plain", plain), ("residual", residual)):
        v = as_vector(values)
        color = model_color(name)
        label = _(_CHAIN_NAMES[name])
        fig.add_trace(
            go.Scatter(
                x=np.arange(v.size),
                y=positive_or_nan(v),
                mode="lines+markers",
                name=label,
                customdata=v,
                line={"color": color, "width": 2},
                marker={"color": color, "size": 5},
                hovertemplate=f"{label}<br>{layer}<br>dL/dx RMS %{{customdata:.3g}}<extra></extra>",
            )
        )
    fig.update_xaxes(title_text=_("layer i (0 = input; the last = output, where it is 1)"))
    _log_y(fig, _("RMS of dL/dx_i"))
    return figure_layout(
        fig,
        _("Gradient along a chain of random layers"),
        subtitle=_("plain: x ← φ(Wx); residual: x ← x + β·φ(Wx), β = {beta}").format(beta=beta_label),
    )


def _rows_figure(
    profiles: Sequence[Any],
    attr: str,
    names_attr: str,
    *,
    unit: str,
    x_title: str,
    y_title: str,
    hover: str,
    title: str,
    subtitle: str | None,
) -> go.Figure:
    """One line per profile through its `attr` row (one value per layer or block), log y."""
    if not profiles:
        return empty_figure(title, _(NO_MODEL))
    fig = go.Figure()
    for p, color in zip(profiles, model_colors([p.name for p in profiles])):
        row = as_vector(getattr(p, attr))
        names = pad_names(getattr(p, names_attr), row.size, unit)
        fig.add_trace(
            go.Scatter(
                x=np.arange(1, row.size + 1),
                y=positive_or_nan(row),
                mode="lines+markers",
                name=p.name,
                text=names,
                customdata=row,
                line={"color": color, "width": 1.5},
                marker={"color": color, "size": 5},
                hovertemplate=f"{p.name}<br>%{{x}}: %{{text}}<br>{hover} %{{customdata:.3g}}<extra></extra>",
            )
        )
    fig.update_xaxes(title_text=x_title)
    _log_y(fig, y_title)
    return figure_layout(fig, title, subtitle=subtitle)


# Shown with _() where they are used.
ONE_BATCH = N_("one batch forward and backward, no update")
BLOCK_AXIS = N_("block (1 = first, next to the input)")


def profile_figure(profiles: Sequence[Any], kind: GradKind = "rms") -> go.Figure:
    """Gradient per layer at initialisation, one line per model, first (input) layer at x = 1, log y.

    `kind`: "rms" (per weight, comparable across layer sizes), "norm" or "rel" (over ||W||).
    """
    attr, label = grad_field(kind)
    label = _(label)  # the axis words of resnet_viz.figures.common, in the learner's language
    return _rows_figure(
        profiles,
        attr,
        "layer_names",
        unit="layer",
        y_title=label,
        hover=label,
        x_title=_("layer (1 = next to the input; last = classifier head)"),
        title=_("Gradient per layer at initialisation: {quantity}").format(quantity=label),
        subtitle=_(ONE_BATCH),
    )


def flow_figure(profiles: Sequence[Any]) -> go.Figure:
    """RMS of dL/dx at each block's output at initialisation, one line per model, log y: the
    gradient that flows back (He et al. 2016b, eq. 5)."""
    return _rows_figure(
        profiles,
        "grad_x_rms",
        "block_names",
        unit="block",
        x_title=_(BLOCK_AXIS),
        y_title=_("RMS of dL/dx"),
        hover=_("dL/dx RMS"),
        title=_("Gradient dL/dx at each block's output, at initialisation"),
        subtitle=_(ONE_BATCH),
    )


def act_std_figure(profiles: Sequence[Any]) -> go.Figure:
    """Std of each block's output at initialisation, one line per model, log y."""
    return _rows_figure(
        profiles,
        "act_std",
        "block_names",
        unit="block",
        x_title=_(BLOCK_AXIS),
        y_title=_("std of block output"),
        hover=_("std"),
        title=_("Activation std per block at initialisation"),
        subtitle=None,
    )


def shattered_figure(
    results: Mapping[str, tuple[np.ndarray, np.ndarray]], *, max_lag: int = MAX_LAG, normalise: bool = True
) -> go.Figure:
    """Two panels per :func:`resnet_viz.theory.flow.shattered` result: df/dx against x, and its
    autocorrelation against lag (lag 0 = 1).

    `results` maps a label (its kind in it, e.g. "plain, depth 50", for the colour) to (x, df/dx).
    With `normalise` each df/dx is divided by its RMS: a plain and a residual net's gradients
    differ in scale by orders of magnitude, and it is their shape that tells noise from signal.
    The autocorrelation does not depend on the scale.
    """
    # Long because one figure's traces and layout read top to bottom here; split, the layout would drift from
    # its traces.
    title = _("Shattered gradients: df/dx of a scalar ReLU net along its input")
    if not results:
        return empty_figure(title, _(NO_MODEL))
    y_left = _("df/dx ÷ its RMS") if normalise else "df/dx"
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=(_("{quantity} at each input x").format(quantity=y_left), _("autocorrelation of df/dx")),
        horizontal_spacing=0.1,
    )
    lag = _("lag {lag}").format(lag="%{x}")
    for (name, (x, g)), color in zip(results.items(), model_colors(list(results))):
        xv, gv = as_vector(x), as_vector(g)
        y = gv
        if normalise:
            rms = float(np.sqrt(np.mean(gv**2))) if gv.size else 0.0
            y = gv / rms if rms > 0 and np.isfinite(rms) else gv
        fig.add_trace(
            go.Scatter(
                x=xv,
                y=y,
                mode="lines",
                name=name,
                legendgroup=name,
                line={"color": color, "width": 1.2},
                hovertemplate=f"{name}<br>x %{{x:.3f}}<br>{y_left} %{{y:.3g}}<extra></extra>",
            ),
            row=1,
            col=1,
        )
        lags = min(max_lag, gv.size - 1)
        if lags >= 0:
            r = autocorrelation(gv, lags)
            fig.add_trace(
                go.Scatter(
                    x=np.arange(lags + 1),
                    y=r,
                    mode="lines+markers",
                    name=name,
                    legendgroup=name,
                    showlegend=False,
                    line={"color": color, "width": 1.5},
                    marker={"color": color, "size": 4},
                    hovertemplate=f"{name}<br>{lag}<br>r %{{y:.3f}}<extra></extra>",
                ),
                row=1,
                col=2,
            )
    fig.update_xaxes(title_text=_("input x"), row=1, col=1)
    fig.update_yaxes(title_text=y_left, row=1, col=1)
    fig.update_xaxes(title_text=_("lag (steps between inputs)"), row=1, col=2)
    fig.update_yaxes(title_text=_("autocorrelation r"), range=[-1.05, 1.05], row=1, col=2)
    fig.add_hline(y=0, line={"color": "#999", "width": 1, "dash": "dot"}, row=1, col=2)
    fig = figure_layout(fig, title, subtitle=_("white noise: r drops to ~0 at lag 1; a smooth curve keeps r near 1"))
    fig.update_layout(legend={"y": 1.1}, margin={"t": 120})  # the panel titles sit between legend and plots
    return fig
