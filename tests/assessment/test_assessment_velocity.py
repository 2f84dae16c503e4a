"""Cylindrical decomposition against synthetic rigid motions with known answers (docs/design.md §2.3).

Tolerances: 0.1 mm/s through the raw phase (12-bit quantisation is 0.098 mm/s per step at
venc 20 cm/s, so a mean over hundreds of pixels is well inside), 1e-9 mm/s on float velocities.
"""

from __future__ import annotations

import numpy as np
import pytest

from keras_hdl.assessment import AssessmentOptions, assess_series, assess_velocity
from keras_hdl.errors import InputError

PHASE_TOL_MM_S = 0.1
RADIAL, CIRCUMFERENTIAL, LONGITUDINAL = 0, 1, 2


def angular_velocity_rad_s(frames: int) -> np.ndarray:
    return 1.5 * np.sin(2 * np.pi * np.arange(frames) / frames)


def ccw_rotation_cm_s(scene, omega: np.ndarray) -> np.ndarray:
    """Counter-clockwise as displayed: with up = −y, d(x, up)/dt = ω·(−up, x), so (vx, vy) = ω·(dy, −dx)."""
    velocity = scene.zero_velocity()
    w = omega[:, None, None, None]
    velocity[:, :, 0] = w * scene.dy_mm / 10.0
    velocity[:, :, 1] = -w * scene.dx_mm / 10.0
    return velocity


def test_pure_rotation_is_circumferential_omega_r_with_no_radial(ring_scene):
    scene = ring_scene(pixel_spacing=(1.0, 1.0))
    omega = angular_velocity_rad_s(10)
    result = assess_series(scene.series(ccw_rotation_cm_s(scene, omega)))
    expected = omega[None, :] * scene.mask_mean(scene.radius_mm)  # ω · r, mm/s
    assert np.abs(expected).max() > 20  # the check is not vacuous
    np.testing.assert_allclose(result.global_curves[:, CIRCUMFERENTIAL], expected, atol=PHASE_TOL_MM_S)
    np.testing.assert_allclose(result.global_curves[:, RADIAL], 0.0, atol=PHASE_TOL_MM_S)
    np.testing.assert_allclose(result.global_curves[:, LONGITUDINAL], 0.0, atol=PHASE_TOL_MM_S)
    # Positive ω (counter-clockwise as displayed) gives positive circumferential velocity.
    assert result.global_curves[0, CIRCUMFERENTIAL, 2] > 20


def test_rotation_with_anisotropic_pixels_and_a_moving_centre(ring_scene):
    scene = ring_scene(size=96, pixel_spacing=(0.8, 1.25), centre_shift_px=(1.0, -1.0))
    omega = angular_velocity_rad_s(10)
    result = assess_velocity(ccw_rotation_cm_s(scene, omega), scene.masks, scene.pixel_spacing)
    expected = omega[None, :] * scene.mask_mean(scene.radius_mm)
    np.testing.assert_allclose(result.global_curves[:, CIRCUMFERENTIAL], expected, atol=1e-9)
    np.testing.assert_allclose(result.global_curves[:, RADIAL], 0.0, atol=1e-9)
    # The per-frame centroid follows the ring: (47.5 + t, 47.5 − t) px.
    t = np.arange(10)
    np.testing.assert_allclose(result.centroids[:, 0], np.stack([47.5 + t, 47.5 - t], axis=-1), atol=1e-9)


def test_uniform_contraction_is_positive_radial_with_no_circumferential(ring_scene):
    scene = ring_scene()
    speed_mm_s = 35.0 * np.cos(2 * np.pi * np.arange(10) / 10)  # > 0: towards the centre
    velocity = scene.zero_velocity()
    towards_centre = -np.stack([scene.dx_mm, scene.dy_mm], axis=2) / scene.radius_mm[:, :, None]
    velocity[:, :, :2] = speed_mm_s[:, None, None, None, None] * towards_centre / 10.0
    velocity = np.nan_to_num(velocity)  # the centre pixel (r = 0) lies outside the ring
    result = assess_series(scene.series(velocity))
    np.testing.assert_allclose(result.global_curves[:, RADIAL], np.tile(speed_mm_s, (2, 1)), atol=PHASE_TOL_MM_S)
    np.testing.assert_allclose(result.global_curves[:, CIRCUMFERENTIAL], 0.0, atol=PHASE_TOL_MM_S)
    assert result.global_curves[0, RADIAL, 0] == pytest.approx(35.0, abs=PHASE_TOL_MM_S)


