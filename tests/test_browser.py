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
            if not seen:  # the graph that drew the first points: every later one must be drawn in it
                page.evaluate("() => { window.lossGraph = document.querySelector('.js-plotly-plot'); }")
            seen.append(n)
        if len(seen) >= 3:
            break
        page.wait_for_timeout(100)
    if len(seen) < 3:
        page.screenshot(path=str(artifacts_dir / "live-failed.png"), full_page=True)
    assert len(seen) >= 3, f"loss chart did not gain points over two redraws: {seen}"
    assert "job=" in page.url  # the run is in the URL, so a refresh reconnects
    # Redrawn in place (resnet_viz/ui/live_plot.py), not a new plotly graph per update: that
    # rebuild was most of the browser's CPU while a job trained (bench/bench_live.py).
    assert page.evaluate(SAME_LOSS_GRAPH_JS), "the loss chart was rebuilt instead of redrawn in place"

    try:
        page.get_by_role("button", name="Stop").click()
        page.get_by_text("Stopped · step").wait_for(state="visible", timeout=30_000)
    except Exception:
        page.screenshot(path=str(artifacts_dir / "live-stop-failed.png"), full_page=True)
        raise
    page.wait_for_timeout(1000)
    page.screenshot(path=str(artifacts_dir / "live.png"), full_page=True)
    assert page.evaluate(SAME_LOSS_GRAPH_JS), "the stopped job's loss chart was rebuilt, not redrawn"
    assert page.locator('[data-testid="stException"]').count() == 0
    log = streamlit_server.log()
    assert "Traceback" not in log, log


SAME_LOSS_GRAPH_JS = """() => { const gd = document.querySelector('.js-plotly-plot');
    return gd === window.lossGraph && gd.isConnected && Number(gd.dataset.rlDraws) >= 3; }"""


# Every page a learner can open, by its URL: (path, its heading, a text its script draws last).
# The screenshots in test-artifacts/ are for a person to look at (squashed charts, cut titles,
# meaningless defaults).
PAGES = [
    ("theory", "Why the identity path keeps the gradient alive", "predict, run, check"),
    ("anatomy", "Anatomy of a ResNet", "Glossary"),
    ("degradation", "Deeper is not better: the degradation problem", "Reference: the paper's CIFAR-10 numbers"),
    ("analysis", "Beyond the textbook", "predict, run, check"),
    ("saliency", None, "Display"),
]


def test_every_page_opens_by_url_without_an_exception(app_page, streamlit_server, artifacts_dir):
    """A trained pair in the server's store first, so the run-based pages show their content."""
    from resnet_viz.cli import main

    assert (
        main(["train", "--depth", "8", "--width", "4", "--steps", "30", "--runs-dir", str(streamlit_server.runs_dir)])
        == 0
    )
    page = app_page
    # Streamlit scrolls inside its own container, so a full-page screenshot is one viewport: a tall
    # viewport shows the whole page for a person to look at.
    page.set_viewport_size({"width": 1400, "height": 6000})
    for path, heading, last in PAGES:
        page.goto(f"{streamlit_server.url}/{path}")
        if heading:
            page.get_by_role("heading", name=heading).first.wait_for(state="visible")
        page.get_by_text(last).first.wait_for(state="visible", timeout=180_000)
        page.wait_for_timeout(3000)  # plotly lays out after the script run ends
        page.screenshot(path=str(artifacts_dir / f"{path}.png"), full_page=True)
        assert page.locator('[data-testid="stException"]').count() == 0, path
    log = streamlit_server.log()
    assert "Traceback" not in log, log


