"""Figures of the analysis page: loss-landscape slices, lesion studies, path lengths, near-identity
blocks, layer responses.

Plain and residual appear side by side on one scale (shared z range, shared y axis), so a
difference in the picture is a difference in the numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..i18n import _
from .common import empty_figure, figure_layout, model_color, model_colors

LANDSCAPE_SCALE = "Viridis"


def _z(loss: np.ndarray, log: bool) -> np.ndarray:
    z = np.asarray(loss, dtype=float)
    return np.log10(np.clip(z, 1e-12, None)) if log else z


def landscape_figure(slices: Mapping[str, object], *, log: bool = False, surface: bool = False) -> go.Figure:
    """One panel per model: a contour map (or 3-D surface) of a 2-D slice, or one line per model
    for 1-D slices. All panels share the colour range; the trained weights sit at (0, 0)."""
    # Long because one figure's traces and layout read top to bottom here; split, the layout would drift from
    # its traces.
    title = _("Loss landscape (filter-normalised random directions)")
    if not slices:
        return empty_figure(title, _("no slice computed yet"))
    names = list(slices)
    first = slices[names[0]]
    label = _("log10 loss") if log else _("loss")
    if first.betas is None:  # 1-D
        fig = go.Figure()
        for name, color in zip(names, model_colors(names)):
            s = slices[name]
            fig.add_trace(
                go.Scatter(x=list(s.alphas), y=_z(s.loss, log), mode="lines+markers", name=name, line={"color": color})
            )
        fig.update_xaxes(title_text=_("step a along direction 1 (0 = trained weights)"))
        fig.update_yaxes(title_text=label)
        return figure_layout(fig, title, height=420)
    zs = [_z(slices[n].loss, log) for n in names]
    finite = np.concatenate([z[np.isfinite(z)].ravel() for z in zs]) if zs else np.array([])
    zmin, zmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    specs = [[{"type": "surface" if surface else "xy"} for _ in names]]
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=names, specs=specs, horizontal_spacing=0.06)
    for i, (name, z) in enumerate(zip(names, zs), start=1):
        s = slices[name]
        common = {
            "x": list(s.alphas),
            "y": list(s.betas),
            "z": z,
            "zmin": zmin,
            "zmax": zmax,
            "colorscale": LANDSCAPE_SCALE,
            "showscale": i == len(names),
        }
        if surface:
            fig.add_trace(
                go.Surface(
                    **{k: v for k, v in common.items() if k not in ("zmin", "zmax")},
                    cmin=zmin,
                    cmax=zmax,
                    colorbar={"title": {"text": label}},
                ),
                row=1,
                col=i,
            )
        else:
            fig.add_trace(
                go.Contour(
                    **common,
                    colorbar={"title": {"text": label}},
                    ncontours=20,
                    hovertemplate=f"{name}<br>a %{{x:.2f}}, b %{{y:.2f}}: {label} %{{z:.3f}}<extra></extra>",
                ),
                row=1,
                col=i,
            )
            fig.add_trace(
                go.Scatter(
                    x=[0],
                    y=[0],
                    mode="markers",
                    marker={"symbol": "x", "color": "white", "size": 9},
                    showlegend=False,
                    hoverinfo="skip",
                ),
                row=1,
                col=i,
            )
            fig.update_xaxes(title_text=_("a (direction 1)"), row=1, col=i)
    if not surface:
        fig.update_yaxes(title_text=_("b (direction 2)"), row=1, col=1)
    return figure_layout(
        fig,
        title,
        subtitle=_("same directions (same seed) and one colour scale for every panel; x: trained weights"),
        height=460,
    )


def lesion_figure(results: Mapping[str, object]) -> go.Figure:
    """Test accuracy with each block deleted in turn, one bar group per block, the intact net's
    accuracy as a dashed line per model; blocks that change resolution are marked."""
    title = _("Deleting one block at test time (Veit et al. 2016)")
    if not results:
        return empty_figure(title, _("no lesion study yet"))
    fig = go.Figure()
    names = list(results)
    for i, (name, color) in enumerate(zip(names, model_colors(names))):
        r = results[name]
        labels = [b.name + (" ↓" if b.downsampling else "") for b in r.blocks]
        fig.add_trace(
            go.Bar(
                x=labels,
                y=[100 * b.acc for b in r.blocks],
                name=name,
                marker_color=color,
                hovertemplate=_("{name} without {block}: {acc}%").format(name=name, block="%{x}", acc="%{y:.1f}")
                + "<extra></extra>",
            )
        )
        fig.add_hline(
            y=100 * r.baseline_acc,
            line={"color": color, "dash": "dash", "width": 1},
            annotation_text=_("{name} intact {acc}%").format(name=name, acc=f"{100 * r.baseline_acc:.1f}"),
            annotation_position="top left" if i % 2 == 0 else "top right",
        )
    fig.update_layout(barmode="group")
    fig.update_xaxes(title_text=_("deleted block (↓: changes resolution)"))
    fig.update_yaxes(title_text=_("test accuracy (%)"), range=[0, 100])
    return figure_layout(fig, title, subtitle=_("a deleted block passes its input on: y = shortcut(x)"), height=420)


def random_lesion_figure(results: Mapping[str, object]) -> go.Figure:
    """Test accuracy against the number of randomly deleted blocks: mean, with bars of one std."""
    title = _("Deleting k random blocks")
    if not results:
        return empty_figure(title, _("no lesion study yet"))
    fig = go.Figure()
    names = list(results)
    for name, color in zip(names, model_colors(names)):
        r = results[name]
        ks = [0] + [x.k for x in r.random]
        mean = [100 * r.baseline_acc] + [100 * x.mean_acc for x in r.random]
        std = [0.0] + [100 * x.std_acc for x in r.random]
        fig.add_trace(
            go.Scatter(
                x=ks,
                y=mean,
                mode="lines+markers",
                name=name,
                line={"color": color},
                error_y={"type": "data", "array": std, "visible": True, "color": color},
            )
        )
    fig.update_xaxes(title_text=_("blocks deleted (chosen at random among those that keep the resolution)"), dtick=1)
    fig.update_yaxes(title_text=_("test accuracy (%)"), range=[0, 100])
    return figure_layout(fig, title, subtitle=_("mean over random draws; bars: one standard deviation"), height=420)


def responses_figure(responses: Mapping[str, Sequence[tuple[str, float]]]) -> go.Figure:
    """He et al. 2016 Fig. 7: std of each 3x3 layer's response, in layer order and sorted."""
    title = _("Layer responses (He et al. 2016, Fig. 7)")
    if not responses:
        return empty_figure(title, _("no responses measured yet"))
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=(_("in layer order"), _("sorted by magnitude")), shared_yaxes=True
    )
    names = list(responses)
    for name, color in zip(names, model_colors(names)):
        rows = list(responses[name])
        stds = [v for _, v in rows]
        fig.add_trace(
            go.Scatter(
                x=list(range(1, len(stds) + 1)),
                y=stds,
                mode="lines",
                name=name,
                legendgroup=name,
                text=[n for n, _ in rows],
                line={"color": color},
                hovertemplate=_("{name} {layer}: std {std}").format(name=name, layer="%{text}", std="%{y:.3g}")
                + "<extra></extra>",
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=list(range(1, len(stds) + 1)),
                y=sorted(stds, reverse=True),
                mode="lines",
                name=name,
                legendgroup=name,
                showlegend=False,
                line={"color": color},
            ),
            row=1,
            col=2,
        )
    fig.update_xaxes(title_text=_("3x3 layer"))
    fig.update_yaxes(title_text=_("std of the response (after BN, before the addition)"), row=1, col=1)
    fig = figure_layout(fig, title, height=420)
    fig.update_layout(legend={"y": 1.1}, margin={"t": 120})
    return fig