def test_through_plane_translation_is_longitudinal(ring_scene):
    scene = ring_scene()
    vz_mm_s = np.linspace(-80.0, 60.0, 10)
    velocity = scene.zero_velocity()
    velocity[:, :, 2] = vz_mm_s[:, None, None, None] / 10.0
    result = assess_series(scene.series(velocity))
    np.testing.assert_allclose(result.global_curves[:, LONGITUDINAL], np.tile(vz_mm_s, (2, 1)), atol=PHASE_TOL_MM_S)
    np.testing.assert_allclose(result.global_curves[:, :2], 0.0, atol=PHASE_TOL_MM_S)


def test_whole_heart_in_plane_translation_is_removed_as_bulk_motion(ring_scene):
    scene = ring_scene()
    omega = angular_velocity_rad_s(10)
    rotating = ccw_rotation_cm_s(scene, omega)
    translated = rotating.copy()
    translated[:, :, 0] += 4.0  # 40 mm/s to the right
    translated[:, :, 1] -= 2.5  # 25 mm/s up
    expected = assess_series(scene.series(rotating))
    result = assess_series(scene.series(translated))
    np.testing.assert_allclose(result.global_curves, expected.global_curves, atol=PHASE_TOL_MM_S)
    np.testing.assert_allclose(result.global_curves[:, RADIAL], 0.0, atol=PHASE_TOL_MM_S)
    # Over a symmetric ring a translation averages out of the global curves anyway, but not out of
    # the sectors: there it would add ±40 mm/s of radial velocity if it were not removed.
    np.testing.assert_allclose(result.sector_curves, expected.sector_curves, atol=PHASE_TOL_MM_S)
    np.testing.assert_allclose(result.sector_curves[:, RADIAL], 0.0, atol=PHASE_TOL_MM_S)


def stored_like_scanner(velocity: np.ndarray, swap: bool, flips: tuple[bool, bool, bool]) -> np.ndarray:
    """What a scanner with swapped / reversed axes stores for the true image-axis velocity."""
    stored = velocity * np.array([-1.0 if f else 1.0 for f in flips])[None, None, :, None, None]
    return stored[:, :, [1, 0, 2]] if swap else stored


@pytest.mark.parametrize(
    ("swap", "flips"),
    [
        (False, (True, False, False)),
        (False, (False, True, True)),
        (True, (False, False, False)),
        (True, (True, False, True)),
    ],
)
def test_flips_and_swap_undo_a_scanner_convention(ring_scene, swap, flips):
    scene = ring_scene(frames=10, slices=1)
    truth = ccw_rotation_cm_s(scene, angular_velocity_rad_s(10))
    truth[:, :, 2] = 3.0
    expected = assess_velocity(truth, scene.masks).global_curves
    stored = stored_like_scanner(truth, swap, flips)
    uncorrected = assess_velocity(stored, scene.masks).global_curves
    assert not np.allclose(uncorrected, expected)  # the convention matters
    options = AssessmentOptions(flip_x=flips[0], flip_y=flips[1], flip_z=flips[2], swap_xy=swap)
    np.testing.assert_allclose(assess_velocity(stored, scene.masks, options=options).global_curves, expected, atol=1e-9)


def test_flip_x_reverses_the_rotation_sense_and_flip_z_the_longitudinal_sign(ring_scene):
    scene = ring_scene(frames=10, slices=1)
    velocity = ccw_rotation_cm_s(scene, angular_velocity_rad_s(10))
    velocity[:, :, 2] = 2.0
    plain = assess_velocity(velocity, scene.masks).global_curves
    flipped = assess_velocity(velocity, scene.masks, options=AssessmentOptions(flip_x=True, flip_z=True)).global_curves
    # Negating vx alone turns ω·(dy, −dx) into (−ω dy, −ω dx): its circumferential part is zero
    # and its radial part is ω·(dx dy + dy dx)/r, which averages to zero over a symmetric ring.
    np.testing.assert_allclose(flipped[:, CIRCUMFERENTIAL], 0.0, atol=1e-9)
    np.testing.assert_allclose(flipped[:, LONGITUDINAL], -plain[:, LONGITUDINAL])


