"""Inference per frame and per 50-frame twin of one 256×256 slice at K = 6: Keras, SavedModel, TFLite, back ends.

Run ``python -m keras_hdl.benchmarks.inference [--model MODELS_DIR] [--quick] [--json]``
(default: the shipped ``cpu`` weights, 96-px crops). The models folder is exported with
:func:`keras_hdl.export.savedmodel.export_savedmodels` (SavedModels and TFLite float32 /
float16) into a temporary folder, then each back end runs on the networks' crops:

- per frame: the whole interpolator on one dropped frame (batch 1) and on all 42 dropped
  frames of the slice in one call (batched), per frame;
- per twin (crops): every frame of the slice's twin on crops: Keras through
  :func:`~keras_hdl.synthesis.pipeline.synthesize_crops` (encoder per gap, decoder per dropped
  frame), SavedModel through the exported ``twin`` graph (one call), TFLite as one call of the
  exported interpolator (42 frames) + one phase call (50);
- converting the networks to TFLite fp32 in memory (interpolator encoder and decoder, phase): what
  the first ``synthesize`` with new weights does before caching the flatbuffers
  (:mod:`keras_hdl.synthesis.backends`);
- the full twin (:func:`~keras_hdl.synthesis.pipeline.synthesize_twin`): crop, resample, both
  networks, paste back into the 256 × 256 slice (target ≤ 5 s), with the Keras fp32 path as it was
  before #19 (the whole interpolator once per dropped frame), today's Keras fp32 path (its encoder
  once per gap, its decoder once per dropped frame), XLA-compiled Keras, TFLite fp32 and ``synthesize``'s
  default back end (``auto``: the faster of Keras and TFLite here, timed once per machine and weights by
  :func:`~keras_hdl.synthesis.backends.fastest_backend`), timed in interleaved rounds; the default's, XLA's
  and TFLite's speed against Keras fp32 before and after the split, on the same input in the same run
  (target: default ≥ 1.5× the old path).

Crop inputs are random (the networks' cost does not depend on the pixel values); the full
twin runs on the phantom slice. Baseline of every row: linear interpolation of the same
frames of the 256² slice, in the same process.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from keras_hdl.benchmarks import Row, emit, interleaved_medians, item_parser, median_seconds, progress, start_item
from keras_hdl.benchmarks.interpolation import FRAMES, SLICE_SIZE, K, benchmark_slice, gap_inputs, linear_row
from keras_hdl.predictors import KerasPredictor, TFLitePredictor
from keras_hdl.runtime import usable_cpus

LINEAR_PER_FRAME = "linear interpolation per frame, 256² slice (same run)"
LINEAR_PER_TWIN = "linear interpolation of the slice's 42 dropped frames, 256² (same run)"
FULL_TWIN_BACKENDS = {"keras": "Keras", "xla": "XLA", "tflite": "TFLite", "auto": "default back end"}
"""The back ends of the full-twin rows (``load_local_models(backend=...)``) and their names in the rows."""
WHOLE_INTERPOLATOR = "keras-whole"
"""The full-twin row of the Keras fp32 path before #19: the whole interpolator run once per dropped frame."""


def crop_inputs(
    count: int, crop: int, rng: np.random.Generator, neighbours: int = 3, cycle_position: bool = False
) -> dict[str, dict[str, np.ndarray]]:
    """Random interpolator and phase inputs of ``count`` samples at ``crop`` px (serving signatures' names),
    for a phase generator that sees ``neighbours`` frames (and t/T with ``cycle_position``)."""
    image = lambda channels: rng.uniform(-1, 1, (count, crop, crop, channels)).astype(np.float32)  # noqa: E731
    position = {"position": rng.uniform(0, 1, (count, 1)).astype(np.float32)} if cycle_position else {}
    phase = {"magnitudes": image(neighbours), **position}
    return {
        "interpolator": {
            "magnitudes": image(2),
            "masks": (image(2) > 0).astype(np.float32),
            "condition": np.tile(np.float32([[0.0, 0.02, 0.14]]), (count, 1)),
        },
        "phase": {**phase, "seed": np.stack([np.zeros(count), np.arange(count)], -1).astype(np.int32)},
        "phase_tflite": {**phase, "noise": rng.standard_normal((count, crop, crop, 3), np.float32)},
    }


