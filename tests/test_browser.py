"""End to end in a real browser: `streamlit run app.py` + headless Chromium via Playwright."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_home_page_renders_without_exception(app_page, streamlit_server, artifacts_dir):
    page = app_page
    page.get_by_role("heading", name="ResNet Lab", exact=True).wait_for(state="visible")
    # The device line is the last thing the home page draws: once it shows, the script finished.
    page.get_by_text("Training here runs on:").wait_for(state="visible")

    page.screenshot(path=str(artifacts_dir / "home.png"), full_page=True)

    assert page.locator('[data-testid="stException"]').count() == 0
    log = streamlit_server.log()
    assert "Traceback" not in log, log
