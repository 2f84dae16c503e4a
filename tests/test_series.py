"""The series model validates its fields and converts phase correctly."""

import numpy as np
import pytest

from keras_hdl.errors import InputError
from keras_hdl.series import (
    Series,
    denormalize_phase,
    normalize_magnitude,
    normalize_phase,
    phase_to_velocity,
    velocity_to_phase,
)


def test_valid_series_keeps_values_and_derives_geometry(small_series_arrays):
    magnitude, phase, masks = small_series_arrays
    series = Series(
        magnitude,
        phase,
        venc=(20, 20, 30),
        masks=masks,
        pixel_spacing=(1.5, 1.25),
        image_orientation=(0, 1, 0, 0, 0, -1),
        image_positions=[[0, 0, 0], [-8, 0, 0]],
        rr_interval_ms=1000,
    )
    assert series.num_frames == 4 and series.num_slices == 2 and series.image_shape == (16, 16)
    np.testing.assert_array_equal(series.magnitude, magnitude)
    assert series.masks.dtype == bool
    # row (0,1,0) × column (0,0,-1) = (-1, 0, 0): the second slice lies 8 mm along the normal.
    np.testing.assert_allclose(series.slice_normal, [-1, 0, 0])
    np.testing.assert_allclose(series.slice_positions, [0, 8])
    np.testing.assert_allclose(series.trigger_times_ms, [0, 250, 500, 750])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"magnitude": np.zeros((4, 16, 16))}, "Series.magnitude: expected 4 axes"),
        ({"magnitude": np.zeros((2, 2, 16, 16))}, "at least 3 frames"),
        ({"phase": np.zeros((4, 2, 2, 16, 16))}, "Series.phase: expected shape"),
        ({"phase": np.full((4, 2, 3, 16, 16), 5000.0)}, "raw phase values must lie in"),
        ({"masks": np.zeros((3, 2, 16, 16))}, "Series.masks: expected shape"),
        ({"masks": np.full((4, 2, 16, 16), 0.5)}, "binary"),
        ({"venc": (20, 0, 30)}, "Series.venc: every encoding velocity must be > 0"),
        ({"venc": (20, 30)}, "Series.venc: expected 3 values"),
        ({"pixel_spacing": (1.0, -1.0)}, "Series.pixel_spacing"),
        ({"image_orientation": (1, 0, 0, 1, 0, 0)}, "orthonormal"),
        ({"image_positions": np.zeros((3, 3))}, "Series.image_positions: expected shape"),
        ({"rr_interval_ms": 0}, "Series.rr_interval_ms"),
        ({"provenance": {"subject": object()}}, "Series.provenance"),
    ],
)
def test_bad_fields_are_named(small_series_arrays, changes, message):
    magnitude, phase, masks = small_series_arrays
    fields = {"magnitude": magnitude, "phase": phase, "masks": masks} | changes
    with pytest.raises(InputError, match=message):
        Series(**fields)


def test_non_finite_values_are_located(small_series_arrays):
    magnitude, phase, _ = small_series_arrays
    magnitude = magnitude.copy()
    magnitude[1, 0, 3, 5] = np.nan
    with pytest.raises(InputError, match=r"Series.magnitude: 1 non-finite.*\(1, 0, 3, 5\)"):
        Series(magnitude, phase)


def test_phase_velocity_conversions_match_design_formula():
    venc = (20.0, 20.0, 30.0)
    phase = np.array([0, 1024, 2048, 3072, 4096], np.float32)
    phase = np.broadcast_to(phase, (3, 1, 5))
    velocity = phase_to_velocity(phase, venc)
    # v = (p / 4096 − 0.5) · 2 · venc
    np.testing.assert_allclose(velocity[0, 0], [-20, -10, 0, 10, 20])
    np.testing.assert_allclose(velocity[2, 0], [-30, -15, 0, 15, 30])
    np.testing.assert_allclose(velocity_to_phase(velocity, venc), phase)
    # Normalised phase φ = p/2048 − 1 gives v = φ · venc.
    np.testing.assert_allclose(normalize_phase(phase)[0, 0], [-1, -0.5, 0, 0.5, 1])
    np.testing.assert_allclose(denormalize_phase(normalize_phase(phase)), phase)


def test_velocity_to_phase_quantises_and_clips_at_venc(rng):
    venc = (20.0, 20.0, 30.0)
    velocity = rng.uniform(-35, 35, (3, 8, 8)).astype(np.float32)
    recovered = phase_to_velocity(velocity_to_phase(velocity, venc), venc)
    clipped = np.clip(velocity, -np.reshape(venc, (3, 1, 1)), np.reshape(venc, (3, 1, 1)))
    # One quantisation step is 2·venc/4096; rounding errs by at most half of it.
    step = 2 * np.reshape(venc, (3, 1, 1)) / 4096
    assert (np.abs(recovered - clipped) <= step / 2 + 1e-5).all()


def test_normalize_magnitude_uses_robust_maximum():
    magnitude = np.arange(1000, dtype=np.float32).reshape(10, 1, 10, 10)
    magnitude[-1, 0, -1, -1] = 1e6  # one outlier must not set the scale
    normalised = normalize_magnitude(magnitude)
    assert normalised.min() == -1 and normalised.max() == 1
    scale = np.percentile(magnitude, 99.5)
    np.testing.assert_allclose(normalised.ravel()[500], 500 / scale * 2 - 1, rtol=1e-6)


def test_npz_round_trip(tmp_path, small_series_arrays):
    magnitude, phase, masks = small_series_arrays
    series = Series(
        magnitude, phase, masks=masks, rr_interval_ms=900.0, provenance={"source": "phantom", "seed": 3, "snr": 20.5}
    )
    loaded = Series.load_npz(series.save_npz(tmp_path / "scan.npz"))
    for name in ("magnitude", "phase", "masks", "image_positions"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(series, name))
    assert loaded.venc == series.venc and loaded.rr_interval_ms == 900.0
    assert loaded.provenance == {"source": "phantom", "seed": 3, "snr": 20.5}
    assert [p.name for p in tmp_path.iterdir()] == ["scan.npz"]  # no temporary file left behind


def test_load_npz_rejects_other_files(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(InputError, match=r"not a readable \.npz"):
        Series.load_npz(bad)
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(3))
    with pytest.raises(InputError, match="not a keras-hdl series"):
        Series.load_npz(other)


def test_an_npy_header_that_numpy_cannot_tokenize_is_an_input_error(tmp_path):
    """numpy retries an unparsable .npy header through ``tokenize``, whose TokenError escaped the readers (a bit
    flip found by tests/dicom/test_fuzz.py): an unclosed brace in the header."""
    import zipfile

    from keras_hdl.readers import read_masks

    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), \n"
    npy = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + np.zeros(2, np.float32).tobytes()
    damaged = tmp_path / "masks.npz"
    with zipfile.ZipFile(damaged, "w") as archive:
        archive.writestr("masks.npy", npy)
    with pytest.raises(InputError, match=r"not a readable \.npz"):
        Series.load_npz(damaged)
    with pytest.raises(InputError, match=str(damaged)):
        read_masks(damaged, Series(np.zeros((3, 1, 8, 8), np.float32)))
