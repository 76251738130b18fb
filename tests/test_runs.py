"""Run store: round trips, ordering, damage tolerance, atomic writes, path safety, CSV."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import torch

from resnet_viz.engine import runs
from resnet_viz.engine.checkpoints import load_model, load_state_dict
from resnet_viz.engine.config import DataConfig, ModelConfig, TrainConfig
from resnet_viz.engine.runs import RunInfo, RunStore, RunStoreError, RunStoreWarning, files

MODEL = ModelConfig(arch="cifar", depth=8, width=4, residual=True)
PLAIN = ModelConfig(arch="cifar", depth=8, width=4, residual=False)
DATA = DataConfig(name="digits")
TRAIN = TrainConfig(steps=5, batch_size=8, seed=3)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    """Each call of the store's clock is one second later, so ordering never depends on timing."""
    ticks = [datetime(2026, 11, 25, 22, 45, 1, tzinfo=timezone.utc)]

    def tick() -> datetime:
        ticks.append(ticks[-1] + timedelta(seconds=1))
        return ticks[-1]

    monkeypatch.setattr(files, "utcnow", tick)
    return ticks


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    return RunStore(tmp_path / "runs")


def _trained_model() -> torch.nn.Module:
    """A small model whose weights and BN statistics differ from a fresh build_model."""
    from resnet_viz.engine.models import build_model

    torch.manual_seed(0)
    model = build_model(MODEL)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    model.train()
    model(torch.randn(16, 1, 8, 8) * 3 + 1)  # moves BN running stats away from (0, 1)
    return model


def _metrics(loss: float) -> dict:
    return {"name": "residual-8", "step": [1, 2], "loss": [loss, loss / 2], "acc": [0.1, 0.2], "lr": [0.1, 0.1]}


def _ids(infos: list[RunInfo]) -> list[str]:
    return [r.run_id for r in infos]


# ---------------------------------------------------------------------------------------------


