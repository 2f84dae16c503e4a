"""Synthesis works on every phantom variant: any matrix, pixel spacing, orientation, venc and frame count."""

from __future__ import annotations

import numpy as np
import pytest

from keras_hdl.assessment import assess_series
from keras_hdl.phantom import PhantomConfig, phantom_scan
from keras_hdl.phantom.config import REALISM_V2
from keras_hdl.synthesis import downsample, synthesize_twin

VARIED = PhantomConfig(subjects=3, slices=1, seed=8, **REALISM_V2)


@pytest.mark.parametrize("subject_index", range(VARIED.subjects))
def test_a_twin_of_a_varied_scan_keeps_its_acquisition_and_is_assessed(subject_index, local_models):
    series, _ = phantom_scan(VARIED, subject_index)
    k = 3
    twin = synthesize_twin(downsample(series, k), k, local_models, frames=series.num_frames)
    assert twin.magnitude.shape == series.magnitude.shape and twin.phase.shape == series.phase.shape
    assert twin.venc == series.venc and twin.pixel_spacing == series.pixel_spacing
    np.testing.assert_allclose(twin.image_orientation, series.image_orientation)
    kept = np.arange(0, series.num_frames, k + 1)
    np.testing.assert_array_equal(twin.magnitude[kept], series.magnitude[kept])
    assessment = assess_series(twin)
    assert assessment.global_curves.shape == (1, 3, series.num_frames) and np.isfinite(assessment.global_curves).all()
