"""Safe loading of user images and their preprocessing into model inputs (the saliency page).

An uploaded file is untrusted: it may not be an image, may be cut off, may be a decompression
bomb (a few KB of PNG that claims 10 gigapixels), or may be a valid image in a mode the models
cannot take (palette, CMYK, 16-bit, alpha). :func:`load_image` turns all of these into either an
RGB ``PIL.Image`` or an :class:`ImageError` whose message can be shown to the learner as is.

Pillow's global switches (``Image.MAX_IMAGE_PIXELS``, ``ImageFile.LOAD_TRUNCATED_IMAGES``) are
never touched: the app runs many sessions in one process, and the dataset loaders share them.

Preprocessing follows torchvision's ImageNet recipe (shorter side resized, centre crop, [0, 1],
standardise per channel), so the pretrained models see what they were evaluated on, and the
small models trained here get the same treatment with their own dataset's size and mean/std.
"""

from __future__ import annotations

import io
import os
import threading
import warnings
from collections.abc import Sequence
from typing import IO

import numpy as np
import torch
from PIL import Image, ImageOps

from resnet_viz.i18n import N_, _


class ImageError(ValueError):
    """A file that cannot be used as an image; the message says why, for the learner."""


# Decoded RGB costs 3 bytes a pixel, and conversion briefly holds two or three copies, so 40 MP is
# ~120 MB per image (~400 MB peak) - survivable on a small shared app server. It admits every
# ordinary photo (phones 12-24 MP, most cameras up to ~36 MP) and is well under Pillow's own
# warning threshold (~89 MP), while the models here look at 224 x 224 pixels at most: anything
# larger only costs memory and time, so the learner is asked to downscale first.
MAX_PIXELS = 40_000_000
MIN_SIDE = 8  # below this no model here can use it (the smallest dataset, digits, is 8 x 8)
MAX_UPLOAD_MB = 10  # same number as server.maxUploadSize in .streamlit/config.toml (a test checks they agree)

# Pillow format name -> name the learner knows. MPO is how Pillow reports the JPEGs many phone
# cameras write (a JPEG plus a second, preview/depth frame); the first frame is an ordinary JPEG.
_ACCEPTED: dict[str, str] = {"PNG": "PNG", "JPEG": "JPEG", "MPO": "JPEG", "WEBP": "WebP", "BMP": "BMP", "GIF": "GIF"}
ACCEPTED_FORMATS = N_("PNG, JPEG, WebP, BMP or GIF")  # for messages: show it as _(ACCEPTED_FORMATS)
ACCEPTED_EXTENSIONS = ("png", "jpg", "jpeg", "webp", "bmp", "gif")  # for st.file_uploader(type=...)

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # per-channel mean of ImageNet train pixels in [0, 1] (torchvision)
IMAGENET_STD = (0.229, 0.224, 0.225)

# warnings.catch_warnings swaps the process-wide filter list, which is not thread-safe, and
# Streamlit runs each session's script in its own thread: two overlapping uploads could restore
# each other's filters and leave DecompressionBombWarning turned into an error for the whole
# process. Loads are rare and short, so serialising them is the cheap fix.
_LOAD_LOCK = threading.Lock()

_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})


