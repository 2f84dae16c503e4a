"""Assessment slice by slice (`assess` of an Enhanced MR file or a .npz reads one slice at a time): the curves of the
whole series bit for bit, from memory, from the file, a compressed file and a .npz; the memory check sizes it so."""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import RLELossless

from keras_hdl import memory
from keras_hdl.assessment.files import (
    ASSESS_MEMORY_FACTOR,
    ASSESS_STREAMED_BASE_BYTES,
    ASSESS_STREAMED_FACTOR,
    assess_path,
)
from keras_hdl.assessment.velocity import AssessmentOptions, assess_series, assess_slices
from keras_hdl.dicom import write_dicom_classic_scan, write_dicom_scan
from keras_hdl.errors import InputError
from keras_hdl.memory import MEMORY_ENV, SERIES_BYTES_PER_PIXEL
from keras_hdl.readers import SeriesSlices, read_series, read_slices
from keras_hdl.series import Series

FRAMES, SLICES = 6, 3


@pytest.fixture
def series(ring_scene, rng):
    """A ring that moves (its centroid and wall change per frame) with random velocities, 3 slices."""
    scene = ring_scene(frames=FRAMES, slices=SLICES, size=48, centre_shift_px=(1.5, -2.0))
    velocity = rng.uniform(-15, 15, scene.zero_velocity().shape)
    return scene.series(velocity, rr_interval_ms=800.0)


def assert_same(streamed, whole):
    for name in ("global_curves", "sector_curves", "layer_curves", "centroids"):
        np.testing.assert_array_equal(getattr(streamed, name), getattr(whole, name), err_msg=name)
    assert streamed.rr_interval_ms == whole.rr_interval_ms


@pytest.mark.parametrize(
    "options",
    [
        None,
        AssessmentOptions(swap_xy=True, flip_z=True, reference_angle_deg=30.0),
        AssessmentOptions(insertion_points=np.array([[10.0, 10.0], [20.0, 30.0], [40.0, 5.0]])),
    ],
    ids=["default", "swap-flip-angle", "insertion-points-per-slice"],
)
def test_slice_by_slice_gives_the_whole_series_curves_bit_for_bit(series, options):
    assert_same(assess_slices(SeriesSlices.in_memory(series), options), assess_series(series, options))


def test_per_frame_insertion_points_are_split_by_slice(series, rng):
    points = rng.uniform(5, 40, (FRAMES, SLICES, 2))
    options = AssessmentOptions(insertion_points=points)
    streamed = assess_slices(SeriesSlices.in_memory(series), options)
    assert_same(streamed, assess_series(series, options))
    assert streamed.options is options
    shifted = assess_slices(SeriesSlices.in_memory(series), AssessmentOptions(insertion_points=points[:, ::-1]))
    assert not np.array_equal(shifted.sector_curves[0], streamed.sector_curves[0])  # slice 0 got its own points
    with pytest.raises(InputError, match=r"expected shape \(S, 2\) = \(3, 2\)"):
        assess_slices(SeriesSlices.in_memory(series), AssessmentOptions(insertion_points=points[:, :2]))


def test_enhanced_mr_file_is_read_slice_by_slice_with_the_same_images_and_curves(series, tmp_path):
    path = write_dicom_scan(series, tmp_path / "scan") / "series.dcm"
    slices, whole = read_slices(path), read_series(path)
    assert slices.streamed and slices.header.phase is None and slices.header.magnitude.strides == (0, 0, 0, 0)
    np.testing.assert_array_equal(slices.header.masks, series.masks)  # the seg.dcm beside it
    for index in range(SLICES):
        magnitude, phase = slices.read_slice(index)
        np.testing.assert_array_equal(magnitude, whole.magnitude[:, index])
        np.testing.assert_array_equal(phase, whole.phase[:, index])
    np.testing.assert_array_equal(whole.phase, series.phase)  # the raw phase survives DICOM exactly
    assert_same(assess_slices(slices), assess_series(whole))


