"""The reference atlas (resnet_viz.teaching.atlas, `resnet-viz atlas`): built with the app's own
sweep code into a run store, read by configuration, its manifest validated where it enters."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from resnet_viz.cli import main
from resnet_viz.cli.parser import ATLAS_DATASETS
from resnet_viz.degradation.sweep import collect
from resnet_viz.engine.runs import RunStore
from resnet_viz.teaching import atlas, settings


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An atlas of the real sweeps' settings at depth 8 only, one seed: four runs, ~10 s."""
    root = tmp_path_factory.mktemp("atlas")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(atlas, "DEPTHS", {"digits": (8,), "shapes": (8,)})
        mp.setattr(atlas, "SEEDS", (0,))
        atlas.build(root)
    return root


def test_the_cli_lists_the_atlas_datasets() -> None:
    assert ATLAS_DATASETS == atlas.DATASETS


def test_a_build_writes_a_run_store_without_weights_and_a_manifest(tiny: Path) -> None:
    m = atlas.read_manifest(tiny)
    assert m is not None
    assert (m.command, m.cells, m.runs, m.seeds) == ("resnet-viz atlas", {"digits": 2, "shapes": 2}, 4, (0,))
    assert m.size_bytes == atlas.size_bytes(tiny)
    assert not list(tiny.rglob("weights.pt")) and not list(tiny.rglob("snapshots"))
    infos = RunStore(tiny).list()
    assert sorted(i.model.name for i in infos) == ["plain-8", "plain-8", "residual-8", "residual-8"]
    assert {i.data.name for i in infos} == {"digits", "shapes"}


def test_a_second_build_resumes_and_trains_nothing(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(atlas, "DEPTHS", {"digits": (8,), "shapes": (8,)})
    monkeypatch.setattr(atlas, "SEEDS", (0,))
    before = sorted(p.name for p in tiny.iterdir())
    jobs: list[object] = []
    atlas.build(tiny, on_job=lambda *a: jobs.append(a))
    assert jobs == []
    assert sorted(p.name for p in tiny.iterdir()) == before


def test_the_explorers_default_sweep_finds_its_cells_in_the_atlas(tiny: Path) -> None:
    # The learner's sweep at the page's defaults, narrowed to the tiny atlas's depth: every cell is
    # found by configuration, as the learner's own would be, and marked as the reference.
    for name in atlas.DATASETS:
        learner = dataclasses.replace(settings.sweep_defaults(name).sweep_config(), depths=(8,))
        cells = atlas.reference_cells(learner, have=[], root=tiny)
        assert [(c.depth, c.kind, c.seed, c.reference) for c in cells] == [
            (8, "plain", 0, True),
            (8, "residual", 0, True),
        ]
        own = atlas.reference_cells(learner, have=[(8, "plain", 0)], root=tiny)
        assert [(c.kind, c.reference) for c in own] == [("residual", True)]  # the learner's own replaces it
        other = dataclasses.replace(learner, train=dataclasses.replace(learner.train, lr=0.01234))
        assert atlas.reference_cells(other, have=[], root=tiny) == []  # other settings: not the reference's


def test_no_atlas_means_no_reference(tmp_path: Path) -> None:
    sweep = settings.sweep_defaults("digits").sweep_config()
    assert atlas.read_manifest(tmp_path) is None
    assert atlas.reference_cells(sweep, have=[], root=tmp_path) == []


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("{not json", "cannot be read"),
        ("[1, 2]", "lacks"),
        (json.dumps({"command": "x"}), "lacks"),
    ],
)
def test_a_damaged_manifest_is_named(tmp_path: Path, text: str, says: str) -> None:
    (tmp_path / atlas.MANIFEST_FILE).write_text(text)
    with pytest.raises(atlas.AtlasError, match=says):
        atlas.read_manifest(tmp_path)


def test_a_manifest_field_of_the_wrong_kind_is_named(tiny: Path, tmp_path: Path) -> None:
    raw = json.loads((tiny / atlas.MANIFEST_FILE).read_text())
    for field, bad, says in (
        ("runs", "many", "wrong kind"),
        ("seconds", float("nan"), "non-finite"),
        ("cells", 3, "wrong kind"),
    ):
        (tmp_path / atlas.MANIFEST_FILE).write_text(json.dumps({**raw, field: bad}))
        with pytest.raises(atlas.AtlasError, match=says):
            atlas.read_manifest(tmp_path)