def test_the_owner_can_stop_after_a_refresh_and_another_browser_cannot(
    chromium_browser, streamlit_server, artifacts_dir
):
    """Ownership lives in a random cookie set on the first visit: a refresh (or a new tab of the
    same browser) keeps the right to stop; a second browser (no cookie) can only watch."""
    owner = chromium_browser.new_context(viewport={"width": 1400, "height": 1000})
    other = chromium_browser.new_context(viewport={"width": 1400, "height": 1000})
    page = None
    try:
        page = owner.new_page()
        page.set_default_timeout(180_000)  # three pages redraw one run on 2 cores: slow, not stuck (issue 15)
        page.goto(f"{streamlit_server.url}/live?depth=8&width=4&steps=20000")
        page.get_by_role("heading", name="Plain vs residual, live").wait_for(state="visible")
        page.wait_for_function("document.cookie.includes('resnet_lab_owner=')")
        page.get_by_role("button", name="Train").click()
        page.wait_for_function("location.search.includes('job=')")
        page.get_by_text("Running · step").wait_for(state="visible")

        page.reload()  # a refresh: the same browser, a new Streamlit session
        page.get_by_text("Running · step").wait_for(state="visible")
        stop = page.get_by_role("button", name="Stop")
        assert stop.is_enabled()

        tab = owner.new_page()  # a second tab of the same browser
        tab.set_default_timeout(180_000)  # three pages redraw one run on 2 cores: slow, not stuck (issue 15)
        tab.goto(page.url)
        tab.get_by_text("Running · step").wait_for(state="visible")
        assert tab.get_by_role("button", name="Stop").is_enabled()
        tab.close()

        stranger = other.new_page()  # another browser opening the shared link
        stranger.set_default_timeout(180_000)  # three pages redraw one run on 2 cores: slow, not stuck (issue 15)
        stranger.goto(page.url)
        try:
            stranger.get_by_text("Running · step").wait_for(state="visible")
        except Exception:
            stranger.screenshot(path=str(artifacts_dir / "live-other-browser-failed.png"), full_page=True)
            raise
        assert stranger.get_by_role("button", name="Stop").is_disabled()
        stranger.screenshot(path=str(artifacts_dir / "live-other-browser.png"))

        stop.click()
        page.get_by_text("Stopped · step").wait_for(state="visible", timeout=30_000)
        assert page.locator('[data-testid="stException"]').count() == 0
    except Exception:
        if page is not None and not page.is_closed():
            page.screenshot(path=str(artifacts_dir / "live-owner-failed.png"), full_page=True)
        raise
    finally:
        owner.close()
        other.close()


def test_saliency_default_view_shows_the_shapes_pair(app_page, streamlit_server, artifacts_dir):
    """With a shapes pair in the store, the page opens on it: maps, the outline, scores, the reading."""
    from resnet_viz.cli import main

    assert (
        main(
            [
                "train",
                "--dataset",
                "shapes",
                "--depth",
                "8",
                "--width",
                "4",
                "--steps",
                "40",
                "--runs-dir",
                str(streamlit_server.runs_dir),
            ]
        )
        == 0
    )
    page = app_page
    page.set_viewport_size({"width": 1400, "height": 3200})
    page.goto(f"{streamlit_server.url}/saliency")
    page.get_by_text("A map spread evenly over the image would put").first.wait_for(state="visible", timeout=180_000)
    page.wait_for_timeout(3000)  # plotly lays out after the script run ends
    page.screenshot(path=str(artifacts_dir / "saliency-pair.png"), full_page=True)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator(".js-plotly-plot").count() == 3
    assert "Traceback" not in streamlit_server.log()


IDLE_JS = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"  # no script running


def test_every_page_in_chinese_by_a_lang_link(app_page, streamlit_server, artifacts_dir):
    """A teacher's `?lang=zh` link: every page opens in Chinese, the switch says so, and the
    language survives a click on the menu (a page link drops the query). Screenshots for a person
    to look at: test-artifacts/zh-<page>.png (needs a CJK font: Debian's fonts-noto-cjk)."""
    page = app_page
    page.set_viewport_size({"width": 1400, "height": 6000})
    for path in ["", *(p for p, _heading, _last in PAGES)]:
        page.goto(f"{streamlit_server.url}/{path}?lang=zh")
        page.get_by_role("link", name="梯度流").first.wait_for(state="visible", timeout=180_000)  # the menu, in Chinese
        page.wait_for_timeout(1500)
        page.wait_for_function(IDLE_JS, timeout=180_000)
        page.wait_for_timeout(3000)  # plotly lays out after the script run ends
        page.screenshot(path=str(artifacts_dir / f"zh-{path or 'home'}.png"), full_page=True)
        assert page.locator('[data-testid="stException"]').count() == 0, path
        assert "lang=zh" in page.url
    page.get_by_role("link", name="梯度流").first.click()  # the menu keeps the language
    page.wait_for_url("**/theory**")
    page.get_by_role("link", name="梯度流").first.wait_for(state="visible")
    assert "lang=zh" in page.url
    log = streamlit_server.log()
    assert "Traceback" not in log, log


def test_a_chinese_browser_gets_chinese_without_a_link(chromium_browser, streamlit_server, artifacts_dir):
    # st.context.locale is the browser's language: zh-CN opens in Chinese, and the switch still wins.
    context = chromium_browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    try:
        page = context.new_page()
        page.set_default_timeout(120_000)
        page.goto(streamlit_server.url)
        page.get_by_role("link", name="梯度流").first.wait_for(state="visible")
        assert "lang=" not in page.url  # the browser's own language needs no parameter
        page.get_by_text("English", exact=True).first.click()
        page.get_by_role("link", name="Gradient flow").first.wait_for(state="visible")
        assert "lang=en" in page.url  # not the browser's language: the link says it
        page.screenshot(path=str(artifacts_dir / "zh-browser-switched-to-english.png"))
    finally:
        context.close()
