"""The anatomy page through AppTest: it opens, its numbers follow the picked model, exercises grade."""

from __future__ import annotations

from pathlib import Path

import torchvision
from streamlit.testing.v1 import AppTest

from resnet_viz.engine.config import ModelConfig
from resnet_viz.engine.models import build_model, count_params
from resnet_viz.teaching.anatomy import EX_BIGGEST, EX_OPTION_B, EX_POOL

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def open_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.switch_page("pages/2_anatomy.py")
    at.run()
    assert not at.exception, at.exception
    return at


def _text(at: AppTest) -> str:
    return " ".join(m.value for m in (*at.markdown, *at.caption))


def _widget(at: AppTest, key: str):
    return next(w for w in (*at.segmented_control, *at.select_slider, *at.toggle) if w.key == key)


def _commit(at: AppTest, key: str, option: str) -> None:
    at.radio(key=f"ex_pick:{key}").set_value(option).run()
    at.button(key=f"ex_commit:{key}").click().run()
    assert not at.exception, at.exception


def test_opens_with_the_cifar_table_block_code_and_glossary() -> None:
    at = open_page()
    assert len(at.dataframe) == 1
    table = at.dataframe[0].value
    assert list(table["parameters"])[-1] == "269,722"  # the total row of ResNet-20, option A
    assert len(at.get("plotly_chart")) == 2  # parameters per part, the block diagram
    code = at.get("code")
    assert code and "out = self.add(out, self.shortcut(x))" in code[0].proto.code_text
    text = _text(at)
    assert "y = ReLU(x + F(x))" in text and "AvgPool2d(7)" in text
    assert "**twins**" in text and "**RMS per weight**" in text  # the glossary at the bottom
    # No 1 in a block's own dL/dW, but the 1 reaches earlier blocks' dL/dW (issue 26): both said.
    assert "A block's own dL/dW has no 1, but the 1 changes the gradient that reaches every earlier block" in text
    assert "changes the dL/dy that reaches every earlier block, and with it their dL/dW" in text


def test_imagenet_resnet50_shows_torchvision_count_and_grades_the_stage_exercise() -> None:
    at = open_page()
    _commit(at, EX_BIGGEST.key, "stage4")
    assert "Now run it" in _text(at)  # the measurement is still missing: still on CIFAR
    _widget(at, "an_family").set_value("imagenet").run()
    _widget(at, "an_im_depth").set_value(50).run()
    assert not at.exception, at.exception
    text = _text(at)
    exact = count_params(torchvision.models.resnet50(weights=None))
    assert f"{exact:,}" in text and "25.6M" in text
    assert list(at.dataframe[0].value["output size"])[:5] == ["56×56", "56×56", "28×28", "14×14", "7×7"]
    assert "You predicted *stage 4 (conv5_x)*: **right**" in text and "score 1/1" in text
    assert _widget(at, "an_block_bottleneck").value == "bottleneck"  # the block follows the family


def test_option_b_exercise_graded_from_counts_of_the_chosen_depth() -> None:
    at = open_page()
    _widget(at, "an_depth").set_value(56).run()
    _commit(at, EX_OPTION_B.key, "none")
    _widget(at, "an_shortcut").set_value("B").run()
    assert not at.exception, at.exception
    cfg = {"arch": "cifar", "depth": 56, "width": 16, "in_channels": 3, "image_size": 32, "num_classes": 10}
    a, b = (count_params(build_model(ModelConfig(**cfg, shortcut=s))) for s in ("A", "B"))
    text = _text(at)
    assert f"add {b - a:,}" in text and f"{b:,} in all" in text
    assert "You predicted *none: both options are weight-free*: **not this time**" in text


def test_pool_exercise_and_every_control_move_without_an_exception() -> None:
    at = open_page()
    _commit(at, EX_POOL.key, "partial")
    _widget(at, "an_pool_size").set_value(32).run()
    text = _text(at)
    assert "averages only the top-left 7×7 window" in text  # ResNet-20: an 8×8 map at 32×32
    assert "You predicted *it runs but averages only part of the map*: **right**" in text
    for key, value in [
        ("an_width", 8),
        ("an_block_post", "pre"),
        ("an_residual", False),
        ("an_family", "imagenet"),
        ("an_im_depth", 152),
        ("an_pool_size", 448),
    ]:
        _widget(at, key).set_value(value).run()
        assert not at.exception, (key, at.exception)
    assert "2048×2×2" in _text(at)  # ResNet-152 at 448: a 14×14 map, pooled by a stride-7 window
