"""What every figure of the app shares: colours, the common layout, empty states and the small
array helpers that let a figure survive NaN, None and ragged input.

Plain is red and residual is blue on every chart; a model's colour comes from its name alone, so
it is the same on every page and after a reload. Builders draw from plain lists and arrays
(`HistoryLike` is the shape of a `resnet_viz.engine.history.History`), so torch is not imported here.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from typing import Any, Literal, Protocol

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from ..i18n import N_, _

GradKind = Literal["norm", "rms", "rel"]

MAX_POINTS = 2000  # per line trace; more only costs redraw time, the screen has fewer pixels
# Marked here, translated where shown (`no_data_text`, the figures): English is the msgid.
WAITING = N_("waiting for the first steps...")
NO_RUN = N_("no run yet")  # an empty list: the page draws its charts before the first press

# Plain is red and residual is blue on every chart of the app (tab10's first two hues, which
# stay distinguishable for the common colour-vision deficiencies). Shade 0 is the model's own
# colour; further shades separate two models of one kind in one figure (plain-20 vs plain-56).
PLAIN_SHADES = ("#d62728", "#8c1a1b", "#f0787a", "#ff9896")
RESIDUAL_SHADES = ("#1f77b4", "#0d3b5e", "#5fa8dc", "#aec7e8")
OTHER_COLORS = ("#2ca02c", "#9467bd", "#8c564b", "#17becf", "#bcbd22", "#7f7f7f", "#ff7f0e")

# kind: a short name for chart titles and colour bars, which must fit half a page's width (shown
# through `_()`: only the words are a msgid)
GRAD_SHORT: dict[str, str] = {"norm": "||dL/dW||", "rms": N_("RMS of dL/dW"), "rel": "||dL/dW|| / ||W||"}

_GRAD_FIELDS: dict[str, tuple[str, str]] = {
    # kind: (History attribute, what the number is, for axis and colour-bar titles)
    "norm": ("grad_norm", N_("gradient L2 norm ||dL/dW||")),
    "rms": ("grad_rms", N_("gradient RMS per weight ||dL/dW||/sqrt(n)")),
    "rel": ("grad_rel", N_("relative gradient ||dL/dW|| / ||W||")),
}


class HistoryLike(Protocol):
    """The attributes of `resnet_viz.engine.history.History` that the figures read."""

    name: str
    layer_names: list[str]
    block_names: list[str]
    residual_block_names: list[str]
    step: list[int]
    loss: list[float]
    acc: list[float]
    probe_step: list[int]
    grad_norm: list[list[float]]
    grad_rms: list[list[float]]
    grad_rel: list[list[float]]
    act_std: list[list[float]]
    identity_grad: list[list[float]]
    branch_grad: list[list[float]]
    grad_x_rms: list[list[float]]
    eval: list[dict[str, float]]
    status: str
    diverged_at: int | None


# ---------------------------------------------------------------------------------------------
# Colours and arrays


def model_kind(name: str) -> Literal["plain", "residual", "other"]:
    """ "plain"/"residual" from a model's chart label ("residual-56", "mlp-plain-10", "plain-20#2")."""
    low = name.lower()
    if "residual" in low or "resnet" in low:
        return "residual"
    if "plain" in low:
        return "plain"
    return "other"


def model_color(name: str, shade: int = 0) -> str:
    """The colour of a model on every chart: plain red, residual blue, anything else a fixed hue.

    The same name gets the same colour in every process (crc32, not Python's salted hash), so a
    run looks the same on the live page, in the run list and after a reload.
    """
    kind = model_kind(name)
    if kind == "plain":
        return PLAIN_SHADES[shade % len(PLAIN_SHADES)]
    if kind == "residual":
        return RESIDUAL_SHADES[shade % len(RESIDUAL_SHADES)]
    return OTHER_COLORS[(zlib.crc32(name.encode()) + shade) % len(OTHER_COLORS)]


def model_colors(names: Sequence[str]) -> list[str]:
    """One colour per model of one figure: its own colour, or the next shade if already taken."""
    taken: set[str] = set()
    out = []
    for name in names:
        shade, color = 0, model_color(name)
        while color in taken and shade < 8:
            shade += 1
            color = model_color(name, shade)
        taken.add(color)
        out.append(color)
    return out


