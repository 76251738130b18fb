"""resnet_viz.engine.data.images: untrusted files give RGB images or ImageError; preprocessing matches torchvision.

Every file is made here (Pillow, hand-written PNG chunks) in memory or in tmp_path: no network.
"""

from __future__ import annotations

import io
import struct
import threading
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

from resnet_viz.engine.data import images as IM
from resnet_viz.engine.data.images import ImageError, load_image

ROOT = Path(__file__).resolve().parents[1]


def _encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _noise(w: int, h: int, seed: int = 0, mode: str = "RGB") -> Image.Image:
    rng = np.random.default_rng(seed)
    shape = (h, w, 3) if mode == "RGB" else (h, w)
    return Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8))


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims width x height RGB pixels but whose IDAT holds 10 bytes.

    Decoding it would fail with "truncated", so a pixel-limit message proves nothing was decoded.
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b"")


def _pixel(img: Image.Image, xy: tuple[int, int]) -> np.ndarray:
    return np.asarray(img, dtype=np.int32)[xy[1], xy[0]]


def _pillow_globals() -> tuple:
    # Only the bomb warning's filters: importing e.g. scipy adds filters of its own.
    bomb_filters = [f for f in warnings.filters if f[2] is Image.DecompressionBombWarning]
    return Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES, bomb_filters


@pytest.fixture(autouse=True)
def _pillow_globals_untouched():
    """load_image must never change Pillow's process-wide switches or leave a warning filter behind."""
    before = _pillow_globals()
    yield
    assert _pillow_globals() == before
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


# ------------------------------------------------------------------------------------------------
# Bad inputs: ImageError (a ValueError) with the reason, never another exception


def test_image_error_is_a_value_error():
    assert issubclass(ImageError, ValueError)


def test_text_file_named_png(tmp_path: Path):
    path = tmp_path / "notes.png"
    path.write_text("these are my notes, not a picture\n")
    with pytest.raises(ImageError, match="not an image"):
        load_image(path)
    with pytest.raises(ImageError, match="not an image"):
        load_image(str(path))


def test_empty_file(tmp_path: Path):
    with pytest.raises(ImageError, match="empty"):
        load_image(b"")
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(ImageError, match="empty"):
        load_image(tmp_path / "empty.jpg")


