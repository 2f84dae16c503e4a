"""Model benchmark: parameters, forward FLOPs and one training-step time per preset.

Run ``python -m keras_hdl.benchmarks.models [--presets tiny cpu paper] [--batch-size N] [--quick]``.
FLOPs are counted from the traced graph of one sample's forward pass: 2 × multiply-adds of
every Conv2D op (the networks have no dense layers; norms and activations are not counted).
Step times are the median wall time of
``train_on_batch`` on random data of the preset's crop size, after one untimed warm-up
step (which traces the graph); ``--batch-size`` replaces the preset's batch (useful for
``paper`` on a CPU), ``--quick`` times a single step.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from keras_hdl.benchmarks import Row, emit, item_parser, median_seconds, start_item
from keras_hdl.config import Preset, build_from_config, load_preset


def forward_flops(model, input_shapes: Mapping[str, tuple[int, ...]], dtypes: Mapping[str, str] | None = None) -> int:
    """Floating-point operations of one forward pass: 2 × multiply-adds of the graph's Conv2D ops.

    ``input_shapes`` maps each input name to its full shape (batch included).
    """
    import tensorflow as tf

    dtypes = dtypes or {}
    specs = {name: tf.TensorSpec(shape, dtypes.get(name, "float32")) for name, shape in input_shapes.items()}
    graph = tf.function(lambda inputs: model(inputs, training=False)).get_concrete_function(specs).graph
    total = 0
    for op in graph.get_operations():
        if op.type == "Conv2D":
            kernel_height, kernel_width, in_channels, _ = op.inputs[1].shape
            total += 2 * int(np.prod(op.outputs[0].shape)) * kernel_height * kernel_width * in_channels
    return total


def sample_flops(model, size: int) -> int:
    """:func:`forward_flops` of one sample of a network whose image inputs are ``size`` × ``size`` pixels."""
    shapes = {tensor.name: (1, *tensor.shape[1:]) for tensor in model.inputs}
    shapes = {name: tuple(size if dim is None else dim for dim in shape) for name, shape in shapes.items()}
    return forward_flops(model, shapes, {tensor.name: tensor.dtype for tensor in model.inputs})


def interpolation_batch(batch: int, size: int, rng: np.random.Generator):
    """Random interpolation inputs and targets of the shapes the data pipeline makes."""
    image = lambda channels: rng.uniform(-1, 1, (batch, size, size, channels)).astype(np.float32)  # noqa: E731
    mask = lambda channels: (rng.random((batch, size, size, channels)) > 0.5).astype(np.float32)  # noqa: E731
    condition = np.tile(np.float32([[0.1, 0.14, 0.18]]), (batch, 1))
    return (
        {"magnitudes": image(2), "masks": mask(2), "condition": condition},
        {"magnitude": image(1), "mask": mask(1)},
    )


def phase_batch(batch: int, size: int, rng: np.random.Generator, generator=None):
    """Random phase-synthesis inputs and targets of the shapes the data pipeline makes for ``generator``
    (its neighbouring frames and cycle position; default: 3 frames, no position)."""
    neighbours = getattr(generator, "neighbours", 3)
    inputs = {"magnitudes": rng.uniform(-1, 1, (batch, size, size, neighbours)).astype(np.float32)}
    if getattr(generator, "cycle_position", False):
        inputs["position"] = rng.uniform(0, 1, (batch, 1)).astype(np.float32)
    targets = {
        "phase": rng.uniform(-1, 1, (batch, size, size, 3)).astype(np.float32),
        "mask": (rng.random((batch, size, size, 1)) > 0.5).astype(np.float32),
        "venc": np.tile(np.float32([20, 20, 30]), (batch, 1)),
        "pixel_spacing": np.tile(np.float32([2.34, 2.34]), (batch, 1)),
    }
    return inputs, targets


def preset_rows(preset: Preset, batch_size: int | None = None, repeats: int = 3) -> list[Row]:
    """Parameter counts, forward GFLOPs per sample and train-step seconds of one preset."""
    from keras_hdl.training.tasks import TASKS

    rows = []
    interpolation, phase = preset.interpolation, preset.phase
    networks = {
        "interpolator": (build_from_config(interpolation.model), interpolation.training.crop_size),
        "vanilla R2UNet": (build_from_config(interpolation.vanilla_model), interpolation.training.crop_size),
        "phase generator": (build_from_config(phase.model), phase.training.crop_size),
        "phase discriminator": (build_from_config(phase.discriminator), phase.training.crop_size),
    }
    for label, (model, size) in networks.items():
        rows.append(Row(f"{preset.name}: {label} parameters", model.count_params() / 1e6, "M"))
        rows.append(Row(f"{preset.name}: {label} forward @{size}px", sample_flops(model, size) / 1e9, "GFLOP"))

    rng = np.random.default_rng(0)
    settings = interpolation.training
    batch = batch_size or settings.batch_size
    trainer = TASKS["interpolator"].trainer(preset, networks["interpolator"][0])
    inputs, targets = interpolation_batch(batch, settings.crop_size, rng)
    seconds = median_seconds(lambda: trainer.train_on_batch(inputs, targets), repeats=repeats)
    rows.append(Row(f"{preset.name}: interpolator step, batch {batch} @{settings.crop_size}px", seconds, "s"))

    settings = phase.training
    batch = batch_size or settings.batch_size
    trainer = TASKS["phase"].trainer(preset, networks["phase generator"][0])
    inputs, targets = phase_batch(batch, settings.crop_size, rng, networks["phase generator"][0])
    seconds = median_seconds(lambda: trainer.train_on_batch(inputs, targets), repeats=repeats)
    rows.append(Row(f"{preset.name}: pix2pix step, batch {batch} @{settings.crop_size}px", seconds, "s"))
    return rows


def run(quick: bool, presets: tuple[str, ...] = ("tiny", "cpu"), batch_size: int | None = None) -> list[Row]:
    """Rows for each preset; ``quick`` times one step instead of three."""
    rows = []
    for name in presets:
        rows += preset_rows(load_preset(name), batch_size=batch_size, repeats=1 if quick else 3)
    return rows


def main() -> None:
    started = start_item()
    parser = item_parser(__doc__, "time one step instead of three")
    parser.add_argument("--presets", nargs="+", default=["tiny", "cpu"], help="preset names or YAML paths")
    parser.add_argument("--batch-size", type=int, default=None, help="replace each preset's batch size")
    args = parser.parse_args()
    emit(run(args.quick, tuple(args.presets), args.batch_size), args.json, started)


if __name__ == "__main__":
    main()
