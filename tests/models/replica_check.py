"""Run as a script: train a tiny trainer for two steps on one and on two replicas; print JSON.

``python replica_check.py {pix2pix|interpolator} {fit|loop}...``. The two logical CPU
devices must be configured before TensorFlow initialises, hence a separate process (see
test_distributed.py). Plain SGD, not Adam, so that a wrongly scaled gradient would show
in the weights (Adam normalises the gradient's scale away). Prints one line
``RESULT {mode: {"one" | "two": {"logs": [per-step logs], "change": Σ|Δw|}}}``.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import tensorflow as tf

tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2
)

import keras  # noqa: E402

from keras_hdl.config import build_from_config, load_preset  # noqa: E402
from keras_hdl.training.steps import distributed_step  # noqa: E402
from keras_hdl.training.tasks.interpolation import InterpolatorTrainer  # noqa: E402
from keras_hdl.training.tasks.phase import Pix2PixTrainer  # noqa: E402

BATCH = 4
STEPS = 2


def batches(kind: str, size: int) -> list:
    rng = np.random.default_rng(7)
    out = []
    for _ in range(STEPS):
        if kind == "pix2pix":
            magnitudes = rng.uniform(-1, 1, (BATCH, size, size, 5)).astype(np.float32)  # the tiny generator's 5 frames
            magnitudes[:, : size // 4] = -1.0  # a background band for the composite
            targets = {
                "phase": rng.uniform(-1, 1, (BATCH, size, size, 3)).astype(np.float32),
                "mask": (rng.random((BATCH, size, size, 1)) > 0.7).astype(np.float32),
                "venc": np.float32([[20, 20, 30]] * BATCH),
                "pixel_spacing": np.float32([[2, 2]] * BATCH),
            }
            position = rng.uniform(0, 1, (BATCH, 1)).astype(np.float32)  # and its cycle position
            out.append(({"magnitudes": magnitudes, "position": position}, targets))
        else:
            inputs = {
                "magnitudes": rng.uniform(-1, 1, (BATCH, size, size, 2)).astype(np.float32),
                "masks": (rng.random((BATCH, size, size, 2)) > 0.7).astype(np.float32),
                "condition": np.tile(np.float32([[0.1, 0.12, 0.2]]), (BATCH, 1)),
            }
            targets = {
                "magnitude": rng.uniform(-1, 1, (BATCH, size, size, 1)).astype(np.float32),
                "mask": (rng.random((BATCH, size, size, 1)) > 0.7).astype(np.float32),
            }
            out.append((inputs, targets))
    return out


def make_trainer(kind: str, preset):
    keras.utils.set_random_seed(3)
    if kind == "pix2pix":
        section = preset.phase
        trainer = Pix2PixTrainer(build_from_config(section.model), build_from_config(section.discriminator), seed=5)
        trainer.compile(keras.optimizers.SGD(0.05), keras.optimizers.SGD(0.05))
    else:
        section = preset.interpolation
        trainer = InterpolatorTrainer(
            build_from_config(section.model),
            discriminator=build_from_config(section.discriminator),
            adversarial_weight=0.5,
        )
        trainer.compile(keras.optimizers.SGD(0.05), keras.optimizers.SGD(0.05))
    return trainer


def run(kind: str, strategy, mode: str, preset) -> tuple[list, float]:
    """Per-step logs and the total absolute weight change of two training steps."""
    data = batches(kind, preset.phase.training.crop_size)
    with strategy.scope():
        trainer = make_trainer(kind, preset)
    initial = [np.asarray(weight, np.float64) for weight in trainer.trainable_weights]
    logs = []
    if mode == "fit":
        for inputs, targets in data:
            trainer.reset_metrics()
            history = trainer.fit(tf.data.Dataset.from_tensors((inputs, targets)), epochs=1, verbose=0)
            logs.append({name: values[-1] for name, values in history.history.items()})
    else:
        step = distributed_step(trainer, strategy)
        for batch in data:
            dataset = tf.data.Dataset.from_tensors(batch)
            trainer.reset_metrics()
            for distributed in strategy.experimental_distribute_dataset(dataset):
                logs.append({name: float(value) for name, value in step(distributed).items()})
    final = [np.asarray(weight, np.float64) for weight in trainer.trainable_weights]
    change = sum(np.abs(after - before).sum() for after, before in zip(final, initial, strict=True))
    return logs, float(change)


def main() -> None:
    kind, modes = sys.argv[1], sys.argv[2:]
    preset = load_preset("tiny")
    devices = [device.name for device in tf.config.list_logical_devices("CPU")]
    result = {}
    for mode in modes:
        result[mode] = {}
        for label, strategy in (
            ("one", tf.distribute.get_strategy()),
            ("two", tf.distribute.MirroredStrategy(devices[:2])),
        ):
            logs, change = run(kind, strategy, mode, preset)
            result[mode][label] = {"logs": logs, "change": change}
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
