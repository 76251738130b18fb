"""How long a browser that has never opened the lab waits for a running job's first chart.

`streamlit run app.py`; one Chromium page trains ResNet-20 twins on the digits (5,000 steps);
then `--tries` fresh browser contexts (no cache, as a student's first visit) open the job's
`?job=` link one after another. Prints, per try, when the app's root, the first heading, the first
frame carrying the live chart and the first loss point drawn came, in seconds after the goto.
`--plotly-chart` draws the live charts with st.plotly_chart (RESNET_VIZ_LIVE_PLOT=0) instead.

    python bench/bench_cold_watcher.py [--tries 3] [--plotly-chart]

Needs Debian's chromium (/usr/bin/chromium) and the `playwright` pip package (test extra).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from bench_live import ARGS, POINTS_JS, streamlit_server


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tries", type=int, default=3)
    ap.add_argument("--plotly-chart", action="store_true", help="live charts through st.plotly_chart")
    args = ap.parse_args()
    import torch
    from playwright.sync_api import sync_playwright

    print(
        f"# {platform.machine()} | {os.cpu_count()} cores | torch {torch.__version__.split('+')[0]} | ResNet-20 twins "
        f"on the digits training | live charts: {'st.plotly_chart' if args.plotly_chart else 'ui/live_plot'}"
    )
    env = {"RESNET_VIZ_LIVE_PLOT": "0" if args.plotly_chart else "1"}
    with streamlit_server(Path(tempfile.mkdtemp()) / "runs", env=env) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        trainer = browser.new_page(viewport={"width": 1400, "height": 1000})
        trainer.goto(f"{url}/live?depth=20&steps=5000")
        trainer.get_by_role("button", name="Train").wait_for()
        trainer.wait_for_timeout(1500)
        trainer.get_by_role("button", name="Train").click()
        while "job=" not in trainer.url:
            trainer.wait_for_timeout(100)
        job = trainer.url.split("job=")[1].split("&")[0]
        trainer.wait_for_timeout(3000)  # training, its charts drawn
        for i in range(args.tries):
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            frames: list[float] = []
            t0 = time.perf_counter()

            def frame(data: bytes | str, t0: float = t0, frames: list[float] = frames) -> None:
                if isinstance(data, bytes) and (b"resnet_lab_live_plot" in data or b"plotly_chart" in data):
                    frames.append(time.perf_counter() - t0)

            page.on("websocket", lambda ws, frame=frame: ws.on("framereceived", frame))
            page.goto(f"{url}/live?job={job}")
            page.wait_for_selector('[data-testid="stApp"]', state="attached")
            t_app = time.perf_counter() - t0
            page.wait_for_selector('[data-testid="stHeading"]', state="attached")
            t_heading = time.perf_counter() - t0
            while page.evaluate(POINTS_JS) <= 0:
                page.wait_for_timeout(20)
            t_drawn = time.perf_counter() - t0
            first_frame = f"{frames[0]:.2f} s" if frames else "-"
            print(
                f"try {i + 1}: app root {t_app:.2f} s, first heading {t_heading:.2f} s, first chart frame "
                f"{first_frame}, first loss point drawn {t_drawn:.2f} s"
            )
            context.close()
        browser.close()


if __name__ == "__main__":
    main()