def test_missing_path(tmp_path: Path):
    with pytest.raises(ImageError, match="Cannot read"):
        load_image(tmp_path / "nope.png")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_truncated_file(fmt: str):
    data = _encode(_noise(64, 48), fmt)
    with pytest.raises(ImageError, match="damaged or truncated"):
        load_image(data[: len(data) // 2])


def test_corrupt_png_data():
    data = bytearray(_encode(_noise(32, 32), "PNG"))
    data[len(data) // 2] ^= 0xFF  # inside IDAT: the chunk's CRC no longer matches
    with pytest.raises(ImageError, match="damaged"):
        load_image(bytes(data))


def test_too_small():
    with pytest.raises(ImageError, match=r"1 x 1 pixels, too small.*at least 8"):
        load_image(_encode(Image.new("RGB", (1, 1)), "PNG"))
    with pytest.raises(ImageError, match="too small"):
        load_image(_encode(Image.new("RGB", (100, 7)), "PNG"))
    assert load_image(_encode(Image.new("RGB", (8, 8)), "PNG")).size == (8, 8)


def test_too_many_pixels_by_argument():
    data = _encode(_noise(40, 30), "PNG")
    with pytest.raises(ImageError, match=r"40 x 30 pixels.*above the limit of 0.001 megapixels"):
        load_image(data, max_pixels=1000)
    assert load_image(data, max_pixels=1200).size == (40, 30)  # the limit is inclusive


@pytest.mark.parametrize(
    "width, height",
    [
        (8000, 6000),  # 48 MP: under Pillow's thresholds, our own header check must stop it
        (10000, 10000),  # 100 MP: Pillow only warns here; the warning must become the error
        (100000, 100000),  # 10 GP: Pillow raises DecompressionBombError inside Image.open
    ],
)
def test_decompression_bomb_header_is_rejected_before_decoding(width: int, height: int):
    data = _png_header_only(width, height)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ImageError, match="megapixels") as err:
            load_image(data)
    assert "truncated" not in str(err.value)  # nothing was decoded
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]


@pytest.mark.parametrize("fmt", ["TIFF", "ICO", "PPM"])
def test_format_not_accepted(fmt: str):
    with pytest.raises(ImageError, match=rf"{fmt} image.*not accepted.*PNG, JPEG, WebP, BMP or GIF"):
        load_image(_encode(_noise(32, 32), fmt))


def test_damaged_files_only_ever_raise_image_error():
    """Random truncations and byte flips of valid files: an RGB image or ImageError, nothing else."""
    rng = np.random.default_rng(0)
    sources = [_encode(_noise(24, 16, seed=1), fmt) for fmt in ("PNG", "JPEG", "GIF", "BMP", "WEBP")]
    outcomes = {"ok": 0, "error": 0}
    for data in sources:
        for _ in range(12):
            bad = bytearray(data)
            if rng.random() < 0.5:
                bad = bad[: int(rng.integers(1, len(bad)))]
            else:
                for i in rng.integers(0, len(bad), size=3):
                    bad[i] = int(rng.integers(0, 256))
            try:
                img = load_image(bytes(bad))
            except ImageError:
                outcomes["error"] += 1
            else:
                assert img.mode == "RGB"
                outcomes["ok"] += 1
    assert outcomes["error"] > 0


def test_bad_argument_type_is_a_programming_error():
    with pytest.raises(TypeError):
        load_image(12345)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------
# Unusual but valid files: all become RGB


def test_path_bytes_and_file_object_agree(tmp_path: Path):
    data = _encode(_noise(20, 10), "PNG")
    (tmp_path / "a.png").write_bytes(data)
    results = [load_image(data), load_image(tmp_path / "a.png"), load_image(io.BytesIO(data))]
    for img in results:
        assert img.mode == "RGB" and img.size == (20, 10)
        assert np.array_equal(np.asarray(img), np.asarray(results[0]))


def test_cmyk_jpeg():
    data = _encode(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG", quality=95)  # pure red in CMYK
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    img = load_image(data)
    assert img.mode == "RGB"
    assert np.abs(_pixel(img, (8, 8)) - [255, 0, 0]).max() <= 3


def test_rgba_png_is_composited_on_white():
    rgba = np.zeros((16, 16, 4), dtype=np.uint8)  # fully transparent *black*
    rgba[:, 8:] = (255, 0, 0, 255)  # right half opaque red
    rgba[0, 0] = (0, 0, 0, 128)  # half-transparent black over white: mid grey
    img = load_image(_encode(Image.fromarray(rgba), "PNG"))
    assert img.mode == "RGB"
    assert _pixel(img, (3, 5)).tolist() == [255, 255, 255]
    assert _pixel(img, (12, 5)).tolist() == [255, 0, 0]
    assert np.abs(_pixel(img, (0, 0)) - 127).max() <= 1  # 255 * (1 - 128/255)


def test_la_png_is_composited_on_white():
    la = Image.fromarray(np.dstack([np.full((8, 8), 40, np.uint8), np.zeros((8, 8), np.uint8)]), "LA")
    img = load_image(_encode(la, "PNG"))
    assert _pixel(img, (4, 4)).tolist() == [255, 255, 255]


def test_sixteen_bit_grayscale_png_is_scaled_not_clipped():
    a = np.zeros((8, 8), dtype=np.uint16)
    a[0, :3] = (65535, 32768, 257)
    data = _encode(Image.fromarray(a), "PNG")
    assert Image.open(io.BytesIO(data)).mode == "I;16"
    img = load_image(data)
    assert img.mode == "RGB"
    assert _pixel(img, (0, 0)).tolist() == [255, 255, 255]
    assert _pixel(img, (1, 0)).tolist() == [128, 128, 128]  # 32768 * 255 / 65535 = 127.5
    assert _pixel(img, (2, 0)).tolist() == [1, 1, 1]  # 257 is 1/255 of full scale, not white
    assert _pixel(img, (3, 0)).tolist() == [0, 0, 0]


def test_palette_png_with_and_without_transparency():
    p = Image.new("P", (16, 16), 1)
    p.putpalette([0, 0, 0, 0, 200, 0] + [0, 0, 0] * 254)
    p.paste(0, (0, 0, 8, 16))
    plain = load_image(_encode(p, "PNG"))
    assert plain.mode == "RGB"
    assert _pixel(plain, (2, 2)).tolist() == [0, 0, 0] and _pixel(plain, (12, 2)).tolist() == [0, 200, 0]
    keyed = load_image(_encode(p, "PNG", transparency=0))  # palette index 0 is transparent
    assert _pixel(keyed, (2, 2)).tolist() == [255, 255, 255] and _pixel(keyed, (12, 2)).tolist() == [0, 200, 0]


@pytest.mark.parametrize("fmt, extra", [("GIF", {"loop": 0}), ("WEBP", {"lossless": True})])
def test_animation_uses_first_frame(fmt: str, extra: dict):
    frames = [Image.new("RGB", (16, 16), c) for c in [(0, 200, 0), (255, 0, 0), (0, 0, 255)]]
    data = _encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, **extra)
    assert Image.open(io.BytesIO(data)).n_frames == 3
    img = load_image(data)
    assert img.mode == "RGB"
    assert np.abs(_pixel(img, (8, 8)) - [0, 200, 0]).max() <= 2


def test_mpo_phone_jpeg_is_accepted():
    frames = [Image.new("RGB", (16, 16), (0, 0, 200)), Image.new("RGB", (16, 16), (200, 0, 0))]
    data = _encode(frames[0], "MPO", save_all=True, append_images=frames[1:])
    assert Image.open(io.BytesIO(data)).format == "MPO"
    assert np.abs(_pixel(load_image(data), (8, 8)) - [0, 0, 200]).max() <= 3


@pytest.mark.parametrize(
    "orientation, marked_corner",
    [
        (6, "top-right"),  # "rotate 90 CW to display": the stored top-left ends up top-right
        (8, "bottom-left"),  # "rotate 90 CCW to display"
    ],
)
def test_exif_orientation_is_applied(orientation: int, marked_corner: str):
    stored = Image.new("RGB", (40, 20), (0, 0, 0))  # landscape as stored by the sensor
    stored.paste((255, 255, 255), (0, 0, 6, 6))  # marks the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation tag
    img = load_image(_encode(stored, "JPEG", exif=exif, quality=95))
    assert img.size == (20, 40)  # portrait once turned
    corners = {"top-left": (2, 2), "top-right": (17, 2), "bottom-left": (2, 37), "bottom-right": (17, 37)}
    bright = {name for name, xy in corners.items() if _pixel(img, xy).mean() > 128}
    assert bright == {marked_corner}


@pytest.mark.parametrize(
    "mode, fmt",
    [("RGB", "WEBP"), ("RGB", "BMP"), ("L", "PNG"), ("L", "JPEG"), ("1", "PNG"), ("1", "BMP"), ("P", "GIF")],
)
def test_common_formats_and_modes(mode: str, fmt: str):
    src = Image.new("RGB", (24, 16), (0, 0, 0))
    src.paste((255, 255, 255), (12, 0, 24, 16))  # right half white
    img = load_image(_encode(src.convert(mode), fmt))
    assert img.mode == "RGB" and img.size == (24, 16)
    assert _pixel(img, (4, 8)).max() <= 10 and _pixel(img, (20, 8)).min() >= 245


def test_to_rgb_float_and_32_bit_modes():
    f = Image.fromarray(np.array([[-5.0, 0.4, 127.6, 300.0]] * 2, dtype=np.float32))
    assert f.mode == "F"
    assert np.asarray(IM.to_rgb(f))[0, :, 0].tolist() == [0, 0, 128, 255]  # Pillow's 0..255 convention
    i32 = Image.fromarray(np.array([[0, 32768, 65535, 70000]] * 2, dtype=np.int32))
    assert i32.mode == "I"
    assert np.asarray(IM.to_rgb(i32))[0, :, 0].tolist() == [0, 128, 255, 255]
    rgb = Image.new("RGB", (2, 2))
    assert IM.to_rgb(rgb) is rgb


def test_concurrent_loads_are_correct():
    datas = [_encode(Image.new("RGB", (16, 16), (10 * k, 0, 0)), "PNG") for k in range(8)]
    results: dict[int, int] = {}

    def work(k: int) -> None:
        for _ in range(5):
            results[k] = int(_pixel(load_image(datas[k]), (0, 0))[0])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {k: 10 * k for k in range(8)}


# ------------------------------------------------------------------------------------------------
# Preprocessing


def test_to_model_input_shape_and_dtype():
    x = IM.to_model_input(_noise(50, 30), size=32, channels=3, mean=(0.5,) * 3, std=(0.25,) * 3)
    assert x.shape == (1, 3, 32, 32) and x.dtype == torch.float32


def test_to_model_input_standardises_exactly():
    img = Image.new("RGB", (60, 40), (200, 100, 50))
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.5)
    x = IM.to_model_input(img, size=16, channels=3, mean=mean, std=std)
    expected = [(200 / 255 - 0.5) / 0.2, (100 / 255 - 0.4) / 0.25, (50 / 255 - 0.3) / 0.5]
    assert torch.allclose(x[0], torch.tensor(expected).view(3, 1, 1).expand(3, 16, 16), atol=1e-6)


