"""The phase table (paper Table I): phase synthesised from the twin's magnitude at a K, against the real phase.

At K = 0 the phase networks see the real magnitudes; at K > 0 the magnitudes of the HDL
twin (kept frames real, dropped frames from the HDL interpolator), exactly as
:func:`keras_hdl.synthesis.pipeline.synthesize_crops` makes them (computed once per K), so vanilla pix2pix and
ours get the same input and differ only in the phase network. Every frame's three
directions are scored as separate images (as in training validation) on the crops:
ω1 = the real myocardium, ω2 = the real frame's foreground (normalised magnitude > −0.95).
"""

from __future__ import annotations

import numpy as np

from keras_hdl import metrics as image_metrics
from keras_hdl.evaluation.data import Crops
from keras_hdl.interpolation.plan import Interpolator
from keras_hdl.synthesis.pipeline import fill_gaps, gap_targets


def twin_magnitude(crops: Crops, interpolator: Interpolator) -> np.ndarray:
    """(S, T, C, C) magnitude of the twin at ``crops.k``: kept frames real, dropped ones from ``interpolator``."""
    magnitude = crops.magnitude.copy()
    plan = gap_targets(crops.num_frames, crops.k)
    if plan.targets.size:
        kept = crops.kept
        magnitude[:, plan.targets] = fill_gaps(crops.magnitude[:, kept], crops.mask[:, kept], plan, interpolator)[0]
    return magnitude


def phase_figures(crops: Crops, phase: np.ndarray) -> dict[str, np.ndarray]:
    """docs/design.md §4 metrics of every (slice, frame, direction) image, (S·T·3,) each, against the real phase."""
    size = crops.magnitude.shape[-1]

    def images(array: np.ndarray) -> np.ndarray:  # (S, T, C, C, 3) → (S·T·3, C, C)
        return image_metrics.per_direction(array.reshape(-1, size, size, 3))

    def regions(region: np.ndarray) -> np.ndarray:  # (S, T, C, C) bool → the same per direction
        return images(np.repeat(region[..., None], 3, axis=-1))

    return image_metrics.image_figures(
        images(phase),
        images(crops.phase),
        regions(crops.mask > 0.5),
        regions(image_metrics.foreground_region(crops.magnitude)),
    )