def downsample_index(n: int, max_points: int = MAX_POINTS) -> np.ndarray:
    """Indices of at most `max_points` evenly strided samples of n points, always incl. the last."""
    if n <= max_points:
        return np.arange(n)
    if max_points < 2:
        return np.array([n - 1])
    stride = math.ceil((n - 1) / (max_points - 1))  # leaves room for the last point below
    return np.append(np.arange(0, n - 1, stride), n - 1)


def trailing_mean(values: Sequence[float | None] | np.ndarray, window: int) -> np.ndarray:
    """Mean of the last `window` finite values at each point (fewer at the start; NaN if none).

    Trailing, not centred: a live curve must not use steps that have not happened yet, and its
    last point must stay the mean of the latest steps. NaN/inf are skipped, not propagated, so
    one bad value does not blank out `window` points of the curve.
    """
    v = as_vector(values)
    if window <= 1 or v.size == 0:
        return v
    ok = np.isfinite(v)
    csum = np.concatenate([[0.0], np.cumsum(np.where(ok, v, 0.0))])
    ccnt = np.concatenate([[0], np.cumsum(ok)])
    hi = np.arange(1, v.size + 1)
    lo = np.maximum(hi - window, 0)
    count = ccnt[hi] - ccnt[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, (csum[hi] - csum[lo]) / count, np.nan)


def as_vector(values: Any) -> np.ndarray:
    """1-D float array; None (metrics.json of a diverged run) becomes NaN."""
    if values is None:
        return np.zeros(0)
    arr = np.asarray(values, dtype=float) if len(values) else np.zeros(0)
    return arr.reshape(-1)


def as_matrix(rows: Sequence[Sequence[float | None]]) -> np.ndarray:
    """(P, L) float array from probe rows; ragged rows are padded with NaN rather than raising."""
    if not rows:
        return np.zeros((0, 0))
    width = max((len(r) if r is not None else 0) for r in rows)
    if all(r is not None and len(r) == width for r in rows):
        return np.asarray(rows, dtype=float).reshape(len(rows), width)
    out = np.full((len(rows), width), np.nan)
    for i, r in enumerate(rows):  # one loop per probe (not per point), only for ragged input
        if r:
            out[i, : len(r)] = np.asarray(r, dtype=float)
    return out


def positive_or_nan(a: np.ndarray) -> np.ndarray:
    """Values a log axis can show; zero, negative, NaN and inf become NaN (a gap, not a lie)."""
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(a) & (a > 0), a, np.nan)


def pad_names(names: Sequence[str], n: int, prefix: str) -> list[str]:
    """`names` padded to length n (a duck-typed history may lack some)."""
    names = list(names)[:n]
    return names + [f"{prefix} {i + 1}" for i in range(len(names), n)]


# ---------------------------------------------------------------------------------------------
# Reading a run's history


def run_status(h: Any) -> str:
    """The run's status; "running" when the history does not say (a hand-made one)."""
    return getattr(h, "status", "running") or "running"


def divergence_mark(h: Any) -> tuple[int, str] | None:
    """(step to mark, words) for a diverged model, else None.

    Without `diverged_at` (an older or hand-made metrics file) only the last logged step is
    known, so the words say "after", never a step that was not measured.
    """
    at = getattr(h, "diverged_at", None)
    if at is not None:
        return int(at), _("diverged at step {step}").format(step=int(at))
    if run_status(h) == "diverged" and getattr(h, "step", None):
        return int(h.step[-1]), _("diverged after step {step}").format(step=int(h.step[-1]))
    return None


# what (the figures' name for the missing data) -> the whole sentence a finished run shows
_NOTHING_RECORDED: dict[str, str] = {
    "training steps": N_("no training steps recorded in this run"),
    "gradient probes": N_("no gradient probes recorded in this run"),
    "dL/dx probes": N_("no dL/dx probes recorded in this run"),
    "activation probes": N_("no activation probes recorded in this run"),
}


