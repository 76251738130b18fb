"""The teacher's page in a real Chromium against `streamlit run app.py` in teacher mode: the key
asked once per browser (a signed cookie afterwards), never in the URL, the page or the server's
log; another browser sees nothing of the class; the class's chart shared onto a student's page.
Screenshots in both languages: test-artifacts/teacher/."""

from __future__ import annotations

import os
import secrets

import pytest
from conftest import ARTIFACTS, serve
from helpers import stored_run

from resnet_viz.engine import classroom
from resnet_viz.engine.runs import RunStore

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def class_server(tmp_path_factory):
    """A server in teacher mode whose store holds a small class: runs, predictions, an assignment."""
    key = secrets.token_urlsafe(18)
    runs = tmp_path_factory.mktemp("class-runs")
    store = RunStore(runs)
    for depth, error in ((20, 8.0), (32, 12.0), (44, 19.0), (56, 27.0)):
        for seed in (0, 1):
            stored_run(store, depth, False, seed, error + 2 * seed, dataset="shapes")
            stored_run(store, depth, True, seed, 6.0 - depth / 40 + seed, dataset="shapes")
    os.environ[classroom.TEACHER_ENV] = key  # the record below is written as the server would
    try:
        classroom.forget()
        room = classroom.at(runs)
        for i, option in enumerate(("higher", "higher", "same", "lower", "higher")):
            room.predict("sweep.deeper_plain", option, f"browser-{i}", "before")
        room.predict("sweep.deeper_plain", "higher", "browser-3", "after")
        room.set_assignment(classroom.parts("shapes", [20, 32, 44, 56], ["plain", "residual"]))
    finally:
        del os.environ[classroom.TEACHER_ENV]
        classroom.forget()
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / "streamlit-teacher.log"
    with serve(runs, log, {**os.environ, classroom.TEACHER_ENV: key}) as server:
        yield server, key


def test_the_key_once_per_browser_and_never_shown(chromium_browser, class_server) -> None:
    server, key = class_server
    out = ARTIFACTS / "teacher"
    out.mkdir(parents=True, exist_ok=True)
    teacher = chromium_browser.new_context(viewport={"width": 1400, "height": 2400})
    other = chromium_browser.new_context(viewport={"width": 1400, "height": 1400})
    try:
        page = teacher.new_page()
        page.set_default_timeout(120_000)
        page.goto(f"{server.url}/teacher")
        box = page.get_by_label("Teacher key")
        box.fill("not the key at all")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_text("That is not this server's teacher key.").wait_for()
        assert page.get_by_text("Jobs on this server").count() == 0
        box.fill(key)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_text("The class's degradation chart").wait_for()
        page.locator(".js-plotly-plot").first.wait_for(state="visible")
        page.wait_for_timeout(2500)
        page.screenshot(path=str(out / "en.png"), full_page=True)
        assert key not in page.url and key not in page.content()

        # the same browser, a new tab: no key asked (the signed cookie), in Chinese this time
        again = teacher.new_page()
        again.set_default_timeout(120_000)
        again.goto(f"{server.url}/teacher?lang=zh")
        again.get_by_text("全班的退化图").wait_for()
        again.locator(".js-plotly-plot").first.wait_for(state="visible")
        again.wait_for_timeout(2500)
        again.screenshot(path=str(out / "zh.png"), full_page=True)
        assert again.get_by_label("教师密钥").count() == 0
        assert key not in again.content()
        cookies = {c["name"]: c["value"] for c in teacher.cookies()}
        assert classroom.TEACHER_COOKIE in cookies and key not in cookies[classroom.TEACHER_COOKIE]

        # another browser sees the sign-in box and nothing of the class
        stranger = other.new_page()
        stranger.set_default_timeout(120_000)
        stranger.goto(f"{server.url}/teacher")
        stranger.get_by_label("Teacher key").wait_for()
        assert stranger.get_by_text("Jobs on this server").count() == 0
        assert stranger.locator(".js-plotly-plot").count() == 0

        # the teacher shares the chart; the stranger's home page shows it behind its exercise
        page.get_by_role("button", name="Show this chart on every student's page").click()
        page.get_by_role("button", name="Stop showing it on the students' pages").wait_for()
        stranger.goto(server.url)
        stranger.get_by_text("The class's result").wait_for()
        stranger.get_by_role("button", name="Show the class's chart now").click()
        stranger.get_by_text("the deeper nets trained worse").wait_for()
        stranger.wait_for_timeout(2000)
        stranger.screenshot(path=str(out / "student-shared.png"))
        # a new browser on Train & compare gets the first part of the assignment
        stranger.goto(f"{server.url}/live")
        stranger.get_by_text("Your part of the class experiment: plain-20").wait_for()
        stranger.locator(".js-plotly-plot").first.wait_for(state="visible")
        stranger.wait_for_timeout(2500)
        stranger.screenshot(path=str(out / "student-part.png"))
        for p in (page, again, stranger):
            assert p.locator('[data-testid="stException"]').count() == 0
    finally:
        teacher.close()
        other.close()
    log = server.log()
    assert key not in log and "Traceback" not in log