def test_round_trip(store: RunStore, clock: list[datetime]) -> None:
    assert not store.root.exists()  # constructing a store writes nothing
    run_id = store.create(MODEL, DATA, TRAIN, group="g1")
    assert run_id.startswith("20261125-224502-residual-8-s3-")
    assert len(run_id.rsplit("-", 1)[1]) == 4

    info = store.get(run_id)
    assert (info.status, info.step, info.group, info.label) == ("running", 0, "g1", "residual-8")
    assert (info.model, info.data, info.train) == (MODEL, DATA, TRAIN)
    assert not info.has_weights
    assert store.load_metrics(run_id) == {}

    config = json.loads((store.root / run_id / "config.json").read_text())
    assert config["version"] == 1 and config["model"]["depth"] == 8 and config["train"]["seed"] == 3

    model = _trained_model()
    metrics = _metrics(2.0) | {"eval": [{"step": 2, "epoch": 0.5, "test_loss": 1.5, "test_acc": 0.3}]}
    store.save_metrics(run_id, metrics)
    store.save_weights(run_id, model.state_dict())
    store.set_status(run_id, "finished", step=5, message="done", seconds=1.5, summary={"final_loss": 1.0})

    [listed] = store.list()
    assert listed.run_id == run_id
    assert (listed.status, listed.step, listed.message) == ("finished", 5, "done")
    assert listed.extra["seconds"] == 1.5 and listed.extra["summary"] == {"final_loss": 1.0}
    assert listed.has_weights
    assert store.load_metrics(run_id) == metrics

    loaded = load_model(store, run_id)
    assert not loaded.training
    saved = model.state_dict()
    restored = loaded.state_dict()
    assert restored.keys() == saved.keys()
    for key in saved:
        assert torch.equal(restored[key], saved[key]), key
    model.eval()
    x = torch.randn(4, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


def test_saved_weights_are_plain_standalone_tensors(store: RunStore) -> None:
    run_id = store.create(MODEL, DATA, TRAIN)
    big = torch.arange(1_000_000, dtype=torch.float32)
    conv = torch.randn(4, 3, 5, 5).to(memory_format=torch.channels_last)
    param = torch.nn.Parameter(torch.ones(3))
    store.save_weights(run_id, {"view": big[:2], "conv": conv, "param": param})
    # A view must not drag its whole 4 MB storage into the file.
    assert (store.root / run_id / "weights.pt").stat().st_size < 100_000
    state = load_state_dict(store, run_id)
    assert torch.equal(state["view"], torch.tensor([0.0, 1.0]))
    assert torch.equal(state["conv"], conv) and state["conv"].is_contiguous()
    assert torch.equal(state["param"], torch.ones(3)) and not state["param"].requires_grad
    with pytest.raises(TypeError, match="not a tensor"):
        store.save_weights(run_id, {"w": [1.0]})  # type: ignore[dict-item]


def test_nan_is_stored_as_null(store: RunStore) -> None:
    run_id = store.create(MODEL, DATA, TRAIN)
    store.save_metrics(run_id, {"loss": [1.0, float("nan"), float("inf")]})
    assert store.load_metrics(run_id) == {"loss": [1.0, None, None]}
    json.loads((store.root / run_id / "metrics.json").read_text())  # strict JSON, no NaN token


def test_list_newest_first_and_group_filter(store: RunStore, clock: list[datetime]) -> None:
    a = store.create(PLAIN, DATA, TRAIN, group="g1")
    b = store.create(MODEL, DATA, TRAIN, group="g1")
    c = store.create(MODEL, DATA, TRAIN, group="g2", label="mine")
    d = store.create(MODEL, DATA, TRAIN)
    assert _ids(store.list()) == [d, c, b, a]
    assert _ids(store.list(group="g1")) == [b, a]
    assert _ids(store.list(group="g2")) == [c]
    assert store.get(c).label == "mine"
    assert store.list(group="nope") == []


def test_list_of_missing_root_is_empty(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "absent")
    assert store.list() == []
    assert not store.root.exists()


def test_damaged_folders_are_skipped_with_a_warning(store: RunStore) -> None:
    good1 = store.create(MODEL, DATA, TRAIN)
    good2 = store.create(PLAIN, DATA, TRAIN)
    store.save_metrics(good2, _metrics(1.0))
    store.save_weights(good2, {"w": torch.ones(2)})

    garbage = store.root / "20260101-000000-garbage"
    garbage.mkdir()
    (garbage / "config.json").write_text("{not json")
    (garbage / "status.json").write_text('{"status": "finished", "step": 1}')

    half = store.root / "20260101-000001-half"  # killed while writing its first file
    half.mkdir()
    (half / ".config.json.1234.tmp").write_text('{"model": {"arch": "ci')

    bad_metrics = store.create(MODEL, DATA, TRAIN)
    (store.root / bad_metrics / "metrics.json").write_text('{"step": [1, 2')

    truncated = store.create(MODEL, DATA, TRAIN)
    store.save_weights(truncated, _trained_model().state_dict())
    weights = store.root / truncated / "weights.pt"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])

    (store.root / "notes.txt").write_text("not a run")  # stray files are ignored silently

    with pytest.warns(RunStoreWarning) as record:
        listed = store.list()
    assert set(_ids(listed)) == {good1, good2}
    messages = "\n".join(str(w.message) for w in record)
    for name in ("20260101-000000-garbage", "20260101-000001-half", bad_metrics, truncated):
        assert name in messages
    assert "config.json is not valid JSON" in messages
    assert "config.json is missing" in messages
    assert "metrics.json is not valid JSON" in messages
    assert "weights.pt is damaged" in messages
    assert "notes.txt" not in messages

    with pytest.raises(RunStoreError, match="config.json is not valid JSON"):
        store.get("20260101-000000-garbage")
    with pytest.raises(RunStoreError, match="weights"):
        load_model(store, truncated)
    with pytest.raises(RunStoreError, match="weights.pt cannot be loaded"):
        load_state_dict(store, truncated)
    with pytest.raises(RunStoreError, match="metrics.json is not valid JSON"):
        store.load_metrics(bad_metrics)


def test_invalid_config_values_are_damage(store: RunStore) -> None:
    run_id = store.create(MODEL, DATA, TRAIN)
    path = store.root / run_id / "config.json"
    config = json.loads(path.read_text())
    config["model"]["depth"] = 7  # not 6n+2: ModelConfig refuses it
    path.write_text(json.dumps(config))
    with pytest.warns(RunStoreWarning, match="invalid model config"):
        assert store.list() == []
    with pytest.raises(RunStoreError, match="6n\\+2"):
        store.get(run_id)


