"""The interpolation table (paper Table III / Fig. 10): every method on every dropped frame of the test slices.

For a K, each method fills every dropped frame of every test slice from the two kept
frames around it (one batched call per method, the gaps of every slice together), on
the crops of :func:`keras_hdl.evaluation.data.crops_at`. Each filled frame is scored
against the real one with the metrics of docs/design.md §4 (the training validation's
:func:`keras_hdl.metrics.image_figures`): ω1 = the real frame's myocardium
dilated by :data:`keras_hdl.metrics.LV_PADDING_PX` pixels, ω2 = the real frame's
foreground (normalised magnitude > −0.95); DICE of the mask thresholded at 0.5.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from keras_hdl import metrics as image_metrics
from keras_hdl.evaluation.data import Crops
from keras_hdl.interpolation.plan import Interpolator
from keras_hdl.synthesis.pipeline import fill_gaps, gap_targets

LOWER_IS_BETTER = frozenset({"MSE", "MSE_W1", "MSE_W2"})


@dataclasses.dataclass(frozen=True)
class Interpolated:
    """A method's dropped frames of every slice: targets (M,) frame indices; magnitude, mask (S, M, C, C)."""

    targets: np.ndarray
    magnitude: np.ndarray
    mask: np.ndarray


def interpolate_crops(crops: Crops, interpolator: Interpolator) -> Interpolated:
    """Fill every dropped frame of every slice in one ``interpolate`` call (positions unwrapped, as in synthesis)."""
    plan = gap_targets(crops.num_frames, crops.k)
    magnitude, mask = fill_gaps(crops.magnitude[:, crops.kept], crops.mask[:, crops.kept], plan, interpolator)
    return Interpolated(plan.targets, magnitude, mask)


def interpolation_figures(crops: Crops, interpolated: Interpolated) -> dict[str, np.ndarray]:
    """The docs/design.md §4 metrics of every filled frame, (S·M,) each, against the real frames."""
    size = crops.magnitude.shape[-1]
    truth = crops.magnitude[:, interpolated.targets].reshape(-1, size, size)
    truth_mask = crops.mask[:, interpolated.targets].reshape(-1, size, size)
    predicted = interpolated.magnitude.reshape(-1, size, size)
    figures = image_metrics.image_figures(
        predicted, truth, image_metrics.lv_region(truth_mask), image_metrics.foreground_region(truth)
    )
    figures["DICE"] = image_metrics.dice(interpolated.mask.reshape(-1, size, size), truth_mask)
    return figures
