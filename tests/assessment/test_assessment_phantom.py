"""The assessment recovers the phantom's analytic ground truth (docs/design.md §3.2 "kept as ground truth").

The phantom's truth curves are the mean of the noise-free analytic velocity over each
frame's myocardium mask about the true LV centre (mm/s); the assessment uses the mask
centroid and removes bulk motion, so on noise-free phase they agree to quantisation.

Measured (3 slices × 50 frames, 96 px at 2.34 mm, subjects 0 and 1 of seed 0):
noise-free: RMSE ≤ 0.04 mm/s, Pearson 1.000 for every component; noisy: RMSE ≈ 0.35
(radial), 0.34 (circumferential), 0.6 (longitudinal) mm/s, peak errors ≤ 1.1 mm/s, peak
times within 1 frame, overall Pearson ≥ 0.999. Tolerances below leave about 2× margin.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from keras_hdl.assessment import AssessmentOptions, assess_series, compute_markers, curve_agreement
from keras_hdl.assessment.report import OUTPUT_FILES
from keras_hdl.cli import main
from keras_hdl.phantom import PhantomConfig, load_truth, phantom_scan

NOISE_FREE_RMSE_MM_S = 0.1
NOISY_RMSE_MM_S = 1.0
NOISY_PEAK_ERROR_MM_S = 2.5
NOISY_MEAN_ERROR_MM_S = 0.5
NOISY_PEAK_TIME_ERROR = 2.0  # frames normalised to 50
COMPONENTS = ("radial", "circumferential", "longitudinal")


def small_phantom(noise: bool, subject: int = 0):
    return phantom_scan(PhantomConfig(subjects=2, slices=3, frames=50, size=96, noise=noise, seed=0), subject)


def rmse(curves: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(S, 3, T) → (3,) root-mean-square error per component over slices and frames, mm/s."""
    return np.sqrt(((curves - truth) ** 2).mean(axis=(0, 2)))


def test_noise_free_phase_reproduces_the_analytic_curves():
    series, truth = small_phantom(noise=False)
    curves = assess_series(series).global_curves
    assert rmse(curves, truth.curves_mm_s) == pytest.approx([0, 0, 0], abs=NOISE_FREE_RMSE_MM_S)
    agreement = curve_agreement(curves, truth.curves_mm_s)  # (S, 4)
    assert agreement.min() >= 0.99
    # Signs as docs/design.md §2.3 and the phantom's motion: contraction (+) then relaxation (−), base descent (+).
    markers = compute_markers(curves, series.rr_interval_ms)
    assert (markers["psv"][:, 0] > 20).all() and (markers["pdv"][:, 0] < -20).all()
    assert markers["psv"][0, 2] > 30 and markers["pdv"][0, 2] < -30


@pytest.mark.parametrize("subject", [0, 1])
def test_noisy_phase_agrees_with_the_analytic_curves_and_markers(subject):
    series, truth = small_phantom(noise=True, subject=subject)
    curves = assess_series(series).global_curves
    assert (rmse(curves, truth.curves_mm_s) < NOISY_RMSE_MM_S).all()
    measured = compute_markers(curves, series.rr_interval_ms)
    expected = compute_markers(truth.curves_mm_s, truth.rr_interval_ms)
    for name in ("psv", "pdv", "pav"):
        assert np.abs(measured[name] - expected[name]).max() < NOISY_PEAK_ERROR_MM_S, name
    assert np.abs(measured["mean"] - expected["mean"]).max() < NOISY_MEAN_ERROR_MM_S
    for name in ("tpsv", "tpdv", "tpav"):
        assert np.abs(measured[name] - expected[name]).max() <= NOISY_PEAK_TIME_ERROR, name
    assert curve_agreement(curves, truth.curves_mm_s)[:, 3].min() >= 0.99


def test_sectors_from_the_anterior_insertion_point_hold_the_global_mean():
    series, truth = small_phantom(noise=False)
    anterior = truth.insertion_points_rc_px[:, :, 0]  # (T, S, (row, col))
    result = assess_series(series, AssessmentOptions(insertion_points=anterior))
    sector_average = np.nanmean(result.sector_curves, axis=2)  # sectors hold ~equal pixel counts on a ring
    np.testing.assert_allclose(sector_average, result.global_curves, atol=1.5)
    assert np.isfinite(result.sector_curves).all() and np.isfinite(result.layer_curves).all()


def test_assess_command_on_a_phantom_series_dcm(tmp_path):
    runner = CliRunner()
    written = runner.invoke(
        main, ["phantom", str(tmp_path / "data"), "--subjects", "1", "--size", "96", "--format", "dicom"]
    )
    assert written.exit_code == 0, written.output
    (scan_dir,) = [path for path in (tmp_path / "data").iterdir() if path.is_dir()]
    out = tmp_path / "report"
    result = runner.invoke(main, ["assess", str(scan_dir / "series.dcm"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Mean over slices: global myocardial velocities in mm/s" in result.output
    assert all((out / name).stat().st_size > 0 for name in OUTPUT_FILES)
    report = json.loads((out / "report.json").read_text())
    assert report["units"] == "mm/s" and report["frames"] == 50 and len(report["slices"]) == 3
    for entry in [*report["slices"], report["mean_over_slices"]]:
        for component in COMPONENTS:
            values = entry["global"][component]
            assert {"psv", "tpsv", "pdv", "tpdv", "pav", "tpav", "mean"} <= set(values)
            assert len(values["curve"]) == 50 and all(isinstance(v, float) for v in values["curve"])
    # The curves read back from DICOM (masks from its seg.dcm) match the analytic truth beside it.
    truth = load_truth(scan_dir)
    curves = np.array([[entry["global"][c]["curve"] for c in COMPONENTS] for entry in report["slices"]])
    assert (rmse(curves, truth.curves_mm_s) < NOISY_RMSE_MM_S).all()


def test_assess_command_on_a_phantom_classic_dicom_folder(tmp_path):
    runner = CliRunner()
    args = ["--subjects", "1", "--slices", "2", "--frames", "20", "--size", "64", "--format", "dicom-classic"]
    assert runner.invoke(main, ["phantom", str(tmp_path / "data"), *args]).exit_code == 0
    (scan_dir,) = [path for path in (tmp_path / "data").iterdir() if path.is_dir()]
    result = runner.invoke(main, ["assess", str(scan_dir / "series"), "--json", str(tmp_path / "report.json")])
    assert result.exit_code == 0, result.output
    assert all((scan_dir / "series_assessment" / name).exists() for name in OUTPUT_FILES)
    report = json.loads((tmp_path / "report.json").read_text())
    truth = load_truth(scan_dir)
    curves = np.array([[entry["global"][c]["curve"] for c in COMPONENTS] for entry in report["slices"]])
    assert report["frames"] == 20 and (rmse(curves, truth.curves_mm_s) < NOISY_RMSE_MM_S).all()