def test_weights_that_do_not_fit_the_model(store: RunStore) -> None:
    run_id = store.create(MODEL, DATA, TRAIN)
    store.save_weights(run_id, {"w": torch.ones(2)})
    with pytest.raises(RunStoreError, match="do not fit"):
        load_model(store, run_id)
    with pytest.raises(RunStoreError, match="no saved weights"):
        load_state_dict(store, store.create(MODEL, DATA, TRAIN))


def test_weights_are_loaded_without_unpickling_code(store: RunStore) -> None:
    run_id = store.create(MODEL, DATA, TRAIN)
    # A pickle that would call os.system on load: weights_only=True must refuse it.
    torch.save({"w": torch.ones(1), "evil": _Evil()}, store.root / run_id / "weights.pt")
    with pytest.raises(RunStoreError, match="cannot be loaded"):
        load_state_dict(store, run_id)


class _Evil:
    def __reduce__(self):
        return (os.getpid, ())


def test_failed_writes_keep_the_previous_file(store: RunStore, monkeypatch: pytest.MonkeyPatch) -> None:
    run_id = store.create(MODEL, DATA, TRAIN)
    store.save_metrics(run_id, _metrics(1.0))
    store.save_weights(run_id, {"w": torch.ones(3)})
    store.set_status(run_id, "running", step=2)
    folder = store.root / run_id
    before = sorted(p.name for p in folder.iterdir())

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError("disk gone")

    # The rename fails after the new bytes were fully written to the temp file.
    with monkeypatch.context() as m:
        m.setattr(os, "replace", boom)
        with pytest.raises(OSError, match="disk gone"):
            store.save_metrics(run_id, _metrics(9.0))
        with pytest.raises(OSError, match="disk gone"):
            store.set_status(run_id, "finished", step=5)

    # The process dies while the bytes are being written (between write and rename).
    with monkeypatch.context() as m:
        m.setattr(os, "fsync", boom)
        with pytest.raises(OSError, match="disk gone"):
            store.save_metrics(run_id, _metrics(7.0))

    # torch.save dies half-way through the weights.
    def half_save(obj: object, f, *args: object, **kwargs: object) -> None:
        f.write(b"PK\x03\x04 half a zip")
        raise OSError("killed")

    with monkeypatch.context() as m:
        m.setattr(torch, "save", half_save)
        with pytest.raises(OSError, match="killed"):
            store.save_weights(run_id, {"w": torch.zeros(3)})

    assert store.load_metrics(run_id) == _metrics(1.0)
    assert torch.equal(load_state_dict(store, run_id)["w"], torch.ones(3))
    assert (store.get(run_id).status, store.get(run_id).step) == ("running", 2)
    assert sorted(p.name for p in folder.iterdir()) == before  # temp files were cleaned up

    # A temp file left by a kill -9 (no cleanup possible) is not a run and not part of the run.
    (folder / ".metrics.json.dead.tmp").write_text('{"step": [1')
    (store.root / ".creating-20260101-000000-x").mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning at all: debris is not damage
        assert _ids(store.list()) == [run_id]
    assert store.load_metrics(run_id) == _metrics(1.0)


