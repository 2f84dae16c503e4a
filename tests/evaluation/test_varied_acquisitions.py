"""Evaluation of test scans acquired differently (phantom v2): other frame counts and spacings, per-variant figures."""

from __future__ import annotations

import json

import numpy as np
import pytest
from evaluation_helpers import invoke, save_untrained_run

from keras_hdl.evaluation import data as evaluation_data
from keras_hdl.evaluation.variants import FIGURES, variant_results
from keras_hdl.evaluation.velocity import REAL, VelocityCurves
from keras_hdl.interpolation.plan import kept_frames
from keras_hdl.series import Series

VARIED_PHANTOM = {"subjects": 3, "rescans": 2, "slices": 1, "seed": 5, "anatomy": "v2", "acquisition": "varied"}
"""Its test subject's two scans: 30 frames at 1.81 mm (fair SNR) and 43 frames at 2.38 mm (poor SNR)."""


@pytest.fixture(scope="module")
def varied_evaluation(tmp_path_factory):
    from keras_hdl.phantom import PhantomConfig
    from keras_hdl.phantom.dataset import write_dataset

    root = tmp_path_factory.mktemp("varied")
    write_dataset(root / "phantom", PhantomConfig(**VARIED_PHANTOM))
    run = save_untrained_run(root / "hdl", "hdl", (2.0, 2.0))
    args = [
        "evaluate",
        "--preset",
        "tiny",
        "--data",
        root / "phantom",
        "--k",
        "3",
        "--runs",
        run,
        "--out",
        root / "out",
    ]
    result = invoke([str(arg) for arg in args])
    assert result.exit_code == 0, result.output
    manifest = json.loads((root / "phantom" / "manifest.json").read_text())
    tests = [scan for scan in manifest["scans"] if scan["split"] == "test"]
    return json.loads((root / "out" / "results.json").read_text()), tests, (root / "out" / "report.md").read_text()


def test_test_scans_of_different_frame_counts_are_all_scored(varied_evaluation):
    results, tests, report = varied_evaluation
    frames = [scan["acquisition"]["frames"] for scan in tests]
    assert len(set(frames)) == 2, "the fixture's test scans should differ in frames per cycle"
    assert results["data"]["frames"] == sorted(frames)
    # every dropped frame of every scan is scored once: T − (kept frames) per scan at K = 3
    dropped = sum(t - kept_frames(t, 3).size for t in frames)
    assert results["interpolation"]["values"]["linear"]["3"]["MSE"]["n"] == dropped
    # the phase table scores every frame's three directions at K = 0
    assert results["phase"]["values"]["hdl"]["0"]["MSE"]["n"] == 3 * sum(frames)
    assert "### Per acquisition variant" in report


def test_variant_bands_follow_each_scans_acquisition(varied_evaluation):
    results, tests, _ = varied_evaluation
    variants = results["velocity"]["variants"]
    by_id = {scan["scan_id"]: scan["acquisition"] for scan in tests}
    for scan_id, acquisition in by_id.items():
        entry = variants["scans"][scan_id]
        assert entry["frames"] == acquisition["frames"] and entry["snr"] == acquisition["snr_band"]
        np.testing.assert_allclose(entry["pixel_spacing_mm"], acquisition["spacing_mm"], rtol=1e-5)
    for descriptor in ("spacing", "frames", "snr"):
        bands = variants["bands"][descriptor]
        assert sorted(s for band in bands.values() for s in band["scans"]) == sorted(by_id)
        assert set(next(iter(bands.values()))["figures"]) == {REAL, "K=0", "K=3", "K=6"}


def _pulse_curves(frames: int) -> np.ndarray:
    """(1, 3, T) curves with a systolic peak, an early-diastolic and an atrial trough (mm/s)."""
    t = np.arange(frames) / frames
    curve = 40 * np.exp(-(((t - 0.15) / 0.05) ** 2)) - 60 * np.exp(-(((t - 0.5) / 0.06) ** 2))
    curve -= 30 * np.exp(-(((t - 0.85) / 0.04) ** 2))
    return np.stack([curve, 0.5 * curve, 1.5 * curve])[None]


def _scan(scan_id: str, frames: int, spacing: float, snr_band: str) -> evaluation_data.TestScan:
    series = Series(np.ones((frames, 1, 8, 8), np.float32), pixel_spacing=(spacing, spacing))
    return evaluation_data.TestScan(scan_id, "subj", series, None, {"snr_band": snr_band})


def test_variant_figures_are_pooled_per_band_against_the_truth():
    scans = [_scan("fine", 20, 1.5, "poor"), _scan("fine-30", 30, 1.6, "poor"), _scan("coarse", 50, 2.5, "good")]
    truth = [_pulse_curves(20), _pulse_curves(30), _pulse_curves(50)]
    curves = VelocityCurves(
        real=[c.copy() for c in truth],
        truth=truth,
        # the first scan's twin doubles every curve (Pearson 1, every PSV 100 % off); the others' are exact
        twins={"K=3": [2 * truth[0], truth[1].copy(), truth[2].copy()]},
        failed={},
    )
    variants = variant_results(evaluation_data.TestSet(None, scans, ""), curves)
    spacing = variants["bands"]["spacing"]
    assert spacing["< 1.8 mm"]["scans"] == ["fine", "fine-30"] and spacing[">= 2.2 mm"]["scans"] == ["coarse"]
    assert set(variants["bands"]["frames"]) == {"< 40 frames", ">= 50 frames"}
    assert variants["bands"]["frames"]["< 40 frames"]["slices"] == 2
    fine, coarse = spacing["< 1.8 mm"]["figures"], spacing[">= 2.2 mm"]["figures"]
    assert fine[REAL] == pytest.approx(dict.fromkeys(FIGURES, 0.0) | {"pearson_overall": 1.0}, abs=1e-9)
    # pooled over the band's two slices (20 and 30 frames): errors 1 and 0 average to 0.5
    assert fine["K=3"] == pytest.approx(
        {"pearson_overall": 1.0, "psv_error_radial": 0.5, "psv_error_longitudinal": 0.5}
    )
    assert coarse["K=3"]["psv_error_radial"] == pytest.approx(0.0, abs=1e-9)
    assert variants["bands"]["snr"]["poor"]["figures"]["K=3"] == fine["K=3"]
    assert (
        variant_results(evaluation_data.TestSet(None, scans, ""), VelocityCurves(curves.real, None, curves.twins, {}))
        is None
    )
