"""Automatic LV myocardium segmentation against the phantom's true masks, on held-out scans made to differ."""

from __future__ import annotations

import numpy as np
import pytest

from keras_hdl.benchmarks.segmentation import (
    VARIANTS,
    compare_with_truth,
    dice_per_frame,
    variant_scan,
    worst_decile,
)
from keras_hdl.errors import InputError
from keras_hdl.phantom.truth import TISSUE_CODES
from keras_hdl.segmentation import LOW_CONFIDENCE, segment_series
from keras_hdl.segmentation.contours import convex_radii
from keras_hdl.segmentation.segment import check_slices
from keras_hdl.series import Series


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_meets_the_targets_on_held_out_scans(segmented, variant):
    """DICE ≥ 0.85 per frame on average and ≥ 0.75 on the worst decile; curves r ≥ 0.98; PSV/PDV within 12 %.

    On this coarse grid (2.34 mm pixels: an apical wall is 3 pixels thick) each slice's
    PSV/PDV stay within 12 %; the issue's 10 % holds at the benchmark's 256² (about 5 %,
    checked by the slow test below).
    """
    series, _, segmentation = segmented(variant)
    agreement = compare_with_truth(series, segmentation)
    assert agreement.dice.mean() >= 0.85
    assert worst_decile(agreement.dice) >= 0.75
    assert agreement.pearson.min() >= 0.98
    assert agreement.peak_errors.max() <= 0.12


@pytest.mark.slow
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_meets_the_targets_at_full_resolution(variant):
    """The issue's targets in the benchmark's setting: 256² (1.17 mm pixels; 0.625 mm for the small field of
    view), base, mid and apex, 50 frames."""
    series, _ = variant_scan(variant, 1)
    agreement = compare_with_truth(series, segment_series(series))
    assert agreement.dice.mean() >= 0.85
    assert worst_decile(agreement.dice) >= 0.75
    assert agreement.pearson.min() >= 0.98
    assert agreement.peak_errors.max() <= 0.10


def test_papillary_muscles_stay_in_the_cavity(segmented):
    _, truth, segmentation = segmented("phantom")
    papillary = truth.tissue_labels == TISSUE_CODES["papillary"]
    blood = truth.tissue_labels == TISSUE_CODES["lv_blood"]
    assert papillary.sum() > 1000  # the phantom draws them
    assert (segmentation.masks & papillary).sum() / papillary.sum() < 0.02
    assert (segmentation.masks & blood).sum() / segmentation.masks.sum() < 0.1


def test_end_diastole_and_end_systole_are_the_largest_and_smallest_cavities(segmented):
    series, truth, segmentation = segmented("phantom")
    # The phantom's endocardial radius is largest at frame 0 (R wave) and smallest at end systole.
    for s in range(series.num_slices):
        radius = truth.endo_radius_mm[s]
        assert radius[segmentation.end_diastole[s]] >= radius.max() - 0.5
        assert radius[segmentation.end_systole[s]] <= radius.min() + 0.5


def test_a_cycle_that_starts_in_systole_is_segmented_alike(segmented):
    """The LV is found on the frames' maximum, not on frame 0: a series need not start at end diastole."""
    series, _, segmentation = segmented("phantom")
    shift = 17  # end systole first
    rolled = series.replace(
        magnitude=np.roll(series.magnitude, -shift, axis=0),
        phase=np.roll(series.phase, -shift, axis=0),
        masks=np.roll(series.masks, -shift, axis=0),
    )
    again = segment_series(rolled)
    assert dice_per_frame(again.masks, rolled.masks).mean() >= 0.85
    assert dice_per_frame(again.masks, np.roll(segmentation.masks, -shift, axis=0)).mean() >= 0.97
    np.testing.assert_array_equal(again.end_systole, (segmentation.end_systole - shift) % series.num_frames)


def test_the_kept_frames_of_a_low_frame_rate_series_are_segmented_too(segmented):
    """What `synthesize` gets at K = 6: frames 0, 7, …, 49, with the masks to be found on them."""
    series, _, _ = segmented("phantom")
    kept = np.arange(0, series.num_frames, 7)
    low = series.replace(magnitude=series.magnitude[kept], phase=None, masks=series.masks[kept])
    assert dice_per_frame(segment_series(low).masks, low.masks).mean() >= 0.85


def test_a_corrupted_frame_is_named_as_low_confidence(segmented):
    series, _, clean = segmented("phantom")
    magnitude = series.magnitude.copy()
    rng = np.random.default_rng(0)
    magnitude[20, 0] = rng.uniform(0, magnitude[20, 0].max(), magnitude.shape[2:])  # a frame of pure noise
    segmentation = segment_series(series.replace(magnitude=magnitude), slices=[0])
    assert segmentation.confidence[20, 0] < LOW_CONFIDENCE
    assert segmentation.least_confident_frame(0) == 20
    assert (0, 20) in segmentation.low_confidence_frames
    assert clean.confidence[20, 0] > LOW_CONFIDENCE
    assert "slice 0 frame 20" in segmentation.describe_low_confidence()
    summary = segmentation.summary()
    assert {"slice": 0, "frame": 20} in summary["low_confidence_frames"] and summary["slices"] == [0]
    # the temporal smoothing keeps the frames around it close to what they were without the noise
    others = [t for t in range(series.num_frames) if abs(t - 20) > 2]
    assert dice_per_frame(segmentation.masks, series.masks)[others, 0].mean() >= 0.85


