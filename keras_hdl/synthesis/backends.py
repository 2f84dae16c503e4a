"""The back ends that run a models folder's networks in this process: Keras, XLA-compiled Keras, TFLite fp32.

:func:`backend_predictors` gives one predictor per model of ``{"interpolator" or "interpolator_encoder"
and "interpolator_decoder" (:func:`keras_hdl.models.inference_parts`), "phase"}`` with the models'
Keras signatures (:mod:`keras_hdl.predictors`), so synthesis sends the same batches to any of them.
Which ones ``auto`` may pick is :func:`keras_hdl.runtime.backend_candidates`; where that is more than one,
:func:`fastest_backend` times them once per machine and weights and keeps the faster.

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

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from keras_hdl import __version__
from keras_hdl.io_utils import atomic_path
from keras_hdl.predictors import GraphPredictor, KerasPredictor, Predictor, SeededNoise, TFLitePredictor
from keras_hdl.runtime import cache_dir, cpuinfo_field, litert_version, usable_cpus

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


PROBE_FRAMES = 16
PROBE_K = 3
PROBE_ROUNDS = 2
""":func:`fastest_backend`'s probe: the crop twin of one slice, T = 16 frames at K = 3 (4 kept frames: 4 encoder,
12 decoder and 16 phase samples, the batch shapes a real twin runs), after one untimed run (tracing, conversion);
the fastest of this many interleaved rounds per back end."""


@dataclasses.dataclass(frozen=True)
class BackendChoice:
    """What ``--backend auto`` runs on this machine for one models version.

    Attributes:
        backend: the faster back end (``keras`` or ``tflite``).
        seconds: the probe's time per candidate, s (:data:`PROBE_FRAMES`).
        descriptions: each candidate in words (``Keras fp32``, ``TFLite fp32 (ai-edge-litert 2.3.0)``).
    """

    backend: str
    seconds: dict[str, float]
    descriptions: dict[str, str]

    def describe(self) -> str:
        """The chosen back end in words, and why: for the ``networks:`` line of ``synthesize``."""
        others = ", ".join(
            f"{self.descriptions[name]} {seconds:.2f} s"
            for name, seconds in self.seconds.items()
            if name != self.backend
        )
        return (
            f"{self.descriptions[self.backend]} (--backend auto: the fastest here, {self.seconds[self.backend]:.2f} s "
            f"for a {PROBE_FRAMES}-frame twin of the crops against {others}; timed once per machine and weights)"
        )


def machine_signature() -> str:
    """12 hex digits naming what the back ends' speed depends on: CPU model and flags, usable CPUs, and the
    TensorFlow, ai-edge-litert and keras-hdl releases."""
    import tensorflow as tf

    parts = (
        cpuinfo_field("model name"),
        cpuinfo_field("flags"),
        usable_cpus(),
        tf.__version__,
        litert_version(),
        __version__,
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:12]


def choice_path(version: str) -> Path:
    """Where ``auto``'s choice for the weights ``version`` on this machine is kept."""
    return cache_dir() / "backend-choice" / f"{version}-{machine_signature()}.json"


def probe_seconds(models) -> float:
    """Seconds the probe twin (:data:`PROBE_FRAMES`) takes through ``models`` (:class:`TwinModels`)."""
    from keras_hdl.interpolation.plan import kept_frames
    from keras_hdl.synthesis.pipeline import synthesize_crops

    size = models.crop_size
    rng = np.random.default_rng(0)
    magnitudes = rng.uniform(-1, 1, (1, kept_frames(PROBE_FRAMES, PROBE_K).size, size, size)).astype(np.float32)
    masks = (rng.uniform(0, 1, magnitudes.shape) > 0.9).astype(np.float32)
    start = time.perf_counter()
    synthesize_crops(magnitudes, masks, PROBE_K, PROBE_FRAMES, 0, models.interpolator, models.phase)
    return time.perf_counter() - start


def fastest_backend(candidates: tuple[str, ...], models_on: Callable[[str], object], version: str) -> BackendChoice:
    """The faster of ``candidates`` for the weights ``version``, which ``models_on(name)`` runs (:class:`TwinModels`
    on that back end, without a progress bar): read from :func:`choice_path`, else timed on the probe twin
    (:data:`PROBE_FRAMES`) and kept there. A cache that cannot be read or written only costs the probe again."""
    path = choice_path(version)
    try:
        kept = json.loads(path.read_text())
        choice = BackendChoice(kept["backend"], kept["seconds"], kept["descriptions"])
        recorded = choice.backend in candidates and set(choice.seconds) == set(choice.descriptions) == set(candidates)
        if recorded and all(isinstance(seconds, int | float) for seconds in choice.seconds.values()):
            return choice
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # missing, not JSON or not such a record
        pass
    models = {name: models_on(name) for name in candidates}
    rounds = [{name: probe_seconds(models[name]) for name in candidates} for _ in range(PROBE_ROUNDS + 1)]
    seconds = {name: min(times[name] for times in rounds[1:]) for name in candidates}  # round 0: warm-up
    choice = BackendChoice(min(seconds, key=seconds.get), seconds, {name: models[name].backend for name in candidates})
    try:
        with atomic_path(path) as partial:
            partial.write_text(json.dumps(dataclasses.asdict(choice), indent=1))
    except OSError:
        pass
    return choice
