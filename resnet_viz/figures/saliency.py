"""Figures and images for saliency maps: data in, ``go.Figure`` or PNG bytes out.

Maps are drawn over the image the model saw (after its resize), with a colour scale that is
either shared by all panels (so a stronger map looks stronger) or each panel's own. Over the
image, a map's opacity grows with its value: zero attribution is fully transparent (the photo
shows untouched), the strongest value is drawn at the chosen `opacity`.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import hex_to_rgb, sample_colorscale
from plotly.colors import sequential as _sequential
from plotly.subplots import make_subplots

from ..i18n import N_, _
from .common import empty_figure, figure_layout, model_colors

# Plasma rather than Inferno: Inferno starts at black, so a faint value over the photo reads as
# a shadow in the picture; Plasma's low end is a saturated indigo that no photo region mimics,
# and it stays perceptually uniform (brighter = stronger) up to its yellow top.
COLORSCALE = "Plasma"
_STOPS = _sequential.Plasma  # 10 hex colours, evenly spaced on [0, 1]
OUTLINE_COLOR = "#00e5ff"  # cyan: far from every Plasma hue, visible on dark and light photos
# Colour-bar titles, marked: drawn with `_()`, in the learner's language.
SHARED_TITLE = N_("shared scale")
OWN_TITLE = N_("each panel to its own max")


def _ticks() -> dict:
    """The colour bar's ticks: none at 0, strongest at 1 (words in the learner's language)."""
    return {"tickvals": [0, 0.5, 1], "ticktext": [_("0 none"), "0.5", _("1 strongest")]}


def _as_uint8(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) or (H, W) in [0, 1] or [0, 255] -> (H, W, 3) uint8."""
    a = np.asarray(image)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.dtype != np.uint8:
        a = np.clip(a * 255.0 if a.max(initial=0) <= 1.0 else a, 0, 255).astype(np.uint8)
    return a


def map_alpha(m: np.ndarray, opacity: float = 1.0) -> np.ndarray:
    """Per-pixel alpha of a map in [0, 1]: 0 at 0 (transparent), `opacity` at 1.

    Linear, so plotly's linear interpolation of alpha between colour-scale stops gives exactly
    this value at every pixel, and the PNG export below matches the chart.
    """
    v = np.clip(np.nan_to_num(np.asarray(m, dtype=np.float64)), 0.0, 1.0)
    return opacity * v


def alpha_colorscale(opacity: float = 1.0) -> list[list[float | str]]:
    """Plasma's own stops as rgba strings with alpha from `map_alpha`: a plotly colour scale
    that is transparent at 0 and `opacity`-opaque at 1. Using Plasma's stops (not a resample)
    makes plotly's colours the same as `colorize`'s (to one 8-bit level)."""
    pos = np.linspace(0.0, 1.0, len(_STOPS))
    alpha = map_alpha(pos, opacity)
    return [[float(p), "rgba({},{},{},{:.4g})".format(*hex_to_rgb(c), float(a))] for p, c, a in zip(pos, _STOPS, alpha)]


def _opaque() -> list[list[float | str]]:
    """Plasma's stops, fully opaque: for a map drawn alone (no photo to see through it)."""
    return [[float(p), "rgb({},{},{})".format(*hex_to_rgb(c))] for p, c in zip(np.linspace(0, 1, len(_STOPS)), _STOPS)]


def scale_maps(maps: Sequence[np.ndarray], *, shared: bool) -> list[np.ndarray]:
    """Maps divided by the largest value of all of them (`shared`) or each by its own maximum,
    so 1 = the strongest attribution on the chosen scale. An all-zero map stays zero."""
    arrays = [np.nan_to_num(np.asarray(m, dtype=np.float64), nan=0.0).clip(min=0) for m in maps]
    if shared:
        top = max((a.max(initial=0.0) for a in arrays), default=0.0)
        return [a / top if top > 0 else a for a in arrays]
    return [a / a.max() if a.max(initial=0.0) > 0 else a for a in arrays]


def _centres(n_src: int, n_dst: int) -> np.ndarray:
    """Pixel-centre coordinates of n_src cells stretched over n_dst image pixels (0..n_dst-1)."""
    return (np.arange(n_src) + 0.5) * n_dst / n_src - 0.5


def _grid(shape: tuple[int, ...], size: tuple[int, int] | None) -> dict:
    """x/y for a (h, w) array drawn over an image of `size` (H, W); none needed if equal."""
    if size is None or tuple(shape[:2]) == tuple(size):
        return {}
    return {"x": _centres(shape[1], size[1]), "y": _centres(shape[0], size[0])}


