"""The twin's velocities depend on neither the scan's venc nor its frame interval, only on the images.

No magnitude image shows the venc, so a phase network can only learn velocities. Training
re-expresses every scan's phase at a reference venc (the network's ``velocity_reference_cm_s``)
and synthesis converts the output to the scan's venc: the same magnitudes acquired at another
venc give a twin of the same velocities (and phase scaled by the venc ratio).

Nor do the images show the time between frames: the same wall displacement between frames is
twice the velocity at half the frame interval. Training re-expresses the phase as displacement per
reference frame interval (``frame_interval_reference_ms``) and synthesis divides by the scan's
RR / T: the same magnitudes at twice the RR interval give a twin of half the velocities.
"""

from __future__ import annotations

import numpy as np
import pytest
from twin_helpers import save_tiny_models

from keras_hdl.series import REFERENCE_FRAME_INTERVAL_MS, REFERENCE_VENC_CM_S
from keras_hdl.synthesis import downsample, load_local_models, synthesize_twin

DOUBLE_VENC = tuple(2 * v for v in REFERENCE_VENC_CM_S)
# float32 rounding of φ·ref/venc·venc for |v| < 30 cm/s (and of the interval ratio): < 1e-4 cm/s
ATOL_CM_S = 1e-4


def myocardial_velocities(models, series, venc=REFERENCE_VENC_CM_S) -> np.ndarray:
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
    # with a reference the velocities agree; a venc-blind network gives the same phase, so twice the
    # velocity at twice the venc
    np.testing.assert_allclose(at_double, ratio * at_reference, rtol=0, atol=ATOL_CM_S)


@pytest.mark.parametrize(("interval_reference", "ratio"), [(REFERENCE_FRAME_INTERVAL_MS, 0.5), (None, 1.0)])
def test_twin_velocities_scale_with_one_over_the_frame_interval(tmp_path, phantom_series, interval_reference, ratio):
    models = load_local_models(
        save_tiny_models(
            tmp_path / "models",
            velocity_reference_cm_s=REFERENCE_VENC_CM_S,
            frame_interval_reference_ms=interval_reference,
        )
    )
    # the untrained network's output reaches ±1: acquired at twice the reference venc, no velocity saturates
    # at the scan's venc at the frame intervals below (RR / T ≈ 16-22 ms and twice that; the reference, 20 ms)
    rr = phantom_series.rr_interval_ms
    at_rr = myocardial_velocities(models, phantom_series, DOUBLE_VENC)
    at_double_rr = myocardial_velocities(models, phantom_series.replace(rr_interval_ms=2 * rr), DOUBLE_VENC)
    assert np.abs(at_rr).max() > 1.0
    # the same displacement over twice the time: half the velocity (a network blind to the interval: the same)
    np.testing.assert_allclose(at_double_rr, ratio * at_rr, rtol=0, atol=ATOL_CM_S)
    # by hand: at RR = reference × T the output is taken as it is, so at the scan's RR it is scaled by
    # reference × T / RR
    at_reference_interval = myocardial_velocities(
        models,
        phantom_series.replace(rr_interval_ms=REFERENCE_FRAME_INTERVAL_MS * phantom_series.num_frames),
        DOUBLE_VENC,
    )
    scale = 1.0 if interval_reference is None else REFERENCE_FRAME_INTERVAL_MS * phantom_series.num_frames / rr
    np.testing.assert_allclose(at_rr, scale * at_reference_interval, rtol=0, atol=ATOL_CM_S)


def test_unknown_rr_takes_the_reference_interval_and_says_so(tmp_path, phantom_series):
    models = load_local_models(
        save_tiny_models(
            tmp_path / "models",
            velocity_reference_cm_s=REFERENCE_VENC_CM_S,
            frame_interval_reference_ms=REFERENCE_FRAME_INTERVAL_MS,
        )
    )
    unknown = myocardial_velocities(models, phantom_series.replace(rr_interval_ms=None))
    at_reference_interval = myocardial_velocities(
        models, phantom_series.replace(rr_interval_ms=REFERENCE_FRAME_INTERVAL_MS * phantom_series.num_frames)
    )
    np.testing.assert_allclose(unknown, at_reference_interval, rtol=0, atol=ATOL_CM_S)
    assert models.phase.assumes_frame_interval(None)
    assert not models.phase.assumes_frame_interval(phantom_series.rr_interval_ms)


def test_synthesize_says_when_it_assumes_the_frame_interval(tmp_path, phantom_series):
    from click.testing import CliRunner

    from keras_hdl.cli import main

    models = save_tiny_models(
        tmp_path / "models",
        velocity_reference_cm_s=REFERENCE_VENC_CM_S,
        frame_interval_reference_ms=REFERENCE_FRAME_INTERVAL_MS,
    )
    for rr, said in ((phantom_series.rr_interval_ms, False), (None, True)):
        source = phantom_series.replace(rr_interval_ms=rr).save_npz(tmp_path / f"rr-{rr}.npz")
        out = tmp_path / f"twin-{rr}"
        args = ["synthesize", str(source), "--downsample", "3", "--out", str(out), "--model", str(models)]
        result = CliRunner().invoke(main, [*args, "--no-progress", "--backend", "keras"])
        assert result.exit_code == 0, result.output
        assert ("RR interval unknown: the twin's velocities assume 20 ms between frames" in result.output) is said
