"""The degradation explorer and the home page's demo through Streamlit's AppTest."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from helpers import chart_specs
from streamlit.testing.v1 import AppTest

import resnet_viz.degradation.sweep
from resnet_viz.cli import main
from resnet_viz.degradation.sweep import collect
from resnet_viz.engine.config import ModelConfig, TrainConfig
from resnet_viz.engine.runner import job_queue
from resnet_viz.engine.runs import RunStore
from resnet_viz.text.sweep import demo_reading

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def open_page(path: str = "pages/4_degradation.py", query: dict[str, str | list[str]] | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.switch_page(path)
    at.run()
    assert not at.exception, at.exception
    return at


def tiny(at: AppTest, seeds: int = 1) -> None:
    at.multiselect(key="sw_depths").set_value([8, 14])
    at.number_input(key="sw_amount").set_value(4)
    at.slider(key="sw_seeds").set_value(seeds)
    at.select_slider(key="sw_width").set_value(4)
    at.run()


def wait_jobs(at: AppTest, param: str) -> list:
    ids = at.query_params[param]
    ids = ids[0] if isinstance(ids, list) else ids
    jobs = [job_queue().get(i) for i in ids.split(",")]
    assert jobs and all(j is not None and j.wait(180) for j in jobs)
    return jobs


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def test_page_opens_with_the_demo_settings_and_the_paper_table(tmp_runs) -> None:
    at = open_page()
    assert at.title[0].value.startswith("Deeper is not better")
    assert at.multiselect(key="sw_depths").value == [20, 56]
    assert any("No results for these settings yet" in i.value for i in at.info)
    table = at.dataframe[0].value  # the reference panel: He et al. 2016, Table 6
    assert list(table["test error %"]) == [8.75, 7.51, 7.17, 6.97, 6.43]
    assert "up to 110 layers" in at.caption[0].value and "1202 was worse" in at.caption[0].value
    assert "Run a sweep with a deep plain net to measure it here" in " ".join(m.value for m in at.markdown)
    assert not _button(at, "Run sweep").disabled and _button(at, "Stop").disabled


def test_bad_settings_disable_run_with_a_message(tmp_runs) -> None:
    at = open_page()
    at.multiselect(key="sw_depths").set_value([]).run()
    assert any("at least one depth" in e.value for e in at.error)
    assert _button(at, "Run sweep").disabled and not at.exception


@pytest.mark.parametrize(
    ("query", "fragment", "widget"),
    [
        # issue 12 §5: each was dropped by its widget without a word (sw_amount=inf raised inside Streamlit)
        (
            {"sw_depths": ["57", "20"]},
            "Ignored sw_depths=57 from the link: depths must be one of 8, 14",
            ("multiselect", [20]),
        ),
        ({"sw_seeds": "99"}, "Ignored sw_seeds=99 from the link: seeds must be from 1 to 5", ("slider", 1)),
        ({"sw_lr": "nan"}, "Ignored sw_lr=nan from the link: lr must be a finite number", ("number_input", 0.1)),
        ({"sw_amount": "inf"}, "Ignored sw_amount=inf from the link", ("number_input", 160)),
        ({"sw_dataset": "folder"}, "resnet-viz train --dataset folder", ("selectbox", "digits")),
        ({"sw_kinds": ["plain", "resnet"]}, "Ignored sw_kinds=resnet", ("button_group", ["plain"])),
    ],
)
def test_bad_link_values_are_named_and_the_rest_applies(tmp_runs, query, fragment, widget) -> None:
    at = open_page(query=query)
    assert len(at.warning) == 1 and fragment in at.warning[0].value
    kind, value = widget
    key = next(iter(query))
    assert next(w for w in at.get(kind) if getattr(w, "key", None) == key).value == value


def test_dataset_link_holds_the_key_and_widget_changes_stay(tmp_runs) -> None:
    at = open_page(query={"sw_dataset": "shapes", "sw_depths": ["8", "14"]})
    assert at.selectbox(key="sw_dataset").value == "shapes" and not at.warning
    assert at.multiselect(key="sw_depths").value == [8, 14]
    assert at.query_params["sw_dataset"] in ("shapes", ["shapes"])
    assert "Image folder" not in list(at.selectbox(key="sw_dataset").proto.options)
    at.session_state["sw_width"] = 16  # as the paper-scale preset's callback sets it
    at.run()
    assert at.select_slider(key="sw_width").value == 16 and at.query_params["sw_width"] in ("16", ["16"])
    assert at.selectbox(key="sw_dataset").value == "shapes"  # the link did not undo anything


@pytest.mark.slow
def test_a_tiny_sweep_trains_shows_figures_and_is_reused(tmp_runs) -> None:
    at = open_page()
    tiny(at)
    _button(at, "Run sweep").click().run()
    assert not at.exception, at.exception
    [job] = wait_jobs(at, "sweep")
    assert [c.name for c in job.model_cfgs] == ["plain-8", "residual-8", "plain-14", "residual-14"]
    at.run()
    assert not at.exception, at.exception
    titles = chart_specs(at)
    assert any("Error vs depth" in t for t in titles) and any("Gradient profile at initialisation" in t for t in titles)
    assert any("Training error while training" in t for t in titles)
    assert any(s.value == "What this sweep shows" for s in at.subheader)
    assert "Plain nets: training error" not in " ".join(m.value for m in at.markdown)  # held back: it answers
    assert len(RunStore(tmp_runs).list()) == 4
    text = " ".join(m.value for m in at.markdown)
    # the difficulty panel cites this sweep's own plain-14 at initialisation, and links the pages
    assert "So what is the difficulty" in text and "In this sweep plain-14's dL/dx first/last block ratio was" in text
    assert "lag-1 autocorrelation of df/dx" in text
    # the depth exercise is graded from the sweep just run, and its reading shows once predicted
    at.radio(key="ex_pick:sweep.deeper_plain").set_value("higher").run()
    next(b for b in at.button if b.key == "ex_commit:sweep.deeper_plain").click().run()
    graded = " ".join(m.value for m in at.markdown)
    assert "You predicted *higher*" in graded and "Measured: training error" in graded
    assert "Plain nets: training error" in graded

    _button(at, "Run sweep").click().run()  # everything is stored: nothing is queued again
    assert any("were already in the run store" in i.value for i in at.info)
    assert len(RunStore(tmp_runs).list()) == 4
    _button(at, "Re-run").click().run()  # forced: all four train again
    wait_jobs(at, "sweep")
    assert len(RunStore(tmp_runs).list()) == 8


@pytest.mark.slow
def test_a_sweep_run_from_the_cli_appears_on_the_page(tmp_runs, capsys) -> None:
    assert main(["sweep", "--depths", "8,14", "--width", "4", "--steps", "4", "--seeds", "0,1", "--json"]) == 0
    capsys.readouterr()
    at = open_page()
    tiny(at, seeds=2)
    assert not any("No results" in i.value for i in at.info)
    rows = at.dataframe[0].value  # "Every run of this sweep"
    assert len(rows) == 8 and all(rows["reused"])


@pytest.mark.slow
def test_home_demo_runs_and_its_sentence_matches_the_runs(tmp_runs, monkeypatch) -> None:
    # The real preset takes ~35 s (bench/bench_demo.py); the page logic is the same for a tiny one.
    demo = dataclasses.replace(
        resnet_viz.degradation.sweep.DEMO,
        depths=(8, 14),
        model=ModelConfig(width=4),
        train=TrainConfig(steps=6, probe_every=3),
    )
    monkeypatch.setattr(resnet_viz.degradation.sweep, "DEMO", demo)
    at = open_page("app.py")
    _button(at, "Run the demo").click().run()
    assert not at.exception, at.exception
    wait_jobs(at, "demo")
    at.run()
    assert not at.exception, at.exception
    results = collect(demo, RunStore(tmp_runs))
    acc = {r.name: 100 * r.history.final["train_acc"] for r in results}
    [shown] = [s.value for s in at.success]
    assert shown == demo_reading(results)
    assert f"plain-14 reached {acc['plain-14']:.0f}% training accuracy, plain-8 {acc['plain-8']:.0f}%" in shown
    assert f"residual-14 reached {acc['residual-14']:.0f}% (residual-8 {acc['residual-8']:.0f}%)" in shown


@pytest.mark.slow
def test_the_demo_preset_shows_degradation_for_seed_0() -> None:
    """The paper's effect, on the home page's preset: plain-56 trains far worse than plain-20,
    residual-56 about as well as residual-20 (bench/bench_demo.py checks seeds 0-4 and the time)."""
    results = resnet_viz.degradation.sweep.run_sweep(resnet_viz.degradation.sweep.DEMO)
    acc = {r.name: 100 * r.history.final["train_acc"] for r in results}
    assert acc["plain-20"] - acc["plain-56"] >= 20, acc
    assert acc["residual-56"] >= acc["residual-20"] - 2, acc


def test_the_paper_scale_preset_is_offered_with_a_gpu_and_fills_the_widgets(tmp_runs, monkeypatch) -> None:
    at = open_page()
    assert not any(b.label == "Load the paper-scale preset" for b in at.button)  # no GPU here
    monkeypatch.setattr("resnet_viz.ui.cuda_available", lambda: True)
    at = open_page()
    _button(at, "Load the paper-scale preset").click().run()
    assert not at.exception, at.exception
    assert at.selectbox(key="sw_dataset").value == "cifar10"
    assert at.multiselect(key="sw_depths").value == [20, 32, 44, 56]
    assert at.segmented_control(key="sw_budget").value == "epochs" and at.number_input(key="sw_amount").value == 6
    assert at.select_slider(key="sw_width").value == 16 and at.select_slider(key="sw_batch").value == 128
    assert at.toggle(key="sw_augment").value is True and at.number_input(key="sw_warmup").value == 400


@pytest.mark.slow
def test_the_already_stored_note_goes_when_the_settings_change(tmp_runs, capsys) -> None:
    assert main(["sweep", "--depths", "8,14", "--width", "4", "--steps", "4", "--json"]) == 0
    capsys.readouterr()
    at = open_page()
    tiny(at)
    _button(at, "Run sweep").click().run()
    assert any("were already in the run store" in i.value for i in at.info)
    at.number_input(key="sw_amount").set_value(5).run()
    assert not any("were already in the run store" in i.value for i in at.info)


def test_a_sweep_of_100000_epochs_is_refused_before_anything_trains(tmp_runs) -> None:
    # Issue 12 §2: sw_budget=epochs&sw_amount=100000 was accepted.
    at = open_page(query={"sw_budget": "epochs", "sw_amount": "100000"})
    before = len(job_queue().jobs())
    _button(at, "Run sweep").click().run()
    assert not at.exception
    assert any("would take" in e.value and "lower the steps (or epochs)" in e.value for e in at.error)
    assert "sweep" not in at.query_params and len(job_queue().jobs()) == before


def _stored_sweep(root: Path, errors: dict[int, float]) -> None:
    """The page's default sweep in the run store, one finished plain run per depth with the given
    training error (%): what a sweep run earlier (by anyone) leaves behind, without training."""
    from resnet_viz.engine.history import History
    from resnet_viz.teaching.settings import SweepSettings

    sweep = SweepSettings().sweep_config()
    store = RunStore(root)
    for depth, kind, seed in sweep.cells():
        model = sweep.model_config(depth, kind)
        acc = 1 - errors[depth] / 100
        hist = History(
            name=model.name,
            step=[1, 2],
            loss=[2.0, 1.0],
            acc=[acc, acc],
            lr=[0.1, 0.1],
            status="finished",
            final={"train_loss": 1.0, "train_acc": acc, "test_loss": 1.0, "test_acc": acc},
        )
        run_id = store.create(model, sweep.data, sweep.train_config(depth, seed))
        store.save_metrics(run_id, hist.to_dict())
        store.set_status(run_id, "finished", step=2)


def test_the_sweep_reading_waits_for_the_depth_prediction(tmp_runs) -> None:
    """Issue 26: exercise 1 asked to predict the default sweep with its result stated above the
    question. The reading is held back until the prediction is committed."""
    _stored_sweep(tmp_runs, {20: 10.0, 56: 40.0})
    at = open_page()
    answer = "Plain nets: training error 10.0% at depth 20 (1 seed) and 40.0% at depth 56 (1 seed)"
    assert answer not in " ".join(m.value for m in at.markdown)
    assert any("held back: commit your prediction" in i.value for i in at.info)
    at.radio(key="ex_pick:sweep.deeper_plain").set_value("higher").run()
    next(b for b in at.button if b.key == "ex_commit:sweep.deeper_plain").click().run()
    assert not at.exception, at.exception
    text = " ".join(m.value for m in at.markdown)
    assert answer in text and "You predicted *higher*: **right**" in text
    assert not any("held back" in i.value for i in at.info)


def test_no_empty_state_sentence_while_a_sweep_trains(tmp_runs, monkeypatch) -> None:
    """Issue 26: "No results for these settings yet. Press Run sweep" stayed above the growing chart."""
    at = open_page()
    assert any("No results for these settings yet" in i.value for i in at.info)
    monkeypatch.setattr("resnet_viz.ui.degradation.active", lambda param: True)
    at.run()
    assert not at.exception, at.exception
    assert not any("No results" in i.value for i in at.info)


def test_a_progress_row_without_a_known_total_says_starting() -> None:
    from resnet_viz.ui.degradation import progress_row

    assert progress_row("plain-20", 0, 0, 0, "running") == "plain-20 · seed 0 · starting"  # read "step 0/0"
    assert progress_row("plain-20", 1, 0, 160, "running") == "plain-20 · seed 1 · starting"
    assert progress_row("plain-56", 2, 30, 160, "running") == "plain-56 · seed 2 · step 30/160 · running"


def test_run_sweep_and_re_run_say_how_they_differ(tmp_runs) -> None:
    at = open_page()
    assert "lacks" in _button(at, "Run sweep").help and "reused" in _button(at, "Run sweep").help
    assert "again, even those already in the run store" in _button(at, "Re-run").help


def test_the_paper_scale_preset_says_how_compressed_its_schedule_is(tmp_runs, monkeypatch) -> None:
    monkeypatch.setattr("resnet_viz.ui.cuda_available", lambda: True)
    at = open_page()
    text = " ".join(m.value for m in at.markdown)
    assert "compressed schedule: 6 epochs, where the paper trained for 64k iterations (about 164 epochs)" in text