def _map_trace(
    m: np.ndarray, *, colorscale: list | str, showscale: bool, bar_title: str, size: tuple[int, int] | None
) -> go.Heatmap:
    return go.Heatmap(
        z=m,
        zmin=0,
        zmax=1,
        colorscale=colorscale,
        showscale=showscale,
        **_grid(m.shape, size),
        colorbar={"title": {"text": bar_title, "side": "right"}, "len": 0.8, **_ticks()},
        hovertemplate="x %{x}, y %{y}: %{z:.2f}<extra></extra>",
    )


def _outline_trace(mask: np.ndarray, size: tuple[int, int] | None) -> go.Contour:
    """The mask's boundary as a contour line at 0.5 between inside (1) and outside (0) pixels.

    Padded by one outside pixel on every side so a shape touching the border still closes
    (the line then runs along the image edge)."""
    a = np.pad(np.asarray(mask, dtype=bool), 1).astype(np.float64)  # (h + 2, w + 2)
    h, w = a.shape[0] - 2, a.shape[1] - 2
    size = size or (h, w)
    ys, xs = _centres(h, size[0]), _centres(w, size[1])
    dy, dx = size[0] / h, size[1] / w
    return go.Contour(
        z=a,
        x=np.r_[xs[0] - dx, xs, xs[-1] + dx],
        y=np.r_[ys[0] - dy, ys, ys[-1] + dy],
        autocontour=False,
        contours={"start": 0.5, "end": 0.5, "size": 1, "coloring": "none"},
        line={"color": OUTLINE_COLOR, "width": 2},
        showscale=False,
        showlegend=False,
        hoverinfo="skip",
        name=_("ground-truth shape"),
    )


def _image_axes(fig: go.Figure, col: int) -> None:
    """Square pixels, row 0 on top, no tick labels (pixel indices teach nothing here)."""
    fig.update_yaxes(
        autorange="reversed",
        scaleanchor=f"x{col if col > 1 else ''}",
        showticklabels=False,
        showgrid=False,
        zeroline=False,
        row=1,
        col=col,
    )
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, row=1, col=col)


def overlay_figure(
    image: np.ndarray | Sequence[np.ndarray],
    maps: Sequence[np.ndarray],
    titles: Sequence[str],
    *,
    opacity: float = 0.5,
    shared: bool = True,
    raw: bool = False,
    title: str | None = None,
    masks: np.ndarray | Sequence[np.ndarray | None] | None = None,
) -> go.Figure:
    """One panel per map: the map over its image (or the raw map with `raw`), models side by side.

    `image` is one (H, W, 3) image for all panels or one per panel (models of different input
    sizes see differently resized images). Over the image, each pixel's alpha is `opacity` times
    its scaled value, so zero attribution leaves the photo untouched; `raw` draws opaque colours.
    `masks` is one bool (H, W) mask for all panels or one per panel (None: no outline); it is
    drawn as a cyan outline of the ground-truth shape. One colour bar serves every panel.
    Hover gives the scaled value at each pixel. `title` None: "Where each network looks".
    """
    title = _("Where each network looks") if title is None else title
    images = list(image) if isinstance(image, (list, tuple)) else [image] * len(maps)
    if masks is None or isinstance(masks, np.ndarray):
        masks = [masks] * len(maps)
    scaled = scale_maps(maps, shared=shared)
    colorscale = _opaque() if raw else alpha_colorscale(opacity)
    bar_title = _(SHARED_TITLE) if shared else _(OWN_TITLE)
    fig = make_subplots(rows=1, cols=max(1, len(maps)), subplot_titles=list(titles), horizontal_spacing=0.03)
    for i, (img, m, mask) in enumerate(zip(images, scaled, masks), start=1):
        size = None if raw else _as_uint8(img).shape[:2]
        if not raw:
            fig.add_trace(go.Image(z=_as_uint8(img), hoverinfo="skip"), row=1, col=i)
        # One bar for the figure, on the last panel: with a shared scale every panel reads off it,
        # with own scales its labels (none..strongest) still hold for each panel.
        fig.add_trace(
            _map_trace(m, colorscale=colorscale, showscale=i == len(maps), bar_title=bar_title, size=size), row=1, col=i
        )
        if mask is not None:
            fig.add_trace(_outline_trace(mask, size or m.shape[:2]), row=1, col=i)
        _image_axes(fig, i)
    outlined = any(mk is not None for mk in masks)
    if shared and outlined:
        sub = _(
            "one colour scale for all panels: brighter and more opaque = stronger attribution; "
            "cyan outline = the ground-truth shape"
        )
    elif shared:
        sub = _("one colour scale for all panels: brighter and more opaque = stronger attribution")
    elif outlined:
        sub = _(
            "each panel scaled to its own maximum: compare where, not how strongly; "
            "cyan outline = the ground-truth shape"
        )
    else:
        sub = _("each panel scaled to its own maximum: compare where, not how strongly")
    fig = figure_layout(fig, title, subtitle=sub, height=420)
    fig.update_layout(plot_bgcolor="white")
    return fig