def test_create_that_fails_half_way_leaves_nothing(store: RunStore, monkeypatch: pytest.MonkeyPatch) -> None:
    real = files.write_json

    def fails_on_status(path: Path, obj: object, **kwargs: object) -> None:
        if path.name == "status.json":
            raise OSError("disk full")
        real(path, obj, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(files, "write_json", fails_on_status)
    with pytest.raises(OSError, match="disk full"):
        store.create(MODEL, DATA, TRAIN)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no run folder with a config but no status
        assert store.list() == []
    assert list(store.root.iterdir()) == []


def test_unserialisable_metrics_leave_no_trace(store: RunStore) -> None:
    run_id = store.create(MODEL, DATA, TRAIN)
    store.save_metrics(run_id, _metrics(1.0))
    with pytest.raises(TypeError, match="object"):
        store.save_metrics(run_id, {"bad": object()})
    assert store.load_metrics(run_id) == _metrics(1.0)
    assert sorted(p.name for p in (store.root / run_id).iterdir()) == ["config.json", "metrics.json", "status.json"]


@pytest.mark.parametrize("bad_id", ["../x", "..", ".", "", "a/b", "a\\b", "/etc", "x y", ".creating-x"])
def test_ids_that_could_escape_the_root_are_refused(store: RunStore, tmp_path: Path, bad_id: str) -> None:
    store.create(MODEL, DATA, TRAIN)
    victim = tmp_path / "x"
    victim.mkdir()
    (victim / "config.json").write_text("{}")
    for call in (store.get, store.load_metrics, lambda r: load_model(store, r), store.metrics_csv):
        with pytest.raises(RunStoreError, match="invalid run id"):
            call(bad_id)
    with pytest.raises(RunStoreError, match="invalid run id"):
        store.save_metrics(bad_id, {})
    with pytest.raises(RunStoreError, match="invalid run id"):
        store.set_status(bad_id, "finished")
    assert (victim / "config.json").exists()
    assert store.root.exists() and len(store.list()) == 1


def test_unknown_id_and_bad_status(store: RunStore) -> None:
    with pytest.raises(RunStoreError, match="no run"):
        store.get("20260101-000000-nope")
    with pytest.raises(RunStoreError, match="no run"):
        store.save_metrics("20260101-000000-nope", {})
    run_id = store.create(MODEL, DATA, TRAIN)
    with pytest.raises(ValueError, match="status must be one of"):
        store.set_status(run_id, "done")


def test_metrics_csv(store: RunStore) -> None:
    run_id = store.create(MODEL, DATA, TRAIN)
    store.save_metrics(
        run_id,
        {
            "name": "residual-8",
            "step": [1, 2, 3],
            "loss": [2.5, None, 1.25],
            "acc": [0.125, 0.25, 0.5],
            "lr": [0.1, 0.1, 0.05],
            "grad_norm": [[1.0, 2.0]],
            "eval": [
                {"step": 2, "epoch": 0.5, "test_loss": 1.5, "test_acc": 0.375},
                {"step": 5, "epoch": 1.0, "test_loss": 1.0, "test_acc": 0.625},
            ],
        },
    )
    expected = (
        "step,loss,acc,lr,test_loss,test_acc\n"
        "1,2.5,0.125,0.1,,\n"
        "2,,0.25,0.1,1.5,0.375\n"
        "3,1.25,0.5,0.05,,\n"
        "5,,,,1.0,0.625\n"
    )
    assert store.metrics_csv(run_id) == expected


def test_metrics_csv_tolerates_missing_keys(store: RunStore) -> None:
    run_id = store.create(MODEL, DATA, TRAIN)
    assert store.metrics_csv(run_id) == "step,loss,acc,lr,test_loss,test_acc\n"
    store.save_metrics(run_id, {"step": [10, 20], "loss": [0.5]})
    assert store.metrics_csv(run_id) == "step,loss,acc,lr,test_loss,test_acc\n10,0.5,,,,\n20,,,,,\n"


def test_env_var_and_default_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESNET_VIZ_RUNS", str(tmp_path / "from-env"))
    store = RunStore()
    assert store.root == tmp_path / "from-env"
    run_id = store.create(MODEL, DATA, TRAIN)
    assert (tmp_path / "from-env" / run_id / "config.json").is_file()

    assert RunStore(tmp_path / "explicit").root == tmp_path / "explicit"  # an explicit root wins

    monkeypatch.delenv("RESNET_VIZ_RUNS")
    monkeypatch.chdir(tmp_path)
    assert RunStore().root == tmp_path / "runs"


def test_running_run_of_a_dead_process_reads_as_interrupted(store: RunStore) -> None:
    run_id = store.create(MODEL, DATA, TRAIN)
    assert store.get(run_id).status == "running"  # this process is alive

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    store.set_status(run_id, "running", step=3, pid=dead.pid)
    assert store.get(run_id).status == "interrupted"
    assert json.loads((store.root / run_id / "status.json").read_text())["status"] == "running"  # as written

    # Same pid as ours but written by an earlier server process (containers reuse small pids).
    path = store.root / run_id / "status.json"
    status = json.loads(path.read_text()) | {"pid": os.getpid(), "process": "an-earlier-server"}
    path.write_text(json.dumps(status))
    assert store.get(run_id).status == "interrupted"

    store.set_status(run_id, "stopped", step=3, pid=dead.pid)
    assert store.get(run_id).status == "stopped"  # only "running" can be interrupted


def test_analyses_are_kept_beside_the_run_and_read_back(tmp_path) -> None:
    from resnet_viz.engine.config import DataConfig, ModelConfig, TrainConfig

    store = RunStore(tmp_path)
    rid = store.create(ModelConfig(depth=8), DataConfig(), TrainConfig())
    assert store.load_analysis(rid, "lesion") is None
    store.save_analysis(rid, "lesion", {"baseline_acc": 0.5, "blocks": []})
    assert store.load_analysis(rid, "lesion") == {"baseline_acc": 0.5, "blocks": []}
    (store.root / rid / "analysis" / "lesion.json").write_text("{not json")
    with pytest.raises(RunStoreError, match=r"analysis/lesion.json is not valid JSON"):
        store.load_analysis(rid, "lesion")  # damaged: the caller says so and recomputes
    (store.root / rid / "analysis" / "lesion.json").write_text("[1, 2]")
    with pytest.raises(RunStoreError, match=r"analysis/lesion.json does not hold a JSON object"):
        store.load_analysis(rid, "lesion")
    with pytest.raises(RunStoreError):
        store.save_analysis(rid, "../escape", {})


# ---------------------------------------------------------------------------------------------
# Damage that used to escape as ValueError/TypeError/KeyError (issue 12 §4): each is a skipped
# run with a warning naming its folder, and a RunStoreError from get/load_*.


def _edit(store: RunStore, run_id: str, name: str, change) -> None:
    path = store.root / run_id / name
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def _skipped(store: RunStore, run_id: str) -> str:
    """The reason list() gives for skipping `run_id`, checked against scan() and get()."""
    with pytest.warns(RunStoreWarning) as record:
        assert run_id not in _ids(store.list())
    [message] = [str(w.message) for w in record if run_id in str(w.message)]
    infos, damaged = store.scan()
    assert run_id not in _ids(infos)
    [d] = [d for d in damaged if d.folder == run_id]
    assert d.reason in message and str(store.root) not in d.reason
    with pytest.raises(RunStoreError, match="is damaged"):
        store.get(run_id)
    return d.reason


@pytest.mark.parametrize(
    ("section", "key", "value", "reason"),
    [
        ("model", "alpha", "x", "alpha must be a number; got 'x'"),  # was float()'s ValueError
        ("model", "alpha", "1.5", "alpha must be a number"),  # passed, then met a tensor
        ("model", "depth", 20.0, "depth must be a whole number"),
        ("model", "residual", "yes", "residual must be true or false"),
        ("model", "activation", None, "activation must be one of"),
        ("model", "width", 10**30, "width must be a whole number"),
        ("data", "name", 3, "name must be text"),
        ("data", "image_size", [32], "image_size must be a whole number"),
        ("train", "lr", float("nan"), "lr must be a finite number"),  # json.loads reads NaN
        ("train", "seed", True, "seed must be a whole number"),
    ],
)
def test_config_values_of_the_wrong_type_are_damage(store: RunStore, section, key, value, reason) -> None:
    run_id = store.create(MODEL, DATA, TRAIN)
    _edit(store, run_id, "config.json", lambda c: c[section].__setitem__(key, value))
    assert reason in _skipped(store, run_id)


def test_config_sections_that_are_not_objects_are_damage(store: RunStore) -> None:
    from resnet_viz.engine.config import ConfigError, from_dict

    run_id = store.create(MODEL, DATA, TRAIN)
    _edit(store, run_id, "config.json", lambda c: c.__setitem__("model", [1, 2]))
    assert "has no 'model' section" in _skipped(store, run_id)
    with pytest.raises(ConfigError, match="must be a JSON object"):
        from_dict(ModelConfig, [1, 2])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda s: s.__setitem__("summary", "x"), "summary that is not a JSON object"),  # the run table read .get
        (lambda s: s.__setitem__("summary", {"train_acc": [1]}), "summary 'train_acc'"),
        (lambda s: s.__setitem__("summary", {"test_acc": 10**400}), "summary 'test_acc'"),  # float() overflows
        (lambda s: s.__setitem__("status", "banana"), "no known status"),
        (lambda s: s.__setitem__("step", "abc"), "step that is not a whole number"),
        (lambda s: s.__setitem__("step", 2**70), "step that is not a whole number"),  # no int64 column holds it
        (lambda s: s.__setitem__("seconds", "soon"), "seconds that is not a number"),
        (lambda s: s.__setitem__("updated", 5), "updated that is not text"),
        (lambda s: s.__setitem__("pid", 10**30), "pid that is not a process id"),  # os.kill overflowed
        (lambda s: s.__setitem__("pid", -1), "pid that is not a process id"),
    ],
)
def test_status_fields_are_checked(store: RunStore, change, reason) -> None:
    run_id = store.create(MODEL, DATA, TRAIN)
    store.set_status(run_id, "finished", step=5, summary={"train_acc": 0.5, "test_acc": None, "model": "residual-8"})
    assert store.get(run_id).extra["summary"]["train_acc"] == 0.5  # a good summary passes
    _edit(store, run_id, "status.json", change)
    assert reason in _skipped(store, run_id)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda m: m.pop("name"), "name must be the model's name"),  # was History's TypeError
        (lambda m: m.__setitem__("step", "abc"), "step must be a list"),
        (lambda m: m.__setitem__("step", ["abc", 2]), "step holds 'abc'"),  # was float("abc") in a chart
        (lambda m: m.__setitem__("loss", [1.0]), "loss has 1 entries for 2 steps"),
        (lambda m: m.__setitem__("acc", [0.5, 7]), "acc holds 7, outside [0, 1]"),
        (lambda m: m.__setitem__("grad_norm", [[1.0]]), "grad_norm has 1 rows for 0 probes"),
        (lambda m: m.__setitem__("eval", [{"epoch": 1}]), "not an evaluation with its step"),
        (lambda m: m.__setitem__("status", 3), "status must be one of"),
        (lambda m: m.__setitem__("final", {"test_acc": "high"}), "final test_acc holds 'high'"),
    ],
)
def test_metrics_are_checked_against_the_history_schema(store: RunStore, change, reason) -> None:
    run_id = store.create(MODEL, DATA, TRAIN)
    store.save_metrics(run_id, _metrics(1.0))
    assert store.load_history(run_id).loss == [1.0, 0.5]  # a good file passes
    _edit(store, run_id, "metrics.json", change)
    assert reason in _skipped(store, run_id)
    with pytest.raises(RunStoreError, match="metrics.json does not hold a model's metrics"):
        store.load_history(run_id)