def test_npz_is_split_by_slice_once_and_read_slice_by_slice(series, tmp_path):
    path = series.save_npz(tmp_path / "series.npz")
    slices = read_slices(path)
    assert slices.streamed and slices.header.phase is None and slices.header.magnitude.strides == (0, 0, 0, 0)
    for index in range(SLICES):
        magnitude, phase = slices.read_slice(index)
        np.testing.assert_array_equal(magnitude, series.magnitude[:, index])
        np.testing.assert_array_equal(phase, series.phase[:, index])
    assert_same(assess_slices(slices), assess_series(series))
    folder = Path(slices.read_slice.__self__.folder.name)
    assert len(list(folder.iterdir())) == 2 * SLICES
    del slices
    gc.collect()
    assert not folder.exists()  # the split copy goes with its reader


def test_npz_with_a_phase_of_another_shape_is_refused_before_splitting(series, tmp_path):
    arrays = series.npz_arrays()
    arrays["phase"] = arrays["phase"][:, :2]
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(InputError, match=r"bad.npz: phase has shape \(6, 2, 3, 48, 48\), expected"):
        read_slices(tmp_path / "bad.npz")


def test_compressed_enhanced_mr_file_is_decoded_once_and_read_by_slice(series, tmp_path):
    path = write_dicom_scan(series, tmp_path / "scan") / "series.dcm"
    plain = assess_slices(read_slices(path))
    ds = pydicom.dcmread(path)
    ds.compress(RLELossless)
    ds.save_as(path)
    assert pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID == RLELossless
    assert_same(assess_slices(read_slices(path)), plain)


def test_memory_check_sizes_streamed_files_as_streamed(series, tmp_path, monkeypatch):
    """Sized as a 20-slice, 50-frame 512² series: its series.dcm and .npz fit in 4 GB (read slice by slice), its
    classic folder (read whole) does not; with less memory the series.dcm is refused too, before any work."""
    npz = series.save_npz(tmp_path / "series.npz")
    dcm = write_dicom_scan(series, tmp_path / "scan") / "series.dcm"
    classic = write_dicom_classic_scan(series, tmp_path / "classic") / "series"
    pixels = 50 * 20 * 512 * 512
    monkeypatch.setattr(memory, "series_pixels", lambda path: pixels)
    streamed_bytes = ASSESS_STREAMED_BASE_BYTES + pixels * SERIES_BYTES_PER_PIXEL * ASSESS_STREAMED_FACTOR
    assert streamed_bytes < 4e9 < pixels * SERIES_BYTES_PER_PIXEL * ASSESS_MEMORY_FACTOR
    monkeypatch.setenv(MEMORY_ENV, "4")
    for path in (dcm, npz):
        assessment, _, read, _ = assess_path(path)
        assert_same(assessment, assess_series(series))
        assert read.phase is None  # the images were never held whole
    with pytest.raises(InputError, match=r"`keras-hdl assess` of this series \(262,144,000 pixels .*\) needs about"):
        assess_path(classic)
    monkeypatch.setenv(MEMORY_ENV, str(streamed_bytes * 0.95 / 1e9))
    with pytest.raises(InputError, match=r"series.dcm: `keras-hdl assess` of this series .* needs about 1.1 GB"):
        assess_path(dcm)


def test_reference_without_masks_is_assessed_on_the_inputs_or_refused(series, tmp_path):
    path = series.save_npz(tmp_path / "input.npz")
    bare = series.replace(masks=None).save_npz(tmp_path / "reference.npz")
    assessment, reference, _, _ = assess_path(path, reference_path=bare)
    assert_same(reference, assessment)
    fewer = Series(magnitude=series.magnitude[:, :2], phase=series.phase[:, :2]).save_npz(tmp_path / "fewer.npz")
    with pytest.raises(InputError, match=r"fewer.npz: has no masks of its own and the input's masks \(6, 3, 48, 48\)"):
        assess_path(path, reference_path=fewer)
