"""Clinical markers of velocity curves: PSV/TPSV, PDV/TPDV, PAV/TPAV and Mean (docs/design.md §2.3).

Frames and windows
------------------
Frames are 0-based: frame f of T lies f · RR / T ms after the R wave (as
:attr:`keras_hdl.series.Series.trigger_times_ms`), so a frame index is a time since
t = 0. Times are reported as frame indices **normalised to 50 frames** (f · 50 / T, the
paper's a.u.) and in **ms** (f · RR / T) when the RR interval is known.

The windows are given for T = 50 as inclusive frame ranges: systole 1–15, early diastole
15–35, atrial 35–47 (the boundary frames 15 and 35 belong to both neighbours). For other
T they scale with the cycle: frame f is in a window when its normalised time f · 50 / T
lies in the window's range (inclusive), e.g. T = 25: systole 1–7, early diastole 8–17,
atrial 18–23.

Sign semantics of the peaks (velocities in mm/s)
------------------------------------------------
- radial (positive towards the centre) and longitudinal (positive towards the apex):
  PSV = the **maximum** of the signed curve in systole (contraction / base descent are
  positive); PDV and PAV = the **minimum** (most negative) in early diastole and in the
  atrial window (relaxation is negative). A curve that never reaches the expected sign
  still gives its max / min, so the sign of the marker shows it.
- circumferential: rotation changes direction from base to apex, so each peak is the
  value of **largest magnitude** in its window, with its sign kept.
- Mean = the mean of |v| of the curve over all T frames of the cycle.
"""

from __future__ import annotations

import numpy as np

from keras_hdl.assessment.velocity import COMPONENT_NAMES
from keras_hdl.errors import InputError

NORMALISED_FRAMES = 50
"""Times are reported as frame indices normalised to this many frames per cycle."""

WINDOWS_AT_50 = {"systole": (1, 15), "early_diastole": (15, 35), "atrial": (35, 47)}
"""Inclusive frame windows for T = 50; scaled with T by :func:`window_masks`."""

PEAK_RULES = {
    "radial": ("max", "min", "min"),
    "circumferential": ("absmax", "absmax", "absmax"),
    "longitudinal": ("max", "min", "min"),
}
"""Per component, how the systolic, early-diastolic and atrial peaks are picked (see module docstring)."""

PEAKS = (("psv", "tpsv"), ("pdv", "tpdv"), ("pav", "tpav"))
"""(velocity, time) marker names of the systolic, early-diastolic and atrial peaks, in window order."""


def window_masks(frames: int) -> np.ndarray:
    """(3, T) bool: which frames lie in the systolic, early-diastolic and atrial windows."""
    normalised_times_x_frames = np.arange(frames) * NORMALISED_FRAMES  # f · 50, compared with bound · T exactly
    masks = np.stack(
        [
            (normalised_times_x_frames >= start * frames) & (normalised_times_x_frames <= end * frames)
            for start, end in WINDOWS_AT_50.values()
        ]
    )
    empty = [name for name, mask in zip(WINDOWS_AT_50, masks, strict=True) if not mask.any()]
    if empty:
        raise InputError(
            f"{frames} frames per cycle are too few: no frame falls in the {', '.join(empty)} window(s) "
            f"{[WINDOWS_AT_50[name] for name in empty]} (frames of a 50-frame cycle); use at least 10 frames"
        )
    return masks


def compute_markers(curves: np.ndarray, rr_interval_ms: float | None = None) -> dict[str, np.ndarray]:
    """Markers of velocity curves, vectorised over everything but the component and frame axes.

    Args:
        curves: (..., 3, T) radial, circumferential, longitudinal curves in mm/s.
        rr_interval_ms: cycle length in ms, or ``None`` (then the ``*_ms`` times are NaN).

    Returns:
        arrays of shape (..., 3): ``psv``, ``pdv``, ``pav``, ``mean`` (mm/s); ``tpsv``,
        ``tpdv``, ``tpav`` (frames normalised to 50); ``tpsv_frame``, ... (0-based frame
        index, int); ``tpsv_ms``, ... (ms).
    """
    curves = np.asarray(curves, np.float64)
    if curves.ndim < 2 or curves.shape[-2] != len(COMPONENT_NAMES):
        raise InputError(
            f"curves: expected shape (..., 3, T) (radial, circumferential, longitudinal), got {curves.shape}"
        )
    frames = curves.shape[-1]
    windows = window_masks(frames)
    rules = np.array([PEAK_RULES[name] for name in COMPONENT_NAMES])  # (3 components, 3 windows)
    # Score each frame so that the peak is the argmax: value, −value or |value| by rule; −inf outside the window.
    candidates = curves[..., :, None, :]  # (..., 3 components, 1, T)
    scores = np.where(
        rules[..., None] == "max", candidates, np.where(rules[..., None] == "min", -candidates, np.abs(candidates))
    )
    scores = np.where(windows, scores, -np.inf)  # (..., 3 components, 3 windows, T)
    peak_frames = np.argmax(scores, axis=-1)
    peak_values = np.take_along_axis(np.broadcast_to(candidates, scores.shape), peak_frames[..., None], -1)[..., 0]

    markers = {"mean": np.abs(curves).mean(axis=-1)}
    for window, (value_name, time_name) in enumerate(PEAKS):
        frame = peak_frames[..., window]
        markers[value_name] = peak_values[..., window]
        markers[time_name] = frame * NORMALISED_FRAMES / frames
        markers[f"{time_name}_frame"] = frame
        markers[f"{time_name}_ms"] = frame * (np.nan if rr_interval_ms is None else rr_interval_ms / frames)
    return markers
