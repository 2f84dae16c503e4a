"""SavedModels for TensorFlow Serving: ``interpolator``, ``phase`` and ``twin`` (docs/design.md §1, deployment).

``export_savedmodels(models_dir, out_dir, version)`` writes a TF Serving model base::

    out_dir/models.config                 # --model_config_file for all three
    out_dir/interpolator/<version>/       # serving_default: the interpolation network
    out_dir/phase/<version>/              # serving_default: the phase generator (with its composite)
    out_dir/twin/<version>/               # serving_default: the whole pipeline on crops (export/twin.py)
    out_dir/tflite/<version>/             # with tflite=True (export/tflite.py)

``serving_default`` signatures (C = the models' crop size; every batch axis is dynamic)::

    interpolator  magnitudes (-1, C, C, 2), masks (-1, C, C, 2), condition (-1, 3)
                  → magnitude (-1, C, C, 1), mask (-1, C, C, 1)
    phase         magnitudes (-1, C, C, 3), seed (-1, 2) int32 (composite only) → phase (-1, C, C, 3)
    twin          magnitudes (-1, -1, C, C), masks (-1, -1, C, C), k (), frames (), seed () int32
                  → magnitude (-1, -1, C, C), mask (-1, -1, C, C), phase (-1, -1, C, C, 3)

plus the ``model_info`` signature of :mod:`keras_hdl.export.serving`. Each SavedModel is
a plain ``tf.Module`` that tracks the networks' ``tf.Variable`` s once — not Keras'
``ExportArchive``, which stores every weight twice (keras-team/keras#23553) — and its
graph holds standard TensorFlow ops only (:func:`nonstandard_ops` checks every export).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import tensorflow as tf

from keras_hdl.errors import InputError
from keras_hdl.export.serving import (
    MODEL_INFO_INPUT,
    MODEL_INFO_OUTPUT,
    MODEL_INFO_SIGNATURE,
    SERVABLES,
    served_info,
    write_models_config,
)
from keras_hdl.export.twin import make_twin_function, twin_signature

SAVED_MODEL_FILE = "saved_model.pb"
FORBIDDEN_OPS = frozenset({"PyFunc", "PyFuncStateless", "EagerPyFunc"})


def interpolator_signature(crop_size: int) -> dict[str, tf.TensorSpec]:
    return {
        "magnitudes": tf.TensorSpec([None, crop_size, crop_size, 2], tf.float32, name="magnitudes"),
        "masks": tf.TensorSpec([None, crop_size, crop_size, 2], tf.float32, name="masks"),
        "condition": tf.TensorSpec([None, 3], tf.float32, name="condition"),
    }


def phase_signature(crop_size: int, phase) -> dict[str, tf.TensorSpec]:
    """The named inputs of a :class:`~keras_hdl.models.PhaseGenerator` (n neighbours, position, seed)."""
    shape = [None, crop_size, crop_size, phase.neighbours]
    signature = {"magnitudes": tf.TensorSpec(shape, tf.float32, name="magnitudes")}
    if phase.cycle_position:
        signature["position"] = tf.TensorSpec([None, 1], tf.float32, name="position")
    if phase.composite:
        signature["seed"] = tf.TensorSpec([None, 2], tf.int32, name="seed")
    return signature


class Servable(tf.Module):
    """One SavedModel: a ``serve`` function of named inputs, a ``model_info`` function, and the networks' variables.

    Only the raw ``tf.Variable`` s of the networks are tracked (once each); the Keras
    models are reached through the traced functions, not saved as objects.
    """

    def __init__(self, networks: list, serve, signature: dict, info_json: str):
        super().__init__()
        self.weights = [variable.value for network in networks for variable in network.variables]
        self.serve = tf.function(serve, input_signature=[signature])
        self.model_info = tf.function(
            lambda request: {MODEL_INFO_OUTPUT: tf.constant(info_json)},
            input_signature=[tf.TensorSpec([], tf.int32, name=MODEL_INFO_INPUT)],
        )

    def save(self, folder: Path) -> Path:
        tf.saved_model.save(
            self,
            str(folder),
            signatures={
                "serving_default": self.serve.get_concrete_function(),
                MODEL_INFO_SIGNATURE: self.model_info.get_concrete_function(),
            },
        )
        return folder


def servables(interpolator, phase, info_json: str, crop_size: int) -> dict[str, Servable]:
    """The three servables of one models folder's networks."""

    def run_interpolator(inputs):
        return interpolator(inputs, training=False)

    def run_phase(inputs):
        return phase(inputs, training=False)

    return {
        "interpolator": Servable([interpolator], run_interpolator, interpolator_signature(crop_size), info_json),
        "phase": Servable([phase], run_phase, phase_signature(crop_size, phase), info_json),
        "twin": Servable(
            [interpolator, phase],
            make_twin_function(interpolator, phase, crop_size),
            twin_signature(crop_size),
            info_json,
        ),
    }


