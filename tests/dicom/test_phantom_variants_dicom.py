"""Every phantom variant (any matrix, spacing, orientation, venc, frame count) round-trips through DICOM."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from test_roundtrip import assert_same_series
from test_validators import dciodvfy

from keras_hdl.assessment import assess_series
from keras_hdl.phantom import PhantomConfig, phantom_scan
from keras_hdl.phantom.config import REALISM_V2
from keras_hdl.phantom.dataset import SCAN_WRITERS
from keras_hdl.readers import read_series

VARIANTS = {
    "v2": PhantomConfig(subjects=2, slices=2, seed=5, **REALISM_V2),
    "v2-eddy-aliasing": PhantomConfig(subjects=2, slices=2, seed=6, eddy_currents=True, aliasing=True, **REALISM_V2),
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_reads_back_as_itself_and_assesses_the_same(name, tmp_path):
    series, _ = phantom_scan(VARIANTS[name], subject_index=1)
    assert series.magnitude.shape[2] != series.magnitude.shape[3]  # a non-square matrix
    SCAN_WRITERS["dicom"](series, tmp_path)
    back = read_series(tmp_path / "series.dcm")
    assert_same_series(back, series, phase_atol=0.0)
    np.testing.assert_allclose(back.image_orientation, series.image_orientation, atol=1e-6)
    # The same raw phase, venc and masks give the same curves (float32 reading of the venc: 1e-3 mm/s).
    np.testing.assert_allclose(assess_series(back).global_curves, assess_series(series).global_curves, atol=1e-3)
    if shutil.which("dciodvfy") is not None:
        for path in (tmp_path / "series.dcm", tmp_path / "seg.dcm"):
            errors, unexpected = dciodvfy(path)
            assert errors == [] and unexpected == [], (path.name, errors, unexpected)
