"""The circles experiment's data: its sizes (the ``configs/experiments/circles.yaml`` presets), the two
tasks' image pairs, and the texture measures (module docstring of :mod:`keras_hdl.evaluation.circles`).

numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from importlib import resources

import numpy as np
import yaml

from keras_hdl.config import check_keys
from keras_hdl.errors import InputError

CIRCLES_PRESETS = ("experiments", "circles.yaml")
"""Where the experiment's presets live inside ``keras_hdl.configs`` (beside the model presets)."""

TASKS = ("shape_changing", "texture_painting")
TEXTURES = ("circle_texture", "background_texture")
RNG_STREAMS = ("train", "test", "batches")  # independent numpy streams per (seed, task)

CIRCLE_LEVELS = (-0.45, -0.15, 0.15, 0.45)  # grey level of circle i (in quadrant i, row-major)
BACKGROUND_LEVEL = -0.8
BACKGROUND_NOISE = 0.05  # std of the background's Gaussian noise (normalised intensity)
TEXTURE_NOISE = 0.15  # std of the texture painted into the target circles
SHAPE_RADIUS_FRACTIONS = (0.15, 0.25)  # input radius range, fraction of the quadrant (the grown circle must fit)
TEXTURE_RADIUS_FRACTIONS = (0.25, 0.4)  # larger circles: room for texture
SHAPE_GROWTH = 1.5  # target radius / input radius
SHAPE_SHIFT_FRACTION = 0.125  # target centre − input centre, along rows and columns, fraction of the quadrant
MARGIN_PX = 1.0  # gap between a circle and its quadrant's border, pixels
TEXTURE_EDGE_PX = 1.5  # circles shrink by this before their texture is measured, pixels


@dataclass(frozen=True)
class CirclesSettings:
    """Sizes of one preset (``configs/experiments/circles.yaml``).

    image_size: pixels per side (a multiple of 16, the PatchGAN's stride).
    train_images / test_images: pairs per task. steps / batch_size: optimisation steps, images per step.
    widths / recurrence: the generator R2UNet. discriminator_width: the PatchGAN's base width.
    learning_rate, beta_1: Adam, both networks. l1_weight: λ of the GAN's L1 term (pix2pix: 100).
    """

    image_size: int
    train_images: int
    test_images: int
    steps: int
    batch_size: int
    widths: tuple[int, ...]
    recurrence: int
    discriminator_width: int
    learning_rate: float
    beta_1: float
    l1_weight: float


@dataclass(frozen=True)
class CirclePairs:
    """Input and target images of one task, with the circles drawn in each.

    inputs, targets: (N, H, W) float32 in [−1, 1].
    input_circles, target_circles: (N, 4, 3) float64 rows (centre row, centre column, radius), pixels;
    pixel (i, j) has its centre at (i, j) and lies in a circle when its centre does.
    """

    inputs: np.ndarray
    targets: np.ndarray
    input_circles: np.ndarray
    target_circles: np.ndarray


def circles_presets() -> dict[str, CirclesSettings]:
    """Every preset of the experiment, by name, from ``configs/experiments/circles.yaml`` (every key checked)."""
    where = "/".join(CIRCLES_PRESETS)
    data = yaml.safe_load(resources.files("keras_hdl.configs").joinpath(*CIRCLES_PRESETS).read_text())
    names = [field.name for field in fields(CirclesSettings)]
    presets = {}
    for name, values in data.items():
        check_keys(values, names, f"{where}: {name}")
        missing = [key for key in names if key not in values]
        if missing:
            raise InputError(f"{where}: {name} lacks {', '.join(missing)}")
        presets[name] = CirclesSettings(**{**values, "widths": tuple(values["widths"])})
    return presets


def settings_for(preset: str) -> CirclesSettings:
    """The sizes of ``preset``; an unknown name is an :class:`InputError` naming the known ones."""
    presets = circles_presets()
    if preset not in presets:
        raise InputError(f"circles experiment: unknown preset {preset!r}; use one of {sorted(presets)}")
    return presets[preset]


def circle_masks(circles: np.ndarray, image_size: int) -> np.ndarray:
    """Pixels inside each circle: circles (..., 3) rows (row, column, radius) px → bool (..., H, W)."""
    coordinates = np.arange(image_size, dtype=np.float64)
    rows = coordinates[:, None] - circles[..., 0, None, None]
    columns = coordinates[None, :] - circles[..., 1, None, None]
    return rows**2 + columns**2 <= circles[..., 2, None, None] ** 2


def paint_circles(background: np.ndarray, circles: np.ndarray, fill: np.ndarray | None = None) -> np.ndarray:
    """Draw circle i of every image with level ``CIRCLE_LEVELS[i]`` (+ ``fill``) over ``background``.

    background (N, H, W); circles (N, 4, 3); fill: optional (N, H, W) added inside the circles
    (the texture). Returns float32 (N, H, W) clipped to [−1, 1].
    """
    masks = circle_masks(circles, background.shape[-1])
    levels = np.asarray(CIRCLE_LEVELS)[None, :, None, None]
    inside = masks.any(axis=1)
    circle_level = np.sum(np.where(masks, levels, 0.0), axis=1)  # circles do not overlap
    if fill is not None:
        circle_level = circle_level + fill
    return np.clip(np.where(inside, circle_level, background), -1.0, 1.0).astype(np.float32)


