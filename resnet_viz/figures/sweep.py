"""Plotly figures of a depth sweep (He et al. 2016, Figs. 1 and 6): data in, ``go.Figure`` out.

Plain nets are red and dashed, residual nets blue and solid, as in the paper's Fig. 6 (dashed:
plain, bold: residual); deeper nets get darker shades of their kind's colour.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from ..degradation.sweep import DepthPoint, Kind, SweepResult
from ..i18n import N_, _
from .common import as_vector, empty_figure, figure_layout, trailing_mean

DASH = {"plain": "dash", "residual": "solid"}
SCALE = {"plain": "Reds", "residual": "Blues"}
SYMBOL = {"plain": "circle-open", "residual": "circle"}
# A kind as a legend names it (a model name like plain-56 is never translated, a kind's label is).
KIND_LABEL = {"plain": N_("plain"), "residual": N_("residual")}


def depth_color(kind: Kind, depth: int, depths: Sequence[int]) -> str:
    """Shade of the kind's colour: the shallowest depth lightest, the deepest darkest."""
    ds = sorted(set(depths))
    t = 0.5 if len(ds) < 2 else ds.index(depth) / (len(ds) - 1)
    return sample_colorscale(SCALE[kind], [0.45 + 0.5 * t])[0]


def error_vs_depth(
    points: Sequence[DepthPoint], *, paper: Sequence[dict] | None = None, pooled: bool = False
) -> go.Figure:
    """Final training and test error (%) against depth: mean over seeds, bars from min to max,
    every seed as a dot. Diverged seeds have no final error; the subtitle says which were left out.

    `paper`: rows like ``{"depth": 20, "test_error": 8.75}`` drawn as grey crosses on the test panel.
    `pooled`: the points pool a class's runs (resnet_viz.degradation.pool), which may share a seed:
    the means are over runs, and the subtitle and hover say so.
    """
    # Long because one figure's traces and layout read top to bottom here; split, the layout would drift from
    # its traces.
    title = _("Error vs depth")
    if not any(p.train_error for p in points):
        return empty_figure(title, _("no finished runs yet") if not points else _("every run diverged: no final error"))
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=(_("training error (%)"), _("test error (%)")),
        horizontal_spacing=0.1,
    )
    for col, field in ((1, "train_error"), (2, "test_error")):
        for kind in ("plain", "residual"):
            pts = [p for p in points if p.kind == kind and getattr(p, field)]
            if not pts:
                continue
            color = sample_colorscale(SCALE[kind], [0.8])[0]
            x = [p.depth for p in pts]
            vals = [np.asarray(getattr(p, field)) for p in pts]
            mean = np.array([v.mean() for v in vals])
            spread = any(v.size > 1 for v in vals)
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=mean,
                    mode="lines+markers",
                    name=_(KIND_LABEL[kind]),
                    legendgroup=kind,
                    showlegend=col == 1,
                    line={"color": color, "dash": DASH[kind], "width": 2},
                    marker={"color": color, "size": 8},
                    error_y={
                        "type": "data",
                        "symmetric": False,
                        "array": [v.max() - m for v, m in zip(vals, mean)],
                        "arrayminus": [m - v.min() for v, m in zip(vals, mean)],
                        "visible": spread,
                        "color": color,
                        "width": 4,
                    },
                    customdata=[[len(v), v.min(), v.max()] for v in vals],
                    hovertemplate=(
                        _("{name}: mean {mean}%<br>{n} run(s), min {lo}%, max {hi}%")
                        if pooled
                        else _("{name}: mean {mean}%<br>{n} seed(s), min {lo}%, max {hi}%")
                    ).format(
                        name=f"{kind}-%{{x}}",
                        mean="%{y:.2f}",
                        n="%{customdata[0]}",
                        lo="%{customdata[1]:.2f}",
                        hi="%{customdata[2]:.2f}",
                    )
                    + "<extra></extra>",
                ),
                row=1,
                col=col,
            )
            if spread:  # every seed, so a mean never hides an outlier
                fig.add_trace(
                    go.Scatter(
                        x=[p.depth for p in pts for _e in getattr(p, field)],
                        y=[e for p in pts for e in getattr(p, field)],
                        text=[_("seed {seed}").format(seed=s) for p in pts for s in p.seeds],
                        mode="markers",
                        name=_("{kind}, each seed").format(kind=_(KIND_LABEL[kind])),
                        legendgroup=kind,
                        showlegend=False,
                        marker={"color": color, "size": 5, "opacity": 0.5, "symbol": SYMBOL[kind]},
                        hovertemplate=f"{kind}-%{{x}} %{{text}}: %{{y:.2f}}%<extra></extra>",
                    ),
                    row=1,
                    col=col,
                )
    if paper:
        fig.add_trace(
            go.Scatter(
                x=[r["depth"] for r in paper],
                y=[r["test_error"] for r in paper],
                mode="markers",
                name=_("paper, ResNet on CIFAR-10 (Table 6)"),
                marker={"color": "#7f7f7f", "symbol": "x", "size": 8},
                hovertemplate=_("paper {name}: {error}%").format(name="ResNet-%{x}", error="%{y:.2f}")
                + "<extra></extra>",
            ),
            row=1,
            col=2,
        )
    depths = sorted({p.depth for p in points})
    fig.update_xaxes(title_text=_("depth (weighted layers)"), tickvals=depths)
    fig.update_yaxes(rangemode="tozero")
    dropped = [
        _("{name} seed {seeds}").format(name=f"{p.kind}-{p.depth}", seeds=", ".join(map(str, p.diverged)))
        for p in points
        if p.diverged
    ]
    if pooled:
        sub = _("mean over the class's runs; bars span min to max")
        if dropped:
            sub = _("mean over the class's runs; bars span min to max; diverged, not plotted: {runs}").format(
                runs="; ".join(dropped)
            )
    else:
        sub = _("mean over seeds; bars span min to max")
        if dropped:
            sub = _("mean over seeds; bars span min to max; diverged, not plotted: {runs}").format(
                runs="; ".join(dropped)
            )
    return _two_panels(figure_layout(fig, title, subtitle=sub, height=440))


