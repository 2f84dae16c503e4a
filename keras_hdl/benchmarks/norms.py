"""Step time of the phase generator per normalisation of the recurrent steps: batch, group, instance.

Run ``python -m keras_hdl.benchmarks.norms [--quick] [--json]``. The ``cpu`` preset's phase
generator (its widths and input frames) with each norm per recurrent step, batch 8 at its
crop size: one traced training step (L1 on the phase, Adam) and one traced inference call,
median of several. The baseline of every row is batch norm, measured in the same run.
"""

from __future__ import annotations

from keras_hdl.benchmarks import Row, emit, item_parser, median_seconds, progress, start_item

NORMS = ("batch", "group", "instance")
BATCH = 8


def run(quick: bool) -> list[Row]:
    import keras
    import numpy as np
    import tensorflow as tf

    from keras_hdl.config import build_from_config, load_preset

    preset = load_preset("cpu")
    crop = preset.phase.training.crop_size
    rng = np.random.default_rng(0)
    neighbours = preset.phase.model.get("neighbours", 3)
    inputs = {
        "magnitudes": tf.constant(rng.uniform(-1, 1, (BATCH, crop, crop, neighbours)), tf.float32),
        "seed": tf.zeros((BATCH, 2), tf.int32),
    }
    target = tf.constant(rng.uniform(-1, 1, (BATCH, crop, crop, 3)), tf.float32)
    seconds = {}
    for norm in NORMS:
        progress(f"norms: {norm}")
        keras.utils.set_random_seed(0)
        network = build_from_config(preset.phase.model, norm=norm, cycle_position=False)
        optimizer = keras.optimizers.Adam(1e-4)

        @tf.function
        def train_step(network=network, optimizer=optimizer):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.abs(network(inputs, training=True)["phase"] - target))
            variables = network.trainable_variables
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))

        infer = tf.function(lambda network=network: network(inputs, training=False)["phase"])
        repeats = 3 if quick else 7
        seconds[norm] = (median_seconds(train_step, repeats), median_seconds(infer, repeats))
    rows = []
    for index, what in enumerate(("training step", "inference")):
        baseline = seconds["batch"][index]
        for norm in NORMS:
            rows.append(
                Row(
                    f"phase generator {what}, {norm} norm per step, batch {BATCH} @{crop}px",
                    seconds[norm][index],
                    "s",
                    baseline,
                    "batch norm per step (same run)",
                )
            )
    return rows


def main() -> None:
    started = start_item()
    args = item_parser(__doc__).parse_args()
    emit(run(args.quick), args.json, started)


if __name__ == "__main__":
    main()
