"""Pages on an empty run store read the reference atlas (issue 28): labelled, replaced by the
learner's own runs, and never shown under the prediction it answers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from resnet_viz.teaching import atlas

APP = str(Path(__file__).resolve().parents[1] / "app.py")
GATE = "A reference result is ready for these settings"


@pytest.fixture(scope="module")
def small_atlas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The explorer's default digits sweep (depths 20 and 56, seed 0) and nothing else: four runs."""
    root = tmp_path_factory.mktemp("atlas")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(atlas, "DEPTHS", {"digits": (20, 56), "shapes": (8,)})  # shapes: not built
        mp.setattr(atlas, "SEEDS", (0,))
        atlas.build(root, datasets=["digits"], pair=False, demo=False, live=False)
    return root


@pytest.fixture
def with_atlas(small_atlas: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(atlas.ATLAS_ENV, str(small_atlas))
    return small_atlas


def open_explorer(lang: str = "en") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["lang"] = lang
    at.switch_page("pages/4_degradation.py")
    at.run()
    assert not at.exception, at.exception
    return at


def _text(at: AppTest) -> str:
    return " ".join(e.value for e in [*at.markdown, *at.info, *at.caption, *at.success, *at.warning])


def _charts(at: AppTest) -> list[str]:
    return [c.proto.id for c in at.get("plotly_chart")]


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def test_the_explorer_keeps_the_reference_behind_exercise_1(tmp_runs, with_atlas) -> None:
    at = open_explorer()
    text = _text(at)
    assert GATE in text and "4 runs" in text
    assert "No results for these settings yet" not in text
    assert not _charts(at)  # the answer is not on screen before the prediction
    at.radio(key="ex_pick:sweep.deeper_plain").set_value("higher")
    at.button(key="ex_commit:sweep.deeper_plain").click().run()
    assert not at.exception, at.exception
    text = _text(at)
    assert GATE not in text
    assert "**Reference**: 4 of these 4 runs come from the lab's reference atlas" in text
    assert "CPU" in text and "Run sweep" in text
    assert len(_charts(at)) == 3
    table = at.dataframe[0].value
    assert set(table["source"]) == {"reference atlas"}
    assert "What this sweep shows" in [s.value for s in at.subheader]  # read once predicted
    # graded from the reference, which the learner predicted before seeing
    assert "sweep.deeper_plain" in at.session_state["exercise_score"]


def test_show_the_reference_now_grades_exercise_1_from_own_runs_only(tmp_runs, with_atlas) -> None:
    at = open_explorer()
    _button(at, "Show the reference now").click().run()
    assert not at.exception, at.exception
    assert len(_charts(at)) == 3 and GATE not in _text(at)
    # exercise 1 still asks for a prediction, and nothing grades it from the reference seen first
    assert at.radio(key="ex_pick:sweep.deeper_plain").value is None
    at.radio(key="ex_pick:sweep.deeper_plain").set_value("higher")
    at.button(key="ex_commit:sweep.deeper_plain").click().run()
    assert "pick plain, a shallow and a deep depth, and press Run sweep." in _text(at)
    assert "sweep.deeper_plain" not in at.session_state["exercise_score"]


def test_the_learners_own_run_replaces_its_reference(tmp_runs, with_atlas) -> None:
    # The learner's store holds plain-20 (copied from the atlas: the same settings, trained alike)
    source = next(i for i in atlas.sweep_store(with_atlas).list() if i.model.name == "plain-20")
    shutil.copytree(source.path, tmp_runs / source.run_id)
    at = open_explorer()
    assert "3 runs" in _text(at)
    _button(at, "Show the reference now").click().run()
    assert "**Reference**: 3 of these 4 runs" in _text(at)
    table = at.dataframe[0].value
    assert sorted(table["source"]) == ["reference atlas"] * 3 + ["your run store"]


def test_the_reference_is_labelled_in_chinese(tmp_runs, with_atlas) -> None:
    assert "立即显示参考结果" in [b.label for b in open_explorer("zh").button]
    # A session that pressed it (AppTest re-reads a Chinese select box as English on a second run,
    # so the press is set before the first one)
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["lang"] = "zh"
    at.session_state["reference_peeked"] = {"sweep.deeper_plain": True}
    at.switch_page("pages/4_degradation.py")
    at.run()
    assert not at.exception, at.exception
    text = _text(at)
    assert "**参考结果**：这 4 个运行中有 4 个来自本实验室的参考图集" in text and "resnet-viz atlas" in text
    assert "reference atlas" not in text and len(_charts(at)) == 3


def test_a_damaged_atlas_is_named_and_the_page_still_opens(tmp_runs, tmp_path, monkeypatch) -> None:
    (tmp_path / atlas.MANIFEST_FILE).write_text(json.dumps({"command": "x"}))
    monkeypatch.setenv(atlas.ATLAS_ENV, str(tmp_path))
    at = open_explorer()
    text = _text(at)
    assert "The reference atlas cannot be read, so none is shown: the atlas's manifest lacks" in text
    assert not _charts(at)


def test_without_an_atlas_the_page_says_there_is_nothing_yet(tmp_runs, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(atlas.ATLAS_ENV, str(tmp_path))
    at = open_explorer()
    assert "No results for these settings yet" in _text(at) and GATE not in _text(at)


def test_the_page_never_writes_the_atlas(tmp_runs, with_atlas) -> None:
    before = sorted((p.relative_to(with_atlas), p.stat().st_mtime_ns) for p in with_atlas.rglob("*"))
    at = open_explorer()
    _button(at, "Show the reference now").click().run()
    _button(at, "Run sweep").click().run()  # trains into the learner's store, not the atlas
    assert not at.exception
    after = sorted((p.relative_to(with_atlas), p.stat().st_mtime_ns) for p in with_atlas.rglob("*"))
    assert after == before
