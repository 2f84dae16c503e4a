"""Recomputing the recurrent units in the backward pass changes memory, not results.

One training step with and without recomputation, from the same weights and batch, must give
the same loss, the same gradients and the same batch-norm moving statistics (an update made
inside the recomputed function would be lost: measured, the moving mean moved 1 % as far).
Tolerances: the recomputed forward runs the same float32 ops on the same shapes, and batch
norm's statistics come from the same fused kernel; what can differ is the accumulation
order of the gradient sums (oneDNN's kernels), a few 1e-6 relative in float32.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_hdl.config import build_from_config, load_preset
from keras_hdl.models.blocks import RecurrentUnit, set_recompute

GRADIENT_RTOL = 1e-4


def one_training_step(config: dict, recompute: bool | int):
    """(units switched, loss, gradients, moving statistics) of one step from seed-0 weights."""
    keras.utils.set_random_seed(0)
    network = build_from_config(config)
    units = set_recompute(network, recompute)
    rng = np.random.default_rng(0)
    inputs = {
        tensor.name: rng.uniform(
            -1, 1, (2, 32, 32, tensor.shape[3]) if len(tensor.shape) == 4 else (2, *tensor.shape[1:])
        ).astype("float32")
        for tensor in network.inputs
    }

    @tf.function
    def step(batch):
        with tf.GradientTape() as tape:
            outputs = tf.nest.flatten(network(batch, training=True))
            loss = tf.add_n([tf.reduce_mean(tf.square(output)) for output in outputs])
        return loss, tape.gradient(loss, network.trainable_variables)

    loss, gradients = step(inputs)
    statistics = {variable.path: variable.numpy() for variable in network.non_trainable_variables}
    return units, float(loss), [g.numpy() for g in gradients], statistics


@pytest.mark.parametrize(
    ("section", "norm", "recompute"),
    [("interpolation", "batch", True), ("phase", "instance", True), ("interpolation", "batch", 16)],
)
def test_recomputed_step_equals_the_stored_one(section, norm, recompute):
    """Every unit recomputed, or (16) the units of the tiny preset's 8- and 16-channel levels only."""
    config = dict(getattr(load_preset("tiny"), section).model, norm=norm)
    units, loss, gradients, statistics = one_training_step(config, recompute=False)
    units_recomputed, loss_recomputed, gradients_recomputed, statistics_recomputed = one_training_step(
        config, recompute=recompute
    )
    assert units == 0 < units_recomputed
    assert loss_recomputed == pytest.approx(loss, rel=1e-6)
    for stored, recomputed in zip(gradients, gradients_recomputed, strict=True):
        scale = np.abs(stored).max() + 1e-12
        assert np.abs(recomputed - stored).max() <= GRADIENT_RTOL * scale
    assert statistics.keys() == statistics_recomputed.keys()
    for path, stored in statistics.items():
        np.testing.assert_allclose(statistics_recomputed[path], stored, rtol=1e-5, atol=1e-7, err_msg=path)
    moving_means = [value for path, value in statistics.items() if path.endswith("moving_mean")]
    if norm == "batch":  # the moving means left 0 in this step: the comparison above is not vacuous
        assert moving_means and all(np.abs(value).max() > 0 for value in moving_means)


def test_recompute_is_a_training_switch_only():
    keras.utils.set_random_seed(0)
    network = build_from_config(load_preset("tiny").interpolation.model)
    units = [layer for layer in network._flatten_layers() if isinstance(layer, RecurrentUnit)]
    assert set_recompute(network, True) == len(units) > 0 and all(unit.recompute for unit in units)
    assert "recompute" not in units[0].get_config()  # not saved with the network
    assert set_recompute(network, False) == 0 and not any(unit.recompute for unit in units)
    # A channel limit: the tiny preset's widths are 8-16-32, so 16 takes the units of two levels, not the third.
    narrow = {unit.name for unit in units if unit.filters <= 16}
    assert 0 < len(narrow) < len(units)
    assert set_recompute(network, 16) == len(narrow)
    assert {unit.name for unit in units if unit.recompute} == narrow