def test_history_round_trips_and_reads_null_as_nan(store: RunStore) -> None:
    from resnet_viz.engine.history import History

    h = History(
        "residual-8",
        layer_names=["a", "b"],
        block_names=["x"],
        residual_block_names=["x"],
        step=[1, 2],
        loss=[2.0, float("nan")],
        acc=[0.1, 0.2],
        lr=[0.1, 0.1],
        probe_step=[1],
        grad_norm=[[1.0, 2.0]],
        grad_rms=[[0.1, 0.2]],
        grad_rel=[[0.0, 0.5]],
        act_std=[[1.0]],
        identity_grad=[[0.3]],
        branch_grad=[[0.4]],
        grad_x_rms=[[0.01]],
        status="diverged",
        diverged_at=2,
        elapsed=1.5,
        seconds=0.5,
        final={"test_acc": 0.2},
        eval=[{"step": 2, "epoch": 0.5, "test_loss": 1.0, "test_acc": 0.3}],
    )
    run_id = store.create(MODEL, DATA, TRAIN)
    store.save_metrics(run_id, h.to_dict())  # NaN is stored as null
    back = store.load_history(run_id)
    assert back.loss[0] == 2.0 and math.isnan(back.loss[1])
    back.loss[1] = h.loss[1] = 0.0
    assert back == h
    assert store.load_history(store.create(MODEL, DATA, TRAIN)) is None  # no metrics yet: nothing, not damage