def displayed_angle_deg(scene) -> np.ndarray:
    """Angle of each pixel about the true centre, counter-clockwise as displayed from +x, in [0, 360)."""
    return np.degrees(np.arctan2(-scene.dy_mm, scene.dx_mm)) % 360.0


@pytest.mark.parametrize(("reference_deg", "insertion"), [(120.0, False), (75.0, True), (-30.0, False)])
def test_sectors_start_at_the_reference_angle_and_run_counter_clockwise(ring_scene, reference_deg, insertion):
    scene = ring_scene(frames=3, slices=2)
    sector_number = np.floor(((displayed_angle_deg(scene) - reference_deg) % 360.0) / 60.0) + 1  # 1..6
    velocity = scene.zero_velocity()
    velocity[:, :, 2] = sector_number / 10.0  # vz = sector number in mm/s
    if insertion:  # a point 16 px from the centre at the reference angle: (row, col) per slice
        point = (31.5 - 16 * np.sin(np.radians(reference_deg)), 31.5 + 16 * np.cos(np.radians(reference_deg)))
        options = AssessmentOptions(insertion_points=np.array([point, point]))
    else:
        options = AssessmentOptions(reference_angle_deg=reference_deg)
    result = assess_velocity(velocity, scene.masks, options=options)
    expected = np.broadcast_to(np.arange(1, 7)[:, None], (6, 3))
    np.testing.assert_allclose(result.sector_curves[:, LONGITUDINAL], np.broadcast_to(expected, (2, 6, 3)), atol=1e-9)


def test_layers_split_the_wall_into_endo_mid_and_epi_thirds(ring_scene):
    scene = ring_scene(frames=2, slices=1, inner_mm=12.0, outer_mm=21.0)
    depth = (scene.radius_mm - 12.0) / 9.0
    velocity = scene.zero_velocity()
    velocity[:, :, 2] = np.where(depth < 1 / 3, 1.0, np.where(depth < 2 / 3, 2.0, 3.0)) / 10.0
    layers = assess_velocity(velocity, scene.masks).layer_curves[0, LONGITUDINAL]  # (3 layers, T)
    # Pixel rings are ragged, so a few pixels near a third land in the neighbouring layer.
    np.testing.assert_allclose(layers, np.array([[1.0], [2.0], [3.0]]).repeat(2, axis=1), atol=0.25)


def test_global_curve_is_the_pixel_count_weighted_mean_of_the_layers(ring_scene):
    scene = ring_scene(frames=4, slices=1)
    velocity = ccw_rotation_cm_s(scene, angular_velocity_rad_s(4) + 0.3)
    result = assess_velocity(velocity, scene.masks)
    # Outer layers hold more pixels and move faster (ω·r): the global mean lies between endo and epi.
    endo, epi = result.layer_curves[0, CIRCUMFERENTIAL, 0], result.layer_curves[0, CIRCUMFERENTIAL, 2]
    glob = result.global_curves[0, CIRCUMFERENTIAL]
    assert np.all((np.minimum(endo, epi) < glob) & (glob < np.maximum(endo, epi)))


def test_empty_mask_names_slice_and_frame(ring_scene):
    scene = ring_scene(frames=5, slices=2)
    masks = scene.masks.copy()
    masks[3, 1] = False
    with pytest.raises(InputError, match=r"slice 1, frame 3 \(0-based\) is empty"):
        assess_velocity(scene.zero_velocity(), masks)


def test_bad_inputs_raise_input_error(ring_scene):
    scene = ring_scene(frames=5, slices=1)
    with pytest.raises(InputError, match="differs from the images"):
        assess_velocity(scene.zero_velocity(), scene.masks[:, :, :-1])
    nan_velocity = scene.zero_velocity()
    nan_velocity[2, 0, 0, scene.masks[2, 0]] = np.nan
    with pytest.raises(InputError, match="NaN"):
        assess_velocity(nan_velocity, scene.masks)
    zero_phase = scene.series(scene.zero_velocity()).replace(phase=np.zeros((5, 1, 3, 64, 64), np.float32))
    with pytest.raises(InputError, match="all zero"):
        assess_series(zero_phase)
    with pytest.raises(InputError, match="no myocardium masks"):
        assess_series(scene.series(scene.zero_velocity()).replace(masks=None))
    with pytest.raises(InputError, match="insertion_points"):
        assess_velocity(
            scene.zero_velocity(), scene.masks, options=AssessmentOptions(insertion_points=np.zeros((3, 2)))
        )
