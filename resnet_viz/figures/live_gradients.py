"""Gradient-flow figures of the live twin-training page: probe rows of `History` objects in,
``go.Figure`` out.

Gradients per layer (the heat strip, in live_heatstrip, and the profile), dL/dx per block and its first/last ratio, the
activation std per block, and the identity share of each residual block. Like the curves, every
builder survives a run with no probes yet, a model that diverged (fewer probes than its twin,
NaN rows) and a plain net with no identity path.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from ..i18n import _
from ..text.numbers import VANISHED, first_last
from .common import (
    GRAD_SHORT,
    WAITING,
    GradKind,
    HistoryLike,
    as_vector,
    empty_figure,
    figure_layout,
    grad_field,
    model_colors,
    no_data_text,
    pad_names,
    positive_or_nan,
    run_status,
)

# The heat strip is its own module; re-exported here, beside the other live gradient charts.
from .live_heatstrip import MAX_COLUMNS, grad_heatstrip


def _probe_index(n: int, at: int | None) -> int:
    """Row to show of n probe rows: the latest, or `at` (negative from the end) clamped into range,
    because a twin that diverged early has fewer probes than the index the page asks for."""
    if at is None:
        return n - 1
    return max(-n, min(at, n - 1)) % n


# ---------------------------------------------------------------------------------------------
# Gradient flow


def _profile_figure(
    histories: Sequence[HistoryLike],
    rows_of: str,
    names_of: str,
    at: int | None,
    *,
    title: str,
    y_title: str,
    x_title: str,
    what: str,
    unit_name: str,
) -> go.Figure:
    """One line per model through a probe row (latest, or probe index `at`) on a log y axis."""
    fig = go.Figure()
    colors = model_colors([h.name for h in histories])
    drawn, longest = False, 0
    for h, color in zip(histories, colors):
        rows = getattr(h, rows_of)
        if not rows:
            continue
        k = _probe_index(len(rows), at)
        row = as_vector(rows[k])
        if not row.size:
            continue
        y = positive_or_nan(row)
        bad = int(np.count_nonzero(~np.isfinite(row)))
        step = h.probe_step[k] if k < len(h.probe_step) else None
        if step is not None and bad:  # say it: a gap in a log plot could read as "tiny"
            label = _("{name} (step {step}), {n} non-finite").format(name=h.name, step=step, n=bad)
        elif step is not None:
            label = _("{name} (step {step})").format(name=h.name, step=step)
        elif bad:
            label = _("{name}, {n} non-finite").format(name=h.name, n=bad)
        else:
            label = h.name
        names = pad_names(getattr(h, names_of), row.size, unit_name)
        fig.add_trace(
            go.Scatter(
                x=np.arange(1, row.size + 1),
                y=y,
                mode="lines+markers",
                name=label,
                text=names,
                line={"color": color, "width": 1.5},
                marker={"color": color, "size": 5},
                customdata=row,
                hovertemplate=f"{h.name}<br>%{{x}}: %{{text}}<br>{y_title} %{{customdata:.3g}}<extra></extra>",
            )
        )
        drawn, longest = True, max(longest, row.size)
    if not drawn:
        return empty_figure(title, no_data_text(histories, what))
    # Layers and blocks are counted in whole numbers: a short net got ticks at 1.5, 2.5 otherwise.
    # One update_layout for both axes: each update_* call validates on its own (issue 30, part 4).
    xaxis: dict = {"title": {"text": x_title}}
    if longest <= 12:
        xaxis["dtick"] = 1
    fig.update_layout(
        xaxis=xaxis,
        yaxis={"title": {"text": y_title}, "type": "log", "exponentformat": "power"},  # 10^-4, not SI "100µ"
    )
    sub = _("latest probe") if at is None else _("probe #{index}").format(index=at)
    return figure_layout(fig, title, subtitle=sub)


def grad_profile(histories: Sequence[HistoryLike], *, kind: GradKind = "rms", at: int | None = None) -> go.Figure:
    """Gradient strength per layer, first (input) to last (output) layer, models overlaid, log y.

    `at` picks a probe index (Python-style, negative counts from the end); a model with fewer
    probes (diverged early) shows its last one. The legend names the step each line comes from.
    """
    attr, label = grad_field(kind)
    return _profile_figure(
        histories,
        attr,
        "layer_names",
        at,
        title=_("Per weight: {what} per layer").format(what=_(GRAD_SHORT[kind])),
        y_title=label,
        x_title=_("layer (1 = next to the input; last = the head)"),
        what="gradient probes",
        unit_name=_("layer"),
    )


def flow_profile(histories: Sequence[HistoryLike], *, at: int | None = None) -> go.Figure:
    """RMS of dL/dx at each block's output (the gradient that flows back, He et al. 2016b eq. 5)."""
    return _profile_figure(
        histories,
        "grad_x_rms",
        "block_names",
        at,
        title=_("Gradient dL/dx per block"),
        y_title=_("RMS of dL/dx"),
        x_title=_("block (1 = first, next to the input)"),
        what="dL/dx probes",
        unit_name=_("block"),
    )