def test_to_model_input_one_channel_uses_itu_601_luma():
    img = Image.new("RGB", (20, 20), (200, 100, 50))
    x = IM.to_model_input(img, size=8, channels=1, mean=(0.45,), std=(0.2,))
    assert x.shape == (1, 1, 8, 8)
    luma = 124  # 0.299 * 200 + 0.587 * 100 + 0.114 * 50 = 124.2, as 8 bits
    assert torch.allclose(x, torch.full_like(x, (luma / 255 - 0.45) / 0.2), atol=1e-6)


def test_to_model_input_crops_the_centre_instead_of_squashing():
    img = Image.new("RGB", (60, 30), (255, 0, 0))  # thirds: red | green | blue
    img.paste((0, 255, 0), (20, 0, 40, 30))
    img.paste((0, 0, 255), (40, 0, 60, 30))
    x = IM.to_model_input(img, size=30, channels=3, mean=(0.0,) * 3, std=(1.0,) * 3)[0]  # (3, 30, 30)
    # The shorter side is already 30, so the crop is columns 15..44 of the original.
    assert x[:, 15, 0].tolist() == [1.0, 0.0, 0.0]
    assert x[:, 15, 15].tolist() == [0.0, 1.0, 0.0]
    assert x[:, 15, 29].tolist() == [0.0, 0.0, 1.0]


