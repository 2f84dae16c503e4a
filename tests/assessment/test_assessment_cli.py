"""`keras-hdl assess` on .npz series: the four outputs, the JSON schema, and bad inputs (exit code 2)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner

from keras_hdl.assessment import compute_markers
from keras_hdl.assessment.report import OUTPUT_FILES
from keras_hdl.cli import main

FRAMES, SLICES = 20, 2
MARKER_KEYS = {"psv", "tpsv", "pdv", "tpdv", "pav", "tpav", "mean"}
COMPONENTS = ("radial", "circumferential", "longitudinal")


def beating_velocity(scene) -> np.ndarray:
    """(T, S, 3, H, W) cm/s: contraction then relaxation, a counter-clockwise twist, and base descent."""
    t = np.arange(FRAMES) / FRAMES
    radial_mm_s = 30 * np.sin(2 * np.pi * t)  # + in systole (towards the centre), − in diastole
    omega = 1.0 * np.sin(2 * np.pi * t)
    velocity = scene.zero_velocity()
    inward = -np.stack([scene.dx_mm, scene.dy_mm], axis=2) / scene.radius_mm[:, :, None]
    velocity[:, :, :2] = np.nan_to_num(radial_mm_s[:, None, None, None, None] * inward) / 10.0
    velocity[:, :, 0] += omega[:, None, None, None] * scene.dy_mm / 10.0
    velocity[:, :, 1] -= omega[:, None, None, None] * scene.dx_mm / 10.0
    velocity[:, :, 2] = (60 * np.sin(2 * np.pi * t))[:, None, None, None] / 10.0
    return velocity


@pytest.fixture
def scan(ring_scene, tmp_path):
    scene = ring_scene(frames=FRAMES, slices=SLICES)
    series = scene.series(beating_velocity(scene), rr_interval_ms=900.0)
    path = series.save_npz(tmp_path / "scan" / "series.npz")
    return series, path


def invoke(*args):
    return CliRunner().invoke(main, ["assess", *map(str, args)])


def test_assess_writes_table_csv_json_and_plot(scan, tmp_path):
    _, path = scan
    out = tmp_path / "report"
    result = invoke(path, "--out", out, "--json", tmp_path / "copy.json")
    assert result.exit_code == 0, result.output
    assert "Slice 0: global myocardial velocities in mm/s" in result.output
    assert "Mean over slices" in result.output and "PSV mm/s" in result.output
    for name in OUTPUT_FILES:
        assert (out / name).stat().st_size > 0
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    report = json.loads((out / "report.json").read_text())
    assert report == json.loads((tmp_path / "copy.json").read_text())
    assert report["units"] == "mm/s" and report["frames"] == FRAMES and report["rr_interval_ms"] == 900.0
    assert [entry["slice"] for entry in report["slices"]] == [0, 1]
    for entry in [*report["slices"], report["mean_over_slices"]]:
        assert set(entry["global"]) == set(COMPONENTS)
        for component in COMPONENTS:
            values = entry["global"][component]
            assert set(values) >= MARKER_KEYS and len(values["curve"]) == FRAMES
    # The markers are those of the reported curves, and the motion's signs come out as built.
    mean_global = report["mean_over_slices"]["global"]
    curves = np.array([mean_global[c]["curve"] for c in COMPONENTS])
    markers = compute_markers(curves, 900.0)
    for c, component in enumerate(COMPONENTS):
        for key in MARKER_KEYS:
            assert mean_global[component][key] == pytest.approx(float(markers[key][c]))
    assert mean_global["radial"]["psv"] == pytest.approx(30 * np.sin(2 * np.pi * 5 / 20), abs=0.1)
    assert mean_global["radial"]["tpsv"] == 12.5 and mean_global["radial"]["tpsv_ms"] == 225.0  # frame 5
    assert mean_global["radial"]["pdv"] < -25 and mean_global["longitudinal"]["psv"] > 55
    assert mean_global["circumferential"]["psv"] > 10  # counter-clockwise twist in systole
    assert set(report["slices"][0]["sectors"]) == {f"sector{k}" for k in range(1, 7)}
    assert set(report["slices"][0]["layers"]) == {"endo", "mid", "epi"}

    with open(out / "velocities.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == (SLICES * 10 + 1) * 3 * FRAMES  # (global + 6 sectors + 3 layers) per slice, + the mean
    row = next(r for r in rows if r["slice"] == "0" and r["frame"] == "5" and r["region"] == "global")
    assert row["component"] == "radial" and row["time_ms"] == "225"
    assert float(row["velocity_mm_s"]) == pytest.approx(report["slices"][0]["global"]["radial"]["curve"][5], abs=1e-4)
    with open(out / "markers.csv") as handle:
        marker_rows = list(csv.DictReader(handle))
    assert len(marker_rows) == (SLICES + 1) * 3 and "psv_mm_s" in marker_rows[0]


def test_default_output_folder_is_beside_the_input(scan):
    _, path = scan
    assert invoke(path).exit_code == 0
    assert all((path.parent / "series_assessment" / name).exists() for name in OUTPUT_FILES)


def test_reference_gives_pearson_and_flip_z_negates_longitudinal(scan, tmp_path):
    series, path = scan
    flipped = series.replace(phase=series.phase.copy())
    flipped.phase[:, :, 2] = 4096 - flipped.phase[:, :, 2]  # vz → −vz
    flipped_path = flipped.save_npz(tmp_path / "flipped.npz")
    assert invoke(path, "--out", tmp_path / "plain").exit_code == 0
    result = invoke(flipped_path, "--flip-z", "--reference", flipped_path, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "Pearson overall" in result.output
    plain = json.loads((tmp_path / "plain" / "report.json").read_text())
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["options"]["flip_z"] is True and "pearson" not in plain
    np.testing.assert_allclose(
        report["mean_over_slices"]["global"]["longitudinal"]["curve"],
        plain["mean_over_slices"]["global"]["longitudinal"]["curve"],
        atol=0.02,  # one phase step at venc 30 cm/s is 0.15 mm/s; 4096 − p is exact, the means differ by rounding only
    )
    assert report["pearson"] == pytest.approx(dict.fromkeys([*COMPONENTS, "overall"], 1.0))
    assert report["slices"][1]["pearson"]["radial"] == pytest.approx(1.0)
    # The flips apply to the reference too (same scanner convention): the original then correlates at −1.
    result = invoke(flipped_path, "--flip-z", "--reference", path, "--out", tmp_path / "cross")
    cross = json.loads((tmp_path / "cross" / "report.json").read_text())
    assert cross["pearson"]["longitudinal"] == pytest.approx(-1.0, abs=1e-4)
    assert cross["pearson"]["radial"] == pytest.approx(1.0, abs=1e-4) and cross["pearson"]["overall"] < 0.9


def test_masks_from_a_separate_file(scan, tmp_path):
    series, _ = scan
    bare = series.replace(masks=None).save_npz(tmp_path / "bare.npz")
    result = invoke(bare, "--out", tmp_path / "out")
    assert result.exit_code == 2 and "no myocardium masks" in result.output and "--masks" in result.output
    np.savez(tmp_path / "masks.npz", masks=series.masks)
    assert invoke(bare, "--masks", tmp_path / "masks.npz", "--out", tmp_path / "out").exit_code == 0
    np.savez(tmp_path / "small.npz", masks=series.masks[:, :, 1:])
    result = invoke(bare, "--masks", tmp_path / "small.npz", "--out", tmp_path / "out")
    assert result.exit_code == 2 and "masks have shape" in result.output


def test_bad_inputs_exit_2_with_a_message(scan, tmp_path):
    series, _ = scan
    masks = series.masks.copy()
    masks[3, 1] = False
    empty = series.replace(masks=masks).save_npz(tmp_path / "empty.npz")
    result = invoke(empty, "--out", tmp_path / "o1")
    assert result.exit_code == 2 and "slice 1, frame 3" in result.output

    zero = series.replace(phase=np.zeros_like(series.phase)).save_npz(tmp_path / "zero.npz")
    result = invoke(zero, "--out", tmp_path / "o2")
    assert result.exit_code == 2 and "all zero" in result.output

    with np.load(tmp_path / "zero.npz") as data:
        arrays = dict(data)
    arrays["phase"] = series.phase.copy()
    arrays["phase"][2, 0, 1, 5, 5] = np.nan
    np.savez(tmp_path / "nan.npz", **arrays)
    result = invoke(tmp_path / "nan.npz", "--out", tmp_path / "o3")
    assert result.exit_code == 2 and "NaN" in result.output
    assert not any((tmp_path / name).exists() for name in ("o1", "o2", "o3"))


def test_assess_enhanced_mr_series_dcm_with_its_seg(scan, tmp_path):
    from keras_hdl.dicom import write_dicom_scan

    series, path = scan
    scan_dir = write_dicom_scan(series, tmp_path / "dicom_scan")  # series.dcm + seg.dcm beside it
    result = invoke(scan_dir / "series.dcm")
    assert result.exit_code == 0, result.output
    out = scan_dir / "series_assessment"
    assert all((out / name).exists() for name in OUTPUT_FILES)
    assert invoke(path, "--out", tmp_path / "npz_out").exit_code == 0
    from_dicom = json.loads((out / "report.json").read_text())
    from_npz = json.loads((tmp_path / "npz_out" / "report.json").read_text())
    for component in COMPONENTS:
        np.testing.assert_allclose(
            from_dicom["mean_over_slices"]["global"][component]["curve"],
            from_npz["mean_over_slices"]["global"][component]["curve"],
            atol=1e-6,
        )
