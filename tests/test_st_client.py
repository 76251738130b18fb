"""bench/st_client.py against the real app: a protocol-level session gets the page a browser gets,
keeps its fragment timers as the frontend does, and can press Train and watch the run."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import threading
from pathlib import Path

import pytest
from conftest import serve

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))


@pytest.mark.slow
def test_protocol_clients_get_pages_timers_and_a_run(tmp_path: Path) -> None:
    pytest.importorskip("websockets")
    from st_client import StClient

    async def scenario(url: str) -> None:
        home = StClient(url, "/", cookies={"resnet_lab_owner": secrets.token_urlsafe(24)}, name="home")
        live = StClient(
            url, "/live", "depth=8&width=4&steps=40", cookies={"resnet_lab_owner": secrets.token_urlsafe(24)}
        )
        await asyncio.gather(home.open(), live.open())
        try:
            await home.wait_for(lambda s: "ResNet Lab" in s.texts("heading"), 60)
            await live.wait_for(lambda s: "Plain vs residual, live" in s.texts("heading"), 60)
            # The sidebar's heartbeat fragment (run_every=15) told the client to rerun it.
            assert 15.0 in {interval for interval, _task in home.timers.values()}

            await live.press("Train", fresh=True)
            await live.wait_for(lambda s: "job=" in s.query_string, 30)  # Train wrote the job into the URL
            await live.wait_for(lambda s: s.progress_text().startswith(("Running · step", "Finished · step")), 90)
            await live.wait_for(lambda s: s.stats.first_data_at is not None, 90)  # a loss point, on a chart
            # The run's redraws came from the client's own timed fragment reruns (run_every=1).
            await live.wait_for(lambda s: s.stats.runs_finished.get("FINISHED_FRAGMENT_RUN_SUCCESSFULLY", 0) >= 2, 30)
            assert live.stats.fragment_reruns_sent >= 2
            assert any(text.startswith(("Running · step", "Finished · step")) for _t, text in live.stats.redraws)
            assert live.stats.chart_updates > 2

            # And the home page's 15 s timer fired: a fragment rerun the server ran.
            await home.wait_for(lambda s: s.stats.runs_finished.get("FINISHED_FRAGMENT_RUN_SUCCESSFULLY", 0) >= 1, 30)
            assert home.stats.fragment_reruns_sent >= 1
            for client in (home, live):
                assert client.stats.exceptions == []
                assert client.stats.errors == []
                assert client.stats.page_not_found == []
        finally:
            await asyncio.gather(home.close(), live.close())

    with serve(tmp_path / "runs", tmp_path / "server.log", dict(os.environ)) as server:
        # In its own thread: a session-scoped Playwright (sync API) may hold this thread's event loop.
        failures: list[BaseException] = []

        def run() -> None:
            try:
                asyncio.run(scenario(server.url))
            except BaseException as exc:  # noqa: BLE001 (re-raised in the test's thread)
                failures.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
        if failures:
            raise failures[0]
        assert "Traceback" not in server.log()
