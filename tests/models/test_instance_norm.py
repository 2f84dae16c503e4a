"""Instance norm computed directly gives what Keras' GroupNormalization gives, forward and backward.

`keras_hdl.models.norms.GroupNormalization` computes the one-channel-per-group case on (B, H, W, C)
without Keras' reshape into groups, and in training through a hand-written backward pass. Compared
with `keras.layers.GroupNormalization(groups=-1)` holding the same weights, on a batch whose samples
and channels have other means and scales than 0 and 1. Tolerances: both compute in float32 from the
same inputs, in another order of operations: 1e-5 on the unit-scale output; the gradients are sums of
up to 4·12·12 terms, so 1e-4 of each tensor's largest entry.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_hdl.models.norms import GroupNormalization, make_norm

SHAPE = (4, 12, 12, 5)


def pair_with_the_same_weights(dtype: str = "float32"):
    rng = np.random.default_rng(0)
    direct = GroupNormalization(groups=-1, epsilon=1e-5, dtype=dtype)
    reference = keras.layers.GroupNormalization(groups=-1, epsilon=1e-5, dtype=dtype)
    for layer in (direct, reference):
        layer.build(SHAPE)
    weights = [rng.uniform(0.5, 2.0, 5), rng.normal(0, 1, 5)]  # gamma, beta
    for layer in (direct, reference):
        layer.set_weights([w.astype("float32") for w in weights])
    # sample b, channel c: mean 3c − b, std c · (b + 1)
    scale = np.arange(1, 6) * np.arange(1, 5)[:, None, None, None]
    offset = 3.0 * np.arange(1, 6) - np.arange(4)[:, None, None, None]
    batch = (rng.normal(0.0, 1.0, SHAPE) * scale + offset).astype("float32")
    return direct, reference, tf.constant(batch)


def weighted_sum_weights() -> tf.Tensor:
    return tf.constant(np.random.default_rng(1).normal(0, 1, SHAPE).astype("float32"))


def traced_pass(layer, training: bool):
    """A traced function x → (output, gradients of a weighted sum of the output w.r.t. x, gamma, beta)."""
    weights = weighted_sum_weights()

    @tf.function(input_signature=[tf.TensorSpec((None, *SHAPE[1:]), tf.float32)])  # batch size unknown when traced
    def run(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            output = layer(x, training=training)
            loss = tf.reduce_sum(tf.cast(output, tf.float32) * weights)
        return output, tape.gradient(loss, [x, layer.gamma, layer.beta])

    return run


def assert_same_pass(got, expected, output_atol: float = 1e-5) -> None:
    np.testing.assert_allclose(np.asarray(got[0], "float32"), np.asarray(expected[0], "float32"), atol=output_atol)
    for gradient, expected_gradient in zip(got[1], expected[1], strict=True):
        expected_gradient = expected_gradient.numpy()
        np.testing.assert_allclose(gradient.numpy(), expected_gradient, atol=1e-4 * np.abs(expected_gradient).max())


@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
def test_instance_norm_matches_keras_group_normalization(training):
    direct, reference, batch = pair_with_the_same_weights()
    assert_same_pass(traced_pass(direct, training)(batch), traced_pass(reference, training)(batch))


def test_the_output_is_normalised_per_sample_and_channel():
    direct, _, batch = pair_with_the_same_weights()
    direct.set_weights([np.ones(5, "float32"), np.zeros(5, "float32")])
    output = direct(batch, training=True).numpy()
    np.testing.assert_allclose(output.mean(axis=(1, 2)), 0.0, atol=1e-5)
    # biased variance of the normalised output: σ² / (σ² + ε), ε = 1e-5 against σ² ≥ 1 here
    np.testing.assert_allclose(output.var(axis=(1, 2)), 1.0, atol=1e-4)


def test_mixed_bfloat16_computes_the_statistics_in_float32():
    direct, reference, batch = pair_with_the_same_weights("mixed_bfloat16")
    got, expected = traced_pass(direct, True)(batch), traced_pass(reference, True)(batch)
    assert got[0].dtype == tf.bfloat16
    # both cast the output to bfloat16 (8 bits of mantissa: 2⁻⁸ relative, outputs up to ~5 here)
    assert_same_pass(got, expected, output_atol=5 * 2.0**-8)


def test_the_training_pass_is_a_fraction_of_keras_graph():
    direct, reference, _ = pair_with_the_same_weights()
    batch_spec = tf.TensorSpec((None, *SHAPE[1:]), tf.float32)
    sizes = [
        len(traced_pass(layer, True).get_concrete_function(batch_spec).graph.get_operations())
        for layer in (direct, reference)
    ]
    assert sizes[0] < sizes[1] / 2, sizes


def test_group_norm_with_several_channels_per_group_is_keras_own():
    norm = make_norm("group", name="norm", channels=16)
    reference = keras.layers.GroupNormalization(groups=8, epsilon=1e-5)
    batch = tf.constant(np.random.default_rng(2).normal(2.0, 3.0, (2, 6, 6, 16)).astype("float32"))
    for layer in (norm, reference):
        layer.build(batch.shape)
    np.testing.assert_array_equal(norm(batch, training=True).numpy(), reference(batch, training=True).numpy())


def test_a_network_saved_with_the_direct_norm_loads_with_it(tmp_path):
    network = keras.Sequential([keras.Input(SHAPE[1:]), make_norm("instance", name="norm")])
    network.layers[0].set_weights([np.full(5, 2.0, "float32"), np.full(5, 0.5, "float32")])
    network.save(tmp_path / "net.keras")
    loaded = keras.saving.load_model(tmp_path / "net.keras")
    assert type(loaded.layers[0]) is GroupNormalization
    batch = pair_with_the_same_weights()[2]
    np.testing.assert_allclose(loaded(batch).numpy(), network(batch).numpy(), atol=1e-6)
