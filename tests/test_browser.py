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


LOSS_POINTS_JS = """() => {
    const plots = document.querySelectorAll('.js-plotly-plot');
    // _fullData holds the decoded traces (plotly sends arrays base64-encoded); _length = points
    if (!plots.length || !plots[0]._fullData) return -1;
    return plots[0]._fullData.reduce((n, t) => n + (t._length || 0), 0);
}"""


def test_live_run_redraws_then_stops(app_page, streamlit_server, artifacts_dir):
    """Start a tiny run, watch the loss chart gain points over two redraws, stop it."""
    page = app_page
    page.goto(f"{streamlit_server.url}/live?depth=8&width=4&steps=20000")
    page.get_by_role("heading", name="Plain vs residual, live").wait_for(state="visible")
    page.get_by_role("button", name="Train").click()

    seen: list[int] = []
    for _ in range(600):  # up to ~60 s
        n = page.evaluate(LOSS_POINTS_JS)
        if n > 0 and (not seen or n > seen[-1]):
            seen.append(n)
        if len(seen) >= 3:
            break
        page.wait_for_timeout(100)
    if len(seen) < 3:
        page.screenshot(path=str(artifacts_dir / "live-failed.png"), full_page=True)
    assert len(seen) >= 3, f"loss chart did not gain points over two redraws: {seen}"
    assert "job=" in page.url  # the run is in the URL, so a refresh reconnects

    page.get_by_role("button", name="Stop").click()
    page.get_by_text("Stopped · step").wait_for(state="visible", timeout=30_000)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(artifacts_dir / "live.png"), full_page=True)
    assert page.locator('[data-testid="stException"]').count() == 0
    log = streamlit_server.log()
    assert "Traceback" not in log, log
