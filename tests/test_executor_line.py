"""The sidebar's executor line (resnet_viz.ui.executor_status): where Train's jobs run, and that a
Ray cluster lost during a job is said (issue 29), in both languages."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@dataclass
class FakeQueue:
    ray_address: str | None = "10.0.0.5:6379"
    max_jobs: int = 2
    executor_note: str | None = None
    cluster_lost: bool = False


def _sidebar(queue: FakeQueue, monkeypatch: pytest.MonkeyPatch, lang: str = "en") -> str:
    import resnet_viz.ui

    monkeypatch.setattr(resnet_viz.ui, "current_queue", lambda: queue)
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["lang"] = lang
    at.switch_page("pages/1_theory.py")
    at.run()
    assert not at.exception, at.exception
    return " ".join(e.value for e in [*at.sidebar.caption, *at.sidebar.warning])


def test_a_connected_cluster_is_named(tmp_runs, monkeypatch) -> None:
    text = _sidebar(FakeQueue(), monkeypatch)
    assert "Training runs on the Ray cluster at **10.0.0.5:6379**: 2 jobs at once." in text
    assert "went away" not in text


def test_a_lost_cluster_is_said_instead(tmp_runs, monkeypatch) -> None:
    text = _sidebar(FakeQueue(cluster_lost=True), monkeypatch)
    assert "The Ray cluster at **10.0.0.5:6379** went away during a job" in text
    assert "Training runs on the Ray cluster" not in text
    zh = _sidebar(FakeQueue(cluster_lost=True), monkeypatch, "zh")
    assert "**10.0.0.5:6379** 上的 Ray 集群在一个任务进行中失去了连接" in zh
