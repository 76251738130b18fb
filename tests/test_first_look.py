"""A first look (issue 28): on a fresh, empty run store every page shows a measured chart or map in
its first seconds, with the reference label where it comes from the shipped atlas; in AppTest
and in Chromium, in both languages. The explorer's reference waits behind exercise 1, so there
the walk presses "Show the reference now", as a learner who will not predict would."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import ARTIFACTS, serve
from streamlit.testing.v1 import AppTest

from resnet_viz import ui
from resnet_viz.teaching import atlas

APP = str(Path(__file__).resolve().parents[1] / "app.py")
# Where a page's first chart comes from the atlas: the start of its label, per language.
LABELS = {"en": "Reference", "zh": "参考结果"}
FROM_ATLAS = {"home", "live", "degradation", "analysis", "saliency"}
PEEK = {"reference_peeked": {"sweep.deeper_plain": True}}  # the explorer's "Show the reference now"


# The teacher's page shows nothing of the class before its key, and nothing measured at all on a
# server without teacher mode (tests/test_teacher_page.py): every other page is a lesson.
LESSONS = [p for p in ui.PAGES if p.key != "teacher"]


def _tree(root: Path) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(root)), p.stat().st_mtime_ns) for p in root.rglob("*"))


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_page_on_an_empty_store_draws_a_measured_chart(tmp_runs, monkeypatch, lang) -> None:
    monkeypatch.setenv(atlas.ATLAS_ENV, str(atlas.ATLAS_DIR))  # the shipped atlas, not the tests' empty one
    before = _tree(atlas.ATLAS_DIR)
    for page in LESSONS:
        at = AppTest.from_file(APP, default_timeout=240)
        at.query_params["lang"] = lang
        if page.key == "degradation":
            at.session_state["reference_peeked"] = PEEK["reference_peeked"]
        if page.key != "home":
            at.switch_page(page.path)
        at.run()
        assert not at.exception, (page.key, at.exception)
        charts = at.get("plotly_chart")
        assert charts, f"{page.key} shows no chart on an empty store"
        boxes = " ".join(e.value for e in at.info)
        if page.key in FROM_ATLAS:
            assert f"**{LABELS[lang]}**" in boxes and "resnet-viz atlas" in boxes, page.key
        else:
            assert "resnet-viz atlas" not in boxes, page.key  # computed in the page, not read from the atlas
    assert _tree(atlas.ATLAS_DIR) == before


@pytest.fixture(scope="module")
def reference_server(tmp_path_factory: pytest.TempPathFactory):
    """A server with an empty run store and the shipped atlas (no RESNET_VIZ_ATLAS)."""
    ARTIFACTS.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != atlas.ATLAS_ENV}
    with serve(tmp_path_factory.mktemp("empty-runs"), ARTIFACTS / "streamlit-reference.log", env) as server:
        yield server


@pytest.mark.slow
def test_every_page_on_an_empty_store_in_the_browser(chromium_browser, reference_server) -> None:
    before = _tree(atlas.ATLAS_DIR)
    out = ARTIFACTS / "first-look"
    out.mkdir(parents=True, exist_ok=True)
    context = chromium_browser.new_context(viewport={"width": 1400, "height": 3000})
    page = context.new_page()
    page.set_default_timeout(180_000)
    try:
        for lang, peek in (("en", "Show the reference now"), ("zh", "立即显示参考结果")):
            for p in LESSONS:
                slug = "" if p.key == "home" else p.key
                page.goto(f"{reference_server.url}/{slug}?lang={lang}")
                if p.key == "degradation":
                    page.get_by_role("button", name=peek).click()
                page.locator(".js-plotly-plot >> visible=true").first.wait_for(state="visible")
                if p.key in FROM_ATLAS:
                    page.get_by_text(LABELS[lang], exact=False).first.wait_for(state="visible")
                page.wait_for_timeout(2500)  # plotly lays out after the script run ends
                page.screenshot(path=str(out / f"{lang}-{p.key}.png"), full_page=True)
                assert page.locator('[data-testid="stException"]').count() == 0, (lang, p.key)
    finally:
        context.close()
    assert "Traceback" not in reference_server.log()
    assert _tree(atlas.ATLAS_DIR) == before
