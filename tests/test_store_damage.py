"""A damaged run store never takes a page down (issue 12 §4).

One small pair of twins is trained once through the CLI, with its saved analyses; each test
damages a copy of that store and opens pages with Streamlit's AppTest. The targeted tests are
the issue's reproductions; the last one writes random damage (truncation, wrong types, missing
keys, garbage bytes, huge numbers, NaN) into each file of a run and opens every page.
"""

from __future__ import annotations

import json
import math
import pickle
import shutil
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from resnet_viz.analysis import saved as analysis
from resnet_viz.cli import main
from resnet_viz.engine import runs
from resnet_viz.engine.runs import RunInfo, RunStore, RunStoreError, files

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGES = (
    "app.py",
    "pages/1_theory.py",
    "pages/2_anatomy.py",
    "pages/3_live.py",
    "pages/4_degradation.py",
    "pages/5_analysis.py",
    "pages/6_saliency.py",
)
# The names the analysis page reads with its default settings (grid 11, range 1, seed 0; 10 draws).
ANALYSES = {
    "lesion": analysis.lesion_name(10, 0),
    "landscape": analysis.landscape_name(2, 11, 1.0, 0, "test"),
    "near-identity": analysis.near_identity_name(analysis.NEAR_IDENTITY_IMAGES),
}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with one finished plain/residual pair and every analysis the analysis page reads."""
    root = tmp_path_factory.mktemp("pristine") / "runs"
    assert main(["train", "--depth", "8", "--width", "4", "--steps", "6", "--runs-dir", str(root)]) == 0
    store = RunStore(root)
    for info in store.list():
        analysis.run_lesion(store, info.run_id)
        analysis.run_landscape(store, info.run_id, grid=11)
        analysis.run_near_identity(store, info.run_id)
    return root


class Copy:
    """A fresh copy of the pristine store that RESNET_VIZ_RUNS points at: a new path each time,
    so no page cache keyed by the store's path or a file's mtime serves an earlier copy."""

    def __init__(self, pristine: Path, where: Path) -> None:
        self.root = where / "runs"
        shutil.copytree(pristine, self.root)
        self.store = RunStore(self.root)
        infos = self.store.list()
        self.plain = next(i for i in infos if not i.model.residual)
        self.residual = next(i for i in infos if i.model.residual)
        self.group = self.plain.group

    def edit(self, info: RunInfo, name: str, change: Callable[[Any], None]) -> None:
        path = info.path / name
        doc = json.loads(path.read_text())
        change(doc)
        path.write_text(json.dumps(doc))


@pytest.fixture
def store(pristine: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Copy:
    copy = Copy(pristine, tmp_path)
    monkeypatch.setenv("RESNET_VIZ_RUNS", str(copy.root))
    return copy


def open_page(page: str, query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.switch_page(page)
    at.run()
    return at


def texts(at: AppTest) -> list[str]:
    """Every sentence on the page a learner can read."""
    kinds = ("markdown", "caption", "warning", "error", "info", "success", "text", "exception")
    return [str(getattr(e, "value", None) or getattr(e, "message", "")) for kind in kinds for e in at.get(kind)]


def check(at: AppTest, root: Path) -> None:
    """No traceback, and no sentence that shows the server's path."""
    assert not at.exception, at.exception[0].message
    leaks = [t for t in texts(at) if str(root) in t]
    assert not leaks, leaks


def warned(at: AppTest, *fragments: str) -> str:
    """The one warning that holds every fragment."""
    hits = [w.value for w in at.warning if all(f in w.value for f in fragments)]
    assert len(hits) == 1, ([w.value for w in at.warning], fragments)
    return hits[0]


# ---------------------------------------------------------------------------------------------
# The reproductions


