"""Linear interpolation baseline (docs/design.md §2.1).

M̃_τ+k = (1 − k/(K+1)) · M_τ + (k/(K+1)) · M_τ+K+1 — the paper's Eq. 2 prints the
weights swapped; this is the correct form (k = 0 gives M_τ, k = K+1 gives M_τ+K+1).
Masks are interpolated the same way and returned as probabilities.
"""

from __future__ import annotations

import numpy as np

from keras_hdl.interpolation.plan import gap_fractions


class LinearInterpolator:
    """Blend the two kept frames by the target's position in the gap."""

    name = "linear"

    def interpolate(
        self,
        start: np.ndarray,
        end: np.ndarray,
        start_mask: np.ndarray,
        end_mask: np.ndarray,
        positions: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        weight = gap_fractions(positions)[:, None, None].astype(np.float32)
        magnitude = (1 - weight) * np.asarray(start, np.float32) + weight * np.asarray(end, np.float32)
        mask = (1 - weight) * np.asarray(start_mask, np.float32) + weight * np.asarray(end_mask, np.float32)
        return magnitude, mask