def _two_panels(fig: go.Figure) -> go.Figure:
    """Room for the panel titles between the legend and the plots (the shared layout puts the
    legend right above the plotting area, where make_subplots puts the panel titles)."""
    fig.update_layout(legend={"y": 1.1}, margin={"t": 120})
    return fig


def _mean_curve(curves: list[np.ndarray]) -> np.ndarray:
    """Mean over seeds at each step; a seed that stopped early (diverged) drops out after its end."""
    n = max(c.size for c in curves)
    stacked = np.full((len(curves), n), np.nan)
    for i, c in enumerate(curves):
        stacked[i, : c.size] = c
    with warnings.catch_warnings():  # an all-NaN column ("mean of empty slice") stays NaN: a gap
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(stacked, axis=0)


def depth_curves(results: Sequence[SweepResult], *, smooth: int | None = None) -> go.Figure:
    """Training error (%) over the run of every (kind, depth), smoothed over `smooth` steps
    (default: a 20th of the run) and averaged over seeds. Plain dashed, residual solid (Fig. 6)."""
    title = _("Training error while training")
    groups: dict[tuple[Kind, int], list[SweepResult]] = {}
    for r in results:
        if r.history.step:
            groups.setdefault((r.kind, r.depth), []).append(r)
    if not groups:
        return empty_figure(title, _("no training steps yet"))
    longest = max(len(r.history.step) for rs in groups.values() for r in rs)
    window = smooth or max(1, longest // 20)
    depths = [d for _k, d in groups]
    fig = go.Figure()
    for (kind, depth), rs in sorted(groups.items(), key=lambda kv: (kv[0][0] != "plain", kv[0][1])):
        curves = [100 * (1 - trailing_mean(r.history.acc, window)) for r in rs]
        longest_run = max(rs, key=lambda r: len(r.history.step))
        y = _mean_curve(curves)
        seeds = ", ".join(str(r.seed) for r in sorted(rs, key=lambda r: r.seed))
        color = depth_color(kind, depth, [d for k, d in groups if k == kind] or depths)
        fig.add_trace(
            go.Scatter(
                x=as_vector(longest_run.history.step),
                y=y,
                mode="lines",
                name=f"{kind}-{depth}",
                line={"color": color, "dash": DASH[kind], "width": 2},
                hovertemplate=f"{kind}-{depth}<br>"
                + _("step {step}: {error}%").format(step="%{x}", error="%{y:.1f}")
                + "<extra>"
                + _("seeds {seeds}").format(seeds=seeds)
                + "</extra>",
            )
        )
    fig.update_xaxes(title_text=_("training step"))
    fig.update_yaxes(title_text=_("training error (%), batch accuracy smoothed"), rangemode="tozero")
    n_seeds = max(len(rs) for rs in groups.values())
    if n_seeds > 1:
        sub = _(
            "trailing mean over {window} steps, averaged over {seeds} seeds; dashed: plain, solid: residual"
        ).format(window=window, seeds=n_seeds)
    else:
        sub = _("trailing mean over {window} steps; dashed: plain, solid: residual").format(window=window)
    return figure_layout(fig, title, subtitle=sub, height=420)


def _geo_mean_rows(rows: list[np.ndarray]) -> np.ndarray:
    """Geometric mean per layer over seeds (gradients spread over decades); non-positive values skipped."""
    stacked = np.vstack(rows)
    logs = np.where(np.isfinite(stacked) & (stacked > 0), np.log(np.clip(stacked, 1e-300, None)), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.exp(np.nanmean(logs, axis=0))


def depth_grad_profiles(results: Sequence[SweepResult]) -> go.Figure:
    """Gradient RMS per weight, layer by layer from the input, at initialisation (the first probe,
    before any update) and at the end (the last probe), one line per (kind, depth), log y."""
    title = _("Gradient profile at initialisation and at the end")
    groups: dict[tuple[Kind, int], list[SweepResult]] = {}
    for r in results:
        if r.history.grad_rms:
            groups.setdefault((r.kind, r.depth), []).append(r)
    if not groups:
        return empty_figure(title, _("no gradient probes yet"))
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        horizontal_spacing=0.05,
        subplot_titles=(_("at initialisation (step 1)"), _("at the end (last probe)")),
    )
    for (kind, depth), rs in sorted(groups.items(), key=lambda kv: (kv[0][0] != "plain", kv[0][1])):
        color = depth_color(kind, depth, [d for k, d in groups if k == kind])
        for col, index in ((1, 0), (2, -1)):
            rows = [as_vector(r.history.grad_rms[index]) for r in rs]
            rows = [row for row in rows if row.size == rows[0].size]
            y = _geo_mean_rows(rows)
            steps = sorted({r.history.probe_step[index] for r in rs if r.history.probe_step})
            fig.add_trace(
                go.Scatter(
                    x=np.arange(1, y.size + 1),
                    y=y,
                    mode="lines",
                    name=f"{kind}-{depth}",
                    legendgroup=f"{kind}-{depth}",
                    showlegend=col == 1,
                    line={"color": color, "dash": DASH[kind], "width": 1.8},
                    text=list(rs[0].history.layer_names) if len(rs[0].history.layer_names) == y.size else None,
                    hovertemplate=_("{name}, layer {layer} {text}<br>RMS {rms}").format(
                        name=f"{kind}-{depth}", layer="%{x}", text="%{text}", rms="%{y:.3g}"
                    )
                    + "<extra>"
                    + _("step {steps}").format(steps=", ".join(map(str, steps)))
                    + "</extra>",
                ),
                row=1,
                col=col,
            )
    fig.update_xaxes(title_text=_("layer (1 = next to the input)"))
    fig.update_yaxes(type="log", exponentformat="power")
    fig.update_yaxes(title_text=_("gradient RMS per weight"), row=1, col=1)
    n_seeds = max(len(rs) for rs in groups.values())
    if n_seeds > 1:
        sub = _("||dL/dW||/sqrt(n) per conv/linear layer; geometric mean of {seeds} seeds").format(seeds=n_seeds)
    else:
        sub = _("||dL/dW||/sqrt(n) per conv/linear layer")
    return _two_panels(figure_layout(fig, title, subtitle=sub, height=440))