def test_a_stored_alpha_of_x_leaves_every_store_page_up(store: Copy) -> None:
    store.edit(store.residual, "config.json", lambda c: c["model"].__setitem__("alpha", "x"))
    for page in ("pages/3_live.py", "pages/6_saliency.py", "pages/5_analysis.py", "pages/4_degradation.py"):
        at = open_page(page)
        check(at, store.root)
        warned(at, store.residual.run_id, "alpha must be a number")
    # The plain twin is still offered on its own.
    at = open_page("pages/6_saliency.py")
    assert any("plain-8" in o for o in at.selectbox(key="sal_nets").options)


def test_a_summary_of_x_leaves_the_live_page_up(store: Copy) -> None:
    store.edit(store.plain, "status.json", lambda s: s.__setitem__("summary", "x"))
    at = open_page("pages/3_live.py")
    check(at, store.root)
    warned(at, store.plain.run_id, "summary that is not a JSON object")
    assert [r["run"] for r in at.dataframe[0].value.to_dict("records")] == ["residual-8"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda m: m.pop("name"), "name must be the model's name"),
        (lambda m: m.__setitem__("step", "abc"), "step must be a list"),
    ],
)
def test_damaged_metrics_opened_by_job_link_leave_the_live_page_up(store: Copy, change, reason) -> None:
    store.edit(store.plain, "metrics.json", change)
    at = open_page("pages/3_live.py", {"job": store.group})
    check(at, store.root)
    warned(at, store.plain.run_id, reason)
    assert any("stored metrics are shown" in c.value for c in at.caption)  # the residual twin still is


def test_an_analysis_without_baseline_acc_is_offered_again(store: Copy) -> None:
    store.edit(store.plain, f"analysis/{ANALYSES['lesion']}.json", lambda d: d.pop("baseline_acc"))
    with pytest.raises(RunStoreError, match="lesion-d10-s0.json does not hold a lesion result"):
        analysis.load_saved(store.store, store.plain.run_id, ANALYSES["lesion"], "lesion")
    at = open_page("pages/5_analysis.py")
    check(at, store.root)
    warned(at, store.plain.run_id, "lesion-d10-s0.json does not hold a lesion result", "Computing it again")
    assert at.button(key="an_lesion_run")  # the study is offered again, which replaces the file
    with pytest.warns(runs.RunStoreWarning, match="computing it again"):
        again = analysis.run_lesion(store.store, store.plain.run_id)
    assert (
        analysis.load_saved(store.store, store.plain.run_id, ANALYSES["lesion"], "lesion").to_dict() == again.to_dict()
    )


def test_a_missing_run_is_an_error_not_a_damaged_analysis(store: Copy) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "computing it again": there is no run to compute
        with pytest.raises(RunStoreError, match="no run '20260101-000000-nope'"):
            analysis.run_lesion(store.store, "20260101-000000-nope")


@pytest.mark.parametrize(("key", "value"), [("width", 100_000), ("depth", 20_000)])
def test_a_model_too_large_to_build_is_refused_before_building(store: Copy, key, value, monkeypatch) -> None:
    from resnet_viz.engine import checkpoints, models

    store.edit(store.residual, "config.json", lambda c: c["model"].__setitem__(key, value))
    real = models.build_model

    def build(cfg):  # was 11-14 s of building per model, or 360 GB
        assert cfg.width < 100_000 and cfg.depth < 20_000, f"build_model was called for {cfg}"
        return real(cfg)

    monkeypatch.setattr(checkpoints, "build_model", build)
    for page in ("pages/5_analysis.py", "pages/6_saliency.py", "pages/3_live.py"):
        at = open_page(page)
        check(at, store.root)
        warned(at, store.residual.run_id, "too large to build")


def test_weights_refused_by_weights_only_are_a_sentence_on_both_pages(store: Copy) -> None:
    torch.save({"w": torch.ones(1), "evil": _Evil()}, store.plain.path / "weights.pt")
    at = open_page("pages/5_analysis.py")
    check(at, store.root)
    assert any(
        "plain-8 cannot be measured" in e.value and "Python objects besides tensors" in e.value for e in at.error
    )
    at = open_page("pages/6_saliency.py")  # digits nets: listed, not chosen by default
    at.selectbox(key="sal_nets").set_value(at.selectbox(key="sal_nets").options[0]).run()
    check(at, store.root)
    assert any("Python objects besides tensors" in e.value for e in at.error)


