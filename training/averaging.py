"""An exponential moving average of a network's weights, kept in a copy of the network.

A GAN's generator swings from epoch to epoch (the phase module's held-out velocity curves went from
faithful to radial peaks 2.4-2.75× the truth between two epochs whose validation figures looked alike), so picking one
epoch's raw weights picks one point of that swing. The average over the last few hundred steps sits in
the middle of it (Polyak averaging; the "EMA generator" of StyleGAN, BigGAN and pix2pixHD's successors).

After every training step ``average ← d · average + (1 − d) · weights`` for every weight of the network,
batch-norm moving statistics included (they are averages already; averaging them too keeps them
matched to the averaged kernels). The decay ramps up as TensorFlow's ``ExponentialMovingAverage`` does
with ``num_updates``: ``d = min(decay, (1 + n) / (10 + n))`` at update n, so early averages are not
dominated by the random initial weights. The averaged copy is what validation scores, what selects
the best epoch and what a run saves; the raw network is what the optimizers train.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from keras_hdl.config import build_from_config


class WeightAverage:
    """The averaged copy of ``network`` (built from ``network_config``), updated by :meth:`update`.

    Build it in the strategy scope (and dtype policy) the network was built in.

    Args:
        network: the trained network whose weights are averaged.
        network_config: the config that rebuilt ``network`` (same weights, same order).
        decay: the average's decay per step, in (0, 1); its horizon is about 1 / (1 − decay) steps.
    """

    def __init__(self, network: keras.Model, network_config: dict, decay: float):
        if not 0 < decay < 1:
            raise ValueError(f"decay must lie in (0, 1), got {decay}")
        self.decay = float(decay)
        self.source = network
        self.network = build_from_config(network_config)
        self.network.set_weights(network.get_weights())
        self.updates = tf.Variable(0, dtype=tf.int64, trainable=False, name="weight_average_updates")

    @tf.function
    def update(self) -> tf.Tensor:
        """One step of the average; returns the decay it used."""
        count = tf.cast(self.updates.assign_add(1), tf.float32)
        decay = tf.minimum(self.decay, (1.0 + count) / (10.0 + count))
        for averaged, current in zip(self.network.weights, self.source.weights, strict=True):
            value = tf.cast(averaged.value, tf.float32)
            averaged.assign(tf.cast(decay * value + (1.0 - decay) * tf.cast(current.value, tf.float32), averaged.dtype))
        return decay

    def checkpointed(self) -> dict:
        """What a checkpoint must track to resume the average exactly."""
        return {"averaged_network": self.network, "averaged_updates": self.updates}
