"""Series → DICOM (Enhanced MR file and classic folder, each with a cine SEG) → reader gives the series back."""

from __future__ import annotations

import nibabel
import numpy as np
import pydicom
import pytest
from dicom_test_series import make_series

from keras_hdl.dicom import read_dicom_series, write_dicom_scan
from keras_hdl.dicom.common import MAGNITUDE_STORED_MAX
from keras_hdl.readers import read_masks, read_series
from keras_hdl.series import PHASE_LEVELS


def assert_same_series(back, original, *, phase_atol: float) -> None:
    """Everything the series model holds, compared with the tolerances the pixel conventions promise."""
    # magnitude: float values stored as uint16 with RescaleSlope = max / 65535 → within half a step
    # (plus float32 rounding of values up to ~600)
    step = float(original.magnitude.max()) / MAGNITUDE_STORED_MAX
    np.testing.assert_allclose(back.magnitude, original.magnitude, rtol=0, atol=step / 2 + 1e-4)
    np.testing.assert_allclose(back.phase, original.phase, rtol=0, atol=phase_atol)
    quantum = 2 * np.asarray(original.venc) / PHASE_LEVELS  # cm/s per raw phase step
    error = np.abs(back.velocity() - original.velocity()).max(axis=(0, 1, 3, 4))
    assert (error <= phase_atol * quantum + 1e-4).all(), error
    np.testing.assert_array_equal(back.masks, original.masks)
    assert back.venc == original.venc
    assert back.rr_interval_ms == pytest.approx(original.rr_interval_ms, rel=1e-9)
    np.testing.assert_allclose(back.trigger_times_ms, original.trigger_times_ms)
    np.testing.assert_allclose(back.image_orientation, original.image_orientation, atol=1e-6)
    np.testing.assert_allclose(back.image_positions, original.image_positions, atol=1e-4)
    np.testing.assert_allclose(back.pixel_spacing, original.pixel_spacing)
    assert back.magnitude.shape == original.magnitude.shape


def test_enhanced_mr_round_trip_is_exact_in_phase(dicom_scan, mvm_series):
    back = read_series(dicom_scan / "series.dcm")  # masks come from seg.dcm beside it
    assert_same_series(back, mvm_series, phase_atol=0.0)
    assert back.phase.max() == PHASE_LEVELS and back.phase.min() == 0  # ±venc survive on the 16-bit file
    assert back.provenance["source_format"] == "dicom-enhanced"
    assert back.provenance["dicom.MagneticFieldStrength"] == 1.5  # allow-listed acquisition attribute travels
    assert back.provenance["dicom.RepetitionTime"] == 33.0


def test_reading_an_enhanced_file_and_its_seg_parses_each_once(dicom_scan, monkeypatch):
    """Every element of a file is decoded when it is read (keras_hdl.dicom.elements); the header of series.dcm
    and the SEG beside it were each decoded twice (kind check, then the read), which nearly doubled the time
    of reading a long series."""
    from keras_hdl.dicom import elements

    decoded = []
    decode = elements._decode_elements

    def counting(ds, path, where=""):
        if not where:
            decoded.append(path.name)
        decode(ds, path, where)

    monkeypatch.setattr(elements, "_decode_elements", counting)
    series = read_series(dicom_scan / "series.dcm")
    assert series.masks is not None and series.masks.any()
    assert sorted(decoded) == ["seg.dcm", "series.dcm"]


def test_classic_round_trip_loses_only_the_top_phase_value(classic_scan, mvm_series):
    back = read_series(classic_scan / "series")
    # 12-bit phase: raw 4096 (+venc) is stored as 4095, one quantum lower; everything else is exact.
    assert_same_series(back, mvm_series, phase_atol=1.0)
    top = mvm_series.phase == PHASE_LEVELS
    assert top.any() and (back.phase[top] == PHASE_LEVELS - 1).all()
    np.testing.assert_array_equal(back.phase[~top], mvm_series.phase[~top])
    assert back.provenance["source_format"] == "dicom-classic"


def test_round_trip_without_rr_interval_keeps_frame_order(tmp_path):
    series = make_series(rr_interval_ms=None)
    write_dicom_scan(series, tmp_path)
    back = read_dicom_series(tmp_path / "series.dcm")
    assert back.rr_interval_ms is None
    np.testing.assert_array_equal(back.phase, series.phase)
    np.testing.assert_array_equal(back.masks, series.masks)


def test_seg_and_npz_masks_are_read_onto_the_series(dicom_scan, mvm_series, tmp_path):
    series = read_series(dicom_scan / "series.dcm").replace(masks=None)
    np.testing.assert_array_equal(read_masks(dicom_scan / "seg.dcm", series), mvm_series.masks)
    np.savez(tmp_path / "masks.npz", masks=mvm_series.masks.astype(np.uint8))
    np.testing.assert_array_equal(read_masks(tmp_path / "masks.npz", series), mvm_series.masks)


def nifti_affine(series, flip_rows: bool) -> np.ndarray:
    """RAS affine of a (columns, rows, slices) NIfTI grid on the series, rows optionally stored bottom-up."""
    orientation = np.asarray(series.image_orientation)
    row_spacing, column_spacing = series.pixel_spacing
    gap = np.diff(series.slice_positions)[0]
    normal = series.slice_normal
    lps = np.eye(4)
    lps[:3, 0] = orientation[:3] * column_spacing
    lps[:3, 1] = orientation[3:] * row_spacing
    lps[:3, 2] = normal * gap
    lps[:3, 3] = series.image_positions[0]
    if flip_rows:
        lps[:3, 3] += lps[:3, 1] * (series.image_shape[0] - 1)
        lps[:3, 1] *= -1
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps


@pytest.mark.parametrize("flip_rows", [False, True])
def test_nifti_masks_are_placed_by_their_affine(mvm_series, tmp_path, flip_rows):
    data = mvm_series.masks.transpose(3, 2, 1, 0).astype(np.uint8)  # (x = column, y = row, slice, frame)
    if flip_rows:
        data = data[:, ::-1]
    path = tmp_path / "masks.nii.gz"
    nibabel.save(nibabel.Nifti1Image(data, nifti_affine(mvm_series, flip_rows)), path)
    np.testing.assert_array_equal(read_masks(path, mvm_series), mvm_series.masks)


def test_asymmetric_velocity_range_is_read_through_velocities(dicom_scan, mvm_series, tmp_path):
    """Phase x frames saying −10…+30 cm/s: stored p means v = −10 + p/4096·40, held as raw phase of venc 30."""
    ds = pydicom.dcmread(dicom_scan / "series.dcm")
    for frame in ds.PerFrameFunctionalGroupsSequence:
        encoding = frame.MRVelocityEncodingSequence[0]
        if (
            frame.MRImageFrameTypeSequence[0].ComplexImageComponent == "PHASE"
            and abs(encoding.VelocityEncodingMaximumValue - 20) < 1e-9
        ):
            encoding.VelocityEncodingMinimumValue, encoding.VelocityEncodingMaximumValue = -10.0, 30.0
    ds.save_as(tmp_path / "series.dcm")
    back = read_series(tmp_path / "series.dcm")
    assert back.venc == (30.0, mvm_series.venc[1], mvm_series.venc[2])
    velocity = -10.0 + mvm_series.phase[:, :, 0] / PHASE_LEVELS * 40.0  # the writer's stored p is the raw phase
    np.testing.assert_allclose(back.velocity()[:, :, 0], velocity, atol=1e-4)  # float32 of values up to 30
