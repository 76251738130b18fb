"""Plotly figure builders for the live twin-training page: data in, ``go.Figure`` out.

Every builder takes `History` objects (or anything with the same attributes, e.g. a snapshot
copy or a metrics.json loaded back) and must survive the states a live run passes through: no
points yet, a model that diverged (NaN/None values, a shorter history than its twin), a plain
net with no identity path. The page redraws these about twice a second, so arrays go through
numpy and long lines are downsampled (keeping the last point: the newest value is the one a
learner is watching).

Torch is not imported here: figures are drawn from plain lists, so the module stays cheap.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from typing import Any, Literal, Protocol

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .text.numbers import VANISHED, first_last, num

GradKind = Literal["norm", "rms", "rel"]

MAX_POINTS = 2000  # per line trace; more only costs redraw time, the screen has fewer pixels
MAX_COLUMNS = 200  # probe columns per heat-strip; a column is a few pixels wide at most
WAITING = "waiting for the first steps..."
NO_RUN = "no run yet"  # an empty list: the page draws its charts before the first press

# Plain is red and residual is blue on every chart of the app (tab10's first two hues, which
# stay distinguishable for the common colour-vision deficiencies). Shade 0 is the model's own
# colour; further shades separate two models of one kind in one figure (plain-20 vs plain-56).
PLAIN_SHADES = ("#d62728", "#8c1a1b", "#f0787a", "#ff9896")
RESIDUAL_SHADES = ("#1f77b4", "#0d3b5e", "#5fa8dc", "#aec7e8")
OTHER_COLORS = ("#2ca02c", "#9467bd", "#8c564b", "#17becf", "#bcbd22", "#7f7f7f", "#ff7f0e")

OVERLAY_OPACITY = 0.45  # earlier runs: visible for comparison, clearly not the live run
OVERLAY_SUFFIX = " (earlier run)"

# kind: a short name for chart titles and colour bars, which must fit half a page's width
_GRAD_SHORT: dict[str, str] = {"norm": "||dL/dW||", "rms": "RMS of dL/dW", "rel": "||dL/dW|| / ||W||"}

_GRAD_FIELDS: dict[str, tuple[str, str]] = {
    # kind: (History attribute, what the number is, for axis and colour-bar titles)
    "norm": ("grad_norm", "gradient L2 norm ||dL/dW||"),
    "rms": ("grad_rms", "gradient RMS per weight ||dL/dW||/sqrt(n)"),
    "rel": ("grad_rel", "relative gradient ||dL/dW|| / ||W||"),
}


class HistoryLike(Protocol):
    """The attributes of `resnet_viz.train.History` that the figures read."""

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
# Small pure helpers (public where the page or tests use them)


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


def _colors(names: Sequence[str]) -> list[str]:
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
    v = _vec(values)
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


def _vec(values: Any) -> np.ndarray:
    """1-D float array; None (metrics.json of a diverged run) becomes NaN."""
    if values is None:
        return np.zeros(0)
    arr = np.asarray(values, dtype=float) if len(values) else np.zeros(0)
    return arr.reshape(-1)


def _matrix(rows: Sequence[Sequence[float | None]]) -> np.ndarray:
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


def _positive(a: np.ndarray) -> np.ndarray:
    """Values a log axis can show; zero, negative, NaN and inf become NaN (a gap, not a lie)."""
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(a) & (a > 0), a, np.nan)


def _names(names: Sequence[str], n: int, prefix: str) -> list[str]:
    """`names` padded to length n (a duck-typed history may lack some)."""
    names = list(names)[:n]
    return names + [f"{prefix} {i + 1}" for i in range(len(names), n)]


def _status(h: Any) -> str:
    return getattr(h, "status", "running") or "running"


def _divergence(h: Any) -> tuple[int, str] | None:
    """(step to mark, words) for a diverged model, else None.

    Without `diverged_at` (an older or hand-made metrics file) only the last logged step is
    known, so the words say "after", never a step that was not measured.
    """
    at = getattr(h, "diverged_at", None)
    if at is not None:
        return int(at), f"diverged at step {int(at)}"
    if _status(h) == "diverged" and getattr(h, "step", None):
        return int(h.step[-1]), f"diverged after step {int(h.step[-1])}"
    return None


def _no_data_text(histories: Sequence[Any], what: str) -> str:
    """ "waiting" only while something may still arrive; a finished run without data says so."""
    if not histories:
        return NO_RUN
    if any(_status(h) == "running" for h in histories):
        return WAITING
    return f"no {what} recorded in this run"


def _probe_index(n: int, at: int | None) -> int:
    """Row to show of n probe rows: the latest, or `at` (negative from the end) clamped into range,
    because a twin that diverged early has fewer probes than the index the page asks for."""
    if at is None:
        return n - 1
    return max(-n, min(at, n - 1)) % n


def _eval_points(h: Any, key: str) -> tuple[np.ndarray, np.ndarray]:
    evals = getattr(h, "eval", None) or []
    steps = _vec([e.get("step") for e in evals])
    vals = _vec([e.get(key) for e in evals])
    return steps, vals


# ---------------------------------------------------------------------------------------------
# Layout


def figure_layout(fig: go.Figure, title: str, *, subtitle: str | None = None, height: int | None = None) -> go.Figure:
    """The app's common look, applied in place (and returned for chaining).

    `uirevision` is constant so a learner's zoom and legend clicks survive the live redraws.
    """
    text = title if subtitle is None else f"{title}<br><sup>{subtitle}</sup>"
    fig.update_layout(
        template="plotly_white",
        title={
            "text": text,
            "x": 0,
            "xanchor": "left",
            "yref": "container",
            "y": 1,
            "yanchor": "top",
            "pad": {"t": 10},
            "font": {"size": 15},
        },
        margin={"l": 60, "r": 20, "t": 80 if subtitle else 64, "b": 45},
        legend={"orientation": "h", "x": 0, "xanchor": "left", "y": 1.0, "yanchor": "bottom"},
        hovermode="closest",
        uirevision="resnet-lab",
    )
    if height is not None:
        fig.update_layout(height=height)
    return fig


def _annotate_center(fig: go.Figure, text: str, *, xref: str = "paper", yref: str = "paper") -> None:
    fig.add_annotation(
        text=text, x=0.5, y=0.5, xref=xref, yref=yref, showarrow=False, font={"size": 14, "color": "#666"}
    )


def _empty(title: str, text: str) -> go.Figure:
    fig = go.Figure()
    _annotate_center(fig, text)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return figure_layout(fig, title)


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
    n = min(len(h.step), len(getattr(h, field)))
    steps = _vec(h.step[:n])
    y = trailing_mean(getattr(h, field)[:n], smooth) * scale
    name = h.name + (OVERLAY_SUFFIX if overlay else "")
    unit = "%" if scale == 100 else ""
    line = {"color": color, "width": 1.5, "dash": "dash" if overlay else "solid"}
    opacity = OVERLAY_OPACITY if overlay else 1.0
    if n:
        idx = downsample_index(n, max_points)
        fig.add_trace(
            go.Scatter(
                x=steps[idx],
                y=y[idx],
                mode="lines",
                name=f"{name} train",
                legendgroup=name,
                line=line,
                opacity=opacity,
                hovertemplate=f"{name}<br>step %{{x}}<br>train %{{y:.4g}}{unit}<extra></extra>",
            )
        )
    ts, tv = _eval_points(h, test_key)
    if ts.size:
        fig.add_trace(
            go.Scatter(
                x=ts,
                y=tv * scale,
                mode="markers",
                name=f"{name} test",
                legendgroup=name,
                opacity=opacity,
                marker={
                    "color": color,
                    "size": 8,
                    "symbol": "circle-open" if overlay else "circle",
                    "line": {"width": 2, "color": color},
                },
                hovertemplate=f"{name}<br>step %{{x}}<br>test %{{y:.4g}}{unit}<extra></extra>",
            )
        )
    div = _divergence(h)
    if div is not None:
        at, words = div
        finite = np.flatnonzero(np.isfinite(y))
        text = f"{name} {words}"
        if finite.size:  # sits at the end of the line: the value at `at` itself is NaN/inf
            fig.add_trace(
                go.Scatter(
                    x=[at],
                    y=[y[finite[-1]]],
                    mode="markers+text",
                    name=f"{name} diverged",
                    legendgroup=name,
                    showlegend=False,
                    opacity=opacity,
                    marker={"symbol": "x", "size": 13, "color": color, "line": {"width": 1}},
                    text=[words],
                    textposition="top center",
                    textfont={"color": color},
                    hovertemplate=f"{text}: loss became NaN/inf<extra></extra>",
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
    live_colors = _colors([h.name for h in histories])
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
        _annotate_center(fig, _no_data_text(histories, "training steps"))
    subtitle = f"training: trailing mean of {smooth} steps; test: markers" if smooth > 1 else None
    fig.update_xaxes(title_text="training step", rangemode="nonnegative")
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
        title="Loss",
    )
    fig.update_yaxes(title_text="cross-entropy loss", type="log" if log_y else "linear", exponentformat="power")
    if not log_y:
        fig.update_yaxes(rangemode="nonnegative")  # a loss is never below 0 (the empty chart showed -1)
        _clip_outliers(fig, [*histories, *overlays])
    return fig


OUTLIER_FACTOR = 5.0  # a test loss this many times above every training loss is drawn off the chart


def _clip_outliers(fig: go.Figure, histories: Sequence[Any]) -> None:
    """Keep the curves readable when one test loss is huge (plain-56's first test point on the
    digits can be 2.5e6 while every training loss is below 3): clip the y range just above the
    training losses and name each point left off the chart in a note."""
    train = [v for h in histories for v in _vec(h.loss) if np.isfinite(v)]
    if not train:
        return
    ceiling = OUTLIER_FACTOR * max(train)
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
    shown = "; ".join(f"{name} test loss {num(v)} at step {step}" for name, step, v in off[:3])
    more = f" and {len(off) - 3} more" if len(off) > 3 else ""
    fig.add_annotation(
        text=f"off the chart: {shown}{more}",
        x=1,
        y=1,
        xref="paper",
        yref="paper",
        xanchor="right",
        yanchor="top",
        showarrow=False,
        font={"size": 11, "color": "#a33"},
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
        title="Accuracy",
    )
    fig.update_yaxes(title_text="accuracy (%)", range=[0, 100])
    return fig


# ---------------------------------------------------------------------------------------------
# Gradient flow


def _grad_field(kind: str) -> tuple[str, str]:
    if kind not in _GRAD_FIELDS:
        raise ValueError(f"kind must be one of {sorted(_GRAD_FIELDS)}; got {kind!r}")
    return _GRAD_FIELDS[kind]


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
    attr, label = _grad_field(kind)
    title = f"Gradient per layer over training: {label}"
    mats = [_matrix(getattr(h, attr)) for h in histories]
    if not any(m.size for m in mats):
        return _empty(title, _no_data_text(histories, "gradient probes"))

    pos = [_positive(m) for m in mats]
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
        div = _divergence(h)
        titles.append(h.name + (f" ({div[1]})" if div is not None else ""))
    n = len(histories)
    fig = make_subplots(rows=n, cols=1, shared_xaxes=True, vertical_spacing=min(0.12, 0.3 / n), subplot_titles=titles)
    tickvals, ticktext = _log_ticks(zmin, zmax)
    fig.update_layout(
        coloraxis={
            "colorscale": "Viridis",
            "cmin": zmin,
            "cmax": zmax,
            "colorbar": {
                "title": {"text": f"{_GRAD_SHORT[kind]}<br>(log scale)", "side": "right"},
                "tickvals": tickvals,
                "ticktext": ticktext,
            },
        },
    )
    for i, (h, m, p) in enumerate(zip(histories, mats, pos), start=1):
        xref, yref = ("x", "y") if i == 1 else (f"x{i}", f"y{i}")
        if not p.size:
            _annotate_center(fig, _no_data_text([h], "gradient probes"), xref=f"{xref} domain", yref=f"{yref} domain")
            continue
        n_probe, n_layer = p.shape
        steps = _vec(h.probe_step[:n_probe])
        if steps.size < n_probe:  # a duck-typed history short of steps: number the probes
            steps = np.concatenate([steps, np.full(n_probe - steps.size, np.nan)])
        cols = downsample_index(n_probe, max_columns)
        layers = [f"{j + 1} {nm}" for j, nm in enumerate(_names(h.layer_names, n_layer, "layer"))]
        # float32: half the bytes per redraw, and 7 digits are more than a colour can show
        raw = m[cols].T.astype(np.float32)  # (L, P') the values as measured, for the hover
        z = np.log10(p[cols].T).astype(np.float32)  # (L, P')
        fig.add_trace(
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
                    f"{h.name}<br>layer %{{y}}<br>step %{{x}}<br>{label} = %{{customdata:.3g}}<extra></extra>"
                ),
            ),
            row=i,
            col=1,
        )
        ticks = sorted({0, n_layer - 1, *np.linspace(0, n_layer - 1, 5).round().astype(int).tolist()})
        text = [
            f"{k + 1} (input)" if k == 0 else f"{k + 1} (output)" if k == n_layer - 1 else str(k + 1) for k in ticks
        ]
        fig.update_yaxes(
            title_text="layer", tickmode="array", tickvals=[layers[k] for k in ticks], ticktext=text, row=i, col=1
        )
    fig.update_xaxes(title_text="training step", row=n, col=1)
    return figure_layout(
        fig, title, subtitle="rows: first layer (input) at the bottom, last (output) at the top", height=110 + 190 * n
    )


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
    colors = _colors([h.name for h in histories])
    drawn, longest = False, 0
    for h, color in zip(histories, colors):
        rows = getattr(h, rows_of)
        if not rows:
            continue
        k = _probe_index(len(rows), at)
        row = _vec(rows[k])
        if not row.size:
            continue
        y = _positive(row)
        bad = int(np.count_nonzero(~np.isfinite(row)))
        step = h.probe_step[k] if k < len(h.probe_step) else None
        label = f"{h.name} (step {step})" if step is not None else h.name
        if bad:  # say it: a gap in a log plot could read as "tiny"
            label += f", {bad} non-finite"
        names = _names(getattr(h, names_of), row.size, unit_name)
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
        return _empty(title, _no_data_text(histories, what))
    # Layers and blocks are counted in whole numbers: a short net got ticks at 1.5, 2.5 otherwise.
    fig.update_xaxes(title_text=x_title, dtick=1 if longest <= 12 else None)
    fig.update_yaxes(title_text=y_title, type="log", exponentformat="power")  # 10^-4, not SI "100µ"
    sub = "latest probe" if at is None else f"probe #{at}"
    return figure_layout(fig, title, subtitle=sub)


def grad_profile(histories: Sequence[HistoryLike], *, kind: GradKind = "rms", at: int | None = None) -> go.Figure:
    """Gradient strength per layer, first (input) to last (output) layer, models overlaid, log y.

    `at` picks a probe index (Python-style, negative counts from the end); a model with fewer
    probes (diverged early) shows its last one. The legend names the step each line comes from.
    """
    attr, label = _grad_field(kind)
    return _profile_figure(
        histories,
        attr,
        "layer_names",
        at,
        title=f"Per weight: {_GRAD_SHORT[kind]} per layer",
        y_title=label,
        x_title="layer (1 = next to the input; last = the head)",
        what="gradient probes",
        unit_name="layer",
    )


def flow_profile(histories: Sequence[HistoryLike], *, at: int | None = None) -> go.Figure:
    """RMS of dL/dx at each block's output (the gradient that flows back, He et al. 2016b eq. 5)."""
    return _profile_figure(
        histories,
        "grad_x_rms",
        "block_names",
        at,
        title="Gradient dL/dx per block",
        y_title="RMS of dL/dx",
        x_title="block (1 = first, next to the input)",
        what="dL/dx probes",
        unit_name="block",
    )