def detail_figure(
    image: np.ndarray,
    cam: np.ndarray,
    title: str,
    *,
    opacity: float = 0.5,
    mask: np.ndarray | None = None,
    top: float | None = None,
) -> go.Figure:
    """One net at full size, three panels: the image it saw | the map alone | the map over it.

    `cam` is a non-negative (H, W) map on the image's pixel grid. `top` is the value drawn as
    strongest (e.g. the largest over all nets, for a scale shared with other figures); None
    scales the map to its own maximum. `mask` (bool (H, W)) outlines the ground-truth shape on
    all three panels. The colour bar sits beside the opaque map panel.
    """
    img = _as_uint8(image)
    size = img.shape[:2]
    m = np.nan_to_num(np.asarray(cam, dtype=np.float64)).clip(min=0)
    if top is None:
        m, bar_title = scale_maps([m], shared=False)[0], _("this map's own max")
    else:
        m, bar_title = (m / top if top > 0 else m).clip(max=1.0), _(SHARED_TITLE)
    panels = [_("image"), _("map"), _("overlay")]
    fig = make_subplots(rows=1, cols=3, subplot_titles=panels, horizontal_spacing=0.03)
    fig.add_trace(go.Image(z=img, hoverinfo="skip"), row=1, col=1)
    fig.add_trace(_map_trace(m, colorscale=_opaque(), showscale=True, bar_title=bar_title, size=size), row=1, col=2)
    fig.add_trace(go.Image(z=img, hoverinfo="skip"), row=1, col=3)
    fig.add_trace(
        _map_trace(m, colorscale=alpha_colorscale(opacity), showscale=False, bar_title=bar_title, size=size),
        row=1,
        col=3,
    )
    for col in (1, 2, 3):
        if mask is not None:
            fig.add_trace(_outline_trace(mask, size), row=1, col=col)
        _image_axes(fig, col)
    if mask is not None:
        sub = _(
            "brighter = stronger attribution; over the image, zero is transparent; "
            "cyan outline = the ground-truth shape"
        )
    else:
        sub = _("brighter = stronger attribution; over the image, zero is transparent")
    fig = figure_layout(fig, title, subtitle=sub, height=480)
    fig.update_layout(plot_bgcolor="white")
    return fig


