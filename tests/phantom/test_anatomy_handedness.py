"""The phantom's anatomy sits where a real heart's does in patient coordinates (its DICOM geometry).

A network trained without mirror images learns the anatomy's handedness with the twist's sense, so a
mirror-image heart in the phantom would teach it the wrong sense for every real scan. Checked in DICOM
patient coordinates (LPS: x to the patient's left, y to the back, z to the head), independently of the
renderer's image-plane angles: from the LV, the RV lies to the right and front; the anterior RV
insertion point lies in front of and above the inferior one.
(The anterior insertion point is the upper one in either handedness; that check guards its name.)
"""

from __future__ import annotations

import numpy as np
import pytest
from patient_coordinates import patient_points

from keras_hdl.phantom import PhantomConfig, phantom_scan
from keras_hdl.phantom.config import REALISM_V2
from keras_hdl.phantom.truth import TISSUE_CODES

RIGHT_AND_FRONT = np.array([-1.0, -1.0, 0.0]) / np.sqrt(2.0)

CASES = {
    "v1": (PhantomConfig(subjects=1, slices=1, frames=20, size=96, noise=False, seed=3), 0),
    **{
        f"v2 acquisition {rescan + 1}": (PhantomConfig(subjects=1, slices=1, noise=False, seed=3, **REALISM_V2), rescan)
        for rescan in range(3)
    },
}


def slice_points(series, rows_cols: np.ndarray) -> np.ndarray:
    """(N, 2) pixel (row, col) of slice 0 → (N, 3) mm in patient coordinates."""
    rows_cols = np.asarray(rows_cols).reshape(-1, 2)
    return patient_points(series, rows_cols[:, 0], rows_cols[:, 1])


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


@pytest.mark.parametrize("case", list(CASES))
def test_rv_lies_to_the_patients_right_and_front_of_the_lv(case):
    config, rescan = CASES[case]
    series, truth = phantom_scan(config, 0, rescan)
    labels = truth.tissue_labels[0, 0]
    lv = slice_points(series, np.argwhere(series.masks[0, 0])).mean(axis=0)
    rv = slice_points(series, np.argwhere(labels == TISSUE_CODES["rv_blood"])).mean(axis=0)
    # cos 45°: the RV's direction within 45° of right-front (measured 0.97 for v1; mirrored it was −0.99)
    assert unit(rv - lv) @ RIGHT_AND_FRONT > np.cos(np.deg2rad(45))

    # the insertion points' names: the anterior one in front of (−y) and above (+z) the inferior one
    # (the oblique plane leaves the line between them leaning to the left, +x, as well)
    anterior, inferior = slice_points(series, truth.insertion_points_rc_px[0, 0])
    _, back, head = unit(anterior - inferior)
    assert back < -0.2 and head > 0.2
