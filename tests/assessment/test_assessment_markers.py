"""Markers on hand-built curves (peaks in and out of the windows) and Pearson agreement."""

from __future__ import annotations

import numpy as np
import pytest

from keras_hdl.assessment import compute_markers, curve_agreement, pearson, window_masks
from keras_hdl.errors import InputError

RADIAL, CIRCUMFERENTIAL, LONGITUDINAL = 0, 1, 2


def spikes(frames: int, values: dict[int, float]) -> np.ndarray:
    curve = np.zeros(frames)
    for frame, value in values.items():
        curve[frame] = value
    return curve


def test_windows_for_50_frames_are_the_design_ranges():
    systole, early_diastole, atrial = window_masks(50)
    np.testing.assert_array_equal(np.flatnonzero(systole), np.arange(1, 16))
    np.testing.assert_array_equal(np.flatnonzero(early_diastole), np.arange(15, 36))
    np.testing.assert_array_equal(np.flatnonzero(atrial), np.arange(35, 48))


def test_windows_scale_with_the_number_of_frames():
    # T = 25: a frame is in a window when 2·f lies in the 50-frame range.
    systole, early_diastole, atrial = window_masks(25)
    np.testing.assert_array_equal(np.flatnonzero(systole), np.arange(1, 8))
    np.testing.assert_array_equal(np.flatnonzero(early_diastole), np.arange(8, 18))
    np.testing.assert_array_equal(np.flatnonzero(atrial), np.arange(18, 24))
    # T = 100: twice the frames.
    systole, _, atrial = window_masks(100)
    np.testing.assert_array_equal(np.flatnonzero(systole), np.arange(2, 31))
    np.testing.assert_array_equal(np.flatnonzero(atrial), np.arange(70, 95))


def test_too_few_frames_for_the_windows_is_an_input_error():
    with pytest.raises(InputError, match="too few"):
        window_masks(3)


def test_markers_at_50_frames_pick_peaks_inside_their_windows_only():
    radial = spikes(50, {0: 90.0, 10: 30.0, 12: 25.0, 20: -50.0, 30: 80.0, 40: -20.0, 48: -95.0})
    # Circumferential: the largest |v| keeps its sign; systole holds −40 at 5 and +20 at 12.
    circumferential = spikes(50, {5: -40.0, 12: 20.0, 16: 15.0, 22: -12.0, 36: 7.0, 44: -9.0})
    longitudinal = spikes(50, {14: 70.0, 15: 75.0, 25: -120.0, 45: -60.0, 49: 200.0})
    markers = compute_markers(np.stack([radial, circumferential, longitudinal]), rr_interval_ms=1000.0)

    np.testing.assert_allclose(markers["psv"], [30.0, -40.0, 75.0])  # frame 0 (90) and 30 (80) are outside systole
    np.testing.assert_array_equal(markers["tpsv_frame"], [10, 5, 15])
    np.testing.assert_allclose(markers["pdv"], [-50.0, 15.0, -120.0])  # circumferential: |+15| > |−12|
    np.testing.assert_allclose(markers["pav"], [-20.0, -9.0, -60.0])  # frame 48 (−95) is past the atrial window
    np.testing.assert_array_equal(markers["tpav_frame"], [40, 44, 45])
    np.testing.assert_allclose(markers["tpsv"], [10.0, 5.0, 15.0])  # normalised to 50 = the frame at T = 50
    np.testing.assert_allclose(markers["tpsv_ms"], [200.0, 100.0, 300.0])  # 20 ms per frame
    expected_mean = [
        (90 + 30 + 25 + 50 + 80 + 20 + 95) / 50,
        (40 + 20 + 15 + 12 + 7 + 9) / 50,
        (70 + 75 + 120 + 60 + 200) / 50,
    ]
    np.testing.assert_allclose(markers["mean"], expected_mean)


def test_circumferential_early_diastolic_peak_is_the_largest_magnitude_with_its_sign():
    circumferential = spikes(50, {16: 15.0, 22: -12.0})
    markers = compute_markers(np.stack([np.zeros(50), circumferential, np.zeros(50)]))
    assert markers["pdv"][CIRCUMFERENTIAL] == 15.0 and markers["tpdv_frame"][CIRCUMFERENTIAL] == 16
    flipped = compute_markers(np.stack([np.zeros(50), -1.5 * circumferential, np.zeros(50)]))
    assert flipped["pdv"][CIRCUMFERENTIAL] == pytest.approx(-22.5)


def test_markers_at_25_frames_use_scaled_windows_and_times():
    # Systole is frames 1..7 (normalised 2..14); frame 8 (16) is early diastole; frame 24 (48) is past atrial.
    radial = spikes(25, {7: 33.0, 8: 40.0, 12: -45.0, 20: -15.0, 24: -60.0})
    markers = compute_markers(np.stack([radial, radial, -radial]), rr_interval_ms=800.0)
    assert markers["psv"][RADIAL] == 33.0 and markers["tpsv_frame"][RADIAL] == 7
    assert markers["tpsv"][RADIAL] == 14.0  # 7 · 50 / 25
    assert markers["tpsv_ms"][RADIAL] == pytest.approx(7 * 800.0 / 25)
    assert markers["pdv"][RADIAL] == -45.0 and markers["tpdv"][RADIAL] == 24.0
    assert markers["pav"][RADIAL] == -15.0 and markers["tpav"][RADIAL] == 40.0
    # Longitudinal of −radial: max in systole is 0 (no positive value), min in diastole is −40 at frame 8.
    assert markers["psv"][LONGITUDINAL] == 0.0
    assert markers["pdv"][LONGITUDINAL] == -40.0 and markers["tpdv_frame"][LONGITUDINAL] == 8


def test_markers_vectorise_over_leading_axes_and_mark_unknown_rr_as_nan():
    rng = np.random.default_rng(3)
    curves = rng.normal(size=(4, 3, 30))
    batch = compute_markers(curves)
    for index in range(4):
        single = compute_markers(curves[index])
        for name, values in single.items():
            np.testing.assert_array_equal(batch[name][index], values)
    assert np.isnan(batch["tpsv_ms"]).all()


def test_pearson_matches_numpy_and_overall_concatenates_the_components():
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(2, 3, 40))
    agreement = curve_agreement(a, b)
    for c in range(3):
        assert agreement[c] == pytest.approx(np.corrcoef(a[c], b[c])[0, 1])
    assert agreement[3] == pytest.approx(np.corrcoef(a.ravel(), b.ravel())[0, 1])
    assert curve_agreement(a, 2.0 * a + 1.0) == pytest.approx([1.0, 1.0, 1.0, 1.0])
    assert np.isnan(pearson(np.ones(10), np.arange(10.0)))