def load_image(
    data: bytes | bytearray | memoryview | str | os.PathLike[str] | IO[bytes],
    *,
    max_pixels: int = MAX_PIXELS,
    min_side: int = MIN_SIDE,
) -> Image.Image:
    """Decode an untrusted PNG/JPEG/WebP/BMP/GIF file into an RGB image, or raise ImageError.

    `data` is the file's bytes, a path, or a binary file object (e.g. Streamlit's UploadedFile).
    The first frame of an animation is used. EXIF orientation is applied, so a phone photo is
    upright as the learner sees it. Any pixel mode is converted with :func:`to_rgb`. No colour
    management is done: pixel values are used as stored (nearly all photos are sRGB already).

    The header's size is checked against `max_pixels` and `min_side` before any pixel is
    decoded, and the image is fully decoded here (``load()``), so a truncated file fails now
    rather than later inside a model.
    """
    # One function on purpose: each check below guards the next (size before decode, decode before mode), in
    # the order an untrusted file must meet them.
    source = _open_source(data)
    with _LOAD_LOCK, warnings.catch_warnings():
        # Pillow warns (not raises) between ~89 and ~179 MP; as an error it cannot slip past.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            opened = Image.open(source)
        except Image.UnidentifiedImageError as err:
            raise ImageError(
                _(
                    "This file is not an image that can be read: its contents match no image format "
                    "(renaming a file to .png does not make it one). Accepted formats: {formats}."
                ).format(formats=_(ACCEPTED_FORMATS))
            ) from err
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
            raise ImageError(_bomb(err, max_pixels)) from err
        except Exception as err:  # any parser failure on untrusted bytes is the file's fault
            raise ImageError(
                _(
                    "This file is damaged or truncated: it could not be read as an image ({reason}). "
                    "It may have been cut off while downloading or uploading; save it again and retry."
                ).format(reason=_reason(err))
            ) from err

        with opened:
            fmt = opened.format or "unknown"
            if fmt not in _ACCEPTED:
                raise ImageError(
                    _(
                        "This is a {format} image, which is not accepted here. Accepted formats: {formats}; "
                        "save it as PNG or JPEG and try again."
                    ).format(format=fmt, formats=_(ACCEPTED_FORMATS))
                )
            width, height = opened.size
            if width * height > max_pixels:
                raise ImageError(_too_many_pixels(width, height, max_pixels))
            if min(width, height) < min_side:
                raise ImageError(
                    _(
                        "The image is {width} x {height} pixels, too small: it needs at least {min_side} pixels "
                        "on each side (the smallest images any model here was trained on are {smallest} x "
                        "{smallest})."
                    ).format(width=width, height=height, min_side=min_side, smallest=MIN_SIDE)
                )
            try:
                opened.load()  # frame 0; raises on truncated or corrupt data (LOAD_TRUNCATED_IMAGES is False)
                return to_rgb(_upright(opened))
            except ImageError:
                raise
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
                raise ImageError(_bomb(err, max_pixels)) from err
            except MemoryError as err:
                raise ImageError(
                    _(
                        "The image ({width} x {height} pixels) does not fit in memory here; downscale it and try again."
                    ).format(width=f"{width:,}", height=f"{height:,}")
                ) from err
            except Exception as err:  # decoders raise OSError, SyntaxError, ValueError, struct.error...
                raise ImageError(
                    _(
                        "This {format} file is damaged or truncated: its pixels could not be decoded ({reason}). "
                        "It may have been cut off while downloading or uploading; save it again and retry."
                    ).format(format=_ACCEPTED[fmt], reason=_reason(err))
                ) from err


