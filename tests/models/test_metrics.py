"""The metrics module against scikit-image and plain numpy on random images."""

from __future__ import annotations

import numpy as np
import pytest

from keras_hdl import metrics
from keras_hdl.errors import InputError

skimage_metrics = pytest.importorskip("skimage.metrics")


@pytest.fixture
def pair(rng):
    target = rng.uniform(-1, 1, (3, 40, 48))
    prediction = np.clip(target + rng.normal(0, 0.1, target.shape), -1, 1)
    return prediction, target


def test_mse_matches_skimage(pair):
    prediction, target = pair
    expected = [skimage_metrics.mean_squared_error(t, p) for p, t in zip(prediction, target, strict=True)]
    np.testing.assert_allclose(metrics.mse(prediction, target), expected, rtol=1e-12)


def test_region_mse_is_the_mean_over_the_region_only(pair, rng):
    prediction, target = pair
    region = rng.random(target.shape) > 0.7
    expected = [np.mean((p[r] - t[r]) ** 2) for p, t, r in zip(prediction, target, region, strict=True)]
    np.testing.assert_allclose(metrics.region_mse(prediction, target, region), expected, rtol=1e-12)
    assert np.isnan(metrics.region_mse(prediction[0], target[0], np.zeros_like(region[0])))


def test_psnr_with_data_range_2_matches_skimage(pair):
    prediction, target = pair
    expected = [
        skimage_metrics.peak_signal_noise_ratio(t, p, data_range=2) for p, t in zip(prediction, target, strict=True)
    ]
    np.testing.assert_allclose(metrics.psnr(prediction, target), expected, rtol=1e-12)


def test_paper_compatible_psnr_uses_peak_255(pair):
    prediction, target = pair
    expected = [10 * np.log10(255**2 / np.mean((p - t) ** 2)) for p, t in zip(prediction, target, strict=True)]
    paper = metrics.psnr_paper_compatible(prediction, target)
    np.testing.assert_allclose(paper, expected, rtol=1e-12)
    np.testing.assert_allclose(paper - metrics.psnr(prediction, target), 20 * np.log10(255 / 2))  # ≈ 42.1 dB


def test_ssim_matches_skimage_gaussian_window(pair):
    prediction, target = pair
    expected = [
        skimage_metrics.structural_similarity(
            t, p, data_range=2, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
        )
        for p, t in zip(prediction, target, strict=True)
    ]
    np.testing.assert_allclose(metrics.ssim(prediction, target), expected, rtol=1e-9)
    assert metrics.ssim(target[0], target[0]) == pytest.approx(1.0)


def test_ssim_rejects_images_smaller_than_its_window():
    with pytest.raises(InputError, match="11×11"):
        metrics.ssim(np.zeros((8, 8)), np.zeros((8, 8)))


def test_dice_on_thresholded_masks(rng):
    prediction = rng.random((4, 16, 16))
    target = rng.random((4, 16, 16))
    p, t = prediction > 0.5, target > 0.5
    expected = 2 * (p & t).sum(axis=(1, 2)) / (p.sum(axis=(1, 2)) + t.sum(axis=(1, 2)))
    np.testing.assert_allclose(metrics.dice(prediction, target), expected)
    assert metrics.dice(np.zeros((4, 4)), np.zeros((4, 4))) == 1.0
    assert metrics.dice(np.ones((4, 4)), np.zeros((4, 4))) == 0.0
