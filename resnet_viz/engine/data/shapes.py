"""The `shapes` generators: RGB images of one geometric shape each, with the shape's pixel mask.

make_shapes draws one shape on a plain textured background; make_cluttered_shapes hides one
target shape among smaller shapes of other classes and clutter. Pure numpy, vectorised over
images; `resnet_viz.engine.data` turns their arrays into the `shapes` and `clutter` datasets. The masks
let the app score where Grad-CAM looks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from resnet_viz.engine.config import ConfigError
from resnet_viz.i18n import N_

# Class names, also used as keys; marked for translation where a page shows them (`_(name)`).
SHAPE_CLASSES: tuple[str, ...] = (N_("circle"), N_("square"), N_("triangle"), N_("cross"), N_("ring"))
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


def _shape_masks(
    kinds: np.ndarray, cx: np.ndarray, cy: np.ndarray, theta: np.ndarray, radius: np.ndarray, size: int
) -> np.ndarray:
    """Pixel masks (m, size, size) bool of m shapes; every argument but `size` is (m,).

    kinds index SHAPE_CLASSES; (cx, cy) is the centre and radius the scale in pixels, theta the
    rotation in radians. A pixel belongs to a shape when its centre lies inside (no antialiasing).
    """
    # Pixel-centre grid in shape coordinates (rotate, then scale by the radius).
    pix = np.arange(size, dtype=np.float32) + 0.5  # (W,)
    dx = pix[None, None, :] - cx[:, None, None].astype(np.float32)  # (m, 1, W)
    dy = pix[None, :, None] - cy[:, None, None].astype(np.float32)  # (m, H, 1)
    cos = np.cos(theta).astype(np.float32)[:, None, None]
    sin = np.sin(theta).astype(np.float32)[:, None, None]
    inv_r = (1.0 / radius).astype(np.float32)[:, None, None]
    u = (cos * dx + sin * dy) * inv_r  # (m, H, W)
    v = (-sin * dx + cos * dy) * inv_r
    masks = np.empty((len(kinds), size, size), dtype=bool)
    for k in range(len(SHAPE_CLASSES)):  # a loop over 5 classes, each vectorised over its shapes
        sel = kinds == k
        masks[sel] = _inside(k, u[sel], v[sel])
    return masks


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

    masks = _shape_masks(labels, cx, cy, theta, radius, size)  # (n, H, W)
    # At tiny sizes (4-5 px) a small shape can miss every pixel centre; it keeps at least the pixel
    # under its centre, so every image has an object and every mask a non-zero area.
    empty = np.flatnonzero(~masks.any(axis=(1, 2)))
    masks[empty, cy[empty].astype(int), cx[empty].astype(int)] = True

    # Background texture: one soft plane wave per image (0.5..2 cycles), grey, so it never carries
    # the class, plus per-pixel noise over the whole image.
    pix = np.arange(size, dtype=np.float32) + 0.5  # (W,) pixel centres
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


# --------------------------------------------------------------------------------------------
# clutter: one target shape among smaller shapes of other classes, strokes and blobs

CLUTTER_SIZE = 64  # default side in pixels
CLUTTER_MIN_SIZE = 32  # below this the farthest corner may not fit a distractor beside the largest target
MAX_DISTRACTORS = 3
MAX_STROKES = 5
MAX_BLOBS = 3
_CANDIDATES = 32  # random positions tried per distractor, before the 4 corners that always leave room
_CHUNK = 256  # images rendered at once: keeps the (chunk, slots, H, W) temporaries near 20 MB


@dataclass(frozen=True, eq=False)
class _ClutterParts:
    """make_cluttered_shapes' arrays plus what the tests need to check where everything went."""

    images: np.ndarray  # (n, H, W, 3) float32 in [0, 1]
    labels: np.ndarray  # (n,) int64, the target's class
    masks: np.ndarray  # (n, H, W) bool, the target's pixels only
    distractor_kinds: np.ndarray  # (n, MAX_DISTRACTORS) int64 class of each distractor, -1 for an empty slot
    distractor_masks: np.ndarray  # (n, MAX_DISTRACTORS, H, W) bool, each distractor's full shape
    clutter_masks: np.ndarray  # (n, H, W) bool, pixels painted by strokes and blobs