def flow_ratio_figure(histories: Sequence[HistoryLike]) -> go.Figure:
    """dL/dx at the first block over the last block, at every probe, log y, with the bands that
    name the regimes (resnet_viz.text.numbers): explosion at initialisation that calms, or vanishing."""
    title = "dL/dx first block ÷ last block, over training"
    fig = go.Figure()
    drawn = False
    for h, color in zip(histories, _colors([h.name for h in histories])):
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
                hovertemplate=f"{h.name}<br>step %{{x}}<br>ratio %{{y:.3g}}<extra></extra>",
            )
        )
        drawn = True
    if not drawn:
        if any(getattr(h, "grad_x_rms", None) for h in histories):
            return _empty(title, "dL/dx was 0 or not finite at the first or last block: no ratio to draw")
        return _empty(title, _no_data_text(histories, "dL/dx probes"))
    # On a log axis plotly places shapes in log10 units: 2 is the line at 100.
    for y, text in ((1 / VANISHED, "exploding above"), (VANISHED, "vanishing below")):
        fig.add_hline(
            y=math.log10(y),
            line={"color": "#999", "width": 1, "dash": "dot"},
            annotation_text=text,
            annotation_position="top left" if y > 1 else "bottom left",
            annotation_font={"size": 10, "color": "#777"},
        )
    fig.update_xaxes(title_text="training step")
    fig.update_yaxes(title_text="first ÷ last (log)", type="log", exponentformat="power")
    return figure_layout(fig, title, subtitle="above 1: larger at the input side; below 1: smaller")


