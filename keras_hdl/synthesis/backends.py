"""The back ends that run a models folder's two networks in this process: Keras, XLA-compiled Keras, TFLite fp32.

:func:`backend_predictors` gives ``{"interpolator": predictor, "phase": predictor}`` with the
networks' Keras signatures (:mod:`keras_hdl.predictors`), so synthesis sends the same batches to
any of them. Which one ``auto`` picks is :func:`keras_hdl.runtime.resolve_backend`.

- ``keras``: :class:`~keras_hdl.predictors.KerasPredictor`, fp32 or bf16.
- ``xla``: the same graphs with ``jit_compile``; the phase network's background noise is drawn
  outside the compiled graph (XLA draws other numbers from the same seeds).
- ``tflite``: both networks converted to TFLite fp32 (:func:`keras_hdl.export.tflite.network_flatbuffers`)
  and run by ai-edge-litert; the phase network takes its noise as an input, drawn from the seeds
  by :class:`~keras_hdl.predictors.SeededNoise`. Converting takes ~20 s, so the flatbuffers are kept
  in ``$KERAS_HDL_CACHE/tflite/<models version>-tf<TensorFlow>-keras-hdl<keras-hdl>/`` (the models
  version hashes the weights files): converted once per weights and release of the converting code.
"""

from __future__ import annotations

from pathlib import Path

from keras_hdl import __version__
from keras_hdl.io_utils import atomic_path
from keras_hdl.predictors import GraphPredictor, KerasPredictor, Predictor, SeededNoise, TFLitePredictor
from keras_hdl.runtime import cache_dir, usable_cpus

TFLITE_FILES = {"interpolator": "interpolator_float32.tflite", "phase": "phase_float32.tflite"}


def tflite_folder(version: str) -> Path:
    """Where the TFLite fp32 flatbuffers of the weights ``version`` are cached for this TensorFlow and keras-hdl."""
    import tensorflow as tf

    return cache_dir() / "tflite" / f"{version}-tf{tf.__version__}-keras-hdl{__version__}"


def tflite_flatbuffers(networks: dict, crop_size: int, version: str) -> dict[str, bytes]:
    """{"interpolator": bytes, "phase": bytes}: the cached flatbuffers of these weights (converted if missing).

    A cache that cannot be written (read-only home) only costs the conversion at every load.
    """
    folder = tflite_folder(version)
    paths = {name: folder / file_name for name, file_name in TFLITE_FILES.items()}
    if all(path.is_file() for path in paths.values()):
        return {name: path.read_bytes() for name, path in paths.items()}
    from keras_hdl.export.tflite import network_flatbuffers

    flatbuffers = network_flatbuffers(networks["interpolator"], networks["phase"], crop_size)
    try:
        for name, path in paths.items():
            with atomic_path(path) as partial:
                partial.write_bytes(flatbuffers[name])
    except OSError:
        pass
    return flatbuffers


def backend_predictors(backend: str, running: dict, crop_size: int, version: str) -> dict[str, Predictor]:
    """Predictors of the networks ``running`` ({"interpolator": model, "phase": model}, already at the Keras
    precision) on ``backend`` (``keras``, ``xla`` or ``tflite``, resolved); ``version`` keys the TFLite cache."""
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
            "interpolator": KerasPredictor(running["interpolator"], jit_compile=True),
            "phase": GraphPredictor(serve.python_function, serve.input_signature[0], jit_compile=True),
        }
    if phase.composite:
        predictors["phase"] = SeededNoise(predictors["phase"], crop_size)
    return predictors
