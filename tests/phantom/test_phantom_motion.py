"""The phantom's analytic motion: velocities are derivatives of positions, and the curves are healthy.

Healthy ranges are docs/design.md §3.2's (global peaks, mm/s): radial systolic +30..+40, early
diastolic −40..−60; longitudinal at the base systolic +50..+85, early diastolic −80..−150;
circumferential a few cm/s, positive at the base and negative at the apex in systole
(as displayed). Marker windows for T = 50: systole frames 1–15, early diastole 15–35,
atrial 35–47.
"""

from __future__ import annotations

import numpy as np
import pytest

from keras_hdl.phantom.config import PhantomConfig, draw_subject
from keras_hdl.phantom.generate import phantom_scan
from keras_hdl.phantom.motion import pulse_train, slice_motion

LEVELS = np.array([0.0, 0.5, 1.0])  # base, mid, apex
FRAMES = 50
SYSTOLE, EARLY, ATRIAL = (1, 15), (15, 35), (35, 47)
RADIAL_SYSTOLIC, RADIAL_EARLY = (30.0, 40.0), (-60.0, -40.0)
LONGITUDINAL_SYSTOLIC_BASE, LONGITUDINAL_EARLY_BASE = (50.0, 85.0), (-150.0, -80.0)
CIRCUMFERENTIAL_SYSTOLIC_MAGNITUDE = (5.0, 40.0)
DERIVATIVE_STEP = 1e-6  # fraction of the cycle
DERIVATIVE_TOLERANCE_MM_S = 1e-3


def window(curve: np.ndarray, bounds: tuple[int, int]) -> np.ndarray:
    return curve[..., bounds[0] : bounds[1] + 1]


def test_pulse_train_fraction_is_the_integral_of_its_rate():
    tau = np.linspace(-0.1, 0.6, 7001)
    fraction, rate = pulse_train(tau, 0.1, 0.08, (1.0, 0.6, 0.3))
    integral = np.concatenate([[0.0], np.cumsum((rate[1:] + rate[:-1]) / 2 * np.diff(tau))])
    np.testing.assert_allclose(fraction, integral, atol=1e-6)
    assert fraction[0] == pytest.approx(0.0, abs=1e-15) and fraction[-1] == pytest.approx(1.0)
    assert tau[np.argmax(rate)] == pytest.approx(0.1 + 0.08, abs=1e-3)  # the first (strongest) pulse's centre


@pytest.mark.parametrize("subject_index", [0, 1, 2])
def test_velocity_is_the_time_derivative_of_material_point_position(subject_index):
    """Central differences of r(ρ, t), θ(t), z(t) equal the Eulerian velocity at the point, within 1e-3 mm/s."""
    motion = slice_motion(draw_subject(7, subject_index), LEVELS)
    rng = np.random.default_rng(subject_index)
    endo, epi = motion.endo_radius_ed_mm[:, None], motion.epi_radius_ed_mm[:, None]
    rho = np.concatenate([rng.uniform(0.1, 1.0, (3, 20)) * endo, endo + rng.uniform(0, 1, (3, 40)) * (epi - endo)], 1)
    theta0 = rng.uniform(-np.pi, np.pi, rho.shape)
    tau = np.linspace(0.0, 1.0, 173, endpoint=False)
    step_s = DERIVATIVE_STEP * motion.rr_interval_ms / 1000.0

    after = motion.material_position(rho, theta0, tau + DERIVATIVE_STEP)
    before = motion.material_position(rho, theta0, tau - DERIVATIVE_STEP)
    radius, _, _ = motion.material_position(rho, theta0, tau)
    d_radius, d_theta, d_z = ((a - b) / (2 * step_s) for a, b in zip(after, before, strict=True))
    inward, circumferential, longitudinal = motion.velocity_at(radius, tau)

    np.testing.assert_allclose(inward, -d_radius, atol=DERIVATIVE_TOLERANCE_MM_S)
    np.testing.assert_allclose(circumferential, radius * d_theta, atol=DERIVATIVE_TOLERANCE_MM_S)
    np.testing.assert_allclose(longitudinal, d_z, atol=DERIVATIVE_TOLERANCE_MM_S)
    assert np.abs(inward).max() > 20 and np.abs(longitudinal).max() > 40  # not vacuously small


