"""Plotly figures of the anatomy page: a block drawn from its traced layers, and parameters per part.

Same conventions as :mod:`resnet_viz.figures.common`: the identity shortcut is drawn in the
residual blue, and every label comes from the data passed in (a
:class:`~resnet_viz.anatomy.nets.BlockSketch` lists the layers a forward pass of the real block
called), so the drawing cannot drift from the code.
"""

from __future__ import annotations

import plotly.graph_objects as go

from ..anatomy.nets import Anatomy, BlockSketch
from ..i18n import N_, _
from .common import figure_layout, model_color

_BOX_HALF = (0.9, 0.3)  # half width, half height of a layer box, in data units
_SHORTCUT_X = 1.6  # where the shortcut edge runs, right of the boxes
_FILL = {"conv": "#dbe8f6", "BN": "#fdf0d5", "act": "#e2f2df"}  # conv blue-grey, BN sand, activation green
_STAGE_COLOR, _OTHER_COLOR = "#9467bd", "#7f7f7f"
# The block figure's title, by (BlockSketch.kind, residual): a whole phrase per case, translated when drawn.
_TITLES: dict[tuple[str, bool], str] = {
    ("post", True): N_("Basic, post-activation, residual"),
    ("post", False): N_("Basic, post-activation, plain"),
    ("pre", True): N_("Basic, pre-activation, residual"),
    ("pre", False): N_("Basic, pre-activation, plain"),
    ("bottleneck", True): N_("Bottleneck, residual"),
    ("bottleneck", False): N_("Bottleneck, plain"),
}


def _fill(label: str) -> str:
    # Labels come from `anatomy.describe` in the learner's language: BN and the activations
    # (a class name, "ReLU") are never translated, so every other label is a conv.
    if label == "BN":
        return _FILL["BN"]
    return _FILL["act"] if label.isidentifier() else _FILL["conv"]


def _box(fig: go.Figure, y: float, label: str) -> None:
    w, h = _BOX_HALF
    fig.add_shape(type="rect", x0=-w, x1=w, y0=y - h, y1=y + h, fillcolor=_fill(label), line={"color": "#555"})
    fig.add_annotation(x=0, y=y, text=label, showarrow=False, font={"size": 13})


def _arrow(fig: go.Figure, x0: float, y0: float, x1: float, y1: float, color: str = "#555") -> None:
    fig.add_annotation(
        x=x1,
        y=y1,
        ax=x0,
        ay=y0,
        xref="x",
        yref="y",
        axref="x",
        ayref="y",
        text="",
        showarrow=True,
        arrowhead=2,
        arrowsize=1.2,
        arrowwidth=1.6,
        arrowcolor=color,
    )


def _note(fig: go.Figure, x: float, y: float, text: str, *, color: str = "#666", anchor: str = "left") -> None:
    fig.add_annotation(x=x, y=y, text=text, showarrow=False, xanchor=anchor, font={"size": 12, "color": color})


def block_figure(sketch: BlockSketch) -> go.Figure:
    """The block top to bottom: x, the branch F(x), the addition, what follows it, y.

    Plain and residual sketches draw the same boxes at the same places; only the shortcut edge
    and the addition node it feeds differ, as in the code (one line).
    """
    fig = go.Figure()
    h = _BOX_HALF[1]
    n = len(sketch.branch)
    y_add = -(n + 1)
    after_y = [y_add - 1 - i for i in range(len(sketch.after_add))]
    y_out = y_add - 1 - len(sketch.after_add)
    _note(fig, 0, 0, "<b>x</b>", color="#000", anchor="center")
    for i, label in enumerate(sketch.branch, 1):
        _box(fig, -i, label)
        _arrow(fig, 0, -(i - 1) - (0.15 if i == 1 else h), 0, -i + h)
    # F(x): a bracket beside the branch
    fig.add_shape(type="line", x0=-1.1, x1=-1.1, y0=-1 + h, y1=-n - h, line={"color": "#999", "width": 2})
    _note(fig, -1.2, -(n + 1) / 2, "F(x)", anchor="right")
    color = model_color("residual")
    if sketch.residual:
        fig.add_shape(
            type="circle",
            x0=-0.25,
            x1=0.25,
            y0=y_add - 0.25,
            y1=y_add + 0.25,
            line={"color": "#000"},
            fillcolor="white",
        )
        _note(fig, 0, y_add, "<b>+</b>", color="#000", anchor="center")
        _arrow(fig, 0, -n - h, 0, y_add + 0.25)
        fig.add_shape(type="line", x0=0.15, x1=_SHORTCUT_X, y0=0, y1=0, line={"color": color, "width": 3})
        fig.add_shape(type="line", x0=_SHORTCUT_X, x1=_SHORTCUT_X, y0=0, y1=y_add, line={"color": color, "width": 3})
        _arrow(fig, _SHORTCUT_X, y_add, 0.27, y_add, color=color)
        _note(fig, _SHORTCUT_X + 0.1, y_add / 2, _("identity<br>shortcut x"), color=color)
        if sketch.after_add:
            note = _("{layer} after the addition").format(layer=sketch.after_add[0])
        else:
            note = _("nothing after the addition")
        _note(fig, 0.35, y_add - 0.35, note)
        prev = y_add - 0.25
    else:
        _note(fig, _SHORTCUT_X - 0.4, y_add / 2, _("no shortcut<br>(plain)"), color=model_color("plain"))
        prev = -n - h
    for y, label in zip(after_y, sketch.after_add):
        _box(fig, y, label)
        _arrow(fig, 0, prev, 0, y + h)
        prev = y - h
    _arrow(fig, 0, prev, 0, y_out + 0.15)
    _note(fig, 0, y_out, "<b>y</b>", color="#000", anchor="center")
    fig.update_xaxes(visible=False, range=[-2.2, 2.8])
    fig.update_yaxes(visible=False, range=[y_out - 0.5, 0.5])
    title = _(_TITLES[sketch.kind, sketch.residual])
    figure_layout(fig, title, subtitle=sketch.formula, height=110 + 52 * (1 - y_out))
    fig.update_layout(showlegend=False, margin={"l": 10, "r": 10, "b": 10}, dragmode=False)
    return fig


def stage_params_figure(anat: Anatomy) -> go.Figure:
    """Parameters of each part (stem, stages, pool, head) as horizontal bars, first part on top."""
    rows = list(reversed(anat.rows))  # plotly draws the first category at the bottom
    fig = go.Figure(
        go.Bar(
            x=[r.params for r in rows],
            y=[r.name for r in rows],
            orientation="h",
            marker={"color": [_STAGE_COLOR if r.blocks is not None else _OTHER_COLOR for r in rows]},
            text=[f"{r.params:,} ({100 * r.params / anat.total:.1f}%)" for r in rows],
            textposition="auto",
            # plotly's own placeholders (%{y}, %{x:,}): never passed through .format
            hovertemplate=_("%{y}<br>%{x:,} parameters<extra></extra>"),
        )
    )
    fig.update_xaxes(title_text=_("parameters"))
    return figure_layout(
        fig,
        _("Parameters per part, {net}").format(net=anat.spec.name),
        subtitle=_("{total} in all, counted on the model; stages in purple").format(total=f"{anat.total:,}"),
        height=360,
    )
