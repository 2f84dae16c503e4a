"""Rigid-motion velocity fields on a ring mask, built from the definitions in image coordinates.

Independent of the code under test (no ``cylindrical_unit_vectors``): image x = column
(right), y = row (down); "counter-clockwise as displayed" uses the up-pointing axis −y.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from keras_hdl.series import Series, velocity_to_phase


@dataclasses.dataclass
class RingScene:
    """A ring-shaped myocardium per frame and slice, with pixel offsets from its true centre in mm."""

    masks: np.ndarray  # (T, S, H, W) bool
    dx_mm: np.ndarray  # (T, S, H, W) along x (columns)
    dy_mm: np.ndarray  # (T, S, H, W) along y (rows)
    pixel_spacing: tuple[float, float]

    @property
    def radius_mm(self) -> np.ndarray:
        return np.hypot(self.dx_mm, self.dy_mm)

    def zero_velocity(self) -> np.ndarray:
        """(T, S, 3, H, W) cm/s zeros."""
        frames, slices, rows, cols = self.masks.shape
        return np.zeros((frames, slices, 3, rows, cols))

    def mask_mean(self, values: np.ndarray) -> np.ndarray:
        """(T, S, H, W) → (S, T) mean over each frame's ring."""
        sums = np.where(self.masks, values, 0.0).sum(axis=(2, 3))
        return (sums / self.masks.sum(axis=(2, 3))).T

    def series(self, velocity_cm_s: np.ndarray, venc=(20.0, 20.0, 30.0), rr_interval_ms=None) -> Series:
        return Series(
            magnitude=np.where(self.masks, 100.0, 10.0).astype(np.float32),
            phase=velocity_to_phase(velocity_cm_s, venc),
            venc=venc,
            masks=self.masks,
            pixel_spacing=self.pixel_spacing,
            rr_interval_ms=rr_interval_ms,
        )


def make_ring_scene(
    frames: int = 10,
    slices: int = 2,
    size: int = 64,
    inner_mm: float = 12.0,
    outer_mm: float = 21.0,
    pixel_spacing: tuple[float, float] = (1.0, 1.0),
    centre_shift_px: tuple[float, float] = (0.0, 0.0),
) -> RingScene:
    """Rings centred in the image ((size − 1) / 2 px), moved by ``centre_shift_px`` (rows, cols) per frame.

    The centre stays on a half-pixel, so each ring is mirror-symmetric and its centroid is its centre.
    """
    rows, cols = np.mgrid[:size, :size].astype(np.float64)
    t = np.arange(frames)[:, None, None, None]
    centre_row = (size - 1) / 2 + centre_shift_px[0] * t
    centre_col = (size - 1) / 2 + centre_shift_px[1] * t
    dy = np.broadcast_to((rows - centre_row) * pixel_spacing[0], (frames, slices, size, size))
    dx = np.broadcast_to((cols - centre_col) * pixel_spacing[1], (frames, slices, size, size))
    radius = np.hypot(dx, dy)
    masks = (radius >= inner_mm) & (radius <= outer_mm)
    return RingScene(masks, dx, dy, pixel_spacing)


@pytest.fixture
def ring_scene():
    return make_ring_scene
