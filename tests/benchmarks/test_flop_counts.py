"""FLOPs counted from traced graphs: a forward pass, and a training step's forward pass and weight gradients.

Exact integer counts of hand-written networks; the counter is what turns the measured samples/s into
the achieved GFLOP/s that the verdicts against the reference network use.
"""

from __future__ import annotations

import keras

from keras_hdl.benchmarks.models import sample_flops, sample_training_flops
from keras_hdl.config import build_from_config, load_preset
from keras_hdl.models.blocks import recurrent_units, set_recompute


def two_convolutions() -> keras.Model:
    """8×8×2 → 3×3 conv to 4 channels → 1×1 conv to 5 channels."""
    inputs = keras.Input((8, 8, 2), name="image")
    hidden = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    return keras.Model({"image": inputs}, keras.layers.Conv2D(5, 1)(hidden))  # named inputs, as our networks


def test_training_flops_of_two_convolutions_by_hand():
    first = 2 * (8 * 8 * 4) * (3 * 3 * 2)  # 2 × output elements × multiply-adds per element: 9216
    second = 2 * (8 * 8 * 5) * (1 * 1 * 4)  # 2560
    model = two_convolutions()
    assert sample_flops(model, 8) == first + second
    # Forward, weight gradients, and the input gradient of the second layer only: no step needs the
    # input gradient of the first (the traced graph holds it; TensorFlow prunes it, and so does the count).
    assert sample_training_flops(model, 8) == (first + second) + (first + second) + second


def test_training_flops_ignore_recomputation_and_leave_it_as_it_was():
    network = build_from_config(load_preset("tiny").interpolation.model)
    stored = sample_training_flops(network, 32)
    recomputed_units = set_recompute(network, 16)
    assert sample_training_flops(network, 32) == stored  # the work the step needs, not how it is scheduled
    units = recurrent_units(network)
    assert sum(unit.recompute for unit in units) == recomputed_units > 0
    # Every convolution reaches the loss; only the first layers' input gradients are left out.
    assert 2.99 * sample_flops(network, 32) < stored < 3 * sample_flops(network, 32)