class _Evil:
    def __reduce__(self):
        return (print, ("unpickled",))


def test_a_read_only_store_is_a_sentence_when_saving_an_analysis(store: Copy, monkeypatch) -> None:
    def read_only(path: Path, write) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    shutil.rmtree(store.plain.path / "analysis")
    monkeypatch.setattr(files, "atomic_write", read_only)
    at = open_page("pages/5_analysis.py")
    at.button(key="an_identity_run").click().run()
    check(at, store.root)
    assert any("near-identity-n1000.json cannot be saved (Permission denied)" in e.value for e in at.error)


def test_data_that_does_not_fit_the_model_is_a_sentence(store: Copy, monkeypatch) -> None:
    store.edit(store.plain, "config.json", lambda c: c["data"].__setitem__("name", "shapes"))
    with pytest.raises(RunStoreError, match="takes 1-channel 8x8 images in 10 classes, but its data 'shapes'"):
        analysis.run_responses(store.store, store.plain.run_id)
    monkeypatch.setenv("RESNET_VIZ_MAX_JOB_MEMORY_MB", "100")  # the digits at 512x512 need 3 GB
    store.edit(store.residual, "config.json", lambda c: c["data"].__setitem__("image_size", 512))
    with pytest.raises(RunStoreError, match="resized to 512x512 pixels would need about 2.8 GB"):
        analysis.run_data(store.store.get(store.residual.run_id))
    for page in ("pages/5_analysis.py", "pages/6_saliency.py"):
        at = open_page(page)
        if page == "pages/6_saliency.py":  # a pair on two datasets is no masked pair: chosen by hand
            at.selectbox(key="sal_nets").set_value(at.selectbox(key="sal_nets").options[0]).run()
        check(at, store.root)
        assert any("cannot be" in e.value for e in at.error), [e.value for e in at.error]


@pytest.mark.parametrize(
    ("kind", "change", "reason"),
    [
        ("lesion", lambda d: d["blocks"].append({"name": 3, "acc": 0.1, "downsampling": False}), "name each block"),
        ("lesion", lambda d: d.__setitem__("baseline_acc", 1e308), "outside [0, 1]"),
        ("lesion", lambda d: d["random"].append(d["random"][-1]), "increasing order"),
        ("landscape", lambda d: d["alphas"].pop(), "odd number"),
        ("landscape", lambda d: d["loss"][0].pop(), "a value per alpha"),
        (
            "landscape",
            lambda d: d.__setitem__("betas", None),
            "loss holds [",
        ),  # a 2-D grid read as 1-D: rows where numbers belong
        ("landscape", lambda d: d["acc"][3].__setitem__(2, "x"), "where a number belongs"),
        ("near-identity", lambda d: d.__setitem__("images", 0), "at least 1"),
        ("near-identity", lambda d: d["blocks"][0].pop("branch"), "list of objects with name"),
    ],
)
def test_saved_analyses_are_checked_against_their_schema(store: Copy, kind, change, reason) -> None:
    run_id, name = store.residual.run_id, ANALYSES[kind]
    assert analysis.load_saved(store.store, run_id, name, kind) is not None  # the pristine file passes
    store.edit(store.residual, f"analysis/{name}.json", change)
    with pytest.raises(RunStoreError, match=f"{name}.json does not hold a {kind} result") as err:
        analysis.load_saved(store.store, run_id, name, kind)
    assert reason in str(err.value)


# ---------------------------------------------------------------------------------------------
# Random damage, every page


JSON_FILES = ("config.json", "status.json", "metrics.json", *(f"analysis/{n}.json" for n in ANALYSES.values()))
BAD_VALUES = st.one_of(
    st.sampled_from(
        [
            None,
            True,
            "x",
            "",
            [],
            {},
            [1, "a"],
            {"a": None},
            -1,
            0,
            1.5,
            10**30,
            -(10**30),
            10**400,
            float("nan"),
            float("inf"),
            1e308,
            -1e308,
        ]
    ),
    st.text(max_size=5),
    st.integers(),
    st.floats(),
)