def _open_source(data: object) -> IO[bytes] | str:
    """What Image.open should read: a BytesIO over bytes, a path, or the file object itself."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        if len(data) == 0:
            raise ImageError(_("The file is empty (0 bytes): the upload or save did not finish."))
        return io.BytesIO(data)
    if isinstance(data, (str, os.PathLike)):
        path = os.fspath(data)
        try:
            size = os.path.getsize(path)
        except OSError as err:
            raise ImageError(_("Cannot read {path}: {reason}.").format(path=path, reason=err.strerror or err)) from err
        if size == 0:
            raise ImageError(_("The file {path} is empty (0 bytes): the save did not finish.").format(path=path))
        return path
    if hasattr(data, "read"):
        # An upload object is small (capped by MAX_UPLOAD_MB); reading it whole gives an empty check
        # and a seekable stream whatever the object supports.
        return _open_source(data.read())  # type: ignore[union-attr]
    raise TypeError(f"load_image takes bytes, a path or a binary file object, not {type(data).__name__}")


def _upright(img: Image.Image) -> Image.Image:
    """A copy of decoded `img` turned as its EXIF orientation says (phones store sensor-up pixels)."""
    try:
        return ImageOps.exif_transpose(img)
    except Exception:  # noqa: BLE001 - broken EXIF metadata is no reason to refuse good pixels
        return img.copy()


def _too_many_pixels(width: int, height: int, max_pixels: int) -> str:
    return _(
        "The image is {width} x {height} pixels ({megapixels} megapixels), above the limit of {limit} "
        "megapixels. The models here look at a few hundred pixels at most, so downscale it (or take a "
        "screenshot of it) and try again."
    ).format(
        width=f"{width:,}",
        height=f"{height:,}",
        megapixels=f"{width * height / 1e6:.3g}",
        limit=f"{max_pixels / 1e6:g}",
    )


def _bomb(err: BaseException, max_pixels: int) -> str:
    """A header that claims more pixels than Pillow will decode (its size unread)."""
    return _(
        "The image claims more pixels than Pillow will decode ({error}), above the limit of {limit} "
        "megapixels. The models here look at a few hundred pixels at most, so downscale it (or take a "
        "screenshot of it) and try again."
    ).format(error=err, limit=f"{max_pixels / 1e6:g}")


def _reason(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def to_rgb(img: Image.Image) -> Image.Image:
    """`img` as an 8-bit "RGB" image; returns `img` itself when it already is one.

    - Transparency (alpha modes, palette or colour-key transparency) is composited on white: the
      colour stored under a transparent pixel is arbitrary (often black), and white is what the
      learner sees behind the image on the page, so the model is shown the same picture rather
      than a cut-out object on an invisible black background that saliency would then highlight.
    - 16-bit grayscale ("I;16*", and "I" holding 16-bit data, as PNG gives) is scaled from
      0..65535 to 0..255; Pillow's own conversion clips at 255, which turns any pixel above
      0.4 % of full scale white.
    - "F" (float) follows Pillow's convention of 0..255 values, rounded and clipped.
    - CMYK, palette, "1", "L", YCbCr use Pillow's conversion (CMYK without ICC colour management).
    """
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in _SIXTEEN_BIT_MODES:
        a = np.asarray(img).astype(np.float64)  # (H, W); "I;16B" arrives big-endian, astype fixes it
        gray = np.rint(np.clip(a, 0, 65535) * (255.0 / 65535.0)).astype(np.uint8)
        return Image.fromarray(gray).convert("RGB")
    if mode == "F":
        gray = np.rint(np.clip(np.nan_to_num(np.asarray(img)), 0, 255)).astype(np.uint8)
        return Image.fromarray(gray).convert("RGB")
    try:
        if mode in _ALPHA_MODES or "transparency" in img.info:
            rgba = img.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            return Image.alpha_composite(white, rgba).convert("RGB")  # the "over" operator
        return img.convert("RGB")
    except ValueError as err:  # e.g. LAB/HSV, which Pillow cannot convert directly
        raise ImageError(
            _("Images in Pillow mode {mode} cannot be converted to RGB here ({error}).").format(
                mode=repr(mode), error=err
            )
        ) from err


# ------------------------------------------------------------------------------------------------
# Preprocessing


def _resize_and_crop(img: Image.Image, resize: int, crop: int) -> Image.Image:
    """Shorter side to `resize` (aspect kept), then the central crop x crop square.

    Matches torchvision's ``Resize(resize)`` + ``CenterCrop(crop)`` on PIL images pixel for pixel
    (same size arithmetic and rounding), so pretrained models get their evaluation preprocessing.
    Cropping, not squashing, keeps shapes undistorted; the cost is losing the long side's edges.
    PIL's bilinear filter widens its kernel when shrinking, i.e. it antialiases.
    """
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    if short != resize:
        new_long = int(resize * long / short)
        new_w, new_h = (resize, new_long) if w <= h else (new_long, resize)
        img = img.resize((new_w, new_h), Image.Resampling.BILINEAR)
        w, h = new_w, new_h
    top = round((h - crop) / 2.0)
    left = round((w - crop) / 2.0)
    return img.crop((left, top, left + crop, top + crop))


def _standardise(img: Image.Image, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """8-bit image -> (1, C, H, W) float32, (x / 255 - mean) / std per channel."""
    x = torch.from_numpy(np.array(img, dtype=np.uint8))  # (H, W) or (H, W, C)
    x = x.unsqueeze(-1) if x.ndim == 2 else x
    x = x.permute(2, 0, 1).float().div_(255.0)  # (C, H, W) in [0, 1]
    m = torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(-1, 1, 1)
    return ((x - m) / s).unsqueeze(0).contiguous()


def to_model_input(
    img: Image.Image, *, size: int, channels: int, mean: Sequence[float], std: Sequence[float]
) -> torch.Tensor:
    """A (1, channels, size, size) float32 tensor for a model trained on a dataset here.

    Shorter side resized to `size`, then centre-cropped to a square (see _resize_and_crop);
    grayscale via Pillow's "L" (ITU-R 601-2 luma, 0.299 R + 0.587 G + 0.114 B) when `channels`
    is 1; pixels scaled to [0, 1] and standardised with the dataset's per-channel `mean`/`std`
    (``Dataset.mean``/``Dataset.std``), exactly as the training images were.
    """
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    if len(mean) != channels or len(std) != channels:
        raise ValueError(f"mean and std need {channels} value(s) each, got {len(mean)} and {len(std)}")
    if any(s <= 0 for s in std):
        raise ValueError(f"std must be positive, got {tuple(std)}")
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    rgb = to_rgb(img)
    small = _resize_and_crop(rgb.convert("L") if channels == 1 else rgb, size, size)
    return _standardise(small, mean, std)


# ------------------------------------------------------------------------------------------------
# Samples and downloads


# The sample photos by their key (the name a select box keeps), each with its title, marked: show
# it with `sample_title(key)`, in the learner's language.
SAMPLE_TITLES: dict[str, str] = {
    "china (scikit-learn)": N_("china (scikit-learn)"),
    "flower (scikit-learn)": N_("flower (scikit-learn)"),
}


def sample_title(key: str) -> str:
    """The name a learner reads for sample photo `key` (a key of sample_images())."""
    return _(SAMPLE_TITLES[key]) if key in SAMPLE_TITLES else key


def sample_images() -> dict[str, Image.Image]:
    """Photos that need no upload or network: scikit-learn ships them (427 x 640 JPEGs)."""
    # Imported here: sklearn is slow to import and only this function needs it.
    from sklearn.datasets import load_sample_image

    return {
        f"{name} (scikit-learn)": Image.fromarray(load_sample_image(f"{name}.jpg")).convert("RGB")
        for name in ("china", "flower")
    }
