"""The thread policy (resnet_viz.engine.devices.thread_count): one place that sizes torch's CPU threads for
every entry point, and the entry points that follow it."""

from __future__ import annotations

import os

import pytest
import torch

from resnet_viz.engine import devices
from resnet_viz.engine.config import DataConfig, ModelConfig
from resnet_viz.engine.devices import SMALL_WORK_MACS, THREADS_ENV, thread_count, threads
from resnet_viz.engine.limits import forward_macs, model_cost


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch):
    """A pretend machine: `set(usable, idle)` fixes its cores and how many are idle."""
    monkeypatch.delenv(THREADS_ENV, raising=False)

    def set_machine(usable: int, idle: float) -> None:
        monkeypatch.setattr(devices, "usable_cores", lambda: usable)
        monkeypatch.setattr(devices, "idle_cores", lambda window=0.1: idle)

    return set_machine


def test_tiny_work_gets_one_thread_however_idle_the_machine(machine) -> None:
    machine(8, 8.0)
    assert thread_count(None) == 1
    assert thread_count(SMALL_WORK_MACS / 2) == 1


@pytest.mark.parametrize(
    ("usable", "idle", "expected"),
    [(4, 2.6, 3), (4, 0.2, 1), (4, 16.0, 4), (2, 1.0, 1), (2, 1.5, 1), (2, 1.7, 2), (2, 2.0, 2)],
)
def test_large_work_gets_the_idle_cores_it_may_use(machine, usable: int, idle: float, expected: int) -> None:
    machine(usable, idle)
    assert thread_count(5 * SMALL_WORK_MACS) == expected


@pytest.mark.parametrize(("usable", "idle", "expected"), [(4, 4.0, 3), (2, 2.0, 1), (2, 0.2, 1), (16, 9.0, 8)])
def test_a_reserve_keeps_cores_back(machine, usable: int, idle: float, expected: int) -> None:
    machine(usable, idle)
    assert thread_count(5 * SMALL_WORK_MACS, reserve=1) == expected


def test_an_idle_reading_is_reused_for_a_while(monkeypatch: pytest.MonkeyPatch) -> None:
    readings = iter([1.0, 2.0])
    monkeypatch.setattr(devices, "_measure_idle", lambda window: next(readings))
    monkeypatch.setattr(devices, "_idle_seen", None)
    assert devices.idle_cores() == 1.0 and devices.idle_cores() == 1.0  # the second call reuses it
    monkeypatch.setattr(devices, "_idle_seen", (0.0, 1.0))  # an old reading is measured again
    assert devices.idle_cores() == 2.0


def test_the_environment_variable_wins(machine, monkeypatch: pytest.MonkeyPatch) -> None:
    machine(8, 8.0)
    monkeypatch.setenv(THREADS_ENV, "3")
    assert thread_count(None) == 3 and thread_count(1e12) == 3
    for bad in ("0", "-2", "two", ""):  # not a whole number >= 1: the policy decides
        monkeypatch.setenv(THREADS_ENV, bad)
        assert thread_count(None) == 1


def test_threads_sets_and_restores() -> None:
    before = torch.get_num_threads()
    with threads(1) as n:
        assert n == 1 and torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_idle_cores_is_between_none_and_all() -> None:
    idle = devices.idle_cores()
    assert 0.0 <= idle <= (os.cpu_count() or 1)


def test_forward_macs_is_the_models_cost_times_the_batch() -> None:
    twins = [ModelConfig(depth=20, width=8), ModelConfig(depth=20, width=8, residual=True)]
    one = model_cost(twins[0], 1, 8).macs  # digits: 1 channel, 8x8
    assert forward_macs(twins, DataConfig(), 64) == pytest.approx(2 * 64 * one)
    # one tiny MLP image is tiny work; the digits twins' batch is not
    assert forward_macs([ModelConfig(arch="mlp", depth=4, width=16)], DataConfig(), 1) < SMALL_WORK_MACS
    assert forward_macs(twins, DataConfig(), 64) > SMALL_WORK_MACS


@pytest.mark.parametrize(("env", "idle", "expected"), [(None, 2.0, 2), (None, 1.0, 1), ("3", 1.0, 3)])
def test_the_cli_trains_with_the_policys_threads(machine, monkeypatch: pytest.MonkeyPatch, env, idle, expected) -> None:
    from resnet_viz import cli

    machine(2, idle)
    if env is not None:
        monkeypatch.setenv(THREADS_ENV, env)
    seen = []
    monkeypatch.setitem(cli.COMMANDS, "train", lambda args: seen.append(torch.get_num_threads()) or 0)
    before = torch.get_num_threads()
    assert cli.main(["train", "--depth", "20", "--width", "8", "--steps", "2"]) == 0  # 0.04 GMAC a batch
    assert seen == [expected]  # the idle cores, or what the variable says
    assert torch.get_num_threads() == before  # and the process's own count is given back
