"""Tests for resnet_viz.engine.data: every check compares against an independent oracle (scikit-learn's
own arrays, torch.flip / F.pad, files this test writes itself), never against data.py's output."""

from __future__ import annotations

import dataclasses
import socket
import struct
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image

from resnet_viz.engine import data as D
from resnet_viz.engine.config import ConfigError, DataConfig

# --------------------------------------------------------------------------------------------
# digits


@pytest.fixture(scope="module")
def sk_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    b = load_digits()
    return (b.data / 16.0).astype(np.float32), b.target  # (1797, 64) in [0, 1], (1797,)


def _match_rows(x: torch.Tensor, reference: np.ndarray) -> np.ndarray:
    """Index of the reference row each image equals (asserts an exact-enough match exists)."""
    flat = x.reshape(len(x), -1).numpy()
    dist = ((flat[:, None, :] - reference[None, :, :]) ** 2).sum(-1)  # (n, 1797)
    idx = dist.argmin(1)
    assert dist[np.arange(len(x)), idx].max() < 1e-8
    return idx


def test_digits_tensors_and_standardisation(sk_digits):
    ref_x, ref_y = sk_digits
    ds = D.load_dataset(DataConfig(name="digits"))
    assert ds.name == "digits" and ds.classes == tuple("0123456789")
    assert ds.x_train.dtype == torch.float32 and ds.y_train.dtype == torch.int64
    assert ds.x_train.shape[1:] == (1, 8, 8) and ds.x_test.shape[1:] == (1, 8, 8)
    assert (ds.in_channels, ds.image_size, ds.num_classes) == (1, 8, 10)
    assert ds.n_train + ds.n_test == 1797
    assert abs(ds.n_test - 0.2 * 1797) <= 10
    # Standardised with the *train* statistics: train is exactly (0, 1), test only roughly.
    assert abs(ds.x_train.mean().item()) < 1e-5 and abs(ds.x_train.std(correction=0).item() - 1) < 1e-4
    assert abs(ds.x_test.mean().item()) < 0.1
    # Undoing the standardisation gives back sklearn's pixels with their labels.
    raw_train = ds.x_train * ds.std[0] + ds.mean[0]
    raw_test = ds.x_test * ds.std[0] + ds.mean[0]
    i_train, i_test = _match_rows(raw_train, ref_x), _match_rows(raw_test, ref_x)
    assert np.array_equal(ref_y[i_train], ds.y_train.numpy()) and np.array_equal(ref_y[i_test], ds.y_test.numpy())
    # Disjoint and complete: every sklearn image is in exactly one split.
    assert set(i_train).isdisjoint(i_test) and len(set(i_train) | set(i_test)) == 1797
    assert ds.mean[0] == pytest.approx(float(ref_x[i_train].mean()), rel=1e-5)
    assert ds.std[0] == pytest.approx(float(ref_x[i_train].std()), rel=1e-4)
    # Stratified: every class has ~20% of its images in the test split.
    for c in range(10):
        share = (ds.y_test == c).sum().item() / (ref_y == c).sum()
        assert 0.17 < share < 0.23


def test_digits_split_is_fixed_across_seeds_and_calls():
    a = D.load_dataset(DataConfig(name="digits", seed=0))
    b = D.load_dataset(DataConfig(name="digits", seed=7))
    assert torch.equal(a.x_test, b.x_test) and torch.equal(a.y_test, b.y_test)
    assert torch.equal(a.x_train, b.x_train)


def test_digits_are_read_from_scikit_learn_once(monkeypatch):
    import sklearn.datasets

    D.load_dataset(DataConfig(name="digits"))

    def again():
        raise AssertionError("load_digits read the files a second time")

    monkeypatch.setattr(sklearn.datasets, "load_digits", again)
    assert D.load_dataset(DataConfig(name="digits", seed=3)).n_train > 1000  # from the cache


def test_limit_is_class_balanced_and_leaves_test_alone():
    full = D.load_dataset(DataConfig(name="digits"))
    ds = D.load_dataset(DataConfig(name="digits", limit=100))
    assert ds.n_train == 100 and torch.bincount(ds.y_train).tolist() == [10] * 10
    assert ds.n_test == full.n_test
    # Each kept image is one of the full training images (re-standardised with the subset's stats).
    raw = (ds.x_train * ds.std[0] + ds.mean[0]).reshape(100, -1).numpy()
    full_raw = (full.x_train * full.std[0] + full.mean[0]).reshape(full.n_train, -1).numpy()
    _match_rows(torch.from_numpy(raw), full_raw)
    other = D.load_dataset(DataConfig(name="digits", limit=100, seed=1))
    assert not torch.equal(other.x_train, ds.x_train)  # the subset is drawn with cfg.seed


