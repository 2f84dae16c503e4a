"""FusedAdam: Keras' Adam, with one fused op per variable update, and the same slots.

Compared with `keras.optimizers.Adam` from the same weights on the same gradients. Tolerance: both
evaluate the same formula in float32 in another order (the fused kernel's Eigen expression), measured
≤ 2e-6 apart after 20 steps of lr 1e-2; 1e-5 is a thousandth of the 20 steps' largest movement (0.2),
while leaving out the bias correction or β₂ moves the weights apart by more than 1e-3 here.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from keras_hdl.training.optimizers import FusedAdam

STEPS = 20


def initial_weights_and_gradients():
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=shape).astype("float32") for shape in [(3, 3, 4, 8), (8,), (5,)]]
    # gradients of every scale, so that √v + ε is tested at ε too
    scales = [1.0, 1e-3, 1e-8]
    gradients = [
        [(rng.normal(size=w.shape) * scale).astype("float32") for w, scale in zip(weights, scales, strict=True)]
        for _ in range(STEPS)
    ]
    return weights, gradients


def train(optimizer: keras.optimizers.Optimizer, traced: bool = True) -> tuple[list[np.ndarray], list]:
    """The weights after STEPS updates of ``optimizer`` and its variables (iterations and slots)."""
    weights, gradients = initial_weights_and_gradients()
    variables = [keras.Variable(w) for w in weights]
    optimizer.build(variables)

    def step(step_gradients):
        optimizer.apply_gradients(zip(step_gradients, variables, strict=True))

    step = tf.function(step) if traced else step
    for step_gradients in gradients:
        step([tf.constant(g) for g in step_gradients])
    return [v.numpy() for v in variables], [v.numpy() for v in optimizer.variables]


def assert_close_states(got, expected) -> None:
    for got_values, expected_values in zip(got, expected, strict=True):
        assert len(got_values) == len(expected_values)
        for value, expected_value in zip(got_values, expected_values, strict=True):
            np.testing.assert_allclose(value, expected_value, atol=1e-5, rtol=1e-5)


def test_fused_adam_takes_keras_adam_steps():
    expected = train(keras.optimizers.Adam(1e-2, beta_1=0.5, beta_2=0.99))
    assert_close_states(train(FusedAdam(1e-2, beta_1=0.5, beta_2=0.99)), expected)
    assert_close_states(train(FusedAdam(1e-2, beta_1=0.5, beta_2=0.99), traced=False), expected)
    moved = max(np.abs(w - w0).max() for w, w0 in zip(expected[0], initial_weights_and_gradients()[0], strict=True))
    assert moved > 0.1  # the comparison is not between weights that barely moved


def test_amsgrad_is_keras_own_update():
    expected = train(keras.optimizers.Adam(1e-2, amsgrad=True))
    assert_close_states(train(FusedAdam(1e-2, amsgrad=True)), expected)


def test_a_keras_adam_checkpoint_restores_into_fused_adam(tmp_path):
    weights, gradients = initial_weights_and_gradients()
    trained = [keras.Variable(w) for w in weights]
    saved = keras.optimizers.Adam(1e-2)
    saved.build(trained)
    for step_gradients in gradients[:3]:
        saved.apply_gradients(zip([tf.constant(g) for g in step_gradients], trained, strict=True))
    path = tf.train.Checkpoint(optimizer=saved, weights=trained).write(str(tmp_path / "ckpt"))

    restored_weights = [keras.Variable(np.zeros_like(w)) for w in weights]
    restored = FusedAdam(1e-2)
    restored.build(restored_weights)
    tf.train.Checkpoint(optimizer=restored, weights=restored_weights).read(path).assert_existing_objects_matched()
    for variable, expected in zip(restored.variables, saved.variables, strict=True):
        np.testing.assert_array_equal(variable.numpy(), expected.numpy())


def test_each_update_is_one_fused_op_in_the_graph():
    variables = [keras.Variable(w) for w in initial_weights_and_gradients()[0]]
    optimizer = FusedAdam(1e-3)
    optimizer.build(variables)
    gradients = [tf.zeros_like(v) for v in variables]
    step = tf.function(lambda: optimizer.apply_gradients(zip(gradients, variables, strict=True)))
    op_types = [op.type for op in step.get_concrete_function().graph.get_operations()]
    assert op_types.count("ResourceApplyAdam") == len(variables)
    assert "AssignSubVariableOp" not in op_types  # Keras' own update subtracts from each variable