def act_std_figure(histories: Sequence[HistoryLike], *, at: int | None = None) -> go.Figure:
    """Standard deviation of each block's output at the latest probe (or probe index `at`), log y."""
    return _profile_figure(
        histories,
        "act_std",
        "block_names",
        at,
        title="Activation std per block",
        y_title="std of block output",
        x_title="block (1 = first, next to the input)",
        what="activation probes",
        unit_name="block",
    )


def identity_shares(identity: Sequence[float | None], branch: Sequence[float | None]) -> np.ndarray:
    """||identity term|| / (||identity term|| + ||branch term||) per block; NaN where undefined.

    A ratio of norms, not a fraction of a sum: the two terms are vectors that add, so their
    norms need not add up to ||dL/dx||. The share says which route carries the larger signal.
    """
    i, b = _vec(identity), _vec(branch)
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
    title = f"{history.name}: where the gradient reaches each residual block"
    subtitle = "share = ||dL/dy·α·dS/dx|| / (||dL/dy·α·dS/dx|| + ||dL/dy·dF/dx||), norms of the two terms of dL/dx"
    blocks = list(getattr(history, "residual_block_names", []) or [])
    rows_i, rows_b = history.identity_grad, history.branch_grad
    has_rows = any(r for r in rows_i)
    if not blocks and not has_rows:
        if getattr(history, "step", None) or getattr(history, "block_names", None) or _status(history) != "running":
            return _empty(
                title,
                f"{history.name} has no identity path: every block is y = F(x), "
                "so all of dL/dx flows through the branch F",
            )
        return _empty(title, WAITING)
    if not has_rows:
        return _empty(title, _no_data_text([history], "gradient probes"))
    n = min(len(rows_i), len(rows_b))
    k = _probe_index(n, at)
    ident, branch = _vec(rows_i[k]), _vec(rows_b[k])
    share = identity_shares(ident, branch)
    m = share.size
    names = _names(blocks, m, "block")
    x = np.arange(1, m + 1)
    custom = np.stack([ident[:m], branch[:m]], axis=1)  # (blocks, 2) raw norms for the hover
    step = history.probe_step[k] if k < len(history.probe_step) else None

    def hover(route: str) -> str:
        return (
            f"block %{{x}}: %{{text}}<br>{route} share %{{y:.1%}}<br>||identity term|| %{{customdata[0]:.3g}}"
            "<br>||branch term|| %{customdata[1]:.3g}<extra></extra>"
        )

    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=x,
            y=share,
            name="identity path (shortcut)",
            marker_color="#1f77b4",
            text=names,
            textposition="none",
            customdata=custom,
            hovertemplate=hover("identity"),
        )
    )
    fig.add_trace(
        go.Bar(
            x=x,
            y=1 - share,
            name="residual branch F",
            marker_color="#ff7f0e",
            text=names,
            textposition="none",
            customdata=custom,
            hovertemplate=hover("branch"),
        )
    )
    fig.add_hline(y=0.5, line={"color": "#444", "width": 1, "dash": "dot"})
    fig.update_layout(barmode="stack", bargap=0.15)
    fig.update_xaxes(title_text="residual block (1 = first, next to the input)")
    fig.update_yaxes(title_text="share of gradient-term norms", range=[0, 1], tickformat=".0%")
    at_step = f" at step {step}" if step is not None else ""
    return figure_layout(fig, title + at_step, subtitle=subtitle)