def test_image_size_resizes_before_standardising():
    ds = D.load_dataset(DataConfig(name="digits", image_size=16))
    assert ds.x_train.shape[1:] == (1, 16, 16) and ds.image_size == 16
    assert abs(ds.x_train.mean().item()) < 1e-5 and abs(ds.x_train.std(correction=0).item() - 1) < 1e-4


# --------------------------------------------------------------------------------------------
# shapes


def test_make_shapes_deterministic_by_seed():
    a, b = D.make_shapes(50, 32, seed=3), D.make_shapes(50, 32, seed=3)
    for u, v in zip(a, b):
        assert np.array_equal(u, v)
    c = D.make_shapes(50, 32, seed=4)
    assert not np.array_equal(a[0], c[0])


def test_make_shapes_arrays_and_masks():
    n, size = 400, 32
    images, labels, masks = D.make_shapes(n, size, seed=0)
    assert images.shape == (n, size, size, 3) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    assert labels.shape == (n,) and labels.dtype == np.int64
    assert masks.shape == (n, size, size) and masks.dtype == bool
    counts = np.bincount(labels, minlength=len(D.SHAPE_CLASSES))
    assert counts.max() - counts.min() <= 1  # balanced
    area = masks.sum((1, 2))
    assert area.min() >= 0.02 * size * size  # never empty or a speck
    # Whole shape inside the image: the border row/column is never part of the object.
    border = masks[:, 0, :].any(1) | masks[:, -1, :].any(1) | masks[:, :, 0].any(1) | masks[:, :, -1].any(1)
    assert not border.any()
    # The mask is the drawn object: inside pixels are nearer the inside mean colour than the outside one.
    for img, m in zip(images, masks):
        inside, outside = img[m].mean(0), img[~m].mean(0)
        assert np.abs(inside - outside).min() > 0.2  # every channel contrasts
        d_in = np.linalg.norm(img - inside, axis=-1)
        d_out = np.linalg.norm(img - outside, axis=-1)
        assert ((d_in < d_out) == m).mean() > 0.97
    # Labels mean what they say: only a ring has a hole at its centre of mass.
    ring = D.SHAPE_CLASSES.index("ring")
    for m, y in zip(masks, labels):
        cy, cx = (int(v) for v in np.argwhere(m).mean(0))
        assert m[cy, cx] == (y != ring)


def test_make_shapes_tiny_images_still_have_objects():
    _images, _labels, masks = D.make_shapes(300, 4, seed=0)
    assert masks.any(axis=(1, 2)).all()


def test_negative_seed_is_a_config_error():
    with pytest.raises(ConfigError, match="seed"):
        D.load_dataset(DataConfig(name="shapes", seed=-1))


def test_shapes_dataset_and_image_size():
    ds = D.load_dataset(DataConfig(name="shapes", image_size=24, limit=500, seed=2))
    assert ds.classes == D.SHAPE_CLASSES and len(set(ds.classes)) == ds.num_classes >= 4
    assert ds.x_train.shape == (500, 3, 24, 24) and ds.mask_train.shape == (500, 24, 24)
    assert ds.mask_test.shape == (ds.n_test, 24, 24) and ds.mask_test.dtype == torch.bool
    x, y, m = D.make_shapes(500, 24, seed=(2, 0))  # the documented train stream
    assert torch.equal(ds.y_train, torch.from_numpy(y)) and torch.equal(ds.mask_train, torch.from_numpy(m))
    restored = ds.unstandardise(ds.x_train).permute(0, 2, 3, 1)
    assert torch.allclose(restored, torch.from_numpy(x), atol=1e-5)
    # Train and test come from different random streams: no shared images.
    assert not torch.equal(ds.x_train[:100], ds.x_test[:100])
    assert D.load_dataset(DataConfig(name="shapes")).image_size == 32


# --------------------------------------------------------------------------------------------
# augment_batch


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_augment_shape_and_determinism():
    x = torch.randn(16, 3, 32, 32)
    a, b = D.augment_batch(x, _gen(0)), D.augment_batch(x, _gen(0))
    assert a.shape == x.shape and a.dtype == x.dtype
    assert torch.equal(a, b)
    assert not torch.equal(a, D.augment_batch(x, _gen(1)))
    assert not torch.equal(a, x)


