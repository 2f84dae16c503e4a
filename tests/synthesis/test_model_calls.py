"""A twin's frames go to the networks in as few calls as the batch size allows, never one per frame; the
interpolator's encoder sees each gap's kept pair once."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from twin_helpers import BATCH_ATOL_RAW_PHASE

from keras_hdl.interpolation.network import EncoderDecoderInterpolator
from keras_hdl.interpolation.plan import gaps
from keras_hdl.synthesis import downsample, synthesize_twin
from keras_hdl.synthesis.networks import PhaseSynthesizer


class CountingPredictor:
    """Wraps a predictor and records the batch size (samples) of every call."""

    def __init__(self, predictor):
        self.predictor = predictor
        self.batches: list[int] = []

    def __call__(self, inputs):
        self.batches.append(len(next(iter(inputs.values()))))
        return self.predictor(inputs)


@pytest.mark.parametrize(
    ("batch_size", "encoder_batches", "decoder_batches", "phase_batches"),
    [
        # 2 slices × 7 gaps = 14 kept pairs of 6 dropped frames each (84), 2 × 50 = 100 phase frames;
        # the pairs whose dropped frames fill one decoder batch are encoded together (the features held at once)
        (64, [10, 4], [60, 24], [64, 36]),
        (16, [2] * 7, [12] * 7, [16] * 6 + [4]),
    ],
)
def test_two_slice_twin_takes_one_call_per_network_per_batch_and_encodes_each_gap_once(
    phantom_series, local_models, batch_size, encoder_batches, decoder_batches, phase_batches
):
    k, frames, slices = 6, 50, phantom_series.num_slices
    assert isinstance(local_models.interpolator, EncoderDecoderInterpolator)  # the tiny preset's condition: bottleneck
    encoder = CountingPredictor(local_models.interpolator.encoder)
    decoder = CountingPredictor(local_models.interpolator.decoder)
    phase = CountingPredictor(local_models.phase.predictor)
    counting = dataclasses.replace(
        local_models,
        interpolator=EncoderDecoderInterpolator(encoder, decoder, batch_size=batch_size),
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
    assert encoder.batches == encoder_batches and sum(encoder.batches) == slices * len(gaps(frames, k))
    assert decoder.batches == decoder_batches and sum(decoder.batches) == slices * dropped
    assert phase.batches == phase_batches
    # the counted twin is the twin: same as through the uncounted networks, which batch differently
    # (float32 sums in another order: BATCH_ATOL_RAW_PHASE)
    uncounted = synthesize_twin(low, k, local_models, seed=2, frames=frames)
    np.testing.assert_allclose(twin.phase, uncounted.phase, rtol=0, atol=BATCH_ATOL_RAW_PHASE)
