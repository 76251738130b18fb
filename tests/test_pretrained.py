"""Pretrained ImageNet nets: loading from torch's cache, and clear failures without the network.

No test touches the network or the real cache: every test points $TORCH_HOME at its own tmp_path,
and downloads are made to fail on purpose where one would be attempted.
"""

from __future__ import annotations

import socket
import urllib.error
from pathlib import Path

import pytest
import torch
import torch.hub
import torchvision

from resnet_viz import pretrained
from resnet_viz.pretrained import (
    PRETRAINED,
    PretrainedUnavailable,
    imagenet_classes,
    is_cached,
    load_pretrained,
    weights_path,
)

PERTURBED = 0.123456  # a value no init draws exactly: proves these weights came from our file


@pytest.fixture(autouse=True)
def torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private, empty torch cache; torch.hub.get_dir() reads $TORCH_HOME on every call."""
    home = tmp_path / "torch_home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)  # a set_dir() elsewhere would override TORCH_HOME
    return home


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> list[float | None]:
    """torch.hub's urlopen fails like a dead network; records the socket timeout it was called under."""
    timeouts: list[float | None] = []

    def dead_network(*args, **kwargs):
        timeouts.append(socket.getdefaulttimeout())
        raise urllib.error.URLError(TimeoutError("timed out"))

    # torch.hub does `from urllib.request import urlopen`; raising=True (the default) makes this
    # test fail loudly, rather than reach for the network, if that name ever moves.
    monkeypatch.setattr(torch.hub, "urlopen", dead_network)
    return timeouts


def _write_resnet18_checkpoint() -> torch.Tensor:
    """Save a resnet18 state dict, one weight set to PERTURBED, where the hub cache expects it."""
    net = torchvision.models.resnet18(weights=None)
    with torch.no_grad():
        net.conv1.weight[0, 0, 0, 0] = PERTURBED
    path = weights_path("resnet18")
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), path)
    return net.conv1.weight.detach().clone()


def test_weights_path_is_torch_hub_cache_file(torch_home: Path):
    for name, spec in PRETRAINED.items():
        path = weights_path(name)
        assert path.parent == torch_home / "hub" / "checkpoints"
        assert spec.weights.url.endswith("/" + path.name)
    # Pinned members, so the file name cannot move under a torchvision upgrade.
    assert weights_path("resnet18").name == "resnet18-f37072fd.pth"
    assert weights_path("resnet50").name == "resnet50-11ad3fa6.pth"


def test_load_from_cache_returns_saved_weights(offline: list[float | None]):
    conv1 = _write_resnet18_checkpoint()
    assert is_cached("resnet18")
    assert not is_cached("resnet50")

    # The file's sha256 does not start with f37072fd, and load_pretrained asks for check_hash=True:
    # this passes only because torch.hub verifies the hash of fresh downloads, not of cached files.
    model = load_pretrained("resnet18")

    assert offline == []  # found in the cache: no download was tried
    assert isinstance(model, torchvision.models.ResNet)
    assert not model.training
    assert all(not m.training for m in model.modules())
    assert model.conv1.weight[0, 0, 0, 0].item() == pytest.approx(PERTURBED)
    torch.testing.assert_close(model.conv1.weight, conv1)
    assert model.fc.out_features == 1000
    assert not any(p.requires_grad for p in model.parameters())  # shared: backward writes no .grad

    # One instance per process, so the page's st.cache_resource and other callers share it.
    assert load_pretrained("resnet18", download=False) is model

    with torch.no_grad():
        logits = model(torch.zeros(1, 3, 64, 64))
    assert logits.shape == (1, 1000)


def test_offline_and_not_cached_says_what_to_put_where(offline: list[float | None]):
    path = weights_path("resnet18")
    with pytest.raises(PretrainedUnavailable) as exc:
        load_pretrained("resnet18", timeout=3.0)
    msg = str(exc.value)
    assert str(path.parent) in msg
    assert path.name in msg
    assert PRETRAINED["resnet18"].weights.url in msg
    assert "could not be downloaded" in msg
    assert "trained runs" in msg
    assert offline == [3.0]  # the download ran under our socket timeout, not the hang-forever default
    assert socket.getdefaulttimeout() is None  # ...which was put back afterwards
    assert not path.exists()
    assert list(path.parent.iterdir()) == []  # no .partial file left behind

    # A failure is not cached: once the file is there, the same call works.
    _write_resnet18_checkpoint()
    assert load_pretrained("resnet18").fc.out_features == 1000


def test_download_false_never_tries_the_network(offline: list[float | None]):
    path = weights_path("resnet50")
    with pytest.raises(PretrainedUnavailable, match="downloading is off") as exc:
        load_pretrained("resnet50", download=False)
    assert str(path.parent) in str(exc.value)
    assert path.name in str(exc.value)
    assert offline == []


def test_truncated_cache_file_says_delete_it(offline: list[float | None]):
    _write_resnet18_checkpoint()
    path = weights_path("resnet18")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # as a download killed half-way would leave it

    with pytest.raises(PretrainedUnavailable) as exc:
        load_pretrained("resnet18")
    msg = str(exc.value)
    assert str(path) in msg
    assert "Delete" in msg or "delete" in msg
    assert offline == []  # an existing file is never silently re-downloaded over


@pytest.mark.parametrize("content", [b"", b"<html>404 Not Found</html>"], ids=["empty", "html"])
def test_unreadable_cache_file_says_delete_it(content: bytes):
    path = weights_path("resnet18")
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with pytest.raises(PretrainedUnavailable, match="(?i)delete") as exc:
        load_pretrained("resnet18")
    assert str(path) in str(exc.value)


def test_checkpoint_for_another_architecture_says_delete_it():
    path = weights_path("resnet18")
    path.parent.mkdir(parents=True)
    torch.save({"conv1.weight": torch.zeros(1)}, path)
    with pytest.raises(PretrainedUnavailable, match="(?i)delete") as exc:
        load_pretrained("resnet18")
    assert str(path) in str(exc.value)


def test_imagenet_classes_offline():
    for name in PRETRAINED:
        classes = imagenet_classes(name)
        assert isinstance(classes, tuple)
        assert len(classes) == 1000
        assert classes[0] == "tench"
        assert classes[207] == "golden retriever"


def test_unknown_name_lists_choices():
    for call in (weights_path, is_cached, imagenet_classes, load_pretrained):
        with pytest.raises(ValueError, match="resnet18") as exc:
            call("vgg16")
        assert "resnet50" in str(exc.value)
        assert "vgg16" in str(exc.value)


def test_nonpositive_timeout_is_rejected():
    with pytest.raises(ValueError, match="timeout"):
        load_pretrained("resnet18", timeout=0)


def test_no_model_cache_leaks_between_cache_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # The per-process cache is keyed by file, so pointing $TORCH_HOME elsewhere loads afresh.
    _write_resnet18_checkpoint()
    first_file = weights_path("resnet18")
    first = load_pretrained("resnet18")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "other_home"))
    with pytest.raises(PretrainedUnavailable, match="other_home"):
        load_pretrained("resnet18", download=False)
    assert pretrained._models[("resnet18", str(first_file))] is first
