"""The twin's velocities do not depend on the venc the scan was acquired with.

No magnitude image shows the venc, so a phase network can only learn velocities. Training
re-expresses every scan's phase at a reference venc (the network's ``velocity_reference_cm_s``)
and synthesis converts the output to the scan's venc: the same magnitudes acquired at another
venc give a twin of the same velocities (and phase scaled by the venc ratio).
"""

from __future__ import annotations

import numpy as np
import pytest
from twin_helpers import save_tiny_models

from keras_hdl.series import REFERENCE_VENC_CM_S
from keras_hdl.synthesis import downsample, load_local_models, synthesize_twin

DOUBLE_VENC = tuple(2 * v for v in REFERENCE_VENC_CM_S)


def myocardial_velocities(models, series, venc) -> np.ndarray:
    """cm/s (T, 3, N) of the K = 3 twin of ``series`` acquired at ``venc``, in its myocardium."""
    twin = synthesize_twin(downsample(series.replace(venc=venc), 3), 3, models, seed=1, frames=series.num_frames)
    velocity = twin.velocity()  # (T, S, 3, H, W) cm/s
    return np.stack([velocity[:, :, c][twin.masks] for c in range(3)])


@pytest.mark.parametrize(("reference", "ratio"), [(REFERENCE_VENC_CM_S, 1.0), (None, 2.0)])
def test_twin_velocities_follow_the_networks_reference_not_the_scans_venc(tmp_path, phantom_series, reference, ratio):
    models = load_local_models(save_tiny_models(tmp_path / "models", velocity_reference_cm_s=reference))
    at_reference = myocardial_velocities(models, phantom_series, REFERENCE_VENC_CM_S)
    at_double = myocardial_velocities(models, phantom_series, DOUBLE_VENC)
    assert np.abs(at_reference).max() > 1.0  # cm/s: the untrained network's output is not near zero
    # with a reference the velocities agree (float32 rounding of φ·ref/venc·venc, |v| < 30 cm/s: < 1e-4);
    # a venc-blind network gives the same phase, so twice the velocity at twice the venc
    np.testing.assert_allclose(at_double, ratio * at_reference, rtol=0, atol=1e-4)
