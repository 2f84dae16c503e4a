"""The network-backed interpolator: a Keras interpolation network behind the common interface.

Wraps any predictor of an interpolation network (a local :class:`TemporalInterpolator` or
:class:`VanillaR2UNetInterpolator`, or the ``interpolator`` model of a TF Serving
deployment), whose named inputs and outputs are (docs/design.md §2.1)::

    magnitudes (N, H, W, 2) [M_start, M_end] in [−1, 1]    masks (N, H, W, 2) [S_start, S_end] in {0, 1}
    condition  (N, 3) [start, target, end] / T (unwrapped) →  magnitude (N, H, W, 1), mask (N, H, W, 1) in [0, 1]

so synthesis and evaluation use it exactly like the linear and optical-flow baselines.
"""

from __future__ import annotations

import numpy as np

from keras_hdl.predictors import DEFAULT_BATCH_SIZE, KerasPredictor, Predictor, Progress, predict_in_batches


class NetworkInterpolator:
    """:class:`~keras_hdl.interpolation.plan.Interpolator` over an interpolation network's predictor.

    Args:
        predictor: runs the network on one batch (see :mod:`keras_hdl.predictors`).
        name: the method's name in reports.
        batch_size: samples per network call.
        progress: called with the number of samples after each call (e.g. a progress bar's ``update``).
    """

    def __init__(
        self,
        predictor: Predictor,
        name: str = "HDL",
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: Progress | None = None,
    ):
        self.predictor = predictor
        self.name = name
        self.batch_size = batch_size
        self.progress = progress

    @classmethod
    def from_model(cls, model, name: str = "HDL", **kwargs) -> NetworkInterpolator:
        """Wrap a local Keras interpolation network."""
        return cls(KerasPredictor(model), name=name, **kwargs)

    def interpolate(
        self,
        start: np.ndarray,
        end: np.ndarray,
        start_mask: np.ndarray,
        end_mask: np.ndarray,
        positions: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        inputs = {
            "magnitudes": np.stack([start, end], axis=-1).astype(np.float32),
            "masks": np.stack([start_mask, end_mask], axis=-1).astype(np.float32),
            "condition": np.asarray(positions, np.float32),
        }
        outputs = predict_in_batches(self.predictor, inputs, self.batch_size, self.progress)
        return outputs["magnitude"][..., 0], outputs["mask"][..., 0]
