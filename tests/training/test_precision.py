"""Mixed precision: bf16 steps train with float32 losses and save float32 networks; fp16 scales the loss."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from keras_hdl.config import build_from_config, load_preset  # noqa: E402
from keras_hdl.training.steps import distributed_step  # noqa: E402
from keras_hdl.training.train import _phase_run, dtype_policy, float32_network  # noqa: E402


def test_bf16_pix2pix_step_has_float32_losses_and_saves_a_float32_generator(tiny_phantom):
    from keras_hdl.training.sources import background_noise, load_training_data

    data = load_training_data(tiny_phantom, 32)
    mean, std = background_noise(data)
    with dtype_policy("mixed_bfloat16"):
        keras.utils.set_random_seed(0)
        run = _phase_run(load_preset("tiny"), data, seed=0, epochs=1, background={"mean": mean, "std": std})
        inputs, targets = next(iter(run.make_dataset(0)))
        generator_inputs = {"magnitudes": inputs["magnitudes"], "seed": tf.zeros((4, 2), tf.int32)}
        assert run.network(generator_inputs)["phase"].dtype == tf.bfloat16  # computes in bf16
        before = [np.asarray(weight) for weight in run.network.trainable_weights]
        logs = distributed_step(run.trainer, tf.distribute.get_strategy())((inputs, targets))
        portable = float32_network(run)
    assert keras.mixed_precision.global_policy().name == "float32"  # restored after the block
    for name, value in logs.items():
        assert value.dtype == tf.float32 and np.isfinite(float(value)), name
    assert float(logs["l1_foreground"]) > 0 and float(logs["discriminator_loss"]) > 0
    after = run.network.trainable_weights
    assert all(weight.dtype == "float32" for weight in after)  # variables stay float32
    assert any(not np.array_equal(b, np.asarray(a)) for b, a in zip(before, after, strict=True))

    # the saved network is float32 end to end and agrees with the bf16 one, to bf16 precision, on the
    # foreground (the background noise is drawn in each network's own dtype)
    assert portable.dtype_policy.name == "float32"
    full = portable(generator_inputs)["phase"]
    assert full.dtype == tf.float32
    half = tf.cast(run.network(generator_inputs)["phase"], tf.float32)
    foreground = np.asarray(inputs["magnitudes"][..., 1]) > -0.9
    assert foreground.sum() > 100
    full, half = np.asarray(full)[foreground], np.asarray(half)[foreground]
    assert np.abs(full - half).mean() < 0.05 and np.corrcoef(full, half)[0, 1] > 0.98  # bf16 keeps 8 bits


def sgd_step_change(policy: str) -> tuple[float, keras.Model]:
    """Σ|Δw| of one SGD step of a small interpolator under ``policy``, from the same start and batch."""
    from keras_hdl.training.interpolator_trainer import InterpolatorTrainer

    rng = np.random.default_rng(0)
    inputs = {
        "magnitudes": rng.uniform(-1, 1, (2, 16, 16, 2)).astype(np.float32),
        "masks": (rng.random((2, 16, 16, 2)) > 0.5).astype(np.float32),
        "condition": np.float32([[0.1, 0.14, 0.18]] * 2),
    }
    targets = {
        "magnitude": rng.uniform(-1, 1, (2, 16, 16, 1)).astype(np.float32),
        "mask": (rng.random((2, 16, 16, 1)) > 0.5).astype(np.float32),
    }
    with dtype_policy(policy):
        keras.utils.set_random_seed(1)
        config = {"class": "TemporalInterpolator", "widths": [4, 8], "recurrence": 1, "norm": "instance"}
        trainer = InterpolatorTrainer(build_from_config(config))
        trainer.compile(keras.optimizers.SGD(0.1))
        before = [np.asarray(weight, np.float64) for weight in trainer.trainable_weights]
        logs = trainer.train_on_batch(inputs, targets, return_dict=True)
    assert np.isfinite(logs["loss"])
    after = [np.asarray(weight, np.float64) for weight in trainer.trainable_weights]
    return sum(np.abs(a - b).sum() for a, b in zip(after, before, strict=True)), trainer


def test_fp16_steps_scale_the_loss_so_updates_match_float32():
    full_change, _ = sgd_step_change("float32")
    half_change, trainer = sgd_step_change("mixed_float16")
    assert isinstance(trainer.optimizer, keras.optimizers.LossScaleOptimizer)
    assert int(trainer.optimizer.iterations) == 1  # the step was applied, not skipped as an overflow
    # unscaled fp16 gradients would be divided by the loss scale (2**15) and the update all but vanish
    assert half_change == pytest.approx(full_change, rel=0.05)
