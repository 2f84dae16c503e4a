"""TFLite export of the interpolator and the phase generator, float32 and float16; in-memory conversion.

Written into ``tflite/<version>/``: ``interpolator_float32.tflite``,
``interpolator_float16.tflite``, ``phase_float32.tflite``, ``phase_float16.tflite`` and
``model_info.json`` (crop size, pixel spacing, background μ and σ, ...). Float16 files
store the weights in float16 and compute in float32.

TFLite has no stateless random ops (and no TensorList ops for the composite's per-sample
``map_fn``), so the TFLite phase generator takes its background noise as an input::

    magnitudes (B, C, C, n) the n = 3 or 5 neighbouring frames of frame t in [−1, 1]
    position   (B, 1)       t / T (only for generators with ``cycle_position``)
    noise      (B, C, C, 3) standard normal noise, drawn by the caller (any generator)
    → phase    (B, C, C, 3) = generator phase where M_t > threshold, else clip(μ + σ · noise, −1, 1)

With ``noise`` = ``tf.random.stateless_normal`` of each sample's seed this is exactly the
Keras composite (the parity test feeds it so). A vanilla generator has no ``noise`` input.
The foreground threshold is split so that float16 rounding of constants does not move it.
Conversion goes through a lean SavedModel (``TFLiteConverter.from_saved_model`` freezes
the variables; converting concrete functions of Keras 3 models leaves resource variables
that the TFLite runtime reads as uninitialised). :func:`network_flatbuffers` converts the
networks in memory (what ``synthesize`` runs with its ``tflite`` back end: the interpolator as its
encoder and decoder where it splits, :func:`keras_hdl.models.inference_parts`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_hdl.models import ForegroundBackgroundComposite

PRECISIONS = ("float32", "float16")


def convert_saved_model(saved_model_dir: Path, precision: str) -> bytes:
    """The ``serving_default`` signature of a SavedModel as TFLite flatbuffer bytes."""
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir), signature_keys=["serving_default"])
    if precision == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    return converter.convert()


def lean_module(network, serve, specs: dict[str, tf.TensorSpec]) -> tf.Module:
    """A module tracking ``network``'s variables once, whose ``serve`` is ``serve`` traced for ``specs``."""
    module = tf.Module()
    module.weights = [variable.value for variable in network.variables]
    module.serve = tf.function(serve, input_signature=[specs])
    return module


def inference_module(network, specs: dict[str, tf.TensorSpec]) -> tf.Module:
    """A :func:`lean_module` serving ``network`` in inference mode for ``specs``."""
    return lean_module(network, lambda inputs: network(inputs, training=False), specs)


def convert_module(module: tf.Module, precision: str) -> bytes:
    """A :func:`lean_module` (or any module with a traced ``serve``) as TFLite flatbuffer bytes."""
    with tempfile.TemporaryDirectory() as scratch:
        tf.saved_model.save(module, scratch, signatures={"serving_default": module.serve})
        return convert_saved_model(Path(scratch), precision)


def phase_with_noise_input(phase, crop_size: int) -> tf.Module:
    """A module whose ``serve`` is the phase generator with its background noise as an input (module docstring)."""
    specs = {"magnitudes": tf.TensorSpec([None, crop_size, crop_size, phase.neighbours], tf.float32, name="magnitudes")}
    if phase.cycle_position:
        specs["position"] = tf.TensorSpec([None, 1], tf.float32, name="position")
    if not phase.composite:
        return inference_module(phase, specs)
    composite = next(layer for layer in phase.layers if isinstance(layer, ForegroundBackgroundComposite))
    generator_names = tuple(specs)
    generator = keras.Model({name: phase.input[name] for name in generator_names}, composite.input[0])  # tanh phase

    # float16 conversion rounds every constant to float16, which would move the threshold (−0.95 becomes
    # −0.9502); as a float16 part plus a float16 remainder it survives that rounding to ~1e-7.
    threshold_high = float(np.float16(composite.foreground_threshold))
    threshold_low = composite.foreground_threshold - threshold_high
    centre = phase.centre

    def serve(inputs):
        background = tf.clip_by_value(composite.background_mean + composite.background_std * inputs["noise"], -1.0, 1.0)
        frame_t = inputs["magnitudes"][..., centre : centre + 1]
        foreground = (frame_t - threshold_high) - threshold_low > 0.0
        network_inputs = {name: inputs[name] for name in generator_names}
        return {"phase": tf.where(foreground, generator(network_inputs, training=False), background)}

    noise = {"noise": tf.TensorSpec([None, crop_size, crop_size, 3], tf.float32, name="noise")}
    return lean_module(phase, serve, specs | noise)


def inference_specs(networks: dict, crop_size: int) -> dict[str, dict[str, tf.TensorSpec]]:
    """The named input specs at ``crop_size`` of each interpolation model in ``networks``
    (:func:`keras_hdl.models.inference_parts`' names: the whole network, or its encoder and decoder)."""
    from keras_hdl.export.savedmodel import interpolator_signature

    whole = interpolator_signature(crop_size)
    if "interpolator" in networks:
        return {"interpolator": whole}
    pair = {name: whole[name] for name in ("magnitudes", "masks")}
    features = networks["interpolator_encoder"].compute_output_spec(
        {name: keras.KerasTensor(spec.shape, spec.dtype.name, name=name) for name, spec in pair.items()}
    )
    decoder = {name: tf.TensorSpec(feature.shape, tf.float32, name=name) for name, feature in features.items()}
    return {
        "interpolator_encoder": pair,
        "interpolator_decoder": decoder | {name: whole[name] for name in ("magnitudes", "condition")},
    }


def network_flatbuffers(networks: dict, crop_size: int, precision: str = "float32") -> dict[str, bytes]:
    """Each network of ``networks`` as TFLite flatbuffer bytes, by name.

    ``networks``: ``phase`` (converted with its noise input) and the interpolation models
    :func:`keras_hdl.models.inference_parts` gives (``interpolator``, or ``interpolator_encoder`` and
    ``interpolator_decoder``), at fixed ``crop_size``.
    """
    specs = inference_specs(networks, crop_size)
    modules = {name: inference_module(model, specs[name]) for name, model in networks.items() if name != "phase"}
    modules["phase"] = phase_with_noise_input(networks["phase"], crop_size)
    return {name: convert_module(module, precision) for name, module in modules.items()}


def write_tflite(interpolator_saved_model: Path, phase, crop_size: int, out_folder: Path, info_json: str) -> list[Path]:
    """Write the four ``.tflite`` files and ``model_info.json`` into ``out_folder``; returns the paths."""
    out_folder.mkdir(parents=True, exist_ok=True)
    written = []
    phase_module = phase_with_noise_input(phase, crop_size)
    for precision in PRECISIONS:
        for name, flatbuffer in (
            ("interpolator", convert_saved_model(interpolator_saved_model, precision)),
            ("phase", convert_module(phase_module, precision)),
        ):
            path = out_folder / f"{name}_{precision}.tflite"
            path.write_bytes(flatbuffer)
            written.append(path)
    info_path = out_folder / "model_info.json"
    info_path.write_text(info_json)
    return [*written, info_path]
