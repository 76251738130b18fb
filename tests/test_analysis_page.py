"""The analysis page, its exercises, and the lesion/landscape commands on a tiny stored pair of twins."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from resnet_viz.analysis.construction import BlockChange, NearIdentity
from resnet_viz.analysis.landscape import Slice
from resnet_viz.analysis.lesion import BlockLesion, LesionResult
from resnet_viz.cli import main
from resnet_viz.engine.checkpoints import load_model
from resnet_viz.engine.config import DataConfig, ModelConfig, TrainConfig
from resnet_viz.engine.data import load_dataset
from resnet_viz.engine.experiment import run_twins
from resnet_viz.engine.runs import RunStore
from resnet_viz.engine.train import evaluate
from resnet_viz.teaching import analysis as teaching_analysis
from resnet_viz.text.construction import identity_sentences
from resnet_viz.text.landscape import landscape_sentences
from resnet_viz.text.lesion import ensemble_sentences

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture
def twins(tmp_runs) -> list:
    cfgs = [ModelConfig(depth=8, width=4, residual=r) for r in (False, True)]
    return run_twins(cfgs, DataConfig(), TrainConfig(steps=6, probe_every=3), store=RunStore(tmp_runs))


def open_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.switch_page("pages/5_analysis.py")
    at.run()
    assert not at.exception, at.exception
    return at


def test_without_runs_the_page_says_where_to_get_them(tmp_runs) -> None:
    at = open_page()
    assert any("No finished runs yet" in i.value for i in at.info)


def _titles(at: AppTest) -> str:
    return " ".join(c.proto.spec for c in at.get("plotly_chart"))


def _text(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption)


@pytest.mark.slow
def test_the_page_shows_every_view_for_stored_twins(twins, tmp_runs) -> None:
    at = open_page()
    titles = _titles(at)
    assert "Layer responses" in titles and "Path lengths of residual-8" in titles  # need no button
    assert "Deleting one block" not in titles  # measured only when the learner asks: predict first
    assert any("Mean std of a 3x3 layer" in m.value for m in at.markdown)
    assert "residual-8 unravels into 2^3 = 8 paths" in _text(at)
    assert "Run the lesion study" in _text(at)  # the exercise says what to do while nothing is measured

    # Predict, then run: the grade comes from the numbers the page just measured.
    at.radio(key="ex_pick:analysis.lesion_one_block").set_value("residual").run()
    at.button(key="ex_commit:analysis.lesion_one_block").click().run()
    at.button(key="an_lesion_run").click().run()
    assert not at.exception, at.exception
    titles = _titles(at)
    assert "Deleting one block" in titles and "Deleting k random blocks" in titles
    store = RunStore(tmp_runs)
    plain, residual = (LesionResult.from_dict(store.load_analysis(r.run_id, "lesion-d10-s0")) for r in twins)
    outcome = teaching_analysis.lesion_outcome(plain, residual, ("plain-8", "residual-8"))
    text = _text(at)
    assert ensemble_sentences(plain, residual, ("plain-8", "residual-8"))[1] in text
    if outcome is not None:
        verdict = "right" if outcome.answer == "residual" else "not this time"
        assert f"You predicted *The residual net*: **{verdict}**. Measured: {outcome.why}" in text

    at.button(key="an_identity_run").click().run()
    assert not at.exception, at.exception
    assert "How far each block is from the identity" in _titles(at)
    ident = [NearIdentity.from_dict(store.load_analysis(r.run_id, "near-identity-n1000")) for r in twins]
    assert identity_sentences(*ident, ("plain-8", "residual-8"))[0] in _text(at)

    at.select_slider(key="an_grid").set_value(5).run()
    next(b for b in at.button if b.label == "Compute the slices").click().run()
    assert not at.exception, at.exception
    assert "Loss landscape" in " ".join(c.proto.spec for c in at.get("plotly_chart"))
    store = RunStore(tmp_runs)
    for r in twins:  # both slices kept with their runs
        assert store.load_analysis(r.run_id, "landscape-2d-g5-r1-s0-test") is not None
    slices = [Slice.from_dict(store.load_analysis(r.run_id, "landscape-2d-g5-r1-s0-test")) for r in twins]
    assert landscape_sentences(*slices, ("plain-8", "residual-8"))[-1] in _text(at)
    at.toggle(key="an_surface").set_value(True).run()
    assert not at.exception


def test_exercises_wait_for_the_measurement_and_follow_the_numbers() -> None:
    names = ("plain-20", "residual-20")
    robust = LesionResult(0.9, (BlockLesion("blocks.0", 0.88, False),), ())
    fragile = LesionResult(0.9, (BlockLesion("blocks.0", 0.2, False),), ())
    a = (-1.0, -0.5, 0.0, 0.5, 1.0)

    def bowl(scale: float) -> Slice:
        loss = 0.5 + scale * np.add.outer(np.square(a), np.square(a))
        return Slice(a, a, loss, np.zeros_like(loss), 0, 10)

    near = NearIdentity(True, (BlockChange("blocks.0", 0.2, 0.1, False),), 8)
    far = NearIdentity(False, (BlockChange("blocks.0", 1.2, 1.0, False),), 8)
    items = teaching_analysis.exercise_items(names, (None, robust), (bowl(5.0), None), (far, near))
    assert [ex.key for ex, _, _ in items] == [
        "analysis.lesion_one_block",
        "analysis.landscape_rise",
        "analysis.near_identity",
    ]
    assert [o is None for _, o, _ in items] == [True, True, False]
    assert items[0][2] == "press **Run the lesion study** on the Lesion study tab."
    assert items[2][1].answer == "residual" and "10x farther for the plain net" in items[2][1].why
    graded = teaching_analysis.exercise_items(names, (fragile, robust), (bowl(5.0), bowl(1.0)), (far, near))
    swapped = teaching_analysis.exercise_items(names, (robust, fragile), (bowl(1.0), bowl(5.0)), (near, far))
    assert [o.answer for _, o, _ in graded] == ["residual", "plain", "residual"]
    assert [o.answer for _, o, _ in swapped] == ["plain", "residual", "plain"]
    assert "rises 5x as much" in graded[1][1].why and "Curvature" not in graded[1][1].why
    for ex, o, _ in graded + swapped:
        assert o.answer in {k for k, _ in ex.options}
    same = teaching_analysis.exercise_items(names, (robust, robust), (bowl(1.0), bowl(1.5)), (near, near))
    assert [o.answer for _, o, _ in same] == ["same", "same", "same"]
    flat = teaching_analysis.exercise_items(names, (None, None), (bowl(-1.0), bowl(-1.0)), (None, None))
    assert flat[1][1] is None and "cannot rank the two nets" in flat[1][2]
    lone = teaching_analysis.exercise_items((None, "residual-20"), (None, robust), (None, None), (None, near))
    assert all(o is None and "not a plain/residual pair" in todo for _, o, todo in lone)


def test_lesion_json_matches_the_documented_shape_and_the_intact_accuracy(twins, tmp_runs, capsys) -> None:
    rid = twins[1].run_id
    assert main(["lesion", "--run", rid, "--runs-dir", str(tmp_runs), "--draws", "3", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"baseline_acc", "blocks", "random"}
    assert [b["name"] for b in doc["blocks"]] == ["blocks.0", "blocks.1", "blocks.2"]
    assert [b["downsampling"] for b in doc["blocks"]] == [False, True, True]
    data = load_dataset(DataConfig())
    _, acc = evaluate(load_model(RunStore(tmp_runs), rid), data.x_test, data.y_test)
    assert doc["baseline_acc"] == pytest.approx(acc)  # deleting nothing = the model's own accuracy
    assert RunStore(tmp_runs).load_analysis(rid, "lesion-d3-s0") == doc  # kept for the page


def test_landscape_json_centre_is_the_models_loss(twins, tmp_runs, capsys) -> None:
    rid = twins[0].run_id
    assert main(["landscape", "--run", rid, "--runs-dir", str(tmp_runs), "--grid", "3", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    data = load_dataset(DataConfig())
    loss, _ = evaluate(load_model(RunStore(tmp_runs), rid), data.x_test, data.y_test)
    assert doc["loss"][1][1] == pytest.approx(loss, abs=1e-5)
    assert main(["landscape", "--run", rid, "--runs-dir", str(tmp_runs), "--grid", "4"]) == 2  # even: refused
    assert "odd" in capsys.readouterr().err
    assert main(["lesion", "--run", "nope", "--runs-dir", str(tmp_runs)]) == 1
    assert "no run 'nope'" in capsys.readouterr().err
