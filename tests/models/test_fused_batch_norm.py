"""Batch norm's fused training pass gives what Keras' BatchNormalization gives, and it is the op that runs.

`keras_hdl.models.norms.BatchNormalization` replaces Keras 3's moments + element-wise ops by TensorFlow's
fused kernel in training. Compared with `keras.layers.BatchNormalization` holding the same weights, on one batch whose
channels have other means and scales than 0 and 1: the output, the moving statistics after the update
and the gradients. Tolerances: both compute in float32 from the same inputs; the fused kernel sums in
another order (a few ulp of the per-channel sums, whose terms are O(10) here), so 1e-5 on the unit-scale
output and relative 1e-5 on the statistics; gradients, sums over 4·12·12 terms, 1e-4 of each tensor's max.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_hdl.models import blocks
from keras_hdl.models.norms import BatchNormalization
from keras_hdl.precision import dtype_policy

SHAPE = (4, 12, 12, 5)


def pair_with_the_same_weights(dtype: str = "float32"):
    rng = np.random.default_rng(0)
    fused = BatchNormalization(momentum=0.9, dtype=dtype)
    reference = keras.layers.BatchNormalization(momentum=0.9, dtype=dtype)
    for layer in (fused, reference):
        layer.build(SHAPE)
    weights = [rng.uniform(0.5, 2.0, 5), rng.normal(0, 1, 5), rng.normal(0, 1, 5), rng.uniform(0.5, 2.0, 5)]
    for layer in (fused, reference):  # gamma, beta, moving mean, moving variance
        layer.set_weights([w.astype("float32") for w in weights])
    batch = (rng.normal(3.0, 1.0, SHAPE) * np.arange(1, 6)).astype("float32")  # channel c: mean 3c, std c
    return fused, reference, tf.constant(batch)


def training_pass(layer, batch):
    """(output, gradients of a weighted sum w.r.t. the input, gamma and beta, moving mean, moving variance)."""
    weights = tf.constant(np.random.default_rng(1).normal(0, 1, SHAPE).astype("float32"))

    @tf.function(input_signature=[tf.TensorSpec((None, *SHAPE[1:]), tf.float32)])  # batch size unknown when traced
    def run(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            output = layer(x, training=True)
            loss = tf.reduce_sum(output * weights)
        return output, tape.gradient(loss, [x, layer.gamma, layer.beta])

    output, gradients = run(batch)
    return output.numpy(), [g.numpy() for g in gradients], layer.moving_mean.numpy(), layer.moving_variance.numpy()


def test_the_fused_training_pass_matches_keras_batch_normalization():
    fused, reference, batch = pair_with_the_same_weights()
    got, expected = training_pass(fused, batch), training_pass(reference, batch)
    np.testing.assert_allclose(got[0], expected[0], atol=1e-5)
    for gradient, expected_gradient in zip(got[1], expected[1], strict=True):
        np.testing.assert_allclose(gradient, expected_gradient, atol=1e-4 * np.abs(expected_gradient).max())
    np.testing.assert_allclose(got[2], expected[2], rtol=1e-5)
    np.testing.assert_allclose(got[3], expected[3], rtol=1e-5)


def test_the_moving_statistics_follow_keras_formula_by_hand():
    # the biased batch variance, not the kernel's Bessel-corrected one (n / (n − 1) = 576 / 575: 1e-3 here)
    fused, _, batch = pair_with_the_same_weights()
    before_mean, before_variance = fused.moving_mean.numpy(), fused.moving_variance.numpy()
    _, _, mean, variance = training_pass(fused, batch)
    values = batch.numpy().reshape(-1, 5).astype(np.float64)
    np.testing.assert_allclose(mean, 0.9 * before_mean + 0.1 * values.mean(0), rtol=1e-5)
    np.testing.assert_allclose(variance, 0.9 * before_variance + 0.1 * values.var(0), rtol=1e-5)


@pytest.mark.parametrize("training", [False, True])
def test_the_training_graph_runs_the_fused_kernel_and_inference_is_keras_own(training):
    fused, reference, batch = pair_with_the_same_weights()
    graph = tf.function(lambda x: fused(x, training=training)).get_concrete_function(batch).graph
    ops = {op.type for op in graph.get_operations()}
    assert ("FusedBatchNormV3" in ops) == training
    if not training:  # the same Keras code on the same CPU in one process: bit for bit
        np.testing.assert_array_equal(fused(batch, training=False), reference(batch, training=False))


def test_a_network_saved_with_keras_batch_norm_loads_with_its_weights(tmp_path, monkeypatch):
    """The shipped weights and every run saved before the fused pass hold Keras' layer: a .keras file names a
    layer list's members by class, so the recurrent units' per-step norms must load into ours."""

    def network() -> keras.Model:
        inputs = keras.Input((8, 8, 4))
        return keras.Model(inputs, blocks.RecurrentUnit(4, recurrence=2, norm="batch")(inputs))

    def keras_norm(norm, name, channels=None):
        return keras.layers.BatchNormalization(name=name)

    with monkeypatch.context() as patched:
        patched.setattr(blocks, "make_norm", keras_norm)
        saved = network()
    rng = np.random.default_rng(2)
    saved.set_weights([rng.normal(0, 1, w.shape).astype("float32") ** 2 for w in saved.get_weights()])
    saved.save(tmp_path / "saved.keras")
    loaded = keras.models.load_model(tmp_path / "saved.keras")
    norms = [layer for layer in loaded._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(norms) == 3 and all(isinstance(norm, BatchNormalization) for norm in norms)
    for got, expected in zip(loaded.get_weights(), saved.get_weights(), strict=True):
        np.testing.assert_array_equal(got, expected)


def test_a_bfloat16_batch_is_normalised_in_bfloat16_with_float32_statistics():
    """Mixed bf16 training: the fused pass keeps the bf16 input (what the backward pass stores) and matches
    Keras' float32 computation from the same bf16 values to bf16 rounding: 2⁻⁸ relative on outputs of
    magnitude ≤ 4 (so 2e-2), the statistics (float32 sums of the same values) to 1e-5 relative."""
    fused, reference, batch = pair_with_the_same_weights("mixed_bfloat16")
    batch = tf.cast(batch, tf.bfloat16)
    graph = tf.function(lambda x: fused(x, training=True)).get_concrete_function(batch).graph
    (kernel,) = [op for op in graph.get_operations() if op.type == "FusedBatchNormV3"]
    assert kernel.get_attr("T") == tf.bfloat16  # not a float32 copy of the batch
    got = fused(batch, training=True)
    expected = reference(batch, training=True)
    assert got.dtype == expected.dtype == tf.bfloat16  # the mixed policy's compute dtype
    np.testing.assert_allclose(tf.cast(got, tf.float32).numpy(), tf.cast(expected, tf.float32).numpy(), atol=2e-2)
    np.testing.assert_allclose(fused.moving_mean.numpy(), reference.moving_mean.numpy(), rtol=1e-5)
    np.testing.assert_allclose(fused.moving_variance.numpy(), reference.moving_variance.numpy(), rtol=1e-5)


def recurrent_unit_with_statistics(dtype: str = "float32") -> blocks.RecurrentUnit:
    """A batch-norm RecurrentUnit on (B, 8, 8, 4) whose norms hold moving statistics far from 0 and 1."""
    with dtype_policy(dtype):  # the policy of the unit's conv and norms too, as when a network is built under it
        unit = blocks.RecurrentUnit(4, recurrence=2, norm="batch")
        unit.build((None, 8, 8, 4))
    rng = np.random.default_rng(3)
    weights = []
    for weight in unit.weights:  # kernel, then gamma, beta, moving mean, moving variance per step
        low, high = (0.5, 2.0) if weight.path.endswith(("gamma", "moving_variance")) else (-1.0, 1.0)
        weights.append(rng.uniform(low, high, weight.shape).astype("float32"))
    unit.set_weights(weights)
    return unit


def unfolded_inference(unit: blocks.RecurrentUnit, x: tf.Tensor) -> tf.Tensor:
    """The unit's inference as Keras composes it: conv, Keras' BatchNormalization in inference mode, ReLU."""
    state = None
    for step, norm in enumerate(unit.norms):
        reference = keras.layers.BatchNormalization(epsilon=norm.epsilon, dtype=norm.dtype_policy)
        reference.build(x.shape)
        reference.set_weights(norm.get_weights())
        state = tf.nn.relu(reference(unit.conv(x if step == 0 else x + state), training=False))
    return state


def test_inference_folds_each_steps_batch_norm_into_the_shared_conv():
    """Tolerance: the folded kernel W·s rounds once more than conv-then-scale (float32, sums of 36 terms of
    O(1)): 1e-5 of outputs of O(10). The traced inference runs no element-wise pass over the conv outputs
    other than the bias and ReLU, which oneDNN fuses into the convolution."""
    unit = recurrent_unit_with_statistics()
    x = tf.constant(np.random.default_rng(4).normal(0, 1, (2, 8, 8, 4)).astype("float32"))
    expected = unfolded_inference(unit, x).numpy()
    np.testing.assert_allclose(unit(x, training=False).numpy(), expected, atol=1e-5 * np.abs(expected).max())
    graph = tf.function(lambda inputs: unit(inputs, training=False)).get_concrete_function(x).graph
    convolutions = [op for op in graph.get_operations() if op.type == "Conv2D"]
    assert len(convolutions) == 3
    for convolution in convolutions:
        assert [consumer.type for consumer in convolution.outputs[0].consumers()] in (["AddV2"], ["BiasAdd"])


def test_bfloat16_inference_is_not_folded():
    """Rounding the folded kernel W·s to bf16 made a bf16 step's error 1.5× larger (mean, against float32):
    a mixed bf16 copy runs Keras' own composition, bit for bit (same ops, same CPU, one process)."""
    unit = recurrent_unit_with_statistics("mixed_bfloat16")
    x = tf.cast(np.random.default_rng(4).normal(0, 1, (2, 8, 8, 4)), tf.bfloat16)
    np.testing.assert_array_equal(unit(x, training=False).numpy(), unfolded_inference(unit, x).numpy())