def flow_ratio_figure(histories: Sequence[HistoryLike]) -> go.Figure:
    """dL/dx at the first block over the last block, at every probe, log y, with the bands that
    name the regimes (resnet_viz.text.numbers): explosion at initialisation that calms, or vanishing."""
    title = _("dL/dx first block ÷ last block, over training")
    fig = go.Figure()
    drawn = False
    step_word, ratio_word = _("step"), _("ratio")  # hover words
    for h, color in zip(histories, model_colors([h.name for h in histories])):
        rows = getattr(h, "grad_x_rms", [])
        pts = [(s, first_last(r)) for s, r in zip(h.probe_step, rows)]
        pts = [(s, r) for s, r in pts if r is not None and r > 0]
        if not pts:
            continue
        xs, ys = zip(*pts)
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines+markers",
                name=h.name,
                line={"color": color, "width": 1.5},
                marker={"color": color, "size": 4},
                hovertemplate=f"{h.name}<br>{step_word} %{{x}}<br>{ratio_word} %{{y:.3g}}<extra></extra>",
            )
        )
        drawn = True
    if not drawn:
        if any(getattr(h, "grad_x_rms", None) for h in histories):
            return empty_figure(title, _("dL/dx was 0 or not finite at the first or last block: no ratio to draw"))
        return empty_figure(title, no_data_text(histories, "dL/dx probes"))
    # The band lines and their words as traces, in data units. They were shapes at y0 = +-2 and
    # annotations at y = +-2, for 100 and 0.01: right for the annotations (plotly.js reads their y
    # on a log axis in log10 units) but not for the shapes (data units: plotly.js's shapes.json
    # mock), so one line sat at 2, the other at -2 pulled the axis down to 1e-42 and pressed the
    # ratio curves into a line at its top. A trace means data units everywhere.
    steps = [x for t in fig.data for x in t.x]
    x0, x1 = min(steps), max(steps)
    for y, text in ((1 / VANISHED, _("exploding above")), (VANISHED, _("vanishing below"))):
        fig.add_trace(
            go.Scatter(
                x=[x0, x1, x0],
                y=[y, y, y],
                mode="lines+text",
                text=["", "", text],
                textposition="top right" if y > 1 else "bottom right",
                textfont={"size": 10, "color": "#777"},
                line={"color": "#999", "width": 1, "dash": "dot"},
                showlegend=False,
                hoverinfo="skip",
                name=text,
            )
        )
    fig.update_layout(
        xaxis={"title": {"text": _("training step")}},
        yaxis={"title": {"text": _("first ÷ last (log)")}, "type": "log", "exponentformat": "power"},
    )
    return figure_layout(fig, title, subtitle=_("above 1: larger at the input side; below 1: smaller"))


def act_std_figure(histories: Sequence[HistoryLike], *, at: int | None = None) -> go.Figure:
    """Standard deviation of each block's output at the latest probe (or probe index `at`), log y."""
    return _profile_figure(
        histories,
        "act_std",
        "block_names",
        at,
        title=_("Activation std per block"),
        y_title=_("std of block output"),
        x_title=_("block (1 = first, next to the input)"),
        what="activation probes",
        unit_name=_("block"),
    )