def localisation_figure(
    steps_by_net: Mapping[str, Sequence[int]],
    energy_by_net: Mapping[str, Sequence[float | None]],
    peak_by_net: Mapping[str, Sequence[float | None]] | None = None,
    *,
    chance: float | None = None,
    title: str | None = None,
    x_title: str | None = None,
) -> go.Figure:
    """How well each net's maps point at the ground-truth shape, across training snapshots.

    Each argument maps a net's label ("plain-20", "residual-20") to one value per snapshot:
    `steps_by_net` the training steps, `energy_by_net` the mean share of map energy inside the
    shape (in [0, 1]), `peak_by_net` (optional) the share of images whose map peaks inside the
    shape. Solid line = energy, dashed line of the same colour = peak. NaN/None (a snapshot whose
    maps were all zero) leaves a gap and an x at 0 that says so on hover. `chance` is the share
    of the image the masks cover on average, drawn as a dotted reference line. `title` and
    `x_title` None: "Does the map find the shape as training goes on?" and "training step".
    """
    # Long because one figure's traces and layout read top to bottom here; split, the layout would drift from
    # its traces.
    title = _("Does the map find the shape as training goes on?") if title is None else title
    x_title = _("training step") if x_title is None else x_title
    if not steps_by_net:
        return empty_figure(title, _("No snapshots scored yet."))
    peak_by_net = peak_by_net or {}
    names = list(steps_by_net)
    fig = go.Figure()
    for name, color in zip(names, model_colors(names)):
        steps = list(steps_by_net[name])
        # (what, its words, the words for a missing score and why, values, dash)
        series = [
            (
                "energy inside",
                _("energy inside"),
                (_("no energy inside score"), _("no energy inside score: every map was all zero")),
                energy_by_net.get(name),
                "solid",
            )
        ]
        if peak_by_net.get(name) is not None:
            series.append(
                (
                    "peak inside",
                    _("peak inside"),
                    (_("no peak inside score"), _("no peak inside score: every map was all zero")),
                    peak_by_net[name],
                    "dash",
                )
            )
        for what, words, (no_score, no_score_why), values, dash in series:
            if len(values) != len(steps):
                raise ValueError(f"{name}: {len(steps)} steps but {len(values)} {what} values")
            y = [100 * float(v) if v is not None and not math.isnan(float(v)) else math.nan for v in values]
            fig.add_trace(
                go.Scatter(
                    x=steps,
                    y=y,
                    mode="lines+markers",
                    name=name if dash == "solid" else f"{name}: {words}",
                    legendgroup=name,
                    showlegend=dash == "solid",
                    cliponaxis=False,
                    line={"color": color, "width": 2, "dash": dash},
                    marker={"color": color, "size": 6},
                    hovertemplate=f"{name}<br>{x_title} %{{x}}<br>{words}: %{{y:.0f}}%<extra></extra>",
                )
            )
            gaps = [s for s, v in zip(steps, y) if math.isnan(v)]
            if gaps:
                # A gap alone cannot be hovered, so mark where the score is missing and say why.
                fig.add_trace(
                    go.Scatter(
                        x=gaps,
                        y=[0.0] * len(gaps),
                        mode="markers",
                        legendgroup=name,
                        showlegend=False,
                        marker={
                            "symbol": "x-thin-open",
                            "size": 9,
                            "color": color,
                            "line": {"width": 2, "color": color},
                        },
                        cliponaxis=False,
                        name=f"{name}: {no_score}",
                        hovertemplate=f"{name}<br>{x_title} %{{x}}<br>{no_score_why}<extra></extra>",
                    )
                )
    if chance is not None and not math.isnan(chance):
        # A map spread uniformly puts exactly the mask's area share inside it, and a peak placed
        # at random lands inside with that same probability: one reference for both lines.
        fig.add_hline(
            y=100 * chance,
            line={"color": "#888", "dash": "dot", "width": 1.5},
            annotation_text=_("chance {chance}% (a map spread evenly)").format(chance=f"{100 * chance:.0f}"),
            annotation_position="bottom left",
            annotation_font={"color": "#666"},
        )
    if peak_by_net:
        sub = _("solid: map energy inside the shape; dashed: images whose map peaks inside the shape")
    else:
        sub = _("solid: map energy inside the shape")
    fig = figure_layout(fig, title, subtitle=sub, height=380)
    fig.update_yaxes(range=[0, 100], ticksuffix="%", title_text=_("inside the shape"))
    fig.update_xaxes(title_text=x_title)
    return fig


def colorize(m: np.ndarray) -> np.ndarray:
    """A map in [0, 1] -> (H, W, 3) uint8 through the app's colour scale."""
    lut = np.array(
        [
            [round(float(c)) for c in s[s.index("(") + 1 : -1].split(",")[:3]]
            for s in sample_colorscale(COLORSCALE, np.linspace(0, 1, 256), colortype="rgb")
        ],
        dtype=np.uint8,
    )
    # Nearest entry, not floor, so a value gets the colour plotly gives it (within one level).
    idx = np.rint(np.clip(np.nan_to_num(np.asarray(m, dtype=np.float64)) * 255, 0, 255)).astype(np.int64)
    return lut[idx]


def overlay_png(image: np.ndarray, m: np.ndarray, *, opacity: float = 0.5) -> bytes:
    """The overlay as a PNG file, blended like the chart: each pixel mixes the image with the
    coloured map (m scaled to [0, 1]) at alpha `opacity * m`, so a zero pixel is the image's own.

    A map of another size than the image is resized bilinearly onto it first.
    """
    from PIL import Image

    base = _as_uint8(image).astype(np.float64)  # (H, W, 3)
    m = np.clip(np.nan_to_num(np.asarray(m, dtype=np.float64)), 0.0, 1.0)
    if m.shape != base.shape[:2]:
        small = Image.fromarray(m.astype(np.float32))  # mode "F": float pixels, no 8-bit rounding
        m = np.asarray(small.resize((base.shape[1], base.shape[0]), Image.Resampling.BILINEAR), dtype=np.float64)
        m = m.clip(0.0, 1.0)
    heat = colorize(m).astype(np.float64)
    a = map_alpha(m, opacity)[..., None]  # (H, W, 1)
    blend = ((1 - a) * base + a * heat).round().clip(0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(blend).save(buf, format="PNG")
    return buf.getvalue()
