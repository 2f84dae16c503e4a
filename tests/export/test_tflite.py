"""TFLite files of `keras-hdl export --tflite`, run with ai-edge-litert: float32 ≤ 1e-4, float16 ≤ 2e-2."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter
from twin_helpers import EXPORT_VERSION

CROP = 32
TOLERANCE = {"float32": 1e-4, "float16": 2e-2}


def runner(exported, name: str, precision: str):
    path = exported / "tflite" / str(EXPORT_VERSION) / f"{name}_{precision}.tflite"
    return Interpreter(model_path=str(path)).get_signature_runner("serving_default")


def unit_noise(seeds: np.ndarray) -> np.ndarray:
    """The composite's standard normal noise of each sample's seed (stateless, as in the Keras layer)."""
    return np.stack([tf.random.stateless_normal((CROP, CROP, 3), seed=seed).numpy() for seed in seeds])


@pytest.mark.parametrize("precision", ["float32", "float16"])
def test_interpolator_tflite_matches_keras(exported, networks, precision):
    rng = np.random.default_rng(1)
    inputs = {
        "magnitudes": rng.uniform(-1, 1, (4, CROP, CROP, 2)).astype(np.float32),
        "masks": (rng.random((4, CROP, CROP, 2)) > 0.5).astype(np.float32),
        "condition": np.array([[0, 1, 4], [4, 6, 8], [45, 48, 50], [10, 11, 12]], np.float32) / 50,
    }
    expected = networks["interpolator"](inputs, training=False)
    got = runner(exported, "interpolator", precision)(**inputs)
    for key in ("magnitude", "mask"):
        assert got[key].shape == (4, CROP, CROP, 1)
        assert np.abs(got[key] - expected[key].numpy()).max() <= TOLERANCE[precision], key


@pytest.mark.parametrize("precision", ["float32", "float16"])
def test_phase_tflite_with_noise_input_matches_the_seeded_composite(exported, networks, precision):
    rng = np.random.default_rng(2)
    magnitudes = rng.uniform(-1, 1, (4, CROP, CROP, 5)).astype(np.float32)  # the tiny generator's 5 frames
    magnitudes[:, :10] = -1.0  # background rows: the noise must match there too
    position = rng.uniform(0, 1, (4, 1)).astype(np.float32)
    seeds = np.array([[7, i] for i in range(4)], np.int32)
    noise = unit_noise(seeds).astype(np.float32)
    keras_inputs = {"magnitudes": magnitudes, "position": position, "seed": seeds}
    expected = networks["phase"](keras_inputs, training=False)["phase"].numpy()
    got = runner(exported, "phase", precision)(magnitudes=magnitudes, position=position, noise=noise)
    error = np.abs(got["phase"] - expected)
    assert error.max() <= TOLERANCE[precision]
    # the background is μ + σ·noise alone (float16 rounds μ and σ)
    assert error[:, :10].max() <= {"float32": 1e-6, "float16": 2e-4}[precision]
    # pixels just above the foreground threshold (−0.95) stay foreground in float16 too
    edge = magnitudes.copy()
    edge[:, 12:16, :, 2] = -0.95 + rng.choice([-3e-5, 3e-5], size=(4, 4, CROP)).astype(np.float32)  # frame t
    expected = networks["phase"](keras_inputs | {"magnitudes": edge}, training=False)["phase"].numpy()
    got = runner(exported, "phase", precision)(magnitudes=edge, position=position, noise=noise)
    assert np.abs(got["phase"] - expected).max() <= TOLERANCE[precision]