def make_cluttered_shapes(
    n: int, size: int = CLUTTER_SIZE, seed: int | Sequence[int] = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Generate `n` RGB images of one target shape among clutter, with labels and the target's mask.

    Same contract as make_shapes: images (n, size, size, 3) float32 in [0, 1], labels (n,) int64
    indexing SHAPE_CLASSES (balanced), masks (n, size, size) bool covering the target and nothing
    else. Deterministic for a seed. `size` must be at least CLUTTER_MIN_SIZE.

    The target (radius 0.16-0.26 of the side, contrast >= 0.35 per channel to the background, as in
    make_shapes) is the largest shape; 1-3 distractors of *other* classes (0.30-0.55 of its radius,
    other colours) never touch its mask, nor do the thin strokes and small blobs over a two-colour
    striped background. Because a distractor is never of the label's class, "which shapes are
    missing" carries information too: a classifier can be right for the wrong reason, and a
    Grad-CAM map on a distractor shows it, scored against the mask.
    """
    parts = _cluttered_parts(n, size, seed)
    return parts.images, parts.labels, parts.masks


def _cluttered_parts(n: int, size: int, seed: int | Sequence[int], *, draw_clutter: bool = True) -> _ClutterParts:
    """make_cluttered_shapes with its bookkeeping. draw_clutter=False paints only background, target
    and noise, from the same random draws: the images then differ only where distractors or clutter
    were painted."""
    # One function on purpose: the random draws happen in this order, and a seed must keep giving the same
    # images.
    if n < 1 or size < CLUTTER_MIN_SIZE:
        raise ConfigError(f"make_cluttered_shapes needs n >= 1 and size >= {CLUTTER_MIN_SIZE}; got n={n}, size={size}")
    rng = np.random.default_rng(seed)
    k = len(SHAPE_CLASSES)
    labels = rng.permutation(np.arange(n) % k).astype(np.int64)  # (n,) balanced

    # Target geometry, as make_shapes but smaller, to leave room for the distractors.
    radius = rng.uniform(0.16, 0.26, n) * size  # (n,) pixels
    margin = 1.06 * radius + 0.5  # every shape fits in a disc of 1.06 radii (see _inside)
    cx = margin + rng.uniform(0.0, 1.0, n) * (size - 2 * margin)  # (n,)
    cy = margin + rng.uniform(0.0, 1.0, n) * (size - 2 * margin)
    theta = rng.uniform(-np.pi / 6, np.pi / 6, n)

    # Colours. Both background colours lie on the same side of the object's colour in each channel,
    # 0.35..0.65 away, so any mix of them (the stripes) keeps make_shapes' contrast guarantee.
    obj = rng.uniform(0.0, 1.0, (n, 3))  # (n, 3)
    up_ok, down_ok = obj <= 0.65, obj >= 0.35  # room for a 0.35 step up / down (at least one holds)
    side = np.where(up_ok & down_ok, rng.choice([-1.0, 1.0], (n, 3)), np.where(up_ok, 1.0, -1.0))
    room = np.minimum(np.where(side > 0, 1.0 - obj, obj), 0.65)  # (n, 3) largest step that stays in [0, 1]
    bg_a = obj + side * rng.uniform(0.35, room)
    bg_b = obj + side * rng.uniform(0.35, room)

    # Distractors: 1-3 per image, class drawn from the other four, at most 0.55 of the target's
    # radius, so even the smallest target (a triangle, 1.30 r^2) outsizes the largest distractor
    # (a circle, pi * 0.55^2 = 0.95 r^2); every colour channel 0.25..0.75 away from the target's.
    count = rng.integers(1, MAX_DISTRACTORS + 1, n)  # (n,)
    d_kind = (labels[:, None] + rng.integers(1, k, (n, MAX_DISTRACTORS))) % k  # (n, D), never the label
    d_radius = rng.uniform(0.30, 0.55, (n, MAX_DISTRACTORS)) * radius[:, None]
    d_theta = rng.uniform(-np.pi / 6, np.pi / 6, (n, MAX_DISTRACTORS))
    d_colour = np.mod(obj[:, None, :] + rng.uniform(0.25, 0.75, (n, MAX_DISTRACTORS, 3)), 1.0)
    d_margin = 1.06 * d_radius + 0.5  # (n, D)
    cand = rng.uniform(0.0, 1.0, (n, MAX_DISTRACTORS, _CANDIDATES, 2))
    corners = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    cand = np.concatenate([cand, np.broadcast_to(corners, (n, MAX_DISTRACTORS, 4, 2))], axis=2)
    cand = d_margin[..., None, None] + cand * (size - 2 * d_margin)[..., None, None]  # (n, D, C+4, 2) pixels
    d_centre, d_active = _place_distractors(cand, count, np.stack([cx, cy], -1), radius, d_radius)

    # Clutter: 2-5 thin strokes (1-2 px at 64x64) and 0-3 small blobs, anywhere but on the target.
    n_strokes = rng.integers(2, MAX_STROKES + 1, n)
    s_start = rng.uniform(0.0, size, (n, MAX_STROKES, 2))
    s_angle = rng.uniform(0.0, 2 * np.pi, (n, MAX_STROKES))
    s_len = rng.uniform(0.15, 0.45, (n, MAX_STROKES)) * size
    s_end = s_start + s_len[..., None] * np.stack([np.cos(s_angle), np.sin(s_angle)], -1)
    s_half = rng.uniform(0.008, 0.016, (n, MAX_STROKES)) * size  # half-width, pixels
    s_colour = rng.uniform(0.0, 1.0, (n, MAX_STROKES, 3))
    n_blobs = rng.integers(0, MAX_BLOBS + 1, n)
    b_centre = rng.uniform(0.0, size, (n, MAX_BLOBS, 2))
    b_radius = rng.uniform(0.02, 0.045, (n, MAX_BLOBS)) * size
    b_colour = rng.uniform(0.0, 1.0, (n, MAX_BLOBS, 3))

    # Stripes: a sharpened plane wave of 1.5-4 cycles per side at any angle mixes the two colours.
    cycles = rng.uniform(1.5, 4.0, n) * (2 * np.pi / size)
    w_angle = rng.uniform(0.0, np.pi, n)
    w_phase = rng.uniform(0.0, 2 * np.pi, n)
    w_sharp = rng.uniform(1.0, 4.0, n)  # 1: soft waves, 4: nearly hard-edged stripes

    images = np.empty((n, size, size, 3), dtype=np.float32)
    masks = np.empty((n, size, size), dtype=bool)
    d_masks = np.zeros((n, MAX_DISTRACTORS, size, size), dtype=bool)
    clutter = np.zeros((n, size, size), dtype=bool)
    pix = np.arange(size, dtype=np.float32) + 0.5  # (W,) pixel centres
    f32 = np.float32
    n_layers = MAX_STROKES + MAX_BLOBS + MAX_DISTRACTORS + 1  # painted in this order, later over earlier
    slots_s, slots_b = np.arange(MAX_STROKES), np.arange(MAX_BLOBS)
    # Chunks bound memory. All random draws above come first, whatever is drawn; only the pixel
    # noise is drawn per chunk, so the images depend on _CHUNK too (a constant).
    for lo in range(0, n, _CHUNK):
        s = slice(lo, min(lo + _CHUNK, n))
        c = s.stop - s.start
        mask = _shape_masks(labels[s], cx[s], cy[s], theta[s], radius[s], size)  # (c, H, W)
        masks[s] = mask
        keep_off = _dilate(mask)  # clutter stays a pixel clear of the target, so its outline stays clean

        # Only the slots in use are rendered (flattened to (c * slots,) and selected).
        strokes = _only_active(_segment_masks, slots_s < n_strokes[s, None], size, s_start[s], s_end[s], s_half[s])
        blobs = _only_active(_disc_masks, slots_b < n_blobs[s, None], size, b_centre[s], b_radius[s])
        dm = _only_active(
            _shape_masks, d_active[s], size, d_kind[s], d_centre[s, :, 0], d_centre[s, :, 1], d_theta[s], d_radius[s]
        )
        d_masks[s] = dm

        # Each pixel's top layer (0: background). Painting is then one gather per channel, not a
        # masked write per layer (12 of those on (c, H, W, 3) took 3x longer than all the rest).
        top = np.zeros((c, size, size), dtype=np.intp)
        if draw_clutter:
            marks = np.concatenate([strokes, blobs], axis=1) & ~keep_off[:, None]  # (c, S+B, H, W)
            clutter[s] = marks.any(axis=1)
            for j, layer in enumerate([*marks.transpose(1, 0, 2, 3), *dm.transpose(1, 0, 2, 3)]):
                top[layer] = j + 1
        top[mask] = n_layers
        covered = top > 0
        colours = np.concatenate([np.zeros((c, 1, 3)), s_colour[s], b_colour[s], d_colour[s], obj[s, None]], axis=1)
        flat = colours.astype(f32).reshape(c * (n_layers + 1), 3)  # row 0 of each image: unused
        top += (n_layers + 1) * np.arange(c)[:, None, None]  # index into `flat`

        # Background, channel first: (c, 3, H, W) keeps numpy's inner loops long (a trailing axis of
        # 3 made every array operation here several times slower).
        fx = (cycles[s] * np.cos(w_angle[s])).astype(f32)[:, None, None]
        fy = (cycles[s] * np.sin(w_angle[s])).astype(f32)[:, None, None]
        wave = np.sin(fx * pix[None, None, :] + fy * pix[None, :, None] + w_phase[s].astype(f32)[:, None, None])
        mix = 0.5 + 0.5 * np.tanh(w_sharp[s].astype(f32)[:, None, None] * wave)  # (c, H, W) in (0, 1)
        img = np.empty((c, 3, size, size), dtype=f32)
        for ch in range(3):
            lo_c, hi_c = bg_a[s, ch].astype(f32)[:, None, None], bg_b[s, ch].astype(f32)[:, None, None]
            img[:, ch] = np.where(covered, np.take(flat[:, ch], top), lo_c + mix * (hi_c - lo_c))

        # Uniform noise with std 0.03, as in make_shapes but fainter: the texture is busy already.
        noise = rng.random(img.shape, dtype=np.float32)
        img += (noise - 0.5) * f32(2 * 0.03 * np.sqrt(3.0))
        np.clip(img, 0.0, 1.0, out=img)
        images[s] = img.transpose(0, 2, 3, 1)  # (c, H, W, 3)

    return _ClutterParts(
        images=images,
        labels=labels,
        masks=masks,
        distractor_kinds=np.where(d_active, d_kind, -1).astype(np.int64),
        distractor_masks=d_masks,
        clutter_masks=clutter,
    )


def _only_active(render: Callable[..., np.ndarray], active: np.ndarray, size: int, *params: np.ndarray) -> np.ndarray:
    """Masks (c, slots, size, size) bool of the slots in use, all False elsewhere.

    active (c, slots) bool; each of params is (c, slots, ...) and reaches `render` flattened to the
    active slots, (m, ...), followed by `size`; render returns (m, size, size). Skipping the unused
    slots saves a third of the work.
    """
    out = np.zeros((*active.shape, size, size), dtype=bool)
    if active.any():
        out[active] = render(*(p[active] for p in params), size)
    return out


def _segment_masks(p0: np.ndarray, p1: np.ndarray, half: np.ndarray, size: int) -> np.ndarray:
    """Pixels within `half` of the segment p0-p1: p0, p1 (m, 2) and half (m,) in pixels -> (m, H, W) bool."""
    pix = np.arange(size, dtype=np.float32) + 0.5
    p0, e = p0.astype(np.float32), (p1 - p0).astype(np.float32)
    ex, ey = e[:, 0, None, None], e[:, 1, None, None]  # (m, 1, 1)
    inv_len2 = 1.0 / np.maximum(ex * ex + ey * ey, np.float32(1e-6))
    qx = pix[None, None, :] - p0[:, 0, None, None]  # (m, 1, W)
    qy = pix[None, :, None] - p0[:, 1, None, None]  # (m, H, 1)
    # Project each pixel centre onto the segment, clamp to its ends; in place where arrays are (m, H, W).
    t = np.clip(qx * (ex * inv_len2) + qy * (ey * inv_len2), 0.0, 1.0)  # (m, H, W)
    dist2 = np.subtract(qx, t * ex) ** 2
    t *= ey
    np.subtract(qy, t, out=t)
    t *= t
    dist2 += t
    return dist2 <= (half.astype(np.float32) ** 2)[:, None, None]


def _disc_masks(centre: np.ndarray, r: np.ndarray, size: int) -> np.ndarray:
    """Pixels within r of centre: centre (m, 2), r (m,) in pixels -> (m, H, W) bool."""
    pix = np.arange(size, dtype=np.float32) + 0.5
    dx2 = (pix[None, None, :] - centre[:, 0, None, None].astype(np.float32)) ** 2  # (m, 1, W)
    dy2 = (pix[None, :, None] - centre[:, 1, None, None].astype(np.float32)) ** 2  # (m, H, 1)
    return dx2 + dy2 <= (r.astype(np.float32) ** 2)[:, None, None]


def _place_distractors(
    cand: np.ndarray, count: np.ndarray, centre: np.ndarray, radius: np.ndarray, d_radius: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pick each distractor's centre: the first candidate whose bounding disc keeps a pixel clear of
    the target's and of the distractors already placed (rejection sampling, vectorised over images).

    cand (n, D, C, 2) candidate centres in pixels; count (n,) distractors wanted; centre (n, 2) and
    radius (n,) the target's; d_radius (n, D). Returns centres (n, D, 2) and active (n, D) bool. A
    slot with no free candidate stays empty; the first never does, because of the corners (the
    farthest corner from the target always has room when size >= CLUTTER_MIN_SIZE).
    """
    n, d = count.shape[0], cand.shape[1]
    rows = np.arange(n)
    centres = np.zeros((n, d, 2))
    active = np.zeros((n, d), dtype=bool)
    for j in range(d):  # a loop over 3 slots, each vectorised over images and candidates
        gap = 1.06 * (radius + d_radius[:, j]) + 1.0  # (n,) discs of 1.06 radii hold every shape
        ok = np.hypot(*np.moveaxis(cand[:, j] - centre[:, None, :], -1, 0)) >= gap[:, None]  # (n, C)
        for i in range(j):
            gap_i = 1.06 * (d_radius[:, i] + d_radius[:, j]) + 1.0
            far = np.hypot(*np.moveaxis(cand[:, j] - centres[:, i, None, :], -1, 0)) >= gap_i[:, None]
            ok &= far | ~active[:, i, None]
        first = np.argmax(ok, axis=1)  # (n,) index of the first free candidate (0 when none is)
        centres[:, j] = cand[rows, j, first]
        active[:, j] = ok[rows, first] & (j < count)
    return centres, active


def _dilate(mask: np.ndarray) -> np.ndarray:
    """(n, H, W) bool grown by one pixel in all 8 directions."""
    out = mask.copy()
    out[:, 1:] |= mask[:, :-1]
    out[:, :-1] |= mask[:, 1:]
    grown = out.copy()
    grown[:, :, 1:] |= out[:, :, :-1]
    grown[:, :, :-1] |= out[:, :, 1:]
    return grown
