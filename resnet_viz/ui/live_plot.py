"""A chart that redraws in place: the live pages' charts while a job runs.

st.plotly_chart (streamlit 1.67) hashes the figure into the chart element's id, so every redraw
of a running job's charts was a new element: the browser threw the old graph away and plotly.js
built a new one from nothing. That was most of the browser's CPU on the live page (60% of a
core while ResNet-20 twins trained, bench/bench_live.py). `chart` draws the same plotly figure
through a Streamlit component (components v2, in the page, no iframe) that keeps one graph and
hands each new figure to Plotly.react, which redraws it in place.

The component's JavaScript is assets/live_plot.js; plotly.js is plotly's own "cartesian" partial
bundle (assets/plotly-cartesian.min.js, npm's plotly.js-cartesian-dist-min 4.1.1, MIT: its
LICENSE beside it), the version the plotly package ships, with the 2-D trace types only: a third
of the full bundle's 4.8 MB, and a browser that has never opened the lab spent 0.9 s of its main
thread evaluating the full one before the first chart (bench/bench_cold_watcher.py). A figure
with another trace type is drawn by st.plotly_chart. The look is Streamlit's own plotly theme
(assets/plotly_theme.json, read from a chart that st.plotly_chart drew). Both are served by
Streamlit's component file route. A Streamlit without components v2 gets st.plotly_chart, as before.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
import streamlit as st

# RESNET_VIZ_LIVE_PLOT=0: every chart through st.plotly_chart, rebuilt at each redraw as before
# (bench/bench_live.py measures both; a way out should a browser not run the component).
ENABLED = os.environ.get("RESNET_VIZ_LIVE_PLOT", "1").strip() != "0"
ASSETS = Path(__file__).resolve().parent / "assets"
PLOTLY_JS = "plotly-cartesian.min.js"
# The trace types that bundle registers (its README; tests/test_live_plot.py reads them from the file).
PLOTLY_TRACES = frozenset(
    [
        "bar",
        "box",
        "contour",
        "heatmap",
        "histogram",
        "histogram2d",
        "histogram2dcontour",
        "image",
        "pie",
        "scatter",
        "scatterternary",
        "violin",
    ]
)

# The inline part, sent with every mount (so kept tiny): load the module from the asset route once
# (the browser caches the import) and let it draw. The URL is made whole here: the inline module
# runs from a blob: URL, against which a path does not resolve.
_JS = (
    "export default function ({ data, parentElement }) {"
    " import(new URL(data.module, window.location.href).href).then((m) => m.draw(parentElement, data)); }"
)


_declared: tuple[object, dict[str, str]] | None = None  # (the runtime's registry, the routes it serves)


def _routes() -> dict[str, str] | None:
    """The URLs of the module, the theme and plotly.js, served by Streamlit's component file route
    (a components-v1 declaration of the folder, never mounted); None without components v2.
    Declared once per runtime (a test's new runtime gets them again), not at every redraw."""
    global _declared
    if not _supported():
        return None
    from streamlit.components import v1
    from streamlit.runtime import Runtime

    registry = Runtime.instance().component_registry if Runtime.exists() else None
    if _declared is None or _declared[0] is not registry or registry is None:
        assets = _url(v1.declare_component("live_plot_assets", path=str(ASSETS)))
        routes = {
            "module": f"{assets}/live_plot.js",
            "theme": f"{assets}/plotly_theme.json",
            "plotly": f"{assets}/{PLOTLY_JS}",
        }
        _declared = (registry, routes)
    return _declared[1]


@cache
def _supported() -> bool:
    try:
        from streamlit.components import v2
    except ImportError:  # a Streamlit before components v2
        return False
    return hasattr(v2, "component") and (ASSETS / PLOTLY_JS).is_file()


def _url(component: Any) -> str:
    """Where Streamlit serves a declared folder: /component/<name> under the server's base path,
    or under server.customComponentBaseUrlPath when that is set (then it is the component's url)."""
    if component.url:
        return component.url.rstrip("/")
    base = str(st.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}/component/{component.name}" if base else f"/component/{component.name}"


@cache
def _component() -> Any:
    from streamlit.components import v2

    # isolate_styles=False: plotly.js puts its hover and modebar styles in the document's head,
    # which a shadow root would not see.
    return v2.component("resnet_lab_live_plot", js=_JS, isolate_styles=False)


def spec(fig: go.Figure) -> str:
    """The figure as the JSON that plotly.js reads (a frozen figure's is computed once), without
    plotly.py's default template: the component draws with Streamlit's (10 KB less per update)."""
    cached = getattr(fig, "spec_json", None)
    if callable(cached):
        return cached()
    return spec_of(fig.to_dict())


def spec_of(figure: dict[str, Any]) -> str:
    layout = {k: v for k, v in figure.get("layout", {}).items() if k != "template"}
    return pio.to_json({**figure, "layout": layout}, validate=False)


def drawable(fig: go.Figure) -> bool:
    """Whether the component's plotly bundle has every trace type of `fig`."""
    return all((trace.type or "scatter") in PLOTLY_TRACES for trace in fig.data)


def chart(fig: go.Figure, *, key: str, live: bool = True) -> None:
    """Draw `fig`; `live` (a running job's chart, redrawn every second or so): in place, through
    the component; else (or without components v2) with st.plotly_chart."""
    routes = _routes() if live and ENABLED and drawable(fig) else None
    if routes is None:
        st.plotly_chart(fig, key=key)
        return
    _component()(key=f"live-{key}", data={"spec": spec(fig), **routes})
