"""Pretrained ImageNet nets: loading from torch's cache, and clear failures without the network.

No test touches the network or the real cache: every test points $TORCH_HOME at its own tmp_path,
downloads are made to fail on purpose where one would be attempted, and the download itself is
exercised on file:// URLs and a throwaway server on 127.0.0.1 serving files the test writes.
"""

from __future__ import annotations

import hashlib
import http.server
import socket
import threading
import types
import urllib.error
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
import torch.hub
import torchvision

from resnet_viz.saliency import pretrained
from resnet_viz.saliency.pretrained import (
    PRETRAINED,
    PretrainedSpec,
    PretrainedUnavailable,
    download,
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
    """Every urlopen fails like a dead network; records the timeout each attempt was given."""
    timeouts: list[float | None] = []

    def dead_network(*args, **kwargs):
        timeouts.append(kwargs.get("timeout", socket.getdefaulttimeout()))
        raise urllib.error.URLError(TimeoutError("timed out"))

    # Both modules do `from urllib.request import urlopen`; raising=True (the default) makes these
    # tests fail loudly, rather than reach for the network, if either name ever moves. torch.hub is
    # patched too so that a regression back to torch.hub's own download cannot go online either.
    monkeypatch.setattr(pretrained, "urlopen", dead_network)
    monkeypatch.setattr(torch.hub, "urlopen", dead_network)
    return timeouts


class _Progress:
    """An on_progress callback that records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int | None]] = []

    def __call__(self, done: int, total: int | None) -> None:
        self.calls.append((done, total))


def _sha8(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:8]


def _payload(size: int) -> bytes:
    return bytes(i * 7 % 251 for i in range(size))  # not all one byte: a reordered chunk would show


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

    # The file's sha256 does not start with f37072fd: this passes only because, as in torch.hub,
    # the hash is verified for fresh downloads, not for cached files.
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


# --- download(): file:// URLs and a local server, never the network ---------------------------


def test_download_reports_progress_and_writes_exact_bytes(tmp_path: Path):
    data = _payload(2500)
    src = tmp_path / "src" / f"blob-{_sha8(data)}.bin"  # a correct hash prefix: the check passes
    src.parent.mkdir()
    src.write_bytes(data)
    dest = tmp_path / "made" / "by" / "download" / src.name  # folders that do not exist yet
    progress = _Progress()

    download(src.as_uri(), dest, timeout=3.0, on_progress=progress, chunk_bytes=1000)

    assert dest.read_bytes() == data
    assert list(dest.parent.iterdir()) == [dest]  # the temporary file was renamed, not copied
    # file:// sends Content-Length, so the total is known from the first call.
    assert progress.calls == [(0, 2500), (1000, 2500), (2000, 2500), (2500, 2500)]


def test_download_hash_mismatch_leaves_nothing(tmp_path: Path):
    data = _payload(3000)
    wrong = "0" * 8 if not _sha8(data).startswith("0") else "f" * 8
    src = tmp_path / f"blob-{wrong}.bin"
    src.write_bytes(data)
    dest = tmp_path / "checkpoints" / src.name
    progress = _Progress()

    with pytest.raises(PretrainedUnavailable, match="sha256") as exc:
        download(src.as_uri(), dest, timeout=3.0, on_progress=progress, chunk_bytes=1000)

    assert str(dest.parent) in str(exc.value)
    assert progress.calls[-1] == (3000, 3000)  # it was all read: the check, not the transfer, failed
    assert list(dest.parent.iterdir()) == []  # neither `dest` nor the temporary file


@pytest.mark.parametrize(
    "make_url",
    [lambda tmp: (tmp / "no-such-file.pth").as_uri(), lambda tmp: "http://127.0.0.1:9/resnet18-f37072fd.pth"],
    ids=["missing-file", "refused-port"],
)
def test_download_unopenable_url_names_the_folder(tmp_path: Path, make_url):
    dest = tmp_path / "checkpoints" / "resnet18-f37072fd.pth"
    progress = _Progress()
    with pytest.raises(PretrainedUnavailable) as exc:
        download(make_url(tmp_path), dest, timeout=3.0, on_progress=progress)
    assert str(dest.parent) in str(exc.value)
    assert isinstance(exc.value.__cause__, OSError)  # URLError, chained for debugging
    assert progress.calls == []  # nothing was ever opened
    assert list(dest.parent.iterdir()) == []


class _Rerun(BaseException):
    """Like Streamlit's RerunException/StopException, which st.progress raises inside the callback."""


def test_download_aborted_by_callback_leaves_nothing(tmp_path: Path):
    src = tmp_path / "blob.bin"
    src.write_bytes(_payload(3000))
    dest = tmp_path / "checkpoints" / "blob.bin"

    def stop_after_first_chunk(done: int, total: int | None) -> None:
        if done > 0:
            raise _Rerun

    with pytest.raises(_Rerun):  # propagated as it is, not turned into PretrainedUnavailable
        download(src.as_uri(), dest, timeout=3.0, on_progress=stop_after_first_chunk, chunk_bytes=1000)
    assert list(dest.parent.iterdir()) == []


@pytest.fixture
def serve() -> Iterator[Callable[[bytes, str | None], str]]:
    """A throwaway HTTP/1.0 server on 127.0.0.1; serve(body, content_length_header) -> its URL."""
    routes: dict[str, tuple[bytes, str | None]] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body, length = routes[self.path]
            self.send_response(200)
            if length is not None:
                self.send_header("Content-Length", length)
            self.end_headers()
            self.wfile.write(body)  # HTTP/1.0: closing the connection ends the body

        def log_message(self, *args) -> None:  # keep pytest's output clean
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def add(body: bytes, content_length: str | None) -> str:
        path = f"/blob{len(routes)}.bin"  # no hash in the name: only the length can catch a short body
        routes[path] = (body, content_length)
        return f"http://127.0.0.1:{server.server_port}{path}"

    try:
        yield add
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_download_without_content_length_reports_total_none(tmp_path: Path, serve):
    data = _payload(2500)
    dest = tmp_path / "blob.bin"
    progress = _Progress()
    download(serve(data, None), dest, timeout=3.0, on_progress=progress, chunk_bytes=1000)
    assert dest.read_bytes() == data
    assert [done for done, _ in progress.calls] == [0, 1000, 2000, 2500]
    assert all(total is None for _, total in progress.calls)


def test_download_short_body_leaves_nothing(tmp_path: Path, serve):
    # No hash in the name, so only the Content-Length check stands between a cut connection and a
    # truncated file that every later call would trust as cached.
    dest = tmp_path / "checkpoints" / "blob.bin"
    with pytest.raises(PretrainedUnavailable):
        download(serve(_payload(2000), "5000"), dest, timeout=3.0, chunk_bytes=1000)
    assert list(dest.parent.iterdir()) == []


# --- load_pretrained() end to end, on a tiny torchvision net served from a file:// URL ---------


def _tiny_spec(tmp_path: Path, *, corrupt_hash: bool = False) -> tuple[PretrainedSpec, torch.nn.Module]:
    """squeezenet1_1 with 3 classes (~5 MB: several 1 MiB chunks), saved under its hash-prefixed name."""
    torch.manual_seed(0)
    net = torchvision.models.squeezenet1_1(weights=None, num_classes=3)
    staging = tmp_path / "staging.pth"
    torch.save(net.state_dict(), staging)
    data = staging.read_bytes()
    prefix = _sha8(data) if not corrupt_hash else ("0" * 8 if not _sha8(data).startswith("0") else "f" * 8)
    src = tmp_path / "server" / f"tiny-{prefix}.pth"
    src.parent.mkdir()
    staging.rename(src)
    # Duck-typed stand-in for a WeightsEnum member: _load reads only .url and .meta["categories"].
    weights = types.SimpleNamespace(url=src.as_uri(), meta={"categories": ["a", "b", "c"]})
    return PretrainedSpec(torchvision.models.squeezenet1_1, weights), net


def test_load_pretrained_downloads_once_with_progress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    spec, net = _tiny_spec(tmp_path)
    monkeypatch.setitem(PRETRAINED, "tiny", spec)
    size = (tmp_path / "server" / Path(spec.weights.url).name).stat().st_size
    assert not is_cached("tiny")
    progress = _Progress()

    model = load_pretrained("tiny", on_progress=progress)

    assert is_cached("tiny")
    assert weights_path("tiny").stat().st_size == size
    dones = [done for done, _ in progress.calls]
    assert dones[0] == 0 and dones[-1] == size
    assert dones == sorted(set(dones))  # strictly increasing
    assert len(dones) >= 4  # ~5 MB in 1 MiB chunks, so the app's bar actually moves
    assert {total for _, total in progress.calls} == {size}
    for name, value in net.state_dict().items():
        torch.testing.assert_close(model.state_dict()[name], value)
    assert not model.training

    # Cached now: no second download, no progress, and the same shared instance.
    again = _Progress()
    assert load_pretrained("tiny", download=False, on_progress=again) is model
    assert again.calls == []


def test_load_pretrained_bad_hash_says_what_to_put_where(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    spec, _ = _tiny_spec(tmp_path, corrupt_hash=True)
    monkeypatch.setitem(PRETRAINED, "tiny", spec)
    path = weights_path("tiny")
    with pytest.raises(PretrainedUnavailable) as exc:
        load_pretrained("tiny")
    msg = str(exc.value)
    assert "could not be downloaded" in msg
    assert "sha256" in msg  # the reason is the root cause's, not the wrapper's
    assert str(path.parent) in msg
    assert path.name in msg
    assert spec.weights.url in msg
    assert list(path.parent.iterdir()) == []
    assert ("tiny", str(path)) not in pretrained._models  # failures are not cached
