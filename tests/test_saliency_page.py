"""The saliency page through AppTest: samples, uploads (good, unusual and bad), trained twins."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from resnet_viz.engine.checkpoints import load_model
from resnet_viz.engine.config import DataConfig, ModelConfig, TrainConfig
from resnet_viz.engine.experiment import run_twins
from resnet_viz.engine.runs import RunStore

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def open_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.switch_page("pages/6_saliency.py")
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def shapes_twins(tmp_runs) -> list:
    twins = [ModelConfig(depth=8, width=4, residual=r) for r in (False, True)]
    return run_twins(twins, DataConfig(name="shapes"), TrainConfig(steps=4, probe_every=2), store=RunStore(tmp_runs))


@pytest.fixture
def digits_twins(tmp_runs) -> list:
    twins = [ModelConfig(depth=8, width=4, residual=r) for r in (False, True)]
    return run_twins(twins, DataConfig(), TrainConfig(steps=2, probe_every=0), store=RunStore(tmp_runs))


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


def test_without_runs_the_page_offers_the_pair_and_no_meaningless_panel(tmp_runs) -> None:
    at = open_page()
    assert at.title[0].value == "Where does each network look?"
    assert any("No pair trained on shapes yet" in i.value for i in at.info)
    assert [b.label for b in at.button if b.key == "sal_train"] == ["Train the shapes pair"]
    assert not at.error and not at.get("plotly_chart")  # no default photo through whatever ran last
    assert at.selectbox(key="sal_nets").value is None


def test_digits_runs_alone_are_not_the_default(digits_twins) -> None:
    # The demo's digits nets used to be picked by default: 2x2 Grad-CAM washes of a photo.
    at = open_page()
    assert at.selectbox(key="sal_nets").value is None
    assert any("No pair trained on shapes yet" in i.value for i in at.info)
    [label] = [o for o in at.selectbox(key="sal_nets").options if "plain-8" in o]
    assert "8x8 grey, 10 classes" in label  # nets are listed with what they were trained on


@pytest.mark.slow
def test_the_layer_is_chosen_once_a_pair_appears_on_a_page_opened_before_it(tmp_runs) -> None:
    # Issue 26: opened before the pair existed, the Layer box kept the empty choice it had then
    # ("Choose an option") once the pair was trained; a fresh visit showed the last block.
    from resnet_viz.saliency import maps as saliency

    at = open_page()
    assert at.selectbox(key="sal_layer").value is None  # no nets yet: no layer to offer
    twins = [ModelConfig(depth=8, width=4, residual=r) for r in (False, True)]
    [plain, _residual] = run_twins(
        twins, DataConfig(name="shapes"), TrainConfig(steps=2, probe_every=0), store=RunStore(tmp_runs)
    )
    at.run()
    assert not at.exception, at.exception
    last = saliency.default_layer(load_model(RunStore(tmp_runs), plain.run_id))[0]
    layer = at.selectbox(key="sal_layer")
    assert layer.options[-1] == last and layer.value == last
    layer.set_value(layer.options[0]).run()  # a choice the learner makes stays
    assert at.selectbox(key="sal_layer").value == layer.options[0]


@pytest.mark.slow
def test_the_button_trains_the_pair_through_the_queue_and_the_maps_appear(tmp_runs, monkeypatch) -> None:
    from resnet_viz.engine.runner import job_queue
    from resnet_viz.teaching.settings import twin_defaults
    from resnet_viz.ui import saliency as ui_sal

    small = dataclasses.replace(twin_defaults("shapes"), depth=8, width=4, steps=6)
    monkeypatch.setattr(ui_sal, "PAIR", small)
    at = open_page()
    at.button(key="sal_train").click().run()
    assert not at.exception, at.exception
    job_id = at.session_state["sal_job"]
    job = job_queue().get(job_id)
    assert job is not None and [c.residual for c in job.model_cfgs] == [False, True]
    assert job.data_cfg.name == "shapes"
    assert job.wait(timeout=240)
    at.run()  # the progress fragment reruns the page at the end; AppTest runs it by hand
    at.run()
    assert not at.exception, at.exception
    assert "plain-8" in at.selectbox(key="sal_nets").value
    figs = at.get("plotly_chart")
    assert len(figs) == 3  # plain vs residual, one net at full size, localisation over training
    assert any("Over training" in m.value for m in at.markdown)


@pytest.mark.slow
def test_the_pair_is_the_default_with_masks_scores_and_a_reading(shapes_twins) -> None:
    at = open_page()
    assert "plain-8 + residual-8" in at.selectbox(key="sal_nets").value  # chosen without a click
    # the narrow box cuts its label after the names; the caption under it says all of it
    chosen = at.selectbox(key="sal_nets")
    assert chosen.format_func(chosen.value) in [c.value for c in at.caption]
    assert at.selectbox(key="sal_sample_shapes").value.startswith("test #0")
    [overlay, _detail, _track] = at.get("plotly_chart")
    assert "plain-8" in overlay.proto.spec and "residual-8" in overlay.proto.spec
    assert any(t["type"] == "contour" for t in json.loads(overlay.proto.spec)["data"])  # the shape's outline
    assert len(at.dataframe) == 2  # top-5 per model
    assert [m.label for m in at.metric] == ["Map energy inside the shape"] * 2
    assert [b.label for b in at.get("download_button")] == ["Overlay (PNG)"]
    sentences = [m.value for m in at.markdown if m.value.startswith("- ")]
    assert any("would put" in s and "inside the shape" in s for s in sentences)
    assert any("training accuracy" in s for s in sentences)
    at.select_slider(key="sal_step").set_value(0).run()  # the untrained weights
    assert not at.exception and "(step 0)" in at.get("plotly_chart")[0].proto.spec


@pytest.mark.slow
def test_the_reading_compares_the_plain_net_with_a_shallower_one_from_the_store(tmp_runs) -> None:
    # Issue 26: degradation is a deeper plain net against a shallower plain one, not against its twin. The
    # page finds the shallower plain net trained the same way in the store and the reading names it.
    store, recipe = RunStore(tmp_runs), TrainConfig(steps=2, probe_every=0)
    run_twins([ModelConfig(depth=8, width=4, residual=False)], DataConfig(name="shapes"), recipe, store=store)
    twins = [ModelConfig(depth=14, width=4, residual=r) for r in (False, True)]
    run_twins(twins, DataConfig(name="shapes"), recipe, store=store)
    at = open_page()
    assert "plain-14 + residual-14" in at.selectbox(key="sal_nets").value
    sentences = [m.value for m in at.markdown if m.value.startswith("- ")]
    assert any("plain-8, a shallower plain net trained the same way on the same data" in s for s in sentences)
    assert not any("degraded" in s or "Degradation explorer" in s for s in sentences)


@pytest.mark.slow
def test_a_damaged_snapshot_is_a_sentence_not_a_traceback(shapes_twins, tmp_runs) -> None:
    snapshot = sorted((tmp_runs / shapes_twins[0].run_id / "snapshots").glob("step-*.pt"))[1]
    snapshot.write_bytes(b"not a checkpoint")  # a copy cut short, say
    at = open_page()
    assert not at.exception, at.exception
    assert any("cannot be scored" in e.value and snapshot.name in e.value for e in at.error), [
        e.value for e in at.error
    ]
    assert len(at.get("plotly_chart")) == 2  # the maps of the final weights still show


@pytest.mark.slow
def test_a_photo_given_to_digits_nets_is_shown_as_they_see_it(digits_twins) -> None:
    at = open_page()
    at.selectbox(key="sal_nets").set_value(at.selectbox(key="sal_nets").options[0]).run()
    at.segmented_control(key="sal_source").set_value("upload").run()
    at.file_uploader(key="sal_upload").set_value(
        ("cat.png", _png(Image.new("RGB", (120, 90), (200, 120, 40))), "image/png")
    ).run()
    assert not at.exception, at.exception
    [note] = [w.value for w in at.warning if "see your photo" in w.value]
    assert "8x8 grey picture" in note and "only 10 classes" in note and "ImageNet" in note
    [overlay, _detail] = at.get("plotly_chart")
    pictures = [t for t in json.loads(overlay.proto.spec)["data"] if t["type"] == "image"]
    assert pictures and all(_side(t["z"]) == 8 for t in pictures)  # the 8x8 picture the nets saw is drawn


def _side(z) -> int:
    """Rows of a plotly image trace's z: a nested list, or plotly's typed array {"shape": "8, 8, 3"}."""
    return int(str(z["shape"]).split(",")[0]) if isinstance(z, dict) else len(z)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["guided_gradcam", "saliency", "integrated_gradients"])
def test_every_method_draws(shapes_twins, method) -> None:
    at = open_page()
    at.selectbox(key="sal_method").set_value(method).run()
    assert not at.exception, at.exception
    assert at.get("plotly_chart")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "data", "fragment"),
    [
        ("notes.png", b"this is text, not a picture", "not"),
        ("empty.png", b"", "empty"),
        ("tiny.png", _png(Image.new("RGB", (1, 1))), "small"),
        ("cut.jpg", _encode(Image.new("RGB", (64, 64), (9, 99, 199)), "JPEG")[:300], "truncated"),
    ],
)
def test_bad_uploads_give_a_message_not_a_traceback(shapes_twins, name, data, fragment) -> None:
    at = open_page()
    at.segmented_control(key="sal_source").set_value("upload").run()
    at.file_uploader(key="sal_upload").set_value((name, data, "image/png")).run()
    assert not at.exception, at.exception
    assert any(fragment in e.value.lower() for e in at.error), [e.value for e in at.error]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("clear.png", _png(Image.new("RGBA", (40, 30), (255, 0, 0, 0)))),
        ("print.jpg", _encode(Image.new("CMYK", (40, 30), (0, 255, 255, 0)), "JPEG")),
        ("deep.png", _png(Image.new("I;16", (40, 30), 40_000))),
        ("moving.gif", _gif()),
        ("phone.jpg", _exif_rotated()),
    ],
)
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
