"""The network-backed interpolators: a Keras interpolation network behind the common interface.

:class:`NetworkInterpolator` wraps any predictor of a whole interpolation network (a local
:class:`TemporalInterpolator` or :class:`VanillaR2UNetInterpolator`, or the ``interpolator``
model of a TF Serving deployment), whose named inputs and outputs are (docs/design.md §2.1)::

    magnitudes (N, H, W, 2) [M_start, M_end] in [−1, 1]    masks (N, H, W, 2) [S_start, S_end] in {0, 1}
    condition  (N, 3) [start, target, end] / T (unwrapped) →  magnitude (N, H, W, 1), mask (N, H, W, 1) in [0, 1]

:class:`EncoderDecoderInterpolator` runs the same network as its encoder and decoder
(:meth:`~keras_hdl.models.TemporalInterpolator.split`): the encoder once per kept pair, the
decoder once per target. :func:`network_interpolator` picks the one that fits a set of predictors.
So synthesis and evaluation use them exactly like the linear and optical-flow baselines.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from keras_hdl.predictors import DEFAULT_BATCH_SIZE, KerasPredictor, Predictor, Progress, predict_in_batches


def pair_inputs(start: np.ndarray, end: np.ndarray, start_mask: np.ndarray, end_mask: np.ndarray) -> dict:
    """The networks' kept-pair inputs: (N, H, W) each → magnitudes, masks (N, H, W, 2) float32."""
    return {
        "magnitudes": np.stack([start, end], axis=-1).astype(np.float32),
        "masks": np.stack([start_mask, end_mask], axis=-1).astype(np.float32),
    }


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
        inputs = pair_inputs(start, end, start_mask, end_mask) | {"condition": np.asarray(positions, np.float32)}
        outputs = predict_in_batches(self.predictor, inputs, self.batch_size, self.progress)
        return outputs["magnitude"][..., 0], outputs["mask"][..., 0]


class EncoderDecoderInterpolator:
    """:class:`~keras_hdl.interpolation.plan.GapInterpolator` over the predictors of a split network.

    ``encoder``: magnitudes, masks (B, H, W, 2) → the pair's features (named arrays); ``decoder``: those
    features, magnitudes (B, H, W, 2) and condition (B, 3) → magnitude, mask (B, H, W, 1), as
    :meth:`~keras_hdl.models.TemporalInterpolator.split` makes them. Consecutive pairs go to the encoder
    as many at a time as fill one decoder batch of ``batch_size`` targets (:func:`pair_chunks`), then
    their targets to the decoder: the features of one decoder batch's pairs are held at once (a pair
    with more than ``batch_size`` targets has its targets decoded in batches of ``batch_size``).
    ``progress`` counts targets, like :class:`NetworkInterpolator`'s.
    """

    def __init__(
        self,
        encoder: Predictor,
        decoder: Predictor,
        name: str = "HDL",
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: Progress | None = None,
    ):
        self.encoder = encoder
        self.decoder = decoder
        self.name = name
        self.batch_size = batch_size
        self.progress = progress

    def interpolate(
        self,
        start: np.ndarray,
        end: np.ndarray,
        start_mask: np.ndarray,
        end_mask: np.ndarray,
        positions: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """One target per pair (the Interpolator interface): (N, H, W) × 4, (N, 3) → (N, H, W) × 2."""
        return self.interpolate_gaps(start, end, start_mask, end_mask, np.arange(len(start)), positions)

    def interpolate_gaps(
        self,
        start: np.ndarray,
        end: np.ndarray,
        start_mask: np.ndarray,
        end_mask: np.ndarray,
        gap: np.ndarray,
        positions: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Pairs (G, H, W) × 4; each target's pair ``gap`` (M,) and ``positions`` (M, 3) → magnitude, mask (M, H, W)."""
        pairs = pair_inputs(start, end, start_mask, end_mask)
        gap, positions = np.asarray(gap), np.asarray(positions, np.float32)
        magnitude = np.empty((len(gap), *pairs["magnitudes"].shape[1:3]), np.float32)
        mask = np.empty_like(magnitude)
        for chunk in pair_chunks(np.bincount(gap, minlength=len(start)), self.batch_size):
            rows = np.flatnonzero((gap >= chunk.start) & (gap < chunk.stop))
            chunk_pairs = {name: value[chunk] for name, value in pairs.items()}
            shared = self.encoder(chunk_pairs) | {"magnitudes": chunk_pairs["magnitudes"]}
            outputs = predict_in_batches(
                self.decoder,
                {"condition": positions[rows]},
                self.batch_size,
                self.progress,
                shared,
                gap[rows] - chunk.start,
            )
            magnitude[rows], mask[rows] = outputs["magnitude"][..., 0], outputs["mask"][..., 0]
        return magnitude, mask


def pair_chunks(targets: np.ndarray, batch_size: int) -> list[slice]:
    """Runs of consecutive pairs whose targets (``targets[p]`` of pair p) fill at most ``batch_size``, each with
    at least one target (a pair with more stands alone); pairs without targets are left out."""
    chunks, first, filled = [], None, 0
    for pair, count in enumerate(targets):
        if first is not None and (filled + count > batch_size or not count):
            chunks.append(slice(first, pair))
            first, filled = None, 0
        if count:
            first = pair if first is None else first
            filled += count
    if first is not None:
        chunks.append(slice(first, len(targets)))
    return chunks


def network_interpolator(
    predictors: Mapping[str, Predictor],
    name: str = "HDL",
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
) -> NetworkInterpolator | EncoderDecoderInterpolator:
    """The interpolator over the predictors of :func:`~keras_hdl.models.inference_parts`' models (same names)."""
    if "interpolator" in predictors:
        return NetworkInterpolator(predictors["interpolator"], name, batch_size, progress)
    return EncoderDecoderInterpolator(
        predictors["interpolator_encoder"], predictors["interpolator_decoder"], name, batch_size, progress
    )