def no_data_text(histories: Sequence[Any], what: str) -> str:
    """ "waiting" only while something may still arrive; a finished run without data says so."""
    if not histories:
        return _(NO_RUN)
    if any(run_status(h) == "running" for h in histories):
        return _(WAITING)
    if what in _NOTHING_RECORDED:
        return _(_NOTHING_RECORDED[what])
    return _("no {what} recorded in this run").format(what=what)


def grad_field(kind: str) -> tuple[str, str]:
    """(History attribute, axis words in the learner's language) of a gradient kind; ValueError
    names the kinds there are."""
    if kind not in _GRAD_FIELDS:
        raise ValueError(f"kind must be one of {sorted(_GRAD_FIELDS)}; got {kind!r}")
    attr, words = _GRAD_FIELDS[kind]
    return attr, _(words)


# ---------------------------------------------------------------------------------------------
# Layout


# Every figure of the app uses plotly_white. Set once as plotly's default, because naming the
# template on a figure validates all of it again: 12 ms of the 23 ms each live chart spent in
# figure_layout, on every redraw (bench/bench_live.py --profile).
pio.templates.default = "plotly_white"


def _merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """`base` with `extra` written over it, nested dicts merged key by key (as update_layout does)."""
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


# The title's font size and its gap to the figure's top edge, in pixels.
TITLE_SIZE = 15
TITLE_PAD = 10
# plotly.js lowers a one-line title anchored at its top by its cap height (dy = 0.7em, CAP_SHIFT in
# plotly.js), so the glyphs hang below the pad. A title of several lines (a <br>, as a subtitle
# makes) gets no such shift: the baseline of its first line sits at the pad itself, and glyphs
# that rise higher than a capital, as Chinese ones do (about 0.9em), were cut at the figure's top
# edge ("沿随机层链" read as "冶随机...", issue 26). Such a title is lowered by the shift plotly.js
# leaves out, and the top margin grows by as much, so the subtitle keeps its distance from the plot.
CAP_SHIFT = 0.7


def title_pad(text: str) -> int:
    """The gap above a title, in pixels: more for a title of several lines (see CAP_SHIFT)."""
    return TITLE_PAD + (round(CAP_SHIFT * TITLE_SIZE) if "<br>" in text else 0)


def figure_layout(fig: go.Figure, title: str, *, subtitle: str | None = None, height: int | None = None) -> go.Figure:
    """The app's common look, applied in place (and returned for chaining).

    `uirevision` is constant so a learner's zoom and legend clicks survive the live redraws.
    """
    text = title if subtitle is None else f"{title}<br><sup>{subtitle}</sup>"
    pad = title_pad(text)
    look: dict[str, Any] = {
        "title": {
            "text": text,
            "x": 0,
            "xanchor": "left",
            "yref": "container",
            "y": 1,
            "yanchor": "top",
            "pad": {"t": pad},
            "font": {"size": TITLE_SIZE},
        },
        "margin": {"l": 60, "r": 20, "t": (80 if subtitle else 64) + pad - TITLE_PAD, "b": 45},
        "legend": {"orientation": "h", "x": 0, "xanchor": "left", "y": 1.0, "yanchor": "bottom"},
        "hovermode": "closest",
        "uirevision": "resnet-lab",
    }
    if height is not None:
        look["height"] = height
    # One assignment of the merged layout: update_layout validates key by key, ~7x slower. The
    # template is left out so the default above is not validated again.
    layout = fig.layout.to_plotly_json()
    layout.pop("template", None)
    fig.layout = _merged(layout, look)
    return fig


def annotate_center(fig: go.Figure, text: str, *, xref: str = "paper", yref: str = "paper") -> None:
    """Grey words in the middle of a figure (or of one panel, with that panel's domain refs)."""
    fig.add_annotation(
        text=text, x=0.5, y=0.5, xref=xref, yref=yref, showarrow=False, font={"size": 14, "color": "#666"}
    )


def empty_figure(title: str, text: str) -> go.Figure:
    """A titled figure with no axes that says why there is nothing to draw."""
    fig = go.Figure()
    annotate_center(fig, text)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return figure_layout(fig, title)
