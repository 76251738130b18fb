"""The analysis page and the lesion/landscape commands on a tiny stored pair of twins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from resnet_viz.cli import main
from resnet_viz.config import DataConfig, ModelConfig, TrainConfig
from resnet_viz.data import load_dataset
from resnet_viz.experiment import run_twins
from resnet_viz.runs import RunStore
from resnet_viz.train import evaluate

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture
def twins(tmp_runs) -> list:
    cfgs = [ModelConfig(depth=8, width=4, residual=r) for r in (False, True)]
    return run_twins(cfgs, DataConfig(), TrainConfig(steps=6, probe_every=3), store=RunStore(tmp_runs))


def open_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.switch_page("app_pages/analysis.py")
    at.run()
    assert not at.exception, at.exception
    return at


def test_without_runs_the_page_says_where_to_get_them(tmp_runs) -> None:
    at = open_page()
    assert any("No finished runs yet" in i.value for i in at.info)


@pytest.mark.slow
def test_the_page_shows_all_three_views_for_stored_twins(twins, tmp_runs) -> None:
    at = open_page()
    titles = " ".join(c.proto.spec for c in at.get("plotly_chart"))
    assert "Deleting one block" in titles and "Deleting k random blocks" in titles and "Layer responses" in titles
    assert any("Mean std of a 3x3 layer" in m.value for m in at.markdown)
    at.select_slider(key="an_grid").set_value(5).run()
    next(b for b in at.button if b.label == "Compute the slices").click().run()
    assert not at.exception, at.exception
    assert "Loss landscape" in " ".join(c.proto.spec for c in at.get("plotly_chart"))
    store = RunStore(tmp_runs)
    for r in twins:  # both slices kept with their runs
        assert store.load_analysis(r.run_id, "landscape-2d-g5-r1-s0-test") is not None
    at.toggle(key="an_surface").set_value(True).run()
    assert not at.exception


def test_lesion_json_matches_the_documented_shape_and_the_intact_accuracy(twins, tmp_runs, capsys) -> None:
    rid = twins[1].run_id
    assert main(["lesion", "--run", rid, "--runs-dir", str(tmp_runs), "--draws", "3", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"baseline_acc", "blocks", "random"}
    assert [b["name"] for b in doc["blocks"]] == ["blocks.0", "blocks.1", "blocks.2"]
    assert [b["downsampling"] for b in doc["blocks"]] == [False, True, True]
    data = load_dataset(DataConfig())
    _, acc = evaluate(RunStore(tmp_runs).load_model(rid), data.x_test, data.y_test)
    assert doc["baseline_acc"] == pytest.approx(acc)  # deleting nothing = the model's own accuracy
    assert RunStore(tmp_runs).load_analysis(rid, "lesion-d3-s0") == doc  # kept for the page


def test_landscape_json_centre_is_the_models_loss(twins, tmp_runs, capsys) -> None:
    rid = twins[0].run_id
    assert main(["landscape", "--run", rid, "--runs-dir", str(tmp_runs), "--grid", "3", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    data = load_dataset(DataConfig())
    loss, _ = evaluate(RunStore(tmp_runs).load_model(rid), data.x_test, data.y_test)
    assert doc["loss"][1][1] == pytest.approx(loss, abs=1e-5)
    assert main(["landscape", "--run", rid, "--runs-dir", str(tmp_runs), "--grid", "4"]) == 2  # even: refused
    assert "odd" in capsys.readouterr().err
    assert main(["lesion", "--run", "nope", "--runs-dir", str(tmp_runs)]) == 1
    assert "no run 'nope'" in capsys.readouterr().err