def savedmodel_call(folder: Path) -> Callable[[dict], dict]:
    """The ``serving_default`` signature of a SavedModel as a numpy → numpy function."""
    import tensorflow as tf

    signature = tf.saved_model.load(str(folder)).signatures["serving_default"]
    return lambda inputs: {
        name: value.numpy() for name, value in signature(**{k: tf.constant(v) for k, v in inputs.items()}).items()
    }


def tflite_call(path: Path) -> TFLitePredictor:
    """A TFLite file's ``serving_default`` runner (make one per batch size, so the interpreter is not resized
    between calls)."""
    return TFLitePredictor(path.read_bytes(), usable_cpus())


def full_twin_rows(folder: Path, low_rate, repeats: int, linear_twin: float) -> list[Row]:
    """The full twin of the phantom slice with each of :data:`FULL_TWIN_BACKENDS` and with the whole interpolator
    per frame (:data:`WHOLE_INTERPOLATOR`), and the speed rows against Keras fp32 before and after the split."""
    from keras_hdl.interpolation.network import NetworkInterpolator
    from keras_hdl.synthesis.networks import load_local_models, load_local_networks
    from keras_hdl.synthesis.pipeline import synthesize_twin

    models = {backend: load_local_models(folder, backend=backend) for backend in FULL_TWIN_BACKENDS}
    whole = NetworkInterpolator.from_model(load_local_networks(folder)[1]["interpolator"])
    models[WHOLE_INTERPOLATOR] = dataclasses.replace(models["keras"], interpolator=whole)
    labels = {WHOLE_INTERPOLATOR: "Keras, whole interpolator per frame (before #19)", **FULL_TWIN_BACKENDS}
    progress(f"inference: full twin of the 256² slice (synthesize_twin), {', '.join(labels.values())}")
    seconds = interleaved_medians(
        {backend: lambda m=m: synthesize_twin(low_rate, K, m, frames=FRAMES) for backend, m in models.items()}, repeats
    )
    crop = models["keras"].crop_size
    rows = [
        Row(
            f"twin full synthesize_twin, {label}, {SLICE_SIZE}² slice, K={K}",
            seconds[backend],
            "s/twin",
            linear_twin,
            LINEAR_PER_TWIN,
            note=f"{models[backend].backend}; models {models[backend].version} ({crop}-px crops): crop, resample, "
            "both networks, paste back",
        )
        for backend, label in labels.items()
    ]
    baselines = {
        WHOLE_INTERPOLATOR: ("Keras fp32 before #19", "the whole interpolator per dropped frame"),
        "keras": ("Keras fp32", "encoder per gap, decoder per dropped frame"),
    }
    for baseline, (against, how) in baselines.items():
        same_run = f"{against} full twin ({how}), same input, same run (interleaved rounds)"
        for backend, name in (("auto", "default synthesis"), ("xla", "XLA synthesis"), ("tflite", "TFLite synthesis")):
            speed = f"{name} speed vs {against} ({SLICE_SIZE}² twin)"
            rows.append(
                Row(speed, 1 / seconds[backend], "twins/s", 1 / seconds[baseline], same_run, models[backend].backend)
            )
    return rows


