"""The gradient-flow page through AppTest: sliders move without an exception; guesses are graded."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from resnet_viz.quiz import DIRECTION

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def open_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.switch_page("app_pages/theory.py")
    at.run()
    assert not at.exception, at.exception
    return at


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def test_charts_wait_for_the_guess_then_grade_it() -> None:
    at = open_page()
    assert at.latex, "the algebra is rendered"
    assert len(at.get("plotly_chart")) == 2  # chain and shattered; the profiles wait for the guesses
    direction = next(r for r in at.radio if "what happens" in r.label)
    assert "plain-56" in direction.label  # asked about the deepest plain net
    direction.set_value(DIRECTION[2]).run()  # with BatchNorm it grows toward the input (measured ~1e4x)
    _button(at, "Check my guesses").click().run()
    assert not at.exception, at.exception
    assert len(at.get("plotly_chart")) == 4
    text = " ".join(m.value for m in at.markdown)
    assert "You said *it grows toward the input*: **right**" in text and "score 1/1" in text
    assert "grew toward the input" in text or "exploded toward the input" in text


def test_every_control_moves_without_an_exception() -> None:
    at = open_page()
    _button(at, "Just show me").click().run()
    for key, value in [("th_chain_depth", 80), ("th_chain_gain", 1.5), ("th_alpha", 0.0), ("th_kind", "norm"),
                       ("th_kind", "rel"), ("th_arch", "mlp"), ("th_shatter_depth", 10)]:  # fmt: skip
        widget = next(w for w in (*at.slider, *at.select_slider, *at.segmented_control) if w.key == key)
        widget.set_value(value).run()
        assert not at.exception, (key, at.exception)
    at.select_slider(key="th_chain_slope").set_value(0.25).run()
    assert not at.exception
    if any("what happens" in r.label for r in at.radio):  # the MLP brings new questions
        _button(at, "Just show me").click().run()
    assert len(at.get("plotly_chart")) == 4 and not at.exception
    assert "vanished toward the input" in " ".join(m.value for m in at.markdown)  # sigmoid MLP without BN


def test_the_chain_caption_reports_the_autograd_numbers() -> None:
    at = open_page()
    at.slider(key="th_chain_depth").set_value(10).run()
    at.slider(key="th_chain_gain").set_value(0.5).run()
    cap = next(c.value for c in at.caption if "autograd" in c.value)
    assert "plain chain's gradient is 0.000977" in cap  # 0.5 ** 10
    assert "residual chain's 57.7" in cap  # 1.5 ** 10
