"""Predictors: one way to run a network, locally or on a TensorFlow Serving deployment.

A *predictor* maps a dict of named numpy inputs, each with a leading batch axis, to a
dict of named numpy outputs — exactly a ``serving_default`` signature's inputs and
outputs. :class:`KerasPredictor` runs a loaded Keras model;
:class:`keras_hdl.export.serving.RestPredictor` sends the same dict to TF Serving's REST
predict API. :func:`predict_in_batches` splits a large request into batches (one model
call per batch, never one per frame) and reports progress.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

import numpy as np

DEFAULT_BATCH_SIZE = 32
"""Samples per model call (and per REST request): bounds memory and request size."""

Progress = Callable[[int], None]
"""Called with the number of samples just processed."""


class Predictor(Protocol):
    """``predictor(inputs) -> outputs``: named arrays in, named arrays out, one batch per call."""

    def __call__(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]: ...


class KerasPredictor:
    """Run a Keras model with named (dict) inputs and outputs in inference mode, as one traced graph.

    The graph has a fixed input signature (any batch size, traced once when the predictor is made,
    never retraced); floating outputs come back as float32 whatever the model's compute dtype
    (e.g. a ``mixed_bfloat16`` copy).
    """

    def __init__(self, model):
        import tensorflow as tf

        self.model = model
        signature = {name: tf.TensorSpec(tensor.shape, tensor.dtype, name=name) for name, tensor in model.input.items()}

        def call(inputs):
            outputs = model(inputs, training=False)
            return {
                name: tf.cast(value, tf.float32) if value.dtype.is_floating else value
                for name, value in outputs.items()
            }

        self._call = tf.function(call, input_signature=[signature])
        self._call.get_concrete_function()  # trace now (at load), not in the first request

    def __call__(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        outputs = self._call(dict(inputs))
        return {name: np.asarray(value) for name, value in outputs.items()}


def predict_in_batches(
    predictor: Predictor,
    inputs: Mapping[str, np.ndarray],
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
) -> dict[str, np.ndarray]:
    """Run ``predictor`` over N samples in batches of at most ``batch_size``; outputs concatenated (N, ...)."""
    sizes = {name: len(value) for name, value in inputs.items()}
    count = next(iter(sizes.values()))
    if len(set(sizes.values())) != 1:
        raise ValueError(f"predict_in_batches: inputs disagree on the batch size: {sizes}")
    parts: dict[str, list[np.ndarray]] = {}
    for first in range(0, count, batch_size):
        batch = {name: value[first : first + batch_size] for name, value in inputs.items()}
        for name, value in predictor(batch).items():
            parts.setdefault(name, []).append(value)
        if progress is not None:
            progress(min(batch_size, count - first))
    return {name: np.concatenate(values) for name, values in parts.items()}
