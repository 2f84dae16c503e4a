"""Phantom v2: each motion cue and acquisition nuisance is present, with values from independent formulas,
and the assessment (truth masks, no networks) recovers the ground truth on every variant."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from keras_hdl.assessment import AssessmentOptions, assess_series
from keras_hdl.assessment.background import background_offsets
from keras_hdl.phantom import PhantomConfig, draw_scan, draw_subject, generate_scan, phantom_scan, slice_motion
from keras_hdl.phantom.acquire import wrap_velocity
from keras_hdl.phantom.config import REALISM_V2, WallShape, draw_wall_shape
from keras_hdl.phantom.scan import EDDY_LENGTH_MM

# Noise-free, fixed grid of fine pixels (0.78 mm), so shapes are measured to a fraction of a millimetre.
FINE = PhantomConfig(subjects=1, slices=3, frames=20, size=256, fov_mm=200.0, seed=2, noise=False, anatomy="v2")


def fine_scan(wall: WallShape):
    subject = dataclasses.replace(draw_subject(FINE.seed, 0), wall=wall)
    series, truth = generate_scan(subject, draw_scan(FINE.seed, 0, 0), FINE)
    return subject, series, truth


def polar(series, truth, frame: int, slice_index: int) -> tuple[np.ndarray, np.ndarray]:
    """Radius (mm) and angle (degrees CCW as displayed) of the mask pixels about the true LV centre."""
    rows, cols = np.nonzero(series.masks[frame, slice_index])
    centre_x, centre_y = truth.lv_centre_xy_px[slice_index]
    dx, up = (cols - centre_x) * series.pixel_spacing[1], -(rows - centre_y) * series.pixel_spacing[0]
    return np.hypot(dx, up), np.degrees(np.arctan2(up, dx)) % 360


def test_through_plane_motion_changes_the_wall_area_as_the_level_shift_implies():
    subject, series, _ = fine_scan(WallShape.plain())
    tau = np.arange(FINE.frames) / FINE.frames
    displacement = slice_motion(subject, FINE.slice_levels).longitudinal_displacement_mm(tau)  # (S, T) mm
    level = FINE.slice_levels[:, None] - displacement / subject.base_to_apex_mm
    # Independent formula: an incompressible annulus keeps the area of the material it cuts, so the
    # area changes only with the level: π((R + W)² − R²) with R, W the end-diastolic endocardial
    # radius and wall thickness at the cut's level (linear taper; wall 0.88 × at the apex).
    endo = subject.endo_radius_mm * (1 - (1 - subject.apex_radius_scale) * level)
    wall = subject.wall_thickness_mm * (1 - 0.12 * level)
    expected = np.pi * ((endo + wall) ** 2 - endo**2)
    measured = series.masks.sum(axis=(2, 3)).T * series.pixel_spacing[0] ** 2
    # Pixel-centre sampling of an annulus ~1700 mm² with a 0.78 mm grid: within 1.5 % (measured ≤ 0.8 %).
    np.testing.assert_allclose(measured, expected, rtol=0.015)
    base_change = expected[0].max() - expected[0].min()
    assert base_change > 0.05 * expected[0, 0]  # the cue is large against the tolerance


def test_a_basal_slice_loses_myocardium_on_the_outflow_side_as_wide_as_the_displacement_implies():
    wall = dataclasses.replace(WallShape.plain(), base_gap_deg=40.0, base_extent_mm=22.0)
    subject, series, truth = fine_scan(wall)
    tau = np.arange(FINE.frames) / FINE.frames
    displacement = slice_motion(subject, FINE.slice_levels).longitudinal_displacement_mm(tau)[0]
    frame = int(np.argmax(displacement))
    _, angles = polar(series, truth, 0, 0)
    assert np.histogram(angles, bins=72, range=(0, 360))[0].min() > 0  # end-diastole: a whole ring
    _, angles = polar(series, truth, frame, 0)
    empty = np.histogram(angles, bins=360, range=(0, 360))[0] == 0
    # The wall ends where z > extent (1 − cos(ψ − gap)) / 2: a gap of 2 acos(1 − 2 z / extent), centred
    # on the gap turned by the slice's rotation; one-degree bins and pixel sampling: within 4 degrees.
    expected_width = 2 * np.degrees(np.arccos(1 - 2 * displacement[frame] / wall.base_extent_mm))
    assert abs(empty.sum() - expected_width) < 4, (empty.sum(), expected_width)
    centre = np.degrees(np.angle(np.exp(1j * np.radians(np.flatnonzero(empty) + 0.5)).mean()))
    expected_centre = wall.base_gap_deg + truth.twist_deg[0, frame]
    assert abs((centre - expected_centre + 180) % 360 - 180) < 2


def test_a_rotation_of_theta_turns_the_trabeculae_by_theta():
    wall = dataclasses.replace(WallShape.plain(), trabeculae=draw_wall_shape(FINE.seed, 0).trabeculae)
    _, series, truth = fine_scan(wall)
    slice_index = 0  # the base turns most
    frame = int(np.argmax(np.abs(truth.twist_deg[slice_index])))

    def endocardial_profile(frame_index: int) -> np.ndarray:
        radius, angles = polar(series, truth, frame_index, slice_index)
        inner = np.full(180, np.inf)
        np.minimum.at(inner, (angles // 2).astype(int), radius)
        return inner - inner.mean()

    before, after = endocardial_profile(0), endocardial_profile(frame)
    shifts = np.arange(-15, 15.01, 0.1)
    grid = 2 * np.arange(180) + 1.0
    scores = [np.dot(np.interp(grid - shift, grid, before, period=360), after) for shift in shifts]
    measured = shifts[int(np.argmax(scores))]
    expected = truth.twist_deg[slice_index, frame] - truth.twist_deg[slice_index, 0]
    assert abs(expected) > 3
    # Two-degree angular bins of a 0.78 mm grid at a ~22 mm radius (2° per pixel), profiles shifted in
    # 0.1° steps: within 1 degree.
    assert abs(measured - expected) < 1.0, (measured, expected)


def test_a_hypokinetic_region_moves_least():
    wall = dataclasses.replace(WallShape.plain(), hypokinesis=(90.0, 40.0, 0.6))
    _, series, _ = fine_scan(wall)
    radial = assess_series(series, AssessmentOptions(reference_angle_deg=60.0)).sector_curves[1, 0]  # (6, T)
    peaks = radial.max(axis=-1)
    # Sector 1 spans 60–120°, centred on the dip; the excursion there is (1 − 0.6) ≈ 0.4 of elsewhere.
    assert np.argmin(peaks) == 0
    assert peaks[0] < 0.7 * np.median(peaks[1:])


VARIANTS = {
    "v1": {},
    "v2-anatomy": {"anatomy": "v2"},
    "v2": REALISM_V2,
    "v2-aliasing": {**REALISM_V2, "aliasing": True},
    "v2-eddy": {**REALISM_V2, "eddy_currents": True},
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_assessment_with_the_truth_masks_recovers_the_truth_on_every_variant(name):
    config = PhantomConfig(subjects=2, slices=3, seed=7, noise=False, **VARIANTS[name])
    options = AssessmentOptions(background_correction="eddy" in name)
    for subject_index in range(2):
        series, truth = phantom_scan(config, subject_index)
        assessment = assess_series(series, options)
        # Noise-free: only the rounding of the raw phase (half a level, venc / 4096 per component) and, for the
        # eddy variant, the fit of the rounded static offset remain; one raw level bounds both.
        level_mm_s = 10 * max(series.venc) / 2048
        np.testing.assert_allclose(assessment.global_curves, truth.curves_mm_s, rtol=0, atol=level_mm_s)
        assert truth.num_frames == series.num_frames


def test_varied_acquisitions_span_the_ranges_and_are_listed_per_scan():
    config = PhantomConfig(subjects=12, seed=3, **REALISM_V2)
    acquisitions = [draw_scan(config.seed, index, 0, config).acquisition for index in range(config.subjects)]
    spacings = [a.spacing_mm for a in acquisitions]
    assert min(spacings) >= 1.3 and max(spacings) <= 2.6 and max(spacings) - min(spacings) > 0.6
    assert all(a.rows != a.cols and a.rows % 16 and a.cols % 16 for a in acquisitions)
    assert all(30 <= a.frames <= 60 and 50 <= a.heart_rate_bpm <= 110 for a in acquisitions)
    assert all(15 <= a.venc_cm_s[0] == a.venc_cm_s[1] <= 30 and 20 <= a.venc_cm_s[2] <= 45 for a in acquisitions)
    assert len({a.snr_band for a in acquisitions}) >= 2
    assert draw_scan(config.seed, 0, 0, config) == draw_scan(config.seed, 0, 0, config)  # seeded


def test_aliasing_wraps_velocities_beyond_venc():
    venc = np.float32(200.0)
    np.testing.assert_allclose(wrap_velocity(np.array([240.0, -250.0, 150.0]), venc), [-160.0, 150.0, 150.0])


def test_background_correction_recovers_the_eddy_offset_and_the_curves():
    config = PhantomConfig(subjects=3, seed=11, eddy_currents=True, **REALISM_V2)
    for subject_index in range(3):
        scan = draw_scan(config.seed, subject_index, 0, config)
        series, truth = phantom_scan(config, subject_index)
        # Independent formula: the drawn coefficients' quadratic at the myocardium pixels.
        rows, cols = np.indices(series.magnitude.shape[2:])
        x = (cols - (cols.shape[1] - 1) / 2) * series.pixel_spacing[1] / EDDY_LENGTH_MM
        y = (rows - (rows.shape[0] - 1) / 2) * series.pixel_spacing[0] / EDDY_LENGTH_MM
        basis = np.stack([np.ones_like(x), x, y, x * x, x * y, y * y])
        eddy = np.tensordot(np.asarray(scan.eddy_mm_s), basis, axes=1)  # (3, H, W) mm/s
        fitted = 10 * background_offsets(series)  # (S, 3, H, W) mm/s
        heart = series.masks.any(axis=0)  # (S, H, W)
        for slice_index in range(series.num_slices):
            error = fitted[slice_index][:, heart[slice_index]] - eddy[:, heart[slice_index]]
            assert np.abs(error).max() < 0.5  # thousands of static pixels × ≥ 30 frames average the noise out
        curves = [assess_series(series, AssessmentOptions(background_correction=on)).global_curves for on in (0, 1)]
        rmse = [np.sqrt(((c - truth.curves_mm_s) ** 2).mean(axis=(0, 2))) for c in curves]
        print(f"{scan.scan_id}: RMSE (mm/s, radial/circ/long) without {rmse[0].round(2)}, with {rmse[1].round(2)}")
        assert rmse[1].max() < 1.0


def test_cli_writes_a_varied_dataset_with_its_preview_and_assess_corrects_its_background(tmp_path):
    from click.testing import CliRunner

    from keras_hdl.cli import main

    out = tmp_path / "v2"
    args = ["phantom", str(out), "--subjects", "2", "--slices", "1", "--anatomy", "v2", "--acquisition", "varied"]
    result = CliRunner().invoke(main, [*args, "--eddy-currents", "--preview"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert (out / "preview.png").read_bytes().startswith(b"\x89PNG")
    shapes = {(scan["acquisition"]["rows"], scan["acquisition"]["cols"]) for scan in manifest["scans"]}
    assert len(shapes) == 2 and all(
        "eddy_mm_s" in scan and "snr_band" in scan["acquisition"] for scan in manifest["scans"]
    )
    report = tmp_path / "report.json"
    scan_file = out / manifest["scans"][0]["files"][0]
    result = CliRunner().invoke(
        main, ["assess", str(scan_file), "--out", str(tmp_path / "a"), "--json", str(report), "--background-correction"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(report.read_text())["options"]["background_correction"] is True
