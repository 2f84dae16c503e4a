"""Image metrics of docs/design.md §4, in numpy: used by training reports, evaluation and tests.

Every metric takes images (..., H, W) normalised to [−1, 1] and returns one value per
image, shape (...) (a 0-d array for a single image); put channels in front of H, W
(e.g. phase (3, H, W)) to score each channel. Regions and masks are (..., H, W).

- ``mse``; ``region_mse`` (MSE_W1 / MSE_W2: the squared error averaged over the
  region's pixels only, NaN where the region is empty).
- ``psnr`` with data range 2 (the correct figure for [−1, 1] data) and
  ``psnr_paper_compatible`` with peak 255, as in the paper's tables (about 42 dB higher).
- ``ssim``: Gaussian-window SSIM (σ = 1.5, 11×11, Wang et al. 2004) with data range 2.
- ``dice`` on masks thresholded at 0.5.

The regions: ω1 = :func:`lv_region` (the myocardium mask dilated by a few pixels, the
padded LV region); ω2 = :func:`foreground_region` (normalised magnitude > −0.95).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from keras_hdl.errors import InputError

FOREGROUND_THRESHOLD = -0.95  # normalised magnitude above which a pixel is not background (paper)
LV_PADDING_PX = 4  # default dilation of the myocardium mask that makes the ω1 region, pixels
DATA_RANGE = 2.0  # width of [−1, 1]
PAPER_PEAK = 255.0  # the paper's PSNR peak on [−1, 1] data ("paper-compatible")
MASK_THRESHOLD = 0.5
"""Mask probability above which a pixel is myocardium: metrics, losses, crops and twins alike."""
SSIM_SIGMA = 1.5
SSIM_TRUNCATE = 3.5  # window radius int(3.5 · 1.5 + 0.5) = 5 pixels: an 11×11 window
SSIM_K1, SSIM_K2 = 0.01, 0.03


def _image_axes(array: np.ndarray) -> tuple[int, int]:
    if array.ndim < 2:
        raise InputError(f"images need at least two axes (..., H, W), got shape {array.shape}")
    return (-2, -1)


def lv_region(mask: np.ndarray, padding_px: int = LV_PADDING_PX) -> np.ndarray:
    """ω1: the myocardium mask (> 0.5) dilated by ``padding_px`` pixels (square element); bool (..., H, W)."""
    binary = np.asarray(mask) > MASK_THRESHOLD
    if padding_px == 0:
        return binary
    size = (1,) * (binary.ndim - 2) + (2 * padding_px + 1,) * 2
    return ndimage.maximum_filter(binary, size=size, mode="constant", cval=False)


def foreground_region(magnitude: np.ndarray, threshold: float = FOREGROUND_THRESHOLD) -> np.ndarray:
    """ω2: pixels whose normalised magnitude is above ``threshold``; bool (..., H, W)."""
    return np.asarray(magnitude) > threshold


def mse(prediction: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Mean squared error per image: (..., H, W) → (...)."""
    error = np.asarray(prediction, np.float64) - np.asarray(target, np.float64)
    return np.mean(error**2, axis=_image_axes(error))


def region_mse(prediction: np.ndarray, target: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Squared error averaged over the region's pixels (MSE_W1, MSE_W2): (..., H, W) → (...), NaN if empty."""
    error = (np.asarray(prediction, np.float64) - np.asarray(target, np.float64)) ** 2
    region = np.broadcast_to(np.asarray(region, bool), error.shape)
    count = region.sum(axis=_image_axes(error))
    total = np.where(region, error, 0.0).sum(axis=_image_axes(error))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def psnr(prediction: np.ndarray, target: np.ndarray, data_range: float = DATA_RANGE) -> np.ndarray:
    """Peak signal-to-noise ratio in dB, 10·log10(data_range² / MSE); +inf for identical images."""
    error = mse(prediction, target)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(data_range**2 / error)


def psnr_paper_compatible(prediction: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Paper-compatible PSNR: peak 255 on [−1, 1] data, as the paper's tables (≈ 42 dB above :func:`psnr`)."""
    return psnr(prediction, target, data_range=PAPER_PEAK)


def ssim(prediction: np.ndarray, target: np.ndarray, data_range: float = DATA_RANGE) -> np.ndarray:
    """Mean structural similarity per image (Gaussian window σ = 1.5, 11×11, borders of 5 px excluded).

    Matches ``skimage.metrics.structural_similarity(..., data_range=2, gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False)``. Images must be at least 11×11.
    """
    x = np.asarray(prediction, np.float64)
    y = np.asarray(target, np.float64)
    radius = int(SSIM_TRUNCATE * SSIM_SIGMA + 0.5)
    if min(x.shape[-2:]) < 2 * radius + 1:
        raise InputError(f"SSIM needs images of at least {2 * radius + 1}×{2 * radius + 1} pixels, got {x.shape}")
    sigma = (0,) * (x.ndim - 2) + (SSIM_SIGMA, SSIM_SIGMA)

    def local_mean(image):
        return ndimage.gaussian_filter(image, sigma=sigma, truncate=SSIM_TRUNCATE, mode="reflect")

    mean_x, mean_y = local_mean(x), local_mean(y)
    var_x = local_mean(x * x) - mean_x**2
    var_y = local_mean(y * y) - mean_y**2
    cov_xy = local_mean(x * y) - mean_x * mean_y
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    ssim_map = ((2 * mean_x * mean_y + c1) * (2 * cov_xy + c2)) / ((mean_x**2 + mean_y**2 + c1) * (var_x + var_y + c2))
    return ssim_map[..., radius:-radius, radius:-radius].mean(axis=(-2, -1))


def dice(prediction: np.ndarray, target: np.ndarray, threshold: float = MASK_THRESHOLD) -> np.ndarray:
    """Dice overlap of masks thresholded at ``threshold``: (..., H, W) → (...); 1 when both are empty."""
    predicted = np.asarray(prediction) > threshold
    actual = np.asarray(target) > threshold
    axes = _image_axes(predicted)
    overlap = np.logical_and(predicted, actual).sum(axis=axes)
    total = predicted.sum(axis=axes) + actual.sum(axis=axes)
    return np.where(total > 0, 2.0 * overlap / np.maximum(total, 1), 1.0)


def image_figures(predicted: np.ndarray, target: np.ndarray, w1: np.ndarray, w2: np.ndarray) -> dict[str, np.ndarray]:
    """Every figure above per image of (N, H, W) images in [−1, 1], with the ω1 / ω2 regions (N, H, W) bool.

    Training validation and the evaluation tables score with this one function.
    """
    return {
        "MSE": mse(predicted, target),
        "MSE_W1": region_mse(predicted, target, w1),
        "MSE_W2": region_mse(predicted, target, w2),
        "PSNR_dB": psnr(predicted, target),
        "PSNR_paper_dB": psnr_paper_compatible(predicted, target),
        "SSIM": ssim(predicted, target),
    }


def per_direction(images) -> np.ndarray:
    """(B, H, W, C) → (B·C, H, W): each channel (phase direction) as its own image."""
    images = np.asarray(images)
    return np.moveaxis(images, -1, 1).reshape(-1, *images.shape[1:3])
