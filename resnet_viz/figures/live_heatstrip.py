"""The per-layer gradient heat strip of the live page: one row per model, one column per probe,
log colour scale shared by the twins (resnet_viz.figures.live_gradients re-exports it).
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..i18n import _
from .common import (
    GRAD_SHORT,
    GradKind,
    HistoryLike,
    as_matrix,
    as_vector,
    divergence_mark,
    downsample_index,
    empty_figure,
    figure_layout,
    grad_field,
    no_data_text,
    pad_names,
    positive_or_nan,
)

MAX_COLUMNS = 200  # probe columns per heat-strip; a column is a few pixels wide at most


def _log_ticks(zmin: float, zmax: float) -> tuple[list[float], list[str]]:
    """Colour-bar ticks for log10 values, labelled as values (2e-3), not exponents (-2.7).

    Whole decades when the range spans several; 1-2-5 steps inside a narrow range, so the bar
    never shows a single lonely label.
    """
    lo, hi = math.floor(zmin), math.ceil(zmax)
    step = max(1, math.ceil((hi - lo) / 8))
    mantissas = (1,) if hi - lo > 3 else (1, 2, 5)
    vals, text = [], []
    for k in range(lo, hi + 1, step):
        for m in mantissas:
            v = k + math.log10(m)
            if zmin - 1e-9 <= v <= zmax + 1e-9:
                vals.append(v)
                text.append(f"{m}e{k}")
    return vals, text


@functools.cache
def _stacked_grid(n: int, spacing: float) -> dict:
    """The layout make_subplots gives `n` panels stacked on one shared step axis, each with a
    title annotation: made once per shape, since make_subplots took 8 of the heat strip's 18 ms
    on every redraw (bench/bench_watchers.py). The titles are placeholders; copy it before use."""
    fig = make_subplots(
        rows=n, cols=1, shared_xaxes=True, vertical_spacing=spacing, subplot_titles=[f"panel {i}" for i in range(n)]
    )
    layout = fig.layout.to_plotly_json()
    layout.pop("template", None)  # plotly's default, set again by the figure that uses this
    return layout


def _stacked_rows(n: int, spacing: float) -> dict:
    """A fresh copy of _stacked_grid(n, spacing), to fill in."""
    return copy.deepcopy(_stacked_grid(n, spacing))


def _centred(text: str, *, xref: str, yref: str) -> dict:
    """common.annotate_center's note, as a layout annotation to construct a figure with."""
    return {
        "text": text,
        "x": 0.5,
        "y": 0.5,
        "xref": xref,
        "yref": yref,
        "showarrow": False,
        "font": {"size": 14, "color": "#666"},
    }


def grad_heatstrip(
    histories: Sequence[HistoryLike], *, kind: GradKind = "rms", max_columns: int = MAX_COLUMNS
) -> go.Figure:
    """Layer x probe-step heatmap of gradient strength, one subplot per model, stacked.

    Rows run from the first layer (input, bottom) to the last (output, top); columns are probe
    steps on a shared step axis. All subplots use ONE log10 colour scale (one colour bar, the
    same zmin/zmax = log10 of the smallest/largest value of all models), so a colour means the
    same gradient strength in every model. Zero/NaN cells are left blank: a log scale has no
    colour for them, and inventing one would lie.
    """
    # Long because one figure's traces and layout read top to bottom here; split, the layout would drift from
    # its traces.
    attr, label = grad_field(kind)
    title = _("Gradient per layer over training: {what}").format(what=label)
    mats = [as_matrix(getattr(h, attr)) for h in histories]
    if not any(m.size for m in mats):
        return empty_figure(title, no_data_text(histories, "gradient probes"))

    pos = [positive_or_nan(m) for m in mats]
    finite = [p[np.isfinite(p)] for p in pos]
    finite = [f for f in finite if f.size]
    if finite:
        zmin = float(np.log10(min(f.min() for f in finite)))
        zmax = float(np.log10(max(f.max() for f in finite)))
    else:  # only zeros/NaN so far: any range will do, every cell is blank
        zmin, zmax = -1.0, 0.0
    if zmax - zmin < 1e-9:  # one value everywhere: widen so the colour bar is not degenerate
        zmin, zmax = zmin - 0.5, zmax + 0.5

    titles = []
    for h in histories:
        div = divergence_mark(h)
        titles.append(_("{name} ({diverged})").format(name=h.name, diverged=div[1]) if div is not None else h.name)
    n = len(histories)
    layout = _stacked_rows(n, min(0.12, 0.3 / n))
    for note, text in zip(layout["annotations"], titles):
        note["text"] = text
    tickvals, ticktext = _log_ticks(zmin, zmax)
    layout["coloraxis"] = {
        "colorscale": "Viridis",
        "cmin": zmin,
        "cmax": zmax,
        "colorbar": {
            "title": {"text": _("{what}<br>(log scale)").format(what=_(GRAD_SHORT[kind])), "side": "right"},
            "tickvals": tickvals,
            "ticktext": ticktext,
        },
    }
    layer_word, step_word = _("layer"), _("step")  # hover words
    traces = []
    for i, (h, m, p) in enumerate(zip(histories, mats, pos), start=1):
        xref, yref = ("x", "y") if i == 1 else (f"x{i}", f"y{i}")
        if not p.size:
            layout["annotations"].append(
                _centred(no_data_text([h], "gradient probes"), xref=f"{xref} domain", yref=f"{yref} domain")
            )
            continue
        n_probe, n_layer = p.shape
        steps = as_vector(h.probe_step[:n_probe])
        if steps.size < n_probe:  # a duck-typed history short of steps: number the probes
            steps = np.concatenate([steps, np.full(n_probe - steps.size, np.nan)])
        cols = downsample_index(n_probe, max_columns)
        layers = [f"{j + 1} {nm}" for j, nm in enumerate(pad_names(h.layer_names, n_layer, _("layer")))]
        # float32: half the bytes per redraw, and 7 digits are more than a colour can show
        raw = m[cols].T.astype(np.float32)  # (L, P') the values as measured, for the hover
        z = np.log10(p[cols].T).astype(np.float32)  # (L, P')
        traces.append(
            go.Heatmap(
                x=steps[cols],
                y=layers,
                z=z,
                customdata=raw,
                coloraxis="coloraxis",
                zmin=zmin,
                zmax=zmax,
                name=h.name,
                hoverongaps=False,
                hovertemplate=(
                    f"{h.name}<br>{layer_word} %{{y}}<br>{step_word} %{{x}}<br>{label} = %{{customdata:.3g}}"
                    "<extra></extra>"
                ),
                xaxis=xref,
                yaxis=yref,
            )
        )
        ticks = sorted({0, n_layer - 1, *np.linspace(0, n_layer - 1, 5).round().astype(int).tolist()})
        text = [
            _("{n} (input)").format(n=k + 1)
            if k == 0
            else _("{n} (output)").format(n=k + 1)
            if k == n_layer - 1
            else str(k + 1)
            for k in ticks
        ]
        layout["yaxis" if i == 1 else f"yaxis{i}"].update(
            title={"text": _("layer")}, tickmode="array", tickvals=[layers[k] for k in ticks], ticktext=text
        )
    layout["xaxis" if n == 1 else f"xaxis{n}"]["title"] = {"text": _("training step")}
    # One construction from the finished layout: each update_* call validated its part again.
    fig = go.Figure(data=traces, layout=layout)
    return figure_layout(
        fig,
        title,
        subtitle=_("rows: first layer (input) at the bottom, last (output) at the top"),
        height=110 + 190 * n,
    )
