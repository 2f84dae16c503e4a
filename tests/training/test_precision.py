"""Mixed precision: bf16 steps train with float32 losses and save float32 networks; fp16 scales the loss."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from keras_hdl.config import build_from_config, load_preset  # noqa: E402
from keras_hdl.precision import dtype_policy  # noqa: E402
from keras_hdl.training.loop import float32_network  # noqa: E402
from keras_hdl.training.steps import distributed_step  # noqa: E402
from keras_hdl.training.tasks import TASKS  # noqa: E402


def test_bf16_pix2pix_step_has_float32_losses_and_saves_a_float32_generator(tiny_phantom):
    from keras_hdl.training.sources import background_noise, load_training_data

    data = load_training_data(tiny_phantom, 32)
    mean, std = background_noise(data)
    with dtype_policy("mixed_bfloat16"):
        keras.utils.set_random_seed(0)
        run = TASKS["phase"].module_run(load_preset("tiny"), data, 0, 1, background={"mean": mean, "std": std})
        inputs, targets = next(iter(run.make_dataset(0)))
        generator_inputs = {**inputs, "seed": tf.zeros((4, 2), tf.int32)}  # magnitudes and position
        # the R2UNet computes in bf16; the composite (and so the output) is float32, so the seeded
        # background noise is the same at every precision
        assert run.network.dtype_policy.compute_dtype == "bfloat16"
        bf16_phase = np.asarray(run.network(generator_inputs)["phase"])
        assert bf16_phase.dtype == np.float32
        centre = run.network.centre  # frame t among the neighbouring frames
        foreground = np.asarray(inputs["magnitudes"][..., centre]) > -0.9
        assert np.array_equal(bf16_phase[foreground], bf16_phase[foreground].astype(tf.bfloat16.as_numpy_dtype))
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

    # the saved network is float32 end to end and agrees with the bf16 one, to bf16 precision, on the foreground
    assert portable.dtype_policy.name == "float32"
    full = portable(generator_inputs)["phase"]
    assert full.dtype == tf.float32
    half = tf.cast(run.network(generator_inputs)["phase"], tf.float32)
    assert foreground.sum() > 100
    full, half = np.asarray(full)[foreground].ravel(), np.asarray(half)[foreground].ravel()  # every pixel and direction
    assert np.abs(full - half).mean() < 0.05 and np.corrcoef(full, half)[0, 1] > 0.98  # bf16 keeps 8 bits


def small_trainer(kind: str):
    """A small interpolator or pix2pix trainer with plain SGD (Adam would normalise a wrong gradient scale away).

    Under mixed_float16 the trainers wrap SGD in a LossScaleOptimizer themselves; pix2pix gets one
    with a smaller initial scale than the default 2**15, at which its λ = 100 loss overflows fp16
    gradients and the first steps are (rightly) skipped while the dynamic scale comes down.
    """
    from keras_hdl.training.tasks.interpolation import InterpolatorTrainer
    from keras_hdl.training.tasks.phase import Pix2PixTrainer

    network = {"widths": [4, 8], "recurrence": 1, "norm": "instance"}
    if kind == "interpolator":
        trainer = InterpolatorTrainer(build_from_config({"class": "TemporalInterpolator", **network}))
        trainer.compile(keras.optimizers.SGD(0.1))
        return trainer, [trainer.generator_optimizer]
    generator = build_from_config({"class": "PhaseGenerator", **network})
    discriminator = build_from_config(
        {"class": "PatchDiscriminator", "image_channels": 3, "context_channels": 3, "base_width": 4}
    )
    trainer = Pix2PixTrainer(generator, discriminator, seed=1)
    optimizers = [keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1)]
    if keras.mixed_precision.global_policy().name == "mixed_float16":
        optimizers = [keras.optimizers.LossScaleOptimizer(sgd, initial_scale=2**8) for sgd in optimizers]
    trainer.compile(*optimizers)
    return trainer, [trainer.generator_optimizer, trainer.discriminator_optimizer]


def small_batch(kind: str):
    rng = np.random.default_rng(0)
    images = lambda channels: rng.uniform(-1, 1, (2, 16, 16, channels)).astype(np.float32)  # noqa: E731
    masks = lambda channels: (rng.random((2, 16, 16, channels)) > 0.5).astype(np.float32)  # noqa: E731
    if kind == "interpolator":
        inputs = {"magnitudes": images(2), "masks": masks(2), "condition": np.float32([[0.1, 0.14, 0.18]] * 2)}
        return inputs, {"magnitude": images(1), "mask": masks(1)}
    geometry = {"venc": np.float32([[20, 20, 30]] * 2), "pixel_spacing": np.float32([[2, 2]] * 2)}
    return {"magnitudes": images(3)}, {"phase": images(3), "mask": masks(1), **geometry}


def sgd_step_change(kind: str, policy: str) -> tuple[float, list]:
    """Σ|Δw| of one SGD step under ``policy``, from the same initial weights and batch; and the optimizers."""
    with dtype_policy(policy):
        keras.utils.set_random_seed(1)
        trainer, optimizers = small_trainer(kind)
        before = [np.asarray(weight, np.float64) for weight in trainer.trainable_weights]
        logs = trainer.train_on_batch(*small_batch(kind), return_dict=True)
    assert all(np.isfinite(value) for value in logs.values())
    after = [np.asarray(weight, np.float64) for weight in trainer.trainable_weights]
    return sum(np.abs(a - b).sum() for a, b in zip(after, before, strict=True)), optimizers


@pytest.mark.parametrize("kind", ["interpolator", "pix2pix"])
def test_fp16_steps_scale_the_loss_so_updates_match_float32(kind):
    full_change, _ = sgd_step_change(kind, "float32")
    half_change, optimizers = sgd_step_change(kind, "mixed_float16")
    for optimizer in optimizers:
        assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
        assert int(optimizer.iterations) == 1  # the step was applied, not skipped as an overflow
    # unscaled fp16 gradients would be divided by the loss scale (2**15) and the update all but vanish
    assert half_change == pytest.approx(full_change, rel=0.05)