def test_model_too_large_to_build_is_refused_before_building(store: RunStore, monkeypatch) -> None:
    from resnet_viz.engine import checkpoints, models

    def never(cfg):
        raise AssertionError(f"build_model({cfg}) was called")

    monkeypatch.setattr(models, "build_model", never)
    monkeypatch.setattr(checkpoints, "build_model", never)
    wide = store.create(MODEL, DATA, TRAIN)
    deep = store.create(MODEL, DATA, TRAIN)
    _edit(store, wide, "config.json", lambda c: c["model"].__setitem__("width", 100_000))  # asked for 360 GB
    _edit(store, deep, "config.json", lambda c: c["model"].__setitem__("depth", 20_000))  # 11-14 s to build
    assert "too large to build" in _skipped(store, wide)
    assert "too large to build" in _skipped(store, deep)
    for run_id in (wide, deep):
        with pytest.raises(RunStoreError, match="too large to build"):
            load_model(store, run_id)


def test_weights_refused_by_weights_only_give_one_short_sentence(store: RunStore) -> None:
    run_id = store.create(MODEL, DATA, TRAIN)
    torch.save({"w": torch.ones(1), "evil": _Evil()}, store.root / run_id / "weights.pt")
    with pytest.raises(RunStoreError) as err:
        load_model(store, run_id)
    message = str(err.value)
    assert "holds Python objects besides tensors" in message
    assert str(store.root) not in message and len(message) < 300  # torch's own text is a page of advice


