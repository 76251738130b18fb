"""The app boots (AppTest, no browser) and the device helpers behave on this machine and others."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from resnet_viz.engine.config import ConfigError
from resnet_viz.engine.devices import describe_device, select_device
from resnet_viz.ui import default_job_threads

ROOT = Path(__file__).resolve().parents[1]


def _all_text(at: AppTest) -> str:
    parts = [e.value for e in (*at.title, *at.markdown, *at.caption, *at.subheader)]
    return "\n".join(str(p) for p in parts)


def test_app_home_page_runs():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception, [e.message for e in at.exception]
    assert [t.value for t in at.title] == ["ResNet Lab"]
    # what the worker gives the default twins (the thread policy, one core kept for the pages); the
    # count follows the idle cores, so on a CPU any count the policy can give is accepted
    counts = range(1, max(2, os.cpu_count() or 1)) if select_device("auto").type == "cpu" else [None]
    labels = [describe_device(select_device("auto"), threads=n) for n in counts]
    assert any(label in c.value for c in at.sidebar.caption for label in labels), labels
    assert default_job_threads() in counts or counts == [None]
    assert at.latex, "the home page states y = x + F(x)"


def test_auto_picks_cpu_without_accelerators(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr("resnet_viz.engine.devices.mps_available", lambda: False)
    assert select_device("auto") == torch.device("cpu")
    assert select_device() == torch.device("cpu")
    assert select_device("cpu") == torch.device("cpu")


def test_auto_prefers_cuda_then_mps(monkeypatch):
    monkeypatch.setattr("resnet_viz.engine.devices.mps_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert select_device("auto") == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert select_device("auto") == torch.device("mps")


def test_cuda_requested_but_absent_is_a_config_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="cuda.*'auto' or 'cpu'"):
        select_device("cuda")


def test_cuda_requested_and_present(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert select_device("cuda") == torch.device("cuda")
    assert select_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(ConfigError, match="only 1 CUDA GPU"):
        select_device("cuda:1")


def test_mps_requested_but_absent_is_a_config_error(monkeypatch):
    monkeypatch.setattr("resnet_viz.engine.devices.mps_available", lambda: False)
    with pytest.raises(ConfigError, match="mps"):
        select_device("mps")


@pytest.mark.parametrize("bad", ["gpu", "tpu", "cpu:0", "cuda:x", ""])
def test_unknown_device_names_are_refused(bad):
    with pytest.raises(ConfigError, match="device must be one of"):
        select_device(bad)


def test_describe_cpu_names_thread_count(monkeypatch):
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    text = describe_device(torch.device("cpu"))
    assert text.startswith("CPU, 2 threads")
    assert torch.__version__.split("+")[0] in text
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    assert describe_device("cpu").startswith("CPU, 1 thread ")


def test_describe_cuda_names_the_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H100 80GB HBM3")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (9, 0))
    assert describe_device("cuda").startswith("NVIDIA H100 80GB HBM3 (CUDA, bf16")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 0))
    assert "(CUDA, fp32" in describe_device("cuda")
