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
from resnet_viz.teaching import atlas, settings

# The pair at depth 8, width 4, 10 steps: the real recipe's code path in seconds.
TINY_PAIR = dataclasses.replace(atlas.PAIR, depth=8, width=4, steps=10)
TINY_LIVE = dataclasses.replace(atlas.LIVE, depth=8, width=4, steps=10)
# Home's demo at depth 8, one seed, 10 steps.
TINY_DEMO = dataclasses.replace(
    atlas.DEMO_SWEEP, depths=(8,), seeds=(0,), train=dataclasses.replace(atlas.DEMO_SWEEP.train, steps=10)
)


def _tiny_settings(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(atlas, "DEPTHS", {"digits": (8,), "shapes": (8,)})
    mp.setattr(atlas, "SEEDS", (0,))
    mp.setattr(atlas, "PAIR", TINY_PAIR)
    mp.setattr(atlas, "DEMO_SWEEP", TINY_DEMO)
    mp.setattr(atlas, "LIVE", TINY_LIVE)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An atlas of the real sweeps' settings at depth 8 only, one seed (four runs), and a tiny pair: ~20 s."""
    root = tmp_path_factory.mktemp("atlas")
    with pytest.MonkeyPatch.context() as mp:
        _tiny_settings(mp)
        atlas.build(root)
    return root


def test_the_cli_lists_the_atlas_datasets() -> None:
    assert ATLAS_DATASETS == atlas.DATASETS


def test_a_build_writes_a_run_store_without_weights_and_a_manifest(tiny: Path) -> None:
    m = atlas.read_manifest(tiny)
    assert m is not None
    assert (m.command, m.runs, m.seeds) == ("resnet-viz atlas", 10, (0,))
    assert m.live == ("plain-8", "residual-8")
    live = atlas.live_store(tiny).list()
    assert len(live) == 2 and all(i.status == "finished" and not i.has_weights for i in live)
    assert all(atlas.live_store(tiny).load_history(i.run_id).step[-1] == 10 for i in live)
    assert m.cells == {"digits": 2, "shapes": 2, "demo": 2}
    assert m.pair == ("plain-8", "residual-8")
    assert m.size_bytes == atlas.size_bytes(tiny)
    sweep = tiny / atlas.SWEEP_DIR
    assert not list(sweep.rglob("weights.pt")) and not list(sweep.rglob("snapshots"))
    infos = atlas.sweep_store(tiny).list()
    assert sorted(i.model.name for i in infos) == ["plain-8"] * 3 + ["residual-8"] * 3
    assert {i.data.name for i in infos} == {"digits", "shapes"}


def test_the_pair_keeps_half_precision_weights_and_the_analysis_pages_defaults(tiny: Path) -> None:
    import torch

    from resnet_viz.analysis import saved
    from resnet_viz.engine.checkpoints import load_model, load_state_dict

    store = atlas.pair_store(tiny)
    infos = store.list()
    assert sorted(i.model.name for i in infos) == ["plain-8", "residual-8"]
    for info in infos:
        assert info.status == "finished" and info.train == TINY_PAIR.train_config()
        assert len(store.snapshot_steps(info.run_id)) == 5  # init, three between, end: the saliency page's slider
        state = load_state_dict(store, info.run_id)
        floats = [v for v in state.values() if v.is_floating_point()]
        assert floats and all(v.dtype == torch.float16 for v in floats)
        model = load_model(store, info.run_id)  # cast back to the model's float32 on loading
        assert next(model.parameters()).dtype == torch.float32
        for kind, name in atlas.pair_analyses().items():
            assert saved.load_saved(store, info.run_id, name, kind) is not None, (kind, name)
        # the landscape's centre is the loss of the halved weights the pages load, measured again here
        slice_ = saved.load_saved(store, info.run_id, atlas.pair_analyses()["landscape"], "landscape")
        again = saved.run_landscape(store, info.run_id, grid=3, span=0.1, keep=False)
        assert again.loss[1][1] == pytest.approx(slice_.loss[5][5], rel=1e-4)


def test_an_unkept_analysis_writes_nothing(tiny: Path) -> None:
    from resnet_viz.analysis import saved

    store = atlas.pair_store(tiny)
    info = store.list()[0]
    before = sorted(p.name for p in (info.path / "analysis").iterdir())
    saved.run_lesion(store, info.run_id, draws=1, keep=False)
    saved.run_near_identity(store, info.run_id, images=10, keep=False)
    assert sorted(p.name for p in (info.path / "analysis").iterdir()) == before
    saved.run_near_identity(store, info.run_id, images=10)  # kept: the control that this test can fail
    assert "near-identity-n10.json" in {p.name for p in (info.path / "analysis").iterdir()}
    (info.path / "analysis" / "near-identity-n10.json").unlink()


def test_a_second_build_resumes_and_trains_nothing(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tiny_settings(monkeypatch)
    before = sorted(str(p.relative_to(tiny)) for p in tiny.rglob("*") if p.name != atlas.MANIFEST_FILE)
    jobs: list[object] = []
    atlas.build(tiny, on_job=lambda *a: jobs.append(a))
    assert jobs == []
    assert sorted(str(p.relative_to(tiny)) for p in tiny.rglob("*") if p.name != atlas.MANIFEST_FILE) == before


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
        ("pair", 7, "wrong kind"),
        ("live", 7, "wrong kind"),
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
    _tiny_settings(monkeypatch)
    assert main(["atlas", "--check", "--out", str(tiny)]) == 0
    assert "atlas up to date: 10 runs" in capsys.readouterr().out
    raw = json.loads((tiny / atlas.MANIFEST_FILE).read_text())
    (tmp_path / atlas.MANIFEST_FILE).write_text(json.dumps({**raw, "pair": []}))  # built with --no-pair
    assert main(["atlas", "--check", "--out", str(tmp_path)]) == 1
    assert "the pair plain-8 + residual-8 is missing" in capsys.readouterr().err
    (tmp_path / atlas.MANIFEST_FILE).write_text(json.dumps({**raw, "live": []}))  # built with --no-live
    assert main(["atlas", "--check", "--out", str(tmp_path)]) == 1
    assert "Train & compare's twins plain-8 + residual-8 are missing" in capsys.readouterr().err
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
        cells = collect(dataclasses.replace(sweep, depths=(8,), seeds=(0,)), atlas.sweep_store(tiny))
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
    assert m.cells == {k: len(v.cells()) for k, v in atlas.parts().items()}, f"cells missing: {REBUILD}"
    assert m.pair == tuple(sorted(c.name for c in atlas.PAIR.model_configs())), f"pair missing: {REBUILD}"
    assert m.live == tuple(sorted(c.name for c in atlas.LIVE.model_configs())), f"twins missing: {REBUILD}"
    assert m.size_bytes == atlas.size_bytes(atlas.ATLAS_DIR) < 15_000_000
    assert not list((atlas.ATLAS_DIR / atlas.SWEEP_DIR).rglob("weights.pt"))
    store = atlas.pair_store(atlas.ATLAS_DIR)
    for info in store.list():
        for kind, name in atlas.pair_analyses().items():
            assert (info.path / "analysis" / f"{name}.json").is_file(), f"{info.label} lacks {kind}: {REBUILD}"


def test_one_atlas_cell_rebuilt_equals_the_shipped_one() -> None:
    # digits, plain-8, seed 0: trained alone here, beside 13 other models in the atlas's build;
    # the sweep code promises the same run either way (one job's models share only the batches).
    from resnet_viz.degradation.sweep import run_sweep

    _shipped()
    cell = dataclasses.replace(atlas.sweeps()["digits"], depths=(8,), seeds=(0,), kinds=("plain",))
    (shipped,) = collect(cell, atlas.sweep_store(atlas.ATLAS_DIR))
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