def identity_shares(identity: Sequence[float | None], branch: Sequence[float | None]) -> np.ndarray:
    """||identity term|| / (||identity term|| + ||branch term||) per block; NaN where undefined.

    A ratio of norms, not a fraction of a sum: the two terms are vectors that add, so their
    norms need not add up to ||dL/dx||. The share says which route carries the larger signal.
    """
    i, b = as_vector(identity), as_vector(branch)
    n = min(i.size, b.size)
    i, b = i[:n], b[:n]
    total = i + b
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(np.isfinite(total) & (total > 0), i / total, np.nan)


def identity_share_figure(history: HistoryLike, *, at: int | None = None) -> go.Figure:
    """Per residual block: how much of the gradient reaching its input comes through the shortcut.

    For y = F(x) + alpha*S(x): dL/dx = dL/dy*alpha*dS/dx (identity term) + dL/dy*dF/dx (branch
    term). Stacked bars of ||identity|| / (||identity|| + ||branch||) and the branch's complement.
    A plain model gets an explanation instead: it has no identity path.
    """
    # Long because one figure's traces and layout read top to bottom here; split, the layout would drift from
    # its traces.
    subtitle = _("share = ||dL/dy·α·dS/dx|| / (||dL/dy·α·dS/dx|| + ||dL/dy·dF/dx||), norms of the two terms of dL/dx")
    title = _("{name}: where the gradient reaches each residual block").format(name=history.name)
    blocks = list(getattr(history, "residual_block_names", []) or [])
    rows_i, rows_b = history.identity_grad, history.branch_grad
    has_rows = any(r for r in rows_i)
    if not blocks and not has_rows:
        if getattr(history, "step", None) or getattr(history, "block_names", None) or run_status(history) != "running":
            return empty_figure(
                title,
                _(
                    "{name} has no identity path: every block is y = F(x), so all of dL/dx flows through the branch F"
                ).format(name=history.name),
            )
        return empty_figure(title, _(WAITING))
    if not has_rows:
        return empty_figure(title, no_data_text([history], "gradient probes"))
    n = min(len(rows_i), len(rows_b))
    k = _probe_index(n, at)
    ident, branch = as_vector(rows_i[k]), as_vector(rows_b[k])
    share = identity_shares(ident, branch)
    m = share.size
    names = pad_names(blocks, m, _("block"))
    x = np.arange(1, m + 1)
    custom = np.stack([ident[:m], branch[:m]], axis=1)  # (blocks, 2) raw norms for the hover
    step = history.probe_step[k] if k < len(history.probe_step) else None

    block_word, identity_term, branch_term = _("block"), _("||identity term||"), _("||branch term||")

    def hover(share_words: str) -> str:
        return (
            f"{block_word} %{{x}}: %{{text}}<br>{share_words} %{{y:.1%}}<br>{identity_term} "
            f"%{{customdata[0]:.3g}}<br>{branch_term} %{{customdata[1]:.3g}}<extra></extra>"
        )

    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=x,
            y=share,
            name=_("identity path (shortcut)"),
            marker_color="#1f77b4",
            text=names,
            textposition="none",
            customdata=custom,
            hovertemplate=hover(_("identity share")),
        )
    )
    fig.add_trace(
        go.Bar(
            x=x,
            y=1 - share,
            name=_("residual branch F"),
            marker_color="#ff7f0e",
            text=names,
            textposition="none",
            customdata=custom,
            hovertemplate=hover(_("branch share")),
        )
    )
    # The half line as add_hline draws it, and the axes, in one update: add_hline alone took
    # 4.7 ms of this chart's 9 on every redraw.
    half = {"type": "line", "xref": "x domain", "x0": 0, "x1": 1, "yref": "y", "y0": 0.5, "y1": 0.5}
    fig.update_layout(
        shapes=[half | {"line": {"color": "#444", "width": 1, "dash": "dot"}}],
        barmode="stack",
        bargap=0.15,
        xaxis={"title": {"text": _("residual block (1 = first, next to the input)")}},
        yaxis={"title": {"text": _("share of gradient-term norms")}, "range": [0, 1], "tickformat": ".0%"},
    )
    if step is not None:
        title = _("{name}: where the gradient reaches each residual block at step {step}").format(
            name=history.name, step=step
        )
    return figure_layout(fig, title, subtitle=subtitle)


__all__ = [
    "MAX_COLUMNS",
    "act_std_figure",
    "flow_profile",
    "flow_ratio_figure",
    "grad_heatstrip",
    "grad_profile",
    "identity_share_figure",
    "identity_shares",
]
