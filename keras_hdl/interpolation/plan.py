"""Frame bookkeeping of a low-frame-rate acquisition, and the interpolator interface.

A series of T frames acquired with K frames dropped between kept ones keeps frames
0, K+1, 2(K+1), … < T. Each gap runs from a kept frame to the next kept one; the last
gap runs past the end of the cycle to frame 0 of the next cycle (frame T ≡ 0), so the
last gap may be shorter than K (docs/design.md §2.1). Positions stay *unwrapped* (the last
gap's end is T) so that the fraction of a target inside its gap is always
(target − start) / (end − start).
"""

from __future__ import annotations

import dataclasses
from typing import Protocol, runtime_checkable

import numpy as np

from keras_hdl.errors import InputError

MAX_K = 6


@dataclasses.dataclass(frozen=True)
class Gap:
    """One gap: kept frames ``start`` and ``end`` (unwrapped, ≤ T) and the frames between them."""

    start: int
    end: int

    @property
    def targets(self) -> range:
        return range(self.start + 1, self.end)

    def fraction(self, target: int) -> float:
        """Position of ``target`` inside the gap: 0 at ``start``, 1 at ``end``."""
        return (target - self.start) / (self.end - self.start)


def kept_frames(num_frames: int, k: int) -> np.ndarray:
    """Indices of the frames a K-dropped acquisition keeps: 0, K+1, 2(K+1), … < T."""
    validate_k(k, num_frames)
    return np.arange(0, num_frames, k + 1)


def gaps(num_frames: int, k: int) -> list[Gap]:
    """The gaps between consecutive kept frames, the last one ending at frame T (≡ 0)."""
    kept = kept_frames(num_frames, k)
    ends = np.append(kept[1:], num_frames)
    return [Gap(int(s), int(e)) for s, e in zip(kept, ends, strict=True) if e - s > 1]


def validate_k(k: int, num_frames: int) -> None:
    """K must be 0…MAX_K (0 = nothing dropped) and leave at least two kept frames."""
    if not 0 <= k <= MAX_K:
        raise InputError(
            f"K = {k} is out of range: use 0 (nothing dropped) to {MAX_K} frames dropped between kept ones"
        )
    if num_frames < 2 * (k + 1):
        raise InputError(f"K = {k} keeps fewer than two of the {num_frames} frames; use a smaller K")


class Interpolator(Protocol):
    """Predict in-between magnitude frames and myocardium masks from the two kept frames around them.

    ``interpolate`` takes batched numpy arrays: ``start``/``end`` magnitudes (N, H, W) in [−1, 1],
    ``start_mask``/``end_mask`` (N, H, W) in {0, 1}, and ``positions`` (N, 3) float holding the
    unwrapped frame positions (start, target, end) divided by T. It returns the magnitude
    (N, H, W) in [−1, 1] and the mask probability (N, H, W) in [0, 1] of each target frame.
    """

    name: str

    def interpolate(
        self,
        start: np.ndarray,
        end: np.ndarray,
        start_mask: np.ndarray,
        end_mask: np.ndarray,
        positions: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]: ...


@runtime_checkable
class GapInterpolator(Interpolator, Protocol):
    """An :class:`Interpolator` that also takes each kept pair once for all the targets of its gap.

    ``interpolate_gaps`` takes the G pairs' ``start``/``end`` magnitudes and ``start_mask``/``end_mask``
    (G, H, W), each target's pair ``gap`` (M,) ints in [0, G) and its ``positions`` (M, 3); it returns
    what ``interpolate`` returns for the targets (M, H, W), doing the pairs' share of the work once.
    """

    def interpolate_gaps(
        self,
        start: np.ndarray,
        end: np.ndarray,
        start_mask: np.ndarray,
        end_mask: np.ndarray,
        gap: np.ndarray,
        positions: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]: ...


def interpolate_gaps(
    interpolator: Interpolator,
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    gap: np.ndarray,
    positions: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The targets of G gaps: ``pairs`` (start, end, start_mask, end_mask), each (G, H, W); each target's
    pair ``gap`` (M,) and ``positions`` (M, 3) → magnitude, mask (M, H, W).

    A :class:`GapInterpolator` takes the pairs once; any other interpolator gets one pair per target.
    """
    if isinstance(interpolator, GapInterpolator):
        return interpolator.interpolate_gaps(*pairs, gap, positions)
    return interpolator.interpolate(*(array[gap] for array in pairs), positions)


FRACTION_DECIMALS = 5
"""Gap fractions are rounded to this many decimals: positions arrive as float32 frame / T, whose rounding
would otherwise turn k/(K+1) = 1/2 into 0.4999999 or 0.500001 and break mask ties (0.5) at random.
Near the end of the cycle float32 positions leave a relative error of ~1.5e-6 after the subtractions,
which 6 decimals did not absorb (0.500001 at T = 50); every fraction is k/m with m <= 7, at least 0.1
units of the 5th decimal away from a rounding boundary, so 5 decimals give it exactly.
The interpolator's graph computes the same fraction (:func:`keras_hdl.models.interpolator.gap_fraction`)
without rounding: there it only weighs a blend and feeds a condition map, where no threshold meets it,
and a rounding constant (10⁵) would overflow float16 in the TFLite export. Both are tested to agree
within float32 precision."""


def gap_fractions(positions: np.ndarray) -> np.ndarray:
    """(N,) fraction k/(K+1) of each target inside its gap, from (N, 3) positions (start, target, end)."""
    positions = np.asarray(positions, np.float64)
    fractions = (positions[:, 1] - positions[:, 0]) / (positions[:, 2] - positions[:, 0])
    return np.round(fractions, FRACTION_DECIMALS)
