"""The rendered phantom: masks follow the motion, the phase encodes the analytic velocity, noise is as modelled.

Geometry is measured from the rendered masks and tissue labels (pixel counts, connected
components), and the expected velocities are rebuilt here from finite differences of the
phantom's radii, rotation and displacement, with the unit vectors written out from the
conventions (inward radial −(dx, dy)/r; counter-clockwise as displayed (dy, −dx)/r).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import ndimage

from keras_hdl.phantom.config import PhantomConfig, draw_subject
from keras_hdl.phantom.generate import generate_scan, phantom_scan
from keras_hdl.phantom.motion import slice_motion
from keras_hdl.phantom.scan import draw_scan
from keras_hdl.phantom.truth import TISSUE_CODES
from keras_hdl.series import PHASE_LEVELS, velocity_to_phase

# 0.625 mm pixels: fine enough to measure areas to a fraction of a percent.
FINE = PhantomConfig(subjects=1, slices=2, frames=25, size=256, fov_mm=160.0, noise=False, seed=0)
WALL_AREA_TOLERANCE = 0.02
TWIST_TOLERANCE_DEG = 1.0  # mean of the two muscles; measured error ≤ 0.5° at 0.625 mm pixels (seeds 0-3)
DERIVATIVE_STEP = 1e-6


@pytest.fixture(scope="module")
def fine_scan():
    return phantom_scan(FINE)


def cavity_and_wall_areas(masks: np.ndarray, spacing_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """(T, S, H, W) masks → (T, S) areas (mm²) of the blood pool enclosed by the myocardium, and of the wall."""
    filled = ndimage.binary_fill_holes(masks, structure=np.ones((1, 1, 3, 3), bool))
    pixel_area = spacing_mm**2
    return (filled & ~masks).sum(axis=(2, 3)) * pixel_area, masks.sum(axis=(2, 3)) * pixel_area


def test_wall_area_is_constant_and_wall_thickens_from_end_diastole_to_end_systole(fine_scan):
    series, truth = fine_scan
    cavity, wall = cavity_and_wall_areas(series.masks, series.pixel_spacing[0])
    assert (wall.max(axis=0) / wall.min(axis=0) - 1 < WALL_AREA_TOLERANCE).all()
    analytic = np.pi * (truth.epi_radius_mm**2 - truth.endo_radius_mm**2).T
    np.testing.assert_allclose(wall, analytic, rtol=WALL_AREA_TOLERANCE)

    end_systole = truth.end_systolic_frame
    endo = np.sqrt(cavity / np.pi)  # radius of a disc of the cavity's area
    epi = np.sqrt((cavity + wall) / np.pi)
    thickness = epi - endo
    assert (thickness[end_systole] > thickness[0] + 2.0).all(), thickness[[0, end_systole]]
    assert (cavity[end_systole] < 0.7 * cavity[0]).all()
    np.testing.assert_allclose(endo, truth.endo_radius_mm.T, atol=series.pixel_spacing[0])


def test_papillary_muscles_turn_by_the_twist_angle(fine_scan):
    """Base turns counter-clockwise as displayed in systole, apex clockwise: measured on the label images."""
    series, truth = fine_scan
    end_systole = truth.end_systolic_frame
    for slice_index in range(series.num_slices):
        angles = {}
        for frame in (0, end_systole):
            centre_row, centre_col = ndimage.center_of_mass(series.masks[frame, slice_index])
            papillary = truth.tissue_labels[frame, slice_index] == TISSUE_CODES["papillary"]
            components, count = ndimage.label(papillary)
            assert count == 2
            centroids = np.array(ndimage.center_of_mass(papillary, components, [1, 2]))
            angles[frame] = np.sort(np.arctan2(-(centroids[:, 0] - centre_row), centroids[:, 1] - centre_col))
        measured = np.rad2deg(angles[end_systole] - angles[0]).mean()
        expected = truth.twist_deg[slice_index, end_systole] - truth.twist_deg[slice_index, 0]
        assert measured == pytest.approx(expected, abs=TWIST_TOLERANCE_DEG)
        assert abs(expected) > 3
    assert truth.twist_deg[0, end_systole] > 0 > truth.twist_deg[1, end_systole]  # base CCW, apex CW as displayed


def expected_velocity_mm_s(truth, slice_index: int, frame: int, motion, spacing_mm: float, rows, cols):
    """(3, N) analytic (vx, vy, vz) at pixels (rows, cols), from finite differences of the motion."""
    tau = np.array([frame / truth.num_frames])
    step_s = 2 * DERIVATIVE_STEP * motion.rr_interval_ms / 1000

    def rate(curve) -> float:
        return float((curve(tau + DERIVATIVE_STEP) - curve(tau - DERIVATIVE_STEP))[slice_index, 0] / step_s)

    centre_x, centre_y = truth.lv_centre_xy_px[slice_index]
    dx, dy = (cols - centre_x) * spacing_mm, (rows - centre_y) * spacing_mm
    radius = np.hypot(dx, dy)
    endo = motion.endo_radius_mm(tau)[slice_index, 0]
    inward = -endo * rate(motion.endo_radius_mm) / radius  # incompressible wall
    circumferential = radius * rate(motion.rotation_rad)
    vx = inward * (-dx / radius) + circumferential * (dy / radius)
    vy = inward * (-dy / radius) + circumferential * (-dx / radius)
    return np.stack([vx, vy, np.full_like(vx, rate(motion.longitudinal_displacement_mm))])


def test_noise_free_phase_in_the_myocardium_decodes_to_the_analytic_velocity(fine_scan):
    series, truth = fine_scan
    motion = slice_motion(draw_subject(FINE.seed, 0), FINE.slice_levels)
    velocity = series.velocity() * 10.0  # mm/s
    half_step = np.asarray(series.venc)[:, None] * 10.0 / PHASE_LEVELS  # half a quantisation step, mm/s
    for frame in range(0, series.num_frames, 3):
        for slice_index in range(series.num_slices):
            rows, cols = np.nonzero(series.masks[frame, slice_index])
            expected = expected_velocity_mm_s(truth, slice_index, frame, motion, series.pixel_spacing[0], rows, cols)
            decoded = velocity[frame, slice_index][:, rows, cols]
            assert (np.abs(decoded - expected) <= half_step + 2e-3).all()
    # raw phase is quantised: decoding and re-encoding gives the same integers
    np.testing.assert_array_equal(velocity_to_phase(series.velocity(), series.venc), series.phase)


def test_decoded_phase_has_the_conventional_signs_at_peak_systole(fine_scan):
    """Base in systole: vz > 0 (towards the apex), radial inward > 0, circumferential CCW as displayed > 0."""
    series, truth = fine_scan
    frame = int(np.argmax(truth.radial_mm_s[0]))
    velocity = series.velocity()[frame]  # (S, 3, H, W) cm/s
    means = {}
    for slice_index in range(series.num_slices):
        rows, cols = np.nonzero(series.masks[frame, slice_index])
        centre_x, centre_y = truth.lv_centre_xy_px[slice_index]
        dx, dy = cols - centre_x, rows - centre_y
        radius = np.hypot(dx, dy)
        vx, vy, vz = velocity[slice_index][:, rows, cols] * 10.0
        means[slice_index] = (
            np.mean((vx * -dx + vy * -dy) / radius),
            np.mean((vx * dy - vy * dx) / radius),
            np.mean(vz),
        )
    base_radial, base_circumferential, base_longitudinal = means[0]
    assert base_radial > 20 and base_circumferential > 3 and base_longitudinal > 40
    apex_radial, apex_circumferential, apex_longitudinal = means[1]
    assert apex_radial > 15 and apex_circumferential < -3 and 0 < apex_longitudinal < 0.4 * base_longitudinal
    for slice_index, mean in means.items():
        np.testing.assert_allclose(mean, truth.curves_mm_s[slice_index, :, frame], atol=0.1)


@pytest.fixture(scope="module")
def noisy_pair():
    """The same small scan with and without noise (128 px: a 300 mm field of view, with air around the body)."""
    config = PhantomConfig(subjects=1, slices=1, frames=20, size=128, seed=3)
    return phantom_scan(config), phantom_scan(dataclasses.replace(config, noise=False))


def test_magnitude_noise_is_rician_in_air(noisy_pair):
    (series, truth), (clean, _) = noisy_pair
    subject = draw_subject(3, 0)
    sigma = subject.signal_scale / subject.snr
    in_plane = np.ones((1, 1, 3, 3), bool)
    air = ndimage.binary_erosion(truth.tissue_labels == TISSUE_CODES["air"], structure=in_plane, iterations=2)
    assert air.sum() > 1000 and (clean.magnitude[air] == 0).all()
    # Rician with zero signal is Rayleigh: mean σ √(π/2), second moment 2σ²
    assert series.magnitude[air].mean() == pytest.approx(sigma * np.sqrt(np.pi / 2), rel=0.05)
    assert np.mean(series.magnitude[air] ** 2) == pytest.approx(2 * sigma**2, rel=0.06)


def test_air_phase_follows_the_configured_background_model(noisy_pair):
    (series, truth), _ = noisy_pair
    air = np.broadcast_to((truth.tissue_labels == TISSUE_CODES["air"])[:, :, None], series.phase.shape)
    normalised = series.phase[air] / 2048 - 1
    assert normalised.mean() == pytest.approx(0.034, abs=0.003)
    assert normalised.std() == pytest.approx(0.034, abs=0.003)

    uniform, _ = phantom_scan(
        PhantomConfig(subjects=1, slices=1, frames=20, size=128, seed=3, background_noise="uniform")
    )
    values = uniform.phase[air]
    assert values.min() == 0 and values.max() == PHASE_LEVELS
    assert values.mean() == pytest.approx(PHASE_LEVELS / 2, rel=0.02)
    assert values.std() == pytest.approx(PHASE_LEVELS / np.sqrt(12), rel=0.02)


def test_tissue_phase_noise_is_unbiased_and_moderate(noisy_pair):
    (series, _), (clean, _) = noisy_pair
    difference = (series.velocity() - clean.velocity()) * 10.0  # mm/s
    wall = np.broadcast_to(series.masks[:, :, None], difference.shape)
    assert abs(difference[wall].mean()) < 0.5
    assert 1.0 < difference[wall].std() < 8.0  # venc / (π SNR_local): myocardium SNR ≈ 20..50 → 1.3..5 mm/s


def test_rescans_share_anatomy_and_motion_but_not_position_or_noise():
    config = PhantomConfig(subjects=1, rescans=2, slices=1, frames=20, size=64, seed=4)
    subject = draw_subject(4, 0)
    (first, first_truth), (second, second_truth) = (generate_scan(subject, draw_scan(4, 0, r), config) for r in (0, 1))
    np.testing.assert_array_equal(first_truth.endo_radius_mm, second_truth.endo_radius_mm)
    np.testing.assert_array_equal(first_truth.twist_deg, second_truth.twist_deg)
    np.testing.assert_allclose(first_truth.curves_mm_s, second_truth.curves_mm_s, atol=1.5)
    assert np.abs(first_truth.lv_centre_xy_px - second_truth.lv_centre_xy_px).max() > 0.5
    assert first.masks.sum() == pytest.approx(second.masks.sum(), rel=0.05)
    assert not np.array_equal(first.magnitude, second.magnitude)
    assert first.provenance["scan"] == "subj001_scan1" and second.provenance["scan"] == "subj001_scan2"
