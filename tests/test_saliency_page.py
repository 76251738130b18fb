"""The saliency page through AppTest: samples, uploads (good, unusual and bad), trained twins."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from resnet_viz.config import DataConfig, ModelConfig, TrainConfig
from resnet_viz.experiment import run_twins
from resnet_viz.runs import RunStore

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def open_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.switch_page("app_pages/saliency.py")
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def shapes_twins(tmp_runs) -> list:
    twins = [ModelConfig(depth=8, width=4, residual=r) for r in (False, True)]
    return run_twins(twins, DataConfig(name="shapes"), TrainConfig(steps=4, probe_every=2), store=RunStore(tmp_runs))


def _png(img: Image.Image) -> bytes:
    return _encode(img, "PNG")


def _encode(img: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def _gif() -> bytes:
    frames = [Image.new("P", (40, 30), i) for i in (1, 2, 3)]
    return _encode(frames[0], "GIF", save_all=True, append_images=frames[1:])


def _exif_rotated() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    return _encode(Image.new("RGB", (40, 30), (0, 128, 255)), "JPEG", exif=exif)


def test_without_runs_the_page_says_where_to_get_them(tmp_runs) -> None:
    at = open_page()
    assert at.title[0].value == "Where does each network look?"
    assert any("No finished runs yet" in i.value for i in at.info)


@pytest.mark.slow
def test_twins_side_by_side_on_a_shapes_sample_with_scores(shapes_twins) -> None:
    at = open_page()
    at.selectbox(key="sal_sample").set_value(at.selectbox(key="sal_sample").options[2]).run()  # shapes test #0
    assert not at.exception, at.exception
    [fig] = at.get("plotly_chart")
    assert "plain-8" in fig.proto.spec and "residual-8" in fig.proto.spec
    assert len(at.dataframe) == 2  # top-5 per model
    assert [m.label for m in at.metric] == ["Map energy inside the shape"] * 2
    assert [b.label for b in at.get("download_button")] == ["Overlay (PNG)"] * 2
    at.select_slider(key="sal_step").set_value(0).run()  # the untrained weights
    assert not at.exception and "(step 0)" in at.get("plotly_chart")[0].proto.spec
    next(b for b in at.button if b.label == "Score on 100 shapes test images").click().run()
    assert not at.exception, at.exception
    assert len(at.dataframe[-1].value) == 2


@pytest.mark.slow
@pytest.mark.parametrize("method", ["guided_gradcam", "saliency", "integrated_gradients"])
def test_every_method_draws(shapes_twins, method) -> None:
    at = open_page()
    at.selectbox(key="sal_method").set_value(method).run()
    assert not at.exception, at.exception
    assert at.get("plotly_chart")


@pytest.mark.slow
@pytest.mark.parametrize(("name", "data", "fragment"), [
    ("notes.png", b"this is text, not a picture", "not"),
    ("empty.png", b"", "empty"),
    ("tiny.png", _png(Image.new("RGB", (1, 1))), "small"),
    ("cut.jpg", _encode(Image.new("RGB", (64, 64), (9, 99, 199)), "JPEG")[:300], "truncated"),
])  # fmt: skip
def test_bad_uploads_give_a_message_not_a_traceback(shapes_twins, name, data, fragment) -> None:
    at = open_page()
    at.segmented_control(key="sal_source").set_value("upload").run()
    at.file_uploader(key="sal_upload").set_value((name, data, "image/png")).run()
    assert not at.exception, at.exception
    assert any(fragment in e.value.lower() for e in at.error), [e.value for e in at.error]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "data"), [
    ("clear.png", _png(Image.new("RGBA", (40, 30), (255, 0, 0, 0)))),
    ("print.jpg", _encode(Image.new("CMYK", (40, 30), (0, 255, 255, 0)), "JPEG")),
    ("deep.png", _png(Image.new("I;16", (40, 30), 40_000))),
    ("moving.gif", _gif()),
    ("phone.jpg", _exif_rotated()),
])  # fmt: skip
def test_unusual_uploads_work(shapes_twins, name, data) -> None:
    at = open_page()
    at.segmented_control(key="sal_source").set_value("upload").run()
    at.file_uploader(key="sal_upload").set_value((name, data, "image/*")).run()
    assert not at.exception, at.exception
    assert not at.error and at.get("plotly_chart")


def test_pretrained_offline_is_a_message(tmp_runs, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # an empty cache: nothing to load

    def offline(*args, **kwargs):
        raise OSError("network unreachable (test)")

    monkeypatch.setattr("socket.create_connection", offline)
    at = open_page()
    at.selectbox(key="sal_nets").set_value("resnet18").run()
    assert not at.exception, at.exception
    assert any("cannot be loaded" in e.value for e in at.error)
