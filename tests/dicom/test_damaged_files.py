"""The damage the first fuzzing found, each refused up front with the file, the frame and the reason."""

from __future__ import annotations

import shutil

import numpy as np
import pydicom
import pytest
from pydicom.multival import MultiValue
from pydicom.valuerep import IS

from keras_hdl.errors import InputError
from keras_hdl.readers import read_series


@pytest.fixture
def enhanced(dicom_scan, tmp_path):
    """A writable copy of the Enhanced MR series.dcm (its seg.dcm beside it) and the dataset to damage."""
    shutil.copy(dicom_scan / "seg.dcm", tmp_path / "seg.dcm")
    return tmp_path / "series.dcm", pydicom.dcmread(dicom_scan / "series.dcm")


def refused(path, *phrases) -> str:
    with pytest.raises(InputError) as caught:
        read_series(path)
    message = str(caught.value)
    assert str(path) in message
    for phrase in phrases:
        assert phrase in message, message
    return message


def test_rows_and_columns_that_disagree_with_the_pixel_data(enhanced):
    path, ds = enhanced
    ds.Rows = 200  # was 32: "cannot reshape array of size ... into shape (200, ...)" before
    ds.save_as(path)
    frames = int(ds.NumberOfFrames)
    refused(path, f"Pixel Data holds {frames * 32 * 32 * 2} bytes", f"200 x 32 x {frames} x 16 needs")


def test_truncated_pixel_data(enhanced):
    path, ds = enhanced
    ds.save_as(path)
    path.write_bytes(path.read_bytes()[:-1000])
    refused(path, "the file is truncated or its image attributes are damaged")


def test_frame_without_dimension_index_values(enhanced):
    path, ds = enhanced
    del ds.PerFrameFunctionalGroupsSequence[6].FrameContentSequence[0].DimensionIndexValues
    ds.save_as(path)
    refused(path, "frame 7: DimensionIndexValues is missing")


def test_dimension_values_of_another_multiplicity(enhanced):
    path, ds = enhanced
    ds.PerFrameFunctionalGroupsSequence[2].FrameContentSequence[0].DimensionIndexValues = [1, 1]
    ds.save_as(path)
    refused(path, "frame 3: DimensionIndexValues holds 2 value(s) [1, 1], expected 3")


def test_dimension_pointer_with_two_values(enhanced):
    path, ds = enhanced
    ds.DimensionIndexSequence[1].DimensionIndexPointer = [0x00209128, 0x00209057]
    ds.save_as(path)
    refused(path, "Dimension Index Sequence (0020,9222) item 2 has Dimension Index Pointer", "not one tag")


def test_number_of_frames_with_two_values(enhanced):
    path, ds = enhanced
    ds.NumberOfFrames = MultiValue(IS, [ds.NumberOfFrames, 1])
    ds.save_as(path)
    refused(path, "NumberOfFrames holds 2 value(s)")


@pytest.mark.parametrize("spacing", [[1e9, 1e9], [0.0, 1.0], [float("nan"), 1.0]])
def test_implausible_pixel_spacing(enhanced, spacing):
    path, ds = enhanced
    ds.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].PixelSpacing = spacing
    ds.save_as(path)
    refused(path, "PixelSpacing", "is implausible")


def test_implausible_spacing_in_a_series_npz(mvm_series, tmp_path):
    path = mvm_series.replace(masks=None).save_npz(tmp_path / "series.npz")
    arrays = dict(np.load(path))
    arrays["pixel_spacing"] = np.array([1e9, 1e9])
    np.savez(path, **arrays)
    refused(path, "Series.pixel_spacing: [1000000000.0, 1000000000.0] mm is implausible")


def test_undecodable_element(enhanced):
    path, ds = enhanced
    ds.save_as(path)
    data = bytearray(path.read_bytes())
    at = data.index(b"\x28\x00\x30\x00DS")  # Pixel Spacing's explicit VR
    data[at + 4 : at + 6] = b"QQ"  # a Value Representation that does not exist
    path.write_bytes(bytes(data))
    refused(path, "(0028,0030)", "the file is damaged")
