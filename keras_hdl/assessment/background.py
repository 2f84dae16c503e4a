"""Background-phase (eddy-current) correction: a smooth static offset fitted on static tissue and removed.

Eddy currents add to every pixel's phase a smooth spatial offset that stays the same over
the cardiac cycle. Per slice and direction, this module fits a low-order polynomial
surface (:data:`POLYNOMIAL_ORDER`) to the time-averaged velocity of **static tissue
outside the heart** and returns it, to be subtracted from the velocities.

Static tissue: bright enough to carry phase (time-mean magnitude above
:data:`SIGNAL_FRACTION` of the slice's robust maximum: air and lungs only hold noise),
farther than :data:`HEART_EXCLUSION` myocardium radii from the myocardium's centre (the
LV, RV and great vessels move), and with a temporal standard deviation of the velocity
no larger than :data:`STILLNESS_FACTOR` times the median over those candidates (what
still moves). The fit is least squares, refitted once without the pixels whose residual
exceeds :data:`OUTLIER_MADS` median absolute deviations.
"""

from __future__ import annotations

import numpy as np

from keras_hdl.errors import InputError
from keras_hdl.series import Series, phase_to_velocity

POLYNOMIAL_ORDER = 2
SIGNAL_FRACTION = 0.1
HEART_EXCLUSION = 2.5
"""Static tissue starts this many times the myocardium's largest radius from its centre."""
STILLNESS_FACTOR = 3.0
OUTLIER_MADS = 4.0
MIN_STATIC_PIXELS = 50


def _basis(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(K, N) monomials x^i y^j, i + j ≤ order, of pixel positions scaled to [−1, 1]."""
    y = 2.0 * rows / max(shape[0] - 1, 1) - 1.0
    x = 2.0 * cols / max(shape[1] - 1, 1) - 1.0
    return np.stack(
        [x**i * y**j for total in range(POLYNOMIAL_ORDER + 1) for i in range(total + 1) for j in [total - i]]
    )


def _static_pixels(magnitude: np.ndarray, velocity: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """(H, W) bool static tissue of one slice: magnitude (T, H, W), velocity (T, 3, H, W) cm/s, masks (T, H, W)."""
    mean_magnitude = magnitude.mean(axis=0)
    bright = mean_magnitude >= SIGNAL_FRACTION * np.percentile(mean_magnitude, 99.5)
    rows, cols = np.nonzero(masks.any(axis=0))
    rr, cc = np.indices(mean_magnitude.shape)
    centre_row, centre_col = rows.mean(), cols.mean()
    extent = np.sqrt(((rows - centre_row) ** 2 + (cols - centre_col) ** 2).max())
    away = np.hypot(rr - centre_row, cc - centre_col) > HEART_EXCLUSION * max(extent, 1.0)
    candidates = bright & away
    if candidates.sum() < MIN_STATIC_PIXELS:
        return candidates
    spread = velocity.std(axis=0).max(axis=0)  # (H, W)
    return candidates & (spread <= STILLNESS_FACTOR * np.median(spread[candidates]))


def background_offsets(series: Series) -> np.ndarray:
    """(S, 3, H, W) float32 the fitted static background velocity of each slice and direction, cm/s.

    Raises :class:`InputError` when a slice has too little static tissue outside the heart to fit
    (fewer than :data:`MIN_STATIC_PIXELS` pixels).
    """
    if series.phase is None or series.masks is None:
        raise InputError("background correction needs the phase images and the myocardium masks")
    shape = series.magnitude.shape[2:]
    grid_rows, grid_cols = np.indices(shape)
    full_basis = _basis(grid_rows.ravel(), grid_cols.ravel(), shape)  # (K, H·W)
    offsets = np.empty((series.num_slices, 3, *shape), np.float32)
    for index in range(series.num_slices):
        velocity = phase_to_velocity(series.phase[:, index], series.venc)  # (T, 3, H, W) cm/s
        static = _static_pixels(series.magnitude[:, index], velocity, series.masks[:, index])
        if static.sum() < MIN_STATIC_PIXELS:
            raise InputError(
                f"background correction: slice {index} has only {int(static.sum())} pixels of static tissue outside "
                f"the heart (at least {MIN_STATIC_PIXELS} needed); run without --background-correction"
            )
        basis = full_basis[:, static.ravel()].T  # (N, K)
        targets = velocity.mean(axis=0)[:, static].T  # (N, 3)
        for axis in range(3):
            keep = np.ones(len(targets), bool)
            for _ in range(2):
                coefficients, *_ = np.linalg.lstsq(basis[keep], targets[keep, axis], rcond=None)
                residual = targets[:, axis] - basis @ coefficients
                deviation = np.median(np.abs(residual[keep] - np.median(residual[keep])))
                keep = np.abs(residual) <= OUTLIER_MADS * 1.4826 * max(deviation, 1e-6)
            offsets[index, axis] = (coefficients @ full_basis).reshape(shape)
    return offsets
