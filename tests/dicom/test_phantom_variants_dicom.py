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
IMAGES = {"dicom": "series.dcm", "dicom-classic": "series"}


@pytest.mark.parametrize("scan_format", sorted(IMAGES))
@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_reads_back_as_itself_and_assesses_the_same(name, scan_format, tmp_path):
    series, _ = phantom_scan(VARIANTS[name], subject_index=1)
    assert series.magnitude.shape[2] != series.magnitude.shape[3]  # a non-square matrix
    SCAN_WRITERS[scan_format](series, tmp_path)
    back = read_series(tmp_path / IMAGES[scan_format])
    # Enhanced MR keeps every raw phase value; the 12-bit classic files store raw 4096 (+venc) as 4095.
    assert_same_series(back, series, phase_atol=0.0 if scan_format == "dicom" else 1.0)
    np.testing.assert_allclose(back.image_orientation, series.image_orientation, atol=1e-6)
    # The same phase (to one raw level at +venc), venc and masks give the same curves: float32 reading of the
    # venc, 1e-3 mm/s; a pixel at +venc in a classic file, one level (venc / 2048) over a mask of > 100 pixels.
    atol = 1e-3 if scan_format == "dicom" else 10 * max(series.venc) / 2048 / 100
    np.testing.assert_allclose(assess_series(back).global_curves, assess_series(series).global_curves, atol=atol)
    if shutil.which("dciodvfy") is not None:
        images = tmp_path / IMAGES[scan_format]
        files = [images] if images.is_file() else sorted(images.iterdir())[::50]
        for path in [*files, tmp_path / "seg.dcm"]:
            errors, unexpected = dciodvfy(path)
            assert errors == [] and unexpected == [], (path.name, errors, unexpected)
