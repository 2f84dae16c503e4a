"""``PhantomConfig(right_ventricle=False)``: the RV leaves the images and the velocity field, nothing else changes."""

from __future__ import annotations

import dataclasses

import numpy as np

from keras_hdl.phantom import PhantomConfig, phantom_scan
from keras_hdl.phantom.truth import TISSUE_CODES

CONFIG = PhantomConfig(subjects=1, slices=2, frames=20, size=64, noise=False)


def test_no_right_ventricle_in_view():
    with_rv, truth = phantom_scan(CONFIG)
    without_rv, truth_without = phantom_scan(dataclasses.replace(CONFIG, right_ventricle=False))
    rv = np.isin(truth.tissue_labels, [TISSUE_CODES["rv_wall"], TISSUE_CODES["rv_blood"]])
    assert rv.any()
    assert not np.isin(truth_without.tissue_labels, [TISSUE_CODES["rv_wall"], TISSUE_CODES["rv_blood"]]).any()
    # where the RV was, the images now hold the tissue behind it, at rest
    assert (with_rv.magnitude[rv] != without_rv.magnitude[rv]).mean() > 0.9
    outside_lv = rv & (truth_without.tissue_labels != TISSUE_CODES["lv_myocardium"])
    assert (without_rv.velocity()[:, :, 0][outside_lv] == 0).all()
    # the LV, its masks and the ground-truth curves are those of the scan with the RV
    np.testing.assert_array_equal(with_rv.masks, without_rv.masks)
    np.testing.assert_array_equal(truth.radial_mm_s, truth_without.radial_mm_s)
    np.testing.assert_array_equal(truth.insertion_points_rc_px, truth_without.insertion_points_rc_px)
