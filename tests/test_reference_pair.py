"""The atlas's reference pair on Beyond the textbook and Saliency (issue 28): on an empty run store
both pages work on it at once, labelled; the analysis page keeps each measurement behind the
exercise that asks about it; nothing either page does writes into the atlas."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from resnet_viz.engine.runs import RunStore
from resnet_viz.teaching import atlas

APP = str(Path(__file__).resolve().parents[1] / "app.py")
GATE = "A reference result is ready here"
LABEL = "**Reference**: these twins come from the lab's reference atlas, trained by `resnet-viz atlas`"


@pytest.fixture(scope="module")
def pair_atlas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An atlas of only the pair, at depth 8, width 4, 10 steps: the real build's code path, ~15 s."""
    root = tmp_path_factory.mktemp("pair-atlas")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(atlas, "PAIR", dataclasses.replace(atlas.PAIR, depth=8, width=4, steps=10))
        atlas.build(root, datasets=[], demo=False, live=False)
    return root


@pytest.fixture
def with_pair(pair_atlas: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(atlas.ATLAS_ENV, str(pair_atlas))
    return pair_atlas


def _tree(root: Path) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(root)), p.stat().st_mtime_ns) for p in root.rglob("*"))


def open_page(path: str, lang: str = "en", state: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["lang"] = lang
    for key, value in (state or {}).items():
        at.session_state[key] = value
    at.switch_page(path)
    at.run()
    assert not at.exception, at.exception
    return at


def _text(at: AppTest) -> str:
    return " ".join(e.value for e in [*at.markdown, *at.info, *at.caption, *at.success, *at.warning, *at.error])


def _charts(at: AppTest) -> list[str]:
    return [c.proto.id for c in at.get("plotly_chart")]


def _chart_keys(at: AppTest) -> set[str]:
    # An element's id ends with its user key: "$$ID-<hash>-an_lesion"
    return {c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart")}


def test_the_analysis_page_opens_on_the_reference_pair_with_each_answer_gated(tmp_runs, with_pair) -> None:
    at = open_page("pages/5_analysis.py")
    text = _text(at)
    assert LABEL in text and "kept in this browser's session only" in text
    assert at.selectbox(key="an_runs").format_func(at.selectbox(key="an_runs").value).startswith("Reference: ")
    assert text.count(GATE) == 3  # lesion, landscape, near-identity: each asked about above
    keys = _chart_keys(at)
    assert "an_responses" in keys  # measured at once: no exercise asks about it
    assert not keys & {"an_landscape", "an_lesion", "an_random", "an_identity"}


def test_committing_a_prediction_shows_its_reference_and_grades_it(tmp_runs, with_pair) -> None:
    at = open_page("pages/5_analysis.py")
    at.radio(key="ex_pick:analysis.lesion_one_block").set_value("residual")
    at.button(key="ex_commit:analysis.lesion_one_block").click().run()
    assert not at.exception, at.exception
    keys = _chart_keys(at)
    assert {"an_lesion", "an_random"} <= keys and "an_landscape" not in keys
    assert _text(at).count(GATE) == 2
    assert "analysis.lesion_one_block" in at.session_state["exercise_score"]  # graded from the reference


def test_show_the_reference_now_does_not_grade_from_it(tmp_runs, with_pair) -> None:
    at = open_page("pages/5_analysis.py", state={"reference_peeked": {"analysis.landscape_rise": True}})
    assert "an_landscape" in _chart_keys(at)
    at.radio(key="ex_pick:analysis.landscape_rise").set_value("plain")
    at.button(key="ex_commit:analysis.landscape_rise").click().run()
    assert not at.exception, at.exception
    assert "analysis.landscape_rise" not in at.session_state["exercise_score"]
    assert "you looked at the reference first, so it does not grade this one" in _text(at)


def test_other_settings_on_the_reference_are_computed_in_the_session_only(tmp_runs, with_pair) -> None:
    before = _tree(with_pair)
    peeked = {"analysis.landscape_rise": True, "analysis.lesion_one_block": True}
    at = open_page("pages/5_analysis.py", state={"reference_peeked": peeked})
    at.select_slider(key="an_grid").set_value(5).run()
    assert "kept in this session only" in _text(at) and "an_landscape" not in _chart_keys(at)
    at.button(key="an_compute").click().run()
    assert not at.exception, at.exception
    assert "an_landscape" in _chart_keys(at)  # the 5x5 slice, from the session
    at.slider(key="an_draws").set_value(2).run()
    at.button(key="an_lesion_run").click().run()
    assert not at.exception, at.exception
    assert "an_lesion" in _chart_keys(at)
    assert _tree(with_pair) == before  # the atlas is read, never written


def test_the_learners_own_twins_come_first(tmp_runs, with_pair) -> None:
    from resnet_viz.engine.config import DataConfig, ModelConfig, TrainConfig
    from resnet_viz.engine.experiment import run_twins

    twins = [ModelConfig(depth=8, width=4, residual=r) for r in (False, True)]
    run_twins(twins, DataConfig(name="shapes"), TrainConfig(steps=4, probe_every=2), store=RunStore(tmp_runs))
    at = open_page("pages/5_analysis.py")
    box = at.selectbox(key="an_runs")
    assert len(box.options) == 2 and not box.format_func(box.value).startswith("Reference")
    assert LABEL not in _text(at) and GATE not in _text(at)  # the learner's own: nothing gated or labelled


def test_the_saliency_page_draws_maps_of_the_reference_pair_at_once(tmp_runs, with_pair) -> None:
    before = _tree(with_pair)
    at = open_page("pages/6_saliency.py")
    text = _text(at)
    assert LABEL in text and "Train the shapes pair" in text
    assert "No pair trained on shapes yet" not in text
    assert "Reference: plain-8 + residual-8 · Shapes" in text  # the whole label, under the box
    assert {"sal_overlay", "sal_detail_fig", "sal_tracks"} <= _chart_keys(at)
    assert len(at.select_slider(key="sal_step").options) == 5  # the snapshots: every control live
    at.select_slider(key="sal_step").set_value(at.select_slider(key="sal_step").options[0]).run()
    at.selectbox(key="sal_method").set_value("saliency").run()
    assert not at.exception, at.exception
    assert _tree(with_pair) == before


@pytest.mark.parametrize("path", ["pages/5_analysis.py", "pages/6_saliency.py"])
def test_the_reference_pair_is_labelled_in_chinese(tmp_runs, with_pair, path) -> None:
    from test_i18n import assert_all_chinese

    at = open_page(path, "zh", state={"reference_peeked": {"analysis.lesion_one_block": True}})
    text = _text(at)
    assert "**参考结果**" in text and "resnet-viz atlas" in text
    assert_all_chinese(at, path)


# -- Train & compare ----------------------------------------------------------------------------------

TINY_LIVE = {"depth": "8", "width": "4", "steps": "10"}  # the link that opens the tiny atlas's settings


@pytest.fixture(scope="module")
def live_atlas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An atlas of only Train & compare's twins, at depth 8, width 4, 10 steps."""
    root = tmp_path_factory.mktemp("live-atlas")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(atlas, "LIVE", dataclasses.replace(atlas.LIVE, depth=8, width=4, steps=10))
        atlas.build(root, datasets=[], pair=False, demo=False)
    return root


def open_live(root: Path, monkeypatch, link: dict[str, str], state: dict | None = None, lang: str = "en") -> AppTest:
    monkeypatch.setenv(atlas.ATLAS_ENV, str(root))
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params.update({"lang": lang, **link})
    for key, value in (state or {}).items():
        at.session_state[key] = value
    at.switch_page("pages/3_live.py")
    at.run()
    assert not at.exception, at.exception
    return at


def _traces(at: AppTest, key: str) -> int:
    import json

    chart = next(c for c in at.get("plotly_chart") if c.proto.id.endswith(f"-{key}"))
    return len(json.loads(chart.proto.spec)["data"])


def test_train_and_compare_draws_the_reference_curves_and_gates_the_gradients(
    tmp_runs, live_atlas, monkeypatch
) -> None:
    from resnet_viz.teaching import lessons

    before = _tree(live_atlas)
    at = open_live(live_atlas, monkeypatch, TINY_LIVE)
    text = _text(at)
    assert "**Reference**: 2 of these 2 runs come from the lab's reference atlas" in text
    assert "press **Train**" in text and "A reference result is ready for these settings" in text
    keys = _chart_keys(at)
    assert {"loss", "acc"} <= keys and _traces(at, "loss") >= 2  # measured curves, not the empty charts
    assert not keys & {"flow", "flow_ratio", "heat"}  # exercise 1 asks what they show
    peeked = open_live(live_atlas, monkeypatch, TINY_LIVE, {"reference_peeked": {lessons.LIVE_CALMS.key: True}})
    assert {"flow", "flow_ratio", "heat"} <= _chart_keys(peeked)
    assert _tree(live_atlas) == before


def test_other_settings_get_no_reference(tmp_runs, live_atlas, monkeypatch) -> None:
    # The page's defaults (depth 56) are not what this atlas holds (depth 8), nor is BN off at depth 8.
    for link in ({}, {**TINY_LIVE, "bn": "false"}):
        at = open_live(live_atlas, monkeypatch, link)
        assert "**Reference**" not in _text(at), link
        assert "Set up the twins on the left and press **Train**" in _text(at)


def test_the_train_and_compare_reference_in_chinese(tmp_runs, live_atlas, monkeypatch) -> None:
    from test_i18n import assert_all_chinese

    at = open_live(live_atlas, monkeypatch, TINY_LIVE, lang="zh")
    text = _text(at)
    assert "**参考结果**" in text and "点击 **训练**" in text  # two English words would pass the scan below
    assert_all_chinese(at, "pages/3_live.py")


def test_the_learners_own_twins_of_these_settings_replace_the_reference(tmp_runs, live_atlas, monkeypatch) -> None:
    from resnet_viz.engine.experiment import run_twins

    tiny = dataclasses.replace(atlas.LIVE, depth=8, width=4, steps=10)
    run_twins(tiny.model_configs(), tiny.data_config(), tiny.train_config(), store=RunStore(tmp_runs))
    at = open_live(live_atlas, monkeypatch, TINY_LIVE)
    text = _text(at)
    assert "**Reference**" not in text and "This run finished earlier; its stored metrics are shown." in text
    assert {"loss", "flow"} <= _chart_keys(at)  # the learner's own run: nothing of it is gated
