"""Predictors: one way to run a network, locally or on a TensorFlow Serving deployment.

A *predictor* maps a dict of named numpy inputs, each with a leading batch axis, to a
dict of named numpy outputs — exactly a ``serving_default`` signature's inputs and
outputs. :class:`KerasPredictor` runs a loaded Keras model (optionally XLA-compiled),
:class:`TFLitePredictor` a TFLite flatbuffer with ai-edge-litert, and
:class:`keras_hdl.export.serving.RestPredictor` sends the same dict to TF Serving's REST
predict API. :class:`SeededNoise` gives a phase network whose background noise is an input
(:mod:`keras_hdl.export.tflite`) the composite's ``seed`` input back.
:func:`predict_in_batches` splits a large request into batches (one model call per batch,
never one per frame) and reports progress.
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


class GraphPredictor:
    """Run ``function(inputs) -> outputs`` (dicts of named tensors) as one traced graph, optionally XLA-compiled.

    The graph has a fixed input ``signature`` (any batch size; traced once when the predictor is made,
    never retraced; XLA compiles once per batch size at its first call); floating outputs come back as
    float32 whatever the compute dtype (e.g. a ``mixed_bfloat16`` copy).
    """

    def __init__(self, function: Callable[[dict], dict], signature: dict, jit_compile: bool = False):
        import tensorflow as tf

        def call(inputs):
            outputs = function(inputs)
            return {
                name: tf.cast(value, tf.float32) if value.dtype.is_floating else value
                for name, value in outputs.items()
            }

        self._call = tf.function(call, input_signature=[signature], jit_compile=jit_compile)
        self._call.get_concrete_function()  # trace now (at load), not in the first request

    def __call__(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        outputs = self._call(dict(inputs))
        return {name: np.asarray(value) for name, value in outputs.items()}


class KerasPredictor(GraphPredictor):
    """Run a Keras model with named (dict) inputs and outputs in inference mode (:class:`GraphPredictor`)."""

    def __init__(self, model, jit_compile: bool = False):
        import tensorflow as tf

        self.model = model
        signature = {name: tf.TensorSpec(tensor.shape, tensor.dtype, name=name) for name, tensor in model.input.items()}
        super().__init__(lambda inputs: model(inputs, training=False), signature, jit_compile)


class TFLitePredictor:
    """Run the ``serving_default`` signature of a TFLite flatbuffer with ai-edge-litert (XNNPACK on CPUs).

    One interpreter on ``num_threads`` threads; a new batch size resizes it (milliseconds).
    """

    def __init__(self, flatbuffer: bytes, num_threads: int):
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_content=flatbuffer, num_threads=num_threads)
        self._runner = interpreter.get_signature_runner("serving_default")

    def __call__(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return dict(self._runner(**inputs))


class SeededNoise:
    """A phase predictor taking ``seed`` (B, 2) int32 over one taking the composite's unit ``noise`` (B, C, C, 3).

    The noise is the composite's own (:func:`keras_hdl.models.phase.unit_noise`: the same seeds, op and
    kernel), drawn by TensorFlow outside the wrapped predictor: bit-equal to the noise of the Keras composite.
    """

    def __init__(self, predictor: Predictor, crop_size: int):
        import tensorflow as tf

        from keras_hdl.models.phase import unit_noise

        self.predictor = predictor
        self._noise = tf.function(
            lambda seeds: unit_noise(seeds, (crop_size, crop_size, 3), tf.float32),
            input_signature=[tf.TensorSpec([None, 2], tf.int32)],
        )

    def __call__(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        inputs = dict(inputs)
        inputs["noise"] = self._noise(inputs.pop("seed")).numpy()
        return self.predictor(inputs)


def predict_in_batches(
    predictor: Predictor,
    inputs: Mapping[str, np.ndarray],
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
    shared: Mapping[str, np.ndarray] | None = None,
    group: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Run ``predictor`` over N samples in batches of at most ``batch_size``; outputs concatenated (N, ...).

    ``shared`` arrays (G, ...) are inputs that samples share: sample i takes row ``group[i]`` of each
    ((N,) ints in [0, G)), gathered batch by batch, so they are never expanded to N rows.
    """
    sizes = {name: len(value) for name, value in inputs.items()}
    count = next(iter(sizes.values()))
    if len(set(sizes.values())) != 1:
        raise ValueError(f"predict_in_batches: inputs disagree on the batch size: {sizes}")
    if (shared is None) != (group is None) or (group is not None and len(group) != count):
        raise ValueError(f"predict_in_batches: shared inputs need one group index per sample ({count})")
    parts: dict[str, list[np.ndarray]] = {}
    for first in range(0, count, batch_size):
        batch = {name: value[first : first + batch_size] for name, value in inputs.items()}
        if shared is not None:
            rows = group[first : first + batch_size]
            batch |= {name: value[rows] for name, value in shared.items()}
        for name, value in predictor(batch).items():
            parts.setdefault(name, []).append(value)
        if progress is not None:
            progress(min(batch_size, count - first))
    return {name: np.concatenate(values) for name, values in parts.items()}
