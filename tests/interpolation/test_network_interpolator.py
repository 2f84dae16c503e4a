"""The split network's interpolator (no network here: stand-in predictors): each pair encoded once, each
target decoded with its own pair's features and its own condition, in bounded batches."""

from __future__ import annotations

import numpy as np
import pytest

from keras_hdl.interpolation.network import EncoderDecoderInterpolator, pair_chunks
from keras_hdl.predictors import predict_in_batches


@pytest.mark.parametrize(
    ("targets", "batch_size", "chunks"),
    [
        ([6] * 7, 32, [(0, 5), (5, 7)]),  # K = 6: five pairs fill a batch of 32 with 30 targets
        ([1] * 5, 2, [(0, 2), (2, 4), (4, 5)]),
        ([0, 3, 0, 40, 2, 2], 4, [(1, 2), (3, 4), (4, 6)]),  # no pair without targets; 40 > 4 stands alone
        ([], 4, []),
    ],
)
def test_pair_chunks_fill_one_decoder_batch(targets, batch_size, chunks):
    assert [(c.start, c.stop) for c in pair_chunks(np.asarray(targets, int), batch_size)] == chunks


def test_each_pair_is_encoded_once_and_each_target_decoded_with_its_own_pair():
    size, pairs = 4, 9
    start = np.arange(pairs, dtype=np.float32)[:, None, None] * np.ones((1, size, size), np.float32)
    encoded, decoded = [], []

    def encoder(inputs):  # a pair's "features": its start value, at two sizes like the skips
        encoded.extend(inputs["magnitudes"][:, 0, 0, 0].tolist())
        return {"skip0": inputs["magnitudes"][..., :1], "bottom": inputs["magnitudes"][:, :1, :1, :1]}

    def decoder(inputs):  # the target's frame: its pair's features plus its own condition
        decoded.append(len(inputs["condition"]))
        assert np.array_equal(inputs["skip0"][:, :1, :1], inputs["bottom"])  # both features of the same pair
        value = inputs["skip0"] + inputs["condition"][:, 1, None, None, None]
        return {"magnitude": value, "mask": inputs["magnitudes"][..., 1:]}

    rng = np.random.default_rng(0)
    gap = rng.permutation(np.repeat(np.arange(pairs), 3))[:-2]  # 25 targets, shuffled, 2 pairs with fewer
    positions = np.stack([np.zeros(gap.size), np.arange(gap.size) / 100, np.ones(gap.size)], axis=-1)
    interpolator = EncoderDecoderInterpolator(encoder, decoder, batch_size=7)
    magnitude, mask = interpolator.interpolate_gaps(start, start + 100, start * 0, start * 0, gap, positions)

    assert sorted(encoded) == list(range(pairs))  # every pair once
    assert max(decoded) <= 7 and sum(decoded) == gap.size
    np.testing.assert_array_equal(magnitude[:, 0, 0], gap.astype(np.float32) + positions[:, 1].astype(np.float32))
    np.testing.assert_array_equal(mask[:, 0, 0], gap + 100)


def test_shared_inputs_are_gathered_per_batch():
    seen = []

    def predictor(inputs):
        seen.append(inputs["shared"].shape[0])
        return {"sum": inputs["own"] + inputs["shared"]}

    own, shared, group = np.arange(5.0), np.array([10.0, 20.0]), np.array([1, 0, 1, 1, 0])
    out = predict_in_batches(predictor, {"own": own}, 2, shared={"shared": shared}, group=group)
    np.testing.assert_array_equal(out["sum"], own + shared[group])
    assert seen == [2, 2, 1]
    with pytest.raises(ValueError, match="one group index per sample"):
        predict_in_batches(predictor, {"own": own}, 2, shared={"shared": shared})