def test_augment_flip_only_matches_torch_flip():
    x = torch.arange(2 * 3 * 5, dtype=torch.float32).reshape(1, 2, 3, 5).repeat(64, 1, 1, 1)
    out = D.augment_batch(x, _gen(0), pad=0)
    flipped = torch.flip(x, dims=[-1])
    is_flip = (out == flipped).flatten(1).all(1)
    is_same = (out == x).flatten(1).all(1)
    assert bool((is_flip | is_same).all())
    assert 10 < int(is_flip.sum()) < 54  # about half, per image
    assert torch.equal(D.augment_batch(x, _gen(0), pad=0, flip=False), x)


def test_augment_crops_are_zero_padded_shifts():
    x = torch.arange(1, 17, dtype=torch.float32).reshape(1, 1, 4, 4).repeat(300, 1, 1, 1)
    out = D.augment_batch(x, _gen(0), pad=1)
    padded = F.pad(x[:1], (1, 1, 1, 1))[0]  # (1, 6, 6)
    candidates = {}
    for dy in range(3):
        for dx in range(3):
            crop = padded[:, dy : dy + 4, dx : dx + 4]
            candidates[(dy, dx, False)] = crop
            candidates[(dy, dx, True)] = torch.flip(crop, dims=[-1])  # crop, then flip
    seen = set()
    for img in out:
        hits = [k for k, c in candidates.items() if torch.equal(img, c)]
        assert hits, f"output is no crop/flip of the padded input:\n{img}"
        seen.add(hits[0])
    assert len(seen) == 18  # every offset and both flips occur: per-image randomness


def test_augment_default_padding_is_an_eighth():
    x = torch.ones(256, 1, 32, 32)
    out = D.augment_batch(x, _gen(0))
    zero_cols = (out == 0).all(2).sum(-1)  # (B, 1) columns entirely padding
    zero_rows = (out == 0).all(3).sum(-1)
    assert int(zero_cols.max()) == 4 and int(zero_rows.max()) == 4
    small = D.augment_batch(torch.ones(256, 1, 8, 8), _gen(0))
    assert int((small == 0).all(2).sum(-1).max()) == 1  # 8 // 8


def test_augment_runs_on_the_tensor_device():
    devices = ["meta"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        x = torch.zeros(4, 3, 8, 8, device=device)
        assert D.augment_batch(x, _gen(0)).device.type == device
        assert D.augment_batch(x).device.type == device


# --------------------------------------------------------------------------------------------
# downloadable datasets


@pytest.fixture
def no_network(monkeypatch):
    """Every torchvision download fails as it does offline; records the socket timeout it saw."""
    seen: list[float | None] = []

    def refuse(*args, **kwargs):
        seen.append(socket.getdefaulttimeout())
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    return seen


@pytest.mark.parametrize(
    "name, cls", [("mnist", torchvision.datasets.MNIST), ("fashion_mnist", torchvision.datasets.FashionMNIST)]
)
def test_offline_mnist_family_names_folder_and_files(tmp_path, no_network, name, cls):
    before = socket.getdefaulttimeout()
    with pytest.raises(D.DatasetUnavailable) as info:
        D.load_dataset(DataConfig(name=name, root=str(tmp_path)))
    msg = info.value.with_paths  # what the CLI prints: its user owns the machine
    assert str(tmp_path / cls.__name__ / "raw") in msg
    for filename, _md5 in cls.resources:
        assert filename in msg
    assert cls.mirrors[0] in msg and "digits" in msg and "shapes" in msg
    web = str(info.value)  # what a web visitor reads: the setting, never the server's folders
    assert str(tmp_path) not in web and "RESNET_VIZ_DATA" in web and f"{cls.__name__}/raw" in web
    assert all(filename in web for filename, _md5 in cls.resources) and "digits" in web
    assert no_network and all(t == D.DOWNLOAD_TIMEOUT_S for t in no_network)  # tried, with a timeout
    assert socket.getdefaulttimeout() == before  # and restored it


def test_offline_cifar_names_archive(tmp_path, no_network):
    with pytest.raises(D.DatasetUnavailable) as info:
        D.load_dataset(DataConfig(name="cifar10", root=str(tmp_path)))
    msg = info.value.with_paths
    cls = torchvision.datasets.CIFAR10
    assert cls.filename in msg and cls.url in msg and str(tmp_path) in msg
    web = str(info.value)
    assert cls.filename in web and cls.url in web and "RESNET_VIZ_DATA" in web and str(tmp_path) not in web
    assert no_network


def test_download_failure_reason_with_a_path_stays_off_the_web(tmp_path, monkeypatch):
    # An OSError's text quotes the folder it could not write: the CLI shows it, a visitor does not.
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "cifar-10-python.tar.gz"))

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    with pytest.raises(D.DatasetUnavailable) as info:
        D.load_dataset(DataConfig(name="cifar10", root=str(tmp_path)))
    assert "Permission denied" in info.value.with_paths and str(tmp_path) in info.value.with_paths
    assert str(tmp_path) not in str(info.value) and "PermissionError" in str(info.value)


