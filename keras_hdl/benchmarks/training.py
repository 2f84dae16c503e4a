"""Training throughput, forward time and achieved GFLOP/s of one preset at one precision.

Run ``python -m keras_hdl.benchmarks.training --preset cpu --precision fp32 [--forward-only] [--quick] [--json]``.

Rows per network: parameters (M) and forward GFLOP per sample counted from the traced
graph (:func:`~keras_hdl.benchmarks.models.forward_flops`), forward seconds per sample at
batch 1, training samples/s (median ``train_on_batch`` after a traced warm-up step, random
data of the preset's crop size) and the achieved GFLOP/s of training against the machine's
peak. The interpolator's training FLOPs are counted from the traced graph of its forward pass
and weight gradients (:func:`~keras_hdl.benchmarks.models.sample_training_flops`: 3.00 × F,
recomputation not credited), as the reference network's are; pix2pix's are estimated as
:data:`TRAINING_FLOP_FACTOR` × (F_generator + 2 F_discriminator) (backward ≈ 2 × forward; the
discriminator sees the real and the fake pair).
The ``paper`` preset trains at batch 4, the batch at which ``keras-hdl benchmark --reference``
times the authors' network (:mod:`~keras_hdl.benchmarks.reference`) in the same run.
"""

from __future__ import annotations

import numpy as np

from keras_hdl.benchmarks import Row, emit, item_parser, median_seconds, progress, start_item
from keras_hdl.benchmarks.machine import gpu_names, gpu_peak_tflops, this_cpu_peak
from keras_hdl.benchmarks.models import (
    interpolation_batch,
    phase_batch,
    sample_flops,
    sample_training_flops,
)
from keras_hdl.config import Preset, build_from_config, load_preset
from keras_hdl.precision import DTYPE_POLICIES, dtype_policy

TRAINING_FLOP_FACTOR = 3
"""Training FLOPs ≈ 3 × forward FLOPs: the forward pass, then gradients of activations and of weights
(pix2pix's estimate; the interpolator's are counted)."""
PRECISIONS = ("fp32", "bf16")
PAPER_BATCH = 4
"""The ``paper`` preset's training batch here: the batch the reference network is timed at."""


def gpu_available() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def peak_gflops(precision: str) -> tuple[float, str]:
    """(GFLOP/s, its name): the GPU's tensor-core peak for the precision, else the CPU's fp32 peak."""
    if gpu_available():
        for name in gpu_names():
            found = gpu_peak_tflops(name)
            if found:
                key, table = found
                kind = "bf16" if precision == "bf16" else "tf32"
                return table[kind] * 1000, f"{key} dense {kind} tensor-core peak (datasheet)"
        return 0.0, ""
    peak = this_cpu_peak()
    return peak.gflops, f"this machine's fp32 peak: {peak.derivation}"


