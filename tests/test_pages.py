"""The multipage layout: app.py is the home page, pages/<n>_<key>.py the others. Every page, run on
its own as a deep link or a refresh runs it, draws the menu and the shared sidebar and starts the
training worker."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from resnet_viz import ui

ROOT = Path(__file__).resolve().parents[1]


def test_the_tree_is_the_design_card_s() -> None:
    assert not (ROOT / "app_pages").exists()
    scripts = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "pages").glob("*.py"))
    assert scripts == sorted(p.path for p in ui.PAGES if p.key != "home")
    assert ui.PAGES[0].path == "app.py"
    for page in ui.PAGES[1:]:  # the URL of pages/3_live.py is /live: the number only orders the menu
        assert Path(page.path).stem.split("_", 1)[1] == page.key
        assert f'ui.page_setup("{page.key}")' in (ROOT / page.path).read_text()


@pytest.mark.parametrize("page", ui.PAGES, ids=lambda p: p.key)
def test_every_page_opened_directly_has_the_menu_the_sidebar_and_the_worker(page, tmp_runs, monkeypatch) -> None:
    started: list[bool] = []
    monkeypatch.setattr(ui, "start_workers", lambda: started.append(True))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    if page.key != "home":
        at.switch_page(page.path)  # what a deep link to /<key> runs: the page's script, not app.py
    at.run()
    assert not at.exception, at.exception
    links = at.sidebar.get("page_link")
    assert [link.proto.label for link in links] == [p.title for p in ui.PAGES]
    assert any("Device:" in c.value for c in at.sidebar.caption)
    assert started == [True]