def test_default_data_root_follows_env(monkeypatch, tmp_path):
    monkeypatch.setenv(D.DATA_ENV, str(tmp_path / "x"))
    assert D.default_data_root() == tmp_path / "x"
    monkeypatch.delenv(D.DATA_ENV)
    assert D.default_data_root() == Path.home() / ".cache" / "resnet_viz" / "data"


def _write_idx(path: Path, array: np.ndarray) -> None:
    """The IDX format MNIST ships in: big-endian magic (0x08 = ubyte, then ndim), dims, raw bytes."""
    header = struct.pack(">I", 0x0800 | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_mnist_loads_real_idx_files(tmp_path, no_network):
    rng = np.random.default_rng(0)
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images = {"train": rng.integers(0, 256, (20, 28, 28)), "t10k": rng.integers(0, 256, (6, 28, 28))}
    labels = {"train": np.arange(20) % 10, "t10k": np.array([3, 1, 4, 1, 5, 9])}
    for split in ("train", "t10k"):
        _write_idx(raw / f"{split}-images-idx3-ubyte", images[split])
        _write_idx(raw / f"{split}-labels-idx1-ubyte", labels[split])

    ds = D.load_dataset(DataConfig(name="mnist", root=str(tmp_path)))
    assert not no_network  # the files were found: nothing was downloaded
    assert ds.x_train.shape == (20, 1, 28, 28) and ds.x_test.shape == (6, 1, 28, 28)
    assert ds.classes == tuple(torchvision.datasets.MNIST.classes)
    assert ds.y_train.tolist() == labels["train"].tolist() and ds.y_test.tolist() == labels["t10k"].tolist()
    pixels = images["train"] / 255.0
    assert ds.mean[0] == pytest.approx(pixels.mean(), rel=1e-5) and ds.std[0] == pytest.approx(pixels.std(), rel=1e-4)
    assert torch.allclose(
        ds.unstandardise(ds.x_test)[:, 0], torch.from_numpy(images["t10k"] / 255.0).float(), atol=1e-5
    )

    small = D.load_dataset(DataConfig(name="mnist", root=str(tmp_path), image_size=14, limit=10))
    assert small.x_train.shape == (10, 1, 14, 14) and small.x_test.shape == (6, 1, 14, 14)
    assert torch.bincount(small.y_train).tolist() == [1] * 10
    expected = F.interpolate(
        torch.from_numpy(images["t10k"] / 255.0).float()[:, None], size=(14, 14), mode="bilinear", antialias=True
    )
    assert torch.allclose(small.unstandardise(small.x_test), expected, atol=1e-5)


# --------------------------------------------------------------------------------------------
# folder


COLOURS = {"apple": (220, 20, 20), "sky": (20, 20, 220), "grass": (20, 200, 20)}


def _write_folder(root: Path, per_class: int = 5) -> None:
    for k, (name, rgb) in enumerate(COLOURS.items()):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            size = (10 + 7 * i, 12 + 3 * k)  # mixed sizes, resized on load
            img = Image.new("RGB", size, rgb)
            if i == 0:
                img = img.convert("L")  # a greyscale file must still come out RGB
            img.save(root / name / f"{i}.png")


def test_folder_dataset(tmp_path):
    _write_folder(tmp_path)
    (tmp_path / ".hidden").mkdir()  # e.g. .ipynb_checkpoints: not a class
    (tmp_path / "apple" / "notes.txt").write_text("not an image")
    ds = D.load_dataset(DataConfig(name="folder", root=str(tmp_path), image_size=8))
    assert ds.classes == ("apple", "grass", "sky")  # sorted folder names
    assert ds.x_train.shape == (12, 3, 8, 8) and ds.x_test.shape == (3, 3, 8, 8)
    assert torch.bincount(ds.y_test).tolist() == [1, 1, 1]
    for x, y in ((ds.x_train, ds.y_train), (ds.x_test, ds.y_test)):
        colours = ds.unstandardise(x).mean((2, 3))  # (n, 3) in [0, 1]
        for c, label in zip(colours, y):
            want = torch.tensor(COLOURS[ds.classes[label]], dtype=torch.float32) / 255
            grey = torch.full((3,), float(np.dot(COLOURS[ds.classes[label]], [0.299, 0.587, 0.114])) / 255)
            assert torch.allclose(c, want, atol=0.02) or torch.allclose(c, grey, atol=0.02)
    again = D.load_dataset(DataConfig(name="folder", root=str(tmp_path), image_size=8, seed=5))
    assert torch.equal(again.x_test, ds.x_test)  # the split is fixed
    assert D.load_dataset(DataConfig(name="folder", root=str(tmp_path))).image_size == 32


def test_folder_errors(tmp_path):
    with pytest.raises(ConfigError, match="root"):
        D.load_dataset(DataConfig(name="folder"))
    with pytest.raises(ConfigError, match="does not exist"):
        D.load_dataset(DataConfig(name="folder", root=str(tmp_path / "nope")))
    with pytest.raises(D.DatasetUnavailable, match="at least 2 class"):
        D.load_dataset(DataConfig(name="folder", root=str(tmp_path)))  # empty
    one = tmp_path / "one"
    (one / "only").mkdir(parents=True)
    Image.new("RGB", (4, 4)).save(one / "only" / "a.png")
    Image.new("RGB", (4, 4)).save(one / "only" / "b.png")
    with pytest.raises(D.DatasetUnavailable, match="at least 2 class"):
        D.load_dataset(DataConfig(name="folder", root=str(one)))
    (one / "empty").mkdir()
    with pytest.raises(D.DatasetUnavailable, match="empty"):
        D.load_dataset(DataConfig(name="folder", root=str(one)))
    broken = tmp_path / "broken"
    _write_folder(broken)
    (broken / "sky" / "bad.png").write_bytes(b"not a png at all")
    with pytest.raises(D.DatasetUnavailable, match="bad.png") as info:
        D.load_dataset(DataConfig(name="folder", root=str(broken)))
    assert str(broken) not in str(info.value) and str(broken / "sky" / "bad.png") in info.value.with_paths
    with pytest.raises(D.DatasetUnavailable) as info:
        D.load_dataset(DataConfig(name="folder", root=str(tmp_path / "one")))
    assert str(tmp_path) not in str(info.value) and str(tmp_path / "one") in info.value.with_paths


def test_resizing_beyond_the_machines_memory_is_refused_before_allocating(monkeypatch):
    # image_size=1024 on the digits: 1,797 images x 1024^2 x 4 bytes x 2 copies = 15 GB; with
    # 1 GB of "physical memory" the allocator would fail with a raw message: say it instead.
    monkeypatch.setattr(D.dataset, "physical_memory", lambda: 2**30)
    with pytest.raises(ConfigError, match=r"digits at 1024x1024 pixels needs about 14 GB .* this machine's 1 GB"):
        D.load_dataset(DataConfig(name="digits", image_size=1024))
    with pytest.raises(ConfigError, match="shapes at 1024x1024"):
        D.load_dataset(DataConfig(name="shapes", image_size=1024))
    assert D.load_dataset(DataConfig(name="digits", image_size=16)).image_size == 16  # 15 MB: fine


# --------------------------------------------------------------------------------------------
# registry and Dataset


def test_registry_and_unknown_name():
    assert set(D.DATASETS) == {"digits", "shapes", "clutter", "cifar10", "mnist", "fashion_mnist", "folder"}
    # A web visitor cannot name a folder on the server: the pages list every dataset but that one.
    assert D.WEB_DATASETS == ("digits", "shapes", "clutter", "cifar10", "mnist", "fashion_mnist")
    assert {k for k, v in D.DATASETS.items() if v.offline} >= {"digits", "shapes", "clutter"}
    assert all(k == v.name and v.title and v.description and callable(v.loader) for k, v in D.DATASETS.items())
    with pytest.raises(ConfigError) as info:
        D.load_dataset(DataConfig(name="imagenet"))
    assert "imagenet" in str(info.value) and all(k in str(info.value) for k in D.DATASETS)


def test_dataset_to_device_and_frozen():
    ds = D.load_dataset(DataConfig(name="shapes", limit=20))
    moved = ds.to("meta")
    assert moved is not ds and ds.x_train.device.type == "cpu"
    for f in ("x_train", "y_train", "x_test", "y_test", "mask_train", "mask_test"):
        assert getattr(moved, f).device.type == "meta"
    assert moved.classes == ds.classes and moved.mean == ds.mean
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.x_train = ds.x_test  # type: ignore[misc]
    x = torch.rand(2, 3, 32, 32)
    assert torch.allclose(ds.unstandardise(ds.standardise(x)), x, atol=1e-6)