def _paths(doc: Any, prefix: tuple[Any, ...] = (), depth: int = 0) -> Iterator[tuple[Any, ...]]:
    """Every key/index path into a JSON document, two levels deep at most (and a few per list)."""
    items = doc.items() if isinstance(doc, dict) else enumerate(doc[:3]) if isinstance(doc, list) else ()
    for k, v in items:
        yield (*prefix, k)
        if depth < 2:
            yield from _paths(v, (*prefix, k), depth + 1)


def _damage_json(data: st.DataObject, raw: bytes) -> bytes | None:
    how = data.draw(st.sampled_from(["truncate", "garbage", "delete", "drop key", "wrong value"]), label="how")
    if how == "truncate":
        return raw[: data.draw(st.integers(0, max(0, len(raw) - 1)), label="keep bytes")]
    if how == "garbage":
        return data.draw(st.binary(min_size=1, max_size=64), label="bytes")
    if how == "delete":
        return None
    doc = json.loads(raw)
    paths = list(_paths(doc))
    if not paths:
        return raw
    path = data.draw(st.sampled_from(paths), label="path")
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    if how == "drop key" and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(BAD_VALUES, label="value")
    try:
        return json.dumps(doc).encode()  # NaN and Infinity go in as Python's json writes them
    except ValueError:  # an int too long for str(): write it by hand
        return json.dumps(doc, default=str).encode()


def _damage_weights(data: st.DataObject, raw: bytes) -> bytes | None:
    how = data.draw(st.sampled_from(["truncate", "garbage", "delete", "pickle", "wrong shapes"]), label="how")
    if how == "truncate":
        return raw[: data.draw(st.integers(0, len(raw) - 1), label="keep bytes")]
    if how == "garbage":
        return data.draw(st.binary(min_size=1, max_size=64), label="bytes")
    if how == "delete":
        return None
    if how == "pickle":
        return pickle.dumps({"w": [1, 2]})  # not a torch zip: refused before unpickling anything
    import io

    buf = io.BytesIO()
    torch.save({"stem.0.weight": torch.zeros(2, 2)}, buf)
    return buf.getvalue()


@pytest.mark.slow
@settings(
    max_examples=10,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_random_damage_to_any_file_never_takes_a_page_down(pristine: Path, tmp_path: Path, data) -> None:
    where = tmp_path / f"copy-{time.monotonic_ns()}"  # one store per example: caches key on its path
    copy = Copy(pristine, where)
    victim = data.draw(st.sampled_from([copy.plain, copy.residual]), label="run")
    name = data.draw(st.sampled_from([*JSON_FILES, "weights.pt"]), label="file")
    path = copy.root / victim.run_id / name
    raw = path.read_bytes()
    damaged = (_damage_weights if name == "weights.pt" else _damage_json)(data, raw)
    if damaged is None:
        path.unlink()
    else:
        path.write_bytes(damaged)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RESNET_VIZ_RUNS", str(copy.root))
        for page in PAGES:
            check(open_page(page), copy.root)
        check(open_page("pages/3_live.py", {"job": copy.group}), copy.root)


def test_the_random_damage_reaches_the_readers(pristine: Path, tmp_path: Path) -> None:
    """The damage strategies above are not vacuous: a wrong value in each file is seen as damage."""
    copy = Copy(pristine, tmp_path)
    copy.edit(copy.plain, "metrics.json", lambda m: m["loss"].__setitem__(0, math.inf))
    copy.edit(copy.residual, "config.json", lambda c: c["train"].__setitem__("steps", {}))
    infos, damaged = copy.store.scan()
    assert infos == [] and [d.folder for d in damaged] == sorted([copy.plain.run_id, copy.residual.run_id])
