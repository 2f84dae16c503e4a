"""The back ends that run a models folder's networks in this process: Keras, XLA-compiled Keras, TFLite fp32.

:func:`backend_predictors` gives one predictor per model of ``{"interpolator" or "interpolator_encoder"
and "interpolator_decoder" (:func:`keras_hdl.models.inference_parts`), "phase"}`` with the models'
Keras signatures (:mod:`keras_hdl.predictors`), so synthesis sends the same batches to any of them.
Which one ``auto`` picks is :func:`keras_hdl.runtime.resolve_backend`.

- ``keras``: :class:`~keras_hdl.predictors.KerasPredictor`, fp32 or bf16.
- ``xla``: the same graphs with ``jit_compile``; the phase network's background noise is drawn
  outside the compiled graph (XLA draws other numbers from the same seeds).
- ``tflite``: every model converted to TFLite fp32 (:func:`keras_hdl.export.tflite.network_flatbuffers`)
  and run by ai-edge-litert; the phase network takes its noise as an input, drawn from the seeds
  by :class:`~keras_hdl.predictors.SeededNoise`. Converting takes ~20 s, so the flatbuffers are kept
  in ``$KERAS_HDL_CACHE/tflite/<models version>-tf<TensorFlow>-keras-hdl<keras-hdl>-graphs<N>/`` (the
  models version hashes the weights files; N is :data:`TFLITE_GRAPHS`): converted once per weights and
  release of the converting code.
"""

from __future__ import annotations

from pathlib import Path

from keras_hdl import __version__
from keras_hdl.io_utils import atomic_path
from keras_hdl.predictors import GraphPredictor, KerasPredictor, Predictor, SeededNoise, TFLitePredictor
from keras_hdl.runtime import cache_dir, usable_cpus

TFLITE_GRAPHS = 2
"""Version of the converted graphs in the TFLite cache's folder name; raised whenever they change, so that
no older cache is read (2: the interpolator as its encoder and decoder where it splits)."""


def tflite_folder(version: str) -> Path:
    """Where the TFLite fp32 flatbuffers of the weights ``version`` are cached for this TensorFlow and keras-hdl."""
    import tensorflow as tf

    return cache_dir() / "tflite" / f"{version}-tf{tf.__version__}-keras-hdl{__version__}-graphs{TFLITE_GRAPHS}"


def tflite_flatbuffers(networks: dict, crop_size: int, version: str) -> dict[str, bytes]:
    """The cached flatbuffers of ``networks`` (by name, as :func:`backend_predictors` takes them; converted if
    missing), stored as ``<name>_float32.tflite``.

    A cache that cannot be written (read-only home) only costs the conversion at every load.
    """
    folder = tflite_folder(version)
    paths = {name: folder / f"{name}_float32.tflite" for name in networks}
    if all(path.is_file() for path in paths.values()):
        return {name: path.read_bytes() for name, path in paths.items()}
    from keras_hdl.export.tflite import network_flatbuffers

    flatbuffers = network_flatbuffers(networks, crop_size)
    try:
        for name, path in paths.items():
            with atomic_path(path) as partial:
                partial.write_bytes(flatbuffers[name])
    except OSError:
        pass
    return flatbuffers


def backend_predictors(backend: str, running: dict, crop_size: int, version: str) -> dict[str, Predictor]:
    """Predictors of the models ``running`` (``phase`` and :func:`~keras_hdl.models.inference_parts`' interpolation
    models, by name, already at the Keras precision) on ``backend`` (``keras``, ``xla`` or ``tflite``, resolved);
    ``version`` keys the TFLite cache."""
    if backend == "keras":
        return {name: KerasPredictor(model) for name, model in running.items()}
    phase = running["phase"]
    if backend == "tflite":
        flatbuffers = tflite_flatbuffers(running, crop_size, version)
        predictors = {name: TFLitePredictor(flatbuffer, usable_cpus()) for name, flatbuffer in flatbuffers.items()}
    else:
        from keras_hdl.export.tflite import phase_with_noise_input

        serve = phase_with_noise_input(phase, crop_size).serve
        predictors = {
            name: KerasPredictor(model, jit_compile=True) for name, model in running.items() if name != "phase"
        }
        predictors["phase"] = GraphPredictor(serve.python_function, serve.input_signature[0], jit_compile=True)
    if phase.composite:
        predictors["phase"] = SeededNoise(predictors["phase"], crop_size)
    return predictors
