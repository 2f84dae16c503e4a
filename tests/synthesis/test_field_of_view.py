"""Resampling between pixel spacings: the separable gathers agree with scipy's bilinear spline; pasting back
only the footprint's bounding box gives what the whole slice would."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from keras_hdl.synthesis.field_of_view import LVWindow, resample


def scipy_bilinear(images, from_spacing, to_spacing, shape):
    """Reference: scipy.ndimage.map_coordinates(order=1, mode="nearest"), one image at a time."""
    rows = np.arange(shape[0]) * (to_spacing[0] / from_spacing[0])
    cols = np.arange(shape[1]) * (to_spacing[1] / from_spacing[1])
    grid = np.stack(np.meshgrid(rows, cols, indexing="ij"))
    return np.stack([ndimage.map_coordinates(image, grid, order=1, mode="nearest") for image in images])


@pytest.mark.parametrize(
    ("from_spacing", "to_spacing", "in_shape", "out_shape"),
    [
        ((1.171875, 1.171875), (2.34, 2.34), (40, 40), (20, 20)),  # a 256-px scan onto the models' grid
        ((2.34, 2.34), (1.171875, 1.171875), (20, 20), (40, 40)),  # and back
        ((1.0, 1.3), (2.5, 0.7), (17, 23), (8, 44)),  # anisotropic, output past the input's edge
    ],
)
def test_resample_matches_scipy_bilinear_with_nan_footprint(from_spacing, to_spacing, in_shape, out_shape):
    rng = np.random.default_rng(0)
    images = rng.normal(size=(3, *in_shape)).astype(np.float32)
    pasted = np.full_like(images, np.nan)  # a crop pasted on a NaN canvas, as LVWindow.paste makes
    pasted[:, 2:11, 3:9] = images[:, 2:11, 3:9]
    for source in (images, pasted):
        expected = scipy_bilinear(source, from_spacing, to_spacing, out_shape)
        result = resample(source, from_spacing, to_spacing, out_shape)
        assert result.shape == (3, *out_shape) and result.dtype == np.float32
        np.testing.assert_array_equal(np.isnan(result), np.isnan(expected))
        np.testing.assert_allclose(result, expected, rtol=0, atol=1e-6, equal_nan=True)
        region = (slice(1, out_shape[0] - 2), slice(3, out_shape[1]))  # a part of the output, same arithmetic
        np.testing.assert_array_equal(resample(source, from_spacing, to_spacing, out_shape, region), result[:, *region])
    assert np.isnan(resample(pasted, from_spacing, to_spacing, out_shape)).any()


@pytest.mark.parametrize(
    ("shape", "spacing", "centre"),
    [
        ((64, 80), (1.17, 1.17), (30, 40)),  # finer than the models' grid, crop inside the slice
        ((40, 40), (2.5, 2.5), (4, 35)),  # the models' spacing (no resampling), crop past two edges
        ((50, 30), (1.4, 2.1), (45, 3)),  # anisotropic, crop past the other two
    ],
)
def test_pasting_the_region_equals_pasting_the_whole_slice(shape, spacing, centre):
    """:meth:`LVWindow.paste` (which resamples only the footprint's bounding box, :attr:`LVWindow.region`) equals
    the crop placed on a NaN canvas of the models' grid and resampled whole onto the slice."""
    masks = np.zeros((1, *shape), bool)
    masks[0, centre[0], centre[1]] = True
    size = 24
    window = LVWindow.around(masks, spacing, (2.5, 2.5), size)
    crops = np.random.default_rng(1).uniform(-1, 1, (5, size, size)).astype(np.float32)
    canvas = np.full((5, *window.model_shape), np.nan, np.float32)
    top, left = (round(c) - size // 2 for c in window.centre)
    for i, j in np.ndindex(size, size):
        if 0 <= top + i < canvas.shape[1] and 0 <= left + j < canvas.shape[2]:
            canvas[:, top + i, left + j] = crops[:, i, j]
    expected = resample(canvas, (2.5, 2.5), spacing, shape)
    np.testing.assert_array_equal(window.paste(crops), expected)
    rows, columns = window.region
    np.testing.assert_array_equal(window.paste_region(crops), expected[:, rows, columns])
    finite = np.isfinite(expected[0])
    assert finite.sum() > size and finite[rows, columns].sum() == finite.sum()  # the box holds the footprint
    assert finite[rows, columns].any(axis=1).all() and finite[rows, columns].any(axis=0).all()  # and no more
    np.testing.assert_array_equal(window.footprint(), finite)


def test_resample_interpolates_a_ramp_exactly():
    """A linear ramp along rows, 1 mm → 0.4 mm: output row i samples input row 0.4·i; past the edge it holds."""
    ramp = np.broadcast_to(np.arange(5, dtype=np.float32)[:, None] * 10.0, (5, 3))
    result = resample(ramp, (1.0, 1.0), (0.4, 1.0), (12, 3))
    expected = np.minimum(np.arange(12) * 0.4, 4.0) * 10.0
    np.testing.assert_allclose(result[:, 1], expected, atol=1e-5)
