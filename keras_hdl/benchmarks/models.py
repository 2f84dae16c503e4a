"""Model benchmark: parameters, forward FLOPs and one training-step time per preset.

Run ``python -m keras_hdl.benchmarks.models [--presets tiny cpu paper] [--batch-size N] [--quick]``.
FLOPs are counted from the traced graph of one sample's forward pass (or training step): 2 ×
multiply-adds of every convolution op (the networks have no dense layers; norms and
activations are not counted).
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

CONVOLUTION_OPS = ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter")
"""The ops counted: a convolution and its two gradients, each 2 × (output-gradient elements × kh × kw × C_in)."""


def _ops_the_outputs_need(graph) -> list:
    """The ops of a traced function graph that its outputs depend on. A traced gradient holds ops
    no output needs (the input gradient of the first layers), which TensorFlow prunes before running."""
    needed, pending = set(), [tensor.op for tensor in graph.outputs]
    while pending:
        op = pending.pop()
        if op not in needed:
            needed.add(op)
            pending += [tensor.op for tensor in op.inputs] + list(op.control_inputs)
    return [op for op in graph.get_operations() if op in needed]


def _convolution_flops(graph) -> int:
    """2 × multiply-adds of every convolution and convolution gradient op a traced graph's outputs need."""
    total = 0
    for op in _ops_the_outputs_need(graph):
        if op.type not in CONVOLUTION_OPS:
            continue
        # The tensor of the layer's output shape, and the one that carries the kernel's shape.
        output = op.outputs[0] if op.type == "Conv2D" else op.inputs[2]
        kernel = op.outputs[0] if op.type == "Conv2DBackpropFilter" else op.inputs[1]
        kernel_height, kernel_width, in_channels, _ = kernel.shape
        total += 2 * int(np.prod(output.shape)) * kernel_height * kernel_width * in_channels
    return total


def _input_specs(model, size: int) -> dict:
    """One sample's input specs of a network whose image inputs are ``size`` × ``size`` pixels."""
    import tensorflow as tf

    return {
        tensor.name: tf.TensorSpec(tuple(size if dim is None else dim for dim in (1, *tensor.shape[1:])), tensor.dtype)
        for tensor in model.inputs
    }


def forward_flops(model, input_shapes: Mapping[str, tuple[int, ...]], dtypes: Mapping[str, str] | None = None) -> int:
    """Floating-point operations of one forward pass: 2 × multiply-adds of the graph's Conv2D ops.

    ``input_shapes`` maps each input name to its full shape (batch included).
    """
    import tensorflow as tf

    dtypes = dtypes or {}
    return _forward_pass_flops(
        model, {name: tf.TensorSpec(shape, dtypes.get(name, "float32")) for name, shape in input_shapes.items()}
    )


def _forward_pass_flops(model, specs: dict) -> int:
    import tensorflow as tf

    graph = tf.function(lambda inputs: model(inputs, training=False)).get_concrete_function(specs).graph
    return _convolution_flops(graph)


def sample_flops(model, size: int) -> int:
    """:func:`forward_flops` of one sample of a network whose image inputs are ``size`` × ``size`` pixels."""
    return _forward_pass_flops(model, _input_specs(model, size))


def sample_training_flops(model, size: int) -> int:
    """Convolution FLOPs of one sample's training step: the forward pass and the gradients of every
    trainable weight, counted from the traced graph (2 × multiply-adds of Conv2D, Conv2DBackpropInput
    and Conv2DBackpropFilter; no input gradient of the first layers, as no step needs it).

    The work the step needs: recomputation (:func:`keras_hdl.models.blocks.set_recompute`) is
    switched off for the count and restored. A network whose every convolution reaches the loss
    does a little under 3 × its forward FLOPs.
    """
    import tensorflow as tf

    from keras_hdl.models.blocks import recurrent_units

    units = recurrent_units(model)
    recompute = [unit.recompute for unit in units]

    def step(inputs):
        with tf.GradientTape() as tape:
            outputs = tf.nest.flatten(model(inputs, training=True))
            loss = tf.add_n([tf.reduce_sum(tf.cast(output, "float32")) for output in outputs])
        return loss, tape.gradient(loss, model.trainable_variables)  # a step computes both

    try:
        for unit in units:
            unit.recompute = False
        graph = tf.function(step).get_concrete_function(_input_specs(model, size)).graph
    finally:
        for unit, flag in zip(units, recompute, strict=True):
            unit.recompute = flag
    return _convolution_flops(graph)


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