def test_to_model_input_rejects_bad_arguments():
    img = Image.new("RGB", (16, 16))
    with pytest.raises(ValueError, match="channels"):
        IM.to_model_input(img, size=8, channels=2, mean=(0, 0), std=(1, 1))
    with pytest.raises(ValueError, match="mean and std"):
        IM.to_model_input(img, size=8, channels=3, mean=(0.5,), std=(1, 1, 1))
    with pytest.raises(ValueError, match="std must be positive"):
        IM.to_model_input(img, size=8, channels=1, mean=(0.5,), std=(0.0,))


def test_to_model_input_matches_torchvision_pipeline():
    T = pytest.importorskip("torchvision.transforms.v2")
    img = _noise(97, 61, seed=3)
    mean, std = (0.3, 0.5, 0.7), (0.2, 0.3, 0.4)
    oracle = T.Compose(
        [
            T.Resize(32, interpolation=T.InterpolationMode.BILINEAR, antialias=True),
            T.CenterCrop(32),
            T.PILToTensor(),
            T.ToDtype(torch.float32, scale=True),
            T.Normalize(mean, std),
        ]
    )
    x = IM.to_model_input(img, size=32, channels=3, mean=mean, std=std)
    torch.testing.assert_close(x, oracle(img).unsqueeze(0), atol=1e-5, rtol=0)


# ------------------------------------------------------------------------------------------------
# Samples, downloads, config


def test_sample_images():
    samples = IM.sample_images()
    assert set(samples) == {"china (scikit-learn)", "flower (scikit-learn)"}
    for img in samples.values():
        assert img.mode == "RGB" and img.size == (640, 427)  # (W, H): 427 rows x 640 columns


def test_upload_limit_matches_streamlit_config():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the same parser as a package
        tomllib = pytest.importorskip("tomli")
    with open(ROOT / ".streamlit" / "config.toml", "rb") as f:
        config = tomllib.load(f)
    assert config["server"]["maxUploadSize"] == IM.MAX_UPLOAD_MB
