"""`keras-hdl segment`, and `assess` on a series without masks: the SEG round trip, the overlay, bad input."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pydicom
import pytest
from click.testing import CliRunner

from keras_hdl.benchmarks.segmentation import dice_per_frame
from keras_hdl.cli import main
from keras_hdl.dicom import write_dicom_classic_scan, write_dicom_scan
from keras_hdl.readers import read_masks, read_series
from keras_hdl.segmentation import METHOD, METHOD_VERSION, segment_series

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run(*args):
    return CliRunner().invoke(main, [*map(str, args)])


@pytest.fixture(scope="module")
def dicom_input(tmp_path_factory, segmented):
    """series.dcm of the held-out phantom scan, with no seg.dcm beside it."""
    series, _, _ = segmented("phantom")
    folder = tmp_path_factory.mktemp("scan")
    write_dicom_scan(series.replace(masks=None), folder)
    assert sorted(p.name for p in folder.iterdir()) == ["series.dcm"]
    return folder / "series.dcm"


@pytest.fixture(scope="module")
def npz_input(tmp_path_factory, segmented):
    series, _, _ = segmented("phantom")
    return series.replace(masks=None).save_npz(tmp_path_factory.mktemp("npz") / "scan.npz")


def test_segment_writes_a_seg_that_reads_back_onto_the_series(dicom_input, segmented, tmp_path):
    reference, _, expected = segmented("phantom")
    out, preview = tmp_path / "auto" / "seg.dcm", tmp_path / "auto" / "overlay.png"
    result = run("segment", dicom_input, "--out", out, "--preview", preview, "--no-progress")
    assert result.exit_code == 0, result.output
    assert f"Segmented 2 slice(s) x 50 frames ({METHOD}, version {METHOD_VERSION})" in result.output
    series = read_series(dicom_input)
    masks = read_masks(out, series)
    np.testing.assert_array_equal(masks, expected.masks)  # the same masks as the library's, placed by the reader
    assert dice_per_frame(masks, reference.masks).mean() >= 0.85
    seg = pydicom.dcmread(out)
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == series.provenance["dicom_series_uid"]
    algorithm = seg.SegmentSequence[0].SegmentationAlgorithmIdentificationSequence[0]
    assert (algorithm.AlgorithmName, algorithm.AlgorithmVersion) == (METHOD, METHOD_VERSION)
    assert preview.read_bytes()[:8] == PNG_SIGNATURE
    if shutil.which("dciodvfy"):
        report = subprocess.run(["dciodvfy", str(out)], capture_output=True, text=True, timeout=60)
        findings = [line for line in (report.stdout + report.stderr).splitlines() if line.startswith(("Error", "Warn"))]
        assert findings == []  # neither errors nor warnings


def test_segment_a_classic_dicom_folder(segmented, tmp_path):
    """A folder of classic MR files (one slice here): the SEG references its magnitude images."""
    series, _, _ = segmented("phantom")
    one_slice = series.replace(
        magnitude=series.magnitude[:, 1:],
        phase=series.phase[:, 1:],
        masks=None,
        image_positions=series.image_positions[1:],
    )
    write_dicom_classic_scan(one_slice, tmp_path / "scan")
    folder = tmp_path / "scan" / "series"
    result = run("segment", folder, "--out", tmp_path / "seg.dcm", "--no-progress")
    assert result.exit_code == 0, result.output
    read = read_series(folder)
    masks = read_masks(tmp_path / "seg.dcm", read)
    np.testing.assert_array_equal(masks, segment_series(read).masks)
    assert dice_per_frame(masks, series.masks[:, 1:]).mean() >= 0.85
    references = pydicom.dcmread(tmp_path / "seg.dcm").ReferencedSeriesSequence[0].ReferencedInstanceSequence
    assert len(references) == series.num_frames  # one magnitude file per frame


def test_segment_a_npz_series_writes_npz_masks_and_refuses_a_seg(npz_input, segmented, tmp_path):
    _, _, expected = segmented("phantom")
    result = run("segment", npz_input, "--out", tmp_path / "masks.npz", "--slices", "1", "--no-progress")
    assert result.exit_code == 0, result.output
    masks = read_masks(tmp_path / "masks.npz", read_series(npz_input))
    assert not masks[:, 0].any()
    np.testing.assert_array_equal(masks[:, 1], segment_series(read_series(npz_input), [1]).masks[:, 1])
    np.testing.assert_array_equal(masks[:, 1], expected.masks[:, 1])
    result = run("segment", npz_input, "--out", tmp_path / "seg.dcm")
    assert result.exit_code == 2 and "a DICOM SEG references DICOM images" in result.output
    assert "--out seg.npz" in result.output and not (tmp_path / "seg.dcm").exists()
    result = run("segment", npz_input, "--out", tmp_path / "m.npz", "--slices", "0,x")
    assert result.exit_code == 2 and "--slices 0,x: expected comma-separated" in result.output


def test_no_left_ventricle_exits_2_and_writes_nothing(segmented, tmp_path):
    series, _, _ = segmented("phantom")
    magnitude = series.magnitude.copy()
    magnitude[:, 1] = magnitude[:1, 1]  # a slice that does not beat
    path = series.replace(magnitude=magnitude, masks=None).save_npz(tmp_path / "frozen.npz")
    out = tmp_path / "out"
    result = run("segment", path, "--out", out / "masks.npz", "--preview", out / "overlay.png")
    assert result.exit_code == 2 and "slice 1: no left ventricle found" in result.output
    assert "Traceback" not in result.output and not out.exists()
    result = run("assess", path, "--out", out)
    assert result.exit_code == 2 and "no myocardium masks found, and automatic segmentation failed" in result.output
    assert "slice 1: no left ventricle found" in result.output and not out.exists()


def test_assess_segments_a_series_without_masks(npz_input, segmented, tmp_path):
    reference, _, expected = segmented("phantom")
    out = tmp_path / "report"
    result = run("assess", npz_input, "--out", out)
    assert result.exit_code == 0, result.output
    assert f"has no myocardium masks: segmented automatically ({METHOD}, version {METHOD_VERSION};" in result.output
    report = json.loads((out / "report.json").read_text())
    assert report["masks"] == "automatic"
    details = report["segmentation"]
    assert (details["method"], details["version"]) == (METHOD, METHOD_VERSION)
    assert details["file"] == "masks.npz" and details["overlay"] == "segmentation.png"
    assert details["low_confidence_frames"] == [{"slice": s, "frame": t} for s, t in expected.low_confidence_frames]
    np.testing.assert_array_equal(np.load(out / "masks.npz")["masks"], expected.masks)
    assert (out / "segmentation.png").read_bytes()[:8] == PNG_SIGNATURE
    # the velocities are those of the automatic masks, and close to those of the true masks
    plain = tmp_path / "plain"
    np.savez(tmp_path / "true.npz", masks=reference.masks)
    assert run("assess", npz_input, "--masks", tmp_path / "true.npz", "--out", plain).exit_code == 0
    with_true = json.loads((plain / "report.json").read_text())
    assert "masks" not in with_true and not (plain / "masks.npz").exists()  # --masks wins
    automatic = np.array(report["mean_over_slices"]["global"]["radial"]["curve"])
    true = np.array(with_true["mean_over_slices"]["global"]["radial"]["curve"])
    assert np.corrcoef(automatic, true)[0, 1] >= 0.98


def test_assess_of_a_dicom_series_writes_a_seg_and_a_seg_beside_it_wins(dicom_input, tmp_path):
    out = tmp_path / "report"
    assert run("assess", dicom_input, "--out", out).exit_code == 0
    assert json.loads((out / "report.json").read_text())["segmentation"]["file"] == "seg.dcm"
    series = read_series(dicom_input)
    automatic = read_masks(out / "seg.dcm", series)
    beside = tmp_path / "scan"
    beside.mkdir()
    shutil.copy(dicom_input, beside / "series.dcm")
    shutil.copy(out / "seg.dcm", beside / "seg.dcm")  # e.g. corrected in a viewer and put back
    result = run("assess", beside / "series.dcm", "--out", tmp_path / "again")
    assert result.exit_code == 0 and "segmented automatically" not in result.output
    assert "masks" not in json.loads((tmp_path / "again" / "report.json").read_text())
    np.testing.assert_array_equal(read_series(beside / "series.dcm").masks, automatic)