def path_length_figure(dist: object, name: str, *, plain_name: str | None = None) -> go.Figure:
    """Veit et al. 2016 §5: the share of a residual net's 2^n paths that pass through k residual
    branches, k = 0..n (Binomial(n, 1/2)); a plain twin's single path, of length n, as a line."""
    title = _("Path lengths of {name} unravelled (Veit et al. 2016)").format(name=name)
    if dist.n == 0:
        return empty_figure(title, _("no blocks: one path of length 0"))
    counts = [f"{c:,}" if c < 10**15 else f"{c:.3e}" for c in dist.counts]  # exact up to 10^15, then 4 digits
    fig = go.Figure(
        go.Bar(
            x=list(range(dist.n + 1)),
            y=[100 * f for f in dist.fractions],
            name=name,
            text=counts,
            textposition="none",
            marker_color=model_color(name),
            hovertemplate=_("{count} paths through {k} branches: {share}%").format(
                count="%{text}", k="%{x}", share="%{y:.3g}"
            )
            + "<extra></extra>",
        )
    )
    if plain_name is not None:
        fig.add_vline(
            x=dist.n,
            line={"color": model_color(plain_name), "dash": "dash"},
            annotation_text=_("{name}: its one path").format(name=plain_name),
            annotation_position="top left",
        )
    fig.update_xaxes(title_text=_("path length: residual branches passed through"))
    fig.update_yaxes(title_text=_("share of all paths (%)"))
    subtitle = _("2^{n} paths; C({n}, k) of them have length k").format(n=dist.n)
    return figure_layout(fig, title, subtitle=subtitle, height=380)


def near_identity_figure(results: Mapping[str, object]) -> go.Figure:
    """He et al. 2016 §3.1, measured per block: ||F(x)|| / ||x|| (the branch before the addition,
    against the shortcut's output) and ||y - x|| / ||x|| (the whole block against passing x on)."""
    title = _("How far each block is from the identity")
    if not results:
        return empty_figure(title, _("no blocks measured yet"))
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        horizontal_spacing=0.05,
        subplot_titles=(_("branch: ||F(x)|| / ||x||"), _("whole block: ||y - x|| / ||x||")),
    )
    names = list(results)
    for name, color in zip(names, model_colors(names)):
        r = results[name]
        x = list(range(1, len(r.blocks) + 1))
        labels = [b.name + (" ↓" if b.downsampling else "") for b in r.blocks]
        for col, field in ((1, "branch"), (2, "off_identity")):
            y = [None if (v := getattr(b, field)) is None else 100 * v for b in r.blocks]
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=y,
                    mode="lines+markers",
                    name=name,
                    legendgroup=name,
                    showlegend=col == 1,
                    text=labels,
                    line={"color": color},
                    connectgaps=False,
                    hovertemplate=f"{name} %{{text}}: %{{y:.3g}}%<extra></extra>",
                ),
                row=1,
                col=col,
            )
    fig.add_hline(
        y=0,
        line={"color": "gray", "dash": "dot", "width": 1},
        annotation_text=_("the identity"),
        annotation_position="top left",
    )
    fig.update_xaxes(title_text=_("block (depth order)"), dtick=1)
    fig.update_yaxes(title_text=_("% of ||x|| (mean over images)"), row=1, col=1, rangemode="tozero")
    fig = figure_layout(
        fig,
        title,
        height=460,
        subtitle=_(
            "x: the block's shortcut output (zero-padded where the shape changes); gaps: a plain "
            "block that changes shape has no skip map to compare with"
        ),
    )
    fig.update_layout(legend={"y": 1.12}, margin={"t": 130})  # the panel titles sit between legend and plots
    return fig