def test_global_curves_of_many_subjects_peak_in_healthy_ranges_and_windows():
    tau = np.arange(FRAMES) / FRAMES
    for index in range(40):
        subject = draw_subject(3, index)
        curves = slice_motion(subject, LEVELS).wall_mean_curves_mm_s(tau)  # (S, 3, T)
        check_healthy_curves(curves, f"subject {index}")


def test_rendered_ground_truth_curves_peak_in_healthy_ranges_and_windows():
    """The truth is the mean over rendered mask pixels (not the continuous wall mean): still healthy."""
    for subject in range(2):
        _, truth = phantom_scan(PhantomConfig(subjects=2, size=64, noise=False), subject)
        check_healthy_curves(truth.curves_mm_s, f"rendered subject {subject}")


def check_healthy_curves(curves: np.ndarray, who: str) -> None:
    """(S = base/mid/apex, 3, T = 50) curves in mm/s against docs/design.md §3.2 and the marker windows."""
    radial, circumferential, longitudinal = curves[:, 0], curves[:, 1], curves[:, 2]
    assert np.abs(curves[..., 0]).max() < 1e-6, who  # end-diastole: at rest
    for name, curve in (("radial", radial), ("longitudinal", longitudinal)):
        systolic_frame = np.argmax(curve, axis=-1)
        early_frame = np.argmin(curve, axis=-1)
        atrial_frame = ATRIAL[0] + np.argmin(window(curve, ATRIAL), axis=-1)
        assert ((systolic_frame >= SYSTOLE[0]) & (systolic_frame <= SYSTOLE[1])).all(), (who, name, systolic_frame)
        assert ((early_frame >= EARLY[0]) & (early_frame <= EARLY[1])).all(), (who, name, early_frame)
        # the atrial kick is a true dip inside its window, not the tail of early filling
        assert ((atrial_frame > ATRIAL[0]) & (atrial_frame < ATRIAL[1])).all(), (who, name, atrial_frame)
        assert (window(curve, ATRIAL).min(axis=-1) < 0).all(), (who, name)
    radial_base_mid = radial[:2]
    assert in_range(window(radial_base_mid, SYSTOLE).max(-1), RADIAL_SYSTOLIC), (who, radial_base_mid.max(-1))
    assert in_range(window(radial_base_mid, EARLY).min(-1), RADIAL_EARLY), (who, radial_base_mid.min(-1))
    assert in_range(window(radial, SYSTOLE).max(-1), (20.0, 40.0)), who  # apex: smaller, still contracting
    assert in_range(window(longitudinal[0], SYSTOLE).max(), LONGITUDINAL_SYSTOLIC_BASE), (who, longitudinal[0].max())
    assert in_range(window(longitudinal[0], EARLY).min(), LONGITUDINAL_EARLY_BASE), (who, longitudinal[0].min())
    assert np.abs(longitudinal[-1]).max() < 0.4 * np.abs(longitudinal[0]).max(), who  # apex barely moves
    base_rotation, apex_rotation = window(circumferential[0], SYSTOLE), window(circumferential[-1], SYSTOLE)
    assert in_range(base_rotation.max(), CIRCUMFERENTIAL_SYSTOLIC_MAGNITUDE), (who, base_rotation)  # CCW displayed
    assert in_range(-apex_rotation.min(), CIRCUMFERENTIAL_SYSTOLIC_MAGNITUDE), (who, apex_rotation)  # CW displayed


def in_range(values, bounds: tuple[float, float]) -> bool:
    values = np.asarray(values)
    return bool(((values >= bounds[0]) & (values <= bounds[1])).all())


def test_rescans_share_motion_and_other_seeds_draw_other_subjects():
    assert draw_subject(5, 2) == draw_subject(5, 2)
    assert draw_subject(5, 2) != draw_subject(6, 2)
    assert draw_subject(5, 2).rr_interval_ms != draw_subject(5, 3).rr_interval_ms
