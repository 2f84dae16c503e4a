"""Which frames a K-dropped acquisition keeps, and the gaps between them."""

import pytest

from keras_hdl.errors import InputError
from keras_hdl.interpolation.plan import Gap, gaps, kept_frames


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
