"""The shared cylindrical directions follow docs/design.md §2.3's signs."""

import numpy as np

from keras_hdl.geometry import cylindrical_unit_vectors


def test_directions_at_the_four_compass_points():
    # right, below (larger row), left, above of the centre, in image (x, y) offsets
    dx = np.array([2.0, 0.0, -3.0, 0.0])
    dy = np.array([0.0, 5.0, 0.0, -1.0])
    radial, circumferential = cylindrical_unit_vectors(dx, dy)
    np.testing.assert_allclose(radial, [[-1, 0], [0, -1], [1, 0], [0, 1]])  # towards the centre
    # counter-clockwise as displayed (y down): right → up, below → right, left → down, above → left
    np.testing.assert_allclose(circumferential, [[0, -1], [1, 0], [0, 1], [-1, 0]])


def test_directions_are_orthonormal_and_zero_at_origin(rng):
    dx, dy = rng.normal(size=(2, 100))
    radial, circumferential = cylindrical_unit_vectors(dx, dy)
    np.testing.assert_allclose(np.linalg.norm(radial, axis=-1), 1)
    np.testing.assert_allclose(np.sum(radial * circumferential, axis=-1), 0, atol=1e-12)
    origin_r, origin_c = cylindrical_unit_vectors(np.zeros(1), np.zeros(1))
    assert not origin_r.any() and not origin_c.any()