def graph_ops(saved_model_dir: str | Path) -> set[str]:
    """Every op type in a SavedModel's graphs, function library included (function calls excluded)."""
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((Path(saved_model_dir) / SAVED_MODEL_FILE).read_bytes())
    ops: set[str] = set()
    for meta_graph in proto.meta_graphs:
        library = meta_graph.graph_def.library
        functions = {function.signature.name for function in library.function}
        ops |= {node.op for node in meta_graph.graph_def.node}
        for function in library.function:
            ops |= {node.op for node in function.node_def}
        ops -= functions
    return ops


def nonstandard_ops(saved_model_dir: str | Path) -> list[str]:
    """Ops the stock ``tensorflow_model_server`` may lack: Python callbacks and anything not in ``tf.raw_ops``."""
    return sorted(op for op in graph_ops(saved_model_dir) if op in FORBIDDEN_OPS or not hasattr(tf.raw_ops, op))


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in Path(folder).rglob("*") if path.is_file())


def export_savedmodels(
    models_dir: str | Path,
    out_dir: str | Path,
    version: int = 1,
    tflite: bool = False,
    serving_root: str | None = None,
) -> dict[str, Path]:
    """Export a models folder as a TF Serving model base (module docstring); returns {artefact: path}.

    Everything is written into a staging folder first and moved into ``out_dir`` at the
    end, so a failure leaves ``out_dir`` as it was. An existing version is never replaced.
    """
    from keras_hdl.export.serving import DEFAULT_SERVING_ROOT
    from keras_hdl.synthesis.networks import load_local_networks, models_version

    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InputError(f"--version: TF Serving versions are integers >= 1, got {version!r}")
    models_dir, out_dir = Path(models_dir), Path(out_dir)
    targets = {name: out_dir / name / str(version) for name in SERVABLES}
    if tflite:
        targets["tflite"] = out_dir / "tflite" / str(version)
    existing = [str(path) for path in targets.values() if path.exists()]
    if existing:
        raise InputError(
            f"version {version} already exists ({', '.join(existing)}); TF Serving versions are immutable: "
            f"pass --version {version + 1}"
        )
    info, networks = load_local_networks(models_dir)
    interpolator, phase = networks["interpolator"], networks["phase"]
    info_json = json.dumps(served_info(info, models_version(models_dir, info), phase))

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".partial", dir=out_dir.parent))
    try:
        for name, servable in servables(interpolator, phase, info_json, info.crop_size).items():
            folder = servable.save(staging / name)
            bad = nonstandard_ops(folder)
            if bad:
                raise RuntimeError(f"the {name} graph holds non-standard ops {bad}; TF Serving could not load it")
        if tflite:
            from keras_hdl.export.tflite import write_tflite

            write_tflite(staging / "interpolator", phase, info.crop_size, staging / "tflite", info_json)
        for name, target in targets.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / name, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    written = dict(targets)
    written["models.config"] = write_models_config(out_dir / "models.config", serving_root or DEFAULT_SERVING_ROOT)
    return written