def run(quick: bool, models_dir: str | Path | None = None) -> list[Row]:
    """Rows for every back end (module docstring)."""
    from keras_hdl.export.savedmodel import export_savedmodels
    from keras_hdl.export.tflite import network_flatbuffers
    from keras_hdl.synthesis.networks import (
        inference_networks,
        load_local_models,
        load_local_networks,
        resolve_models_folder,
    )
    from keras_hdl.synthesis.pipeline import synthesize_crops

    repeats = 3 if quick else 7
    folder = resolve_models_folder(models_dir)
    progress("inference: phantom slice and linear baseline")
    _, low_rate = benchmark_slice()
    slice_gaps = gap_inputs(low_rate)
    dropped = slice_gaps.frames
    linear = linear_row(slice_gaps, repeats)  # the baseline column (the interpolation item reports it as a row)
    rows = []

    models = load_local_models(folder)
    networks = load_local_networks(folder)[1]
    crop = models.crop_size
    rng = np.random.default_rng(0)
    layout = {"neighbours": models.phase.neighbours, "cycle_position": models.phase.cycle_position}
    one, batched, whole = (crop_inputs(count, crop, rng, **layout) for count in (1, dropped, FRAMES))
    num_kept = FRAMES - dropped
    kept_magnitudes = rng.uniform(-1, 1, (1, num_kept, crop, crop)).astype(np.float32)
    kept_masks = (rng.random((1, num_kept, crop, crop)) > 0.5).astype(np.float32)

    with tempfile.TemporaryDirectory(prefix="keras-hdl-bench-") as scratch:
        progress("inference: exporting SavedModels and TFLite files")
        start = time.perf_counter()
        exported = export_savedmodels(folder, Path(scratch) / "serving", tflite=True)
        rows.append(Row("export SavedModels + TFLite fp32/fp16", time.perf_counter() - start, "s"))

        interpolator = {
            "Keras": lambda: KerasPredictor(networks["interpolator"]),
            "SavedModel": lambda: savedmodel_call(exported["interpolator"]),
            "TFLite fp32": lambda: tflite_call(exported["tflite"] / "interpolator_float32.tflite"),
            "TFLite fp16": lambda: tflite_call(exported["tflite"] / "interpolator_float16.tflite"),
        }
        for backend, make in interpolator.items():
            progress(f"inference: {backend} interpolator per frame")
            for inputs, count in ((one, 1), (batched, dropped)):
                call, sample = make(), inputs["interpolator"]
                seconds = median_seconds(lambda call=call, sample=sample: call(sample), repeats) / count
                rows.append(
                    Row(
                        f"infer {backend} interpolator per frame, batch {count} @{crop}px",
                        seconds * 1000,
                        "ms/frame",
                        linear.value,
                        LINEAR_PER_FRAME,
                    )
                )

        twin_saved = savedmodel_call(exported["twin"])
        twin_inputs = {
            "magnitudes": kept_magnitudes,
            "masks": kept_masks,
            "k": np.int32(K),
            "frames": np.int32(FRAMES),
            "seed": np.int32(0),
        }
        tflite_twins = {}
        for precision in ("float32", "float16"):
            interpolate = tflite_call(exported["tflite"] / f"interpolator_{precision}.tflite")
            synthesize = tflite_call(exported["tflite"] / f"phase_{precision}.tflite")
            tflite_twins[f"TFLite {precision.replace('float', 'fp')}"] = (
                lambda interpolate=interpolate, synthesize=synthesize: (
                    interpolate(batched["interpolator"]),
                    synthesize(whole["phase_tflite"]),
                )
            )
        twins = {
            "Keras": lambda: synthesize_crops(
                kept_magnitudes, kept_masks, K, FRAMES, 0, models.interpolator, models.phase
            ),
            "SavedModel": lambda: twin_saved(twin_inputs),
            **tflite_twins,
        }
        linear_twin = linear.value * dropped / 1000
        for backend, make_twin in twins.items():
            progress(f"inference: {backend} twin on crops")
            rows.append(
                Row(
                    f"twin {backend} on crops ({dropped} interpolated + {FRAMES} phase frames)",
                    median_seconds(make_twin, repeats),
                    "s/twin",
                    linear_twin,
                    LINEAR_PER_TWIN,
                )
            )

    progress("inference: converting the networks to TFLite fp32 in memory")
    start = time.perf_counter()
    network_flatbuffers(inference_networks(networks), crop)
    note = "what the first `synthesize` with new weights does; cached after (keras_hdl.synthesis.backends)"
    rows.append(Row("convert the networks to TFLite fp32 in memory", time.perf_counter() - start, "s", note=note))
    return rows + full_twin_rows(folder, low_rate, repeats, linear_twin)


def main() -> None:
    started = start_item()
    parser = item_parser(__doc__, "fewer repeats")
    parser.add_argument("--model", default=None, help="models folder (default: the shipped cpu weights)")
    args = parser.parse_args()
    emit(run(args.quick, args.model), args.json, started)


if __name__ == "__main__":
    main()
