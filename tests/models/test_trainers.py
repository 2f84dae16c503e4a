"""Train-step models: logged terms, one-batch overfitting, the GAN baseline, and 2-replica equality."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from keras_hdl.config import build_from_config  # noqa: E402
from keras_hdl.errors import InputError  # noqa: E402
from keras_hdl.models import PatchDiscriminator, TemporalInterpolator  # noqa: E402
from keras_hdl.training.tasks.interpolation import InterpolationLoss, InterpolatorTrainer  # noqa: E402
from keras_hdl.training.tasks.phase import Pix2PixLoss, Pix2PixTrainer  # noqa: E402

SIZE = 32


def blob(centre, sigma: float = 6.0) -> np.ndarray:
    rows, cols = np.mgrid[:SIZE, :SIZE]
    return np.exp(-((rows - centre[0]) ** 2 + (cols - centre[1]) ** 2) / (2 * sigma**2))


def ring(centre) -> np.ndarray:
    rows, cols = np.mgrid[:SIZE, :SIZE]
    radius = np.hypot(rows - centre[0], cols - centre[1])
    return ((radius >= 5) & (radius <= 8)).astype(np.float32)


def moving_heart_batch(batch: int = 4):
    """A bright blob with a ring 'myocardium' that moves between the kept frames; target half-way."""
    rng = np.random.default_rng(0)
    inputs = {"magnitudes": [], "masks": []}
    targets = {"magnitude": [], "mask": []}
    for _ in range(batch):
        start = rng.uniform(12, 20, 2)
        end = start + rng.uniform(-4, 4, 2)
        middle = (start + end) / 2
        inputs["magnitudes"].append(np.stack([blob(start), blob(end)], -1) * 1.6 - 1)
        inputs["masks"].append(np.stack([ring(start), ring(end)], -1))
        targets["magnitude"].append(blob(middle)[..., None] * 1.6 - 1)
        targets["mask"].append(ring(middle)[..., None])
    inputs = {name: np.asarray(values, np.float32) for name, values in inputs.items()}
    inputs["condition"] = np.tile(np.float32([[0.1, 0.14, 0.18]]), (batch, 1))
    return inputs, {name: np.asarray(values, np.float32) for name, values in targets.items()}


def test_each_term_is_logged_raw_and_weighted(tiny_preset):
    keras.utils.set_random_seed(0)
    loss = InterpolationLoss(mae_weight=2.0, mae_w1_weight=0.5, mae_w2_weight=3.0, dice_weight=0.25)
    trainer = InterpolatorTrainer(build_from_config(tiny_preset.interpolation.model), loss)
    trainer.compile(keras.optimizers.Adam(1e-3))
    inputs, targets = moving_heart_batch()
    logs = trainer.test_on_batch(inputs, targets, return_dict=True)
    weights = {"mae": 2.0, "mae_w1": 0.5, "mae_w2": 3.0, "dice": 0.25}
    for name, weight in weights.items():
        assert logs[f"{name}_weighted"] == pytest.approx(weight * logs[name], rel=1e-5)
    assert logs["loss"] == pytest.approx(sum(logs[f"{name}_weighted"] for name in weights), rel=1e-5)
    # an untrained interpolator is linear interpolation: its MAE is that of the blend
    blend = 0.5 * inputs["magnitudes"][..., :1] + 0.5 * inputs["magnitudes"][..., 1:]
    assert logs["mae"] == pytest.approx(np.abs(blend - targets["magnitude"]).mean(), rel=1e-4)


def test_tiny_interpolator_overfits_one_batch(tiny_preset):
    keras.utils.set_random_seed(0)
    trainer = InterpolatorTrainer(build_from_config(tiny_preset.interpolation.model))
    trainer.compile(keras.optimizers.Adam(3e-3))
    inputs, targets = moving_heart_batch()
    losses = [trainer.train_on_batch(inputs, targets, return_dict=True)["loss"] for _ in range(60)]
    assert min(losses[-5:]) < losses[0] / 10, (losses[0], losses[-5:])


def test_gan_temporal_baseline_trains_both_networks():
    keras.utils.set_random_seed(0)
    discriminator = PatchDiscriminator(image_channels=1, context_channels=2, base_width=4)
    interpolator = TemporalInterpolator(widths=[4, 8], norm="instance")
    trainer = InterpolatorTrainer(interpolator, discriminator=discriminator, adversarial_weight=0.1)
    trainer.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    before = [np.asarray(w) for w in discriminator.trainable_weights]
    logs = trainer.train_on_batch(*moving_heart_batch(), return_dict=True)
    assert logs["adversarial_weighted"] == pytest.approx(0.1 * logs["adversarial"], rel=1e-5)
    assert logs["discriminator_loss"] > 0
    assert any(not np.allclose(w, b) for w, b in zip(discriminator.trainable_weights, before, strict=True))


def test_trainer_arguments_are_checked(tiny_preset):
    section = tiny_preset.interpolation
    with pytest.raises(InputError, match="needs a discriminator"):
        InterpolatorTrainer(build_from_config(section.model), adversarial_weight=1.0)
    with pytest.raises(InputError, match="image_channels=3"):
        InterpolatorTrainer(
            build_from_config(section.model), discriminator=build_from_config(tiny_preset.phase.discriminator)
        )
    with pytest.raises(InputError, match="mae_w1_weight"):
        InterpolationLoss(mae_w1_weight=-1)


def test_pix2pix_steps_log_every_term_and_update_both_networks(tiny_preset):
    keras.utils.set_random_seed(0)
    section = tiny_preset.phase
    generator, discriminator = build_from_config(section.model), build_from_config(section.discriminator)
    trainer = Pix2PixTrainer(generator, discriminator, loss=Pix2PixLoss(velocity_l1_weight=50.0), seed=1)
    trainer.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5))
    rng = np.random.default_rng(0)
    inputs = {
        "magnitudes": rng.uniform(-1, 1, (2, SIZE, SIZE, generator.neighbours)).astype(np.float32),
        "position": np.float32([[0.1], [0.6]]),  # the tiny generator also sees t/T
    }
    targets = {
        "phase": rng.uniform(-1, 1, (2, SIZE, SIZE, 3)).astype(np.float32),
        "mask": (rng.random((2, SIZE, SIZE, 1)) > 0.5).astype(np.float32),
        "venc": np.float32([[20, 20, 30]] * 2),
        "pixel_spacing": np.float32([[2, 2]] * 2),
    }
    before = [np.asarray(w) for w in (*generator.trainable_weights, *discriminator.trainable_weights)]
    logs = trainer.train_on_batch(inputs, targets, return_dict=True)
    assert logs["l1_foreground_weighted"] == pytest.approx(100 * logs["l1_foreground"], rel=1e-5)
    assert logs["l1_myocardium_weighted"] == pytest.approx(100 * logs["l1_myocardium"], rel=1e-5)
    assert logs["velocity"] > 0 and logs["velocity_weighted"] == pytest.approx(50 * logs["velocity"], rel=1e-5)
    total = sum(logs[f"{term}_weighted"] for term in ("adversarial", "l1_foreground", "l1_myocardium", "velocity"))
    assert logs["generator_loss"] == pytest.approx(total, rel=1e-5)
    after = [np.asarray(w) for w in (*generator.trainable_weights, *discriminator.trainable_weights)]
    assert all(not np.allclose(a, b) for a, b in zip(after[:1] + after[-1:], before[:1] + before[-1:], strict=True))


def replica_results(kind: str, *modes: str) -> dict:
    script = Path(__file__).with_name("replica_check.py")
    completed = subprocess.run(
        [sys.executable, str(script), kind, *modes], capture_output=True, text=True, timeout=600, check=False
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, completed.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT ") :])


def assert_same_as_one_replica(result: dict) -> None:
    for mode, runs in result.items():
        one, two = runs["one"], runs["two"]
        assert len(one["logs"]) == len(two["logs"]) == 2, mode
        for step_one, step_two in zip(one["logs"], two["logs"], strict=True):
            for name, value in step_one.items():
                assert step_two[name] == pytest.approx(value, rel=1e-4), (mode, name)
        assert two["change"] == pytest.approx(one["change"], rel=1e-4), mode  # SGD: gradient scale shows


@pytest.mark.slow  # 86-152 s on 2 cores
def test_pix2pix_on_two_replicas_matches_one_replica():
    """Both the custom loop (steps.distributed_step) and Keras fit, on 2 logical CPUs."""
    assert_same_as_one_replica(replica_results("pix2pix", "loop", "fit"))


@pytest.mark.slow
def test_gan_interpolator_on_two_replicas_matches_one_replica():
    assert_same_as_one_replica(replica_results("interpolator", "loop"))


def test_discriminator_sees_the_same_background_on_real_and_synthetic_phase(tiny_preset):
    """Real and synthetic phase differ only in the foreground, so the background cannot give the fake away."""
    section = tiny_preset.phase
    generator, discriminator = build_from_config(section.model), build_from_config(section.discriminator)
    trainer = Pix2PixTrainer(generator, discriminator, seed=3)
    seen = []

    def recording_discriminator(inputs, training=None):
        seen.append(np.asarray(inputs["image"]))
        return discriminator(inputs, training=training)

    object.__setattr__(trainer, "discriminator", recording_discriminator)  # bypass Keras' layer tracking
    rng = np.random.default_rng(1)
    neighbours = generator.neighbours
    magnitudes = np.full((2, SIZE, SIZE, neighbours), -1.0, np.float32)
    magnitudes[:, 8:24, 8:24] = rng.uniform(0, 1, (2, 16, 16, neighbours))  # foreground square, background elsewhere
    targets = {
        "phase": rng.uniform(-1, 1, (2, SIZE, SIZE, 3)).astype(np.float32),  # real background: uniform, not N(μ, σ)
        "mask": np.zeros((2, SIZE, SIZE, 1), np.float32),
        "venc": np.float32([[20, 20, 30]] * 2),
        "pixel_spacing": np.float32([[2, 2]] * 2),
    }
    import tensorflow as tf

    tensors = {name: tf.constant(value) for name, value in targets.items()}
    inputs = {"magnitudes": tf.constant(magnitudes), "position": tf.constant([[0.2], [0.7]])}
    trainer.forward_losses(inputs, tensors, training=False)
    synthetic, real = seen
    centre = generator.centre
    background = np.broadcast_to(magnitudes[..., centre : centre + 1] <= -0.95, real.shape)
    np.testing.assert_array_equal(real[background], synthetic[background])
    np.testing.assert_array_equal(real[~background], targets["phase"][~background])