def test_only_the_chosen_slices_are_segmented(segmented):
    series, _, _ = segmented("phantom")
    segmentation = segment_series(series, slices=[1])
    assert not segmentation.masks[:, 0].any() and segmentation.masks[:, 1].all(axis=(1, 2)).sum() == 0
    assert dice_per_frame(segmentation.masks, series.masks)[:, 1].mean() >= 0.85
    assert segmentation.slices == (1,) and list(segmentation.borders) == [1]
    for bad in ([2], [0, 0], [-1], []):
        with pytest.raises(InputError, match=r"expected distinct 0-based slice numbers in 0\.\.1"):
            check_slices(bad, 2)


def beating_ellipse(semi_axes_mm: tuple[float, float], frames: int = 30, size: int = 96) -> Series:
    """A bright pool in a darker ring of tissue, its axes shrinking by a third in systole (1.5 mm pixels)."""
    rows, cols = np.mgrid[:size, :size] - (size - 1) / 2
    spacing = 1.5
    scale = 1 - 0.33 * np.sin(np.pi * np.arange(frames) / frames) ** 2
    magnitude = np.full((frames, 1, size, size), 300.0, np.float32)
    for t in range(frames):
        a, b = semi_axes_mm[0] * scale[t], semi_axes_mm[1] * scale[t]
        level = (cols * spacing / a) ** 2 + (rows * spacing / b) ** 2
        outer = (cols * spacing / (a + 10)) ** 2 + (rows * spacing / (b + 10)) ** 2
        magnitude[t, 0][outer <= 1] = 100.0
        magnitude[t, 0][level <= 1] = 1000.0
    return Series(magnitude=magnitude, pixel_spacing=(spacing, spacing))


def test_a_beating_short_axis_pool_is_found_and_its_ring_segmented():
    """The same scene as the refusals below, but round: the method is not tied to the phantom's look."""
    series = beating_ellipse((22.0, 22.0))
    segmentation = segment_series(series)
    assert segmentation.masks.any(axis=(2, 3)).all()
    # With phase images whose ring does not move (noise about zero velocity everywhere) it is refused.
    still = np.random.default_rng(2).normal(2048, 40, (*series.magnitude.shape[:2], 3, *series.image_shape))
    with pytest.raises(InputError, match=r"slice 0: no left ventricle found \(its ring does not move"):
        segment_series(series.replace(phase=np.clip(still, 0, 4096)))


def test_no_left_ventricle_is_an_error_naming_the_slice(segmented):
    series, _, _ = segmented("phantom")
    static = series.magnitude.copy()
    static[:, 1] = static[:1, 1]  # the apical slice frozen: a round bright pool in a ring, but it does not beat
    with pytest.raises(InputError, match=r"slice 1: no left ventricle found \(.*does not beat"):
        segment_series(series.replace(magnitude=static))
    noise = np.random.default_rng(1).uniform(0, 100, series.magnitude.shape).astype(np.float32)
    with pytest.raises(InputError, match="slice 0: no left ventricle found"):
        segment_series(series.replace(magnitude=noise, phase=None))
    with pytest.raises(InputError, match=r"slice 0: no left ventricle found \(.*not round"):
        segment_series(beating_ellipse((45.0, 15.0)))  # a long-axis view: the pool is three times as long as wide


def test_convex_radii_bridges_notches_and_keeps_convex_contours():
    angles = 2 * np.pi * np.arange(64) / 64
    circle = np.full(64, 20.0)
    np.testing.assert_allclose(convex_radii(angles, circle), circle)
    ellipse = 1 / np.sqrt((np.cos(angles) / 25) ** 2 + (np.sin(angles) / 15) ** 2)
    np.testing.assert_allclose(convex_radii(angles, ellipse), ellipse, rtol=1e-9)
    notched = circle.copy()
    notched[10:14] = 12.0  # a papillary muscle pressed into the cavity
    hull = convex_radii(angles, notched)
    # the chord from vertex 9 to vertex 14: r = 20 cos(half the gap) / cos(angle from the chord's middle)
    step = angles[1]
    chord = 20.0 * np.cos(2.5 * step) / np.cos((np.arange(10, 14) - 11.5) * step)
    np.testing.assert_allclose(hull[10:14], chord, atol=0.002)  # mm: the passes approach the hull from inside
    np.testing.assert_allclose(np.delete(hull, range(10, 14)), 20.0)
