"""A twin's frames go to the networks in as few calls as the batch size allows, never one per frame."""

from __future__ import annotations

import dataclasses

import numpy as np
from twin_helpers import BATCH_ATOL_RAW_PHASE

from keras_hdl.interpolation.network import NetworkInterpolator
from keras_hdl.synthesis import downsample, synthesize_twin
from keras_hdl.synthesis.networks import PhaseSynthesizer


class CountingPredictor:
    """Wraps a predictor and records the batch size of every call."""

    def __init__(self, predictor):
        self.predictor = predictor
        self.batches: list[int] = []

    def __call__(self, inputs):
        self.batches.append(len(next(iter(inputs.values()))))
        return self.predictor(inputs)


def test_two_slice_twin_takes_one_call_per_network_per_batch(phantom_series, local_models):
    k, frames, slices = 6, 50, phantom_series.num_slices  # 2 slices: 2 × 42 dropped frames, 2 × 50 phase frames
    batch_size = 64
    interpolator = CountingPredictor(local_models.interpolator.predictor)
    phase = CountingPredictor(local_models.phase.predictor)
    counting = dataclasses.replace(
        local_models,
        interpolator=NetworkInterpolator(interpolator, batch_size=batch_size),
        phase=PhaseSynthesizer(
            phase,
            local_models.phase.composite,
            batch_size=batch_size,
            neighbours=local_models.phase.neighbours,
            cycle_position=local_models.phase.cycle_position,
        ),
    )
    low = downsample(phantom_series, k)
    twin = synthesize_twin(low, k, counting, seed=2, frames=frames)

    dropped = frames - len(range(0, frames, k + 1))
    assert interpolator.batches == [batch_size, slices * dropped - batch_size]  # 84 samples: 2 calls
    assert phase.batches == [batch_size, slices * frames - batch_size]  # 100 samples: 2 calls
    # the counted twin is the twin: same as through the uncounted networks, which batch differently
    # (float32 sums in another order: BATCH_ATOL_RAW_PHASE)
    uncounted = synthesize_twin(low, k, local_models, seed=2, frames=frames)
    np.testing.assert_allclose(twin.phase, uncounted.phase, rtol=0, atol=BATCH_ATOL_RAW_PHASE)
