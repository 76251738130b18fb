"""The command line: same path as the app, one-line errors, machine-readable output."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from resnet_viz.cli import format_table, main
from resnet_viz.runs import RunStore


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["train", "--depth", "21"], "6n+2"),
        (["train", "--models", "plain,resnet"], "models must be"),
        (["train", "--steps", "0"], "steps must be positive"),
        (["train", "--lr", "abc"], "invalid float value"),
        (["train", "--dataset", "imagenet"], "digits"),
        (["train", "--device", "cuda"], "cuda"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_arguments_give_one_line_and_nonzero_exit(argv, fragment, capsys, tmp_path) -> None:
    code = main([*argv, "--runs-dir", str(tmp_path)] if argv[0] == "train" else argv)
    err = capsys.readouterr().err
    assert code != 0
    assert fragment in err
    assert err.count("\n") == 1 and err.startswith("resnet-viz: error:")
    assert "Traceback" not in err
    assert not any(tmp_path.iterdir())  # nothing written for a refused command


def test_train_json_in_a_subprocess(tmp_path) -> None:
    env = {**os.environ, "RESNET_VIZ_RUNS": str(tmp_path / "store")}
    cmd = [sys.executable, "-m", "resnet_viz.cli", "train", "--depth", "8", "--width", "4", "--steps", "5",
           "--seed", "1", "--json"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [r["model"] for r in rows] == ["plain", "residual"]
    store = RunStore(tmp_path / "store")
    stored = {i.run_id: i for i in store.list()}
    for r in rows:
        assert r["depth"] == 8 and r["steps"] == 5 and r["status"] == "finished"
        assert 0.0 <= r["train_acc"] <= 1.0 and 0.0 <= r["test_acc"] <= 1.0
        assert r["params"] == rows[0]["params"]  # option A twins
        assert r["seconds"] > 0 and r["run_id"] in stored
        assert stored[r["run_id"]].train.seed == 1


def test_train_table_and_progress(capsys, tmp_path) -> None:
    code = main(["train", "--depth", "8", "--width", "4", "--steps", "3", "--models", "residual",
                 "--runs-dir", str(tmp_path), "--probe-every", "0"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0
    assert "3/3" in err  # progress bar reached the end
    assert out.splitlines()[0].split()[:3] == ["model", "params", "status"]
    assert "residual-8" in out and f"runs written to {tmp_path}" in out
    assert len(RunStore(tmp_path).list()) == 1


def test_no_save_writes_nothing(capsys, tmp_path) -> None:
    assert main(["train", "--depth", "8", "--width", "4", "--steps", "2", "--no-save", "--json",
                 "--runs-dir", str(tmp_path)]) == 0  # fmt: skip
    rows = json.loads(capsys.readouterr().out)
    assert all(r["run_id"] is None for r in rows)
    assert not any(tmp_path.iterdir())


def test_format_table_formats_fractions_as_percent() -> None:
    table = format_table([{"name": "plain-20", "params": 10, "status": "finished", "steps": 5, "train_loss": 0.5,
                           "train_acc": 0.995, "test_acc": float("nan"), "seconds": 1.25, "run_id": "x"}])  # fmt: skip
    row = table.splitlines()[1].split()
    assert row == ["plain-20", "10", "finished", "5", "0.500", "99.5%", "-", "1.2", "x"]