def test_messages_name_the_run_and_file_never_the_server_path(store: RunStore, monkeypatch) -> None:
    run_id = store.create(MODEL, DATA, TRAIN)
    with pytest.raises(RunStoreError) as err:
        store.get("20260101-000000-nope")
    assert "no run '20260101-000000-nope'" in str(err.value) and str(store.root) not in str(err.value)

    real = Path.read_bytes

    def unreadable(self: Path) -> bytes:
        if self.name == "status.json":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", unreadable)
    reason = _skipped(store, run_id)
    assert reason == "status.json cannot be read (Permission denied)"


def test_a_read_only_store_refuses_analyses_with_a_sentence(store: RunStore, monkeypatch) -> None:
    run_id = store.create(MODEL, DATA, TRAIN)

    def read_only(path: Path, write) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(files, "atomic_write", read_only)
    with pytest.raises(RunStoreError) as err:
        store.save_analysis(run_id, "lesion-d10-s0", {"baseline_acc": 0.5})
    assert f"run {run_id!r}: analysis/lesion-d10-s0.json cannot be saved (Permission denied)" in str(err.value)
    assert str(store.root) not in str(err.value)


def test_an_unreadable_root_is_reported_not_raised(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    root.write_text("a file where the folder should be")
    store = RunStore(root)
    assert store.scan() == ([], [runs.Damaged("", "its folder cannot be read (Not a directory)")])
    with pytest.warns(RunStoreWarning, match="cannot be read"):
        assert store.list() == []


def test_json_that_python_cannot_parse_is_damage(store: RunStore) -> None:
    huge = store.create(MODEL, DATA, TRAIN)
    (store.root / huge / "metrics.json").write_text('{"name": "x", "step": [' + "9" * 5000 + "]}")  # int limit
    deep = store.create(MODEL, DATA, TRAIN)
    (store.root / deep / "status.json").write_text("[" * 100_000 + "]" * 100_000)  # RecursionError
    assert "metrics.json is not valid JSON" in _skipped(store, huge)
    assert "status.json is not valid JSON" in _skipped(store, deep)


def test_damage_report_names_folders_only(store: RunStore) -> None:
    assert runs.damage_report([]) is None
    text = runs.damage_report(
        [
            runs.Damaged("20260101-000000-a", "config.json is missing"),
            runs.Damaged("", "its folder cannot be read (Permission denied)"),
        ]
    )
    assert text == (
        "Skipped 2 damaged run folders in the run store:\n"
        "- `20260101-000000-a`: config.json is missing\n"
        "- the run store: its folder cannot be read (Permission denied)"
    )


def test_metrics_csv_of_a_damaged_file_does_not_raise(store: RunStore) -> None:
    run_id = store.create(MODEL, DATA, TRAIN)
    store.save_metrics(
        run_id, {"step": [[1], {"a": 1}, 3], "loss": [1, 2, 3], "eval": [{"step": [5]}, {"step": 3, "test_acc": 0.5}]}
    )
    assert store.metrics_csv(run_id) == "step,loss,acc,lr,test_loss,test_acc\n,1,,,,\n,2,,,,\n3,3,,,,0.5\n"
