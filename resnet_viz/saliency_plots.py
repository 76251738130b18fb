"""Figures and images for saliency maps: data in, ``go.Figure`` or PNG bytes out.

Maps are drawn over the image the model saw (after its resize), with a colour scale that is
either shared by all panels (so a stronger map looks stronger) or each panel's own.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from .plots import figure_layout

COLORSCALE = "Inferno"  # perceptually uniform; dark = no attribution, so the photo shows through


def _as_uint8(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) or (H, W) in [0, 1] or [0, 255] -> (H, W, 3) uint8."""
    a = np.asarray(image)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.dtype != np.uint8:
        a = np.clip(a * 255.0 if a.max(initial=0) <= 1.0 else a, 0, 255).astype(np.uint8)
    return a


def scale_maps(maps: Sequence[np.ndarray], *, shared: bool) -> list[np.ndarray]:
    """Maps divided by the largest value of all of them (`shared`) or each by its own maximum,
    so 1 = the strongest attribution on the chosen scale. An all-zero map stays zero."""
    arrays = [np.nan_to_num(np.asarray(m, dtype=np.float64), nan=0.0).clip(min=0) for m in maps]
    if shared:
        top = max((a.max(initial=0.0) for a in arrays), default=0.0)
        return [a / top if top > 0 else a for a in arrays]
    return [a / a.max() if a.max(initial=0.0) > 0 else a for a in arrays]


def overlay_figure(
    image: np.ndarray | Sequence[np.ndarray],
    maps: Sequence[np.ndarray],
    titles: Sequence[str],
    *,
    opacity: float = 0.5,
    shared: bool = True,
    raw: bool = False,
    title: str = "Where each network looks",
) -> go.Figure:
    """One panel per map: the map over its image (or the raw map with `raw`), models side by side.

    `image` is one (H, W, 3) image for all panels or one per panel (models of different input
    sizes see differently resized images). Hover gives the scaled value at each pixel.
    """
    images = list(image) if isinstance(image, (list, tuple)) else [image] * len(maps)
    scaled = scale_maps(maps, shared=shared)
    fig = make_subplots(rows=1, cols=max(1, len(maps)), subplot_titles=list(titles), horizontal_spacing=0.03)
    for i, (img, m) in enumerate(zip(images, scaled), start=1):
        if not raw:
            fig.add_trace(go.Image(z=_as_uint8(img), hoverinfo="skip"), row=1, col=i)
        fig.add_trace(go.Heatmap(
            z=m, zmin=0, zmax=1, colorscale=COLORSCALE, opacity=1.0 if raw else opacity,
            showscale=i == len(maps), colorbar={"title": {"text": "shared" if shared else "own max"}, "len": 0.8},
            hovertemplate="x %{x}, y %{y}: %{z:.2f}<extra></extra>",
        ), row=1, col=i)  # fmt: skip
        fig.update_yaxes(autorange="reversed", scaleanchor=f"x{i if i > 1 else ''}", showticklabels=False, row=1, col=i)
        fig.update_xaxes(showticklabels=False, row=1, col=i)
    sub = ("one colour scale for all panels: brighter = stronger attribution" if shared
           else "each panel scaled to its own maximum: compare where, not how strongly")  # fmt: skip
    fig = figure_layout(fig, title, subtitle=sub, height=420)
    fig.update_layout(plot_bgcolor="white")
    return fig


def colorize(m: np.ndarray) -> np.ndarray:
    """A map in [0, 1] -> (H, W, 3) uint8 through the app's colour scale."""
    lut = np.array([[round(float(c)) for c in s[s.index("(") + 1 : -1].split(",")[:3]]
                    for s in sample_colorscale(COLORSCALE, np.linspace(0, 1, 256), colortype="rgb")], dtype=np.uint8)  # fmt: skip
    idx = np.clip(np.nan_to_num(np.asarray(m, dtype=np.float64)) * 255, 0, 255).astype(np.int64)
    return lut[idx]


def overlay_png(image: np.ndarray, m: np.ndarray, *, opacity: float = 0.5) -> bytes:
    """The overlay as a PNG file: the image blended with the coloured map (m scaled to [0, 1])."""
    from PIL import Image

    base = _as_uint8(image).astype(np.float64)
    heat = colorize(m).astype(np.float64)
    blend = ((1 - opacity) * base + opacity * heat).round().clip(0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(blend).save(buf, format="PNG")
    return buf.getvalue()