def test_the_settings_hash_follows_the_explorers_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    # The stale check can fail: a change to the page's default settings changes the hash.
    before = atlas.settings_hash()
    assert atlas.settings_hash() == before
    changed = settings.SweepSettings(amount=settings.SweepSettings().amount + 1)
    monkeypatch.setattr(settings, "SweepSettings", lambda: changed)
    assert atlas.settings_hash() != before


def test_check_says_up_to_date_stale_or_missing(tiny: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    assert main(["atlas", "--check", "--out", str(tmp_path)]) == 1
    assert "resnet-viz atlas" in capsys.readouterr().err
    monkeypatch.setattr(atlas, "DEPTHS", {"digits": (8,), "shapes": (8,)})
    monkeypatch.setattr(atlas, "SEEDS", (0,))
    assert main(["atlas", "--check", "--out", str(tiny)]) == 0
    assert "atlas up to date: 4 runs" in capsys.readouterr().out
    monkeypatch.setattr(atlas, "DEPTHS", {"digits": (8, 14), "shapes": (8,)})  # a depth more: cells missing
    assert main(["atlas", "--check", "--out", str(tiny)]) == 1
    assert "out of date" in capsys.readouterr().err


def test_an_unknown_dataset_is_refused_in_one_line(tmp_path: Path, capsys) -> None:
    assert main(["atlas", "--out", str(tmp_path), "--datasets", "cifar10"]) == 2
    assert "invalid choice" in capsys.readouterr().err
    with pytest.raises(atlas.AtlasError, match="not cifar10"):
        atlas.build(tmp_path, datasets=["cifar10"])


def test_the_reference_cells_read_back_what_was_trained(tiny: Path) -> None:
    # collect() on the atlas's store is the sweep code's own reading: the histories it returns are
    # the ones the build trained (final numbers present, no NaN).
    for name, sweep in atlas.sweeps().items():
        cells = collect(dataclasses.replace(sweep, depths=(8,), seeds=(0,)), RunStore(tiny))
        assert len(cells) == 2, name
        for c in cells:
            assert c.history.step[-1] == sweep.train.steps


# The shipped atlas (resnet_viz/teaching/atlas): up to date with the code, and reproducible.

REBUILD = f"run `{atlas.COMMAND}` to rebuild it"
TOLERANCE = 0.02  # absolute, on losses (nats) and accuracies (fractions): bit-identical on this CPU; room for another CPU's rounding


def _shipped() -> atlas.Manifest:
    m = atlas.read_manifest(atlas.ATLAS_DIR)
    assert m is not None, f"no atlas is shipped in {atlas.ATLAS_DIR}: {REBUILD}"
    return m


def test_the_shipped_atlas_matches_the_codes_settings() -> None:
    m = _shipped()
    assert not m.stale, (
        f"the shipped atlas is stale (settings {m.settings_hash}, code {atlas.settings_hash()}): {REBUILD}"
    )
    assert m.cells == {k: len(v.cells()) for k, v in atlas.sweeps().items()}, f"cells missing: {REBUILD}"
    assert m.size_bytes == atlas.size_bytes(atlas.ATLAS_DIR) < 15_000_000
    assert not list(atlas.ATLAS_DIR.rglob("weights.pt"))


def test_one_atlas_cell_rebuilt_equals_the_shipped_one() -> None:
    # digits, plain-8, seed 0: trained alone here, beside 13 other models in the atlas's build;
    # the sweep code promises the same run either way (one job's models share only the batches).
    from resnet_viz.degradation.sweep import run_sweep

    _shipped()
    cell = dataclasses.replace(atlas.sweeps()["digits"], depths=(8,), seeds=(0,), kinds=("plain",))
    (shipped,) = collect(cell, RunStore(atlas.ATLAS_DIR))
    (rebuilt,) = run_sweep(cell, None)
    a, b = rebuilt.summary(), shipped.summary()
    for key in ("train_loss", "train_acc", "test_loss", "test_acc"):
        assert a[key] == pytest.approx(b[key], abs=TOLERANCE), key
    assert rebuilt.history.loss == pytest.approx(shipped.history.loss, abs=TOLERANCE)
    assert (a["steps"], a["status"]) == (b["steps"], b["status"])


def test_a_changed_default_makes_the_shipped_atlas_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    m = _shipped()
    changed = settings.SweepSettings(lr=settings.SweepSettings().lr * 2)
    monkeypatch.setattr(settings, "SweepSettings", lambda: changed)
    assert m.stale