def random_inputs(model, batch: int, size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Random inputs for every named input of ``model``: images in [−1, 1] at ``size`` px, int inputs 0."""
    inputs = {}
    for tensor in model.inputs:
        shape = tuple(size if dim is None else dim for dim in (batch, *tensor.shape[1:]))
        if "int" in str(tensor.dtype):
            inputs[tensor.name] = np.zeros(shape, str(tensor.dtype))
        else:
            inputs[tensor.name] = rng.uniform(-1, 1, shape).astype(np.float32)
    return inputs


def forward_seconds(model, size: int, repeats: int) -> float:
    """Median seconds of one traced inference call on one sample."""
    import tensorflow as tf

    inputs = random_inputs(model, 1, size, np.random.default_rng(0))
    call = tf.function(lambda batch: model(batch, training=False))
    return median_seconds(lambda: tf.nest.map_structure(np.asarray, call(inputs)), repeats=repeats)


def train_steps(preset: Preset, networks: dict, batch: int | None) -> dict[str, tuple]:
    """{"interpolator" | "pix2pix": (trainer, (inputs, targets), crop size, batch)}: the preset's train steps
    (its losses and Adam settings) on random data. ``networks``: "interpolator" and "phase generator";
    ``batch`` replaces the preset's batch sizes (``None``: the preset's; the paper preset: 4)."""
    from keras_hdl.training.tasks import TASKS

    rng = np.random.default_rng(0)
    interpolation, phase = preset.interpolation.training, preset.phase.training
    batches = {
        module: batch or (PAPER_BATCH if preset.name == "paper" else settings.batch_size)
        for module, settings in (("interpolator", interpolation), ("pix2pix", phase))
    }
    return {
        "interpolator": (
            TASKS["interpolator"].trainer(preset, networks["interpolator"]),
            interpolation_batch(batches["interpolator"], interpolation.crop_size, rng),
            interpolation.crop_size,
            batches["interpolator"],
        ),
        "pix2pix": (
            TASKS["phase"].trainer(preset, networks["phase generator"]),
            phase_batch(batches["pix2pix"], phase.crop_size, rng, networks["phase generator"]),
            phase.crop_size,
            batches["pix2pix"],
        ),
    }


def training_rows(
    preset: Preset, precision: str, networks: dict, flops: dict[str, int], batch: int | None, repeats: int
) -> list[Row]:
    """samples/s and achieved GFLOP/s of the interpolator and pix2pix train steps (:func:`train_steps`).

    ``flops``: forward FLOPs per sample of each network, and the interpolator's counted training
    FLOPs per sample (``"interpolator training"``)."""
    peak, peak_name = peak_gflops(precision)
    pix2pix_forward = flops["phase generator"] + 2 * flops["phase discriminator"]
    step_flops = {
        "interpolator": (flops["interpolator training"], "counted training FLOPs per sample"),
        "pix2pix": (TRAINING_FLOP_FACTOR * pix2pix_forward, f"{TRAINING_FLOP_FACTOR} × forward FLOPs per sample"),
    }
    rows = []
    for module, (trainer, (inputs, targets), size, module_batch) in train_steps(preset, networks, batch).items():
        per_sample, how = step_flops[module]
        progress(
            f"training {preset.name} {module} {precision}: batch {module_batch} @{size}px, {repeats} timed step(s)"
        )
        seconds = median_seconds(lambda trainer=trainer, i=inputs, t=targets: trainer.train_on_batch(i, t), repeats)
        rate = module_batch / seconds
        rows.append(
            Row(
                f"train {preset.name} {module} {precision} (batch {module_batch} @{size}px)",
                rate,
                "samples/s",
                note="pix2pix = generator + discriminator steps" if module == "pix2pix" else "",
            )
        )
        rows.append(
            Row(
                f"train {preset.name} {module} {precision} achieved GFLOP/s",
                per_sample * rate / 1e9,
                "GFLOP/s",
                peak or None,
                peak_name,
                note=f"{how} ({per_sample / 1e9:.4g} GFLOP) × samples/s",
            )
        )
    return rows


def run(
    quick: bool, preset_name: str = "cpu", precision: str = "fp32", forward_only: bool = False, batch: int | None = None
) -> list[Row]:
    """Rows of one preset at one precision (module docstring)."""
    import keras

    preset = load_preset(preset_name)
    paper = preset.name == "paper"
    repeats = 1 if paper else 2 if quick else 5
    crops = {"interpolator": preset.interpolation.training.crop_size, "phase": preset.phase.training.crop_size}
    with dtype_policy(DTYPE_POLICIES[precision]):
        keras.utils.set_random_seed(0)
        networks = {
            "interpolator": (build_from_config(preset.interpolation.model), crops["interpolator"]),
            "phase generator": (build_from_config(preset.phase.model), crops["phase"]),
            "phase discriminator": (build_from_config(preset.phase.discriminator), crops["phase"]),
        }
        rows, flops = [], {}
        for label, (model, size) in networks.items():
            flops[label] = sample_flops(model, size)
            if precision == "fp32":
                rows.append(Row(f"{preset.name} {label} parameters", model.count_params() / 1e6, "M"))
                rows.append(
                    Row(
                        f"{preset.name} {label} forward FLOPs/sample @{size}px",
                        flops[label] / 1e9,
                        "GFLOP",
                        note="counted from the traced graph: 2 × multiply-adds of every Conv2D",
                    )
                )
            if label == "interpolator":
                flops["interpolator training"] = sample_training_flops(model, size)
                if precision == "fp32":
                    rows.append(
                        Row(
                            f"{preset.name} interpolator training FLOPs/sample @{size}px",
                            flops["interpolator training"] / 1e9,
                            "GFLOP",
                            note="counted from the traced graph: the forward pass and the weight gradients' "
                            f"convolutions, {flops['interpolator training'] / flops[label]:.3g} × forward",
                        )
                    )
            if label == "phase discriminator":
                continue
            progress(f"forward {preset.name} {label} {precision}, batch 1 @{size}px")
            seconds = forward_seconds(model, size, 1 if paper and quick else repeats + 1)
            rows.append(Row(f"forward {preset.name} {label} {precision} (batch 1 @{size}px)", seconds, "s/sample"))
        if not forward_only:
            rows += training_rows(preset, precision, {k: m for k, (m, _) in networks.items()}, flops, batch, repeats)
    return rows


def main() -> None:
    started = start_item()
    parser = item_parser(__doc__, "fewer timed repeats")
    parser.add_argument("--preset", default="cpu", help="preset name or YAML path (default: cpu)")
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32")
    parser.add_argument("--forward-only", action="store_true", help="skip the training steps")
    parser.add_argument("--batch-size", type=int, default=None, help="training batch (default: preset's; paper: 4)")
    args = parser.parse_args()
    emit(run(args.quick, args.preset, args.precision, args.forward_only, args.batch_size), args.json, started)


if __name__ == "__main__":
    main()
