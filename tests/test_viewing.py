"""Which side a scan is seen from, and the column mirror: the same scan, the same velocities in patient coordinates."""

from __future__ import annotations

import numpy as np
import pytest
from patient_coordinates import patient_points

from keras_hdl.assessment import assess_series
from keras_hdl.dicom.common import image_axes
from keras_hdl.phantom import PhantomConfig, phantom_scan
from keras_hdl.phantom.config import REALISM_V2
from keras_hdl.series import PHASE_LEVELS
from keras_hdl.viewing import canonical_view, mirror_columns, seen_from_apex

# float32 raw phase: 4096 − (4096 − p) is p to within half an ulp of 4096 (2.4e-4)
RAW_PHASE_ATOL = 5e-4


@pytest.fixture(scope="module")
def scan():
    series, _ = phantom_scan(PhantomConfig(subjects=1, slices=2, frames=20, size=64, seed=2), 0)
    return series


def patient_positions(series, slice_index: int = 0) -> np.ndarray:
    """(H, W, 3) mm: the patient position of every pixel of one slice."""
    rows, cols = np.meshgrid(*(np.arange(n) for n in series.image_shape), indexing="ij")
    return patient_points(series, rows, cols, slice_index)


def patient_velocity(series) -> np.ndarray:
    """(T, S, H, W, 3) cm/s: the image-axis components (x, y, z = x × y) as vectors in patient coordinates."""
    axes = image_axes(series.image_orientation)  # (3, 3): x, y, z in patient coordinates
    return np.einsum("tschw,cp->tshwp", series.velocity().astype(np.float64), axes)


def test_the_phantoms_scans_are_seen_from_the_base_and_their_mirror_images_from_the_apex():
    for rescan in range(3):  # v2: tilted planes, any in-plane orientation
        series, _ = phantom_scan(PhantomConfig(subjects=1, slices=1, seed=4, **REALISM_V2), 0, rescan)
        assert not seen_from_apex(series.image_orientation)
        assert seen_from_apex(mirror_columns(series).image_orientation)


STANDARD_PLANES = {
    "axial (and the default)": (1, 0, 0, 0, 1, 0),
    "coronal": (1, 0, 0, 0, 0, -1),
    "sagittal": (0, 1, 0, 0, 0, -1),
}


@pytest.mark.parametrize("name", list(STANDARD_PLANES))
def test_the_standard_planes_are_not_taken_for_short_axis_planes(name):
    """Their normals lie 52-59° from the LV long axis, beyond the 45° cone either way: used as given."""
    plane = STANDARD_PLANES[name]
    rows, cols = np.asarray(plane[:3], float), np.asarray(plane[3:], float)
    assert not seen_from_apex(plane) and not seen_from_apex((*-rows, *cols))


def test_mirror_keeps_every_pixel_where_it_is_and_every_velocity_as_it_is(scan):
    mirrored = mirror_columns(scan)
    width = scan.image_shape[1]
    np.testing.assert_array_equal(mirrored.magnitude, scan.magnitude[..., ::-1])
    np.testing.assert_array_equal(mirrored.masks, scan.masks[..., ::-1])
    # column c of the mirror is column W − 1 − c of the scan, at the same place in the patient (mm, rounding only)
    np.testing.assert_allclose(patient_positions(mirrored), patient_positions(scan)[:, ::-1], atol=1e-9)
    assert width > 1
    # the same velocity vector in patient coordinates (cm/s): x and z components negated with their axes
    venc = max(scan.venc)
    np.testing.assert_allclose(
        patient_velocity(mirrored), patient_velocity(scan)[..., ::-1, :], atol=2 * venc * RAW_PHASE_ATOL / PHASE_LEVELS
    )


def test_mirror_twice_is_the_scan(scan):
    back = mirror_columns(mirror_columns(scan))
    np.testing.assert_array_equal(back.magnitude, scan.magnitude)
    np.testing.assert_array_equal(back.masks, scan.masks)
    np.testing.assert_allclose(back.phase, scan.phase, atol=RAW_PHASE_ATOL)
    np.testing.assert_allclose(back.image_orientation, scan.image_orientation, atol=0)
    np.testing.assert_allclose(back.image_positions, scan.image_positions, atol=1e-9)


def test_assessment_of_the_mirror_image_negates_circumferential_and_longitudinal(scan):
    """Seen from the other side: counter-clockwise as displayed turns clockwise, z points the other way."""
    curves = assess_series(scan).global_curves  # (S, 3, T) mm/s
    mirrored = assess_series(mirror_columns(scan)).global_curves
    expected = curves * np.array([1.0, -1.0, -1.0])[:, None]
    # the LV centroid moves by rounding of the flipped mask only; phase rounding 5e-4 raw ≈ 5e-4 mm/s
    np.testing.assert_allclose(mirrored, expected, atol=1e-3 * np.abs(curves).max())


def test_canonical_view_mirrors_only_a_scan_seen_from_the_apex(scan):
    view, mirrored = canonical_view(scan)
    assert view is scan and not mirrored
    view, mirrored = canonical_view(mirror_columns(scan))
    assert mirrored
    np.testing.assert_array_equal(view.magnitude, scan.magnitude)
