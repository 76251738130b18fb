"""The `shapes` generator: RGB images of one geometric shape each, with the shape's pixel mask.

Pure numpy, vectorised over images; `resnet_viz.data` turns its arrays into the `shapes` dataset.
The masks let the app score where Grad-CAM looks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .config import ConfigError

SHAPE_CLASSES: tuple[str, ...] = ("circle", "square", "triangle", "cross", "ring")
SHAPES_SIZE = 32  # default side in pixels


def _inside(kind: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Which points (u, v) lie inside the unit-sized shape SHAPE_CLASSES[kind]; u, v, result (n, H, W).

    Coordinates are in units of the shape's radius with v pointing down; every shape fits in a
    disc of radius 1.06, which is what placement in make_shapes assumes.
    """
    name = SHAPE_CLASSES[kind]
    if name in ("circle", "ring"):
        r2 = u * u + v * v
        return (r2 <= 1.0) & (r2 >= 0.55**2) if name == "ring" else r2 <= 1.0
    au, av = np.abs(u), np.abs(v)
    if name == "square":
        return np.maximum(au, av) <= 0.75
    if name == "triangle":
        return (v <= 0.5) & (v >= -1.0 + np.sqrt(3.0) * au)  # equilateral, apex up, inscribed in r=1
    if name == "cross":
        return ((au <= 0.3) & (av <= 1.0)) | ((av <= 0.3) & (au <= 1.0))
    raise AssertionError(name)


def make_shapes(
    n: int, size: int = SHAPES_SIZE, seed: int | Sequence[int] = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Generate `n` RGB images of one shape each, with labels and the shape's pixel mask.

    Returns images (n, size, size, 3) float32 in [0, 1], labels (n,) int64 indexing SHAPE_CLASSES
    (balanced: counts differ by at most 1), masks (n, size, size) bool. Deterministic for a seed
    (anything np.random.default_rng accepts).

    Everything but the class varies at random (position, size, rotation, colour, background
    texture and noise), so a classifier has to look at the outline: that is what Grad-CAM should
    then highlight, and the mask lets the app score it. Contrast is guaranteed (each colour channel
    of the object differs from the background by >= 0.35) so ResNet-20 learns it in a CPU minute.
    """
    if n < 1 or size < 4:
        raise ConfigError(f"make_shapes needs n >= 1 and size >= 4; got n={n}, size={size}")
    rng = np.random.default_rng(seed)
    k = len(SHAPE_CLASSES)
    labels = rng.permutation(np.arange(n) % k).astype(np.int64)  # (n,) balanced

    # Shape geometry, one value per image. Radius relative to the image so any size looks alike.
    radius = rng.uniform(0.22, 0.40, n) * size  # (n,) pixels
    margin = 1.06 * radius + 0.5  # keeps the whole shape (rotated square corners too) inside
    room = np.maximum(size - 2 * margin, 0.0)  # free play for the centre (0 only at tiny sizes)
    cx = margin + rng.uniform(0.0, 1.0, n) * room  # (n,)
    cy = margin + rng.uniform(0.0, 1.0, n) * room
    theta = rng.uniform(-np.pi / 6, np.pi / 6, n)  # rotation; +-30 deg never turns a square into a diamond

    # Colours: the background differs from the object by 0.35..0.65 in *every* channel.
    obj = rng.uniform(0.0, 1.0, (n, 3)).astype(np.float32)  # (n, 3)
    bg = np.mod(obj + rng.uniform(0.35, 0.65, (n, 3)), 1.0).astype(np.float32)

    # Pixel-centre grid in shape coordinates (rotate, then scale by the radius).
    pix = np.arange(size, dtype=np.float32) + 0.5  # (W,)
    dx = pix[None, None, :] - cx[:, None, None].astype(np.float32)  # (n, 1, W)
    dy = pix[None, :, None] - cy[:, None, None].astype(np.float32)  # (n, H, 1)
    cos = np.cos(theta).astype(np.float32)[:, None, None]
    sin = np.sin(theta).astype(np.float32)[:, None, None]
    inv_r = (1.0 / radius).astype(np.float32)[:, None, None]
    u = (cos * dx + sin * dy) * inv_r  # (n, H, W)
    v = (-sin * dx + cos * dy) * inv_r
    masks = np.empty((n, size, size), dtype=bool)
    for k in range(len(SHAPE_CLASSES)):  # a loop over 5 classes, each vectorised over its images
        sel = labels == k
        masks[sel] = _inside(k, u[sel], v[sel])
    # At tiny sizes (4-5 px) a small shape can miss every pixel centre; it keeps at least the pixel
    # under its centre, so every image has an object and every mask a non-zero area.
    empty = np.flatnonzero(~masks.any(axis=(1, 2)))
    masks[empty, cy[empty].astype(int), cx[empty].astype(int)] = True

    # Background texture: one soft plane wave per image (0.5..2 cycles), grey, so it never carries
    # the class, plus per-pixel noise over the whole image.
    freq = rng.uniform(0.5, 2.0, (n, 2)) * rng.choice([-1.0, 1.0], (n, 2)) * (2 * np.pi / size)
    freq = freq.astype(np.float32)
    phase = rng.uniform(0.0, 2 * np.pi, n).astype(np.float32)
    amp = rng.uniform(0.03, 0.12, n).astype(np.float32)
    wave = amp[:, None, None] * np.sin(
        freq[:, 0, None, None] * pix[None, None, :] + freq[:, 1, None, None] * pix[None, :, None] + phase[:, None, None]
    )  # (n, H, W)

    # bg + mask * (obj - bg): object colour inside the mask, background colour outside.
    images = bg[:, None, None, :] + masks[..., None] * (obj - bg)[:, None, None, :]  # (n, H, W, 3)
    images += wave[..., None]
    # Uniform noise with std 0.05 (half-width 0.05 * sqrt(3)): as good as Gaussian here, 3x faster to draw.
    noise = rng.random(images.shape, dtype=np.float32)
    images += (noise - 0.5) * np.float32(2 * 0.05 * np.sqrt(3.0))
    np.clip(images, 0.0, 1.0, out=images)
    return images.astype(np.float32, copy=False), labels, masks