def _random_circles(
    count: int,
    image_size: int,
    radius_fractions: tuple[float, float],
    growth: float,
    shift_px: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Four circles per image, circle i inside quadrant i: (count, 4, 3) rows (row, column, radius) px.

    Radii are uniform in ``radius_fractions`` × the quadrant size.
    Centres leave room for the circle grown by ``growth`` and moved by ``shift_px`` down and right
    (the shape-changing target) inside the same quadrant; growth 1 and shift 0 for the circle alone.
    """
    quadrant = image_size / 2
    radii = rng.uniform(*radius_fractions, size=(count, 4)) * quadrant
    origins = np.array([(0, 0), (0, 1), (1, 0), (1, 1)], dtype=np.float64) * quadrant  # quadrant corners (4, 2)
    low = origins[None] + (radii + MARGIN_PX)[..., None]
    high = origins[None] + quadrant - MARGIN_PX - (growth * radii + shift_px)[..., None]
    centres = low + rng.uniform(size=(count, 4, 2)) * (high - low)
    return np.concatenate([centres, radii[..., None]], axis=-1)


def rng_of(seed: int, task: str, stream: str) -> np.random.Generator:
    """The numpy RNG of one (seed, task, stream): train data, test data or the training batches."""
    return np.random.default_rng([seed, TASKS.index(task), RNG_STREAMS.index(stream)])


def make_pairs(task: str, count: int, image_size: int, seed: int, split: str = "train") -> CirclePairs:
    """``count`` (input, target) pairs of ``task`` at ``image_size`` px, reproducible from (seed, task, split).

    ``split`` is "train" or "test" (independent random streams).
    """
    if split not in ("train", "test"):
        raise InputError(f"circles experiment: unknown split {split!r}; use 'train' or 'test'")
    if task not in TASKS:
        raise InputError(f"circles experiment: unknown task {task!r}; use one of {list(TASKS)}")
    rng = rng_of(seed, task, split)
    shape = (count, image_size, image_size)
    background = BACKGROUND_LEVEL + BACKGROUND_NOISE * rng.standard_normal(shape)
    if task == "shape_changing":
        shift = SHAPE_SHIFT_FRACTION * image_size / 2
        circles = _random_circles(count, image_size, SHAPE_RADIUS_FRACTIONS, SHAPE_GROWTH, shift, rng)
        target_circles = circles * [1.0, 1.0, SHAPE_GROWTH] + [shift, shift, 0.0]
        return CirclePairs(
            paint_circles(background, circles), paint_circles(background, target_circles), circles, target_circles
        )
    circles = _random_circles(count, image_size, TEXTURE_RADIUS_FRACTIONS, 1.0, 0.0, rng)
    target_background = BACKGROUND_LEVEL + BACKGROUND_NOISE * rng.standard_normal(shape)
    texture = TEXTURE_NOISE * rng.standard_normal(shape)
    targets = paint_circles(target_background, circles, fill=texture)
    return CirclePairs(paint_circles(background, circles), targets, circles, circles)


def _pooled_region_std(images: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """Std of the pixels about their own region's mean, pooled over the regions: (N,H,W), (N,R,H,W) → (N,)."""
    images = np.asarray(images, np.float64)[:, None]
    counts = regions.sum(axis=(-2, -1))
    means = np.where(regions, images, 0.0).sum(axis=(-2, -1)) / np.maximum(counts, 1)
    squares = np.where(regions, (images - means[..., None, None]) ** 2, 0.0).sum(axis=(-2, -1))
    return np.sqrt(squares.sum(axis=1) / counts.sum(axis=1))


def _with_radius_change(circles: np.ndarray, change_px: float) -> np.ndarray:
    return circles + np.array([0.0, 0.0, change_px])


def circle_texture(images: np.ndarray, circles: np.ndarray) -> np.ndarray:
    """Texture inside the circles: std of the pixels about their circle's mean, pooled over the circles.

    images (N, H, W); circles (N, 4, 3) rows (row, column, radius) px, shrunk by ``TEXTURE_EDGE_PX``
    so that blurred edges do not count. Returns (N,) in normalised intensity (the texture-painting
    ground truth: about ``TEXTURE_NOISE``; flat circles: 0).
    """
    return _pooled_region_std(images, circle_masks(_with_radius_change(circles, -TEXTURE_EDGE_PX), images.shape[-1]))


def background_texture(images: np.ndarray, circles: np.ndarray) -> np.ndarray:
    """Std of the background pixels (outside the circles grown by ``TEXTURE_EDGE_PX``): (N, H, W) → (N,).

    The ground truth's is about ``BACKGROUND_NOISE``; a smooth background gives 0.
    """
    grown = circle_masks(_with_radius_change(circles, TEXTURE_EDGE_PX), images.shape[-1])
    return _pooled_region_std(images, ~grown.any(axis=1, keepdims=True))
