"""The live page through Streamlit's AppTest: open, bad URL values, a tiny run, stop, run list."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from helpers import chart_specs
from streamlit.testing.v1 import AppTest

from resnet_viz.engine.runner import job_queue
from resnet_viz.engine.runs import RunStore
from resnet_viz.ui import live_plot

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def open_live(query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.switch_page("pages/3_live.py")
    at.run()
    assert not at.exception, at.exception
    return at


def tiny(at: AppTest, steps: int) -> None:
    at.select_slider(key="depth").set_value(8)
    at.number_input(key="steps").set_value(steps)
    at.select_slider(key="width").set_value(4)
    at.run()


def wait_job(at: AppTest, timeout: float = 120) -> None:
    job = job_queue().get(
        at.query_params["job"][0] if isinstance(at.query_params["job"], list) else at.query_params["job"]
    )
    assert job is not None and job.wait(timeout)


def test_page_opens_with_defaults(tmp_runs) -> None:
    at = open_live()
    assert at.title[0].value == "Plain vs residual, live"
    assert at.select_slider(key="depth").value == 56
    assert at.selectbox(key="dataset").value == "digits"
    assert any("press **Train**" in i.value for i in at.info)


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("depth", "57", "6n+2"),
        ("lr", "-3", "lr"),
        ("dataset", "nope", "dataset"),
        # issue 12 §5: these were dropped by the widgets without a word (steps=inf raised inside Streamlit)
        ("lr", "1e9", "lr must be from 1e-05 to 10"),
        ("batch_size", "1000000000", "batch_size must be one of"),
        ("steps", "1e12", "steps must be from 1 to 100,000"),
        ("width", "1000", "width must be one of 4, 8, 16, 32, 64"),
        ("seed", "-1", "seed must be from 0 to 10,000"),
        ("steps", "inf", "finite"),
        ("bn", "0.5", "true or false"),
        ("dataset", "folder", "resnet-viz train --dataset folder"),
    ],
)
def test_bad_url_values_give_a_message_not_a_traceback(tmp_runs, key, value, fragment) -> None:
    at = open_live({key: value})
    assert [w.value for w in at.warning] == [next(w.value for w in at.warning if fragment in w.value)]
    assert at.warning[0].value.startswith(f"Ignored {key}={value} from the link:")
    assert key not in at.query_params  # the dropped value leaves the URL, and the widget shows the default
    assert not at.exception


def test_dataset_links_hold_the_key_and_the_screen_the_label(tmp_runs) -> None:
    at = open_live({"dataset": "shapes"})  # was dropped without a word: only the label was a valid option
    assert at.selectbox(key="dataset").value == "shapes" and not at.warning
    assert at.query_params["dataset"] in ("shapes", ["shapes"])
    old = open_live({"dataset": "Shapes (generated, with masks)"})  # what the page itself wrote before
    assert old.selectbox(key="dataset").value == "shapes" and not old.warning
    assert old.query_params["dataset"] in ("shapes", ["shapes"])  # rewritten to the key
    at.selectbox(key="dataset").set_value("cifar10").run()
    assert at.query_params["dataset"] in ("cifar10", ["cifar10"]) and not at.warning
    at.selectbox(key="dataset").set_value("digits").run()
    assert "dataset" not in at.query_params  # the default: links stay short
    labels = [o for o in at.selectbox(key="dataset").proto.options]
    assert "Shapes (generated, with masks)" in labels and "Image folder" not in labels  # no way to give a folder


def test_picking_shapes_opens_its_recipe_and_the_link_stays_short(tmp_runs) -> None:
    from resnet_viz.teaching.settings import RECIPES

    recipe = RECIPES["shapes"]
    at = open_live()
    at.selectbox(key="dataset").set_value("shapes").run()
    assert not at.exception, at.exception
    assert at.select_slider(key="depth").value == recipe.depth and at.number_input(key="lr").value == recipe.lr
    assert at.number_input(key="steps").value == recipe.steps and at.number_input(key="warmup").value == recipe.warmup
    assert dict(at.query_params) in ({"dataset": "shapes"}, {"dataset": ["shapes"]})  # the recipe is the default
    at.number_input(key="warmup").set_value(40).run()
    assert at.query_params["warmup"] in ("40", ["40"])
    at.selectbox(key="dataset").set_value("digits").run()  # back: the digits numbers, and an empty link
    assert at.select_slider(key="depth").value == 56 and at.number_input(key="warmup").value == 0
    assert not dict(at.query_params)
    reopened = open_live({"dataset": "shapes"})  # a shared link opens the same recipe
    assert (
        reopened.select_slider(key="depth").value == recipe.depth and reopened.number_input(key="lr").value == recipe.lr
    )


def test_a_moved_widget_is_not_undone_by_the_link_it_came_from(tmp_runs) -> None:
    at = open_live({"depth": "20", "steps": "1e3"})
    assert at.select_slider(key="depth").value == 20 and at.number_input(key="steps").value == 1000
    assert not at.warning
    at.select_slider(key="depth").set_value(32).run()
    assert at.select_slider(key="depth").value == 32 and at.query_params["depth"] in ("32", ["32"])
    assert at.query_params["steps"] in ("1000", ["1000"])


def test_the_widgets_offer_exactly_the_ranges_the_link_reader_checks(tmp_runs) -> None:
    from resnet_viz.teaching.settings import LIVE_BOUNDS

    at = open_live()
    for key in ("steps", "lr", "seed", "epochs", "warmup"):
        proto = at.number_input(key=key).proto
        assert (proto.min, proto.max) == (LIVE_BOUNDS[key].lo, LIVE_BOUNDS[key].hi), key
    for key in ("depth", "width", "batch_size"):
        assert [int(o) for o in at.select_slider(key=key).proto.options] == list(LIVE_BOUNDS[key].values), key
    alpha = at.slider(key="alpha").proto
    assert (alpha.min, alpha.max) == (LIVE_BOUNDS["alpha"].lo, LIVE_BOUNDS["alpha"].hi)


def test_url_settings_open_the_page_configured(tmp_runs) -> None:
    at = open_live({"depth": "20", "bn": "false"})
    assert at.select_slider(key="depth").value == 20
    assert at.toggle(key="bn").value is False
    assert not at.warning


def test_tiny_run_produces_metrics_charts_reading_and_run_list(tmp_runs) -> None:
    at = open_live()
    tiny(at, steps=12)
    at.button[0].click().run()  # Train
    assert not at.exception, at.exception
    wait_job(at)
    at.run()
    assert not at.exception, at.exception
    charts = chart_specs(at)
    assert len(charts) >= 8  # loss, accuracy, dL/dx profile and ratio, heat-strip, profile, act std, share
    titles = " ".join(json.loads(c)["layout"]["title"]["text"] for c in charts)
    assert "Gradient dL/dx per block" in titles and "first block ÷ last block" in titles
    # Drawn live through ui/live_plot's partial plotly bundle while a job runs: all its trace types.
    assert {t.get("type", "scatter") for c in charts for t in json.loads(c)["data"]} <= live_plot.PLOTLY_TRACES
    texts = " ".join(m.value for m in at.markdown)
    assert "plain-8" in texts and "residual-8" in texts and "Training accuracy" in texts
    assert "dL/dx at the first block was" in texts  # the reading names the regime from dL/dx
    assert "Exercises" in texts and any(r.key == "ex_pick:live.calms" for r in at.radio)
    runs = RunStore(tmp_runs).list()
    assert sorted(r.label for r in runs) == ["plain-8", "residual-8"]
    assert all(r.status == "finished" and r.step == 12 for r in runs)
    assert len(at.dataframe) == 1 and len(at.dataframe[0].value) == 2
    assert [b.label for b in at.get("download_button")] == ["Metrics (CSV)", "Weights (state dict)"]


def test_stop_marks_the_run_stopped_and_keeps_metrics(tmp_runs) -> None:
    at = open_live()
    tiny(at, steps=50_000)
    at.button[0].click().run()
    job_id = at.query_params["job"]
    job_id = job_id[0] if isinstance(job_id, list) else job_id
    job = job_queue().get(job_id)
    t0 = time.monotonic()
    while job.snapshot().step < 3 and time.monotonic() - t0 < 60:
        time.sleep(0.05)
    assert job.snapshot().step >= 3, job.snapshot().state  # training, not still queued behind another job
    at.run()
    stop = next(b for b in at.button if b.label == "Stop")
    assert not stop.disabled
    stop.click().run()
    assert job.wait(10)
    at.run()
    assert not at.exception
    assert job.snapshot().state == "stopped"
    assert {r.status for r in RunStore(tmp_runs).list()} == {"stopped"}


def test_earlier_runs_overlay_on_the_loss_chart(tmp_runs) -> None:
    at = open_live()
    tiny(at, steps=5)
    at.button[0].click().run()
    wait_job(at)
    fresh = open_live()  # a new session: both stored runs are "earlier" runs now
    picker = fresh.multiselect(key="overlay")
    assert len(picker.options) == 2
    picker.select(RunStore(tmp_runs).list()[0].run_id).run()  # values are run ids, labels formatted
    assert not fresh.exception
    loss = chart_specs(fresh)[0]
    assert "(earlier run)" in loss


def test_the_issue_s_server_killer_is_refused_before_anything_trains(tmp_runs) -> None:
    # Issue 12 §2: accepted before; the first step took 25 s and the page said "about 2502758 s to go".
    at = open_live({"depth": "110", "width": "64", "batch_size": "512", "steps": "100000"})
    before = len(job_queue().jobs())
    next(b for b in at.button if b.label == "Train").click().run()
    assert not at.exception
    refusal = [e.value for e in at.error if "would take" in e.value]
    assert refusal and "lower the steps" in refusal[0] and "RESNET_VIZ_MAX_JOB_MINUTES" in refusal[0]
    assert "job" not in at.query_params and len(job_queue().jobs()) == before


def _stored_twins(root: Path, group: str, *, depth: int = 56, first: float = 400.0, last: float = 1.5) -> list[str]:
    """A finished plain/residual pair in the run store, with dL/dx measured at steps 1 and 200
    (the plain net's first/last-block ratio going from `first` to `last`): no training needed."""
    from resnet_viz.engine.config import DataConfig, ModelConfig, TrainConfig
    from resnet_viz.engine.history import History

    store = RunStore(root)
    ids = []
    for residual in (False, True):
        model = ModelConfig(depth=depth, width=8, residual=residual)
        blocks = [f"blocks.{i}" for i in range(4)]
        hist = History(
            name=model.name,
            block_names=blocks,
            step=list(range(1, 201)),
            loss=[1.0] * 200,
            acc=[0.5] * 200,
            lr=[0.1] * 200,
            probe_step=[1, 200],
            grad_x_rms=[[first, 3.0, 2.0, 1.0], [last, 1.2, 1.1, 1.0]],
            status="finished",
            final={
                "train_loss": 0.8 if residual else 0.9,
                "train_acc": 0.6 if residual else 0.5,
                "test_loss": 1.0,
                "test_acc": 0.5,
            },
        )
        run_id = store.create(model, DataConfig(), TrainConfig(steps=200), group=group)
        store.save_metrics(run_id, hist.to_dict())
        store.set_status(run_id, "finished", step=200)
        ids.append(run_id)
    return ids


def test_the_reading_that_answers_an_exercise_waits_for_the_prediction(tmp_runs) -> None:
    """Issue 26: exercise 1 asked whether plain-56's first/last dL/dx ratio ends lower, right under
    the reading that already said it. The reading is held back until the prediction is committed."""
    _stored_twins(tmp_runs, "g1", first=400.0, last=1.5)
    at = open_live({"job": "g1"})
    texts = " ".join(m.value for m in at.markdown)
    assert "At step 200 the first/last ratio was 1.5: it calmed down." not in texts
    assert "dL/dx at the first block was" not in texts and "Training accuracy" not in texts
    assert any("held back: commit your prediction" in i.value for i in at.info)
    at.radio(key="ex_pick:live.calms").set_value("lower").run()
    next(b for b in at.button if b.key == "ex_commit:live.calms").click().run()
    assert not at.exception, at.exception
    texts = " ".join(m.value for m in at.markdown)
    assert "At step 200 the first/last ratio was 1.5: it calmed down." in texts
    assert "You predicted *lower: it calms down*: **right**" in texts
    assert not any("held back" in i.value for i in at.info)
    next(b for b in at.button if b.key == "ex_reset:live.calms").click().run()  # Try again: asked again
    assert "it calmed down" not in " ".join(m.value for m in at.markdown)


def test_a_run_that_answers_no_exercise_shows_its_reading_at_once(tmp_runs) -> None:
    _stored_twins(tmp_runs, "g2", depth=20)  # exercise 1 is about plain-56: nothing on screen answers it
    at = open_live({"job": "g2"})
    assert "dL/dx at the first block was" in " ".join(m.value for m in at.markdown)
    assert not any("held back" in i.value for i in at.info)


def test_the_exercises_are_asked_before_any_run(tmp_runs) -> None:
    at = open_live()
    assert any(r.key == "ex_pick:live.calms" for r in at.radio)  # before: only after a run had answered them


def test_download_offers_the_run_just_trained(tmp_runs) -> None:
    """Issue 26: after Train the picker still held the run it had offered before (the widget kept
    its value); it goes back to the newest run whenever one is added."""
    old = _stored_twins(tmp_runs, "g1")
    at = open_live()
    assert at.selectbox(key="download_pick").value == old[-1]
    new = _stored_twins(tmp_runs, "g2")
    at.run()
    assert at.selectbox(key="download_pick").value == new[-1]
    at.selectbox(key="download_pick").set_value(old[0]).run()  # a pick of the learner's own stays
    at.run()
    assert at.selectbox(key="download_pick").value == old[0]


def test_a_job_whose_worker_is_still_starting_says_so() -> None:
    """bench/bench_class.py: "Running · step 0/0 · 0 images/s ·" (no device) for 11 s while a fresh
    worker imported torch."""
    from resnet_viz.engine.runner.job import Snapshot
    from resnet_viz.ui.live import _progress_text

    def snap(total: int, step: int) -> Snapshot:
        return Snapshot("j", "running", (), step, total, 0, 1.0, 640.0, None, None, None, (), "CPU" if total else "")

    assert _progress_text(snap(0, 0)) == "Starting · the training process is loading torch and the data"
    assert _progress_text(snap(300, 3)).startswith("Running · step 3/300 · 640 images/s · CPU")
