"""Frames are placed by what they say (dimension indices, trigger times, positions), never by storage order."""

from __future__ import annotations

import shutil

import numpy as np
import pydicom
from pydicom.sequence import Sequence

from keras_hdl.readers import read_series


def rewrite_frames(source, target, frame_numbers) -> None:
    """Copy an Enhanced MR file keeping only ``frame_numbers`` (0-based), stored in that order."""
    ds = pydicom.dcmread(source)
    pixels = ds.pixel_array.reshape(int(ds.NumberOfFrames), ds.Rows, ds.Columns)
    ds.PerFrameFunctionalGroupsSequence = Sequence([ds.PerFrameFunctionalGroupsSequence[i] for i in frame_numbers])
    ds.PixelData = np.ascontiguousarray(pixels[list(frame_numbers)]).tobytes()
    ds.NumberOfFrames = len(frame_numbers)
    ds.save_as(target)


def test_enhanced_frames_stored_shuffled_read_back_in_order(dicom_scan, mvm_series, tmp_path):
    count = int(pydicom.dcmread(dicom_scan / "series.dcm", stop_before_pixels=True).NumberOfFrames)
    order = np.random.default_rng(3).permutation(count)
    assert not np.array_equal(order, np.arange(count))
    rewrite_frames(dicom_scan / "series.dcm", tmp_path / "series.dcm", order)
    shutil.copy(dicom_scan / "seg.dcm", tmp_path / "seg.dcm")
    back = read_series(tmp_path / "series.dcm")
    reference = read_series(dicom_scan / "series.dcm")
    np.testing.assert_array_equal(back.magnitude, reference.magnitude)
    np.testing.assert_array_equal(back.phase, mvm_series.phase)
    np.testing.assert_array_equal(back.masks, mvm_series.masks)
    np.testing.assert_allclose(back.image_positions, mvm_series.image_positions, atol=1e-4)


def test_classic_files_with_shuffled_names_read_back_in_order(classic_scan, mvm_series, tmp_path):
    files = sorted((classic_scan / "series").iterdir())
    names = [f"{n:04x}.dcm" for n in np.random.default_rng(5).permutation(len(files)) * 7919 % 65536]
    folder = tmp_path / "series"
    folder.mkdir()
    for file, name in zip(files, names, strict=True):
        shutil.copy(file, folder / name)
    assert sorted(folder.iterdir())[0].name != "IM_00001.dcm"
    back = read_series(folder)
    np.testing.assert_array_equal(back.magnitude, read_series(classic_scan / "series").magnitude)
    np.testing.assert_array_equal(back.phase, np.minimum(mvm_series.phase, 4095))
    np.testing.assert_allclose(back.image_positions, mvm_series.image_positions, atol=1e-4)


def test_classic_frames_follow_trigger_time_not_instance_number(classic_scan, mvm_series, tmp_path):
    """Reversed InstanceNumbers change nothing: TriggerTime orders the frames first."""
    folder = tmp_path / "series"
    shutil.copytree(classic_scan / "series", folder)
    for path in folder.iterdir():
        ds = pydicom.dcmread(path)
        ds.InstanceNumber = 1000 - int(ds.InstanceNumber)
        ds.save_as(path)
    np.testing.assert_array_equal(read_series(folder).phase, np.minimum(mvm_series.phase, 4095))
