"""The live chart (resnet_viz/ui/live_plot.py): a running job's charts are redrawn in place.

Why it exists is checked here too: st.plotly_chart gives a changed figure a new element id, so
the browser rebuilds the graph; the live chart keeps its id and hands the new figure to
Plotly.react (tests/test_browser.py checks that in Chromium: the same graph, redrawn)."""

from __future__ import annotations

import json
import re

import plotly.graph_objects as go
from streamlit.testing.v1 import AppTest

from resnet_viz.ui import live_plot
from resnet_viz.ui.shared_build import freeze


def _page(y: list[float], live: bool) -> AppTest:
    def app(y: list[float], live: bool) -> None:
        import plotly.graph_objects as go

        from resnet_viz.ui import live_plot

        live_plot.chart(go.Figure(go.Scatter(x=list(range(len(y))), y=y)), key="loss", live=live)

    return AppTest.from_function(app, args=(y, live), default_timeout=60).run()


def _ids(y: list[float], live: bool) -> list[str]:
    at = _page(y, live)
    assert not at.exception, at.exception
    return [e.proto.id for e in at.get("bidi_component" if live else "plotly_chart")]


def test_a_changed_figure_keeps_the_live_charts_id_but_not_st_plotly_charts() -> None:
    [a], [b] = _ids([1.0, 2.0], live=True), _ids([1.0, 2.0, 3.0], live=True)
    assert a == b and a.endswith("-live-loss")
    # The cause: if this starts failing, Streamlit no longer rebuilds a plotly chart whose figure
    # changed, and live_plot may have become unnecessary (measure with bench/bench_live.py).
    [p], [q] = _ids([1.0, 2.0], live=False), _ids([1.0, 2.0, 3.0], live=False)
    assert p != q


def test_the_live_chart_sends_the_figure_without_plotly_pys_template() -> None:
    at = _page([3.0, 1.0], live=True)
    [node] = at.get("bidi_component")
    data = json.loads(node.proto.json)
    spec = json.loads(data["spec"])
    assert spec["data"][0]["y"] == [3.0, 1.0] or "bdata" in spec["data"][0]["y"]
    assert "template" not in spec["layout"]  # the component draws with Streamlit's theme instead
    expected = json.loads(go.Figure(go.Scatter(x=[0, 1], y=[3.0, 1.0])).to_json())
    expected["layout"].pop("template")
    assert spec == expected


def test_its_urls_name_the_files_it_declares_for_streamlits_component_route() -> None:
    # The route serves /component/<name>/<file> from the folder declared as <name>; that the
    # browser loads them is checked in tests/test_browser.py (the live chart draws).
    at = _page([1.0], live=True)
    data = json.loads(at.get("bidi_component")[0].proto.json)
    files = []
    for field in ("module", "theme", "plotly"):
        prefix, name, filename = data[field].rsplit("/", 2)
        assert prefix == "/component" and name == "resnet_viz.ui.live_plot.live_plot_assets", data[field]
        files.append(live_plot.ASSETS / filename)
    assert [f.name for f in files] == ["live_plot.js", "plotly_theme.json", "plotly-cartesian.min.js"]
    assert all(f.is_file() for f in files), files
    theme = json.loads((live_plot.ASSETS / "plotly_theme.json").read_text(encoding="utf-8"))
    assert theme["layout"]["font"]["family"].startswith('"Source Sans"')  # Streamlit's own look


def test_the_bundle_registers_the_trace_types_the_chart_sends_it() -> None:
    # plotly.js's partial bundle registers each trace module as {moduleType:"trace",name:...}; a
    # figure with a type it lacks would draw nothing, so live_plot must know the list exactly.
    text = (live_plot.ASSETS / live_plot.PLOTLY_JS).read_text(encoding="utf-8")
    assert re.match(r"/\*\*\n\* plotly\.js \(cartesian - minified\) v\d+\.\d+\.\d+\n", text), text[:80]
    assert set(re.findall(r'moduleType:"trace",name:"(\w+)"', text)) == live_plot.PLOTLY_TRACES
    assert (live_plot.ASSETS / "plotly-cartesian.LICENSE").read_text(encoding="utf-8").startswith("MIT License")


def test_a_figure_the_bundle_cannot_draw_goes_to_st_plotly_chart() -> None:
    def app() -> None:
        import plotly.graph_objects as go

        from resnet_viz.ui import live_plot

        live_plot.chart(go.Figure(go.Heatmap(z=[[1, 2], [3, 4]])), key="heat")
        live_plot.chart(go.Figure(go.Surface(z=[[1, 2], [3, 4]])), key="surface")  # 3-D: not in the bundle

    at = AppTest.from_function(app, default_timeout=60).run()
    assert not at.exception, at.exception
    assert [e.proto.id.rsplit("-", 1)[1] for e in at.get("bidi_component")] == ["heat"]
    assert len(at.get("plotly_chart")) == 1
    assert not live_plot.drawable(go.Figure([go.Scatter(y=[1]), go.Scatter3d(x=[1], y=[1], z=[1])]))
    assert live_plot.drawable(go.Figure([go.Scatter(y=[1]), go.Bar(y=[1])]))


def test_not_live_is_st_plotly_chart() -> None:
    at = _page([1.0], live=False)
    assert len(at.get("plotly_chart")) == 1 and not at.get("bidi_component")


def test_a_frozen_figures_spec_is_encoded_once() -> None:
    fig = freeze(go.Figure(go.Scatter(x=[1, 2], y=[3, 4])))
    first = live_plot.spec(fig)
    assert live_plot.spec(fig) is first
    assert json.loads(first) == json.loads(live_plot.spec(go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))))
