"""Which frames a K-dropped acquisition keeps, and the gaps between them."""

import numpy as np
import pytest

from keras_hdl.errors import InputError
from keras_hdl.interpolation.plan import FRACTION_DECIMALS, Gap, gap_fractions, gaps, kept_frames


@pytest.mark.parametrize("k", range(1, 7))
def test_every_frame_is_kept_or_inside_exactly_one_gap(k):
    kept = kept_frames(50, k).tolist()
    assert kept == list(range(0, 50, k + 1))
    targets = [t for gap in gaps(50, k) for t in gap.targets]
    assert sorted(kept + [t % 50 for t in targets]) == list(range(50))
    assert all(1 <= gap.end - gap.start - 1 <= k for gap in gaps(50, k))


def test_last_gap_runs_to_frame_zero_of_the_next_cycle():
    # T = 50, K = 6: kept 0, 7, …, 49; the last gap is 49 → 50 (≡ 0) and holds no frame.
    assert kept_frames(50, 6)[-1] == 49 and gaps(50, 6)[-1] == Gap(42, 49)
    # T = 50, K = 3: kept 0, 4, …, 48; the last gap 48 → 50 holds frame 49, half-way.
    last = gaps(50, 3)[-1]
    assert last == Gap(48, 50) and list(last.targets) == [49] and last.fraction(49) == 0.5


def test_k_zero_has_no_gaps_and_bad_k_is_rejected():
    assert gaps(50, 0) == [] and kept_frames(50, 0).tolist() == list(range(50))
    with pytest.raises(InputError, match="out of range"):
        kept_frames(50, 7)
    with pytest.raises(InputError, match="fewer than two"):
        kept_frames(6, 3)


def test_gap_fractions_are_exact_for_float32_positions():
    # float32 frame / T positions: (3/20 − 2/20) / (4/20 − 2/20) is not exactly 1/2 in float32 arithmetic
    positions = (np.array([[2, 3, 4], [12, 13, 14], [0, 1, 2], [16, 18, 20]]) / np.float32(20)).astype(np.float32)
    np.testing.assert_array_equal(gap_fractions(positions), [0.5, 0.5, 0.5, 0.5])


def test_the_network_weighs_a_gap_like_the_baselines():
    """gap_fraction (the interpolator's graph, float32, unrounded) and gap_fractions (numpy, rounded) agree.

    The graph subtracts float32 positions over spans down to 1/50 (measured error up to 1.03e-6); the
    baselines round to FRACTION_DECIMALS (up to half a unit of the 5th decimal) so that halves are
    exact there: together at most 5e-6 + 2e-6.
    """
    keras = pytest.importorskip("keras")
    from keras_hdl.models.interpolator import gap_fraction

    rows = [(gap.start, target, gap.end) for k in range(1, 7) for gap in gaps(50, k) for target in gap.targets]
    positions = (np.asarray(rows) / np.float32(50)).astype(np.float32)
    network = keras.ops.convert_to_numpy(gap_fraction(keras.ops.convert_to_tensor(positions)))[:, 0]
    baselines = gap_fractions(positions)
    np.testing.assert_allclose(network, baselines, rtol=0, atol=0.5 * 10.0**-FRACTION_DECIMALS + 2e-6)
    halves = np.isclose(baselines, 0.5, rtol=0, atol=1e-3)
    assert halves.any() and (baselines[halves] == 0.5).all()
