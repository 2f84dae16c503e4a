"""Each bad input gives an InputError that names the file and the problem; the CLI exits 2 without a traceback."""

from __future__ import annotations

import shutil

import numpy as np
import pydicom
import pytest
from click.testing import CliRunner
from dicom_test_series import make_series
from pydicom.data import get_testdata_file
from test_frame_order import rewrite_frames

from keras_hdl.cli import main
from keras_hdl.dicom import write_dicom_scan
from keras_hdl.errors import InputError
from keras_hdl.readers import read_masks, read_series


@pytest.fixture
def classic_copy(classic_scan, tmp_path):
    folder = tmp_path / "series"
    shutil.copytree(classic_scan / "series", folder)
    return folder


def files_of(folder, image_type: str, sequence_suffix: str = ""):
    """Files whose ImageType value 3 is ``image_type`` (and SequenceName ends with ``sequence_suffix``)."""
    chosen = []
    for path in sorted(folder.iterdir()):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        if ds.ImageType[2] == image_type and str(ds.SequenceName).endswith(sequence_suffix):
            chosen.append(path)
    return chosen


def edit(paths, **attributes) -> None:
    for path in paths:
        ds = pydicom.dcmread(path)
        for keyword, value in attributes.items():
            setattr(ds, keyword, value)
        ds.save_as(path)


def refused(path, *phrases) -> str:
    with pytest.raises(InputError) as caught:
        read_series(path)
    message = str(caught.value)
    for phrase in phrases:
        assert phrase in message, message
    return message


def test_not_dicom(tmp_path):
    text = tmp_path / "notes.dcm"
    text.write_text("not an image")
    refused(text, str(text), "not DICOM")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.txt").write_text("hello")
    refused(folder, str(folder), "not DICOM")


def test_not_mr():
    refused(get_testdata_file("CT_small.dcm"), "CT_small.dcm", "not an MR image", "Modality CT")


def test_magnitude_without_phase(classic_copy):
    for path in files_of(classic_copy, "P"):
        path.unlink()
    refused(classic_copy, str(classic_copy), "magnitude without phase")


def test_fewer_than_three_phase_directions(classic_copy):
    for path in files_of(classic_copy, "P", "through"):
        path.unlink()
    refused(classic_copy, "fewer than three phase directions", "found x, y only")


@pytest.mark.parametrize("name", ["fl2d1", "fl2d1_v0iny"])
def test_missing_or_zero_venc_classic(classic_copy, name):
    phase_y = files_of(classic_copy, "P", "iny")
    edit(phase_y, SequenceName=name)
    refused(classic_copy, phase_y[0].name, "missing or zero venc")


def test_ambiguous_in_plane_direction(classic_copy):
    phase_y = files_of(classic_copy, "P", "iny")
    edit(phase_y, SequenceName="fl2d1_v15in")
    refused(classic_copy, phase_y[0].name, "a plain 'in' is ambiguous")


def test_missing_or_zero_venc_enhanced(dicom_scan, tmp_path):
    ds = pydicom.dcmread(dicom_scan / "series.dcm")
    last = ds.PerFrameFunctionalGroupsSequence[-1]  # a phase z frame
    last.MRVelocityEncodingSequence[0].VelocityEncodingMinimumValue = 0
    last.MRVelocityEncodingSequence[0].VelocityEncodingMaximumValue = 0
    ds.save_as(tmp_path / "zero.dcm")
    refused(tmp_path / "zero.dcm", "zero.dcm", f"phase frame {ds.NumberOfFrames}", "missing or zero")
    del last.MRVelocityEncodingSequence
    ds.save_as(tmp_path / "missing.dcm")
    refused(tmp_path / "missing.dcm", "missing.dcm", "no MR Velocity Encoding Sequence (0018,9197)", "venc missing")


def test_unequal_frame_counts_classic(classic_copy):
    files_of(classic_copy, "P", "iny")[0].unlink()
    refused(classic_copy, "frames of unequal counts between image types", "phase y has 5 frames")


def test_unequal_frame_counts_enhanced(dicom_scan, tmp_path):
    count = int(pydicom.dcmread(dicom_scan / "series.dcm", stop_before_pixels=True).NumberOfFrames)
    rewrite_frames(dicom_scan / "series.dcm", tmp_path / "series.dcm", list(range(count - 1)))  # drop one z frame
    refused(tmp_path / "series.dcm", "frames of unequal counts between image types", "phase z has 5 frames")


def test_mixed_matrix_sizes(classic_copy):
    path = files_of(classic_copy, "M")[3]
    ds = pydicom.dcmread(path)
    ds.PixelData = np.zeros((16, 16), np.uint16).tobytes()
    ds.Rows = ds.Columns = 16
    ds.save_as(path)
    refused(classic_copy, "mixed matrix sizes", "32x32", f"16x16 ({path.name})")


def test_seg_of_another_series_is_refused(dicom_scan, classic_scan, tmp_path):
    other = tmp_path / "other"
    write_dicom_scan(make_series(seed=9), other)
    series = read_series(dicom_scan / "series.dcm")
    with pytest.raises(InputError, match="the SEG references another series") as caught:
        read_masks(other / "seg.dcm", series)
    assert str(other / "seg.dcm") in str(caught.value)
    # A SEG beside a series that it does not reference is not attached ...
    shutil.copy(other / "series.dcm", tmp_path / "series.dcm")
    shutil.copy(dicom_scan / "seg.dcm", tmp_path / "seg.dcm")
    assert read_series(tmp_path / "series.dcm").masks is None
    # ... and one inside a classic folder is part of what the user pointed at: refused.
    folder = tmp_path / "classic"
    shutil.copytree(classic_scan / "series", folder)
    shutil.copy(other / "seg.dcm", folder / "seg.dcm")
    refused(folder, "seg.dcm", "the SEG references another series")


def test_cli_turns_a_bad_dicom_into_exit_code_2_without_traceback(classic_copy):
    for path in files_of(classic_copy, "P"):
        path.unlink()
    result = CliRunner().invoke(main, ["assess", str(classic_copy)])
    assert result.exit_code == 2
    assert "Error:" in result.output and "magnitude without phase" in result.output
    assert "Traceback" not in result.output


def test_missing_geometry_is_named(classic_copy, dicom_scan, tmp_path):
    path = files_of(classic_copy, "M")[0]
    ds = pydicom.dcmread(path)
    del ds.ImagePositionPatient
    ds.save_as(path)
    refused(classic_copy, path.name, "MR image without ImagePositionPatient")
    enhanced = pydicom.dcmread(dicom_scan / "series.dcm")
    del enhanced.PerFrameFunctionalGroupsSequence[4].PlanePositionSequence
    enhanced.save_as(tmp_path / "no_position.dcm")
    refused(tmp_path / "no_position.dcm", "frame 5 has no PlanePositionSequence")
