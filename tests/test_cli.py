"""The command line: same path as the app, one-line errors, machine-readable output."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from resnet_viz.cli import format_table, main
from resnet_viz.engine.runs import RunStore


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["train", "--depth", "21"], "6n+2"),
        (["train", "--models", "plain,resnet"], "models must be"),
        (["train", "--steps", "0"], "steps must be positive"),
        (["train", "--lr", "abc"], "invalid float value"),
        (["train", "--dataset", "imagenet"], "digits"),
        pytest.param(
            ["train", "--device", "cuda"],
            "cuda",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="asks for CUDA where there is none"),
        ),
        (["frobnicate"], "invalid choice"),
        # issue 12 §6: each used to be a traceback's last line, a wrong sentence, or accepted
        (["train", "--epochs", "inf"], "epochs must be a finite number; got inf"),
        (["train", "--seed", "100000000000000000000"], "seed must be a whole number from 0 to 4,294,967,295"),
        (["train", "--image-size", "100000"], "image_size must be at most 1,024; got 100,000"),
        (["train", "--lr", "inf"], "lr must be a finite number; got inf"),
        (["train", "--weight-decay", "nan"], "weight_decay must be a finite number; got nan"),
        (["train", "--momentum", "nan"], "momentum must be a finite number"),
        (["train", "--alpha", "nan"], "alpha must be a finite number"),
        (["train", "--steps", "100000000000"], "steps must be at most 10,000,000"),
        (["landscape", "--run", "x", "--span", "1e30"], "span must be a number above 0 and at most 100"),
        (["landscape", "--run", "x", "--span", "nan"], "span must be a number above 0"),
        (["landscape", "--run", "x", "--seed", "-1"], "seed must be a whole number from 0"),
        (["lesion", "--run", "x", "--seed", "99999999999999999999"], "seed must be a whole number from 0"),
        (["probe", "--seed", "18446744073709551616"], "seed must be a whole number from 0"),
    ],
)
def test_bad_arguments_give_one_line_and_nonzero_exit(argv, fragment, capsys, tmp_path) -> None:
    code = main([*argv, "--runs-dir", str(tmp_path)] if argv[0] in ("train", "landscape", "lesion") else argv)
    err = capsys.readouterr().err
    assert code == 2
    assert fragment in err
    assert err.count("\n") == 1 and err.startswith("resnet-viz: error:")
    assert "Traceback" not in err
    assert not any(tmp_path.iterdir())  # nothing written for a refused command


def test_train_json_in_a_subprocess(tmp_path) -> None:
    env = {**os.environ, "RESNET_VIZ_RUNS": str(tmp_path / "store")}
    cmd = [
        sys.executable,
        "-m",
        "resnet_viz.cli",
        "train",
        "--depth",
        "8",
        "--width",
        "4",
        "--steps",
        "5",
        "--seed",
        "1",
        "--json",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=False)
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
    code = main(
        [
            "train",
            "--depth",
            "8",
            "--width",
            "4",
            "--steps",
            "3",
            "--models",
            "residual",
            "--runs-dir",
            str(tmp_path),
            "--probe-every",
            "0",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0
    assert "3/3" in err  # progress bar reached the end
    assert out.splitlines()[0].split()[:3] == ["model", "params", "status"]
    assert "residual-8" in out and f"runs written to {tmp_path}" in out
    assert len(RunStore(tmp_path).list()) == 1


def test_no_save_writes_nothing(capsys, tmp_path) -> None:
    assert (
        main(
            [
                "train",
                "--depth",
                "8",
                "--width",
                "4",
                "--steps",
                "2",
                "--no-save",
                "--json",
                "--runs-dir",
                str(tmp_path),
            ]
        )
        == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert all(r["run_id"] is None for r in rows)
    assert not any(tmp_path.iterdir())


def test_format_table_formats_fractions_as_percent() -> None:
    table = format_table(
        [
            {
                "name": "plain-20",
                "params": 10,
                "status": "finished",
                "steps": 5,
                "train_loss": 0.5,
                "train_acc": 0.995,
                "test_acc": float("nan"),
                "seconds": 1.25,
                "run_id": "x",
            }
        ]
    )
    row = table.splitlines()[1].split()
    assert row == ["plain-20", "10", "finished", "5", "0.500", "99.5%", "-", "1.2", "x"]


def test_format_table_shows_a_diverging_loss_in_a_few_digits() -> None:
    table = format_table(
        [
            {
                "name": "plain-8",
                "params": 10,
                "status": "diverged",
                "steps": 3,
                "train_loss": 1.7672554904965896e29,
                "seconds": 0.1,
            }
        ]
    )
    assert table.splitlines()[1].split()[2:5] == ["diverged", "3", "1.77e+29"]  # not 30 digits and ".000"


def test_a_run_whose_loss_becomes_nan_is_printed_as_diverged(capsys, tmp_path) -> None:
    # lr 1e9: the first update already makes the weights NaN; it used to print "finished" with
    # train loss "-" and no divergence line (train.py now ends such a run as diverged).
    argv = ["train", "--lr", "1e9", "--steps", "1", "--depth", "8", "--width", "4", "--no-save"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines()[1:3]]
    assert [r[:3] for r in rows] == [["plain-8", "4934", "diverged"], ["residual-8", "4934", "diverged"]]
    assert "plain-8 diverged" in out and "residual-8 diverged" in out and "finished" not in out
    assert main([*argv, "--json"]) == 0
    assert {r["status"] for r in json.loads(capsys.readouterr().out)} == {"diverged"}


def test_diverged_line_says_what_the_history_says() -> None:
    from resnet_viz.cli.output import diverged_line as _diverged_line

    assert _diverged_line({"diverged_at": 4}, "plain-8") == "plain-8 diverged (loss became NaN/inf) at step 4"
    assert _diverged_line({"diverged_at": None}, "plain-8") == (
        "plain-8 diverged: its final training loss is not finite (NaN/inf)"
    )  # never "at step None"


def _failing_run(exc: BaseException):
    """A run_twins that draws one progress-bar update, then fails with `exc`."""
    from resnet_viz.engine.history import Update

    def run(*args, on_update=None, **kwargs):
        on_update(Update("plain-8", "steps", {"step": [1], "loss": [2.3], "acc": [0.1], "lr": [0.1]}))
        raise exc

    return run


@pytest.mark.parametrize(
    ("exc", "code", "line"),
    [
        (
            RuntimeError(
                "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: you "
                "tried to allocate 57520000000000 bytes.\nError code 12"
            ),
            2,
            (
                "resnet-viz: error: not enough memory for these settings; lower --batch-size, --width, --depth or "
                "--image-size (or set --limit) (RuntimeError)"
            ),
        ),
        (MemoryError(), 2, "resnet-viz: error: not enough memory for these settings"),
        (ValueError("boom"), 1, "resnet-viz: error: ValueError: boom"),
    ],
)
def test_an_error_after_the_progress_bar_starts_on_its_own_line(monkeypatch, capsys, exc, code, line) -> None:
    import resnet_viz.engine.experiment

    monkeypatch.setattr(resnet_viz.engine.experiment, "run_twins", _failing_run(exc))
    assert main(["train", "--depth", "8", "--width", "4", "--steps", "3", "--no-save"]) == code
    err = capsys.readouterr().err
    bar, message = err.split("\n", 1)
    assert bar.startswith("\r[") and "1/3" in bar  # the bar's line, then the error on a line of its own
    assert message.startswith(line) and message.count("\n") == 1 and "Traceback" not in err


def test_the_cli_names_the_data_folder_the_web_does_not(monkeypatch, capsys) -> None:
    import resnet_viz.engine.data as D

    def unavailable(cfg):
        raise D.DatasetUnavailable(
            "CIFAR-10 is not on this server ($RESNET_VIZ_DATA)", with_paths="CIFAR-10 is not in /srv/data/cache"
        )

    monkeypatch.setattr(D, "load_dataset", unavailable)
    assert main(["train", "--dataset", "cifar10", "--no-save"]) == 1
    assert capsys.readouterr().err == "resnet-viz: error: CIFAR-10 is not in /srv/data/cache\n"


def test_an_epoch_budget_over_the_step_bound_is_refused_once_the_data_are_known(capsys, tmp_path) -> None:
    # TrainConfig accepts 99,999 epochs (it cannot know the dataset); at batch 1 the 1,438 training digits
    # make that 143,798,562 steps, which no run here should attempt.
    code = main(["train", "--epochs", "99999", "--batch-size", "1", "--no-save"])
    err = capsys.readouterr().err
    assert code == 2 and err == (
        "resnet-viz: error: 99999 epochs would take 143,798,562 optimiser steps, more than the "
        "10,000,000 allowed (that many take hours on a GPU, days on a CPU); lower the steps "
        "or epochs, or raise the batch size\n"
    )


SWEEP = ["sweep", "--depths", "8,14", "--width", "4", "--steps", "4", "--probe-every", "2"]


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["sweep", "--depths", "8,21"], "6n+2"),
        (["sweep", "--depths", "8,x"], "comma list of whole numbers"),
        (["sweep", "--seeds", ""], "at least one"),
        (["sweep", "--seeds", "0,-1"], "got -1"),
        (
            ["sweep", "--seeds", "-1"],
            (
                "seed must be a whole number from 0 to 4,294,967,295 (2**32 - 1, the range numpy "
                "and torch both accept); got -1"
            ),
        ),  # it said "got 1": the number of seeds
        (["sweep", "--seeds", ",".join(map(str, range(11)))], "use 1 to 10 seeds"),
        (["sweep", "--models", "dense"], "models must be"),
    ],
)
def test_bad_sweep_arguments_give_one_line(argv, fragment, capsys, tmp_path) -> None:
    code = main([*argv, "--runs-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and fragment in err and err.count("\n") == 1
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_sweep_json_has_one_entry_per_model_depth_seed_and_reuses_runs(tmp_path, capsys) -> None:
    argv = [*SWEEP, "--seeds", "0,1", "--runs-dir", str(tmp_path), "--json"]
    assert main(argv) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["name"], r["seed"]) for r in rows] == [
        (f"{k}-{d}", s) for s in (0, 1) for d in (8, 14) for k in ("plain", "residual")
    ]
    train_fields = {
        "model",
        "name",
        "depth",
        "params",
        "status",
        "steps",
        "train_loss",
        "train_acc",
        "test_loss",
        "test_acc",
        "diverged_at",
        "seconds",
        "run_id",
    }
    assert all(train_fields | {"seed", "reused"} <= set(r) for r in rows)
    assert not any(r["reused"] for r in rows) and len(RunStore(tmp_path).list()) == 8

    assert main(argv) == 0  # the second time nothing trains: the same runs come back
    again = json.loads(capsys.readouterr().out)
    assert all(r["reused"] for r in again) and len(RunStore(tmp_path).list()) == 8
    assert [(r["run_id"], r["train_acc"]) for r in again] == [(r["run_id"], r["train_acc"]) for r in rows]

    # a train run with the same settings is a sweep cell too
    assert (
        main(
            [
                "train",
                "--depth",
                "8",
                "--width",
                "4",
                "--steps",
                "4",
                "--probe-every",
                "2",
                "--seed",
                "0",
                "--runs-dir",
                str(tmp_path),
                "--json",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main([*argv, "--force"]) == 0
    assert not any(r["reused"] for r in json.loads(capsys.readouterr().out))
    assert len(RunStore(tmp_path).list()) == 18


@pytest.mark.slow
def test_sweep_table_and_reading_on_the_terminal(tmp_path, capsys) -> None:
    assert main([*SWEEP, "--runs-dir", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert "4 runs: 0 found in the run store, 4 to train in 1 job(s)" in err
    assert "job 1/1: seed 0: plain-8, residual-8, plain-14, residual-14" in err
    assert "seed" in out.splitlines()[0] and "reused" in out.splitlines()[0]
    assert "- Plain nets: training error" in out and "- Residual nets: training error" in out


def test_a_sweep_loads_its_dataset_once_for_every_job_and_progress_bar(tmp_path, capsys, monkeypatch) -> None:
    import resnet_viz.degradation.sweep
    import resnet_viz.engine.data
    import resnet_viz.engine.experiment

    calls = []
    real = resnet_viz.engine.data.load_dataset

    def counting(cfg):
        calls.append(cfg.name)
        return real(cfg)

    for module in (resnet_viz.engine.data, resnet_viz.engine.experiment, resnet_viz.degradation.sweep):
        monkeypatch.setattr(module, "load_dataset", counting)
    argv = [*SWEEP, "--depths", "8", "--seeds", "0,1", "--steps", "2", "--runs-dir", str(tmp_path)]
    assert main(argv) == 0
    assert "job 2/2: seed 1" in capsys.readouterr().err  # two jobs, two progress bars
    assert calls == ["digits"]


def test_every_subcommand_has_a_function() -> None:
    from resnet_viz.cli import COMMANDS, build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert set(COMMANDS) == set(sub.choices)


def test_probe_json_lists_every_layer_first_first_at_initialisation(capsys) -> None:
    assert main(["probe", "--depth", "8", "--width", "4", "--batch-size", "32", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["model"], r["name"], r["depth"]) for r in rows] == [
        ("plain", "plain-8", 8),
        ("residual", "residual-8", 8),
    ]
    from resnet_viz.engine.config import ModelConfig
    from resnet_viz.theory.flow import init_profile

    oracle = init_profile(ModelConfig(depth=8, width=4), batch=32)  # the library, same seed and batch
    layers = rows[1]["layers"]
    assert [layer["name"] for layer in layers] == oracle.layer_names
    assert [layer["grad_rms"] for layer in layers] == pytest.approx(oracle.grad_rms)
    assert set(layers[0]) == {"name", "grad_norm", "grad_rms", "act_std", "grad_x_rms"}
    assert layers[0]["act_std"] is None and layers[-1]["act_std"] is None  # stem and head: not in a block
    assert layers[1]["act_std"] == pytest.approx(oracle.act_std[0])  # first conv of block 0
    assert layers[1]["grad_x_rms"] == pytest.approx(oracle.grad_x_rms[0]) and layers[-1]["grad_x_rms"] is None


@pytest.mark.parametrize(("bn", "regime"), [("--bn", "exploding"), ("--no-bn", "vanishing")])
def test_probe_json_grad_x_rms_names_the_regime_at_depth_56(capsys, bn: str, regime: str) -> None:
    # The command: dL/dx per layer (its block's value); plain-56 explodes toward the input
    # with BN (Yang et al. 2019) and vanishes without it (digits, seed 0).
    from resnet_viz.text import numbers as wording

    assert main(["probe", "--arch", "cifar", "--depth", "56", "--models", "plain,residual", bn, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    plain = [layer["grad_x_rms"] for layer in rows[0]["layers"] if layer["grad_x_rms"] is not None]
    assert len(plain) == 2 * 27  # two convs per block, each carrying its block's value
    assert wording.regime(plain[0] / plain[-1]) == regime


def test_grad_x_rms_equals_torch_autograd_on_the_block_outputs() -> None:
    # Oracle: retain_grad on each block's output, no Probe involved.
    import torch
    import torch.nn.functional as F

    from resnet_viz.engine.config import DataConfig, ModelConfig
    from resnet_viz.engine.data import load_dataset
    from resnet_viz.engine.models import build_model
    from resnet_viz.theory.flow import init_profile

    data = load_dataset(DataConfig())
    cfg = ModelConfig(depth=14, width=4, residual=False, bn=False)
    prof = init_profile(cfg, data, seed=3, batch=16)
    torch.manual_seed(3)
    model = build_model(cfg)
    outs = []

    def keep(_m, _i, out) -> None:  # returns None: the output is left as it is
        out.retain_grad()
        outs.append(out)

    hooks = [b.register_forward_hook(keep) for b in model.blocks]
    F.cross_entropy(model(data.x_train[:16]), data.y_train[:16]).backward()
    for h in hooks:
        h.remove()
    assert prof.grad_x_rms == pytest.approx([o.grad.pow(2).mean().sqrt().item() for o in outs], rel=1e-5)


def test_plain_fixup_is_refused_with_a_sentence(capsys) -> None:
    assert main(["probe", "--depth", "20", "--models", "plain,residual", "--init", "fixup"]) == 2
    err = capsys.readouterr().err
    assert "init fixup needs residual blocks" in err and "Traceback" not in err
    assert main(["probe", "--depth", "20", "--models", "residual", "--init", "fixup", "--no-bn"]) == 0


def test_probe_table_and_sentences(capsys) -> None:
    assert (
        main(
            [
                "probe",
                "--arch",
                "mlp",
                "--depth",
                "20",
                "--width",
                "32",
                "--activation",
                "sigmoid",
                "--no-bn",
                "--init",
                "xavier",
                "--models",
                "plain",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "mlp-plain-20 at initialisation" in out and "grad RMS" in out and "vanished toward the input" in out
